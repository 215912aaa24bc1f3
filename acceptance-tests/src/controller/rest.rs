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

/// Builds a ruleset from a POST/PUT body: `{name, attach_to, policies, metadata}` (reference §3.4).
fn ruleset_body(state: &ControllerState, body: &Bytes, uuid: &str) -> Result<Value, Response> {
    let map = parse_object(body)?;
    let name = match map.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => return Err(bad_request("name is required")),
    };
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
    Ok(json!({
        "uuid": uuid,
        "name": name,
        "attach_to": attach_to.unwrap_or_default(),
        "policies": policies,
        "metadata": map.get("metadata").cloned().unwrap_or(Value::Null),
    }))
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

async fn create_ruleset(State(c): State<Arc<Controller>>, body: Bytes) -> Reply {
    let uuid = new_uuid();
    let ruleset = c.read(|s| ruleset_body(s, &body, &uuid))?;
    c.mutate(|s| store_ruleset(s, &uuid, ruleset));
    ok(json!({ "uuid": uuid }))
}

async fn get_ruleset(State(c): State<Arc<Controller>>, Path(uuid): Path<String>) -> Reply {
    c.read(|s| s.rulesets.get(&uuid).cloned()).map(|r| Json(r).into_response()).ok_or_else(|| ruleset_not_found(&uuid))
}

async fn put_ruleset(State(c): State<Arc<Controller>>, Path(uuid): Path<String>, body: Bytes) -> Reply {
    if !c.read(|s| s.rulesets.contains_key(&uuid)) {
        return Err(ruleset_not_found(&uuid));
    }
    let ruleset = c.read(|s| ruleset_body(s, &body, &uuid))?;
    c.mutate(|s| store_ruleset(s, &uuid, ruleset));
    ok(json!({}))
}

async fn delete_ruleset(State(c): State<Arc<Controller>>, Path(uuid): Path<String>) -> Reply {
    let removed = c.mutate(|s| {
        let removed = s.rulesets.remove(&uuid);
        s.attachments.retain(|_, holder| *holder != uuid);
        removed
    });
    match removed {
        Some(_) => ok(json!({})),
        None => Err(ruleset_not_found(&uuid)),
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
}
