//! The lab's life cycle: a fresh lab matches its baseline, `down` stops every process it started and keeps
//! the state, and `up` again brings back the same objects with the same IDs in every emulator.

mod common;

use std::time::{Duration, Instant};

use common::lab::{objects, ControllerApi, Lab, NOT_RUNNING};
use serde_json::{json, Value};

fn pids(lab: &Lab) -> Vec<u32> {
    let run: Value = serde_json::from_slice(&std::fs::read(lab.path().join("run.json")).unwrap()).unwrap();
    let mut pids = vec![run["daemon_pid"].as_u64().unwrap() as u32];
    pids.extend(run["children"].as_array().unwrap().iter().map(|c| c[1].as_u64().unwrap() as u32));
    pids
}

fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The inventory without the baseline marks, sorted, for comparing two runs.
fn objects_of(inventory: &Value) -> Vec<Value> {
    let mut all: Vec<Value> =
        inventory.as_object().unwrap().values().flat_map(|list| list.as_array().unwrap().clone()).collect();
    all.sort_by_key(|o| format!("{}/{}/{}", o["system"], o["kind"], o["id"]));
    all
}

#[tokio::test]
async fn down_then_up_keeps_every_object_and_leaves_no_process() {
    let started = Instant::now();
    let mut lab = Lab::up(&["--task-ms", "100"]);
    let first_up = started.elapsed();
    let (clean, diff) = lab.diff();
    assert!(clean, "a fresh lab is its baseline: {diff}");
    let status = lab.cli(&["status"]);
    assert!(status.status.success());
    let status_text = String::from_utf8_lossy(&status.stdout).to_string();
    for line in ["controller", "azure", "aws", "moto_server"] {
        assert!(status_text.contains(line), "status lacks {line}: {status_text}");
    }
    let again = lab.cli(&["up"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already running"));

    // Change every emulator: a gateway (a moto instance), a SmartGroup, an Azure route.
    let api = ControllerApi::login(&lab).await;
    let created = api.create_aws_gateway(&lab, "keep-me", "t3.small", &[]).await;
    assert_eq!(created["return"], true, "{created}");
    let (status, _) = api
        .rest(
            reqwest::Method::POST,
            "app-domains",
            Some(json!({"name": "kept", "selector": {"any": [{"all": {"cidr": "10.1.0.0/16"}}]}})),
        )
        .await;
    assert_eq!(status, 200);
    let table_id = lab.var("LAB_AZURE_NODE_ROUTE_TABLE_IDS");
    let http = lab.client();
    let token = common::lab::azure_token(&lab).await;
    let route_url =
        format!("{}{table_id}/routes/kept?api-version=2024-03-01", lab.var("AZURE_RESOURCE_MANAGER_ENDPOINT"));
    let put = http
        .put(&route_url)
        .bearer_auth(&token)
        .json(&json!({"properties": {"addressPrefix": "10.60.0.0/16", "nextHopType": "None"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let before = lab.inventory();
    assert_eq!(objects(&before, "aws", "instance").len(), 1);
    let before_diff = lab.diff().1;
    let processes = pids(&lab);
    assert_eq!(processes.len(), 2, "the daemon and moto");

    let stopping = Instant::now();
    let down = lab.stop();
    let down_time = stopping.elapsed();
    assert!(down.status.success());
    for pid in &processes {
        assert!(!running(*pid), "pid {pid} survived down");
    }
    assert!(!lab.path().join("run.json").exists());
    assert!(lab.path().join("state").join("controller.json").exists(), "down keeps the state");

    let restarting = Instant::now();
    lab.start(&[]);
    let second_up = restarting.elapsed();
    assert_eq!(
        lab.var("AZURE_RESOURCE_MANAGER_ENDPOINT"),
        format!("https://127.0.0.1:{}", route_url.split(':').nth(2).unwrap().split('/').next().unwrap()),
        "a restarted lab serves where lab.env pointed"
    );
    let after = lab.inventory();
    assert_eq!(objects_of(&before), objects_of(&after), "the restarted lab holds the same objects");
    assert_eq!(before_diff, lab.diff().1);
    // The controller still knows its gateway, and the Azure token outlived the restart.
    let api = ControllerApi::login(&lab).await;
    assert_eq!(api.action("list_vpcs_summary", &[("gateway_name", "keep-me")]).await["return"], true);
    let read = http.get(&route_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(read.status(), 200);
    eprintln!("timings: first up {first_up:?}, down {down_time:?}, up after down {second_up:?}");
    // Alone on the machine, up plus down takes about 2 s; the bound leaves room for tests running beside it.
    assert!(second_up + down_time < Duration::from_secs(10), "up {second_up:?} + down {down_time:?}");
}

#[tokio::test]
async fn the_cli_says_what_is_wrong_and_what_runs() {
    let lab = Lab::up(&[]);
    let stderr = |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).to_string();
    let bad_rate = lab.cli(&["fault", "--target", "azure", "--kind", "throttle", "--rate", "2"]);
    assert!(!bad_rate.status.success());
    assert!(stderr(&bad_rate).contains("rate 2 is out of range"), "{}", stderr(&bad_rate));
    let bad_target = lab.cli(&["fault", "--target", "gcp", "--kind", "slow"]);
    assert!(!bad_target.status.success());
    assert!(stderr(&bad_target).contains("targets: controller, azure, aws"), "{}", stderr(&bad_target));

    lab.fault("azure", "throttle", "0.5", "1000");
    let status = lab.cli(&["status"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("azure:throttle rate 0.5"));

    assert!(lab.stop().status.success());
    let status = lab.cli(&["status"]);
    assert_eq!(status.status.code(), Some(NOT_RUNNING), "status of a stopped lab");
    // Every command that needs the running lab says so with the exit status `status` uses, so a script can
    // tell "not running" from "differences" (1) in `inventory --diff`.
    for args in [
        &["inventory"][..],
        &["inventory", "--diff"],
        &["fault", "--target", "aws", "--kind", "slow"],
        &["reboot-controller"],
    ] {
        let output = lab.cli(args);
        assert_eq!(output.status.code(), Some(NOT_RUNNING), "{args:?} of a stopped lab: {}", stderr(&output));
        assert!(stderr(&output).contains("no lab is running"), "{args:?}: {}", stderr(&output));
    }
    let down = lab.stop();
    assert!(down.status.success());
    assert!(String::from_utf8_lossy(&down.stdout).contains("no lab is running"));
}

#[test]
fn the_cli_gives_its_version_and_documents_dir() {
    let version = common::lab::run(&["--version"]);
    assert!(version.status.success());
    assert_eq!(common::tools::stdout(&version).trim(), format!("mcp-egress-lab {}", env!("CARGO_PKG_VERSION")));
    let help = common::tools::ok(&common::lab::run(&["inventory", "--help"]), "inventory --help");
    assert!(help.contains("--dir <DIR>") && help.contains("The lab's directory"), "{help}");
    let help = common::tools::ok(&common::lab::run(&["--help"]), "--help");
    assert!(help.contains("3 the lab in DIR is not running"), "{help}");
}
