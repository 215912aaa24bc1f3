# An existing fabric customer's spoke, made outside the module under test, for the `existing_gateway` run.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

variable "account_name" { type = string }
variable "region" { type = string }
variable "vpc_id" { type = string }
variable "subnet_cidr" { type = string }

resource "aviatrix_mcp_egress_gateway" "spoke" {
  name         = "customer-spoke"
  cloud        = "aws"
  account_name = var.account_name
  region       = var.region
  vpc_id       = var.vpc_id
  subnet_cidr  = var.subnet_cidr
  size         = "t3.small"
}

output "name" { value = aviatrix_mcp_egress_gateway.spoke.name }
