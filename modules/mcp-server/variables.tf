variable "policy_id" {
  description = "The `policy_id` output of the egress-policy module for this namespace. The FirewallPolicies are written after the policy exists and removed before it (and the cluster onboarding) go, so destroy never leaves a policy the controller cannot reconcile."
  type        = string
  validation {
    condition     = can(regex("^[^/]+/[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.policy_id))
    error_message = "policy_id = \"${var.policy_id}\": the egress-policy module's policy_id output, \"<cluster>/<namespace>\"."
  }
}

variable "namespace" {
  description = "The MCP namespace the servers run in; it must exist (pass the obot-platform module's `mcp_namespace` output, so the policies are written after Obot made it)."
  type        = string
  default     = "obot-mcp"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace = \"${var.namespace}\": a namespace name is a DNS-1123 label."
  }
}

variable "servers" {
  description = "Tier 2: each MCP server (the name Obot gives it, which labels its pods `app: <name>`) and what it may reach: `{ name = { domains = [...], ports = [443] } }`. An empty `domains` list is zero egress. `pod_selector` overrides the `app` label."
  type = map(object({
    domains      = list(string)
    ports        = optional(list(number), [443])
    pod_selector = optional(map(string))
  }))
  validation {
    condition     = alltrue([for name, _ in var.servers : can(regex("^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$", name))])
    error_message = "servers: each key is the server's name, a DNS-1123 label of at most 52 characters (lowercase letters, digits and '-'); got ${jsonencode(keys(var.servers))}."
  }
  validation {
    condition     = alltrue(flatten([for _, s in var.servers : [for p in s.ports : p >= 1 && p <= 65535 && floor(p) == p]]))
    error_message = "servers: every port is a whole number from 1 to 65535."
  }
}

variable "timeouts" {
  description = "How long writing a FirewallPolicy may take until the controller reports it reconciled."
  type = object({
    create = optional(string, "5m")
    update = optional(string, "5m")
  })
  default = {}
}
