//! The enforcement fabric through the real terraform CLI, on AWS and on Azure: the gateway, the cluster, the
//! node routes and the masquerade in one apply; each imports into a fresh state that agrees with apply; a
//! route changed and the controller rebooted behind Terraform's back show in the next plan and the next apply
//! converges; destroy puts the routes and the masquerade back and leaves the lab at its baseline. The same
//! under controller faults (5xx and expired sessions, slow tasks) and Azure throttling; and an apply
//! interrupted while the gateway is being created is finished by the next one, with one gateway.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::lab::{objects, Lab};
use common::steps::{Case, Step};
use common::terraform::{route_import_id, Workspace};
use common::tools::repo_root;
use serde_json::{json, Value};
use terraform_provider_aviatrix::clients::aws::{AwsClient, RouteTarget};
use terraform_provider_aviatrix::clients::retry::Budget;
use terraform_provider_aviatrix::provider::{ProviderConfig, Settings};

const GATEWAY: &str = "aviatrix_mcp_egress_gateway.egress";
const CLUSTER: &str = "aviatrix_mcp_egress_cluster.k8s";
const ROUTE: &str = "aviatrix_mcp_egress_route.nodes";
const MASQ: &str = "aviatrix_mcp_egress_masquerade.nodes";

/// The fabric examples as they stand: every input from lab.env's TF_VAR_ variables, as a user has them.
fn example(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("examples").join(name).join("main.tf")).expect("the fabric example")
}

fn aws_fabric() -> String {
    example("fabric-aws")
}

fn azure_fabric() -> String {
    example("fabric-azure")
}

fn budget() -> Budget {
    Budget::new(Duration::from_secs(60), Default::default())
}

/// Points the first AWS node table's default route back at the internet gateway, as someone at the console.
fn aws_route_back_to_the_internet(lab: &Lab) {
    let tables: Vec<String> = serde_json::from_str(&lab.var("TF_VAR_aws_node_route_table_ids")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            std::env::set_var(name, lab.var(name));
        }
        let settings = Settings::resolve(&ProviderConfig::default(), &lab.env).unwrap();
        let aws = AwsClient::new(&settings.aws).await.unwrap();
        let now = aws.table_routes(&tables, "0.0.0.0/0", &budget()).await.unwrap();
        let igw = now[0]
            .tags
            .get("mcp-egress-previous-0.0.0.0_0")
            .and_then(|p| p.split_once(':'))
            .map(|(_, id)| id.to_string());
        let igw = igw.expect("the previous target is recorded on the table");
        aws.set_route(&tables[0], "0.0.0.0/0", &RouteTarget::Gateway(igw), true, &budget()).await.unwrap();
    });
}

/// Points the Azure node table's default route at the internet, through ARM.
fn azure_route_back_to_the_internet(lab: &Lab) {
    let tables: Vec<String> = serde_json::from_str(&lab.var("TF_VAR_azure_node_route_table_ids")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let token = common::lab::azure_token(lab).await;
        let base = format!("{}{}", lab.var("AZURE_RESOURCE_MANAGER_ENDPOINT"), tables[0]);
        let http = lab.client();
        let table: Value = http
            .get(format!("{base}?api-version=2024-03-01"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let route = table["properties"]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["properties"]["addressPrefix"] == "0.0.0.0/0")
            .expect("the default route")
            .clone();
        let name = route["name"].as_str().unwrap();
        let body = json!({"properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}});
        let reply = http
            .put(format!("{base}/routes/{name}?api-version=2024-03-01"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{}", reply.text().await.unwrap());
    });
}

fn reboot(lab: &Lab) {
    assert!(lab.cli(&["reboot-controller"]).status.success());
}

fn lifecycle(name: &str, fabric: String, route_back: fn(&Lab)) -> Case {
    Case::new(name)
        .step(
            Step::apply(&fabric)
                .expect_attr_set(GATEWAY, "private_ip")
                .expect_attr(CLUSTER, "status", json!("Connected"))
                .expect_attr_set(ROUTE, "target")
                .expect_attr_set(ROUTE, "previous_targets")
                .expect_attr(MASQ, "restores", json!("previous")),
        )
        .step(Step::import(GATEWAY))
        .step(Step::import(CLUSTER))
        .step(Step::import(ROUTE).id_from(route_import_id))
        .step(Step::import(MASQ))
        .step(Step::outside("a node route is pointed back at the internet", route_back))
        .step(Step::outside("the controller reboots", reboot))
        .step(Step::plan(&fabric).expect_changes(&[CLUSTER, ROUTE]))
        .step(Step::apply(&fabric).expect_attr_set(ROUTE, "target"))
        .step(Step::destroy())
}

#[test]
fn the_aws_fabric_applies_imports_shows_drift_converges_and_leaves_nothing() {
    lifecycle("the AWS fabric", aws_fabric(), aws_route_back_to_the_internet).run();
}

#[test]
fn the_azure_fabric_applies_imports_shows_drift_converges_and_leaves_nothing() {
    lifecycle("the Azure fabric", azure_fabric(), azure_route_back_to_the_internet).run();
}

fn under_faults(
    name: &str,
    fabric: String,
    faults: &'static [(&'static str, &'static str, &'static str, &'static str)],
) -> Case {
    Case::new(name)
        .step(Step::outside("faults on", move |lab| {
            for (target, kind, rate, delay) in faults {
                lab.fault(target, kind, rate, delay);
            }
        }))
        .step(Step::apply(&fabric).expect_attr(CLUSTER, "status", json!("Connected")))
        .step(Step::destroy())
        .step(Step::outside("faults off", move |lab| {
            for (target, kind, _, _) in faults {
                lab.fault(target, kind, "0", "0");
            }
        }))
}

const CONTROLLER_FAULTS: [(&str, &str, &str, &str); 3] = [
    ("controller", "server-error", "0.2", "0"),
    ("controller", "expired-session", "0.2", "0"),
    ("controller", "slow-task", "1", "1500"),
];

#[test]
fn the_aws_fabric_converges_under_controller_faults() {
    under_faults("the AWS fabric under controller faults", aws_fabric(), &CONTROLLER_FAULTS).run();
}

const AZURE_FAULTS: [(&str, &str, &str, &str); 4] = [
    ("controller", "server-error", "0.2", "0"),
    ("controller", "expired-session", "0.2", "0"),
    ("azure", "throttle", "0.3", "1000"),
    ("azure", "slow-task", "1", "1000"),
];

#[test]
fn the_azure_fabric_converges_under_controller_faults_and_azure_throttling() {
    under_faults("the Azure fabric under faults and throttling", azure_fabric(), &AZURE_FAULTS).run();
}

fn gateway_names(lab: &Lab) -> BTreeSet<String> {
    objects(&lab.inventory(), "controller", "gateway")
        .iter()
        .filter_map(|g| g["id"].as_str().map(str::to_string))
        .collect()
}

/// SIGINT to terraform while the controller is creating the gateway; the next apply finishes the job.
#[test]
fn an_apply_interrupted_while_the_gateway_is_created_is_finished_by_the_next() {
    let lab = Lab::up(&["--task-ms", "6000"]);
    let mut ws = Workspace::new(&aws_fabric());
    for (name, value) in &lab.env {
        ws.set_env(name, value);
    }
    let mut apply = ws.spawn(&["apply", "-auto-approve", "-no-color"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !gateway_names(&lab).contains("mcp-egress") {
        assert!(Instant::now() < deadline, "the gateway's creation never started");
        assert!(apply.try_wait().unwrap().is_none(), "apply ended before the gateway was being created");
        std::thread::sleep(Duration::from_millis(200));
    }
    // As Ctrl-C does: terraform asks the provider to stop and exits once it has.
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    unsafe { libc::kill(apply.id() as i32, libc::SIGINT) };
    let interrupted = apply.wait_with_output().unwrap();
    assert!(!interrupted.status.success(), "an interrupted apply fails");

    ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "the apply after the interruption");
    assert_eq!(gateway_names(&lab), BTreeSet::from(["mcp-egress".to_string()]), "one gateway, not two");
    ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "a plan after convergence");
    ws.run(&["destroy", "-auto-approve", "-no-color"]).expect_code(0, "destroy");
    let (clean, diff) = lab.diff();
    assert!(clean, "the lab is back at its baseline: {diff}");
}
