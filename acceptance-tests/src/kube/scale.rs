//! The `/scale` subresource of Deployments and ReplicaSets (`kubectl scale`): an `autoscaling/v1` Scale view
//! of `spec.replicas`, read with GET and written with PUT or a patch. Writes go through the store's update
//! rules like any other, recorded for the `scale` subresource.

use hyper::http::request::Parts;
use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult};
use super::handlers::{manager_of, Query, Target};
use super::patch::{json_patch, merge_patch, strategic_merge};
use super::resources::ResourceDef;
use super::server::App;
use super::store::Writer;

/// Whether the kind has a `/scale` subresource.
pub fn has_scale(def: &ResourceDef) -> bool {
    def.builtin && matches!(def.kind.as_str(), "Deployment" | "ReplicaSet")
}

fn selector_string(obj: &Value) -> String {
    let mut terms: Vec<String> = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    terms.sort();
    terms.join(",")
}

/// The Scale view of an object.
pub fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector_string(obj)},
    })
}

/// PUT or PATCH of `/scale`: the new Scale becomes the object's `spec.replicas`.
pub fn write(app: &App, t: &Target, name: &str, q: &Query, parts: &Parts, body: &[u8], put: bool) -> ApiResult<Value> {
    let ns = t.namespace.clone().unwrap_or_default();
    let manager = manager_of(q, parts);
    let mut st = app.store.lock();
    let current =
        st.get(&t.def, &ns, name).cloned().ok_or_else(|| ApiError::not_found(&t.def.group, &t.def.plural, name))?;
    let body: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("decoding Scale: {e}")))?;
    let scale = if put {
        let given = body.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
        if !given.is_empty() && Some(given) != current.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
            return Err(ApiError::conflict(&t.def.group, &t.def.plural, name));
        }
        body
    } else {
        let mut scale = scale_of(&current);
        let ct = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        match ct.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => merge_patch(&mut scale, &body),
            "application/json-patch+json" => json_patch(&mut scale, &body)?,
            "application/strategic-merge-patch+json" => strategic_merge(&mut scale, &body)?,
            other => return Err(ApiError::unsupported_media_type(other)),
        }
        scale
    };
    let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).filter(|r| *r >= 0).ok_or_else(|| {
        ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![super::errors::cause(
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: must be greater than or equal to 0",
            )],
        )
    })?;
    let mut obj = current.clone();
    obj["spec"]["replicas"] = json!(replicas);
    let api_version = t.def.api_version(&t.version);
    let writer = Writer {
        manager: &manager,
        api_version: &api_version,
        subresource: "scale",
        dry_run: q.get("dryRun") == Some("All"),
        managed: None,
    };
    let updated = st.update(&t.def, &ns, name, obj, &writer)?;
    Ok(scale_of(&updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_of_a_deployment() {
        let d = json!({"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7"},
                       "spec": {"replicas": 3, "selector": {"matchLabels": {"tier": "f", "app": "web"}}}, "status": {"replicas": 2}});
        let s = scale_of(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"]["replicas"], 2);
        assert_eq!(s["status"]["selector"], "app=web,tier=f");
        assert_eq!(s["metadata"]["resourceVersion"], "7");
    }
}
