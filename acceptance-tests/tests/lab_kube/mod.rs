//! The lab's Kubernetes API for the lab tests, reached the way kubectl would from `KUBECONFIG`, and the
//! FirewallPolicy CRD the controller reconciles. A test module of the lab tests that drive the controller's
//! FirewallPolicy reconciliation (`lab_reconcile`, `lab_fabric`).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use super::common::lab::Lab;

/// Where the MCP namespace's FirewallPolicies live.
pub const POLICIES: &str = "/apis/networking.aviatrix.com/v1alpha1/namespaces/obot-mcp/firewallpolicies";

/// An Obot-style FirewallPolicy spec for MCP server `s1` (reference §4.3) approving `domains`.
pub fn policy_spec(domains: &[&str]) -> Value {
    json!({
        "smartGroups": [{"name": "any-destination", "selectors": [{"cidr": "0.0.0.0/0"}]}],
        "webGroups": [{"name": "obot-s1-approved-domains", "domains": domains}],
        "rules": [
            {"name": "allow-approved-egress", "action": "permit", "protocol": "tcp", "port": 443, "logging": true,
             "selector": {"matchLabels": {"app": "s1"}}, "destinationSmartGroups": [{"name": "any-destination"}],
             "webGroups": [{"name": "obot-s1-approved-domains"}]},
            {"name": "deny-all-external", "action": "deny", "protocol": "any", "logging": true,
             "selector": {"matchLabels": {"app": "s1"}}, "destinationSmartGroups": [{"name": "any-destination"}]}
        ]
    })
}

/// The lab's Kubernetes API with the kubeconfig's server and token.
pub struct Kube {
    http: reqwest::Client,
    server: String,
    token: String,
}

impl Kube {
    pub fn from_lab(lab: &Lab) -> Kube {
        let text = std::fs::read_to_string(lab.var("KUBECONFIG")).expect("kubeconfig");
        let config: Value = serde_yaml::from_str(&text).expect("kubeconfig YAML");
        Kube {
            http: lab.client(),
            server: config["clusters"][0]["cluster"]["server"].as_str().unwrap().to_string(),
            token: config["users"][0]["user"]["token"].as_str().unwrap().to_string(),
        }
    }

    /// A request: (status, JSON body or Null).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.server)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A JSON merge patch (`application/merge-patch+json`): (status, JSON body or Null).
    pub async fn send_patch(&self, path: &str, patch: Value) -> (u16, Value) {
        let response = self
            .http
            .patch(format!("{}{path}", self.server))
            .bearer_auth(&self.token)
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The MCP namespace `obot-mcp` beside the FirewallPolicy CRD, which the lab's cluster holds from the
    /// start (the k8s-firewall chart's CRDs are part of its baseline).
    pub async fn install_firewall_policy_crd_and_namespace(&self) {
        let crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/firewallpolicies.networking.aviatrix.com";
        let (status, body) = self.send(Method::GET, crd, None).await;
        assert_eq!(status, 200, "the lab's cluster comes with the FirewallPolicy CRD: {body}");
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "obot-mcp"}});
        assert_eq!(self.send(Method::POST, "/api/v1/namespaces", Some(namespace)).await.0, 201);
    }

    /// Waits until the policy `obot-s1-fw` says the controller reconciled `generation`; returns the policy.
    pub async fn wait_for_generation(&self, generation: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, policy) = self.send(Method::GET, &format!("{POLICIES}/obot-s1-fw"), None).await;
            assert_eq!(status, 200, "{policy}");
            if policy["status"]["lastReconciledGeneration"] == generation {
                return policy;
            }
            assert!(Instant::now() < deadline, "generation {generation} not reconciled: {policy}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
