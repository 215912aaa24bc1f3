//! The provider-defined functions `normalize_domain` and `domain_matches` through the real terraform CLI
//! (Terraform 1.8 or later): their values, an error naming the rule a bad argument breaks, their schema,
//! and their registry examples.

mod common;

use common::steps::{Case, Step};
use common::terraform::{config, Workspace};
use common::tools::repo_root;
use serde_json::json;

const NEEDS: &str = "provider-defined functions";

#[test]
fn functions_normalise_and_match_domains() {
    let outputs = r#"
output "normalize_domain" { value = provider::aviatrix::normalize_domain("API.Example.COM.") }
output "wildcard_matches_below" { value = provider::aviatrix::domain_matches("*.example.com", "a.b.example.com") }
output "wildcard_skips_apex" { value = provider::aviatrix::domain_matches("*.example.com", "example.com") }
"#;
    Case::new("normalize_domain and domain_matches")
        .needs_terraform(1, 8, NEEDS)
        .step(
            Step::apply(&config(outputs))
                .expect_output("normalize_domain", json!("api.example.com"))
                .expect_output("wildcard_matches_below", json!(true))
                .expect_output("wildcard_skips_apex", json!(false)),
        )
        .run();
}

#[test]
fn a_bad_argument_names_the_rule() {
    let bad = r#"output "x" { value = provider::aviatrix::normalize_domain("https://api.example.com") }"#;
    Case::new("a URL given to normalize_domain")
        .needs_terraform(1, 8, NEEDS)
        .step(Step::plan(&config(bad)).expect_error(r"(?s)https://api\.example\.com.*rule no-scheme"))
        .run();
}

#[test]
fn the_schema_shows_the_functions() {
    let ws = Workspace::new(&config(""));
    // Terraform before 1.8 does not show functions in the schema.
    if !ws.terraform.at_least(1, 8, "functions in `providers schema -json`") {
        return;
    }
    let f = &ws.provider_schema()["functions"]["domain_matches"];
    assert_eq!(f["return_type"], "bool");
    assert_eq!(f["parameters"][0]["name"], "pattern");
    assert!(f["description"].as_str().unwrap().contains("never `example.com`"), "{f:#}");
}

/// The registry examples, which the docs embed, show what their comments say: one case, one example a step.
#[test]
fn the_registry_examples_work() {
    let mut case = Case::new("the functions' registry examples").needs_terraform(1, 8, NEEDS);
    for (dir, expected) in [
        ("normalize_domain", json!({"normalized": "api.example.com", "punycode": "xn--bcher-kva.example"})),
        ("domain_matches", json!({"below": true, "apex": false})),
    ] {
        let example = std::fs::read_to_string(repo_root().join(format!("examples/functions/{dir}/function.tf")))
            .expect("the function example");
        let mut apply = Step::apply(&example);
        for (name, value) in expected.as_object().unwrap() {
            apply = apply.expect_output(name, value.clone());
        }
        case = case.step(apply);
    }
    case.run();
}
