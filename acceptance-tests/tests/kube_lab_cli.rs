//! The lab's Kubernetes through the lab CLI: `up` serves it and puts KUBECONFIG in lab.env, kubectl works
//! with that, `pod-fail` changes a pod's IP, `inventory` lists the cluster's objects against the baseline,
//! `fault --target kubernetes` breaks it and heals it, and `down`/`up` keep every object.

mod common;
mod kube_common;

use std::process::Output;

use common::lab::{objects, Lab};

fn kubectl(lab: &Lab, home: &std::path::Path, args: &[&str]) -> Output {
    std::process::Command::new(kube_common::kubectl_bin())
        .env("KUBECONFIG", lab.var("KUBECONFIG"))
        .env("HOME", home)
        .env("KUBECACHEDIR", home.join("kube-cache"))
        .args(args)
        .output()
        .expect("kubectl")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "kubectl failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn pod_ip(lab: &Lab, home: &std::path::Path) -> (String, String) {
    for _ in 0..100 {
        let out = ok(kubectl(
            lab,
            home,
            &[
                "get",
                "pods",
                "-n",
                "mcp",
                "-l",
                "app=srv",
                "-o",
                "jsonpath={.items[0].metadata.name} {.items[0].status.podIP}",
            ],
        ));
        if let Some((name, ip)) = out.split_once(' ') {
            if !ip.is_empty() {
                return (name.to_string(), ip.to_string());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no pod with an IP");
}

#[test]
fn kubernetes_through_the_lab_cli() {
    let mut lab = Lab::up(&[]);
    let home = tempfile::tempdir().unwrap();
    let (clean, diff) = lab.diff();
    assert!(clean, "a fresh lab is its baseline, the cluster included: {diff}");
    let status = String::from_utf8_lossy(&lab.cli(&["status"]).stdout).to_string();
    assert!(status.contains("kubernetes") && status.contains("kubeconfig"), "{status}");

    ok(kubectl(&lab, home.path(), &["create", "namespace", "mcp"]));
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: srv, namespace: mcp}\nspec:\n  selector: {matchLabels: {app: srv}}\n  template:\n    metadata: {labels: {app: srv}}\n    spec: {containers: [{name: srv, image: \"mcp:1\"}]}\n";
    let manifest = home.path().join("srv.yaml");
    std::fs::write(&manifest, deployment).unwrap();
    ok(kubectl(&lab, home.path(), &["apply", "-f", manifest.to_str().unwrap()]));
    let (name, ip) = pod_ip(&lab, home.path());
    let out = lab.cli(&["pod-fail", &format!("mcp/{name}")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (same, new_ip) = pod_ip(&lab, home.path());
    assert_eq!(same, name);
    assert_ne!(new_ip, ip);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&new_ip));
    let missing = lab.cli(&["pod-fail", "mcp/nope"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("pods \"nope\" not found"));

    let inventory = lab.inventory();
    assert!(objects(&inventory, "kubernetes", "Namespace").iter().any(|o| o["id"] == "mcp" && o["baseline"] == false));
    assert!(objects(&inventory, "kubernetes", "Node").iter().all(|o| o["baseline"] == true));
    assert!(objects(&inventory, "kubernetes", "Deployment").iter().any(|o| o["id"] == "mcp/srv"));
    let (clean, _) = lab.diff();
    assert!(!clean, "the namespace and deployment differ from the baseline");

    lab.fault("kubernetes", "server-error", "1", "0");
    let broken = kubectl(&lab, home.path(), &["get", "configmaps", "-n", "mcp"]);
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("failing on purpose"),
        "{}",
        String::from_utf8_lossy(&broken.stderr)
    );
    lab.fault("kubernetes", "server-error", "0", "0");
    ok(kubectl(&lab, home.path(), &["get", "configmaps", "-n", "mcp"]));

    assert!(lab.stop().status.success());
    lab.start(&[]);
    let out =
        ok(kubectl(&lab, home.path(), &["get", "deployment", "srv", "-n", "mcp", "-o", "jsonpath={.metadata.name}"]));
    assert_eq!(out, "srv", "the cluster's objects survive down/up");
    ok(kubectl(&lab, home.path(), &["delete", "namespace", "mcp", "--wait=true"]));
    let (clean, diff) = lab.diff();
    assert!(clean, "deleting the namespace leaves the cluster at its baseline: {diff}");
}
