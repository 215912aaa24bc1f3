output "cluster" {
  description = "The controller's ID of the onboarded cluster (the verdict data source's `cluster`)."
  value       = module.policy.cluster
}

output "cluster_status" {
  description = "Connected, Partial or Disconnected."
  value       = module.policy.cluster_status
}

output "gateway" {
  description = "The gateway egress goes through, and the public IP destinations see (null for an existing gateway)."
  value       = { name = module.egress.gateway_name, public_ip = module.egress.public_ip }
}

output "policies" {
  description = "Each MCP server's FirewallPolicy: `kubectl get firewallpolicy -n <mcp_namespace>`."
  value       = module.servers.policies
}

output "mcp_namespace" {
  description = "Where Obot runs MCP servers."
  value       = module.obot.mcp_namespace
}

output "obot" {
  description = "The Obot release's status and version."
  value       = { status = module.obot.obot_status, version = module.obot.obot_version }
}

output "exfiltration_verdicts" {
  description = "What the gateway decides for each server's pods towards probe_host."
  value       = { for name, v in data.aviatrix_mcp_egress_verdict.exfil : name => "${v.action} by ${v.rule} (tier ${v.tier})" }
}
