//! The provider's AWS client against the lab's EC2: the node table's default route and what it points at,
//! the gateway instance's primary interface, pointing the route at it and back, deleting a route that is
//! gone, "not found" mapped, and throttling ridden out. One test, because credentials come from the
//! process environment (the AWS chain), as they do for the provider.

mod common;

use std::time::Duration;

use common::lab::{ControllerApi, Lab};
use terraform_provider_aviatrix::clients::aws::{AwsClient, RouteTarget};
use terraform_provider_aviatrix::clients::retry::Budget;
use terraform_provider_aviatrix::provider::{ProviderConfig, Settings};
use tokio_util::sync::CancellationToken;

fn budget(secs: u64) -> Budget {
    Budget::new(Duration::from_secs(secs), CancellationToken::new())
}

#[tokio::test]
async fn routes_of_the_node_table_point_at_the_gateway_and_back() {
    let lab = Lab::up(&["--task-ms", "200"]);
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        std::env::set_var(name, lab.var(name));
    }
    let settings = Settings::resolve(&ProviderConfig::default(), &lab.env).unwrap();
    let aws = AwsClient::new(&settings.aws).await.expect("aws client");
    let table = lab.var("LAB_AWS_NODE_ROUTE_TABLE_IDS").split(',').next().unwrap().to_string();
    let vpc = lab.var("LAB_AWS_VPC_ID");

    let before = aws.table_routes(std::slice::from_ref(&table), "0.0.0.0/0", &budget(30)).await.unwrap();
    assert_eq!(before[0].vpc_id, vpc);
    let original = before[0].target.clone().expect("the baseline default route");
    assert!(matches!(original, RouteTarget::Gateway(ref id) if id.starts_with("igw-")), "{original:?}");

    // The gateway's instance and its primary interface.
    let api = ControllerApi::login(&lab).await;
    let created = api.create_aws_gateway(&lab, "pep-aws", "t3.small", &[("enable_nat", "yes")]).await;
    assert_eq!(created["return"], true, "{created}");
    let list = api.action("list_vpcs_summary", &[("gateway_name", "pep-aws")]).await;
    let instance = list["results"][0]["cloudn_gateway_inst_id"].as_str().unwrap().to_string();
    let (eni, eni_vpc) = aws.primary_interface(&instance, &budget(30)).await.unwrap();
    assert!(eni.starts_with("eni-") && eni_vpc == vpc, "{eni} in {eni_vpc}");

    // Point the default route at the gateway, under throttling, then back.
    lab.fault("aws", "throttle", "0.5", "0");
    let to_gateway = RouteTarget::NetworkInterface(eni.clone());
    aws.set_route(&table, "0.0.0.0/0", &to_gateway, true, &budget(60)).await.expect("replace through throttling");
    lab.fault("aws", "throttle", "0", "0");
    let now = aws.table_routes(std::slice::from_ref(&table), "0.0.0.0/0", &budget(30)).await.unwrap();
    assert_eq!(now[0].target, Some(to_gateway));
    aws.set_route(&table, "0.0.0.0/0", &original, true, &budget(30)).await.unwrap();
    let back = aws.table_routes(std::slice::from_ref(&table), "0.0.0.0/0", &budget(30)).await.unwrap();
    assert_eq!(back[0].target, Some(original));

    // A route created where there was none, then deleted; deleting again is success.
    aws.set_route(&table, "10.77.0.0/16", &RouteTarget::NetworkInterface(eni), false, &budget(30)).await.unwrap();
    aws.delete_route(&table, "10.77.0.0/16", &budget(30)).await.unwrap();
    aws.delete_route(&table, "10.77.0.0/16", &budget(30)).await.expect("a route already gone");
    let none = aws.table_routes(std::slice::from_ref(&table), "10.77.0.0/16", &budget(30)).await.unwrap();
    assert_eq!(none[0].target, None);

    let missing = aws.table_routes(&["rtb-0000000000000dead".to_string()], "0.0.0.0/0", &budget(10)).await;
    assert!(missing.unwrap_err().is_not_found());

    let deleted = api.action("delete_container", &[("cloud_type", "1"), ("gw_name", "pep-aws")]).await;
    assert_eq!(deleted["return"], true, "{deleted}");
    let (clean, diff) = lab.diff();
    assert!(clean, "the lab is back at its baseline: {diff}");
}
