# Would an MCP server's pod reach a host, and by which tier and rule? Decided from live state (the
# controller's DCF rules and the cluster's pods), never from this configuration, so a failed `check` shows
# what the gateway does. The cluster comes from the environment (TF_VAR_eks_cluster_id), which the lab's
# lab.env sets: `. /path/to/lab/lab.env && terraform apply`.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "eks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_cluster" "eks" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}

# A running pod is named with `pod`; `pod_labels` asks for a pod about to be deployed.
data "aviatrix_mcp_egress_verdict" "exfiltration" {
  cluster    = aviatrix_mcp_egress_cluster.eks.id
  namespace  = "kube-system"
  pod_labels = { "k8s-app" = "aws-node" }
  host       = "exfil.attacker.io"
  port       = 443
}

# With no MCP tiers in place the controller's V1 list decides: permit by the Greenfield rule (tier 0).
# Once tier 3 covers the namespace this check warns until the verdict is a drop.
check "no_unreviewed_egress" {
  assert {
    condition     = data.aviatrix_mcp_egress_verdict.exfiltration.tier == 0 || data.aviatrix_mcp_egress_verdict.exfiltration.action == "drop"
    error_message = "exfil.attacker.io: ${data.aviatrix_mcp_egress_verdict.exfiltration.reason}"
  }
}

output "verdict" {
  value = {
    action = data.aviatrix_mcp_egress_verdict.exfiltration.action
    tier   = data.aviatrix_mcp_egress_verdict.exfiltration.tier
    rule   = data.aviatrix_mcp_egress_verdict.exfiltration.rule
    reason = data.aviatrix_mcp_egress_verdict.exfiltration.reason
  }
}
