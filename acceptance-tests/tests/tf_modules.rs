//! Every Terraform module under modules/ through `terraform test` against a lab of its own, with the module's
//! own `.tftest.hcl` files as they stand: inputs only from the lab's lab.env (each file's `lab` run reads the
//! `TF_VAR_` variables), the module's runs applied, asserted and destroyed by terraform, and the lab back at
//! its baseline afterwards.

mod common;

use common::lab::Lab;
use common::terraform::Workspace;

/// `terraform test` of `modules/<module>`; returns its output.
fn module_test(module: &str) -> String {
    let lab = Lab::up(&[]);
    let mut ws = Workspace::new("");
    for (name, value) in &lab.env {
        ws.set_env(name, value);
    }
    ws.copy_repo_tree("modules");
    let dir = format!("modules/{module}");
    // Local modules only (the test runs' helpers): `get` installs them without asking a registry.
    ws.run_in(&dir, &["get", "-no-color"]).expect_code(0, "terraform get");
    let run = ws.run_in(&dir, &["test", "-no-color"]);
    assert!(run.code == 0 && run.stdout.contains("Success!"), "terraform test of {dir}: {}", run.describe(0));
    let counts = regex::Regex::new(r"Success! (\d+) passed, 0 failed").unwrap();
    let passed: u32 = counts
        .captures(&run.stdout)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no pass count in: {}", run.stdout));
    assert!(passed >= 4, "{dir}: only {passed} runs passed:\n{}", run.stdout);
    let (clean, diff) = lab.diff();
    assert!(clean, "{dir}: terraform test left the lab changed: {diff:#}");
    run.stdout
}

#[test]
fn egress_gateway_creates_routes_and_masquerade_or_routes_through_an_existing_spoke() {
    let out = module_test("egress-gateway");
    for file in ["aws.tftest.hcl", "azure.tftest.hcl", "existing_gateway.tftest.hcl"] {
        assert!(out.contains(&format!("tests/{file}... pass")), "{file} did not pass:\n{out}");
    }
}

#[test]
fn egress_policy_onboards_and_writes_tiers_1_and_3_on_eks_and_aks() {
    let out = module_test("egress-policy");
    for file in ["aws.tftest.hcl", "azure.tftest.hcl"] {
        assert!(out.contains(&format!("tests/{file}... pass")), "{file} did not pass:\n{out}");
    }
}

#[test]
fn obot_platform_installs_the_crds_and_obot_with_default_deny() {
    module_test("obot-platform");
}

#[test]
fn mcp_server_permits_each_server_its_own_domains() {
    module_test("mcp-server");
}
