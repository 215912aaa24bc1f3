//! The seed's kill chain, played through the real terraform CLI against the lab with the containment example
//! as it stands: the fabric, a policy with a tier-1 registry permit, `healthcare-mcp` permitted
//! `api.ehr.example.com`, and a second server. A pod `healthcare-mcp-7f4d9c` applied with kubectl gets permit
//! (tier 2) for its domain, permit (tier 1) for the registry, and drop by `tier3-default-deny` for
//! `exfil.attacker.io:443`; the second server's pod cannot use the first one's permit; the drop reaches a
//! syslog listener the test runs; the example's `check` blocks pass and a `terraform test` file asserts the
//! same; removing the server from the configuration deletes its FirewallPolicy and the next attempt drops;
//! destroy leaves the lab at its baseline. Then two stacks on one controller: destroying one leaves the
//! other's verdicts as they were.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::cluster::{decide, kubectl_ok, run_pod};
use common::lab::Lab;
use common::terraform::{Run, Workspace};
use common::tools::{repo_root, text};
use serde_json::Value;

const POD: &str = "healthcare-mcp-7f4d9c";
const OTHER_POD: &str = "search-mcp-5b8c21";
const NAMESPACE: &str = "obot-mcp";

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `mcp-egress-lab attempt`: the decision as JSON, and the printed line.
fn attempt(lab: &Lab, pod: &str, dst: &str) -> (Value, String) {
    let line = lab.cli(&["attempt", "--pod", pod, "--dst", dst]);
    assert!(line.status.success(), "attempt {pod} {dst}: {}", text(&line));
    let json = lab.cli(&["attempt", "--pod", pod, "--dst", dst, "--json"]);
    assert!(json.status.success(), "attempt --json {pod} {dst}: {}", text(&json));
    let decision: Value = serde_json::from_slice(&json.stdout).expect("attempt --json prints JSON");
    (decision, String::from_utf8_lossy(&line.stdout).trim().to_string())
}

fn verdict(action: &str, tier: u64, rule: &str) -> (String, u64, String) {
    (action.to_string(), tier, rule.to_string())
}

fn workspace(lab: &Lab, main_tf: &str) -> Workspace {
    let mut ws = Workspace::new(main_tf);
    for (name, value) in &lab.env {
        ws.set_env(name, value);
    }
    ws
}

fn ok(run: Run, what: &str) -> Run {
    let run = run.expect_code(0, what);
    assert!(!run.stdout.contains("Check block assertion failed"), "{what}: a check failed:\n{}", run.stdout);
    assert!(!run.stdout.contains("Warning: Check"), "{what}: a check warned:\n{}", run.stdout);
    run
}

#[test]
fn the_kill_chain_is_blocked_logged_and_cleaned_up() {
    let lab = Lab::up(&[]);
    let siem = UdpSocket::bind("127.0.0.1:0").unwrap();
    siem.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let siem_port = siem.local_addr().unwrap().port().to_string();

    kubectl_ok(&lab, &["create", "namespace", NAMESPACE], None);
    let mut ws = workspace(&lab, &read("examples/containment-aws/main.tf"));
    ws.set_env("TF_VAR_mcp_namespace", NAMESPACE);
    ws.set_env("TF_VAR_syslog_server", "127.0.0.1");
    ws.set_env("TF_VAR_syslog_port", &siem_port);

    // Stage 2: the servers run. Obot's pods are there before (or after) the permits; either way is contained.
    run_pod(&lab, NAMESPACE, POD, "healthcare-mcp");
    run_pod(&lab, NAMESPACE, OTHER_POD, "search-mcp");
    ok(ws.run(&["apply", "-auto-approve"]), "the containment example applies with its checks passing");
    ok(ws.run(&["plan", "-detailed-exitcode"]), "and re-plans empty");

    let policies = kubectl_ok(&lab, &["get", "firewallpolicy", "-n", NAMESPACE, "-o", "json"], None);
    let policies: Value = serde_json::from_str(&policies).unwrap();
    let names: Vec<&str> =
        policies["items"].as_array().unwrap().iter().filter_map(|p| p["metadata"]["name"].as_str()).collect();
    assert_eq!(names.len(), 2, "one FirewallPolicy per server: {names:?}");

    // Stage 4: the call the server is for, the registry, and the exfiltration.
    let pod = format!("{NAMESPACE}/{POD}");
    assert_eq!(decide(&lab, &pod, "api.ehr.example.com:443"), verdict("permit", 2, "tier2-healthcare-mcp"));
    assert_eq!(decide(&lab, &pod, "registry.npmjs.org:443"), verdict("permit", 1, "tier1-registry"));
    let (drop, line) = attempt(&lab, &pod, "exfil.attacker.io:443");
    assert_eq!((drop["action"].as_str(), drop["tier"].as_u64()), (Some("drop"), Some(3)), "{drop}");
    let shape = regex::Regex::new(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z action=drop rule=tier3-default-deny pod=healthcare-mcp-7f4d9c dst=exfil.attacker.io port=443 tier=3$",
    )
    .unwrap();
    assert!(shape.is_match(&line), "the drop line: {line}");
    // One server's permit is not another's.
    let other = format!("{NAMESPACE}/{OTHER_POD}");
    assert_eq!(decide(&lab, &other, "api.ehr.example.com:443"), verdict("drop", 3, "tier3-default-deny"));
    assert_eq!(decide(&lab, &other, "api.search.example.com:443"), verdict("permit", 2, "tier2-search-mcp"));
    let missing = lab.cli(&["attempt", "--pod", &format!("{NAMESPACE}/no-such-pod"), "--dst", "example.com:443"]);
    assert!(!missing.status.success() && text(&missing).contains("no-such-pod"), "{}", text(&missing));

    // Stage 5: the drop reached the SIEM with the pod, the domain, the port and the rule.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut received = Vec::new();
    while Instant::now() < deadline && !received.iter().any(|l: &String| l.contains("exfil.attacker.io")) {
        let mut buf = [0u8; 65536];
        if let Ok((n, _)) = siem.recv_from(&mut buf) {
            received.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    let exfil = received
        .iter()
        .find(|l| l.contains("exfil.attacker.io"))
        .unwrap_or_else(|| panic!("no syslog message for the exfiltration reached the listener; got {received:?}"));
    for needle in [POD, "tier3-default-deny", "443", "traffic_server"] {
        assert!(exfil.contains(needle), "syslog message lacks {needle}: {exfil}");
    }

    // The same facts through `terraform test`, in a root of verdict data sources only.
    let cluster = ws.outputs()["cluster"]["value"].as_str().unwrap().to_string();
    let mut verdicts = workspace(&lab, &read("acceptance-tests/tests/terraform/kill-chain/main.tf"));
    verdicts.write("kill_chain.tftest.hcl", &read("acceptance-tests/tests/terraform/kill-chain/kill_chain.tftest.hcl"));
    verdicts.set_env("TF_VAR_cluster", &cluster);
    verdicts.set_env("TF_VAR_namespace", NAMESPACE);
    verdicts.run(&["init", "-backend=false"]);
    let tested = verdicts.run(&["test"]);
    assert!(tested.code == 0 && tested.stdout.contains("1 passed, 0 failed"), "terraform test: {}", tested.describe(0));

    // The server leaves the configuration: its FirewallPolicy goes, and with it the permit.
    ws.set_env("TF_VAR_mcp_servers", r#"{"search-mcp": {"domains": ["api.search.example.com"]}}"#);
    ok(ws.run(&["apply", "-auto-approve"]), "the apply without healthcare-mcp");
    let left =
        kubectl_ok(&lab, &["get", "firewallpolicy", "-n", NAMESPACE, "-o", "jsonpath={.items[*].metadata.name}"], None);
    assert!(!left.contains("healthcare-mcp") && left.contains("search-mcp"), "FirewallPolicies left: {left}");
    assert_eq!(decide(&lab, &pod, "api.ehr.example.com:443"), verdict("drop", 3, "tier3-default-deny"));

    // Destroy: nothing left but the pods and the namespace the test made.
    ws.run(&["destroy", "-auto-approve"]).expect_code(0, "destroy");
    kubectl_ok(&lab, &["delete", "namespace", NAMESPACE, "--wait=true"], None);
    let (clean, diff) = lab.diff();
    assert!(clean, "the lab is back at its baseline: {diff:#}");
}

/// One stack's policy and servers in its own namespace, on a cluster another root onboarded.
fn stack(namespace: &str, server: &str, domain: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    aviatrix = {{ source = "mcp-egress/aviatrix" }}
  }}
}}
provider "aviatrix" {{}}
variable "cluster" {{ type = string }}
resource "aviatrix_mcp_egress_policy" "mcp" {{
  cluster       = var.cluster
  namespace     = "{namespace}"
  named_permits = [{{ name = "registry", domains = ["registry.npmjs.org"] }}]
}}
resource "aviatrix_mcp_egress_server" "s" {{
  namespace  = "{namespace}"
  name       = "{server}"
  domains    = ["{domain}"]
  depends_on = [aviatrix_mcp_egress_policy.mcp]
}}
"#
    )
}

#[test]
fn two_stacks_on_one_controller_keep_their_own_rules() {
    let lab = Lab::up(&[]);
    let onboarding = workspace(
        &lab,
        r#"
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}
provider "aviatrix" {}
variable "eks_cluster_id" { type = string }
resource "aviatrix_mcp_egress_cluster" "k8s" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}
output "id" { value = aviatrix_mcp_egress_cluster.k8s.id }
"#,
    );
    onboarding.run(&["apply", "-auto-approve"]).expect_code(0, "onboarding");
    let cluster = onboarding.outputs()["id"]["value"].as_str().unwrap().to_string();

    let stacks = [("team-a", "alpha-mcp", "api.alpha.example.com"), ("team-b", "beta-mcp", "api.beta.example.com")];
    let mut workspaces = Vec::new();
    for (namespace, server, domain) in stacks {
        kubectl_ok(&lab, &["create", "namespace", namespace], None);
        run_pod(&lab, namespace, &format!("{server}-1"), server);
        let mut ws = workspace(&lab, &stack(namespace, server, domain));
        ws.set_env("TF_VAR_cluster", &cluster);
        workspaces.push(ws);
    }
    // Both stacks apply at once: the shared groups take both sub-policies.
    let children: Vec<_> = workspaces.iter().map(|ws| ws.spawn(&["apply", "-auto-approve"])).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a stack's apply: {}", text(&out));
    }
    for ws in &workspaces {
        ok(ws.run(&["plan", "-detailed-exitcode"]), "each stack re-plans empty");
    }
    let b_pod = "team-b/beta-mcp-1";
    let b_cases = [
        ("api.beta.example.com:443", verdict("permit", 2, "tier2-beta-mcp")),
        ("registry.npmjs.org:443", verdict("permit", 1, "tier1-registry")),
        ("api.alpha.example.com:443", verdict("drop", 3, "tier3-default-deny")),
        ("exfil.attacker.io:443", verdict("drop", 3, "tier3-default-deny")),
    ];
    for (dst, want) in &b_cases {
        assert_eq!(&decide(&lab, b_pod, dst), want, "team-b before team-a is destroyed: {dst}");
    }
    assert_eq!(
        decide(&lab, "team-a/alpha-mcp-1", "api.alpha.example.com:443"),
        verdict("permit", 2, "tier2-alpha-mcp")
    );

    workspaces[0].run(&["destroy", "-auto-approve"]).expect_code(0, "destroying team-a");
    for (dst, want) in &b_cases {
        assert_eq!(&decide(&lab, b_pod, dst), want, "team-b after team-a is destroyed: {dst}");
    }
    ok(workspaces[1].run(&["plan", "-detailed-exitcode"]), "team-b still re-plans empty");
    // team-a's pods are no longer contained: the controller's Greenfield rule decides for them.
    assert_eq!(decide(&lab, "team-a/alpha-mcp-1", "exfil.attacker.io:443").1, 0);

    workspaces[1].run(&["destroy", "-auto-approve"]).expect_code(0, "destroying team-b");
    onboarding.run(&["destroy", "-auto-approve"]).expect_code(0, "taking the cluster off");
    for (namespace, _, _) in stacks {
        kubectl_ok(&lab, &["delete", "namespace", namespace, "--wait=true"], None);
    }
    let (clean, diff) = lab.diff();
    assert!(clean, "the lab is back at its baseline: {diff:#}");
}
