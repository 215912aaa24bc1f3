//! `meta.k8s.io/v1` Table responses for human-readable `kubectl get`: the usual columns of the common kinds,
//! a CRD's `additionalPrinterColumns` (simple JSONPaths), and Name/Age for everything else. Rows carry
//! PartialObjectMetadata so `-A` and `--show-labels` work.

use serde_json::{json, Value};

use super::resources::ResourceDef;

fn age(ts: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(ts) else { return "<unknown>".into() };
    let s = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn col(name: &str, ty: &str, priority: i64) -> Value {
    json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": name, "priority": priority})
}

fn s(v: &Value, pointer: &str) -> String {
    match v.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn n(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// Evaluates the simple JSONPaths printer columns use: `.a.b`, `.a[0].b`.
fn json_path(obj: &Value, path: &str) -> Value {
    let mut cur = obj;
    for part in path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = match cur.get(name) {
            Some(v) => v,
            None => return Value::Null,
        };
        if let Some(i) = index {
            cur = match cur.get(i) {
                Some(v) => v,
                None => return Value::Null,
            };
        }
    }
    cur.clone()
}

fn columns_and_cells(def: &ResourceDef, obj: &Value) -> (Vec<Value>, Vec<Value>) {
    let name = json!(s(obj, "/metadata/name"));
    let created = age(&s(obj, "/metadata/creationTimestamp"));
    match (def.builtin, def.kind.as_str()) {
        (true, "Pod") => {
            let statuses =
                obj.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
            let total = obj.pointer("/spec/containers").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum();
            let status = if obj.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating".to_string()
            } else {
                s(obj, "/status/phase")
            };
            let status = if status == "Succeeded" { "Completed".to_string() } else { status };
            (
                vec![
                    col("Name", "string", 0),
                    col("Ready", "string", 0),
                    col("Status", "string", 0),
                    col("Restarts", "string", 0),
                    col("Age", "string", 0),
                    col("IP", "string", 1),
                    col("Node", "string", 1),
                ],
                vec![
                    name,
                    json!(format!("{ready}/{total}")),
                    json!(status),
                    json!(restarts.to_string()),
                    json!(created),
                    json!(s(obj, "/status/podIP")),
                    json!(s(obj, "/spec/nodeName")),
                ],
            )
        }
        (true, "Deployment") => (
            vec![
                col("Name", "string", 0),
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(format!("{}/{}", n(obj, "/status/readyReplicas"), n(obj, "/spec/replicas"))),
                json!(n(obj, "/status/updatedReplicas")),
                json!(n(obj, "/status/availableReplicas")),
                json!(created),
            ],
        ),
        (true, "ReplicaSet") => (
            vec![
                col("Name", "string", 0),
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(n(obj, "/spec/replicas")),
                json!(n(obj, "/status/replicas")),
                json!(n(obj, "/status/readyReplicas")),
                json!(created),
            ],
        ),
        (true, "Job") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Completions", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(if obj.pointer("/status/completionTime").is_some() { "Complete" } else { "Running" }),
                json!(format!("{}/{}", n(obj, "/status/succeeded"), n(obj, "/spec/completions").max(1))),
                json!(created),
            ],
        ),
        (true, "ConfigMap") => (
            vec![col("Name", "string", 0), col("Data", "string", 0), col("Age", "string", 0)],
            vec![
                name,
                json!(
                    obj.get("data").and_then(Value::as_object).map(|m| m.len()).unwrap_or(0)
                        + obj.get("binaryData").and_then(Value::as_object).map(|m| m.len()).unwrap_or(0)
                ),
                json!(created),
            ],
        ),
        (true, "Secret") => (
            vec![col("Name", "string", 0), col("Type", "string", 0), col("Data", "string", 0), col("Age", "string", 0)],
            vec![
                name,
                json!(s(obj, "/type")),
                json!(obj.get("data").and_then(Value::as_object).map(|m| m.len()).unwrap_or(0)),
                json!(created),
            ],
        ),
        (true, "Namespace") => (
            vec![col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)],
            vec![name, json!(s(obj, "/status/phase")), json!(created)],
        ),
        (true, "Node") => (
            vec![
                col("Name", "string", 0),
                col("Status", "string", 0),
                col("Roles", "string", 0),
                col("Age", "string", 0),
                col("Version", "string", 0),
            ],
            vec![
                name,
                json!("Ready"),
                json!("<none>"),
                json!(created),
                json!(s(obj, "/status/nodeInfo/kubeletVersion")),
            ],
        ),
        (true, "Service") => (
            vec![
                col("Name", "string", 0),
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                col("Age", "string", 0),
            ],
            vec![
                name,
                json!(s(obj, "/spec/type")),
                json!(s(obj, "/spec/clusterIP")),
                json!("<none>"),
                json!(obj
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map(|p| p
                        .iter()
                        .map(|p| format!("{}/{}", p["port"], p["protocol"].as_str().unwrap_or("TCP")))
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default()),
                json!(created),
            ],
        ),
        (true, "CustomResourceDefinition") => (
            vec![col("Name", "string", 0), col("Created At", "date", 0)],
            vec![name, json!(s(obj, "/metadata/creationTimestamp"))],
        ),
        (false, _) if !def.printer_columns.is_empty() => {
            let mut cols = vec![col("Name", "string", 0)];
            let mut cells = vec![name];
            for c in &def.printer_columns {
                cols.push(json!({"name": c["name"], "type": c.get("type").cloned().unwrap_or(json!("string")), "format": c.get("format").cloned().unwrap_or(json!("")), "description": c.get("description").cloned().unwrap_or(json!("")), "priority": c.get("priority").cloned().unwrap_or(json!(0))}));
                let v = json_path(obj, c["jsonPath"].as_str().unwrap_or_default());
                cells.push(if c["type"] == "date" { json!(v.as_str().map(age).unwrap_or_default()) } else { v });
            }
            if !def.printer_columns.iter().any(|c| c["name"] == "Age") {
                cols.push(col("Age", "date", 0));
                cells.push(json!(created));
            }
            (cols, cells)
        }
        _ => (vec![col("Name", "string", 0), col("Age", "string", 0)], vec![name, json!(created)]),
    }
}

/// A Table of `items` (already presented in the requested version).
pub fn table(def: &ResourceDef, items: &[Value], rv: &str) -> Value {
    let mut columns = None;
    let rows: Vec<Value> = items
        .iter()
        .map(|obj| {
            let (cols, cells) = columns_and_cells(def, obj);
            columns.get_or_insert(cols);
            let mut metadata = obj.get("metadata").cloned().unwrap_or(json!({}));
            if let Some(m) = metadata.as_object_mut() {
                m.remove("managedFields");
            }
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}})
        })
        .collect();
    let columns = columns.unwrap_or_else(|| columns_and_cells(def, &json!({})).0);
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv}, "columnDefinitions": columns, "rows": rows})
}
