//! The `/v2.5/api` REST surface (reference §1.3, §3, §4.2): app-domains, `policy-list3` rulesets and
//! attachment points, the V1 policy list, the default action, log profiles and k8s clusters. Resources are bare
//! JSON; errors are a non-2xx status with `{"message": …}`; the session rides in `Authorization: cid <CID>`
//! and a bad one is HTTP 403.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{selector, Controller, ControllerState, ALL_WEB, ATTACHMENT_POINTS};
use crate::fault::FaultKind;

type Reply = Result<Response, Response>;

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "message": text.into() }))).into_response()
}

fn bad_request(text: impl Into<String>) -> Response {
    message(StatusCode::BAD_REQUEST, text)
}

fn ok(value: Value) -> Reply {
    Ok(Json(value).into_response())
}

pub(super) fn routes(controller: &Arc<Controller>) -> Router<Arc<Controller>> {
    Router::new()
        .route("/v2.5/api/app-domains", get(list_app_domains).post(create_app_domain))
        .route("/v2.5/api/app-domains/name/{name}", get(app_domain_by_name))
        .route("/v2.5/api/app-domains/{uuid}", get(get_app_domain).put(put_app_domain).delete(delete_app_domain))
        .route("/v2.5/api/microseg/policy-list3", get(list_rulesets).post(create_ruleset))
        .route("/v2.5/api/microseg/policy-list3/{uuid}", get(get_ruleset).put(put_ruleset).delete(delete_ruleset))
        .route("/v2.5/api/microseg/attachment-points", get(attachment_points))
        .route("/v2.5/api/microseg/policy-list", get(get_policy_list).put(put_policy_list).delete(delete_policy_list))
        .route("/v2.5/api/microseg/default-action-policy", get(get_default_action).put(put_default_action))
        .route("/v2.5/api/dcf/log-profile", get(log_profile))
        .route("/v2.5/api/microseg/deploy-policy", get(get_deploy_policy).post(set_deploy_policy))
        .route("/v2.5/api/k8s/clusters", get(list_clusters).post(create_cluster))
        .route("/v2.5/api/k8s/clusters/{id}", get(get_cluster).put(put_cluster).delete(delete_cluster))
        .route_layer(axum::middleware::from_fn_with_state(controller.clone(), guard))
}

/// Faults and the session check for every v2.5 call.
async fn guard(State(controller): State<Arc<Controller>>, request: Request, next: Next) -> Response {
    controller.faults.maybe_slow().await;
    if controller.faults.fires(FaultKind::ServerError).is_some() {
        return super::bad_gateway();
    }
    let cid = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("cid "))
        .unwrap_or("")
        .to_string();
    if !controller.session_valid(&cid) {
        return message(StatusCode::FORBIDDEN, "Invalid CID. Please login again.");
    }
    next.run(request).await
}

fn parse_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_request("request body must be a JSON object")),
        Err(e) => Err(bad_request(format!("malformed JSON body: {e}"))),
    }
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

// ---- app-domains (SmartGroups and WebGroups) ----

fn app_domain_body(state: &ControllerState, body: &Bytes, uuid: &str) -> Result<Value, Response> {
    let map = parse_object(body)?;
    let name = match map.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => return Err(bad_request("name is required")),
    };
    let selector = map.get("selector").cloned().unwrap_or(Value::Null);
    selector::validate(&selector).map_err(bad_request)?;
    if state.app_domains.iter().any(|(id, d)| id != uuid && d.get("name").and_then(Value::as_str) == Some(&name)) {
        return Err(bad_request(format!("App domain with name {name} already exists")));
    }
    Ok(json!({ "uuid": uuid, "name": name, "selector": selector }))
}

async fn list_app_domains(State(c): State<Arc<Controller>>) -> Reply {
    let domains: Vec<Value> = c.read(|s| s.app_domains.values().cloned().collect());
    ok(json!({ "app_domains": domains }))
}

async fn create_app_domain(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let uuid = new_uuid();
    let domain = c.read(|s| app_domain_body(s, &body, &uuid))?;
    c.mutate(|s| s.app_domains.insert(uuid.clone(), domain));
    ok(json!({ "uuid": uuid }))
}

fn app_domain_not_found() -> Response {
    message(StatusCode::NOT_FOUND, "App domain not found")
}

async fn get_app_domain(State(c): State<Arc<Controller>>, Path(uuid): Path<String>) -> Reply {
    c.read(|s| s.app_domains.get(&uuid).cloned()).map(|d| Json(d).into_response()).ok_or_else(app_domain_not_found)
}

async fn app_domain_by_name(State(c): State<Arc<Controller>>, Path(name): Path<String>) -> Reply {
    c.read(|s| s.app_domains.values().find(|d| d.get("name").and_then(Value::as_str) == Some(&name)).cloned())
        .map(|d| Json(d).into_response())
        .ok_or_else(app_domain_not_found)
}

fn is_system(value: &Value) -> bool {
    value.get("system_resource").and_then(Value::as_bool).unwrap_or(false)
}

async fn put_app_domain(State(c): State<Arc<Controller>>, Path(uuid): Path<String>, body: Bytes) -> Reply {
    let existing = c.read(|s| s.app_domains.get(&uuid).cloned()).ok_or_else(app_domain_not_found)?;
    if is_system(&existing) {
        return Err(bad_request(format!("App domain {uuid} is a system resource and cannot be modified")));
    }
    let domain = c.read(|s| app_domain_body(s, &body, &uuid))?;
    c.mutate(|s| s.app_domains.insert(uuid.clone(), domain));
    ok(json!({}))
}

/// Policies (in rulesets or the V1 list) that name `uuid` as a source, destination or web filter.
fn users_of(state: &ControllerState, uuid: &str) -> Vec<String> {
    let mut users = Vec::new();
    let mut scan = |owner: &str, policies: &[Value]| {
        for policy in policies {
            let refers = ["src_ads", "dst_ads", "web_filters"].iter().any(|key| {
                policy
                    .get(*key)
                    .and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(uuid)))
            });
            if refers {
                users.push(format!("{owner}/{}", policy.get("name").and_then(Value::as_str).unwrap_or("?")));
            }
        }
    };
    for ruleset in state.rulesets.values() {
        let name = ruleset.get("name").and_then(Value::as_str).unwrap_or("?");
        scan(name, ruleset.get("policies").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]));
    }
    scan("policy-list", &state.policy_list);
    users
}

async fn delete_app_domain(State(c): State<Arc<Controller>>, Path(uuid): Path<String>) -> Reply {
    let existing = c.read(|s| s.app_domains.get(&uuid).cloned()).ok_or_else(app_domain_not_found)?;
    if is_system(&existing) {
        return Err(bad_request(format!("App domain {uuid} is a system resource and cannot be deleted")));
    }
    let users = c.read(|s| users_of(s, &uuid));
    if !users.is_empty() {
        return Err(bad_request(format!(
            "App domain {uuid} is in use by policy {}; remove it from those rules first",
            users.join(", ")
        )));
    }
    c.mutate(|s| s.app_domains.remove(&uuid));
    ok(json!({}))
}

// ---- policies, rulesets and attachment points ----

fn one_of(policy: &serde_json::Map<String, Value>, key: &str, allowed: &[&str], at: &str) -> Result<(), String> {
    match policy.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(()),
        Some(other) => Err(format!("{at}.{key} = {other}; use one of {}", allowed.join(", "))),
    }
}

const LOG_PROFILES: [&str; 3] = [
    "def000ad-7000-0000-0000-000000000001",
    "def000ad-7000-0000-0000-000000000002",
    "def000ad-7000-0000-0000-000000000003",
];

/// Checks one DCF policy (reference §3.2 keys) against the app-domains that exist; gives it a UUID if it has
/// none. `taken` collects UUIDs already used in the same list.
fn validate_policy(
    state: &ControllerState,
    policy: &mut Value,
    at: &str,
    taken: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Object(map) = policy else {
        return Err(format!("{at} must be an object"));
    };
    match map.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => {}
        _ => return Err(format!("{at}.name is required")),
    }
    let action = map.get("action").and_then(Value::as_str).unwrap_or("");
    if !["PERMIT", "DENY", "INTRUSION_DETECTION_PERMIT"].contains(&action) {
        return Err(format!("{at}.action = {action:?}; use PERMIT, DENY or INTRUSION_DETECTION_PERMIT"));
    }
    let protocol = map.get("protocol").and_then(Value::as_str).unwrap_or("");
    if !["TCP", "UDP", "ICMP", "PROTOCOL_UNSPECIFIED"].contains(&protocol) {
        return Err(format!("{at}.protocol = {protocol:?}; use TCP, UDP, ICMP or PROTOCOL_UNSPECIFIED"));
    }
    match map.get("priority") {
        None => {}
        Some(p) if p.as_u64().is_some_and(|p| p <= i32::MAX as u64) => {}
        Some(p) => return Err(format!("{at}.priority = {p}; use an integer from 0 to 2147483647")),
    }
    for key in ["src_ads", "dst_ads"] {
        let ids = map
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{at}.{key} is required (a list of SmartGroup UUIDs)"))?;
        if ids.is_empty() {
            return Err(format!("{at}.{key} must name at least one SmartGroup"));
        }
        for id in ids {
            let id = id.as_str().unwrap_or("");
            match state.app_domains.get(id) {
                Some(d) if !selector::is_web_group(d.get("selector").unwrap_or(&Value::Null)) => {}
                Some(_) => return Err(format!("{at}.{key}: {id} is a WebGroup; use it in web_filters")),
                None => return Err(format!("{at}.{key}: SmartGroup {id} does not exist")),
            }
        }
    }
    if let Some(filters) = map.get("web_filters") {
        let filters = filters.as_array().ok_or_else(|| format!("{at}.web_filters must be a list of WebGroup UUIDs"))?;
        for id in filters {
            let id = id.as_str().unwrap_or("");
            match state.app_domains.get(id) {
                Some(d) if id == ALL_WEB || selector::is_web_group(d.get("selector").unwrap_or(&Value::Null)) => {}
                Some(_) => return Err(format!("{at}.web_filters: {id} is a SmartGroup, not a WebGroup")),
                None => return Err(format!("{at}.web_filters: WebGroup {id} does not exist")),
            }
        }
        if !filters.is_empty() && protocol == "ICMP" {
            return Err(format!("{at}: WebGroups apply to TLS only and cannot be used with ICMP"));
        }
    }
    if let Some(ranges) = map.get("port_ranges") {
        let ranges = ranges.as_array().ok_or_else(|| format!("{at}.port_ranges must be a list"))?;
        if ranges.len() > 64 {
            return Err(format!("{at}.port_ranges holds {} ranges; at most 64 are allowed", ranges.len()));
        }
        if !ranges.is_empty() && protocol == "ICMP" {
            return Err(format!("{at}.port_ranges are not allowed with protocol ICMP"));
        }
        for (i, range) in ranges.iter().enumerate() {
            let lo = range.get("lo").and_then(Value::as_u64).filter(|p| *p <= 65535);
            let Some(lo) = lo else {
                return Err(format!("{at}.port_ranges[{i}].lo must be a port from 0 to 65535"));
            };
            if let Some(hi) = range.get("hi").filter(|v| !v.is_null()) {
                if !hi.as_u64().is_some_and(|hi| hi >= lo && hi <= 65535) {
                    return Err(format!("{at}.port_ranges[{i}].hi = {hi} must be a port from lo ({lo}) to 65535"));
                }
            }
        }
    }
    for key in ["logging", "watch", "exclude_sg_orchestration"] {
        if map.get(key).is_some_and(|v| !v.is_boolean() && !v.is_null()) {
            return Err(format!("{at}.{key} must be a boolean"));
        }
    }
    one_of(map, "enforcement", &["ENFORCE", "MONITOR", "DISABLE"], at)?;
    one_of(map, "flow_app_requirement", &["APP_UNSPECIFIED", "TLS_REQUIRED", "NOT_TLS_REQUIRED"], at)?;
    one_of(map, "decrypt_policy", &["DECRYPT_UNSPECIFIED", "DECRYPT_ALLOWED", "DECRYPT_NOT_ALLOWED"], at)?;
    one_of(map, "egress_path", &["EGRESS_PATH_DEFAULT", "EGRESS_PATH_LOCAL"], at)?;
    if let Some(profile) = map.get("log_profile").and_then(Value::as_str) {
        if !profile.is_empty() && !LOG_PROFILES.contains(&profile) {
            return Err(format!("{at}.log_profile {profile} does not exist"));
        }
    }
    let uuid = match map.get("uuid").and_then(Value::as_str) {
        Some(uuid) if !uuid.is_empty() => uuid.to_string(),
        _ => new_uuid(),
    };
    if taken.contains(&uuid) {
        return Err(format!("{at}.uuid {uuid} is used by another policy in the same list"));
    }
    taken.push(uuid.clone());
    map.insert("uuid".into(), Value::String(uuid));
    map.insert("system_resource".into(), Value::Bool(false));
    Ok(())
}

fn attachment_point_name(id: &str) -> Option<&'static str> {
    ATTACHMENT_POINTS.iter().find(|(_, pid)| *pid == id).map(|(name, _)| *name)
}

/// Builds a `policy-list3` object from a POST/PUT body (reference §3.4): a ruleset
/// `{name, attach_to, policies, metadata}`, or a policy group `{name, attach_to, sub_policies, metadata}`.
fn ruleset_body(state: &ControllerState, body: &Bytes, uuid: &str) -> Result<Value, Response> {
    let map = parse_object(body)?;
    let name = match map.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => return Err(bad_request("name is required")),
    };
    let group = map.get("sub_policies").is_some_and(|v| !v.is_null());
    if group && map.get("policies").is_some_and(|v| !v.is_null()) {
        return Err(bad_request(
            "a policy-list3 object holds either policies (a ruleset) or sub_policies (a policy group), not both",
        ));
    }
    if let Some(existing) = state.rulesets.get(uuid) {
        if is_group(existing) != group {
            let (was, now) = if group { ("a ruleset", "a policy group") } else { ("a policy group", "a ruleset") };
            return Err(bad_request(format!("policy list {uuid} is {was}; it cannot be replaced by {now}")));
        }
    }
    let attach_to = map.get("attach_to").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(point) = &attach_to {
        let Some(point_name) = attachment_point_name(point) else {
            return Err(bad_request(format!(
                "attachment point {point} does not exist; look its attachment_point_id up with GET microseg/attachment-points?name=…"
            )));
        };
        if let Some(holder) = state.attachments.get(point) {
            if holder != uuid {
                return Err(bad_request(format!(
                    "attachment point {point_name} already has policy list {holder} attached; it accepts a single object"
                )));
            }
        }
        if let Some((holder, at)) = groups_referencing(state, uuid).into_iter().next() {
            return Err(bad_request(format!(
                "policy list {uuid} is in policy group {holder} ({at}); an object in a group has no attach_to of its own"
            )));
        }
    }
    let metadata = map.get("metadata").cloned().unwrap_or(Value::Null);
    let attach_to = attach_to.unwrap_or_default();
    if group {
        let sub_policies = validate_sub_policies(state, uuid, &map["sub_policies"]).map_err(bad_request)?;
        return Ok(json!({
            "uuid": uuid, "name": name, "attach_to": attach_to, "sub_policies": sub_policies, "metadata": metadata,
        }));
    }
    let mut policies = match map.get("policies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err(bad_request("policies must be a list")),
    };
    let mut taken = Vec::new();
    for (i, policy) in policies.iter_mut().enumerate() {
        validate_policy(state, policy, &format!("policies[{i}]"), &mut taken).map_err(bad_request)?;
    }
    Ok(json!({ "uuid": uuid, "name": name, "attach_to": attach_to, "policies": policies, "metadata": metadata }))
}

/// Whether a stored `policy-list3` object is a policy group (it has `sub_policies`) rather than a ruleset.
pub(super) fn is_group(object: &Value) -> bool {
    object.get("sub_policies").is_some_and(Value::is_array)
}

/// The policy groups that reference `uuid` in a sub-policy, with where: `(group name and uuid, "sub_policies[i]")`.
fn groups_referencing(state: &ControllerState, uuid: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (group_uuid, group) in state.rulesets.iter().filter(|(_, g)| is_group(g)) {
        for (i, sub) in group["sub_policies"].as_array().into_iter().flatten().enumerate() {
            let target = sub.get("list").or_else(|| sub.get("block")).and_then(Value::as_str);
            if target == Some(uuid) {
                let name = group.get("name").and_then(Value::as_str).unwrap_or("?");
                found.push((format!("{name} ({group_uuid})"), format!("sub_policies[{i}]")));
            }
        }
    }
    found
}

/// Whether following `block` sub-policies from group `from` through the stored groups reaches `target`.
fn reaches(state: &ControllerState, from: &str, target: &str) -> bool {
    let mut seen: Vec<String> = Vec::new();
    let mut queue = vec![from.to_string()];
    while let Some(next) = queue.pop() {
        if next == target {
            return true;
        }
        if seen.contains(&next) {
            continue;
        }
        seen.push(next.clone());
        for sub in state.rulesets.get(&next).and_then(|g| g["sub_policies"].as_array()).into_iter().flatten() {
            if let Some(block) = sub.get("block").and_then(Value::as_str) {
                queue.push(block.to_string());
            }
        }
    }
    false
}

/// Checks a group's `sub_policies` (`{name, priority, list: <ruleset>}` or `{name, priority, block: <group>}`):
/// every referenced object exists and is of the kind named, none is attached on its own, and no group
/// reaches itself. Errors name the sub-policy.
fn validate_sub_policies(state: &ControllerState, uuid: &str, value: &Value) -> Result<Vec<Value>, String> {
    let Some(subs) = value.as_array() else {
        return Err("sub_policies must be a list of {name, priority, list|block}".into());
    };
    let mut names = Vec::new();
    let mut out = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        let at = format!("sub_policies[{i}]");
        let Some(map) = sub.as_object() else {
            return Err(format!("{at} must be an object {{name, priority, list|block}}"));
        };
        let name = match map.get("name").and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() => name.to_string(),
            _ => return Err(format!("{at}.name is required")),
        };
        if names.contains(&name) {
            return Err(format!("{at}.name {name:?} is used by another sub-policy of the group"));
        }
        names.push(name.clone());
        let priority = match map.get("priority") {
            None | Some(Value::Null) => 0,
            Some(p) => match p.as_u64().filter(|p| *p <= i32::MAX as u64) {
                Some(p) => p,
                None => return Err(format!("{at}.priority = {p}; use an integer from 0 to 2147483647")),
            },
        };
        let (key, target) = match (map.get("list").and_then(Value::as_str), map.get("block").and_then(Value::as_str)) {
            (Some(_), Some(_)) => return Err(format!("{at} names both list and block; give one")),
            (Some(list), None) => ("list", list),
            (None, Some(block)) => ("block", block),
            (None, None) => {
                let other =
                    if map.contains_key("attachment_point") { " (attachment_point is not supported here)" } else { "" };
                return Err(format!("{at} needs list (a ruleset uuid) or block (a policy group uuid){other}"));
            }
        };
        let Some(object) = state.rulesets.get(target).filter(|_| target != uuid) else {
            let what = if target == uuid { "is the group itself" } else { "does not exist" };
            let kind = if key == "list" { "ruleset" } else { "policy group" };
            return Err(format!("{at}.{key}: {kind} {target} {what}"));
        };
        match (key, is_group(object)) {
            ("list", true) => return Err(format!("{at}.list: {target} is a policy group; reference it with block")),
            ("block", false) => return Err(format!("{at}.block: {target} is a ruleset; reference it with list")),
            _ => {}
        }
        if object.get("k8s_managed").and_then(Value::as_bool).unwrap_or(false) {
            return Err(format!(
                "{at}.list: ruleset {target} is K8s-managed (made from a FirewallPolicy); the controller places those itself"
            ));
        }
        if let Some(point) = object.get("attach_to").and_then(Value::as_str).filter(|p| !p.is_empty()) {
            let point = attachment_point_name(point).unwrap_or(point);
            return Err(format!(
                "{at}.{key}: {target} is attached to {point}; detach it (empty attach_to) before putting it in a group"
            ));
        }
        out.push(json!({ "name": name, "priority": priority, key: target }));
    }
    for (i, sub) in out.iter().enumerate() {
        if let Some(block) = sub.get("block").and_then(Value::as_str) {
            if reaches(state, block, uuid) {
                return Err(format!(
                    "sub_policies[{i}].block: policy group {block} leads back to this group; groups cannot form a cycle"
                ));
            }
        }
    }
    Ok(out)
}

fn ruleset_not_found(uuid: &str) -> Response {
    message(StatusCode::NOT_FOUND, format!("Policy list {uuid} does not exist"))
}

fn store_ruleset(state: &mut ControllerState, uuid: &str, ruleset: Value) {
    state.attachments.retain(|_, holder| holder != uuid);
    if let Some(point) = ruleset.get("attach_to").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        state.attachments.insert(point.to_string(), uuid.to_string());
    }
    state.rulesets.insert(uuid.to_string(), ruleset);
}

async fn list_rulesets(State(c): State<Arc<Controller>>) -> Reply {
    let lists: Vec<Value> = c.read(|s| s.rulesets.values().cloned().collect());
    ok(json!({ "policy_lists": lists }))
}

// Each write checks and stores under one lock, so concurrent writers cannot both take one attachment point
// or remove an object a group started referencing meanwhile.

async fn create_ruleset(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let uuid = new_uuid();
    let refused = c.mutate(|s| match ruleset_body(s, &body, &uuid) {
        Ok(ruleset) => {
            store_ruleset(s, &uuid, ruleset);
            None
        }
        Err(refusal) => Some(refusal),
    });
    match refused {
        Some(refusal) => Err(refusal),
        None => ok(json!({ "uuid": uuid })),
    }
}

async fn get_ruleset(State(c): State<Arc<Controller>>, Path(uuid): Path<String>) -> Reply {
    c.read(|s| s.rulesets.get(&uuid).cloned()).map(|r| Json(r).into_response()).ok_or_else(|| ruleset_not_found(&uuid))
}

async fn put_ruleset(State(c): State<Arc<Controller>>, Path(uuid): Path<String>, body: Bytes) -> Reply {
    let refused = c.mutate(|s| {
        if !s.rulesets.contains_key(&uuid) {
            return Some(ruleset_not_found(&uuid));
        }
        match ruleset_body(s, &body, &uuid) {
            Ok(ruleset) => {
                store_ruleset(s, &uuid, ruleset);
                None
            }
            Err(refusal) => Some(refusal),
        }
    });
    match refused {
        Some(refusal) => Err(refusal),
        None => ok(json!({})),
    }
}

/// Deletes a ruleset or a policy group; one that a group references stays, and the error names the group.
async fn delete_ruleset(State(c): State<Arc<Controller>>, Path(uuid): Path<String>) -> Reply {
    let refused = c.mutate(|s| {
        let users = groups_referencing(s, &uuid);
        if !users.is_empty() {
            let names: Vec<String> = users.iter().map(|(group, at)| format!("{group} {at}")).collect();
            return Some(bad_request(format!(
                "Policy list {uuid} is in use by policy group {}; remove it from the group first",
                names.join(", ")
            )));
        }
        if s.rulesets.remove(&uuid).is_none() {
            return Some(ruleset_not_found(&uuid));
        }
        s.attachments.retain(|_, holder| *holder != uuid);
        None
    });
    match refused {
        Some(refusal) => Err(refusal),
        None => ok(json!({})),
    }
}

#[derive(serde::Deserialize)]
struct NameQuery {
    name: Option<String>,
}

async fn attachment_points(Query(query): Query<NameQuery>) -> Reply {
    let points: Vec<Value> = ATTACHMENT_POINTS
        .iter()
        .filter(|(name, _)| query.name.as_deref().is_none_or(|wanted| wanted == *name))
        .map(|(name, id)| json!({ "attachment_point_id": id, "name": name }))
        .collect();
    ok(Value::Array(points))
}

/// The V1 list's system entry, which GET always includes and PUT cannot replace (reference §3.1, §3.2).
pub(super) fn greenfield_rule() -> Value {
    json!({
        "name": "Greenfield-Rule",
        "uuid": "def000ad-1000-0000-0000-000000000001",
        "action": "PERMIT",
        "priority": 2147483646,
        "protocol": "PROTOCOL_UNSPECIFIED",
        "src_ads": [super::ANYWHERE],
        "dst_ads": [super::ANYWHERE],
        "logging": false,
        "watch": false,
        "system_resource": true,
    })
}

async fn get_policy_list(State(c): State<Arc<Controller>>) -> Reply {
    let mut policies = c.read(|s| s.policy_list.clone());
    policies.push(greenfield_rule());
    ok(json!({ "policies": policies }))
}

async fn put_policy_list(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let map = parse_object(&body)?;
    let Some(Value::Array(list)) = map.get("policies") else {
        return Err(bad_request("policies is required (a list)"));
    };
    let mut policies: Vec<Value> = list.iter().filter(|p| !is_system(p)).cloned().collect();
    let mut taken = Vec::new();
    c.read(|s| {
        for (i, policy) in policies.iter_mut().enumerate() {
            validate_policy(s, policy, &format!("policies[{i}]"), &mut taken)?;
        }
        Ok::<(), String>(())
    })
    .map_err(bad_request)?;
    c.mutate(|s| s.policy_list = policies);
    ok(json!({}))
}

async fn delete_policy_list(State(c): State<Arc<Controller>>) -> Reply {
    c.mutate(|s| s.policy_list.clear());
    ok(json!({}))
}

async fn get_default_action(State(c): State<Arc<Controller>>) -> Reply {
    ok(c.read(|s| s.default_action.clone()))
}

async fn put_default_action(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let map = parse_object(&body)?;
    let action = map.get("action").and_then(Value::as_str).unwrap_or("");
    if action != "PERMIT" && action != "DENY" {
        return Err(bad_request(format!("action = {action:?}; use PERMIT or DENY")));
    }
    let logging = match map.get("logging") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad_request(format!("logging = {other}; must be a boolean"))),
    };
    let log_profile = map.get("log_profile").and_then(Value::as_str).unwrap_or("").to_string();
    if !log_profile.is_empty() && !LOG_PROFILES.contains(&log_profile.as_str()) {
        return Err(bad_request(format!("log_profile {log_profile} does not exist")));
    }
    c.mutate(|s| s.default_action = json!({ "action": action, "logging": logging, "log_profile": log_profile }));
    ok(json!({}))
}

async fn get_deploy_policy(State(c): State<Arc<Controller>>) -> Reply {
    ok(c.read(|s| s.deploy_policy.clone()))
}

/// `POST microseg/deploy-policy` `{"providers":[…],"set_defaults":bool}`: the list may not be empty.
async fn set_deploy_policy(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let map = parse_object(&body)?;
    let set_defaults = map.get("set_defaults").and_then(Value::as_bool).unwrap_or(false);
    let policy = if set_defaults {
        super::default_deploy_policy()
    } else {
        let providers = map.get("providers").and_then(Value::as_array).cloned().unwrap_or_default();
        if providers.is_empty() {
            return Err(bad_request("providers may not be empty; give at least one, or set_defaults"));
        }
        for provider in &providers {
            let name = provider.as_str().unwrap_or("");
            if !super::DEPLOY_PROVIDERS.contains(&name) {
                return Err(bad_request(format!(
                    "provider {provider} is unknown; use {}",
                    super::DEPLOY_PROVIDERS.join(", ")
                )));
            }
        }
        json!({"providers": providers, "set_defaults": false})
    };
    c.mutate(|s| s.deploy_policy = policy);
    ok(json!({}))
}

#[derive(serde::Deserialize)]
struct ProfileQuery {
    profile_name: Option<String>,
}

async fn log_profile(Query(query): Query<ProfileQuery>) -> Reply {
    let (id, start, end) = match query.profile_name.as_deref() {
        Some("start") => (LOG_PROFILES[0], true, false),
        Some("end") => (LOG_PROFILES[1], false, true),
        Some("start/end") => (LOG_PROFILES[2], true, true),
        other => return Err(message(StatusCode::NOT_FOUND, format!("log profile {} not found", other.unwrap_or("")))),
    };
    ok(json!({ "profile_name": query.profile_name, "profile_id": id, "session_start": start, "session_end": end }))
}

// ---- k8s clusters ----

/// Checks a cluster body (reference §4.2). Onboarding needs the `k8s` feature (§4.1).
fn cluster_body(state: &ControllerState, body: &Bytes, id: &str) -> Result<Value, Response> {
    let mut map = parse_object(body)?;
    if !state.features.get("k8s").copied().unwrap_or(false) {
        return Err(bad_request("Kubernetes support is not enabled on the controller: enable the k8s feature first"));
    }
    let cluster_id = match map.get("cluster_id").and_then(Value::as_str) {
        Some(cid) if !cid.trim().is_empty() => cid.to_string(),
        _ => return Err(bad_request("cluster_id is required")),
    };
    if state
        .clusters
        .iter()
        .any(|(other, c)| other != id && c.get("cluster_id").and_then(Value::as_str) == Some(&cluster_id))
    {
        return Err(bad_request(format!("cluster {cluster_id} already exists")));
    }
    let credential =
        map.get("credential").and_then(Value::as_object).ok_or_else(|| bad_request("credential is required"))?;
    let use_csp = match credential.get("use_csp_credentials") {
        Some(Value::Bool(b)) => *b,
        None => false,
        Some(other) => return Err(bad_request(format!("credential.use_csp_credentials = {other}; must be a boolean"))),
    };
    let kube_config = credential.get("kube_config").and_then(Value::as_str).unwrap_or("");
    if !use_csp && kube_config.trim().is_empty() {
        return Err(bad_request("credential.kube_config is required unless use_csp_credentials is true"));
    }
    if let Some(resource) = map.get("resource").filter(|r| !r.is_null()) {
        let mode = resource.get("network_mode").and_then(Value::as_str).unwrap_or("FLAT");
        if mode != "FLAT" && mode != "OVERLAY" {
            return Err(bad_request(format!("resource.network_mode = {mode:?}; use FLAT or OVERLAY")));
        }
    }
    // The state is the controller's to say, whatever the body claims.
    map.remove("status");
    map.remove("status_message");
    map.insert("id".into(), Value::String(id.to_string()));
    Ok(Value::Object(map))
}

/// The states a cluster registers in (docs/controller-api.md, "Cluster state"): `status` on the cluster as
/// GET returns it. Only a `Connected` cluster's FirewallPolicies are reconciled.
pub const CLUSTER_CONNECTED: &str = "Connected";
/// Registered, but the controller cannot list the cluster's custom resources: label SmartGroups never resolve.
pub const CLUSTER_PARTIAL: &str = "Partial";
/// The controller has no way into the cluster: no kubeconfig, and no managed cluster by that ID in the
/// clouds its accounts reach.
pub const CLUSTER_DISCONNECTED: &str = "Disconnected";

/// Whether `cluster_id` names a managed cluster of the lab's clouds. AKS IDs are compared without regard to
/// case: the reference leaves their casing unsettled, and ARM IDs are case-insensitive.
fn known_cluster(c: &Controller, cluster_id: &str) -> bool {
    c.config.known_clusters.iter().any(|known| known.eq_ignore_ascii_case(cluster_id))
}

/// Decides the state a cluster registers in, and stores it on the cluster with an explanation.
fn register(c: &Controller, cluster: &mut Value) {
    let cluster_id = cluster.get("cluster_id").and_then(Value::as_str).unwrap_or_default().to_string();
    let kube_config =
        cluster.pointer("/credential/kube_config").and_then(Value::as_str).is_some_and(|k| !k.trim().is_empty());
    let use_csp = cluster.pointer("/credential/use_csp_credentials").and_then(Value::as_bool).unwrap_or(false);
    let reachable = kube_config || (use_csp && known_cluster(c, &cluster_id));
    let (status, message) = if !reachable {
        (
            CLUSTER_DISCONNECTED,
            format!("no managed cluster {cluster_id} in the clouds of the controller's accounts, and no kubeconfig"),
        )
    } else if c.faults.fires(FaultKind::PartialCluster).is_some() {
        (CLUSTER_PARTIAL, "the controller cannot list the cluster's custom resources".to_string())
    } else {
        (CLUSTER_CONNECTED, String::new())
    };
    cluster["status"] = json!(status);
    cluster["status_message"] = json!(message);
}

fn cluster_not_found(id: &str) -> Response {
    message(StatusCode::NOT_FOUND, format!("cluster {id} does not exist"))
}

/// The cluster as GET returns it: the kubeconfig is a credential and is never echoed back.
pub(super) fn redacted(cluster: &Value) -> Value {
    let mut cluster = cluster.clone();
    if let Some(Value::Object(credential)) = cluster.get_mut("credential") {
        credential.remove("kube_config");
    }
    cluster
}

async fn list_clusters(State(c): State<Arc<Controller>>) -> Reply {
    let clusters: Vec<Value> = c.read(|s| s.clusters.values().map(redacted).collect());
    ok(json!({ "clusters": clusters }))
}

async fn create_cluster(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let id = new_uuid();
    let mut cluster = c.read(|s| cluster_body(s, &body, &id))?;
    register(&c, &mut cluster);
    c.mutate(|s| s.clusters.insert(id.clone(), cluster));
    ok(json!({ "id": id }))
}

async fn get_cluster(State(c): State<Arc<Controller>>, Path(id): Path<String>) -> Reply {
    c.read(|s| s.clusters.get(&id).map(redacted)).map(|v| Json(v).into_response()).ok_or_else(|| cluster_not_found(&id))
}

async fn put_cluster(State(c): State<Arc<Controller>>, Path(id): Path<String>, body: Bytes) -> Reply {
    if !c.read(|s| s.clusters.contains_key(&id)) {
        return Err(cluster_not_found(&id));
    }
    let mut cluster = c.read(|s| cluster_body(s, &body, &id))?;
    register(&c, &mut cluster);
    c.mutate(|s| s.clusters.insert(id.clone(), cluster));
    ok(json!({}))
}

async fn delete_cluster(State(c): State<Arc<Controller>>, Path(id): Path<String>) -> Reply {
    match c.mutate(|s| s.clusters.remove(&id)) {
        Some(_) => ok(json!({})),
        None => Err(cluster_not_found(&id)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::super::{Controller, ControllerConfig};
    use crate::fault::{FaultKind, FaultSetting};

    const EKS: &str = "arn:aws:eks:us-east-1:123456789012:cluster/lab-eks";
    const AKS: &str =
        "/subscriptions/s/resourceGroups/lab-rg/providers/Microsoft.ContainerService/managedClusters/lab-aks";

    fn controller(dir: &std::path::Path) -> Arc<Controller> {
        let config = ControllerConfig::for_tests(&[EKS, AKS]);
        let controller = Controller::open(dir, config, Default::default()).unwrap();
        controller.mutate(|s| s.features.insert("k8s".into(), true));
        controller
    }

    async fn call(c: &Arc<Controller>, cid: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(format!("/v2.5/api/{path}"))
            .header("authorization", format!("cid {cid}"))
            .header("content-type", "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        let response = c.router().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Onboards `cluster_id` and returns the cluster as GET shows it.
    async fn onboard(c: &Arc<Controller>, cid: &str, body: Value) -> Value {
        let (status, created) = call(c, cid, "POST", "k8s/clusters", Some(body)).await;
        assert_eq!(status, 200, "{created}");
        let id = created["id"].as_str().unwrap();
        let (status, cluster) = call(c, cid, "GET", &format!("k8s/clusters/{id}"), None).await;
        assert_eq!(status, 200);
        cluster
    }

    #[tokio::test]
    async fn clusters_register_connected_partial_or_disconnected_and_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let cid = c.new_session("admin");
        let csp =
            |id: &str| json!({"cluster_id": id, "credential": {"use_csp_credentials": true}, "status": "Connected"});

        let eks = onboard(&c, &cid, csp(EKS)).await;
        assert_eq!((&eks["status"], &eks["status_message"]), (&json!("Connected"), &json!("")));
        let aks = onboard(&c, &cid, csp(&AKS.to_lowercase())).await;
        assert_eq!(aks["status"], "Connected", "AKS IDs match whatever their casing");
        let stranger = onboard(&c, &cid, csp("arn:aws:eks:us-east-1:123456789012:cluster/other")).await;
        assert_eq!(stranger["status"], "Disconnected", "a body's own status is not taken: {stranger}");
        assert!(stranger["status_message"].as_str().unwrap().contains("no managed cluster"));
        let kubeconfig = json!({"cluster_id": "self-managed", "credential": {"use_csp_credentials": false, "kube_config": "apiVersion: v1"}});
        assert_eq!(onboard(&c, &cid, kubeconfig).await["status"], "Connected", "a kubeconfig reaches any cluster");

        c.faults.set("controller", FaultSetting::always(FaultKind::PartialCluster, 0)).unwrap();
        let (_, all) = call(&c, &cid, "GET", "k8s/clusters", None).await;
        let eks_id = all["clusters"].as_array().unwrap().iter().find(|x| x["cluster_id"] == EKS).unwrap()["id"].clone();
        let eks_id = eks_id.as_str().unwrap();
        let (status, _) = call(&c, &cid, "PUT", &format!("k8s/clusters/{eks_id}"), Some(csp(EKS))).await;
        assert_eq!(status, 200);
        let (_, partial) = call(&c, &cid, "GET", &format!("k8s/clusters/{eks_id}"), None).await;
        assert_eq!(partial["status"], "Partial", "re-onboarded while the fault is on: {partial}");
        assert!(partial["status_message"].as_str().unwrap().contains("custom resources"));
    }

    /// A SmartGroup of the lab's pods and a ruleset that permits them, for the group tests.
    async fn ruleset(c: &Arc<Controller>, cid: &str, name: &str, attach_to: &str) -> String {
        let group_name = format!("{name}-pods");
        let (status, pods) = call(
            c,
            cid,
            "POST",
            "app-domains",
            Some(json!({"name": group_name, "selector": {"any": [{"all": {"type": "k8s", "k8s_namespace": name}}]}})),
        )
        .await;
        assert_eq!(status, 200, "{pods}");
        let policy = json!({"name": format!("{name}-rule"), "action": "DENY", "protocol": "PROTOCOL_UNSPECIFIED",
                            "src_ads": [pods["uuid"]], "dst_ads": [super::super::ANYWHERE], "logging": true});
        let (status, created) = call(
            c,
            cid,
            "POST",
            "microseg/policy-list3",
            Some(json!({"name": name, "attach_to": attach_to, "policies": [policy]})),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        created["uuid"].as_str().unwrap().to_string()
    }

    fn refused(status: u16, body: &Value, needle: &str) {
        assert_eq!(status, 400, "{body}");
        let text = body["message"].as_str().unwrap_or_default();
        assert!(text.contains(needle), "wanted {needle:?} in {text:?}");
    }

    #[tokio::test]
    async fn policy_groups_hold_rulesets_and_groups_and_keep_their_references_whole() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let cid = c.new_session("admin");
        let point = super::super::ATTACHMENT_POINTS[2].1;
        let a = ruleset(&c, &cid, "a", "").await;
        let b = ruleset(&c, &cid, "b", "").await;
        let group = |subs: Value| json!({"name": "tier3", "attach_to": point, "sub_policies": subs, "metadata": {"owner": "t"}});

        let (status, created) = call(
            &c,
            &cid,
            "POST",
            "microseg/policy-list3",
            Some(group(json!([{"name": "a", "priority": 10, "list": a}, {"name": "b", "priority": 20, "list": b}]))),
        )
        .await;
        assert_eq!(status, 200, "{created}");
        let g = created["uuid"].as_str().unwrap().to_string();
        let (_, stored) = call(&c, &cid, "GET", &format!("microseg/policy-list3/{g}"), None).await;
        assert_eq!(
            stored["sub_policies"],
            json!([{"name": "a", "priority": 10, "list": a}, {"name": "b", "priority": 20, "list": b}])
        );
        assert!(stored.get("policies").is_none(), "a group has no policies: {stored}");
        assert_eq!(stored["attach_to"], point);
        let (_, all) = call(&c, &cid, "GET", "microseg/policy-list3", None).await;
        assert!(all["policy_lists"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["uuid"] == g.as_str() && l["sub_policies"].is_array()));
        let kinds: Vec<String> = c.inventory_objects().iter().filter(|o| o.id == g).map(|o| o.kind.clone()).collect();
        assert_eq!(kinds, ["policy_group"]);

        // What a group references must exist and be of the kind named.
        let ghost = "00000000-0000-0000-0000-00000000dead";
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{g}"),
            Some(group(json!([{"name": "a", "priority": 1, "list": a}, {"name": "x", "priority": 2, "list": ghost}]))),
        )
        .await;
        refused(status, &body, "sub_policies[1].list: ruleset 00000000-0000-0000-0000-00000000dead does not exist");
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{g}"),
            Some(group(json!([{"name": "x", "priority": 1, "block": a}]))),
        )
        .await;
        refused(status, &body, "sub_policies[0].block: ");
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{g}"),
            Some(group(json!([{"name": "x", "priority": 1}]))),
        )
        .await;
        refused(status, &body, "sub_policies[0] needs list");
        let (status, body) = call(
            &c,
            &cid,
            "POST",
            "microseg/policy-list3",
            Some(json!({"name": "both", "policies": [], "sub_policies": []})),
        )
        .await;
        refused(status, &body, "not both");
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{a}"),
            Some(json!({"name": "a", "sub_policies": []})),
        )
        .await;
        refused(status, &body, "is a ruleset");

        // A ruleset attached on its own cannot join a group, and one in a group cannot be attached.
        let attached = ruleset(&c, &cid, "c", super::super::ATTACHMENT_POINTS[0].1).await;
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{g}"),
            Some(group(json!([{"name": "c", "priority": 1, "list": attached}]))),
        )
        .await;
        refused(status, &body, "sub_policies[0].list: ");
        assert!(body["message"].as_str().unwrap().contains("is attached to TERRAFORM_BEFORE_UI_MANAGED"), "{body}");
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{a}"),
            Some(json!({"name": "a", "attach_to": super::super::ATTACHMENT_POINTS[1].1, "policies": []})),
        )
        .await;
        refused(status, &body, "is in policy group tier3");

        // Nested groups, but no cycle.
        let (status, inner) = call(
            &c,
            &cid,
            "POST",
            "microseg/policy-list3",
            Some(json!({"name": "inner", "sub_policies": [{"name": "b", "priority": 1, "list": b}]})),
        )
        .await;
        assert_eq!(status, 200, "{inner}");
        let inner = inner["uuid"].as_str().unwrap().to_string();
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{g}"),
            Some(group(
                json!([{"name": "a", "priority": 1, "list": a}, {"name": "inner", "priority": 2, "block": inner}]),
            )),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, outer) = call(
            &c,
            &cid,
            "POST",
            "microseg/policy-list3",
            Some(json!({"name": "outer", "sub_policies": [{"name": "inner", "priority": 1, "block": inner}]})),
        )
        .await;
        assert_eq!(status, 200, "{outer}");
        let outer = outer["uuid"].as_str().unwrap().to_string();
        let (status, body) = call(&c, &cid, "PUT", &format!("microseg/policy-list3/{inner}"), Some(json!({"name": "inner", "sub_policies": [{"name": "b", "priority": 1, "list": b}, {"name": "back", "priority": 2, "block": outer}]}))).await;
        refused(status, &body, "sub_policies[1].block");
        assert!(body["message"].as_str().unwrap().contains("cycle"), "{body}");
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{inner}"),
            Some(json!({"name": "inner", "sub_policies": [{"name": "back", "priority": 1, "block": g}]})),
        )
        .await;
        refused(status, &body, "is attached to TERRAFORM_AFTER_K8S_MANAGED");
        assert_eq!(call(&c, &cid, "DELETE", &format!("microseg/policy-list3/{outer}"), None).await.0, 200);
        let (status, body) = call(
            &c,
            &cid,
            "PUT",
            &format!("microseg/policy-list3/{inner}"),
            Some(json!({"name": "inner", "sub_policies": [{"name": "me", "priority": 1, "block": inner}]})),
        )
        .await;
        refused(status, &body, "is the group itself");

        // What a group references cannot be deleted; the error names the group.
        let (status, body) = call(&c, &cid, "DELETE", &format!("microseg/policy-list3/{a}"), None).await;
        refused(status, &body, &format!("in use by policy group tier3 ({g}) sub_policies[0]"));
        let (status, body) = call(&c, &cid, "DELETE", &format!("microseg/policy-list3/{inner}"), None).await;
        refused(status, &body, "in use by policy group tier3");
        // The group goes first, and its attachment point is free again.
        assert_eq!(call(&c, &cid, "DELETE", &format!("microseg/policy-list3/{g}"), None).await.0, 200);
        assert!(c.read(|s| !s.attachments.contains_key(point)));
        for uuid in [&inner, &a, &b] {
            assert_eq!(call(&c, &cid, "DELETE", &format!("microseg/policy-list3/{uuid}"), None).await.0, 200);
        }
    }
}
