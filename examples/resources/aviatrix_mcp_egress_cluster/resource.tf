# The EKS cluster onboarded on the controller, with the feature flags DCF on Kubernetes needs. Inputs come
# from the environment (TF_VAR_*), which the lab's lab.env sets: `. /path/to/lab/lab.env && terraform apply`.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "aws_account_name" { type = string }
variable "aws_region" { type = string }
variable "aws_vpc_id" { type = string }
variable "eks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_cluster" "eks" {
  name         = "mcp-servers"
  cloud        = "aws"
  account_name = var.aws_account_name
  cluster_id   = var.eks_cluster_id
  vpc_id       = var.aws_vpc_id
  region       = var.aws_region
}

output "feature_flags" {
  value = aviatrix_mcp_egress_cluster.eks.feature_flags
}
