//! Bad values for the fabric resources' attributes fail at plan, on the attribute, saying what is accepted,
//! and nothing reaches the network: after every refusal the lab is still at its baseline (the harness checks
//! that at the end of each case). Refusals that need the world (a route table outside the gateway's network,
//! an AKS cluster running Azure CNI Overlay) come before anything is written.

mod common;
mod lab_kube;

use common::steps::{Case, Step};
use common::terraform::config;
use lab_kube::Kube;
use reqwest::Method;
use serde_json::json;

fn gateway(region: &str, vpc_id: &str, subnet: &str, name: &str, cloud: &str) -> String {
    config(&format!(
        r#"
resource "aviatrix_mcp_egress_gateway" "egress" {{
  name         = "{name}"
  cloud        = "{cloud}"
  account_name = "lab-aws"
  region       = "{region}"
  vpc_id       = "{vpc_id}"
  subnet_cidr  = "{subnet}"
  size         = "t3.small"
  timeouts {{
    create = "ten minutes"
  }}
}}
"#
    ))
}

const VPC: &str = "vpc-0a1b2c3d4e5f60789";
const VNET: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";

#[test]
fn gateway_arguments_are_checked_on_their_attribute() {
    let ok = |s: &str| s.to_string();
    let cases = [
        (
            gateway("us-east-1", VPC, "10.10.0.0/24", "1gw", "aws"),
            ok("Invalid gateway name: name = \"1gw\": use up to 50 letters"),
        ),
        (gateway("us-east-1", VPC, "10.10.0.0/24", "gw", "gcp"), ok("cloud.*expected `aws` or `azure`")),
        (
            gateway("East US", VNET, "10.20.0.0/24", "gw", "azure"),
            ok("region = \"East US\" is a display name; use the location name \"eastus\""),
        ),
        (gateway("eastus", VPC, "10.20.0.0/24", "gw", "aws"), ok("region = \"eastus\" is not an AWS region name")),
        (gateway("us-east-1", "vnet-1", "10.10.0.0/24", "gw", "aws"), ok("vpc_id = \"vnet-1\" is not an AWS VPC ID")),
        (
            gateway("eastus", VPC, "10.20.0.0/24", "gw", "azure"),
            ok("vpc_id = \"vpc-0a1b2c3d4e5f60789\" is not a VNet's ARM resource ID"),
        ),
        (
            gateway("us-east-1", VPC, "10.10.0.9/24", "gw", "aws"),
            ok("subnet_cidr = \"10.10.0.9/24\" has host bits set; the network it names is \"10.10.0.0/24\""),
        ),
        (gateway("us-east-1", VPC, "10.10.0.0/24", "gw", "aws"), ok("timeouts.create = \"ten minutes\"")),
    ];
    let mut case = Case::new("gateway refusals");
    for (body, error) in cases {
        case = case.step(Step::plan(&body).expect_error(&error));
    }
    case.run();
}

fn route(tables: &str, destination: &str) -> String {
    config(&format!(
        r#"
resource "aviatrix_mcp_egress_route" "nodes" {{
  gateway          = "mcp-egress"
  route_table_ids  = {tables}
  destination_cidr = "{destination}"
}}
"#
    ))
}

#[test]
fn route_arguments_are_checked_on_their_attribute() {
    let azure = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/t";
    Case::new("route refusals")
        .step(
            Step::plan(&route(r#"["subnet-0a1b2c3d"]"#, "0.0.0.0/0"))
                .expect_error("\"subnet-0a1b2c3d\" is neither an AWS route table ID"),
        )
        .step(
            Step::plan(&route(&format!(r#"["rtb-0a1b2c3d", "{azure}"]"#), "0.0.0.0/0"))
                .expect_error("route_table_ids mixes AWS and Azure route tables"),
        )
        .step(Step::plan(&route("[]", "0.0.0.0/0")).expect_error("route_table_ids is empty"))
        .step(
            Step::plan(&route(r#"["rtb-0a1b2c3d"]"#, "0.0.0.0/33"))
                .expect_error("destination_cidr = \"0.0.0.0/33\" is not an IPv4 CIDR"),
        )
        .run();
}

/// The AWS gateway from lab.env, and a route of the Azure node table through it.
fn cross_cloud_route() -> String {
    config(&format!(
        "{}\n{}",
        common::terraform::lab_aws_gateway("  size = \"t3.small\""),
        r#"
variable "azure_node_route_table_ids" { type = list(string) }

resource "aviatrix_mcp_egress_route" "nodes" {
  gateway         = aviatrix_mcp_egress_gateway.egress.name
  route_table_ids = toset(var.azure_node_route_table_ids)
}
"#
    ))
}

#[test]
fn a_route_table_outside_the_gateways_network_is_refused_before_it_is_changed() {
    let gateway_only = config(&common::terraform::lab_aws_gateway("  size = \"t3.small\""));
    Case::new("a table of another network")
        .step(Step::apply(&gateway_only))
        .step(Step::plan(&cross_cloud_route()).expect_error(
            "Route table outside the gateway's network: route table /subscriptions/.*routeTables/.* belongs to",
        ))
        // Back to a configuration that plans, which the case's destroy runs with.
        .step(Step::plan(&gateway_only).expect_no_changes())
        .run();
}

#[test]
fn an_aks_cluster_on_azure_cni_overlay_is_refused_naming_the_node() {
    let body = config("resource \"aviatrix_mcp_egress_masquerade\" \"nodes\" {\n  flavor = \"aks\"\n}\n");
    Case::new("AKS Azure CNI Overlay")
        .step(Step::outside("a node is labelled as Azure CNI Overlay", |lab| {
            let kube = Kube::from_lab(lab);
            let rt = tokio::runtime::Runtime::new().unwrap();
            let (status, nodes) = rt.block_on(kube.send(Method::GET, "/api/v1/nodes", None));
            assert_eq!(status, 200, "{nodes}");
            let name = nodes["items"][0]["metadata"]["name"].as_str().unwrap().to_string();
            let patch = json!({"metadata": {"labels": {"kubernetes.azure.com/azure-cni-overlay": "true"}}});
            let (status, reply) = rt.block_on(kube.send_patch(&format!("/api/v1/nodes/{name}"), patch));
            assert_eq!(status, 200, "{reply}");
        }))
        .step(
            Step::apply(&body)
                .expect_error("Network mode keeps pod IPs from the gateway: node .* runs Azure CNI Overlay"),
        )
        .step(Step::outside("the label is removed again", |lab| {
            let kube = Kube::from_lab(lab);
            let rt = tokio::runtime::Runtime::new().unwrap();
            let (_, nodes) = rt.block_on(kube.send(Method::GET, "/api/v1/nodes", None));
            let name = nodes["items"][0]["metadata"]["name"].as_str().unwrap().to_string();
            let patch = json!({"metadata": {"labels": {"kubernetes.azure.com/azure-cni-overlay": null}}});
            let (status, reply) = rt.block_on(kube.send_patch(&format!("/api/v1/nodes/{name}"), patch));
            assert_eq!(status, 200, "{reply}");
        }))
        .run();
}
