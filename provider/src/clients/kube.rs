//! Kubernetes through kube-rs: the cluster where the MCP servers run, from the provider's `kubernetes`
//! block or `KUBECONFIG`, the context named or the kubeconfig's current one, never another cluster by
//! accident: the server URL is logged once, at INFO, when the client is built.
//!
//! Owns every API call the resources make to the cluster (ConfigMaps, DaemonSets, nodes, pods), with
//! resourceVersion preconditions on writes so a change made by someone else in between is a conflict,
//! never overwritten. 429 and 5xx answers are retried inside the caller's budget.

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::de::DeserializeOwned;
use serde::Serialize;

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

    /// The pods of `namespace` whose labels include every pair of `labels` (all of them when empty).
    pub async fn pods(
        &self,
        namespace: &str,
        labels: &std::collections::BTreeMap<String, String>,
        budget: &Budget,
    ) -> Result<Vec<Pod>, KubeError> {
        let api = self.api::<Pod>(namespace);
        let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let params =
            if selector.is_empty() { ListParams::default() } else { ListParams::default().labels(&selector.join(",")) };
        let what = format!("pods in {namespace}");
        with_retries(budget, "list pods", || async {
            api.list(&params).await.map(|l| l.items).map_err(|e| self.classify("list pods", &what, e))
        })
        .await
    }
}
