# An existing fabric customer: the spoke is theirs; the module creates no gateway, only the routes through it.
run "lab" {
  module { source = "../_tests/lab" }
}

run "spoke" {
  module { source = "./tests/spoke" }
  variables {
    account_name = run.lab.aws_account_name
    region       = run.lab.aws_region
    vpc_id       = run.lab.aws_vpc_id
    subnet_cidr  = run.lab.aws_gateway_subnet_cidr
  }
}

run "routes_only" {
  variables {
    cloud            = "aws"
    existing_gateway = run.spoke.name
    masquerade       = "none"
    route_table_ids  = run.lab.aws_node_route_table_ids
  }

  assert {
    condition     = !output.gateway_created && output.gateway_name == "customer-spoke"
    error_message = "with existing_gateway the module must route through it and create none"
  }
  assert {
    condition     = output.private_ip == null && output.masquerade_object == null
    error_message = "no gateway and no masquerade should be made here"
  }
  assert {
    condition     = can(regex("^eni-", output.route_target))
    error_message = "the routes do not point at the customer's spoke: ${output.route_target}"
  }
}
