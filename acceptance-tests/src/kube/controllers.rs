//! The controller and kubelet stand-in, so the objects users look at behave as on a cluster: namespace
//! defaults (`default` ServiceAccount, `kube-root-ca.crt`) and termination, garbage collection through
//! ownerReferences (background, foreground, orphan), Deployment → ReplicaSet → Pods (named as Kubernetes names
//! them), DaemonSet pods per node, Jobs that complete, and pods that are scheduled, get an IP from their node's
//! podCIDR, and turn Running and Ready. Status is written the way kstatus reads it.
//!
//! It runs whole passes under the store lock after each change, writing only when something differs, and never
//! answers requests itself. Containers are not run: a pod of a Job succeeds, every other pod is Running.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_json::{json, Value};

use super::apply::{managers_of, record_update, set_managers};
use super::resources::ResourceDef;
use super::store::{now, owner_uids, random_suffix, DeleteOptions, State, Store};

/// FNV-1a, 32 bit: the hash Kubernetes uses for pod-template-hash.
pub fn fnv32a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in data {
        h ^= *b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    h
}

/// `pod-template-hash` of a template: the decimal hash, each digit mapped to the safe alphabet.
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let h = fnv32a(serde_json::to_string(template).unwrap_or_default().as_bytes());
    h.to_string().bytes().map(|b| ALPHABET[b as usize % ALPHABET.len()] as char).collect()
}

fn meta(obj: &Value, field: &str) -> String {
    obj.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn def(st: &State, group: &str, plural: &str) -> ResourceDef {
    st.resource(group, plural).cloned().expect("built-in resource")
}

/// Writes `new` over the stored object as `manager`, recording ownership; returns whether it changed.
fn write(st: &mut State, d: &ResourceDef, old: &Value, mut new: Value, manager: &str, subresource: &str) -> bool {
    if *old == new {
        return false;
    }
    let ns = meta(old, "namespace");
    let name = meta(old, "name");
    let managers = record_update(
        Some(old),
        &new,
        managers_of(old),
        manager,
        &d.api_version(d.preferred_version()),
        &now(),
        d.builtin,
        d.status_subresource,
        subresource,
    );
    set_managers(&mut new, &managers);
    st.commit_update(d, &ns, &name, old.clone(), new, false).is_ok()
}

fn create(st: &mut State, d: &ResourceDef, ns: &str, obj: Value, manager: &str) -> bool {
    let writer = super::store::Writer { manager, api_version: "v1", subresource: "", dry_run: false, managed: None };
    st.create(d, ns, obj, &writer).is_ok()
}

fn delete(st: &mut State, d: &ResourceDef, ns: &str, name: &str) -> bool {
    st.delete(d, ns, name, &DeleteOptions { propagation: Some("Background".into()), ..Default::default() }).is_ok()
}

fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta(owner, "name"), "uid": meta(owner, "uid"),
        "controller": true, "blockOwnerDeletion": true,
    })
}

fn owned_by<'a>(st: &'a State, d: &ResourceDef, owner: &Value) -> Vec<&'a Value> {
    let uid = meta(owner, "uid");
    st.list(d, Some(&meta(owner, "namespace"))).into_iter().filter(|o| owner_uids(o).contains(&uid)).collect()
}

fn int(v: &Value, pointer: &str, default: i64) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(default)
}

/// One pass of every controller. Returns whether it changed anything.
pub fn reconcile(st: &mut State) -> bool {
    let mut changed = false;
    changed |= namespace_defaults(st);
    changed |= terminate_namespaces(st);
    changed |= garbage_collect(st);
    changed |= deployments(st);
    changed |= replicasets(st);
    changed |= daemonsets(st);
    changed |= jobs(st);
    changed |= kubelet(st);
    changed
}

/// Each active namespace has a `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap.
pub fn namespace_defaults(st: &mut State) -> bool {
    let mut changed = false;
    let ns_def = def(st, "", "namespaces");
    let sa = def(st, "", "serviceaccounts");
    let cm = def(st, "", "configmaps");
    let active: Vec<String> = st
        .list(&ns_def, None)
        .into_iter()
        .filter(|n| n.pointer("/metadata/deletionTimestamp").is_none())
        .map(|n| meta(n, "name"))
        .collect();
    let ca = st.ca_pem.clone();
    for ns in active {
        if st.get(&sa, &ns, "default").is_none() {
            changed |= create(
                st,
                &sa,
                &ns,
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
                "kube-controller-manager",
            );
        }
        if st.get(&cm, &ns, "kube-root-ca.crt").is_none() {
            let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "The CA that signed the API server certificate, for clients inside the cluster."}}, "data": {"ca.crt": ca}});
            changed |= create(st, &cm, &ns, obj, "kube-root-ca-cert-publisher");
        }
    }
    changed
}

/// A terminating namespace loses its contents, then its `kubernetes` finalizer, then itself.
fn terminate_namespaces(st: &mut State) -> bool {
    let mut changed = false;
    let ns_def = def(st, "", "namespaces");
    let terminating: Vec<Value> = st
        .list(&ns_def, None)
        .into_iter()
        .filter(|n| n.pointer("/metadata/deletionTimestamp").is_some())
        .cloned()
        .collect();
    for ns in terminating {
        let name = meta(&ns, "name");
        let namespaced: Vec<ResourceDef> = st.resources().iter().filter(|r| r.namespaced).cloned().collect();
        let mut remaining = 0;
        for d in &namespaced {
            let objs: Vec<(String, bool)> = st
                .list(d, Some(&name))
                .into_iter()
                .map(|o| (meta(o, "name"), o.pointer("/metadata/deletionTimestamp").is_some()))
                .collect();
            for (obj_name, deleting) in objs {
                if !deleting {
                    changed |= delete(st, d, &name, &obj_name);
                }
            }
            remaining += st.list(d, Some(&name)).len();
        }
        if remaining == 0 {
            let mut done = ns.clone();
            done["spec"]["finalizers"] = json!([]);
            done["status"]["phase"] = json!("Terminating");
            changed |= write(st, &ns_def, &ns, done, "kube-controller-manager", "finalize");
        }
    }
    changed
}

/// Dependents whose owners are all gone are deleted; foreground and orphan deletions are completed.
fn garbage_collect(st: &mut State) -> bool {
    let mut changed = false;
    let uids: BTreeSet<String> = st.all().map(|(_, v)| meta(v, "uid")).collect();
    let deleting_owners: BTreeMap<String, Vec<String>> = st
        .all()
        .filter(|(_, v)| v.pointer("/metadata/deletionTimestamp").is_some())
        .map(|(_, v)| {
            (
                meta(v, "uid"),
                v.pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let dependents: Vec<(String, Value)> =
        st.all().filter(|(_, v)| !owner_uids(v).is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut has_dependents: BTreeSet<String> = BTreeSet::new();
    for (key, obj) in dependents {
        let Some(d) = st.resources().iter().find(|r| r.key() == key).cloned() else { continue };
        let owners = owner_uids(&obj);
        let ns = meta(&obj, "namespace");
        let name = meta(&obj, "name");
        if owners.iter().all(|u| !uids.contains(u)) {
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                changed |= delete(st, &d, &ns, &name);
            }
            continue;
        }
        // Orphaning: drop the references to owners being deleted with the orphan finalizer.
        let orphaning: Vec<&String> = owners
            .iter()
            .filter(|u| deleting_owners.get(*u).is_some_and(|f| f.iter().any(|x| x == "orphan")))
            .collect();
        if !orphaning.is_empty() {
            let mut new = obj.clone();
            if let Some(refs) = new.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                refs.retain(|r| !orphaning.iter().any(|u| r.get("uid").and_then(Value::as_str) == Some(u.as_str())));
            }
            if new.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|r| r.is_empty()) {
                new["metadata"].as_object_mut().expect("metadata").remove("ownerReferences");
            }
            changed |= write(st, &d, &obj, new, "kube-controller-manager", "");
            continue;
        }
        for u in &owners {
            has_dependents.insert(u.clone());
            if deleting_owners.get(u).is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion"))
                && obj.pointer("/metadata/deletionTimestamp").is_none()
            {
                changed |= delete(st, &d, &ns, &name);
            }
        }
    }
    // Owners whose dependents are gone (or orphaned) lose the GC finalizers.
    for (uid, finalizers) in &deleting_owners {
        if !finalizers.iter().any(|f| f == "foregroundDeletion" || f == "orphan") || has_dependents.contains(uid) {
            continue;
        }
        let Some((key, obj)) = st.find_by_uid(uid).map(|(k, v)| (k.clone(), v.clone())) else { continue };
        let Some(d) = st.resources().iter().find(|r| r.key() == key).cloned() else { continue };
        let mut new = obj.clone();
        if let Some(f) = new.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
            f.retain(|x| x != "foregroundDeletion" && x != "orphan");
        }
        changed |= write(st, &d, &obj, new, "kube-controller-manager", "");
    }
    changed
}

fn deployments(st: &mut State) -> bool {
    let mut changed = false;
    let dd = def(st, "apps", "deployments");
    let rsd = def(st, "apps", "replicasets");
    let deploys: Vec<Value> = st
        .list(&dd, None)
        .into_iter()
        .filter(|d| d.pointer("/metadata/deletionTimestamp").is_none())
        .cloned()
        .collect();
    for deploy in deploys {
        let ns = meta(&deploy, "namespace");
        let name = meta(&deploy, "name");
        let replicas = int(&deploy, "/spec/replicas", 1);
        let template = deploy.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let rs_name = format!("{name}-{hash}");
        let owned: Vec<Value> = owned_by(st, &rsd, &deploy).into_iter().cloned().collect();
        let max_revision = owned
            .iter()
            .filter_map(|r| {
                r.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<i64>().ok())
            })
            .max()
            .unwrap_or(0);
        let mut new_rs = owned.iter().find(|r| meta(r, "name") == rs_name).cloned();
        if new_rs.is_none() {
            let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
            labels["pod-template-hash"] = json!(hash);
            let mut selector = deploy.pointer("/spec/selector").cloned().unwrap_or(json!({}));
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut tmpl = template.clone();
            tmpl["metadata"]["labels"] = labels.clone();
            let rs = json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "labels": labels, "ownerReferences": [owner_ref(&deploy)],
                             "annotations": {"deployment.kubernetes.io/revision": (max_revision + 1).to_string(),
                                             "deployment.kubernetes.io/desired-replicas": replicas.to_string()}},
                "spec": {"replicas": replicas, "selector": selector, "template": tmpl},
            });
            changed |= create(st, &rsd, &ns, rs, "kube-controller-manager");
            new_rs = st.get(&rsd, &ns, &rs_name).cloned();
        }
        let Some(new_rs) = new_rs else { continue };
        if int(&new_rs, "/spec/replicas", 1) != replicas {
            let mut scaled = new_rs.clone();
            scaled["spec"]["replicas"] = json!(replicas);
            changed |= write(st, &rsd, &new_rs, scaled, "kube-controller-manager", "");
        }
        // Old ReplicaSets scale to zero; beyond revisionHistoryLimit they go.
        let limit = int(&deploy, "/spec/revisionHistoryLimit", 10) as usize;
        let mut old: Vec<Value> = owned.iter().filter(|r| meta(r, "name") != rs_name).cloned().collect();
        for rs in &old {
            if int(rs, "/spec/replicas", 1) != 0 {
                let mut scaled = rs.clone();
                scaled["spec"]["replicas"] = json!(0);
                changed |= write(st, &rsd, rs, scaled, "kube-controller-manager", "");
            }
        }
        if old.len() > limit {
            old.sort_by_key(|r| {
                r.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(0)
            });
            for rs in &old[..old.len() - limit] {
                changed |= delete(st, &rsd, &ns, &meta(rs, "name"));
            }
        }
        // Status from the ReplicaSets.
        let owned: Vec<Value> = owned_by(st, &rsd, &deploy).into_iter().cloned().collect();
        let sum = |f: &str| owned.iter().map(|r| int(r, &format!("/status/{f}"), 0)).sum::<i64>();
        let new_rs = st.get(&rsd, &ns, &rs_name).cloned().unwrap_or(json!({}));
        let updated = int(&new_rs, "/status/replicas", 0);
        let available = sum("availableReplicas");
        let ready = sum("readyReplicas");
        let total = sum("replicas");
        let complete = updated == replicas && available >= replicas && total == replicas;
        let old_status = deploy.get("status").cloned().unwrap_or(json!({}));
        let cond = |t: &str, status: &str, reason: &str, message: String| {
            let prev = old_status
                .get("conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == t).cloned());
            let same = prev.as_ref().is_some_and(|p| p["status"] == status && p["reason"] == reason);
            let transition = prev
                .as_ref()
                .filter(|_| same)
                .and_then(|p| p.get("lastTransitionTime").cloned())
                .unwrap_or(json!(now()));
            let update =
                prev.as_ref().filter(|_| same).and_then(|p| p.get("lastUpdateTime").cloned()).unwrap_or(json!(now()));
            json!({"type": t, "status": status, "reason": reason, "message": message, "lastTransitionTime": transition, "lastUpdateTime": update})
        };
        let mut status = json!({
            "observedGeneration": int(&deploy, "/metadata/generation", 1),
            "replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available,
        });
        if total - available > 0 {
            status["unavailableReplicas"] = json!(total - available);
        }
        let available_cond = if available >= replicas {
            cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
        } else {
            cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        let progressing = if complete {
            cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else {
            cond("Progressing", "True", "ReplicaSetUpdated", format!("ReplicaSet \"{rs_name}\" is progressing."))
        };
        status["conditions"] = json!([available_cond, progressing]);
        for k in ["readyReplicas", "availableReplicas", "updatedReplicas", "replicas"] {
            if status[k] == json!(0) {
                status.as_object_mut().expect("status").remove(k);
            }
        }
        let mut new = deploy.clone();
        new["status"] = status;
        // Keep transition times stable when nothing else changed.
        if new["status"] != old_status {
            changed |= write(st, &dd, &deploy, new, "kube-controller-manager", "status");
        }
    }
    changed
}

fn pod_from_template(owner: &Value, name: &str, template: &Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})), "ownerReferences": [owner_ref(owner)]},
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        pod["metadata"]["annotations"] = a.clone();
    }
    pod
}

fn replicasets(st: &mut State) -> bool {
    let mut changed = false;
    let rsd = def(st, "apps", "replicasets");
    let pd = def(st, "", "pods");
    let sets: Vec<Value> = st
        .list(&rsd, None)
        .into_iter()
        .filter(|r| r.pointer("/metadata/deletionTimestamp").is_none())
        .cloned()
        .collect();
    for rs in sets {
        let ns = meta(&rs, "namespace");
        let want = int(&rs, "/spec/replicas", 1);
        let pods: Vec<Value> = owned_by(st, &pd, &rs)
            .into_iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .cloned()
            .collect();
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        for _ in pods.len() as i64..want {
            let name = format!("{}-{}", meta(&rs, "name"), random_suffix(5));
            changed |= create(st, &pd, &ns, pod_from_template(&rs, &name, &template), "kube-controller-manager");
        }
        if pods.len() as i64 > want {
            let mut extra = pods.clone();
            extra.sort_by_key(|p| std::cmp::Reverse(meta(p, "creationTimestamp")));
            for p in extra.iter().take(pods.len() - want as usize) {
                changed |= delete(st, &pd, &ns, &meta(p, "name"));
            }
        }
        let pods: Vec<Value> = owned_by(st, &pd, &rs)
            .into_iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .cloned()
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let mut status = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": int(&rs, "/metadata/generation", 1)});
        for k in ["readyReplicas", "availableReplicas", "fullyLabeledReplicas"] {
            if status[k] == json!(0) {
                status.as_object_mut().expect("status").remove(k);
            }
        }
        let mut new = rs.clone();
        new["status"] = status;
        changed |= write(st, &rsd, &rs, new, "kube-controller-manager", "status");
    }
    changed
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn daemonsets(st: &mut State) -> bool {
    let mut changed = false;
    let dsd = def(st, "apps", "daemonsets");
    let pd = def(st, "", "pods");
    let nd = def(st, "", "nodes");
    let nodes: Vec<String> = st.list(&nd, None).into_iter().map(|n| meta(n, "name")).collect();
    let sets: Vec<Value> = st
        .list(&dsd, None)
        .into_iter()
        .filter(|r| r.pointer("/metadata/deletionTimestamp").is_none())
        .cloned()
        .collect();
    for ds in sets {
        let ns = meta(&ds, "namespace");
        let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let pods: Vec<Value> = owned_by(st, &pd, &ds).into_iter().cloned().collect();
        for node in &nodes {
            let current =
                pods.iter().find(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node.as_str()));
            let stale = current.is_some_and(|p| {
                p.pointer("/metadata/labels/controller-revision-hash").and_then(Value::as_str) != Some(hash.as_str())
            });
            if let (true, Some(p)) = (stale, current) {
                changed |= delete(st, &pd, &ns, &meta(p, "name"));
            }
            if current.is_none() || stale {
                let mut pod = pod_from_template(&ds, &format!("{}-{}", meta(&ds, "name"), random_suffix(5)), &template);
                pod["metadata"]["labels"]["controller-revision-hash"] = json!(hash);
                pod["metadata"]["labels"]["pod-template-generation"] =
                    json!(int(&ds, "/metadata/generation", 1).to_string());
                pod["spec"]["nodeName"] = json!(node);
                changed |= create(st, &pd, &ns, pod, "kube-controller-manager");
            }
        }
        let pods: Vec<Value> = owned_by(st, &pd, &ds)
            .into_iter()
            .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
            .cloned()
            .collect();
        let ready = pods.iter().filter(|p| pod_ready(p)).count();
        let updated = pods
            .iter()
            .filter(|p| {
                p.pointer("/metadata/labels/controller-revision-hash").and_then(Value::as_str) == Some(hash.as_str())
            })
            .count();
        let status = json!({
            "currentNumberScheduled": pods.len(), "desiredNumberScheduled": nodes.len(), "numberMisscheduled": 0,
            "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": updated,
            "observedGeneration": int(&ds, "/metadata/generation", 1),
        });
        let mut new = ds.clone();
        new["status"] = status;
        changed |= write(st, &dsd, &ds, new, "kube-controller-manager", "status");
    }
    changed
}

fn jobs(st: &mut State) -> bool {
    let mut changed = false;
    let jd = def(st, "batch", "jobs");
    let pd = def(st, "", "pods");
    let jobs: Vec<Value> = st
        .list(&jd, None)
        .into_iter()
        .filter(|j| j.pointer("/metadata/deletionTimestamp").is_none())
        .cloned()
        .collect();
    for job in jobs {
        let ns = meta(&job, "namespace");
        let completions = int(&job, "/spec/completions", 1);
        let parallelism = int(&job, "/spec/parallelism", 1);
        let complete = job.pointer("/status/completionTime").is_some();
        let suspended = job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
        let pods: Vec<Value> = owned_by(st, &pd, &job).into_iter().cloned().collect();
        let succeeded =
            pods.iter().filter(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Succeeded")).count()
                as i64;
        let active = pods
            .iter()
            .filter(|p| {
                !matches!(p.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded") | Some("Failed"))
            })
            .count() as i64;
        if !complete && !suspended {
            let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let missing = (completions - succeeded - active).min(parallelism - active).max(0);
            for _ in 0..missing {
                let name = format!("{}-{}", meta(&job, "name"), random_suffix(5));
                changed |= create(st, &pd, &ns, pod_from_template(&job, &name, &template), "kube-controller-manager");
            }
        }
        let old_status = job.get("status").cloned().unwrap_or(json!({}));
        let mut status = old_status.clone();
        if !suspended && status.get("startTime").is_none() {
            status["startTime"] = json!(now());
        }
        status["active"] = json!(active);
        status["succeeded"] = json!(succeeded);
        status["ready"] = json!(0);
        status["terminating"] = json!(0);
        status["uncountedTerminatedPods"] = json!({});
        if active == 0 {
            status.as_object_mut().expect("status").remove("active");
        }
        if succeeded == 0 {
            status.as_object_mut().expect("status").remove("succeeded");
        }
        if succeeded >= completions && !complete {
            let t = now();
            status["completionTime"] = json!(t);
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": t, "lastTransitionTime": t}
            ]);
        }
        if status != old_status {
            let mut new = job.clone();
            new["status"] = status;
            changed |= write(st, &jd, &job, new, "kube-controller-manager", "status");
        }
    }
    changed
}

fn cidr_hosts(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/')?;
    let base: u32 = addr.parse::<Ipv4Addr>().ok()?.into();
    let len: u32 = len.parse().ok()?;
    let size = 1u32 << (32 - len);
    Some((base + 2, base + size - 2))
}

/// Picks the next free address of `node`'s podCIDR after the last one handed out, so a restarted pod gets a
/// new address rather than its old one back.
fn allocate_ip(st: &mut State, node: &Value) -> Option<String> {
    let cidr = node.pointer("/spec/podCIDR").and_then(Value::as_str)?;
    let (first, last) = cidr_hosts(cidr)?;
    let pd = def(st, "", "pods");
    let used: BTreeSet<u32> = st
        .list(&pd, None)
        .into_iter()
        .filter_map(|p| p.pointer("/status/podIP").and_then(Value::as_str)?.parse::<Ipv4Addr>().ok())
        .map(u32::from)
        .collect();
    let name = meta(node, "name");
    let cursor = st.ip_cursor.get(&name).copied().unwrap_or(first - 1);
    let span = last - first + 1;
    for i in 1..=span {
        let candidate = first + (cursor.saturating_sub(first) + i) % span;
        if !used.contains(&candidate) {
            st.ip_cursor.insert(name, candidate);
            return Some(Ipv4Addr::from(candidate).to_string());
        }
    }
    None
}

/// Schedules pods, gives them an IP from their node's podCIDR, and runs them: Running and Ready, or
/// Succeeded for pods that do not restart.
fn kubelet(st: &mut State) -> bool {
    let mut changed = false;
    let pd = def(st, "", "pods");
    let nd = def(st, "", "nodes");
    let nodes: Vec<Value> = st.list(&nd, None).into_iter().cloned().collect();
    if nodes.is_empty() {
        return false;
    }
    let pods: Vec<Value> = st
        .list(&pd, None)
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .cloned()
        .collect();
    for pod in pods {
        let mut new = pod.clone();
        if new.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default().is_empty() {
            let counts: Vec<usize> = nodes
                .iter()
                .map(|n| {
                    st.list(&pd, None)
                        .iter()
                        .filter(|p| p.pointer("/spec/nodeName") == n.pointer("/metadata/name"))
                        .count()
                })
                .collect();
            let idx = (0..nodes.len()).min_by_key(|i| counts[*i]).unwrap_or(0);
            new["spec"]["nodeName"] = json!(meta(&nodes[idx], "name"));
            changed |= write(st, &pd, &pod, new.clone(), "kube-scheduler", "binding");
            continue;
        }
        if new.pointer("/status/podIP").is_some()
            && matches!(
                new.pointer("/status/phase").and_then(Value::as_str),
                Some("Running") | Some("Succeeded") | Some("Failed")
            )
        {
            continue;
        }
        let node_name = meta_str(&new, "/spec/nodeName");
        let Some(node) = nodes.iter().find(|n| meta(n, "name") == node_name) else { continue };
        let ip = match new.pointer("/status/podIP").and_then(Value::as_str) {
            Some(ip) => ip.to_string(),
            None => match allocate_ip(st, node) {
                Some(ip) => ip,
                None => continue,
            },
        };
        let host_ip = node.pointer("/status/addresses/0/address").cloned().unwrap_or(json!(""));
        new["status"] = running_status(&new, &ip, &host_ip, 0, None);
        changed |= write(st, &pd, &pod, new, "kubelet", "status");
    }
    changed
}

fn meta_str(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn running_status(pod: &Value, ip: &str, host_ip: &Value, restarts: i64, last: Option<Value>) -> Value {
    let t = now();
    let completes = pod.pointer("/spec/restartPolicy").and_then(Value::as_str).is_some_and(|r| r != "Always");
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let name = c.get("name").cloned().unwrap_or(json!(""));
            let image = c.get("image").cloned().unwrap_or(json!(""));
            let id = format!("containerd://{}", uuid::Uuid::new_v4().simple());
            let state = if completes {
                json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t, "containerID": id}})
            } else {
                json!({"running": {"startedAt": t}})
            };
            let mut s = json!({"name": name, "image": image, "imageID": image, "containerID": id, "ready": !completes, "started": !completes, "restartCount": restarts, "state": state});
            if let Some(l) = &last {
                s["lastState"] = l.clone();
            }
            s
        })
        .collect();
    let ready = if completes { "False" } else { "True" };
    let reason = if completes { json!("PodCompleted") } else { Value::Null };
    let mut conditions = vec![
        json!({"type": "PodReadyToStartContainers", "status": ready, "lastTransitionTime": t}),
        json!({"type": "Initialized", "status": "True", "lastTransitionTime": t}),
        json!({"type": "Ready", "status": ready, "lastTransitionTime": t}),
        json!({"type": "ContainersReady", "status": ready, "lastTransitionTime": t}),
        json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": t}),
    ];
    if completes {
        for c in conditions.iter_mut().filter(|c| c["type"] == "Ready" || c["type"] == "ContainersReady") {
            c["reason"] = reason.clone();
        }
    }
    json!({
        "phase": if completes { "Succeeded" } else { "Running" },
        "conditions": conditions,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": pod.pointer("/status/startTime").cloned().unwrap_or(json!(t)),
        "containerStatuses": containers,
        "qosClass": "BestEffort",
    })
}

/// Restarts a pod's sandbox as a node failure would: the containers restart and the pod gets a new IP from its
/// node's podCIDR. Returns the new IP.
pub fn fail_pod(st: &mut State, ns: &str, name: &str) -> Result<String, super::errors::ApiError> {
    let pd = def(st, "", "pods");
    let nd = def(st, "", "nodes");
    let pod = st.get(&pd, ns, name).cloned().ok_or_else(|| super::errors::ApiError::not_found("", "pods", name))?;
    let node = st
        .get(&nd, "", &meta_str(&pod, "/spec/nodeName"))
        .cloned()
        .ok_or_else(|| super::errors::ApiError::bad_request(format!("pod {ns}/{name} is not scheduled yet")))?;
    let ip = allocate_ip(st, &node).ok_or_else(|| super::errors::ApiError::internal("no free pod IP on the node"))?;
    let restarts = pod.pointer("/status/containerStatuses/0/restartCount").and_then(Value::as_i64).unwrap_or(0) + 1;
    let last = json!({"terminated": {"exitCode": 137, "reason": "Error", "startedAt": pod.pointer("/status/startTime").cloned().unwrap_or(json!(now())), "finishedAt": now()}});
    let host_ip = pod.pointer("/status/hostIP").cloned().unwrap_or(json!(""));
    let mut new = pod.clone();
    new["status"] = running_status(&pod, &ip, &host_ip, restarts, Some(last));
    write(st, &pd, &pod, new, "kubelet", "status");
    Ok(ip)
}

/// Runs the controllers after every change until the store stops.
pub async fn run(store: Arc<Store>) {
    let mut changes = store.changes();
    loop {
        {
            let mut st = store.lock();
            for _ in 0..20 {
                if !reconcile(&mut st) {
                    break;
                }
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
        // Let a burst of writes land before the next pass.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hash_uses_the_safe_alphabet() {
        let h = template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}));
        assert!(!h.is_empty() && h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{h}");
        assert_ne!(h, template_hash(&json!({"spec": {"containers": [{"name": "b"}]}})));
    }

    #[test]
    fn cidr_host_range() {
        let (first, last) = cidr_hosts("10.244.1.0/24").unwrap();
        assert_eq!(Ipv4Addr::from(first).to_string(), "10.244.1.2");
        assert_eq!(Ipv4Addr::from(last).to_string(), "10.244.1.254");
    }
}
