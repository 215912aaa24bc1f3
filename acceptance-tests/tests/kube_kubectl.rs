//! kubectl 1.34 against the lab's Kubernetes API: the commands users and the product's docs run.

mod kube_common;

use kube_common::{stderr, stdout, unique, Cluster};
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_create_and_delete_with_wait() {
    let c = Cluster::start().await;
    let ns = unique("ns");
    let out = c.kubectl_ok(&["create", "namespace", &ns]).await;
    assert!(out.contains(&format!("namespace/{ns} created")), "{out}");
    c.kubectl_ok(&["create", "configmap", "cfg", "-n", &ns, "--from-literal=a=1"]).await;
    c.kubectl_ok(&["create", "secret", "generic", "s", "-n", &ns, "--from-literal=password=x"]).await;
    let table = c.kubectl_ok(&["get", "namespace", &ns]).await;
    assert!(table.contains("Active") && table.contains("STATUS"), "{table}");

    let out = c.kubectl_ok(&["delete", "namespace", &ns, "--wait=true", "--timeout=60s"]).await;
    assert!(out.contains(&format!("namespace \"{ns}\" deleted")), "{out}");
    let gone = c.kubectl(&["get", "namespace", &ns]).await;
    assert!(!gone.status.success() && stderr(&gone).contains("NotFound"), "{}", stderr(&gone));
    let cms = c.kubectl(&["get", "configmap", "cfg", "-n", &ns]).await;
    assert!(stderr(&cms).contains("not found"), "contents went with the namespace: {}", stderr(&cms));
    // Creating in a missing namespace is a 404.
    let missing = c.kubectl(&["create", "configmap", "x", "-n", &ns]).await;
    assert!(stderr(&missing).contains(&format!("namespaces \"{ns}\" not found")), "{}", stderr(&missing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_then_server_side_apply_create_change_prune() {
    let c = Cluster::start().await;
    let ns = unique("apply");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let cm = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n{data}")
    };

    // Client-side apply: create, change, remove a key (kubectl computes the strategic merge patch).
    let out = c.apply_yaml(&[], &cm("  a: \"1\"\n  b: \"2\"\n")).await;
    assert!(stdout(&out).contains("configmap/settings created"), "{}{}", stdout(&out), stderr(&out));
    let out = c.apply_yaml(&[], &cm("  a: \"9\"\n")).await;
    assert!(stdout(&out).contains("configmap/settings configured"), "{}{}", stdout(&out), stderr(&out));
    let got = json(&c.kubectl_ok(&["get", "configmap", "settings", "-n", &ns, "-o", "json"]).await);
    assert_eq!(got["data"], serde_json::json!({"a": "9"}));
    assert!(got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    let out = c.apply_yaml(&[], &cm("  a: \"9\"\n")).await;
    assert!(stdout(&out).contains("configmap/settings unchanged"), "{}", stdout(&out));

    // Server-side apply: create, change, prune a field it stops applying.
    let ssa = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: {ns}\ndata:\n{data}")
    };
    let out = c.apply_yaml(&["--server-side"], &ssa("  x: \"1\"\n  y: \"2\"\n")).await;
    assert!(stdout(&out).contains("configmap/ssa serverside-applied"), "{}{}", stdout(&out), stderr(&out));
    let out = c.apply_yaml(&["--server-side"], &ssa("  x: \"3\"\n")).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let got = json(&c.kubectl_ok(&["get", "configmap", "ssa", "-n", &ns, "-o", "json", "--show-managed-fields"]).await);
    assert_eq!(got["data"], serde_json::json!({"x": "3"}), "y was pruned, x changed");
    let managers = got["metadata"]["managedFields"].as_array().expect("managedFields");
    assert!(
        managers.iter().any(|m| m["manager"] == "kubectl"
            && m["operation"] == "Apply"
            && m["fieldsV1"]["f:data"]["f:x"].is_object()),
        "{managers:?}"
    );

    // kubectl leaves validation to the server, which refuses unknown fields under its Strict validation.
    let typo =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: {ns}\ndatta:\n  a: \"1\"\n");
    let out = c.apply_yaml(&[], &typo).await;
    assert!(!out.status.success() && stderr(&out).contains("unknown field \"datta\""), "{}", stderr(&out));
    let out = c.apply_yaml(&["--validate=false"], &typo).await;
    assert!(out.status.success(), "without validation the field is dropped: {}", stderr(&out));
    let got = json(&c.kubectl_ok(&["get", "configmap", "typo", "-n", &ns, "-o", "json"]).await);
    assert!(got.get("datta").is_none(), "{got}");

    // -o yaml prints the object.
    let yaml = c.kubectl_ok(&["get", "configmap", "ssa", "-n", &ns, "-o", "yaml"]).await;
    assert!(yaml.contains("kind: ConfigMap") && yaml.contains("x: \"3\""), "{yaml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflict_and_force() {
    let c = Cluster::start().await;
    let ns = unique("ssa");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let cm = |v: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  namespace: {ns}\ndata:\n  key: \"{v}\"\n")
    };
    c.apply_yaml(&["--server-side", "--field-manager=team-a"], &cm("a")).await;
    let out = c.apply_yaml(&["--server-side", "--field-manager=team-b"], &cm("b")).await;
    assert!(!out.status.success(), "a second manager changing the field must conflict");
    let err = stderr(&out);
    assert!(err.contains("conflict with \"team-a\"") && err.contains(".data.key"), "{err}");
    let out = c.apply_yaml(&["--server-side", "--field-manager=team-b", "--force-conflicts"], &cm("b")).await;
    assert!(out.status.success(), "{}", stderr(&out));
    c.wait_jsonpath(&["get", "configmap", "owned", "-n", &ns], "{.data.key}", "b").await;
    // team-a no longer owns the field, so its next apply of the old value conflicts with team-b.
    let out = c.apply_yaml(&["--server-side", "--field-manager=team-a"], &cm("a")).await;
    assert!(stderr(&out).contains("conflict with \"team-b\""), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_with_every_selector_form() {
    let c = Cluster::start().await;
    let ns = unique("sel");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let mut yaml = String::new();
    for (name, labels) in [
        ("web-1", "app: web\n    tier: front\n    rank: \"3\""),
        ("web-2", "app: web\n    tier: back\n    rank: \"7\""),
        ("db", "app: db"),
        ("bare", "other: x"),
    ] {
        yaml.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    {labels}\n"));
    }
    let out = c.apply_yaml(&[], &yaml).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let names = |out: String| {
        let mut v: Vec<String> =
            out.split_whitespace().map(|s| s.trim_start_matches("configmap/").to_string()).collect();
        v.sort();
        v.join(",")
    };
    let cases: &[(&str, &str)] = &[
        ("app=web", "web-1,web-2"),
        ("app==web", "web-1,web-2"),
        ("app!=web", "bare,db,kube-root-ca.crt"),
        ("app in (web,db)", "db,web-1,web-2"),
        ("app notin (web)", "bare,db,kube-root-ca.crt"),
        ("tier", "web-1,web-2"),
        ("!tier", "bare,db,kube-root-ca.crt"),
        ("app=web,tier=back", "web-2"),
        ("rank>5", "web-2"),
        ("rank<5", "web-1"),
    ];
    for (sel, want) in cases {
        let got = names(c.kubectl_ok(&["get", "configmaps", "-n", &ns, "-l", sel, "-o", "name"]).await);
        assert_eq!(got, *want, "selector {sel:?}");
    }
    let got = names(
        c.kubectl_ok(&["get", "configmaps", "-n", &ns, "--field-selector", "metadata.name=db", "-o", "name"]).await,
    );
    assert_eq!(got, "db");
    let fs = format!("metadata.name!=db,metadata.namespace=={ns}");
    let got = names(c.kubectl_ok(&["get", "configmaps", "-n", &ns, "--field-selector", &fs, "-o", "name"]).await);
    assert_eq!(got, "bare,kube-root-ca.crt,web-1,web-2");
    let bad = c.kubectl(&["get", "configmaps", "-n", &ns, "--field-selector", "data.a=1"]).await;
    assert!(stderr(&bad).contains("field label not supported: data.a"), "{}", stderr(&bad));
    // Table output with -A carries namespaces from the rows' metadata.
    let table = c.kubectl_ok(&["get", "configmaps", "-A", "-l", "app=db"]).await;
    assert!(table.contains("NAMESPACE") && table.contains(&ns) && table.contains("DATA"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_label_and_annotate() {
    let c = Cluster::start().await;
    let ns = unique("patch");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let deploy = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n      - name: sidecar\n        image: busybox:1.36\n"
    );
    assert!(c.apply_yaml(&[], &deploy).await.status.success());
    c.kubectl_ok(&["patch", "deployment", "web", "-n", &ns, "--type", "merge", "-p", r#"{"spec":{"replicas":2}}"#])
        .await;
    c.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        &ns,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/1/image","value":"busybox:1.37"}]"#,
    ])
    .await;
    // Strategic merge patches containers by name: the other container stays.
    c.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "-n",
        &ns,
        "--type",
        "strategic",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}"#,
    ])
    .await;
    let got = json(&c.kubectl_ok(&["get", "deployment", "web", "-n", &ns, "-o", "json"]).await);
    assert_eq!(got["spec"]["replicas"], 2);
    let containers = got["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "{containers:?}");
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(containers[1]["image"], "busybox:1.37");
    assert_eq!(got["metadata"]["generation"], 4, "each spec change bumps generation");

    let moved = c
        .kubectl(&[
            "patch",
            "deployment",
            "web",
            "-n",
            &ns,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"selector":{"matchLabels":{"app":"other"}}}}"#,
        ])
        .await;
    assert!(
        stderr(&moved).contains("spec.selector") && stderr(&moved).contains("field is immutable"),
        "{}",
        stderr(&moved)
    );

    c.kubectl_ok(&["label", "deployment", "web", "-n", &ns, "team=edge"]).await;
    c.kubectl_ok(&["annotate", "deployment", "web", "-n", &ns, "owner=platform"]).await;
    let got = json(&c.kubectl_ok(&["get", "deployment", "web", "-n", &ns, "-o", "json"]).await);
    assert_eq!(got["metadata"]["labels"]["team"], "edge");
    assert_eq!(got["metadata"]["annotations"]["owner"], "platform");
    assert_eq!(got["metadata"]["generation"], 4, "metadata changes do not bump generation");
    let again = c.kubectl(&["label", "deployment", "web", "-n", &ns, "team=core"]).await;
    assert!(stderr(&again).contains("already has a value"), "{}", stderr(&again));
    c.kubectl_ok(&["label", "deployment", "web", "-n", &ns, "team-"]).await;
    let got = json(&c.kubectl_ok(&["get", "deployment", "web", "-n", &ns, "-o", "json"]).await);
    assert!(got["metadata"]["labels"].get("team").is_none());

    c.kubectl_ok(&["rollout", "status", "deployment/web", "-n", &ns, "--timeout=60s"]).await;
    let pods = json(&c.kubectl_ok(&["get", "pods", "-n", &ns, "-l", "app=web", "-o", "json"]).await);
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "two replicas");
    for p in items {
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(p["spec"]["containers"][0]["image"], "nginx:1.28");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_established_and_custom_resources() {
    let c = Cluster::start().await;
    let ns = unique("crd");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names:\n    plural: widgets\n    singular: widget\n    kind: Widget\n    shortNames: [wd]\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    subresources:\n      status: {}\n    additionalPrinterColumns:\n    - name: Size\n      type: integer\n      jsonPath: .spec.size\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              size: {type: integer}\n          status:\n            type: object\n            properties:\n              ready: {type: boolean}\n";
    let out = c.apply_yaml(&[], crd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    c.kubectl_ok(&["wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s"]).await;
    let w = format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: {ns}\nspec:\n  size: 3\n"
    );
    let out = c.apply_yaml(&[], &w).await;
    assert!(stdout(&out).contains("widget.example.com/w1 created"), "{}{}", stdout(&out), stderr(&out));
    let table = c.kubectl_ok(&["get", "wd", "-n", &ns]).await;
    assert!(table.contains("SIZE") && table.contains('3'), "printer columns: {table}");
    // Unknown fields are refused under kubectl's strict validation.
    let bad = format!("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\n  namespace: {ns}\nspec:\n  size: 3\n  colour: red\n");
    let out = c.apply_yaml(&[], &bad).await;
    assert!(stderr(&out).contains("unknown field \"spec.colour\""), "{}", stderr(&out));
    // Client-side apply of a change to a custom resource goes as a merge patch.
    let w5 = w.replace("size: 3", "size: 5");
    assert!(c.apply_yaml(&[], &w5).await.status.success());
    let got = json(&c.kubectl_ok(&["get", "widget", "w1", "-n", &ns, "-o", "json"]).await);
    assert_eq!(got["spec"]["size"], 5);
    assert_eq!(got["metadata"]["generation"], 2);
    // Status goes through the subresource only.
    c.kubectl_ok(&[
        "patch",
        "widget",
        "w1",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true}}"#,
    ])
    .await;
    c.kubectl_ok(&["patch", "widget", "w1", "-n", &ns, "--type=merge", "-p", r#"{"status":{"ready":false}}"#]).await;
    let got = json(&c.kubectl_ok(&["get", "widget", "w1", "-n", &ns, "-o", "json"]).await);
    assert_eq!(got["status"]["ready"], true, "main-resource writes keep the status");
    assert_eq!(got["metadata"]["generation"], 2, "status writes do not bump generation");
    // Deleting the CRD takes its resources and its API with it.
    c.kubectl_ok(&["delete", "crd", "widgets.example.com"]).await;
    let out = c.kubectl(&["get", "widgets", "-n", &ns]).await;
    assert!(!out.status.success(), "widgets are no longer served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_sees_an_update() {
    let c = Cluster::start().await;
    let ns = unique("watch");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    c.kubectl_ok(&["create", "configmap", "watched", "-n", &ns, "--from-literal=v=1"]).await;
    let mut cmd = tokio::process::Command::new(kube_common::kubectl_bin());
    cmd.env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.home.path())
        .env("KUBECACHEDIR", c.home.path().join("kube-cache"))
        .args([
            "get",
            "configmap",
            "watched",
            "-n",
            &ns,
            "-w",
            "-o",
            "jsonpath={.data.v}{\"\\n\"}",
            "--request-timeout=30s",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap();
    assert_eq!(first.as_deref(), Some("1"));
    c.kubectl_ok(&["patch", "configmap", "watched", "-n", &ns, "--type=merge", "-p", r#"{"data":{"v":"2"}}"#]).await;
    let second = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap();
    assert_eq!(second.as_deref(), Some("2"));
    child.kill().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_is_refused() {
    let c = Cluster::start().await;
    if c.lab().is_none() {
        kube_common::skip_on_real_cluster("wrong_token_is_refused");
        return;
    }
    let out = c.kubectl(&["get", "namespaces", "--token", "not-the-token"]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Unauthorized") || stderr(&out).contains("must be logged in"), "{}", stderr(&out));
    let out = c.kubectl_ok(&["get", "namespaces", "-o", "name"]).await;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(out.contains(&format!("namespace/{ns}")), "{out}");
    }
}
