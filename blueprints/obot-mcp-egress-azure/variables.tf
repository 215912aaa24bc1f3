variable "subscription_id" {
  description = "The Azure subscription the cluster is created in."
  type        = string
}

variable "location" {
  description = "The Azure location name, such as eastus (not the display name)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]*$", var.location))
    error_message = "location = \"${var.location}\": a location name such as eastus (lowercase, no spaces), not a display name such as \"East US\"."
  }
}

variable "aviatrix_account_name" {
  description = "The controller's access account for this subscription (onboard it on the controller first)."
  type        = string
}

variable "aviatrix_principal_id" {
  description = "The object ID of the service principal the Aviatrix controller's access account uses; it is given read access to the cluster."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.aviatrix_principal_id))
    error_message = "aviatrix_principal_id = \"${var.aviatrix_principal_id}\": a service principal's object ID (a GUID)."
  }
}

variable "cluster_name" {
  description = "The AKS cluster's name; also prefixes the resource group, VNet and gateway."
  type        = string
  default     = "obot-mcp"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.cluster_name))
    error_message = "cluster_name = \"${var.cluster_name}\": lowercase letters, digits and '-', starting with a letter, at most 31 characters."
  }
}

variable "kubernetes_version" {
  description = "The AKS Kubernetes version; the location's default unless set."
  type        = string
  default     = null
}

variable "vnet_cidr" {
  description = "The VNet's CIDR (a /16 or larger: the gateway takes its first /24, the nodes a /20)."
  type        = string
  default     = "10.70.0.0/16"
  validation {
    condition     = can(cidrhost(var.vnet_cidr, 0)) && tonumber(split("/", var.vnet_cidr)[1]) <= 16
    error_message = "vnet_cidr = \"${var.vnet_cidr}\": an IPv4 CIDR of /16 or larger."
  }
}

variable "service_cidr" {
  description = "The cluster's service CIDR, outside the VNet."
  type        = string
  default     = "172.16.0.0/16"
}

variable "node_vm_size" {
  description = "The nodes' VM size."
  type        = string
  default     = "Standard_D4s_v5"
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
  default     = "Standard_B2ms"
}

variable "tags" {
  description = "Tags on every Azure resource."
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
  description = "Tier 1 beyond the AKS infrastructure defaults (npm, PyPI, an identity provider)."
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
