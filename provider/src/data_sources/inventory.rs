//! `aviatrix_mcp_egress_inventory`: the MCP servers of one namespace as their FirewallPolicies describe them
//! (this provider's `mcp-egress-<name>` policies, Obot's `obot-<x>-fw` ones and any other), each with the pods
//! its rules select, and the workloads no rule selects.
//!
//! Reads only: FirewallPolicies, Deployments, ReplicaSets and Pods of the namespace, through the Kubernetes
//! client. A workload is a Deployment (judged by its pod template's labels), or a Pod that no Deployment
//! runs (a pod whose controlling ReplicaSet belongs to a Deployment is the Deployment's). A rule selects a
//! workload when its `selector.matchLabels` are all among the workload's labels, or when it has no selector
//! (the CRD's rules always match workloads of the policy's namespace); a rule with a `service` selector is
//! not resolved and selects nothing here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use crate::clients::kube::{FirewallPolicy, PolicyRule};
use crate::clients::retry::Budget;
use crate::plugin::{CallContext, DataSource, Diagnostic, Diagnostics, Outcome, TfSchema};
use crate::provider::AviatrixProvider;
use crate::resources::failed;
use crate::resources::server::{MANAGED_BY, MANAGER, SERVER_LABEL};

const TIMEOUT: Duration = Duration::from_secs(2 * 60);
/// The labels Obot's network policy controller puts on the FirewallPolicies it writes.
const OBOT_MANAGED_BY: &str = "obot.ai/managed-by";
const OBOT_MANAGER: &str = "aviatrix-network-policy-controller";
const OBOT_SERVER: &str = "obot.ai/mcp-server-name";

/// Every MCP server of a namespace with its egress permits, mode, reconcile state and pods, and the workloads
/// no FirewallPolicy covers: what `kubectl get firewallpolicy` shows, and what it cannot.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct InventoryModel {
    /// The MCP namespace, such as `obot-mcp`.
    #[tf(required)]
    pub namespace: String,
    /// One entry per FirewallPolicy of the namespace, by policy name.
    #[tf(computed, nested)]
    pub servers: Option<Vec<InventoryServer>>,
    /// Deployments, and Pods no Deployment runs, whose pods no FirewallPolicy rule selects.
    #[tf(computed, nested)]
    pub unprotected: Option<Vec<UnprotectedWorkload>>,
}

/// One MCP server's FirewallPolicy.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct InventoryServer {
    /// The MCP server: the policy's `mcp-egress.aviatrix.com/server` or `obot.ai/mcp-server-name` label,
    /// else the policy's name.
    #[tf(computed)]
    pub name: String,
    /// The FirewallPolicy's name.
    #[tf(computed)]
    pub policy_name: String,
    /// Who writes the policy: `terraform-provider-aviatrix`, `aviatrix-network-policy-controller` (Obot) or
    /// `other`.
    #[tf(computed)]
    pub managed_by: String,
    /// The domains its permit rules allow, as the WebGroups list them (`*` for every domain), sorted.
    #[tf(computed)]
    pub domains: Vec<String>,
    /// The ports its permit rules allow: `443`, a range such as `8080-8082`, or `any`.
    #[tf(computed)]
    pub ports: Vec<String>,
    /// `deny` (only the listed domains), `allow` (every domain: WebGroup `*` or a permit with no WebGroup)
    /// or `zero-egress` (no permit rule).
    #[tf(computed)]
    pub mode: String,
    /// Whether the controller reconciled the policy's current generation.
    #[tf(computed)]
    pub reconciled: bool,
    /// The controller ruleset the policy became; null until reconciled.
    #[tf(computed)]
    pub ruleset: Option<String>,
    /// The pods of the namespace its rules select.
    #[tf(computed, nested)]
    pub pods: Vec<InventoryPod>,
    /// What deserves a look: `egress-allow`, `not-reconciled`, `no-pods`.
    #[tf(computed)]
    pub flags: Vec<String>,
}

/// A pod and where it is.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct InventoryPod {
    #[tf(computed)]
    pub name: String,
    /// The pod IP; null before the kubelet assigned one.
    #[tf(computed)]
    pub ip: Option<String>,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    #[tf(computed)]
    pub phase: Option<String>,
}

/// A workload whose pods no FirewallPolicy rule selects.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct UnprotectedWorkload {
    /// `Deployment` or `Pod`.
    #[tf(computed)]
    pub kind: String,
    #[tf(computed)]
    pub name: String,
    /// The labels its pods carry.
    #[tf(computed)]
    pub labels: BTreeMap<String, String>,
    /// Why it is listed.
    #[tf(computed)]
    pub reason: String,
}

pub struct InventoryDataSource {
    pub provider: Arc<AviatrixProvider>,
}

/// Whether `rule` selects workloads labelled `labels`.
fn selects(rule: &PolicyRule, labels: &BTreeMap<String, String>) -> bool {
    match &rule.selector {
        None => true,
        Some(selector) if selector.service.is_some() => false,
        Some(selector) => selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v)),
    }
}

fn managed_by(policy: &FirewallPolicy) -> &'static str {
    if policy.label(MANAGED_BY) == Some(MANAGER) {
        MANAGER
    } else if policy.label(OBOT_MANAGED_BY) == Some(OBOT_MANAGER) {
        OBOT_MANAGER
    } else {
        "other"
    }
}

/// A policy as an inventory entry, with the namespace's pods.
fn describe(policy: &FirewallPolicy, pods: &[Pod]) -> InventoryServer {
    let policy_name = policy.metadata.name.clone().unwrap_or_default();
    let name =
        policy.label(SERVER_LABEL).or(policy.label(OBOT_SERVER)).map(str::to_string).unwrap_or(policy_name.clone());
    let permits: Vec<&PolicyRule> =
        policy.spec.rules.iter().filter(|r| r.action.as_deref().unwrap_or("permit") != "deny").collect();
    let mut domains = BTreeSet::new();
    let mut everywhere = false;
    for rule in &permits {
        if rule.web_groups.is_empty() {
            everywhere = true;
        }
        for group in rule.web_groups.iter().filter_map(|g| g.name.as_deref()) {
            for domain in policy.spec.web_groups.iter().filter(|w| w.name == group).flat_map(|w| &w.domains) {
                everywhere |= domain == "*";
                domains.insert(domain.clone());
            }
        }
    }
    let mut ports: Vec<(u32, String)> = permits
        .iter()
        .map(|r| match (r.port, r.end_port) {
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
    let selected: Vec<InventoryPod> = pods
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            policy.spec.rules.iter().any(|r| selects(r, &labels))
        })
        .map(|p| InventoryPod {
            name: p.metadata.name.clone().unwrap_or_default(),
            ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
            phase: p.status.as_ref().and_then(|s| s.phase.clone()),
        })
        .collect();
    let reconciled = policy.reconciled();
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
    InventoryServer {
        name,
        policy_name,
        managed_by: managed_by(policy).to_string(),
        domains: domains.into_iter().collect(),
        ports: ports.into_iter().map(|(_, p)| p).collect(),
        mode: mode.to_string(),
        reconciled,
        ruleset: policy.status.as_ref().and_then(|s| s.ruleset.clone()).filter(|_| reconciled),
        pods: selected,
        flags,
    }
}

#[tonic::async_trait]
impl DataSource for InventoryDataSource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_inventory";
    type Model = InventoryModel;

    async fn read(&self, ctx: &CallContext, mut config: InventoryModel) -> Outcome<InventoryModel> {
        let budget = Budget::new(TIMEOUT, ctx.cancel.clone());
        let kube = self.provider.kubernetes().await?;
        let ns = config.namespace.clone();
        let mut warnings = Diagnostics::default();
        let policies = match kube.firewall_policies(&ns, &budget).await {
            Ok(list) => list,
            Err(e) if e.is_not_found() => {
                warnings.push(Diagnostic::warning(
                    "The FirewallPolicy CRD is not installed",
                    format!("the cluster does not serve {}: no MCP server of namespace {ns} has a FirewallPolicy, so every workload is unprotected; install the k8s-firewall chart.", crate::clients::kube::FIREWALL_POLICY_CRD),
                ));
                Vec::new()
            }
            Err(e) => return Err(failed(&format!("list the FirewallPolicies of namespace {ns}"), e)),
        };
        let pods = kube
            .pods(&ns, &BTreeMap::new(), &budget)
            .await
            .map_err(|e| failed(&format!("list the pods of namespace {ns}"), e))?;
        let deployments = kube
            .deployments(&ns, &budget)
            .await
            .map_err(|e| failed(&format!("list the Deployments of namespace {ns}"), e))?;
        let replica_sets = kube
            .replica_sets(&ns, &budget)
            .await
            .map_err(|e| failed(&format!("list the ReplicaSets of namespace {ns}"), e))?;

        let mut servers: Vec<InventoryServer> = policies.iter().map(|p| describe(p, &pods)).collect();
        servers.sort_by(|a, b| a.policy_name.cmp(&b.policy_name));
        let rules: Vec<&PolicyRule> = policies.iter().flat_map(|p| &p.spec.rules).collect();
        let covered = |labels: &BTreeMap<String, String>| rules.iter().any(|r| selects(r, labels));
        let reason = |labels: &BTreeMap<String, String>| {
            format!(
                "no FirewallPolicy rule in namespace {ns} selects labels {labels:?}; its egress falls through to the namespace's default"
            )
        };

        // ReplicaSets that a Deployment controls: their pods are the Deployment's.
        let controlled_by = |refs: &Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
                             kind: &str| {
            refs.iter().flatten().find(|r| r.controller == Some(true) && r.kind == kind).map(|r| r.name.clone())
        };
        let deployment_sets: BTreeSet<String> = replica_sets
            .iter()
            .filter(|rs| controlled_by(&rs.metadata.owner_references, "Deployment").is_some())
            .filter_map(|rs| rs.metadata.name.clone())
            .collect();
        let mut unprotected = Vec::new();
        for deployment in &deployments {
            let labels = deployment
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            if !covered(&labels) {
                unprotected.push(UnprotectedWorkload {
                    kind: "Deployment".into(),
                    name: deployment.metadata.name.clone().unwrap_or_default(),
                    reason: reason(&labels),
                    labels,
                });
            }
        }
        for pod in &pods {
            let run_by_deployment = controlled_by(&pod.metadata.owner_references, "ReplicaSet")
                .is_some_and(|rs| deployment_sets.contains(&rs));
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            if !run_by_deployment && !covered(&labels) {
                unprotected.push(UnprotectedWorkload {
                    kind: "Pod".into(),
                    name: pod.metadata.name.clone().unwrap_or_default(),
                    reason: reason(&labels),
                    labels,
                });
            }
        }
        unprotected.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        config.servers = Some(servers);
        config.unprotected = Some(unprotected);
        warnings.into_outcome(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::kube::{FirewallPolicyStatus, GroupRef, PolicyWebGroup, RuleSelector};

    fn pod(name: &str, app: &str, ip: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"app": app}},
            "status": {"phase": "Running", "podIP": ip}
        }))
        .unwrap()
    }

    fn rule(name: &str, action: &str, app: &str, web: Option<&str>) -> PolicyRule {
        PolicyRule {
            name: name.into(),
            action: Some(action.into()),
            protocol: Some("tcp".into()),
            port: Some(443),
            selector: Some(RuleSelector {
                match_labels: Some(BTreeMap::from([("app".into(), app.into())])),
                service: None,
            }),
            destination_smart_groups: vec![GroupRef::named("any-destination")],
            web_groups: web.map(GroupRef::named).into_iter().collect(),
            ..Default::default()
        }
    }

    #[test]
    fn an_obot_policy_is_described_with_its_pods_and_mode() {
        let mut policy = FirewallPolicy::default();
        policy.metadata.name = Some("obot-s1-fw".into());
        policy.metadata.generation = Some(2);
        policy.metadata.labels =
            Some(BTreeMap::from([(OBOT_MANAGED_BY.into(), OBOT_MANAGER.into()), (OBOT_SERVER.into(), "s1".into())]));
        policy.spec.web_groups =
            vec![PolicyWebGroup { name: "obot-s1-approved-domains".into(), domains: vec!["pypi.org".into()] }];
        policy.spec.rules = vec![
            rule("allow-approved-egress", "permit", "s1", Some("obot-s1-approved-domains")),
            rule("deny-all-external", "deny", "s1", None),
        ];
        policy.status = Some(FirewallPolicyStatus { last_reconciled_generation: Some(1), ..Default::default() });
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

        policy.spec.web_groups[0].domains = vec!["*".into()];
        assert_eq!(describe(&policy, &pods).mode, "allow");
        policy.spec.rules.remove(0);
        let zero = describe(&policy, &[]);
        assert_eq!(zero.mode, "zero-egress");
        assert_eq!(zero.flags, ["not-reconciled", "no-pods"]);
    }

    #[test]
    fn selectors_match_label_subsets_and_no_selector_matches_all() {
        let labels = BTreeMap::from([("app".to_string(), "s1".to_string()), ("mcp-user-id".into(), "u1".into())]);
        assert!(selects(&rule("r", "permit", "s1", None), &labels));
        assert!(!selects(&rule("r", "permit", "s2", None), &labels));
        assert!(selects(&PolicyRule::default(), &labels));
        let service = PolicyRule {
            selector: Some(RuleSelector { match_labels: None, service: Some("s1".into()) }),
            ..Default::default()
        };
        assert!(!selects(&service, &labels));
    }
}
