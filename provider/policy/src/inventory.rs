//! The MCP servers of one namespace as their FirewallPolicies describe them, with the pods each one's rules
//! select, and the workloads no rule selects. Pure: it reads Kubernetes objects as their JSON, so that the
//! provider's `aviatrix_mcp_egress_inventory` data source (over the Kubernetes API) and the lab's scenario
//! page (over the lab's live objects) compute the same answer the same way.
//!
//! A workload is a Deployment (judged by its pod template's labels), or a Pod that no Deployment runs (a pod
//! whose controlling ReplicaSet belongs to a Deployment is the Deployment's). A rule selects a workload when
//! its `selector.matchLabels` are all among the workload's labels, or when it has no selector (the CRD's rules
//! always match workloads of the policy's namespace); a rule with a `service` selector is not resolved and
//! selects nothing here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The label naming who writes a FirewallPolicy, and this provider's value of it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "terraform-provider-aviatrix";
/// The label naming the MCP server a policy of this provider belongs to.
pub const SERVER_LABEL: &str = "mcp-egress.aviatrix.com/server";
/// The labels Obot's network policy controller puts on the FirewallPolicies it writes.
pub const OBOT_MANAGED_BY: &str = "obot.ai/managed-by";
pub const OBOT_MANAGER: &str = "aviatrix-network-policy-controller";
pub const OBOT_SERVER: &str = "obot.ai/mcp-server-name";

/// One MCP server's FirewallPolicy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// The policy's `mcp-egress.aviatrix.com/server` or `obot.ai/mcp-server-name` label, else its name.
    pub name: String,
    pub policy_name: String,
    /// [`MANAGER`], [`OBOT_MANAGER`] or `other`.
    pub managed_by: String,
    /// The domains its permit rules allow (`*` for every domain), sorted.
    pub domains: Vec<String>,
    /// The ports its permit rules allow: `443`, a range such as `8080-8082`, or `any`.
    pub ports: Vec<String>,
    /// `deny` (only the listed domains), `allow` (every domain) or `zero-egress` (no permit rule).
    pub mode: String,
    /// Whether the controller reconciled the policy's current generation.
    pub reconciled: bool,
    /// The controller ruleset the policy became; none until reconciled.
    pub ruleset: Option<String>,
    /// The pods of the namespace its rules select, in the order given.
    pub pods: Vec<Pod>,
    /// What deserves a look: `egress-allow`, `not-reconciled`, `no-pods`.
    pub flags: Vec<String>,
}

/// A pod and where it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    pub name: String,
    /// The pod IP; none before the kubelet assigned one.
    pub ip: Option<String>,
    pub phase: Option<String>,
}

/// A workload whose pods no FirewallPolicy rule selects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unprotected {
    /// `Deployment` or `Pod`.
    pub kind: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub reason: String,
}

/// The servers (by policy name) and the unprotected workloads (by kind and name) of a namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub servers: Vec<Server>,
    pub unprotected: Vec<Unprotected>,
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str)
}

fn rules(policy: &Value) -> &[Value] {
    policy.pointer("/spec/rules").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// Whether `rule` (a FirewallPolicy rule as JSON) selects workloads labelled `labels`.
pub fn selects(rule: &Value, labels: &BTreeMap<String, String>) -> bool {
    match rule.get("selector").filter(|s| !s.is_null()) {
        None => true,
        Some(selector) if selector.get("service").is_some_and(|s| !s.is_null()) => false,
        Some(selector) => string_map(selector.get("matchLabels")).iter().all(|(k, v)| labels.get(k) == Some(v)),
    }
}

/// Whether the controller reconciled the policy's current generation (`metadata.generation`, 1 when absent,
/// equals `status.lastReconciledGeneration`).
pub fn reconciled(policy: &Value) -> bool {
    let generation = policy.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
    policy.pointer("/status/lastReconciledGeneration").and_then(Value::as_i64) == Some(generation)
}

fn managed_by(policy: &Value) -> &'static str {
    if label(policy, MANAGED_BY) == Some(MANAGER) {
        MANAGER
    } else if label(policy, OBOT_MANAGED_BY) == Some(OBOT_MANAGER) {
        OBOT_MANAGER
    } else {
        "other"
    }
}

/// A FirewallPolicy (as JSON) as an inventory entry, with the namespace's pods (as JSON).
pub fn describe(policy: &Value, pods: &[Value]) -> Server {
    let policy_name = text(policy, "/metadata/name").unwrap_or_default().to_string();
    let name = label(policy, SERVER_LABEL).or(label(policy, OBOT_SERVER)).unwrap_or(&policy_name).to_string();
    let permits: Vec<&Value> = rules(policy)
        .iter()
        .filter(|r| r.get("action").and_then(Value::as_str).unwrap_or("permit") != "deny")
        .collect();
    let web_groups = policy.pointer("/spec/webGroups").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut domains = BTreeSet::new();
    let mut everywhere = false;
    for rule in &permits {
        let refs = rule.get("webGroups").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if refs.is_empty() {
            everywhere = true;
        }
        for group in refs.iter().filter_map(|g| g.get("name").and_then(Value::as_str)) {
            let listed = web_groups.iter().filter(|w| text(w, "/name") == Some(group));
            for domain in listed.flat_map(|w| w.get("domains").and_then(Value::as_array).into_iter().flatten()) {
                let Some(domain) = domain.as_str() else { continue };
                everywhere |= domain == "*";
                domains.insert(domain.to_string());
            }
        }
    }
    let port = |rule: &Value, key: &str| rule.get(key).and_then(Value::as_u64);
    let mut ports: Vec<(u64, String)> = permits
        .iter()
        .map(|r| match (port(r, "port"), port(r, "endPort")) {
            (Some(lo), Some(hi)) if hi > lo => (lo, format!("{lo}-{hi}")),
            (Some(lo), _) => (lo, lo.to_string()),
            (None, _) => (0, "any".to_string()),
        })
        .collect();
    ports.sort();
    ports.dedup();
    let mode = match (permits.is_empty(), everywhere) {
        (true, _) => "zero-egress",
        (false, true) => "allow",
        (false, false) => "deny",
    };
    let selected: Vec<Pod> = pods
        .iter()
        .filter(|p| {
            let labels = string_map(p.pointer("/metadata/labels"));
            rules(policy).iter().any(|r| selects(r, &labels))
        })
        .map(|p| Pod {
            name: text(p, "/metadata/name").unwrap_or_default().to_string(),
            ip: text(p, "/status/podIP").map(str::to_string),
            phase: text(p, "/status/phase").map(str::to_string),
        })
        .collect();
    let reconciled = reconciled(policy);
    let mut flags = Vec::new();
    if mode == "allow" {
        flags.push("egress-allow".to_string());
    }
    if !reconciled {
        flags.push("not-reconciled".to_string());
    }
    if selected.is_empty() {
        flags.push("no-pods".to_string());
    }
    Server {
        name,
        policy_name,
        managed_by: managed_by(policy).to_string(),
        domains: domains.into_iter().collect(),
        ports: ports.into_iter().map(|(_, p)| p).collect(),
        mode: mode.to_string(),
        reconciled,
        ruleset: text(policy, "/status/ruleset").map(str::to_string).filter(|_| reconciled),
        pods: selected,
        flags,
    }
}

/// The name of the object's controlling owner of `kind`, if any.
fn controlled_by(object: &Value, kind: &str) -> Option<String> {
    object.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten().find_map(|r| {
        (r.get("controller").and_then(Value::as_bool) == Some(true) && text(r, "/kind") == Some(kind))
            .then(|| text(r, "/name").unwrap_or_default().to_string())
    })
}

/// The inventory of `namespace` from its FirewallPolicies, Pods, Deployments and ReplicaSets (as JSON).
pub fn inventory(
    namespace: &str,
    policies: &[Value],
    pods: &[Value],
    deployments: &[Value],
    replica_sets: &[Value],
) -> Inventory {
    let mut servers: Vec<Server> = policies.iter().map(|p| describe(p, pods)).collect();
    servers.sort_by(|a, b| a.policy_name.cmp(&b.policy_name));
    let all_rules: Vec<&Value> = policies.iter().flat_map(rules).collect();
    let covered = |labels: &BTreeMap<String, String>| all_rules.iter().any(|r| selects(r, labels));
    let reason = |labels: &BTreeMap<String, String>| {
        format!(
            "no FirewallPolicy rule in namespace {namespace} selects labels {labels:?}; its egress falls through to the namespace's default"
        )
    };
    // ReplicaSets that a Deployment controls: their pods are the Deployment's.
    let deployment_sets: BTreeSet<String> = replica_sets
        .iter()
        .filter(|rs| controlled_by(rs, "Deployment").is_some())
        .filter_map(|rs| text(rs, "/metadata/name").map(str::to_string))
        .collect();
    let mut unprotected = Vec::new();
    for deployment in deployments {
        let labels = string_map(deployment.pointer("/spec/template/metadata/labels"));
        if !covered(&labels) {
            unprotected.push(Unprotected {
                kind: "Deployment".into(),
                name: text(deployment, "/metadata/name").unwrap_or_default().to_string(),
                reason: reason(&labels),
                labels,
            });
        }
    }
    for pod in pods {
        let run_by_deployment = controlled_by(pod, "ReplicaSet").is_some_and(|rs| deployment_sets.contains(&rs));
        let labels = string_map(pod.pointer("/metadata/labels"));
        if !run_by_deployment && !covered(&labels) {
            unprotected.push(Unprotected {
                kind: "Pod".into(),
                name: text(pod, "/metadata/name").unwrap_or_default().to_string(),
                reason: reason(&labels),
                labels,
            });
        }
    }
    unprotected.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    Inventory { servers, unprotected }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, app: &str, ip: Option<&str>) -> Value {
        json!({"metadata": {"name": name, "labels": {"app": app}}, "status": {"phase": "Running", "podIP": ip}})
    }

    fn rule(name: &str, action: &str, app: &str, web: Option<&str>) -> Value {
        let web: Vec<Value> = web.map(|w| json!({"name": w})).into_iter().collect();
        json!({"name": name, "action": action, "protocol": "tcp", "port": 443,
               "selector": {"matchLabels": {"app": app}},
               "destinationSmartGroups": [{"name": "any-destination"}], "webGroups": web})
    }

    #[test]
    fn an_obot_policy_is_described_with_its_pods_and_mode() {
        let mut policy = json!({
            "metadata": {"name": "obot-s1-fw", "generation": 2,
                         "labels": {OBOT_MANAGED_BY: OBOT_MANAGER, OBOT_SERVER: "s1"}},
            "spec": {"webGroups": [{"name": "obot-s1-approved-domains", "domains": ["pypi.org"]}],
                     "rules": [rule("allow-approved-egress", "permit", "s1", Some("obot-s1-approved-domains")),
                               rule("deny-all-external", "deny", "s1", None)]},
            "status": {"lastReconciledGeneration": 1, "ruleset": "r-1"}
        });
        let pods = [pod("s1-abc", "s1", Some("10.0.0.5")), pod("other", "s2", None)];
        let server = describe(&policy, &pods);
        assert_eq!(
            (server.name.as_str(), server.managed_by.as_str(), server.mode.as_str()),
            ("s1", OBOT_MANAGER, "deny")
        );
        assert_eq!((server.domains, server.ports), (vec!["pypi.org".to_string()], vec!["443".to_string()]));
        assert_eq!(server.pods.len(), 1);
        assert_eq!(server.pods[0].ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(server.flags, ["not-reconciled"]);
        assert_eq!(server.ruleset, None, "no ruleset is shown for a generation not reconciled");

        policy["status"]["lastReconciledGeneration"] = json!(2);
        assert_eq!(describe(&policy, &pods).ruleset.as_deref(), Some("r-1"));
        policy["spec"]["webGroups"][0]["domains"] = json!(["*"]);
        assert_eq!(describe(&policy, &pods).mode, "allow");
        policy["spec"]["rules"].as_array_mut().unwrap().remove(0);
        policy["status"]["lastReconciledGeneration"] = json!(1);
        let zero = describe(&policy, &[]);
        assert_eq!(zero.mode, "zero-egress");
        assert_eq!(zero.flags, ["not-reconciled", "no-pods"]);
    }

    #[test]
    fn selectors_match_label_subsets_and_no_selector_matches_all() {
        let labels = BTreeMap::from([("app".to_string(), "s1".to_string()), ("mcp-user-id".into(), "u1".into())]);
        assert!(selects(&rule("r", "permit", "s1", None), &labels));
        assert!(!selects(&rule("r", "permit", "s2", None), &labels));
        assert!(selects(&json!({"name": "r"}), &labels));
        assert!(!selects(&json!({"name": "r", "selector": {"service": "s1"}}), &labels));
    }

    #[test]
    fn workloads_no_rule_selects_are_unprotected_and_a_deployments_pods_count_as_the_deployment() {
        let policy = json!({"metadata": {"name": "mcp-egress-s1", "labels": {MANAGED_BY: MANAGER, SERVER_LABEL: "s1"}},
                            "spec": {"rules": [rule("permit", "permit", "s1", None)]}});
        let deployment = json!({"metadata": {"name": "web"},
                                "spec": {"template": {"metadata": {"labels": {"app": "web"}}}}});
        let rs = json!({"metadata": {"name": "web-5d",
                        "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": true}]}});
        let mut web_pod = pod("web-5d-x", "web", Some("10.0.0.9"));
        web_pod["metadata"]["ownerReferences"] = json!([{"kind": "ReplicaSet", "name": "web-5d", "controller": true}]);
        let pods = [pod("s1-a", "s1", Some("10.0.0.5")), pod("stray", "tool", None), web_pod];
        let inv = inventory("ns", &[policy], &pods, &[deployment], &[rs]);
        assert_eq!(inv.servers.len(), 1);
        assert_eq!((inv.servers[0].name.as_str(), inv.servers[0].managed_by.as_str()), ("s1", MANAGER));
        let listed: Vec<(&str, &str)> = inv.unprotected.iter().map(|u| (u.kind.as_str(), u.name.as_str())).collect();
        assert_eq!(listed, [("Deployment", "web"), ("Pod", "stray")]);
        assert!(inv.unprotected[1].reason.contains("namespace ns"));
    }
}
