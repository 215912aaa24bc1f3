# A server is imported by <namespace>/<name>; its FirewallPolicy mcp-egress-<name> must carry the label
# app.kubernetes.io/managed-by=terraform-provider-aviatrix.
terraform import aviatrix_mcp_egress_server.github obot-mcp/github
