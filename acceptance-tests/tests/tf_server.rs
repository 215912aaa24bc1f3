//! Resource `aviatrix_mcp_egress_server` through the real terraform CLI against the lab: on the lab's
//! onboarded EKS cluster, with the FirewallPolicy CRD and the `obot-mcp` namespace in place, apply writes
//! the server's FirewallPolicy and returns once the controller has reconciled it into a ruleset; import,
//! drift made with the Kubernetes API, a domain change in place, bad values refused at plan, `egress =
//! "allow"` warned about; a missing CRD and a controller that does not reconcile fail with what to do, and
//! what the failed apply wrote is picked up by the next; a policy an interrupted create left is adopted,
//! someone else's is refused; destroy leaves no FirewallPolicy and no ruleset.

mod common;
mod lab_kube;

use common::lab::{objects, Lab};
use common::steps::{Case, Step};
use common::terraform::config;
use lab_kube::{block_on, Kube};
use serde_json::{json, Value};

const SERVER: &str = "aviatrix_mcp_egress_server.github";
const POLICY: &str = "mcp-egress-github";

const CLUSTER: &str = r#"
variable "eks_cluster_id" { type = string }

resource "aviatrix_mcp_egress_cluster" "eks" {
  cloud      = "aws"
  cluster_id = var.eks_cluster_id
}
"#;

/// The onboarded cluster and server `github` in `obot-mcp` with `arguments`; the server depends on the
/// cluster, so destroy removes it while the controller still reconciles.
fn server(arguments: &str) -> String {
    config(&format!(
        r#"{CLUSTER}
resource "aviatrix_mcp_egress_server" "github" {{
  namespace  = "obot-mcp"
  name       = "github"
{arguments}
  depends_on = [aviatrix_mcp_egress_cluster.eks]
}}
"#
    ))
}

/// The server alone, with no cluster onboarded.
fn server_alone(arguments: &str) -> String {
    config(&format!(
        r#"
resource "aviatrix_mcp_egress_server" "github" {{
  namespace = "obot-mcp"
  name      = "github"
{arguments}
}}
"#
    ))
}

fn install_crd_and_namespace(lab: &Lab) {
    block_on(Kube::from_lab(lab).install_firewall_policy_crd_and_namespace());
}

fn restore_baseline(lab: &Lab) {
    block_on(Kube::from_lab(lab).restore_baseline());
}

/// The controller's rulesets made from FirewallPolicy `obot-mcp/<policy>`.
fn rulesets_of(lab: &Lab, policy: &str) -> Vec<Value> {
    let inventory = lab.inventory();
    let name = format!("k8s-obot-mcp-{policy}");
    objects(&inventory, "controller", "ruleset").into_iter().filter(|r| r["data"]["name"] == name).cloned().collect()
}

#[test]
fn a_server_is_reconciled_imported_corrected_after_drift_updated_in_place_and_leaves_nothing() {
    // Written in normal form, so the import (which reads the normal form back) agrees with the apply.
    let first = server(r#"  domains    = ["*.githubusercontent.com", "api.github.com"]"#);
    let second = server(r#"  domains    = ["api.github.com", "*.githubusercontent.com", "pypi.org"]"#);
    Case::new("one MCP server's tier 2")
        .teardown(restore_baseline)
        .step(Step::outside("the k8s-firewall CRD and the MCP namespace are installed", install_crd_and_namespace))
        .step(
            Step::apply(&first)
                .expect_attr(SERVER, "id", json!("obot-mcp/github"))
                .expect_attr(SERVER, "policy_name", json!(POLICY))
                .expect_attr(SERVER, "reconciled", json!(true))
                .expect_attr(SERVER, "generation", json!(1))
                .expect_attr(SERVER, "ports", json!([443]))
                .expect_attr(SERVER, "pod_selector", json!({"app": "github"}))
                .expect_attr(SERVER, "egress", json!("deny"))
                .expect_attr_set(SERVER, "ruleset"),
        )
        .step(Step::outside("the policy has Obot's shape and the controller holds its ruleset", |lab| {
            let (status, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            assert_eq!(status, 200, "{policy}");
            assert_eq!(policy["metadata"]["labels"]["app.kubernetes.io/managed-by"], "terraform-provider-aviatrix");
            assert_eq!(policy["metadata"]["labels"]["mcp-egress.aviatrix.com/server"], "github");
            let rules = policy["spec"]["rules"].as_array().unwrap();
            assert_eq!(rules.len(), 1, "no deny-all-external rule: {policy}");
            assert_eq!(rules[0]["name"], "tier2-github");
            assert_eq!(rules[0]["selector"]["matchLabels"], json!({"app": "github"}));
            assert_eq!(
                policy["spec"]["webGroups"][0],
                json!({"name": "github-approved-domains", "domains": ["*.githubusercontent.com", "api.github.com"]})
            );
            let rulesets = rulesets_of(lab, POLICY);
            assert_eq!(rulesets.len(), 1, "{rulesets:?}");
            assert_eq!(rulesets[0]["id"], policy["status"]["ruleset"]);
            assert_eq!(rulesets[0]["data"]["policies"][0]["name"], "tier2-github");
            assert_eq!(rulesets[0]["data"]["policies"][0]["action"], "PERMIT");
        }))
        .step(Step::import(SERVER))
        .step(Step::outside("someone adds a domain with kubectl edit", |lab| {
            block_on(Kube::from_lab(lab).edit_policy(POLICY, |p| {
                p["spec"]["webGroups"][0]["domains"].as_array_mut().unwrap().push(json!("exfil.attacker.io"));
            }));
        }))
        .step(Step::plan(&first).expect_changes(&[SERVER]))
        .step(Step::apply(&first).expect_attr(SERVER, "generation", json!(3)).expect_attr(
            SERVER,
            "reconciled",
            json!(true),
        ))
        .step(Step::outside("the next apply took the domain out again", |lab| {
            let (_, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            assert_eq!(policy["spec"]["webGroups"][0]["domains"], json!(["*.githubusercontent.com", "api.github.com"]));
        }))
        .step(Step::outside("someone adds a rule of their own", |lab| {
            block_on(Kube::from_lab(lab).edit_policy(POLICY, |p| {
                p["spec"]["rules"].as_array_mut().unwrap().push(json!({
                    "name": "sneaky", "action": "permit", "protocol": "any",
                    "destinationSmartGroups": [{"name": "any-destination"}]
                }));
            }));
        }))
        .step(Step::plan(&first).expect_changes(&[SERVER]))
        .step(Step::apply(&first).expect_attr(SERVER, "reconciled", json!(true)))
        .step(Step::outside("the rule is gone", |lab| {
            let (_, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            assert_eq!(policy["spec"]["rules"].as_array().unwrap().len(), 1, "{policy}");
        }))
        .step(
            Step::apply(&second)
                .expect_attr(SERVER, "generation", json!(6))
                .expect_attr(SERVER, "reconciled", json!(true))
                .expect_attr(SERVER, "domains", json!(["api.github.com", "*.githubusercontent.com", "pypi.org"])),
        )
        .step(Step::outside("the same policy and ruleset carry the new domain", |lab| {
            let (_, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            assert_eq!(policy["spec"]["webGroups"][0]["domains"].as_array().unwrap().len(), 3);
            assert_eq!(rulesets_of(lab, POLICY).len(), 1);
        }))
        .run();
}

#[test]
fn zero_egress_then_port_ranges_written_through_conflicts_are_rules_of_the_server() {
    let zero = server(r#"  domains    = []"#);
    let ranges = server(
        r#"  domains    = ["api.github.com"]
  ports      = [443, 8080, 8081, 8082]
  pod_selector = { app = "github", "mcp-user-id" = "u1" }"#,
    );
    Case::new("zero egress, then port ranges through 409s")
        .teardown(restore_baseline)
        .step(Step::outside("the k8s-firewall CRD and the MCP namespace are installed", install_crd_and_namespace))
        .step(Step::apply(&zero).expect_attr(SERVER, "reconciled", json!(true)))
        .step(Step::outside("one deny rule to any destination", |lab| {
            let (_, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            let rules = policy["spec"]["rules"].as_array().unwrap();
            assert_eq!(rules.len(), 1, "{policy}");
            assert_eq!(
                (&rules[0]["name"], &rules[0]["action"], &rules[0]["protocol"]),
                (&json!("tier2-github"), &json!("deny"), &json!("any"))
            );
            assert_eq!(rulesets_of(lab, POLICY)[0]["data"]["policies"][0]["action"], "DENY");
        }))
        .step(Step::import(SERVER))
        .step(Step::outside("half the Kubernetes API's writes answer 409 Conflict", |lab| {
            let args = ["fault", "--target", "kubernetes", "--kind", "conflict", "--rate", "0.5", "--writes-only"];
            let output = lab.cli(&args);
            assert!(output.status.success(), "{output:?}");
        }))
        .step(Step::apply(&ranges).expect_attr(SERVER, "ports", json!([443, 8080, 8081, 8082])))
        .step(Step::outside("the conflicts stop", |lab| lab.fault("kubernetes", "conflict", "0", "0")))
        .step(Step::outside("443 and 8080-8082 are two permit rules", |lab| {
            let (_, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            let rules: Vec<(Value, Value, Value)> = policy["spec"]["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["name"].clone(), r["port"].clone(), r["endPort"].clone()))
                .collect();
            assert_eq!(
                rules,
                [
                    (json!("tier2-github"), json!(443), Value::Null),
                    (json!("tier2-github-8080"), json!(8080), json!(8082))
                ]
            );
            assert_eq!(
                policy["spec"]["rules"][1]["selector"]["matchLabels"],
                json!({"app": "github", "mcp-user-id": "u1"})
            );
        }))
        .run();
}

#[test]
fn bad_domains_ports_names_and_egress_are_refused_at_plan_and_allow_is_warned_about() {
    let bad_domain = server_alone(r#"  domains = ["api.github.com", "evil.example.com:443"]"#);
    let bad_port = server_alone("  domains = [\"api.github.com\"]\n  ports = [443, 0]");
    let bad_egress = server_alone("  domains = []\n  egress = \"maybe\"");
    let allow_with_domains = server_alone("  domains = [\"api.github.com\"]\n  egress = \"allow\"");
    let bad_name = server_alone("  domains = []").replace("\"github\"", "\"GitHub_MCP\"");
    let allow = server_alone("  domains = []\n  egress = \"allow\"\n  ports = [443, 8443]");
    Case::new("bad server arguments")
        .step(
            Step::plan(&bad_domain)
                .expect_error(r#"domains\[1\] = "evil.example.com:443": ports are not part of a domain"#)
                .highlighting("\"evil.example.com:443\""),
        )
        .step(Step::plan(&bad_port).expect_error(r"ports\[1\] = 0 is not a TCP port; use a number from 1 to 65535"))
        .step(Step::plan(&bad_egress).expect_error(r#"egress.*maybe.*deny.*allow"#))
        .step(Step::plan(&allow_with_domains).expect_error(r#"domains = \["api.github.com"\] with egress = "allow""#))
        .step(Step::plan(&bad_name).expect_error(r#"name = "GitHub_MCP" is not a DNS-1123 label"#))
        .step(
            Step::plan(&allow)
                .expect_changes(&[SERVER])
                .expect_warning(r"egress is unrestricted: .*obot-mcp/github.*every domain on TCP port\(s\) 443, 8443"),
        )
        .run();
}

#[test]
fn without_the_crd_apply_says_to_install_the_chart() {
    Case::new("no FirewallPolicy CRD")
        .teardown(restore_baseline)
        .step(Step::outside("the k8s-firewall CRD is removed from the cluster", |lab| {
            block_on(Kube::from_lab(lab).remove_firewall_policy_crd());
        }))
        .step(
            Step::apply(&server_alone("  domains = [\"api.github.com\"]"))
                .expect_error(
                    r"firewallpolicies\.networking\.aviatrix\.com.*install the Aviatrix k8s-firewall Helm chart",
                )
                .expect_no_resource(SERVER),
        )
        .run();
}

#[test]
fn a_controller_that_does_not_reconcile_fails_the_apply_and_the_next_apply_after_onboarding_converges() {
    let timeouts = "  domains = [\"api.github.com\"]\n  timeouts {\n    create = \"4s\"\n  }";
    Case::new("no cluster onboarded")
        .teardown(restore_baseline)
        .step(Step::outside("the k8s-firewall CRD and the MCP namespace are installed", install_crd_and_namespace))
        .step(
            Step::apply(&server_alone(timeouts))
                .expect_error(
                    r"never reconciled.*onboarded and Connected.*k8s and k8s_dcf_policies.*stays in place and in state",
                )
                .expect_attr(SERVER, "reconciled", json!(false))
                .expect_attr(SERVER, "ruleset", Value::Null),
        )
        .step(Step::outside("the FirewallPolicy is there, written once", |lab| {
            let (status, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            assert_eq!(status, 200, "{policy}");
            assert!(policy["status"]["lastReconciledGeneration"].is_null(), "{policy}");
        }))
        .step(
            Step::apply(&server(r#"  domains    = ["api.github.com"]"#))
                .expect_attr(SERVER, "reconciled", json!(true))
                .expect_attr_set(SERVER, "ruleset"),
        )
        .step(Step::outside("one policy, one ruleset", |lab| {
            assert_eq!(rulesets_of(lab, POLICY).len(), 1);
        }))
        .run();
}

#[test]
fn a_policy_of_that_name_that_is_not_ours_is_an_error_naming_it() {
    Case::new("someone else's FirewallPolicy")
        .teardown(|lab| {
            let kube = Kube::from_lab(lab);
            block_on(async {
                kube.send(reqwest::Method::DELETE, &format!("{}/{POLICY}", lab_kube::POLICIES), None).await;
                kube.restore_baseline().await;
            });
        })
        .step(Step::outside("the CRD, the namespace, and a policy mcp-egress-github written by hand", |lab| {
            let kube = Kube::from_lab(lab);
            block_on(async {
                kube.install_firewall_policy_crd_and_namespace().await;
                let policy = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
                                    "metadata": {"name": POLICY, "namespace": "obot-mcp"},
                                    "spec": lab_kube::policy_spec(&["api.example.com"])});
                let (status, body) = kube.send(reqwest::Method::POST, lab_kube::POLICIES, Some(policy)).await;
                assert_eq!(status, 201, "{body}");
            });
        }))
        .step(
            Step::apply(&server_alone("  domains = [\"api.github.com\"]"))
                .expect_error(r"FirewallPolicy obot-mcp/mcp-egress-github exists and is not managed by this provider")
                .expect_no_resource(SERVER),
        )
        .run();
}

#[test]
fn a_policy_left_by_an_interrupted_create_is_adopted_not_duplicated() {
    Case::new("an interrupted create")
        .teardown(restore_baseline)
        .step(Step::outside("the CRD, the namespace, and mcp-egress-github as a create left it", |lab| {
            let kube = Kube::from_lab(lab);
            block_on(async {
                kube.install_firewall_policy_crd_and_namespace().await;
                let left = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
                                  "metadata": {"name": POLICY, "namespace": "obot-mcp",
                                               "labels": {"app.kubernetes.io/managed-by": "terraform-provider-aviatrix",
                                                          "mcp-egress.aviatrix.com/server": "github"}},
                                  "spec": {"rules": [{"name": "tier2-github", "action": "deny", "protocol": "any",
                                                      "destinationSmartGroups": [{"uuid": "00000000-0000-0000-0000-000000000000"}]}]}});
                let (status, body) = kube.send(reqwest::Method::POST, lab_kube::POLICIES, Some(left)).await;
                assert_eq!(status, 201, "{body}");
            });
        }))
        .step(
            Step::apply(&server(r#"  domains    = ["api.github.com"]"#))
                .expect_attr(SERVER, "generation", json!(2))
                .expect_attr(SERVER, "reconciled", json!(true)),
        )
        .step(Step::outside("one policy, now the server's, and one ruleset", |lab| {
            let (_, policy) = block_on(Kube::from_lab(lab).policy(POLICY));
            assert_eq!(policy["spec"]["webGroups"][0]["domains"], json!(["api.github.com"]), "{policy}");
            assert_eq!(rulesets_of(lab, POLICY).len(), 1);
        }))
        .run();
}
