//! The Aviatrix controller: its three API styles on one host (`/v2/api` form actions, `/v2/api` JSON
//! actions, `/v2.5/api` REST), the login and CID session, async tasks, and the mapping of its answers to
//! [`ControllerError`].
//!
//! Owns every URL, form field and header sent to the controller. Sessions: a CID is obtained on first use
//! (`get_api_token`, then `login` with `X-Access-Key`; controllers without the token step are logged into
//! directly) and renewed once when the controller says it expired, after which the call is repeated once.
//! Reads are retried while the answer says a retry can help; a write whose fate is unknown (a timeout, a
//! dropped connection, a 5xx) is first read back through the caller's confirmation, since the controller may
//! have completed it, and only then sent again. The password travels only in the login form body: never in a
//! URL, a log line, an error or a process argument.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::retry::{with_retries, Budget, Retryable};
use crate::provider::{ControllerSettings, Secret};

/// What went wrong talking to the controller, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControllerError {
    /// The object does not exist (the controller's "does not exist", "not found", HTTP 404).
    #[error("{what} does not exist on the controller")]
    NotFound { what: String },
    /// The session expired, also right after a fresh login; the call was not done, so it may be tried again.
    #[error("the controller session kept expiring ({reason}); check that nothing else logs this user out")]
    SessionExpired { reason: String },
    /// A failure that may pass: a 5xx, throttling, an async task still running past a poll.
    #[error("{call}: the controller answered {detail}; trying again may help")]
    Retryable { call: String, detail: String, after: Option<Duration> },
    /// The request reached the controller, but its fate is unknown (timed out, connection dropped).
    #[error("{call}: no answer from the controller ({detail}); it may or may not have been done")]
    Unanswered { call: String, detail: String },
    /// The controller refused the request and said why.
    #[error("{call} was refused by the controller: {reason}")]
    Rejected { call: String, reason: String },
    /// The controller cannot be reached at all.
    #[error("cannot reach the controller at {url}: {detail}; check controller_url and the network path")]
    Unreachable { url: String, detail: String },
    /// The operation's time ran out while the controller kept failing.
    #[error("{call} did not succeed within {waited:?}: {last}; raise the resource's timeouts or check the controller")]
    TimedOut { call: String, waited: Duration, last: String },
    /// Terraform cancelled the operation.
    #[error("cancelled")]
    Cancelled,
    /// The provider's controller settings cannot make a client.
    #[error("{attribute}: {detail}")]
    Settings { attribute: String, detail: String },
}

impl Retryable for ControllerError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ControllerError::Retryable { after, .. } => Some(after.unwrap_or_default()),
            ControllerError::Unreachable { .. }
            | ControllerError::Unanswered { .. }
            | ControllerError::SessionExpired { .. } => Some(Duration::ZERO),
            _ => None,
        }
    }

    fn out_of_time(self, waited: Duration) -> ControllerError {
        let call = match &self {
            ControllerError::Retryable { call, .. } | ControllerError::Unanswered { call, .. } => call.clone(),
            ControllerError::Unreachable { url, .. } => url.clone(),
            ControllerError::SessionExpired { .. } => "the controller session".to_string(),
            _ => return self,
        };
        ControllerError::TimedOut { call, waited, last: self.to_string() }
    }

    fn cancelled() -> ControllerError {
        ControllerError::Cancelled
    }
}

impl ControllerError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ControllerError::NotFound { .. })
    }

    /// True when a write may have landed although no success came back.
    fn fate_unknown(&self) -> bool {
        matches!(self, ControllerError::Retryable { .. } | ControllerError::Unanswered { .. })
    }
}

/// The reasons the v2 styles give for an expired session (form and JSON word it differently).
fn session_expired_reason(reason: &str) -> bool {
    reason.contains("CID is invalid") || reason.contains("Invalid session") || reason.contains("expired")
}

/// The controller's words for "there is no such object".
fn not_found_reason(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("does not exist") || r.contains("not found")
}

/// One request, in one of the three styles.
#[derive(Clone, Debug)]
enum Call<'a> {
    /// `/v2/api`, form body with `action`.
    Form { action: &'a str, params: &'a [(&'a str, &'a str)] },
    /// `/v2/api`, JSON body with `action`.
    Json { action: &'a str, body: &'a Value },
    /// `/v2.5/api/{path}`.
    Rest { method: Method, path: &'a str, body: Option<&'a Value> },
}

impl Call<'_> {
    fn name(&self) -> String {
        match self {
            Call::Form { action, .. } | Call::Json { action, .. } => (*action).to_string(),
            Call::Rest { method, path, .. } => format!("{method} /v2.5/api/{path}"),
        }
    }
}

/// What an async task ended with: its message and the extra keys (such as `gw_name`) that came with it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    pub message: String,
    pub extra: serde_json::Map<String, Value>,
}

/// A client for one controller; cheap to clone, one session shared by all clones.
#[derive(Clone)]
pub struct ControllerClient {
    http: reqwest::Client,
    base: String,
    username: String,
    password: Secret,
    cid: Arc<Mutex<Option<String>>>,
    /// How often an async task is polled.
    pub poll_interval: Duration,
}

impl std::fmt::Debug for ControllerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerClient").field("base", &self.base).field("username", &self.username).finish()
    }
}

fn settings_error(attribute: &str, detail: impl Into<String>) -> ControllerError {
    ControllerError::Settings { attribute: attribute.to_string(), detail: detail.into() }
}

impl ControllerClient {
    /// Builds a client from the provider's controller settings; nothing is contacted yet. TLS is verified
    /// against the system roots, plus `ca_file` when set; `skip_tls_verify` turns verification off (the
    /// provider warns about it on every run).
    pub fn new(settings: &ControllerSettings) -> Result<ControllerClient, ControllerError> {
        let url = settings.url.as_deref().ok_or_else(|| {
            settings_error("controller_url", "is not set; set it in the provider block or AVIATRIX_CONTROLLER_URL")
        })?;
        let username = settings.username.clone().ok_or_else(|| {
            settings_error("username", "is not set; set it in the provider block or AVIATRIX_USERNAME")
        })?;
        let password = settings.password.clone().ok_or_else(|| {
            settings_error("password", "is not set; set it in the provider block or AVIATRIX_PASSWORD")
        })?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("terraform-provider-aviatrix/", env!("CARGO_PKG_VERSION"), " (mcp-egress)"));
        if let Some(ca_file) = &settings.ca_file {
            builder = super::with_ca_file(builder, ca_file).map_err(|e| settings_error("ca_file", e))?;
        }
        if settings.skip_tls_verify {
            tracing::warn!("TLS verification of the controller is off (skip_tls_verify)");
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| settings_error("controller_url", format!("no HTTP client: {e}")))?;
        Ok(ControllerClient {
            http,
            base: url.trim_end_matches('/').to_string(),
            username,
            password,
            cid: Arc::new(Mutex::new(None)),
            poll_interval: Duration::from_secs(10),
        })
    }

    /// The controller's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn transport_error(&self, call: &str, e: reqwest::Error) -> ControllerError {
        // A connection that was never made means nothing was sent; anything later leaves the fate unknown.
        if e.is_connect() {
            ControllerError::Unreachable { url: self.base.clone(), detail: super::error_text(&e) }
        } else {
            ControllerError::Unanswered { call: call.to_string(), detail: super::error_text(&e) }
        }
    }

    /// Logs in: `get_api_token`, then `login` with the token as `X-Access-Key`.
    async fn login(&self) -> Result<String, ControllerError> {
        let token_reply = self
            .http
            .get(format!("{}/v2/api", self.base))
            .query(&[("action", "get_api_token"), ("log_enable", "true")])
            .send()
            .await
            .map_err(|e| self.transport_error("get_api_token", e))?;
        let token = match parse_v2("get_api_token", token_reply).await {
            Ok(results) => results["api_token"].as_str().map(str::to_string),
            // Controllers without the token step take a plain login.
            Err(ControllerError::Rejected { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut request = self.http.post(format!("{}/v2/api", self.base)).form(&[
            ("action", "login"),
            ("username", self.username.as_str()),
            ("password", self.password.expose()),
        ]);
        if let Some(token) = token {
            request = request.header("X-Access-Key", token);
        }
        let reply = request.send().await.map_err(|e| self.transport_error("login", e))?;
        let status = reply.status();
        let body: Value = reply.json().await.map_err(|e| ControllerError::Unanswered {
            call: "login".into(),
            detail: format!("HTTP {status}, not JSON: {}", super::error_text(&e)),
        })?;
        if body["return"] != true {
            let reason = body["reason"].as_str().unwrap_or("no reason given").to_string();
            return Err(ControllerError::Rejected {
                call: format!("login as {:?}", self.username),
                reason: format!("{reason} (check username and password)"),
            });
        }
        let cid = body["CID"].as_str().filter(|c| !c.is_empty()).ok_or_else(|| ControllerError::Rejected {
            call: "login".into(),
            reason: "the answer carries no CID".into(),
        })?;
        tracing::debug!(controller = %self.base, "logged in to the controller");
        Ok(cid.to_string())
    }

    /// Logs in, retried like a read: a login changes nothing a second one would harm.
    async fn login_retried(&self, budget: &Budget) -> Result<String, ControllerError> {
        with_retries(budget, "login", || self.login()).await
    }

    async fn session(&self, budget: &Budget) -> Result<String, ControllerError> {
        let mut cid = self.cid.lock().await;
        if let Some(cid) = cid.as_ref() {
            return Ok(cid.clone());
        }
        let fresh = self.login_retried(budget).await?;
        *cid = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops `stale` (unless another call already renewed it) and logs in again.
    async fn renew(&self, stale: &str, budget: &Budget) -> Result<String, ControllerError> {
        let mut cid = self.cid.lock().await;
        if let Some(current) = cid.as_ref().filter(|c| c.as_str() != stale) {
            return Ok(current.clone());
        }
        let fresh = self.login_retried(budget).await?;
        *cid = Some(fresh.clone());
        Ok(fresh)
    }

    async fn send_once(&self, call: &Call<'_>, cid: &str, timeout: Duration) -> Result<Value, ControllerError> {
        let name = call.name();
        let request = match call {
            Call::Form { action, params } => {
                let mut form: Vec<(&str, &str)> = vec![("action", action), ("CID", cid)];
                form.extend_from_slice(params);
                self.http.post(format!("{}/v2/api", self.base)).form(&form)
            }
            Call::Json { action, body } => {
                let mut body = (*body).clone();
                body["action"] = json!(action);
                body["CID"] = json!(cid);
                self.http.post(format!("{}/v2/api", self.base)).json(&body)
            }
            Call::Rest { method, path, body } => {
                let mut r = self
                    .http
                    .request(method.clone(), format!("{}/v2.5/api/{path}", self.base))
                    .header("Authorization", format!("cid {cid}"));
                if let Some(body) = body {
                    r = r.json(body);
                }
                r
            }
        };
        let reply = request.timeout(timeout).send().await.map_err(|e| self.transport_error(&name, e))?;
        match call {
            Call::Rest { .. } => parse_v25(&name, reply).await,
            _ => parse_v2(&name, reply).await,
        }
    }

    /// One call with the session handled: an expired CID is renewed once and the call repeated once.
    async fn send(&self, call: &Call<'_>, budget: &Budget) -> Result<Value, ControllerError> {
        let timeout = budget.remaining().clamp(Duration::from_secs(1), Duration::from_secs(120));
        let cid = self.session(budget).await?;
        match self.send_once(call, &cid, timeout).await {
            Err(ControllerError::SessionExpired { .. }) => {
                tracing::debug!(call = %call.name(), "controller session expired; logging in again");
                let cid = self.renew(&cid, budget).await?;
                self.send_once(call, &cid, timeout).await
            }
            other => other,
        }
    }

    /// A call that changes nothing, retried while the controller says a retry may help.
    async fn read(&self, call: Call<'_>, budget: &Budget) -> Result<Value, ControllerError> {
        with_retries(budget, &call.name(), || self.send(&call, budget)).await
    }

    /// A call that changes something. When its fate is unknown, `confirm` reads the world back: `Some(v)`
    /// means the write landed (and `v` stands for its answer), `None` that it did not, so it is sent again.
    async fn write<C, F>(&self, call: Call<'_>, budget: &Budget, confirm: C) -> Result<Value, ControllerError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Option<Value>, ControllerError>>,
    {
        // The one retry loop; what differs from a read is the read-back before a resend. Nothing was done
        // when the controller could not be reached or refused the session, so those are resent as they are.
        with_retries(budget, &call.name(), || async {
            match self.send(&call, budget).await {
                Err(error) if error.fate_unknown() => {
                    tracing::info!(call = %call.name(), %error, "reading back before retrying: the controller may have done it");
                    match confirm().await? {
                        Some(done) => Ok(done),
                        None => Err(error),
                    }
                }
                other => other,
            }
        })
        .await
    }

    /// A v2 form action that only reads; returns its `results`.
    pub async fn query(
        &self,
        action: &str,
        params: &[(&str, &str)],
        budget: &Budget,
    ) -> Result<Value, ControllerError> {
        self.read(Call::Form { action, params }, budget).await
    }

    /// A v2 form action that changes something; see [`ControllerClient::write`] for `confirm`.
    pub async fn action<C, F>(
        &self,
        action: &str,
        params: &[(&str, &str)],
        budget: &Budget,
        confirm: C,
    ) -> Result<Value, ControllerError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Option<Value>, ControllerError>>,
    {
        self.write(Call::Form { action, params }, budget, confirm).await
    }

    /// A v2 JSON action (the feature flags). `read_only` ones are retried freely; others are idempotent
    /// toggles, confirmed by `confirm` before a resend.
    pub async fn json_action<C, F>(
        &self,
        action: &str,
        body: &Value,
        budget: &Budget,
        confirm: C,
    ) -> Result<Value, ControllerError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Option<Value>, ControllerError>>,
    {
        self.write(Call::Json { action, body }, budget, confirm).await
    }

    /// A v2 JSON action that only reads.
    pub async fn json_query(&self, action: &str, body: &Value, budget: &Budget) -> Result<Value, ControllerError> {
        self.read(Call::Json { action, body }, budget).await
    }

    /// `GET /v2.5/api/{path}`.
    pub async fn rest_get(&self, path: &str, budget: &Budget) -> Result<Value, ControllerError> {
        self.read(Call::Rest { method: Method::GET, path, body: None }, budget).await
    }

    /// A v2.5 write (POST, PUT, PATCH, DELETE); see [`ControllerClient::write`] for `confirm`.
    pub async fn rest_write<C, F>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        budget: &Budget,
        confirm: C,
    ) -> Result<Value, ControllerError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Option<Value>, ControllerError>>,
    {
        self.write(Call::Rest { method, path, body }, budget, confirm).await
    }

    /// One onboarded Kubernetes cluster (`GET k8s/clusters/{id}`, by the controller's ID for it): its
    /// `cluster_id` (the EKS ARN, the AKS resource ID, ...) and `status` among the rest.
    pub async fn k8s_cluster(&self, id: &str, budget: &Budget) -> Result<Value, ControllerError> {
        self.rest_get(&format!("k8s/clusters/{id}"), budget).await
    }

    /// Every DCF object the gateway's rule tree is built from, read in one go (five GETs at once, none per
    /// rule): what a verdict evaluates. See [`DcfObjects`].
    pub async fn dcf_objects(&self, budget: &Budget) -> Result<DcfObjects, ControllerError> {
        let (lists, domains, points, v1, default_action) = tokio::try_join!(
            self.rest_get("microseg/policy-list3", budget),
            self.rest_get("app-domains", budget),
            self.rest_get("microseg/attachment-points", budget),
            self.rest_get("microseg/policy-list", budget),
            self.rest_get("microseg/default-action-policy", budget),
        )?;
        Ok(DcfObjects::from_answers(lists, domains, points, v1, default_action))
    }

    /// An async action (reference: `async=true`, then `check_task_status`): starts it, confirming through
    /// `confirm` when the start's fate is unknown, then polls until it ends, logging progress at INFO.
    /// `confirm` answering `Some` means the work is already there (done, or running from an earlier start).
    pub async fn run_task<C, F>(
        &self,
        action: &str,
        params: &[(&str, &str)],
        budget: &Budget,
        confirm: C,
    ) -> Result<TaskResult, ControllerError>
    where
        C: Fn() -> F,
        F: std::future::Future<Output = Result<Option<Value>, ControllerError>>,
    {
        let mut with_async: Vec<(&str, &str)> = params.to_vec();
        with_async.push(("async", "true"));
        let started = self.write(Call::Form { action, params: &with_async }, budget, &confirm).await?;
        let request_id = match &started {
            Value::String(id) => id.clone(),
            Value::Object(o) => match o.get("request_id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                // The read-back's answer: the work exists already.
                None => return Ok(TaskResult { message: "already done".into(), extra: o.clone() }),
            },
            _ => return Ok(TaskResult { message: "already done".into(), extra: Default::default() }),
        };
        let begun = Instant::now();
        let mut last_log = Instant::now();
        loop {
            match self.poll(&request_id, budget).await? {
                Some(result) => return Ok(result),
                None => {
                    if last_log.elapsed() >= Duration::from_secs(5) {
                        tracing::info!(action, request_id = %request_id, waited_s = begun.elapsed().as_secs(), "waiting for the controller's task");
                        last_log = Instant::now();
                    }
                    if !budget.sleep(self.poll_interval).await {
                        return Err(if budget.cancel.is_cancelled() {
                            ControllerError::Cancelled
                        } else {
                            ControllerError::TimedOut {
                                call: action.to_string(),
                                waited: begun.elapsed(),
                                last: format!("task {request_id} still in progress"),
                            }
                        });
                    }
                }
            }
        }
    }

    /// One `check_task_status`: `Some` when the task ended well, `None` while it runs, an error when it failed.
    async fn poll(&self, request_id: &str, budget: &Budget) -> Result<Option<TaskResult>, ControllerError> {
        let cid = self.session(budget).await?;
        let form = [("action", "check_task_status"), ("CID", cid.as_str()), ("request_id", request_id)];
        let reply = match self.http.post(format!("{}/v2/api", self.base)).form(&form).send().await {
            Ok(r) => r,
            // The reference: transport errors while polling are ignored and polling goes on.
            Err(_) => return Ok(None),
        };
        let Ok(body) = reply.json::<Value>().await else {
            // Non-JSON 502/503 answers while polling are ignored too.
            return Ok(None);
        };
        let reason = body["reason"].as_str().unwrap_or("");
        if body["return"] == true {
            let mut extra = body.as_object().cloned().unwrap_or_default();
            for key in ["return", "results", "reason"] {
                extra.remove(key);
            }
            let message = match &body["results"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return Ok(Some(TaskResult { message, extra }));
        }
        if reason.is_empty() || reason == "REQUEST_IN_PROGRESS" {
            return Ok(None);
        }
        if session_expired_reason(reason) {
            self.renew(&cid, budget).await?;
            return Ok(None);
        }
        Err(ControllerError::Rejected { call: format!("task {request_id}"), reason: reason.to_string() })
    }
}

/// The controller's DCF objects as its API returns them: the inputs of the policy crate's
/// `Tree::from_controller`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DcfObjects {
    /// `GET microseg/policy-list3` `policy_lists`: rulesets (`policies`) and policy groups (`sub_policies`).
    pub rulesets: Vec<Value>,
    /// `GET app-domains` `app_domains`: SmartGroups and WebGroups.
    pub app_domains: Vec<Value>,
    /// `GET microseg/attachment-points`: `(name, attachment_point_id)`.
    pub attachment_points: Vec<(String, String)>,
    /// `GET microseg/policy-list` `policies`, system entries (the Greenfield rule) included.
    pub v1_policies: Vec<Value>,
    /// `GET microseg/default-action-policy`: `{action, logging, log_profile}`.
    pub default_action: Value,
}

impl DcfObjects {
    fn from_answers(lists: Value, domains: Value, points: Value, v1: Value, default_action: Value) -> DcfObjects {
        let list = |value: &Value, key: &str| value[key].as_array().cloned().unwrap_or_default();
        let attachment_points = points
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["name"].as_str()?.to_string(), p["attachment_point_id"].as_str()?.to_string())))
            .collect();
        DcfObjects {
            rulesets: list(&lists, "policy_lists"),
            app_domains: list(&domains, "app_domains"),
            attachment_points,
            v1_policies: list(&v1, "policies"),
            default_action,
        }
    }
}

/// The DCF objects and k8s clusters as typed calls: app-domains (SmartGroups and WebGroups), `policy-list3`
/// objects (rulesets and policy groups), attachment points, and one onboarded cluster. Each write whose
/// fate is unknown is read back first, by name for a create and by content for an update.
impl ControllerClient {
    /// Every app-domain (`GET app-domains`).
    pub async fn app_domains(&self, budget: &Budget) -> Result<Vec<Value>, ControllerError> {
        let list = self.rest_get("app-domains", budget).await?;
        Ok(list["app_domains"].as_array().cloned().unwrap_or_default())
    }

    /// Creates an app-domain; returns its UUID. A create whose fate is unknown is looked up by its name.
    pub async fn create_app_domain(&self, body: &Value, budget: &Budget) -> Result<String, ControllerError> {
        let name = body["name"].as_str().unwrap_or_default();
        let confirm = || async {
            match self.rest_get(&format!("app-domains/name/{name}"), budget).await {
                Ok(found) => Ok(Some(found)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        };
        let created = self.rest_write(Method::POST, "app-domains", Some(body), budget, confirm).await?;
        Ok(created["uuid"].as_str().unwrap_or_default().to_string())
    }

    /// Replaces an app-domain's name and selector.
    pub async fn update_app_domain(&self, uuid: &str, body: &Value, budget: &Budget) -> Result<(), ControllerError> {
        let path = format!("app-domains/{uuid}");
        let confirm = || async {
            let now = self.rest_get(&path, budget).await?;
            Ok((now["selector"] == body["selector"] && now["name"] == body["name"]).then_some(Value::Null))
        };
        self.rest_write(Method::PUT, &path, Some(body), budget, confirm).await.map(|_| ())
    }

    /// Deletes an app-domain; one already gone is success.
    pub async fn delete_app_domain(&self, uuid: &str, budget: &Budget) -> Result<(), ControllerError> {
        self.delete_gone(&format!("app-domains/{uuid}"), budget).await
    }

    /// Every `policy-list3` object: rulesets (`policies`) and policy groups (`sub_policies`).
    pub async fn policy_lists(&self, budget: &Budget) -> Result<Vec<Value>, ControllerError> {
        let list = self.rest_get("microseg/policy-list3", budget).await?;
        Ok(list["policy_lists"].as_array().cloned().unwrap_or_default())
    }

    /// One `policy-list3` object.
    pub async fn policy_list(&self, uuid: &str, budget: &Budget) -> Result<Value, ControllerError> {
        self.rest_get(&format!("microseg/policy-list3/{uuid}"), budget).await
    }

    /// Creates a ruleset or policy group; returns its UUID. A create whose fate is unknown is looked up by
    /// its name.
    pub async fn create_policy_list(&self, body: &Value, budget: &Budget) -> Result<String, ControllerError> {
        let confirm = || async {
            let all = self.policy_lists(budget).await?;
            Ok(all.into_iter().find(|l| l["name"] == body["name"]))
        };
        let created = self.rest_write(Method::POST, "microseg/policy-list3", Some(body), budget, confirm).await?;
        Ok(created["uuid"].as_str().unwrap_or_default().to_string())
    }

    /// Replaces a ruleset or policy group. `landed` tells, from the object read back, whether a write whose
    /// fate is unknown was done.
    pub async fn update_policy_list(
        &self,
        uuid: &str,
        body: &Value,
        landed: impl Fn(&Value) -> bool,
        budget: &Budget,
    ) -> Result<(), ControllerError> {
        let path = format!("microseg/policy-list3/{uuid}");
        let confirm = || async {
            let now = self.rest_get(&path, budget).await?;
            Ok(landed(&now).then_some(Value::Null))
        };
        self.rest_write(Method::PUT, &path, Some(body), budget, confirm).await.map(|_| ())
    }

    /// Deletes a ruleset or policy group; one already gone is success.
    pub async fn delete_policy_list(&self, uuid: &str, budget: &Budget) -> Result<(), ControllerError> {
        self.delete_gone(&format!("microseg/policy-list3/{uuid}"), budget).await
    }

    /// The ID of the attachment point named `name` (such as `TERRAFORM_BEFORE_UI_MANAGED`).
    pub async fn attachment_point(&self, name: &str, budget: &Budget) -> Result<String, ControllerError> {
        let points = self.rest_get(&format!("microseg/attachment-points?name={name}"), budget).await?;
        points
            .as_array()
            .and_then(|l| l.iter().find(|p| p["name"] == name))
            .and_then(|p| p["attachment_point_id"].as_str())
            .map(str::to_string)
            .ok_or_else(|| ControllerError::NotFound { what: format!("attachment point {name}") })
    }

    async fn delete_gone(&self, path: &str, budget: &Budget) -> Result<(), ControllerError> {
        let gone = || async {
            match self.rest_get(path, budget).await {
                Err(e) if e.is_not_found() => Ok(Some(Value::Null)),
                Err(e) => Err(e),
                Ok(_) => Ok(None),
            }
        };
        match self.rest_write(Method::DELETE, path, None, budget, gone).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

fn retry_after_header(reply: &reqwest::Response) -> Option<Duration> {
    reply.headers().get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The HTTP-level failures both styles share: 5xx and 429 may pass.
fn http_failure(call: &str, status: StatusCode, after: Option<Duration>, text: &str) -> Option<ControllerError> {
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let snippet: String = text.chars().take(200).collect();
        return Some(ControllerError::Retryable {
            call: call.to_string(),
            detail: format!("HTTP {status}{}", if snippet.is_empty() { String::new() } else { format!(": {snippet}") }),
            after,
        });
    }
    None
}

/// A v2 answer: `{"return": bool, "results": ..., "reason": "..."}`, judged by `return`, not the status.
async fn parse_v2(call: &str, reply: reqwest::Response) -> Result<Value, ControllerError> {
    let status = reply.status();
    let after = retry_after_header(&reply);
    let text = reply
        .text()
        .await
        .map_err(|e| ControllerError::Unanswered { call: call.into(), detail: super::error_text(&e) })?;
    let body: Value = match serde_json::from_str(&text) {
        Ok(body) => body,
        Err(_) => {
            return Err(http_failure(call, status, after, &text).unwrap_or_else(|| ControllerError::Rejected {
                call: call.into(),
                reason: format!("HTTP {status} with an answer that is not JSON"),
            }))
        }
    };
    v2_envelope(call, body)
}

fn v2_envelope(call: &str, body: Value) -> Result<Value, ControllerError> {
    if body["return"] == true {
        return Ok(body.get("results").cloned().unwrap_or(Value::Null));
    }
    let reason = body["reason"].as_str().unwrap_or("no reason given").to_string();
    Err(if session_expired_reason(&reason) {
        ControllerError::SessionExpired { reason }
    } else if not_found_reason(&reason) {
        ControllerError::NotFound { what: format!("{call}: {reason}") }
    } else {
        ControllerError::Rejected { call: call.into(), reason }
    })
}

/// A v2.5 answer: bare JSON on 2xx, `{"message": "..."}` otherwise.
async fn parse_v25(call: &str, reply: reqwest::Response) -> Result<Value, ControllerError> {
    let status = reply.status();
    let after = retry_after_header(&reply);
    let text = reply
        .text()
        .await
        .map_err(|e| ControllerError::Unanswered { call: call.into(), detail: super::error_text(&e) })?;
    v25_answer(call, status, after, &text)
}

fn v25_answer(call: &str, status: StatusCode, after: Option<Duration>, text: &str) -> Result<Value, ControllerError> {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = body["message"].as_str().map(str::to_string).unwrap_or_else(|| text.chars().take(200).collect());
    if status == StatusCode::FORBIDDEN && message.contains("Invalid CID") {
        return Err(ControllerError::SessionExpired { reason: message });
    }
    if status == StatusCode::NOT_FOUND || not_found_reason(&message) {
        return Err(ControllerError::NotFound { what: format!("{call}: {message}") });
    }
    if let Some(e) = http_failure(call, status, after, &message) {
        return Err(e);
    }
    Err(ControllerError::Rejected { call: call.into(), reason: format!("HTTP {status}: {message}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_envelopes_map_to_errors_a_caller_can_act_on() {
        assert_eq!(v2_envelope("x", json!({"return": true, "results": {"a": 1}})).unwrap(), json!({"a": 1}));
        let cases = [
            ("CID is invalid or expired.", "session"),
            ("Invalid session. Please login again.", "session"),
            ("Session 1234 expired", "session"),
            ("Gateway gw-1 does not exist", "not-found"),
            ("App domain not found", "not-found"),
            ("Gateway name gw-1 already exists", "rejected"),
        ];
        for (reason, want) in cases {
            let e = v2_envelope("act", json!({"return": false, "reason": reason})).unwrap_err();
            let got = match e {
                ControllerError::SessionExpired { .. } => "session",
                ControllerError::NotFound { .. } => "not-found",
                ControllerError::Rejected { .. } => "rejected",
                _ => "other",
            };
            assert_eq!(got, want, "{reason}");
        }
    }

    #[test]
    fn v25_answers_use_the_status_and_the_message() {
        let ok = v25_answer("GET x", StatusCode::OK, None, r#"{"uuid":"u1"}"#).unwrap();
        assert_eq!(ok["uuid"], "u1");
        let cid = v25_answer("GET x", StatusCode::FORBIDDEN, None, r#"{"message":"Invalid CID. Please login again."}"#);
        assert!(matches!(cid, Err(ControllerError::SessionExpired { .. })));
        let gone = v25_answer("GET x", StatusCode::NOT_FOUND, None, r#"{"message":"App domain not found"}"#);
        assert!(gone.unwrap_err().is_not_found());
        let busy = v25_answer("GET x", StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(2)), "{}").unwrap_err();
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(2)));
        let bad = v25_answer("PUT x", StatusCode::BAD_REQUEST, None, r#"{"message":"priority must be >= 0"}"#);
        assert_eq!(
            bad.unwrap_err().to_string(),
            "PUT x was refused by the controller: HTTP 400 Bad Request: priority must be >= 0"
        );
    }

    #[test]
    fn dcf_answers_become_the_objects_a_rule_tree_is_built_from() {
        let objects = DcfObjects::from_answers(
            json!({"policy_lists": [{"uuid": "r1", "name": "tier1", "policies": []}]}),
            json!({"app_domains": [{"uuid": "g1", "name": "ns"}]}),
            json!([{"attachment_point_id": "ap-1", "name": "TERRAFORM_BEFORE_UI_MANAGED"}, {"name": "no id"}]),
            json!({"policies": [{"name": "Greenfield-Rule", "system_resource": true}]}),
            json!({"action": "DENY", "logging": true}),
        );
        assert_eq!(objects.rulesets[0]["uuid"], "r1");
        assert_eq!(objects.app_domains[0]["name"], "ns");
        assert_eq!(objects.attachment_points, [("TERRAFORM_BEFORE_UI_MANAGED".to_string(), "ap-1".to_string())]);
        assert_eq!(objects.v1_policies[0]["name"], "Greenfield-Rule");
        assert_eq!(objects.default_action["action"], "DENY");
        let empty = DcfObjects::from_answers(json!({}), json!({}), json!({}), json!({}), Value::Null);
        assert!(empty.rulesets.is_empty() && empty.app_domains.is_empty() && empty.attachment_points.is_empty());
    }

    #[test]
    fn only_transient_failures_are_retried_and_time_outs_say_what_to_do() {
        let busy = ControllerError::Retryable { call: "list".into(), detail: "HTTP 502".into(), after: None };
        assert!(busy.retry_after().is_some() && busy.fate_unknown());
        assert!(ControllerError::Rejected { call: "c".into(), reason: "r".into() }.retry_after().is_none());
        assert!(ControllerError::NotFound { what: "w".into() }.retry_after().is_none());
        let timed_out = busy.out_of_time(Duration::from_secs(30));
        assert!(timed_out.to_string().contains("raise the resource's timeouts"), "{timed_out}");
    }

    #[test]
    fn settings_name_the_missing_attribute_and_the_password_never_shows() {
        let e = ControllerClient::new(&ControllerSettings::default()).unwrap_err();
        assert!(e.to_string().starts_with("controller_url: is not set"), "{e}");
        let settings = ControllerSettings {
            url: Some("https://ctl.example.com".into()),
            username: Some("admin".into()),
            password: Some(Secret::new("hunter2")),
            ca_file: Some("/nonexistent/ca.pem".into()),
            skip_tls_verify: false,
        };
        let e = ControllerClient::new(&settings).unwrap_err();
        assert!(e.to_string().starts_with("ca_file: \"/nonexistent/ca.pem\" cannot be read"), "{e}");
        let client = ControllerClient::new(&ControllerSettings { ca_file: None, ..settings }).unwrap();
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
