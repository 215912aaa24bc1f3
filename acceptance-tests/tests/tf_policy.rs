//! Resource `aviatrix_mcp_egress_policy` through the real terraform CLI against the lab: tiers 1 and 3 of one
//! MCP namespace of the lab's onboarded EKS cluster. Apply makes the pods SmartGroup, a WebGroup per permit
//! and two rulesets, placed through the shared policy groups at TERRAFORM_BEFORE_UI_MANAGED and
//! TERRAFORM_AFTER_K8S_MANAGED; a rule or sub-policy changed behind Terraform's back is drift the next apply
//! fixes; permits change in place and `monitor` flips tier 3 to watch; two stacks share the groups, apart
//! and at once, each leaving the other's objects exactly as they were; on a Partial cluster the pods group
//! lists the live pod IPs and a restarted pod is planned and fixed by one apply; destroy leaves the lab at
//! its baseline.

mod common;

use std::time::Duration;

use common::lab::{objects, ControllerApi, Lab};
use common::steps::{Case, Step};
use common::terraform::{config, Workspace};
use common::tools::text;
use reqwest::Method;
use serde_json::{json, Value};

const POLICY: &str = "aviatrix_mcp_egress_policy.mcp";
const BEFORE_UI: &str = "TERRAFORM_BEFORE_UI_MANAGED";
const AFTER_K8S: &str = "TERRAFORM_AFTER_K8S_MANAGED";

const PERMITS: &str = r#"
  named_permits = [
    { name = "github", domains = ["api.github.com", "*.githubusercontent.com"] },
    { name = "registries", domains = ["ghcr.io", "*.dkr.ecr.us-east-1.amazonaws.com"], ports = [443, 8443] },
  ]"#;

/// The lab's EKS cluster onboarded, and a policy for namespace `mcp` with `arguments`.
fn onboarded(arguments: &str) -> String {
    config(&format!(
        r#"
variable "eks_cluster_id" {{ type = string }}

resource "aviatrix_mcp_egress_cluster" "eks" {{
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}}

resource "aviatrix_mcp_egress_policy" "mcp" {{
  cluster   = aviatrix_mcp_egress_cluster.eks.id
  namespace = "mcp"
{arguments}
}}
"#
    ))
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

/// The controller's object of `kind` whose data names it `name`.
fn named(inventory: &Value, kind: &str, name: &str) -> Option<Value> {
    objects(inventory, "controller", kind).into_iter().find(|o| o["data"]["name"] == name).map(|o| o["data"].clone())
}

/// The object attached at attachment point `point`, as the inventory shows it.
fn attached(inventory: &Value, point: &str) -> Option<Value> {
    let holder = objects(inventory, "controller", "attachment_point")
        .into_iter()
        .find(|o| o["id"] == point)
        .and_then(|o| o["data"]["attached"].as_str().map(str::to_string))?;
    ["policy_group", "ruleset"]
        .iter()
        .flat_map(|kind| objects(inventory, "controller", kind))
        .find(|o| o["id"] == holder.as_str())
        .map(|o| o["data"].clone())
}

/// A ruleset of namespace `ns` for `tier` (`tier1`, `tier3`), named `mcp-egress-<ns>-<cluster>-<tier>`.
fn ruleset(inventory: &Value, ns: &str, tier: &str) -> Option<Value> {
    objects(inventory, "controller", "ruleset")
        .into_iter()
        .find(|o| {
            o["data"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("mcp-egress-{ns}-")) && n.ends_with(&format!("-{tier}")))
        })
        .map(|o| o["data"].clone())
}

fn rule_names(ruleset: &Value) -> Vec<String> {
    ruleset["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// The sub-policies of a group as (name, ruleset) pairs.
fn members(group: &Value) -> Vec<(String, String)> {
    group["sub_policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["name"].as_str().unwrap_or("").to_string(), s["list"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// Both shared groups are attached and hold, for each namespace of `namespaces`, a sub-policy for its ruleset.
fn groups_hold(lab: &Lab, namespaces: &[&str]) {
    let inventory = lab.inventory();
    for (point, group_name, tier) in
        [(BEFORE_UI, "mcp-egress-tier1", "tier1"), (AFTER_K8S, "mcp-egress-tier3", "tier3")]
    {
        let group = attached(&inventory, point).unwrap_or_else(|| panic!("nothing attached at {point}"));
        assert_eq!(group["name"], group_name, "{group}");
        assert_eq!(group["metadata"]["managed_by"], "mcp-egress/aviatrix", "{group}");
        let held = members(&group);
        assert_eq!(held.len(), namespaces.len(), "{point} holds {held:?}");
        for ns in namespaces {
            let ours = ruleset(&inventory, ns, tier).unwrap_or_else(|| panic!("no {tier} ruleset for {ns}"));
            assert_eq!(ours["attach_to"], "", "a ruleset in a group has no attach_to of its own");
            assert!(
                held.iter()
                    .any(|(name, list)| name.ends_with(&format!("/{ns}")) && list == ours["uuid"].as_str().unwrap()),
                "{point} does not hold {ns}'s {tier} ruleset: {held:?}"
            );
        }
    }
}

/// Replaces a `policy-list3` object of the lab's controller, as someone editing it by hand would.
fn put_list(lab: &Lab, list: &Value) {
    block_on(async {
        let api = ControllerApi::login(lab).await;
        let uuid = list["uuid"].as_str().unwrap();
        let (status, body) = api.rest(Method::PUT, &format!("microseg/policy-list3/{uuid}"), Some(list.clone())).await;
        assert_eq!(status, 200, "{body}");
    });
}

#[test]
fn one_namespace_is_contained_drift_is_fixed_permits_change_and_monitor_watches() {
    let base = onboarded(PERMITS);
    let changed = onboarded(
        r#"
  named_permits = [
    { name = "github", domains = ["api.github.com", "*.githubusercontent.com"] },
    { name = "anthropic", domains = ["API.Anthropic.com."], protocol = "any" },
  ]"#,
    );
    let monitor = onboarded(&format!("{PERMITS}\n  enforcement = \"monitor\""));
    Case::new("tiers 1 and 3 for namespace mcp")
        .step(
            Step::apply(&base)
                .expect_attr(POLICY, "enforcement", json!("enforce"))
                .expect_attr(POLICY, "pod_ip_fallback", json!(false))
                .expect_attr(POLICY, "named_permits.0.ports", json!([443]))
                .expect_attr(POLICY, "named_permits.0.protocol", json!("tcp"))
                .expect_attr(POLICY, "pod_ips", Value::Null)
                .expect_attr_set(POLICY, "web_groups.github")
                .expect_attr_set(POLICY, "web_groups.registries")
                .expect_attr_set(POLICY, "tier1_ruleset")
                .expect_attr_set(POLICY, "tier3_group"),
        )
        .step(Step::outside("the controller holds both tiers, placed through the shared groups", |lab| {
            groups_hold(lab, &["mcp"]);
            let inventory = lab.inventory();
            let tier1 = ruleset(&inventory, "mcp", "tier1").unwrap();
            assert_eq!(rule_names(&tier1), ["tier1-github", "tier1-registries"]);
            assert!(tier1["metadata"]["owner"].as_str().unwrap().ends_with("/mcp"), "{tier1}");
            let registries = &tier1["policies"][1];
            assert_eq!(registries["action"], "PERMIT");
            assert_eq!(registries["dst_ads"], json!(["def000ad-0000-0000-0000-000000000001"]));
            assert_eq!(registries["port_ranges"], json!([{"lo": 443}, {"lo": 8443}]));
            assert_eq!(registries["logging"], true);
            let web = objects(&inventory, "controller", "web_group")
                .into_iter()
                .find(|o| o["id"] == registries["web_filters"][0])
                .unwrap()["data"]
                .clone();
            assert_eq!(
                web["selector"],
                json!({"any": [{"all": {"snifilter": "*.dkr.ecr.us-east-1.amazonaws.com"}}, {"all": {"snifilter": "ghcr.io"}}]})
            );
            let pods = objects(&inventory, "controller", "smart_group")
                .into_iter()
                .find(|o| o["id"] == registries["src_ads"][0])
                .unwrap()["data"]
                .clone();
            let all = &pods["selector"]["any"][0]["all"];
            assert_eq!((all["type"].as_str(), all["k8s_namespace"].as_str()), (Some("k8s"), Some("mcp")), "{pods}");
            assert_eq!(all["k8s_cluster_id"], json!(lab.var("LAB_EKS_CLUSTER_ID")));
            let deny = &ruleset(&inventory, "mcp", "tier3").unwrap()["policies"][0];
            assert_eq!((deny["name"].as_str(), deny["action"].as_str()), (Some("tier3-default-deny"), Some("DENY")));
            assert_eq!(deny["dst_ads"], json!(["def000ad-0000-0000-0000-000000000000"]));
            assert_eq!((deny["protocol"].as_str(), deny["enforcement"].as_str()), (Some("PROTOCOL_UNSPECIFIED"), Some("ENFORCE")));
            assert_eq!(deny["logging"], true);
        }))
        .step(Step::outside("someone deletes rule tier1-github", |lab| {
            let mut tier1 = ruleset(&lab.inventory(), "mcp", "tier1").unwrap();
            let kept: Vec<Value> =
                tier1["policies"].as_array().unwrap().iter().filter(|p| p["name"] != "tier1-github").cloned().collect();
            tier1["policies"] = Value::Array(kept);
            put_list(lab, &tier1);
        }))
        .step(Step::plan(&base).expect_changes(&[POLICY]))
        .step(Step::apply(&base))
        .step(Step::outside("the rule is back", |lab| {
            assert_eq!(rule_names(&ruleset(&lab.inventory(), "mcp", "tier1").unwrap()), ["tier1-github", "tier1-registries"]);
        }))
        .step(Step::outside("someone turns the default deny into a permit", |lab| {
            let mut tier3 = ruleset(&lab.inventory(), "mcp", "tier3").unwrap();
            tier3["policies"][0]["action"] = json!("PERMIT");
            put_list(lab, &tier3);
        }))
        .step(Step::plan(&base).expect_changes(&[POLICY]))
        .step(Step::apply(&base))
        .step(Step::outside("someone takes the sub-policy out of the tier-3 group", |lab| {
            let inventory = lab.inventory();
            assert_eq!(ruleset(&inventory, "mcp", "tier3").unwrap()["policies"][0]["action"], "DENY");
            let mut group = attached(&inventory, AFTER_K8S).unwrap();
            group["sub_policies"] = json!([]);
            put_list(lab, &group);
        }))
        .step(Step::plan(&base).expect_changes(&[POLICY]))
        .step(Step::apply(&base))
        .step(Step::outside("the sub-policy is back", |lab| groups_hold(lab, &["mcp"])))
        .step(
            Step::apply(&changed)
                .expect_attr(POLICY, "named_permits.1.domains", json!(["API.Anthropic.com."]))
                .expect_attr_set(POLICY, "web_groups.anthropic")
                .expect_attr_set(POLICY, "web_groups.github"),
        )
        .step(Step::outside("the permit is replaced, its WebGroup gone", |lab| {
            let inventory = lab.inventory();
            let tier1 = ruleset(&inventory, "mcp", "tier1").unwrap();
            assert_eq!(rule_names(&tier1), ["tier1-github", "tier1-anthropic"]);
            assert_eq!(tier1["policies"][1]["protocol"], "PROTOCOL_UNSPECIFIED");
            let names: Vec<String> = objects(&inventory, "controller", "web_group")
                .iter()
                .filter_map(|o| o["data"]["name"].as_str().map(str::to_string))
                .filter(|n| n.starts_with("mcp-egress-mcp-"))
                .collect();
            assert_eq!(names.len(), 2, "{names:?}");
            assert!(names.iter().all(|n| !n.ends_with("-permit-registries")), "{names:?}");
            let anthropic = named(&inventory, "web_group", names.iter().find(|n| n.ends_with("-permit-anthropic")).unwrap()).unwrap();
            assert_eq!(anthropic["selector"], json!({"any": [{"all": {"snifilter": "api.anthropic.com"}}]}));
        }))
        .step(Step::apply(&monitor).expect_attr(POLICY, "enforcement", json!("monitor")))
        .step(Step::outside("tier 3 watches instead of dropping", |lab| {
            let deny = ruleset(&lab.inventory(), "mcp", "tier3").unwrap()["policies"][0].clone();
            assert_eq!((deny["action"].as_str(), deny["enforcement"].as_str()), (Some("DENY"), Some("MONITOR")), "{deny}");
            assert_eq!(deny["logging"], true);
        }))
        .step(Step::apply(&base).expect_attr(POLICY, "enforcement", json!("enforce")))
        .run();
}

#[test]
fn bad_permits_namespaces_and_modes_are_refused_at_plan_on_their_attribute() {
    let policy = |body: &str| {
        config(&format!("resource \"aviatrix_mcp_egress_policy\" \"mcp\" {{\n  cluster   = \"c1\"\n  namespace = \"mcp\"\n{body}\n}}\n"))
    };
    let port_in_domain =
        policy(r#"  named_permits = [{ name = "github", domains = ["api.github.com", "evil.example.com:443"] }]"#);
    let duplicate = policy(
        r#"  named_permits = [{ name = "github", domains = ["api.github.com"] }, { name = "github", domains = ["ghcr.io"] }]"#,
    );
    let protocol =
        policy(r#"  named_permits = [{ name = "github", domains = ["api.github.com"], protocol = "icmp" }]"#);
    let port = policy(r#"  named_permits = [{ name = "github", domains = ["api.github.com"], ports = [70000] }]"#);
    let mode = policy("  enforcement = \"block\"");
    let namespace = policy("").replace("namespace = \"mcp\"", "namespace = \"MCP_Servers\"");
    Case::new("bad policy arguments")
        .step(
            Step::plan(&port_in_domain)
                .expect_error(r#"named_permits\[0\]\.domains\[1\] = "evil\.example\.com:443": .*rule no-port"#),
        )
        .step(
            Step::plan(&duplicate)
                .expect_error(r#"named_permits\[1\]\.name = "github" is also the name of named_permits\[0\]"#),
        )
        .step(Step::plan(&protocol).expect_error(r#"named_permits\[0\]\.protocol = "icmp"; use "tcp", "udp" or "any""#))
        .step(Step::plan(&port).expect_error(r"named_permits\[0\]\.ports\[0\] = 70000"))
        .step(Step::plan(&mode).expect_error(r#"enforcement = "block"; use "enforce""#))
        .step(Step::plan(&namespace).expect_error(r#"namespace = "MCP_Servers" is not a Kubernetes namespace name"#))
        .run();
}

/// A workspace on `lab` configured as the step harness configures its own, with `config` as main.tf.
fn stack(lab: &Lab, config: &str, vars: &[(&str, &str)]) -> Workspace {
    let mut ws = Workspace::new(config);
    for (name, value) in &lab.env {
        ws.set_env(name, value);
        ws.set_env(&format!("TF_VAR_{}", name.to_lowercase()), value);
    }
    for (name, value) in vars {
        ws.set_env(&format!("TF_VAR_{name}"), value);
    }
    ws
}

fn apply(ws: &Workspace, what: &str) {
    ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, &format!("apply {what}"));
    ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, &format!("the plan after applying {what}"));
}

fn destroy(ws: &Workspace, what: &str) {
    ws.run(&["destroy", "-auto-approve", "-no-color"]).expect_code(0, &format!("destroy {what}"));
}

/// A stack of its own: one namespace's policy on a cluster given by ID.
fn namespace_stack(namespace: &str) -> String {
    config(&format!(
        r#"
variable "cluster" {{ type = string }}

resource "aviatrix_mcp_egress_policy" "mcp" {{
  cluster   = var.cluster
  namespace = "{namespace}"
  named_permits = [
    {{ name = "github", domains = ["api.github.com"] }},
  ]
}}
"#
    ))
}

/// Everything of namespace `ns` on the controller: its rulesets, SmartGroup and WebGroups, and its
/// sub-policies in the shared groups.
fn objects_of(inventory: &Value, ns: &str) -> Vec<Value> {
    let prefix = format!("mcp-egress-{ns}-");
    let mut mine: Vec<Value> = ["ruleset", "smart_group", "web_group"]
        .iter()
        .flat_map(|kind| objects(inventory, "controller", kind))
        .filter(|o| o["data"]["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
        .map(|o| o["data"].clone())
        .collect();
    for group in objects(inventory, "controller", "policy_group") {
        for sub in group["data"]["sub_policies"].as_array().into_iter().flatten() {
            if sub["name"].as_str().is_some_and(|n| n.ends_with(&format!("/{ns}"))) {
                mine.push(json!({ "group": group["data"]["uuid"], "sub_policy": sub }));
            }
        }
    }
    mine
}

#[test]
fn two_stacks_share_the_groups_apart_and_at_once_and_each_leaves_the_other_whole() {
    let lab = Lab::up(&[]);
    let cluster_ws = stack(
        &lab,
        &config(
            r#"
variable "eks_cluster_id" { type = string }
resource "aviatrix_mcp_egress_cluster" "eks" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}
output "id" { value = aviatrix_mcp_egress_cluster.eks.id }
"#,
        ),
        &[],
    );
    apply(&cluster_ws, "the cluster");
    let cluster = cluster_ws.outputs()["id"]["value"].as_str().expect("cluster id").to_string();
    let a = stack(&lab, &namespace_stack("team-a"), &[("cluster", &cluster)]);
    let b = stack(&lab, &namespace_stack("team-b"), &[("cluster", &cluster)]);

    // One after the other: both sub-policies in each group.
    apply(&a, "stack a");
    apply(&b, "stack b");
    groups_hold(&lab, &["team-a", "team-b"]);

    // Import by <cluster>/<namespace> into a fresh state: the same values, and nothing to change.
    let applied = b.state()["values"]["root_module"]["resources"][0]["values"].clone();
    let fresh = b.fresh();
    fresh.run(&["import", "-no-color", POLICY, &format!("{cluster}/team-b")]).expect_code(0, "import stack b's policy");
    let imported = fresh.state()["values"]["root_module"]["resources"][0]["values"].clone();
    assert_eq!(imported, applied, "imported values differ from applied ones");
    fresh.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "the plan after import");
    drop(fresh);

    // A create whose result never reached the state (an interrupted apply) is adopted: the next apply finds
    // every object by its name and owner instead of making a second set.
    let before = objects_of(&lab.inventory(), "team-b");
    b.run(&["state", "rm", POLICY]).expect_code(0, "forgetting stack b's policy");
    apply(&b, "stack b again, with its policy forgotten");
    assert_eq!(objects_of(&lab.inventory(), "team-b"), before, "the second create did not adopt what the first made");
    let readopted = b.state()["values"]["root_module"]["resources"][0]["values"].clone();
    assert_eq!(readopted, applied);

    // Destroying one stack leaves the other's objects and sub-policies exactly as they were.
    let before = objects_of(&lab.inventory(), "team-b");
    assert!(before.len() >= 6, "{before:#?}");
    destroy(&a, "stack a");
    let inventory = lab.inventory();
    assert_eq!(objects_of(&inventory, "team-b"), before);
    assert!(objects_of(&inventory, "team-a").is_empty(), "{:#?}", objects_of(&inventory, "team-a"));
    groups_hold(&lab, &["team-b"]);
    b.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "stack b's plan after stack a left");
    // The last one out removes the groups.
    destroy(&b, "stack b");
    let inventory = lab.inventory();
    assert!(objects(&inventory, "controller", "policy_group").is_empty(), "the groups outlived their last stack");
    assert!(attached(&inventory, BEFORE_UI).is_none() && attached(&inventory, AFTER_K8S).is_none());

    // At once: two applies that race for the same groups both end up in them.
    let started: Vec<_> = [&a, &b].iter().map(|ws| ws.spawn(&["apply", "-auto-approve", "-no-color"])).collect();
    for (child, name) in started.into_iter().zip(["a", "b"]) {
        let out = child.wait_with_output().expect("waiting for terraform");
        assert!(out.status.success(), "concurrent apply of stack {name}: {}", text(&out));
    }
    groups_hold(&lab, &["team-a", "team-b"]);
    for ws in [&a, &b] {
        ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "the plan after the concurrent applies");
    }
    let started: Vec<_> = [&a, &b].iter().map(|ws| ws.spawn(&["destroy", "-auto-approve", "-no-color"])).collect();
    for (child, name) in started.into_iter().zip(["a", "b"]) {
        let out = child.wait_with_output().expect("waiting for terraform");
        assert!(out.status.success(), "concurrent destroy of stack {name}: {}", text(&out));
    }
    assert!(objects(&lab.inventory(), "controller", "policy_group").is_empty());
    destroy(&cluster_ws, "the cluster");
    let (clean, diff) = lab.diff();
    assert!(clean, "the lab is not back to its baseline: {diff:#}");
}

/// `kubectl` against the lab's Kubernetes API.
fn kubectl(lab: &Lab, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(common::tools::find("kubectl", "KUBECTL").expect("kubectl"))
        .args(args)
        .env("KUBECONFIG", lab.var("KUBECONFIG"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running kubectl");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const PODS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: mcp
---
apiVersion: v1
kind: Pod
metadata:
  name: server-a
  namespace: mcp
  labels: { app: mcp-server }
spec:
  containers: [{ name: server, image: ghcr.io/example/mcp:1 }]
---
apiVersion: v1
kind: Pod
metadata:
  name: server-b
  namespace: mcp
  labels: { app: mcp-server }
spec:
  containers: [{ name: server, image: ghcr.io/example/mcp:1 }]
---
apiVersion: v1
kind: Pod
metadata:
  name: sidecar-tool
  namespace: mcp
  labels: { app: tool }
spec:
  containers: [{ name: tool, image: ghcr.io/example/tool:1 }]
"#;

/// The IPs of the `app=mcp-server` pods, sorted.
fn server_ips(lab: &Lab) -> Vec<String> {
    let out = kubectl(
        lab,
        &["get", "pods", "-n", "mcp", "-l", "app=mcp-server", "-o", "jsonpath={.items[*].status.podIP}"],
        None,
    );
    let mut ips: Vec<String> = out.split_whitespace().map(str::to_string).collect();
    ips.sort();
    ips
}

/// The pod IPs the pods SmartGroup of namespace `mcp` lists, sorted.
fn group_ips(lab: &Lab) -> Vec<String> {
    let inventory = lab.inventory();
    let group = objects(&inventory, "controller", "smart_group")
        .into_iter()
        .find(|o| o["data"]["name"].as_str().is_some_and(|n| n.starts_with("mcp-egress-mcp-") && n.ends_with("-pods")))
        .expect("the pods SmartGroup")["data"]
        .clone();
    let mut ips: Vec<String> = group["selector"]["any"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["all"]["cidr"].as_str())
        .map(|c| c.trim_end_matches("/32").to_string())
        .collect();
    ips.sort();
    ips
}

#[test]
fn on_a_partial_cluster_the_pods_group_follows_the_live_pod_ips() {
    let cluster_only = config(
        r#"
variable "eks_cluster_id" { type = string }
resource "aviatrix_mcp_egress_cluster" "eks" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}
"#,
    );
    let fallback =
        onboarded(&format!("{PERMITS}\n  pod_labels = {{ app = \"mcp-server\" }}\n  pod_ip_fallback = true"));
    Case::new("pod IP fallback on a Partial cluster")
        .step(Step::outside("namespace mcp runs two servers and a tool", |lab| {
            kubectl(lab, &["apply", "-f", "-"], Some(PODS));
        }))
        .step(Step::apply(&cluster_only))
        .step(Step::outside("the cluster re-registers Partial", |lab| {
            lab.fault("controller", "partial-cluster", "1", "0");
            block_on(async {
                let api = ControllerApi::login(lab).await;
                let (_, clusters) = api.rest(Method::GET, "k8s/clusters", None).await;
                let cluster = clusters["clusters"][0].clone();
                let id = cluster["id"].as_str().unwrap();
                let body = json!({"cluster_id": cluster["cluster_id"], "credential": {"use_csp_credentials": true}});
                let (status, reply) = api.rest(Method::PUT, &format!("k8s/clusters/{id}"), Some(body)).await;
                assert_eq!(status, 200, "{reply}");
                let (_, now) = api.rest(Method::GET, &format!("k8s/clusters/{id}"), None).await;
                assert_eq!(now["status"], "Partial");
            });
            lab.fault("controller", "partial-cluster", "0", "0");
        }))
        .step(
            Step::plan(&onboarded(PERMITS)).expect_warning(
                r"Label SmartGroups do not resolve on this cluster: .*Partial.*Set pod_ip_fallback = true",
            ),
        )
        .step(Step::apply(&fallback).expect_attr(POLICY, "pod_ip_fallback", json!(true)))
        .step(Step::outside("the pods group lists the two servers' IPs, not the tool's", |lab| {
            let ips = server_ips(lab);
            assert_eq!(ips.len(), 2, "{ips:?}");
            assert_eq!(group_ips(lab), ips);
        }))
        .step(Step::outside("server-a restarts with a new IP", |lab| {
            let before = server_ips(lab);
            let out = lab.cli(&["pod-fail", "mcp/server-a"]);
            assert!(out.status.success(), "pod-fail: {}", text(&out));
            assert_ne!(server_ips(lab), before, "the pod kept its IP");
        }))
        .step(Step::plan(&fallback).expect_changes(&[POLICY]))
        .step(Step::apply(&fallback))
        .step(Step::outside("the pods group follows", |lab| {
            assert_eq!(group_ips(lab), server_ips(lab));
        }))
        .step(Step::outside("namespace mcp goes", |lab| {
            kubectl(lab, &["delete", "namespace", "mcp", "--wait=true", "--timeout=60s"], None);
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !kubectl(lab, &["get", "namespaces", "-o", "name"], None).lines().all(|l| l != "namespace/mcp") {
                assert!(std::time::Instant::now() < deadline, "namespace mcp is still there");
                std::thread::sleep(Duration::from_millis(500));
            }
        }))
        .run();
}
