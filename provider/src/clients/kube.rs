//! Kubernetes through kube-rs: the cluster where the MCP servers run, from the provider's `kubernetes`
//! block or `KUBECONFIG`, the context named or the kubeconfig's current one, never another cluster by
//! accident: the server URL is logged once, at INFO, when the client is built.
//!
//! Owns every API call the resources make to the cluster (ConfigMaps, DaemonSets, nodes), with
//! resourceVersion preconditions on writes so a change made by someone else in between is a conflict,
//! never overwritten. 429 and 5xx answers are retried inside the caller's budget. Objects of any kind (what a
//! helm release holds) are read and deleted by apiVersion and kind, their scope found through discovery.

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Secret};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::Scope;
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
}
