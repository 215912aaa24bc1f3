//! `aviatrix_mcp_egress_masquerade`: the node-side setting that lets pod IPs reach the egress gateway
//! unmasqueraded, so that the gateway's per-pod SmartGroups can match them.
//!
//! By `flavor`: `aks` writes `kube-system/azure-ip-masq-agent-config` (key `ip-masq-agent`, with the labels
//! AKS gives its custom ConfigMap; the agent merges it with the reconciled one, which is never touched);
//! `generic` writes `kube-system/ip-masq-agent` (key `config`) for the kubernetes-sigs agent; `eks` sets
//! `AWS_VPC_K8S_CNI_EXTERNALSNAT=true` on the `aws-node` container of the VPC CNI DaemonSet (for clusters
//! whose managed add-on does not already carry it in its configuration values, which is the more durable
//! place when the add-on is managed with Terraform).
//!
//! The exact previous object, or its absence, is recorded as an annotation on the object itself (and in
//! private state) before it is changed, and destroy puts it back. Writes carry the resourceVersion they read,
//! so a change made by someone else in between is a conflict, never lost. Clusters whose network mode keeps
//! pod IPs from the gateway whatever is written (AKS Azure CNI Overlay, kubenet; EKS Auto Mode, which has no
//! aws-node) are refused, naming the mode, as is a list that would still masquerade traffic to the internet.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, EnvVar};
use serde::{Deserialize, Serialize};

use super::{budget, failed, invalid};
use crate::clients::kube::{KubeClient, KubeError};
use crate::plugin::schema::TfType;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::types::Type;
use crate::plugin::{
    CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Private, PrivateEntry, Resource, TfSchema,
};
use crate::provider::AviatrixProvider;

const TIMEOUT: Duration = Duration::from_secs(5 * 60);
const NAMESPACE: &str = "kube-system";
/// The annotation that records what was there before.
const PREVIOUS: &str = "mcp-egress.aviatrix.com/previous";
const EXTERNAL_SNAT: &str = "AWS_VPC_K8S_CNI_EXTERNALSNAT";
/// The labels AKS gives its custom ip-masq-agent ConfigMap (EnsureExists: created if missing, edits kept).
const AKS_LABELS: [(&str, &str); 3] = [
    ("component", "ip-masq-agent"),
    ("kubernetes.io/cluster-service", "true"),
    ("addonmanager.kubernetes.io/mode", "EnsureExists"),
];

/// Which node-side masquerade to configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Aks,
    Generic,
    Eks,
}

impl TfType for Flavor {
    fn tf_type() -> Type {
        Type::String
    }
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Aks => "aks",
            Flavor::Generic => "generic",
            Flavor::Eks => "eks",
        }
    }

    /// The ConfigMap and key of an ip-masq-agent flavour, and its agent's DaemonSet.
    fn config_map(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Flavor::Aks => Some(("azure-ip-masq-agent-config", "ip-masq-agent", "azure-ip-masq-agent")),
            Flavor::Generic => Some(("ip-masq-agent", "config", "ip-masq-agent")),
            Flavor::Eks => None,
        }
    }
}

/// Lets pod IPs leave the nodes unmasqueraded, so the egress gateway sees which pod each connection is from.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct MasqueradeState {
    /// The flavour, as the ID and the import ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// `aks` (azure-ip-masq-agent), `generic` (ip-masq-agent) or `eks` (VPC CNI external SNAT).
    #[tf(requires_replace)]
    pub flavor: Flavor,
    /// Destinations the nodes must not masquerade traffic to, for `aks` and `generic`; `["0.0.0.0/0"]` unless
    /// set. The list must cover the internet: otherwise pod IPs never reach the gateway. Not used by `eks`.
    #[tf(optional, computed, default = ["0.0.0.0/0"])]
    pub non_masquerade_cidrs: Option<Vec<String>>,
    /// Whether link-local traffic (169.254.0.0/16, such as the instance metadata service) is masqueraded;
    /// `false` unless set. For `aks` and `generic`.
    #[tf(optional, computed, default = false)]
    pub masq_link_local: Option<bool>,
    /// The object this resource writes, such as `ConfigMap kube-system/azure-ip-masq-agent-config`.
    #[tf(computed, use_state_for_unknown)]
    pub object: Option<Known<String>>,
    /// What destroy puts back: `absent` (the object or variable is removed) or `previous` (its earlier
    /// content is restored exactly).
    #[tf(computed, use_state_for_unknown)]
    pub restores: Option<Known<String>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

/// What was there before, exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "was", rename_all = "lowercase")]
enum Before {
    /// No such object (ConfigMap) or variable (EKS).
    Absent,
    /// A ConfigMap's data, labels and annotations.
    ConfigMap {
        data: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    },
    /// The variable's value.
    Env { value: String },
}

impl PrivateEntry for Before {
    const KEY: &'static str = "masquerade-before";
    const VERSION: u32 = 1;
}

impl Before {
    fn restores(&self) -> &'static str {
        match self {
            Before::Absent => "absent",
            _ => "previous",
        }
    }
}

/// The ip-masq-agent configuration, as both agents read it (YAML or JSON; only the keys given count).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentConfig {
    #[serde(default, rename = "nonMasqueradeCIDRs", skip_serializing_if = "Vec::is_empty")]
    non_masquerade_cidrs: Vec<String>,
    #[serde(default)]
    masq_link_local: bool,
}

/// True when `cidrs` leave no public IPv4 address masqueraded (the private, shared, link-local, loopback,
/// multicast and reserved ranges may stay masqueraded: they are not the internet).
fn covers_the_internet(cidrs: &[ipnet::Ipv4Net]) -> bool {
    let not_internet = [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ];
    let mut all: Vec<ipnet::Ipv4Net> = not_internet.iter().map(|c| c.parse().expect("constant CIDRs parse")).collect();
    all.extend_from_slice(cidrs);
    ipnet::Ipv4Net::aggregate(&all) == vec!["0.0.0.0/0".parse::<ipnet::Ipv4Net>().expect("constant")]
}

pub struct MasqueradeResource {
    pub provider: Arc<AviatrixProvider>,
}

fn kube_failed(doing: &str, e: KubeError) -> Diagnostics {
    failed(doing, e)
}

impl MasqueradeResource {
    /// Refuses clusters whose network mode keeps pod IPs from the gateway, naming the mode.
    async fn check_mode(
        &self,
        kube: &KubeClient,
        flavor: Flavor,
        budget: &crate::clients::retry::Budget,
    ) -> Outcome<()> {
        let mut warnings = Diagnostics::default();
        match flavor {
            Flavor::Aks => {
                let nodes = kube.nodes(budget).await.map_err(|e| kube_failed("list the cluster's nodes", e))?;
                for node in &nodes {
                    let labels = node.metadata.labels.clone().unwrap_or_default();
                    let name = node.metadata.name.clone().unwrap_or_default();
                    if labels.get("kubernetes.azure.com/azure-cni-overlay").map(String::as_str) == Some("true") {
                        return Err(invalid("flavor", "Network mode keeps pod IPs from the gateway", format!(
                            "node {name} runs Azure CNI Overlay: pod IPs are NATed to the node IP outside the cluster whatever the masquerade configuration says, so the gateway cannot tell pods apart; use Azure CNI with node-subnet IPs."
                        )).into());
                    }
                    if labels.get("kubernetes.azure.com/network-plugin").map(String::as_str) == Some("kubenet") {
                        return Err(invalid("flavor", "Network mode keeps pod IPs from the gateway", format!(
                            "node {name} runs kubenet: only nodes have VNet IPs and pods are NATed; use Azure CNI with node-subnet IPs."
                        )).into());
                    }
                }
                if kube
                    .daemon_set(NAMESPACE, "azure-ip-masq-agent", budget)
                    .await
                    .map_err(|e| kube_failed("read the masquerade agent", e))?
                    .is_none()
                {
                    warnings.push(Diagnostic::warning(
                        "No azure-ip-masq-agent on this cluster",
                        "kube-system/azure-ip-masq-agent is absent (as with Azure CNI Pod Subnet, where pod IPs are already the source); the ConfigMap is written but nothing reads it.",
                    ));
                }
            }
            Flavor::Generic => {
                if kube
                    .daemon_set(NAMESPACE, "ip-masq-agent", budget)
                    .await
                    .map_err(|e| kube_failed("read the masquerade agent", e))?
                    .is_none()
                {
                    return Err(invalid("flavor", "No ip-masq-agent on this cluster", "flavor = \"generic\" needs the ip-masq-agent DaemonSet in kube-system, which this cluster does not run; use the flavor of the cluster's platform (aks, eks).".into()).into());
                }
            }
            Flavor::Eks => {
                if kube
                    .daemon_set(NAMESPACE, "aws-node", budget)
                    .await
                    .map_err(|e| kube_failed("read the VPC CNI", e))?
                    .is_none()
                {
                    return Err(invalid("flavor", "No VPC CNI on this cluster", "flavor = \"eks\" needs the aws-node DaemonSet in kube-system; EKS Auto Mode has none (set the NodeClass's snatPolicy to Disabled there instead).".into()).into());
                }
            }
        }
        warnings.into_outcome(())
    }

    async fn write_config_map(
        &self,
        kube: &KubeClient,
        planned: &MasqueradeState,
        private: &mut Private,
        budget: &crate::clients::retry::Budget,
    ) -> Result<Before, Diagnostics> {
        let (name, key, _) = planned.flavor.config_map().expect("an ip-masq-agent flavour");
        let config = AgentConfig {
            non_masquerade_cidrs: planned.non_masquerade_cidrs.clone().unwrap_or_default(),
            masq_link_local: planned.masq_link_local.unwrap_or(false),
        };
        let text = serde_yaml::to_string(&config).expect("the agent's config encodes");
        let existing = kube
            .config_map(NAMESPACE, name, budget)
            .await
            .map_err(|e| kube_failed(&format!("read ConfigMap {NAMESPACE}/{name}"), e))?;
        let before = match &existing {
            None => Before::Absent,
            Some(cm) => match cm.metadata.annotations.as_ref().and_then(|a| a.get(PREVIOUS)) {
                // A create that was interrupted after writing: what it recorded stands.
                Some(recorded) => {
                    serde_json::from_str(recorded).map_err(|e| failed("read the recorded previous ConfigMap", e))?
                }
                None => Before::ConfigMap {
                    data: cm.data.clone().unwrap_or_default(),
                    labels: cm.metadata.labels.clone().unwrap_or_default(),
                    annotations: cm.metadata.annotations.clone().unwrap_or_default(),
                },
            },
        };
        private.set(&before)?;
        let mut cm = existing.clone().unwrap_or_else(|| ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                namespace: Some(NAMESPACE.into()),
                ..Default::default()
            },
            ..Default::default()
        });
        cm.data.get_or_insert_with(Default::default).insert(key.into(), text);
        if planned.flavor == Flavor::Aks {
            let labels = cm.metadata.labels.get_or_insert_with(Default::default);
            for (k, v) in AKS_LABELS {
                labels.insert(k.into(), v.into());
            }
        }
        let record = serde_json::to_string(&before).expect("records encode");
        cm.metadata.annotations.get_or_insert_with(Default::default).insert(PREVIOUS.into(), record);
        tracing::info!(config_map = %format!("{NAMESPACE}/{name}"), "writing the masquerade configuration");
        let written = match existing {
            None => kube.create_config_map(NAMESPACE, &cm, budget).await,
            Some(_) => kube.replace_config_map(NAMESPACE, &cm, budget).await,
        };
        written.map_err(|e| kube_failed(&format!("write ConfigMap {NAMESPACE}/{name}"), e))?;
        Ok(before)
    }

    async fn set_external_snat(
        &self,
        kube: &KubeClient,
        private: &mut Private,
        budget: &crate::clients::retry::Budget,
    ) -> Result<Before, Diagnostics> {
        let mut ds = kube
            .daemon_set(NAMESPACE, "aws-node", budget)
            .await
            .map_err(|e| kube_failed("read DaemonSet kube-system/aws-node", e))?
            .ok_or_else(|| failed("read DaemonSet kube-system/aws-node", "it does not exist"))?;
        let recorded = ds.metadata.annotations.as_ref().and_then(|a| a.get(PREVIOUS)).cloned();
        let container = aws_node_container(&mut ds)?;
        let env = container.env.get_or_insert_with(Vec::new);
        let before = match recorded {
            Some(r) => serde_json::from_str(&r).map_err(|e| failed("read the recorded previous value", e))?,
            None => match env.iter().find(|e| e.name == EXTERNAL_SNAT) {
                Some(var) => Before::Env { value: var.value.clone().unwrap_or_default() },
                None => Before::Absent,
            },
        };
        private.set(&before)?;
        match env.iter_mut().find(|e| e.name == EXTERNAL_SNAT) {
            Some(var) => var.value = Some("true".into()),
            None => env.push(EnvVar { name: EXTERNAL_SNAT.into(), value: Some("true".into()), value_from: None }),
        }
        ds.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(PREVIOUS.into(), serde_json::to_string(&before).expect("records encode"));
        tracing::info!("setting {EXTERNAL_SNAT}=true on kube-system/aws-node; the VPC CNI pods roll");
        kube.replace_daemon_set(NAMESPACE, &ds, budget)
            .await
            .map_err(|e| kube_failed("update DaemonSet kube-system/aws-node", e))?;
        Ok(before)
    }

    fn object_name(flavor: Flavor) -> String {
        match flavor.config_map() {
            Some((name, _, _)) => format!("ConfigMap {NAMESPACE}/{name}"),
            None => format!("DaemonSet {NAMESPACE}/aws-node"),
        }
    }

    /// The state the cluster is in for `flavor`; `None` when the setting is not in effect (gone, or
    /// changed so that it no longer applies), which the next plan shows as a create.
    async fn observe(
        &self,
        kube: &KubeClient,
        flavor: Flavor,
        prior: Option<&MasqueradeState>,
        private: &Private,
        budget: &crate::clients::retry::Budget,
    ) -> Result<Option<MasqueradeState>, Diagnostics> {
        let (cidrs, link_local, recorded) = match flavor.config_map() {
            Some((name, key, _)) => {
                let Some(cm) = kube
                    .config_map(NAMESPACE, name, budget)
                    .await
                    .map_err(|e| kube_failed(&format!("read ConfigMap {NAMESPACE}/{name}"), e))?
                else {
                    return Ok(None);
                };
                let Some(text) = cm.data.as_ref().and_then(|d| d.get(key)) else { return Ok(None) };
                let config: AgentConfig = serde_yaml::from_str(text).unwrap_or_default();
                let recorded = cm.metadata.annotations.as_ref().and_then(|a| a.get(PREVIOUS)).cloned();
                (Some(config.non_masquerade_cidrs), Some(config.masq_link_local), recorded)
            }
            None => {
                let Some(mut ds) = kube
                    .daemon_set(NAMESPACE, "aws-node", budget)
                    .await
                    .map_err(|e| kube_failed("read DaemonSet kube-system/aws-node", e))?
                else {
                    return Ok(None);
                };
                let recorded = ds.metadata.annotations.as_ref().and_then(|a| a.get(PREVIOUS)).cloned();
                let container = aws_node_container(&mut ds)?;
                let on = container
                    .env
                    .iter()
                    .flatten()
                    .any(|e| e.name == EXTERNAL_SNAT && e.value.as_deref() == Some("true"));
                if !on {
                    return Ok(None);
                }
                (prior.and_then(|p| p.non_masquerade_cidrs.clone()), prior.and_then(|p| p.masq_link_local), recorded)
            }
        };
        let before: Option<Before> = match recorded {
            Some(r) => serde_json::from_str(&r).ok(),
            None => private.get::<Before>()?,
        };
        let Some(before) = before else { return Ok(None) };
        Ok(Some(MasqueradeState {
            id: Known::Value(flavor.name().into()),
            flavor,
            non_masquerade_cidrs: cidrs.or(Some(vec!["0.0.0.0/0".into()])),
            masq_link_local: link_local.or(Some(false)),
            object: Some(Known::Value(Self::object_name(flavor))),
            restores: Some(Known::Value(before.restores().into())),
            timeouts: prior.and_then(|p| p.timeouts.clone()),
        }))
    }
}

fn aws_node_container(
    ds: &mut k8s_openapi::api::apps::v1::DaemonSet,
) -> Result<&mut k8s_openapi::api::core::v1::Container, Diagnostics> {
    ds.spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|p| p.containers.iter_mut().find(|c| c.name == "aws-node"))
        .ok_or_else(|| failed("read DaemonSet kube-system/aws-node", "it has no container named aws-node"))
}

#[tonic::async_trait]
impl Resource for MasqueradeResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_masquerade";
    type State = MasqueradeState;

    fn validate(&self, config: &MasqueradeState) -> Diagnostics {
        let mut problems = Vec::new();
        if let (Flavor::Aks | Flavor::Generic, Some(cidrs)) = (config.flavor, &config.non_masquerade_cidrs) {
            let mut parsed = Vec::new();
            for (i, c) in cidrs.iter().enumerate() {
                match c.parse::<ipnet::Ipv4Net>() {
                    Ok(net) if net.trunc() == net => parsed.push(net),
                    _ => problems.push(Diagnostic::error("Invalid CIDR", format!("non_masquerade_cidrs[{i}] = {c:?} is not an IPv4 network such as \"0.0.0.0/0\"; the agents refuse unaligned or invalid CIDRs and keep their old rules.")).at(crate::plugin::AttributePath::root().attr("non_masquerade_cidrs").index(i as i64))),
                }
            }
            if cidrs.len() > 64 {
                problems.push(invalid(
                    "non_masquerade_cidrs",
                    "Too many CIDRs",
                    format!("non_masquerade_cidrs has {} entries; the agents take at most 64.", cidrs.len()),
                ));
            }
            if problems.is_empty() && !covers_the_internet(&parsed) {
                problems.push(invalid("non_masquerade_cidrs", "Traffic to the internet would still be masqueraded", format!(
                    "non_masquerade_cidrs = {cidrs:?} leaves public destinations masqueraded, so connections reach the gateway from node IPs and label-based SmartGroups silently never match; include \"0.0.0.0/0\"."
                )));
            }
        }
        if let Some(t) = &config.timeouts {
            problems.extend(t.validate());
        }
        Diagnostics(problems)
    }

    async fn create(
        &self,
        ctx: &CallContext,
        planned: MasqueradeState,
        private: &mut Private,
    ) -> Outcome<MasqueradeState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, TIMEOUT)?;
        let kube = self.provider.kubernetes().await?;
        let checked = self.check_mode(&kube, planned.flavor, &budget).await?;
        let before = match planned.flavor {
            Flavor::Eks => self.set_external_snat(&kube, private, &budget).await?,
            _ => self.write_config_map(&kube, &planned, private, &budget).await?,
        };
        Ok(Diagnosed::new(MasqueradeState {
            id: Known::Value(planned.flavor.name().into()),
            object: Some(Known::Value(Self::object_name(planned.flavor))),
            restores: Some(Known::Value(before.restores().into())),
            ..planned
        })
        .with_all(checked.diagnostics))
    }

    async fn read(
        &self,
        ctx: &CallContext,
        current: MasqueradeState,
        private: &mut Private,
    ) -> Outcome<Option<MasqueradeState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, TIMEOUT)?;
        let kube = self.provider.kubernetes().await?;
        Ok(self.observe(&kube, current.flavor, Some(&current), private, &budget).await?.into())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _: MasqueradeState,
        planned: MasqueradeState,
        private: &mut Private,
    ) -> Outcome<MasqueradeState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, TIMEOUT)?;
        let kube = self.provider.kubernetes().await?;
        if planned.flavor != Flavor::Eks {
            self.write_config_map(&kube, &planned, private, &budget).await?;
        }
        Ok(planned.into())
    }

    async fn delete(&self, ctx: &CallContext, prior: MasqueradeState, private: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, TIMEOUT)?;
        let kube = self.provider.kubernetes().await?;
        match prior.flavor.config_map() {
            Some((name, _, _)) => {
                let Some(mut cm) = kube
                    .config_map(NAMESPACE, name, &budget)
                    .await
                    .map_err(|e| kube_failed(&format!("read ConfigMap {NAMESPACE}/{name}"), e))?
                else {
                    return Ok(().into());
                };
                let recorded = cm
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(PREVIOUS))
                    .and_then(|r| serde_json::from_str::<Before>(r).ok());
                let before = match recorded.or(private.get::<Before>()?) {
                    Some(b) => b,
                    None => return Diagnostics::from(Diagnostic::warning("Masquerade configuration left in place", format!("ConfigMap {NAMESPACE}/{name} carries no record of what it was before; it was left as it is."))).into_outcome(()),
                };
                tracing::info!(config_map = %format!("{NAMESPACE}/{name}"), restores = before.restores(), "restoring the masquerade configuration");
                match before {
                    Before::ConfigMap { data, labels, annotations } => {
                        cm.data = Some(data);
                        cm.metadata.labels = Some(labels);
                        cm.metadata.annotations = Some(annotations);
                        kube.replace_config_map(NAMESPACE, &cm, &budget)
                            .await
                            .map_err(|e| kube_failed(&format!("restore ConfigMap {NAMESPACE}/{name}"), e))?;
                    }
                    _ => kube
                        .delete_config_map(NAMESPACE, name, cm.metadata.resource_version.clone(), &budget)
                        .await
                        .map_err(|e| kube_failed(&format!("delete ConfigMap {NAMESPACE}/{name}"), e))?,
                }
            }
            None => {
                let Some(mut ds) = kube
                    .daemon_set(NAMESPACE, "aws-node", &budget)
                    .await
                    .map_err(|e| kube_failed("read DaemonSet kube-system/aws-node", e))?
                else {
                    return Ok(().into());
                };
                let recorded = ds
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(PREVIOUS))
                    .and_then(|r| serde_json::from_str::<Before>(r).ok());
                let before = recorded.or(private.get::<Before>()?).unwrap_or(Before::Absent);
                let container = aws_node_container(&mut ds)?;
                let env = container.env.get_or_insert_with(Vec::new);
                match before {
                    Before::Env { value } => {
                        if let Some(var) = env.iter_mut().find(|e| e.name == EXTERNAL_SNAT) {
                            var.value = Some(value);
                        }
                    }
                    _ => env.retain(|e| e.name != EXTERNAL_SNAT),
                }
                if let Some(a) = ds.metadata.annotations.as_mut() {
                    a.remove(PREVIOUS);
                }
                kube.replace_daemon_set(NAMESPACE, &ds, &budget)
                    .await
                    .map_err(|e| kube_failed("restore DaemonSet kube-system/aws-node", e))?;
            }
        }
        Ok(().into())
    }

    async fn import(&self, ctx: &CallContext, id: &str, private: &mut Private) -> Outcome<MasqueradeState> {
        let budget = budget(ctx, None, Operation::Read, TIMEOUT)?;
        let flavor: Flavor = serde_json::from_value(serde_json::Value::String(id.into())).map_err(|_| {
            Diagnostics::from(Diagnostic::error(
                "Cannot import the masquerade setting",
                format!("{id:?} is not a flavor; the import ID is aks, generic or eks"),
            ))
        })?;
        let kube = self.provider.kubernetes().await?;
        match self.observe(&kube, flavor, None, private, &budget).await? {
            Some(state) => Ok(state.into()),
            None => Err(Diagnostic::error("Cannot import the masquerade setting", format!("the cluster has no {flavor:?} masquerade setting written by this provider (no {PREVIOUS} record on {})", Self::object_name(flavor))).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(cidrs: &[&str]) -> Vec<ipnet::Ipv4Net> {
        cidrs.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn only_lists_that_cover_the_internet_are_accepted() {
        assert!(covers_the_internet(&nets(&["0.0.0.0/0"])));
        // The complement of link-local, as written to keep the metadata service masqueraded.
        assert!(covers_the_internet(&nets(&["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3"])));
        assert!(!covers_the_internet(&nets(&["10.0.0.0/8"])));
        assert!(!covers_the_internet(&nets(&["0.0.0.0/1"])));
    }

    #[test]
    fn the_agent_config_is_what_both_agents_read() {
        let config = AgentConfig { non_masquerade_cidrs: vec!["0.0.0.0/0".into()], masq_link_local: false };
        let text = serde_yaml::to_string(&config).unwrap();
        assert!(text.contains("nonMasqueradeCIDRs:") && text.contains("masqLinkLocal: false"), "{text}");
        let back: AgentConfig = serde_yaml::from_str("nonMasqueradeCIDRs: [\"0.0.0.0/0\"]\n").unwrap();
        assert_eq!(back, config);
        let record = serde_json::to_string(&Before::Env { value: "false".into() }).unwrap();
        assert_eq!(record, r#"{"was":"env","value":"false"}"#);
        assert_eq!(serde_json::from_str::<Before>(r#"{"was":"absent"}"#).unwrap(), Before::Absent);
    }
}
