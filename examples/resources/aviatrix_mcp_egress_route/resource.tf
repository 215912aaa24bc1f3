# The node subnets' default route through the egress gateway. Inputs come from the environment (TF_VAR_*),
# which the lab's lab.env sets: `. /path/to/lab/lab.env && terraform apply`.
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

resource "aviatrix_mcp_egress_gateway" "egress" {
  name         = "mcp-egress-route-example"
  cloud        = "aws"
  account_name = var.aws_account_name
  region       = var.aws_region
  vpc_id       = var.aws_vpc_id
  subnet_cidr  = var.aws_gateway_subnet_cidr
  size         = "t3.small"
}

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway         = aviatrix_mcp_egress_gateway.egress.name
  route_table_ids = toset(var.aws_node_route_table_ids)
}

# What each table's default route pointed at before; destroy puts it back.
output "previous_targets" {
  value = aviatrix_mcp_egress_route.nodes.previous_targets
}
