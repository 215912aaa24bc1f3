//! `lab.env` gives the provider everything it reads: resolved through the provider's own settings code with
//! an empty provider block, every connection setting is filled, so `provider "aviatrix" {}` works in the lab.
//! Sourced, it also puts the tools the project installs (kubectl, helm, the fallback terraform) first on
//! PATH, once however often it is sourced.

mod common;

use common::lab::Lab;
use terraform_provider_aviatrix::provider::{ProviderConfig, Settings};

#[test]
fn lab_env_configures_an_empty_provider_block() {
    let lab = Lab::up(&[]);
    let settings = Settings::resolve(&ProviderConfig::default(), &lab.env).expect("lab.env values are valid settings");
    let missing: Vec<&str> = [
        ("controller_url", settings.controller.url.is_some()),
        ("username", settings.controller.username.is_some()),
        ("password", settings.controller.password.is_some()),
        ("ca_file", settings.controller.ca_file.is_some()),
        ("aws.region", settings.aws.region.is_some()),
        ("aws.ec2_endpoint", settings.aws.ec2_endpoint.is_some()),
        ("azure.subscription_id", settings.azure.subscription_id.is_some()),
        ("azure.tenant_id", settings.azure.tenant_id.is_some()),
        ("azure.client_id", settings.azure.client_id.is_some()),
        ("azure.client_secret", settings.azure.client_secret.is_some()),
        ("azure.resource_manager_endpoint", settings.azure.resource_manager_endpoint.is_some()),
        ("azure.authority_host", settings.azure.authority_host.is_some()),
        ("kubernetes.config_path", settings.kubernetes.config_path.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| (!set).then_some(name))
    .collect();
    assert!(missing.is_empty(), "lab.env leaves these provider settings unset: {missing:?}");
    assert!(settings.warnings().is_empty(), "the lab verifies TLS, so the provider has nothing to warn about");
    assert!(std::path::Path::new(settings.controller.ca_file.as_deref().unwrap()).exists());
    assert!(std::path::Path::new(settings.kubernetes.config_path.as_deref().unwrap()).exists());
    for name in [
        "LAB_AWS_ACCOUNT_NAME",
        "LAB_AWS_VPC_ID",
        "LAB_AWS_NODE_ROUTE_TABLE_IDS",
        "LAB_AZURE_ACCOUNT_NAME",
        "LAB_AZURE_NODE_ROUTE_TABLE_IDS",
    ] {
        assert!(!lab.var(name).is_empty(), "{name} is empty");
    }
}

#[test]
fn sourcing_lab_env_puts_the_cache_bin_first_on_path_once() {
    let lab = Lab::up(&[]);
    let twice = r#". "$1"; once="$PATH"; . "$1"; [ "$PATH" = "$once" ] || { echo "changed again: $PATH" >&2; exit 9; }; printf '%s' "$PATH""#;
    let output = std::process::Command::new("bash")
        .args(["-c", twice, "bash"])
        .arg(lab.path().join("lab.env"))
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("running bash");
    let path = common::tools::ok(&output, "sourcing lab.env twice");
    let cache_bin = std::fs::canonicalize(common::tools::cache_bin()).expect("the cache's bin exists once up has run");
    assert!(path.starts_with(&format!("{}:", cache_bin.display())), "PATH after sourcing lab.env: {path}");
    assert!(path.ends_with(":/usr/bin:/bin"), "the PATH it was given comes after: {path}");
}
