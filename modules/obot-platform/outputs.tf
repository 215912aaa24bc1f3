output "namespace" {
  description = "The namespace Obot runs in."
  value       = aviatrix_mcp_egress_release.obot.namespace
}

output "mcp_namespace" {
  description = "The namespace Obot runs MCP servers in, known once Obot is deployed: pass it to the mcp-server module so FirewallPolicies are written after it exists."
  value       = var.mcp_namespace
  depends_on  = [aviatrix_mcp_egress_release.obot]
}

output "obot_status" {
  description = "helm's status of the Obot release (`deployed` after every successful apply)."
  value       = aviatrix_mcp_egress_release.obot.status
}

output "obot_version" {
  description = "The deployed Obot chart and app version."
  value       = "${aviatrix_mcp_egress_release.obot.chart_version} (app ${aviatrix_mcp_egress_release.obot.app_version})"
}

output "k8s_firewall_status" {
  description = "helm's status of the k8s-firewall release."
  value       = aviatrix_mcp_egress_release.k8s_firewall.status
}
