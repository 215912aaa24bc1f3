//! The scenario page: `mcp-egress-lab ui --dir DIR` serves one self-contained page on loopback that shows a
//! namespace's MCP servers, asks the lab's enforcement point about attempts, follows the decision log live
//! and plays the kill chain on the live lab.
//!
//! The state it shows is computed in the daemon ([`state`], behind the admin token at `GET /ui/state/{ns}`)
//! from the same code the provider and the enforcement point use: `mcp_egress_policy::inventory` over the
//! lab's live Kubernetes objects for the servers and the unprotected workloads, `mcp_egress_policy::eval`'s
//! rule tree over the controller's objects for the tier-1 permits and the tier-3 rules, and the `/pep/…`
//! routes for attempts and the log. The `ui` process ([`serve`]) holds the admin token and forwards a
//! fixed set of same-origin `/api/…` calls to the daemon, so the page never sees the token; when the daemon
//! cannot be reached it answers 503 with what to do, which the page shows.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mcp_egress_policy::eval::{Position, RuleAction, Tree};
use mcp_egress_policy::inventory::{self, Server, Unprotected};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::controller::Controller;
use crate::kube::ObjectReader;
use crate::pep::{Pep, PodRef};

/// The page: inline CSS and script, nothing fetched from elsewhere.
pub const PAGE: &str = include_str!("page.html");

/// The FirewallPolicy resource the servers are read from.
const POLICY_GROUP: &str = "networking.aviatrix.com";
const POLICY_PLURAL: &str = "firewallpolicies";

/// The kill chain's pod and its server.
pub const KILL_CHAIN_POD: &str = "healthcare-mcp-7f4d9c";
pub const KILL_CHAIN_APP: &str = "healthcare-mcp";

/// A tier-1 or tier-3 rule of the controller's rule tree, as the page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierRule {
    pub name: String,
    pub tier: u8,
    /// `permit` or `deny`.
    pub action: String,
    /// `enforce`, `monitor` or `disable`.
    pub enforcement: String,
    /// The server names its WebGroups admit; empty: any destination.
    pub domains: Vec<String>,
    /// `443`, `8080-8082`; empty: every port.
    pub ports: Vec<String>,
    pub ruleset: String,
    pub logging: bool,
}

/// What the page shows about one namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioState {
    pub namespace: String,
    /// The namespaces of the lab's Kubernetes, for the page's picker.
    pub namespaces: Vec<String>,
    pub namespace_exists: bool,
    /// Whether the FirewallPolicy CRD is served.
    pub crd_installed: bool,
    pub servers: Vec<Server>,
    pub unprotected: Vec<Unprotected>,
    /// The pods of the namespace, the attempt form's sources.
    pub pods: Vec<String>,
    pub tier1: Vec<TierRule>,
    pub tier3: Vec<TierRule>,
    /// Why the rule tree could not be read, when it could not.
    pub tree_error: Option<String>,
    /// What to do before there is anything to show (nothing applied, no namespace), else none.
    pub hint: Option<String>,
}

fn names(objects: &[Value]) -> Vec<String> {
    objects.iter().filter_map(|o| o.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string)).collect()
}

fn tier_rule(rule: &mcp_egress_policy::eval::Rule, tree: &Tree) -> TierRule {
    let mut domains: Vec<String> = rule
        .web_filters
        .iter()
        .flat_map(|uuid| tree.web_groups.get(uuid).map(|w| w.sni.clone()).unwrap_or_else(|| vec![uuid.clone()]))
        .collect();
    domains.sort();
    domains.dedup();
    TierRule {
        name: rule.name.clone(),
        tier: rule.position.tier(),
        action: match rule.action {
            RuleAction::Permit => "permit",
            RuleAction::Deny => "deny",
        }
        .into(),
        enforcement: format!("{:?}", rule.enforcement).to_lowercase(),
        domains,
        ports: rule
            .ports
            .iter()
            .map(|p| if p.lo == p.hi { p.lo.to_string() } else { format!("{}-{}", p.lo, p.hi) })
            .collect(),
        ruleset: rule.ruleset.clone(),
        logging: rule.logging,
    }
}

/// The namespace's servers, unprotected workloads and pods from the lab's live Kubernetes objects, and the
/// tier-1 and tier-3 rules of the controller's rule tree.
pub fn state(controller: &Controller, kube: &ObjectReader, namespace: &str) -> ScenarioState {
    let namespaces = names(&kube.list_core("namespaces", None));
    let namespace_exists = namespaces.iter().any(|n| n == namespace);
    let policies = kube.list(POLICY_GROUP, POLICY_PLURAL, Some(namespace));
    let crd_installed = policies.is_some();
    let policies = policies.unwrap_or_default();
    let pods = kube.list_core("pods", Some(namespace));
    let deployments = kube.list("apps", "deployments", Some(namespace)).unwrap_or_default();
    let replica_sets = kube.list("apps", "replicasets", Some(namespace)).unwrap_or_default();
    let found = inventory::inventory(namespace, &policies, &pods, &deployments, &replica_sets);

    let objects = controller.dcf_objects();
    let (tier1, tier3, tree_error) = match Tree::from_controller(objects.view()) {
        Ok(tree) => {
            let at = |tier: u8| -> Vec<TierRule> {
                tree.rules
                    .iter()
                    .filter(|r| r.position.tier() == tier && r.position != Position::V1List)
                    .map(|r| tier_rule(r, &tree))
                    .collect()
            };
            (at(1), at(3), None)
        }
        Err(e) => (Vec::new(), Vec::new(), Some(e)),
    };
    let apply = "apply examples/containment-aws (TF_VAR_mcp_namespace picks the namespace) with this lab's lab.env";
    let hint = if !namespace_exists {
        Some(format!("namespace {namespace} does not exist in the lab's Kubernetes: create it (kubectl create namespace {namespace}), then {apply}"))
    } else if found.servers.is_empty() && tier3.is_empty() {
        Some(format!("nothing is applied for namespace {namespace}: {apply}"))
    } else if found.servers.is_empty() {
        Some(format!("no FirewallPolicy in namespace {namespace}: no MCP server has its own permits; {apply}"))
    } else {
        None
    };
    ScenarioState {
        namespace: namespace.to_string(),
        namespaces,
        namespace_exists,
        crd_installed,
        servers: found.servers,
        unprotected: found.unprotected,
        pods: names(&pods),
        tier1,
        tier3,
        tree_error,
        hint,
    }
}

/// The daemon's half: its state, and the kill chain's pod.
struct Backend {
    dir: PathBuf,
    controller: Arc<Controller>,
    kube: ObjectReader,
    pep: Arc<Pep>,
}

/// The daemon's `/ui/…` routes, without authorisation (the daemon adds it):
/// - `GET /ui/state/{namespace}`: the [`ScenarioState`] as JSON;
/// - `POST /ui/kill-chain/{namespace}/pod`: makes sure the pod `healthcare-mcp-7f4d9c` (label
///   `app=healthcare-mcp`) runs in the namespace, through the lab's Kubernetes API, and answers it as the
///   gateway sees it once it has an IP (`created` says whether it was made now).
pub fn routes(dir: &Path, controller: Arc<Controller>, kube: ObjectReader, pep: Arc<Pep>) -> Router {
    let backend = Arc::new(Backend { dir: dir.to_path_buf(), controller, kube, pep });
    Router::new()
        .route("/ui/state/{namespace}", get(state_route))
        .route("/ui/kill-chain/{namespace}/pod", post(kill_chain_pod))
        .with_state(backend)
}

async fn state_route(State(backend): State<Arc<Backend>>, UrlPath(namespace): UrlPath<String>) -> Response {
    Json(state(&backend.controller, &backend.kube, &namespace)).into_response()
}

async fn kill_chain_pod(State(backend): State<Arc<Backend>>, UrlPath(namespace): UrlPath<String>) -> Response {
    if backend.kube.get_core("namespaces", "", &namespace).is_none() {
        return (StatusCode::NOT_FOUND, format!("namespace {namespace} does not exist in the lab's Kubernetes"))
            .into_response();
    }
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": KILL_CHAIN_POD, "namespace": namespace, "labels": {"app": KILL_CHAIN_APP}},
        "spec": {"containers": [{"name": "mcp", "image": "ghcr.io/obot-platform/mcp-images/stdio-wrapper:v0.24.2"}]}});
    let created = match crate::kube::create_pod_in(&backend.dir, &pod).await {
        Ok(created) => created,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("creating pod {namespace}/{KILL_CHAIN_POD}: {e:#}"))
                .into_response()
        }
    };
    let at = PodRef { namespace: namespace.clone(), name: KILL_CHAIN_POD.into() };
    if created {
        crate::http::log("ui", format!("kill chain: created pod {at}; waiting for its IP"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match backend.pep.workload(&at) {
            Ok(workload) if workload.ip.is_some() => {
                return Json(json!({"created": created, "pod": at.to_string(), "workload": workload})).into_response()
            }
            _ if Instant::now() > deadline => {
                return (StatusCode::GATEWAY_TIMEOUT, format!("pod {at} got no IP within 30 s")).into_response()
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Where the `ui` process finds the daemon, read afresh on every call so that a lab started after the page
/// (or restarted) is found.
pub type Locate = Arc<dyn Fn() -> Result<(String, String), String> + Send + Sync>;

#[derive(Clone)]
struct Proxy {
    locate: Locate,
    namespace: String,
    client: reqwest::Client,
}

/// The `ui` process's router: the page at `/`, and `/api/…` forwarded to the daemon with the admin token.
pub fn page_router(locate: Locate, namespace: &str) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder().no_proxy().connect_timeout(Duration::from_secs(3)).build()?;
    let proxy = Proxy { locate, namespace: namespace.to_string(), client };
    Ok(Router::new()
        .route("/", get(page))
        .route("/api/state/{namespace}", get(forward))
        .route("/api/kill-chain/{namespace}/pod", post(forward))
        .route("/api/attempt", post(forward))
        .route("/api/decisions", get(forward))
        .route("/api/decisions/stream", get(forward))
        .with_state(proxy))
}

async fn page(State(proxy): State<Proxy>) -> Response {
    let namespace = serde_json::to_string(&proxy.namespace).unwrap_or_default();
    let html = PAGE.replace("\"__NAMESPACE__\"", &namespace);
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// The daemon path an `/api/…` path stands for.
fn daemon_path(path: &str) -> String {
    let rest = path.trim_start_matches("/api");
    match rest {
        "/attempt" | "/decisions" | "/decisions/stream" => format!("/pep{rest}"),
        _ => format!("/ui{rest}"),
    }
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (admin_url, token) = match (proxy.locate)() {
        Ok(found) => found,
        Err(why) => return (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    };
    let path = daemon_path(request.uri().path());
    let method = request.method().clone();
    let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
        Ok(bytes) => bytes,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("reading the request: {e}")).into_response(),
    };
    let mut call = proxy
        .client
        .request(method, format!("{admin_url}{path}"))
        .header("x-lab-admin-token", token)
        .header(header::CONTENT_TYPE, "application/json");
    if !path.ends_with("/stream") {
        call = call.timeout(Duration::from_secs(60));
    }
    let response = match call.body(body).send().await {
        Ok(response) => response,
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the lab's daemon at {admin_url} does not answer ({e}); is the lab up? (mcp-egress-lab status)"
                ),
            )
                .into_response()
        }
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("text/plain")
        .to_string();
    let chunks = futures_util::stream::unfold(response, |mut response| async move {
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), response)),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e)), response)),
        }
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

/// Serves the page on `127.0.0.1:port` (0: a free port) until SIGINT or SIGTERM; `bound` is called with the
/// page's URL once it listens.
pub async fn serve(locate: Locate, namespace: &str, port: u16, bound: impl FnOnce(&str)) -> anyhow::Result<()> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} (is the port taken? --port 0 picks a free one)"))?;
    let url = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(crate::http::serve(listener, None, page_router(locate, namespace)?, stopped));
    bound(&url);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = stop.send(true);
    server.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_map_to_the_daemons_routes() {
        assert_eq!(daemon_path("/api/attempt"), "/pep/attempt");
        assert_eq!(daemon_path("/api/decisions/stream"), "/pep/decisions/stream");
        assert_eq!(daemon_path("/api/state/obot-mcp"), "/ui/state/obot-mcp");
        assert_eq!(daemon_path("/api/kill-chain/obot-mcp/pod"), "/ui/kill-chain/obot-mcp/pod");
    }

    #[test]
    fn the_page_has_no_external_assets() {
        for needle in ["http://", "https://", "src=\"//", "href=\"//", "@import"] {
            assert!(!PAGE.contains(needle), "the page refers to {needle}");
        }
        assert!(PAGE.contains("\"__NAMESPACE__\""), "the page takes its namespace from the server");
    }
}
