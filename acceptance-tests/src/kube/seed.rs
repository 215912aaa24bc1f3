//! The baseline a new cluster has: the four system namespaces, three nodes with pod CIDRs, the `kubernetes`
//! Service, each namespace's `default` ServiceAccount and `kube-root-ca.crt` ConfigMap, the k8s-firewall CRDs
//! (FirewallPolicy, WebgroupPolicy), and the node agents
//! whose masquerading the product changes and restores (docs/node-masquerade.md): AKS's `azure-ip-masq-agent`
//! DaemonSet with its two ConfigMaps, and the VPC CNI's `aws-node` DaemonSet with the env its manifest sets.
//! They are all there, the agents' pods included, when [`seed`] returns, so the lab's baseline (the inventory
//! right after the first start) holds them.

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
    for manifest in K8S_FIREWALL_CRDS {
        let crd: serde_json::Value = serde_yaml::from_str(manifest)?;
        add(&mut st, "apiextensions.k8s.io", "customresourcedefinitions", "", crd)?;
    }
    for (plural, obj) in node_agents() {
        let group = if plural == "daemonsets" { "apps" } else { "" };
        add(&mut st, group, plural, "kube-system", obj)?;
    }
    // What the controllers would make (per-namespace defaults, the agents' pods and their status) is made now,
    // so it counts as baseline.
    for _ in 0..10 {
        if !super::controllers::reconcile(&mut st) {
            break;
        }
    }
    Ok(())
}

/// The CRDs of the k8s-firewall chart (FirewallPolicy, WebgroupPolicy): the lab's cluster is one the chart
/// was installed on, as an existing fabric customer's is. Helm leaves a chart's `crds/` in place on
/// uninstall and skips them on install when present, so they belong to the baseline.
pub const K8S_FIREWALL_CRDS: [&str; 2] = [
    include_str!("../../charts/k8s-firewall/crds/networking.aviatrix.com_firewallpolicies.yaml"),
    include_str!("../../charts/k8s-firewall/crds/networking.aviatrix.com_webgrouppolicies.yaml"),
];

/// The labels AKS puts on its ip-masq-agent ConfigMaps; `mode` is `Reconcile` for the one AKS owns and
/// `EnsureExists` for the custom one (docs/node-masquerade.md §2).
fn ip_masq_labels(mode: &str) -> serde_json::Value {
    json!({"component": "ip-masq-agent", "kubernetes.io/cluster-service": "true", "addonmanager.kubernetes.io/mode": mode})
}

/// The custom ConfigMap of AKS's agent, as a cluster that was customised once keeps it: its key and labels.
pub const AZURE_IP_MASQ_CONFIG: &str = "azure-ip-masq-agent-config";
/// The VPC CNI DaemonSet and container whose env decides SNAT on EKS.
pub const AWS_NODE: &str = "aws-node";

/// `kube-system` objects of the masquerading agents: (plural, object).
fn node_agents() -> Vec<(&'static str, serde_json::Value)> {
    let agent_labels =
        json!({"component": "azure-ip-masq-agent", "kubernetes.io/cluster-service": "true", "tier": "node"});
    let ip_masq = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "azure-ip-masq-agent", "labels": agent_labels.clone()},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "azure-ip-masq-agent", "tier": "node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "azure-ip-masq-agent", "tier": "node"}},
                "spec": {
                    "hostNetwork": true,
                    "containers": [{
                        "name": "azure-ip-masq-agent",
                        "image": "mcr.microsoft.com/aks/ip-masq-agent-v2:v0.1.15",
                        "args": ["--v=2", "--resync-interval=60"],
                        "securityContext": {"privileged": false, "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
                        "volumeMounts": [{"name": "azure-ip-masq-agent-config-volume", "mountPath": "/etc/config"}],
                    }],
                    "volumes": [{
                        "name": "azure-ip-masq-agent-config-volume",
                        "projected": {"sources": [
                            {"configMap": {"name": AZURE_IP_MASQ_CONFIG, "optional": true,
                                           "items": [{"key": "ip-masq-agent", "path": "ip-masq-agent", "mode": 0o444}]}},
                            {"configMap": {"name": "azure-ip-masq-agent-config-reconciled", "optional": true,
                                           "items": [{"key": "ip-masq-agent-reconciled", "path": "ip-masq-agent-reconciled", "mode": 0o444}]}},
                        ]},
                    }],
                },
            },
        },
    });
    let aws_node = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": AWS_NODE, "labels": {"app.kubernetes.io/name": "aws-node", "k8s-app": "aws-node"}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "aws-node"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "aws-node", "k8s-app": "aws-node"}},
                "spec": {
                    "hostNetwork": true,
                    "serviceAccountName": "aws-node",
                    "containers": [{
                        "name": AWS_NODE,
                        "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.20.4",
                        "env": [
                            {"name": "ADDITIONAL_ENI_TAGS", "value": "{}"},
                            {"name": "AWS_VPC_CNI_NODE_PORT_SUPPORT", "value": "true"},
                            {"name": "AWS_VPC_ENI_MTU", "value": "9001"},
                            {"name": "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG", "value": "false"},
                            {"name": "AWS_VPC_K8S_CNI_EXTERNALSNAT", "value": "false"},
                            {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"},
                            {"name": "AWS_VPC_K8S_CNI_RANDOMIZESNAT", "value": "prng"},
                            {"name": "WARM_ENI_TARGET", "value": "1"},
                        ],
                    }],
                },
            },
        },
    });
    vec![
        (
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "azure-ip-masq-agent-config-reconciled", "labels": ip_masq_labels("Reconcile")},
                   "data": {"ip-masq-agent-reconciled": "nonMasqueradeCIDRs:\n  - 10.20.0.0/16\n  - 10.96.0.0/12\nmasqLinkLocal: true\n"}}),
        ),
        (
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": AZURE_IP_MASQ_CONFIG, "labels": ip_masq_labels("EnsureExists")},
                   "data": {"ip-masq-agent": "nonMasqueradeCIDRs:\n  - 10.20.0.0/16\nmasqLinkLocal: false\n"}}),
        ),
        ("daemonsets", ip_masq),
        ("daemonsets", aws_node),
    ]
}
