# The cluster and its network. The lab's lab.env exports each as TF_VAR_<name>.
variable "azure_account_name" {
  description = "The controller's access account for the Azure subscription the cluster runs in."
  type        = string
}

variable "azure_location" {
  description = "The cluster's location name, such as eastus (not the display name)."
  type        = string
}

variable "azure_vnet_id" {
  description = "The cluster's VNet resource ID."
  type        = string
}

variable "azure_gateway_subnet_cidr" {
  description = "The CIDR of a subnet of the VNet for the egress gateway (ignored with existing_gateway)."
  type        = string
}

variable "azure_node_route_table_ids" {
  description = "The resource IDs of the node subnets' route tables, whose default route goes through the gateway (a VirtualAppliance hop)."
  type        = list(string)
}

variable "aks_cluster_id" {
  description = "The AKS cluster's resource ID."
  type        = string
}

variable "charts_dir" {
  description = "A folder holding the k8s-firewall and obot charts (the lab's test charts); empty to use the published charts in k8s_firewall_chart and obot_chart."
  type        = string
  default     = ""
}

variable "existing_gateway" {
  description = "Your spoke gateway in the VPC, if you have one (an existing fabric customer): no gateway is created, the routes go through it."
  type        = string
  default     = null
}

variable "gateway_name" {
  description = "The name of the egress gateway this root creates."
  type        = string
  default     = "mcp-egress-azure"
}

variable "gateway_size" {
  description = "The egress gateway's instance size."
  type        = string
  default     = "Standard_B2ms"
}

variable "tags" {
  description = "Tags on the gateway's cloud resources."
  type        = map(string)
  default     = {}
}

variable "mcp_namespace" {
  description = "The namespace Obot runs MCP servers in."
  type        = string
  default     = "obot-mcp"
}

variable "mcp_servers" {
  description = "Tier 2: the MCP servers and the domains each may reach (`{ name = { domains, ports } }`); an empty list is zero egress."
  type = map(object({
    domains = list(string)
    ports   = optional(list(number), [443])
  }))
  default = {
    "healthcare-mcp" = { domains = ["api.ehr.example.com"] }
    "search-mcp"     = { domains = ["api.search.example.com"] }
  }
}

variable "extra_permits" {
  description = "Tier 1 beyond the AKS infrastructure defaults: named permits for every MCP server (a package registry, say)."
  type = list(object({
    name    = string
    domains = list(string)
    ports   = optional(list(number), [443])
  }))
  default = [{ name = "registry", domains = ["registry.npmjs.org"] }]
}

variable "enforcement" {
  description = "Tier 3: `enforce` (drop and log) or `monitor` (let through and log)."
  type        = string
  default     = "enforce"
}

variable "probe_host" {
  description = "A destination no server may reach, asked of the verdict data source after every apply."
  type        = string
  default     = "exfil.attacker.io"
}

variable "syslog_server" {
  description = "Your SIEM's syslog listener, reached by the gateway; empty for no export."
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
  description = "The published k8s-firewall chart (used when charts_dir is empty)."
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
  description = "The published Obot chart, 0.21.0 or later (used when charts_dir is empty)."
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
  description = "More Obot chart values as YAML documents (hostname, ingress, database settings without secrets)."
  type        = list(string)
  default     = []
}

variable "obot_bootstrap_token" {
  description = "Obot's bootstrap token; write-only, never in state. Empty lets the chart generate one."
  type        = string
  default     = ""
  sensitive   = true
}

variable "obot_secrets_version" {
  description = "Change it when obot_bootstrap_token changes, so the new one is sent."
  type        = string
  default     = "1"
}

variable "pod_ip_fallback" {
  description = "For a cluster the controller registers as Partial (label SmartGroups do not resolve): also list each MCP pod's IP, read live, so one apply after a pod restart refreshes them."
  type        = bool
  default     = false
}
