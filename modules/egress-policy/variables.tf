variable "cloud" {
  description = "The cluster's cloud: `aws` (EKS) or `azure` (AKS). Picks the default infrastructure permits."
  type        = string
  validation {
    condition     = contains(["aws", "azure"], var.cloud)
    error_message = "cloud = \"${var.cloud}\": accepted values are \"aws\" and \"azure\"."
  }
}

variable "cluster_id" {
  description = "The cluster to onboard: the EKS cluster ARN (`arn:aws:eks:REGION:ACCOUNT:cluster/NAME`) or the AKS cluster's resource ID (`/subscriptions/.../providers/Microsoft.ContainerService/managedClusters/NAME`)."
  type        = string
  validation {
    condition = (
      (var.cloud == "aws" && can(regex("^arn:aws[a-z-]*:eks:[a-z0-9-]+:[0-9]{12}:cluster/[A-Za-z0-9][A-Za-z0-9_-]*$", var.cluster_id))) ||
      (var.cloud == "azure" && can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.ContainerService/managedClusters/[^/]+$", var.cluster_id)))
    )
    error_message = "cluster_id = \"${var.cluster_id}\": for aws an EKS cluster ARN (arn:aws:eks:REGION:ACCOUNT:cluster/NAME), for azure an AKS resource ID (/subscriptions/.../providers/Microsoft.ContainerService/managedClusters/NAME)."
  }
}

variable "region" {
  description = "The cluster's AWS region or Azure location name, used in the default infrastructure permits (regional registry, S3 and cluster API names). Taken from `cluster_id` on aws unless set; required on azure when `infrastructure_permits` is left at its default."
  type        = string
  default     = null
  validation {
    condition     = var.region == null || can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.region))
    error_message = "region = \"${var.region == null ? "null" : var.region}\": an AWS region such as us-east-1 or an Azure location name such as eastus (lowercase, no spaces)."
  }
}

variable "namespace" {
  description = "The MCP namespace whose pods are contained (Obot's MCP runtime namespace, `obot-mcp` by default)."
  type        = string
  default     = "obot-mcp"
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace = \"${var.namespace}\": a namespace name is a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)."
  }
}

variable "pod_labels" {
  description = "Narrows the contained pods to those with all these labels; every pod of the namespace unless set."
  type        = map(string)
  default     = {}
}

variable "infrastructure_permits" {
  description = <<-EOT
    Tier 1: what the cluster itself needs, as named permits (`{ name = [domains] }`, rule `tier1-<name>`, TCP 443).
    Unless set, the cloud's defaults:
    - aws: `cluster-api` (`*.eks.amazonaws.com`, `eks.REGION.amazonaws.com`), `registries` (`*.dkr.ecr.REGION.amazonaws.com`,
      `public.ecr.aws`, `ghcr.io`, `pkg-containers.githubusercontent.com`, `charts.obot.ai`), `cloud-endpoints`
      (`sts.amazonaws.com`, `sts.REGION.amazonaws.com`, `*.s3.REGION.amazonaws.com`).
    - azure: `cluster-api` (`*.hcp.REGION.azmk8s.io`), `registries` (`mcr.microsoft.com`, `*.data.mcr.microsoft.com`, `ghcr.io`,
      `pkg-containers.githubusercontent.com`, `charts.obot.ai`), `cloud-endpoints` (`management.azure.com`,
      `login.microsoftonline.com`, `packages.microsoft.com`, `acs-mirror.azureedge.net`).
    Set `{}` for none.
  EOT
  type        = map(list(string))
  default     = null
  validation {
    condition     = var.infrastructure_permits == null || alltrue([for name, domains in coalesce(var.infrastructure_permits, {}) : can(regex("^[a-z0-9]([-a-z0-9]{0,55}[a-z0-9])?$", name)) && length(domains) > 0])
    error_message = "infrastructure_permits: each key is a permit name (lowercase letters, digits and '-', at most 57 characters) and each list holds at least one domain."
  }
}

variable "extra_permits" {
  description = "Tier 1: more named permits for every pod of the namespace (a package registry, an identity provider), added to `infrastructure_permits`; `ports` default to [443]."
  type = list(object({
    name    = string
    domains = list(string)
    ports   = optional(list(number), [443])
  }))
  default = []
  validation {
    condition     = alltrue([for p in var.extra_permits : can(regex("^[a-z0-9]([-a-z0-9]{0,55}[a-z0-9])?$", p.name)) && length(p.domains) > 0])
    error_message = "extra_permits: each name is lowercase letters, digits and '-' (at most 57 characters) and each permit lists at least one domain."
  }
}

variable "enforcement" {
  description = "Tier 3: `enforce` drops and logs everything else from the pods; `monitor` lets it through and logs it (to learn what servers need before enforcing)."
  type        = string
  default     = "enforce"
  validation {
    condition     = contains(["enforce", "monitor"], var.enforcement)
    error_message = "enforcement = \"${var.enforcement}\": accepted values are \"enforce\" and \"monitor\"."
  }
}

variable "pod_ip_fallback" {
  description = "For clusters the controller registers as `Partial` (label SmartGroups do not resolve): also list each pod's IP, read live, so one apply after a pod restart refreshes them."
  type        = bool
  default     = false
}

variable "log_export" {
  description = "A remote syslog profile so every decision reaches a SIEM: `{ server, port, protocol = udp|tcp, index = 0-8, name }`; none when null."
  type = object({
    server   = string
    port     = optional(number, 514)
    protocol = optional(string, "udp")
    index    = optional(number, 0)
    name     = optional(string, "mcp-egress-siem")
  })
  default = null
  validation {
    condition     = var.log_export == null || try(contains(["udp", "tcp"], var.log_export.protocol) && var.log_export.index >= 0 && var.log_export.index <= 8 && var.log_export.port >= 1 && var.log_export.port <= 65535, false)
    error_message = "log_export: protocol is \"udp\" or \"tcp\", index 0 to 8 (9 is CoPilot's) and port 1 to 65535."
  }
}

variable "timeouts" {
  description = "How long onboarding the cluster may take before the apply fails with the controller's last state (a real controller takes minutes to sync a cluster)."
  type = object({
    create = optional(string, "15m")
  })
  default = {}
}
