//! The provider as a whole through the real terraform CLI: its configuration block's schema, its registry
//! example, the README's configuration that gives it another local name, TF_LOG=debug showing the
//! provider's own log lines (and nothing without it), and the binary run by hand saying what it is.

mod common;

use common::steps::{Case, Step};
use common::terraform::{config, provider_dir, Workspace};
use common::tools::repo_root;
use serde_json::json;

/// A configuration that reads one data source, so the provider is started and configured.
fn reads_data() -> String {
    config("data \"aviatrix_mcp_egress_domains\" \"ehr\" {\n  domains = [\"ehr.example.com\"]\n}\n")
}

#[test]
fn the_schema_marks_secrets_sensitive_and_names_their_variables() {
    let provider = Workspace::new(&reads_data()).provider_schema();
    let block = &provider["provider"]["block"];
    let password = &block["attributes"]["password"];
    assert_eq!(password["sensitive"], true);
    assert!(password["description"].as_str().unwrap().contains("AVIATRIX_PASSWORD"), "{password:#}");
    assert_eq!(block["block_types"]["azure"]["block"]["attributes"]["client_secret"]["sensitive"], true, "{block:#}");
}

/// The registry example plans cleanly: configuring the provider contacts nothing.
#[test]
fn the_registry_example_plans() {
    let example =
        std::fs::read_to_string(repo_root().join("examples/provider/provider.tf")).expect("the provider example");
    Case::new("the provider's registry example").step(Step::plan(&example)).run();
}

/// The README's "Using it" configuration, which names ours `mcpegress` beside the official provider, works as
/// shown. The official provider's line is left out: installing it would need `terraform init` and a registry.
#[test]
fn the_readme_configuration_with_another_local_name_works() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let using_it = &readme[readme.find("## Using it").expect("a Using it section")..];
    let start = using_it.find("```hcl\n").expect("an hcl block in Using it") + "```hcl\n".len();
    let block = &using_it[start..start + using_it[start..].find("```").expect("the block's end")];
    let official = "    aviatrix  = { source = \"AviatrixSystems/aviatrix\" }\n";
    assert!(block.contains(official), "the README's configuration no longer shows the official provider:\n{block}");
    Case::new("the README's configuration with the local name mcpegress")
        .needs_terraform(1, 8, "provider-defined functions")
        .step(
            Step::apply(&block.replace(official, ""))
                .expect_output("permits", json!(["*.githubusercontent.com", "api.github.com"]))
                .expect_output("apex_permitted", json!(false)),
        )
        .run();
}

#[test]
fn tf_log_debug_shows_provider_lines_and_nothing_without_it() {
    let mut ws = Workspace::new(&reads_data());
    let quiet = ws.run(&["plan", "-no-color"]).expect_code(0, "plan");
    assert!(!quiet.stderr.contains("provider.terraform-provider-aviatrix"), "logs without TF_LOG:\n{}", quiet.stderr);
    ws.set_env("TF_LOG", "debug");
    let loud = ws.run(&["plan", "-no-color"]).expect_code(0, "plan with TF_LOG=debug");
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
    let bin = provider_dir().join("terraform-provider-aviatrix");
    let out = std::process::Command::new(bin).env_remove("TF_PLUGIN_MAGIC_COOKIE").output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("is a Terraform plugin") && text.contains("mcp-egress/aviatrix"), "{text}");
    assert!(out.stdout.is_empty());
}
