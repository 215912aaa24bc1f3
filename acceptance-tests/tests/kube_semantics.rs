//! Kubernetes semantics users and controllers rely on, checked with kubectl and kube-rs: deletion cascades
//! (background, foreground, orphan), finalizers holding a terminating namespace, DaemonSets, list paging,
//! watching from a resourceVersion, and Table watches.

mod kube_common;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube_common::{stderr, unique, Cluster};
use serde_json::{json, Value};

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

async fn client(c: &Cluster) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&c.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

fn deployment(ns: &str, name: &str, replicas: u32) -> String {
    format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: app\n        image: app:1\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_cascades_background_foreground_orphan() {
    let c = Cluster::start().await;
    let ns = unique("gc");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    for name in ["bg", "fg", "keep"] {
        assert!(c.apply_yaml(&[], &deployment(&ns, name, 2)).await.status.success());
        c.kubectl_ok(&["rollout", "status", &format!("deployment/{name}"), "-n", &ns, "--timeout=60s"]).await;
    }
    let count = |sel: &str| {
        let sel = sel.to_string();
        let ns = ns.clone();
        let c = &c;
        async move {
            let out = c.kubectl_ok(&["get", "pods,replicasets", "-n", &ns, "-l", &sel, "-o", "name"]).await;
            out.lines().count()
        }
    };
    assert_eq!(count("app=bg").await, 3, "one ReplicaSet and two pods");

    c.kubectl_ok(&["delete", "deployment", "bg", "-n", &ns, "--cascade=background"]).await;
    for _ in 0..50 {
        if count("app=bg").await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count("app=bg").await, 0, "background deletion collects the ReplicaSet and its pods");

    // Foreground: the deployment is gone only once its dependents are.
    c.kubectl_ok(&["delete", "deployment", "fg", "-n", &ns, "--cascade=foreground", "--wait=true", "--timeout=60s"])
        .await;
    assert_eq!(count("app=fg").await, 0, "foreground deletion removed the dependents first");

    // Orphan: the ReplicaSet and pods stay, without their owner reference.
    c.kubectl_ok(&["delete", "deployment", "keep", "-n", &ns, "--cascade=orphan", "--wait=true", "--timeout=60s"])
        .await;
    let rs = parse(&c.kubectl_ok(&["get", "replicasets", "-n", &ns, "-l", "app=keep", "-o", "json"]).await);
    let items = rs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "orphaned ReplicaSet kept");
    assert!(items[0]["metadata"].get("ownerReferences").is_none(), "{}", items[0]["metadata"]);
    assert_eq!(count("app=keep").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finalizer_holds_a_terminating_namespace() {
    let c = Cluster::start().await;
    let ns = unique("term");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let held = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {ns}\n  finalizers: [example.com/hold]\n");
    assert!(c.apply_yaml(&[], &held).await.status.success());
    c.kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]).await;
    c.wait_jsonpath(&["get", "namespace", &ns], "{.status.phase}", "Terminating").await;
    let refused = c.kubectl(&["create", "configmap", "late", "-n", &ns]).await;
    assert!(stderr(&refused).contains("because it is being terminated"), "{}", stderr(&refused));
    let cm = parse(&c.kubectl_ok(&["get", "configmap", "held", "-n", &ns, "-o", "json"]).await);
    assert!(cm["metadata"]["deletionTimestamp"].is_string(), "being deleted, held by its finalizer");
    c.kubectl_ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        &ns,
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    c.kubectl_ok(&["wait", "--for=delete", &format!("namespace/{ns}"), "--timeout=30s"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemonset_runs_one_pod_per_node() {
    let c = Cluster::start().await;
    let ns = unique("ds");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let ds = format!("apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels: {{app: agent}}\n  template:\n    metadata:\n      labels: {{app: agent}}\n    spec:\n      containers:\n      - name: agent\n        image: agent:1\n");
    assert!(c.apply_yaml(&[], &ds).await.status.success());
    c.kubectl_ok(&["rollout", "status", "daemonset/agent", "-n", &ns, "--timeout=60s"]).await;
    let nodes = parse(&c.kubectl_ok(&["get", "nodes", "-o", "json"]).await);
    let pods = parse(&c.kubectl_ok(&["get", "pods", "-n", &ns, "-l", "app=agent", "-o", "json"]).await);
    let mut on: Vec<String> =
        pods["items"].as_array().unwrap().iter().map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string()).collect();
    on.sort();
    let mut all: Vec<String> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    assert_eq!(on, all);
    for p in pods["items"].as_array().unwrap() {
        let node =
            nodes["items"].as_array().unwrap().iter().find(|n| n["metadata"]["name"] == p["spec"]["nodeName"]).unwrap();
        let prefix = node["spec"]["podCIDR"].as_str().unwrap().trim_end_matches("0/24");
        assert!(p["status"]["podIP"].as_str().unwrap().starts_with(prefix), "pod IP from its node's CIDR");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_and_watching_from_a_resource_version() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let ns = unique("page");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    for i in 0..7 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("cm{i}"), "labels": {"set": "paged"}}}))
                .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut names = vec![];
    let mut params = ListParams::default().labels("set=paged").limit(3);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, (0..7).map(|i| format!("cm{i}")).collect::<Vec<_>>());
    // kubectl pages the same way with --chunk-size.
    let out = c.kubectl_ok(&["get", "configmaps", "-n", &ns, "-l", "set=paged", "--chunk-size=2", "-o", "name"]).await;
    assert_eq!(out.lines().count(), 7);

    // A watch from a resourceVersion sees only what came after it.
    let rv = api.get("cm3").await.unwrap().metadata.resource_version.unwrap();
    let list_rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    api.patch("cm0", &Default::default(), &kube::api::Patch::Merge(json!({"data": {"x": "1"}}))).await.unwrap();
    let mut stream = api.watch(&WatchParams::default().timeout(5), &list_rv).await.unwrap().boxed();
    match tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap() {
        WatchEvent::Modified(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("cm0")),
        other => panic!("expected the one later change, got {other:?}"),
    }
    // From an older version it replays the later creations too.
    let mut stream = api.watch(&WatchParams::default().timeout(2), &rv).await.unwrap().boxed();
    let mut seen = vec![];
    while let Some(Ok(ev)) = stream.next().await {
        match ev {
            WatchEvent::Added(cm) | WatchEvent::Modified(cm) => seen.push(cm.metadata.name.unwrap()),
            _ => {}
        }
    }
    assert_eq!(seen, ["cm4", "cm5", "cm6", "cm0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_before_a_restart_is_expired() {
    let c = Cluster::start().await;
    if c.lab().is_none() {
        kube_common::skip_on_real_cluster("watch_from_before_a_restart_is_expired");
        return;
    }
    let client = client(&c).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "old"}})).unwrap();
    let rv = api.create(&PostParams::default(), &cm).await.unwrap().metadata.resource_version.unwrap();
    let dir = c.dir.path().to_path_buf();
    let mut c = c;
    c.handle.take().unwrap().shutdown().await.unwrap();
    let ca = mcp_egress_lab::tls::LabCa::load_or_create(&dir).unwrap();
    c.handle = Some(kube_common::start_lab(&dir, &ca).await);
    let api: Api<ConfigMap> = Api::namespaced(client_for(&c.kubeconfig).await, "default");
    let older = (rv.parse::<u64>().unwrap() - 1).to_string();
    let mut stream = api.watch(&WatchParams::default().timeout(5), &older).await.unwrap().boxed();
    match tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap() {
        WatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected 410 Expired, got {other:?}"),
    }
}

async fn client_for(path: &std::path::Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_get_watch_prints_table_rows() {
    let c = Cluster::start().await;
    let ns = unique("tw");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    c.kubectl_ok(&["create", "configmap", "rows", "-n", &ns, "--from-literal=a=1"]).await;
    let mut cmd = tokio::process::Command::new(kube_common::kubectl_bin());
    cmd.env("KUBECONFIG", &c.kubeconfig)
        .env("HOME", c.home.path())
        .env("KUBECACHEDIR", c.home.path().join("kube-cache"))
        .args(["get", "configmap", "rows", "-n", &ns, "-w", "--request-timeout=30s"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let header = next_line(&mut lines).await;
    assert!(header.contains("NAME") && header.contains("DATA"), "{header}");
    let first = next_line(&mut lines).await;
    assert!(first.starts_with("rows") && first.split_whitespace().nth(1) == Some("1"), "{first}");
    c.kubectl_ok(&["patch", "configmap", "rows", "-n", &ns, "--type=merge", "-p", r#"{"data":{"b":"2"}}"#]).await;
    let second = next_line(&mut lines).await;
    assert!(second.starts_with("rows") && second.split_whitespace().nth(1) == Some("2"), "{second}");
    child.kill().await.ok();
}

async fn next_line(lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_goes_through_the_scale_subresource() {
    let c = Cluster::start().await;
    let ns = unique("scale");
    c.kubectl_ok(&["create", "namespace", &ns]).await;
    assert!(c.apply_yaml(&[], &deployment(&ns, "web", 1)).await.status.success());
    c.kubectl_ok(&["rollout", "status", "deployment/web", "-n", &ns, "--timeout=60s"]).await;
    let out = c.kubectl_ok(&["scale", "deployment/web", "-n", &ns, "--replicas=3"]).await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    c.kubectl_ok(&["rollout", "status", "deployment/web", "-n", &ns, "--timeout=60s"]).await;
    let pods = c.kubectl_ok(&["get", "pods", "-n", &ns, "-l", "app=web", "-o", "name"]).await;
    assert_eq!(pods.lines().count(), 3, "{pods}");
    let d = parse(&c.kubectl_ok(&["get", "deployment", "web", "-n", &ns, "-o", "json", "--show-managed-fields"]).await);
    assert_eq!(d["spec"]["replicas"], 3);
    assert!(
        d["metadata"]["managedFields"].as_array().unwrap().iter().any(|m| m["subresource"] == "scale"),
        "the scale write is recorded for the subresource: {}",
        d["metadata"]["managedFields"]
    );
    let stale = c.kubectl(&["scale", "deployment/web", "-n", &ns, "--replicas=1", "--resource-version=1"]).await;
    assert!(!stale.status.success(), "a stale resourceVersion precondition refuses the scale");
    c.wait_jsonpath(&["get", "deployment", "web", "-n", &ns], "{.spec.replicas}", "3").await;
}
