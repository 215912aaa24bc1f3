//! Data source `aviatrix_mcp_egress_verdict` through the real terraform CLI against the lab: the lab's EKS
//! cluster onboarded with `aviatrix_mcp_egress_cluster`, a tier-1 ruleset attached at
//! TERRAFORM_BEFORE_UI_MANAGED and a tier-3 default deny at TERRAFORM_AFTER_K8S_MANAGED written straight into
//! the controller, and a FirewallPolicy that the controller reconciles into a Kubernetes-managed ruleset.
//! `check` blocks and a `terraform test` file then assert which tier and rule decide each pod's attempt, from
//! that live state alone; a missing pod and a bad host are errors on their attribute.

mod common;
mod lab_kube;

use std::future::Future;
use std::time::{Duration, Instant};

use common::lab::{ControllerApi, Lab};
use common::steps::{Case, Step};
use common::terraform::{config, Workspace};
use lab_kube::Kube;
use reqwest::Method;
use serde_json::{json, Value};

const NS: &str = "obot-mcp";
const PUBLIC_INTERNET: &str = "def000ad-0000-0000-0000-000000000001";
const ANYWHERE: &str = "def000ad-0000-0000-0000-000000000000";
const FIREWALL_POLICY: &str =
    "/apis/networking.aviatrix.com/v1alpha1/namespaces/obot-mcp/firewallpolicies/obot-healthcare-fw";

fn block<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

async fn rest(api: &ControllerApi, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = api.rest(method.clone(), path, body).await;
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

async fn attachment_point(api: &ControllerApi, name: &str) -> String {
    let points = rest(api, Method::GET, &format!("microseg/attachment-points?name={name}"), None).await;
    points[0]["attachment_point_id"].as_str().unwrap().to_string()
}

async fn create(api: &ControllerApi, path: &str, body: Value) -> String {
    rest(api, Method::POST, path, Some(body)).await["uuid"].as_str().unwrap().to_string()
}

/// Tier 1 and tier 3 for the MCP namespace, as the policy resource will write them: a SmartGroup of the
/// namespace's pods, a registry WebGroup, a permit ruleset at TERRAFORM_BEFORE_UI_MANAGED and a default
/// deny at TERRAFORM_AFTER_K8S_MANAGED.
async fn write_tiers_1_and_3(lab: &Lab) {
    let api = ControllerApi::login(lab).await;
    let cluster = lab.var("LAB_EKS_CLUSTER_ID");
    let namespace = create(
        &api,
        "app-domains",
        json!({"name": "mcp-namespace", "selector": {"any": [{"all": {"type": "k8s", "k8s_cluster_id": cluster, "k8s_namespace": NS}}]}}),
    )
    .await;
    let registries = create(
        &api,
        "app-domains",
        json!({"name": "tier1-registries", "selector": {"any": [{"all": {"snifilter": "registry.npmjs.org"}}, {"all": {"snifilter": "*.dkr.ecr.*.amazonaws.com"}}]}}),
    )
    .await;
    let before = attachment_point(&api, "TERRAFORM_BEFORE_UI_MANAGED").await;
    let after = attachment_point(&api, "TERRAFORM_AFTER_K8S_MANAGED").await;
    create(
        &api,
        "microseg/policy-list3",
        json!({"name": "mcp-egress-tier1", "attach_to": before, "policies": [
        {"name": "tier1-registry", "action": "PERMIT", "priority": 10, "protocol": "TCP", "port_ranges": [{"lo": 443}],
         "src_ads": [namespace], "dst_ads": [PUBLIC_INTERNET], "web_filters": [registries], "logging": false}]}),
    )
    .await;
    create(
        &api,
        "microseg/policy-list3",
        json!({"name": "mcp-egress-tier3", "attach_to": after, "policies": [
        {"name": "tier3-default-deny", "action": "DENY", "priority": 10, "protocol": "PROTOCOL_UNSPECIFIED",
         "src_ads": [namespace], "dst_ads": [ANYWHERE], "logging": true}]}),
    )
    .await;
}

/// The MCP namespace (beside the FirewallPolicy CRD the lab's cluster has), two MCP server pods and healthcare-mcp's FirewallPolicy (tier
/// 2: api.ehr.example.com on 443), which the controller reconciles once the cluster is onboarded.
async fn write_cluster_objects(lab: &Lab) {
    let kube = Kube::from_lab(lab);
    kube.install_firewall_policy_crd_and_namespace().await;
    for (pod, app) in [("healthcare-mcp-0", "healthcare-mcp"), ("search-mcp-0", "search-mcp")] {
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": NS, "labels": {"app": app}},
                          "spec": {"containers": [{"name": "server", "image": "ghcr.io/example/mcp:1"}]}});
        let (status, answer) = kube.send(Method::POST, &format!("/api/v1/namespaces/{NS}/pods"), Some(body)).await;
        assert_eq!(status, 201, "{answer}");
    }
    let policy = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
        "metadata": {"name": "obot-healthcare-fw", "namespace": NS},
        "spec": {
            "smartGroups": [{"name": "any-destination", "selectors": [{"cidr": "0.0.0.0/0"}]}],
            "webGroups": [{"name": "healthcare-approved", "domains": ["api.ehr.example.com"]}],
            "rules": [{"name": "tier2-healthcare-mcp", "action": "permit", "protocol": "tcp", "port": 443, "logging": true,
                       "selector": {"matchLabels": {"app": "healthcare-mcp"}},
                       "destinationSmartGroups": [{"name": "any-destination"}], "webGroups": [{"name": "healthcare-approved"}]}]}});
    let (status, answer) = kube.send(Method::POST, FIREWALL_POLICY.rsplit_once('/').unwrap().0, Some(policy)).await;
    assert_eq!(status, 201, "{answer}");
}

/// Waits until the controller has reconciled the FirewallPolicy (its status names the ruleset it made).
async fn wait_reconciled(lab: &Lab) {
    let kube = Kube::from_lab(lab);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, policy) = kube.send(Method::GET, FIREWALL_POLICY, None).await;
        if policy["status"]["lastReconciledGeneration"] == policy["metadata"]["generation"]
            && policy["status"]["ruleset"].is_string()
        {
            return;
        }
        assert!(Instant::now() < deadline, "the controller did not reconcile the FirewallPolicy: {policy}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Takes away everything the test wrote behind Terraform's back, so the case ends with the lab at its
/// baseline: the FirewallPolicy first (the controller removes the ruleset and groups it made while the
/// cluster is still onboarded), then the rulesets and groups and the namespace (the FirewallPolicy CRD is
/// part of the lab cluster's baseline).
async fn remove_what_the_test_wrote(lab: &Lab) {
    let api = ControllerApi::login(lab).await;
    let kube = Kube::from_lab(lab);
    assert_eq!(kube.send(Method::DELETE, FIREWALL_POLICY, None).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lists = rest(&api, Method::GET, "microseg/policy-list3", None).await;
        let left =
            lists["policy_lists"].as_array().unwrap().iter().any(|l| l["name"].as_str().unwrap().starts_with("k8s-"));
        if !left {
            break;
        }
        assert!(Instant::now() < deadline, "the controller kept the FirewallPolicy's ruleset: {lists}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lists = rest(&api, Method::GET, "microseg/policy-list3", None).await;
    for list in lists["policy_lists"].as_array().unwrap() {
        rest(&api, Method::DELETE, &format!("microseg/policy-list3/{}", list["uuid"].as_str().unwrap()), None).await;
    }
    let domains = rest(&api, Method::GET, "app-domains", None).await;
    for domain in domains["app_domains"].as_array().unwrap() {
        if ["mcp-namespace", "tier1-registries"].contains(&domain["name"].as_str().unwrap()) {
            rest(&api, Method::DELETE, &format!("app-domains/{}", domain["uuid"].as_str().unwrap()), None).await;
        }
    }
    assert_eq!(kube.send(Method::DELETE, &format!("/api/v1/namespaces/{NS}"), None).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kube.send(Method::GET, &format!("/api/v1/namespaces/{NS}"), None).await.0 != 404 {
        assert!(Instant::now() < deadline, "namespace {NS} was not removed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const CLUSTER: &str = r#"
variable "eks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_cluster" "eks" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}
"#;

/// The verdicts the cases ask for, against the cluster resource (`cluster`) or a variable (`terraform test`).
fn verdicts(cluster: &str) -> String {
    let one = |name: &str, who: &str, host: &str| {
        format!("data \"aviatrix_mcp_egress_verdict\" \"{name}\" {{\n  cluster   = {cluster}\n  namespace = \"{NS}\"\n  {who}\n  host      = \"{host}\"\n}}\n")
    };
    [
        one("ehr", "pod = \"healthcare-mcp-0\"", "api.ehr.example.com"),
        one("registry", "pod = \"healthcare-mcp-0\"", "registry.npmjs.org"),
        one("exfil", "pod = \"healthcare-mcp-0\"", "exfil.attacker.io"),
        one("search_ehr", "pod = \"search-mcp-0\"", "api.ehr.example.com"),
        one("planned_ehr", "pod_labels = { app = \"healthcare-mcp\" }", "API.EHR.Example.COM."),
        one("planned_search_ehr", "pod_labels = { app = \"search-mcp\" }", "api.ehr.example.com"),
    ]
    .join("\n")
}

/// `check` blocks: each asserts action, tier and rule of one verdict.
fn checks(expected: &[(&str, &str, u8, &str)]) -> String {
    expected
        .iter()
        .map(|(name, action, tier, rule)| {
            let v = format!("data.aviatrix_mcp_egress_verdict.{name}");
            format!(
                "check \"{name}\" {{\n  assert {{\n    condition     = {v}.action == \"{action}\" && {v}.tier == {tier} && {v}.rule == \"{rule}\"\n    error_message = \"{name}: ${{{v}.action}} by tier ${{{v}.tier}} rule ${{{v}.rule}} (${{{v}.reason}})\"\n  }}\n}}\n"
            )
        })
        .collect()
}

const EXPECTED: [(&str, &str, u8, &str); 6] = [
    ("ehr", "permit", 2, "tier2-healthcare-mcp"),
    ("registry", "permit", 1, "tier1-registry"),
    ("exfil", "drop", 3, "tier3-default-deny"),
    ("search_ehr", "drop", 3, "tier3-default-deny"),
    ("planned_ehr", "permit", 2, "tier2-healthcare-mcp"),
    ("planned_search_ehr", "drop", 3, "tier3-default-deny"),
];

/// The `terraform test` file: the same verdicts asserted in `run` blocks.
fn test_file(expected: &[(&str, &str, u8, &str)]) -> String {
    let asserts: String = expected
        .iter()
        .map(|(name, action, tier, rule)| {
            let v = format!("data.aviatrix_mcp_egress_verdict.{name}");
            format!(
                "  assert {{\n    condition     = {v}.action == \"{action}\" && {v}.tier == {tier} && {v}.rule == \"{rule}\"\n    error_message = \"{name}: ${{{v}.action}} by tier ${{{v}.tier}} rule ${{{v}.rule}}\"\n  }}\n"
            )
        })
        .collect();
    format!("run \"tiers\" {{\n  command = plan\n{asserts}}}\n")
}

fn ds(name: &str) -> String {
    format!("data.aviatrix_mcp_egress_verdict.{name}")
}

/// A workspace of its own holding only the verdicts, against the onboarded cluster's ID (the input variable
/// `cluster`, given as the returned `-var`), with `outputs` added.
fn verdicts_workspace(lab: &Lab, outputs: &str) -> (Workspace, String) {
    let id = block(async {
        let api = ControllerApi::login(lab).await;
        let clusters = rest(&api, Method::GET, "k8s/clusters", None).await;
        clusters["clusters"][0]["id"].as_str().unwrap().to_string()
    });
    let main_tf = format!("variable \"cluster\" {{ type = string }}\n{}\n{outputs}", verdicts("var.cluster"));
    (Workspace::for_lab(lab, &config(&main_tf)), format!("-var=cluster={id}"))
}

/// While the controller does not reconcile, a changed FirewallPolicy is not enforced: the verdict no longer
/// counts its ruleset and says why; once the controller catches up, tier 2 permits again.
fn unreconciled_policy(lab: &Lab) {
    let flag = |action: &str| {
        block(async {
            let api = ControllerApi::login(lab).await;
            let reply = api.json_action(json!({"action": action, "feature": "k8s_dcf_policies"})).await;
            assert_eq!(reply["return"], true, "{action}: {reply}");
        })
    };
    flag("disable_controller_feature");
    block(async {
        let kube = Kube::from_lab(lab);
        let change = json!({"spec": {"webGroups": [{"name": "healthcare-approved", "domains": ["api.ehr.example.com", "files.ehr.example.com"]}]}});
        let (status, policy) = kube.send_patch(FIREWALL_POLICY, change).await;
        assert_eq!((status, &policy["metadata"]["generation"]), (200, &json!(2)), "{policy}");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (_, policy) = kube.send(Method::GET, FIREWALL_POLICY, None).await;
        assert_eq!(
            policy["status"]["lastReconciledGeneration"], 1,
            "the controller reconciled with the flag off: {policy}"
        );
    });
    let output = "output \"ehr\" { value = data.aviatrix_mcp_egress_verdict.ehr }\n";
    let (ws, var) = verdicts_workspace(lab, output);
    let run = ws.run(&["apply", "-auto-approve", "-no-color", &var]);
    assert_eq!(run.code, 0, "{}", run.describe(0));
    let ehr = ws.outputs()["ehr"]["value"].clone();
    assert_eq!(
        (&ehr["action"], &ehr["tier"], &ehr["rule"]),
        (&json!("drop"), &json!(3), &json!("tier3-default-deny")),
        "{ehr}"
    );
    let reason = ehr["reason"].as_str().unwrap();
    assert!(
        reason.contains("FirewallPolicy obot-mcp/obot-healthcare-fw is not reconciled yet (generation 2, the controller has generation 1), so its rules are not enforced"),
        "{reason}"
    );
    flag("enable_controller_feature");
    block(wait_reconciled(lab));
    let run = ws.run(&["apply", "-auto-approve", "-no-color", &var]);
    assert_eq!(run.code, 0, "{}", run.describe(0));
    let ehr = ws.outputs()["ehr"]["value"].clone();
    assert_eq!((&ehr["tier"], &ehr["rule"]), (&json!(2), &json!("tier2-healthcare-mcp")), "{ehr}");
    assert!(!ehr["reason"].as_str().unwrap().contains("not reconciled"), "{ehr}");
}

/// `terraform test` in a workspace of its own holding only the verdicts, with the onboarded cluster's ID as
/// a variable: the passing file passes, and one asserting a permit the live policy does not give fails.
fn terraform_test(lab: &Lab) {
    let (ws, var) = verdicts_workspace(lab, "");
    ws.write("verdict.tftest.hcl", &test_file(&EXPECTED));
    let passed = ws.run(&["test", "-no-color", &var]);
    assert_eq!(passed.code, 0, "terraform test: {}", passed.describe(0));
    assert!(passed.stdout.contains("Success! 1 passed, 0 failed."), "{}", passed.stdout);

    std::fs::remove_file(ws.path().join("verdict.tftest.hcl")).unwrap();
    ws.write("wrong.tftest.hcl", &test_file(&[("search_ehr", "permit", 2, "tier2-healthcare-mcp")]));
    let failed = ws.run(&["test", "-no-color", &var]);
    assert_eq!(failed.code, 1, "a wrong assertion must fail: {}", failed.describe(1));
    assert!(
        format!("{}{}", failed.stdout, failed.stderr).contains("search_ehr: drop by tier 3 rule tier3-default-deny"),
        "{}",
        failed.describe(1)
    );
}

#[test]
fn verdicts_show_the_tier_and_rule_that_decide_from_live_state() {
    let cluster = config(CLUSTER);
    let with_verdicts =
        config(&format!("{CLUSTER}\n{}\n{}", verdicts("aviatrix_mcp_egress_cluster.eks.id"), checks(&EXPECTED)));
    // A check that asserts what the live policy does not do must warn: the checks are evaluated.
    let wrong_check = config(&format!(
        "{CLUSTER}\n{}\n{}",
        verdicts("aviatrix_mcp_egress_cluster.eks.id"),
        checks(&[("search_ehr", "permit", 2, "tier2-healthcare-mcp")])
    ));
    let one = |who: &str, host: &str| {
        config(&format!(
            "{CLUSTER}\ndata \"aviatrix_mcp_egress_verdict\" \"one\" {{\n  cluster   = aviatrix_mcp_egress_cluster.eks.id\n  namespace = \"{NS}\"\n  {who}\n  host      = \"{host}\"\n}}\n"
        ))
    };
    Case::new("verdicts over the lab's three tiers")
        .needs_terraform(1, 7, "check blocks and terraform test with command = plan")
        .step(Step::outside("tiers 1 and 3 on the controller; pods and a FirewallPolicy in the cluster", |lab| {
            block(async {
                write_tiers_1_and_3(lab).await;
                write_cluster_objects(lab).await;
            })
        }))
        .step(Step::apply(&cluster))
        .step(Step::outside("the controller reconciles the FirewallPolicy", |lab| block(wait_reconciled(lab))))
        .step(
            Step::apply(&with_verdicts)
                .expect_no_warnings()
                .expect_attr(&ds("ehr"), "ruleset", json!("k8s-obot-mcp-obot-healthcare-fw"))
                .expect_attr(&ds("ehr"), "logged", json!(true))
                .expect_attr(&ds("ehr"), "port", json!(443))
                .expect_attr(&ds("ehr"), "protocol", json!("tcp"))
                .expect_attr_set(&ds("ehr"), "pod_ip")
                .expect_attr_set(&ds("ehr"), "rule_uuid")
                .expect_attr(&ds("registry"), "ruleset", json!("mcp-egress-tier1"))
                .expect_attr(&ds("exfil"), "action", json!("drop"))
                .expect_attr(&ds("exfil"), "tier", json!(3))
                .expect_attr(&ds("exfil"), "rule", json!("tier3-default-deny"))
                .expect_attr(&ds("exfil"), "logged", json!(true))
                .expect_attr(&ds("search_ehr"), "rule", json!("tier3-default-deny"))
                .expect_attr(&ds("planned_ehr"), "pod_ip", json!(null))
                .expect_attr(&ds("planned_ehr"), "rule", json!("tier2-healthcare-mcp")),
        )
        .step(Step::apply(&wrong_check).expect_warning(
            r"Check block assertion failed: search_ehr: drop by tier 3 rule tier3-default-deny \(rule tier3-default-deny",
        ))
        .step(Step::outside("terraform test asserts the same verdicts", terraform_test))
        .step(Step::outside("a FirewallPolicy changes while the controller does not reconcile", unreconciled_policy))
        .step(
            Step::plan(&one("pod = \"ghost-mcp-0\"", "api.ehr.example.com"))
                .expect_error(r#"No such pod: pod = "ghost-mcp-0": there is no pod ghost-mcp-0 in namespace obot-mcp of cluster arn:aws:eks:"#)
                .highlighting("\"ghost-mcp-0\""),
        )
        .step(
            Step::plan(&one("pod = \"healthcare-mcp-0\"", "exfil.attacker.io:443"))
                .expect_error(r#"Invalid host: host = "exfil.attacker.io:443" is not a host name\. Accepted: a host name"#)
                .highlighting("\"exfil.attacker.io:443\""),
        )
        .step(
            Step::plan(&one("pod = \"healthcare-mcp-0\"\n  pod_labels = { app = \"x\" }", "api.ehr.example.com"))
                .expect_error("pod and pod_labels are both set; give exactly one of them"),
        )
        .step(Step::apply(&cluster))
        .step(Step::outside("the test's own objects are removed", |lab| block(remove_what_the_test_wrote(lab))))
        .run();
}
