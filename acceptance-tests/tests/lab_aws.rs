//! AWS EC2 through the lab's proxy with aws-sdk-ec2, configured only by the variables the provider reads
//! (AWS_ENDPOINT_URL_EC2, AWS_REGION, the static keys, and AWS_CA_BUNDLE as the SDK client's trust store): the baseline, a gateway's instance, EC2's answers
//! where moto is looser, and the aws faults. One test, because it sets process environment variables.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use common::lab::{ControllerApi, Lab};

/// The SDK's rustls client trusting only the PEM file `ca_file` (a user's `AWS_CA_BUNDLE`), or nothing at all.
fn sdk_http_client(ca_file: Option<&str>) -> aws_sdk_ec2::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let mut trust = tls::TrustStore::empty();
    if let Some(path) = ca_file {
        trust = trust.with_pem_certificate(std::fs::read(path).expect("the CA bundle"));
    }
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().expect("TLS context"))
        .build_https()
}

#[tokio::test]
async fn ec2_through_the_proxy_with_the_provider_variables() {
    let lab = Lab::up(&["--task-ms", "200"]);
    for name in ["AWS_ENDPOINT_URL_EC2", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CA_BUNDLE"] {
        std::env::set_var(name, lab.var(name));
    }
    std::env::remove_var("AWS_ENDPOINT_URL");
    assert!(lab.var("AWS_ENDPOINT_URL_EC2").starts_with("https://"), "EC2 is served over HTTPS");
    // Without the lab CA the SDK refuses the endpoint's certificate, as it would any unknown CA.
    let untrusting = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http_client(None))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let refused = aws_sdk_ec2::Client::new(&untrusting).describe_vpcs().send().await.expect_err("an unknown CA");
    assert!(
        format!("{}", aws_sdk_ec2::error::DisplayErrorContext(&refused)).to_lowercase().contains("certificate"),
        "{}",
        aws_sdk_ec2::error::DisplayErrorContext(&refused)
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http_client(Some(&std::env::var("AWS_CA_BUNDLE").unwrap())))
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpc_id = lab.var("LAB_AWS_VPC_ID");
    let node_table = lab.var("LAB_AWS_NODE_ROUTE_TABLE_IDS");

    // The baseline: the node table's default route goes to the internet gateway.
    let tables = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .expect("DescribeRouteTables");
    let table =
        tables.route_tables().iter().find(|t| t.route_table_id() == Some(node_table.as_str())).expect("node table");
    let default =
        table.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).expect("default route");
    assert!(default.gateway_id().unwrap().starts_with("igw-"));
    assert_eq!(table.associations().len(), 2);

    // The query API also comes as a GET with the parameters in the query string.
    let raw = lab
        .client()
        .get(format!("{}/?Action=DescribeVpcs&Version=2016-11-15", lab.var("AWS_ENDPOINT_URL_EC2")))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=lab/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert!(raw.text().await.unwrap().contains(&vpc_id));

    // A gateway in the VPC is an instance with an ENI and a private IP in the gateway subnet.
    let api = ControllerApi::login(&lab).await;
    let created =
        api.create_aws_gateway(&lab, "mcp-pep", "t3.medium", &[("enable_nat", "yes"), ("async", "true")]).await;
    let (done, _) = api.wait_task(created["results"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(done["results"], "Successfully created Gateway mcp-pep.", "{done}");
    let gateway = api.action("list_vpcs_summary", &[("gateway_name", "mcp-pep")]).await["results"][0].clone();
    let instance_id = gateway["cloudn_gateway_inst_id"].as_str().unwrap().to_string();
    let instances = ec2.describe_instances().instance_ids(&instance_id).send().await.expect("DescribeInstances");
    let instance = &instances.reservations()[0].instances()[0];
    assert_eq!(instance.private_ip_address(), gateway["private_ip"].as_str());
    assert!(instance.private_ip_address().unwrap().starts_with("10.10.0."));
    let eni = instance.network_interfaces()[0].network_interface_id().unwrap().to_string();
    let duplicate = api
        .action(
            "create_multicloud_primary_gateway",
            &[
                ("cloud_type", "1"),
                ("account_name", "lab-aws"),
                ("gw_name", "mcp-pep"),
                ("gw_size", "t3.medium"),
                ("vpc_id", &vpc_id),
                ("vpc_region", "us-east-1"),
                ("gw_subnet", "10.10.0.0/24"),
            ],
        )
        .await;
    assert!(duplicate["reason"].as_str().unwrap().contains("already exists"), "{duplicate}");

    // moto would silently overwrite the default route with an ENI target; EC2 refuses.
    let err = ec2
        .create_route()
        .route_table_id(&node_table)
        .destination_cidr_block("0.0.0.0/0")
        .network_interface_id(&eni)
        .send()
        .await
        .expect_err("CreateRoute onto an existing destination");
    assert_eq!(err.code(), Some("RouteAlreadyExists"));
    ec2.replace_route()
        .route_table_id(&node_table)
        .destination_cidr_block("0.0.0.0/0")
        .network_interface_id(&eni)
        .send()
        .await
        .expect("ReplaceRoute to the gateway ENI");
    // The local route cannot go, and nat- is no GatewayId.
    let err = ec2
        .delete_route()
        .route_table_id(&node_table)
        .destination_cidr_block("10.10.0.0/16")
        .send()
        .await
        .expect_err("local route");
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert!(err.message().unwrap().contains("cannot remove local route"));
    let err = ec2
        .create_route()
        .route_table_id(&node_table)
        .destination_cidr_block("10.99.0.0/16")
        .gateway_id("nat-0123456789abcdef0")
        .send()
        .await
        .expect_err("nat- as GatewayId");
    assert_eq!(err.code(), Some("InvalidGatewayID.NotFound"));
    let err = ec2
        .delete_route()
        .route_table_id(&node_table)
        .destination_cidr_block("10.98.0.0/16")
        .send()
        .await
        .expect_err("missing route");
    assert_eq!(err.code(), Some("InvalidRoute.NotFound"));

    // The gateway is in use while a route points at it.
    let refused = api.action("delete_container", &[("cloud_type", "1"), ("gw_name", "mcp-pep")]).await;
    assert!(refused["reason"].as_str().unwrap().contains("in use"), "{refused}");
    let (clean, diff) = lab.diff();
    assert!(!clean);
    assert!(
        diff["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "route" && c["after"]["networkInterfaceId"] == eni.as_str()),
        "{diff}"
    );

    // Put the route back, delete the gateway: nothing is left behind.
    let igw = default.gateway_id().unwrap().to_string();
    ec2.replace_route()
        .route_table_id(&node_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .expect("ReplaceRoute back");
    let deleted =
        api.action("delete_container", &[("cloud_type", "1"), ("gw_name", "mcp-pep"), ("async", "true")]).await;
    let (done, _) = api.wait_task(deleted["results"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(done["return"], true, "{done}");
    let (clean, diff) = lab.diff();
    assert!(clean, "{diff}");

    // Faults, seen by the SDK with its retries off.
    let no_retry = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&config)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build(),
    );
    for (kind, code) in [("throttle", "RequestLimitExceeded"), ("server-error", "InternalError")] {
        lab.fault("aws", kind, "1", "1000");
        let err = no_retry.describe_vpcs().send().await.expect_err(kind);
        assert_eq!(err.code(), Some(code), "{kind}");
        lab.fault("aws", kind, "0", "0");
    }
    lab.fault("aws", "slow", "1", "700");
    let started = Instant::now();
    no_retry.describe_vpcs().send().await.expect("slow but answered");
    assert!(started.elapsed() >= Duration::from_millis(700));
    lab.fault("aws", "slow", "0", "0");
    let output = lab.cli(&["fault", "--target", "aws", "--kind", "conflict"]);
    assert!(!output.status.success(), "EC2 has no 409 conflicts to inject");
}
