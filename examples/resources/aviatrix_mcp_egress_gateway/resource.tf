# An egress gateway in the cluster's VPC. Inputs come from the environment (TF_VAR_*), which the lab's
# lab.env sets: `. /path/to/lab/lab.env && terraform apply`.
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

resource "aviatrix_mcp_egress_gateway" "egress" {
  name         = "mcp-egress"
  cloud        = "aws"
  account_name = var.aws_account_name
  region       = var.aws_region
  vpc_id       = var.aws_vpc_id
  subnet_cidr  = var.aws_gateway_subnet_cidr
  size         = "t3.small"
  tags         = { purpose = "mcp-egress" }

  timeouts {
    create = "45m"
  }
}

# The next hop for the node subnets' default route.
output "private_ip" {
  value = aviatrix_mcp_egress_gateway.egress.private_ip
}
