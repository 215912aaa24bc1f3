# EKS: a new gateway, the node route through it, VPC CNI external SNAT; then bad inputs refused at plan.
run "lab" {
  module { source = "../_tests/lab" }
}

run "eks" {
  variables {
    cloud           = "aws"
    account_name    = run.lab.aws_account_name
    region          = run.lab.aws_region
    vpc_id          = run.lab.aws_vpc_id
    subnet_cidr     = run.lab.aws_gateway_subnet_cidr
    route_table_ids = run.lab.aws_node_route_table_ids
  }

  assert {
    condition     = output.gateway_created && output.gateway_name == "mcp-egress"
    error_message = "the module did not create the gateway mcp-egress: ${output.gateway_name}"
  }
  assert {
    condition     = can(regex("^eni-", output.route_target))
    error_message = "the node routes do not point at the gateway's interface: ${output.route_target}"
  }
  assert {
    condition     = alltrue([for t in run.lab.aws_node_route_table_ids : startswith(output.previous_targets[t], "gateway:igw-")])
    error_message = "the previous internet route of each table is not recorded: ${jsonencode(output.previous_targets)}"
  }
  assert {
    condition     = strcontains(output.masquerade_object, "aws-node")
    error_message = "the EKS flavour does not set the VPC CNI: ${output.masquerade_object}"
  }
  assert {
    condition     = output.private_ip != null && output.public_ip != null
    error_message = "the gateway has no addresses"
  }
}

run "bad_cloud" {
  command = plan
  variables {
    cloud            = "gcp"
    existing_gateway = "spoke"
    route_table_ids  = ["rtb-0abc"]
  }
  expect_failures = [var.cloud]
}

run "bad_route_table" {
  command = plan
  variables {
    cloud            = "aws"
    existing_gateway = "spoke"
    route_table_ids  = ["/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/routeTables/z"]
  }
  expect_failures = [var.route_table_ids]
}

run "missing_vpc" {
  command = plan
  variables {
    cloud           = "aws"
    account_name    = "acct"
    region          = "us-east-1"
    subnet_cidr     = "10.0.0.0/24"
    route_table_ids = ["rtb-0abc"]
  }
  expect_failures = [var.vpc_id]
}
