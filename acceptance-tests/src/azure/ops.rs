//! ARM request handling: path parsing, api-version and resource-group checks, the per-type rules for route
//! tables, routes, virtual networks and subnets, and long-running operations (reference §1.1–§1.5).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{instant_after, new_etag, task_delay, ArmError, Azure, AzureState, NETWORK_API_VERSIONS, REGIONS};
use crate::fault::FaultKind;

const ROUTE_TABLES: &str = "routeTables";
const VNETS: &str = "virtualNetworks";
const NICS: &str = "networkInterfaces";
const NEXT_HOP_TYPES: [&str; 5] = ["VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum OpKind {
    Put,
    Delete,
}

/// A long-running operation.
struct Op {
    key: String,
    kind: OpKind,
    /// `None`: stays in progress for good.
    ready_at: Option<Instant>,
    outcome: Result<(), ArmError>,
    settled: bool,
}

/// Long-running operations by ID.
#[derive(Default)]
pub(super) struct Operations {
    ops: HashMap<String, Op>,
}

impl Operations {
    fn running(op: &Op) -> bool {
        match op.ready_at {
            None => true,
            Some(at) => Instant::now() < at,
        }
    }

    /// `Updating`/`Deleting` while an operation on the resource runs.
    pub(super) fn pending_state(&self, key: &str) -> Option<&'static str> {
        self.ops.values().find(|op| op.key == key && Self::running(op)).map(|op| match op.kind {
            OpKind::Put => "Updating",
            OpKind::Delete => "Deleting",
        })
    }

    fn busy(&self, key: &str) -> bool {
        self.ops.values().any(|op| Self::running(op) && (op.key == key || key.starts_with(&format!("{}/", op.key))))
    }
}

/// A parsed ARM path.
struct Target {
    group: String,
    namespace: String,
    kind: String,
    name: Option<String>,
    child_kind: Option<String>,
    child_name: Option<String>,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn canonical_kind(kind: &str) -> Option<&'static str> {
    [ROUTE_TABLES, VNETS, NICS, "virtualMachines"].into_iter().find(|k| eq(k, kind))
}

fn child_kind_of(kind: &str) -> Option<&'static str> {
    match kind {
        ROUTE_TABLES => Some("routes"),
        VNETS => Some("subnets"),
        _ => None,
    }
}

fn arm_type(namespace: &str, kind: &str, child: Option<&str>) -> String {
    match child {
        Some(child) => format!("{namespace}/{kind}/{child}"),
        None => format!("{namespace}/{kind}"),
    }
}

fn not_found_top(kind_type: &str, name: &str, group: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource '{kind_type}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

fn not_found_child(id: &str) -> ArmError {
    ArmError::new(StatusCode::NOT_FOUND, "NotFound", format!("Resource {id} not found."))
}

fn invalid(message: impl Into<String>) -> ArmError {
    ArmError::bad_request("InvalidRequestFormat", message)
}

fn check_api_version(namespace: &str, kind: &str, location: &str, version: Option<&str>) -> Result<(), ArmError> {
    let Some(version) = version else {
        return Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let well_formed = version.len() >= 10
        && version[..10].chars().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if !well_formed {
        return Err(ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{version}' is invalid. The supported versions are '{}'.",
                NETWORK_API_VERSIONS.join(",")
            ),
        ));
    }
    if eq(namespace, "Microsoft.Network") && !NETWORK_API_VERSIONS.contains(&version) {
        return Err(ArmError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location '{location}' and API version '{version}' for type '{kind}'. The supported api-versions are '{}'.",
                NETWORK_API_VERSIONS.join(", ")
            ),
        ));
    }
    Ok(())
}

fn parse(azure: &Azure, segments: &[String]) -> Result<Target, ArmError> {
    let not_found =
        || ArmError::new(StatusCode::NOT_FOUND, "NotFound", format!("No route for /{}", segments.join("/")));
    if segments.len() < 2 || !eq(&segments[0], "subscriptions") {
        return Err(not_found());
    }
    if !eq(&segments[1], &azure.config.subscription_id) {
        return Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{}' could not be found.", segments[1]),
        ));
    }
    if segments.len() < 4 || !eq(&segments[2], "resourceGroups") {
        return Err(not_found());
    }
    let group = segments[3].clone();
    if segments.len() == 4 {
        return Ok(Target {
            group,
            namespace: String::new(),
            kind: String::new(),
            name: None,
            child_kind: None,
            child_name: None,
        });
    }
    if segments.len() < 7 || !eq(&segments[4], "providers") {
        return Err(not_found());
    }
    let namespace = if eq(&segments[5], "Microsoft.Network") {
        "Microsoft.Network"
    } else if eq(&segments[5], "Microsoft.Compute") {
        "Microsoft.Compute"
    } else {
        return Err(ArmError::bad_request(
            "InvalidResourceNamespace",
            format!("The resource namespace '{}' is invalid.", segments[5]),
        ));
    };
    let kind = canonical_kind(&segments[6])
        .filter(|k| (namespace == "Microsoft.Compute") == (*k == "virtualMachines"))
        .ok_or_else(|| {
            ArmError::bad_request(
                "InvalidResourceType",
                format!("The resource type '{}' could not be found in the namespace '{namespace}'.", segments[6]),
            )
        })?;
    let name = segments.get(7).cloned();
    let child_kind = match segments.get(8) {
        None => None,
        Some(child) => match child_kind_of(kind) {
            Some(expected) if eq(expected, child) => Some(expected.to_string()),
            _ => {
                return Err(ArmError::bad_request(
                    "InvalidResourceType",
                    format!("The resource type '{kind}/{child}' could not be found in the namespace '{namespace}'."),
                ))
            }
        },
    };
    let child_name = segments.get(9).cloned();
    if segments.len() > 10 {
        return Err(not_found());
    }
    Ok(Target { group, namespace: namespace.to_string(), kind: kind.to_string(), name, child_kind, child_name })
}

fn with_header(mut response: Response, name: &'static str, value: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// Handles one authenticated ARM request.
pub(super) async fn handle(
    azure: &Azure,
    method: &Method,
    segments: &[String],
    api_version: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ArmError> {
    settle(azure);
    // Operation status: /subscriptions/{sub}/providers/Microsoft.Network/locations/{loc}/operations[Results]/{id}
    if segments.len() == 8 && eq(&segments[2], "providers") && eq(&segments[4], "locations") {
        check_api_version("Microsoft.Network", "operations", &segments[5], api_version)?;
        return operation_status(azure, &segments[6], &segments[7]);
    }
    // Subscription-wide lists: /subscriptions/{sub}/providers/Microsoft.Network/{kind}
    if segments.len() == 5 && eq(&segments[0], "subscriptions") && eq(&segments[2], "providers") {
        if !eq(&segments[1], &azure.config.subscription_id) {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                format!("The subscription '{}' could not be found.", segments[1]),
            ));
        }
        let kind = canonical_kind(&segments[4]).filter(|k| *k != "virtualMachines").ok_or_else(|| {
            ArmError::bad_request(
                "InvalidResourceType",
                format!("The resource type '{}' could not be found.", segments[4]),
            )
        })?;
        check_api_version(&segments[3], kind, &azure.config.location, api_version)?;
        if *method != Method::GET {
            return Err(ArmError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "Only GET lists resources."));
        }
        let prefix = format!("/subscriptions/{}/", azure.config.subscription_id).to_lowercase();
        return Ok(list(azure, &prefix, &format!("Microsoft.Network/{kind}")));
    }
    let target = parse(azure, segments)?;
    let location = azure.config.location.clone();
    let group_key = azure.group_id(&target.group).to_lowercase();
    if target.kind.is_empty() {
        check_api_version("Microsoft.Resources", "resourceGroups", &location, api_version)?;
    } else {
        check_api_version(&target.namespace, &target.kind, &location, api_version)?;
    }
    if !azure.read(|s| s.resources.contains_key(&group_key)) {
        return Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{}' could not be found.", target.group),
        ));
    }
    if target.kind.is_empty() {
        if *method != Method::GET {
            return Err(ArmError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The lab's resource groups are read-only.",
            ));
        }
        return Ok(axum::Json(azure.read(|s| azure.render(s, &group_key)).unwrap_or(Value::Null)).into_response());
    }
    let group_prefix = format!("{}/providers/{}/{}", azure.group_id(&target.group), target.namespace, target.kind);
    let Some(name) = target.name.clone() else {
        if *method != Method::GET {
            return Err(ArmError::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "Only GET lists resources."));
        }
        return Ok(list(
            azure,
            &format!("{}/", group_prefix.to_lowercase()),
            &arm_type(&target.namespace, &target.kind, None),
        ));
    };
    let parent_id = format!("{group_prefix}/{name}");
    let parent_key = parent_id.to_lowercase();
    let parent_type = arm_type(&target.namespace, &target.kind, None);
    let (id, key, is_child) = match (&target.child_kind, &target.child_name) {
        (None, _) => (parent_id.clone(), parent_key.clone(), false),
        (Some(child_kind), None) => {
            if *method != Method::GET {
                return Err(ArmError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "Only GET lists resources.",
                ));
            }
            if !azure.read(|s| s.resources.contains_key(&parent_key)) {
                return Err(not_found_top(&parent_type, &name, &target.group));
            }
            return Ok(list(
                azure,
                &format!("{parent_key}/{}/", child_kind.to_lowercase()),
                &arm_type(&target.namespace, &target.kind, Some(child_kind)),
            ));
        }
        (Some(child_kind), Some(child_name)) => {
            let id = format!("{parent_id}/{child_kind}/{child_name}");
            let key = id.to_lowercase();
            (id, key, true)
        }
    };
    let read_only = target.kind == NICS || target.kind == "virtualMachines";
    if read_only && *method != Method::GET {
        return Err(ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The lab serves {} read-only: they belong to gateways the controller created.", target.kind),
        ));
    }
    let exists = azure.read(|s| s.resources.contains_key(&key));
    let parent_exists = azure.read(|s| s.resources.contains_key(&parent_key));
    if *method == Method::GET {
        return match azure.read(|s| azure.render(s, &key)) {
            Some(resource) => Ok(axum::Json(resource).into_response()),
            None if is_child && !parent_exists => Err(not_found_top(&parent_type, &name, &target.group)),
            None if is_child => Err(not_found_child(&id)),
            None => Err(not_found_top(&parent_type, &name, &target.group)),
        };
    }
    // Writes: preconditions, conflicts and faults first.
    let etag =
        azure.read(|s| s.resources.get(&key).and_then(|r| r.get("etag")).and_then(Value::as_str).map(str::to_string));
    if let Some(if_match) = headers.get("if-match").and_then(|v| v.to_str().ok()) {
        if if_match != "*" && Some(if_match) != etag.as_deref() || if_match == "*" && !exists {
            return Err(ArmError::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "The condition specified using HTTP conditional header(s) is not met.",
            ));
        }
    }
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("*") && exists {
        return Err(ArmError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "The condition specified using HTTP conditional header(s) is not met.",
        ));
    }
    let busy = azure.ops.lock().unwrap().busy(&key) || azure.ops.lock().unwrap().busy(&parent_key);
    if busy || azure.faults.fires(FaultKind::Conflict).is_some() {
        let op_url = format!(
            "{}/subscriptions/{}/providers/Microsoft.Network/locations/{location}/operations/{}?api-version={}",
            azure.url(),
            azure.config.subscription_id,
            uuid::Uuid::new_v4(),
            api_version.unwrap_or("")
        );
        return Err(ArmError::new(
            StatusCode::CONFLICT,
            "AnotherOperationInProgress",
            format!("Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: {op_url}."),
        ));
    }
    let long_running = long_running_mode(azure);
    let api = api_version.unwrap_or("");
    match *method {
        Method::PUT => {
            let body = parse_body(body)?;
            if is_child && !parent_exists {
                return Err(not_found_top(&parent_type, &name, &target.group));
            }
            let child_name = target.child_name.clone().unwrap_or_default();
            let (resource_name, kind_type) = if is_child {
                (child_name, arm_type(&target.namespace, &target.kind, target.child_kind.as_deref()))
            } else {
                (name.clone(), parent_type.clone())
            };
            let stored_name = azure
                .read(|s| s.resources.get(&key).and_then(|r| r.get("name")).and_then(Value::as_str).map(str::to_string))
                .unwrap_or(resource_name);
            let writes = azure.read(|s| build_put(azure, s, &kind_type, &id, &stored_name, &parent_key, body))?;
            let status = if exists { StatusCode::OK } else { StatusCode::CREATED };
            if let Some(Err(failure)) = long_running.as_ref().map(|(_, outcome)| outcome) {
                // The operation will fail: nothing is written; the client learns it by polling.
                let mut shown = writes.main.clone();
                shown["properties"]["provisioningState"] = Value::String("Updating".into());
                let op = start_op(azure, &key, OpKind::Put, long_running.as_ref().unwrap().0, Err(failure.clone()));
                return Ok(async_headers(azure, (status, axum::Json(shown)).into_response(), &op, api, false));
            }
            azure.mutate(|s| apply_writes(s, &writes));
            if let Some((ready_at, outcome)) = long_running {
                let op = start_op(azure, &key, OpKind::Put, ready_at, outcome);
                let shown = azure.read(|s| azure.render(s, &key)).unwrap_or(Value::Null);
                return Ok(async_headers(azure, (status, axum::Json(shown)).into_response(), &op, api, false));
            }
            let shown = azure.read(|s| azure.render(s, &key)).unwrap_or(Value::Null);
            Ok((status, axum::Json(shown)).into_response())
        }
        Method::PATCH => {
            if is_child {
                return Err(ArmError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "PATCH is served for route tables and virtual networks only.",
                ));
            }
            if !exists {
                return Err(not_found_top(&parent_type, &name, &target.group));
            }
            let body = parse_body(body)?;
            let tags = body.get("tags").cloned().unwrap_or(json!({}));
            check_tags(&tags)?;
            azure.mutate(|s| {
                if let Some(resource) = s.resources.get_mut(&key) {
                    resource["tags"] = tags;
                    resource["etag"] = Value::String(new_etag());
                }
            });
            Ok(axum::Json(azure.read(|s| azure.render(s, &key)).unwrap_or(Value::Null)).into_response())
        }
        Method::DELETE => {
            if !exists {
                // ARM: 204 means "deleted or not found".
                return Ok(StatusCode::NO_CONTENT.into_response());
            }
            azure.read(|s| check_delete(s, &key))?;
            if let Some((ready_at, outcome)) = long_running {
                let op = start_op(azure, &key, OpKind::Delete, ready_at, outcome);
                return Ok(async_headers(azure, StatusCode::ACCEPTED.into_response(), &op, api, true));
            }
            azure.mutate(|s| remove_tree(s, &key));
            Ok(StatusCode::OK.into_response())
        }
        _ => Err(ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not served here."),
        )),
    }
}

/// Whether this write runs long, and how it ends: `None` for a synchronous answer (the default).
fn long_running_mode(azure: &Azure) -> Option<(Option<Instant>, Result<(), ArmError>)> {
    if azure.faults.fires(FaultKind::TaskStuck).is_some() {
        return Some((None, Ok(())));
    }
    if azure.faults.fires(FaultKind::TaskFailed).is_some() {
        let delay = task_delay(azure).unwrap_or(Duration::from_millis(200));
        return Some((
            Some(instant_after(delay)),
            Err(ArmError::new(
                StatusCode::CONFLICT,
                "AnotherOperationInProgress",
                "Another operation on this or dependent resource is in progress.",
            )),
        ));
    }
    task_delay(azure).map(|delay| (Some(instant_after(delay)), Ok(())))
}

fn start_op(
    azure: &Azure,
    key: &str,
    kind: OpKind,
    ready_at: Option<Instant>,
    outcome: Result<(), ArmError>,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    azure
        .ops
        .lock()
        .unwrap()
        .ops
        .insert(id.clone(), Op { key: key.to_string(), kind, ready_at, outcome, settled: false });
    id
}

fn async_headers(azure: &Azure, response: Response, op: &str, api: &str, location: bool) -> Response {
    let base = format!(
        "{}/subscriptions/{}/providers/Microsoft.Network/locations/{}",
        azure.url(),
        azure.config.subscription_id,
        azure.config.location
    );
    let mut response =
        with_header(response, "azure-asyncoperation", &format!("{base}/operations/{op}?api-version={api}"));
    if location {
        response = with_header(response, "location", &format!("{base}/operationResults/{op}?api-version={api}"));
    }
    with_header(response, "retry-after", "1")
}

/// Applies finished deletes.
fn settle(azure: &Azure) {
    let due: Vec<String> = {
        let mut ops = azure.ops.lock().unwrap();
        let mut due = Vec::new();
        for op in ops.ops.values_mut() {
            if !op.settled && !Operations::running(op) {
                op.settled = true;
                if op.kind == OpKind::Delete && op.outcome.is_ok() {
                    due.push(op.key.clone());
                }
            }
        }
        due
    };
    if !due.is_empty() {
        azure.mutate(|s| {
            for key in &due {
                remove_tree(s, key);
            }
        });
    }
}

fn operation_status(azure: &Azure, which: &str, id: &str) -> Result<Response, ArmError> {
    let ops = azure.ops.lock().unwrap();
    let Some(op) = ops.ops.get(id) else {
        return Err(ArmError::new(StatusCode::NOT_FOUND, "NotFound", format!("Operation {id} not found.")));
    };
    let running = Operations::running(op);
    if eq(which, "operations") {
        let body = match (&op.outcome, running) {
            (_, true) => json!({"status": "InProgress"}),
            (Ok(()), false) => json!({"status": "Succeeded"}),
            (Err(e), false) => json!({"status": "Failed", "error": {"code": e.code, "message": e.message}}),
        };
        let response = axum::Json(body).into_response();
        return Ok(if running { with_header(response, "retry-after", "1") } else { response });
    }
    if eq(which, "operationResults") {
        if running {
            return Ok(with_header(StatusCode::ACCEPTED.into_response(), "retry-after", "1"));
        }
        return match &op.outcome {
            Err(e) => Err(e.clone()),
            Ok(()) if op.kind == OpKind::Delete => Ok(StatusCode::NO_CONTENT.into_response()),
            Ok(()) => {
                let key = op.key.clone();
                drop(ops);
                Ok(axum::Json(azure.read(|s| azure.render(s, &key)).unwrap_or(Value::Null)).into_response())
            }
        };
    }
    Err(ArmError::new(StatusCode::NOT_FOUND, "NotFound", format!("No route for {which}.")))
}

fn list(azure: &Azure, prefix: &str, kind_type: &str) -> Response {
    let value: Vec<Value> = azure.read(|s| {
        s.resources
            .iter()
            .filter(|(k, r)| k.starts_with(prefix) && r.get("type").and_then(Value::as_str) == Some(kind_type))
            .filter_map(|(k, _)| azure.render(s, k))
            .collect()
    });
    axum::Json(json!({ "value": value })).into_response()
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ArmError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ArmError::bad_request("InvalidRequestFormat", "Cannot parse the request.")),
    }
}

fn check_tags(tags: &Value) -> Result<(), ArmError> {
    match tags {
        Value::Object(map) if map.values().all(Value::is_string) => Ok(()),
        Value::Null => Ok(()),
        _ => Err(invalid("tags must be an object of string values")),
    }
}

fn check_location(
    body: &Map<String, Value>,
    kind_type: &str,
    existing: Option<&Value>,
    name: &str,
    group: &str,
) -> Result<String, ArmError> {
    let Some(location) = body.get("location").and_then(Value::as_str) else {
        return Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let normalised = location.to_lowercase().replace(' ', "");
    if !REGIONS.iter().any(|(n, _)| *n == normalised) {
        return Err(ArmError::bad_request(
            "LocationNotAvailableForResourceType",
            format!(
                "The provided location '{location}' is not available for resource type '{kind_type}'. List of available regions for the resource type is '{}'.",
                REGIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(",")
            ),
        ));
    }
    if let Some(old) = existing.and_then(|r| r.get("location")).and_then(Value::as_str) {
        if old != normalised {
            return Err(ArmError::bad_request(
                "InvalidResourceLocation",
                format!("The resource '{name}' already exists in location '{old}' in resource group '{group}'. A resource with the same name cannot be created in location '{normalised}'. Please select a new resource name."),
            ));
        }
    }
    Ok(normalised)
}

/// The resources one PUT writes: the resource itself and, for inline `routes`/`subnets`, its children (which
/// replace the existing ones).
struct Writes {
    main_key: String,
    main: Value,
    /// When `Some`, the children of `main` under this segment are replaced by these.
    children: Option<(String, Vec<(String, Value)>)>,
}

fn group_of(id: &str) -> String {
    id.split('/').nth(4).unwrap_or("").to_string()
}

fn build_put(
    azure: &Azure,
    state: &AzureState,
    kind_type: &str,
    id: &str,
    name: &str,
    parent_key: &str,
    body: Map<String, Value>,
) -> Result<Writes, ArmError> {
    let key = id.to_lowercase();
    let existing = state.resources.get(&key);
    let mut properties = match body.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err(invalid("properties must be an object")),
    };
    for read_only in ["provisioningState", "resourceGuid", "ipConfigurations", "hasBgpOverride"] {
        properties.remove(read_only);
    }
    let etag = Value::String(new_etag());
    match kind_type {
        "Microsoft.Network/routeTables" => {
            let location = check_location(&body, kind_type, existing, name, &group_of(id))?;
            let tags = body.get("tags").cloned().unwrap_or(json!({}));
            check_tags(&tags)?;
            if properties.get("disableBgpRoutePropagation").is_some_and(|v| !v.is_boolean()) {
                return Err(invalid("properties.disableBgpRoutePropagation must be a boolean"));
            }
            let routes = properties.remove("routes");
            properties.remove("subnets");
            let guid = existing
                .and_then(|r| r.pointer("/properties/resourceGuid").cloned())
                .unwrap_or_else(|| Value::String(uuid::Uuid::new_v4().to_string()));
            properties.insert("resourceGuid".into(), guid);
            properties.insert("provisioningState".into(), Value::String("Succeeded".into()));
            properties.entry("disableBgpRoutePropagation").or_insert(Value::Bool(false));
            let mut children = Vec::new();
            if let Some(routes) = routes {
                let routes = routes.as_array().ok_or_else(|| invalid("properties.routes must be a list"))?;
                for (i, route) in routes.iter().enumerate() {
                    let route_name = route
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid(format!("properties.routes[{i}].name is required")))?;
                    let route_id = format!("{id}/routes/{route_name}");
                    let props = route.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                    children.push((route_id.to_lowercase(), route_resource(&route_id, route_name, props)?));
                }
            }
            Ok(Writes {
                main_key: key,
                main: json!({"id": id, "name": name, "type": kind_type, "location": location, "tags": tags, "etag": etag, "properties": properties}),
                children: Some(("routes".into(), children)),
            })
        }
        "Microsoft.Network/routeTables/routes" => {
            Ok(Writes { main_key: key, main: route_resource(id, name, properties)?, children: None })
        }
        "Microsoft.Network/virtualNetworks" => {
            let location = check_location(&body, kind_type, existing, name, &group_of(id))?;
            let tags = body.get("tags").cloned().unwrap_or(json!({}));
            check_tags(&tags)?;
            let prefixes: Vec<ipnet::Ipv4Net> = properties
                .get("addressSpace")
                .and_then(|a| a.get("addressPrefixes"))
                .and_then(Value::as_array)
                .map(|list| list.iter().filter_map(|p| p.as_str()?.parse().ok()).collect())
                .unwrap_or_default();
            if prefixes.is_empty() {
                return Err(invalid("properties.addressSpace.addressPrefixes must hold at least one CIDR"));
            }
            let subnets = properties.remove("subnets").unwrap_or(json!([]));
            let guid = existing
                .and_then(|r| r.pointer("/properties/resourceGuid").cloned())
                .unwrap_or_else(|| Value::String(uuid::Uuid::new_v4().to_string()));
            properties.insert("resourceGuid".into(), guid);
            properties.insert("provisioningState".into(), Value::String("Succeeded".into()));
            let subnets = subnets.as_array().ok_or_else(|| invalid("properties.subnets must be a list"))?;
            let mut children = Vec::new();
            let mut taken: Vec<(String, ipnet::Ipv4Net)> = Vec::new();
            for (i, subnet) in subnets.iter().enumerate() {
                let subnet_name = subnet
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("properties.subnets[{i}].name is required")))?;
                let subnet_id = format!("{id}/subnets/{subnet_name}");
                let props = subnet.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let resource =
                    subnet_resource(azure, state, &subnet_id, subnet_name, name, &prefixes, &location, &taken, props)?;
                if let Some(net) = subnet_prefix(&resource) {
                    taken.push((subnet_name.to_string(), net));
                }
                children.push((subnet_id.to_lowercase(), resource));
            }
            // Subnets the PUT drops are deleted, which NICs in them forbid.
            let keep: Vec<&String> = children.iter().map(|(k, _)| k).collect();
            let prefix = format!("{key}/subnets/");
            for (existing_key, _) in state.resources.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix))
            {
                if !keep.contains(&existing_key) {
                    check_delete(state, existing_key)?;
                }
            }
            Ok(Writes {
                main_key: key,
                main: json!({"id": id, "name": name, "type": kind_type, "location": location, "tags": tags, "etag": etag, "properties": properties}),
                children: Some(("subnets".into(), children)),
            })
        }
        "Microsoft.Network/virtualNetworks/subnets" => {
            let vnet = state.resources.get(parent_key).cloned().unwrap_or(Value::Null);
            let vnet_name = vnet.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let location = vnet.get("location").and_then(Value::as_str).unwrap_or("").to_string();
            let prefixes: Vec<ipnet::Ipv4Net> = vnet
                .pointer("/properties/addressSpace/addressPrefixes")
                .and_then(Value::as_array)
                .map(|list| list.iter().filter_map(|p| p.as_str()?.parse().ok()).collect())
                .unwrap_or_default();
            let siblings_prefix = format!("{parent_key}/subnets/");
            let taken: Vec<(String, ipnet::Ipv4Net)> = state
                .resources
                .range(siblings_prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&siblings_prefix))
                .filter(|(k, _)| **k != key)
                .filter_map(|(_, r)| Some((r.get("name")?.as_str()?.to_string(), subnet_prefix(r)?)))
                .collect();
            let resource =
                subnet_resource(azure, state, id, name, &vnet_name, &prefixes, &location, &taken, properties)?;
            if let (Some(old), Some(new)) = (existing.and_then(subnet_prefix), subnet_prefix(&resource)) {
                if old != new && has_nics(state, &key) {
                    return Err(ArmError::bad_request(
                        "InUseSubnetCannotBeUpdated",
                        format!("Subnet {name} is in use and cannot be updated."),
                    ));
                }
            }
            Ok(Writes { main_key: key, main: resource, children: None })
        }
        other => Err(invalid(format!("{other} cannot be written"))),
    }
}

fn route_resource(id: &str, name: &str, mut props: Map<String, Value>) -> Result<Value, ArmError> {
    for read_only in ["provisioningState", "hasBgpOverride"] {
        props.remove(read_only);
    }
    let prefix = props.get("addressPrefix").and_then(Value::as_str).unwrap_or("");
    let is_tag = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    if prefix.parse::<ipnet::IpNet>().is_err() && !is_tag {
        return Err(invalid(format!(
            "Route {name}: addressPrefix {prefix:?} is not a CIDR (such as 0.0.0.0/0) or a service tag"
        )));
    }
    let hop = props.get("nextHopType").and_then(Value::as_str).unwrap_or("");
    let Some(hop) = NEXT_HOP_TYPES.iter().find(|t| eq(t, hop)) else {
        return Err(invalid(format!("Route {name}: nextHopType {hop:?} must be one of {}", NEXT_HOP_TYPES.join(", "))));
    };
    props.insert("nextHopType".into(), Value::String(hop.to_string()));
    let ip = props.get("nextHopIpAddress").and_then(Value::as_str).filter(|s| !s.is_empty());
    match (*hop, ip) {
        ("VirtualAppliance", None) => {
            return Err(invalid(format!("Route {name}: nextHopIpAddress is required when nextHopType is VirtualAppliance")))
        }
        ("VirtualAppliance", Some(ip)) if ip.parse::<std::net::IpAddr>().is_err() => {
            return Err(invalid(format!("Route {name}: nextHopIpAddress {ip:?} is not an IP address")))
        }
        ("VirtualAppliance", Some(_)) => {}
        (hop, Some(_)) => {
            return Err(invalid(format!(
                "Route {name}: nextHopIpAddress is only allowed in routes where the next hop type is VirtualAppliance, not {hop}"
            )))
        }
        (_, None) => {
            props.remove("nextHopIpAddress");
        }
    }
    props.insert("provisioningState".into(), Value::String("Succeeded".into()));
    props.insert("hasBgpOverride".into(), Value::Bool(false));
    Ok(
        json!({"id": id, "name": name, "type": "Microsoft.Network/routeTables/routes", "etag": new_etag(), "properties": props}),
    )
}

fn subnet_prefix(resource: &Value) -> Option<ipnet::Ipv4Net> {
    resource.pointer("/properties/addressPrefix").and_then(Value::as_str)?.parse().ok()
}

fn has_nics(state: &AzureState, subnet_key: &str) -> bool {
    state.resources.values().any(|r| {
        r.get("type").and_then(Value::as_str) == Some("Microsoft.Network/networkInterfaces")
            && r.pointer("/properties/ipConfigurations/0/properties/subnet/id")
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase() == subnet_key)
    })
}

#[allow(clippy::too_many_arguments)]
fn subnet_resource(
    _azure: &Azure,
    state: &AzureState,
    id: &str,
    name: &str,
    vnet_name: &str,
    vnet_prefixes: &[ipnet::Ipv4Net],
    vnet_location: &str,
    taken: &[(String, ipnet::Ipv4Net)],
    mut props: Map<String, Value>,
) -> Result<Value, ArmError> {
    for read_only in ["provisioningState", "ipConfigurations"] {
        props.remove(read_only);
    }
    let prefix_text = props
        .get("addressPrefix")
        .and_then(Value::as_str)
        .or_else(|| props.get("addressPrefixes").and_then(|p| p.get(0)).and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    let Ok(prefix) = prefix_text.parse::<ipnet::Ipv4Net>() else {
        return Err(invalid(format!("Subnet {name}: addressPrefix {prefix_text:?} is not a CIDR")));
    };
    if !vnet_prefixes.iter().any(|net| net.contains(&prefix)) {
        return Err(ArmError::bad_request(
            "NetcfgInvalidSubnet",
            format!("Subnet '{name}' is not valid in virtual network '{vnet_name}'."),
        ));
    }
    if let Some((other, _)) =
        taken.iter().find(|(_, net)| net.contains(&prefix.network()) || prefix.contains(&net.network()))
    {
        return Err(ArmError::bad_request(
            "NetcfgSubnetRangesOverlap",
            format!("Subnet '{name}' is not valid because its IP address range overlaps with that of an existing subnet '{other}' in virtual network '{vnet_name}'."),
        ));
    }
    if let Some(rt) = props.get("routeTable").filter(|v| !v.is_null()) {
        let rt_id = rt.get("id").and_then(Value::as_str).unwrap_or("");
        match state.resources.get(&rt_id.to_lowercase()) {
            Some(table) if table.get("type").and_then(Value::as_str) == Some("Microsoft.Network/routeTables") => {
                if table.get("location").and_then(Value::as_str) != Some(vnet_location) {
                    return Err(ArmError::bad_request(
                        "InvalidResourceReference",
                        format!("Resource {rt_id} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
                    ));
                }
                props.insert("routeTable".into(), json!({"id": table["id"]}));
            }
            _ => {
                return Err(ArmError::bad_request(
                    "InvalidResourceReference",
                    format!("Resource {rt_id} referenced by resource {id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."),
                ))
            }
        }
    } else {
        props.remove("routeTable");
    }
    props.insert("addressPrefix".into(), Value::String(prefix.to_string()));
    props.remove("addressPrefixes");
    props.insert("provisioningState".into(), Value::String("Succeeded".into()));
    Ok(
        json!({"id": id, "name": name, "type": "Microsoft.Network/virtualNetworks/subnets", "etag": new_etag(), "properties": props}),
    )
}

fn apply_writes(state: &mut AzureState, writes: &Writes) {
    if let Some((segment, children)) = &writes.children {
        let prefix = format!("{}/{}/", writes.main_key, segment.to_lowercase());
        let stale: Vec<String> = state
            .resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            state.resources.remove(&key);
        }
        for (key, child) in children {
            state.resources.insert(key.clone(), child.clone());
        }
    }
    state.resources.insert(writes.main_key.clone(), writes.main.clone());
}

/// What forbids deleting `key` (reference §1.5, §6 item 11).
fn check_delete(state: &AzureState, key: &str) -> Result<(), ArmError> {
    let Some(resource) = state.resources.get(key) else {
        return Ok(());
    };
    let name = resource.get("name").and_then(Value::as_str).unwrap_or("");
    match resource.get("type").and_then(Value::as_str).unwrap_or("") {
        "Microsoft.Network/routeTables" => {
            let in_use = state.resources.values().any(|r| {
                r.pointer("/properties/routeTable/id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.to_lowercase() == key)
            });
            if in_use {
                return Err(ArmError::bad_request(
                    "InUseRouteTableCannotBeDeleted",
                    format!("Route table {name} is in use and cannot be deleted."),
                ));
            }
        }
        "Microsoft.Network/virtualNetworks/subnets" => {
            if has_nics(state, key) {
                return Err(ArmError::bad_request(
                    "InUseSubnetCannotBeDeleted",
                    format!("Subnet {name} is in use and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet."),
                ));
            }
        }
        "Microsoft.Network/virtualNetworks" => {
            let prefix = format!("{key}/subnets/");
            for (subnet_key, _) in state.resources.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)) {
                check_delete(state, subnet_key)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Removes a resource and its children.
pub(super) fn remove_tree(state: &mut AzureState, key: &str) {
    let prefix = format!("{key}/");
    let doomed: Vec<String> = state.resources.keys().filter(|k| *k == key || k.starts_with(&prefix)).cloned().collect();
    for k in doomed {
        state.resources.remove(&k);
    }
}
