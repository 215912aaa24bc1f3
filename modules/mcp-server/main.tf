# Tier 2: one FirewallPolicy per MCP server with its own permit list. Each waits for the controller to report
# it reconciled, so a server is never reported contained while its policy is not enforced.

# The policy this tier sits between: the servers depend on it, so they are created after it and destroyed
# before it.
resource "terraform_data" "policy" {
  input = var.policy_id
}

resource "aviatrix_mcp_egress_server" "this" {
  for_each     = var.servers
  namespace    = var.namespace
  name         = each.key
  domains      = each.value.domains
  ports        = each.value.ports
  pod_selector = each.value.pod_selector

  timeouts {
    create = var.timeouts.create
    update = var.timeouts.update
  }

  depends_on = [terraform_data.policy]
}
