# Tiers 1 and 3 for the MCP namespace `mcp` of the lab's EKS cluster: named infrastructure permits ahead of
# the per-server rules, and a default deny (logged) after them. The input comes from the environment
# (TF_VAR_eks_cluster_id), which the lab's lab.env sets: `. /path/to/lab/lab.env && terraform apply`.
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

resource "aviatrix_mcp_egress_policy" "mcp" {
  cluster   = aviatrix_mcp_egress_cluster.eks.id
  namespace = "mcp"

  named_permits = [
    { name = "registries", domains = ["ghcr.io", "*.dkr.ecr.us-east-1.amazonaws.com"] },
    { name = "identity", domains = ["sts.amazonaws.com"] },
  ]

  # "monitor" lets everything else through and logs it, to try the policy before enforcing it.
  enforcement = "enforce"
}

output "tier1_group" {
  value = aviatrix_mcp_egress_policy.mcp.tier1_group
}
