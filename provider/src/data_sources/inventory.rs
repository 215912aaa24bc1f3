//! `aviatrix_mcp_egress_inventory`: the MCP servers of one namespace as their FirewallPolicies describe them
//! (this provider's `mcp-egress-<name>` policies, Obot's `obot-<x>-fw` ones and any other), each with the pods
//! its rules select, and the workloads no rule selects.
//!
//! Reads only: FirewallPolicies, Deployments, ReplicaSets and Pods of the namespace, through the Kubernetes
//! client. What they mean (which rule selects which workload, the mode, the flags, what is unprotected) is
//! `mcp_egress_policy::inventory`, which the lab's scenario page calls too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mcp_egress_policy::inventory;
use serde::{Deserialize, Serialize};

use crate::clients::retry::Budget;
use crate::plugin::{CallContext, DataSource, Diagnostic, Diagnostics, Outcome, TfSchema};
use crate::provider::AviatrixProvider;
use crate::resources::failed;

const TIMEOUT: Duration = Duration::from_secs(2 * 60);

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

/// Kubernetes objects as the JSON the shared inventory reads.
fn as_json<T: Serialize>(objects: &[T]) -> Vec<serde_json::Value> {
    objects.iter().filter_map(|o| serde_json::to_value(o).ok()).collect()
}

impl From<inventory::Server> for InventoryServer {
    fn from(s: inventory::Server) -> InventoryServer {
        InventoryServer {
            name: s.name,
            policy_name: s.policy_name,
            managed_by: s.managed_by,
            domains: s.domains,
            ports: s.ports,
            mode: s.mode,
            reconciled: s.reconciled,
            ruleset: s.ruleset,
            pods: s.pods.into_iter().map(|p| InventoryPod { name: p.name, ip: p.ip, phase: p.phase }).collect(),
            flags: s.flags,
        }
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

        let found = inventory::inventory(
            &ns,
            &as_json(&policies),
            &as_json(&pods),
            &as_json(&deployments),
            &as_json(&replica_sets),
        );
        let servers: Vec<InventoryServer> = found.servers.into_iter().map(InventoryServer::from).collect();
        let unprotected: Vec<UnprotectedWorkload> = found
            .unprotected
            .into_iter()
            .map(|u| UnprotectedWorkload { kind: u.kind, name: u.name, labels: u.labels, reason: u.reason })
            .collect();
        config.servers = Some(servers);
        config.unprotected = Some(unprotected);
        warnings.into_outcome(config)
    }
}
