//! Label and field selectors, parsed once per request and matched against stored objects.
//!
//! The label grammar is apimachinery's: `=`, `==`, `!=`, `in (..)`, `notin (..)`, `key`, `!key`, and numeric
//! `>`/`<`, comma-separated and ANDed. Field selectors support `metadata.name`, `metadata.namespace`, and for
//! pods `spec.nodeName` and `status.phase`; anything else is rejected as the real server does.

use std::collections::BTreeMap;

use serde_json::Value;

use super::errors::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed label selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    name_ok && prefix_ok
}

fn valid_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric()))
}

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_set(rest: &str, sel: &str) -> ApiResult<Vec<String>> {
    let rest = rest.trim();
    let inner = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or_else(|| {
        ApiError::bad_request(format!("unable to parse requirement: found '{rest}', expected: '(' in selector {sel:?}"))
    })?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    for v in &values {
        if !valid_value(v) {
            return Err(ApiError::bad_request(format!("unable to parse requirement: invalid label value: {v:?}")));
        }
    }
    Ok(values)
}

impl LabelSelector {
    pub fn parse(sel: &str) -> ApiResult<LabelSelector> {
        let mut reqs = vec![];
        if sel.trim().is_empty() {
            return Ok(LabelSelector { reqs });
        }
        for term in split_terms(sel) {
            let t = term.trim();
            if t.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "unable to parse requirement: found '', expected: identifier in {sel:?}"
                )));
            }
            let req = if let Some(key) = t.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = t.split_once("!=") {
                Requirement::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = t.split_once("==") {
                Requirement::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = t.split_once('=') {
                Requirement::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = t.split_once('>') {
                Requirement::Gt(k.trim().to_string(), v.trim().parse().map_err(|_| ApiError::bad_request(format!("unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {v:?}")))?)
            } else if let Some((k, v)) = t.split_once('<') {
                Requirement::Lt(k.trim().to_string(), v.trim().parse().map_err(|_| ApiError::bad_request(format!("unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {v:?}")))?)
            } else if let Some(idx) = find_word(t, "notin") {
                Requirement::NotIn(t[..idx].trim().to_string(), parse_set(&t[idx + 5..], sel)?)
            } else if let Some(idx) = find_word(t, "in") {
                Requirement::In(t[..idx].trim().to_string(), parse_set(&t[idx + 2..], sel)?)
            } else {
                Requirement::Exists(t.to_string())
            };
            let (key, value) = match &req {
                Requirement::Eq(k, v) | Requirement::NotEq(k, v) => (k, Some(v)),
                Requirement::In(k, _)
                | Requirement::NotIn(k, _)
                | Requirement::Exists(k)
                | Requirement::NotExists(k) => (k, None),
                Requirement::Gt(k, _) | Requirement::Lt(k, _) => (k, None),
            };
            if !valid_key(key) {
                return Err(ApiError::bad_request(format!("unable to parse requirement: invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.'")));
            }
            if let Some(v) = value {
                if !valid_value(v) {
                    return Err(ApiError::bad_request(format!(
                        "unable to parse requirement: invalid label value: {v:?}"
                    )));
                }
            }
            reqs.push(req);
        }
        Ok(LabelSelector { reqs })
    }

    /// A selector from `matchLabels`/`matchExpressions` (a `metav1.LabelSelector` object).
    pub fn from_object(sel: &Value) -> LabelSelector {
        let mut reqs = vec![];
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement::Eq(k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                match e.get("operator").and_then(Value::as_str) {
                    Some("In") => reqs.push(Requirement::In(key, values)),
                    Some("NotIn") => reqs.push(Requirement::NotIn(key, values)),
                    Some("Exists") => reqs.push(Requirement::Exists(key)),
                    Some("DoesNotExist") => reqs.push(Requirement::NotExists(key)),
                    _ => {}
                }
            }
        }
        LabelSelector { reqs }
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.reqs.iter().all(|r| match r {
            Requirement::Eq(k, v) => labels.get(k) == Some(v),
            Requirement::NotEq(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::Gt(k, n) => labels.get(k).and_then(|l| l.parse::<i64>().ok()).is_some_and(|l| l > *n),
            Requirement::Lt(k, n) => labels.get(k).and_then(|l| l.parse::<i64>().ok()).is_some_and(|l| l < *n),
        })
    }

    pub fn matches_object(&self, obj: &Value) -> bool {
        self.matches(&labels_of(obj))
    }
}

/// Finds ` word ` or ` word(` as a whole word after a key.
fn find_word(t: &str, word: &str) -> Option<usize> {
    let bytes = t.as_bytes();
    let mut start = 0;
    while let Some(pos) = t[start..].find(word) {
        let i = start + pos;
        let before_ok = i > 0 && bytes[i - 1] == b' ';
        let after = bytes.get(i + word.len()).copied();
        let after_ok = matches!(after, Some(b' ') | Some(b'('));
        if before_ok && after_ok {
            return Some(i);
        }
        start = i + word.len();
    }
    None
}

pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// A parsed field selector.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses `sel` for objects of `kind`; unsupported fields are a 400, as upstream.
    pub fn parse(sel: &str, kind: &str) -> ApiResult<FieldSelector> {
        let mut reqs = vec![];
        for term in sel.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{sel}'; can't understand '{term}'")));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || (kind == "Pod"
                    && matches!(
                        field,
                        "spec.nodeName"
                            | "status.phase"
                            | "status.podIP"
                            | "spec.restartPolicy"
                            | "spec.schedulerName"
                            | "spec.serviceAccountName"
                    ))
                || (kind == "Event" && field.starts_with("involvedObject."))
                || (kind == "Secret" && field == "type")
                || (kind == "Namespace" && field == "status.phase")
                || (kind == "Node" && field == "spec.unschedulable")
                || (kind == "ReplicaSet" && field == "status.replicas")
                || (kind == "Job" && field == "status.successful");
            if !supported {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector { reqs })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The `metadata.name` this selector pins, if any (kubectl wait uses it).
    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(field, eq, value)| {
            let actual = match field.as_str() {
                "status.successful" => {
                    obj.pointer("/status/succeeded").map(|v| v.to_string()).unwrap_or_else(|| "0".into())
                }
                "status.replicas" => {
                    obj.pointer("/status/replicas").map(|v| v.to_string()).unwrap_or_else(|| "0".into())
                }
                "spec.unschedulable" => {
                    obj.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false).to_string()
                }
                f => {
                    let pointer = format!("/{}", f.replace('.', "/"));
                    obj.pointer(&pointer).and_then(Value::as_str).unwrap_or_default().to_string()
                }
            };
            (actual == *value) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selector_grammar() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("missing notin (db)", true),
            ("app notin (web)", false),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("n>4", true),
            ("n<5", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("app in (web,db),!missing,n>1", true),
        ];
        for (sel, want) in cases {
            let parsed = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(parsed.matches(&l), *want, "selector {sel:?}");
        }
    }

    #[test]
    fn label_selector_rejects_bad_syntax() {
        for sel in ["app=web,", "a b=c", "app in web", "n>x", "app=-bad"] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel:?} should fail");
        }
    }

    #[test]
    fn field_selector_fields() {
        let pod = serde_json::json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(FieldSelector::parse("metadata.name=p,status.phase=Running", "Pod").unwrap().matches(&pod));
        assert!(!FieldSelector::parse("spec.nodeName!=n1", "Pod").unwrap().matches(&pod));
        assert!(FieldSelector::parse("spec.nodeName=n1", "ConfigMap").is_err());
        assert!(FieldSelector::parse("metadata.labels=x", "Pod").is_err());
    }
}
