output "cluster_name" {
  description = "The AKS cluster: `az aks get-credentials -g <cluster_name>-rg -n <cluster_name>`."
  value       = azurerm_kubernetes_cluster.this.name
}

output "kubeconfig_path" {
  description = "The kubeconfig this root wrote (KUBECONFIG=<path> kubectl get firewallpolicy -n obot-mcp)."
  value       = local.kubeconfig_path
}

output "egress_public_ip" {
  description = "The address every permitted call leaves from: what allow-lists at your destinations name."
  value       = module.egress.public_ip
}

output "cluster" {
  description = "The controller's ID of the onboarded cluster (the verdict data source's `cluster`)."
  value       = module.policy.cluster
}

output "policies" {
  description = "Each MCP server's FirewallPolicy."
  value       = module.servers.policies
}
