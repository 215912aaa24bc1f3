output "policies" {
  description = "Each server's FirewallPolicy name (`kubectl get firewallpolicy -n <namespace>`)."
  value       = { for name, s in aviatrix_mcp_egress_server.this : name => s.policy_name }
}

output "reconciled" {
  description = "Whether the controller reconciled each server's current policy."
  value       = { for name, s in aviatrix_mcp_egress_server.this : name => s.reconciled }
}

output "rulesets" {
  description = "The controller ruleset each server's policy became."
  value       = { for name, s in aviatrix_mcp_egress_server.this : name => s.ruleset }
}

output "rules" {
  description = "The rule each server's permits show under in verdicts and logs (`tier2-<name>`)."
  value       = { for name, _ in aviatrix_mcp_egress_server.this : name => "tier2-${name}" }
}
