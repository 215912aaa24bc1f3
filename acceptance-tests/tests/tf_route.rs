//! Resource `aviatrix_mcp_egress_route` through the real terraform CLI against the lab: the baseline node
//! route tables' default route is pointed at an egress gateway's interface, with each table's previous
//! target recorded; the route imports into a fresh state that agrees with apply; and destroy puts every
//! table back as it was, so the lab ends exactly at its baseline (routes, tags and gateway alike).

mod common;

use common::steps::{Case, Step};
use common::terraform::{config, lab_aws_gateway, route_import_id};
use serde_json::json;

const ROUTE: &str = "aviatrix_mcp_egress_route.nodes";

/// A gateway in the baseline VPC and the route of the baseline node tables through it, all from lab.env.
fn fabric() -> String {
    let route = r#"
variable "lab_aws_node_route_table_ids" { type = string }

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway         = aviatrix_mcp_egress_gateway.egress.name
  route_table_ids = toset(split(",", var.lab_aws_node_route_table_ids))
}
"#;
    config(&format!("{}{route}", lab_aws_gateway("  size = \"t3.small\"")))
}

#[test]
fn node_routes_go_through_the_gateway_and_destroy_restores_them() {
    Case::new("the baseline node tables through an AWS gateway")
        .step(
            Step::apply(&fabric())
                .expect_attr(ROUTE, "id", json!("mcp-egress,0.0.0.0/0"))
                .expect_attr(ROUTE, "destination_cidr", json!("0.0.0.0/0"))
                .expect_attr_set(ROUTE, "target")
                .expect_attr_set(ROUTE, "previous_targets"),
        )
        .step(Step::import(ROUTE).id_from(route_import_id))
        .step(Step::import("aviatrix_mcp_egress_gateway.egress"))
        .run();
}
