//! The provider's first surface, through the real terraform CLI: functions and the domains data source give
//! the right values, apply then plan is empty, a bad domain fails plan on the exact element, the schema shows
//! its descriptions, and TF_LOG=debug shows the provider's own log lines.

mod terraform_cli;

use terraform_cli::Workspace;

/// The data source alone: any Terraform with protocol 6 plans it.
const DATA_SOURCE: &str = r#"
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}

provider "aviatrix" {}

data "aviatrix_mcp_egress_domains" "ehr" {
  domains = ["EHR.Example.com.", "*.example.com", "api.example.com", "bücher.example", "registry.example.org", "registry.example.org"]
}

output "normalized" { value = data.aviatrix_mcp_egress_domains.ehr.normalized }
output "removed" { value = data.aviatrix_mcp_egress_domains.ehr.removed }
"#;

/// Provider-defined functions need Terraform 1.8 or later.
const FUNCTIONS: &str = r#"
output "normalize_domain" { value = provider::aviatrix::normalize_domain("API.Example.COM.") }
output "wildcard_matches_below" { value = provider::aviatrix::domain_matches("*.example.com", "a.b.example.com") }
output "wildcard_skips_apex" { value = provider::aviatrix::domain_matches("*.example.com", "example.com") }
"#;

#[test]
fn functions_and_data_source_apply_and_replan_empty() {
    let ws = Workspace::new(&format!("{DATA_SOURCE}{FUNCTIONS}"));
    if !ws.terraform.at_least(1, 8, "provider-defined functions") {
        return;
    }
    ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply");
    let out = ws.outputs();
    assert_eq!(
        out["normalized"]["value"],
        serde_json::json!(["*.example.com", "registry.example.org", "xn--bcher-kva.example"])
    );
    assert_eq!(
        out["removed"]["value"],
        serde_json::json!([
            {"domain": "EHR.Example.com.", "reason": "covered by *.example.com"},
            {"domain": "api.example.com", "reason": "covered by *.example.com"},
            {"domain": "registry.example.org", "reason": "listed more than once"},
        ])
    );
    assert_eq!(out["normalize_domain"]["value"], "api.example.com");
    assert_eq!(out["wildcard_matches_below"]["value"], true);
    assert_eq!(out["wildcard_skips_apex"]["value"], false);
    // A second plan changes nothing: -detailed-exitcode exits 0 only for an empty plan.
    ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "second plan");
}

#[test]
fn a_bad_domain_fails_plan_on_the_exact_element() {
    let ws = Workspace::new(
        r#"
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}
data "aviatrix_mcp_egress_domains" "bad" {
  domains = ["ok.example.com", "evil.example.com:443", "fine.example.org"]
}
"#,
    );
    let run = ws.run(&["plan", "-json", "-no-color"]).expect_code(1, "plan with a bad domain");
    let diag = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .unwrap_or_else(|| panic!("no error diagnostic in:\n{}", run.stdout))["diagnostic"]
        .clone();
    assert_eq!(diag["summary"], "Invalid egress domain");
    let detail = diag["detail"].as_str().unwrap();
    assert!(detail.starts_with("domains[1] = \"evil.example.com:443\": ports are not part of a domain"), "{detail}");
    assert!(detail.contains("(rule no-port)") && detail.contains("Accepted: a hostname such as"), "{detail}");
    // Terraform highlights exactly the offending element of the list.
    let snippet = &diag["snippet"];
    let code = snippet["code"].as_str().unwrap();
    let (start, end) = (
        snippet["highlight_start_offset"].as_u64().unwrap() as usize,
        snippet["highlight_end_offset"].as_u64().unwrap() as usize,
    );
    assert_eq!(&code[start..end], "\"evil.example.com:443\"", "highlight in {code:?}");
}

#[test]
fn a_bad_function_argument_names_the_rule() {
    let ws = Workspace::new(
        r#"
terraform {
  required_providers {
    aviatrix = { source = "mcp-egress/aviatrix" }
  }
}
output "x" { value = provider::aviatrix::normalize_domain("https://api.example.com") }
"#,
    );
    if !ws.terraform.at_least(1, 8, "provider-defined functions") {
        return;
    }
    let run = ws.run(&["plan", "-no-color"]).expect_code(1, "plan with a bad function argument");
    assert!(run.stderr.contains("rule no-scheme"), "{}", run.stderr);
}

#[test]
fn schema_json_shows_descriptions() {
    let ws = Workspace::new(DATA_SOURCE);
    let run = ws.run(&["providers", "schema", "-json"]).expect_code(0, "providers schema");
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let provider = &schema["provider_schemas"]["registry.terraform.io/mcp-egress/aviatrix"];
    let ds = &provider["data_source_schemas"]["aviatrix_mcp_egress_domains"]["block"];
    assert!(ds["description"].as_str().unwrap().starts_with("Normalises an egress permit list"));
    assert_eq!(ds["attributes"]["domains"]["type"], serde_json::json!(["list", "string"]));
    assert_eq!(ds["attributes"]["domains"]["required"], true);
    assert_eq!(ds["attributes"]["normalized"]["computed"], true);
    let password = &provider["provider"]["block"]["attributes"]["password"];
    assert_eq!(password["sensitive"], true);
    assert!(password["description"].as_str().unwrap().contains("AVIATRIX_PASSWORD"));
    assert!(
        provider["provider"]["block"]["block_types"]["azure"]["block"]["attributes"]["client_secret"]["sensitive"]
            == true
    );
    // Terraform before 1.8 does not show functions in the schema.
    if ws.terraform.supports(1, 8) {
        let f = &provider["functions"]["domain_matches"];
        assert_eq!(f["return_type"], "bool");
        assert_eq!(f["parameters"][0]["name"], "pattern");
        assert!(f["description"].as_str().unwrap().contains("never `example.com`"));
    }
}

#[test]
fn tf_log_debug_shows_provider_lines_and_nothing_without_it() {
    let mut ws = Workspace::new(DATA_SOURCE);
    let quiet = ws.run(&["plan", "-no-color"]);
    assert!(!quiet.stderr.contains("provider.terraform-provider-aviatrix"), "logs without TF_LOG:\n{}", quiet.stderr);
    ws.set_env("TF_LOG", "debug");
    let loud = ws.run(&["plan", "-no-color"]);
    let ours: Vec<&str> =
        loud.stderr.lines().filter(|l| l.contains("[DEBUG] provider.terraform-provider-aviatrix: ")).collect();
    assert!(
        ours.iter().any(|l| l.contains("reading data source") && l.contains("type_name=aviatrix_mcp_egress_domains")),
        "no data source line in:\n{}",
        ours.join("\n")
    );
    assert!(
        !ours.iter().any(|l| l.contains("{\"@level\"")),
        "hclog lines were not parsed by terraform:\n{}",
        ours.join("\n")
    );
}

#[test]
fn the_provider_run_by_hand_says_what_it_is() {
    let bin = terraform_cli::provider_dir().join("terraform-provider-aviatrix");
    let out = std::process::Command::new(bin).env_remove("TF_PLUGIN_MAGIC_COOKIE").output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("is a Terraform plugin") && text.contains("mcp-egress/aviatrix"), "{text}");
    assert!(out.stdout.is_empty());
}

/// The registry examples (which the docs embed) plan cleanly, and the data source example shows what its
/// comments say.
#[test]
fn registry_examples_work() {
    let root = terraform_cli::repo_root().join("examples");
    let header = "terraform {\n  required_providers {\n    aviatrix = { source = \"mcp-egress/aviatrix\" }\n  }\n}\n";
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let ws = Workspace::new(&format!("{header}{}", read("data-sources/aviatrix_mcp_egress_domains/data-source.tf")));
    ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "data source example");
    let out = ws.outputs();
    assert_eq!(out["permits"]["value"], serde_json::json!(["*.githubusercontent.com", "api.github.com"]));
    let ws = Workspace::new(&format!("{header}{}", read("provider/provider.tf")));
    ws.run(&["plan", "-no-color"]).expect_code(0, "provider example (contacts nothing)");
    if !ws.terraform.at_least(1, 8, "function examples") {
        return;
    }
    for (dir, expected) in [
        (
            "functions/normalize_domain",
            serde_json::json!({"normalized": "api.example.com", "punycode": "xn--bcher-kva.example"}),
        ),
        ("functions/domain_matches", serde_json::json!({"below": true, "apex": false})),
    ] {
        let ws = Workspace::new(&format!("{header}{}", read(&format!("{dir}/function.tf"))));
        ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, dir);
        let out = ws.outputs();
        for (name, value) in expected.as_object().unwrap() {
            assert_eq!(&out[name]["value"], value, "{dir} output {name}");
        }
    }
}
