//! Defaults and derived fields the API server sets on write: namespace finalizers and phase, CRD status
//! (NamesAccepted, Established, storedVersions), pod and workload defaults, Job selectors, Service cluster IPs,
//! Secret `stringData`. Only what clients and the controllers read is defaulted; the rest is left absent.

use serde_json::{json, Value};

use super::resources::ResourceDef;

/// Called once on create, after metadata is set.
pub fn on_create(def: &ResourceDef, obj: &mut Value) {
    on_write(def, obj);
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
    match (def.group.as_str(), def.kind.as_str()) {
        ("", "Namespace") => {
            obj["spec"]["finalizers"] = json!(["kubernetes"]);
            obj["status"] = json!({"phase": "Active"});
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            obj["status"] = crd_status(obj);
        }
        ("", "Pod") => {
            pod_spec(&mut obj["spec"]);
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        ("apps", "Deployment") => {
            let spec = &mut obj["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            pod_spec(&mut spec["template"]["spec"]);
        }
        ("apps", "ReplicaSet") => {
            default(&mut obj["spec"], "replicas", json!(1));
            pod_spec(&mut obj["spec"]["template"]["spec"]);
        }
        ("apps", "DaemonSet") => {
            let spec = &mut obj["spec"];
            default(spec, "revisionHistoryLimit", json!(10));
            default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}),
            );
            pod_spec(&mut spec["template"]["spec"]);
        }
        ("batch", "Job") => {
            let spec = &mut obj["spec"];
            default(spec, "parallelism", json!(1));
            default(spec, "completions", json!(1));
            default(spec, "backoffLimit", json!(6));
            default(spec, "completionMode", json!("NonIndexed"));
            default(spec, "suspend", json!(false));
            if spec.get("manualSelector").and_then(Value::as_bool) != Some(true) {
                spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                let labels = &mut spec["template"]["metadata"]["labels"];
                labels["batch.kubernetes.io/controller-uid"] = json!(uid);
                labels["batch.kubernetes.io/job-name"] = json!(name);
                labels["controller-uid"] = json!(uid);
                labels["job-name"] = json!(name);
            }
            pod_spec(&mut spec["template"]["spec"]);
            if spec["template"]["spec"].get("restartPolicy").is_none_or(|r| r == "Always") {
                spec["template"]["spec"]["restartPolicy"] = json!("Never");
            }
        }
        ("", "Service") => {
            let spec = &mut obj["spec"];
            default(spec, "type", json!("ClusterIP"));
            default(spec, "sessionAffinity", json!("None"));
            if spec.get("clusterIP").is_none_or(|c| c.as_str() == Some("")) {
                let ip = cluster_ip(&uid);
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    default(p, "protocol", json!("TCP"));
                    if p.get("targetPort").is_none() {
                        p["targetPort"] = p["port"].clone();
                    }
                }
            }
            obj["status"] = json!({"loadBalancer": {}});
        }
        _ => {}
    }
}

/// Called on every update, after the stored status has been carried over.
pub fn on_update(def: &ResourceDef, old: &Value, obj: &mut Value, subresource: &str) {
    if subresource.is_empty() {
        on_write(def, obj);
    }
    if def.group == "apiextensions.k8s.io" && subresource.is_empty() {
        let mut status = crd_status(obj);
        // storedVersions only grows; conditions keep their transition times.
        let mut stored: Vec<Value> =
            old.pointer("/status/storedVersions").and_then(Value::as_array).cloned().unwrap_or_default();
        for v in status["storedVersions"].as_array().cloned().unwrap_or_default() {
            if !stored.contains(&v) {
                stored.push(v);
            }
        }
        status["storedVersions"] = Value::Array(stored);
        if let Some(c) = old.pointer("/status/conditions") {
            status["conditions"] = c.clone();
        }
        obj["status"] = status;
    }
}

/// Called on every create and update of the main resource.
pub fn on_write(def: &ResourceDef, obj: &mut Value) {
    if def.group.is_empty() && def.kind == "Secret" {
        if let Some(string_data) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
            use base64::Engine;
            if let Some(m) = string_data.as_object() {
                for (k, v) in m {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
                    obj["data"][k] = json!(encoded);
                }
            }
        }
        default(obj, "type", json!("Opaque"));
    }
}

fn default(obj: &mut Value, key: &str, value: Value) {
    if !obj.is_object() {
        *obj = json!({});
    }
    if obj.get(key).is_none_or(Value::is_null) {
        obj[key] = value;
    }
}

fn pod_spec(spec: &mut Value) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "securityContext", json!({}));
    if let Some(sa) = spec.get("serviceAccount").cloned() {
        default(spec, "serviceAccountName", sa);
    }
    if let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
        for c in containers {
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default().to_string();
            let latest = !image.contains(':') || image.ends_with(":latest");
            default(c, "imagePullPolicy", json!(if latest { "Always" } else { "IfNotPresent" }));
            default(c, "terminationMessagePath", json!("/dev/termination-log"));
            default(c, "terminationMessagePolicy", json!("File"));
            default(c, "resources", json!({}));
        }
    }
}

/// A stable cluster IP in 10.96.0.0/12 derived from the uid.
fn cluster_ip(uid: &str) -> String {
    let h = super::controllers::fnv32a(uid.as_bytes());
    format!("10.{}.{}.{}", 96 + (h >> 24) % 16, (h >> 8) & 0xff, (h & 0xff).clamp(2, 254))
}

/// The status a CRD gets at once: names accepted, established.
pub fn crd_status(crd: &Value) -> Value {
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let kind = names.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    if names.get("singular").is_none() {
        names["singular"] = json!(kind.to_lowercase());
    }
    if names.get("listKind").is_none() {
        names["listKind"] = json!(format!("{kind}List"));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let now = super::store::now();
    json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
        ],
        "storedVersions": stored,
    })
}
