//! The Aviatrix controller emulator: the `/v2/api` form and JSON actions and the `/v2.5/api` REST surface the
//! official Terraform provider uses (docs/controller-api.md and the sections cited as "reference §" in each
//! module), with the real envelopes, session rules and async tasks.
//!
//! Owns the controller's objects (accounts, gateways, feature flags, syslog profiles, app-domains, rulesets,
//! attachment points, the default action, k8s clusters), their persistence, CID sessions and async tasks. It
//! must not reach into a cloud emulator's state: a gateway's instance is launched through [`CloudHost`], as the
//! real controller launches it through the cloud's API.

mod actions;
pub mod dcf;
pub mod reconcile;
mod rest;
pub mod selector;
mod sizes;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::emulator::{BoxFuture, Emulator};
use crate::fault::{FaultKind, Faults};
use crate::inventory::Object;
use crate::store::StateFile;

/// Cloud types of reference §2.1 that the lab can host gateways in.
pub const CLOUD_AWS: u32 = 1;
pub const CLOUD_AZURE: u32 = 8;

/// The built-in app-domain UUIDs (reference §3.5).
pub const ANYWHERE: &str = "def000ad-0000-0000-0000-000000000000";
pub const PUBLIC_INTERNET: &str = "def000ad-0000-0000-0000-000000000001";
pub const ALL_WEB: &str = "def000ad-0000-0000-0000-000000000002";

/// The built-in attachment points (reference §3.4).
pub const ATTACHMENT_POINTS: [(&str, &str); 3] = [
    ("TERRAFORM_BEFORE_UI_MANAGED", "a77ac400-0000-4000-8000-000000000001"),
    ("TERRAFORM_AFTER_UI_MANAGED", "a77ac400-0000-4000-8000-000000000002"),
    ("TERRAFORM_AFTER_K8S_MANAGED", "a77ac400-0000-4000-8000-000000000003"),
];

/// Feature flags the controller knows (reference §3.1, §4.1).
pub const FEATURES: [&str; 12] = [
    "microseg",
    "k8s",
    "k8s_dcf_policies",
    "k8s_network_policy",
    "dcf_logs_obs_sink",
    "dcf_stats_obs_sink",
    "dcf_on_firenet",
    "dcf_on_psf",
    "dcf_on_s2c",
    "dcf_multi_policies",
    "k8s_discovery",
    "log_enrichment",
];

/// Flags that field reports say a controller reboot resets (reference §6 item 10).
pub const RESET_BY_REBOOT: [&str; 5] =
    ["k8s", "k8s_dcf_policies", "dcf_multi_policies", "k8s_discovery", "log_enrichment"];

/// What the controller needs from a cloud to host a gateway: launch its instance, find what still points at
/// it, and remove it. Implemented by the AWS and Azure emulators' adapters.
pub trait CloudHost: Send + Sync {
    /// Validates the placement and launches the instance. Errors are the text the controller reports.
    fn launch<'a>(&'a self, request: &'a LaunchRequest) -> BoxFuture<'a, Result<Instance, String>>;
    /// Routes (or other objects) that reference the instance, by ID.
    fn references<'a>(&'a self, instance: &'a Instance) -> BoxFuture<'a, Result<Vec<String>, String>>;
    /// Removes the instance and its network interface.
    fn terminate<'a>(&'a self, instance: &'a Instance) -> BoxFuture<'a, Result<(), String>>;
    /// Changes the instance's size (EC2 instance type, Azure VM size), as a gateway resize does.
    fn resize<'a>(&'a self, instance: &'a Instance, size: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// Replaces the user tags on the instance: `tags` after, `previous` before (keys to remove).
    fn retag<'a>(
        &'a self,
        instance: &'a Instance,
        previous: &'a BTreeMap<String, String>,
        tags: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A gateway placement, as `create_multicloud_primary_gateway` gives it.
#[derive(Clone, Debug)]
pub struct LaunchRequest {
    pub gw_name: String,
    pub gw_size: String,
    pub vpc_id: String,
    pub vpc_region: String,
    /// The subnet CIDR (any `~~` suffix already stripped).
    pub subnet_cidr: String,
}

/// A gateway's cloud instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub network_interface_id: String,
    pub private_ip: String,
    pub security_group_id: String,
    pub subnet_id: String,
}

/// Settings of the controller emulator.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub username: String,
    pub password: String,
    /// How long a CID stays valid after login.
    pub cid_lifetime: Duration,
    /// How long an async task answers REQUEST_IN_PROGRESS.
    pub task_duration: Duration,
    pub aws_account_name: String,
    pub aws_account_number: String,
    pub azure_account_name: String,
    pub azure_subscription_id: String,
    /// Managed clusters the lab's clouds hold (the EKS ARN, the AKS resource ID): onboarded with
    /// `use_csp_credentials`, the controller reaches them through the cloud account, and they are backed by
    /// the lab's Kubernetes API.
    pub known_clusters: Vec<String>,
}

#[cfg(test)]
impl ControllerConfig {
    /// Settings for the module's tests: tasks that end at once, the lab's account names.
    pub(crate) fn for_tests(known_clusters: &[&str]) -> ControllerConfig {
        ControllerConfig {
            username: "admin".into(),
            password: "pw".into(),
            cid_lifetime: Duration::from_secs(60),
            task_duration: Duration::from_millis(0),
            aws_account_name: "lab-aws".into(),
            aws_account_number: "123456789012".into(),
            azure_account_name: "lab-azure".into(),
            azure_subscription_id: "s".into(),
            known_clusters: known_clusters.iter().map(|c| c.to_string()).collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub account_name: String,
    pub cloud_type: u32,
    /// AWS account number or Azure subscription ID.
    pub account_id: String,
}

/// A gateway as `list_vpcs_summary` reports it (reference §2.3 keys).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Gateway {
    pub vpc_name: String,
    pub cloud_type: u32,
    pub account_name: String,
    pub vpc_id: String,
    pub vpc_region: String,
    pub vpc_size: String,
    pub public_subnet: String,
    pub public_ip: String,
    pub private_ip: String,
    pub cloudn_gateway_inst_id: String,
    pub gw_security_group_id: String,
    pub gw_subnet_id: String,
    pub enable_nat: String,
    pub snat_target: String,
    pub single_az_ha: String,
    pub gw_image_name: String,
    pub gw_software_version: String,
    pub tags: Value,
    #[serde(default)]
    pub instance: Option<Instance>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ControllerState {
    pub accounts: BTreeMap<String, Account>,
    pub gateways: BTreeMap<String, Gateway>,
    pub features: BTreeMap<String, bool>,
    /// Remote syslog profiles by index 0–9.
    pub syslog: BTreeMap<u8, Value>,
    /// App-domains (SmartGroups and WebGroups) by UUID, as the controller returns them.
    pub app_domains: BTreeMap<String, Value>,
    /// `policy-list3` objects by UUID: rulesets (`policies`) and policy groups (`sub_policies`).
    pub rulesets: BTreeMap<String, Value>,
    /// Attachment point ID to the ruleset or policy group UUID attached there.
    pub attachments: BTreeMap<String, String>,
    /// The V1 controller-wide policy list (non-system entries).
    pub policy_list: Vec<Value>,
    pub default_action: Value,
    /// Which clouds DCF policies are deployed to (reference §3.1).
    #[serde(default = "default_deploy_policy")]
    pub deploy_policy: Value,
    /// k8s clusters by controller ID.
    pub clusters: BTreeMap<String, Value>,
    /// Counter for the lab's public IPs (documentation range 203.0.113.0/24).
    pub next_public_ip: u32,
}

struct Session {
    username: String,
    expires: Instant,
}

/// An async task as `check_task_status` reports it.
struct Task {
    ready_at: Instant,
    stuck: bool,
    outcome: Result<String, String>,
    extra: serde_json::Map<String, Value>,
}

/// The controller emulator.
pub struct Controller {
    config: ControllerConfig,
    state: Mutex<ControllerState>,
    store: StateFile,
    sessions: Mutex<HashMap<String, Session>>,
    api_tokens: Mutex<HashMap<String, Instant>>,
    tasks: Mutex<HashMap<String, Task>>,
    /// Serialises gateway operations, which wait on a cloud.
    gateway_ops: tokio::sync::Mutex<()>,
    clouds: HashMap<u32, Arc<dyn CloudHost>>,
    faults: Faults,
    url: Mutex<String>,
    ca_file: String,
    /// The TLS private keys of remote syslog profiles, by index. Held in memory only: never saved with the
    /// state, never listed in the inventory. A restarted lab's profiles send without a client certificate.
    syslog_keys: Mutex<HashMap<u8, String>>,
}

const CONTROLLER_FAULTS: &[FaultKind] = &[
    FaultKind::ServerError,
    FaultKind::Slow,
    FaultKind::ExpiredSession,
    FaultKind::TaskFailed,
    FaultKind::TaskStuck,
    FaultKind::SlowTask,
    FaultKind::PartialCluster,
];

impl Controller {
    /// Loads the saved state from the lab directory, or seeds the baseline on a fresh lab.
    pub fn open(
        dir: &std::path::Path,
        config: ControllerConfig,
        clouds: HashMap<u32, Arc<dyn CloudHost>>,
    ) -> anyhow::Result<Arc<Controller>> {
        let store = StateFile::new(dir, "controller");
        let state = match store.load::<ControllerState>()? {
            Some(state) => state,
            None => baseline(&config),
        };
        let controller = Arc::new(Controller {
            config,
            state: Mutex::new(state),
            store,
            sessions: Mutex::new(HashMap::new()),
            api_tokens: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            gateway_ops: tokio::sync::Mutex::new(()),
            clouds,
            faults: Faults::new(CONTROLLER_FAULTS),
            url: Mutex::new(String::new()),
            ca_file: dir.join("ca.pem").display().to_string(),
            syslog_keys: Mutex::new(HashMap::new()),
        });
        controller.persist();
        Ok(controller)
    }

    /// Records where it is served, for `lab.env`.
    pub fn set_url(&self, url: String) {
        *self.url.lock().unwrap() = url;
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v2/api", axum::routing::any(v2_entry))
            .merge(rest::routes(self))
            .fallback(not_found)
            .with_state(self.clone())
    }

    /// Starts reconciling FirewallPolicy objects of the onboarded cluster through `access` (the lab's
    /// Kubernetes API), as the real controller does with the credentials it was given at onboarding.
    pub fn start_reconciler(self: &Arc<Self>, access: reconcile::KubeAccess) {
        tokio::spawn(reconcile::run(self.clone(), access));
    }

    /// A controller reboot: sessions end, and the flags field reports name go back to off.
    pub fn reboot(&self) {
        self.sessions.lock().unwrap().clear();
        self.api_tokens.lock().unwrap().clear();
        self.mutate(|state| {
            for flag in RESET_BY_REBOOT {
                state.features.insert(flag.to_string(), false);
            }
        });
    }

    fn persist(&self) {
        let state = self.state.lock().unwrap().clone();
        if let Err(e) = self.store.save(&state) {
            crate::http::log("controller", format!("saving state failed: {e:#}"));
        }
    }

    /// Changes the state and saves it.
    fn mutate<T>(&self, change: impl FnOnce(&mut ControllerState) -> T) -> T {
        let out = change(&mut self.state.lock().unwrap());
        self.persist();
        out
    }

    fn read<T>(&self, look: impl FnOnce(&ControllerState) -> T) -> T {
        look(&self.state.lock().unwrap())
    }

    fn new_session(&self, username: &str) -> String {
        let cid: String = random_token(20);
        self.sessions.lock().unwrap().insert(
            cid.clone(),
            Session { username: username.to_string(), expires: Instant::now() + self.config.cid_lifetime },
        );
        cid
    }

    /// Whether `cid` names a live session. An `expired-session` fault ends the session first.
    fn session_valid(&self, cid: &str) -> bool {
        let mut sessions = self.sessions.lock().unwrap();
        if self.faults.fires(FaultKind::ExpiredSession).is_some() {
            sessions.remove(cid);
            return false;
        }
        match sessions.get(cid) {
            Some(session) if session.expires > Instant::now() => !session.username.is_empty(),
            Some(_) => {
                sessions.remove(cid);
                false
            }
            None => false,
        }
    }

    /// Starts an async task whose outcome is known now but reported after the task duration.
    fn start_task(
        &self,
        outcome: Result<String, String>,
        extra: serde_json::Map<String, Value>,
        stuck: bool,
    ) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let extra_time =
            self.faults.fires(FaultKind::SlowTask).map(|s| Duration::from_millis(s.delay_ms)).unwrap_or_default();
        self.tasks.lock().unwrap().insert(
            id.clone(),
            Task { ready_at: Instant::now() + self.config.task_duration + extra_time, stuck, outcome, extra },
        );
        id
    }

    fn task_status(
        &self,
        request_id: &str,
    ) -> Option<(Option<Result<String, String>>, serde_json::Map<String, Value>)> {
        let tasks = self.tasks.lock().unwrap();
        let task = tasks.get(request_id)?;
        if task.stuck || Instant::now() < task.ready_at {
            return Some((None, task.extra.clone()));
        }
        Some((Some(task.outcome.clone()), task.extra.clone()))
    }

    fn allocate_public_ip(&self, state: &mut ControllerState) -> String {
        state.next_public_ip += 1;
        format!("203.0.113.{}", 10 + state.next_public_ip % 240)
    }

    fn inventory_objects(&self) -> Vec<Object> {
        let state = self.state.lock().unwrap().clone();
        let mut out = Vec::new();
        for (name, account) in &state.accounts {
            out.push(Object::new("controller", "account", name, serde_json::to_value(account).unwrap()));
        }
        for (name, gateway) in &state.gateways {
            out.push(Object::new("controller", "gateway", name, serde_json::to_value(gateway).unwrap()));
        }
        for (name, enabled) in &state.features {
            out.push(Object::new("controller", "feature_flag", name, json!({ "enabled": enabled })));
        }
        for (index, profile) in &state.syslog {
            out.push(Object::new("controller", "syslog_profile", index.to_string(), profile.clone()));
        }
        for (uuid, domain) in &state.app_domains {
            let kind = if selector::is_web_group(domain.get("selector").unwrap_or(&Value::Null)) {
                "web_group"
            } else {
                "smart_group"
            };
            out.push(Object::new("controller", kind, uuid, domain.clone()));
        }
        for (uuid, ruleset) in &state.rulesets {
            let kind = if rest::is_group(ruleset) { "policy_group" } else { "ruleset" };
            out.push(Object::new("controller", kind, uuid, ruleset.clone()));
        }
        for (name, id) in ATTACHMENT_POINTS {
            let attached = state.attachments.get(id).cloned();
            out.push(Object::new(
                "controller",
                "attachment_point",
                name,
                json!({ "attachment_point_id": id, "attached": attached }),
            ));
        }
        out.push(Object::new("controller", "policy_list", "v1", json!({ "policies": state.policy_list })));
        out.push(Object::new("controller", "default_action_policy", "default", state.default_action.clone()));
        out.push(Object::new("controller", "deploy_policy", "default", state.deploy_policy.clone()));
        for (id, cluster) in &state.clusters {
            out.push(Object::new("controller", "k8s_cluster", id, rest::redacted(cluster)));
        }
        out
    }
}

impl Emulator for Controller {
    fn target(&self) -> &'static str {
        "controller"
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn inventory(&self) -> BoxFuture<'_, anyhow::Result<Vec<Object>>> {
        Box::pin(async move { Ok(self.inventory_objects()) })
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AVIATRIX_CONTROLLER_URL".into(), self.url.lock().unwrap().clone()),
            ("AVIATRIX_USERNAME".into(), self.config.username.clone()),
            ("AVIATRIX_PASSWORD".into(), self.config.password.clone()),
            ("AVIATRIX_CA_FILE".into(), self.ca_file.clone()),
            ("LAB_AWS_ACCOUNT_NAME".into(), self.config.aws_account_name.clone()),
            ("LAB_AZURE_ACCOUNT_NAME".into(), self.config.azure_account_name.clone()),
            ("TF_VAR_aws_account_name".into(), self.config.aws_account_name.clone()),
            ("TF_VAR_azure_account_name".into(), self.config.azure_account_name.clone()),
        ]
    }

    fn describe(&self) -> String {
        format!("{} (TLS; /v2/api and /v2.5/api)", self.url.lock().unwrap())
    }
}

/// The state of a fresh controller: the two onboarded cloud accounts, built-in app-domains, flags off, DCF's
/// default action PERMIT with logging off (reference §3.1, §3.3).
fn baseline(config: &ControllerConfig) -> ControllerState {
    let mut state = ControllerState::default();
    state.accounts.insert(
        config.aws_account_name.clone(),
        Account {
            account_name: config.aws_account_name.clone(),
            cloud_type: CLOUD_AWS,
            account_id: config.aws_account_number.clone(),
        },
    );
    state.accounts.insert(
        config.azure_account_name.clone(),
        Account {
            account_name: config.azure_account_name.clone(),
            cloud_type: CLOUD_AZURE,
            account_id: config.azure_subscription_id.clone(),
        },
    );
    for feature in FEATURES {
        state.features.insert(feature.to_string(), false);
    }
    state.app_domains.insert(
        ANYWHERE.into(),
        json!({"uuid": ANYWHERE, "name": "Anywhere", "selector": {"any": [{"all": {"cidr": "0.0.0.0/0"}}]}, "system_resource": true}),
    );
    state.app_domains.insert(
        PUBLIC_INTERNET.into(),
        json!({"uuid": PUBLIC_INTERNET, "name": "Public Internet", "selector": {"any": [{"all": {"external": "publicinternet"}}]}, "system_resource": true}),
    );
    state.app_domains.insert(
        ALL_WEB.into(),
        json!({"uuid": ALL_WEB, "name": "All-Web", "selector": {"any": [{"all": {"snifilter": "*"}}]}, "system_resource": true}),
    );
    state.default_action = json!({"action": "PERMIT", "logging": false, "log_profile": ""});
    state.deploy_policy = default_deploy_policy();
    state
}

/// DCF's deployment policy on a fresh controller: the default providers (reference §3.1).
pub fn default_deploy_policy() -> Value {
    json!({"providers": DEPLOY_PROVIDERS, "set_defaults": true})
}

/// The providers DCF deploys to by default.
pub const DEPLOY_PROVIDERS: [&str; 6] = ["GCP", "AWS", "AWS-GOV", "AZURE-GOV", "AZURE", "AVX-TEST"];

/// A random alphanumeric token.
pub fn random_token(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// The answer nginx in front of a controller gives when the backend is down (what AVX-42113 polls through).
fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [("content-type", "text/html")],
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    )
        .into_response()
}

/// Unknown paths: v2.5 errors carry `{"message": …}`.
async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/v2.5/") {
        (StatusCode::NOT_FOUND, axum::Json(json!({ "message": format!("{} not found", uri.path()) }))).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// The request parameters of a `/v2/api` call: query string and form or JSON body merged.
pub(crate) struct Params {
    values: HashMap<String, String>,
    json: bool,
}

impl Params {
    fn parse(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Params, String> {
        let mut values = HashMap::new();
        if let Some(query) = uri.query() {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(query).map_err(|e| format!("malformed query string: {e}"))?;
            values.extend(pairs);
        }
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let json = content_type.starts_with("application/json");
        if json {
            let body: Value = serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))?;
            let Value::Object(map) = body else {
                return Err("JSON body must be an object".into());
            };
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                values.insert(key, text);
            }
        } else if !body.is_empty() {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|e| format!("malformed form body: {e}"))?;
            values.extend(pairs);
        }
        Ok(Params { values, json })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn require(&self, key: &str) -> Result<&str, String> {
        self.get(key).ok_or_else(|| format!("Missing required parameter: {key}"))
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "True" | "yes"))
    }
}

/// `{"return":true,"results":…,"reason":""}`.
fn envelope_ok(results: Value) -> Response {
    axum::Json(json!({"return": true, "results": results, "reason": ""})).into_response()
}

/// `{"return":false,"reason":…}`: the v2 failure envelope, always HTTP 200.
fn envelope_fail(reason: impl Into<String>) -> Response {
    axum::Json(json!({"return": false, "reason": reason.into()})).into_response()
}

async fn v2_entry(
    State(controller): State<Arc<Controller>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    controller.faults.maybe_slow().await;
    if controller.faults.fires(FaultKind::ServerError).is_some() {
        return bad_gateway();
    }
    if method != Method::GET && method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let params = match Params::parse(&uri, &headers, &body) {
        Ok(params) => params,
        Err(reason) => return envelope_fail(reason),
    };
    actions::dispatch(&controller, &headers, params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_parameters_merge_with_the_query_string() {
        let uri: Uri = "/v2/api?action=get_api_token&log_enable=true".parse().unwrap();
        let params = Params::parse(&uri, &HeaderMap::new(), b"CID=abc&async=true").unwrap();
        assert_eq!(params.get("action"), Some("get_api_token"));
        assert!(params.flag("async") && !params.json);
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        let params = Params::parse(&"/v2/api".parse().unwrap(), &headers, br#"{"action":"x","n":3,"b":true}"#).unwrap();
        assert_eq!((params.get("n"), params.get("b"), params.json), (Some("3"), Some("true"), true));
        assert!(Params::parse(&"/v2/api".parse().unwrap(), &headers, b"[1]").is_err());
    }
}
