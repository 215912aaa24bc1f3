//! The official Python Kubernetes client against the lab's Kubernetes API (or a real cluster named by
//! `KUBE_TEST_KUBECONFIG`): namespace and ConfigMap CRUD, a watch that sees a create, server-side apply with
//! and without force, a CRD and its custom objects, and the node list. The scenario lives in
//! `tests/python/kube_client.py` and checks each answer as it goes; this test then checks what it left in the
//! cluster with kubectl.
//!
//! The client comes from `scripts/install-python-kubernetes.sh` (run here, idempotent). Without python3 the
//! test prints `SKIP:` and returns.

mod kube_common;
mod python_client;

use std::path::Path;

use kube_common::{unique, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_drives_the_api_like_a_cluster() {
    if python_client::python3_missing() {
        println!("SKIP: the_python_client_drives_the_api_like_a_cluster needs python3 on PATH to install the client");
        return;
    }
    let python = python_client::python_with("install-python-kubernetes.sh", "python-kubernetes-venv");
    let c = Cluster::start().await;
    let ns = unique("python");
    let group = format!("{ns}.example.com");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/kube_client.py");
    let out = tokio::process::Command::new(&python)
        .arg(&script)
        .args([&ns, &group])
        .env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.home.path())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), out).await.expect("in time").expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "the Python scenario failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("python client scenario: ok"), "{stdout}");
    if c.lab().is_some() {
        assert!(stdout.contains("nodes: lab-node-1 lab-node-2 lab-node-3"), "{stdout}");
    }

    // What the scenario left: the applied ConfigMap with the applier's values and ownership, no widget, and
    // the CRD established.
    let applied = c
        .kubectl_ok(&[
            "get",
            "configmap",
            "applied",
            "-n",
            &ns,
            "--show-managed-fields",
            "-o",
            "jsonpath={.data.owner} {.data.extra} {.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(applied.starts_with("apply dynamic "), "{applied}");
    assert!(applied.contains("python-apply"), "{applied}");
    let widgets = c.kubectl_ok(&["get", &format!("widgets.{group}"), "-n", &ns, "-o", "name"]).await;
    assert_eq!(widgets.trim(), "", "the widget was deleted");
    let crd = format!("widgets.{group}");
    c.wait_jsonpath(&["get", "crd", &crd], "{.status.conditions[?(@.type==\"Established\")].status}", "True").await;

    c.kubectl_ok(&["delete", "namespace", &ns, "--wait=true"]).await;
    c.kubectl_ok(&["delete", "crd", &crd, "--wait=true"]).await;
}
