//! Validation the API server does before storing: object names, label keys and values, and for custom
//! resources the CRD's structural schema (unknown fields pruned, or refused under `fieldValidation=Strict`;
//! required fields and basic types checked).
//!
//! Built-in kinds are not checked against their full schemas; only names and labels are.

use serde_json::Value;

use super::errors::{cause, Cause};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_label)
}

/// Which name rule a kind follows.
fn name_rule(kind: &str) -> NameRule {
    match kind {
        "Namespace" | "Service" => NameRule::Label,
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

enum NameRule {
    Label,
    Subdomain,
    PathSegment,
}

/// Problems with `metadata.name`, `metadata.labels` and `metadata.annotations`.
pub fn validate_metadata(kind: &str, obj: &Value) -> Vec<Cause> {
    let mut causes = vec![];
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        causes.push(cause("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"));
    } else {
        let problem = match name_rule(kind) {
            NameRule::Label if !is_label(name) => Some(LABEL_MSG.to_string()),
            NameRule::Subdomain if !is_subdomain(name) => Some(SUBDOMAIN_MSG.to_string()),
            NameRule::PathSegment if name == "." || name == ".." || name.contains('/') || name.contains('%') => {
                Some("may not be '.' or '..' and may not contain '/' or '%'".to_string())
            }
            _ => None,
        };
        if let Some(p) = problem {
            causes.push(cause("FieldValueInvalid", "metadata.name", format!("Invalid value: {name:?}: {p}")));
        }
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let field = "metadata.labels";
            match v.as_str() {
                Some(s) if !valid_label_value(s) => causes.push(cause(
                    "FieldValueInvalid",
                    field,
                    format!("Invalid value: {s:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                )),
                None => causes.push(cause("FieldValueInvalid", field, format!("Invalid value: label {k:?} must be a string"))),
                _ => {}
            }
            if !valid_qualified_name(k) {
                causes.push(cause("FieldValueInvalid", field, format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
            }
        }
    }
    if let Some(annotations) = obj.pointer("/metadata/annotations").and_then(Value::as_object) {
        for (k, v) in annotations {
            if !valid_qualified_name(k) {
                causes.push(cause(
                    "FieldValueInvalid",
                    "metadata.annotations",
                    format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'"),
                ));
            }
            if !v.is_string() {
                causes.push(cause(
                    "FieldValueInvalid",
                    "metadata.annotations",
                    format!("Invalid value: annotation {k:?} must be a string"),
                ));
            }
        }
    }
    causes
}

fn valid_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn valid_qualified_name(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(is_subdomain) && !name.is_empty() && name.len() <= 63 && valid_label_value(name)
}

/// Checks and prunes a custom resource against its structural schema. Unknown fields are removed; with
/// `strict` they are reported instead (as `unknown field "spec.x"`). Returns (invalid causes, strict errors).
pub fn check_custom(obj: &mut Value, schema: &Value, strict: bool) -> (Vec<Cause>, Vec<String>) {
    let mut causes = vec![];
    let mut unknown = vec![];
    if let Some(m) = obj.as_object_mut() {
        for (k, v) in m.iter_mut() {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            let sub = schema.pointer(&format!("/properties/{k}"));
            match sub {
                Some(s) => walk(v, s, k, strict, &mut causes, &mut unknown),
                None if schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true) => {}
                None => unknown.push(k.clone()),
            }
        }
        if !strict {
            let props = schema.get("properties").and_then(Value::as_object);
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
            if !preserve {
                m.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "metadata") || props.is_some_and(|p| p.contains_key(k))
                });
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    causes.push(cause("FieldValueRequired", r, "Required value"));
                }
            }
        }
    }
    if !strict {
        unknown.clear();
    }
    (causes, unknown)
}

fn walk(v: &mut Value, schema: &Value, path: &str, strict: bool, causes: &mut Vec<Cause>, unknown: &mut Vec<String>) {
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match (ty, &*v) {
        (None, _) => true,
        (_, Value::Null) => schema.get("nullable").and_then(Value::as_bool) == Some(true),
        (Some("object"), Value::Object(_))
        | (Some("array"), Value::Array(_))
        | (Some("string"), Value::String(_))
        | (Some("boolean"), Value::Bool(_)) => true,
        (Some("integer"), Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Some("number"), Value::Number(_)) => true,
        _ => {
            schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
                && (v.is_string() || v.is_number())
        }
    };
    if !ok {
        causes.push(cause(
            "FieldValueTypeInvalid",
            path,
            format!("Invalid value: {}: {path} in body must be of type {}", short(v), ty.unwrap_or("?")),
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            let list = allowed.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
            causes.push(cause(
                "FieldValueNotSupported",
                path,
                format!("Unsupported value: {}: supported values: {list}", short(v)),
            ));
        }
    }
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    if let Some(n) = v.as_f64() {
        if let Some(min) = bound("minimum").filter(|min| n < *min) {
            causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: {}: {path} in body should be greater than or equal to {min}", short(v)),
            ));
        }
        if let Some(max) = bound("maximum").filter(|max| n > *max) {
            causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: {}: {path} in body should be less than or equal to {max}", short(v)),
            ));
        }
    }
    if let (Value::Array(items), Some(min)) = (&*v, schema.get("minItems").and_then(Value::as_u64)) {
        if (items.len() as u64) < min {
            causes.push(cause(
                "FieldValueInvalid",
                path,
                format!("Invalid value: {}: {path} in body should have at least {min} items", items.len()),
            ));
        }
    }
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
            let mut drop = vec![];
            for (k, child) in m.iter_mut() {
                let child_path = format!("{path}.{k}");
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    walk(child, s, &child_path, strict, causes, unknown);
                } else if let Some(a) = additional.filter(|a| a.is_object()) {
                    walk(child, a, &child_path, strict, causes, unknown);
                } else if !preserve && (props.is_some() || additional.is_some_and(|a| a == &Value::Bool(false))) {
                    unknown.push(child_path);
                    drop.push(k.clone());
                }
            }
            if !strict {
                for k in drop {
                    m.remove(&k);
                }
            }
            if let Some(req) = schema.get("required").and_then(Value::as_array) {
                for r in req.iter().filter_map(Value::as_str) {
                    if !m.contains_key(r) {
                        causes.push(cause("FieldValueRequired", &format!("{path}.{r}"), "Required value"));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), strict, causes, unknown);
                }
            }
        }
        _ => {}
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) => "object".into(),
        Value::Array(_) => "array".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_their_kind_rule() {
        let obj = |n: &str| json!({"metadata": {"name": n}});
        assert!(validate_metadata("ConfigMap", &obj("a.b-c")).is_empty());
        assert_eq!(validate_metadata("ConfigMap", &obj("Bad_Name"))[0].field, "metadata.name");
        assert!(!validate_metadata("Namespace", &obj("a.b")).is_empty());
        assert!(validate_metadata("ClusterRole", &obj("system:aggregate")).is_empty());
        assert!(!validate_metadata("ConfigMap", &json!({"metadata": {"name": "x", "labels": {"a": "bad value"}}}))
            .is_empty());
    }

    #[test]
    fn custom_resources_are_pruned_or_refused() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["domains"], "properties": {
            "domains": {"type": "array", "items": {"type": "string"}}, "mode": {"type": "string", "enum": ["enforce", "audit"]}}}}});
        let mut obj = json!({"spec": {"domains": ["a"], "extra": 1}, "junk": true});
        let (causes, unknown) = check_custom(&mut obj, &schema, false);
        assert!(causes.is_empty() && unknown.is_empty());
        assert_eq!(obj, json!({"spec": {"domains": ["a"]}}));
        let mut strict = json!({"spec": {"domains": ["a"], "extra": 1}});
        let (_, unknown) = check_custom(&mut strict, &schema, true);
        assert_eq!(unknown, vec!["spec.extra".to_string()]);
        let mut bad = json!({"spec": {"domains": "a", "mode": "off"}});
        let (causes, _) = check_custom(&mut bad, &schema, false);
        assert_eq!(causes.len(), 2, "{causes:?}");
        let mut missing = json!({"spec": {}});
        assert_eq!(check_custom(&mut missing, &schema, false).0[0].field, "spec.domains");
    }
}

const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Top-level fields of the built-in kinds (besides apiVersion, kind and metadata).
fn builtin_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "ConfigMap" => &["data", "binaryData", "immutable"],
        "Secret" => &["data", "stringData", "type", "immutable"],
        "ServiceAccount" => &["secrets", "imagePullSecrets", "automountServiceAccountToken"],
        "Endpoints" => &["subsets"],
        "Role" => &["rules"],
        "ClusterRole" => &["rules", "aggregationRule"],
        "RoleBinding" | "ClusterRoleBinding" => &["subjects", "roleRef"],
        "Event" => &[
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "series",
            "action",
            "related",
            "reportingComponent",
            "reportingInstance",
        ],
        "Namespace"
        | "Node"
        | "Service"
        | "Pod"
        | "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "Job"
        | "CustomResourceDefinition" => &["spec", "status"],
        _ => return None,
    })
}

/// Unknown top-level and `metadata` fields of a built-in object. They are dropped (the default, `Warn` and
/// `Ignore`), or reported for `fieldValidation=Strict` as `unknown field "x"`. Fields below `spec` are not
/// checked.
pub fn check_builtin(kind: &str, obj: &mut Value, strict: bool) -> Vec<String> {
    let Some(allowed) = builtin_fields(kind) else { return vec![] };
    let mut unknown = vec![];
    if let Some(m) = obj.as_object_mut() {
        for k in m.keys() {
            if !matches!(k.as_str(), "apiVersion" | "kind" | "metadata") && !allowed.contains(&k.as_str()) {
                unknown.push(k.clone());
            }
        }
        if !strict {
            m.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata") || allowed.contains(&k.as_str()));
        }
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in meta.keys() {
                if !OBJECT_META.contains(&k.as_str()) {
                    unknown.push(format!("metadata.{k}"));
                }
            }
            if !strict {
                meta.retain(|k, _| OBJECT_META.contains(&k.as_str()));
            }
        }
    }
    if strict {
        unknown
    } else {
        vec![]
    }
}

#[cfg(test)]
mod builtin_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_unknown_fields_are_dropped_or_refused() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "lables": {}}, "datta": {}, "data": {"k": "v"}});
        let mut strict = cm.clone();
        assert_eq!(
            check_builtin("ConfigMap", &mut strict, true),
            vec!["datta".to_string(), "metadata.lables".to_string()]
        );
        assert!(check_builtin("ConfigMap", &mut cm, false).is_empty());
        assert_eq!(cm, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}));
        let mut deploy = json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"anything": 1}});
        assert!(check_builtin("Deployment", &mut deploy, true).is_empty(), "below spec is not checked");
    }
}

/// Fields the API server refuses to change on update: workload selectors, a Job's template, a Secret's type,
/// and the contents of an `immutable` ConfigMap or Secret.
pub fn immutable_changes(kind: &str, old: &Value, new: &Value) -> Vec<Cause> {
    let paths: &[&str] = match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" => &["/spec/selector"],
        "Job" => &["/spec/selector", "/spec/template", "/spec/completions"],
        "Secret" => &["/type"],
        _ => &[],
    };
    let mut causes = vec![];
    for p in paths {
        if old.pointer(p) != new.pointer(p) {
            let field = p.trim_start_matches('/').replace('/', ".");
            let value = new.pointer(p).map(|v| v.to_string()).unwrap_or_else(|| "null".into());
            causes.push(cause("FieldValueInvalid", &field, format!("Invalid value: {value}: field is immutable")));
        }
    }
    if matches!(kind, "ConfigMap" | "Secret") && old.get("immutable").and_then(Value::as_bool) == Some(true) {
        for f in ["data", "binaryData", "immutable"] {
            if old.get(f) != new.get(f) {
                causes.push(cause("FieldValueForbidden", f, "Forbidden: field is immutable when `immutable` is set"));
            }
        }
    }
    causes
}

#[cfg(test)]
mod immutable_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_job_templates_and_immutable_configmaps() {
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}, "replicas": 1}});
        let mut scaled = d.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(immutable_changes("Deployment", &d, &scaled).is_empty());
        let mut moved = d.clone();
        moved["spec"]["selector"]["matchLabels"]["app"] = json!("b");
        assert_eq!(immutable_changes("Deployment", &d, &moved)[0].field, "spec.selector");
        let cm = json!({"immutable": true, "data": {"a": "1"}});
        assert_eq!(immutable_changes("ConfigMap", &cm, &json!({"immutable": true, "data": {"a": "2"}})).len(), 1);
        assert!(immutable_changes("ConfigMap", &json!({"data": {"a": "1"}}), &json!({"data": {"a": "2"}})).is_empty());
    }
}
