//! Azure Resource Manager networking (virtual networks, subnets, route tables, routes) through typed reqwest
//! calls at api-version 2024-03-01, with the client-credentials token and ARM's long-running operations.
//!
//! Why not the `azure_mgmt_network` crate: it never polls DELETE, sleeps 30 s between polls unless the poll
//! itself carries Retry-After, drops the error code of a failed operation, pins an old `azure_core`, and is
//! unmaintained, with no successor yet; our four resource types need about fourteen operations. Owns every
//! URL and body sent to ARM. The token is cached until shortly before it expires; writes that answer
//! 201/202 are followed through `Azure-AsyncOperation` (else `Location`), honouring `Retry-After`, DELETE
//! included. 429, 5xx and 409 `AnotherOperationInProgress` are retried inside the caller's budget; a
//! failed operation reports ARM's own code and message. The client secret travels only in the token
//! request's form body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::retry::{with_retries, Budget, Retryable};
use crate::provider::{AzureSettings, Secret};

/// The Microsoft.Network api-version every call uses.
pub const API_VERSION: &str = "2024-03-01";
/// The token scope: the public ARM audience, whatever endpoint the calls go to.
const SCOPE: &str = "https://management.azure.com/.default";

/// Azure public-cloud locations: the name ARM and our attributes use, and the display name the controller's
/// `vpc_region` takes (learn.microsoft.com, "Azure geographies"; `az account list-locations`).
pub const LOCATIONS: [(&str, &str); 44] = [
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("centralus", "Central US"),
    ("northcentralus", "North Central US"),
    ("southcentralus", "South Central US"),
    ("westcentralus", "West Central US"),
    ("westus", "West US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    ("canadacentral", "Canada Central"),
    ("canadaeast", "Canada East"),
    ("brazilsouth", "Brazil South"),
    ("mexicocentral", "Mexico Central"),
    ("northeurope", "North Europe"),
    ("westeurope", "West Europe"),
    ("uksouth", "UK South"),
    ("ukwest", "UK West"),
    ("francecentral", "France Central"),
    ("germanywestcentral", "Germany West Central"),
    ("italynorth", "Italy North"),
    ("norwayeast", "Norway East"),
    ("polandcentral", "Poland Central"),
    ("spaincentral", "Spain Central"),
    ("swedencentral", "Sweden Central"),
    ("switzerlandnorth", "Switzerland North"),
    ("uaenorth", "UAE North"),
    ("qatarcentral", "Qatar Central"),
    ("israelcentral", "Israel Central"),
    ("southafricanorth", "South Africa North"),
    ("centralindia", "Central India"),
    ("southindia", "South India"),
    ("westindia", "West India"),
    ("eastasia", "East Asia"),
    ("southeastasia", "Southeast Asia"),
    ("japaneast", "Japan East"),
    ("japanwest", "Japan West"),
    ("koreacentral", "Korea Central"),
    ("koreasouth", "Korea South"),
    ("australiaeast", "Australia East"),
    ("australiasoutheast", "Australia Southeast"),
    ("australiacentral", "Australia Central"),
    ("newzealandnorth", "New Zealand North"),
    ("indonesiacentral", "Indonesia Central"),
    ("malaysiawest", "Malaysia West"),
];

/// The display name of a location name (`eastus` gives `East US`).
pub fn location_display_name(location: &str) -> Option<&'static str> {
    LOCATIONS.iter().find(|(name, _)| name.eq_ignore_ascii_case(location)).map(|(_, display)| *display)
}

/// The location name of a display name (`East US` gives `eastus`), ignoring case and spaces.
pub fn location_of_display_name(display: &str) -> Option<&'static str> {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let wanted = squeeze(display);
    LOCATIONS.iter().find(|(name, shown)| squeeze(shown) == wanted || *name == wanted).map(|(name, _)| *name)
}

/// What went wrong talking to ARM.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AzureError {
    #[error("{what} does not exist in Azure")]
    NotFound { what: String },
    /// Throttling, a 5xx, or another operation on the same resource still running.
    #[error("{call}: Azure answered {code} ({message}); trying again may help")]
    Retryable { call: String, code: String, message: String, after: Option<Duration> },
    #[error("{call} was refused by Azure: {code}: {message}")]
    Rejected { call: String, code: String, message: String },
    #[error("{call}: no answer from Azure ({detail})")]
    Unanswered { call: String, detail: String },
    #[error("cannot reach Azure at {url}: {detail}; check azure.resource_manager_endpoint and the network path")]
    Unreachable { url: String, detail: String },
    /// The service principal could not get a token.
    #[error(
        "Azure sign-in failed for client {client_id}: {detail}; check azure.tenant_id, client_id and client_secret"
    )]
    SignIn { client_id: String, detail: String },
    #[error("{call} did not finish within {waited:?}: {last}; raise the resource's timeouts or check Azure")]
    TimedOut { call: String, waited: Duration, last: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{attribute}: {detail}")]
    Settings { attribute: String, detail: String },
}

impl Retryable for AzureError {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            AzureError::Retryable { after, .. } => Some(after.unwrap_or_default()),
            AzureError::Unreachable { .. } | AzureError::Unanswered { .. } => Some(Duration::ZERO),
            _ => None,
        }
    }

    fn out_of_time(self, waited: Duration) -> AzureError {
        let call = match &self {
            AzureError::Retryable { call, .. } | AzureError::Unanswered { call, .. } => call.clone(),
            AzureError::Unreachable { url, .. } => url.clone(),
            _ => return self,
        };
        AzureError::TimedOut { call, waited, last: self.to_string() }
    }

    fn cancelled() -> AzureError {
        AzureError::Cancelled
    }
}

impl AzureError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, AzureError::NotFound { .. })
    }
}

/// An ARM resource ID of the Microsoft.Network types we manage, parsed once.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceId {
    pub subscription: String,
    pub resource_group: String,
    /// `virtualNetworks`, `routeTables`, and so on.
    pub kind: String,
    pub name: String,
    /// A child such as `subnets/{name}` or `routes/{name}`.
    pub child: Option<(String, String)>,
}

impl ResourceId {
    /// Parses `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{kind}/{name}[/{child}/{name}]`.
    pub fn parse(text: &str) -> Result<ResourceId, String> {
        let accepted = "an ARM ID such as /subscriptions/<subscription>/resourceGroups/<group>/providers/\
                        Microsoft.Network/routeTables/<name>";
        let parts: Vec<&str> = text.trim_matches('/').split('/').collect();
        let ok = matches!(parts.len(), 8 | 10)
            && parts[0].eq_ignore_ascii_case("subscriptions")
            && parts[2].eq_ignore_ascii_case("resourceGroups")
            && parts[4].eq_ignore_ascii_case("providers")
            && parts[5].eq_ignore_ascii_case("Microsoft.Network")
            && parts.iter().all(|p| !p.is_empty());
        if !text.starts_with('/') || !ok {
            return Err(format!("{text:?} is not {accepted}"));
        }
        Ok(ResourceId {
            subscription: parts[1].to_string(),
            resource_group: parts[3].to_string(),
            kind: parts[6].to_string(),
            name: parts[7].to_string(),
            child: (parts.len() == 10).then(|| (parts[8].to_string(), parts[9].to_string())),
        })
    }

    /// A child of this resource, such as a route of a route table.
    pub fn child(&self, kind: &str, name: &str) -> ResourceId {
        ResourceId { child: Some((kind.to_string(), name.to_string())), ..self.clone() }
    }

    /// The parent of a child resource (the route table of a route); itself otherwise.
    pub fn parent(&self) -> ResourceId {
        ResourceId { child: None, ..self.clone() }
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/{}/{}",
            self.subscription, self.resource_group, self.kind, self.name
        )?;
        if let Some((kind, name)) = &self.child {
            write!(f, "/{kind}/{name}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for ResourceId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ResourceId::parse(&s)
    }
}

impl From<ResourceId> for String {
    fn from(id: ResourceId) -> String {
        id.to_string()
    }
}

/// A reference to another resource by ID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdRef {
    pub id: String,
}

/// A route (`Microsoft.Network/routeTables/routes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    #[serde(default, skip_serializing)]
    pub name: Option<String>,
    pub properties: RouteProperties,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteProperties {
    pub address_prefix: String,
    /// `VirtualNetworkGateway`, `VnetLocal`, `Internet`, `VirtualAppliance` or `None`.
    pub next_hop_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_ip_address: Option<String>,
    #[serde(default, skip_serializing)]
    pub provisioning_state: Option<String>,
}

/// A route table, with its routes and the subnets it is associated with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteTable {
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    #[serde(default, skip_serializing)]
    pub name: Option<String>,
    pub location: String,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub properties: RouteTableProperties,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTableProperties {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing)]
    pub subnets: Vec<IdRef>,
    #[serde(default, skip_serializing)]
    pub provisioning_state: Option<String>,
}

/// A subnet: its prefix and the route table associated with it. Unknown properties are kept, since a PUT
/// replaces the whole subnet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    #[serde(default, skip_serializing)]
    pub name: Option<String>,
    pub properties: serde_json::Map<String, Value>,
}

impl Subnet {
    pub fn address_prefix(&self) -> Option<&str> {
        self.properties.get("addressPrefix").and_then(Value::as_str)
    }

    pub fn route_table_id(&self) -> Option<&str> {
        self.properties.get("routeTable").and_then(|r| r["id"].as_str())
    }
}

/// A virtual network: what the controller's `vpc_id` form needs (name, group, resourceGuid) and its subnets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct VirtualNetwork {
    pub id: String,
    pub name: String,
    pub location: String,
    pub properties: VirtualNetworkProperties,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkProperties {
    #[serde(default)]
    pub resource_guid: Option<String>,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
}

/// ARM's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

struct Token {
    value: Secret,
    refresh_at: Instant,
}

/// A client for one subscription's network resources; cheap to clone.
#[derive(Clone)]
pub struct AzureClient {
    http: reqwest::Client,
    endpoint: String,
    authority: String,
    tenant_id: String,
    client_id: String,
    client_secret: Secret,
    pub subscription_id: String,
    token: Arc<Mutex<Option<Token>>>,
    /// The wait between polls when ARM names none.
    pub default_poll: Duration,
}

impl std::fmt::Debug for AzureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureClient").field("endpoint", &self.endpoint).field("client_id", &self.client_id).finish()
    }
}

fn settings_error(attribute: &str, detail: impl Into<String>) -> AzureError {
    AzureError::Settings { attribute: attribute.to_string(), detail: detail.into() }
}

fn required(value: &Option<String>, attribute: &str, env: &str) -> Result<String, AzureError> {
    value
        .clone()
        .ok_or_else(|| settings_error(attribute, format!("is not set; set it in the provider's azure block or {env}")))
}

impl AzureClient {
    /// Builds a client from the provider's azure settings; nothing is contacted yet.
    pub fn new(settings: &AzureSettings) -> Result<AzureClient, AzureError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("terraform-provider-aviatrix/", env!("CARGO_PKG_VERSION"), " (mcp-egress)"));
        if let Some(ca_file) = &settings.ca_file {
            builder = super::with_ca_file(builder, ca_file).map_err(|e| settings_error("azure.ca_file", e))?;
        }
        let secret = settings.client_secret.clone().ok_or_else(|| {
            settings_error(
                "azure.client_secret",
                "is not set; set it in the provider's azure block or ARM_CLIENT_SECRET",
            )
        })?;
        Ok(AzureClient {
            http: builder.build().map_err(|e| settings_error("azure", format!("no HTTP client: {e}")))?,
            endpoint: settings
                .resource_manager_endpoint
                .clone()
                .unwrap_or_else(|| "https://management.azure.com".into())
                .trim_end_matches('/')
                .to_string(),
            authority: settings
                .authority_host
                .clone()
                .unwrap_or_else(|| "https://login.microsoftonline.com".into())
                .trim_end_matches('/')
                .to_string(),
            tenant_id: required(&settings.tenant_id, "azure.tenant_id", "ARM_TENANT_ID")?,
            client_id: required(&settings.client_id, "azure.client_id", "ARM_CLIENT_ID")?,
            client_secret: secret,
            subscription_id: required(&settings.subscription_id, "azure.subscription_id", "ARM_SUBSCRIPTION_ID")?,
            token: Arc::new(Mutex::new(None)),
            default_poll: Duration::from_secs(5),
        })
    }

    fn transport(&self, call: &str, e: reqwest::Error) -> AzureError {
        if e.is_connect() {
            AzureError::Unreachable { url: self.endpoint.clone(), detail: super::error_text(&e) }
        } else {
            AzureError::Unanswered { call: call.to_string(), detail: super::error_text(&e) }
        }
    }

    /// A bearer token, from the cache while it has more than five minutes left.
    async fn token(&self) -> Result<String, AzureError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.value.expose().to_string());
        }
        let url = format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id);
        let reply = self
            .http
            .post(url)
            .header("accept", "application/json")
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", SCOPE),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose()),
            ])
            .send()
            .await
            .map_err(|e| self.transport("token request", e))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        let Some(token) = body["access_token"].as_str().filter(|_| status.is_success()) else {
            let detail = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(AzureError::Retryable {
                    call: "token request".into(),
                    code: status.to_string(),
                    message: detail,
                    after: None,
                });
            }
            return Err(AzureError::SignIn { client_id: self.client_id.clone(), detail });
        };
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3599));
        let refresh_at = Instant::now() + lifetime.saturating_sub(Duration::from_secs(300)).max(lifetime / 2);
        *cached = Some(Token { value: Secret::new(token), refresh_at });
        Ok(token.to_string())
    }

    fn url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={API_VERSION}", self.endpoint)
    }

    /// One request; the answer's status, headers and JSON body (Null when empty). A token ARM refuses (401)
    /// is dropped and the request sent again with a fresh one.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        budget: &Budget,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), AzureError> {
        // A few renewals, for tokens ARM drops early; a token refused every time is a real refusal.
        for _ in 0..3 {
            match self.send_once(method.clone(), url, body, budget).await {
                Err(AzureError::Rejected { code, .. }) if code.ends_with("AuthenticationToken") => {
                    *self.token.lock().await = None;
                }
                other => return other,
            }
        }
        self.send_once(method, url, body, budget).await
    }

    async fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        budget: &Budget,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Value), AzureError> {
        let call = format!("{method} {}", url.split('?').next().unwrap_or(url).trim_start_matches(&self.endpoint));
        let token = self.token().await?;
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .timeout(budget.remaining().clamp(Duration::from_secs(1), Duration::from_secs(120)));
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = request.send().await.map_err(|e| self.transport(&call, e))?;
        let status = reply.status();
        let headers = reply.headers().clone();
        let text = reply.text().await.map_err(|e| self.transport(&call, e))?;
        let json: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        if status.is_success() {
            return Ok((status, headers, json));
        }
        Err(classify(&call, status, retry_after(&headers), &json, &text))
    }

    /// `GET` of a resource, typed; retried while a retry may help.
    pub async fn get<T: DeserializeOwned>(&self, id: &ResourceId, budget: &Budget) -> Result<T, AzureError> {
        let url = self.url(&id.to_string());
        let (_, _, body) =
            with_retries(budget, &format!("GET {id}"), || self.send(Method::GET, &url, None, budget)).await?;
        serde_json::from_value(body).map_err(|e| AzureError::Rejected {
            call: format!("GET {id}"),
            code: "UnexpectedBody".into(),
            message: e.to_string(),
        })
    }

    /// `PUT` (create or full replace), followed to its end when long-running; returns the resource as ARM
    /// has it afterwards. A PUT is idempotent, so a retry after an unknown fate is safe.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        id: &ResourceId,
        body: &B,
        budget: &Budget,
    ) -> Result<T, AzureError> {
        let url = self.url(&id.to_string());
        let body = serde_json::to_value(body).expect("request bodies encode");
        let call = format!("PUT {id}");
        // The whole write is retried, its operation included: an operation that failed because another one
        // ran on the same resource may pass the next time.
        with_retries(budget, &call, || async {
            let (status, headers, _) = self.send(Method::PUT, &url, Some(&body), budget).await?;
            if status == StatusCode::CREATED || status == StatusCode::ACCEPTED {
                self.follow(&call, &headers, budget).await?;
            }
            Ok(())
        })
        .await?;
        self.get(id, budget).await
    }

    /// `DELETE`, followed to its end when long-running; an object already gone is success.
    pub async fn delete(&self, id: &ResourceId, budget: &Budget) -> Result<(), AzureError> {
        let url = self.url(&id.to_string());
        let call = format!("DELETE {id}");
        let answer: Result<(), AzureError> = with_retries(budget, &call, || async {
            let (status, headers, _) = self.send(Method::DELETE, &url, None, budget).await?;
            if status == StatusCode::ACCEPTED {
                self.follow(&call, &headers, budget).await?;
            }
            Ok(())
        })
        .await;
        match answer {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// Follows a long-running operation: `Azure-AsyncOperation` (status body) if given, else `Location`
    /// (202 until done). Waits what `Retry-After` says, else [`AzureClient::default_poll`].
    async fn follow(
        &self,
        call: &str,
        headers: &reqwest::header::HeaderMap,
        budget: &Budget,
    ) -> Result<(), AzureError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (url, status_body) = match (header("azure-asyncoperation"), header("location")) {
            (Some(url), _) => (url, true),
            (None, Some(url)) => (url, false),
            (None, None) => return Ok(()),
        };
        let mut wait = retry_after(headers).unwrap_or(self.default_poll);
        let begun = Instant::now();
        let mut last_log = Instant::now();
        loop {
            if !budget.sleep(wait).await {
                return Err(if budget.cancel.is_cancelled() {
                    AzureError::Cancelled
                } else {
                    AzureError::TimedOut {
                        call: call.to_string(),
                        waited: begun.elapsed(),
                        last: "the operation is still in progress".into(),
                    }
                });
            }
            let (status, poll_headers, body) =
                with_retries(budget, call, || self.send(Method::GET, &url, None, budget)).await?;
            wait = retry_after(&poll_headers).unwrap_or(self.default_poll);
            let done = if status_body {
                match body["status"].as_str().unwrap_or("InProgress") {
                    "Succeeded" => true,
                    "Failed" | "Canceled" => {
                        let code = body["error"]["code"].as_str().unwrap_or("OperationFailed").to_string();
                        let message = body["error"]["message"].as_str().unwrap_or("no message").to_string();
                        return Err(if code == "AnotherOperationInProgress" {
                            AzureError::Retryable { call: call.to_string(), code, message, after: None }
                        } else {
                            AzureError::Rejected { call: call.to_string(), code, message }
                        });
                    }
                    _ => false,
                }
            } else {
                status != StatusCode::ACCEPTED
            };
            if done {
                return Ok(());
            }
            if last_log.elapsed() >= Duration::from_secs(5) {
                tracing::info!(
                    call,
                    waited_s = begun.elapsed().as_secs(),
                    "waiting for Azure's long-running operation"
                );
                last_log = Instant::now();
            }
        }
    }

    /// The route table.
    pub async fn route_table(&self, id: &ResourceId, budget: &Budget) -> Result<RouteTable, AzureError> {
        self.get(id, budget).await
    }

    /// Replaces a resource's tags (`PATCH` of `tags`, which ARM answers at once).
    pub async fn set_tags(
        &self,
        id: &ResourceId,
        tags: &std::collections::BTreeMap<String, String>,
        budget: &Budget,
    ) -> Result<(), AzureError> {
        let url = self.url(&id.to_string());
        let body = serde_json::json!({ "tags": tags });
        with_retries(budget, &format!("PATCH {id}"), || self.send(Method::PATCH, &url, Some(&body), budget)).await?;
        Ok(())
    }

    /// Creates or replaces one route of a table.
    pub async fn put_route(
        &self,
        table: &ResourceId,
        name: &str,
        route: &RouteProperties,
        budget: &Budget,
    ) -> Result<Route, AzureError> {
        let body = serde_json::json!({ "properties": route });
        self.put(&table.child("routes", name), &body, budget).await
    }

    /// Deletes one route of a table.
    pub async fn delete_route(&self, table: &ResourceId, name: &str, budget: &Budget) -> Result<(), AzureError> {
        self.delete(&table.child("routes", name), budget).await
    }

    /// The virtual network.
    pub async fn virtual_network(&self, id: &ResourceId, budget: &Budget) -> Result<VirtualNetwork, AzureError> {
        self.get(id, budget).await
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get("retry-after")?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An ARM failure as an error a caller can act on.
fn classify(call: &str, status: StatusCode, after: Option<Duration>, body: &Value, text: &str) -> AzureError {
    let (code, message) = match serde_json::from_value::<ErrorBody>(body.clone()) {
        Ok(e) => (e.error.code, e.error.message),
        Err(_) => (status.to_string(), text.chars().take(200).collect()),
    };
    let transient = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status == StatusCode::CONFLICT && code == "AnotherOperationInProgress");
    if status == StatusCode::NOT_FOUND {
        AzureError::NotFound { what: format!("{call}: {code}: {message}") }
    } else if transient {
        AzureError::Retryable { call: call.to_string(), code, message, after }
    } else {
        AzureError::Rejected { call: call.to_string(), code, message }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn resource_ids_parse_round_trip_and_name_what_is_accepted() {
        let text = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/routeTables/nodes";
        let id = ResourceId::parse(text).unwrap();
        assert_eq!((id.kind.as_str(), id.name.as_str()), ("routeTables", "nodes"));
        assert_eq!(id.to_string(), text);
        let route = id.child("routes", "default");
        assert_eq!(route.to_string(), format!("{text}/routes/default"));
        assert_eq!(route.parent(), id);
        assert_eq!(ResourceId::parse(&route.to_string()).unwrap(), route);
        for bad in [
            "rt-1",
            "/subscriptions/s1/resourceGroups/rg",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm",
        ] {
            let e = ResourceId::parse(bad).unwrap_err();
            assert!(e.contains("is not an ARM ID such as"), "{e}");
        }
    }

    #[test]
    fn failures_keep_arm_codes_and_only_transient_ones_retry() {
        let body = |code: &str| json!({"error": {"code": code, "message": "m"}});
        let nf = classify("GET x", StatusCode::NOT_FOUND, None, &body("ResourceNotFound"), "");
        assert!(nf.is_not_found());
        let busy = classify("PUT x", StatusCode::CONFLICT, None, &body("AnotherOperationInProgress"), "");
        assert!(busy.retry_after().is_some());
        let throttled = classify(
            "PUT x",
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            &body("TooManyRequests"),
            "",
        );
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(3)));
        let refused = classify("DELETE x", StatusCode::BAD_REQUEST, None, &body("InUseRouteTableCannotBeDeleted"), "");
        assert_eq!(refused.to_string(), "DELETE x was refused by Azure: InUseRouteTableCannotBeDeleted: m");
        assert!(refused.retry_after().is_none());
    }

    #[test]
    fn route_bodies_have_arm_field_names() {
        let route = RouteProperties {
            address_prefix: "0.0.0.0/0".into(),
            next_hop_type: "VirtualAppliance".into(),
            next_hop_ip_address: Some("10.20.0.4".into()),
            provisioning_state: Some("Succeeded".into()),
        };
        assert_eq!(
            serde_json::to_value(&route).unwrap(),
            json!({"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.20.0.4"})
        );
    }
}
