output "gateway_name" {
  description = "The gateway the routes go through: the one created, or `existing_gateway`."
  value       = aviatrix_mcp_egress_route.nodes.gateway
}

output "gateway_created" {
  description = "Whether this module created the gateway (false with `existing_gateway`)."
  value       = local.create_gateway
}

output "private_ip" {
  description = "The created gateway's private IP (null with `existing_gateway`)."
  value       = local.create_gateway ? aviatrix_mcp_egress_gateway.this[0].private_ip : null
}

output "public_ip" {
  description = "The created gateway's public IP, which egress is SNATed to: what destinations see (null with `existing_gateway`)."
  value       = local.create_gateway ? aviatrix_mcp_egress_gateway.this[0].public_ip : null
}

output "route_target" {
  description = "What the node routes point at now: the gateway's network interface (AWS) or private IP (Azure)."
  value       = aviatrix_mcp_egress_route.nodes.target
}

output "previous_targets" {
  description = "What each node route table's route pointed at before, restored on destroy."
  value       = aviatrix_mcp_egress_route.nodes.previous_targets
}

output "masquerade_object" {
  description = "The node object the masquerade setting lives in (null with `masquerade = \"none\"`)."
  value       = local.masquerade == "none" ? null : aviatrix_mcp_egress_masquerade.nodes[0].object
}

output "ready" {
  description = "Known once the routes and the masquerade are in place: make whatever needs the nodes' egress depend on it."
  value       = join(",", compact([aviatrix_mcp_egress_route.nodes.id, local.masquerade == "none" ? "" : aviatrix_mcp_egress_masquerade.nodes[0].id]))
}
