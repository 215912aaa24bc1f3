//! The controller reconciles FirewallPolicy objects from the lab's Kubernetes: an Obot-style policy becomes
//! a ruleset with its SmartGroups and WebGroups, the policy's status says so, a change is picked up by
//! generation, and deleting the policy removes what the controller made.

mod common;
mod lab_kube;

use std::time::{Duration, Instant};

use common::lab::{ControllerApi, Lab};
use lab_kube::{policy_spec, Kube, POLICIES};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn firewall_policies_are_reconciled_into_rulesets_and_their_status() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let kube = Kube::from_lab(&lab);

    // The CRD as the k8s-firewall chart defines its identity (reference §4.3), the MCP namespace, a policy.
    kube.install_firewall_policy_crd_and_namespace().await;
    let policy = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
                        "metadata": {"name": "obot-s1-fw", "namespace": "obot-mcp"}, "spec": policy_spec(&["api.example.com"])});
    let (status, body) = kube.send(Method::POST, POLICIES, Some(policy)).await;
    assert_eq!(status, 201, "{body}");

    // Nothing happens until the cluster is onboarded with the flags DCF on Kubernetes needs.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, unreconciled) = kube.send(Method::GET, &format!("{POLICIES}/obot-s1-fw"), None).await;
    assert!(unreconciled["status"]["lastReconciledGeneration"].is_null(), "{unreconciled}");
    for feature in ["k8s", "k8s_dcf_policies"] {
        assert_eq!(
            api.json_action(json!({"action": "enable_controller_feature", "feature": feature})).await["return"],
            true
        );
    }
    let kubeconfig = std::fs::read_to_string(lab.var("KUBECONFIG")).unwrap();
    let cluster =
        json!({"cluster_id": "lab-cluster", "credential": {"use_csp_credentials": false, "kube_config": kubeconfig}});
    assert_eq!(api.rest(Method::POST, "k8s/clusters", Some(cluster)).await.0, 200);

    let reconciled = kube.wait_for_generation(1).await;
    let ruleset = reconciled["status"]["ruleset"].as_str().unwrap().to_string();
    let (status, stored) = api.rest(Method::GET, &format!("microseg/policy-list3/{ruleset}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(stored["policies"].as_array().unwrap().len(), 2);
    assert_eq!(stored["policies"][1]["action"], "DENY");
    let web = reconciled["status"]["webGroups"][0]["uuid"].as_str().unwrap().to_string();
    let (_, group) = api.rest(Method::GET, &format!("app-domains/{web}"), None).await;
    assert_eq!(group["selector"]["any"][0]["all"]["snifilter"], "api.example.com");

    // A new domain list bumps the generation; the WebGroup keeps its UUID and gets the new domains.
    let (_, mut current) = kube.send(Method::GET, &format!("{POLICIES}/obot-s1-fw"), None).await;
    current["spec"] = policy_spec(&["api.example.com", "pypi.org"]);
    let (status, body) = kube.send(Method::PUT, &format!("{POLICIES}/obot-s1-fw"), Some(current)).await;
    assert_eq!(status, 200, "{body}");
    let reconciled = kube.wait_for_generation(2).await;
    assert_eq!(reconciled["status"]["webGroups"][0]["uuid"], json!(web));
    let (_, group) = api.rest(Method::GET, &format!("app-domains/{web}"), None).await;
    assert_eq!(group["selector"]["any"].as_array().unwrap().len(), 2);

    // Deleting the policy removes its ruleset and groups from the controller.
    assert_eq!(kube.send(Method::DELETE, &format!("{POLICIES}/obot-s1-fw"), None).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.rest(Method::GET, &format!("microseg/policy-list3/{ruleset}"), None).await.0 != 404 {
        assert!(Instant::now() < deadline, "the ruleset outlived its policy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(api.rest(Method::GET, &format!("app-domains/{web}"), None).await.0, 404);
}
