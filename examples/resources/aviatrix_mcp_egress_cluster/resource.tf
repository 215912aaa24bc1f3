# The EKS cluster onboarded on the controller, with the feature flags DCF on Kubernetes needs. The input comes
# from the environment (TF_VAR_eks_cluster_id), which the lab's lab.env sets:
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

output "feature_flags" {
  value = aviatrix_mcp_egress_cluster.eks.feature_flags
}
