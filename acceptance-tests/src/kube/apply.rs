//! Field ownership and server-side apply.
//!
//! Every write records which manager owns which fields, kept in the object's `metadata.managedFields` as
//! valid `FieldsV1` (`{"f:data":{"f:a":{}}}`, `k:{"name":"x"}` for keyed list items, `v:"x"` for set items,
//! `.` for an item itself). An apply merges the applied configuration into the live object, removes fields its
//! manager applied before and omits now (unless another manager owns them), and refuses with 409
//! FieldManagerConflict when another manager owns a field it would set to a different value, unless forced.
//! Non-apply writes hand the fields they change to their manager and take them from everyone else.
//!
//! Lists of built-in kinds are associative where strategic merge knows their key ([`super::patch::merge_key`]);
//! every other list, and every list of a custom resource, is atomic. This module changes JSON values only.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::errors::{cause, ApiError, ApiResult};
use super::patch::merge_key;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pe {
    /// A map field.
    F(String),
    /// A keyed list item, by the JSON of its key fields.
    K(String),
    /// A set list item, by its JSON value.
    V(String),
}

pub type FieldPath = Vec<Pe>;
pub type FieldSet = BTreeSet<FieldPath>;

/// One `managedFields` entry.
#[derive(Debug, Clone)]
pub struct Managed {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

const RESET_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "generateName",
];

/// The part of `obj` whose fields are owned by main-resource writes (or by `/status` writes when `status_only`).
fn ownable(obj: &Value, status_subresource: bool, status_only: bool) -> Value {
    let mut out = Map::new();
    let Some(m) = obj.as_object() else { return Value::Object(out) };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if status_only => {
                out.insert(k.clone(), v.clone());
            }
            _ if status_only => {}
            "status" if status_subresource => {}
            "metadata" => {
                let meta: Map<String, Value> = v
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .filter(|(k, _)| !RESET_METADATA.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                if !meta.is_empty() {
                    out.insert(k.clone(), Value::Object(meta));
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn item_key(key: &str, item: &Value) -> Option<String> {
    item.get(key).map(|id| serde_json::to_string(&json!({ key: id })).expect("json"))
}

fn walk(v: &Value, field: &str, path: &mut FieldPath, builtin: bool, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(Pe::F(k.clone()));
                walk(child, k, path, builtin, out);
                path.pop();
            }
        }
        Value::Array(items) if builtin && !items.is_empty() => match merge_key(field, items) {
            Some("") => {
                for item in items {
                    let mut p = path.clone();
                    p.push(Pe::V(serde_json::to_string(item).expect("json")));
                    out.insert(p);
                }
            }
            Some(key) if items.iter().all(|i| i.get(key).is_some()) => {
                for item in items {
                    let id = item_key(key, item).expect("checked");
                    path.push(Pe::K(id));
                    out.insert(path.clone());
                    if let Value::Object(m) = item {
                        for (k, child) in m {
                            path.push(Pe::F(k.clone()));
                            walk(child, k, path, builtin, out);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        },
        _ => {
            if !path.is_empty() {
                out.insert(path.clone());
            }
        }
    }
}

/// The leaf fields (and keyed items) set in `obj`.
pub fn fields_of(obj: &Value, builtin: bool, status_subresource: bool, status_only: bool) -> FieldSet {
    let mut out = FieldSet::new();
    walk(&ownable(obj, status_subresource, status_only), "", &mut vec![], builtin, &mut out);
    out
}

fn find_item<'a>(items: &'a [Value], pe: &Pe) -> Option<(usize, &'a Value)> {
    match pe {
        Pe::K(id) => {
            let want: Value = serde_json::from_str(id).ok()?;
            let (k, v) = want.as_object()?.iter().next()?;
            items.iter().enumerate().find(|(_, i)| i.get(k) == Some(v))
        }
        Pe::V(val) => {
            let want: Value = serde_json::from_str(val).ok()?;
            items.iter().enumerate().find(|(_, i)| **i == want)
        }
        Pe::F(_) => None,
    }
}

/// The value at `path`, if present.
pub fn value_at<'a>(obj: &'a Value, path: &[Pe]) -> Option<&'a Value> {
    let mut cur = obj;
    for pe in path {
        cur = match (pe, cur) {
            (Pe::F(k), Value::Object(m)) => m.get(k)?,
            (_, Value::Array(items)) => find_item(items, pe)?.1,
            _ => return None,
        };
    }
    Some(cur)
}

/// Removes the field or item at `path`, then any map it leaves empty.
fn remove_at(obj: &mut Value, path: &[Pe]) {
    let Some((last, parent_path)) = path.split_last() else { return };
    let mut cur = &mut *obj;
    for pe in parent_path {
        let next = match (pe, cur) {
            (Pe::F(k), Value::Object(m)) => m.get_mut(k),
            (_, Value::Array(items)) => {
                let idx = find_item(items, pe).map(|(i, _)| i);
                match idx {
                    Some(i) => items.get_mut(i),
                    None => None,
                }
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match (last, cur) {
        (Pe::F(k), Value::Object(m)) => {
            m.remove(k);
        }
        (_, Value::Array(items)) => {
            if let Some((i, _)) = find_item(items, last) {
                items.remove(i);
            }
        }
        _ => {}
    }
    // Drop a map the removal emptied (not the object's top-level sections).
    if parent_path.len() > 1 {
        if let Some(Value::Object(m)) = value_at(obj, parent_path) {
            if m.is_empty() {
                remove_at(obj, parent_path);
            }
        }
    }
}

/// Merges an applied configuration into the live object (maps deep, keyed lists by key, the rest replaced).
fn apply_merge(live: &mut Value, applied: &Value, field: &str, builtin: bool) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                match l.get_mut(k) {
                    Some(existing) if !v.is_null() => apply_merge(existing, v, k, builtin),
                    _ => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) if builtin => match merge_key(field, a) {
            Some("") => {
                for item in a {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
            }
            Some(key) if a.iter().all(|i| i.get(key).is_some()) && l.iter().all(|i| i.get(key).is_some()) => {
                for item in a {
                    match l.iter_mut().find(|i| i.get(key) == item.get(key)) {
                        Some(existing) => apply_merge(existing, item, "", builtin),
                        None => l.push(item.clone()),
                    }
                }
            }
            _ => *l = a.clone(),
        },
        (live, applied) => *live = applied.clone(),
    }
}

fn is_prefix(a: &[Pe], b: &[Pe]) -> bool {
    a.len() <= b.len() && b[..a.len()] == *a
}

/// Prints a path as the API server does: `.spec.containers[name="app"].image`.
pub fn path_string(path: &[Pe]) -> String {
    let mut s = String::new();
    for pe in path {
        match pe {
            Pe::F(k) => {
                s.push('.');
                s.push_str(k);
            }
            Pe::K(id) => {
                let v: Value = serde_json::from_str(id).unwrap_or(Value::Null);
                let inner = v
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
                    .unwrap_or_default();
                s.push_str(&format!("[{inner}]"));
            }
            Pe::V(val) => s.push_str(&format!("[={val}]")),
        }
    }
    s
}

fn manager_label(m: &Managed) -> String {
    if m.operation == "Apply" {
        format!("\"{}\"", m.manager)
    } else {
        format!("\"{}\" using {}", m.manager, m.api_version)
    }
}

/// What an apply needs to know about the resource.
pub struct ApplyCtx<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub builtin: bool,
    pub status_subresource: bool,
    pub api_version: &'a str,
    pub now: &'a str,
    pub group: &'a str,
    pub plural: &'a str,
    pub name: &'a str,
}

/// Server-side apply of `applied` onto `live` (`None` to create). Returns the new object and its managers.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    mut managers: Vec<Managed>,
    ctx: &ApplyCtx,
) -> ApiResult<(Value, Vec<Managed>)> {
    let applied_fields = fields_of(applied, ctx.builtin, ctx.status_subresource, false);
    let mut merged = live.cloned().unwrap_or_else(|| json!({}));
    let applied_body = ownable(applied, ctx.status_subresource, false);
    apply_merge(&mut merged, &applied_body, "", ctx.builtin);
    for key in ["apiVersion", "kind"] {
        if let Some(v) = applied.get(key) {
            merged[key] = v.clone();
        }
    }
    if live.is_none() {
        for key in ["name", "namespace", "generateName"] {
            if let Some(v) = applied.pointer(&format!("/metadata/{key}")) {
                merged["metadata"][key] = v.clone();
            }
        }
    }

    // Conflicts: another manager owns an overlapping field whose value the apply changes.
    let live_value = live.cloned().unwrap_or(Value::Null);
    let mut conflicts: Vec<(usize, FieldPath)> = vec![];
    for (i, m) in managers.iter().enumerate() {
        if (m.manager == ctx.manager && m.operation == "Apply") || !m.subresource.is_empty() {
            continue;
        }
        for q in &m.fields {
            let overlaps = applied_fields.iter().any(|p| is_prefix(p, q) || is_prefix(q, p));
            if overlaps && value_at(&live_value, q) != value_at(&merged, q) {
                conflicts.push((i, q.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !ctx.force {
            let causes: Vec<_> = conflicts
                .iter()
                .map(|(i, q)| {
                    cause(
                        "FieldManagerConflict",
                        &path_string(q),
                        format!("conflict with {}", manager_label(&managers[*i])),
                    )
                })
                .collect();
            let message = if causes.len() == 1 {
                format!("Apply failed with 1 conflict: {}: {}", causes[0].message, causes[0].field)
            } else {
                format!(
                    "Apply failed with {} conflicts: {}",
                    causes.len(),
                    causes.iter().map(|c| format!("{}: {}", c.message, c.field)).collect::<Vec<_>>().join("\n")
                )
            };
            return Err(ApiError::conflict_message(ctx.group, ctx.plural, ctx.name, message, causes));
        }
        for (i, q) in &conflicts {
            managers[*i].fields.remove(q);
        }
    }

    // Fields this manager applied before and omits now, owned by nobody else, are removed.
    let previous = managers
        .iter()
        .find(|m| m.manager == ctx.manager && m.operation == "Apply" && m.subresource.is_empty())
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    let mut dropped: Vec<&FieldPath> = previous.difference(&applied_fields).collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in dropped {
        let shared =
            managers.iter().any(|m| !(m.manager == ctx.manager && m.operation == "Apply") && m.fields.contains(p));
        let still_applied = applied_fields.iter().any(|a| is_prefix(p, a));
        if !shared && !still_applied {
            remove_at(&mut merged, p);
        }
    }

    managers.retain(|m| !(m.manager == ctx.manager && m.operation == "Apply" && m.subresource.is_empty()));
    managers.push(Managed {
        manager: ctx.manager.to_string(),
        operation: "Apply".into(),
        api_version: ctx.api_version.to_string(),
        time: ctx.now.to_string(),
        subresource: String::new(),
        fields: applied_fields,
    });
    managers.retain(|m| !m.fields.is_empty());
    Ok((merged, managers))
}

/// Ownership after a non-apply write from `old` (`None` on create) to `new` by `manager`.
#[allow(clippy::too_many_arguments)]
pub fn record_update(
    old: Option<&Value>,
    new: &Value,
    mut managers: Vec<Managed>,
    manager: &str,
    api_version: &str,
    now: &str,
    builtin: bool,
    status_subresource: bool,
    subresource: &str,
) -> Vec<Managed> {
    let status_only = subresource == "status";
    let old_fields = old.map(|o| fields_of(o, builtin, status_subresource, status_only)).unwrap_or_default();
    let new_fields = fields_of(new, builtin, status_subresource, status_only);
    let old_value = old.cloned().unwrap_or(Value::Null);
    let changed: FieldSet =
        new_fields.iter().filter(|p| value_at(&old_value, p) != value_at(new, p)).cloned().collect();
    let removed: FieldSet = old_fields.difference(&new_fields).cloned().collect();
    if changed.is_empty() && removed.is_empty() {
        return managers;
    }
    for m in managers.iter_mut() {
        m.fields.retain(|q| !changed.contains(q) && !removed.iter().any(|r| is_prefix(r, q)));
    }
    match managers.iter_mut().find(|m| m.manager == manager && m.operation == "Update" && m.subresource == subresource)
    {
        Some(m) => {
            m.fields.extend(changed);
            m.time = now.to_string();
            m.api_version = api_version.to_string();
        }
        None => managers.push(Managed {
            manager: manager.to_string(),
            operation: "Update".into(),
            api_version: api_version.to_string(),
            time: now.to_string(),
            subresource: subresource.to_string(),
            fields: changed,
        }),
    }
    managers.retain(|m| !m.fields.is_empty());
    managers
}

/// FieldsV1 JSON for a field set.
pub fn to_fields_v1(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for pe in path {
            let key = match pe {
                Pe::F(k) => format!("f:{k}"),
                Pe::K(id) => format!("k:{id}"),
                Pe::V(v) => format!("v:{v}"),
            };
            node = node.entry(key).or_insert_with(|| Value::Object(Map::new())).as_object_mut().expect("object");
        }
        if matches!(path.last(), Some(Pe::K(_)) | Some(Pe::V(_))) && !matches!(path.last(), Some(Pe::V(_))) {
            node.insert(".".into(), json!({}));
        }
    }
    Value::Object(root)
}

fn parse_fields_v1(node: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    let Some(m) = node.as_object() else { return };
    if m.is_empty() {
        if !path.is_empty() {
            out.insert(path.clone());
        }
        return;
    }
    for (k, child) in m {
        if k == "." {
            out.insert(path.clone());
            continue;
        }
        let pe = if let Some(f) = k.strip_prefix("f:") {
            Pe::F(f.to_string())
        } else if let Some(id) = k.strip_prefix("k:") {
            Pe::K(id.to_string())
        } else if let Some(v) = k.strip_prefix("v:") {
            Pe::V(v.to_string())
        } else {
            continue;
        };
        path.push(pe);
        parse_fields_v1(child, path, out);
        path.pop();
    }
}

/// Reads `metadata.managedFields` of a stored object.
pub fn managers_of(obj: &Value) -> Vec<Managed> {
    let Some(entries) = obj.pointer("/metadata/managedFields").and_then(Value::as_array) else { return vec![] };
    entries
        .iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let mut fields = FieldSet::new();
            if let Some(f) = e.get("fieldsV1") {
                parse_fields_v1(f, &mut vec![], &mut fields);
            }
            Managed {
                manager: s("manager"),
                operation: s("operation"),
                api_version: s("apiVersion"),
                time: s("time"),
                subresource: s("subresource"),
                fields,
            }
        })
        .collect()
}

/// Writes `managers` into `metadata.managedFields` (removing the key when there are none).
pub fn set_managers(obj: &mut Value, managers: &[Managed]) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if managers.is_empty() {
        meta.remove("managedFields");
        return;
    }
    let entries: Vec<Value> = managers
        .iter()
        .map(|m| {
            let mut e = json!({
                "manager": m.manager,
                "operation": m.operation,
                "apiVersion": m.api_version,
                "time": m.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&m.fields),
            });
            if !m.subresource.is_empty() {
                e["subresource"] = json!(m.subresource);
            }
            e
        })
        .collect();
    meta.insert("managedFields".into(), Value::Array(entries));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(manager: &'a str, force: bool) -> ApplyCtx<'a> {
        ApplyCtx {
            manager,
            force,
            builtin: true,
            status_subresource: false,
            api_version: "v1",
            now: "2026-01-01T00:00:00Z",
            group: "",
            plural: "configmaps",
            name: "c",
        }
    }

    #[test]
    fn apply_creates_changes_and_prunes_its_own_fields() {
        let first =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        let (obj, m) = apply(None, &first, vec![], &ctx("kubectl", false)).unwrap();
        assert_eq!(obj["data"], json!({"a": "1", "b": "2"}));
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "3"}});
        let (obj, m) = apply(Some(&obj), &second, m, &ctx("kubectl", false)).unwrap();
        assert_eq!(obj["data"], json!({"a": "3"}));
        assert_eq!(m.len(), 1);
        assert_eq!(to_fields_v1(&m[0].fields), json!({"f:data": {"f:a": {}}}));
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
        let managers = record_update(None, &live, vec![], "kubectl-client-side-apply", "v1", "t", true, false, "");
        let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
        let err = apply(Some(&live), &applied, managers.clone(), &ctx("helm", false)).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.causes[0].field, ".data.a");
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.a"
        );
        // Same value is shared, not a conflict.
        let (_, shared) = apply(Some(&live), &live, managers.clone(), &ctx("helm", false)).unwrap();
        assert_eq!(shared.len(), 2);
        let (obj, m) = apply(Some(&live), &applied, managers, &ctx("helm", true)).unwrap();
        assert_eq!(obj["data"]["a"], "2");
        assert_eq!(m.len(), 1, "forced apply took the only field: {m:?}");
    }

    #[test]
    fn keyed_lists_are_owned_per_item() {
        let deploy = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "a:1"}]}}}});
        let fields = fields_of(&deploy, true, true, false);
        let v1 = to_fields_v1(&fields);
        assert_eq!(v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:image"], json!({}));
        let mut parsed = FieldSet::new();
        parse_fields_v1(&v1, &mut vec![], &mut parsed);
        assert_eq!(parsed, fields);
    }
}
