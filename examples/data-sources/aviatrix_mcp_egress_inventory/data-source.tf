# What the obot-mcp namespace's FirewallPolicies say about each MCP server (this provider's, Obot's, any
# other), the pods each one selects, and the workloads no rule selects. Needs the k8s-firewall CRD and the
# namespace; the input comes from the environment (TF_VAR_eks_cluster_id), which the lab's lab.env sets:
# `. /path/to/lab/lab.env && terraform apply`.
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
  namespace  = "obot-mcp"
  name       = "github"
  domains    = ["api.github.com"]
  depends_on = [aviatrix_mcp_egress_cluster.eks]
}

data "aviatrix_mcp_egress_inventory" "mcp" {
  namespace  = "obot-mcp"
  depends_on = [aviatrix_mcp_egress_server.github]
}

# { "github" = "deny" }
output "modes" {
  value = { for s in data.aviatrix_mcp_egress_inventory.mcp.servers : s.name => s.mode }
}

# Servers that deserve a look: egress-allow, not-reconciled, no-pods.
output "flagged" {
  value = { for s in data.aviatrix_mcp_egress_inventory.mcp.servers : s.name => s.flags if length(s.flags) > 0 }
}

output "unprotected" {
  value = [for w in data.aviatrix_mcp_egress_inventory.mcp.unprotected : "${w.kind}/${w.name}: ${w.reason}"]
}
