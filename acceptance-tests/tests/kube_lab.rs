//! What the lab adds around the Kubernetes API: state that survives a restart, the inventory with its
//! baseline, fault injection, and pod failure. These need the emulator, so they do not run against a real
//! cluster.

mod kube_common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use mcp_egress_lab::kube::{Fault, FaultMode};
use mcp_egress_lab::tls::LabCa;
use serde_json::json;

async fn client(kubeconfig: &std::path::Path) -> kube::Client {
    let config =
        kube::Config::from_custom_kubeconfig(Kubeconfig::read_from(kubeconfig).unwrap(), &KubeConfigOptions::default())
            .await
            .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LabCa::load_or_create(dir.path()).unwrap();
    let lab = mcp_egress_lab::kube::start(dir.path(), &ca).await.unwrap();
    let kubeconfig = lab.kubeconfig_path();
    let api: Api<ConfigMap> = Api::namespaced(client(&kubeconfig).await, "default");
    let before = api.create(&PostParams::default(), &cm("kept")).await.unwrap();
    lab.shutdown().await.unwrap();

    let lab = mcp_egress_lab::kube::start(dir.path(), &ca).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&lab.kubeconfig_path()).await, "default");
    let after = api.get("kept").await.unwrap();
    assert_eq!(after.metadata.uid, before.metadata.uid);
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version);
    let next = api.create(&PostParams::default(), &cm("later")).await.unwrap();
    let rv = |c: &ConfigMap| c.metadata.resource_version.as_ref().unwrap().parse::<u64>().unwrap();
    assert!(rv(&next) > rv(&after), "resourceVersions keep increasing across restarts");
    // The inventory marks seeded objects as baseline and ours as not.
    let inv = lab.inventory();
    let find = |name: &str| inv.as_array().unwrap().iter().find(|o| o["name"] == name).cloned().unwrap();
    assert_eq!(find("kept")["baseline"], false);
    assert_eq!(find("kept")["kind"], "ConfigMap");
    assert_eq!(find("kube-system")["baseline"], true);
    assert_eq!(find("lab-node-1")["baseline"], true);
    lab.shutdown().await.unwrap();
    // The saved inventory is readable while the lab is down.
    let saved = mcp_egress_lab::kube::inventory_from_dir(dir.path()).unwrap();
    assert!(saved.as_array().unwrap().iter().any(|o| o["name"] == "later"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LabCa::load_or_create(dir.path()).unwrap();
    let lab = mcp_egress_lab::kube::start(dir.path(), &ca).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&lab.kubeconfig_path()).await, "default");

    // kube-rs retries 429 after the server's Retry-After: the write lands, a second later.
    lab.set_fault(&Fault { mode: FaultMode::Throttle { retry_after_seconds: 1 }, count: Some(1), writes_only: true })
        .unwrap();
    let start = Instant::now();
    api.list(&Default::default()).await.expect("reads are not affected by a writes-only fault");
    assert!(start.elapsed() < Duration::from_millis(900));
    api.create(&PostParams::default(), &cm("a")).await.expect("retried after the throttle");
    assert!(start.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");

    // A 500 is not retried and reaches the caller, for as long as the fault is on.
    lab.set_fault(&Fault { mode: FaultMode::Error { code: 500 }, count: None, writes_only: false }).unwrap();
    for _ in 0..3 {
        let err = api.get("a").await.unwrap_err();
        assert!(matches!(&err, kube::Error::Api(s) if s.code == 500), "{err:?}");
    }
    // A short 503 burst is absorbed by the client's retries.
    lab.set_fault(&Fault { mode: FaultMode::Error { code: 503 }, count: Some(2), writes_only: false }).unwrap();
    api.get("a").await.expect("retried through two 503s");
    lab.set_fault(&Fault { mode: FaultMode::Conflict, count: Some(1), writes_only: false }).unwrap();
    let err = api.get("a").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err:?}");

    lab.set_fault(&Fault { mode: FaultMode::Slow { delay_ms: 700 }, count: None, writes_only: false }).unwrap();
    let start = Instant::now();
    api.get("a").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(700), "slow fault delays answers");

    lab.set_fault(&Fault::default()).unwrap();
    let start = Instant::now();
    api.get("a").await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(700), "cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_fail_and_inventory_through_the_lab_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LabCa::load_or_create(dir.path()).unwrap();
    let lab = mcp_egress_lab::kube::start(dir.path(), &ca).await.unwrap();
    let client = client(&lab.kubeconfig_path()).await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, "default");
    let pod = serde_json::from_value(
        json!({"metadata": {"name": "solo"}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let mut ip = None;
    for _ in 0..100 {
        ip = pods.get("solo").await.unwrap().status.and_then(|s| s.pod_ip);
        if ip.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ip = ip.expect("the pod got an IP");
    let new_ip = mcp_egress_lab::kube::fail_pod_in(dir.path(), "default", "solo").await.unwrap();
    assert_ne!(new_ip, ip);
    assert_eq!(pods.get("solo").await.unwrap().status.unwrap().pod_ip.as_deref(), Some(new_ip.as_str()));
    let err = mcp_egress_lab::kube::fail_pod_in(dir.path(), "default", "missing").await.unwrap_err();
    assert!(err.to_string().contains("pods \"missing\" not found"), "{err}");
    let inv = mcp_egress_lab::kube::inventory_in(dir.path()).await.unwrap();
    let solo = inv.as_array().unwrap().iter().find(|o| o["name"] == "solo").unwrap();
    assert_eq!(solo["kind"], "Pod");
    assert_eq!(solo["namespace"], "default");
    assert_eq!(solo["baseline"], false);
}
