# The enforcement fabric on AWS in one apply: the egress gateway in the cluster's VPC, the EKS cluster
# onboarded with the feature flags DCF on Kubernetes needs, the node subnets' default route through the
# gateway, and pod IPs kept unmasqueraded on the nodes. Inputs come from the environment (TF_VAR_*), which
# the lab's lab.env sets: `. /path/to/lab/lab.env && terraform apply`; `terraform destroy` puts the routes and
# the VPC CNI setting back as they were.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

variable "aws_account_name" { type = string }
variable "aws_region" { type = string }
variable "aws_vpc_id" { type = string }
variable "aws_gateway_subnet_cidr" { type = string }
variable "aws_node_route_table_ids" { type = list(string) }
variable "eks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_gateway" "egress" {
  name         = "mcp-egress"
  cloud        = "aws"
  account_name = var.aws_account_name
  region       = var.aws_region
  vpc_id       = var.aws_vpc_id
  subnet_cidr  = var.aws_gateway_subnet_cidr
  size         = "t3.small"
}

resource "aviatrix_mcp_egress_cluster" "k8s" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway         = aviatrix_mcp_egress_gateway.egress.name
  route_table_ids = toset(var.aws_node_route_table_ids)
}

resource "aviatrix_mcp_egress_masquerade" "nodes" {
  flavor = "eks"
}

output "gateway_private_ip" {
  value = aviatrix_mcp_egress_gateway.egress.private_ip
}

output "routes_now_point_at" {
  value = aviatrix_mcp_egress_route.nodes.target
}

output "routes_pointed_at_before" {
  value = aviatrix_mcp_egress_route.nodes.previous_targets
}

output "cluster_status" {
  value = aviatrix_mcp_egress_cluster.k8s.status
}
