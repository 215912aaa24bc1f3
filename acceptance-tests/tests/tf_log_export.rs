//! Resource `aviatrix_mcp_egress_log_export` through the real terraform CLI against the lab: a syslog profile
//! is enabled, imported by index, re-created after it was disabled behind Terraform's back and corrected
//! after a change there; with TLS its private key reaches the controller but never the state or a plan; a
//! profile already at the index is adopted when it is the configured one and refused when it is not; index 9
//! is CoPilot's; destroy disables the profile.

mod common;

use common::lab::{ControllerApi, Lab};
use common::steps::{Case, Step};
use common::terraform::config;
use serde_json::{json, Value};

const EXPORT: &str = "aviatrix_mcp_egress_log_export.siem";

/// A client certificate key for the lab (not a real key: the lab's controller keeps it, the gateway
/// emulation only presents it).
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nbGFiLW9ubHktbG9nLWV4cG9ydC1rZXk=\n-----END PRIVATE KEY-----";

fn export(index: u32, arguments: &str) -> String {
    config(&format!(
        r#"
variable "aviatrix_ca_file" {{ type = string }}

resource "aviatrix_mcp_egress_log_export" "siem" {{
  index  = {index}
  name   = "siem"
  server = "127.0.0.1"
  port   = 5514
  {arguments}
}}
"#
    ))
}

fn udp() -> String {
    export(0, "protocol = \"udp\"\n  exclude_gateways = [\"gw-lab-a\"]")
}

fn tls(version: u32) -> String {
    export(
        0,
        &format!(
            "ca_certificate = file(var.aviatrix_ca_file)\n  public_certificate = file(var.aviatrix_ca_file)\n  private_key = <<-EOT\n{KEY}\nEOT\n  private_key_version = {version}"
        ),
    )
}

/// A v2 action on the lab's controller, behind Terraform's back.
fn controller(lab: &Lab, action: &str, params: &[(&str, &str)]) -> Value {
    tokio::runtime::Runtime::new().expect("runtime").block_on(async {
        let api = ControllerApi::login(lab).await;
        let reply = api.action(action, params).await;
        assert_eq!(reply["return"], true, "{action}: {reply}");
        reply
    })
}

#[test]
fn a_syslog_profile_is_enabled_imported_drifts_and_keeps_its_key_out_of_state() {
    Case::new("a syslog profile")
        .step(
            Step::apply(&udp())
                .expect_attr(EXPORT, "id", json!("0"))
                .expect_attr(EXPORT, "protocol", json!("udp"))
                .expect_attr(EXPORT, "exclude_gateways", json!(["gw-lab-a"])),
        )
        .step(Step::import(EXPORT))
        .step(Step::outside("the profile is disabled on the controller", |lab| {
            controller(lab, "disable_remote_syslog_logging", &[("index", "0")]);
        }))
        .step(Step::plan(&udp()).expect_changes(&[EXPORT]))
        .step(Step::apply(&udp()))
        .step(Step::outside("the profile is pointed at another port on the controller", |lab| {
            controller(
                lab,
                "enable_remote_syslog_logging",
                &[("index", "0"), ("name", "siem"), ("server", "127.0.0.1"), ("port", "6514"), ("protocol", "UDP")],
            );
        }))
        .step(Step::plan(&udp()).expect_changes(&[EXPORT]))
        .step(Step::apply(&udp()).expect_attr(EXPORT, "port", json!(5514)))
        // TLS: the key goes to the controller and nowhere else.
        .step(
            Step::apply(&tls(1))
                .expect_kept_out("bGFiLW9ubHktbG9nLWV4cG9ydC1rZXk")
                .expect_attr(EXPORT, "protocol", json!("tcp"))
                .expect_attr(EXPORT, "private_key", Value::Null)
                .expect_attr(EXPORT, "private_key_version", json!(1)),
        )
        .step(Step::outside("the controller holds a TLS profile and shows no key", |lab| {
            let status = controller(lab, "get_remote_syslog_logging_status", &[("index", "0")]);
            assert_eq!(status["results"]["tls"], true, "{status}");
            assert!(!status.to_string().contains("bGFiLW9ubHktbG9nLWV4cG9ydC1rZXk"));
            let inventory = lab.cli(&["inventory"]);
            assert!(!String::from_utf8_lossy(&inventory.stdout).contains("bGFiLW9ubHktbG9nLWV4cG9ydC1rZXk"));
        }))
        .step(Step::plan(&tls(2)).expect_changes(&[EXPORT]).expect_kept_out("bGFiLW9ubHktbG9nLWV4cG9ydC1rZXk"))
        .step(Step::apply(&tls(2)).expect_kept_out("bGFiLW9ubHktbG9nLWV4cG9ydC1rZXk"))
        .step(Step::destroy().expect_no_resource(EXPORT))
        .run();
}

#[test]
fn a_profile_at_the_index_is_adopted_when_identical_and_refused_when_not() {
    let at = |index: u32| export(index, "protocol = \"udp\"");
    Case::new("profiles already on the controller")
        .step(Step::outside("an interrupted create left profile 2 enabled as configured", |lab| {
            controller(
                lab,
                "enable_remote_syslog_logging",
                &[("index", "2"), ("name", "siem"), ("server", "127.0.0.1"), ("port", "5514"), ("protocol", "UDP")],
            );
        }))
        .step(Step::apply(&at(2)).expect_attr(EXPORT, "id", json!("2")))
        .step(Step::destroy().expect_no_resource(EXPORT))
        .step(Step::outside("someone else enables profile 3", |lab| {
            controller(
                lab,
                "enable_remote_syslog_logging",
                &[("index", "3"), ("name", "siem"), ("server", "127.0.0.9"), ("port", "5514"), ("protocol", "UDP")],
            );
        }))
        .step(
            Step::apply(&at(3))
                .expect_error(r#"index = 3: the controller's remote syslog profile 3 is profile "siem" \(udp 127\.0\.0\.9:5514\), which this configuration did not make"#)
                .expect_no_resource(EXPORT),
        )
        .step(Step::outside("the other profile is taken away", |lab| {
            controller(lab, "disable_remote_syslog_logging", &[("index", "3")]);
        }))
        .run();
}

#[test]
fn index_9_and_half_tls_material_are_refused_at_plan() {
    Case::new("bad log export arguments")
        .step(Step::plan(&export(9, "")).expect_error("index = 9 is reserved for CoPilot").highlighting("9"))
        .step(
            Step::plan(&export(0, "private_key = \"k\"\n  private_key_version = 1"))
                .expect_error("private_key is only used with TLS"),
        )
        .run();
}
