//! Resource requests: list, watch, get, create, replace, patch (JSON, merge, strategic, apply), delete and
//! delete-collection, for namespaced and cluster-scoped kinds and their `/status` subresource.
//!
//! Handlers decode bodies (JSON, YAML, protobuf), check them against the URL, and call the store under its
//! lock; the store enforces the write rules. Responses carry the requested version's `apiVersion`.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use hyper::{Method, Response};
use serde_json::{json, Value};

use super::apply::{apply, managers_of, ApplyCtx};
use super::errors::{cause, ApiError, ApiResult};
use super::patch::{json_patch, merge_patch, strategic_merge};
use super::resources::ResourceDef;
use super::selectors::{FieldSelector, LabelSelector};
use super::server::{body_bytes, json_response, App, Body, Request};
use super::store::{now, DeleteOptions, Writer};
use super::{protobuf, table, validation, watch};

/// Query parameters, tolerant of `?&` and empty pairs.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// A boolean parameter as the API server reads one: absent is `None`; "0" and "false" (any case) are
    /// false; anything else, "True" and an empty value included, is true.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    /// A boolean parameter that defaults to false.
    pub fn flag(&self, key: &str) -> bool {
        self.bool(key).unwrap_or(false)
    }
}

/// A parsed resource path.
pub struct Target {
    pub def: ResourceDef,
    pub version: String,
    /// `None` for cluster-scoped kinds and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

fn resolve(app: &App, group: &str, version: &str, rest: &[&str]) -> ApiResult<Target> {
    let st = app.store.lock();
    let find = |plural: &str| {
        st.resources()
            .iter()
            .find(|r| r.group == group && r.plural == plural && r.versions.iter().any(|v| v == version))
            .cloned()
    };
    if rest.len() >= 3 && rest[0] == "namespaces" {
        if let Some(def) = find(rest[2]).filter(|d| d.namespaced) {
            if rest.len() > 5 {
                return Err(ApiError::path_not_found());
            }
            return Ok(Target {
                def,
                version: version.to_string(),
                namespace: Some(rest[1].to_string()),
                name: rest.get(3).map(|s| s.to_string()),
                subresource: rest.get(4).map(|s| s.to_string()),
            });
        }
    }
    let def = rest.first().and_then(|p| find(p)).ok_or_else(ApiError::path_not_found)?;
    if rest.len() > 3 || (def.namespaced && rest.len() > 1) {
        return Err(ApiError::path_not_found());
    }
    Ok(Target {
        def,
        version: version.to_string(),
        namespace: None,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    })
}

/// Sets the `apiVersion` and `kind` of the requested version.
pub fn present(def: &ResourceDef, version: &str, mut obj: Value) -> Value {
    obj["apiVersion"] = json!(def.api_version(version));
    obj["kind"] = json!(def.kind);
    obj
}

/// The field manager of a write: `fieldManager`, else the User-Agent's product name.
pub fn manager_of(q: &Query, parts: &hyper::http::request::Parts) -> String {
    manager(q, parts)
}

fn manager(q: &Query, parts: &hyper::http::request::Parts) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let ua = parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    ua.split('/').next().unwrap_or("unknown").to_string()
}

fn content_type(parts: &hyper::http::request::Parts) -> String {
    parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn decode_body(parts: &hyper::http::request::Parts, body: &Bytes) -> ApiResult<Value> {
    let ct = content_type(parts);
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    match ct.as_str() {
        "application/vnd.kubernetes.protobuf" => protobuf::decode_object(body),
        "application/json" | "" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
        "application/yaml" | "application/apply-patch+yaml" => yaml_or_json(body),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn yaml_or_json(body: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice::<Value>(body))
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

fn namespace_of(t: &Target) -> String {
    t.namespace.clone().unwrap_or_default()
}

fn check_identity(t: &Target, obj: &Value, require_type: bool) -> ApiResult<()> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if require_type && (api_version.is_empty() || kind.is_empty()) {
        return Err(ApiError::bad_request("Object 'Kind' is missing in the request body"));
    }
    if !kind.is_empty() && kind != t.def.kind {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            t.def.api_version(&t.version)
        )));
    }
    if !api_version.is_empty() && api_version != t.def.api_version(&t.version) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            t.def.api_version(&t.version)
        )));
    }
    if t.def.namespaced {
        let body_ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
        if !body_ns.is_empty() && Some(body_ns) != t.namespace.as_deref() {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Validation specific to the kind: a CRD's name and versions, a custom resource's schema.
fn check_kind(t: &Target, obj: &mut Value, q: &Query) -> ApiResult<()> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    if t.def.kind == "CustomResourceDefinition" {
        let mut causes = vec![];
        let group = obj.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
        let plural = obj.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
        if name != format!("{plural}.{group}") {
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
            ));
        }
        if obj.pointer("/spec/names/kind").and_then(Value::as_str).unwrap_or_default().is_empty() {
            causes.push(cause("FieldValueRequired", "spec.names.kind", "Required value"));
        }
        let versions = obj.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
        let storage = versions.iter().filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).count();
        if versions.is_empty() {
            causes.push(cause(
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            ));
        } else if storage != 1 {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.versions",
                format!("Invalid value: {storage}: must have exactly one version marked as storage version"),
            ));
        }
        if !matches!(obj.pointer("/spec/scope").and_then(Value::as_str), Some("Namespaced") | Some("Cluster")) {
            causes.push(cause(
                "FieldValueNotSupported",
                "spec.scope",
                "Unsupported value: supported values: \"Cluster\", \"Namespaced\"",
            ));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&t.def.group, &t.def.kind, &name, causes));
        }
    }
    if t.def.builtin {
        let strict = q.get("fieldValidation") == Some("Strict");
        let unknown = validation::check_builtin(&t.def.kind, obj, strict);
        if !unknown.is_empty() {
            let list = unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect::<Vec<_>>().join(", ");
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {list}",
                t.def.kind, t.version, t.def.kind
            )));
        }
    }
    if !t.def.builtin {
        if let Some(schema) = t.def.schema_for(&t.version) {
            let strict = q.get("fieldValidation") == Some("Strict");
            let (causes, unknown) = validation::check_custom(obj, schema, strict);
            if !unknown.is_empty() {
                let list = unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect::<Vec<_>>().join(", ");
                return Err(ApiError::bad_request(format!("strict decoding error: {list}")));
            }
            if !causes.is_empty() {
                return Err(ApiError::invalid(&t.def.group, &t.def.kind, &name, causes));
            }
        }
    }
    Ok(())
}

pub async fn resource(
    app: &Arc<App>,
    req: Request,
    group: &str,
    version: &str,
    rest: &[&str],
) -> ApiResult<Response<Body>> {
    let t = resolve(app, group, version, rest)?;
    let q = Query::parse(req.uri().query());
    if let Some(sub) = &t.subresource {
        if sub == "scale" && super::scale::has_scale(&t.def) {
            let name = t.name.clone().unwrap_or_default();
            let method = req.method().clone();
            return match method {
                Method::GET => {
                    let obj = app.store.lock().get(&t.def, &namespace_of(&t), &name).cloned();
                    let obj = obj.ok_or_else(|| ApiError::not_found(&t.def.group, &t.def.plural, &name))?;
                    Ok(json_response(200, &super::scale::scale_of(&obj)))
                }
                Method::PUT | Method::PATCH => {
                    let (parts, body) = body_bytes(req).await?;
                    let put = method == Method::PUT;
                    Ok(json_response(200, &super::scale::write(app, &t, &name, &q, &parts, &body, put)?))
                }
                _ => Err(ApiError::method_not_allowed(format!(
                    "the server does not allow this method on the requested resource ({method})"
                ))),
            };
        }
        if sub != "status" && !(sub == "finalize" && t.def.kind == "Namespace") {
            return Err(ApiError::path_not_found());
        }
        if sub == "status" && !t.def.status_subresource {
            return Err(ApiError::path_not_found());
        }
    }
    let method = req.method().clone();
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    match (&method, &t.name) {
        (&Method::GET, None) if q.flag("watch") => watch::serve(app, &t, &q, &accept).await,
        (&Method::GET, None) => list(app, &t, &q, &accept),
        (&Method::GET, Some(name)) => {
            let st = app.store.lock();
            let obj = st
                .get(&t.def, &namespace_of(&t), name)
                .cloned()
                .ok_or_else(|| ApiError::not_found(&t.def.group, &t.def.plural, name))?;
            drop(st);
            let obj = present(&t.def, &t.version, obj);
            if accept.contains("as=Table") {
                return Ok(json_response(200, &table::table(&t.def, &[obj], "")));
            }
            Ok(json_response(200, &obj))
        }
        (&Method::POST, None) => {
            let (parts, body) = body_bytes(req).await?;
            create(app, &t, &q, &parts, &body)
        }
        (&Method::PUT, Some(name)) => {
            let name = name.clone();
            let (parts, body) = body_bytes(req).await?;
            replace(app, &t, &name, &q, &parts, &body)
        }
        (&Method::PATCH, Some(name)) => {
            let name = name.clone();
            let (parts, body) = body_bytes(req).await?;
            patch(app, &t, &name, &q, &parts, &body)
        }
        (&Method::DELETE, Some(name)) => {
            let name = name.clone();
            let (parts, body) = body_bytes(req).await?;
            delete(app, &t, &name, &q, &parts, &body)
        }
        (&Method::DELETE, None) => {
            let (parts, body) = body_bytes(req).await?;
            delete_collection(app, &t, &q, &parts, &body)
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    start: String,
}

fn list(app: &App, t: &Target, q: &Query, accept: &str) -> ApiResult<Response<Body>> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), &t.def.kind)?;
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let start = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice::<ContinueToken>(&b).ok())
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            Some(decoded)
        }
        None => None,
    };
    let st = app.store.lock();
    if let Some(c) = &start {
        if c.rv < st.oldest_rv() {
            return Err(ApiError::gone_continue());
        }
    }
    if let Some(ns) = &t.namespace {
        if t.def.namespaced && ns.is_empty() {
            return Err(ApiError::path_not_found());
        }
    }
    let rv = start.as_ref().map(|c| c.rv).unwrap_or(st.rv);
    let mut items = vec![];
    let mut next = None;
    let mut remaining = 0;
    for obj in st.list(&t.def, t.namespace.as_deref()) {
        let key = format!(
            "{}/{}",
            obj["metadata"]["namespace"].as_str().unwrap_or_default(),
            obj["metadata"]["name"].as_str().unwrap_or_default()
        );
        if start.as_ref().is_some_and(|c| key <= c.start) {
            continue;
        }
        if !labels.matches_object(obj) || !fields.matches(obj) {
            continue;
        }
        if items.len() == limit {
            remaining += 1;
            if next.is_none() {
                let last: &Value = items.last().expect("limit > 0");
                let last_key = format!(
                    "{}/{}",
                    last["metadata"]["namespace"].as_str().unwrap_or_default(),
                    last["metadata"]["name"].as_str().unwrap_or_default()
                );
                next = Some(
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(serde_json::to_vec(&ContinueToken { rv, start: last_key }).expect("json")),
                );
            }
            continue;
        }
        items.push(present(&t.def, &t.version, obj.clone()));
    }
    drop(st);
    if accept.contains("as=Table") {
        return Ok(json_response(200, &table::table(&t.def, &items, &rv.to_string())));
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(n) = next {
        metadata["continue"] = json!(n);
        metadata["remainingItemCount"] = json!(remaining);
    }
    Ok(json_response(
        200,
        &json!({"kind": t.def.list_kind(), "apiVersion": t.def.api_version(&t.version), "metadata": metadata, "items": items}),
    ))
}

fn dry_run(q: &Query) -> bool {
    q.get("dryRun") == Some("All")
}

fn create(
    app: &App,
    t: &Target,
    q: &Query,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    let mut obj = decode_body(parts, body)?;
    check_identity(t, &obj, false)?;
    check_kind(t, &mut obj, q)?;
    let obj = present(&t.def, &t.version, obj);
    let manager = manager(q, parts);
    let api_version = t.def.api_version(&t.version);
    let writer =
        Writer { manager: &manager, api_version: &api_version, subresource: "", dry_run: dry_run(q), managed: None };
    let created = app.store.lock().create(&t.def, &namespace_of(t), obj, &writer)?;
    Ok(json_response(201, &present(&t.def, &t.version, created)))
}

fn replace(
    app: &App,
    t: &Target,
    name: &str,
    q: &Query,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    let mut obj = decode_body(parts, body)?;
    check_identity(t, &obj, false)?;
    if t.subresource.is_none() {
        check_kind(t, &mut obj, q)?;
    }
    let obj = present(&t.def, &t.version, obj);
    let manager = manager(q, parts);
    let api_version = t.def.api_version(&t.version);
    let sub = t.subresource.clone().unwrap_or_default();
    let writer =
        Writer { manager: &manager, api_version: &api_version, subresource: &sub, dry_run: dry_run(q), managed: None };
    let updated = app.store.lock().update(&t.def, &namespace_of(t), name, obj, &writer)?;
    Ok(json_response(200, &present(&t.def, &t.version, updated)))
}

fn patch(
    app: &App,
    t: &Target,
    name: &str,
    q: &Query,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    let ct = content_type(parts);
    let ns = namespace_of(t);
    let api_version = t.def.api_version(&t.version);
    let sub = t.subresource.clone().unwrap_or_default();
    if ct == "application/apply-patch+yaml" {
        return server_side_apply(app, t, name, q, parts, body);
    }
    if q.get("force").is_some() {
        return Err(ApiError::invalid(
            &t.def.group,
            &t.def.kind,
            name,
            vec![cause("FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch")],
        ));
    }
    let patch_body: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let manager = manager(q, parts);
    let mut st = app.store.lock();
    let current =
        st.get(&t.def, &ns, name).cloned().ok_or_else(|| ApiError::not_found(&t.def.group, &t.def.plural, name))?;
    let mut obj = present(&t.def, &t.version, current.clone());
    match ct.as_str() {
        "application/json-patch+json" => json_patch(&mut obj, &patch_body)?,
        "application/merge-patch+json" => merge_patch(&mut obj, &patch_body),
        "application/strategic-merge-patch+json" if t.def.builtin => strategic_merge(&mut obj, &patch_body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    // A patch that names no resourceVersion applies to the object as it is now.
    if obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default().is_empty()
        || patch_body.pointer("/metadata/resourceVersion").is_none()
    {
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    }
    check_identity(t, &obj, false)?;
    if t.subresource.is_none() {
        check_kind(t, &mut obj, q)?;
    }
    let writer =
        Writer { manager: &manager, api_version: &api_version, subresource: &sub, dry_run: dry_run(q), managed: None };
    let updated = st.update(&t.def, &ns, name, obj, &writer)?;
    Ok(json_response(200, &present(&t.def, &t.version, updated)))
}

fn server_side_apply(
    app: &App,
    t: &Target,
    name: &str,
    q: &Query,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()).map(str::to_string) else {
        return Err(ApiError::invalid(
            &t.def.group,
            &t.def.kind,
            name,
            vec![cause("FieldValueRequired", "fieldManager", "Required value: is required for apply patch")],
        ));
    };
    let _ = parts;
    let mut applied = yaml_or_json(body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request("apply patch must be an object"));
    }
    check_identity(t, &applied, true)?;
    let body_name = applied.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if body_name.is_empty() {
        applied["metadata"]["name"] = json!(name);
    } else if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if t.subresource.is_none() {
        check_kind(t, &mut applied, q)?;
    }
    let ns = namespace_of(t);
    let api_version = t.def.api_version(&t.version);
    let sub = t.subresource.clone().unwrap_or_default();
    let force = q.flag("force");
    let time = now();
    let ctx = ApplyCtx {
        manager: &manager,
        force,
        builtin: t.def.builtin,
        status_subresource: t.def.status_subresource,
        api_version: &api_version,
        now: &time,
        group: &t.def.group,
        plural: &t.def.plural,
        name,
    };
    let mut st = app.store.lock();
    let live = st.get(&t.def, &ns, name).cloned().map(|l| present(&t.def, &t.version, l));
    match live {
        None => {
            if t.subresource.is_some() {
                return Err(ApiError::not_found(&t.def.group, &t.def.plural, name));
            }
            let (merged, managers) = apply(None, &applied, vec![], &ctx)?;
            let writer = Writer {
                manager: &manager,
                api_version: &api_version,
                subresource: "",
                dry_run: dry_run(q),
                managed: Some(managers),
            };
            let created = st.create(&t.def, &ns, present(&t.def, &t.version, merged), &writer)?;
            Ok(json_response(201, &present(&t.def, &t.version, created)))
        }
        Some(live) => {
            let (mut merged, managers) = apply(Some(&live), &applied, managers_of(&live), &ctx)?;
            merged["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
            let writer = Writer {
                manager: &manager,
                api_version: &api_version,
                subresource: &sub,
                dry_run: dry_run(q),
                managed: Some(managers),
            };
            let updated = st.update(&t.def, &ns, name, present(&t.def, &t.version, merged), &writer)?;
            Ok(json_response(200, &present(&t.def, &t.version, updated)))
        }
    }
}

fn delete_options(q: &Query, parts: &hyper::http::request::Parts, body: &Bytes) -> ApiResult<DeleteOptions> {
    let mut opts = DeleteOptions::default();
    if !body.is_empty() {
        let v = if content_type(parts) == "application/vnd.kubernetes.protobuf" {
            protobuf::decode_delete_options(body)?
        } else {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| ApiError::bad_request(format!("decoding DeleteOptions: {e}")))?
        };
        opts.propagation = v.get("propagationPolicy").and_then(Value::as_str).map(str::to_string);
        if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) && opts.propagation.is_none() {
            opts.propagation = Some("Orphan".into());
        }
        opts.precondition_uid = v.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
        opts.precondition_rv = v.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
        opts.dry_run = v.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|x| x == "All"));
    }
    if let Some(p) = q.get("propagationPolicy") {
        opts.propagation = Some(p.to_string());
    }
    if let Some(p) = &opts.propagation {
        if !matches!(p.as_str(), "Background" | "Foreground" | "Orphan") {
            return Err(ApiError::invalid("", "DeleteOptions", "", vec![cause("FieldValueNotSupported", "propagationPolicy", format!("Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""))]));
        }
    }
    opts.dry_run |= dry_run(q);
    Ok(opts)
}

fn delete(
    app: &App,
    t: &Target,
    name: &str,
    q: &Query,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    let opts = delete_options(q, parts, body)?;
    let ns = namespace_of(t);
    let mut st = app.store.lock();
    if t.def.kind == "CustomResourceDefinition" && !opts.dry_run {
        // The CRD's custom resources go with it.
        if let Some(crd) = st.get(&t.def, "", name).cloned() {
            if let Some(def) = st
                .resources()
                .iter()
                .find(|r| {
                    !r.builtin
                        && Some(r.group.as_str()) == crd.pointer("/spec/group").and_then(Value::as_str)
                        && Some(r.plural.as_str()) == crd.pointer("/spec/names/plural").and_then(Value::as_str)
                })
                .cloned()
            {
                let objs: Vec<(String, String)> = st
                    .list(&def, None)
                    .into_iter()
                    .map(|o| {
                        (
                            o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                            o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                for (ons, oname) in objs {
                    let _ = st.delete(&def, &ons, &oname, &DeleteOptions::default());
                }
            }
        }
    }
    let result = st.delete(&t.def, &ns, name, &opts)?;
    let still_there = st.get(&t.def, &ns, name).is_some();
    drop(st);
    if still_there || t.def.kind == "Pod" || t.def.kind == "Namespace" {
        return Ok(json_response(200, &present(&t.def, &t.version, result)));
    }
    Ok(json_response(
        200,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": t.def.group, "kind": t.def.plural, "uid": result["metadata"]["uid"]}}),
    ))
}

fn delete_collection(
    app: &App,
    t: &Target,
    q: &Query,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> ApiResult<Response<Body>> {
    let opts = delete_options(q, parts, body)?;
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or_default(), &t.def.kind)?;
    let mut st = app.store.lock();
    let targets: Vec<(String, String)> = st
        .list(&t.def, t.namespace.as_deref())
        .into_iter()
        .filter(|o| labels.matches_object(o) && fields.matches(o))
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut items = vec![];
    for (ns, name) in targets {
        items.push(present(&t.def, &t.version, st.delete(&t.def, &ns, &name, &opts)?));
    }
    let rv = st.rv;
    Ok(json_response(
        200,
        &json!({"kind": t.def.list_kind(), "apiVersion": t.def.api_version(&t.version), "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
    ))
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn boolean_parameters_read_as_the_api_server_reads_them() {
        for (query, want) in [
            ("watch=true", Some(true)),
            ("watch=True", Some(true)),
            ("watch=1", Some(true)),
            ("watch=", Some(true)),
            ("watch=yes", Some(true)),
            ("watch=false", Some(false)),
            ("watch=FALSE", Some(false)),
            ("watch=0", Some(false)),
            ("&limit=5&", None),
        ] {
            assert_eq!(Query::parse(Some(query)).bool("watch"), want, "{query}");
        }
        assert!(!Query::parse(None).flag("watch"));
    }
}
