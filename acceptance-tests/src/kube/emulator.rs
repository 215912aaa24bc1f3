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

    fn env(&self) -> Vec<(String, String)> {
        vec![("KUBECONFIG".to_string(), self.handle.kubeconfig_path().display().to_string())]
    }

    fn describe(&self) -> String {
        format!("{} (TLS, kubeconfig {})", self.handle.url(), self.handle.kubeconfig_path().display())
    }
}
