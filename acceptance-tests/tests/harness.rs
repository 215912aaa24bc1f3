//! The step harness proves what it claims: each lifecycle check fails a case when its rule is broken, and
//! says what broke. Without these, a harness that passed everything would look the same as a good one.
//!
//! The cases use the domains data source and plain outputs, which any Terraform with protocol 6 plans, and
//! Terraform's built-in `terraform_data` resource where a managed resource is needed (import), until the
//! provider has resources of its own.

mod common;

use common::lab::{ControllerApi, Lab};
use common::steps::{Case, Step};
use common::terraform::{config, Terraform, REQUIRED_PROVIDERS};
use serde_json::json;

const DOMAINS: &str = r#"
data "aviatrix_mcp_egress_domains" "d" {
  domains = ["B.example.com", "a.example.com"]
}
output "first" { value = data.aviatrix_mcp_egress_domains.d.normalized[0] }
"#;

/// The failure a case reports, which must exist and mention every one of `wanted`.
fn fails_with(case: Case, wanted: &[&str]) {
    let failure = case.try_run().expect_err("the case passed, but it breaks a rule the harness checks");
    for text in wanted {
        assert!(failure.contains(text), "the failure does not mention {text:?}:\n{failure}");
    }
    eprintln!("as it should, the case failed:\n{failure}\n");
}

#[test]
fn a_case_that_keeps_every_rule_passes() {
    Case::new("keeps every rule")
        .step(
            Step::apply(&config(DOMAINS))
                .expect_attr(
                    "data.aviatrix_mcp_egress_domains.d",
                    "normalized",
                    json!(["a.example.com", "b.example.com"]),
                )
                .expect_attr("data.aviatrix_mcp_egress_domains.d", "normalized.1", json!("b.example.com"))
                .expect_attr_set("data.aviatrix_mcp_egress_domains.d", "removed")
                .expect_output("first", json!("a.example.com")),
        )
        .step(Step::plan(&config(DOMAINS)).expect_no_changes())
        .step(
            Step::plan(&config(&format!("{DOMAINS}\noutput \"second\" {{ value = \"x\" }}\n")))
                .expect_changes(&["output.second"]),
        )
        .step(Step::destroy().expect_no_resource("data.aviatrix_mcp_egress_domains.d"))
        .run();
}

#[test]
fn a_wrong_value_fails_and_shows_both_values() {
    fails_with(
        Case::new("wrong value").step(Step::apply(&config(DOMAINS)).expect_output("first", json!("b.example.com"))),
        &["wrong value", "step 1 (apply)", "output first = \"a.example.com\", wanted \"b.example.com\""],
    );
    fails_with(
        Case::new("missing attribute").step(Step::apply(&config(DOMAINS)).expect_attr(
            "data.aviatrix_mcp_egress_domains.d",
            "normalized.5",
            json!("x"),
        )),
        &["has no normalized.5"],
    );
}

#[test]
fn a_value_that_must_be_kept_out_fails_wherever_it_shows() {
    // An output holding the value: it is in the apply output and in the state file.
    let leaky = config(&format!("{DOMAINS}\noutput \"leak\" {{ value = \"not-so-s3cret\" }}\n"));
    fails_with(
        Case::new("leaky apply").step(Step::apply(&leaky).expect_kept_out("not-so-s3cret")),
        &["leaky apply", "step 1 (apply)", "expect_kept_out #1 appears in the apply output"],
    );
    fails_with(
        Case::new("leaky plan").step(Step::plan(&leaky).expect_kept_out("not-so-s3cret")),
        &["leaky plan", "step 1 (plan)", "expect_kept_out #1 appears in the plan output"],
    );
    Case::new("nothing leaks").step(Step::apply(&config(DOMAINS)).expect_kept_out("not-so-s3cret")).run();
}

#[test]
fn a_plan_that_is_not_empty_after_apply_fails() {
    // timestamp() is known only at apply, so every plan shows the output changing.
    fails_with(
        Case::new("never settles").step(Step::apply(&config("output \"now\" { value = timestamp() }\n"))),
        &["the plan after apply is not empty"],
    );
    fails_with(
        Case::new("unexpected change").step(Step::apply(&config(DOMAINS))).step(
            Step::plan(&config(&format!("{DOMAINS}\noutput \"second\" {{ value = \"x\" }}\n"))).expect_no_changes(),
        ),
        &["step 2 (plan)", "the plan is not empty"],
    );
    fails_with(
        Case::new("other changes").step(Step::plan(&config(DOMAINS)).expect_changes(&["output.second"])),
        &["the plan changes [\"output.first\"], wanted [\"output.second\"]"],
    );
}

#[test]
fn expected_errors_must_come_and_must_match() {
    let bad = config("data \"aviatrix_mcp_egress_domains\" \"d\" {\n  domains = [\"localhost\"]\n}\n");
    Case::new("error as expected").step(Step::plan(&bad).expect_error(r"rule no-localhost|localhost")).run();
    fails_with(
        Case::new("no error").step(Step::plan(&config(DOMAINS)).expect_error("Invalid egress domain")),
        &["plan succeeded; wanted an error matching /Invalid egress domain/"],
    );
    fails_with(
        Case::new("another error").step(Step::plan(&bad).expect_error("rule no-port")),
        &["no error matches /rule no-port/", "domains[0]"],
    );
    fails_with(
        Case::new("wrong highlight").step(Step::plan(&bad).expect_error("domains\\[0\\]").highlighting("\"other\"")),
        &["the error highlights \"\\\"localhost\\\"\", wanted \"\\\"other\\\"\""],
    );
}

#[test]
fn expected_warnings_must_come_and_must_match() {
    let insecure = format!("{REQUIRED_PROVIDERS}\nprovider \"aviatrix\" {{\n  skip_tls_verify = true\n}}\n{DOMAINS}");
    Case::new("warns").step(Step::plan(&insecure).expect_warning("TLS verification of the controller is off")).run();
    fails_with(
        Case::new("no warning").step(Step::plan(&config(DOMAINS)).expect_warning("TLS verification")),
        &["no warning of the plan matches /TLS verification/"],
    );
    fails_with(
        Case::new("another warning").step(Step::plan(&insecure).expect_warning("cluster is Partial")),
        &["no warning of the plan matches /cluster is Partial/", "TLS verification of the controller is off"],
    );
}

#[test]
fn an_import_terraform_refuses_fails_unless_expected() {
    let gateway = "aviatrix_mcp_egress_gateway.gw";
    fails_with(
        Case::new("import without a resource")
            .step(Step::apply(&config(DOMAINS)))
            .step(Step::import(gateway).id("gw-1")),
        &["step 2 (import aviatrix_mcp_egress_gateway.gw)", "import aviatrix_mcp_egress_gateway.gw gw-1 failed"],
    );
    fails_with(
        Case::new("import without an ID").step(Step::apply(&config(DOMAINS))).step(Step::import(gateway)),
        &["is not in the state; give the ID to import with Step::id"],
    );
    Case::new("import refused as expected")
        .step(Step::apply(&config(DOMAINS)))
        .step(
            Step::import(gateway).id("gw-1").expect_error(
                r#"resource address "aviatrix_mcp_egress_gateway\.gw" does not exist in the configuration"#,
            ),
        )
        .run();
}

/// `terraform_data` with no arguments imports to exactly what apply stored, so both import paths pass: one
/// compared with the applied state, one of an object the state does not hold (destroyed by the step).
#[test]
fn an_import_into_a_fresh_state_agrees_with_apply() {
    if !Terraform::find().at_least(1, 5, "importing terraform_data") {
        return;
    }
    let one = "resource \"terraform_data\" \"one\" {}\n";
    let two = format!("{one}resource \"terraform_data\" \"two\" {{}}\n");
    Case::new("imports of terraform_data")
        .step(Step::apply(one).expect_attr_set("terraform_data.one", "id"))
        .step(Step::import("terraform_data.one").expect_attr_set("terraform_data.one", "id"))
        .step(Step::plan(&two).expect_changes(&["terraform_data.two"]))
        .step(Step::import("terraform_data.two").id("made-elsewhere").expect_attr(
            "terraform_data.two",
            "id",
            json!("made-elsewhere"),
        ))
        .run();
    fails_with(
        Case::new("an import that disagrees")
            .step(Step::apply(one))
            .step(Step::import("terraform_data.one").id("another-id")),
        &["step 2 (import terraform_data.one)", "the imported values differ from the applied ones in [\"id\"]"],
    );
    // An imported terraform_data has no input, so its configuration's input plans an update.
    fails_with(
        Case::new("an import that does not re-plan empty")
            .step(Step::apply("resource \"terraform_data\" \"one\" {\n  input = \"a\"\n}\n"))
            .step(Step::import("terraform_data.one").ignoring(&["input", "output"])),
        &["the plan of terraform_data.one after import is not empty"],
    );
}

/// What a case leaves in the lab fails it, even when every step passed; a failing step still gets the
/// cleanup, and both failures are reported.
#[test]
fn whatever_a_case_leaves_in_the_lab_fails_it() {
    let leave_a_gateway = |lab: &Lab| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let api = ControllerApi::login(lab).await;
            let reply = api.create_aws_gateway(lab, "left-behind", "t3.small", &[]).await;
            assert_eq!(reply["return"], true, "create gateway: {reply}");
        })
    };
    fails_with(
        Case::new("leaves a gateway").step(Step::outside("a gateway nobody destroys", leave_a_gateway)),
        &["at its end", "not back to its baseline", "left-behind"],
    );
    fails_with(
        Case::new("fails, then leaves a gateway")
            .step(Step::outside("a gateway nobody destroys", leave_a_gateway))
            .step(Step::apply(&config(DOMAINS)).expect_output("first", json!("z"))),
        &["step 2 (apply)", "at its end", "left-behind"],
    );
    fails_with(
        Case::new("a change that panics").step(Step::outside("panics", |_| panic!("the emulator said no"))),
        &["step 1 (outside Terraform: panics): the emulator said no"],
    );
}

#[test]
fn warnings_of_an_apply_are_checked_when_asked_for() {
    let check = |condition: &str| {
        config(&format!(
            "{DOMAINS}\ncheck \"first\" {{\n  assert {{\n    condition     = {condition}\n    error_message = \"first is ${{data.aviatrix_mcp_egress_domains.d.normalized[0]}}\"\n  }}\n}}\n"
        ))
    };
    let holds = check("data.aviatrix_mcp_egress_domains.d.normalized[0] == \"a.example.com\"");
    let fails = check("data.aviatrix_mcp_egress_domains.d.normalized[0] == \"b.example.com\"");
    Case::new("checks that hold, and one that warns")
        .step(Step::apply(&holds).expect_no_warnings())
        .step(Step::apply(&fails).expect_warning("Check block assertion failed: first is a.example.com"))
        .run();
    fails_with(
        Case::new("a check that fails").step(Step::apply(&fails).expect_no_warnings()),
        &["step 1 (apply)", "apply warned, wanted no warning", "first is a.example.com"],
    );
    fails_with(
        Case::new("a warning that never comes")
            .step(Step::apply(&holds).expect_warning("Check block assertion failed")),
        &["no warning of the apply matches /Check block assertion failed/"],
    );
}
