//! The API's router: bearer-token authentication (401 without it; `/version` and the health endpoints are
//! public, as on a cluster), the lab's fault switchboard on resource requests, and routing of every path to
//! discovery, OpenAPI, the lab's own endpoints, or the resource handlers.
//!
//! It serves no socket: [`router`] is an axum `Router` the lab serves through [`crate::http::serve`] (with TLS
//! from the lab CA) and tests call directly. The token is compared here and never logged or echoed.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::discovery;
use super::errors::{ApiError, ApiResult};
use super::handlers;
use super::store::Store;
use crate::fault::{FaultKind, Faults};

pub type Body = BoxBody<Bytes, Infallible>;

/// A request as the router hands it over.
pub type Request = hyper::Request<axum::body::Body>;

/// The faults the API can be asked to inject (`mcp-egress-lab fault --target kubernetes`).
pub const FAULT_KINDS: &[FaultKind] =
    &[FaultKind::ServerError, FaultKind::Unavailable, FaultKind::Slow, FaultKind::Conflict, FaultKind::Throttle];

/// What every request handler shares.
pub struct App {
    pub store: Arc<Store>,
    pub token: String,
    /// `127.0.0.1:PORT`, for discovery's `serverAddressByClientCIDRs`.
    pub address: String,
    /// The lab's switchboard for this API.
    pub faults: Faults,
}

/// Every path of the API, as one axum `Router`.
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(move |req: Request| serve(app.clone(), req))
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    json_typed(code, value, "application/json")
}

pub fn json_typed(code: u16, value: &Value, content_type: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", content_type)
        .header("cache-control", "no-cache, private")
        .header("audit-id", uuid::Uuid::new_v4().to_string())
        .body(full(serde_json::to_vec(value).expect("json")))
        .expect("response")
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let mut r = json_response(e.code, &e.to_status());
    if let Some(after) = e.retry_after {
        r.headers_mut().insert("retry-after", after.to_string().parse().expect("header"));
    }
    r
}

fn token_ok(app: &App, req: &Request) -> bool {
    let Some(value) = req.headers().get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let Some(given) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) else { return false };
    // Constant-time comparison.
    let (a, b) = (given.trim().as_bytes(), app.token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "34", "gitVersion": "v1.34.0", "gitCommit": "mcp-egress-lab", "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64",
    })
}

/// Serves one request.
async fn serve(app: Arc<App>, req: Request) -> Response<Body> {
    let path = req.uri().path().to_string();
    let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let public =
        matches!(segs.first().map(String::as_str), Some("version") | Some("healthz") | Some("readyz") | Some("livez"));
    if !public && !token_ok(&app, &req) {
        return error_response(&ApiError::unauthorized());
    }
    let is_resource = matches!(segs.first().map(String::as_str), Some("api") | Some("apis"))
        && segs.len() > 2 + usize::from(segs[0] == "apis");
    if is_resource {
        if let Some(e) = injected_fault(&app.faults, req.method() != hyper::Method::GET).await {
            return error_response(&e);
        }
    }
    match route(&app, req, &segs).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

/// The switchboard's faults, as a Kubernetes API shows them: a delay, then 500, 503, 409, or 429 with
/// Retry-After (`delay_ms` rounded up to whole seconds).
async fn injected_fault(faults: &Faults, is_write: bool) -> Option<ApiError> {
    if let Some(slow) = faults.fires_for(FaultKind::Slow, is_write) {
        tokio::time::sleep(std::time::Duration::from_millis(slow.delay_ms)).await;
    }
    if faults.fires_for(FaultKind::ServerError, is_write).is_some() {
        return Some(ApiError::injected(500, "injected fault: the lab's Kubernetes API is failing on purpose"));
    }
    if faults.fires_for(FaultKind::Unavailable, is_write).is_some() {
        return Some(ApiError::injected(503, "injected fault: the lab's Kubernetes API is unavailable on purpose"));
    }
    if faults.fires_for(FaultKind::Conflict, is_write).is_some() {
        return Some(ApiError::conflict_message("", "", "", "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected fault)".into(), vec![]));
    }
    if let Some(setting) = faults.fires_for(FaultKind::Throttle, is_write) {
        return Some(ApiError::too_many_requests(setting.delay_ms.div_ceil(1000).max(1) as u32));
    }
    None
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

async fn route(app: &Arc<App>, req: Request, segs: &[String]) -> ApiResult<Response<Body>> {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let get = req.method() == hyper::Method::GET;
    match s.as_slice() {
        ["version"] => Ok(json_response(200, &version())),
        ["healthz" | "readyz" | "livez", ..] => Ok(Response::builder()
            .status(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(full("ok"))
            .expect("response")),
        ["api"] | ["apis"] if get => {
            let resources = app.store.lock().resources().to_vec();
            let core = s[0] == "api";
            if let Some(v) = discovery::aggregated_version(&accept) {
                return Ok(json_typed(
                    200,
                    &discovery::aggregated(&resources, core, v),
                    &discovery::aggregated_content_type(v),
                ));
            }
            Ok(json_response(
                200,
                &if core { discovery::api_versions(&app.address) } else { discovery::api_group_list(&resources) },
            ))
        }
        ["api", v] if get => {
            let resources = app.store.lock().resources().to_vec();
            discovery::resource_list(&resources, "", v)
                .map(|d| json_response(200, &d))
                .ok_or_else(ApiError::path_not_found)
        }
        ["apis", g] if get => {
            let resources = app.store.lock().resources().to_vec();
            discovery::api_group(&resources, g).map(|d| json_response(200, &d)).ok_or_else(ApiError::path_not_found)
        }
        ["apis", g, v] if get => {
            let resources = app.store.lock().resources().to_vec();
            discovery::resource_list(&resources, g, v)
                .map(|d| json_response(200, &d))
                .ok_or_else(ApiError::path_not_found)
        }
        ["openapi", "v3"] if get => Ok(json_response(200, &discovery::openapi_index())),
        ["openapi", "v3", rest @ ..] if get => {
            let resources = app.store.lock().resources().to_vec();
            discovery::openapi_document(&resources, &rest.join("/"))
                .map(|d| json_response(200, &d))
                .ok_or_else(ApiError::path_not_found)
        }
        ["lab", "v1", "namespaces", ns, "pods", name, "fail"] if req.method() == hyper::Method::POST => {
            let ip = super::controllers::fail_pod(&mut app.store.lock(), ns, name)?;
            Ok(json_response(200, &json!({"namespace": ns, "name": name, "podIP": ip})))
        }
        ["api", v, rest @ ..] => handlers::resource(app, req, "", v, rest).await,
        ["apis", g, v, rest @ ..] => handlers::resource(app, req, g, v, rest).await,
        _ => Err(ApiError::path_not_found()),
    }
}

/// Reads a request body, refusing bodies over 3 MiB as the API server does.
pub async fn body_bytes(req: Request) -> ApiResult<(hyper::http::request::Parts, Bytes)> {
    let (parts, body) = req.into_parts();
    let bytes =
        body.collect().await.map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?.to_bytes();
    if bytes.len() > 3 * 1024 * 1024 {
        let mut e = ApiError::bad_request("Request entity too large: limit is 3145728");
        e.code = 413;
        e.reason = "RequestEntityTooLarge";
        return Err(e);
    }
    Ok((parts, bytes))
}

pub fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

