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

/// The API's semantics proved on the router itself (no socket, no TLS, no lab), per the Kubernetes API facts:
/// authentication, discovery shapes, the `Status` error bodies, optimistic concurrency, selectors, watches,
/// and the lab's fault switchboard.
#[cfg(test)]
mod tests {
    use axum::body::Body as AxumBody;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;
    use crate::fault::FaultSetting;

    const TOKEN: &str = "router-test-token";

    struct Api {
        app: Arc<App>,
        _dir: tempfile::TempDir,
    }

    struct Answer {
        status: u16,
        headers: hyper::HeaderMap,
        body: Value,
    }

    impl Api {
        fn new() -> Api {
            let dir = tempfile::tempdir().unwrap();
            let app = crate::kube::open(dir.path(), "lab CA (unused here)", TOKEN, "127.0.0.1:6443".into()).unwrap();
            Api { app, _dir: dir }
        }

        fn request(method: &str, path: &str, body: Option<&Value>) -> hyper::http::request::Builder {
            let builder = hyper::Request::builder().method(method).uri(path);
            match body {
                Some(_) if method == "PATCH" => builder.header("content-type", "application/merge-patch+json"),
                Some(_) => builder.header("content-type", "application/json"),
                None => builder,
            }
        }

        async fn send(&self, request: hyper::http::request::Builder, body: Option<&Value>) -> Answer {
            let body = body.map(|b| AxumBody::from(serde_json::to_vec(b).unwrap())).unwrap_or_else(AxumBody::empty);
            let response = router(self.app.clone()).oneshot(request.body(body).unwrap()).await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
            Answer { status, headers, body }
        }

        /// A request with the bearer token.
        async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
            let request = Api::request(method, path, body.as_ref()).header("authorization", format!("Bearer {TOKEN}"));
            self.send(request, body.as_ref()).await
        }

        /// A request with the bearer token and a body of `content_type`.
        async fn call_typed(&self, method: &str, path: &str, content_type: &str, body: Value) -> Answer {
            let request = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", content_type)
                .header("authorization", format!("Bearer {TOKEN}"));
            self.send(request, Some(&body)).await
        }

        async fn create_configmap(&self, name: &str, labels: Value) -> Answer {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}});
            self.call("POST", "/api/v1/namespaces/default/configmaps", Some(cm)).await
        }
    }

    fn names(list: &Value) -> Vec<String> {
        let mut out: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    fn assert_status(answer: &Answer, code: u16, reason: &str) {
        assert_eq!(answer.status, code, "{}", answer.body);
        assert_eq!(answer.body["kind"], "Status", "{}", answer.body);
        assert_eq!(answer.body["apiVersion"], "v1");
        assert_eq!(answer.body["status"], "Failure");
        assert_eq!(answer.body["code"], code);
        assert_eq!(answer.body["reason"], reason, "{}", answer.body);
    }

    #[tokio::test]
    async fn without_the_bearer_token_resources_are_401_while_version_and_health_stay_public() {
        let api = Api::new();
        let anonymous = api.send(Api::request("GET", "/api/v1/namespaces", None), None).await;
        assert_status(&anonymous, 401, "Unauthorized");
        let wrong =
            api.send(Api::request("GET", "/api", None).header("authorization", "Bearer not-the-token"), None).await;
        assert_status(&wrong, 401, "Unauthorized");
        let version = api.send(Api::request("GET", "/version", None), None).await;
        assert_eq!(version.status, 200);
        assert_eq!(version.body["gitVersion"], "v1.34.0");
        assert_eq!((version.body["major"].as_str(), version.body["minor"].as_str()), (Some("1"), Some("34")));
        let health = api.send(Api::request("GET", "/readyz", None), None).await;
        assert_eq!((health.status, health.body.as_str()), (200, Some("ok")));
    }

    #[tokio::test]
    async fn discovery_has_the_legacy_shapes_and_the_aggregated_one_under_its_exact_content_type() {
        let api = Api::new();
        let core = api.call("GET", "/api", None).await;
        assert_eq!(core.body["kind"], "APIVersions");
        assert_eq!(core.body["versions"], json!(["v1"]));
        let groups = api.call("GET", "/apis", None).await;
        assert_eq!(groups.body["kind"], "APIGroupList");
        let apps = groups.body["groups"].as_array().unwrap().iter().find(|g| g["name"] == "apps").expect("apps");
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
        let v1 = api.call("GET", "/api/v1", None).await;
        assert_eq!((v1.body["kind"].as_str(), v1.body["groupVersion"].as_str()), (Some("APIResourceList"), Some("v1")));
        let resource = |name: &str| {
            v1.body["resources"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().expect(name)
        };
        assert_eq!(resource("configmaps")["namespaced"], true);
        assert_eq!(resource("configmaps")["kind"], "ConfigMap");
        assert_eq!(resource("configmaps")["singularName"], "configmap");
        assert!(resource("configmaps")["verbs"].as_array().unwrap().contains(&json!("watch")));
        assert_eq!(resource("nodes")["namespaced"], false);
        assert_eq!(resource("namespaces/status")["kind"], "Namespace");
        // Every group listed answers its version list.
        for group in groups.body["groups"].as_array().unwrap() {
            for version in group["versions"].as_array().unwrap() {
                let gv = version["groupVersion"].as_str().unwrap();
                let list = api.call("GET", &format!("/apis/{gv}"), None).await;
                assert_eq!((list.status, list.body["groupVersion"].as_str()), (200, Some(gv)));
            }
        }
        assert_status(&api.call("GET", "/apis/nope.example.com/v1", None).await, 404, "NotFound");

        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
        let request = Api::request("GET", "/apis", None)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", accept);
        let aggregated = api.send(request, None).await;
        assert_eq!(
            aggregated.headers["content-type"],
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
        assert_eq!(aggregated.body["kind"], "APIGroupDiscoveryList");
        assert_eq!(aggregated.body["apiVersion"], "apidiscovery.k8s.io/v2");
    }

    #[tokio::test]
    async fn create_fills_identity_a_second_create_is_already_exists_and_a_missing_object_is_not_found() {
        let api = Api::new();
        let created = api.create_configmap("settings", json!({})).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let meta = &created.body["metadata"];
        assert_eq!(meta["uid"].as_str().unwrap().len(), 36, "a UUID uid: {meta}");
        assert!(meta["resourceVersion"].as_str().unwrap().parse::<u64>().is_ok(), "{meta}");
        assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'), "{meta}");
        assert!(meta.get("generation").is_none(), "a ConfigMap carries no generation: {meta}");

        let again = api.create_configmap("settings", json!({})).await;
        assert_status(&again, 409, "AlreadyExists");
        assert_eq!(again.body["details"]["name"], "settings");
        assert_eq!(again.body["details"]["kind"], "configmaps");

        let got = api.call("GET", "/api/v1/namespaces/default/configmaps/settings", None).await;
        assert_eq!((got.status, &got.body["metadata"]["uid"]), (200, &meta["uid"]));

        let missing = api.call("GET", "/api/v1/namespaces/default/configmaps/nope", None).await;
        assert_status(&missing, 404, "NotFound");
        assert_eq!(missing.body["message"], "configmaps \"nope\" not found");
        let no_namespace =
            api.call("POST", "/api/v1/namespaces/nowhere/configmaps", Some(json!({"metadata": {"name": "x"}}))).await;
        assert_status(&no_namespace, 404, "NotFound");
        assert_eq!(no_namespace.body["details"]["kind"], "namespaces");

        let invalid = api.create_configmap("Not_A_Name", json!({})).await;
        assert_status(&invalid, 422, "Invalid");
        assert_eq!(invalid.body["details"]["causes"][0]["field"], "metadata.name", "{}", invalid.body);
    }

    #[tokio::test]
    async fn a_replace_with_a_stale_resource_version_is_a_409_conflict_and_one_without_is_allowed_for_core_kinds() {
        let api = Api::new();
        let created = api.create_configmap("cm", json!({})).await.body;
        let first_rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let mut changed = created.clone();
        changed["data"]["k"] = json!("v2");
        let replaced = api.call("PUT", "/api/v1/namespaces/default/configmaps/cm", Some(changed.clone())).await;
        assert_eq!(replaced.status, 200, "{}", replaced.body);
        let second_rv = replaced.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        assert!(second_rv.parse::<u64>().unwrap() > first_rv.parse::<u64>().unwrap());

        changed["data"]["k"] = json!("stale");
        let stale = api.call("PUT", "/api/v1/namespaces/default/configmaps/cm", Some(changed.clone())).await;
        assert_status(&stale, 409, "Conflict");
        assert!(stale.body["message"].as_str().unwrap().contains("the object has been modified"), "{}", stale.body);

        changed["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        let unconditional = api.call("PUT", "/api/v1/namespaces/default/configmaps/cm", Some(changed)).await;
        assert_eq!(unconditional.status, 200, "{}", unconditional.body);
        assert_eq!(unconditional.body["data"]["k"], "stale");
    }

    #[tokio::test]
    async fn label_and_field_selectors_filter_lists_and_the_list_carries_a_resource_version() {
        let api = Api::new();
        api.create_configmap("a1", json!({"app": "a", "tier": "1"})).await;
        api.create_configmap("a2", json!({"app": "a", "tier": "2"})).await;
        api.create_configmap("b1", json!({"app": "b", "tier": "1"})).await;
        api.create_configmap("plain", json!({})).await;
        let api = &api;
        let list = |selector: &str| {
            let path = format!(
                "/api/v1/namespaces/default/configmaps?labelSelector={}",
                form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>()
            );
            async move { api.call("GET", &path, None).await }
        };
        let all = list("").await;
        assert_eq!(all.body["kind"], "ConfigMapList");
        assert!(!all.body["metadata"]["resourceVersion"].as_str().unwrap().is_empty());
        for (selector, want) in [
            ("app=a", vec!["a1", "a2"]),
            ("app==a,tier=1", vec!["a1"]),
            ("app!=a", vec!["b1", "kube-root-ca.crt", "plain"]),
            ("app in (a,b),tier notin (2)", vec!["a1", "b1"]),
            ("tier", vec!["a1", "a2", "b1"]),
            ("!app", vec!["kube-root-ca.crt", "plain"]),
            ("tier>1", vec!["a2"]),
        ] {
            assert_eq!(names(&list(selector).await.body), want, "{selector}");
        }
        let by_name =
            api.call("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Db1", None).await;
        assert_eq!(names(&by_name.body), ["b1"]);
        let unsupported = api.call("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=data.k%3Dv", None).await;
        assert_status(&unsupported, 400, "BadRequest");
        assert!(unsupported.body["message"].as_str().unwrap().contains("field label not supported"));
        let bad = list("app in a").await;
        assert_eq!(bad.status, 400, "{}", bad.body);
    }

    #[tokio::test]
    async fn a_watch_from_a_resource_version_sends_later_changes_one_json_event_per_line() {
        use http_body_util::BodyExt;
        let api = Api::new();
        let list = api.call("GET", "/api/v1/namespaces/default/configmaps", None).await;
        let rv = list.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let request = Api::request(
            "GET",
            &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}"),
            None,
        )
        .header("authorization", format!("Bearer {TOKEN}"));
        let response = router(api.app.clone()).oneshot(request.body(AxumBody::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let mut body = response.into_body();
        api.create_configmap("watched", json!({"app": "w"})).await;
        let mut text = String::new();
        while !text.contains('\n') {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await.unwrap();
            text.push_str(&String::from_utf8_lossy(&frame.unwrap().unwrap().into_data().unwrap()));
        }
        let event: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(event["type"], "ADDED", "only what happened after {rv}: {event}");
        assert_eq!(event["object"]["metadata"]["name"], "watched");
        assert_eq!(
            (event["object"]["kind"].as_str(), event["object"]["apiVersion"].as_str()),
            (Some("ConfigMap"), Some("v1"))
        );
    }

    #[tokio::test]
    async fn switchboard_faults_hit_resource_requests_but_spare_discovery_and_writes_only_spares_reads() {
        let api = Api::new();
        api.app.faults.set("kubernetes", FaultSetting::always(FaultKind::ServerError, 0)).unwrap();
        let failed = api.call("GET", "/api/v1/namespaces/default/configmaps", None).await;
        assert_status(&failed, 500, "InternalError");
        assert_eq!(api.call("GET", "/api/v1", None).await.status, 200, "discovery keeps working");
        api.app.faults.set("kubernetes", FaultSetting::off(FaultKind::ServerError)).unwrap();

        let throttle = FaultSetting { writes_only: true, ..FaultSetting::always(FaultKind::Throttle, 1500) };
        api.app.faults.set("kubernetes", throttle).unwrap();
        assert_eq!(api.call("GET", "/api/v1/namespaces/default/configmaps", None).await.status, 200);
        let throttled = api.create_configmap("x", json!({})).await;
        assert_status(&throttled, 429, "TooManyRequests");
        assert_eq!(throttled.headers["retry-after"], "2", "1500 ms rounded up to whole seconds");

        let unavailable = FaultSetting { count: Some(1), ..FaultSetting::always(FaultKind::Unavailable, 0) };
        api.app.faults.set("kubernetes", FaultSetting::off(FaultKind::Throttle)).unwrap();
        api.app.faults.set("kubernetes", unavailable).unwrap();
        assert_status(&api.create_configmap("y", json!({})).await, 503, "ServiceUnavailable");
        assert_eq!(api.create_configmap("y", json!({})).await.status, 201, "a counted fault is used up");
    }

    #[tokio::test]
    async fn server_side_apply_creates_with_201_conflicts_with_another_manager_and_takes_over_with_force() {
        let api = &Api::new();
        let path = "/api/v1/namespaces/default/configmaps/applied";
        let apply = |manager: &str, force: bool, owner: &str| {
            let query = format!("{path}?fieldManager={manager}&force={force}");
            let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"owner": owner}});
            async move { api.call_typed("PATCH", &query, "application/apply-patch+yaml", body).await }
        };
        let nameless = api
            .call_typed("PATCH", path, "application/apply-patch+yaml", json!({"apiVersion": "v1", "kind": "ConfigMap"}))
            .await;
        assert_status(&nameless, 422, "Invalid");
        assert!(nameless.body["message"].as_str().unwrap().contains("fieldManager"), "{}", nameless.body);

        let created = apply("first", false, "first").await;
        assert_eq!(created.status, 201, "applying to an absent object creates it: {}", created.body);
        let conflict = apply("second", false, "second").await;
        assert_status(&conflict, 409, "Conflict");
        assert_eq!(conflict.body["details"]["causes"][0]["reason"], "FieldManagerConflict", "{}", conflict.body);
        assert_eq!(conflict.body["details"]["causes"][0]["field"], ".data.owner");
        let same_value = apply("second", false, "first").await;
        assert_eq!(same_value.status, 200, "equal values are shared, not a conflict: {}", same_value.body);
        let forced = apply("second", true, "second").await;
        assert_eq!((forced.status, &forced.body["data"]["owner"]), (200, &json!("second")));
        let merge_with_force = api
            .call_typed("PATCH", &format!("{path}?force=true"), "application/merge-patch+json", json!({"data": {}}))
            .await;
        assert_status(&merge_with_force, 422, "Invalid");
        assert_eq!(merge_with_force.body["details"]["causes"][0]["field"], "force", "force is only for apply");
    }

    #[tokio::test]
    async fn a_deleted_namespace_is_terminating_and_refuses_new_objects_with_403() {
        let api = Api::new();
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}});
        let created = api.call("POST", "/api/v1/namespaces", Some(ns)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.body["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(created.body["status"]["phase"], "Active");
        let deleted = api.call("DELETE", "/api/v1/namespaces/doomed", None).await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        assert_eq!(deleted.body["status"]["phase"], "Terminating");
        assert!(deleted.body["metadata"]["deletionTimestamp"].is_string(), "{}", deleted.body);
        // No namespace controller runs under the bare router, so it stays Terminating.
        let refused =
            api.call("POST", "/api/v1/namespaces/doomed/configmaps", Some(json!({"metadata": {"name": "late"}}))).await;
        assert_status(&refused, 403, "Forbidden");
        assert!(
            refused.body["message"].as_str().unwrap().contains("because it is being terminated"),
            "{}",
            refused.body
        );
    }

    #[tokio::test]
    async fn custom_resources_start_at_generation_1_bump_it_on_spec_changes_and_need_a_resource_version_to_replace() {
        let api = Api::new();
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.router.example.com"},
            "spec": {"group": "router.example.com", "scope": "Namespaced",
                     "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
                     "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
        });
        let made = api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Some(crd)).await;
        assert_eq!(made.status, 201, "{}", made.body);
        assert_eq!(made.body["metadata"]["generation"], 1);
        assert_eq!(made.body["status"]["acceptedNames"]["kind"], "Gadget");
        assert_eq!(made.body["status"]["storedVersions"], json!(["v1"]));
        let discovered = api.call("GET", "/apis/router.example.com/v1", None).await;
        assert_eq!(discovered.body["resources"][0]["name"], "gadgets", "{}", discovered.body);

        let path = "/apis/router.example.com/v1/namespaces/default/gadgets";
        let gadget = json!({"apiVersion": "router.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
                            "spec": {"size": 1}, "status": {"ready": true}});
        let created = api.call("POST", path, Some(gadget)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.body["metadata"]["generation"], 1);
        assert!(created.body.get("status").is_none(), "create drops status under a /status subresource");
        let patched = api.call("PATCH", &format!("{path}/g"), Some(json!({"spec": {"size": 2}}))).await;
        assert_eq!(patched.body["metadata"]["generation"], 2, "{}", patched.body);
        let labelled = api.call("PATCH", &format!("{path}/g"), Some(json!({"metadata": {"labels": {"a": "b"}}}))).await;
        assert_eq!(labelled.body["metadata"]["generation"], 2, "metadata changes do not bump generation");

        let mut unversioned = labelled.body.clone();
        unversioned["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        let refused = api.call("PUT", &format!("{path}/g"), Some(unversioned)).await;
        assert_status(&refused, 422, "Invalid");
        assert!(
            refused.body["message"].as_str().unwrap().contains("must be specified for an update"),
            "{}",
            refused.body
        );
    }
}
