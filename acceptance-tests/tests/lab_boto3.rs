//! boto3, the AWS SDK for Python, against the lab's EC2, configured only by `lab.env` (the https
//! `AWS_ENDPOINT_URL_EC2`, `AWS_CA_BUNDLE`, region and keys): route tables, routes created, replaced and
//! deleted, a gateway's instance and network interface, and dry runs answering `DryRunOperation`. The
//! scenario lives in `tests/python/ec2_client.py` and checks each answer as it goes; this test then checks
//! the world with the lab's inventory.
//!
//! boto3 comes from `scripts/install-boto3.sh` (run here, idempotent). Without python3 the test prints
//! `SKIP:` and returns.

mod common;
mod python_client;

use std::time::Duration;

use common::lab::{ControllerApi, Lab};

#[tokio::test]
async fn boto3_drives_the_lab_ec2_as_it_drives_ec2() {
    if python_client::python3_missing() {
        println!("SKIP: boto3_drives_the_lab_ec2_as_it_drives_ec2 needs python3 on PATH to install boto3");
        return;
    }
    let python = python_client::python_with("install-boto3.sh", "boto3-venv");
    let lab = Lab::up(&["--task-ms", "100"]);
    let api = ControllerApi::login(&lab).await;
    let created = api.create_aws_gateway(&lab, "mcp-boto3", "t3.small", &[("async", "true")]).await;
    let (done, _) = api.wait_task(created["results"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(done["return"], true, "{done}");
    let gateway = &api.action("list_vpcs_summary", &[("gateway_name", "mcp-boto3")]).await["results"][0];
    let instance = gateway["cloudn_gateway_inst_id"].as_str().unwrap().to_string();
    let inventory = lab.inventory();
    let eni = common::lab::objects(&inventory, "aws", "instance")
        .into_iter()
        .find(|o| o["id"] == instance.as_str())
        .expect("the gateway's instance")["data"]["network_interfaces"][0]
        .as_str()
        .unwrap()
        .to_string();

    let vpc = lab.var("LAB_AWS_VPC_ID");
    let table = lab.var("LAB_AWS_NODE_ROUTE_TABLE_IDS");
    python_client::run_scenario(
        &lab.env,
        &python,
        "ec2_client.py",
        &[&vpc, &table, &instance, &eni],
        "boto3 scenario: ok",
    )
    .await;

    // The scenario put the node table back; with the gateway gone nothing differs from the baseline.
    let deleted =
        api.action("delete_container", &[("cloud_type", "1"), ("gw_name", "mcp-boto3"), ("async", "true")]).await;
    let (done, _) = api.wait_task(deleted["results"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(done["return"], true, "{done}");
    let (clean, diff) = lab.diff();
    assert!(clean, "{diff}");
}
