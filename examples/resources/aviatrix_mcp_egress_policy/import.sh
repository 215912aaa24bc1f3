# A policy is imported by <cluster>/<namespace>: the controller's cluster ID (the id of the
# aviatrix_mcp_egress_cluster) and the MCP namespace.
terraform import aviatrix_mcp_egress_policy.mcp 3f0c2a1e-5b7d-4c2a-9e1f-0a1b2c3d4e5f/mcp
