# A gateway is imported by its name.
terraform import aviatrix_mcp_egress_gateway.egress mcp-egress
