//! `aviatrix_mcp_egress_release`: a Helm release (the k8s-firewall CRDs and RBAC, Obot with its network
//! policy controller) installed, upgraded and removed through the helm CLI ([`crate::clients::helm`]).
//!
//! Installs and upgrades are atomic and wait for the objects and hooks within the resource's timeout; a
//! failed install leaves nothing (helm uninstalls it, and the hooks it left and a namespace this resource
//! created are removed too). Values are YAML documents merged in order; `sensitive_values` is write-only and
//! reaches helm only through private 0600 files, its changes signalled by `sensitive_values_version`.
//!
//! Drift: a release that is gone plans a re-create; one that is not `deployed` (failed, stuck pending)
//! plans `status` back to `deployed`; an object of the release that was deleted, or a field of it that
//! another field manager changed (read from the live objects' managedFields), shows in `drift` naming the
//! object, the field and the manager. helm v4 applies server-side, so such a field is a conflict at
//! upgrade: `force_conflicts = true` takes it back. A release changed by a helm command outside Terraform
//! shows as a revision this resource did not make.
//!
//! What Terraform needs to import the release (chart, repository, version, values) is recorded as an
//! annotation on the release's own storage Secret, so `terraform import <namespace>/<name>` restores the
//! configuration exactly; secrets are never recorded. Destroy uninstalls, deletes the hook objects helm
//! leaves behind, and the namespace if this resource created it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;

use super::{budget, failed, invalid};
use crate::clients::helm::{objects_of, ChartSource, Deploy, HelmClient, HelmError, Release};
use crate::clients::kube::KubeClient;
use crate::clients::retry::Budget;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::{
    AttributePath, CallContext, Diagnostic, Diagnostics, Known, Outcome, Planned, Private, PrivateEntry, Resource,
    TfSchema,
};
use crate::provider::AviatrixProvider;

const TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(2 * 60);
/// The annotation on the release's storage Secret that records the Terraform-side configuration.
const RECORD: &str = "mcp-egress.aviatrix.com/terraform-release";
const DEPLOYED: &str = "deployed";
/// The annotation on a namespace this resource created, naming the release: whoever re-creates the release
/// (after it was removed behind Terraform's back, say) still owns the namespace.
const CREATED_BY: &str = "mcp-egress.aviatrix.com/created-for-release";

/// A Helm release through the helm CLI (v4, or v3 without `force_conflicts`), installed atomically and
/// waited for; destroy leaves no release, no hook leftovers and no namespace this resource created.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct ReleaseState {
    /// `<namespace>/<name>`, also the import ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// Release name (lower-case letters, digits, `-` and `.`, at most 53 characters).
    #[tf(requires_replace)]
    pub name: String,
    /// Namespace of the release.
    #[tf(requires_replace)]
    pub namespace: String,
    /// Create the namespace when it does not exist; `false` unless set. A namespace this resource created is
    /// deleted with the release.
    #[tf(optional, computed, default = false)]
    pub create_namespace: Option<bool>,
    /// The chart: its name in `repository`, an `oci://` reference, or a local path (a directory or a
    /// `.tgz`, relative to Terraform's working directory; `${path.module}/...` is safest).
    pub chart: String,
    /// URL of the chart repository (`https://...`) when `chart` is a chart name.
    #[tf(optional)]
    pub repository: Option<String>,
    /// Chart version (or constraint) for repository and OCI charts; the latest unless set.
    #[tf(optional)]
    pub version: Option<String>,
    /// Values as YAML documents, merged in order, the later winning (use `yamlencode({...})`).
    #[tf(optional)]
    pub values: Option<Vec<String>>,
    /// Secret values as YAML documents, merged after `values`. Write-only: never stored in state or plan,
    /// never on a command line; change `sensitive_values_version` to apply new ones.
    #[tf(optional, sensitive, write_only)]
    pub sensitive_values: Option<Vec<String>>,
    /// Any string; changing it applies `sensitive_values` again (Terraform's write-only convention).
    #[tf(optional)]
    pub sensitive_values_version: Option<String>,
    /// Take back fields that another field manager changed (server-side apply conflicts, helm v4);
    /// `false` unless set, so such a change stops the upgrade and is reported instead.
    #[tf(optional, computed, default = false)]
    pub force_conflicts: Option<bool>,
    /// helm's status of the release: `deployed` after every successful apply; `failed`, `pending-install`,
    /// `pending-upgrade` and the like are drift that the next apply repairs.
    #[tf(computed)]
    pub status: Option<Known<String>>,
    /// The release's revision.
    #[tf(computed)]
    pub revision: Option<Known<i64>>,
    /// Version of the deployed chart.
    #[tf(computed)]
    pub chart_version: Option<Known<String>>,
    /// App version of the deployed chart.
    #[tf(computed)]
    pub app_version: Option<Known<String>>,
    /// SHA-256 of the deployed manifest.
    #[tf(computed)]
    pub manifest_digest: Option<Known<String>>,
    /// For a local chart, SHA-256 of its files (or archive) as of the last apply; an edited chart plans an
    /// upgrade even when its version stayed the same. Null for repository and OCI charts.
    #[tf(computed)]
    pub chart_digest: Option<Known<String>>,
    /// Differences between the release and the cluster, each naming the object and what changed (a
    /// deleted object, a field another field manager took, a revision made outside Terraform); empty
    /// after every apply.
    #[tf(computed)]
    pub drift: Option<Known<Vec<String>>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

/// What the release Secret's annotation and private state remember.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Record {
    chart: String,
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(default)]
    sensitive_values_version: Option<String>,
    #[serde(default)]
    create_namespace: bool,
    #[serde(default)]
    force_conflicts: bool,
    /// This resource created the namespace, so destroy deletes it.
    #[serde(default)]
    created_namespace: bool,
    /// The revision this resource last applied.
    revision: i64,
    /// The local chart's digest at that revision.
    #[serde(default)]
    chart_digest: Option<String>,
}

impl PrivateEntry for Record {
    const KEY: &'static str = "release";
    const VERSION: u32 = 1;
}

pub struct ReleaseResource {
    pub provider: Arc<AviatrixProvider>,
}

fn source_of(state: &ReleaseState) -> ChartSource {
    ChartSource { chart: state.chart.clone(), repository: state.repository.clone(), version: state.version.clone() }
}

/// How `chart` names its chart.
#[derive(Debug, PartialEq)]
enum ChartKind {
    Repository,
    Oci,
    Local,
    /// `alias/chart`, a repository the user added with `helm repo add`.
    Alias,
}

fn chart_kind(state: &ReleaseState) -> ChartKind {
    let chart = state.chart.as_str();
    if chart.starts_with("oci://") {
        ChartKind::Oci
    } else if state.repository.is_some() {
        ChartKind::Repository
    } else if chart.starts_with('/')
        || chart.starts_with("./")
        || chart.starts_with("../")
        || chart.starts_with('~')
        || chart.ends_with(".tgz")
        || !chart.contains('/')
    {
        ChartKind::Local
    } else {
        ChartKind::Alias
    }
}

fn dns_name(value: &str, max: usize, dots: bool) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    !value.is_empty()
        && value.len() <= max
        && value.chars().all(ok_char)
        && value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && value.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Checks each document is a YAML mapping; `secret` documents are never quoted.
fn check_documents(attr: &str, docs: &[String], secret: bool) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let path = AttributePath::root().attr(attr).index(i as i64);
        let why = match serde_yaml::from_str::<serde_yaml::Value>(doc) {
            Ok(serde_yaml::Value::Mapping(_) | serde_yaml::Value::Null) => continue,
            Ok(_) => "is YAML but not a mapping of value names".to_string(),
            Err(e) => match (secret, e.location()) {
                (true, Some(at)) => format!("is not YAML (line {}, column {})", at.line(), at.column()),
                (true, None) => "is not YAML".to_string(),
                (false, _) => format!("is not YAML: {e}"),
            },
        };
        let shown = if secret { format!("{attr}[{i}]") } else { format!("{attr}[{i}] = {doc:?}") };
        problems.push(
            Diagnostic::error(
                format!("Invalid {attr}"),
                format!("{shown} {why}; use a YAML mapping such as yamlencode({{ replicaCount = 1 }})."),
            )
            .at(path),
        );
    }
    problems
}

/// Turns a step of a managedFields `fieldsV1` key into a path segment and the matching desired/live values.
fn step<'a>(key: &str, desired: &'a Value, live: &'a Value) -> Option<(String, &'a Value, &'a Value)> {
    if let Some(field) = key.strip_prefix("f:") {
        return Some((format!(".{field}"), desired.get(field)?, live.get(field).unwrap_or(&Value::Null)));
    }
    if let Some(keys) = key.strip_prefix("k:") {
        let keys: serde_json::Map<String, Value> = serde_json::from_str(keys).ok()?;
        let matches = |v: &&Value| keys.iter().all(|(k, want)| v.get(k) == Some(want));
        let d = desired.as_array()?.iter().find(matches)?;
        let l = live.as_array().and_then(|a| a.iter().find(matches)).unwrap_or(&Value::Null);
        let label: Vec<String> = keys
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or(v.to_string())))
            .collect();
        return Some((format!("[{}]", label.join(",")), d, l));
    }
    None
}

/// Scalars compare by their text, so YAML's `80` and JSON's `"80"` agree where the API server converts.
fn same(desired: &Value, live: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (desired, live) {
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => desired == live,
        _ => text(desired) == text(live),
    }
}

/// The fields of `desired` (an object of the release) that a field manager other than helm holds in `live`
/// with a different value: `(path, manager, operation)`.
fn foreign_fields(desired: &Value, live: &Value) -> Vec<(String, String, String)> {
    fn walk(fields: &Value, desired: &Value, live: &Value, path: &str, out: &mut Vec<String>) {
        let Some(map) = fields.as_object() else { return };
        for (key, sub) in map {
            if key == "." {
                continue;
            }
            let Some((segment, d, l)) = step(key, desired, live) else { continue };
            let here = format!("{path}{segment}");
            let leaf = sub.as_object().is_none_or(|m| m.keys().all(|k| k == "."));
            if leaf || !(d.is_object() || d.is_array()) {
                if !same(d, l) {
                    out.push(here);
                }
            } else {
                walk(sub, d, l, &here, out);
            }
        }
    }
    let mut found = Vec::new();
    for entry in live.pointer("/metadata/managedFields").and_then(Value::as_array).into_iter().flatten() {
        let manager = entry["manager"].as_str().unwrap_or_default();
        let subresource = entry["subresource"].as_str().unwrap_or_default();
        if manager == "helm" || !subresource.is_empty() {
            continue;
        }
        let mut paths = Vec::new();
        let mut fields = entry["fieldsV1"].clone();
        if let Some(m) = fields.as_object_mut() {
            m.remove("f:status");
        }
        walk(&fields, desired, live, "", &mut paths);
        let operation = entry["operation"].as_str().unwrap_or_default().to_string();
        found.extend(paths.into_iter().map(|p| (p, manager.to_string(), operation.clone())));
    }
    found
}

fn helm_failed(doing: &str, e: HelmError) -> Diagnostics {
    failed(doing, e)
}

impl ReleaseResource {
    /// The release as it is, and what differs from what this resource applied.
    async fn observe(
        &self,
        helm: &HelmClient,
        kube: &KubeClient,
        namespace: &str,
        name: &str,
        applied_revision: Option<i64>,
        budget: &Budget,
    ) -> Result<Option<(Release, Vec<String>)>, Diagnostics> {
        let Some(release) =
            helm.release(namespace, name, budget).await.map_err(|e| helm_failed("read the release", e))?
        else {
            return Ok(None);
        };
        let mut drift = Vec::new();
        for object in objects_of(&release.manifest) {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            let object_name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let object_ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(namespace);
            let live = kube
                .object(api_version, kind, object_ns, object_name, budget)
                .await
                .map_err(|e| failed(&format!("read {kind} {object_name} of the release"), e))?;
            let shown_ns = object
                .pointer("/metadata/namespace")
                .or_else(|| live.as_ref().and_then(|l| l.pointer("/metadata/namespace")))
                .and_then(Value::as_str);
            let shown = match shown_ns {
                Some(ns) => format!("{kind} {ns}/{object_name}"),
                None => format!("{kind} {object_name}"),
            };
            match live {
                None => drift.push(format!("{shown} was deleted")),
                Some(live) => {
                    for (path, manager, operation) in foreign_fields(&object, &live) {
                        drift.push(format!("{shown} {path} was changed by field manager {manager:?} ({operation})"));
                    }
                }
            }
        }
        if let Some(applied) = applied_revision {
            if applied != release.revision {
                drift.push(format!(
                    "the release is at revision {}, this resource last applied revision {applied} (the newer one came from helm outside Terraform or from a failed apply)",
                    release.revision
                ));
            }
        }
        Ok(Some((release, drift)))
    }

    fn fill(state: &mut ReleaseState, release: &Release, drift: Vec<String>) {
        state.id = Known::Value(format!("{}/{}", state.namespace, state.name));
        state.status = Some(Known::Value(release.status.clone()));
        state.revision = Some(Known::Value(release.revision));
        state.chart_version = Some(Known::Value(release.chart_version.clone()));
        state.app_version = Some(Known::Value(release.app_version.clone()));
        state.manifest_digest = Some(Known::Value(hex::encode(sha2::Sha256::digest(release.manifest.as_bytes()))));
        state.drift = Some(Known::Value(drift));
    }

    /// The record of the release: the newest one on its storage Secrets, from `revision` down.
    async fn recorded(
        &self,
        kube: &KubeClient,
        namespace: &str,
        name: &str,
        revision: i64,
        budget: &Budget,
    ) -> Result<Option<Record>, Diagnostics> {
        for r in (1..=revision).rev().take(20) {
            let secret = format!("sh.helm.release.v1.{name}.v{r}");
            let found = kube
                .secret_annotation(namespace, &secret, RECORD, budget)
                .await
                .map_err(|e| failed("read the release's record", e))?;
            if let Some(text) = found {
                return Ok(serde_json::from_str(&text).ok());
            }
        }
        Ok(None)
    }

    async fn write_record(
        &self,
        kube: &KubeClient,
        planned: &ReleaseState,
        record: &Record,
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        let secret = format!("sh.helm.release.v1.{}.v{}", planned.name, record.revision);
        let text = serde_json::to_string(record).expect("records encode");
        kube.annotate_secret(&planned.namespace, &secret, RECORD, &text, budget)
            .await
            .map_err(|e| failed("record the release's configuration on its storage Secret", e))
    }

    /// Deletes the hook objects helm leaves behind, as given by their manifests, if they are still there
    /// and still hooks.
    async fn remove_hooks(
        &self,
        kube: &KubeClient,
        namespace: &str,
        manifests: &[String],
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        for object in manifests.iter().flat_map(|m| objects_of(m)) {
            if object.pointer("/metadata/annotations/helm.sh~1hook").is_none() {
                continue;
            }
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(namespace);
            let live = kube
                .object(api_version, kind, ns, name, budget)
                .await
                .map_err(|e| failed(&format!("read hook {kind} {name}"), e))?;
            if live.is_some_and(|l| l.pointer("/metadata/annotations/helm.sh~1hook").is_some()) {
                tracing::info!(hook = %format!("{kind} {ns}/{name}"), "deleting a hook object the release left behind");
                kube.delete_object(api_version, kind, ns, name, budget)
                    .await
                    .map_err(|e| failed(&format!("delete hook {kind} {ns}/{name}"), e))?;
            }
        }
        Ok(())
    }

    /// Uninstalls the release with its hook leftovers.
    async fn uninstall(
        &self,
        helm: &HelmClient,
        kube: &KubeClient,
        namespace: &str,
        name: &str,
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        let release = helm.release(namespace, name, budget).await.map_err(|e| helm_failed("read the release", e))?;
        let Some(release) = release else { return Ok(()) };
        tracing::info!(release = %format!("{namespace}/{name}"), status = %release.status, "uninstalling the release");
        helm.uninstall(namespace, name, helm_timeout(budget), budget)
            .await
            .map_err(|e| helm_failed("uninstall the release", e))?;
        self.remove_hooks(kube, namespace, &release.hooks, budget).await
    }

    /// Installs or upgrades to `planned`, recovering a release left failed or pending by an earlier,
    /// interrupted run; returns the release as deployed and the record to keep.
    async fn deploy(
        &self,
        planned: &ReleaseState,
        private: &mut Private,
        budget: &Budget,
        creating: bool,
    ) -> Result<(Release, Record), Diagnostics> {
        let helm = self.provider.helm().await?;
        let kube = self.provider.kubernetes().await?;
        let (ns, name) = (planned.namespace.as_str(), planned.name.as_str());
        let prior_record = private.get::<Record>()?;
        let mut existing = helm.release(ns, name, budget).await.map_err(|e| helm_failed("read the release", e))?;
        if creating {
            if let Some(r) = &existing {
                let ours = self.recorded(&kube, ns, name, r.revision, budget).await?.is_some();
                if r.status == DEPLOYED && !ours {
                    return Err(invalid("name", "The release already exists", format!(
                        "release {ns}/{name} exists (revision {}, chart {}) and was not made by this provider; import it with `terraform import <address> {ns}/{name}` or choose another name.",
                        r.revision, r.chart
                    )).into());
                }
            }
        }
        // A release that never deployed (an interrupted or failed install) is removed and installed anew;
        // one stuck in an upgrade or rollback is rolled back to its last deployed revision first.
        if let Some(r) = existing.as_ref().filter(|r| r.status != DEPLOYED) {
            let history =
                helm.history(ns, name, budget).await.map_err(|e| helm_failed("read the release's history", e))?;
            let last_good = history
                .iter()
                .filter(|(rev, status)| *rev < r.revision && (status == DEPLOYED || status == "superseded"))
                .map(|(rev, _)| *rev)
                .max();
            let release = format!("{ns}/{name}");
            match (r.status.as_str(), last_good) {
                ("pending-upgrade" | "pending-rollback", Some(rev)) => {
                    tracing::info!(release = %release, status = %r.status, revision = rev, "the release is stuck; rolling back to its last deployed revision");
                    helm.rollback(ns, name, rev, helm_timeout(budget), budget)
                        .await
                        .map_err(|e| helm_failed("roll the stuck release back", e))?;
                }
                // A failed upgrade of a release that deployed before: the upgrade below repairs it.
                ("failed", Some(_)) => {}
                _ => {
                    tracing::info!(release = %release, status = %r.status, "the release never deployed; removing it to install again");
                    self.uninstall(&helm, &kube, ns, name, budget).await?;
                    existing = None;
                }
            }
        }
        let sensitive = planned.sensitive_values.clone().unwrap_or_default();
        let values = planned.values.clone().unwrap_or_default();
        let source = source_of(planned);
        let deploy = Deploy {
            name,
            namespace: ns,
            source: &source,
            create_namespace: planned.create_namespace.unwrap_or(false),
            values: &values,
            sensitive_values: &sensitive,
            force_conflicts: planned.force_conflicts.unwrap_or(false),
            timeout: helm_timeout(budget),
        };
        let mut created_namespace = prior_record.as_ref().is_some_and(|r| r.created_namespace);
        let result = match &existing {
            None => {
                let namespace = kube.namespace(ns, budget).await.map_err(|e| failed("read the namespace", e))?;
                match namespace {
                    None if deploy.create_namespace => created_namespace = true,
                    Some(n)
                        if n.metadata.annotations.as_ref().and_then(|a| a.get(CREATED_BY)).map(String::as_str)
                            == Some(name) =>
                    {
                        created_namespace = true
                    }
                    _ => {}
                }
                tracing::info!(release = %format!("{ns}/{name}"), chart = %source.chart, "installing the release");
                helm.install(&deploy, budget).await
            }
            Some(_) => {
                tracing::info!(release = %format!("{ns}/{name}"), chart = %source.chart, "upgrading the release");
                helm.upgrade(&deploy, budget).await
            }
        };
        if let Err(e) = result {
            if existing.is_none() {
                self.clean_failed_install(&helm, &kube, &deploy, created_namespace, budget).await;
            }
            let doing = if existing.is_none() { "install the release" } else { "upgrade the release" };
            let mut diag = Diagnostic::error(format!("Failed to {doing}"), e.to_string());
            if matches!(e, HelmError::Conflict { .. }) {
                diag = diag.at(AttributePath::root().attr("force_conflicts"));
            }
            return Err(diag.into());
        }
        if created_namespace {
            kube.annotate_namespace(ns, CREATED_BY, name, budget)
                .await
                .map_err(|e| failed("mark the namespace as created for the release", e))?;
        }
        let release = helm
            .release(ns, name, budget)
            .await
            .map_err(|e| helm_failed("read the release", e))?
            .ok_or_else(|| failed("read the release", "helm reported success but the release does not exist"))?;
        let record = Record {
            chart: planned.chart.clone(),
            repository: planned.repository.clone(),
            version: planned.version.clone(),
            values: planned.values.clone(),
            sensitive_values_version: planned.sensitive_values_version.clone(),
            create_namespace: deploy.create_namespace,
            force_conflicts: deploy.force_conflicts,
            created_namespace,
            revision: release.revision,
            chart_digest: planned.chart_digest.as_ref().and_then(Known::value).cloned(),
        };
        private.set(&record)?;
        self.write_record(&kube, planned, &record, budget).await?;
        Ok((release, record))
    }

    /// After a failed install (which helm already uninstalled): its hooks and the namespace it created go.
    async fn clean_failed_install(
        &self,
        helm: &HelmClient,
        kube: &KubeClient,
        deploy: &Deploy<'_>,
        created_namespace: bool,
        budget: &Budget,
    ) {
        let cleanup =
            Budget::new(Duration::from_secs(120).min(budget.remaining() + Duration::from_secs(60)), Default::default());
        if let Err(e) = self.uninstall(helm, kube, deploy.namespace, deploy.name, &cleanup).await {
            tracing::warn!(error = ?e, "could not uninstall the failed release");
        }
        match helm.template(deploy, &cleanup).await {
            Ok(rendered) => {
                if let Err(e) = self.remove_hooks(kube, deploy.namespace, &[rendered], &cleanup).await {
                    tracing::warn!(error = ?e, "could not remove the failed release's hooks");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not render the chart to find its hooks"),
        }
        if created_namespace {
            tracing::info!(namespace = deploy.namespace, "deleting the namespace the failed install created");
            if let Err(e) = kube.delete_namespace(deploy.namespace, &cleanup).await {
                tracing::warn!(error = %e, "could not delete the namespace");
            }
        }
    }
}

/// helm's own `--timeout`: what is left of the budget, less a margin to read the result back.
fn helm_timeout(budget: &Budget) -> Duration {
    budget.remaining().saturating_sub(Duration::from_secs(10)).max(Duration::from_secs(5))
}

/// Whether anything that helm deploys differs between two states.
fn deploys_differently(a: &ReleaseState, b: &ReleaseState) -> bool {
    a.chart != b.chart
        || a.repository != b.repository
        || a.version != b.version
        || a.values != b.values
        || a.sensitive_values_version != b.sensitive_values_version
        || a.chart_digest != b.chart_digest
}

/// SHA-256 over a local chart: an archive's bytes, or each file's relative path and content in path order.
fn local_chart_digest(path: &Path) -> std::io::Result<String> {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                files(&path, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut hasher = sha2::Sha256::new();
    if path.is_dir() {
        let mut all = Vec::new();
        files(path, &mut all)?;
        all.sort();
        for file in all {
            let relative = file.strip_prefix(path).unwrap_or(&file);
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(std::fs::read(&file)?);
            hasher.update([0]);
        }
    } else {
        hasher.update(std::fs::read(path)?);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[tonic::async_trait]
impl Resource for ReleaseResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_release";
    type State = ReleaseState;

    fn validate(&self, config: &ReleaseState) -> Diagnostics {
        let mut problems = Vec::new();
        if !config.name.is_empty() && !dns_name(&config.name, 53, true) {
            problems.push(invalid("name", "Invalid release name", format!(
                "name = {:?}: helm release names are lower-case letters, digits, '-' and '.', start and end with a letter or digit, and are at most 53 characters.",
                config.name
            )));
        }
        if !config.namespace.is_empty() && !dns_name(&config.namespace, 63, false) {
            problems.push(invalid("namespace", "Invalid namespace", format!(
                "namespace = {:?}: a namespace is a DNS label: lower-case letters, digits and '-', at most 63 characters.",
                config.namespace
            )));
        }
        if let Some(repo) = &config.repository {
            if !(repo.starts_with("https://") || repo.starts_with("http://")) {
                problems.push(invalid("repository", "Invalid repository", format!(
                    "repository = {repo:?} is not an http(s) URL; use the chart repository's URL such as \"https://charts.example.com\", or put an OCI reference in chart as \"oci://registry/path/chart\"."
                )));
            }
            if config.chart.contains('/') {
                problems.push(invalid(
                    "chart",
                    "Invalid chart",
                    format!(
                        "chart = {:?} with a repository must be the chart's name in that repository, such as \"obot\".",
                        config.chart
                    ),
                ));
            }
        }
        if !config.chart.is_empty() {
            match chart_kind(config) {
                ChartKind::Local if config.version.is_some() => problems.push(invalid("version", "Version of a local chart", format!(
                    "version = {:?} applies to repository and OCI charts; the version of the local chart {:?} is the one in its Chart.yaml. Remove version.",
                    config.version.as_deref().unwrap_or_default(), config.chart
                ))),
                ChartKind::Alias => problems.push(invalid("chart", "Chart from a local repository alias", format!(
                    "chart = {:?} names a chart through a repository alias of `helm repo add`, which the provider does not read (helm runs with a private configuration); set repository to the repository's URL and chart to the chart's name, use an oci:// reference, or a path such as \"./charts/obot\".",
                    config.chart
                ))),
                _ => {}
            }
        }
        problems.extend(check_documents("values", config.values.as_deref().unwrap_or_default(), false));
        problems.extend(check_documents(
            "sensitive_values",
            config.sensitive_values.as_deref().unwrap_or_default(),
            true,
        ));
        if let Some(t) = &config.timeouts {
            problems.extend(t.validate());
        }
        Diagnostics(problems)
    }

    async fn plan(
        &self,
        _ctx: &CallContext,
        prior: Option<&ReleaseState>,
        mut proposed: ReleaseState,
        _private: &mut Private,
    ) -> Outcome<Planned<ReleaseState>> {
        let mut warnings = Diagnostics::default();
        proposed.chart_digest = None;
        if chart_kind(&proposed) == ChartKind::Local && !proposed.chart.is_empty() {
            let path = Path::new(&proposed.chart);
            if path.exists() {
                let digest = local_chart_digest(path).map_err(|e| {
                    Diagnostics::from(invalid(
                        "chart",
                        "Unreadable chart",
                        format!("chart = {:?} cannot be read: {e}", proposed.chart),
                    ))
                })?;
                proposed.chart_digest = Some(Known::Value(digest));
            } else {
                let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
                return Err(invalid("chart", "No such chart", format!(
                    "chart = {:?}: there is no chart directory or archive at that path (relative to {cwd}); use a path such as \"${{path.module}}/charts/obot\", or set repository for a chart in a repository.",
                    proposed.chart
                )).into());
            }
        }
        proposed.id = Known::Value(format!("{}/{}", proposed.namespace, proposed.name));
        let unknown = |s: &mut ReleaseState| {
            s.revision = Some(Known::Unknown);
            s.chart_version = Some(Known::Unknown);
            s.app_version = Some(Known::Unknown);
            s.manifest_digest = Some(Known::Unknown);
        };
        match prior {
            None => unknown(&mut proposed),
            Some(prior) => {
                let drifted = prior.drift.as_ref().and_then(Known::value).is_some_and(|d| !d.is_empty());
                let unhealthy = prior.status.as_ref().and_then(Known::value).is_some_and(|s| s != DEPLOYED);
                if deploys_differently(prior, &proposed) || drifted || unhealthy {
                    unknown(&mut proposed);
                } else {
                    proposed.revision = prior.revision.clone();
                    proposed.chart_version = prior.chart_version.clone();
                    proposed.app_version = prior.app_version.clone();
                    proposed.manifest_digest = prior.manifest_digest.clone();
                }
                if drifted && !proposed.force_conflicts.unwrap_or(false) {
                    let fields = prior.drift.as_ref().and_then(Known::value).cloned().unwrap_or_default();
                    if fields.iter().any(|d| d.contains("changed by field manager")) {
                        warnings.push(Diagnostic::warning(
                            "Fields of the release were changed by another field manager",
                            format!(
                                "{}. helm applies server-side, so the upgrade will stop on these conflicts; set force_conflicts = true to take the fields back.",
                                fields.join("; ")
                            ),
                        ).at(AttributePath::root().attr("force_conflicts")));
                    }
                }
            }
        }
        proposed.status = Some(Known::Value(DEPLOYED.into()));
        proposed.drift = Some(Known::Value(Vec::new()));
        warnings.into_outcome(Planned::new(proposed))
    }

    async fn create(&self, ctx: &CallContext, planned: ReleaseState, private: &mut Private) -> Outcome<ReleaseState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, TIMEOUT)?;
        let (release, _) = self.deploy(&planned, private, &budget, true).await?;
        let mut state = planned;
        Self::fill(&mut state, &release, Vec::new());
        Ok(state.into())
    }

    async fn read(
        &self,
        ctx: &CallContext,
        current: ReleaseState,
        private: &mut Private,
    ) -> Outcome<Option<ReleaseState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
        let helm = self.provider.helm().await?;
        let kube = self.provider.kubernetes().await?;
        let applied = private.get::<Record>()?.map(|r| r.revision);
        let observed = self.observe(&helm, &kube, &current.namespace, &current.name, applied, &budget).await?;
        Ok(observed
            .map(|(release, drift)| {
                let mut state = current;
                Self::fill(&mut state, &release, drift);
                state
            })
            .into())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        prior: ReleaseState,
        planned: ReleaseState,
        private: &mut Private,
    ) -> Outcome<ReleaseState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, TIMEOUT)?;
        let drifted = prior.drift.as_ref().and_then(Known::value).is_some_and(|d| !d.is_empty());
        let unhealthy = prior.status.as_ref().and_then(Known::value).is_some_and(|s| s != DEPLOYED);
        let mut state = planned.clone();
        if deploys_differently(&prior, &planned) || drifted || unhealthy {
            let (release, _) = self.deploy(&planned, private, &budget, false).await?;
            Self::fill(&mut state, &release, Vec::new());
        } else {
            // Only how later runs behave changed (force_conflicts, create_namespace, timeouts): nothing to deploy.
            if let Some(mut record) = private.get::<Record>()? {
                record.force_conflicts = planned.force_conflicts.unwrap_or(false);
                record.create_namespace = planned.create_namespace.unwrap_or(false);
                private.set(&record)?;
                let kube = self.provider.kubernetes().await?;
                self.write_record(&kube, &planned, &record, &budget).await?;
            }
            state.status = prior.status.clone();
            state.drift = prior.drift.clone();
        }
        Ok(state.into())
    }

    async fn delete(&self, ctx: &CallContext, prior: ReleaseState, private: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, TIMEOUT)?;
        let helm = self.provider.helm().await?;
        let kube = self.provider.kubernetes().await?;
        let mut record = private.get::<Record>()?;
        if let Some(release) = helm
            .release(&prior.namespace, &prior.name, &budget)
            .await
            .map_err(|e| helm_failed("read the release", e))?
        {
            if let Some(found) = self.recorded(&kube, &prior.namespace, &prior.name, release.revision, &budget).await? {
                record = Some(Record {
                    created_namespace: found.created_namespace || record.as_ref().is_some_and(|r| r.created_namespace),
                    ..found
                });
            }
        }
        self.uninstall(&helm, &kube, &prior.namespace, &prior.name, &budget).await?;
        let marked = kube
            .namespace(&prior.namespace, &budget)
            .await
            .map_err(|e| failed("read the namespace", e))?
            .and_then(|n| n.metadata.annotations)
            .is_some_and(|a| a.get(CREATED_BY) == Some(&prior.name));
        if marked || record.is_some_and(|r| r.created_namespace) {
            tracing::info!(namespace = %prior.namespace, "deleting the namespace the release created");
            kube.delete_namespace(&prior.namespace, &budget)
                .await
                .map_err(|e| failed(&format!("delete namespace {}", prior.namespace), e))?;
        }
        Ok(().into())
    }

    async fn import(&self, ctx: &CallContext, id: &str, private: &mut Private) -> Outcome<ReleaseState> {
        let budget = budget(ctx, None, Operation::Read, READ_TIMEOUT)?;
        let Some((namespace, name)) = id.split_once('/').filter(|(ns, n)| !ns.is_empty() && !n.is_empty()) else {
            return Err(Diagnostic::error(
                "Cannot import the release",
                format!("{id:?} is not an import ID; use <namespace>/<name>, such as \"obot/obot\"."),
            )
            .into());
        };
        let helm = self.provider.helm().await?;
        let kube = self.provider.kubernetes().await?;
        let Some(release) =
            helm.release(namespace, name, &budget).await.map_err(|e| helm_failed("read the release", e))?
        else {
            return Err(Diagnostic::error(
                "Cannot import the release",
                format!("there is no helm release {name} in namespace {namespace}"),
            )
            .into());
        };
        let record = self.recorded(&kube, namespace, name, release.revision, &budget).await?.unwrap_or(Record {
            chart: release.chart.clone(),
            revision: release.revision,
            ..Default::default()
        });
        private.set(&record)?;
        let (release, drift) = self
            .observe(&helm, &kube, namespace, name, Some(record.revision), &budget)
            .await?
            .ok_or_else(|| failed("read the release", "it disappeared during the import"))?;
        let mut state = ReleaseState {
            id: Known::Unknown,
            name: name.into(),
            namespace: namespace.into(),
            create_namespace: Some(record.create_namespace),
            chart: record.chart.clone(),
            repository: record.repository.clone(),
            version: record.version.clone(),
            values: record.values.clone(),
            sensitive_values: None,
            sensitive_values_version: record.sensitive_values_version.clone(),
            force_conflicts: Some(record.force_conflicts),
            status: None,
            revision: None,
            chart_version: None,
            app_version: None,
            manifest_digest: None,
            chart_digest: record.chart_digest.clone().map(Known::Value),
            drift: None,
            timeouts: None,
        };
        Self::fill(&mut state, &release, drift);
        Ok(state.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_another_manager_changed_is_found_with_its_manager() {
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"greeting": "hello", "other": "x"}});
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s", "managedFields": [
            {"manager": "helm", "operation": "Apply", "fieldsV1": {"f:data": {"f:other": {}}}},
            {"manager": "kubectl-patch", "operation": "Update", "fieldsV1": {"f:data": {"f:greeting": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "fieldsV1": {"f:status": {}}}
        ]}, "data": {"greeting": "edited", "other": "x"}});
        assert_eq!(
            foreign_fields(&desired, &live),
            [(".data.greeting".to_string(), "kubectl-patch".to_string(), "Update".to_string())]
        );
        // A co-owner that applied the same value is no conflict.
        let agreed = json!({"metadata": {"managedFields": [
            {"manager": "other", "operation": "Apply", "fieldsV1": {"f:data": {"f:greeting": {}}}}
        ]}, "data": {"greeting": "hello"}});
        assert!(foreign_fields(&desired, &agreed).is_empty());
    }

    #[test]
    fn list_items_are_matched_by_their_keys() {
        let desired = json!({"spec": {"template": {"spec": {"containers": [{"name": "obot", "image": "a:1"}]}}}});
        let live = json!({"metadata": {"managedFields": [
            {"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"obot\"}": {".": {}, "f:image": {}}}}}}}}
        ]}, "spec": {"template": {"spec": {"containers": [{"name": "obot", "image": "b:2"}]}}}});
        let found = foreign_fields(&desired, &live);
        assert_eq!(found[0].0, ".spec.template.spec.containers[name=obot].image");
    }

    #[test]
    fn documents_and_names_are_checked_without_quoting_secrets() {
        let bad = check_documents("sensitive_values", &["a: [unclosed\nsecret-value".to_string()], true);
        assert_eq!(bad.len(), 1);
        assert!(!bad[0].detail.contains("secret-value"), "{}", bad[0].detail);
        assert!(bad[0].detail.starts_with("sensitive_values[0] is not YAML"), "{}", bad[0].detail);
        let list = check_documents("values", &["- 1\n".to_string()], false);
        assert!(list[0].detail.contains("not a mapping"), "{}", list[0].detail);
        assert!(check_documents("values", &["a: 1\n".to_string(), String::new()], false).is_empty());
        assert!(dns_name("obot", 53, true) && dns_name("k8s-firewall.v2", 53, true));
        assert!(!dns_name("Obot", 53, true) && !dns_name("-x", 53, true) && !dns_name("a.b", 63, false));
    }
}
