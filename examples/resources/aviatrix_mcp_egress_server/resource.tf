# Tier 2 for the MCP server `github` that Obot runs in the obot-mcp namespace: its pods (labelled
# app = "github") may reach these domains on TCP 443 and nothing else the server's rule permits. Apply
# returns once the controller has reconciled the FirewallPolicy mcp-egress-github into a ruleset.
#
# The cluster must serve the firewallpolicies.networking.aviatrix.com CRD (the Aviatrix k8s-firewall chart)
# and have the namespace; the input comes from the environment (TF_VAR_eks_cluster_id), which the lab's
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

resource "aviatrix_mcp_egress_server" "github" {
  namespace = "obot-mcp"
  name      = "github"
  domains   = ["api.github.com", "*.githubusercontent.com"]

  timeouts {
    create = "5m"
  }

  # The controller reconciles only for an onboarded cluster: destroy removes the server first.
  depends_on = [aviatrix_mcp_egress_cluster.eks]
}

# A server that may reach nothing: one deny rule, tier2-sandbox, logged.
resource "aviatrix_mcp_egress_server" "sandbox" {
  namespace  = "obot-mcp"
  name       = "sandbox"
  domains    = []
  depends_on = [aviatrix_mcp_egress_cluster.eks]
}

output "ruleset" {
  value = aviatrix_mcp_egress_server.github.ruleset
}
