//! The provider block: where the controller, the clouds, the cluster and helm are, each attribute also read
//! from the environment so that `provider "aviatrix" {}` works on its own.
//!
//! Configuration is only recorded here. Nothing is contacted until a resource needs it, so the functions and
//! the domains data source work with no controller at all. Secrets are held in [`Secret`], whose `Debug` and
//! `Display` never show the value.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde::{Deserialize, Serialize};

use crate::clients::aws::AwsClient;
use crate::clients::azure::AzureClient;
use crate::clients::controller::ControllerClient;
use crate::clients::helm::HelmClient;
use crate::clients::kube::KubeClient;
use crate::data_sources::domains::DomainsDataSource;
use crate::data_sources::inventory::InventoryDataSource;
use crate::data_sources::verdict::VerdictDataSource;
use crate::functions::{DomainMatches, NormalizeDomain};
use crate::plugin::component::{DynDataSource, DynFunction, DynResource};
use crate::plugin::{Diagnostic, Diagnostics, Outcome, Provider, TfSchema};
use crate::resources::cluster::ClusterResource;
use crate::resources::gateway::GatewayResource;
use crate::resources::log_export::LogExportResource;
use crate::resources::masquerade::MasqueradeResource;
use crate::resources::policy::PolicyResource;
use crate::resources::release::ReleaseResource;
use crate::resources::route::RouteResource;
use crate::resources::server::ServerResource;

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
    /// PEM bundle of extra certificate authorities for the EC2 endpoint (private endpoints, the lab).
    /// Environment: `AWS_CA_BUNDLE`.
    #[tf(optional)]
    pub ca_file: Option<String>,
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
    /// PEM bundle of extra certificate authorities for the Resource Manager and authority endpoints.
    /// Environment: `AZURE_CA_FILE`.
    #[tf(optional)]
    pub ca_file: Option<String>,
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
    /// Path of the helm v4 binary (helm v3 also works, without `force_conflicts`). Environment:
    /// `HELM_BINARY`; default `helm` on PATH.
    #[tf(optional)]
    pub binary: Option<String>,
    /// A helm repositories file to use instead of the provider's private, empty one, for charts named as
    /// `<repo>/<chart>`. Unset, the user's own helm repositories are never read or changed.
    #[tf(optional)]
    pub repository_config: Option<String>,
    /// A helm repository cache directory to use instead of the provider's private one.
    #[tf(optional)]
    pub repository_cache: Option<String>,
}

/// A secret value: usable, never shown.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(empty)" } else { "Secret(****)" })
    }
}

/// Where the controller is and how to reach it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControllerSettings {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_file: Option<String>,
    pub skip_tls_verify: bool,
}

/// AWS access; credentials themselves come from the AWS chain when the client is built.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub ec2_endpoint: Option<String>,
    pub profile: Option<String>,
    pub ca_file: Option<String>,
}

/// Azure access as a service principal.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AzureSettings {
    pub subscription_id: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub resource_manager_endpoint: Option<String>,
    pub authority_host: Option<String>,
    pub ca_file: Option<String>,
}

/// Which kubeconfig and context; none means the client's own defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KubernetesSettings {
    pub config_path: Option<String>,
    pub context: Option<String>,
}

/// The helm binary and, when the block names them, the repository files helm may use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HelmSettings {
    /// A path or a name; `None` means `helm` on PATH.
    pub binary: Option<String>,
    /// Where `binary` came from (`helm.binary` or `HELM_BINARY`), for error messages.
    pub binary_from: &'static str,
    pub repository_config: Option<String>,
    pub repository_cache: Option<String>,
}

/// Settings after the environment has filled what the block left out: one part per outside system, each
/// resolved from its own block and variables, so each client is built from its part alone, lazily, the first
/// time a resource needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pub controller: ControllerSettings,
    pub aws: AwsSettings,
    pub azure: AzureSettings,
    pub kubernetes: KubernetesSettings,
    pub helm: HelmSettings,
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" | "" => Some(false),
        _ => None,
    }
}

/// An environment to resolve against, and the problems found while resolving.
struct Resolver<'a> {
    env: &'a HashMap<String, String>,
    problems: Diagnostics,
}

impl Resolver<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The block's value when set, else the environment variable's.
    fn pick(&self, value: &Option<String>, name: &str) -> Option<String> {
        value.clone().filter(|v| !v.is_empty()).or_else(|| self.var(name))
    }

    /// Like [`Resolver::pick`], for a URL: anything but http(s) is a problem on `attr`.
    fn url(&mut self, value: &Option<String>, name: &str, attr: &str) -> Option<String> {
        let url = self.pick(value, name)?;
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            self.problems.push(Diagnostic::error(
                format!("Invalid {attr}"),
                format!("{attr} = {url:?} is not an http(s) URL; use a URL such as \"https://host:port\"."),
            ));
        }
        Some(url)
    }
}

impl ControllerSettings {
    fn resolve(config: &ProviderConfig, r: &mut Resolver<'_>) -> ControllerSettings {
        let skip_tls_verify = match (config.skip_tls_verify, r.var("AVIATRIX_SKIP_TLS_VERIFY")) {
            (Some(v), _) => v,
            (None, Some(raw)) => truthy(&raw).unwrap_or_else(|| {
                r.problems.push(Diagnostic::error(
                    "Invalid AVIATRIX_SKIP_TLS_VERIFY",
                    format!("AVIATRIX_SKIP_TLS_VERIFY = {raw:?} is not a boolean; use \"true\" or \"false\"."),
                ));
                false
            }),
            (None, None) => false,
        };
        ControllerSettings {
            url: r.url(&config.controller_url, "AVIATRIX_CONTROLLER_URL", "controller_url"),
            username: r.pick(&config.username, "AVIATRIX_USERNAME"),
            password: r.pick(&config.password, "AVIATRIX_PASSWORD").map(Secret),
            ca_file: r.pick(&config.ca_file, "AVIATRIX_CA_FILE"),
            skip_tls_verify,
        }
    }
}

impl AwsSettings {
    fn resolve(block: &AwsConfig, r: &mut Resolver<'_>) -> AwsSettings {
        AwsSettings {
            region: r.pick(&block.region, "AWS_REGION").or_else(|| r.var("AWS_DEFAULT_REGION")),
            ec2_endpoint: r
                .url(&block.ec2_endpoint, "AWS_ENDPOINT_URL_EC2", "aws.ec2_endpoint")
                .or_else(|| r.url(&None, "AWS_ENDPOINT_URL", "aws.ec2_endpoint")),
            profile: r.pick(&block.profile, "AWS_PROFILE"),
            ca_file: r.pick(&block.ca_file, "AWS_CA_BUNDLE"),
        }
    }
}

impl AzureSettings {
    fn resolve(block: &AzureConfig, r: &mut Resolver<'_>) -> AzureSettings {
        AzureSettings {
            subscription_id: r.pick(&block.subscription_id, "ARM_SUBSCRIPTION_ID"),
            tenant_id: r.pick(&block.tenant_id, "ARM_TENANT_ID"),
            client_id: r.pick(&block.client_id, "ARM_CLIENT_ID"),
            client_secret: r.pick(&block.client_secret, "ARM_CLIENT_SECRET").map(Secret),
            resource_manager_endpoint: r.url(
                &block.resource_manager_endpoint,
                "AZURE_RESOURCE_MANAGER_ENDPOINT",
                "azure.resource_manager_endpoint",
            ),
            authority_host: r.url(&block.authority_host, "AZURE_AUTHORITY_HOST", "azure.authority_host"),
            ca_file: r.pick(&block.ca_file, "AZURE_CA_FILE"),
        }
    }
}

impl KubernetesSettings {
    fn resolve(block: &KubernetesConfig, r: &mut Resolver<'_>) -> KubernetesSettings {
        KubernetesSettings {
            config_path: r.pick(&block.config_path, "KUBECONFIG"),
            context: r.pick(&block.config_context, "KUBE_CONTEXT"),
        }
    }
}

impl HelmSettings {
    fn resolve(block: &HelmConfig, r: &mut Resolver<'_>) -> HelmSettings {
        let from_block = block.binary.as_deref().is_some_and(|b| !b.is_empty());
        HelmSettings {
            binary: r.pick(&block.binary, "HELM_BINARY"),
            binary_from: if from_block { "helm.binary" } else { "HELM_BINARY" },
            repository_config: block.repository_config.clone().filter(|v| !v.is_empty()),
            repository_cache: block.repository_cache.clone().filter(|v| !v.is_empty()),
        }
    }
}

impl Settings {
    /// Resolves the block against an environment (the process environment in production, a map in tests).
    /// Every problem is reported at once, each naming its attribute or variable.
    pub fn resolve(config: &ProviderConfig, env: &HashMap<String, String>) -> Result<Settings, Diagnostics> {
        let mut r = Resolver { env, problems: Diagnostics::default() };
        let settings = Settings {
            controller: ControllerSettings::resolve(config, &mut r),
            aws: AwsSettings::resolve(&config.aws.clone().unwrap_or_default(), &mut r),
            azure: AzureSettings::resolve(&config.azure.clone().unwrap_or_default(), &mut r),
            kubernetes: KubernetesSettings::resolve(&config.kubernetes.clone().unwrap_or_default(), &mut r),
            helm: HelmSettings::resolve(&config.helm.clone().unwrap_or_default(), &mut r),
        };
        if r.problems.has_errors() {
            Err(r.problems)
        } else {
            Ok(settings)
        }
    }

    /// Warnings about settings that work but weaken something, shown on every run they apply to.
    pub fn warnings(&self) -> Diagnostics {
        let mut warnings = Diagnostics::default();
        if self.controller.skip_tls_verify {
            warnings.push(
                Diagnostic::warning(
                    "TLS verification of the controller is off",
                    "skip_tls_verify (or AVIATRIX_SKIP_TLS_VERIFY) is true: anyone between this machine and the \
                     controller can read the session and the password. Set ca_file to the CA that signed the \
                     controller's certificate instead.",
                )
                .at(crate::plugin::AttributePath::root().attr("skip_tls_verify")),
            );
        }
        warnings
    }
}

/// The provider: its settings once configured, the clients built from them on first use, and its
/// components.
#[derive(Default)]
pub struct AviatrixProvider {
    settings: RwLock<Option<Arc<Settings>>>,
    controller: OnceLock<ControllerClient>,
    azure: OnceLock<AzureClient>,
    aws: tokio::sync::OnceCell<AwsClient>,
    kubernetes: tokio::sync::OnceCell<KubeClient>,
    helm: tokio::sync::OnceCell<HelmClient>,
}

/// A client that could not be built: the diagnostic names the provider attribute to set.
fn client_unavailable(system: &str, detail: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::error(format!("The provider cannot reach {system}"), detail.to_string()).into()
}

/// The cell's client, built with `build` the first time it is needed.
fn lazily<T: Clone>(cell: &OnceLock<T>, build: impl FnOnce() -> Result<T, Diagnostics>) -> Result<T, Diagnostics> {
    if let Some(client) = cell.get() {
        return Ok(client.clone());
    }
    let client = build()?;
    Ok(cell.get_or_init(|| client).clone())
}

impl AviatrixProvider {
    /// The configured settings; resources call this when they first need a client.
    pub fn settings(&self) -> Option<Arc<Settings>> {
        self.settings.read().expect("settings lock").clone()
    }

    fn configured(&self) -> Result<Arc<Settings>, Diagnostics> {
        self.settings().ok_or_else(|| {
            Diagnostic::error(
                "The provider is not configured",
                "Terraform did not configure the provider before using it.",
            )
            .into()
        })
    }

    /// The controller client, built once from the controller settings.
    pub fn controller(&self) -> Result<ControllerClient, Diagnostics> {
        lazily(&self.controller, || {
            let settings = self.configured()?;
            let client = ControllerClient::new(&settings.controller)
                .map_err(|e| client_unavailable("the Aviatrix controller", e))?;
            tracing::info!(controller = %client.url(), "using the Aviatrix controller");
            Ok(client)
        })
    }

    /// The AWS client, built once from the aws settings and the AWS chain.
    pub async fn aws(&self) -> Result<AwsClient, Diagnostics> {
        let settings = self.configured()?;
        self.aws
            .get_or_try_init(|| async { AwsClient::new(&settings.aws).await.map_err(|e| client_unavailable("AWS", e)) })
            .await
            .cloned()
    }

    /// The Kubernetes client, built once from the kubernetes settings; it logs the cluster it talks to.
    pub async fn kubernetes(&self) -> Result<KubeClient, Diagnostics> {
        let settings = self.configured()?;
        self.kubernetes
            .get_or_try_init(|| async {
                KubeClient::new(&settings.kubernetes).await.map_err(|e| client_unavailable("the Kubernetes cluster", e))
            })
            .await
            .cloned()
    }

    /// The helm CLI, found and identified once from the helm and kubernetes settings.
    pub async fn helm(&self) -> Result<HelmClient, Diagnostics> {
        let settings = self.configured()?;
        self.helm
            .get_or_try_init(|| async {
                HelmClient::new(&settings.helm, &settings.kubernetes).await.map_err(|e| client_unavailable("helm", e))
            })
            .await
            .cloned()
    }

    /// The Azure client, built once from the azure settings.
    pub fn azure(&self) -> Result<AzureClient, Diagnostics> {
        lazily(&self.azure, || {
            let settings = self.configured()?;
            AzureClient::new(&settings.azure).map_err(|e| client_unavailable("Azure", e))
        })
    }
}

#[tonic::async_trait]
impl Provider for AviatrixProvider {
    type Config = ProviderConfig;

    fn validate(&self, config: &ProviderConfig) -> Diagnostics {
        Settings::resolve(config, &HashMap::new()).err().unwrap_or_default()
    }

    async fn configure(&self, config: ProviderConfig, terraform_version: &str) -> Outcome<()> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let settings = Settings::resolve(&config, &env)?;
        tracing::debug!(
            terraform_version,
            controller_url = settings.controller.url.as_deref().unwrap_or("(not set)"),
            "provider configured; no outside system is contacted until a resource needs it"
        );
        let warnings = settings.warnings();
        *self.settings.write().expect("settings lock") = Some(Arc::new(settings));
        warnings.into_outcome(())
    }

    fn data_sources(self: &Arc<Self>) -> Vec<Arc<dyn DynDataSource>> {
        vec![
            Arc::new(DomainsDataSource),
            Arc::new(InventoryDataSource { provider: self.clone() }),
            Arc::new(VerdictDataSource { provider: self.clone() }),
        ]
    }

    fn resources(self: &Arc<Self>) -> Vec<Arc<dyn DynResource>> {
        vec![
            Arc::new(GatewayResource { provider: self.clone() }),
            Arc::new(RouteResource { provider: self.clone() }),
            Arc::new(MasqueradeResource { provider: self.clone() }),
            Arc::new(ClusterResource { provider: self.clone() }),
            Arc::new(ServerResource { provider: self.clone() }),
            Arc::new(LogExportResource { provider: self.clone() }),
            Arc::new(PolicyResource { provider: self.clone() }),
            Arc::new(ReleaseResource { provider: self.clone() }),
        ]
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
        assert_eq!(s.controller.url.as_deref(), Some("https://ctl.example.com"));
        assert_eq!(s.controller.username.as_deref(), Some("operator"), "the block wins over the environment");
        assert_eq!(s.controller.password.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(s.controller.skip_tls_verify);
        assert_eq!(s.aws.region.as_deref(), Some("us-east-1"));
        assert_eq!(s.aws.ec2_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.azure.subscription_id.as_deref(), Some("sub"));
        assert_eq!(s.azure.client_secret.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(s.kubernetes.config_path.as_deref(), Some("/tmp/kubeconfig"));
        assert_eq!(s.kubernetes.context.as_deref(), Some("lab"));
        assert_eq!(s.helm.binary.as_deref(), Some("/opt/helm"));
        assert_eq!(s.helm.binary_from, "HELM_BINARY");
        let warnings = s.warnings();
        assert_eq!(warnings.0.len(), 1, "skip_tls_verify warns: {warnings:?}");
        assert!(!warnings.has_errors() && warnings.0[0].detail.contains("ca_file"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3cret"), "secrets leak through Debug: {shown}");
    }

    #[test]
    fn bad_values_are_named() {
        let config = ProviderConfig { controller_url: Some("ctl.example.com".into()), ..Default::default() };
        let problems = Settings::resolve(&config, &env(&[("AVIATRIX_SKIP_TLS_VERIFY", "perhaps")])).unwrap_err();
        let text: Vec<String> = problems.0.iter().map(|d| d.detail.clone()).collect();
        assert!(text.iter().any(|t| t.contains("AVIATRIX_SKIP_TLS_VERIFY = \"perhaps\"")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("controller_url = \"ctl.example.com\"")), "{text:?}");
        let defaults = Settings::resolve(&ProviderConfig::default(), &HashMap::new()).unwrap();
        assert_eq!(defaults.helm.binary, None);
        assert!(defaults.warnings().is_empty(), "verified TLS is the default and needs no warning");
        let aws = ProviderConfig { aws: Some(AwsConfig::default()), ..Default::default() };
        let problems = Settings::resolve(&aws, &env(&[("AWS_ENDPOINT_URL", "ec2.local")])).unwrap_err();
        assert!(problems.0[0].detail.starts_with("aws.ec2_endpoint = \"ec2.local\""), "{problems:?}");
    }
}
