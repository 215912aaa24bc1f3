//! The controller emulator at the HTTP level: every action's envelope, CID sessions and their expiry, async
//! tasks through `check_task_status`, DCF objects, k8s clusters, feature flags and reboot, and its faults.

mod common;

use std::time::{Duration, Instant};

use common::lab::{objects, send_json, ControllerApi, Lab};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn login_gives_a_top_level_cid_and_bad_sessions_get_the_real_answers() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    assert!(api.cid.len() >= 16);

    // Wrong password, and a made-up access key.
    let reply = send_json(api.http.post(format!("{}/v2/api", api.url)).form(&[
        ("action", "login"),
        ("username", "admin"),
        ("password", "wrong"),
    ]))
    .await;
    assert_eq!(reply["return"], false);
    assert!(reply.get("CID").is_none());
    let reply = send_json(api.http.post(format!("{}/v2/api", api.url)).header("X-Access-Key", "not-issued").form(&[
        ("action", "login"),
        ("username", "admin"),
        ("password", &lab.var("AVIATRIX_PASSWORD")),
    ]))
    .await;
    assert_eq!(reply["return"], false, "{reply}");

    // Each API style words an unknown session its own way (reference §1.2).
    let stranger = ControllerApi { http: api.http.clone(), url: api.url.clone(), cid: "no-such-cid".into() };
    let form = stranger.action("list_vpcs_summary", &[]).await;
    assert_eq!(form["return"], false);
    assert!(form["reason"].as_str().unwrap().contains("CID is invalid"), "{form}");
    let json_style = stranger.json_action(json!({"action": "get_controller_feature", "feature": "k8s"})).await;
    assert_eq!(json_style["reason"], "Session no-such-cid expired");
    let (status, body) = stranger.rest(Method::GET, "app-domains", None).await;
    assert_eq!(status, 403);
    assert!(body["message"].as_str().unwrap().contains("Invalid CID"), "{body}");

    // The real session works on all three.
    let version = api.action("list_version_info", &[]).await;
    assert_eq!(version["return"], true);
    assert_eq!(version["results"]["current_version"], "10.1.0");
    let (status, body) = api.rest(Method::GET, "app-domains", None).await;
    assert_eq!(status, 200);
    assert!(body["app_domains"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["uuid"] == "def000ad-0000-0000-0000-000000000000"));
    let unknown = api.action("no_such_action", &[]).await;
    assert_eq!(unknown["return"], false);
    let (status, body) = api.rest(Method::GET, "no-such-api", None).await;
    assert_eq!(status, 404);
    assert!(body["message"].is_string(), "{body}");
}

#[tokio::test]
async fn a_cid_expires_after_its_configured_lifetime() {
    let lab = Lab::up(&["--cid-lifetime-secs", "3"]);
    let api = ControllerApi::login(&lab).await;
    assert_eq!(api.action("list_accounts", &[]).await["return"], true);
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let reply = api.action("list_accounts", &[]).await;
    assert_eq!(reply["return"], false);
    assert!(reply["reason"].as_str().unwrap().contains("CID is invalid"));
    let (status, _) = api.rest(Method::GET, "app-domains", None).await;
    assert_eq!(status, 403);
    // Logging in again gives a working session.
    let again = ControllerApi::login(&lab).await;
    assert_eq!(again.action("list_accounts", &[]).await["return"], true);
}

#[tokio::test]
async fn feature_flags_follow_their_rules_and_a_reboot_resets_the_reported_ones() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let get = |feature: &'static str| {
        let api = &api;
        async move { api.json_action(json!({"action": "get_controller_feature", "feature": feature})).await }
    };
    assert_eq!(get("k8s").await["results"], json!({"feature": "k8s", "enabled": false}));
    let refused = api.json_action(json!({"action": "enable_controller_feature", "feature": "k8s_dcf_policies"})).await;
    assert_eq!(refused["return"], false, "k8s_dcf_policies needs k8s first");
    let unknown = api.json_action(json!({"action": "enable_controller_feature", "feature": "warp_drive"})).await;
    assert_eq!(unknown["return"], false);
    for feature in ["microseg", "k8s", "k8s_dcf_policies", "k8s_discovery", "log_enrichment", "dcf_multi_policies"] {
        let reply = api.json_action(json!({"action": "enable_controller_feature", "feature": feature})).await;
        assert_eq!(reply["return"], true, "{feature}: {reply}");
    }
    assert_eq!(get("k8s_dcf_policies").await["results"]["enabled"], true);

    let output = lab.cli(&["reboot-controller"]);
    assert!(output.status.success());
    // The reboot ended the session.
    assert_eq!(api.json_action(json!({"action": "get_controller_feature", "feature": "k8s"})).await["return"], false);
    let api = ControllerApi::login(&lab).await;
    let flags = api.action("get_feature_flags", &[]).await;
    for reset in ["k8s", "k8s_dcf_policies", "dcf_multi_policies", "k8s_discovery", "log_enrichment"] {
        assert_eq!(flags["results"][reset], false, "{reset} survives a reboot: {flags}");
    }
    assert_eq!(flags["results"]["microseg"], true, "microseg is not one of the reported resets");
    // And the inventory shows the flags as they are now.
    let inventory = lab.inventory();
    let microseg =
        objects(&inventory, "controller", "feature_flag").into_iter().find(|o| o["id"] == "microseg").unwrap().clone();
    assert_eq!(microseg["data"]["enabled"], true);
    assert_eq!(microseg["changed"], true);
}

#[tokio::test]
async fn app_domains_rulesets_attachment_points_and_the_default_action() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let (status, body) = api
        .rest(
            Method::POST,
            "app-domains",
            Some(json!({"name": "mcp-pods", "selector": {"any": [{"all": {"type": "k8s", "k8s_namespace": "mcp", "tags.app": "server"}}]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pods = body["uuid"].as_str().unwrap().to_string();
    let (status, body) = api
        .rest(Method::POST, "app-domains", Some(json!({"name": "registries", "selector": {"any": [{"all": {"snifilter": "*.dkr.ecr.*.amazonaws.com"}}]}})))
        .await;
    assert_eq!(status, 200, "{body}");
    let registries = body["uuid"].as_str().unwrap().to_string();
    // The selector grammar is enforced.
    let (status, body) = api
        .rest(
            Method::POST,
            "app-domains",
            Some(json!({"name": "bad", "selector": {"any": [{"all": {"k8s_pod": "p"}}]}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("k8s_pod"), "{body}");
    let (status, body) = api.rest(Method::GET, "app-domains/name/registries", None).await;
    assert_eq!((status, body["uuid"].as_str()), (200, Some(registries.as_str())));

    let (status, points) =
        api.rest(Method::GET, "microseg/attachment-points?name=TERRAFORM_BEFORE_UI_MANAGED", None).await;
    assert_eq!(status, 200);
    assert_eq!(points.as_array().unwrap().len(), 1);
    let point = points[0]["attachment_point_id"].as_str().unwrap().to_string();
    let policy = json!({
        "name": "tier1-registries", "action": "PERMIT", "priority": 100, "protocol": "TCP",
        "src_ads": [pods], "dst_ads": ["def000ad-0000-0000-0000-000000000001"], "web_filters": [registries],
        "port_ranges": [{"lo": 443}], "logging": true
    });
    let (status, body) = api
        .rest(
            Method::POST,
            "microseg/policy-list3",
            Some(json!({"name": "tier1", "attach_to": point, "policies": [policy.clone()]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ruleset = body["uuid"].as_str().unwrap().to_string();
    let (status, body) = api.rest(Method::GET, &format!("microseg/policy-list3/{ruleset}"), None).await;
    assert_eq!(status, 200);
    assert!(
        body["policies"][0]["uuid"].as_str().is_some_and(|u| !u.is_empty()),
        "the controller gives each policy a uuid"
    );
    // One object per attachment point.
    let (status, body) = api
        .rest(Method::POST, "microseg/policy-list3", Some(json!({"name": "other", "attach_to": point, "policies": []})))
        .await;
    assert_eq!(status, 400, "{body}");
    // ICMP with ports, and an unknown SmartGroup, are refused.
    let mut icmp = policy.clone();
    icmp["protocol"] = json!("ICMP");
    icmp["web_filters"] = json!([]);
    let (status, _) = api
        .rest(
            Method::PUT,
            &format!("microseg/policy-list3/{ruleset}"),
            Some(json!({"name": "tier1", "policies": [icmp]})),
        )
        .await;
    assert_eq!(status, 400);
    let mut ghost = policy.clone();
    ghost["src_ads"] = json!(["00000000-0000-0000-0000-00000000dead"]);
    let (status, body) = api
        .rest(
            Method::PUT,
            &format!("microseg/policy-list3/{ruleset}"),
            Some(json!({"name": "tier1", "policies": [ghost]})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("does not exist"));
    // A WebGroup used by a rule cannot go (reference §6 item 11).
    let (status, _) = api.rest(Method::DELETE, &format!("app-domains/{registries}"), None).await;
    assert_eq!(status, 400);
    let inventory = lab.inventory();
    assert_eq!(objects(&inventory, "controller", "ruleset").len(), 1);
    let attached = objects(&inventory, "controller", "attachment_point")
        .into_iter()
        .find(|o| o["id"] == "TERRAFORM_BEFORE_UI_MANAGED")
        .unwrap()
        .clone();
    assert_eq!(attached["data"]["attached"], json!(ruleset));
    assert_eq!(objects(&inventory, "controller", "web_group").iter().filter(|o| o["baseline"] == false).count(), 1);

    let (status, _) = api.rest(Method::DELETE, &format!("microseg/policy-list3/{ruleset}"), None).await;
    assert_eq!(status, 200);
    let (status, body) = api.rest(Method::GET, &format!("microseg/policy-list3/{ruleset}"), None).await;
    assert_eq!(status, 404);
    assert!(body["message"].as_str().unwrap().contains("does not exist"));
    for uuid in [&registries, &pods] {
        assert_eq!(api.rest(Method::DELETE, &format!("app-domains/{uuid}"), None).await.0, 200);
    }
    let (status, body) = api.rest(Method::GET, &format!("app-domains/{registries}"), None).await;
    assert_eq!(status, 404);
    assert!(body["message"].as_str().unwrap().contains("App domain not found"));

    let (status, body) = api.rest(Method::GET, "microseg/default-action-policy", None).await;
    assert_eq!((status, &body["action"]), (200, &json!("PERMIT")));
    let (status, _) =
        api.rest(Method::PUT, "microseg/default-action-policy", Some(json!({"action": "DENY", "logging": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(api.rest(Method::PUT, "microseg/default-action-policy", Some(json!({"action": "DROP"}))).await.0, 400);
    let (changed, diff) = lab.diff();
    assert!(!changed, "the default action differs from the baseline");
    assert_eq!(diff["changed"][0]["kind"], "default_action_policy");
    assert_eq!(
        api.rest(
            Method::PUT,
            "microseg/default-action-policy",
            Some(json!({"action": "PERMIT", "logging": false, "log_profile": ""}))
        )
        .await
        .0,
        200
    );
    let (clean, diff) = lab.diff();
    assert!(clean, "everything was put back: {diff}");

    // DCF's deployment policy: the defaults, a chosen list, never an empty one.
    let (_, deploy) = api.rest(Method::GET, "microseg/deploy-policy", None).await;
    assert!(deploy["providers"].as_array().unwrap().contains(&json!("AZURE")));
    let (status, _) =
        api.rest(Method::POST, "microseg/deploy-policy", Some(json!({"providers": [], "set_defaults": false}))).await;
    assert_eq!(status, 400);
    let (status, _) = api
        .rest(Method::POST, "microseg/deploy-policy", Some(json!({"providers": ["AWS"], "set_defaults": false})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(api.rest(Method::GET, "microseg/deploy-policy", None).await.1["providers"], json!(["AWS"]));
}

#[tokio::test]
async fn k8s_clusters_need_the_k8s_feature_and_never_echo_the_kubeconfig() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let body = json!({"cluster_id": "arn:aws:eks:us-east-1:123456789012:cluster/mcp", "credential": {"use_csp_credentials": false, "kube_config": "apiVersion: v1\nkind: Config\n"}});
    let (status, refused) = api.rest(Method::POST, "k8s/clusters", Some(body.clone())).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(api.json_action(json!({"action": "enable_controller_feature", "feature": "k8s"})).await["return"], true);
    let (status, created) = api.rest(Method::POST, "k8s/clusters", Some(body.clone())).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(api.rest(Method::POST, "k8s/clusters", Some(body)).await.0, 400, "the same cluster_id twice");
    let (status, read) = api.rest(Method::GET, &format!("k8s/clusters/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(read["cluster_id"], "arn:aws:eks:us-east-1:123456789012:cluster/mcp");
    assert!(read["credential"].get("kube_config").is_none());
    assert!(!lab.inventory().to_string().contains("kind: Config"), "the inventory leaks the kubeconfig");
    assert_eq!(api.rest(Method::DELETE, &format!("k8s/clusters/{id}"), None).await.0, 200);
    let (status, gone) = api.rest(Method::GET, &format!("k8s/clusters/{id}"), None).await;
    assert_eq!(status, 404);
    assert!(gone["message"].as_str().unwrap().contains("does not exist"));
}

#[tokio::test]
async fn remote_syslog_profiles_keep_index_nine_for_copilot() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let enabled = api
        .action(
            "enable_remote_syslog_logging",
            &[("index", "0"), ("server", "127.0.0.1"), ("port", "5000"), ("protocol", "UDP"), ("name", "pep")],
        )
        .await;
    assert_eq!(enabled["return"], true, "{enabled}");
    let status = api.action("get_remote_syslog_logging_status", &[("index", "0")]).await;
    assert_eq!(
        (status["results"]["server"].as_str(), status["results"]["port"].as_u64()),
        (Some("127.0.0.1"), Some(5000))
    );
    assert_eq!(
        api.action("enable_remote_syslog_logging", &[("index", "9"), ("server", "x"), ("port", "1")]).await["return"],
        false
    );
    assert_eq!(objects(&lab.inventory(), "controller", "syslog_profile").len(), 1);
    assert_eq!(api.action("disable_remote_syslog_logging", &[("index", "0")]).await["return"], true);
    assert!(objects(&lab.inventory(), "controller", "syslog_profile").is_empty());
}

#[tokio::test]
async fn controller_faults_are_seen_by_a_client() {
    let lab = Lab::up(&["--task-ms", "300"]);
    let api = ControllerApi::login(&lab).await;

    lab.fault("controller", "server-error", "1", "0");
    let response = api
        .http
        .post(format!("{}/v2/api", api.url))
        .form(&[("action", "list_accounts"), ("CID", &api.cid)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("502 Bad Gateway"));
    lab.fault("controller", "server-error", "0", "0");

    lab.fault("controller", "slow", "1", "700");
    let started = Instant::now();
    assert_eq!(api.action("list_accounts", &[]).await["return"], true);
    assert!(started.elapsed() >= Duration::from_millis(700));
    lab.fault("controller", "slow", "0", "0");

    lab.fault("controller", "expired-session", "1", "0");
    assert!(api.action("list_accounts", &[]).await["reason"].as_str().unwrap().contains("CID is invalid"));
    lab.fault("controller", "expired-session", "0", "0");
    // The session the fault ended stays ended; a new login works.
    assert_eq!(api.action("list_accounts", &[]).await["return"], false);
    let api = ControllerApi::login(&lab).await;

    // An async action answers a request id at once; its failure shows through check_task_status.
    let unknown = api.action("delete_container", &[("cloud_type", "1"), ("gw_name", "nope"), ("async", "true")]).await;
    assert_eq!(unknown["return"], true, "an async action answers a request id: {unknown}");
    let (done, _) = api.wait_task(unknown["results"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(done["return"], false);
    assert!(done["reason"].as_str().unwrap().contains("does not exist"), "{done}");

    lab.fault("controller", "task-stuck", "1", "0");
    let create = create_aws_gateway(&lab, &api, "stuck-gw").await;
    let id = create["results"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let still = api.action("check_task_status", &[("request_id", &id)]).await;
    assert_eq!((still["return"].clone(), still["reason"].clone()), (json!(false), json!("REQUEST_IN_PROGRESS")));
    lab.fault("controller", "task-stuck", "0", "0");

    lab.fault("controller", "task-failed", "1", "0");
    let create = create_aws_gateway(&lab, &api, "failed-gw").await;
    let (failed, _) = api.wait_task(create["results"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(failed["return"], false);
    assert_ne!(failed["reason"], "REQUEST_IN_PROGRESS");
    lab.fault("controller", "task-failed", "0", "0");
    let listed = api.action("list_vpcs_summary", &[("gateway_name", "failed-gw")]).await;
    assert_eq!(listed["return"], false, "a failed create leaves no gateway: {listed}");

    lab.fault("controller", "slow-task", "1", "1500");
    let create = create_aws_gateway(&lab, &api, "slow-gw").await;
    let started = Instant::now();
    let (done, pending) = api.wait_task(create["results"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(done["return"], true, "{done}");
    assert_eq!(done["results"], "Successfully created Gateway slow-gw.");
    assert!(
        pending >= 2 && started.elapsed() >= Duration::from_millis(1500),
        "{pending} polls in {:?}",
        started.elapsed()
    );

    // Unsupported kinds are refused with the list of supported ones.
    let output = lab.cli(&["fault", "--target", "controller", "--kind", "throttle", "--rate", "1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("supports"));
}

async fn create_aws_gateway(lab: &Lab, api: &ControllerApi, name: &str) -> Value {
    let reply = api.create_aws_gateway(lab, name, "t3.medium", &[("enable_nat", "yes"), ("async", "true")]).await;
    assert_eq!(reply["return"], true, "{reply}");
    assert_eq!(reply["gw_name"], name, "extra output keys ride at top level");
    reply
}

#[tokio::test]
async fn the_remaining_envelopes_gateway_info_v1_policy_list_log_profiles_and_updates() {
    let lab = Lab::up(&["--task-ms", "100"]);
    let api = ControllerApi::login(&lab).await;

    // Without async=true the action answers with its outcome directly.
    let created = api.create_aws_gateway(&lab, "info-gw", "t3.small", &[]).await;
    assert_eq!(created["results"], "Successfully created Gateway info-gw.", "{created}");
    let info = api.action("get_gateway_info", &[("gateway_name", "info-gw")]).await;
    assert_eq!(info["return"], true);
    assert_eq!(info["results"]["vpc_name"], "info-gw");
    assert_eq!(info["results"]["enable_nat"], "no", "SNAT was not asked for");
    let summary = api.action("list_vpcs_summary", &[]).await;
    assert_eq!(summary["results"].as_array().unwrap().len(), 1);
    assert_eq!(summary["results"][0]["single_az_ha"], "yes", "10.1 enables Single-AZ HA unless told otherwise");
    let missing = api.action("get_gateway_info", &[("gateway_name", "nope")]).await;
    assert!(missing["reason"].as_str().unwrap().contains("does not exist"));
    let bad_subnet = api
        .action(
            "create_multicloud_primary_gateway",
            &[
                ("cloud_type", "1"),
                ("account_name", "lab-aws"),
                ("gw_name", "wrong-subnet"),
                ("gw_size", "t3.small"),
                ("vpc_id", &lab.var("LAB_AWS_VPC_ID")),
                ("vpc_region", &lab.var("AWS_REGION")),
                ("gw_subnet", "10.10.77.0/24"),
            ],
        )
        .await;
    assert_eq!(bad_subnet["return"], false);
    assert!(bad_subnet["reason"].as_str().unwrap().contains("no subnet with CIDR"), "{bad_subnet}");

    // Disabling a flag.
    assert_eq!(
        api.json_action(json!({"action": "enable_controller_feature", "feature": "microseg"})).await["return"],
        true
    );
    assert_eq!(
        api.json_action(json!({"action": "disable_controller_feature", "feature": "microseg"})).await["return"],
        true
    );
    let flag = api.json_action(json!({"action": "get_controller_feature", "feature": "microseg"})).await;
    assert_eq!(flag["results"]["enabled"], false);

    // The V1 list: PUT replaces it, GET includes the system entry, DELETE clears ours.
    let anywhere = "def000ad-0000-0000-0000-000000000000";
    let rule = json!({"name": "allow-all", "action": "PERMIT", "priority": 10, "protocol": "PROTOCOL_UNSPECIFIED", "src_ads": [anywhere], "dst_ads": [anywhere], "logging": false});
    assert_eq!(api.rest(Method::PUT, "microseg/policy-list", Some(json!({"policies": [rule]}))).await.0, 200);
    let (_, list) = api.rest(Method::GET, "microseg/policy-list", None).await;
    let policies = list["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    assert!(policies.iter().any(|p| p["system_resource"] == true));
    assert!(policies.iter().any(|p| p["name"] == "allow-all" && p["uuid"].is_string()));
    assert_eq!(api.rest(Method::DELETE, "microseg/policy-list", None).await.0, 200);
    assert_eq!(api.rest(Method::GET, "microseg/policy-list", None).await.1["policies"].as_array().unwrap().len(), 1);

    let (status, profile) = api.rest(Method::GET, "dcf/log-profile?profile_name=start/end", None).await;
    assert_eq!(status, 200);
    assert_eq!(profile["profile_id"], "def000ad-7000-0000-0000-000000000003");
    assert_eq!((profile["session_start"].clone(), profile["session_end"].clone()), (json!(true), json!(true)));

    // Updates: an app-domain PUT, a ruleset list, a cluster PUT and list.
    let (_, created) = api
        .rest(
            Method::POST,
            "app-domains",
            Some(json!({"name": "nodes", "selector": {"any": [{"all": {"cidr": "10.10.1.0/24"}}]}})),
        )
        .await;
    let uuid = created["uuid"].as_str().unwrap().to_string();
    let renamed = json!({"name": "nodes-ab", "selector": {"any": [{"all": {"cidr": "10.10.1.0/24"}}, {"all": {"cidr": "10.10.2.0/24"}}]}});
    assert_eq!(api.rest(Method::PUT, &format!("app-domains/{uuid}"), Some(renamed)).await.0, 200);
    let (_, read) = api.rest(Method::GET, &format!("app-domains/{uuid}"), None).await;
    assert_eq!(read["name"], "nodes-ab");
    assert_eq!(read["selector"]["any"].as_array().unwrap().len(), 2, "the selector round-trips as sent");
    let (status, lists) = api.rest(Method::GET, "microseg/policy-list3", None).await;
    assert_eq!((status, lists["policy_lists"].as_array().map(Vec::len)), (200, Some(0)));
    assert_eq!(api.json_action(json!({"action": "enable_controller_feature", "feature": "k8s"})).await["return"], true);
    let cluster = json!({"cluster_id": "self-managed-1", "credential": {"use_csp_credentials": true},
                         "resource": {"name": "c1", "network_mode": "FLAT", "platform": "kubeadm"}});
    let (_, made) = api.rest(Method::POST, "k8s/clusters", Some(cluster.clone())).await;
    let id = made["id"].as_str().unwrap().to_string();
    let mut changed = cluster.clone();
    changed["resource"]["network_mode"] = json!("OVERLAY");
    assert_eq!(api.rest(Method::PUT, &format!("k8s/clusters/{id}"), Some(changed.clone())).await.0, 200);
    changed["resource"]["network_mode"] = json!("MESH");
    assert_eq!(api.rest(Method::PUT, &format!("k8s/clusters/{id}"), Some(changed)).await.0, 400);
    let (_, all) = api.rest(Method::GET, "k8s/clusters", None).await;
    assert_eq!(all["clusters"][0]["resource"]["network_mode"], "OVERLAY");
}
