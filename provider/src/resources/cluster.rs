//! `aviatrix_mcp_egress_cluster`: the Kubernetes cluster onboarded on the controller
//! (`/v2.5/api/k8s/clusters`), and the controller-wide feature flags that DCF on Kubernetes needs.
//!
//! The flags are shown as the computed `feature_flags` map and planned as all on, so a flag a controller
//! reboot turned off is drift in the next plan, which the next apply turns back on. Flags are controller-
//! wide: destroy turns off only the flags this resource turned on (remembered in private state), and only
//! when no other cluster is onboarded; otherwise it leaves them and says so. A create that was interrupted
//! finds the cluster it onboarded (by `cluster_id`) and adopts it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{budget, failed, invalid, Cloud};
use crate::clients::controller::ControllerClient;
use crate::clients::retry::Budget;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::{
    CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Planned, Private, PrivateEntry, Resource, TfSchema,
};
use crate::provider::AviatrixProvider;

const TIMEOUT: Duration = Duration::from_secs(15 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The flags DCF on Kubernetes needs, in the order they are turned on (`k8s_dcf_policies` needs `k8s`):
/// `microseg` is DCF itself, `k8s` and `k8s_dcf_policies` onboarding and CRD policies; `dcf_multi_policies`,
/// `k8s_discovery` and `log_enrichment` are what field deployments turn on so label SmartGroups resolve
/// pod IPs and logs carry workload names.
pub const FEATURES: [&str; 6] =
    ["microseg", "k8s", "k8s_dcf_policies", "dcf_multi_policies", "k8s_discovery", "log_enrichment"];

/// A Kubernetes cluster onboarded on the controller, with the feature flags DCF on Kubernetes needs.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct ClusterState {
    /// The controller's ID for the onboarded cluster (not `cluster_id`); the import ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// The cluster's name: for EKS and AKS the one in `cluster_id` (computed); for a self-managed cluster,
    /// required.
    #[tf(optional, computed, requires_replace, use_state_for_unknown)]
    pub name: Option<Known<String>>,
    /// `aws` or `azure`.
    #[tf(requires_replace)]
    pub cloud: Cloud,
    /// For a self-managed cluster: the controller's access account of the cloud account it runs in. EKS and
    /// AKS clusters are reached with the account their ID names, so it is not given for them.
    #[tf(optional, requires_replace)]
    pub account_name: Option<String>,
    /// The EKS cluster ARN, the AKS cluster's resource ID, or with `self_managed = true` any unique ID.
    #[tf(requires_replace)]
    pub cluster_id: String,
    /// For a self-managed cluster: the VPC ID or VNet resource ID its nodes run in.
    #[tf(optional, requires_replace)]
    pub vpc_id: Option<String>,
    /// For a self-managed cluster: its region or location.
    #[tf(optional, requires_replace)]
    pub region: Option<String>,
    /// A cluster the cloud does not manage: the controller reaches it with `kubeconfig` instead of the
    /// cloud account's credentials. `false` unless set.
    #[tf(optional, computed, default = false, requires_replace)]
    pub self_managed: Option<bool>,
    /// For `self_managed`: a kubeconfig (contents) the controller uses to reach the cluster. Write-only:
    /// never kept in state.
    #[tf(optional, sensitive, write_only)]
    pub kubeconfig: Option<String>,
    /// The cluster's state on the controller: `Connected`, or `Partial` (label SmartGroups cannot resolve)
    /// or `Disconnected`.
    #[tf(computed)]
    pub status: Option<Known<String>>,
    /// The controller's feature flags DCF on Kubernetes needs, as the controller has them now. Planned as
    /// all on: a flag turned off behind Terraform's back shows as a change.
    #[tf(computed)]
    pub feature_flags: Option<Known<BTreeMap<String, bool>>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

/// The flags this resource turned on, so destroy turns off only those.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TurnedOn {
    flags: Vec<String>,
}

impl PrivateEntry for TurnedOn {
    const KEY: &'static str = "turned-on-flags";
    const VERSION: u32 = 1;
}

fn all_on() -> BTreeMap<String, bool> {
    FEATURES.iter().map(|f| (f.to_string(), true)).collect()
}

pub struct ClusterResource {
    pub provider: Arc<AviatrixProvider>,
}

impl ClusterResource {
    async fn flag(client: &ControllerClient, feature: &str, budget: &Budget) -> Result<bool, Diagnostics> {
        let reply = client
            .json_query("get_controller_feature", &json!({ "feature": feature }), budget)
            .await
            .map_err(|e| failed(&format!("read the controller feature {feature}"), e))?;
        Ok(reply["enabled"].as_bool().unwrap_or(false))
    }

    async fn flags(client: &ControllerClient, budget: &Budget) -> Result<BTreeMap<String, bool>, Diagnostics> {
        let mut flags = BTreeMap::new();
        for feature in FEATURES {
            flags.insert(feature.to_string(), Self::flag(client, feature, budget).await?);
        }
        Ok(flags)
    }

    async fn set_flag(client: &ControllerClient, feature: &str, on: bool, budget: &Budget) -> Result<(), Diagnostics> {
        let action = if on { "enable_controller_feature" } else { "disable_controller_feature" };
        tracing::info!(feature, on, "setting a controller feature flag");
        let confirm = || async {
            let reply = client.json_query("get_controller_feature", &json!({ "feature": feature }), budget).await?;
            Ok((reply["enabled"].as_bool() == Some(on)).then_some(Value::Null))
        };
        client.json_action(action, &json!({ "feature": feature }), budget, confirm).await.map(|_| ()).map_err(|e| {
            failed(&format!("{} the controller feature {feature}", if on { "enable" } else { "disable" }), e)
        })
    }

    /// Turns on every flag that is off; returns those it turned on.
    async fn ensure_flags(client: &ControllerClient, budget: &Budget) -> Result<Vec<String>, Diagnostics> {
        let mut turned_on = Vec::new();
        for feature in FEATURES {
            if !Self::flag(client, feature, budget).await? {
                Self::set_flag(client, feature, true, budget).await?;
                turned_on.push(feature.to_string());
            }
        }
        Ok(turned_on)
    }

    async fn clusters(client: &ControllerClient, budget: &Budget) -> Result<Vec<Value>, Diagnostics> {
        let list =
            client.rest_get("k8s/clusters", budget).await.map_err(|e| failed("list the onboarded clusters", e))?;
        Ok(list["clusters"].as_array().cloned().unwrap_or_default())
    }

    /// Polls the cluster until the controller reports it `Connected`; fails with the state it stayed in.
    async fn wait_connected(client: &ControllerClient, id: &str, budget: &Budget) -> Result<Value, Diagnostics> {
        let begun = std::time::Instant::now();
        let mut last_log = std::time::Instant::now();
        loop {
            let reported = client
                .rest_get(&format!("k8s/clusters/{id}"), budget)
                .await
                .map_err(|e| failed("read the onboarded cluster", e))?;
            let status = reported["status"].as_str().unwrap_or("").to_string();
            if status == "Connected" {
                return Ok(reported);
            }
            if last_log.elapsed() >= Duration::from_secs(5) {
                tracing::info!(cluster = id, status = %status, waited_s = begun.elapsed().as_secs(), "waiting for the controller to report the cluster Connected");
                last_log = std::time::Instant::now();
            }
            if !budget.sleep(Duration::from_secs(2)).await {
                let message = reported["status_message"].as_str().unwrap_or("no message");
                let hint = if status == "Partial" {
                    " A Partial cluster cannot resolve label SmartGroups: give the controller's role list/watch on the cluster's custom resources (the k8s-firewall chart's ClusterRole)."
                } else {
                    ""
                };
                return Err(Diagnostic::error(
                    "The cluster did not connect",
                    format!("the controller reports cluster {id} {status:?} after {:?}: {message}.{hint} The onboarding was undone.", begun.elapsed()),
                )
                .into());
            }
        }
    }

    /// Turns off `turned_on` flags, last first, when no cluster is onboarded; otherwise says why not.
    async fn release_flags(client: &ControllerClient, turned_on: &[String], budget: &Budget) -> Outcome<()> {
        if turned_on.is_empty() {
            return Ok(().into());
        }
        let others = Self::clusters(client, budget).await?;
        if !others.is_empty() {
            return Diagnostics::from(Diagnostic::warning(
                "Feature flags left on",
                format!("{} other cluster(s) are onboarded on the controller, so the flags this resource turned on ({}) stay on.", others.len(), turned_on.join(", ")),
            ))
            .into_outcome(());
        }
        for feature in FEATURES.iter().rev().filter(|f| turned_on.iter().any(|t| t == *f)) {
            Self::set_flag(client, feature, false, budget).await?;
        }
        Ok(().into())
    }

    fn body(state: &ClusterState, account_id: &str) -> Value {
        let self_managed = state.self_managed.unwrap_or(false);
        let mut body = json!({
            "cluster_id": state.cluster_id,
            "credential": { "use_csp_credentials": !self_managed },
        });
        if self_managed {
            body["credential"]["kube_config"] = json!(state.kubeconfig.clone().unwrap_or_default());
            body["resource"] = json!({
                "name": state.name.clone().and_then(Known::into_value),
                "vpc_id": state.vpc_id,
                "region": state.region,
                "account_id": account_id,
                "account_name": state.account_name,
                "public": false,
                "platform": "kubernetes",
                "version": "",
                "network_mode": "FLAT",
                "entra_id_authn": false,
                "tags": [],
            });
        }
        body
    }

    fn state_of(reported: &Value, prior: &ClusterState, flags: BTreeMap<String, bool>) -> ClusterState {
        let cluster_id = reported["cluster_id"].as_str().unwrap_or(&prior.cluster_id);
        let name = match reported["resource"]["name"].as_str() {
            Some(name) => name.to_string(),
            None => prior.name.clone().and_then(Known::into_value).unwrap_or_else(|| cluster_name(cluster_id)),
        };
        ClusterState {
            name: Some(Known::Value(name)),
            id: Known::Value(reported["id"].as_str().unwrap_or_default().to_string()),
            cluster_id: reported["cluster_id"].as_str().map(str::to_string).unwrap_or_else(|| prior.cluster_id.clone()),
            kubeconfig: None,
            status: reported["status"].as_str().map(|s| Known::Value(s.to_string())),
            feature_flags: Some(Known::Value(flags)),
            ..prior.clone()
        }
    }
}

#[tonic::async_trait]
impl Resource for ClusterResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_cluster";
    type State = ClusterState;

    fn validate(&self, config: &ClusterState) -> Diagnostics {
        let mut problems = Vec::new();
        let self_managed = config.self_managed.unwrap_or(false);
        if !self_managed {
            match config.cloud {
                Cloud::Aws
                    if !(config.cluster_id.starts_with("arn:aws") && config.cluster_id.contains(":cluster/")) =>
                {
                    problems.push(invalid("cluster_id", "Invalid EKS cluster ID", format!("cluster_id = {:?} is not an EKS cluster ARN (arn:aws:eks:<region>:<account>:cluster/<name>); for a cluster EKS does not manage set self_managed = true and kubeconfig.", config.cluster_id)));
                }
                Cloud::Azure
                    if !config
                        .cluster_id
                        .to_ascii_lowercase()
                        .contains("/providers/microsoft.containerservice/managedclusters/") =>
                {
                    problems.push(invalid("cluster_id", "Invalid AKS cluster ID", format!("cluster_id = {:?} is not an AKS cluster resource ID (/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.ContainerService/managedClusters/<name>); for a cluster AKS does not manage set self_managed = true and kubeconfig.", config.cluster_id)));
                }
                _ => {}
            }
            if config.kubeconfig.is_some() {
                problems.push(invalid("kubeconfig", "kubeconfig without self_managed", "kubeconfig is only used with self_managed = true; the controller reaches EKS and AKS clusters with the cloud account's credentials.".into()));
            }
        } else if config.kubeconfig.as_deref().is_none_or(|k| k.trim().is_empty()) {
            problems.push(invalid("kubeconfig", "kubeconfig required", "self_managed = true needs kubeconfig: the contents of a kubeconfig the controller can reach the cluster with.".into()));
        }
        let name = config.name.as_ref().and_then(Known::value);
        if self_managed {
            for (attr, set) in [
                ("name", name.is_some()),
                ("account_name", config.account_name.is_some()),
                ("vpc_id", config.vpc_id.is_some()),
                ("region", config.region.is_some()),
            ] {
                if !set {
                    problems.push(invalid(attr, "Missing for a self-managed cluster", format!("{attr} is required with self_managed = true: the controller learns it from the cloud only for EKS and AKS clusters.")));
                }
            }
        } else {
            for (attr, set) in [
                ("account_name", config.account_name.is_some()),
                ("vpc_id", config.vpc_id.is_some()),
                ("region", config.region.is_some()),
            ] {
                if set {
                    problems.push(invalid(attr, "Not used for an EKS or AKS cluster", format!("{attr} is only for self_managed clusters: the controller reaches an EKS or AKS cluster with the account its cluster_id names; remove {attr}.")));
                }
            }
            if let Some(name) = name.filter(|n| **n != cluster_name(&config.cluster_id)) {
                problems.push(invalid("name", "Name differs from the cluster's", format!("name = {name:?}, but the cluster's own name in cluster_id is {:?}; remove name or set it to that.", cluster_name(&config.cluster_id))));
            }
        }
        if config.cluster_id.trim().is_empty() {
            problems.push(invalid("cluster_id", "Empty cluster ID", "cluster_id is empty.".into()));
        }
        if let Some(t) = &config.timeouts {
            problems.extend(t.validate());
        }
        Diagnostics(problems)
    }

    async fn plan(
        &self,
        _: &CallContext,
        prior: Option<&ClusterState>,
        mut proposed: ClusterState,
        _: &mut Private,
    ) -> Outcome<Planned<ClusterState>> {
        // The flags are planned on whatever the controller has now: a reset shows as a change.
        if prior.is_some() {
            proposed.feature_flags = Some(Known::Value(all_on()));
        }
        Ok(Planned::new(proposed).into())
    }

    async fn create(&self, ctx: &CallContext, planned: ClusterState, private: &mut Private) -> Outcome<ClusterState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, TIMEOUT)?;
        let client = self.provider.controller()?;
        let turned_on = Self::ensure_flags(&client, &budget).await?;
        private.set(&TurnedOn { flags: turned_on })?;
        let existing = Self::clusters(&client, &budget)
            .await?
            .into_iter()
            .find(|c| c["cluster_id"] == planned.cluster_id.as_str());
        let mut warnings = Diagnostics::default();
        let reported = match existing {
            Some(found) => {
                tracing::info!(cluster_id = %planned.cluster_id, "the cluster is onboarded already: adopting it (an earlier create was interrupted)");
                warnings.push(Diagnostic::warning(
                    "Adopted an onboarded cluster",
                    format!(
                        "cluster {} was already onboarded on the controller; it is now managed by this resource.",
                        planned.cluster_id
                    ),
                ));
                found
            }
            None => {
                let account_id = match &planned.account_name {
                    Some(account) if planned.self_managed.unwrap_or(false) => {
                        super::account_number(&client, account, &budget).await?
                    }
                    _ => String::new(),
                };
                let body = Self::body(&planned, &account_id);
                let cluster_id = planned.cluster_id.clone();
                let confirm = || async {
                    let list = client.rest_get("k8s/clusters", &budget).await?;
                    Ok(list["clusters"]
                        .as_array()
                        .and_then(|l| l.iter().find(|c| c["cluster_id"] == cluster_id.as_str()))
                        .cloned())
                };
                tracing::info!(cluster_id = %planned.cluster_id, "onboarding the cluster on the controller");
                let created = client
                    .rest_write(Method::POST, "k8s/clusters", Some(&body), &budget, confirm)
                    .await
                    .map_err(|e| failed(&format!("onboard cluster {}", planned.cluster_id), e))?;
                let id = created["id"].as_str().unwrap_or_default().to_string();
                match Self::wait_connected(&client, &id, &budget).await {
                    Ok(reported) => reported,
                    Err(stayed) => {
                        // Nothing is left behind by a failed create: the cluster comes off the controller
                        // again, and so do the flags this create turned on.
                        let _ = client
                            .rest_write(Method::DELETE, &format!("k8s/clusters/{id}"), None, &budget, || async {
                                Ok(None)
                            })
                            .await;
                        let left = Self::release_flags(
                            &client,
                            &private.get::<TurnedOn>()?.unwrap_or_default().flags,
                            &budget,
                        )
                        .await;
                        let mut all = stayed;
                        if let Err(e) = left {
                            all.extend(e);
                        }
                        return Err(all);
                    }
                }
            }
        };
        let flags = Self::flags(&client, &budget).await?;
        Ok(Diagnosed::new(Self::state_of(&reported, &planned, flags)).with_all(warnings))
    }

    async fn read(&self, ctx: &CallContext, current: ClusterState, _: &mut Private) -> Outcome<Option<ClusterState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
        let client = self.provider.controller()?;
        let id = current.id.value().cloned().unwrap_or_default();
        let reported = match client.rest_get(&format!("k8s/clusters/{id}"), &budget).await {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(None.into()),
            Err(e) => return Err(failed("read the onboarded cluster", e)),
        };
        let flags = Self::flags(&client, &budget).await?;
        Ok(Some(Self::state_of(&reported, &current, flags)).into())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _: ClusterState,
        planned: ClusterState,
        _: &mut Private,
    ) -> Outcome<ClusterState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, TIMEOUT)?;
        let client = self.provider.controller()?;
        // Only the flags change in place (every argument replaces): turn back on what a reset turned off.
        let again = Self::ensure_flags(&client, &budget).await?;
        if !again.is_empty() {
            tracing::info!(flags = ?again, "turned controller feature flags back on");
        }
        let id = planned.id.value().cloned().unwrap_or_default();
        let reported = client
            .rest_get(&format!("k8s/clusters/{id}"), &budget)
            .await
            .map_err(|e| failed("read the onboarded cluster", e))?;
        let flags = Self::flags(&client, &budget).await?;
        Ok(Self::state_of(&reported, &planned, flags).into())
    }

    async fn delete(&self, ctx: &CallContext, prior: ClusterState, private: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, TIMEOUT)?;
        let client = self.provider.controller()?;
        let id = prior.id.value().cloned().unwrap_or_default();
        let path = format!("k8s/clusters/{id}");
        let gone = || async {
            match client.rest_get(&path, &budget).await {
                Err(e) if e.is_not_found() => Ok(Some(Value::Null)),
                Err(e) => Err(e),
                Ok(_) => Ok(None),
            }
        };
        match client.rest_write(Method::DELETE, &path, None, &budget, gone).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(failed(&format!("remove cluster {} from the controller", prior.cluster_id), e)),
        }
        let turned_on = private.get::<TurnedOn>()?.unwrap_or_default().flags;
        Self::release_flags(&client, &turned_on, &budget).await
    }

    async fn import(&self, ctx: &CallContext, id: &str, _: &mut Private) -> Outcome<ClusterState> {
        let budget = budget(ctx, None, Operation::Read, READ_TIMEOUT)?;
        let client = self.provider.controller()?;
        let reported = client.rest_get(&format!("k8s/clusters/{id}"), &budget).await.map_err(|e| {
            if e.is_not_found() {
                Diagnostics::from(Diagnostic::error("Cannot import the cluster", format!("the controller has no onboarded cluster with ID {id:?}; import takes the controller's ID (GET /v2.5/api/k8s/clusters lists them)")))
            } else {
                failed("read the onboarded cluster", e)
            }
        })?;
        let resource = &reported["resource"];
        let cluster_id = reported["cluster_id"].as_str().unwrap_or_default().to_string();
        let cloud = if cluster_id.starts_with("arn:aws") { Cloud::Aws } else { Cloud::Azure };
        let self_managed = resource.is_object();
        let text = |key: &str| resource[key].as_str().map(str::to_string);
        let prior = ClusterState {
            id: Known::Value(id.to_string()),
            name: None,
            cloud,
            account_name: if self_managed { text("account_name") } else { None },
            cluster_id,
            vpc_id: if self_managed { text("vpc_id") } else { None },
            region: if self_managed { text("region") } else { None },
            self_managed: Some(self_managed),
            kubeconfig: None,
            status: None,
            feature_flags: None,
            timeouts: None,
        };
        let flags = Self::flags(&client, &budget).await?;
        Ok(Self::state_of(&reported, &prior, flags).into())
    }
}

/// The cluster's own name: the last part of an EKS ARN or AKS resource ID.
fn cluster_name(cluster_id: &str) -> String {
    cluster_id.rsplit('/').next().unwrap_or(cluster_id).to_string()
}
