//! The `/v2/api` actions (reference §1.2–§1.5, §2, §4.1, §5.3; docs/controller-api.md): login and CID
//! sessions, async tasks, gateways (create, resize, tags, delete), feature flags, remote syslog. Every answer is the v2 envelope with HTTP 200, as on the real
//! controller; failures are `return:false` with the controller's `reason` text.

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{envelope_fail, envelope_ok, Controller, Gateway, LaunchRequest, Params, CLOUD_AWS, CLOUD_AZURE, FEATURES};
use crate::fault::FaultKind;

/// The reason the v2 form API gives for an expired or unknown CID (reference §1.2).
pub const CID_INVALID: &str = "CID is invalid or expired.";

pub(super) async fn dispatch(controller: &Controller, headers: &HeaderMap, params: Params) -> Response {
    let Some(action) = params.get("action").map(str::to_string) else {
        return envelope_fail("Missing required parameter: action");
    };
    match action.as_str() {
        "get_api_token" => return get_api_token(controller),
        "login" => return login(controller, headers, &params),
        _ => {}
    }
    let cid = params.get("CID").unwrap_or("").to_string();
    if !controller.session_valid(&cid) {
        // The v2 JSON style words it differently from the form style (reference §1.2).
        return if params.json { envelope_fail(format!("Session {cid} expired")) } else { envelope_fail(CID_INVALID) };
    }
    let result = match action.as_str() {
        "list_version_info" => Ok(json!({"current_version": "10.1.0", "latest_version": "10.1.0"})),
        "list_accounts" => Ok(list_accounts(controller)),
        "check_task_status" => return check_task_status(controller, &params),
        "create_multicloud_primary_gateway" => return create_gateway(controller, &params).await,
        "delete_container" => return delete_gateway(controller, &params).await,
        "edit_gw_config" => return resize_gateway(controller, &params).await,
        "update_resource_tags" => update_tags(controller, &params).await,
        "list_resource_tags" => list_tags(controller, &params),
        "list_vpcs_summary" => list_vpcs_summary(controller, &params),
        "get_gateway_info" => get_gateway_info(controller, &params),
        "enable_controller_feature" => set_feature(controller, &params, true),
        "disable_controller_feature" => set_feature(controller, &params, false),
        "get_controller_feature" => get_feature(controller, &params),
        "get_feature_flags" => Ok(json!(controller.read(|s| s.features.clone()))),
        "enable_remote_syslog_logging" => enable_syslog(controller, &params),
        "get_remote_syslog_logging_status" => syslog_status(controller, &params),
        "disable_remote_syslog_logging" => disable_syslog(controller, &params),
        other => Err(format!("Valid action required: {other} is not a known action")),
    };
    match result {
        Ok(results) => envelope_ok(results),
        Err(reason) => envelope_fail(reason),
    }
}

fn get_api_token(controller: &Controller) -> Response {
    let token = super::random_token(32);
    controller
        .api_tokens
        .lock()
        .unwrap()
        .insert(token.clone(), std::time::Instant::now() + std::time::Duration::from_secs(600));
    envelope_ok(json!({"api_token": token, "legal_terms": "", "reason": ""}))
}

/// `action=login`: the CID is a top-level key of the answer, not part of `results` (reference §1.2). The
/// `X-Access-Key` header is optional (third-party scripts log in without it), but when sent it must be a token
/// `get_api_token` issued.
fn login(controller: &Controller, headers: &HeaderMap, params: &Params) -> Response {
    if let Some(key) = headers.get("x-access-key").and_then(|v| v.to_str().ok()) {
        let valid =
            controller.api_tokens.lock().unwrap().get(key).is_some_and(|expires| *expires > std::time::Instant::now());
        if !valid {
            return envelope_fail("Invalid API token. Please get a new API token.");
        }
    }
    let (Some(username), Some(password)) = (params.get("username"), params.get("password")) else {
        return envelope_fail("Missing required parameter: username and password");
    };
    if username != controller.config.username || password != controller.config.password {
        return envelope_fail("Invalid username or password.");
    }
    let cid = controller.new_session(username);
    axum::Json(json!({
        "return": true,
        "results": format!("User login:{username} in account:{username} has been authorized successfully"),
        "reason": "",
        "CID": cid,
    }))
    .into_response()
}

fn list_accounts(controller: &Controller) -> Value {
    let accounts: Vec<Value> = controller.read(|s| {
        s.accounts
            .values()
            .map(
                |a| json!({"account_name": a.account_name, "cloud_type": a.cloud_type, "account_number": a.account_id}),
            )
            .collect()
    });
    json!({ "account_list": accounts })
}

/// `check_task_status`: pending is `return:false` with `REQUEST_IN_PROGRESS`, failure `return:false` with the
/// error, success `return:true` with the message; extra keys such as `gw_name` ride at top level (§1.4).
fn check_task_status(controller: &Controller, params: &Params) -> Response {
    let Some(request_id) = params.get("request_id") else {
        return envelope_fail("Missing required parameter: request_id");
    };
    let Some((outcome, extra)) = controller.task_status(request_id) else {
        return envelope_fail(format!("Invalid request_id {request_id}: no such task"));
    };
    let mut body = match outcome {
        None => json!({"return": false, "reason": "REQUEST_IN_PROGRESS"}),
        Some(Ok(message)) => json!({"return": true, "results": message, "reason": ""}),
        Some(Err(reason)) => json!({"return": false, "reason": reason}),
    };
    if let Value::Object(map) = &mut body {
        map.extend(extra);
    }
    axum::Json(body).into_response()
}

/// Answers an operation that may run async: with `async=true` the request ID now and the outcome through
/// `check_task_status`; otherwise the outcome directly.
fn answer_task(
    controller: &Controller,
    params: &Params,
    outcome: Result<String, String>,
    extra: serde_json::Map<String, Value>,
    stuck: bool,
) -> Response {
    if params.flag("async") {
        let id = controller.start_task(outcome, extra.clone(), stuck);
        let mut body = json!({"return": true, "results": id, "reason": ""});
        if let Value::Object(map) = &mut body {
            map.extend(extra);
        }
        return axum::Json(body).into_response();
    }
    match outcome {
        Ok(message) => envelope_ok(Value::String(message)),
        Err(reason) => envelope_fail(reason),
    }
}

fn valid_gateway_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 50
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// `create_multicloud_primary_gateway` (reference §2.2). The gateway record and its cloud instance exist as
/// soon as the task starts, as the controller keeps records of gateways being created; a task that fails
/// (fault `task-failed`) leaves nothing; a stuck task (fault `task-stuck`) leaves the record and never ends.
async fn create_gateway(controller: &Controller, params: &Params) -> Response {
    let _serial = controller.gateway_ops.lock().await;
    let mut extra = serde_json::Map::new();
    if let Some(name) = params.get("gw_name") {
        extra.insert("gw_name".into(), Value::String(name.to_string()));
    }
    let outcome = create_gateway_inner(controller, params).await;
    let (outcome, stuck) = match outcome {
        Err(reason) => (Err(reason), false),
        Ok((gateway, message)) => {
            if controller.faults.fires(FaultKind::TaskFailed).is_some() {
                if let (Some(instance), Some(host)) = (&gateway.instance, controller.clouds.get(&gateway.cloud_type)) {
                    let _ = host.terminate(instance).await;
                }
                (
                    Err(format!(
                        "Failed to create gateway {}: the gateway instance did not come up.",
                        gateway.vpc_name
                    )),
                    false,
                )
            } else {
                let stuck = controller.faults.fires(FaultKind::TaskStuck).is_some();
                controller.mutate(|s| s.gateways.insert(gateway.vpc_name.clone(), gateway));
                (Ok(message), stuck)
            }
        }
    };
    answer_task(controller, params, outcome, extra, stuck)
}

async fn create_gateway_inner(controller: &Controller, params: &Params) -> Result<(Gateway, String), String> {
    let cloud_type: u32 = params
        .require("cloud_type")?
        .parse()
        .map_err(|_| format!("Invalid cloud_type {:?}: must be an integer", params.get("cloud_type").unwrap_or("")))?;
    let account_name = params.require("account_name")?.to_string();
    let gw_name = params.require("gw_name")?.to_string();
    let gw_size = params.require("gw_size")?.to_string();
    let vpc_id = params.require("vpc_id")?.to_string();
    let vpc_region = params.require("vpc_region")?.to_string();
    let gw_subnet = params.require("gw_subnet")?.to_string();
    if !valid_gateway_name(&gw_name) {
        return Err(format!(
            "Invalid gateway name {gw_name}: use up to 50 letters, digits, '-' and '_', starting with a letter"
        ));
    }
    if cloud_type != CLOUD_AWS && cloud_type != CLOUD_AZURE {
        return Err(format!("cloud_type {cloud_type} is not available in this lab: use 1 (AWS) or 8 (Azure)"));
    }
    super::sizes::check(cloud_type, &gw_size)?;
    let account = controller.read(|s| s.accounts.get(&account_name).cloned());
    let Some(account) = account else {
        return Err(format!("Account {account_name} does not exist"));
    };
    if account.cloud_type != cloud_type {
        return Err(format!("Account {account_name} is not an account of cloud_type {cloud_type}"));
    }
    if controller.read(|s| s.gateways.contains_key(&gw_name)) {
        return Err(format!("Gateway {gw_name} already exists."));
    }
    // The subnet is a CIDR, optionally followed by `~~zone~~` or `~~az` suffixes (reference §2.2).
    let subnet_cidr = gw_subnet.split("~~").next().unwrap_or("").to_string();
    if subnet_cidr.parse::<ipnet::Ipv4Net>().is_err() {
        return Err(format!("Invalid gw_subnet {gw_subnet}: expected a subnet CIDR such as 10.11.0.0/24"));
    }
    let Some(host) = controller.clouds.get(&cloud_type) else {
        return Err(format!("cloud_type {cloud_type} has no cloud in this lab"));
    };
    let request = LaunchRequest {
        gw_name: gw_name.clone(),
        gw_size: gw_size.clone(),
        vpc_id: vpc_id.clone(),
        vpc_region: vpc_region.clone(),
        subnet_cidr: subnet_cidr.clone(),
    };
    let instance = host.launch(&request).await?;
    let single_ip_snat = params.get("enable_nat") == Some("yes");
    // Controllers since 10.1.0 enable Single-AZ HA on every new gateway unless told otherwise (§2.2).
    let single_az_ha = params.get("single_az_ha") != Some("disabled");
    let tags = match params.get("json_tags") {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("Invalid json_tags: {e}"))?,
        None => json!({}),
    };
    let public_ip = controller.mutate(|s| controller.allocate_public_ip(s));
    let gateway = Gateway {
        vpc_name: gw_name.clone(),
        cloud_type,
        account_name,
        vpc_id,
        vpc_region,
        vpc_size: gw_size,
        public_subnet: subnet_cidr,
        public_ip,
        private_ip: instance.private_ip.clone(),
        cloudn_gateway_inst_id: instance.instance_id.clone(),
        gw_security_group_id: instance.security_group_id.clone(),
        gw_subnet_id: instance.subnet_id.clone(),
        enable_nat: if single_ip_snat { "yes".into() } else { "no".into() },
        snat_target: if single_ip_snat { "primary".into() } else { String::new() },
        single_az_ha: if single_az_ha { "yes".into() } else { "no".into() },
        gw_image_name: "lab-gateway".into(),
        gw_software_version: "10.1.0".into(),
        tags,
        instance: Some(instance),
    };
    Ok((gateway, format!("Successfully created Gateway {gw_name}.")))
}

/// `delete_container` (reference §2.4): refused while a route still points at the gateway.
async fn delete_gateway(controller: &Controller, params: &Params) -> Response {
    let _serial = controller.gateway_ops.lock().await;
    let outcome = delete_gateway_inner(controller, params).await;
    let outcome = match outcome {
        Ok(name) if controller.faults.fires(FaultKind::TaskFailed).is_some() => {
            Err(format!("Failed to delete gateway {name}: the cloud did not confirm the instance termination."))
        }
        Ok(name) => {
            let gateway = controller.mutate(|s| s.gateways.remove(&name));
            if let Some(gateway) = gateway {
                if let (Some(instance), Some(host)) = (&gateway.instance, controller.clouds.get(&gateway.cloud_type)) {
                    if let Err(e) = host.terminate(instance).await {
                        crate::http::log("controller", format!("terminating the instance of {name}: {e}"));
                    }
                }
            }
            Ok(format!("Successfully deleted Gateway {name}."))
        }
        Err(reason) => Err(reason),
    };
    let stuck = outcome.is_ok() && controller.faults.fires(FaultKind::TaskStuck).is_some();
    answer_task(controller, params, outcome, serde_json::Map::new(), stuck)
}

async fn delete_gateway_inner(controller: &Controller, params: &Params) -> Result<String, String> {
    let name = params.require("gw_name")?.to_string();
    let cloud_type: u32 =
        params.require("cloud_type")?.parse().map_err(|_| "Invalid cloud_type: must be an integer".to_string())?;
    let Some(gateway) = controller.read(|s| s.gateways.get(&name).cloned()) else {
        return Err(format!("Gateway {name} does not exist"));
    };
    if gateway.cloud_type != cloud_type {
        return Err(format!("Gateway {name} is of cloud_type {}, not {cloud_type}", gateway.cloud_type));
    }
    if let (Some(instance), Some(host)) = (&gateway.instance, controller.clouds.get(&gateway.cloud_type)) {
        let refs = host.references(instance).await?;
        if !refs.is_empty() {
            return Err(format!(
                "Gateway {name} is in use by {}. Remove the routes that point at it. Please try again.",
                refs.join(", ")
            ));
        }
    }
    Ok(name)
}

/// The gateway `gw_name` names, checked against `cloud_type` as the controller checks both.
fn named_gateway(controller: &Controller, params: &Params, name_key: &str) -> Result<Gateway, String> {
    let name = params.require(name_key)?;
    let cloud_type: u32 =
        params.require("cloud_type")?.parse().map_err(|_| "Invalid cloud_type: must be an integer".to_string())?;
    let gateway =
        controller.read(|s| s.gateways.get(name).cloned()).ok_or_else(|| format!("Gateway {name} does not exist"))?;
    if gateway.cloud_type != cloud_type {
        return Err(format!("Gateway {name} is of cloud_type {}, not {cloud_type}", gateway.cloud_type));
    }
    Ok(gateway)
}

/// `edit_gw_config` with `gw_size`: the official provider's resize of a gateway (async with `async=true`,
/// polled like create). The cloud instance changes size; a size the cloud does not offer is refused first.
async fn resize_gateway(controller: &Controller, params: &Params) -> Response {
    let _serial = controller.gateway_ops.lock().await;
    let outcome = resize_gateway_inner(controller, params).await;
    let stuck = outcome.is_ok() && controller.faults.fires(FaultKind::TaskStuck).is_some();
    answer_task(controller, params, outcome, serde_json::Map::new(), stuck)
}

async fn resize_gateway_inner(controller: &Controller, params: &Params) -> Result<String, String> {
    let gateway = named_gateway(controller, params, "gw_name")?;
    let size = params.require("gw_size")?.to_string();
    super::sizes::check(gateway.cloud_type, &size)?;
    let name = gateway.vpc_name.clone();
    if controller.faults.fires(FaultKind::TaskFailed).is_some() {
        return Err(format!("Failed to resize gateway {name} to {size}: the instance did not come back up."));
    }
    if size != gateway.vpc_size {
        if let (Some(instance), Some(host)) = (&gateway.instance, controller.clouds.get(&gateway.cloud_type)) {
            host.resize(instance, &size).await.map_err(|e| format!("Failed to resize gateway {name}: {e}"))?;
        }
        controller.mutate(|s| {
            if let Some(g) = s.gateways.get_mut(&name) {
                g.vpc_size = size.clone();
            }
        });
    }
    Ok(format!("Successfully updated gateway {name} size to {size}."))
}

/// A gateway's user tags as a map.
fn tag_map(tags: &Value) -> BTreeMap<String, String> {
    tags.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect()
}

/// Checks tags against the cloud's rules: EC2 keys up to 128 characters and values up to 256, no `aws:`
/// prefix; Azure names up to 512 and values up to 256, none of `<>%&\?/` in a name.
fn check_tags(cloud_type: u32, tags: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in tags {
        let refused = match cloud_type {
            CLOUD_AWS if key.is_empty() || key.chars().count() > 128 => Some("keys have 1 to 128 characters"),
            CLOUD_AWS if key.to_ascii_lowercase().starts_with("aws:") => Some("the aws: prefix is reserved"),
            CLOUD_AWS if value.chars().count() > 256 => Some("values have at most 256 characters"),
            CLOUD_AZURE if key.is_empty() || key.chars().count() > 512 => Some("names have 1 to 512 characters"),
            CLOUD_AZURE if key.contains(['<', '>', '%', '&', '\\', '?', '/']) => {
                Some("names may not contain < > % & \\ ? /")
            }
            CLOUD_AZURE if value.chars().count() > 256 => Some("values have at most 256 characters"),
            _ => None,
        };
        if let Some(rule) = refused {
            return Err(format!("Invalid tag {key:?}: {rule}"));
        }
    }
    Ok(())
}

/// `update_resource_tags` (`resource_type=gw`, `resource_name`, `new_tag_json`): replaces a gateway's user
/// tags, on the controller and on its cloud instance. Answers synchronously, as the official provider expects.
async fn update_tags(controller: &Controller, params: &Params) -> Result<Value, String> {
    let resource_type = params.require("resource_type")?;
    if resource_type != "gw" {
        return Err(format!("Invalid resource_type {resource_type}: this controller tags gateways (gw)"));
    }
    let _serial = controller.gateway_ops.lock().await;
    let gateway = named_gateway(controller, params, "resource_name")?;
    let text = params.get("new_tag_json").unwrap_or("{}");
    let parsed: Value = serde_json::from_str(text).map_err(|e| format!("Invalid new_tag_json {text}: {e}"))?;
    let Value::Object(map) = &parsed else {
        return Err(format!("Invalid new_tag_json {text}: expected a JSON object of tag names to values"));
    };
    if let Some((key, _)) = map.iter().find(|(_, v)| !v.is_string()) {
        return Err(format!("Invalid new_tag_json: the value of tag {key:?} is not a string"));
    }
    let tags = tag_map(&parsed);
    check_tags(gateway.cloud_type, &tags)?;
    let previous = tag_map(&gateway.tags);
    if let (Some(instance), Some(host)) = (&gateway.instance, controller.clouds.get(&gateway.cloud_type)) {
        host.retag(instance, &previous, &tags).await?;
    }
    let name = gateway.vpc_name.clone();
    controller.mutate(|s| {
        if let Some(g) = s.gateways.get_mut(&name) {
            g.tags = parsed;
        }
    });
    Ok(Value::String(format!("Successfully updated tags of gateway {name}.")))
}

/// `list_resource_tags`: `results.usr_tags` holds the gateway's user tags.
fn list_tags(controller: &Controller, params: &Params) -> Result<Value, String> {
    let gateway = named_gateway(controller, params, "resource_name")?;
    Ok(json!({ "usr_tags": gateway.tags }))
}

fn gateway_json(gateway: &Gateway) -> Value {
    let mut value = serde_json::to_value(gateway).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("instance");
    }
    value
}

/// `list_vpcs_summary`: all gateways, or those named by `gateway_name`. An unknown name is reported as
/// `return:false` with "does not exist" (the reference leaves this open; see §2.3).
fn list_vpcs_summary(controller: &Controller, params: &Params) -> Result<Value, String> {
    let gateways: Vec<Gateway> = controller.read(|s| s.gateways.values().cloned().collect());
    let selected: Vec<Value> = match params.get("gateway_name") {
        Some(name) => {
            let found: Vec<Value> = gateways.iter().filter(|g| g.vpc_name == name).map(gateway_json).collect();
            if found.is_empty() {
                return Err(format!("Gateway {name} does not exist"));
            }
            found
        }
        None => gateways.iter().map(gateway_json).collect(),
    };
    Ok(Value::Array(selected))
}

fn get_gateway_info(controller: &Controller, params: &Params) -> Result<Value, String> {
    let name = params.require("gateway_name")?;
    let gateway =
        controller.read(|s| s.gateways.get(name).cloned()).ok_or_else(|| format!("Gateway {name} does not exist"))?;
    Ok(json!({
        "vpc_name": gateway.vpc_name,
        "snat_ip_port_list": [],
        "transit_gw_name": "",
        "bgp_enabled": false,
        "spoke_rtb_list": [],
        "enable_nat": gateway.enable_nat,
        "private_ip": gateway.private_ip,
        "public_ip": gateway.public_ip,
    }))
}

fn set_feature(controller: &Controller, params: &Params, enable: bool) -> Result<Value, String> {
    let feature = params.require("feature")?.to_string();
    if !FEATURES.contains(&feature.as_str()) {
        return Err(format!("Invalid feature {feature}. Valid features: {}", FEATURES.join(", ")));
    }
    let flags = controller.read(|s| s.features.clone());
    if enable && feature == "k8s_dcf_policies" && !flags.get("k8s").copied().unwrap_or(false) {
        return Err("k8s_dcf_policies can only be enabled when the k8s feature is enabled".into());
    }
    if !enable && feature == "k8s" && flags.get("k8s_dcf_policies").copied().unwrap_or(false) {
        return Err("k8s cannot be disabled while k8s_dcf_policies is enabled".into());
    }
    controller.mutate(|s| s.features.insert(feature.clone(), enable));
    Ok(Value::String(format!("Feature {feature} {}", if enable { "enabled" } else { "disabled" })))
}

fn get_feature(controller: &Controller, params: &Params) -> Result<Value, String> {
    let feature = params.require("feature")?.to_string();
    let enabled = controller.read(|s| s.features.get(&feature).copied());
    match enabled {
        Some(enabled) => Ok(json!({"feature": feature, "enabled": enabled})),
        None => Err(format!("Invalid feature {feature}. Valid features: {}", FEATURES.join(", "))),
    }
}

fn syslog_index(params: &Params) -> Result<u8, String> {
    let index: u8 = params
        .require("index")?
        .parse()
        .map_err(|_| format!("Invalid index {:?}: use 0 to 9", params.get("index").unwrap_or("")))?;
    if index > 9 {
        return Err(format!("Invalid index {index}: use 0 to 9"));
    }
    Ok(index)
}

/// `enable_remote_syslog_logging` (reference §5.3): index 0–8, 9 is reserved for CoPilot.
fn enable_syslog(controller: &Controller, params: &Params) -> Result<Value, String> {
    let index = syslog_index(params)?;
    if index == 9 {
        return Err("Index 9 is reserved for CoPilot; use an index from 0 to 8".into());
    }
    let server = params.require("server")?.to_string();
    let port: u16 = params.require("port")?.parse().map_err(|_| "Invalid port: use 1 to 65535".to_string())?;
    let protocol = params.get("protocol").unwrap_or("TCP").to_ascii_uppercase();
    if protocol != "TCP" && protocol != "UDP" {
        return Err(format!("Invalid protocol {protocol}: use TCP or UDP"));
    }
    let profile = json!({
        "index": index,
        "name": params.get("name").unwrap_or(""),
        "server": server,
        "port": port,
        "protocol": protocol,
        "template": params.get("template").unwrap_or(""),
        "exclude_gateway_list": params.get("exclude_gateway_list").unwrap_or(""),
        "tls": params.get("ca_certificate").is_some(),
        "ca_certificate": params.get("ca_certificate").unwrap_or(""),
        "public_certificate": params.get("public_certificate").unwrap_or(""),
        "status": "enabled",
    });
    // The private key stays in memory: it is neither saved nor reported (see `Controller::syslog_keys`).
    {
        let mut keys = controller.syslog_keys.lock().unwrap();
        match params.get("private_key") {
            Some(key) => keys.insert(index, key.to_string()),
            None => keys.remove(&index),
        };
    }
    controller.mutate(|s| s.syslog.insert(index, profile));
    Ok(Value::String(format!("Remote syslog logging for profile {index} enabled")))
}

fn syslog_status(controller: &Controller, params: &Params) -> Result<Value, String> {
    let index = syslog_index(params)?;
    Ok(controller
        .read(|s| s.syslog.get(&index).cloned())
        .unwrap_or_else(|| json!({"index": index, "status": "disabled"})))
}

fn disable_syslog(controller: &Controller, params: &Params) -> Result<Value, String> {
    let index = syslog_index(params)?;
    controller.syslog_keys.lock().unwrap().remove(&index);
    controller.mutate(|s| s.syslog.remove(&index));
    Ok(Value::String(format!("Remote syslog logging for profile {index} disabled")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::super::{CloudHost, Controller, ControllerConfig, Instance, LaunchRequest, CLOUD_AWS};
    use crate::emulator::BoxFuture;
    use crate::fault::{FaultKind, FaultSetting};

    /// A cloud that launches at once and records what the controller asks of it.
    #[derive(Default)]
    struct RecordingCloud {
        calls: Mutex<Vec<String>>,
    }

    impl CloudHost for RecordingCloud {
        fn launch<'a>(&'a self, request: &'a LaunchRequest) -> BoxFuture<'a, Result<Instance, String>> {
            self.calls.lock().unwrap().push(format!("launch {} {}", request.gw_name, request.gw_size));
            Box::pin(async move {
                Ok(Instance {
                    instance_id: "i-1".into(),
                    network_interface_id: "eni-1".into(),
                    private_ip: "10.10.0.4".into(),
                    security_group_id: "sg-1".into(),
                    subnet_id: "subnet-1".into(),
                })
            })
        }
        fn references<'a>(&'a self, _: &'a Instance) -> BoxFuture<'a, Result<Vec<String>, String>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn terminate<'a>(&'a self, _: &'a Instance) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async { Ok(()) })
        }
        fn resize<'a>(&'a self, instance: &'a Instance, size: &'a str) -> BoxFuture<'a, Result<(), String>> {
            self.calls.lock().unwrap().push(format!("resize {} {size}", instance.instance_id));
            Box::pin(async { Ok(()) })
        }
        fn retag<'a>(
            &'a self,
            instance: &'a Instance,
            previous: &'a BTreeMap<String, String>,
            tags: &'a BTreeMap<String, String>,
        ) -> BoxFuture<'a, Result<(), String>> {
            self.calls.lock().unwrap().push(format!("retag {} {previous:?} -> {tags:?}", instance.instance_id));
            Box::pin(async { Ok(()) })
        }
    }

    struct Fixture {
        controller: Arc<Controller>,
        cloud: Arc<RecordingCloud>,
        cid: String,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let config = ControllerConfig::for_tests(&[]);
            let cloud = Arc::new(RecordingCloud::default());
            let clouds: std::collections::HashMap<u32, Arc<dyn CloudHost>> =
                [(CLOUD_AWS, cloud.clone() as Arc<dyn CloudHost>)].into();
            let controller = Controller::open(dir.path(), config, clouds).unwrap();
            let cid = controller.new_session("admin");
            let fixture = Fixture { controller, cloud, cid, _dir: dir };
            let created = fixture
                .action(&[
                    ("action", "create_multicloud_primary_gateway"),
                    ("cloud_type", "1"),
                    ("account_name", "lab-aws"),
                    ("gw_name", "gw1"),
                    ("gw_size", "t3.small"),
                    ("vpc_id", "vpc-1"),
                    ("vpc_region", "us-east-1"),
                    ("gw_subnet", "10.10.0.0/24"),
                    ("json_tags", r#"{"owner":"lab"}"#),
                ])
                .await;
            assert_eq!(created["return"], true, "{created}");
            fixture
        }

        /// A v2 form POST through the router; the answer's envelope.
        async fn action(&self, params: &[(&str, &str)]) -> Value {
            let mut form = vec![("CID", self.cid.as_str())];
            form.extend_from_slice(params);
            let request = Request::post("/v2/api")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(serde_urlencoded::to_string(&form).unwrap()))
                .unwrap();
            let response = self.controller.router().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200, "v2 answers HTTP 200, failures included");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            serde_json::from_slice(&bytes).unwrap()
        }

        fn size(&self) -> String {
            self.controller.read(|s| s.gateways["gw1"].vpc_size.clone())
        }

        fn calls(&self) -> Vec<String> {
            self.cloud.calls.lock().unwrap().clone()
        }
    }

    #[tokio::test]
    async fn edit_gw_config_resizes_the_gateway_and_its_instance_or_says_why_not() {
        let f = Fixture::new().await;
        let resize = |size: &'static str| {
            [("action", "edit_gw_config"), ("cloud_type", "1"), ("gw_name", "gw1"), ("gw_size", size)]
        };
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("action", "edit_gw_config"), ("cloud_type", "1"), ("gw_name", "gw1")],
                "Missing required parameter: gw_size",
            ),
            (
                &[("action", "edit_gw_config"), ("cloud_type", "1"), ("gw_name", "gw9"), ("gw_size", "t3.medium")],
                "Gateway gw9 does not exist",
            ),
            (
                &[("action", "edit_gw_config"), ("cloud_type", "8"), ("gw_name", "gw1"), ("gw_size", "t3.medium")],
                "is of cloud_type 1, not 8",
            ),
            (&resize("Standard_B2ms"), "Gateway size Standard_B2ms is not a valid instance size for AWS"),
        ];
        for (params, reason) in cases {
            let reply = f.action(params).await;
            assert_eq!(reply["return"], false, "{params:?}");
            assert!(reply["reason"].as_str().unwrap().contains(reason), "{params:?}: {reply}");
        }
        assert_eq!(f.size(), "t3.small", "a refused resize changes nothing");

        let reply = f.action(&resize("t3.medium")).await;
        assert_eq!(
            reply,
            json!({"return": true, "results": "Successfully updated gateway gw1 size to t3.medium.", "reason": ""})
        );
        assert_eq!(f.size(), "t3.medium");
        assert_eq!(f.calls().last().unwrap(), "resize i-1 t3.medium");

        // Async: the request ID now, the outcome through check_task_status.
        let mut params = resize("t3.large").to_vec();
        params.push(("async", "true"));
        let started = f.action(&params).await;
        let request_id = started["results"].as_str().unwrap().to_string();
        let done = f.action(&[("action", "check_task_status"), ("request_id", &request_id)]).await;
        assert_eq!(done["return"], true, "{done}");
        assert_eq!(f.size(), "t3.large");

        // task-failed: the task fails and the size stays.
        f.controller.faults.set("controller", FaultSetting::always(FaultKind::TaskFailed, 0)).unwrap();
        let failed = f.action(&resize("t3.xlarge")).await;
        assert_eq!(failed["return"], false, "{failed}");
        assert_eq!(f.size(), "t3.large");
    }

    #[tokio::test]
    async fn update_resource_tags_replaces_the_tags_on_the_controller_and_the_instance() {
        let f = Fixture::new().await;
        let tags = |json: &'static str| {
            [
                ("action", "update_resource_tags"),
                ("cloud_type", "1"),
                ("resource_type", "gw"),
                ("resource_name", "gw1"),
                ("new_tag_json", json),
            ]
        };
        let list =
            [("action", "list_resource_tags"), ("cloud_type", "1"), ("resource_type", "gw"), ("resource_name", "gw1")];
        assert_eq!(f.action(&list).await["results"]["usr_tags"], json!({"owner": "lab"}), "json_tags at create");

        let reply = f.action(&tags(r#"{"team":"mcp"}"#)).await;
        assert_eq!(reply["return"], true, "{reply}");
        assert_eq!(f.action(&list).await["results"]["usr_tags"], json!({"team": "mcp"}));
        assert_eq!(f.calls().last().unwrap(), r#"retag i-1 {"owner": "lab"} -> {"team": "mcp"}"#);

        let cases = [
            (tags("[1]"), "expected a JSON object"),
            (tags(r#"{"n":1}"#), "is not a string"),
            (tags(r#"{"aws:x":"y"}"#), "the aws: prefix is reserved"),
            (tags("{"), "Invalid new_tag_json"),
        ];
        for (params, reason) in cases {
            let reply = f.action(&params).await;
            assert_eq!(reply["return"], false, "{params:?}");
            assert!(reply["reason"].as_str().unwrap().contains(reason), "{params:?}: {reply}");
        }
        let mut wrong_type = tags("{}");
        wrong_type[2] = ("resource_type", "vpc");
        assert!(f.action(&wrong_type).await["reason"].as_str().unwrap().contains("Invalid resource_type vpc"));
        assert_eq!(f.action(&list).await["results"]["usr_tags"], json!({"team": "mcp"}), "refusals change nothing");
    }
}
