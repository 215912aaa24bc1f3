//! Resource `aviatrix_mcp_egress_gateway` through the real terraform CLI against the lab: an AWS gateway in
//! the baseline VPC is created with its computed addresses, imports by name into a fresh state that agrees
//! with apply, shows in the next plan when it is deleted behind Terraform's back, and leaves nothing in the
//! controller or EC2 once destroyed.

mod common;

use common::lab::{ControllerApi, Lab};
use common::steps::{Case, Step};
use common::terraform::{config, lab_aws_gateway};
use serde_json::json;

const GATEWAY: &str = "aviatrix_mcp_egress_gateway.egress";

/// The gateway in the lab's baseline VPC and gateway subnet.
fn aws_gateway(size: &str) -> String {
    config(&lab_aws_gateway(&format!("  size = \"{size}\"\n  tags = {{ purpose = \"mcp-egress\" }}")))
}

/// `delete_container` on the controller, as someone at its console would.
fn delete_on_the_controller(lab: &Lab) {
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let api = ControllerApi::login(lab).await;
        let reply = api.action("delete_container", &[("cloud_type", "1"), ("gw_name", "mcp-egress")]).await;
        assert_eq!(reply["return"], true, "delete_container: {reply}");
    })
}

#[test]
fn an_aws_gateway_applies_imports_shows_drift_and_leaves_nothing() {
    Case::new("an AWS gateway in the baseline VPC")
        .step(
            Step::apply(&aws_gateway("t3.small"))
                .expect_attr(GATEWAY, "id", json!("mcp-egress"))
                .expect_attr(GATEWAY, "size", json!("t3.small"))
                .expect_attr(GATEWAY, "tags", json!({"purpose": "mcp-egress"}))
                .expect_attr_set(GATEWAY, "private_ip")
                .expect_attr_set(GATEWAY, "public_ip")
                .expect_attr_set(GATEWAY, "instance_id"),
        )
        .step(Step::import(GATEWAY))
        .step(Step::outside("the gateway is deleted on the controller", delete_on_the_controller))
        .step(Step::plan(&aws_gateway("t3.small")).expect_changes(&[GATEWAY]))
        .step(Step::apply(&aws_gateway("t3.small")).expect_attr_set(GATEWAY, "private_ip"))
        .step(Step::destroy().expect_no_resource(GATEWAY))
        .run();
}

#[test]
fn importing_a_gateway_the_controller_does_not_have_says_so() {
    Case::new("an import of a missing gateway")
        .step(Step::plan(&aws_gateway("t3.small")).expect_changes(&[GATEWAY]))
        .step(
            Step::import(GATEWAY)
                .id("no-such-gateway")
                .expect_error(r#"the controller has no gateway named "no-such-gateway""#),
        )
        .run();
}
