//! The app-domain selector grammar (reference §3.5, §3.6): `{"any":[{"all":{…}}, …]}`, where `any` is OR
//! across expressions and `all` is AND within one. SmartGroup and WebGroup rules are checked here, once.
//!
//! Pure validation; it stores nothing and builds no response.

use serde_json::Value;

const TYPES: [&str; 6] = ["vm", "vpc", "subnet", "k8s", "k8s_node", "serverless"];
const EXCLUSIVE: [&str; 4] = ["cidr", "fqdn", "site", "s2c"];
const PLAIN_KEYS: [&str; 11] = [
    "type",
    "res_id",
    "account_id",
    "account_name",
    "name",
    "zone",
    "region",
    "k8s_cluster_id",
    "k8s_namespace",
    "k8s_service",
    "k8s_pod",
];

/// Whether a (valid) selector is a WebGroup's: its expressions hold `snifilter` or `urlfilter`.
pub fn is_web_group(selector: &Value) -> bool {
    expressions(selector)
        .map(|all| all.iter().any(|e| e.contains_key("snifilter") || e.contains_key("urlfilter")))
        .unwrap_or(false)
}

fn expressions(selector: &Value) -> Option<Vec<&serde_json::Map<String, Value>>> {
    let any = selector.get("any")?.as_array()?;
    any.iter().map(|item| item.get("all")?.as_object()).collect()
}

/// Checks a selector; the error names the expression and the rule it broke.
pub fn validate(selector: &Value) -> Result<(), String> {
    let Some(any) = selector.get("any").and_then(Value::as_array) else {
        return Err("selector must be an object with an \"any\" list of {\"all\": {…}} match expressions".into());
    };
    if any.is_empty() {
        return Err("selector.any must hold at least one match expression".into());
    }
    let mut web = None;
    for (i, item) in any.iter().enumerate() {
        let Some(all) = item.get("all").and_then(Value::as_object) else {
            return Err(format!("selector.any[{i}] must be {{\"all\": {{…}}}}"));
        };
        let is_web = all.contains_key("snifilter") || all.contains_key("urlfilter");
        if *web.get_or_insert(is_web) != is_web {
            return Err(format!(
                "selector.any[{i}]: a group is either a WebGroup (snifilter/urlfilter) or a SmartGroup, not both"
            ));
        }
        if is_web {
            validate_web(i, all)?;
        } else {
            validate_smart(i, all)?;
        }
    }
    Ok(())
}

fn text<'a>(i: usize, key: &str, value: &'a Value) -> Result<&'a str, String> {
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("selector.any[{i}].all.{key} must be a non-empty string")),
    }
}

fn validate_web(i: usize, all: &serde_json::Map<String, Value>) -> Result<(), String> {
    if all.contains_key("snifilter") && all.contains_key("urlfilter") {
        return Err(format!("selector.any[{i}]: snifilter and urlfilter cannot appear in the same expression"));
    }
    for (key, value) in all {
        if key != "snifilter" && key != "urlfilter" {
            return Err(format!("selector.any[{i}].all.{key} is not allowed in a WebGroup expression"));
        }
        let filter = text(i, key, value)?;
        if filter.contains(char::is_whitespace) {
            return Err(format!("selector.any[{i}].all.{key} = {filter:?}: a filter cannot contain spaces"));
        }
    }
    Ok(())
}

fn validate_smart(i: usize, all: &serde_json::Map<String, Value>) -> Result<(), String> {
    if all.is_empty() {
        return Err(format!("selector.any[{i}].all is empty: give at least one match key"));
    }
    if all.contains_key("external") {
        // External groups (geo, threatiq, …) carry their arguments flat beside `external`.
        text(i, "external", &all["external"])?;
        return Ok(());
    }
    for key in EXCLUSIVE {
        if all.contains_key(key) && all.len() > 1 {
            return Err(format!("selector.any[{i}]: {key} is exclusive and cannot be combined with other keys"));
        }
    }
    for (key, value) in all {
        let known = PLAIN_KEYS.contains(&key.as_str())
            || EXCLUSIVE.contains(&key.as_str())
            || key.strip_prefix("tags.").is_some_and(|k| !k.is_empty())
            || key.strip_prefix("namespacetags.").is_some_and(|k| !k.is_empty());
        if !known {
            return Err(format!("selector.any[{i}].all.{key} is not a SmartGroup match key"));
        }
        text(i, key, value)?;
    }
    if let Some(cidr) = all.get("cidr").and_then(Value::as_str) {
        if cidr.parse::<ipnet::IpNet>().is_err() && cidr.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("selector.any[{i}].all.cidr = {cidr:?} is not a CIDR or an IP address"));
        }
    }
    let kind = all.get("type").and_then(Value::as_str);
    if let Some(kind) = kind {
        if !TYPES.contains(&kind) {
            return Err(format!("selector.any[{i}].all.type = {kind:?}; use one of {}", TYPES.join(", ")));
        }
    }
    let has = |k: &str| all.contains_key(k);
    for key in ["k8s_namespace", "k8s_service", "k8s_pod"] {
        if has(key) && kind != Some("k8s") {
            return Err(format!("selector.any[{i}]: {key} needs type = \"k8s\""));
        }
    }
    if has("k8s_cluster_id") && !matches!(kind, Some("k8s" | "k8s_node")) {
        return Err(format!("selector.any[{i}]: k8s_cluster_id needs type = \"k8s\" or \"k8s_node\""));
    }
    if has("k8s_pod") && !(has("k8s_cluster_id") && has("k8s_namespace")) {
        return Err(format!("selector.any[{i}]: k8s_pod needs k8s_cluster_id and k8s_namespace"));
    }
    if has("k8s_pod") && has("k8s_service") {
        return Err(format!("selector.any[{i}]: k8s_pod and k8s_service are mutually exclusive"));
    }
    let namespace_tags = all.keys().any(|k| k.starts_with("namespacetags."));
    if namespace_tags && (has("k8s_service") || has("k8s_pod")) {
        return Err(format!("selector.any[{i}]: namespacetags cannot be combined with k8s_service or k8s_pod"));
    }
    if namespace_tags && kind != Some("k8s") {
        return Err(format!("selector.any[{i}]: namespacetags need type = \"k8s\""));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_rules_of_the_reference() {
        let ok = [
            json!({"any": [{"all": {"type": "k8s", "k8s_cluster_id": "arn:x", "k8s_namespace": "prod", "tags.app": "web"}}]}),
            json!({"any": [{"all": {"type": "k8s", "namespacetags.team": "payments"}}]}),
            json!({"any": [{"all": {"cidr": "10.0.0.0/8"}}, {"all": {"type": "vm", "region": "westus"}}]}),
            json!({"any": [{"all": {"snifilter": "*.eks.amazonaws.com"}}, {"all": {"urlfilter": "example.com/path"}}]}),
            json!({"any": [{"all": {"external": "geo", "country_iso_code": "KP"}}]}),
        ];
        for selector in &ok {
            assert_eq!(validate(selector), Ok(()), "{selector}");
        }
        let bad = [
            (json!({"all": {}}), "\"any\""),
            (json!({"any": []}), "at least one"),
            (json!({"any": [{"all": {"cidr": "10.0.0.0/8", "type": "vm"}}]}), "exclusive"),
            (json!({"any": [{"all": {"k8s_namespace": "prod"}}]}), "needs type"),
            (json!({"any": [{"all": {"type": "k8s", "k8s_pod": "p", "k8s_namespace": "n"}}]}), "k8s_pod needs"),
            (
                json!({"any": [{"all": {"type": "k8s", "k8s_cluster_id": "c", "k8s_namespace": "n", "k8s_pod": "p", "k8s_service": "s"}}]}),
                "mutually exclusive",
            ),
            (json!({"any": [{"all": {"type": "k8s", "k8s_service": "s", "namespacetags.a": "b"}}]}), "namespacetags"),
            (json!({"any": [{"all": {"snifilter": "a.com", "urlfilter": "a.com/x"}}]}), "same expression"),
            (json!({"any": [{"all": {"snifilter": "a.com"}}, {"all": {"cidr": "1.2.3.4"}}]}), "not both"),
            (json!({"any": [{"all": {"type": "pod"}}]}), "type"),
            (json!({"any": [{"all": {"cidr": "10.0.0.0/33"}}]}), "not a CIDR"),
            (json!({"any": [{"all": {"colour": "red"}}]}), "not a SmartGroup match key"),
        ];
        for (selector, needle) in &bad {
            let err = validate(selector).unwrap_err();
            assert!(err.contains(needle), "{selector}: {err}");
        }
        assert!(is_web_group(&ok[3]) && !is_web_group(&ok[0]));
    }
}
