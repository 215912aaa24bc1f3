//! Patch bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch for the built-in
//! kinds, with the `$patch`, `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` directives.
//!
//! Strategic merge needs each list's patch strategy; upstream takes it from the Go struct tags. The table in
//! [`merge_key`] holds the keys of the lists the served built-in kinds have; a list not in it is replaced, as
//! upstream does for lists without a strategy. This module transforms JSON only; it knows nothing of storage.

use serde_json::{Map, Value};

use super::errors::{ApiError, ApiResult};

/// The merge key of a built-in list field, or `Some("")` for a primitive list merged as a set.
/// `items` lets `ports` tell container ports (`containerPort`) from service ports (`port`).
pub fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                Some("containerPort")
            } else {
                Some("port")
            }
        }
        "finalizers" => Some(""),
        _ => None,
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn parent_and_key<'a>(doc: &'a mut Value, path: &str) -> ApiResult<(&'a mut Value, String)> {
    let (parent, last) =
        path.rsplit_once('/').ok_or_else(|| ApiError::bad_request(format!("invalid JSON patch path {path:?}")))?;
    let target = if parent.is_empty() { Some(doc) } else { doc.pointer_mut(parent) };
    let target = target.ok_or_else(|| ApiError::invalid_patch(format!("doc is missing path: {path:?}")))?;
    Ok((target, unescape(last)))
}

fn add(doc: &mut Value, path: &str, value: Value) -> ApiResult<()> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, key) = parent_and_key(doc, path)?;
    match parent {
        Value::Object(m) => {
            m.insert(key, value);
            Ok(())
        }
        Value::Array(a) => {
            if key == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = key.parse().map_err(|_| ApiError::invalid_patch(format!("invalid array index {key:?}")))?;
            if i > a.len() {
                return Err(ApiError::invalid_patch(format!("add operation index out of bounds: {i}")));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(ApiError::invalid_patch(format!("doc is missing path: {path:?}"))),
    }
}

fn remove(doc: &mut Value, path: &str) -> ApiResult<Value> {
    let (parent, key) = parent_and_key(doc, path)?;
    match parent {
        Value::Object(m) => m
            .remove(&key)
            .ok_or_else(|| ApiError::invalid_patch(format!("unable to remove nonexistent key: {key}: missing value"))),
        Value::Array(a) => {
            let i: usize = key.parse().map_err(|_| ApiError::invalid_patch(format!("invalid array index {key:?}")))?;
            if i >= a.len() {
                return Err(ApiError::invalid_patch(format!("remove operation index out of bounds: {i}")));
            }
            Ok(a.remove(i))
        }
        _ => Err(ApiError::invalid_patch(format!("doc is missing path: {path:?}"))),
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(doc: &mut Value, ops: &Value) -> ApiResult<()> {
    let ops = ops.as_array().ok_or_else(|| ApiError::bad_request("json patch body must be a list of operations"))?;
    for op in ops {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid_patch("operation is missing path"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| ApiError::invalid_patch(format!("{kind} operation is missing value")))
        };
        match kind {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                if doc.pointer(path).is_none() {
                    return Err(ApiError::invalid_patch(format!(
                        "replace operation does not apply: doc is missing key: {path}: missing value"
                    )));
                }
                *doc.pointer_mut(path).expect("checked") = value()?;
            }
            "move" => {
                let from = op
                    .get("from")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid_patch("move operation is missing from"))?;
                let v = remove(doc, from)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let from = op
                    .get("from")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid_patch("copy operation is missing from"))?;
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| ApiError::invalid_patch(format!("copy from missing path {from}")))?;
                add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(ApiError::invalid_patch(format!("testing value {path} failed: test failed")));
                }
            }
            other => return Err(ApiError::invalid_patch(format!("unexpected operation {other:?}"))),
        }
    }
    Ok(())
}

impl ApiError {
    /// A patch that cannot be applied to the object: 422, as upstream.
    pub fn invalid_patch(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::bad_request(message);
        e.code = 422;
        e.reason = "Invalid";
        e
    }
}

/// Strategic merge patch of `patch` into `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) -> ApiResult<()> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = p.clone();
        replacement.remove("$patch");
        *target = Value::Object(replacement);
        return Ok(());
    }
    if p.get("$patch").and_then(Value::as_str) == Some("delete") {
        *target = Value::Object(Map::new());
        return Ok(());
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    // $retainKeys: drop every key of the target not listed.
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        target.as_object_mut().expect("object").retain(|k, _| keep.contains(&k.as_str()));
    }
    let mut orders = vec![];
    for (k, v) in p {
        if k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((field.to_string(), v.clone()));
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let remove: Vec<&Value> = v.as_array().map(|a| a.iter().collect()).unwrap_or_default();
            if let Some(Value::Array(list)) = target.get_mut(field) {
                list.retain(|item| !remove.contains(&item));
            }
            continue;
        }
        let t = target.as_object_mut().expect("object");
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match v {
            Value::Object(_) => {
                let entry = t.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(entry, v)?;
            }
            Value::Array(items) => {
                let existing = t.get(k).and_then(Value::as_array).cloned();
                t.insert(k.clone(), merge_list(k, existing, items)?);
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    for (field, order) in orders {
        if let (Some(Value::Array(list)), Some(order)) = (target.get_mut(&field), order.as_array()) {
            reorder(&field, list, order);
        }
    }
    Ok(())
}

fn merge_list(field: &str, existing: Option<Vec<Value>>, patch: &[Value]) -> ApiResult<Value> {
    // `[{"$patch": "replace"}, ...]` replaces the list with the remaining items.
    if patch.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        return Ok(Value::Array(patch.iter().filter(|i| i.get("$patch").is_none()).cloned().collect()));
    }
    let Some(key) = merge_key(field, patch) else {
        return Ok(Value::Array(patch.iter().map(strip_directives).collect()));
    };
    let mut list = existing.unwrap_or_default();
    if key.is_empty() {
        for item in patch {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
        return Ok(Value::Array(list));
    }
    for item in patch {
        let Some(id) = item.get(key) else {
            return Err(ApiError::invalid_patch(format!("map: {item} does not contain declared merge key: {key}")));
        };
        let pos = list.iter().position(|l| l.get(key) == Some(id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(pos) = pos {
                list.remove(pos);
            }
            continue;
        }
        match pos {
            Some(pos) => strategic_merge(&mut list[pos], item)?,
            None => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge(&mut fresh, item)?;
                list.push(fresh);
            }
        }
    }
    Ok(Value::Array(list))
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip_directives(v))).collect(),
        ),
        other => other.clone(),
    }
}

fn reorder(field: &str, list: &mut [Value], order: &[Value]) {
    let key = merge_key(field, order);
    let id = |v: &Value| -> Value {
        match key {
            Some(k) if !k.is_empty() => v.get(k).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(id).collect();
    list.sort_by_key(|item| wanted.iter().position(|w| *w == id(item)).unwrap_or(usize::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_removes_nulls_and_replaces_lists() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_operations() {
        let mut doc = json!({"data": {"a": "1"}, "list": [1, 2]});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/data/b", "value": "2"},
                {"op": "replace", "path": "/data/a", "value": "x"},
                {"op": "remove", "path": "/list/0"},
                {"op": "add", "path": "/list/-", "value": 9},
                {"op": "test", "path": "/data/b", "value": "2"}
            ]),
        )
        .unwrap();
        assert_eq!(doc, json!({"data": {"a": "x", "b": "2"}, "list": [2, 9]}));
        assert!(json_patch(&mut doc, &json!([{"op": "replace", "path": "/nope/x", "value": 1}])).is_err());
        assert!(json_patch(&mut doc, &json!([{"op": "test", "path": "/data/a", "value": "y"}])).is_err());
    }

    #[test]
    fn strategic_merge_by_key_and_directives() {
        let mut doc = json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}], "args": ["x"]},
                             "metadata": {"finalizers": ["f1"]}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}], "args": ["y"]},
                    "metadata": {"finalizers": ["f2"]}}),
        )
        .unwrap();
        assert_eq!(
            doc["spec"]["containers"],
            json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}])
        );
        assert_eq!(doc["spec"]["args"], json!(["y"]));
        assert_eq!(doc["metadata"]["finalizers"], json!(["f1", "f2"]));

        strategic_merge(&mut doc, &json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}], "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}]},
                                          "metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}}))
        .unwrap();
        assert_eq!(doc["spec"]["containers"], json!([{"name": "c", "image": "c:1"}, {"name": "b", "image": "b:2"}]));
        assert_eq!(doc["metadata"]["finalizers"], json!(["f2"]));

        let mut strategy = json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}});
        strategic_merge(&mut strategy, &json!({"strategy": {"type": "Recreate", "$retainKeys": ["type"]}})).unwrap();
        assert_eq!(strategy, json!({"strategy": {"type": "Recreate"}}));

        let mut replaced = json!({"data": {"a": "1", "b": "2"}});
        strategic_merge(&mut replaced, &json!({"data": {"$patch": "replace", "c": "3"}})).unwrap();
        assert_eq!(replaced, json!({"data": {"c": "3"}}));
    }
}
