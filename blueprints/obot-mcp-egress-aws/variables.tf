variable "region" {
  description = "The AWS region, such as us-east-1."
  type        = string
}

variable "aviatrix_account_name" {
  description = "The controller's access account for this AWS account (onboard the account on the controller first)."
  type        = string
}

variable "aviatrix_controller_role_arn" {
  description = "The IAM role the Aviatrix controller uses in this account (aviatrix-role-app), given read access to the cluster."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.aviatrix_controller_role_arn))
    error_message = "aviatrix_controller_role_arn = \"${var.aviatrix_controller_role_arn}\": an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "admin_principal_arn" {
  description = "The IAM principal that administers the cluster; the caller of this apply unless set."
  type        = string
  default     = null
}

variable "cluster_name" {
  description = "The EKS cluster's name; also prefixes the VPC, the gateway and the roles."
  type        = string
  default     = "obot-mcp"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.cluster_name))
    error_message = "cluster_name = \"${var.cluster_name}\": lowercase letters, digits and '-', starting with a letter, at most 31 characters."
  }
}

variable "kubernetes_version" {
  description = "The EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "vpc_cidr" {
  description = "The VPC's CIDR (a /16 or larger: the gateway takes its first /24, the nodes three /20s)."
  type        = string
  default     = "10.60.0.0/16"
  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 16
    error_message = "vpc_cidr = \"${var.vpc_cidr}\": an IPv4 CIDR of /16 or larger."
  }
}

variable "api_allowed_cidrs" {
  description = "Who may reach the cluster's public API endpoint (where terraform runs)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "node_instance_type" {
  description = "The nodes' instance type."
  type        = string
  default     = "t3.large"
}

variable "node_count" {
  description = "How many nodes."
  type        = number
  default     = 2
  validation {
    condition     = var.node_count >= 1
    error_message = "node_count = ${var.node_count}: at least 1."
  }
}

variable "gateway_size" {
  description = "The egress gateway's instance size."
  type        = string
  default     = "t3.small"
}

variable "tags" {
  description = "Tags on every AWS resource."
  type        = map(string)
  default     = {}
}

variable "mcp_namespace" {
  description = "The namespace Obot runs MCP servers in."
  type        = string
  default     = "obot-mcp"
}

variable "mcp_servers" {
  description = "Tier 2: the MCP servers and the domains each may reach; an empty list is zero egress."
  type = map(object({
    domains = list(string)
    ports   = optional(list(number), [443])
  }))
  default = {}
}

variable "extra_permits" {
  description = "Tier 1 beyond the EKS infrastructure defaults (npm, PyPI, an identity provider)."
  type = list(object({
    name    = string
    domains = list(string)
    ports   = optional(list(number), [443])
  }))
  default = []
}

variable "syslog_server" {
  description = "Your SIEM's syslog listener; empty for no export."
  type        = string
  default     = ""
}

variable "syslog_port" {
  description = "The SIEM's syslog port."
  type        = number
  default     = 514
}

variable "syslog_protocol" {
  description = "`udp` or `tcp`."
  type        = string
  default     = "udp"
}

variable "k8s_firewall_chart" {
  description = "The k8s-firewall chart."
  type = object({
    chart      = string
    repository = optional(string)
    version    = optional(string)
  })
  default = {
    chart      = "k8s-firewall"
    repository = "https://aviatrixsystems.github.io/k8s-firewall-charts"
    version    = "9.0.0"
  }
}

variable "obot_chart" {
  description = "The Obot chart (0.21.0 or later)."
  type = object({
    chart      = string
    repository = optional(string)
    version    = optional(string)
  })
  default = {
    chart      = "obot"
    repository = "https://charts.obot.ai"
  }
}

variable "obot_values" {
  description = "More Obot chart values as YAML documents (hostname, ingress, `dev.useEmbeddedDb`)."
  type        = list(string)
  default     = []
}

variable "obot_sensitive_values" {
  description = "Obot's secrets as YAML documents (`secret.OBOT_SERVER_DSN`, `secret.OBOT_BOOTSTRAP_TOKEN`, `tunnelPeer.token`); write-only."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "obot_secrets_version" {
  description = "Change it when obot_sensitive_values change."
  type        = string
  default     = "1"
}

variable "pod_ip_fallback" {
  description = "For a cluster the controller registers as Partial (label SmartGroups do not resolve): also list each MCP pod's IP, read live, so one apply after a pod restart refreshes them."
  type        = bool
  default     = false
}
