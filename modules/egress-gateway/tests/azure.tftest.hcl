# AKS: a gateway in the VNet, the node routes through it (a VirtualAppliance hop), azure-ip-masq-agent.
run "lab" {
  module { source = "../_tests/lab" }
}

run "aks" {
  variables {
    cloud           = "azure"
    name            = "mcp-egress-azure"
    account_name    = run.lab.azure_account_name
    region          = run.lab.azure_location
    vpc_id          = run.lab.azure_vnet_id
    subnet_cidr     = run.lab.azure_gateway_subnet_cidr
    route_table_ids = run.lab.azure_node_route_table_ids
  }

  assert {
    condition     = output.gateway_created && output.route_target == output.private_ip
    error_message = "the Azure routes do not hop to the gateway's private IP: ${output.route_target} vs ${coalesce(output.private_ip, "none")}"
  }
  assert {
    condition     = strcontains(output.masquerade_object, "azure-ip-masq-agent-config")
    error_message = "the AKS flavour does not write azure-ip-masq-agent-config: ${output.masquerade_object}"
  }
}
