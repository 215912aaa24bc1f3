# A route is imported by <gateway>,<destination_cidr>,<route table ID>[,<route table ID>...].
terraform import aviatrix_mcp_egress_route.nodes mcp-egress-route-example,0.0.0.0/0,rtb-0a1b2c3d4e5f60789
