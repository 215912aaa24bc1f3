# The egress-gateway module on the lab's EKS baseline: `. DIR/lab.env && terraform init && terraform apply`.
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

module "egress" {
  source = "../"

  cloud           = "aws"
  account_name    = var.aws_account_name
  region          = var.aws_region
  vpc_id          = var.aws_vpc_id
  subnet_cidr     = var.aws_gateway_subnet_cidr
  route_table_ids = var.aws_node_route_table_ids
  # existing_gateway = "my-spoke"   # an existing fabric customer: routes only, through that spoke
}

output "egress_public_ip" { value = module.egress.public_ip }
