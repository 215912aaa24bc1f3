# What the MCP namespace holds, read live after the releases: it exists and no workload in it is uncontained.
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

variable "namespace" { type = string }

data "aviatrix_mcp_egress_inventory" "mcp" {
  namespace = var.namespace
}

output "servers" { value = data.aviatrix_mcp_egress_inventory.mcp.servers }
output "unprotected" { value = data.aviatrix_mcp_egress_inventory.mcp.unprotected }
