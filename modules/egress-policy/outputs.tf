output "cluster" {
  description = "The controller's ID of the onboarded cluster: the `cluster` of verdict data sources."
  value       = aviatrix_mcp_egress_cluster.this.id
}

output "cluster_status" {
  description = "The cluster's state on the controller: `Connected`, or `Partial` (label SmartGroups cannot resolve: set `pod_ip_fallback`) or `Disconnected`."
  value       = aviatrix_mcp_egress_cluster.this.status
}

output "feature_flags" {
  description = "The controller's feature flags DCF on Kubernetes needs, as the controller has them now."
  value       = aviatrix_mcp_egress_cluster.this.feature_flags
}

output "policy_id" {
  description = "`<cluster>/<namespace>`: pass it to the mcp-server module, whose FirewallPolicies must go before the policy and the cluster do."
  value       = aviatrix_mcp_egress_policy.this.id
}

output "namespace" {
  description = "The contained MCP namespace."
  value       = aviatrix_mcp_egress_policy.this.namespace
}

output "named_permits" {
  description = "Tier 1 as applied: each permit's name and domains (rule `tier1-<name>`)."
  value       = { for p in local.named_permits : p.name => p.domains }
}

output "web_groups" {
  description = "The UUID of each tier-1 permit's WebGroup, by name."
  value       = aviatrix_mcp_egress_policy.this.web_groups
}

output "tier1_ruleset" {
  description = "The UUID of the tier-1 ruleset."
  value       = aviatrix_mcp_egress_policy.this.tier1_ruleset
}

output "tier3_ruleset" {
  description = "The UUID of the tier-3 (default deny) ruleset."
  value       = aviatrix_mcp_egress_policy.this.tier3_ruleset
}

output "log_export" {
  description = "The syslog profile's index, when `log_export` is set."
  value       = var.log_export == null ? null : aviatrix_mcp_egress_log_export.siem[0].id
}
