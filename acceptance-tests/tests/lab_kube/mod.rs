//! The lab's Kubernetes API for the lab tests, reached the way kubectl would from `KUBECONFIG`, and the
//! FirewallPolicy CRD the controller reconciles. A test module of the lab tests that drive the controller's
//! FirewallPolicy reconciliation (`lab_reconcile`, `lab_fabric`) and of the provider tests that need the CRD,
//! the MCP namespace and workloads in it (`tf_server`, `tf_data_inventory`).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use super::common::lab::Lab;

/// Where the MCP namespace's FirewallPolicies live.
/// The FirewallPolicy CRD.
pub const FIREWALL_POLICY_CRD: &str =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/firewallpolicies.networking.aviatrix.com";

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
    /// start (the k8s-firewall chart's CRDs are part of its baseline); the CRD is put back first if a test
    /// removed it.
    pub async fn install_firewall_policy_crd_and_namespace(&self) {
        self.ensure_firewall_policy_crd().await;
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "obot-mcp"}});
        assert_eq!(self.send(Method::POST, "/api/v1/namespaces", Some(namespace)).await.0, 201);
    }

    /// Creates the FirewallPolicy CRD from the k8s-firewall chart when the cluster has none.
    pub async fn ensure_firewall_policy_crd(&self) {
        let (status, _) = self.send(Method::GET, FIREWALL_POLICY_CRD, None).await;
        if status == 200 {
            return;
        }
        let manifest = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/charts/k8s-firewall/crds/networking.aviatrix.com_firewallpolicies.yaml"
        ))
        .expect("the chart's CRD");
        let crd: Value = serde_yaml::from_str(&manifest).expect("the CRD is YAML");
        let (status, body) =
            self.send(Method::POST, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Some(crd)).await;
        assert_eq!(status, 201, "{body}");
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

    /// A FirewallPolicy of `obot-mcp`, or Null with its status code.
    pub async fn policy(&self, name: &str) -> (u16, Value) {
        self.send(Method::GET, &format!("{POLICIES}/{name}"), None).await
    }

    /// Reads the FirewallPolicy `name`, lets `change` edit it, and writes it back (PUT, at the read
    /// resourceVersion), as `kubectl edit` does.
    pub async fn edit_policy(&self, name: &str, change: impl FnOnce(&mut Value)) {
        let (status, mut policy) = self.policy(name).await;
        assert_eq!(status, 200, "{policy}");
        change(&mut policy);
        let (status, body) = self.send(Method::PUT, &format!("{POLICIES}/{name}"), Some(policy)).await;
        assert_eq!(status, 200, "{body}");
    }

    /// A Deployment of `replicas` pods labelled `labels` in `obot-mcp`, as Obot deploys an MCP server.
    pub async fn create_deployment(&self, name: &str, labels: Value, replicas: u32) {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "obot-mcp", "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": labels["app"]}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "mcp", "image": "ghcr.io/obot-platform/mcp-images/stdio-wrapper:v0.24.2"}]}}}
        });
        let (status, body) =
            self.send(Method::POST, "/apis/apps/v1/namespaces/obot-mcp/deployments", Some(deployment)).await;
        assert_eq!(status, 201, "{body}");
    }

    /// Waits until `count` pods of `obot-mcp` labelled `app=<app>` run with a pod IP; returns them.
    pub async fn wait_for_running_pods(&self, app: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, list) = self
                .send(Method::GET, &format!("/api/v1/namespaces/obot-mcp/pods?labelSelector=app%3D{app}"), None)
                .await;
            assert_eq!(status, 200, "{list}");
            let running: Vec<Value> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string())
                .cloned()
                .collect();
            if running.len() == count {
                return running;
            }
            assert!(Instant::now() < deadline, "pods app={app} not running with IPs: {list}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Removes the FirewallPolicy CRD, as on a cluster the k8s-firewall chart was never installed on.
    pub async fn remove_firewall_policy_crd(&self) {
        self.delete_and_wait(FIREWALL_POLICY_CRD).await;
    }

    /// What a case that used the MCP namespace leaves: the namespace gone (failing if a FirewallPolicy
    /// outlived the destroy) and the CRD there, as in the lab's baseline.
    pub async fn restore_baseline(&self) {
        self.remove_mcp_namespace().await;
        self.ensure_firewall_policy_crd().await;
    }

    async fn remove_mcp_namespace(&self) {
        let (status, list) = self.send(Method::GET, POLICIES, None).await;
        if status == 200 {
            let left: Vec<&Value> =
                list["items"].as_array().into_iter().flatten().map(|p| &p["metadata"]["name"]).collect();
            assert!(left.is_empty(), "FirewallPolicies outlived the destroy: {left:?}");
        }
        self.delete_and_wait("/api/v1/namespaces/obot-mcp").await;
    }

    async fn delete_and_wait(&self, path: &str) {
        let (status, body) = self.send(Method::DELETE, path, None).await;
        assert!(matches!(status, 200 | 202 | 404), "DELETE {path}: {status} {body}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.send(Method::GET, path, None).await.0 != 404 {
            assert!(Instant::now() < deadline, "{path} is still there");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs `future` to its end on a runtime of its own, for the synchronous steps of a provider test.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
}
