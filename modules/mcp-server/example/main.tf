# Tier 2 for three MCP servers on top of the egress-policy module, on the lab's EKS cluster:
# `. DIR/lab.env && terraform init && terraform apply`.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "eks_cluster_id" { type = string }

module "policy" {
  source = "../../egress-policy"

  cloud      = "aws"
  cluster_id = var.eks_cluster_id
  namespace  = "default"
}

module "servers" {
  source = "../"

  policy_id = module.policy.policy_id
  namespace = "default"
  servers = {
    "healthcare-mcp" = { domains = ["api.ehr.example.com"] }
    "github-mcp"     = { domains = ["api.github.com", "*.githubusercontent.com"] }
    "offline-mcp"    = { domains = [] } # zero egress
  }
}

output "policies" { value = module.servers.policies }
