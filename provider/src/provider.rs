//! The provider block: where the controller, the clouds, the cluster and helm are, each attribute also read
//! from the environment so that `provider "aviatrix" {}` works on its own.
//!
//! Configuration is only recorded here. Nothing is contacted until a resource needs it, so the functions and
//! the domains data source work with no controller at all. Secrets are held in [`Secret`], whose `Debug` and
//! `Display` never show the value.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::data_sources::domains::DomainsDataSource;
use crate::functions::{DomainMatches, NormalizeDomain};
use crate::plugin::component::{DynDataSource, DynFunction, DynResource};
use crate::plugin::{Diagnostic, Diagnostics, Provider, TfSchema};

/// Configuration of the Aviatrix MCP egress provider. Every attribute may instead come from the
/// environment variable named in its description; the block's value wins over the environment.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TfSchema)]
pub struct ProviderConfig {
    /// URL of the Aviatrix controller, such as `https://controller.example.com`. Environment: `AVIATRIX_CONTROLLER_URL`.
    #[tf(optional)]
    pub controller_url: Option<String>,
    /// Controller user name. Environment: `AVIATRIX_USERNAME`.
    #[tf(optional)]
    pub username: Option<String>,
    /// Controller password. Environment: `AVIATRIX_PASSWORD`. Never written to state, logs or plan output.
    #[tf(optional, sensitive)]
    pub password: Option<String>,
    /// PEM file of the certificate authority that signed the controller's certificate. Environment: `AVIATRIX_CA_FILE`.
    #[tf(optional)]
    pub ca_file: Option<String>,
    /// Skip verification of the controller's TLS certificate (lab use only). Environment: `AVIATRIX_SKIP_TLS_VERIFY`.
    #[tf(optional)]
    pub skip_tls_verify: Option<bool>,
    /// AWS access for EKS clusters' route tables. Credentials come from the usual AWS chain.
    #[tf(block, max_items = 1)]
    pub aws: Option<AwsConfig>,
    /// Azure access for AKS clusters' route tables.
    #[tf(block, max_items = 1)]
    pub azure: Option<AzureConfig>,
    /// Access to the Kubernetes cluster where the MCP servers run.
    #[tf(block, max_items = 1)]
    pub kubernetes: Option<KubernetesConfig>,
    /// The helm CLI used for releases.
    #[tf(block, max_items = 1)]
    pub helm: Option<HelmConfig>,
}

/// AWS settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TfSchema)]
pub struct AwsConfig {
    /// AWS region. Environment: `AWS_REGION`.
    #[tf(optional)]
    pub region: Option<String>,
    /// Endpoint URL of the EC2 API, for private endpoints and the lab. Environment: `AWS_ENDPOINT_URL_EC2`.
    #[tf(optional)]
    pub ec2_endpoint: Option<String>,
    /// Named profile of the shared AWS configuration. Environment: `AWS_PROFILE`.
    #[tf(optional)]
    pub profile: Option<String>,
}

/// Azure settings (a service principal with a client secret).
#[derive(Clone, Debug, Default, Serialize, Deserialize, TfSchema)]
pub struct AzureConfig {
    /// Subscription ID. Environment: `ARM_SUBSCRIPTION_ID`.
    #[tf(optional)]
    pub subscription_id: Option<String>,
    /// Tenant ID. Environment: `ARM_TENANT_ID`.
    #[tf(optional)]
    pub tenant_id: Option<String>,
    /// Client (application) ID. Environment: `ARM_CLIENT_ID`.
    #[tf(optional)]
    pub client_id: Option<String>,
    /// Client secret. Environment: `ARM_CLIENT_SECRET`. Never written to state, logs or plan output.
    #[tf(optional, sensitive)]
    pub client_secret: Option<String>,
    /// Resource Manager endpoint, such as `https://management.azure.com`. Environment: `AZURE_RESOURCE_MANAGER_ENDPOINT`.
    #[tf(optional)]
    pub resource_manager_endpoint: Option<String>,
    /// Entra ID authority host, such as `https://login.microsoftonline.com`. Environment: `AZURE_AUTHORITY_HOST`.
    #[tf(optional)]
    pub authority_host: Option<String>,
}

/// Kubernetes settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TfSchema)]
pub struct KubernetesConfig {
    /// Path of the kubeconfig file. Environment: `KUBECONFIG`.
    #[tf(optional)]
    pub config_path: Option<String>,
    /// Context of the kubeconfig to use. Environment: `KUBE_CONTEXT`.
    #[tf(optional)]
    pub config_context: Option<String>,
}

/// helm settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TfSchema)]
pub struct HelmConfig {
    /// Path of the helm v4 binary. Environment: `HELM_BINARY`; default `helm` on PATH.
    #[tf(optional)]
    pub binary: Option<String>,
}

/// A secret value: usable, never shown.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(empty)" } else { "Secret(****)" })
    }
}

/// Settings after the environment has filled what the block left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pub controller_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_file: Option<String>,
    pub skip_tls_verify: bool,
    pub aws_region: Option<String>,
    pub aws_ec2_endpoint: Option<String>,
    pub aws_profile: Option<String>,
    pub azure_subscription_id: Option<String>,
    pub azure_tenant_id: Option<String>,
    pub azure_client_id: Option<String>,
    pub azure_client_secret: Option<Secret>,
    pub azure_resource_manager_endpoint: Option<String>,
    pub azure_authority_host: Option<String>,
    pub kubeconfig: Option<String>,
    pub kube_context: Option<String>,
    pub helm_binary: String,
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" | "" => Some(false),
        _ => None,
    }
}

impl Settings {
    /// Resolves the block against an environment (the process environment in production, a map in tests).
    pub fn resolve(config: &ProviderConfig, env: &HashMap<String, String>) -> Result<Settings, Vec<Diagnostic>> {
        let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
        let pick = |value: &Option<String>, name: &str| value.clone().filter(|v| !v.is_empty()).or_else(|| var(name));
        let aws = config.aws.clone().unwrap_or_default();
        let azure = config.azure.clone().unwrap_or_default();
        let kube = config.kubernetes.clone().unwrap_or_default();
        let helm = config.helm.clone().unwrap_or_default();
        let mut problems = Vec::new();
        let skip_tls_verify = match (config.skip_tls_verify, var("AVIATRIX_SKIP_TLS_VERIFY")) {
            (Some(v), _) => v,
            (None, Some(raw)) => truthy(&raw).unwrap_or_else(|| {
                problems.push(Diagnostic::error(
                    "Invalid AVIATRIX_SKIP_TLS_VERIFY",
                    format!("AVIATRIX_SKIP_TLS_VERIFY = {raw:?} is not a boolean; use \"true\" or \"false\"."),
                ));
                false
            }),
            (None, None) => false,
        };
        let settings = Settings {
            controller_url: pick(&config.controller_url, "AVIATRIX_CONTROLLER_URL"),
            username: pick(&config.username, "AVIATRIX_USERNAME"),
            password: pick(&config.password, "AVIATRIX_PASSWORD").map(Secret),
            ca_file: pick(&config.ca_file, "AVIATRIX_CA_FILE"),
            skip_tls_verify,
            aws_region: pick(&aws.region, "AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            aws_ec2_endpoint: pick(&aws.ec2_endpoint, "AWS_ENDPOINT_URL_EC2").or_else(|| var("AWS_ENDPOINT_URL")),
            aws_profile: pick(&aws.profile, "AWS_PROFILE"),
            azure_subscription_id: pick(&azure.subscription_id, "ARM_SUBSCRIPTION_ID"),
            azure_tenant_id: pick(&azure.tenant_id, "ARM_TENANT_ID"),
            azure_client_id: pick(&azure.client_id, "ARM_CLIENT_ID"),
            azure_client_secret: pick(&azure.client_secret, "ARM_CLIENT_SECRET").map(Secret),
            azure_resource_manager_endpoint: pick(&azure.resource_manager_endpoint, "AZURE_RESOURCE_MANAGER_ENDPOINT"),
            azure_authority_host: pick(&azure.authority_host, "AZURE_AUTHORITY_HOST"),
            kubeconfig: pick(&kube.config_path, "KUBECONFIG"),
            kube_context: pick(&kube.config_context, "KUBE_CONTEXT"),
            helm_binary: pick(&helm.binary, "HELM_BINARY").unwrap_or_else(|| "helm".to_string()),
        };
        for (attr, value) in [
            ("controller_url", &settings.controller_url),
            ("azure.resource_manager_endpoint", &settings.azure_resource_manager_endpoint),
            ("azure.authority_host", &settings.azure_authority_host),
            ("aws.ec2_endpoint", &settings.aws_ec2_endpoint),
        ] {
            if let Some(url) = value {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    problems.push(Diagnostic::error(
                        format!("Invalid {attr}"),
                        format!("{attr} = {url:?} is not an http(s) URL; use a URL such as \"https://host:port\"."),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

/// The provider: its settings once configured, and its components.
#[derive(Default)]
pub struct AviatrixProvider {
    settings: RwLock<Option<Arc<Settings>>>,
}

impl AviatrixProvider {
    /// The configured settings; resources call this when they first need a client.
    pub fn settings(&self) -> Option<Arc<Settings>> {
        self.settings.read().expect("settings lock").clone()
    }
}

#[tonic::async_trait]
impl Provider for AviatrixProvider {
    type Config = ProviderConfig;

    fn validate(&self, config: &ProviderConfig) -> Vec<Diagnostic> {
        Settings::resolve(config, &HashMap::new()).err().unwrap_or_default()
    }

    async fn configure(&self, config: ProviderConfig, terraform_version: &str) -> Result<(), Diagnostics> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let settings = Settings::resolve(&config, &env).map_err(Diagnostics::from)?;
        tracing::debug!(
            terraform_version,
            controller_url = settings.controller_url.as_deref().unwrap_or("(not set)"),
            "provider configured; no outside system is contacted until a resource needs it"
        );
        *self.settings.write().expect("settings lock") = Some(Arc::new(settings));
        Ok(())
    }

    fn data_sources(self: &Arc<Self>) -> Vec<Arc<dyn DynDataSource>> {
        vec![Arc::new(DomainsDataSource)]
    }

    fn resources(self: &Arc<Self>) -> Vec<Arc<dyn DynResource>> {
        Vec::new()
    }

    fn functions(self: &Arc<Self>) -> Vec<Arc<dyn DynFunction>> {
        vec![Arc::new(NormalizeDomain), Arc::new(DomainMatches)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_fills_what_the_block_leaves_out() {
        let e = env(&[
            ("AVIATRIX_CONTROLLER_URL", "https://ctl.example.com"),
            ("AVIATRIX_USERNAME", "admin"),
            ("AVIATRIX_PASSWORD", "hunter2"),
            ("AVIATRIX_SKIP_TLS_VERIFY", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5000"),
            ("ARM_SUBSCRIPTION_ID", "sub"),
            ("ARM_CLIENT_SECRET", "s3cret"),
            ("KUBECONFIG", "/tmp/kubeconfig"),
            ("KUBE_CONTEXT", "lab"),
            ("HELM_BINARY", "/opt/helm"),
        ]);
        let config = ProviderConfig { username: Some("operator".into()), ..Default::default() };
        let s = Settings::resolve(&config, &e).unwrap();
        assert_eq!(s.controller_url.as_deref(), Some("https://ctl.example.com"));
        assert_eq!(s.username.as_deref(), Some("operator"), "the block wins over the environment");
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(s.skip_tls_verify);
        assert_eq!(s.aws_region.as_deref(), Some("us-east-1"));
        assert_eq!(s.aws_ec2_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.azure_subscription_id.as_deref(), Some("sub"));
        assert_eq!(s.kubeconfig.as_deref(), Some("/tmp/kubeconfig"));
        assert_eq!(s.kube_context.as_deref(), Some("lab"));
        assert_eq!(s.helm_binary, "/opt/helm");
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret"), "secrets leak through Debug: {shown}");
    }

    #[test]
    fn bad_values_are_named() {
        let config = ProviderConfig { controller_url: Some("ctl.example.com".into()), ..Default::default() };
        let problems = Settings::resolve(&config, &env(&[("AVIATRIX_SKIP_TLS_VERIFY", "perhaps")])).unwrap_err();
        let text: Vec<String> = problems.iter().map(|d| d.detail.clone()).collect();
        assert!(text.iter().any(|t| t.contains("AVIATRIX_SKIP_TLS_VERIFY = \"perhaps\"")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("controller_url = \"ctl.example.com\"")), "{text:?}");
        assert_eq!(Settings::resolve(&ProviderConfig::default(), &HashMap::new()).unwrap().helm_binary, "helm");
    }
}
