//! What the lab adds around the Kubernetes API: state and port that survive a restart, the lab inventory with
//! its baseline, fault injection through the lab's switchboard, and pod failure. These need the emulator, so
//! they do not run against a real cluster.

mod kube_common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_common::start_lab;
use mcp_egress_lab::fault::{FaultKind, FaultSetting};
use mcp_egress_lab::inventory::{self, Object};
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
    let lab = start_lab(dir.path(), &ca).await;
    let baseline = lab.inventory();
    let kubeconfig = lab.kubeconfig_path();
    let api: Api<ConfigMap> = Api::namespaced(client(&kubeconfig).await, "default");
    let before = api.create(&PostParams::default(), &cm("kept")).await.unwrap();
    let url = lab.url().to_string();
    lab.shutdown().await.unwrap();

    let lab = start_lab(dir.path(), &ca).await;
    assert_eq!(lab.url(), url, "a restarted API serves on its previous port");
    let api: Api<ConfigMap> = Api::namespaced(client(&lab.kubeconfig_path()).await, "default");
    let after = api.get("kept").await.unwrap();
    assert_eq!(after.metadata.uid, before.metadata.uid);
    assert_eq!(after.metadata.resource_version, before.metadata.resource_version);
    let next = api.create(&PostParams::default(), &cm("later")).await.unwrap();
    let rv = |c: &ConfigMap| c.metadata.resource_version.as_ref().unwrap().parse::<u64>().unwrap();
    assert!(rv(&next) > rv(&after), "resourceVersions keep increasing across restarts");
    // The inventory marks seeded objects as baseline and ours as not.
    let mut inv = lab.inventory();
    inventory::mark(&mut inv, &baseline);
    let find = |id: &str| inv.iter().find(|o| o.id == id).cloned().unwrap_or_else(|| panic!("no {id} in {inv:?}"));
    assert!(!find("default/kept").baseline);
    assert_eq!(find("default/kept").kind, "ConfigMap");
    assert_eq!(find("default/kept").system, "kubernetes");
    assert!(find("kube-system").baseline);
    assert!(find("lab-node-1").baseline);
    lab.shutdown().await.unwrap();
    // The saved inventory is readable while the lab is down.
    let saved: Vec<Object> = mcp_egress_lab::kube::saved_inventory(dir.path()).unwrap();
    assert!(saved.iter().any(|o| o.id == "default/later"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LabCa::load_or_create(dir.path()).unwrap();
    let lab = start_lab(dir.path(), &ca).await;
    let api: Api<ConfigMap> = Api::namespaced(client(&lab.kubeconfig_path()).await, "default");
    let set = |setting: FaultSetting| lab.faults().set("kubernetes", setting).unwrap();

    // kube-rs retries 429 after the server's Retry-After: the write lands, a second later.
    set(FaultSetting { count: Some(1), writes_only: true, ..FaultSetting::always(FaultKind::Throttle, 1000) });
    let start = Instant::now();
    api.list(&Default::default()).await.expect("reads are not affected by a writes-only fault");
    assert!(start.elapsed() < Duration::from_millis(900));
    api.create(&PostParams::default(), &cm("a")).await.expect("retried after the throttle");
    assert!(start.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");

    // A 500 is not retried and reaches the caller, for as long as the fault is on.
    set(FaultSetting::always(FaultKind::ServerError, 0));
    for _ in 0..3 {
        let err = api.get("a").await.unwrap_err();
        assert!(matches!(&err, kube::Error::Api(s) if s.code == 500), "{err:?}");
    }
    set(FaultSetting::off(FaultKind::ServerError));
    // A short 503 burst is absorbed by the client's retries.
    set(FaultSetting { count: Some(2), ..FaultSetting::always(FaultKind::Unavailable, 0) });
    api.get("a").await.expect("retried through two 503s");
    set(FaultSetting { count: Some(1), ..FaultSetting::always(FaultKind::Conflict, 0) });
    let err = api.get("a").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err:?}");

    set(FaultSetting::always(FaultKind::Slow, 700));
    let start = Instant::now();
    api.get("a").await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(700), "slow fault delays answers");

    set(FaultSetting::off(FaultKind::Slow));
    assert!(lab.faults().active().is_empty(), "every fault is off: {:?}", lab.faults().active());
    let start = Instant::now();
    api.get("a").await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(700), "cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_fail_through_the_lab_endpoint_shows_in_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let ca = LabCa::load_or_create(dir.path()).unwrap();
    let lab = start_lab(dir.path(), &ca).await;
    let baseline = lab.inventory();
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
    let mut inv = lab.inventory();
    inventory::mark(&mut inv, &baseline);
    let solo = inv.iter().find(|o| o.id == "default/solo").unwrap();
    assert_eq!(solo.kind, "Pod");
    assert!(!solo.baseline);
}
