//! The helm CLI, run through `tokio::process`: the only place that builds a helm command line.
//!
//! The binary comes from the provider's `helm { binary }`, `HELM_BINARY`, or `helm` on PATH; its major
//! version (`helm version --template '{{.Version}}'`) picks the flags: helm v4 applies server-side and
//! names its atomic install `--rollback-on-failure`, helm v3 calls it `--atomic` and has no server-side
//! conflicts to force. Every command names the provider's kubeconfig and context explicitly: the child's
//! `KUBECONFIG` and `HELM_*` variables are removed, and helm's configuration, cache and data directories
//! point at a private temporary directory (or at the repository files the provider block names), so the
//! user's ambient cluster and repositories are never used by accident.
//!
//! Values always travel in files (mode 0600, in a private directory removed when the call ends), never on
//! the command line; helm's stderr is returned with every sensitive string replaced.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::retry::Budget;
use crate::provider::{HelmSettings, KubernetesSettings};

/// What went wrong running helm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HelmError {
    /// No helm binary where the settings say, or on PATH.
    #[error("{0}")]
    BinaryNotFound(String),
    /// The release does not exist.
    #[error("release {release} does not exist")]
    NotFound { release: String },
    /// Server-side apply found fields owned by another field manager.
    #[error("{command} hit fields another field manager owns: {stderr}; set force_conflicts = true to take them back")]
    Conflict { command: String, stderr: String },
    /// Another helm operation holds the release (pending-install, pending-upgrade, pending-rollback).
    #[error("{command}: another operation is in progress on the release: {stderr}")]
    InProgress { command: String, stderr: String },
    /// helm failed; its stderr, with secrets removed.
    #[error("{command} failed: {stderr}")]
    Failed { command: String, stderr: String },
    /// helm did not finish within the budget and was stopped.
    #[error("{command} did not finish within {waited:?} and was stopped")]
    TimedOut { command: String, waited: Duration },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Settings(String),
    #[error("{what}: {detail}")]
    Io { what: String, detail: String },
}

impl HelmError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, HelmError::NotFound { .. })
    }
}

/// Which helm: v4 applies server-side; v3 merges client-side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    V3,
    V4,
}

/// A release as helm reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    /// `deployed`, `failed`, `pending-install`, `pending-upgrade`, `pending-rollback`, `superseded`, ...
    pub status: String,
    pub revision: i64,
    pub chart: String,
    pub chart_version: String,
    pub app_version: String,
    /// The rendered manifest of the release's objects (hooks excluded).
    pub manifest: String,
    /// The manifests of the release's hooks.
    pub hooks: Vec<String>,
}

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSource {
    /// A chart name in `repository`, an `oci://` reference, or a local path.
    pub chart: String,
    pub repository: Option<String>,
    pub version: Option<String>,
}

/// An install or upgrade.
#[derive(Debug, Clone)]
pub struct Deploy<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub source: &'a ChartSource,
    pub create_namespace: bool,
    /// YAML documents merged in order, the later winning.
    pub values: &'a [String],
    /// Like `values`, after them; never logged, never shown in errors.
    pub sensitive_values: &'a [String],
    pub force_conflicts: bool,
    /// How long helm may wait for the objects and hooks.
    pub timeout: Duration,
}

/// The helm CLI for one cluster; cheap to clone.
#[derive(Clone)]
pub struct HelmClient {
    binary: PathBuf,
    major: Major,
    version: String,
    kubeconfig: String,
    context: Option<String>,
    repository_config: Option<String>,
    repository_cache: Option<String>,
    /// helm's private configuration, cache and data directories.
    home: Arc<tempfile::TempDir>,
}

impl std::fmt::Debug for HelmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelmClient").field("binary", &self.binary).field("version", &self.version).finish()
    }
}

/// Finds the binary: a configured path or name, else `helm` on PATH.
fn locate(settings: &HelmSettings, path_var: Option<&std::ffi::OsStr>) -> Result<PathBuf, HelmError> {
    let on_path = |name: &str| -> Option<PathBuf> {
        std::env::split_paths(path_var?).map(|d| d.join(name)).find(|p| is_executable(p))
    };
    match &settings.binary {
        Some(configured) => {
            let path = Path::new(configured);
            let found = if path.components().count() > 1 {
                is_executable(path).then(|| path.to_path_buf())
            } else {
                on_path(configured)
            };
            found.ok_or_else(|| {
                HelmError::BinaryNotFound(format!(
                    "helm binary {configured:?} (from {}) is not an executable file; set helm.binary in the provider block or HELM_BINARY to the helm executable, or unset both to use helm on PATH",
                    settings.binary_from
                ))
            })
        }
        None => on_path("helm").ok_or_else(|| {
            HelmError::BinaryNotFound(
                "no helm binary: helm.binary is not set in the provider block, HELM_BINARY is not set, and there is no helm on PATH; install helm v4 (or v3) or point one of them at it".into(),
            )
        }),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The major version from `helm version`'s `v4.1.4` or `v3.17.0`.
fn parse_major(version: &str) -> Option<Major> {
    match version.trim().trim_start_matches('v').split('.').next()? {
        "4" => Some(Major::V4),
        "3" => Some(Major::V3),
        _ => None,
    }
}

/// Every string in the YAML documents, for removal from helm's messages.
fn secret_strings(documents: &[String]) -> Vec<String> {
    fn walk(v: &serde_yaml::Value, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::String(s) if s.len() >= 3 => out.push(s.clone()),
            serde_yaml::Value::Number(n) if n.to_string().len() >= 4 => out.push(n.to_string()),
            serde_yaml::Value::Sequence(items) => items.iter().for_each(|i| walk(i, out)),
            serde_yaml::Value::Mapping(m) => m.values().for_each(|i| walk(i, out)),
            serde_yaml::Value::Tagged(t) => walk(&t.value, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for doc in documents {
        match serde_yaml::from_str::<serde_yaml::Value>(doc) {
            Ok(v) => walk(&v, &mut out),
            // Not YAML: every line of it is taken as secret.
            Err(_) => out.extend(doc.lines().map(str::trim).filter(|l| l.len() >= 3).map(str::to_string)),
        }
    }
    // Longest first, so a secret containing another is removed whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// `text` with every secret replaced.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_string();
    for s in secrets {
        if !s.is_empty() {
            text = text.replace(s.as_str(), "(sensitive value)");
        }
    }
    text
}

/// A YAML document as the list of its objects' kinds and names, with the namespace each is in (empty for
/// cluster-scoped ones and those that name none).
pub fn objects_of(manifest: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(manifest)
        .filter_map(|doc| Value::deserialize(doc).ok())
        .filter(|v| v.get("kind").is_some() && v.pointer("/metadata/name").is_some())
        .collect()
}

#[derive(Deserialize)]
struct StatusJson {
    name: String,
    namespace: String,
    version: i64,
    info: StatusInfo,
    #[serde(default)]
    manifest: String,
    #[serde(default)]
    hooks: Vec<HookJson>,
    #[serde(default)]
    chart: Option<ChartJson>,
}

#[derive(Deserialize)]
struct StatusInfo {
    status: String,
}

#[derive(Deserialize)]
struct HookJson {
    #[serde(default)]
    manifest: String,
}

#[derive(Deserialize)]
struct ChartJson {
    metadata: ChartMetadata,
}

#[derive(Deserialize)]
struct ChartMetadata {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default, rename = "appVersion")]
    app_version: String,
}

#[derive(Deserialize)]
struct MetadataJson {
    chart: String,
    version: String,
    #[serde(default, rename = "appVersion")]
    app_version: String,
}

impl HelmClient {
    /// Finds and identifies the binary. `kubernetes.config_path` must be set: helm never falls back to
    /// `~/.kube/config`.
    pub async fn new(settings: &HelmSettings, kube: &KubernetesSettings) -> Result<HelmClient, HelmError> {
        let path_var = std::env::var_os("PATH");
        let binary = locate(settings, path_var.as_deref())?;
        let kubeconfig = kube.config_path.clone().filter(|p| !p.is_empty()).ok_or_else(|| {
            HelmError::Settings(
                "kubernetes.config_path is not set; set it in the provider's kubernetes block or KUBECONFIG (helm is never pointed at ~/.kube/config by default)".into(),
            )
        })?;
        let home = tempfile::Builder::new()
            .prefix("mcp-egress-helm-")
            .tempdir()
            .map_err(|e| HelmError::Io { what: "create helm's private directory".into(), detail: e.to_string() })?;
        let mut client = HelmClient {
            binary,
            major: Major::V4,
            version: String::new(),
            kubeconfig,
            context: kube.context.clone(),
            repository_config: settings.repository_config.clone(),
            repository_cache: settings.repository_cache.clone(),
            home: Arc::new(home),
        };
        let budget = Budget::new(Duration::from_secs(30), Default::default());
        let out = client.run("helm version", &["version", "--template", "{{.Version}}"], &[], &budget).await?;
        client.version = out.trim().to_string();
        client.major = parse_major(&client.version).ok_or_else(|| {
            HelmError::BinaryNotFound(format!(
                "{} reports version {:?}; helm v4 or v3 is needed",
                client.binary.display(),
                client.version
            ))
        })?;
        tracing::info!(binary = %client.binary.display(), version = %client.version, "using helm");
        Ok(client)
    }

    pub fn major(&self) -> Major {
        self.major
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs helm with `args` plus the cluster flags, inside the budget; returns stdout. Errors carry stderr
    /// with `secrets` removed.
    async fn run(&self, what: &str, args: &[&str], secrets: &[String], budget: &Budget) -> Result<String, HelmError> {
        let mut command = tokio::process::Command::new(&self.binary);
        command.args(args).arg("--kubeconfig").arg(&self.kubeconfig);
        if let Some(context) = &self.context {
            command.arg("--kube-context").arg(context);
        }
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key == "KUBECONFIG" || key.starts_with("HELM_") {
                command.env_remove(key.as_ref());
            }
        }
        let home = self.home.path();
        command
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"));
        if let Some(file) = &self.repository_config {
            command.env("HELM_REPOSITORY_CONFIG", file);
        }
        if let Some(dir) = &self.repository_cache {
            command.env("HELM_REPOSITORY_CACHE", dir);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        tracing::debug!(command = what, "running helm");
        let child = command
            .spawn()
            .map_err(|e| HelmError::Io { what: format!("start {}", self.binary.display()), detail: e.to_string() })?;
        let waited = budget.remaining();
        let started = std::time::Instant::now();
        let deadline = tokio::time::sleep(waited);
        tokio::pin!(deadline);
        let output = child.wait_with_output();
        tokio::pin!(output);
        let mut progress =
            tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(10), Duration::from_secs(10));
        // The child is killed when `output` drops, on timeout or cancellation.
        let output = loop {
            tokio::select! {
                out = &mut output => break out.map_err(|e| HelmError::Io { what: what.into(), detail: e.to_string() })?,
                _ = &mut deadline => return Err(HelmError::TimedOut { command: what.into(), waited }),
                _ = budget.cancel.cancelled() => return Err(HelmError::Cancelled),
                _ = progress.tick() => tracing::info!(command = what, waited = ?started.elapsed(), "waiting for helm"),
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if output.status.success() {
            return Ok(stdout);
        }
        let stderr = redact(String::from_utf8_lossy(&output.stderr).trim(), secrets);
        let stderr = stderr.trim_start_matches("Error: ").to_string();
        let command = what.to_string();
        Err(if stderr.contains("release: not found") {
            HelmError::NotFound { release: what.rsplit(' ').next().unwrap_or_default().to_string() }
        } else if stderr.contains("conflict occurred while applying") || stderr.contains("Apply failed with") {
            HelmError::Conflict { command, stderr }
        } else if stderr.contains("another operation (install/upgrade/rollback) is in progress") {
            HelmError::InProgress { command, stderr }
        } else {
            HelmError::Failed { command, stderr }
        })
    }

    /// The release, or `None` when there is none.
    pub async fn release(&self, namespace: &str, name: &str, budget: &Budget) -> Result<Option<Release>, HelmError> {
        let what = format!("helm status {namespace}/{name}");
        let out = match self.run(&what, &["status", name, "-n", namespace, "-o", "json"], &[], budget).await {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        let status: StatusJson = serde_json::from_str(&out)
            .map_err(|e| HelmError::Failed { command: what.clone(), stderr: format!("unreadable JSON: {e}") })?;
        let (chart, chart_version, app_version) = match (&status.chart, self.major) {
            (Some(c), _) => (c.metadata.name.clone(), c.metadata.version.clone(), c.metadata.app_version.clone()),
            (None, Major::V4) => {
                let what = format!("helm get metadata {namespace}/{name}");
                let out =
                    self.run(&what, &["get", "metadata", name, "-n", namespace, "-o", "json"], &[], budget).await?;
                let m: MetadataJson = serde_json::from_str(&out)
                    .map_err(|e| HelmError::Failed { command: what, stderr: format!("unreadable JSON: {e}") })?;
                (m.chart, m.version, m.app_version)
            }
            (None, Major::V3) => {
                let what = format!("helm list {namespace}/{name}");
                let filter = format!("^{}$", name.replace('.', "\\."));
                let out = self
                    .run(&what, &["list", "-n", namespace, "--all", "--filter", &filter, "-o", "json"], &[], budget)
                    .await?;
                let list: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
                let entry = list.into_iter().next().unwrap_or_default();
                let full = entry["chart"].as_str().unwrap_or_default().to_string();
                let (chart, version) =
                    full.rsplit_once('-').map(|(c, v)| (c.to_string(), v.to_string())).unwrap_or((full, String::new()));
                (chart, version, entry["app_version"].as_str().unwrap_or_default().to_string())
            }
        };
        Ok(Some(Release {
            name: status.name,
            namespace: status.namespace,
            status: status.info.status,
            revision: status.version,
            chart,
            chart_version,
            app_version,
            manifest: status.manifest,
            hooks: status.hooks.into_iter().map(|h| h.manifest).collect(),
        }))
    }

    /// Writes each values document to its own 0600 file in a private directory that is removed when the
    /// returned guard drops; returns the `-f` arguments.
    fn values_files(&self, deploy: &Deploy<'_>) -> Result<(tempfile::TempDir, Vec<String>), HelmError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |what: &str, e: std::io::Error| HelmError::Io { what: what.into(), detail: e.to_string() };
        let dir = tempfile::Builder::new()
            .prefix("values-")
            .tempdir_in(self.home.path())
            .map_err(|e| io("create the values directory", e))?;
        let mut args = Vec::new();
        for (i, doc) in deploy.values.iter().chain(deploy.sensitive_values).enumerate() {
            let path = dir.path().join(format!("{i:03}.yaml"));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| io("write a values file", e))?;
            file.write_all(doc.as_bytes()).map_err(|e| io("write a values file", e))?;
            args.push("-f".to_string());
            args.push(path.to_string_lossy().to_string());
        }
        Ok((dir, args))
    }

    fn source_args(source: &ChartSource) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(repo) = &source.repository {
            args.extend(["--repo".to_string(), repo.clone()]);
        }
        if let Some(version) = &source.version {
            args.extend(["--version".to_string(), version.clone()]);
        }
        args
    }

    fn wait_args(&self, deploy: &Deploy<'_>) -> Result<Vec<String>, HelmError> {
        let timeout = format!("{}s", deploy.timeout.as_secs().max(1));
        Ok(match self.major {
            Major::V4 => {
                let mut args =
                    vec!["--wait=watcher".into(), "--timeout".into(), timeout, "--rollback-on-failure".into()];
                if deploy.force_conflicts {
                    args.push("--force-conflicts".into());
                }
                args
            }
            Major::V3 => {
                if deploy.force_conflicts {
                    return Err(HelmError::Settings(format!(
                        "force_conflicts needs helm v4, which applies server-side; {} is helm {}",
                        self.binary.display(),
                        self.version
                    )));
                }
                vec!["--wait".into(), "--timeout".into(), timeout, "--atomic".into()]
            }
        })
    }

    /// `helm install`, atomic: a failure uninstalls what it made (helm's own rollback).
    pub async fn install(&self, deploy: &Deploy<'_>, budget: &Budget) -> Result<(), HelmError> {
        let (_dir, files) = self.values_files(deploy)?;
        let mut args: Vec<String> = vec![
            "install".into(),
            deploy.name.into(),
            deploy.source.chart.clone(),
            "-n".into(),
            deploy.namespace.into(),
        ];
        if deploy.create_namespace {
            args.push("--create-namespace".into());
        }
        args.extend(Self::source_args(deploy.source));
        args.extend(files);
        args.extend(self.wait_args(deploy)?);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let secrets = secret_strings(deploy.sensitive_values);
        let what = format!("helm install {}/{}", deploy.namespace, deploy.name);
        self.run(&what, &args, &secrets, budget).await.map(|_| ())
    }

    /// `helm upgrade` to exactly the given values (`--reset-values`), atomic: a failure rolls back.
    pub async fn upgrade(&self, deploy: &Deploy<'_>, budget: &Budget) -> Result<(), HelmError> {
        let (_dir, files) = self.values_files(deploy)?;
        let mut args: Vec<String> = vec![
            "upgrade".into(),
            deploy.name.into(),
            deploy.source.chart.clone(),
            "-n".into(),
            deploy.namespace.into(),
            "--reset-values".into(),
        ];
        args.extend(Self::source_args(deploy.source));
        args.extend(files);
        args.extend(self.wait_args(deploy)?);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let secrets = secret_strings(deploy.sensitive_values);
        let what = format!("helm upgrade {}/{}", deploy.namespace, deploy.name);
        self.run(&what, &args, &secrets, budget).await.map(|_| ())
    }

    /// `helm rollback` to `revision` (the last deployed one), waiting for the objects.
    pub async fn rollback(
        &self,
        namespace: &str,
        name: &str,
        revision: i64,
        timeout: Duration,
        budget: &Budget,
    ) -> Result<(), HelmError> {
        let revision = revision.to_string();
        let timeout = format!("{}s", timeout.as_secs().max(1));
        let wait = if self.major == Major::V4 { "--wait=watcher" } else { "--wait" };
        let what = format!("helm rollback {namespace}/{name}");
        self.run(&what, &["rollback", name, &revision, "-n", namespace, wait, "--timeout", &timeout], &[], budget)
            .await
            .map(|_| ())
    }

    /// The revisions of the release, oldest first, as (revision, status).
    pub async fn history(&self, namespace: &str, name: &str, budget: &Budget) -> Result<Vec<(i64, String)>, HelmError> {
        let what = format!("helm history {namespace}/{name}");
        let out = self.run(&what, &["history", name, "-n", namespace, "-o", "json"], &[], budget).await?;
        let list: Vec<Value> = serde_json::from_str(&out).unwrap_or_default();
        Ok(list
            .iter()
            .map(|h| (h["revision"].as_i64().unwrap_or_default(), h["status"].as_str().unwrap_or_default().to_string()))
            .collect())
    }

    /// The chart's rendered manifest and hooks for these values, without touching the cluster's releases.
    pub async fn template(&self, deploy: &Deploy<'_>, budget: &Budget) -> Result<String, HelmError> {
        let (_dir, files) = self.values_files(deploy)?;
        let mut args: Vec<String> = vec![
            "template".into(),
            deploy.name.into(),
            deploy.source.chart.clone(),
            "-n".into(),
            deploy.namespace.into(),
        ];
        args.extend(Self::source_args(deploy.source));
        args.extend(files);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let secrets = secret_strings(deploy.sensitive_values);
        let what = format!("helm template {}/{}", deploy.namespace, deploy.name);
        self.run(&what, &args, &secrets, budget).await
    }

    /// `helm uninstall --wait`; a release already gone is success.
    pub async fn uninstall(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
        budget: &Budget,
    ) -> Result<(), HelmError> {
        let timeout = format!("{}s", timeout.as_secs().max(1));
        let wait = if self.major == Major::V4 { "--wait=watcher" } else { "--wait" };
        let what = format!("helm uninstall {namespace}/{name}");
        match self.run(&what, &["uninstall", name, "-n", namespace, wait, "--timeout", &timeout], &[], budget).await {
            Err(HelmError::NotFound { .. }) => Ok(()),
            Err(HelmError::Failed { stderr, .. }) if stderr.contains("not found") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(binary: Option<&str>, from: &'static str) -> HelmSettings {
        HelmSettings { binary: binary.map(str::to_string), binary_from: from, ..Default::default() }
    }

    #[test]
    fn the_binary_is_found_or_the_error_names_all_three_places() {
        let dir = tempfile::tempdir().unwrap();
        let helm = dir.path().join("helm");
        std::fs::write(&helm, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().as_os_str();
        assert_eq!(locate(&settings(None, ""), Some(path)).unwrap(), helm);
        assert_eq!(locate(&settings(Some(helm.to_str().unwrap()), "helm.binary"), None).unwrap(), helm);
        let empty = tempfile::tempdir().unwrap();
        let none = locate(&settings(None, ""), Some(empty.path().as_os_str())).unwrap_err().to_string();
        assert!(none.contains("helm.binary") && none.contains("HELM_BINARY") && none.contains("PATH"), "{none}");
        let missing = locate(&settings(Some("/nowhere/helm"), "HELM_BINARY"), None).unwrap_err().to_string();
        assert!(missing.contains("\"/nowhere/helm\" (from HELM_BINARY)"), "{missing}");
    }

    #[test]
    fn versions_and_secrets() {
        assert_eq!(parse_major("v4.1.4"), Some(Major::V4));
        assert_eq!(parse_major("v3.17.2"), Some(Major::V3));
        assert_eq!(parse_major("v2.16.0"), None);
        let secrets = secret_strings(&["secret:\n  OBOT_BOOTSTRAP_TOKEN: s3cr3t-token\n".to_string()]);
        let text = redact("values: secret.OBOT_BOOTSTRAP_TOKEN=s3cr3t-token is invalid", &secrets);
        assert!(!text.contains("s3cr3t-token"), "{text}");
        assert!(text.contains("(sensitive value)"), "{text}");
    }

    #[test]
    fn manifests_split_into_objects() {
        let objects = objects_of("---\n# Source: x\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n");
        let names: Vec<&str> = objects.iter().filter_map(|o| o.pointer("/metadata/name")?.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
