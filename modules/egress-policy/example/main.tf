# The egress-policy module on the lab's EKS cluster: `. DIR/lab.env && terraform init && terraform apply`.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "eks_cluster_id" { type = string }

module "policy" {
  source = "../"

  cloud         = "aws"
  cluster_id    = var.eks_cluster_id
  namespace     = "default"
  extra_permits = [{ name = "npm", domains = ["registry.npmjs.org"] }]
  # log_export  = { server = "siem.example.com", port = 514, protocol = "udp" }
}

output "cluster" { value = module.policy.cluster }
output "tier1" { value = module.policy.named_permits }
