//! FirewallPolicy reconciliation: the controller reads `networking.aviatrix.com/v1alpha1` FirewallPolicy
//! objects from the onboarded cluster, turns each into SmartGroups, WebGroups and a ruleset in the K8s-managed
//! position, and writes the policy's `.status` (reference §4.3; which component does this is inferred there).
//!
//! Owns the translation (pure, tested below) and the polling loop. It must not write anything in the cluster
//! but the status subresource, and it reaches the cluster only through the access the daemon hands it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{selector, Controller};

/// How the controller reaches the onboarded cluster's API server.
#[derive(Clone, Debug)]
pub struct KubeAccess {
    /// e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// PEM of the CA that signed the API server's certificate.
    pub ca_pem: Vec<u8>,
    /// A bearer token with get/list/watch/patch on `networking.aviatrix.com`.
    pub token: String,
}

/// What one FirewallPolicy becomes on the controller.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// Inline SmartGroups: policy-local name to selector.
    pub smart_groups: BTreeMap<String, Value>,
    /// Inline WebGroups: policy-local name to selector.
    pub web_groups: BTreeMap<String, Value>,
    /// DCF policies; `src_ads`/`dst_ads`/`web_filters` hold `name:<local name>` or `uuid:<uuid>`.
    pub policies: Vec<Value>,
}

fn camel_to_key(key: &str) -> Option<&'static str> {
    Some(match key {
        "type" => "type",
        "cidr" => "cidr",
        "k8sClusterId" => "k8s_cluster_id",
        "k8sNamespace" => "k8s_namespace",
        "k8sPodName" => "k8s_pod",
        "k8sService" => "k8s_service",
        "accountId" => "account_id",
        "accountName" => "account_name",
        "name" => "name",
        "region" => "region",
        "zone" => "zone",
        "s2c" => "s2c",
        "external" => "external",
        _ => return None,
    })
}

/// One CRD SmartGroup selector as an app-domain `all` expression.
fn selector_expression(selector: &Value, at: &str) -> Result<Value, String> {
    let Some(fields) = selector.as_object() else {
        return Err(format!("{at} must be an object"));
    };
    let mut all = Map::new();
    for (key, value) in fields {
        match key.as_str() {
            "tags" => {
                for (label, v) in value.as_object().into_iter().flatten() {
                    all.insert(format!("tags.{label}"), Value::String(v.as_str().unwrap_or_default().to_string()));
                }
            }
            "extArgs" => {
                for (arg, v) in value.as_object().into_iter().flatten() {
                    all.insert(arg.clone(), v.clone());
                }
            }
            other => {
                let mapped = camel_to_key(other).ok_or_else(|| format!("{at}.{other} is not a selector field"))?;
                all.insert(mapped.to_string(), value.clone());
            }
        }
    }
    Ok(json!({ "all": all }))
}

fn group_ref(item: &Value, at: &str) -> Result<String, String> {
    match (item.get("name").and_then(Value::as_str), item.get("uuid").and_then(Value::as_str)) {
        (Some(name), None) => Ok(format!("name:{name}")),
        (None, Some(uuid)) => Ok(format!("uuid:{uuid}")),
        _ => Err(format!("{at} needs exactly one of name and uuid")),
    }
}

/// Translates a FirewallPolicy's spec (the chart's CRD schema) for cluster `cluster_id` and namespace `ns`.
/// Each rule's `selector` becomes a SmartGroup of the workloads it selects in the policy's namespace.
pub fn translate(cluster_id: &str, ns: &str, spec: &Value) -> Result<Translation, String> {
    let mut out = Translation { smart_groups: BTreeMap::new(), web_groups: BTreeMap::new(), policies: Vec::new() };
    for (i, group) in spec.get("smartGroups").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("spec.smartGroups[{i}]");
        let name = group.get("name").and_then(Value::as_str).ok_or_else(|| format!("{at}.name is required"))?;
        let any = group
            .get("selectors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(j, s)| selector_expression(s, &format!("{at}.selectors[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        out.smart_groups.insert(name.to_string(), json!({ "any": any }));
    }
    for (i, group) in spec.get("webGroups").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("spec.webGroups[{i}]");
        let name = group.get("name").and_then(Value::as_str).ok_or_else(|| format!("{at}.name is required"))?;
        let any: Vec<Value> = group
            .get("domains")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|domain| json!({"all": {"snifilter": domain}}))
            .collect();
        out.web_groups.insert(name.to_string(), json!({ "any": any }));
    }
    let rules = spec.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
    if rules.is_empty() {
        return Err("spec.rules must hold at least one rule".into());
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        let name = rule.get("name").and_then(Value::as_str).ok_or_else(|| format!("{at}.name is required"))?;
        let action = match rule.get("action").and_then(Value::as_str).unwrap_or("permit") {
            "permit" => "PERMIT",
            "deny" => "DENY",
            "intrusion_detection_permit" => "INTRUSION_DETECTION_PERMIT",
            other => return Err(format!("{at}.action = {other:?}")),
        };
        let protocol = match rule.get("protocol").and_then(Value::as_str).unwrap_or("any") {
            "tcp" => "TCP",
            "udp" => "UDP",
            "icmp" => "ICMP",
            "any" => "PROTOCOL_UNSPECIFIED",
            other => return Err(format!("{at}.protocol = {other:?}")),
        };
        // The rule's source: the workloads its selector picks in the policy's own namespace and cluster.
        let mut source = Map::new();
        source.insert("type".into(), json!("k8s"));
        source.insert("k8s_cluster_id".into(), json!(cluster_id));
        source.insert("k8s_namespace".into(), json!(ns));
        if let Some(selector) = rule.get("selector") {
            if let Some(service) = selector.get("service").and_then(Value::as_str) {
                source.insert("k8s_service".into(), json!(service));
            }
            for (label, value) in selector.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
                source.insert(format!("tags.{label}"), value.clone());
            }
        }
        let source_name = format!("{name}-source");
        out.smart_groups.insert(source_name.clone(), json!({"any": [{"all": source}]}));
        let destinations = rule
            .get("destinationSmartGroups")
            .and_then(Value::as_array)
            .filter(|list| !list.is_empty())
            .ok_or_else(|| format!("{at}.destinationSmartGroups must name at least one group"))?
            .iter()
            .enumerate()
            .map(|(j, item)| group_ref(item, &format!("{at}.destinationSmartGroups[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let web_filters = rule
            .get("webGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(j, item)| group_ref(item, &format!("{at}.webGroups[{j}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut port_ranges = Vec::new();
        if let Some(port) = rule.get("port").and_then(Value::as_u64) {
            match rule.get("endPort").and_then(Value::as_u64) {
                Some(end) => port_ranges.push(json!({"lo": port, "hi": end})),
                None => port_ranges.push(json!({"lo": port})),
            }
        }
        out.policies.push(json!({
            "name": name,
            "action": action,
            "priority": (i as u64 + 1) * 10,
            "protocol": protocol,
            "src_ads": [format!("name:{source_name}")],
            "dst_ads": destinations,
            "web_filters": web_filters,
            "port_ranges": port_ranges,
            "logging": rule.get("logging").and_then(Value::as_bool).unwrap_or(false),
            "watch": rule.get("watch").and_then(Value::as_bool).unwrap_or(false),
        }));
    }
    Ok(out)
}

/// The owner mark the controller puts on what it made for one policy.
fn owner_of(cluster: &str, ns: &str, name: &str) -> String {
    format!("{cluster}/{ns}/{name}")
}

impl Controller {
    /// Makes (or remakes) the controller objects of one FirewallPolicy and returns its `.status`.
    pub(crate) fn apply_firewall_policy(
        &self,
        cluster_id: &str,
        ns: &str,
        name: &str,
        generation: u64,
        spec: &Value,
    ) -> Result<Value, String> {
        let owner = owner_of(cluster_id, ns, name);
        let translation = translate(cluster_id, ns, spec)?;
        for selector_value in translation.smart_groups.values().chain(translation.web_groups.values()) {
            selector::validate(selector_value).map_err(|e| format!("FirewallPolicy {ns}/{name}: {e}"))?;
        }
        // Work on a draft and keep it only when the whole policy went through.
        self.mutate(|current| {
            let mut draft = current.clone();
            let outcome = Self::apply_translation(&mut draft, &owner, ns, name, generation, &translation);
            if outcome.is_ok() {
                *current = draft;
            }
            outcome
        })
    }

    fn apply_translation(
        state: &mut super::ControllerState,
        owner: &str,
        ns: &str,
        name: &str,
        generation: u64,
        translation: &Translation,
    ) -> Result<Value, String> {
        {
            // Reuse the UUIDs this policy already has, so that a re-reconcile does not churn them.
            let mut mine: BTreeMap<String, String> = BTreeMap::new();
            for (uuid, domain) in &state.app_domains {
                if domain.get("k8s_owner").and_then(Value::as_str) == Some(owner) {
                    if let Some(local) = domain.get("k8s_name").and_then(Value::as_str) {
                        mine.insert(local.to_string(), uuid.clone());
                    }
                }
            }
            let mut uuids = BTreeMap::new();
            let mut status_groups = (Vec::new(), Vec::new());
            for (web, groups) in [(false, &translation.smart_groups), (true, &translation.web_groups)] {
                for (local, selector_value) in groups {
                    let uuid = mine.get(local).cloned().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    state.app_domains.insert(
                        uuid.clone(),
                        json!({"uuid": uuid, "name": format!("k8s-{ns}-{name}-{local}"), "selector": selector_value,
                               "k8s_owner": owner, "k8s_name": local}),
                    );
                    uuids.insert(local.clone(), uuid.clone());
                    let entry = json!({"name": local, "uuid": uuid});
                    if web {
                        status_groups.1.push(entry)
                    } else {
                        status_groups.0.push(entry)
                    }
                }
            }
            let keep: BTreeSet<&String> = uuids.values().collect();
            let stale: Vec<String> = mine.values().filter(|u| !keep.contains(u)).cloned().collect();
            for uuid in stale {
                state.app_domains.remove(&uuid);
            }
            let resolve = |reference: &Value| -> Result<Value, String> {
                let text = reference.as_str().unwrap_or_default();
                if let Some(uuid) = text.strip_prefix("uuid:") {
                    return if state.app_domains.contains_key(uuid) {
                        Ok(json!(uuid))
                    } else {
                        Err(format!("group {uuid} does not exist"))
                    };
                }
                let local = text.trim_start_matches("name:");
                uuids.get(local).map(|u| json!(u)).ok_or_else(|| format!("group {local} is not defined in the policy"))
            };
            let mut policies = Vec::new();
            for policy in &translation.policies {
                let mut policy = policy.clone();
                for key in ["src_ads", "dst_ads", "web_filters"] {
                    let resolved = policy[key]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .iter()
                        .map(&resolve)
                        .collect::<Result<Vec<_>, _>>()?;
                    policy[key] = Value::Array(resolved);
                }
                policies.push(policy);
            }
            let ruleset_uuid = state
                .rulesets
                .iter()
                .find(|(_, r)| r.get("k8s_owner").and_then(Value::as_str) == Some(owner))
                .map(|(u, _)| u.clone())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            for policy in &mut policies {
                policy["uuid"] = json!(uuid::Uuid::new_v4().to_string());
                policy["system_resource"] = json!(false);
            }
            state.rulesets.insert(
                ruleset_uuid.clone(),
                json!({"uuid": ruleset_uuid, "name": format!("k8s-{ns}-{name}"), "attach_to": "", "policies": policies,
                       "metadata": null, "k8s_owner": owner, "k8s_managed": true}),
            );
            Ok(json!({
                "ruleset": ruleset_uuid,
                "attachmentPoint": "K8S_MANAGED",
                "smartGroups": status_groups.0,
                "webGroups": status_groups.1,
                "lastReconciledGeneration": generation,
            }))
        }
    }

    /// Removes what the controller made for policies of `cluster_id` that no longer exist.
    pub(crate) fn forget_firewall_policies(&self, cluster_id: &str, alive: &BTreeSet<String>) {
        let prefix = format!("{cluster_id}/");
        let owned = |v: &Value| {
            v.get("k8s_owner").and_then(Value::as_str).is_some_and(|o| o.starts_with(&prefix) && !alive.contains(o))
        };
        let stale = self.read(|s| s.app_domains.values().any(owned) || s.rulesets.values().any(owned));
        if stale {
            self.mutate(|s| {
                s.app_domains.retain(|_, v| !owned(v));
                s.rulesets.retain(|_, v| !owned(v));
            });
        }
    }
}

/// Polls the cluster every second while the `k8s` and `k8s_dcf_policies` flags are on and a cluster is
/// onboarded, reconciling FirewallPolicies whose generation changed and writing their status.
fn cluster_client(access: &KubeAccess) -> reqwest::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(&access.ca_pem)?;
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
}

pub async fn run(controller: Arc<Controller>, access: KubeAccess) {
    let client = match cluster_client(&access) {
        Ok(client) => client,
        Err(e) => {
            crate::http::log(
                "controller",
                format!("FirewallPolicy reconciliation off: building the cluster client: {e}"),
            );
            return;
        }
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let enabled = controller.read(|s| {
            s.features.get("k8s").copied().unwrap_or(false)
                && s.features.get("k8s_dcf_policies").copied().unwrap_or(false)
        });
        // A Partial or Disconnected cluster's custom resources cannot be listed.
        let cluster_id = controller.lab_cluster().filter(|c| c.connected).map(|c| c.cluster_id);
        let (true, Some(cluster_id)) = (enabled, cluster_id) else { continue };
        if let Err(e) = reconcile_once(&controller, &client, &access, &cluster_id).await {
            crate::http::log("controller", format!("FirewallPolicy reconciliation: {e}"));
        }
    }
}

async fn reconcile_once(
    controller: &Controller,
    client: &reqwest::Client,
    access: &KubeAccess,
    cluster_id: &str,
) -> Result<(), String> {
    let base = format!("{}/apis/networking.aviatrix.com/v1alpha1", access.server.trim_end_matches('/'));
    let response = client
        .get(format!("{base}/firewallpolicies"))
        .bearer_auth(&access.token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(()); // The CRDs are not installed yet.
    }
    if !response.status().is_success() {
        return Err(format!("listing FirewallPolicies: HTTP {}", response.status()));
    }
    let list: Value = response.json().await.map_err(|e| e.to_string())?;
    let mut alive = BTreeSet::new();
    for item in list.get("items").and_then(Value::as_array).into_iter().flatten() {
        let ns = item.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        let name = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        alive.insert(owner_of(cluster_id, &ns, &name));
        let generation = item.pointer("/metadata/generation").and_then(Value::as_u64).unwrap_or(1);
        if item.pointer("/status/lastReconciledGeneration").and_then(Value::as_u64) == Some(generation) {
            continue;
        }
        let status = match controller.apply_firewall_policy(
            cluster_id,
            &ns,
            &name,
            generation,
            item.get("spec").unwrap_or(&Value::Null),
        ) {
            Ok(status) => status,
            Err(e) => {
                crate::http::log("controller", format!("FirewallPolicy {ns}/{name} not reconciled: {e}"));
                continue;
            }
        };
        let url = format!("{base}/namespaces/{ns}/firewallpolicies/{name}/status");
        let patched = client
            .patch(url)
            .bearer_auth(&access.token)
            .header("content-type", "application/merge-patch+json")
            .json(&json!({ "status": status }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !patched.status().is_success() {
            crate::http::log(
                "controller",
                format!("writing the status of FirewallPolicy {ns}/{name}: HTTP {}", patched.status()),
            );
        }
    }
    controller.forget_firewall_policies(cluster_id, &alive);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Obot's network policy controller writes per MCP server (reference §4.3).
    fn obot_policy() -> Value {
        json!({
            "smartGroups": [{"name": "any-destination", "selectors": [{"cidr": "0.0.0.0/0"}]}],
            "webGroups": [{"name": "obot-s1-approved-domains", "domains": ["api.example.com", "*.github.com"]}],
            "rules": [
                {"name": "allow-approved-egress", "action": "permit", "protocol": "tcp", "port": 443, "logging": true,
                 "selector": {"matchLabels": {"app": "s1"}}, "destinationSmartGroups": [{"name": "any-destination"}],
                 "webGroups": [{"name": "obot-s1-approved-domains"}]},
                {"name": "deny-all-external", "action": "deny", "protocol": "any", "logging": true,
                 "selector": {"matchLabels": {"app": "s1"}}, "destinationSmartGroups": [{"name": "any-destination"}]}
            ]
        })
    }

    #[test]
    fn an_obot_policy_becomes_groups_and_ordered_rules() {
        let t = translate("arn:c", "obot-mcp", &obot_policy()).unwrap();
        assert_eq!(t.smart_groups["any-destination"], json!({"any": [{"all": {"cidr": "0.0.0.0/0"}}]}));
        assert_eq!(
            t.smart_groups["allow-approved-egress-source"],
            json!({"any": [{"all": {"type": "k8s", "k8s_cluster_id": "arn:c", "k8s_namespace": "obot-mcp", "tags.app": "s1"}}]})
        );
        assert_eq!(
            t.web_groups["obot-s1-approved-domains"],
            json!({"any": [{"all": {"snifilter": "api.example.com"}}, {"all": {"snifilter": "*.github.com"}}]})
        );
        assert_eq!(t.policies.len(), 2);
        assert_eq!(
            (&t.policies[0]["action"], &t.policies[0]["protocol"], &t.policies[0]["port_ranges"]),
            (&json!("PERMIT"), &json!("TCP"), &json!([{"lo": 443}]))
        );
        assert_eq!(t.policies[1]["protocol"], "PROTOCOL_UNSPECIFIED");
        assert!(t.policies[0]["priority"].as_u64() < t.policies[1]["priority"].as_u64(), "rules keep their order");
        for group in t.smart_groups.values().chain(t.web_groups.values()) {
            selector::validate(group).unwrap();
        }
    }

    fn controller(dir: &std::path::Path) -> Arc<Controller> {
        let config = super::super::ControllerConfig::for_tests(&["arn:c"]);
        Controller::open(dir, config, Default::default()).unwrap()
    }

    #[test]
    fn reconciling_makes_owned_objects_keeps_their_uuids_and_forgets_deleted_policies() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let status = c.apply_firewall_policy("arn:c", "obot-mcp", "obot-s1-fw", 3, &obot_policy()).unwrap();
        assert_eq!(status["lastReconciledGeneration"], 3);
        let ruleset = status["ruleset"].as_str().unwrap().to_string();
        let stored = c.read(|s| s.rulesets[&ruleset].clone());
        assert_eq!(stored["policies"].as_array().unwrap().len(), 2);
        let web = status["webGroups"][0]["uuid"].as_str().unwrap().to_string();
        assert_eq!(stored["policies"][0]["web_filters"], json!([web]), "rules point at the groups' UUIDs");
        assert_eq!(status["smartGroups"].as_array().unwrap().len(), 3);

        let again = c.apply_firewall_policy("arn:c", "obot-mcp", "obot-s1-fw", 4, &obot_policy()).unwrap();
        assert_eq!(
            (again["ruleset"].clone(), again["webGroups"].clone()),
            (status["ruleset"].clone(), status["webGroups"].clone())
        );
        let count = || c.read(|s| s.app_domains.values().filter(|d| d.get("k8s_owner").is_some()).count());
        assert_eq!(count(), 4, "no duplicate groups on a re-reconcile");

        // A policy that references a group it does not define changes nothing.
        let mut broken = obot_policy();
        broken["rules"][1]["destinationSmartGroups"] = json!([{"name": "nowhere"}]);
        assert!(c
            .apply_firewall_policy("arn:c", "obot-mcp", "obot-s1-fw", 5, &broken)
            .unwrap_err()
            .contains("nowhere"));
        assert_eq!(count(), 4);

        c.forget_firewall_policies("arn:c", &BTreeSet::new());
        assert_eq!(count(), 0);
        assert!(c.read(|s| s.rulesets.is_empty()));
    }

    /// A stand-in API server for FirewallPolicies: serves a list and records what is written to it.
    async fn fake_cluster(
        dir: &std::path::Path,
        items: Arc<std::sync::Mutex<Value>>,
        writes: Arc<std::sync::Mutex<Vec<(String, String, Value)>>>,
    ) -> KubeAccess {
        use axum::extract::{OriginalUri, State};
        use axum::http::HeaderMap;
        use axum::response::IntoResponse;
        type Shared = (Arc<std::sync::Mutex<Value>>, Arc<std::sync::Mutex<Vec<(String, String, Value)>>>);
        async fn list(State((items, _)): State<Shared>, headers: HeaderMap) -> axum::response::Response {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer t") {
                return axum::http::StatusCode::UNAUTHORIZED.into_response();
            }
            axum::Json(json!({"kind": "FirewallPolicyList", "items": items.lock().unwrap().clone()})).into_response()
        }
        async fn status(
            State((_, writes)): State<Shared>,
            OriginalUri(uri): OriginalUri,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> axum::Json<Value> {
            let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            writes.lock().unwrap().push((uri.path().to_string(), content_type, serde_json::from_slice(&body).unwrap()));
            axum::Json(json!({}))
        }
        let app = axum::Router::new()
            .route("/apis/networking.aviatrix.com/v1alpha1/firewallpolicies", axum::routing::get(list))
            .route(
                "/apis/networking.aviatrix.com/v1alpha1/namespaces/{ns}/firewallpolicies/{name}/status",
                axum::routing::patch(status),
            )
            .with_state((items, writes));
        let ca = crate::tls::LabCa::load_or_create(dir).unwrap();
        let tls = ca.server_config("kube", &[b"http/1.1"]).unwrap();
        let listener = crate::http::bind_loopback().await.unwrap();
        let server = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (keep_open, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            crate::http::serve(listener, Some(tls), app, shutdown).await;
            drop(keep_open);
        });
        KubeAccess { server, ca_pem: ca.cert_pem().as_bytes().to_vec(), token: "t".into() }
    }

    #[tokio::test]
    async fn the_loop_reconciles_changed_policies_through_the_status_subresource() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        c.mutate(|s| {
            s.features.insert("k8s".into(), true);
            s.features.insert("k8s_dcf_policies".into(), true);
            s.clusters.insert("id1".into(), json!({"id": "id1", "cluster_id": "arn:c"}));
        });
        let fresh =
            json!({"metadata": {"namespace": "obot-mcp", "name": "fresh", "generation": 2}, "spec": obot_policy()});
        let done = json!({"metadata": {"namespace": "obot-mcp", "name": "done", "generation": 1},
                          "spec": obot_policy(), "status": {"lastReconciledGeneration": 1}});
        let items = Arc::new(std::sync::Mutex::new(json!([fresh, done])));
        let writes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let access = fake_cluster(dir.path(), items.clone(), writes.clone()).await;
        let client = cluster_client(&access).unwrap();

        reconcile_once(&c, &client, &access, "arn:c").await.unwrap();
        let written = writes.lock().unwrap().clone();
        assert_eq!(written.len(), 1, "only the policy whose generation changed: {written:?}");
        let (path, content_type, body) = &written[0];
        assert_eq!(path, "/apis/networking.aviatrix.com/v1alpha1/namespaces/obot-mcp/firewallpolicies/fresh/status");
        assert_eq!(content_type, "application/merge-patch+json");
        assert_eq!(body["status"]["lastReconciledGeneration"], 2);
        let ruleset = body["status"]["ruleset"].as_str().unwrap().to_string();
        assert!(c.read(|s| s.rulesets.contains_key(&ruleset)));

        // The policy is deleted in the cluster: the controller forgets what it made for it.
        *items.lock().unwrap() = json!([]);
        reconcile_once(&c, &client, &access, "arn:c").await.unwrap();
        assert!(c.read(|s| s.rulesets.is_empty()));
        let wrong = KubeAccess { token: "wrong".into(), ..access.clone() };
        assert!(reconcile_once(&c, &client, &wrong, "arn:c").await.unwrap_err().contains("401"));
    }

    #[test]
    fn malformed_policies_are_refused_with_the_path() {
        let cases = [
            (json!({"rules": []}), "at least one rule"),
            (json!({"rules": [{"name": "r", "destinationSmartGroups": []}]}), "spec.rules[0].destinationSmartGroups"),
            (json!({"rules": [{"name": "r", "destinationSmartGroups": [{"name": "a", "uuid": "b"}]}]}), "exactly one"),
            (json!({"rules": [{"name": "r", "action": "allow", "destinationSmartGroups": [{"name": "a"}]}]}), "action"),
            (
                json!({"smartGroups": [{"name": "g", "selectors": [{"colour": "red"}]}], "rules": [{"name": "r", "destinationSmartGroups": [{"name": "g"}]}]}),
                "colour",
            ),
        ];
        for (spec, needle) in cases {
            let err = translate("c", "ns", &spec).unwrap_err();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
