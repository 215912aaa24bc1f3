//! Concurrency as the product loads the API: 50 writers increment counters in 200 custom resources with
//! read-modify-replace and resourceVersion checks, while two watchers follow. No update may be lost, every
//! watcher must end on the final value of every object, and each object's events arrive in order.

mod kube_common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::runtime::watcher;
use kube_common::{unique, Cluster};
use serde_json::json;

const OBJECTS: usize = 200;
const WRITERS: usize = 50;
const INCREMENTS_PER_WRITER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_writers_over_two_hundred_custom_resources_lose_no_update() {
    let c = Cluster::start().await;
    let kubeconfig = kube::config::Kubeconfig::read_from(&c.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let ns = unique("load");
    let namespaces: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("", "v1", "Namespace")),
    );
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .unwrap(),
        )
        .await
        .unwrap();
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "counters.load.example.com"},
        "spec": {"group": "load.example.com", "scope": "Namespaced", "names": {"plural": "counters", "singular": "counter", "kind": "Counter"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {"count": {"type": "integer"}}}}}}}]}});
    if crds.get_opt("counters.load.example.com").await.unwrap().is_none() {
        crds.create(&PostParams::default(), &serde_json::from_value(crd).unwrap()).await.unwrap();
    }
    let ar = ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("load.example.com", "v1", "Counter"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    for i in 0..OBJECTS {
        let obj: DynamicObject = serde_json::from_value(json!({"apiVersion": "load.example.com/v1", "kind": "Counter", "metadata": {"name": format!("c{i:03}")}, "spec": {"count": 0}})).unwrap();
        api.create(&PostParams::default(), &obj).await.unwrap();
    }

    // Two watchers record, per object, the sequence of counts they see.
    let mut seen = vec![];
    let mut watchers = vec![];
    for _ in 0..2 {
        let log: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
        seen.push(log.clone());
        let api = api.clone();
        watchers.push(tokio::spawn(async move {
            let mut stream = Box::pin(watcher(api, watcher::Config::default()));
            while let Some(ev) = stream.next().await {
                if let Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) = ev {
                    let count = o.data["spec"]["count"].as_i64().unwrap_or(-1);
                    log.lock().unwrap().entry(o.metadata.name.clone().unwrap()).or_default().push(count);
                }
            }
        }));
    }

    let conflicts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = vec![];
    for w in 0..WRITERS {
        let api = api.clone();
        let conflicts = conflicts.clone();
        writers.push(tokio::spawn(async move {
            for j in 0..INCREMENTS_PER_WRITER {
                // Writers overlap: each object is incremented by ten different writers.
                let name = format!("c{:03}", (w * 4 + j * 5) % OBJECTS);
                loop {
                    let mut obj = api.get(&name).await.unwrap();
                    let count = obj.data["spec"]["count"].as_i64().unwrap();
                    obj.data["spec"]["count"] = json!(count + 1);
                    match api.replace(&name, &PostParams::default(), &obj).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) => panic!("replace {name}: {e}"),
                    }
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }

    let mut expected: HashMap<String, i64> = HashMap::new();
    for w in 0..WRITERS {
        for j in 0..INCREMENTS_PER_WRITER {
            *expected.entry(format!("c{:03}", (w * 4 + j * 5) % OBJECTS)).or_default() += 1;
        }
    }
    let list = api.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), OBJECTS);
    let total: i64 = list.items.iter().map(|o| o.data["spec"]["count"].as_i64().unwrap()).sum();
    assert_eq!(total, (WRITERS * INCREMENTS_PER_WRITER) as i64, "every increment landed");
    for o in &list.items {
        let name = o.metadata.name.clone().unwrap();
        assert_eq!(o.data["spec"]["count"].as_i64().unwrap(), *expected.get(&name).unwrap_or(&0), "{name}");
        assert_eq!(
            o.metadata.generation,
            Some(1 + expected.get(&name).copied().unwrap_or(0)),
            "{name}: one generation per change"
        );
    }

    // Watchers converge on the final values, having seen each object's counts in increasing order.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for log in &seen {
        loop {
            let done = {
                let l = log.lock().unwrap();
                list.items.iter().all(|o| {
                    l.get(o.metadata.name.as_ref().unwrap()).and_then(|v| v.last())
                        == o.data["spec"]["count"].as_i64().as_ref()
                })
            };
            if done {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "a watcher did not converge on the final values");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (name, counts) in log.lock().unwrap().iter() {
            assert!(counts.windows(2).all(|w| w[0] < w[1]), "{name}: events out of order or repeated: {counts:?}");
        }
    }
    for w in watchers {
        w.abort();
    }
    eprintln!("{} conflicts retried", conflicts.load(std::sync::atomic::Ordering::Relaxed));
}
