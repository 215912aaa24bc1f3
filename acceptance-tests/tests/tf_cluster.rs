//! Resource `aviatrix_mcp_egress_cluster` through the real terraform CLI against the lab: the lab's EKS
//! cluster is onboarded with the feature flags DCF on Kubernetes needs, imports by the controller's ID, a
//! controller reboot that resets flags is drift the next apply fixes, and destroy takes the cluster off and
//! turns off the flags it turned on; a cluster that stays Partial fails the create with its state and
//! leaves nothing behind.

mod common;

use common::steps::{Case, Step};
use common::terraform::config;
use serde_json::json;

const CLUSTER: &str = "aviatrix_mcp_egress_cluster.eks";

fn eks(timeouts: &str) -> String {
    config(&format!(
        r#"
variable "eks_cluster_id" {{ type = string }}

resource "aviatrix_mcp_egress_cluster" "eks" {{
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
  {timeouts}
}}
"#
    ))
}

fn all_on() -> serde_json::Value {
    json!({
        "dcf_multi_policies": true, "k8s": true, "k8s_dcf_policies": true, "k8s_discovery": true,
        "log_enrichment": true, "microseg": true
    })
}

#[test]
fn an_eks_cluster_is_onboarded_imported_survives_a_reboot_and_leaves_nothing() {
    Case::new("the lab's EKS cluster")
        .step(
            Step::apply(&eks(""))
                .expect_attr(CLUSTER, "status", json!("Connected"))
                .expect_attr(CLUSTER, "name", json!("lab-eks"))
                .expect_attr(CLUSTER, "feature_flags", all_on())
                .expect_attr_set(CLUSTER, "id"),
        )
        .step(Step::import(CLUSTER))
        .step(Step::outside("the controller reboots, resetting flags", |lab| {
            assert!(lab.cli(&["reboot-controller"]).status.success());
        }))
        .step(Step::plan(&eks("")).expect_changes(&[CLUSTER]))
        .step(Step::apply(&eks("")).expect_attr(CLUSTER, "feature_flags", all_on()))
        .step(Step::destroy().expect_no_resource(CLUSTER))
        .run();
}

#[test]
fn a_cluster_that_stays_partial_fails_with_its_state_and_leaves_nothing() {
    Case::new("a Partial EKS cluster")
        .step(Step::outside("the controller registers clusters Partial", |lab| {
            lab.fault("controller", "partial-cluster", "1", "0");
        }))
        .step(
            Step::apply(&eks("timeouts {\n    create = \"5s\"\n  }"))
                .expect_error(r#"The cluster did not connect: .*"Partial".*undone"#)
                .expect_no_resource(CLUSTER),
        )
        .run();
}

#[test]
fn a_cluster_id_of_the_wrong_shape_and_self_managed_arguments_are_refused_at_plan() {
    let bad_id = eks("").replace("var.eks_cluster_id", "\"lab-eks\"");
    let with_region = eks("region = \"us-east-1\"");
    let self_managed = eks("self_managed = true");
    Case::new("bad cluster arguments")
        .step(Step::plan(&bad_id).expect_error("cluster_id = \"lab-eks\" is not an EKS cluster ARN"))
        .step(Step::plan(&with_region).expect_error("region is only for self_managed clusters"))
        .step(Step::plan(&self_managed).expect_error("self_managed = true needs kubeconfig"))
        .run();
}
