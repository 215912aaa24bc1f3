//! The provider's Azure client against the lab's Resource Manager: it signs in with the service principal
//! and the lab CA, reads the node route table and the VNet, writes and deletes a route (long-running
//! operations followed, DELETE included), rides out throttling, conflicts and an expired token, maps "not
//! found", keeps ARM's code on refusal, and keeps the client secret out of every error.

mod common;

use std::time::{Duration, Instant};

use common::lab::Lab;
use terraform_provider_aviatrix::clients::azure::{AzureClient, AzureError, ResourceId, RouteProperties, RouteTable};
use terraform_provider_aviatrix::clients::retry::Budget;
use terraform_provider_aviatrix::provider::{ProviderConfig, Settings};
use tokio_util::sync::CancellationToken;

fn client(lab: &Lab) -> AzureClient {
    let settings = Settings::resolve(&ProviderConfig::default(), &lab.env).expect("lab.env settings");
    let mut client = AzureClient::new(&settings.azure).expect("azure client");
    client.default_poll = Duration::from_millis(200);
    client
}

fn budget(secs: u64) -> Budget {
    Budget::new(Duration::from_secs(secs), CancellationToken::new())
}

fn node_table(lab: &Lab) -> ResourceId {
    let first = lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS").split(',').next().unwrap().to_string();
    ResourceId::parse(&first).expect("the lab's table IDs are ARM IDs")
}

fn appliance(ip: &str) -> RouteProperties {
    RouteProperties {
        address_prefix: "10.99.0.0/16".into(),
        next_hop_type: "VirtualAppliance".into(),
        next_hop_ip_address: Some(ip.into()),
        provisioning_state: None,
    }
}

#[tokio::test]
async fn routes_are_written_read_and_deleted_through_long_running_operations() {
    let lab = Lab::up(&[]);
    let c = client(&lab);
    let table_id = node_table(&lab);
    let table: RouteTable = c.route_table(&table_id, &budget(30)).await.unwrap();
    assert_eq!(table.id.as_deref().map(|i| i.eq_ignore_ascii_case(&table_id.to_string())), Some(true));
    assert!(!table.properties.subnets.is_empty(), "the node table is associated with the node subnets");

    let vnet_id = ResourceId::parse(&table.properties.subnets[0].id).unwrap().parent();
    let vnet = c.virtual_network(&vnet_id, &budget(30)).await.unwrap();
    assert!(vnet.properties.resource_guid.is_some(), "the controller's vpc_id form needs the VNet's resourceGuid");

    // Writes become long-running: the client follows them to the end, DELETE included.
    lab.fault("azure", "slow-task", "1", "1500");
    let started = Instant::now();
    let route = c.put_route(&table_id, "egress-probe", &appliance("10.20.0.4"), &budget(60)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500), "the PUT returned before its operation ended");
    assert_eq!(route.properties.next_hop_ip_address.as_deref(), Some("10.20.0.4"));
    assert_eq!(route.properties.provisioning_state.as_deref(), Some("Succeeded"));
    let started = Instant::now();
    c.delete_route(&table_id, "egress-probe", &budget(60)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500), "the DELETE returned before its operation ended");
    lab.fault("azure", "slow-task", "0", "0");
    let gone = c.get::<serde_json::Value>(&table_id.child("routes", "egress-probe"), &budget(10)).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    c.delete_route(&table_id, "egress-probe", &budget(10)).await.expect("deleting what is gone is success");

    let (ok, diff) = lab.diff();
    assert!(ok, "the lab is back at its baseline: {diff}");
}

#[tokio::test]
async fn throttling_conflicts_and_an_expired_token_are_ridden_out() {
    let lab = Lab::up(&[]);
    let c = client(&lab);
    let table_id = node_table(&lab);
    c.route_table(&table_id, &budget(30)).await.unwrap();
    for (kind, rate) in [("throttle", "0.5"), ("conflict", "0.5"), ("expired-session", "0.2"), ("server-error", "0.5")]
    {
        lab.fault("azure", kind, rate, "1000");
        c.put_route(&table_id, "flaky", &appliance("10.20.0.5"), &budget(90))
            .await
            .unwrap_or_else(|e| panic!("{kind}: the write converges: {e}"));
        c.route_table(&table_id, &budget(90)).await.unwrap_or_else(|e| panic!("{kind}: the read converges: {e}"));
        lab.fault("azure", kind, "0", "0");
    }
    // An operation that fails because another one ran is tried again as a whole.
    lab.fault("azure", "task-failed", "1", "0");
    let short = c.put_route(&table_id, "doomed", &appliance("10.20.0.6"), &budget(8)).await.unwrap_err();
    assert!(matches!(short, AzureError::TimedOut { .. }), "{short:?}");
    assert!(short.to_string().contains("AnotherOperationInProgress"), "ARM's code is kept: {short}");
    lab.fault("azure", "task-failed", "0", "0");
    c.delete_route(&table_id, "flaky", &budget(30)).await.unwrap();
    c.delete_route(&table_id, "doomed", &budget(30)).await.unwrap();
    assert!(lab.diff().0, "{}", lab.diff().1);
}

#[tokio::test]
async fn refusals_keep_arm_codes_and_a_wrong_secret_stays_out_of_the_error() {
    let lab = Lab::up(&[]);
    let c = client(&lab);
    let table_id = node_table(&lab);
    let bad = RouteProperties { next_hop_type: "Teleport".into(), ..appliance("10.20.0.4") };
    let refused = c.put_route(&table_id, "bad", &bad, &budget(10)).await.unwrap_err();
    match &refused {
        AzureError::Rejected { code, .. } => assert!(!code.is_empty(), "{refused}"),
        other => panic!("an invalid next hop type is refused: {other:?}"),
    }
    let missing = ResourceId { name: "no-such-table".into(), ..table_id.clone() };
    assert!(c.route_table(&missing, &budget(10)).await.unwrap_err().is_not_found());

    let mut env = lab.env.clone();
    env.insert("ARM_CLIENT_SECRET".into(), "wrong-secret-77".into());
    let settings = Settings::resolve(&ProviderConfig::default(), &env).unwrap();
    let wrong = AzureClient::new(&settings.azure).unwrap();
    let e = wrong.route_table(&table_id, &budget(10)).await.unwrap_err();
    assert!(matches!(e, AzureError::SignIn { .. }), "{e:?}");
    let text = format!("{e} {e:?} {wrong:?}");
    assert!(!text.contains("wrong-secret-77"), "the secret leaked: {text}");
}
