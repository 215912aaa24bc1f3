# The enforcement fabric for one cluster: the spoke gateway (unless the customer has one), the node subnets'
# default route through it, and the node setting that keeps pod IPs unmasqueraded.
locals {
  create_gateway = var.existing_gateway == null
  size           = coalesce(var.size, var.cloud == "aws" ? "t3.small" : "Standard_B2ms")
  masquerade     = coalesce(var.masquerade, var.cloud == "aws" ? "eks" : "aks")
}

resource "aviatrix_mcp_egress_gateway" "this" {
  count        = local.create_gateway ? 1 : 0
  name         = var.name
  cloud        = var.cloud
  account_name = var.account_name
  region       = var.region
  vpc_id       = var.vpc_id
  subnet_cidr  = var.subnet_cidr
  size         = local.size
  tags         = length(var.tags) == 0 ? null : var.tags

  timeouts {
    create = var.timeouts.create
    delete = var.timeouts.delete
  }
}

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway          = local.create_gateway ? aviatrix_mcp_egress_gateway.this[0].name : var.existing_gateway
  route_table_ids  = toset(var.route_table_ids)
  destination_cidr = var.destination_cidr
}

resource "aviatrix_mcp_egress_masquerade" "nodes" {
  count                = local.masquerade == "none" ? 0 : 1
  flavor               = local.masquerade
  non_masquerade_cidrs = local.masquerade == "eks" ? null : var.non_masquerade_cidrs
}
