//! helm v4 against the lab's Kubernetes API: the release lifecycle of our test chart (`charts/lab-app`),
//! and the server-side apply conflict helm reports after someone else changed a field it owns.

mod kube_common;

use kube_common::{stderr, unique, Cluster};
use serde_json::Value;

fn chart() -> String {
    format!("{}/charts/lab-app", env!("CARGO_MANIFEST_DIR"))
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

async fn greeting(c: &Cluster, ns: &str) -> String {
    c.kubectl_ok(&["get", "configmap", "r1-settings", "-n", ns, "-o", "jsonpath={.data.greeting}"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_upgrade_rollback_uninstall() {
    let c = Cluster::start().await;
    let ns = unique("helm");
    let chart = chart();

    let out =
        c.helm_ok(&["install", "r1", &chart, "-n", &ns, "--create-namespace", "--wait", "--timeout", "120s"]).await;
    assert!(out.contains("STATUS: deployed"), "{out}");
    // The CRD from crds/ is established and its custom resource from templates/ exists.
    c.kubectl_ok(&["wait", "--for=condition=Established", "crd/gadgets.lab.example.com", "--timeout=10s"]).await;
    let gadget = json(&c.kubectl_ok(&["get", "gadget", "r1-gadget", "-n", &ns, "-o", "json"]).await);
    assert_eq!(gadget["spec"]["size"], 1);
    assert_eq!(gadget["metadata"]["annotations"]["meta.helm.sh/release-name"], "r1");
    assert_eq!(greeting(&c, &ns).await, "hello");
    // The Deployment is rolled out: two ready pods with IPs from node pod CIDRs.
    let deploy = json(&c.kubectl_ok(&["get", "deployment", "r1-web", "-n", &ns, "-o", "json"]).await);
    assert_eq!(deploy["status"]["readyReplicas"], 2, "{deploy}");
    let pods = json(
        &c.kubectl_ok(&[
            "get",
            "pods",
            "-n",
            &ns,
            "-l",
            "app.kubernetes.io/instance=r1,app.kubernetes.io/name=lab-app",
            "-o",
            "json",
        ])
        .await,
    );
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{pods}");
    for p in items {
        assert!(
            p["metadata"]["name"].as_str().unwrap().starts_with("r1-web-"),
            "pod named after its ReplicaSet: {}",
            p["metadata"]["name"]
        );
        assert!(p["status"]["podIP"].as_str().unwrap().starts_with("10.244."), "{}", p["status"]);
    }
    // The post-install hook ran and, being hook-succeeded, was removed with its pod.
    let job = c.kubectl(&["get", "job", "r1-post-install", "-n", &ns]).await;
    assert!(stderr(&job).contains("not found"), "hook job left behind: {}", stderr(&job));
    let list = json(&c.helm_ok(&["list", "-n", &ns, "-o", "json"]).await);
    assert_eq!(list[0]["name"], "r1");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["revision"], "1");
    let status = c.helm_ok(&["status", "r1", "-n", &ns]).await;
    assert!(status.contains("STATUS: deployed") && status.contains("REVISION: 1"), "{status}");

    c.helm_ok(&["upgrade", "r1", &chart, "-n", &ns, "--set", "greeting=bonjour", "--wait", "--timeout", "120s"]).await;
    assert_eq!(greeting(&c, &ns).await, "bonjour");
    let history = json(&c.helm_ok(&["history", "r1", "-n", &ns, "-o", "json"]).await);
    let statuses: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["superseded", "deployed"]);
    // The pod template changed (checksum annotation): the Deployment rolled to a new ReplicaSet.
    c.kubectl_ok(&["rollout", "status", "deployment/r1-web", "-n", &ns, "--timeout=60s"]).await;
    let rs = json(&c.kubectl_ok(&["get", "replicasets", "-n", &ns, "-o", "json"]).await);
    let sizes: Vec<i64> =
        rs["items"].as_array().unwrap().iter().map(|r| r["spec"]["replicas"].as_i64().unwrap()).collect();
    assert_eq!(sizes.len(), 2, "old and new ReplicaSet: {sizes:?}");
    assert!(sizes.contains(&0) && sizes.contains(&2), "{sizes:?}");

    c.helm_ok(&["rollback", "r1", "1", "-n", &ns, "--wait", "--timeout", "120s"]).await;
    assert_eq!(greeting(&c, &ns).await, "hello");
    let list = json(&c.helm_ok(&["list", "-n", &ns, "-o", "json"]).await);
    assert_eq!(list[0]["revision"], "3");

    let out = c.helm_ok(&["uninstall", "r1", "-n", &ns, "--wait", "--timeout", "120s"]).await;
    assert!(out.contains("uninstalled"), "{out}");
    // Nothing of the release is left: no objects, no release secrets, no cluster-scoped RBAC.
    for kind in [
        "deployments",
        "replicasets",
        "pods",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "roles",
        "rolebindings",
        "gadgets",
        "jobs",
    ] {
        let out = c.kubectl_ok(&["get", kind, "-n", &ns, "-o", "name"]).await;
        let left: Vec<&str> =
            out.lines().filter(|l| !l.ends_with("/default") && !l.ends_with("/kube-root-ca.crt")).collect();
        assert!(left.is_empty(), "{kind} left after uninstall: {left:?}");
    }
    let out = c.kubectl_ok(&["get", "clusterroles,clusterrolebindings", "-o", "name"]).await;
    assert!(!out.contains(&ns), "{out}");
    let list = c.helm_ok(&["list", "-n", &ns, "-q"]).await;
    assert!(list.trim().is_empty(), "{list}");
    // The lab's inventory agrees: beyond the baseline only the namespace, its defaults and the CRD remain
    // (helm never deletes CRDs from crds/).
    if let Some(lab) = c.lab() {
        let mut inv = lab.inventory();
        mcp_egress_lab::inventory::mark(&mut inv, &c.baseline);
        let extra: Vec<String> = inv
            .iter()
            .filter(|o| !o.baseline)
            .map(|o| match o.id.split_once('/') {
                Some((namespace, name)) => format!("{}/{namespace}/{name}", o.kind),
                None => format!("{}//{}", o.kind, o.id),
            })
            .collect();
        let mut expected = vec![
            format!("ConfigMap/{ns}/kube-root-ca.crt"),
            "CustomResourceDefinition//gadgets.lab.example.com".to_string(),
            format!("Namespace//{ns}"),
            format!("ServiceAccount/{ns}/default"),
        ];
        expected.sort();
        let mut extra_sorted = extra.clone();
        extra_sorted.sort();
        assert_eq!(extra_sorted, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_after_another_manager_changed_a_helm_field_conflicts() {
    let c = Cluster::start().await;
    let ns = unique("drift");
    let chart = chart();
    c.helm_ok(&["install", "r1", &chart, "-n", &ns, "--create-namespace", "--wait", "--timeout", "120s"]).await;
    // Someone edits a helm-owned field behind helm's back.
    c.kubectl_ok(&[
        "patch",
        "configmap",
        "r1-settings",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"data":{"greeting":"edited"}}"#,
    ])
    .await;
    let out = c.helm(&["upgrade", "r1", &chart, "-n", &ns, "--set", "greeting=hola"]).await;
    assert!(!out.status.success(), "upgrade must fail on the conflict");
    let err = stderr(&out);
    assert!(err.contains("conflict") && err.contains("kubectl-patch") && err.contains(".data.greeting"), "{err}");
    assert_eq!(greeting(&c, &ns).await, "edited", "the failed upgrade changed nothing");
    // Taking the field back is explicit.
    c.helm_ok(&["upgrade", "r1", &chart, "-n", &ns, "--set", "greeting=hola", "--force-conflicts"]).await;
    assert_eq!(greeting(&c, &ns).await, "hola");
    c.helm_ok(&["uninstall", "r1", "-n", &ns, "--wait"]).await;
}
