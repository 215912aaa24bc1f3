//! Data source `aviatrix_mcp_egress_domains` through the real terraform CLI: it normalises a permit list and
//! says what it removed and why, a bad entry fails plan on the exact list element, its schema carries its
//! descriptions, and its registry example shows what its comments say.

mod common;

use common::steps::{Case, Step};
use common::terraform::{config, Workspace};
use common::tools::repo_root;
use serde_json::json;

const ADDRESS: &str = "data.aviatrix_mcp_egress_domains.ehr";

/// Any Terraform with protocol 6 reads it.
fn ehr() -> String {
    config(
        r#"
data "aviatrix_mcp_egress_domains" "ehr" {
  domains = ["EHR.Example.com.", "*.example.com", "api.example.com", "bücher.example", "registry.example.org", "registry.example.org"]
}

output "normalized" { value = data.aviatrix_mcp_egress_domains.ehr.normalized }
output "removed" { value = data.aviatrix_mcp_egress_domains.ehr.removed }
"#,
    )
}

#[test]
fn a_permit_list_is_normalised_and_says_what_it_removed() {
    let normalized = json!(["*.example.com", "registry.example.org", "xn--bcher-kva.example"]);
    let removed = json!([
        {"domain": "EHR.Example.com.", "reason": "covered by *.example.com"},
        {"domain": "api.example.com", "reason": "covered by *.example.com"},
        {"domain": "registry.example.org", "reason": "listed more than once"},
    ]);
    Case::new("the EHR permit list")
        .step(
            Step::apply(&ehr())
                .expect_attr(ADDRESS, "normalized", normalized.clone())
                .expect_attr(ADDRESS, "removed", removed.clone())
                .expect_attr(ADDRESS, "removed.2.reason", json!("listed more than once"))
                .expect_output("normalized", normalized)
                .expect_output("removed", removed),
        )
        .run();
}

#[test]
fn a_bad_domain_fails_plan_on_the_exact_element() {
    let config = config(
        r#"
data "aviatrix_mcp_egress_domains" "bad" {
  domains = ["ok.example.com", "evil.example.com:443", "fine.example.org"]
}
"#,
    );
    Case::new("a port in a permit list")
        .step(
            Step::plan(&config)
                .expect_error(
                    r#"(?s)^Invalid egress domain: domains\[1\] = "evil\.example\.com:443": ports are not part of a domain.*\(rule no-port\).*Accepted: a hostname such as"#,
                )
                // Terraform highlights exactly the offending element of the list.
                .highlighting("\"evil.example.com:443\""),
        )
        .run();
}

#[test]
fn the_schema_shows_its_descriptions() {
    let schema = Workspace::new(&ehr()).provider_schema();
    let block = &schema["data_source_schemas"]["aviatrix_mcp_egress_domains"]["block"];
    assert!(block["description"].as_str().unwrap().starts_with("Normalises an egress permit list"), "{block:#}");
    assert_eq!(block["attributes"]["domains"]["type"], json!(["list", "string"]));
    assert_eq!(block["attributes"]["domains"]["required"], true);
    assert_eq!(block["attributes"]["normalized"]["computed"], true);
}

/// The registry example, which the docs embed, shows what its comments say.
#[test]
fn the_registry_example_works() {
    let example =
        std::fs::read_to_string(repo_root().join("examples/data-sources/aviatrix_mcp_egress_domains/data-source.tf"))
            .expect("the data source example");
    Case::new("the data source's registry example")
        .step(Step::apply(&example).expect_output("permits", json!(["*.githubusercontent.com", "api.github.com"])))
        .run();
}
