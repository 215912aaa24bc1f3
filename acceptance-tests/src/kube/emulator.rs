//! The Kubernetes API as one of the lab daemon's emulators: its fault switchboard, its objects for the
//! lab inventory, and `KUBECONFIG` for `lab.env`.
//!
//! It adapts [`super::KubeHandle`] to [`crate::emulator::Emulator`] and says how a Kubernetes object appears in
//! the lab inventory; it serves nothing itself.

use serde_json::Value;

use super::KubeHandle;
use crate::emulator::{BoxFuture, Emulator};
use crate::fault::Faults;
use crate::inventory::Object;

/// The running Kubernetes API, registered with the daemon.
pub struct KubeEmulator {
    handle: KubeHandle,
}

impl KubeEmulator {
    pub fn new(handle: KubeHandle) -> KubeEmulator {
        KubeEmulator { handle }
    }
}

/// Objects as the lab inventory lists them: kind, `namespace/name` (or `name` for cluster-scoped kinds), and
/// the object without the fields every write or the controllers change.
pub fn inventory(objects: Vec<Value>) -> Vec<Object> {
    objects
        .into_iter()
        .map(|obj| {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
            let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
            let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let id = if ns.is_empty() { name.to_string() } else { format!("{ns}/{name}") };
            let owner = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).and_then(|refs| {
                refs.iter().find(|r| r["controller"] == true).map(|r| {
                    let owner = r["name"].as_str().unwrap_or_default();
                    let at = if ns.is_empty() { owner.to_string() } else { format!("{ns}/{owner}") };
                    format!("{} {at}", r["kind"].as_str().unwrap_or_default())
                })
            });
            Object { owned_by: owner, ..Object::new(super::TARGET, &kind, id, normalised(&obj)) }
        })
        .collect()
}

/// An object as the inventory compares it: without the fields every write or the controllers change.
fn normalised(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "managedFields", "creationTimestamp", "uid", "generation"] {
            meta.remove(k);
        }
    }
    v
}

impl Emulator for KubeEmulator {
    fn target(&self) -> &'static str {
        super::TARGET
    }

    fn faults(&self) -> &Faults {
        self.handle.faults()
    }

    fn inventory(&self) -> BoxFuture<'_, anyhow::Result<Vec<Object>>> {
        Box::pin(async move { Ok(self.handle.inventory()) })
    }

    /// The kubeconfig; helm (`HELM_BINARY`, the one `scripts/install-kube-tools.sh` puts in the repository's
    /// cache, when it is there); and the test charts' folder (`LAB_CHARTS_DIR`, and as the input variable
    /// `charts_dir`), so configurations install the lab's charts wherever they run from.
    fn env(&self) -> Vec<(String, String)> {
        let real = |p: std::path::PathBuf| std::fs::canonicalize(&p).unwrap_or(p).display().to_string();
        let repo = crate::aws::moto::repo_root();
        let charts = real(repo.join("acceptance-tests/charts"));
        let mut env = vec![("KUBECONFIG".to_string(), self.handle.kubeconfig_path().display().to_string())];
        let helm = repo.join(".cache/bin/helm");
        if helm.is_file() {
            env.push(("HELM_BINARY".to_string(), real(helm)));
        }
        env.push(("LAB_CHARTS_DIR".to_string(), charts.clone()));
        env.push(("TF_VAR_charts_dir".to_string(), charts));
        env
    }

    fn describe(&self) -> String {
        format!("{} (TLS, kubeconfig {})", self.handle.url(), self.handle.kubeconfig_path().display())
    }
}
