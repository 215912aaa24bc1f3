//! kube-rs (the client the provider uses) against the lab's Kubernetes API: typed and dynamic `Api`,
//! discovery, watchers, optimistic concurrency.

mod kube_common;

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiResource, Discovery, Scope};
use kube::runtime::watcher;
use kube::Client;
use kube_common::{unique, Cluster};
use serde_json::json;

pub async fn client(c: &Cluster) -> Client {
    let kubeconfig = Kubeconfig::read_from(&c.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("config");
    Client::try_from(config).expect("client")
}

async fn namespace(client: &Client, prefix: &str) -> String {
    let name = unique(prefix);
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("create namespace");
    name
}

fn cm(name: &str, data: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "demo"}}, "data": data})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_api_lifecycle_and_stale_replace() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let ns = namespace(&client, "typed").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);

    let created = api.create(&PostParams::default(), &cm("one", json!({"a": "1"}))).await.unwrap();
    let uid = created.metadata.uid.clone().expect("uid");
    assert!(created.metadata.creation_timestamp.is_some());
    let err = api.create(&PostParams::default(), &cm("one", json!({}))).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.is_already_exists()), "{err:?}");

    let listed = api.list(&ListParams::default().labels("app=demo")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some_and(|rv| !rv.is_empty()));

    // Replace with the current resourceVersion works; with the old one it is a 409 Conflict.
    let mut fresh = api.get("one").await.unwrap();
    fresh.data.as_mut().unwrap().insert("b".into(), "2".into());
    let replaced = api.replace("one", &PostParams::default(), &fresh).await.unwrap();
    assert_ne!(replaced.metadata.resource_version, created.metadata.resource_version);
    let mut stale = created.clone();
    stale.data.as_mut().unwrap().insert("c".into(), "3".into());
    let err = api.replace("one", &PostParams::default(), &stale).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409 && s.is_conflict()), "{err:?}");

    // Patches: merge, JSON, and server-side apply.
    api.patch("one", &PatchParams::default(), &Patch::Merge(json!({"data": {"m": "merge"}}))).await.unwrap();
    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/data/j", "value": "json"}])).unwrap();
    api.patch("one", &PatchParams::default(), &Patch::<()>::Json(ops)).await.unwrap();
    let applied = api
        .patch(
            "one",
            &PatchParams::apply("provider"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"s": "ssa"}}),
            ),
        )
        .await
        .unwrap();
    let data = applied.data.unwrap();
    assert_eq!(data.get("m").map(String::as_str), Some("merge"));
    assert_eq!(data.get("j").map(String::as_str), Some("json"));
    assert_eq!(data.get("s").map(String::as_str), Some("ssa"));
    let managers: Vec<String> =
        applied.metadata.managed_fields.unwrap().iter().filter_map(|m| m.manager.clone()).collect();
    assert!(managers.contains(&"provider".to_string()), "{managers:?}");
    // Apply to an absent object creates it.
    let created = api
        .patch(
            "two",
            &PatchParams::apply("provider"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}, "data": {"k": "v"}}),
            ),
        )
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());

    api.delete("one", &DeleteParams::default()).await.unwrap();
    let err = api.get("one").await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.is_not_found()), "{err:?}");
    assert!(api.get_opt("one").await.unwrap().is_none());
    let recreated = api.create(&PostParams::default(), &cm("one", json!({}))).await.unwrap();
    assert_ne!(recreated.metadata.uid.unwrap(), uid, "a re-created object has a new uid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_dynamic_api_for_a_new_crd() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let ns = namespace(&client, "dyn").await;
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "firewallpolicies.networking.example.com"},
        "spec": {"group": "networking.example.com", "scope": "Namespaced",
                 "names": {"plural": "firewallpolicies", "singular": "firewallpolicy", "kind": "FirewallPolicy"},
                 "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    let conditions = created.data["status"]["conditions"].as_array().cloned().unwrap_or_default();
    assert!(
        conditions.iter().any(|c| c["type"] == "Established" && c["status"] == "True"),
        "established at once: {conditions:?}"
    );

    let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
    let (ar, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(ar, _)| ar.kind == "FirewallPolicy" && ar.group == "networking.example.com")
        .expect("the new CRD's kind is discovered");
    assert_eq!(ar.plural, "firewallpolicies");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(discovery.groups().any(|g| g.name() == "apps"));
    assert!(discovery.groups().flat_map(|g| g.recommended_resources()).any(|(ar, _)| ar.kind == "ConfigMap"));

    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    let obj: DynamicObject = serde_json::from_value(json!({"apiVersion": "networking.example.com/v1alpha1", "kind": "FirewallPolicy", "metadata": {"name": "mcp-a"}, "spec": {"domains": ["api.github.com"]}})).unwrap();
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    // Custom resources need a resourceVersion on replace.
    let mut no_rv = created.clone();
    no_rv.metadata.resource_version = None;
    let err = api.replace("mcp-a", &PostParams::default(), &no_rv).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 422), "{err:?}");
    let mut updated = created.clone();
    updated.data["spec"]["domains"] = json!(["api.github.com", "pypi.org"]);
    let replaced = api.replace("mcp-a", &PostParams::default(), &updated).await.unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    let status = api
        .patch_status("mcp-a", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Reconciled"}})))
        .await
        .unwrap();
    assert_eq!(status.data["status"]["phase"], "Reconciled");
    assert_eq!(status.metadata.generation, Some(2), "status writes do not bump generation");
    api.delete("mcp-a", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("mcp-a").await.unwrap().is_none());
}

async fn next<S, K>(s: &mut S) -> watcher::Event<K>
where
    S: futures_util::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(20), s.next())
        .await
        .expect("watch event in time")
        .expect("stream open")
        .expect("watch ok")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_sees_create_update_delete() {
    let c = Cluster::start().await;
    let client = client(&c).await;
    let ns = namespace(&client, "watch").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let stream = watcher(api.clone(), watcher::Config::default().labels("app=demo"));
    let mut stream = Box::pin(stream);
    // Initial listing is empty.
    assert!(matches!(next(&mut stream).await, watcher::Event::Init));
    assert!(matches!(next(&mut stream).await, watcher::Event::InitDone));

    api.create(&PostParams::default(), &cm("w", json!({"v": "1"}))).await.unwrap();
    match next(&mut stream).await {
        watcher::Event::Apply(o) => assert_eq!(o.data.unwrap()["v"], "1"),
        other => panic!("expected Apply, got {other:?}"),
    }
    api.patch("w", &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "2"}}))).await.unwrap();
    match next(&mut stream).await {
        watcher::Event::Apply(o) => assert_eq!(o.data.unwrap()["v"], "2"),
        other => panic!("expected Apply, got {other:?}"),
    }
    // An object outside the selector is not seen; one leaving the selector is seen as deleted.
    api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "other"}})).unwrap())
        .await
        .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    match next(&mut stream).await {
        watcher::Event::Delete(o) => assert_eq!(o.metadata.name.as_deref(), Some("w")),
        other => panic!("expected Delete, got {other:?}"),
    }

    // A streaming-list watcher (sendInitialEvents) gets the current state and then live events.
    api.create(&PostParams::default(), &cm("s", json!({"v": "1"}))).await.unwrap();
    let mut streaming = Box::pin(watcher(api.clone(), watcher::Config::default().labels("app=demo").streaming_lists()));
    assert!(matches!(next(&mut streaming).await, watcher::Event::Init));
    match next(&mut streaming).await {
        watcher::Event::InitApply(o) => assert_eq!(o.metadata.name.as_deref(), Some("s")),
        other => panic!("expected InitApply, got {other:?}"),
    }
    assert!(matches!(next(&mut streaming).await, watcher::Event::InitDone));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_a_deployment_follow_a_pod_failure() {
    let c = Cluster::start().await;
    let Some(lab) = c.lab() else {
        kube_common::skip_on_real_cluster("pods_of_a_deployment_follow_a_pod_failure");
        return;
    };
    let client = client(&c).await;
    let ns = namespace(&client, "pods").await;
    let deploys: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment")),
    );
    let d: DynamicObject = serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mcp"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "mcp"}}, "template": {"metadata": {"labels": {"app": "mcp"}}, "spec": {"containers": [{"name": "s", "image": "mcp:1"}]}}}}))
    .unwrap();
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut pod = None;
    for _ in 0..100 {
        let list = pods.list(&ListParams::default().labels("app=mcp")).await.unwrap();
        if let Some(p) = list.items.into_iter().find(|p| p.status.as_ref().and_then(|s| s.pod_ip.clone()).is_some()) {
            pod = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pod = pod.expect("a running pod");
    let name = pod.metadata.name.clone().unwrap();
    let old_ip = pod.status.unwrap().pod_ip.unwrap();
    let new_ip = lab.fail_pod(&ns, &name).unwrap();
    assert_ne!(new_ip, old_ip);
    let after = pods.get(&name).await.unwrap();
    let status = after.status.unwrap();
    assert_eq!(status.pod_ip.as_deref(), Some(new_ip.as_str()));
    assert_eq!(status.container_statuses.unwrap()[0].restart_count, 1);
    // The node's pod CIDR holds the new address.
    let node: k8s_openapi::api::core::v1::Node =
        Api::all(client.clone()).get(after.spec.unwrap().node_name.as_deref().unwrap()).await.unwrap();
    let cidr = node.spec.unwrap().pod_cidr.unwrap();
    assert!(new_ip.starts_with(cidr.trim_end_matches("0/24")), "{new_ip} in {cidr}");
}
