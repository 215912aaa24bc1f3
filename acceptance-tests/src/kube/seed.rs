//! The baseline a new cluster has: the four system namespaces, three nodes with pod CIDRs, the `kubernetes`
//! Service, and each namespace's `default` ServiceAccount and `kube-root-ca.crt` ConfigMap. They are all there
//! when [`seed`] returns, so the lab's baseline (the inventory right after the first start) holds them.

use serde_json::json;

use super::store::{Store, Writer};

/// Nodes of the lab cluster: (name, pod CIDR, internal IP).
pub const NODES: &[(&str, &str, &str)] = &[
    ("lab-node-1", "10.244.1.0/24", "172.18.0.2"),
    ("lab-node-2", "10.244.2.0/24", "172.18.0.3"),
    ("lab-node-3", "10.244.3.0/24", "172.18.0.4"),
];

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub fn seed(store: &Store) -> anyhow::Result<()> {
    let mut st = store.lock();
    let writer =
        Writer { manager: "kube-apiserver", api_version: "v1", subresource: "", dry_run: false, managed: None };
    let add = |st: &mut super::store::State,
               group: &str,
               plural: &str,
               ns: &str,
               obj: serde_json::Value|
     -> anyhow::Result<()> {
        let def = st.resource(group, plural).cloned().ok_or_else(|| anyhow::anyhow!("no resource {group}/{plural}"))?;
        st.create(&def, ns, obj, &writer).map_err(|e| anyhow::anyhow!("seeding {plural}: {e}"))?;
        Ok(())
    };
    for ns in SYSTEM_NAMESPACES {
        add(&mut st, "", "namespaces", "", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))?;
    }
    for (name, cidr, ip) in NODES {
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        });
        add(&mut st, "", "nodes", "", node)?;
        let def = st.resource("", "nodes").cloned().expect("nodes");
        let old = st.get(&def, "", name).cloned().expect("just created");
        let mut ready = old.clone();
        ready["status"] = json!({
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            // Every NodeSystemInfo field is required; kubelets since 1.31 leave kubeProxyVersion empty.
            "nodeInfo": {
                "machineID": uuid::Uuid::new_v4().simple().to_string(), "systemUUID": uuid::Uuid::new_v4().to_string(),
                "bootID": uuid::Uuid::new_v4().to_string(), "kernelVersion": "6.12.0-lab", "osImage": "Debian GNU/Linux 13 (trixie)",
                "containerRuntimeVersion": "containerd://2.0.0", "kubeletVersion": "v1.34.0", "kubeProxyVersion": "",
                "operatingSystem": "linux", "architecture": "amd64",
            },
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        });
        st.commit_update(&def, "", name, old, ready, false).map_err(|e| anyhow::anyhow!("seeding node status: {e}"))?;
    }
    add(
        &mut st,
        "",
        "services",
        "default",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}),
    )?;
    // The per-namespace objects the controllers would make are made now, so they count as baseline.
    super::controllers::namespace_defaults(&mut st);
    Ok(())
}
