//! The provider's controller client against the lab's controller: it verifies TLS by default and trusts the
//! lab CA through `ca_file`, logs in with the API token step, renews a session the controller ended, rides
//! out 5xx answers, runs async tasks to their end without making anything twice, maps "not found", and keeps
//! the password out of every error.

mod common;

use std::time::Duration;

use common::lab::{objects, Lab};
use serde_json::Value;
use terraform_provider_aviatrix::clients::controller::{ControllerClient, ControllerError};
use terraform_provider_aviatrix::clients::retry::Budget;
use terraform_provider_aviatrix::provider::{ProviderConfig, Settings};
use tokio_util::sync::CancellationToken;

fn client(lab: &Lab) -> ControllerClient {
    let settings = Settings::resolve(&ProviderConfig::default(), &lab.env).expect("lab.env settings");
    let mut client = ControllerClient::new(&settings.controller).expect("controller client");
    client.poll_interval = Duration::from_millis(100);
    client
}

fn budget(secs: u64) -> Budget {
    Budget::new(Duration::from_secs(secs), CancellationToken::new())
}

fn gateways(lab: &Lab) -> Vec<String> {
    objects(&lab.inventory(), "controller", "gateway").iter().map(|g| g["id"].as_str().unwrap().to_string()).collect()
}

/// Reads the gateway back: `Some` once the controller has it.
async fn find_gateway(client: &ControllerClient, name: &str) -> Result<Option<Value>, ControllerError> {
    match client.query("list_vpcs_summary", &[("gateway_name", name)], &budget(30)).await {
        Ok(list) => Ok(list.as_array().and_then(|l| l.iter().find(|g| g["vpc_name"] == name)).cloned()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[tokio::test]
async fn tls_is_verified_by_default_and_the_lab_ca_is_trusted_through_ca_file() {
    let lab = Lab::up(&[]);
    let mut settings = Settings::resolve(&ProviderConfig::default(), &lab.env).unwrap().controller;
    settings.ca_file = None;
    let untrusted = ControllerClient::new(&settings).unwrap();
    let e = untrusted.query("list_version_info", &[], &budget(3)).await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("certificate") || text.contains("UnknownIssuer"), "not a TLS refusal: {text}");
    let version = client(&lab).query("list_version_info", &[], &budget(30)).await.unwrap();
    assert!(version["current_version"].is_string(), "{version}");
}

#[tokio::test]
async fn a_session_the_controller_ended_is_renewed_and_the_call_repeated() {
    let lab = Lab::up(&[]);
    let c = client(&lab);
    c.query("list_accounts", &[], &budget(30)).await.unwrap();
    // A reboot ends every session; the next call logs in again by itself.
    assert!(lab.cli(&["reboot-controller"]).status.success());
    let accounts = c.query("list_accounts", &[], &budget(30)).await.unwrap();
    assert!(!accounts["account_list"].as_array().unwrap().is_empty(), "{accounts}");
    // v2.5 REST and v2 JSON styles renew the same way.
    assert!(lab.cli(&["reboot-controller"]).status.success());
    c.rest_get("app-domains", &budget(30)).await.unwrap();
    assert!(lab.cli(&["reboot-controller"]).status.success());
    let flag = c.json_query("get_controller_feature", &serde_json::json!({"feature": "k8s"}), &budget(30)).await;
    assert_eq!(flag.unwrap()["enabled"], false, "a reboot turns k8s off");
}

#[tokio::test]
async fn server_errors_are_retried_and_an_async_create_makes_one_gateway() {
    let lab = Lab::up(&["--task-ms", "300"]);
    let c = client(&lab);
    lab.fault("controller", "server-error", "0.5", "0");
    for _ in 0..5 {
        c.query("list_accounts", &[], &budget(60)).await.expect("reads ride out 502s");
    }
    let (account, vpc, region, subnet) = (
        lab.var("LAB_AWS_ACCOUNT_NAME"),
        lab.var("LAB_AWS_VPC_ID"),
        lab.var("AWS_REGION"),
        lab.var("LAB_AWS_GATEWAY_SUBNET_CIDR"),
    );
    let params = [
        ("cloud_type", "1"),
        ("account_name", account.as_str()),
        ("gw_name", "egress-one"),
        ("gw_size", "t3.small"),
        ("vpc_id", vpc.as_str()),
        ("vpc_region", region.as_str()),
        ("gw_subnet", subnet.as_str()),
        ("enable_nat", "yes"),
    ];
    let done = c
        .run_task("create_multicloud_primary_gateway", &params, &budget(120), || find_gateway(&c, "egress-one"))
        .await
        .expect("the create converges through 502s");
    assert!(!done.message.is_empty());
    lab.fault("controller", "server-error", "0", "0");
    assert_eq!(gateways(&lab), ["egress-one"], "exactly one gateway, however many retries it took");
    assert!(find_gateway(&c, "egress-one").await.unwrap().is_some());

    // A task that fails reports the controller's reason.
    let again = c.run_task("create_multicloud_primary_gateway", &params, &budget(60), || async { Ok(None) }).await;
    match again {
        Err(ControllerError::Rejected { reason, .. }) => assert!(reason.contains("exist"), "{reason}"),
        other => panic!("a second gateway of the same name must be refused: {other:?}"),
    }
    assert_eq!(gateways(&lab), ["egress-one"]);
    c.run_task("delete_container", &[("cloud_type", "1"), ("gw_name", "egress-one")], &budget(60), || async {
        Ok(None)
    })
    .await
    .expect("delete");
    assert!(gateways(&lab).is_empty());
}

#[tokio::test]
async fn not_found_is_mapped_and_refusals_keep_the_password_out() {
    let lab = Lab::up(&[]);
    let c = client(&lab);
    let missing = c.rest_get("app-domains/7d3c4b1e-0000-4000-8000-00000000beef", &budget(10)).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing:?}");

    let mut env = lab.env.clone();
    env.insert("AVIATRIX_PASSWORD".into(), "not-the-password-42".into());
    let settings = Settings::resolve(&ProviderConfig::default(), &env).unwrap();
    let wrong = ControllerClient::new(&settings.controller).unwrap();
    let e = wrong.query("list_accounts", &[], &budget(10)).await.unwrap_err();
    assert!(matches!(e, ControllerError::Rejected { .. }), "{e:?}");
    let text = format!("{e} {e:?}");
    assert!(text.contains("check username and password"), "{text}");
    assert!(!text.contains("not-the-password-42"), "the password leaked: {text}");
}

#[tokio::test]
async fn an_unreachable_controller_is_named_and_the_budget_bounds_the_wait() {
    let lab = Lab::up(&[]);
    let mut env = lab.env.clone();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    env.insert("AVIATRIX_CONTROLLER_URL".into(), format!("https://127.0.0.1:{port}"));
    let settings = Settings::resolve(&ProviderConfig::default(), &env).unwrap();
    let c = ControllerClient::new(&settings.controller).unwrap();
    let started = std::time::Instant::now();
    let e = c.query("list_accounts", &[], &budget(2)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30), "the budget bounds the retries");
    let text = e.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")) && text.contains("controller_url"), "{text}");
}
