//! Data source `aviatrix_mcp_egress_inventory` through the real terraform CLI against the lab: two servers of
//! this provider, one written by Obot's network policy controller, and a Deployment nothing covers, in the
//! `obot-mcp` namespace of the onboarded EKS cluster. The inventory lists the three servers with who wrote
//! them, their domains, ports, mode, reconcile state, ruleset and running pods with their IPs, and flags the
//! uncovered Deployment.

mod common;
mod lab_kube;

use std::time::{Duration, Instant};

use common::lab::{objects, Lab};
use common::steps::{Case, Step};
use common::terraform::config;
use lab_kube::{block_on, policy_spec, Kube, POLICIES};
use reqwest::Method;
use serde_json::json;

const INVENTORY: &str = "data.aviatrix_mcp_egress_inventory.mcp";

fn inventory_config() -> String {
    config(
        r#"
variable "eks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_cluster" "eks" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}

resource "aviatrix_mcp_egress_server" "alpha" {
  namespace  = "obot-mcp"
  name       = "alpha"
  domains    = ["api.alpha.example.com"]
  depends_on = [aviatrix_mcp_egress_cluster.eks]
}

resource "aviatrix_mcp_egress_server" "beta" {
  namespace  = "obot-mcp"
  name       = "beta"
  domains    = []
  egress     = "allow"
  depends_on = [aviatrix_mcp_egress_cluster.eks]
}

data "aviatrix_mcp_egress_inventory" "mcp" {
  namespace  = "obot-mcp"
  depends_on = [aviatrix_mcp_egress_server.alpha, aviatrix_mcp_egress_server.beta]
}

output "unprotected" {
  value = [for w in data.aviatrix_mcp_egress_inventory.mcp.unprotected : "${w.kind}/${w.name}"]
}
"#,
    )
}

/// Waits until the controller holds no ruleset made from `obot-mcp/<policy>`.
fn wait_ruleset_gone(lab: &Lab, policy: &str) {
    let name = format!("k8s-obot-mcp-{policy}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while objects(&lab.inventory(), "controller", "ruleset").iter().any(|r| r["data"]["name"] == name) {
        assert!(Instant::now() < deadline, "the controller kept the ruleset of {policy}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_inventory_lists_servers_with_their_pods_and_flags_an_uncovered_deployment() {
    Case::new("an MCP namespace with two servers of ours, one of Obot's and a stray Deployment")
        .teardown(|lab| block_on(Kube::from_lab(lab).restore_baseline()))
        .step(Step::outside("the CRD, the namespace, four Deployments and Obot's policy for s1", |lab| {
            let kube = Kube::from_lab(lab);
            block_on(async {
                kube.install_firewall_policy_crd_and_namespace().await;
                kube.create_deployment("alpha", json!({"app": "alpha", "mcp-user-id": "u1"}), 2).await;
                kube.create_deployment("beta", json!({"app": "beta", "mcp-user-id": "u2"}), 1).await;
                kube.create_deployment("s1", json!({"app": "s1", "mcp-user-id": "u3"}), 1).await;
                kube.create_deployment("stray", json!({"app": "stray"}), 1).await;
                let obot = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
                                  "metadata": {"name": "obot-s1-fw", "namespace": "obot-mcp",
                                               "labels": {"obot.ai/managed-by": "aviatrix-network-policy-controller",
                                                          "obot.ai/mcp-server-name": "s1"}},
                                  "spec": policy_spec(&["api.example.com"])});
                let (status, body) = kube.send(Method::POST, POLICIES, Some(obot)).await;
                assert_eq!(status, 201, "{body}");
                kube.wait_for_running_pods("alpha", 2).await;
                kube.wait_for_running_pods("stray", 1).await;
            });
        }))
        .step(
            Step::apply(&inventory_config())
                .expect_attr(INVENTORY, "servers.0.name", json!("alpha"))
                .expect_attr(INVENTORY, "servers.0.policy_name", json!("mcp-egress-alpha"))
                .expect_attr(INVENTORY, "servers.0.managed_by", json!("terraform-provider-aviatrix"))
                .expect_attr(INVENTORY, "servers.0.domains", json!(["api.alpha.example.com"]))
                .expect_attr(INVENTORY, "servers.0.ports", json!(["443"]))
                .expect_attr(INVENTORY, "servers.0.mode", json!("deny"))
                .expect_attr(INVENTORY, "servers.0.reconciled", json!(true))
                .expect_attr(INVENTORY, "servers.0.flags", json!([]))
                .expect_attr_set(INVENTORY, "servers.0.ruleset")
                .expect_attr_set(INVENTORY, "servers.0.pods.0.ip")
                .expect_attr_set(INVENTORY, "servers.0.pods.1.ip")
                .expect_attr(INVENTORY, "servers.0.pods.0.phase", json!("Running"))
                .expect_attr(INVENTORY, "servers.1.name", json!("beta"))
                .expect_attr(INVENTORY, "servers.1.mode", json!("allow"))
                .expect_attr(INVENTORY, "servers.1.domains", json!(["*"]))
                .expect_attr(INVENTORY, "servers.1.flags", json!(["egress-allow"]))
                .expect_attr(INVENTORY, "servers.2.name", json!("s1"))
                .expect_attr(INVENTORY, "servers.2.policy_name", json!("obot-s1-fw"))
                .expect_attr(INVENTORY, "servers.2.managed_by", json!("aviatrix-network-policy-controller"))
                .expect_attr(INVENTORY, "servers.2.domains", json!(["api.example.com"]))
                .expect_attr(INVENTORY, "servers.2.mode", json!("deny"))
                .expect_attr(INVENTORY, "unprotected.0.kind", json!("Deployment"))
                .expect_attr(INVENTORY, "unprotected.0.labels", json!({"app": "stray"}))
                .expect_output("unprotected", json!(["Deployment/stray"])),
        )
        .step(Step::outside("Obot's policy goes while the cluster is still onboarded", |lab| {
            let (status, body) =
                block_on(Kube::from_lab(lab).send(Method::DELETE, &format!("{POLICIES}/obot-s1-fw"), None));
            assert_eq!(status, 200, "{body}");
            wait_ruleset_gone(lab, "obot-s1-fw");
        }))
        .run();
}
