# The cluster onboarded on the controller (with every feature flag DCF on Kubernetes needs), tiers 1 and 3 for
# the MCP namespace, and optionally the decisions exported to a SIEM. Tier 2 (each server's permits) is the
# mcp-server module.
locals {
  # On aws the region is in the cluster ARN (arn:aws:eks:REGION:...).
  region = var.region != null ? var.region : (var.cloud == "aws" ? split(":", var.cluster_id)[3] : "")

  default_permits = {
    aws = {
      "cluster-api" = ["*.eks.amazonaws.com", "eks.${local.region}.amazonaws.com"]
      "registries" = [
        "*.dkr.ecr.${local.region}.amazonaws.com", "public.ecr.aws", "ghcr.io",
        "pkg-containers.githubusercontent.com", "charts.obot.ai",
      ]
      "cloud-endpoints" = ["sts.amazonaws.com", "sts.${local.region}.amazonaws.com", "*.s3.${local.region}.amazonaws.com"]
    }
    azure = {
      "cluster-api" = ["*.hcp.${local.region}.azmk8s.io"]
      "registries" = [
        "mcr.microsoft.com", "*.data.mcr.microsoft.com", "ghcr.io", "pkg-containers.githubusercontent.com", "charts.obot.ai",
      ]
      "cloud-endpoints" = ["management.azure.com", "login.microsoftonline.com", "packages.microsoft.com", "acs-mirror.azureedge.net"]
    }
  }

  infrastructure = var.infrastructure_permits != null ? var.infrastructure_permits : local.default_permits[var.cloud]
  named_permits = concat(
    [for name in sort(keys(local.infrastructure)) : { name = name, domains = local.infrastructure[name], ports = [443], protocol = "tcp" }],
    [for p in var.extra_permits : { name = p.name, domains = p.domains, ports = p.ports, protocol = "tcp" }],
  )
}

resource "aviatrix_mcp_egress_cluster" "this" {
  cloud      = var.cloud
  cluster_id = var.cluster_id

  timeouts {
    create = var.timeouts.create
  }

  lifecycle {
    precondition {
      condition     = var.infrastructure_permits != null || local.region != ""
      error_message = "region is required on azure for the default infrastructure permits (the AKS API server name holds the location), e.g. region = \"eastus\"."
    }
  }
}

resource "aviatrix_mcp_egress_policy" "this" {
  cluster         = aviatrix_mcp_egress_cluster.this.id
  namespace       = var.namespace
  pod_labels      = length(var.pod_labels) == 0 ? null : var.pod_labels
  named_permits   = local.named_permits
  enforcement     = var.enforcement
  pod_ip_fallback = var.pod_ip_fallback
}

resource "aviatrix_mcp_egress_log_export" "siem" {
  count    = var.log_export == null ? 0 : 1
  index    = var.log_export.index
  name     = var.log_export.name
  server   = var.log_export.server
  port     = var.log_export.port
  protocol = var.log_export.protocol
}
