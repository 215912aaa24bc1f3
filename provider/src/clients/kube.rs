//! Kubernetes through kube-rs: the cluster where the MCP servers run, from the provider's `kubernetes`
//! block or `KUBECONFIG`, the context named or the kubeconfig's current one, never another cluster by
//! accident: the server URL is logged once, at INFO, when the client is built.
//!
//! Owns every API call the resources make to the cluster (ConfigMaps, DaemonSets, nodes, the
//! `networking.aviatrix.com/v1alpha1` FirewallPolicy custom resources, and the Deployments, ReplicaSets and
//! Pods of a namespace; the pods, namespaces and services a verdict reads), with resourceVersion preconditions on writes so a change made by someone else in
//! between is a conflict, never overwritten. 429 and 5xx answers are retried inside the caller's budget.
//! Objects of any kind (what a helm release holds) are read and deleted by apiVersion and kind, their scope
//! found through discovery.
//!
//! FirewallPolicy is typed here ([`FirewallPolicy`]) after the k8s-firewall chart's CRD; fields this
//! provider does not model are kept (flattened) so that reading and writing back loses nothing.

use std::time::Duration;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret, Service};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch, PatchParams,
    PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::Scope;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::retry::{with_retries, Budget, Retryable};
use crate::provider::KubernetesSettings;

/// What went wrong talking to the cluster.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KubeError {
    #[error("{what} does not exist in the cluster")]
    NotFound { what: String },
    /// Someone else changed the object since it was read (HTTP 409).
    #[error("{what} was changed by someone else meanwhile ({detail}); run the apply again")]
    Conflict { what: String, detail: String },
    #[error("{call}: the API server answered {detail}; trying again may help")]
    Retryable { call: String, detail: String },
    #[error("{call} was refused by the API server: {reason}")]
    Rejected { call: String, reason: String },
    #[error(
        "cannot reach the Kubernetes API server {server}: {detail}; check kubernetes.config_path and config_context"
    )]
    Unreachable { server: String, detail: String },
    #[error("{call} did not succeed within {waited:?}: {last}")]
    TimedOut { call: String, waited: Duration, last: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{attribute}: {detail}")]
    Settings { attribute: String, detail: String },
}

impl Retryable for KubeError {
    fn retry_after(&self) -> Option<Duration> {
        matches!(self, KubeError::Retryable { .. } | KubeError::Unreachable { .. }).then_some(Duration::ZERO)
    }

    fn out_of_time(self, waited: Duration) -> KubeError {
        match &self {
            KubeError::Retryable { call, .. } => {
                KubeError::TimedOut { call: call.clone(), waited, last: self.to_string() }
            }
            KubeError::Unreachable { server, .. } => {
                KubeError::TimedOut { call: server.clone(), waited, last: self.to_string() }
            }
            _ => self,
        }
    }

    fn cancelled() -> KubeError {
        KubeError::Cancelled
    }
}

impl KubeError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, KubeError::NotFound { .. })
    }
}

/// The FirewallPolicy CRD's name, as the k8s-firewall chart installs it.
pub const FIREWALL_POLICY_CRD: &str = "firewallpolicies.networking.aviatrix.com";
const FIREWALL_POLICY_GROUP: &str = "networking.aviatrix.com";
const FIREWALL_POLICY_VERSION: &str = "v1alpha1";

/// A `networking.aviatrix.com/v1alpha1` FirewallPolicy: DCF rules for workloads of its namespace, which the
/// controller reconciles into a ruleset in the Kubernetes-managed position and reports in `status`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FirewallPolicy {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: FirewallPolicySpec,
    /// Written by the controller only (status subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FirewallPolicyStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallPolicySpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smart_groups: Vec<PolicySmartGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_groups: Vec<PolicyWebGroup>,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// An inline SmartGroup: workloads or addresses, matched by any of its selectors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicySmartGroup {
    pub name: String,
    #[serde(default)]
    pub selectors: Vec<SmartGroupSelector>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmartGroupSelector {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s_namespace: Option<String>,
    /// With `type = k8s`, Kubernetes labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// An inline WebGroup: SNI domains.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyWebGroup {
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// One rule; its source is the workloads `selector` picks in the policy's namespace (all of them without one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    pub name: String,
    /// `permit`, `deny` or `intrusion_detection_permit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `tcp`, `udp`, `icmp` or `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<RuleSelector>,
    #[serde(default)]
    pub destination_smart_groups: Vec<GroupRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_groups: Vec<GroupRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<bool>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// A group by the policy-local `name` of an inline group or the `uuid` of a controller group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl GroupRef {
    pub fn named(name: &str) -> GroupRef {
        GroupRef { name: Some(name.into()), uuid: None }
    }
}

/// What the controller reports about the policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirewallPolicyStatus {
    /// The UUID of the controller ruleset the policy became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_point: Option<String>,
    /// The `metadata.generation` the controller last turned into its ruleset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconciled_generation: Option<i64>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl FirewallPolicy {
    /// Whether the controller has reconciled the policy's current generation.
    pub fn reconciled(&self) -> bool {
        let generation = self.metadata.generation.unwrap_or(1);
        self.status.as_ref().and_then(|s| s.last_reconciled_generation) == Some(generation)
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.metadata.labels.as_ref().and_then(|l| l.get(key)).map(String::as_str)
    }
}

fn firewall_policy_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk(FIREWALL_POLICY_GROUP, FIREWALL_POLICY_VERSION, "FirewallPolicy");
    ApiResource::from_gvk_with_plural(&gvk, "firewallpolicies")
}

fn to_dynamic(policy: &FirewallPolicy) -> Result<DynamicObject, KubeError> {
    let mut value = serde_json::to_value(policy)
        .map_err(|e| KubeError::Rejected { call: "encode FirewallPolicy".into(), reason: e.to_string() })?;
    value["apiVersion"] = Value::String(format!("{FIREWALL_POLICY_GROUP}/{FIREWALL_POLICY_VERSION}"));
    value["kind"] = Value::String("FirewallPolicy".into());
    serde_json::from_value(value)
        .map_err(|e| KubeError::Rejected { call: "encode FirewallPolicy".into(), reason: e.to_string() })
}

fn from_dynamic(object: DynamicObject) -> Result<FirewallPolicy, KubeError> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let value = serde_json::to_value(object)
        .map_err(|e| KubeError::Rejected { call: "decode FirewallPolicy".into(), reason: e.to_string() })?;
    serde_json::from_value(value).map_err(|e| KubeError::Rejected {
        call: "decode FirewallPolicy".into(),
        reason: format!("FirewallPolicy {name} does not have the CRD's shape: {e}"),
    })
}

/// A client for one cluster; cheap to clone.
#[derive(Clone)]
pub struct KubeClient {
    client: kube::Client,
    server: String,
}

impl std::fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient").field("server", &self.server).finish()
    }
}

impl KubeClient {
    /// Builds a client from the kubeconfig the settings name (the first path of a `KUBECONFIG` list wins
    /// where contexts repeat, as kubectl merges them), in the named context or the current one.
    pub async fn new(settings: &KubernetesSettings) -> Result<KubeClient, KubeError> {
        let settings_error =
            |attribute: &str, detail: String| KubeError::Settings { attribute: attribute.into(), detail };
        let paths = settings.config_path.clone().ok_or_else(|| {
            settings_error(
                "kubernetes.config_path",
                "is not set; set it in the provider's kubernetes block or KUBECONFIG".into(),
            )
        })?;
        let mut merged: Option<Kubeconfig> = None;
        for path in std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()) {
            let one = Kubeconfig::read_from(&path).map_err(|e| {
                settings_error(
                    "kubernetes.config_path",
                    format!("{} cannot be read as a kubeconfig: {e}", path.display()),
                )
            })?;
            merged = Some(match merged {
                None => one,
                Some(m) => m.merge(one).map_err(|e| settings_error("kubernetes.config_path", e.to_string()))?,
            });
        }
        let kubeconfig =
            merged.ok_or_else(|| settings_error("kubernetes.config_path", format!("{paths:?} names no file")))?;
        let options = KubeConfigOptions { context: settings.context.clone(), ..Default::default() };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| {
            let attribute =
                if settings.context.is_some() { "kubernetes.config_context" } else { "kubernetes.config_path" };
            settings_error(attribute, format!("no usable cluster: {e}"))
        })?;
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config)
            .map_err(|e| KubeError::Unreachable { server: server.clone(), detail: e.to_string() })?;
        tracing::info!(server = %server, context = settings.context.as_deref().unwrap_or("(current)"), "using the Kubernetes cluster");
        Ok(KubeClient { client, server })
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn classify(&self, call: &str, what: &str, e: kube::Error) -> KubeError {
        match e {
            kube::Error::Api(status) => {
                let code = status.code;
                let reason = status.message.clone();
                match code {
                    404 => KubeError::NotFound { what: what.into() },
                    409 => KubeError::Conflict { what: what.into(), detail: reason },
                    429 | 500..=599 => {
                        KubeError::Retryable { call: call.into(), detail: format!("HTTP {code}: {reason}") }
                    }
                    _ => KubeError::Rejected { call: call.into(), reason: format!("HTTP {code}: {reason}") },
                }
            }
            kube::Error::HyperError(e) => KubeError::Unreachable { server: self.server.clone(), detail: e.to_string() },
            kube::Error::Service(e) => KubeError::Unreachable { server: self.server.clone(), detail: e.to_string() },
            other => KubeError::Rejected { call: call.into(), reason: other.to_string() },
        }
    }

    fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// A namespaced object, or `None` when there is none.
    async fn get<K>(&self, namespace: &str, name: &str, budget: &Budget) -> Result<Option<K>, KubeError>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&Default::default()).to_string();
        let (call, what) = (format!("get {kind}"), format!("{kind} {namespace}/{name}"));
        let api = self.api::<K>(namespace);
        with_retries(budget, &call, || async { api.get_opt(name).await.map_err(|e| self.classify(&call, &what, e)) })
            .await
    }

    /// Replaces a namespaced object; `object` carries the resourceVersion it was read at, so a change made in
    /// between is a conflict rather than lost.
    async fn replace<K>(&self, namespace: &str, object: &K, budget: &Budget) -> Result<K, KubeError>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&Default::default()).to_string();
        let name = object.meta().name.clone().unwrap_or_default();
        let (call, what) = (format!("replace {kind}"), format!("{kind} {namespace}/{name}"));
        let api = self.api::<K>(namespace);
        with_retries(budget, &call, || async {
            api.replace(&name, &PostParams::default(), object).await.map_err(|e| self.classify(&call, &what, e))
        })
        .await
    }

    /// The ConfigMap, or `None` when there is none.
    pub async fn config_map(
        &self,
        namespace: &str,
        name: &str,
        budget: &Budget,
    ) -> Result<Option<ConfigMap>, KubeError> {
        self.get(namespace, name, budget).await
    }

    /// Creates the ConfigMap; fails with a conflict if one appeared meanwhile.
    pub async fn create_config_map(
        &self,
        namespace: &str,
        cm: &ConfigMap,
        budget: &Budget,
    ) -> Result<ConfigMap, KubeError> {
        let api = self.api::<ConfigMap>(namespace);
        let what = format!("ConfigMap {namespace}/{}", cm.metadata.name.as_deref().unwrap_or(""));
        with_retries(budget, "create ConfigMap", || async {
            api.create(&PostParams::default(), cm).await.map_err(|e| self.classify("create ConfigMap", &what, e))
        })
        .await
    }

    /// Replaces the ConfigMap, as read (see `replace`).
    pub async fn replace_config_map(
        &self,
        namespace: &str,
        cm: &ConfigMap,
        budget: &Budget,
    ) -> Result<ConfigMap, KubeError> {
        self.replace(namespace, cm, budget).await
    }

    /// Deletes the ConfigMap if it is still at `resource_version`; one already gone is success.
    pub async fn delete_config_map(
        &self,
        namespace: &str,
        name: &str,
        resource_version: Option<String>,
        budget: &Budget,
    ) -> Result<(), KubeError> {
        let api = self.api::<ConfigMap>(namespace);
        let what = format!("ConfigMap {namespace}/{name}");
        let params = DeleteParams {
            preconditions: resource_version
                .map(|rv| kube::api::Preconditions { resource_version: Some(rv), uid: None }),
            ..Default::default()
        };
        let result = with_retries(budget, "delete ConfigMap", || async {
            api.delete(name, &params).await.map(|_| ()).map_err(|e| self.classify("delete ConfigMap", &what, e))
        })
        .await;
        match result {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// The DaemonSet, or `None` when there is none.
    pub async fn daemon_set(
        &self,
        namespace: &str,
        name: &str,
        budget: &Budget,
    ) -> Result<Option<DaemonSet>, KubeError> {
        self.get(namespace, name, budget).await
    }

    /// Replaces the DaemonSet, as read (see `replace`).
    pub async fn replace_daemon_set(
        &self,
        namespace: &str,
        ds: &DaemonSet,
        budget: &Budget,
    ) -> Result<DaemonSet, KubeError> {
        self.replace(namespace, ds, budget).await
    }

    /// Every node, for their labels.
    pub async fn nodes(&self, budget: &Budget) -> Result<Vec<Node>, KubeError> {
        let api: Api<Node> = Api::all(self.client.clone());
        with_retries(budget, "list nodes", || async {
            api.list(&ListParams::default()).await.map(|l| l.items).map_err(|e| self.classify("list nodes", "nodes", e))
        })
        .await
    }

    /// Whether the FirewallPolicy CRD is installed: the API server serves `firewallpolicies` in
    /// `networking.aviatrix.com/v1alpha1` discovery.
    pub async fn firewall_policy_crd_installed(&self, budget: &Budget) -> Result<bool, KubeError> {
        let call = "discover networking.aviatrix.com/v1alpha1";
        let version = format!("{FIREWALL_POLICY_GROUP}/{FIREWALL_POLICY_VERSION}");
        let found = with_retries(budget, call, || async {
            match self.client.list_api_group_resources(&version).await {
                Ok(list) => Ok(list.resources.iter().any(|r| r.name == "firewallpolicies")),
                Err(e) => match self.classify(call, FIREWALL_POLICY_CRD, e) {
                    KubeError::NotFound { .. } => Ok(false),
                    other => Err(other),
                },
            }
        })
        .await?;
        Ok(found)
    }

    fn firewall_policies_api(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &firewall_policy_resource())
    }

    /// The FirewallPolicy, or `None` when there is none (or no such kind: see
    /// [`KubeClient::firewall_policy_crd_installed`]).
    pub async fn firewall_policy(
        &self,
        namespace: &str,
        name: &str,
        budget: &Budget,
    ) -> Result<Option<FirewallPolicy>, KubeError> {
        let (call, what) = ("get FirewallPolicy", format!("FirewallPolicy {namespace}/{name}"));
        let api = self.firewall_policies_api(namespace);
        let found =
            with_retries(budget, call, || async { api.get_opt(name).await.map_err(|e| self.classify(call, &what, e)) })
                .await?;
        found.map(from_dynamic).transpose()
    }

    /// Every FirewallPolicy of the namespace; `NotFound` when the CRD is not installed.
    pub async fn firewall_policies(&self, namespace: &str, budget: &Budget) -> Result<Vec<FirewallPolicy>, KubeError> {
        let call = "list FirewallPolicies";
        let api = self.firewall_policies_api(namespace);
        let list = with_retries(budget, call, || async {
            api.list(&ListParams::default()).await.map_err(|e| self.classify(call, FIREWALL_POLICY_CRD, e))
        })
        .await?;
        list.items.into_iter().map(from_dynamic).collect()
    }

    /// Creates the FirewallPolicy; a conflict if one of that name appeared meanwhile.
    pub async fn create_firewall_policy(
        &self,
        namespace: &str,
        policy: &FirewallPolicy,
        budget: &Budget,
    ) -> Result<FirewallPolicy, KubeError> {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let (call, what) = ("create FirewallPolicy", format!("FirewallPolicy {namespace}/{name}"));
        let api = self.firewall_policies_api(namespace);
        let object = to_dynamic(policy)?;
        let made = with_retries(budget, call, || async {
            api.create(&PostParams::default(), &object).await.map_err(|e| self.classify(call, &what, e))
        })
        .await?;
        from_dynamic(made)
    }

    /// Replaces the FirewallPolicy at the resourceVersion it carries; a conflict if it changed since.
    pub async fn replace_firewall_policy(
        &self,
        namespace: &str,
        policy: &FirewallPolicy,
        budget: &Budget,
    ) -> Result<FirewallPolicy, KubeError> {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let (call, what) = ("replace FirewallPolicy", format!("FirewallPolicy {namespace}/{name}"));
        let api = self.firewall_policies_api(namespace);
        let object = to_dynamic(policy)?;
        let written = with_retries(budget, call, || async {
            api.replace(&name, &PostParams::default(), &object).await.map_err(|e| self.classify(call, &what, e))
        })
        .await?;
        from_dynamic(written)
    }

    /// Deletes the FirewallPolicy; one already gone is success.
    pub async fn delete_firewall_policy(&self, namespace: &str, name: &str, budget: &Budget) -> Result<(), KubeError> {
        let (call, what) = ("delete FirewallPolicy", format!("FirewallPolicy {namespace}/{name}"));
        let api = self.firewall_policies_api(namespace);
        let result = with_retries(budget, call, || async {
            api.delete(name, &DeleteParams::default()).await.map(|_| ()).map_err(|e| self.classify(call, &what, e))
        })
        .await;
        match result {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    async fn list<K>(&self, namespace: &str, params: &ListParams, budget: &Budget) -> Result<Vec<K>, KubeError>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let kind = K::kind(&Default::default()).to_string();
        let (call, what) = (format!("list {kind}s"), format!("{kind}s of namespace {namespace}"));
        let api = self.api::<K>(namespace);
        with_retries(budget, &call, || async {
            api.list(params).await.map(|l| l.items).map_err(|e| self.classify(&call, &what, e))
        })
        .await
    }

    /// The namespace's pods carrying all of `labels` (every pod when `labels` is empty).
    pub async fn pods(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        budget: &Budget,
    ) -> Result<Vec<Pod>, KubeError> {
        let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let params =
            if selector.is_empty() { ListParams::default() } else { ListParams::default().labels(&selector.join(",")) };
        self.list(namespace, &params, budget).await
    }

    /// The namespace's Deployments.
    pub async fn deployments(&self, namespace: &str, budget: &Budget) -> Result<Vec<Deployment>, KubeError> {
        self.list(namespace, &ListParams::default(), budget).await
    }

    /// The namespace's ReplicaSets, to tell which pods a Deployment runs.
    pub async fn replica_sets(&self, namespace: &str, budget: &Budget) -> Result<Vec<ReplicaSet>, KubeError> {
        self.list(namespace, &ListParams::default(), budget).await
    }

    /// The pod, or `None` when there is none.
    pub async fn pod(&self, namespace: &str, name: &str, budget: &Budget) -> Result<Option<Pod>, KubeError> {
        self.get(namespace, name, budget).await
    }

    /// Where objects of `api_version`/`kind` live; `None` when the cluster does not serve that kind.
    async fn dynamic_api(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<Option<Api<DynamicObject>>, KubeError> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        match kube::discovery::pinned_kind(&self.client, &gvk).await {
            Ok((resource, caps)) => Ok(Some(match caps.scope {
                Scope::Namespaced => Api::namespaced_with(self.client.clone(), namespace, &resource),
                Scope::Cluster => Api::all_with(self.client.clone(), &resource),
            })),
            Err(kube::Error::Discovery(_)) => Ok(None),
            Err(e) => Err(self.classify(&format!("discover {kind}"), kind, e)),
        }
    }

    /// An object of any kind as JSON (managedFields included), or `None` when there is none. `namespace`
    /// is used for namespaced kinds only.
    pub async fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        budget: &Budget,
    ) -> Result<Option<serde_json::Value>, KubeError> {
        let Some(api) = self.dynamic_api(api_version, kind, namespace).await? else { return Ok(None) };
        let (call, what) = (format!("get {kind}"), format!("{kind} {namespace}/{name}"));
        let object = with_retries(budget, &call, || async {
            api.get_opt(name).await.map_err(|e| self.classify(&call, &what, e))
        })
        .await?;
        Ok(object.map(|o| serde_json::to_value(o).unwrap_or_default()))
    }

    /// Deletes an object of any kind (background propagation, as helm does) and waits until it is gone.
    /// One already gone is success.
    pub async fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        budget: &Budget,
    ) -> Result<(), KubeError> {
        let Some(api) = self.dynamic_api(api_version, kind, namespace).await? else { return Ok(()) };
        let (call, what) = (format!("delete {kind}"), format!("{kind} {namespace}/{name}"));
        let result = with_retries(budget, &call, || async {
            api.delete(name, &DeleteParams::background()).await.map(|_| ()).map_err(|e| self.classify(&call, &what, e))
        })
        .await;
        match result {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        }
        self.wait_gone(&what, || async { api.get_opt(name).await.map(|o| o.is_some()) }, budget).await
    }

    async fn wait_gone<F, Fut>(&self, what: &str, exists: F, budget: &Budget) -> Result<(), KubeError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool, kube::Error>>,
    {
        let started = std::time::Instant::now();
        let mut last_log = started;
        loop {
            match exists().await {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    let e = self.classify(&format!("read {what}"), what, e);
                    if e.is_not_found() {
                        return Ok(());
                    }
                    if !matches!(e, KubeError::Retryable { .. } | KubeError::Unreachable { .. }) {
                        return Err(e);
                    }
                }
            }
            if last_log.elapsed() >= Duration::from_secs(5) {
                tracing::info!(object = what, waited = ?started.elapsed(), "waiting for the object to be deleted");
                last_log = std::time::Instant::now();
            }
            if !budget.sleep(Duration::from_millis(250)).await {
                return Err(if budget.cancel.is_cancelled() {
                    KubeError::Cancelled
                } else {
                    KubeError::TimedOut {
                        call: format!("delete {what}"),
                        waited: started.elapsed(),
                        last: "it still exists".into(),
                    }
                });
            }
        }
    }

    /// The namespace, or `None` when there is none.
    pub async fn namespace(&self, name: &str, budget: &Budget) -> Result<Option<Namespace>, KubeError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let what = format!("Namespace {name}");
        with_retries(budget, "get Namespace", || async {
            api.get_opt(name).await.map_err(|e| self.classify("get Namespace", &what, e))
        })
        .await
    }

    /// Deletes the namespace and waits until it has terminated; one already gone is success.
    pub async fn delete_namespace(&self, name: &str, budget: &Budget) -> Result<(), KubeError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let what = format!("Namespace {name}");
        let result = with_retries(budget, "delete Namespace", || async {
            api.delete(name, &DeleteParams::default())
                .await
                .map(|_| ())
                .map_err(|e| self.classify("delete Namespace", &what, e))
        })
        .await;
        match result {
            Err(e) if e.is_not_found() => return Ok(()),
            other => other?,
        }
        self.wait_gone(&what, || async { api.get_opt(name).await.map(|o| o.is_some()) }, budget).await
    }

    /// One annotation of a Secret; `None` when the Secret or the annotation is absent.
    pub async fn secret_annotation(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        budget: &Budget,
    ) -> Result<Option<String>, KubeError> {
        let secret: Option<Secret> = self.get(namespace, name, budget).await?;
        Ok(secret.and_then(|s| s.metadata.annotations).and_then(|mut a| a.remove(key)))
    }

    /// Sets one annotation of an existing Secret (a merge patch: nothing else changes).
    pub async fn annotate_secret(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        value: &str,
        budget: &Budget,
    ) -> Result<(), KubeError> {
        let api = self.api::<Secret>(namespace);
        let what = format!("Secret {namespace}/{name}");
        let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
        with_retries(budget, "annotate Secret", || async {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(|e| self.classify("annotate Secret", &what, e))
        })
        .await
    }

    /// Sets one annotation of a namespace (a merge patch: nothing else changes).
    pub async fn annotate_namespace(
        &self,
        name: &str,
        key: &str,
        value: &str,
        budget: &Budget,
    ) -> Result<(), KubeError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let what = format!("Namespace {name}");
        let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
        with_retries(budget, "annotate Namespace", || async {
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(|e| self.classify("annotate Namespace", &what, e))
        })
        .await
    }

    /// Every Service of the namespace, for their selectors.
    pub async fn services(&self, namespace: &str, budget: &Budget) -> Result<Vec<Service>, KubeError> {
        let api = self.api::<Service>(namespace);
        let what = format!("services in {namespace}");
        with_retries(budget, "list services", || async {
            api.list(&ListParams::default())
                .await
                .map(|l| l.items)
                .map_err(|e| self.classify("list services", &what, e))
        })
        .await
    }

    /// Every FirewallPolicy (`networking.aviatrix.com/v1alpha1`) in every namespace, with what its status
    /// says the controller made of it. None when the CRD is not installed.
    pub async fn firewall_policy_states(&self, budget: &Budget) -> Result<Vec<FirewallPolicyState>, KubeError> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &firewall_policy_resource());
        let listed = with_retries(budget, "list FirewallPolicies", || async {
            api.list(&ListParams::default())
                .await
                .map(|l| l.items)
                .map_err(|e| self.classify("list FirewallPolicies", "the FirewallPolicy resource type", e))
        })
        .await;
        let items = match listed {
            Ok(items) => items,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(items.iter().map(FirewallPolicyState::of).collect())
    }
}

/// One FirewallPolicy as far as enforcement goes: which generation of it the controller has reconciled, and
/// the ruleset it made (`.status.ruleset`, `.status.lastReconciledGeneration`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallPolicyState {
    pub namespace: String,
    pub name: String,
    pub generation: Option<i64>,
    pub last_reconciled_generation: Option<i64>,
    pub ruleset: Option<String>,
}

impl FirewallPolicyState {
    fn of(object: &DynamicObject) -> FirewallPolicyState {
        let status = object.data.get("status");
        FirewallPolicyState {
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
            generation: object.metadata.generation,
            last_reconciled_generation: status.and_then(|s| s.get("lastReconciledGeneration")).and_then(|g| g.as_i64()),
            ruleset: status
                .and_then(|s| s.get("ruleset"))
                .and_then(|r| r.as_str())
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }

    /// Whether the controller enforces this policy as it stands: it has reconciled the current generation.
    pub fn reconciled(&self) -> bool {
        self.ruleset.is_some() && self.generation.is_some() && self.last_reconciled_generation == self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(generation: Option<i64>, status: serde_json::Value) -> DynamicObject {
        let gvk = GroupVersionKind::gvk("networking.aviatrix.com", "v1alpha1", "FirewallPolicy");
        let mut object = DynamicObject::new("obot-s1-fw", &ApiResource::from_gvk(&gvk)).within("obot-mcp");
        object.metadata.generation = generation;
        object.data = serde_json::json!({ "status": status });
        object
    }

    #[test]
    fn a_firewall_policy_counts_as_enforced_only_at_its_reconciled_generation() {
        let done = FirewallPolicyState::of(&policy(
            Some(2),
            serde_json::json!({"ruleset": "r1", "lastReconciledGeneration": 2}),
        ));
        assert_eq!(
            (done.namespace.as_str(), done.name.as_str(), done.ruleset.as_deref()),
            ("obot-mcp", "obot-s1-fw", Some("r1"))
        );
        assert!(done.reconciled());
        let behind = FirewallPolicyState::of(&policy(
            Some(3),
            serde_json::json!({"ruleset": "r1", "lastReconciledGeneration": 2}),
        ));
        assert!(!behind.reconciled(), "a change the controller has not picked up yet");
        let fresh = FirewallPolicyState::of(&policy(Some(1), serde_json::Value::Null));
        assert!(!fresh.reconciled() && fresh.ruleset.is_none());
    }
}
