variable "namespace" {
  description = "The namespace Obot runs in; created by the release (and deleted with it) when it does not exist."
  type        = string
  default     = "obot"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace = \"${var.namespace}\": a namespace name is a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "mcp_namespace" {
  description = "The namespace Obot runs MCP servers in (the chart's `mcpNamespace.name`); the chart creates it."
  type        = string
  default     = "obot-mcp"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.mcp_namespace))
    error_message = "mcp_namespace = \"${var.mcp_namespace}\": a namespace name is a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "k8s_firewall_chart" {
  description = "Where the k8s-firewall chart (the FirewallPolicy and WebgroupPolicy CRDs and the controller's RBAC) comes from: `chart` is a name in `repository`, an `oci://` reference or a local path. Installed into kube-system."
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
  description = "Where the Obot chart comes from; Obot 0.21.0 or later has the network policy controller. `chart` is a name in `repository`, an `oci://` reference or a local path."
  type = object({
    chart      = string
    repository = optional(string)
    version    = optional(string)
  })
  default = {
    chart      = "obot"
    repository = "https://charts.obot.ai"
    version    = null
  }
}

variable "network_policy_controller" {
  description = "The chart Obot installs to turn its MCPNetworkPolicies into FirewallPolicies (naming it enables the feature)."
  type = object({
    repository = optional(string, "https://charts.obot.ai")
    name       = optional(string, "aviatrix-network-policy-controller")
    version    = optional(string, "v0.0.1")
  })
  default = {}
  validation {
    condition     = var.network_policy_controller.name != ""
    error_message = "network_policy_controller.name = \"\": the controller's chart name is what turns the feature on; it cannot be empty."
  }
}

variable "default_deny_egress" {
  description = "Obot's `OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS`: MCP servers that declare no egress get none. The containment assumes it; `false` only while migrating."
  type        = bool
  default     = true
}

variable "values" {
  description = "More values for the Obot chart, as YAML documents merged after the module's own (e.g. `config.OBOT_SERVER_HOSTNAME`, ingress, `dev.useEmbeddedDb`)."
  type        = list(string)
  default     = []
}

variable "sensitive_values" {
  description = "Secret values for the Obot chart (`secret.OBOT_SERVER_DSN`, `secret.OBOT_BOOTSTRAP_TOKEN`, `tunnelPeer.token`), as YAML documents. Write-only: never in state or plan. Change `sensitive_values_version` to send new ones."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "sensitive_values_version" {
  description = "Any string that changes when `sensitive_values` does."
  type        = string
  default     = "1"
}

variable "timeouts" {
  description = "How long installing or upgrading each release may take."
  type = object({
    create = optional(string, "10m")
    update = optional(string, "10m")
  })
  default = {}
}
