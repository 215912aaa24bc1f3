//! The ARM emulator through typed reqwest calls, the way the provider's Azure client makes them: the
//! client-credentials token, api-version 2024-03-01, route tables, routes, subnet association, ARM's errors,
//! long-running operations and faults; and a gateway whose NIC appears in ARM.

mod common;

use std::time::Duration;

use common::lab::{objects, ControllerApi, Lab};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const API: &str = "2024-03-01";

#[derive(Debug, Deserialize)]
struct Token {
    token_type: String,
    expires_in: u64,
    access_token: String,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RouteProperties {
    address_prefix: String,
    next_hop_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_hop_ip_address: Option<String>,
    #[serde(skip_serializing)]
    provisioning_state: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
struct Route {
    #[serde(skip_serializing)]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    properties: RouteProperties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteTableProperties {
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(default)]
    subnets: Vec<IdRef>,
    provisioning_state: String,
}

#[derive(Debug, Deserialize)]
struct RouteTable {
    id: String,
    name: String,
    location: String,
    etag: String,
    properties: RouteTableProperties,
}

#[derive(Debug, Serialize, Deserialize, Clone)]
struct IdRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct ArmErrorBody {
    error: ArmErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ArmErrorDetail {
    code: String,
    message: String,
}

/// A typed ARM client: token by client credentials, then bearer calls with an api-version.
struct Arm {
    http: reqwest::Client,
    endpoint: String,
    subscription: String,
    group: String,
    token: String,
}

impl Arm {
    async fn connect(lab: &Lab) -> Arm {
        let http = lab.client();
        let token =
            request_token(lab, &http, &lab.var("ARM_CLIENT_SECRET"), "https://management.azure.com/.default").await;
        assert_eq!(token.status(), 200);
        let token: Token = token.json().await.unwrap();
        assert_eq!(token.token_type, "Bearer");
        assert!(token.expires_in > 3000);
        Arm {
            http,
            endpoint: lab.var("AZURE_RESOURCE_MANAGER_ENDPOINT"),
            subscription: lab.var("ARM_SUBSCRIPTION_ID"),
            group: lab.var("LAB_AZURE_RESOURCE_GROUP"),
            token: token.access_token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/{path}?api-version={API}",
            self.endpoint, self.subscription, self.group
        )
    }

    async fn send(&self, method: Method, url: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        self.send(method, &self.url(path), body).await
    }
}

async fn request_token(lab: &Lab, http: &reqwest::Client, secret: &str, scope: &str) -> reqwest::Response {
    http.post(format!("{}/{}/oauth2/v2.0/token", lab.var("AZURE_AUTHORITY_HOST"), lab.var("ARM_TENANT_ID")))
        .header("accept", "application/json")
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_id", &lab.var("ARM_CLIENT_ID")),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

async fn arm_error(response: reqwest::Response) -> (StatusCode, ArmErrorDetail) {
    let status = response.status();
    let body: ArmErrorBody = response.json().await.expect("an ARM error body");
    (status, body.error)
}

fn node_table_name(lab: &Lab) -> String {
    lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS").split(',').next().unwrap().rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn tokens_bearer_checks_and_api_versions() {
    let lab = Lab::up(&[]);
    let http = lab.client();
    let wrong = request_token(&lab, &http, "not-the-secret", "https://management.azure.com/.default").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "invalid_client");
    // The scope azure_mgmt_network derives from a custom endpoint is not ARM's (reference §2.3).
    let scope = format!("{}/.default", lab.var("AZURE_RESOURCE_MANAGER_ENDPOINT"));
    let bad_scope = request_token(&lab, &http, &lab.var("ARM_CLIENT_SECRET"), &scope).await;
    assert_eq!(bad_scope.status(), 400);

    let arm = Arm::connect(&lab).await;
    let table = node_table_name(&lab);
    let anonymous = http.get(arm.url(&format!("routeTables/{table}"))).send().await.unwrap();
    let (status, error) = arm_error(anonymous).await;
    assert_eq!((status.as_u16(), error.code.as_str()), (401, "AuthenticationFailed"));
    let forged = http.get(arm.url(&format!("routeTables/{table}"))).bearer_auth("forged").send().await.unwrap();
    assert_eq!(arm_error(forged).await.1.code, "InvalidAuthenticationToken");

    let no_version = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/routeTables/{table}",
        arm.endpoint, arm.subscription, arm.group
    );
    let (status, error) = arm_error(arm.send(Method::GET, &no_version, None).await).await;
    assert_eq!((status.as_u16(), error.code.as_str()), (400, "MissingApiVersionParameter"));
    let (_, error) =
        arm_error(arm.send(Method::GET, &format!("{no_version}?api-version=2099-01-01"), None).await).await;
    assert_eq!(error.code, "NoRegisteredProviderFound");
    for version in ["2024-03-01", "2025-01-01"] {
        assert_eq!(
            arm.send(Method::GET, &format!("{no_version}?api-version={version}"), None).await.status(),
            200,
            "{version}"
        );
    }
}

#[tokio::test]
async fn route_tables_routes_and_subnet_association_follow_arm() {
    let lab = Lab::up(&[]);
    let arm = Arm::connect(&lab).await;
    let table = node_table_name(&lab);

    let baseline: RouteTable = arm.call(Method::GET, &format!("routeTables/{table}"), None).await.json().await.unwrap();
    assert_eq!(baseline.id, lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS"));
    assert_eq!((baseline.name.as_str(), baseline.location.as_str()), (table.as_str(), "eastus"));
    assert_eq!(baseline.properties.provisioning_state, "Succeeded");
    let default =
        baseline.properties.routes.iter().find(|r| r.properties.address_prefix == "0.0.0.0/0").expect("default route");
    assert_eq!(default.properties.next_hop_type, "Internet");
    assert_eq!(baseline.properties.subnets.len(), 2, "both node subnets use the table");

    // A route through an appliance: 201 on create, 200 on update, readable, listed.
    let route = Route {
        properties: RouteProperties {
            address_prefix: "0.0.0.0/0".into(),
            next_hop_type: "VirtualAppliance".into(),
            next_hop_ip_address: Some("10.20.0.4".into()),
            provisioning_state: None,
        },
        ..Route::default()
    };
    let body = serde_json::to_value(&route).unwrap();
    assert_eq!(
        body,
        json!({"properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.20.0.4"}})
    );
    let created = arm.call(Method::PUT, &format!("routeTables/{table}/routes/egress"), Some(body.clone())).await;
    assert_eq!(created.status(), 201);
    let created: Route = created.json().await.unwrap();
    assert!(created.id.unwrap().ends_with(&format!("routeTables/{table}/routes/egress")));
    assert_eq!(created.properties.provisioning_state.as_deref(), Some("Succeeded"));
    assert_eq!(arm.call(Method::PUT, &format!("routeTables/{table}/routes/egress"), Some(body)).await.status(), 200);
    let listed: Value = arm.call(Method::GET, &format!("routeTables/{table}/routes"), None).await.json().await.unwrap();
    assert_eq!(listed["value"].as_array().unwrap().len(), 2);

    // ARM's rules and errors.
    let bad = json!({"properties": {"addressPrefix": "10.0.0.0/8", "nextHopType": "Internet", "nextHopIpAddress": "10.20.0.4"}});
    let (status, _) =
        arm_error(arm.call(Method::PUT, &format!("routeTables/{table}/routes/bad"), Some(bad)).await).await;
    assert_eq!(status, 400);
    let (status, error) =
        arm_error(arm.call(Method::GET, &format!("routeTables/{table}/routes/missing"), None).await).await;
    assert_eq!((status.as_u16(), error.code.as_str()), (404, "NotFound"));
    let (status, error) = arm_error(arm.call(Method::GET, "routeTables/missing", None).await).await;
    assert_eq!((status.as_u16(), error.code.as_str()), (404, "ResourceNotFound"));
    assert!(error.message.contains("https://aka.ms/ARMResourceNotFoundFix"));
    let (status, error) = arm_error(arm.call(Method::DELETE, &format!("routeTables/{table}"), None).await).await;
    assert_eq!((status.as_u16(), error.code.as_str()), (400, "InUseRouteTableCannotBeDeleted"));
    assert_eq!(error.message, format!("Route table {table} is in use and cannot be deleted."));

    // Dissociate a subnet the way azurerm does: GET it, drop routeTable, PUT it back.
    let vnet = lab.var("LAB_AZURE_VNET_NAME");
    let mut subnet: Value =
        arm.call(Method::GET, &format!("virtualNetworks/{vnet}/subnets/nodes-a"), None).await.json().await.unwrap();
    assert!(subnet["properties"]["routeTable"]["id"].is_string());
    subnet["properties"].as_object_mut().unwrap().remove("routeTable");
    assert_eq!(
        arm.call(Method::PUT, &format!("virtualNetworks/{vnet}/subnets/nodes-a"), Some(subnet.clone())).await.status(),
        200
    );
    let after: RouteTable = arm.call(Method::GET, &format!("routeTables/{table}"), None).await.json().await.unwrap();
    assert_eq!(after.properties.subnets.len(), 1);
    assert_ne!(after.etag, "");
    // A reference to a table that does not exist is refused.
    subnet["properties"]["routeTable"] = json!({"id": format!("{}-nope", lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS"))});
    let (_, error) = arm_error(
        arm.call(Method::PUT, &format!("virtualNetworks/{vnet}/subnets/nodes-a"), Some(subnet.clone())).await,
    )
    .await;
    assert_eq!(error.code, "InvalidResourceReference");

    // The inventory sees the changes, and only them; putting things back leaves nothing behind.
    let (clean, diff) = lab.diff();
    assert!(!clean);
    assert_eq!(diff["added"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(diff["changed"].as_array().unwrap().len(), 1, "{diff}");
    subnet["properties"]["routeTable"] = json!({"id": lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS")});
    assert_eq!(
        arm.call(Method::PUT, &format!("virtualNetworks/{vnet}/subnets/nodes-a"), Some(subnet)).await.status(),
        200
    );
    assert_eq!(arm.call(Method::DELETE, &format!("routeTables/{table}/routes/egress"), None).await.status(), 200);
    assert_eq!(
        arm.call(Method::DELETE, &format!("routeTables/{table}/routes/egress"), None).await.status(),
        204,
        "deleted or not found"
    );
    let (clean, diff) = lab.diff();
    assert!(clean, "{diff}");

    // A new table: create, tag with PATCH, delete.
    let created =
        arm.call(Method::PUT, "routeTables/scratch", Some(json!({"location": "eastus", "properties": {}}))).await;
    assert_eq!(created.status(), 201);
    let patched: Value = arm
        .call(Method::PATCH, "routeTables/scratch", Some(json!({"tags": {"owner": "lab"}})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["tags"]["owner"], "lab");
    let (_, error) = arm_error(
        arm.call(Method::PUT, "routeTables/scratch", Some(json!({"location": "westus", "properties": {}}))).await,
    )
    .await;
    assert_eq!(error.code, "InvalidResourceLocation");
    assert_eq!(arm.call(Method::DELETE, "routeTables/scratch", None).await.status(), 200);
}

#[tokio::test]
async fn long_running_operations_and_azure_faults() {
    let lab = Lab::up(&[]);
    let arm = Arm::connect(&lab).await;
    let table = node_table_name(&lab);
    let route = json!({"properties": {"addressPrefix": "10.50.0.0/16", "nextHopType": "None"}});

    // slow-task: writes become long-running operations that finish after the delay.
    lab.fault("azure", "slow-task", "1", "2000");
    let put = arm.call(Method::PUT, &format!("routeTables/{table}/routes/slow"), Some(route.clone())).await;
    assert_eq!(put.status(), 201);
    let operation = put.headers()["azure-asyncoperation"].to_str().unwrap().to_string();
    assert!(operation.starts_with("https://127.0.0.1:"), "absolute: {operation}");
    assert_eq!(put.headers()["retry-after"], "1");
    let first: Value = arm.send(Method::GET, &operation, None).await.json().await.unwrap();
    assert_eq!(first["status"], "InProgress");
    // A write to the same table while the operation runs conflicts.
    let (status, error) =
        arm_error(arm.call(Method::PUT, &format!("routeTables/{table}/routes/slow"), Some(route.clone())).await).await;
    assert_eq!((status.as_u16(), error.code.as_str()), (409, "AnotherOperationInProgress"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let done: Value = arm.send(Method::GET, &operation, None).await.json().await.unwrap();
    assert_eq!(done["status"], "Succeeded");
    let delete = arm.call(Method::DELETE, &format!("routeTables/{table}/routes/slow"), None).await;
    assert_eq!(delete.status(), 202);
    let location = delete.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(arm.send(Method::GET, &location, None).await.status(), 202);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(arm.send(Method::GET, &location, None).await.status(), 204);
    assert_eq!(arm.call(Method::GET, &format!("routeTables/{table}/routes/slow"), None).await.status(), 404);
    lab.fault("azure", "slow-task", "0", "0");

    // task-failed: the operation ends Failed with its error code, and nothing was written.
    lab.fault("azure", "task-failed", "1", "0");
    let put = arm.call(Method::PUT, &format!("routeTables/{table}/routes/doomed"), Some(route.clone())).await;
    let operation = put.headers()["azure-asyncoperation"].to_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let failed: Value = arm.send(Method::GET, &operation, None).await.json().await.unwrap();
    assert_eq!(failed["status"], "Failed");
    assert_eq!(failed["error"]["code"], "AnotherOperationInProgress");
    lab.fault("azure", "task-failed", "0", "0");
    assert_eq!(arm.call(Method::GET, &format!("routeTables/{table}/routes/doomed"), None).await.status(), 404);

    // task-stuck: stays InProgress.
    lab.fault("azure", "task-stuck", "1", "0");
    let put = arm.call(Method::PUT, &format!("routeTables/{table}/routes/stuck"), Some(route.clone())).await;
    let operation = put.headers()["azure-asyncoperation"].to_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(arm.send(Method::GET, &operation, None).await.json::<Value>().await.unwrap()["status"], "InProgress");
    lab.fault("azure", "task-stuck", "0", "0");

    for (kind, status, code) in [
        ("throttle", 429, "TooManyRequests"),
        ("conflict", 409, "AnotherOperationInProgress"),
        ("server-error", 500, "InternalServerError"),
        ("expired-session", 401, "ExpiredAuthenticationToken"),
    ] {
        lab.fault("azure", kind, "1", "2000");
        let response = arm
            .call(Method::PUT, "routeTables/fault-probe", Some(json!({"location": "eastus", "properties": {}})))
            .await;
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let (got, error) = arm_error(response).await;
        assert_eq!((got.as_u16(), error.code.as_str()), (status, code), "{kind}: {}", error.message);
        if kind == "throttle" {
            assert_eq!(retry_after.as_deref(), Some("2"));
        }
        lab.fault("azure", kind, "0", "0");
    }
    lab.fault("azure", "slow", "1", "600");
    let started = std::time::Instant::now();
    assert_eq!(arm.call(Method::GET, &format!("routeTables/{table}"), None).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[tokio::test]
async fn an_azure_gateway_gets_a_nic_and_cannot_go_while_a_route_points_at_it() {
    let lab = Lab::up(&["--task-ms", "200"]);
    let arm = Arm::connect(&lab).await;
    let api = ControllerApi::login(&lab).await;
    let vnet_name = lab.var("LAB_AZURE_VNET_NAME");
    let vnet: Value = arm.call(Method::GET, &format!("virtualNetworks/{vnet_name}"), None).await.json().await.unwrap();
    let guid = vnet["properties"]["resourceGuid"].as_str().unwrap();
    let vpc_id = format!("{vnet_name}:{}:{guid}", lab.var("LAB_AZURE_RESOURCE_GROUP"));
    let mut params = vec![
        ("cloud_type", "8".to_string()),
        ("account_name", lab.var("LAB_AZURE_ACCOUNT_NAME")),
        ("gw_name", "mcp-pep".to_string()),
        ("gw_size", "Standard_B1ms".to_string()),
        ("vpc_id", vpc_id.clone()),
        ("vpc_region", "eastus".to_string()),
        ("gw_subnet", lab.var("LAB_AZURE_GATEWAY_SUBNET_CIDR")),
        ("enable_nat", "yes".to_string()),
    ];
    let as_refs = |p: &Vec<(&'static str, String)>| p.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let refs = as_refs(&params);
    let borrowed: Vec<(&str, &str)> = refs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wrong_region = api.action("create_multicloud_primary_gateway", &borrowed).await;
    assert_eq!(wrong_region["return"], false, "Azure regions go by display name: {wrong_region}");
    params[5].1 = lab.var("LAB_AZURE_REGION");
    let refs = as_refs(&params);
    let borrowed: Vec<(&str, &str)> = refs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let created = api.action("create_multicloud_primary_gateway", &borrowed).await;
    assert_eq!(created["return"], true, "{created}");

    let listed = api.action("list_vpcs_summary", &[("gateway_name", "mcp-pep")]).await;
    let gateway = &listed["results"][0];
    assert_eq!(gateway["vpc_name"], "mcp-pep");
    assert_eq!(gateway["enable_nat"], "yes");
    let private_ip = gateway["private_ip"].as_str().unwrap().to_string();
    assert!(private_ip.starts_with("10.20.0."), "{private_ip}");
    let nics = objects(&lab.inventory(), "azure", "network_interface").into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(nics.len(), 1);
    assert_eq!(
        nics[0]["data"]["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        json!(private_ip)
    );

    let table = node_table_name(&lab);
    let route = json!({"properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": private_ip}});
    assert_eq!(
        arm.call(Method::PUT, &format!("routeTables/{table}/routes/default-internet"), Some(route)).await.status(),
        200
    );
    let refused = api.action("delete_container", &[("cloud_type", "8"), ("gw_name", "mcp-pep")]).await;
    assert_eq!(refused["return"], false);
    assert!(refused["reason"].as_str().unwrap().contains("in use"), "{refused}");
    let back = json!({"properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}});
    assert_eq!(
        arm.call(Method::PUT, &format!("routeTables/{table}/routes/default-internet"), Some(back)).await.status(),
        200
    );
    let deleted =
        api.action("delete_container", &[("cloud_type", "8"), ("gw_name", "mcp-pep"), ("async", "true")]).await;
    let (done, pending) = api.wait_task(deleted["results"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(done["return"], true, "{done}");
    assert!(pending >= 1, "the task answered REQUEST_IN_PROGRESS first");
    let (clean, diff) = lab.diff();
    assert!(clean, "nothing left behind: {diff}");
}
