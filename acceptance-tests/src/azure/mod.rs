//! The Azure Resource Manager network emulator: virtual networks, subnets (with route-table association),
//! route tables and routes under `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network`, the
//! client-credentials token endpoint with the OpenID configuration before it, and the gateways' network
//! interfaces and VMs (read-only), following ARM's REST conventions (docs/cloud-apis.md).
//!
//! Owns ARM semantics: bearer-token checks (401), api-version checks, PUT as full replace (201 create, 200
//! update), PATCH of tags, DELETE 200/204 (202 when long-running), long-running operations with
//! `Azure-AsyncOperation`/`Location`/`Retry-After`, ARM's error bodies and codes, and case-insensitive names.
//! It must not know about the controller: gateways' NICs come in through [`AzureHost`], the controller's
//! view of this cloud.

mod host;
mod ops;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use host::AzureHost;

use crate::emulator::{BoxFuture, Emulator};
use crate::fault::{FaultKind, Faults};
use crate::inventory::Object;
use crate::store::StateFile;

/// Microsoft.Network api-versions the emulator serves: the stable ones from 2018-10-01 (what
/// azure_mgmt_network uses for VMSS calls) to 2026-03-01 (the default of the Python SDK's azure-mgmt-network
/// 33.1.0, which also uses 2025-07-01 and 2026-01-01), including 2024-03-01 (azure_mgmt_network 0.21) and
/// 2025-01-01 (azurerm).
pub const NETWORK_API_VERSIONS: [&str; 31] = [
    "2018-10-01",
    "2019-02-01",
    "2019-09-01",
    "2020-05-01",
    "2020-11-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-08-01",
    "2022-01-01",
    "2022-05-01",
    "2022-07-01",
    "2022-09-01",
    "2022-11-01",
    "2023-02-01",
    "2023-04-01",
    "2023-05-01",
    "2023-06-01",
    "2023-09-01",
    "2023-11-01",
    "2024-01-01",
    "2024-03-01",
    "2024-05-01",
    "2024-07-01",
    "2024-10-01",
    "2025-01-01",
    "2025-05-01",
    "2025-07-01",
    "2025-09-01",
    "2026-01-01",
    "2026-03-01",
];

/// Azure regions: name and display name (the controller takes the display name, reference §2.2).
pub const REGIONS: [(&str, &str); 10] = [
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("westus", "West US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    ("centralus", "Central US"),
    ("southcentralus", "South Central US"),
    ("northeurope", "North Europe"),
    ("westeurope", "West Europe"),
    ("uksouth", "UK South"),
];

/// The baseline VNet's gateway subnet.
pub const GATEWAY_SUBNET_CIDR: &str = "10.20.0.0/24";

/// Settings and identities of the Azure emulator.
#[derive(Clone, Debug)]
pub struct AzureConfig {
    pub tenant_id: String,
    pub subscription_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub resource_group: String,
    pub location: String,
    pub vnet_name: String,
}

/// What ARM holds. Resources are keyed by their lower-cased ARM ID and stored as ARM returns them, without
/// the properties computed from other resources (a table's `routes` and `subnets`, a VNet's `subnets`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AzureState {
    pub resources: BTreeMap<String, Value>,
    /// Issued bearer tokens and their expiry (seconds since the epoch); kept so tokens outlive a restart,
    /// as real (self-contained) tokens do.
    pub tokens: BTreeMap<String, u64>,
}

/// The ARM emulator.
pub struct Azure {
    pub config: AzureConfig,
    state: Mutex<AzureState>,
    store: StateFile,
    ops: Mutex<ops::Operations>,
    faults: Faults,
    url: Mutex<String>,
    ca_file: String,
}

const AZURE_FAULTS: &[FaultKind] = &[
    FaultKind::ServerError,
    FaultKind::Slow,
    FaultKind::ExpiredSession,
    FaultKind::TaskFailed,
    FaultKind::TaskStuck,
    FaultKind::SlowTask,
    FaultKind::Conflict,
    FaultKind::Throttle,
];

/// An ARM error: status, code and message, as `{"error":{"code","message","details":[]}}`.
#[derive(Debug, Clone)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ArmError {
        ArmError { status, code: code.to_string(), message: message.into() }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ArmError {
        ArmError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message, "details": []}})
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Ok(code) = HeaderValue::from_str(&self.code) {
            response.headers_mut().insert("x-ms-error-code", code);
        }
        response
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}

fn new_etag() -> String {
    format!("W/\"{}\"", uuid::Uuid::new_v4())
}

impl Azure {
    /// Loads the saved state, or seeds the baseline on a fresh lab.
    pub fn open(dir: &std::path::Path, config: AzureConfig) -> anyhow::Result<Arc<Azure>> {
        let store = StateFile::new(dir, "azure");
        let fresh = store.load::<AzureState>()?.is_none();
        let state = store.load::<AzureState>()?.unwrap_or_default();
        let azure = Arc::new(Azure {
            config,
            state: Mutex::new(state),
            store,
            ops: Mutex::new(ops::Operations::default()),
            faults: Faults::new(AZURE_FAULTS),
            url: Mutex::new(String::new()),
            ca_file: dir.join("ca.pem").display().to_string(),
        });
        if fresh {
            azure.seed_baseline().map_err(|e| anyhow::anyhow!("seeding the Azure baseline: {}", e.message))?;
        }
        azure.persist();
        Ok(azure)
    }

    pub fn set_url(&self, url: String) {
        *self.url.lock().unwrap() = url;
    }

    pub fn url(&self) -> String {
        self.url.lock().unwrap().clone()
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().fallback(entry).with_state(self.clone())
    }

    fn persist(&self) {
        let state = self.state.lock().unwrap().clone();
        if let Err(e) = self.store.save(&state) {
            crate::http::log("azure", format!("saving state failed: {e:#}"));
        }
    }

    pub(crate) fn mutate<T>(&self, change: impl FnOnce(&mut AzureState) -> T) -> T {
        let out = change(&mut self.state.lock().unwrap());
        self.persist();
        out
    }

    pub(crate) fn read<T>(&self, look: impl FnOnce(&AzureState) -> T) -> T {
        look(&self.state.lock().unwrap())
    }

    /// The ARM ID prefix of a resource group.
    pub fn group_id(&self, group: &str) -> String {
        format!("/subscriptions/{}/resourceGroups/{group}", self.config.subscription_id)
    }

    /// The ARM ID of a Microsoft.Network resource in the baseline's resource group.
    pub fn network_id(&self, group: &str, path: &str) -> String {
        format!("{}/providers/Microsoft.Network/{path}", self.group_id(group))
    }

    /// The baseline: a resource group, a VNet with a gateway subnet and two node subnets, and a route table
    /// whose default route goes to the Internet, associated with the node subnets.
    fn seed_baseline(&self) -> Result<(), ArmError> {
        let c = self.config.clone();
        let mut state = AzureState::default();
        let group_id = self.group_id(&c.resource_group);
        state.resources.insert(
            group_id.to_lowercase(),
            json!({"id": group_id, "name": c.resource_group, "type": "Microsoft.Resources/resourceGroups",
                   "location": c.location, "properties": {"provisioningState": "Succeeded"}}),
        );
        let rt_id = self.network_id(&c.resource_group, "routeTables/lab-nodes-rt");
        let vnet_id = self.network_id(&c.resource_group, &format!("virtualNetworks/{}", c.vnet_name));
        let resources = [
            (
                vnet_id.clone(),
                json!({"name": c.vnet_name, "type": "Microsoft.Network/virtualNetworks", "location": c.location, "tags": {},
                       "properties": {"addressSpace": {"addressPrefixes": ["10.20.0.0/16"]}, "resourceGuid": uuid::Uuid::new_v4().to_string(),
                                      "enableDdosProtection": false}}),
            ),
            (
                rt_id.clone(),
                json!({"name": "lab-nodes-rt", "type": "Microsoft.Network/routeTables", "location": c.location, "tags": {},
                       "properties": {"disableBgpRoutePropagation": false, "resourceGuid": uuid::Uuid::new_v4().to_string()}}),
            ),
            (
                format!("{rt_id}/routes/default-internet"),
                json!({"name": "default-internet", "type": "Microsoft.Network/routeTables/routes",
                       "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet", "hasBgpOverride": false}}),
            ),
            (
                format!("{vnet_id}/subnets/gateway"),
                json!({"name": "gateway", "type": "Microsoft.Network/virtualNetworks/subnets",
                       "properties": {"addressPrefix": GATEWAY_SUBNET_CIDR}}),
            ),
            (
                format!("{vnet_id}/subnets/nodes-a"),
                json!({"name": "nodes-a", "type": "Microsoft.Network/virtualNetworks/subnets",
                       "properties": {"addressPrefix": "10.20.1.0/24", "routeTable": {"id": rt_id}}}),
            ),
            (
                format!("{vnet_id}/subnets/nodes-b"),
                json!({"name": "nodes-b", "type": "Microsoft.Network/virtualNetworks/subnets",
                       "properties": {"addressPrefix": "10.20.2.0/24", "routeTable": {"id": rt_id}}}),
            ),
        ];
        for (id, mut resource) in resources {
            resource["id"] = Value::String(id.clone());
            resource["etag"] = Value::String(new_etag());
            resource["properties"]["provisioningState"] = Value::String("Succeeded".into());
            state.resources.insert(id.to_lowercase(), resource);
        }
        *self.state.lock().unwrap() = state;
        Ok(())
    }

    /// The ARM ID of the baseline's VNet.
    pub fn vnet_id(&self) -> String {
        self.network_id(&self.config.resource_group, &format!("virtualNetworks/{}", self.config.vnet_name))
    }

    /// The resource ID of the lab's AKS cluster, backed by the lab's Kubernetes API: what `cluster_id` is for
    /// AKS at onboarding (reference §4.2).
    pub fn aks_cluster_id(&self) -> String {
        format!(
            "{}/providers/Microsoft.ContainerService/managedClusters/lab-aks",
            self.group_id(&self.config.resource_group)
        )
    }

    /// The baseline's node route table IDs.
    pub fn node_route_table_ids(&self) -> Vec<String> {
        vec![self.network_id(&self.config.resource_group, "routeTables/lab-nodes-rt")]
    }

    /// A resource as GET returns it: stored fields plus the ones computed from its children and referrers.
    pub(crate) fn render(&self, state: &AzureState, id_key: &str) -> Option<Value> {
        let mut resource = state.resources.get(id_key)?.clone();
        let kind = resource.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let children = |suffix: &str| -> Vec<Value> {
            let prefix = format!("{id_key}/{suffix}/");
            state
                .resources
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(k, _)| !k[prefix.len()..].contains('/'))
                .filter_map(|(k, _)| self.render(state, k))
                .collect()
        };
        match kind.as_str() {
            "Microsoft.Network/routeTables" => {
                resource["properties"]["routes"] = Value::Array(children("routes"));
                let subnets: Vec<Value> = state
                    .resources
                    .values()
                    .filter(|r| {
                        r.get("type").and_then(Value::as_str) == Some("Microsoft.Network/virtualNetworks/subnets")
                    })
                    .filter(|r| {
                        r.pointer("/properties/routeTable/id")
                            .and_then(Value::as_str)
                            .is_some_and(|rt| rt.to_lowercase() == id_key)
                    })
                    .map(|r| json!({"id": r["id"]}))
                    .collect();
                if !subnets.is_empty() {
                    resource["properties"]["subnets"] = Value::Array(subnets);
                }
            }
            "Microsoft.Network/virtualNetworks" => {
                resource["properties"]["subnets"] = Value::Array(children("subnets"));
            }
            "Microsoft.Network/virtualNetworks/subnets" => {
                let configs: Vec<Value> = state
                    .resources
                    .values()
                    .filter(|r| r.get("type").and_then(Value::as_str) == Some("Microsoft.Network/networkInterfaces"))
                    .filter(|nic| {
                        nic.pointer("/properties/ipConfigurations/0/properties/subnet/id")
                            .and_then(Value::as_str)
                            .is_some_and(|s| s.to_lowercase() == id_key)
                    })
                    .filter_map(|nic| nic.pointer("/properties/ipConfigurations/0/id").cloned())
                    .map(|id| json!({"id": id}))
                    .collect();
                if !configs.is_empty() {
                    resource["properties"]["ipConfigurations"] = Value::Array(configs);
                }
            }
            _ => {}
        }
        if let Some(state_name) = self.ops.lock().unwrap().pending_state(id_key) {
            resource["properties"]["provisioningState"] = Value::String(state_name.into());
        }
        Some(resource)
    }

    fn inventory_objects(&self) -> Vec<Object> {
        let state = self.state.lock().unwrap().clone();
        let mut out = Vec::new();
        for resource in state.resources.values() {
            let kind = match resource.get("type").and_then(Value::as_str).unwrap_or("") {
                "Microsoft.Resources/resourceGroups" => "resource_group",
                "Microsoft.Network/virtualNetworks" => "virtual_network",
                "Microsoft.Network/virtualNetworks/subnets" => "subnet",
                "Microsoft.Network/routeTables" => "route_table",
                "Microsoft.Network/routeTables/routes" => "route",
                "Microsoft.Network/networkInterfaces" => "network_interface",
                "Microsoft.Compute/virtualMachines" => "virtual_machine",
                _ => "other",
            };
            let mut data = resource.clone();
            if let Value::Object(map) = &mut data {
                map.remove("etag");
                if let Some(Value::Object(props)) = map.get_mut("properties") {
                    props.remove("provisioningState");
                }
            }
            let id = resource.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            out.push(Object::new("azure", kind, id, data));
        }
        out
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), ArmError> {
        let unauthorized = |code: &str, message: String| ArmError::new(StatusCode::UNAUTHORIZED, code, message);
        let Some(header) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.".into(),
            ));
        };
        let Some(token) = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")) else {
            return Err(unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.".into(),
            ));
        };
        let expiry = self.read(|s| s.tokens.get(token).copied());
        let now = now_secs();
        match expiry {
            None => Err(unauthorized("InvalidAuthenticationToken", "The access token is invalid.".into())),
            Some(expires) if expires <= now || self.faults.fires(FaultKind::ExpiredSession).is_some() => {
                Err(unauthorized(
                    "ExpiredAuthenticationToken",
                    format!(
                        "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                        expires.min(now),
                        now
                    ),
                ))
            }
            Some(_) => Ok(()),
        }
    }

    /// The tenant's OpenID Connect metadata, with every endpoint on the lab's authority host (the shape of
    /// Microsoft Entra ID's `/{tenant}/v2.0/.well-known/openid-configuration`). An unknown tenant is 400
    /// `invalid_tenant`, as Entra ID answers.
    fn openid_configuration(&self, tenant: &str) -> Response {
        if !tenant.eq_ignore_ascii_case(&self.config.tenant_id) {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_tenant",
                                  "error_description": format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.")})),
            )
                .into_response();
        }
        let base = format!("{}/{}", self.url(), self.config.tenant_id);
        axum::Json(json!({
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{base}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{}/oidc/userinfo", self.url()),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
        }))
        .into_response()
    }

    /// `POST {authority}/{tenant}/oauth2/v2.0/token` with the client-credentials grant (reference §2.1).
    fn token(&self, tenant: &str, body: &[u8]) -> Response {
        let aad_error = |status: StatusCode, error: &str, description: String| {
            (status, axum::Json(json!({"error": error, "error_description": description, "error_codes": []})))
                .into_response()
        };
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("");
        if !tenant.eq_ignore_ascii_case(&self.config.tenant_id) {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."),
            );
        }
        if get("grant_type") != "client_credentials" {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type; this endpoint serves client_credentials."
                    .into(),
            );
        }
        if get("client_id") != self.config.client_id {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                format!(
                    "AADSTS700016: Application with identifier '{}' was not found in the directory.",
                    get("client_id")
                ),
            );
        }
        if get("client_secret") != self.config.client_secret {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.".into(),
            );
        }
        let scope = get("scope");
        if scope != "https://management.azure.com/.default" && scope != "https://management.core.windows.net//.default"
        {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                format!("AADSTS500011: The resource principal named {scope} was not found in the tenant. Use the scope https://management.azure.com/.default."),
            );
        }
        let token = crate::controller::random_token(64);
        let expires_in = 3599;
        self.mutate(|s| {
            let now = now_secs();
            s.tokens.retain(|_, expiry| *expiry > now);
            s.tokens.insert(token.clone(), now + expires_in);
        });
        axum::Json(json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}))
            .into_response()
    }
}

impl Emulator for Azure {
    fn target(&self) -> &'static str {
        "azure"
    }

    fn faults(&self) -> &Faults {
        &self.faults
    }

    fn inventory(&self) -> BoxFuture<'_, anyhow::Result<Vec<Object>>> {
        Box::pin(async move { Ok(self.inventory_objects()) })
    }

    fn env(&self) -> Vec<(String, String)> {
        let url = self.url();
        let c = &self.config;
        let display = REGIONS.iter().find(|(n, _)| *n == c.location).map(|(_, d)| *d).unwrap_or(&c.location);
        vec![
            ("AZURE_RESOURCE_MANAGER_ENDPOINT".into(), url.clone()),
            ("AZURE_AUTHORITY_HOST".into(), url),
            ("ARM_TENANT_ID".into(), c.tenant_id.clone()),
            ("ARM_SUBSCRIPTION_ID".into(), c.subscription_id.clone()),
            ("ARM_CLIENT_ID".into(), c.client_id.clone()),
            ("ARM_CLIENT_SECRET".into(), c.client_secret.clone()),
            ("AZURE_CA_FILE".into(), self.ca_file.clone()),
            ("LAB_AZURE_RESOURCE_GROUP".into(), c.resource_group.clone()),
            ("LAB_AZURE_VNET_NAME".into(), c.vnet_name.clone()),
            ("LAB_AZURE_REGION".into(), display.to_string()),
            ("LAB_AZURE_LOCATION".into(), c.location.clone()),
            ("LAB_AZURE_GATEWAY_SUBNET_CIDR".into(), GATEWAY_SUBNET_CIDR.into()),
            ("LAB_AZURE_NODE_ROUTE_TABLE_IDS".into(), self.node_route_table_ids().join(",")),
            ("LAB_AKS_CLUSTER_ID".into(), self.aks_cluster_id()),
            ("TF_VAR_azure_location".into(), c.location.clone()),
            ("TF_VAR_azure_vnet_id".into(), self.vnet_id()),
            ("TF_VAR_azure_gateway_subnet_cidr".into(), GATEWAY_SUBNET_CIDR.into()),
            ("TF_VAR_azure_node_route_table_ids".into(), crate::aws::tf_list(&self.node_route_table_ids())),
            ("TF_VAR_aks_cluster_id".into(), self.aks_cluster_id()),
        ]
    }

    fn describe(&self) -> String {
        format!("{} (TLS; ARM Microsoft.Network and the token endpoint)", self.url())
    }
}

/// Every request: faults, token endpoint, then ARM.
async fn entry(State(azure): State<Arc<Azure>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    azure.faults.maybe_slow().await;
    let segments: Vec<String> = uri.path().trim_matches('/').split('/').map(str::to_string).collect();
    // The token endpoint: /{tenant}/oauth2/v2.0/token.
    if segments.len() == 4 && segments[1] == "oauth2" && segments[2] == "v2.0" && segments[3] == "token" {
        if method != Method::POST {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        return azure.token(&segments[0], &body);
    }
    // The OpenID Connect discovery document, which MSAL-based clients (azure-identity for Python, .NET, Java,
    // JS) read before they ask for a token: /{tenant}/v2.0/.well-known/openid-configuration.
    if segments.len() == 4
        && segments[1] == "v2.0"
        && segments[2] == ".well-known"
        && segments[3] == "openid-configuration"
    {
        if method != Method::GET {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        return azure.openid_configuration(&segments[0]);
    }
    if azure.faults.fires(FaultKind::ServerError).is_some() {
        return ArmError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An error has occurred while processing the request. Please retry the request.",
        )
        .into_response();
    }
    if let Some(setting) = azure.faults.fires(FaultKind::Throttle) {
        let seconds = setting.delay_ms.div_ceil(1000).max(1);
        let mut response = ArmError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!("The request is being throttled as the limit has been reached for this operation type. Please retry after {seconds} seconds."),
        )
        .into_response();
        response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        return response;
    }
    if let Err(e) = azure.check_token(&headers) {
        let mut response = e.into_response();
        response.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static(
                "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\"",
            ),
        );
        return response;
    }
    let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let api_version = query.iter().find(|(k, _)| k == "api-version").map(|(_, v)| v.clone());
    match ops::handle(&azure, &method, &segments, api_version.as_deref(), &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// How long a long-running operation takes when `slow-task` is on.
pub(crate) fn task_delay(azure: &Azure) -> Option<Duration> {
    azure.faults.fires(FaultKind::SlowTask).map(|s| Duration::from_millis(s.delay_ms))
}

pub(crate) fn instant_after(delay: Duration) -> Instant {
    Instant::now() + delay
}
