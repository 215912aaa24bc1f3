//! AWS EC2 through aws-sdk-ec2: the route tables of the cluster's VPC, their routes, and the network
//! interface of the gateway's instance.
//!
//! Credentials come from the usual AWS chain (environment, shared profile, instance role). The endpoint is
//! `aws { ec2_endpoint }` or `AWS_ENDPOINT_URL_EC2` when set, and an extra CA bundle from `aws { ca_file }` or
//! `AWS_CA_BUNDLE` (the AWS CLI's variable) is trusted beside the system roots, for private endpoints and
//! the lab. The SDK's own retries are replaced by ours, bounded by the caller's budget, for throttling and
//! 5xx only; EC2's `*.NotFound` codes map to [`AwsError::NotFound`].

use std::time::Duration;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Route, RouteTable};

use super::retry::{with_retries, Budget, Retryable};
use crate::provider::AwsSettings;

/// What went wrong talking to EC2.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AwsError {
    #[error("{what} does not exist in AWS ({code})")]
    NotFound { what: String, code: String },
    #[error("{call}: EC2 answered {code} ({message}); trying again may help")]
    Retryable { call: String, code: String, message: String },
    #[error("{call} was refused by EC2: {code}: {message}")]
    Rejected { call: String, code: String, message: String },
    #[error("cannot reach EC2: {detail}; check aws.ec2_endpoint, aws.region and the network path")]
    Unreachable { detail: String },
    #[error("{call} did not succeed within {waited:?}: {last}; raise the resource's timeouts or check AWS")]
    TimedOut { call: String, waited: Duration, last: String },
    #[error("cancelled")]
    Cancelled,
    #[error("{attribute}: {detail}")]
    Settings { attribute: String, detail: String },
}

impl Retryable for AwsError {
    fn retry_after(&self) -> Option<Duration> {
        matches!(self, AwsError::Retryable { .. } | AwsError::Unreachable { .. }).then_some(Duration::ZERO)
    }

    fn out_of_time(self, waited: Duration) -> AwsError {
        match &self {
            AwsError::Retryable { call, .. } => {
                AwsError::TimedOut { call: call.clone(), waited, last: self.to_string() }
            }
            AwsError::Unreachable { .. } => AwsError::TimedOut { call: "EC2".into(), waited, last: self.to_string() },
            _ => self,
        }
    }

    fn cancelled() -> AwsError {
        AwsError::Cancelled
    }
}

impl AwsError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, AwsError::NotFound { .. })
    }
}

/// EC2 error codes that say a retry may help (throttling and EC2's own failures).
const RETRYABLE_CODES: [&str; 6] =
    ["RequestLimitExceeded", "Throttling", "ThrottlingException", "InternalError", "InternalFailure", "Unavailable"];

fn classify<E, R>(call: &str, what: &str, e: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::DispatchFailure(d) => AwsError::Unreachable { detail: format!("{d:?}") },
        SdkError::TimeoutError(_) => {
            AwsError::Retryable { call: call.into(), code: "Timeout".into(), message: "no answer in time".into() }
        }
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err.message().unwrap_or("no message").to_string();
            if code.ends_with(".NotFound") {
                AwsError::NotFound { what: what.to_string(), code }
            } else if RETRYABLE_CODES.contains(&code.as_str()) {
                AwsError::Retryable { call: call.into(), code, message }
            } else {
                AwsError::Rejected { call: call.into(), code, message }
            }
        }
        other => {
            let text = std::error::Error::source(other).map(|s| s.to_string()).unwrap_or_else(|| other.to_string());
            AwsError::Retryable { call: call.into(), code: "ResponseError".into(), message: text }
        }
    }
}

/// What a route sends traffic to, as EC2 names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteTarget {
    /// An internet or virtual private gateway (`igw-`, `vgw-`).
    Gateway(String),
    NatGateway(String),
    NetworkInterface(String),
    TransitGateway(String),
    VpcPeering(String),
    Instance(String),
    /// A target this provider does not restore itself (carrier, local, egress-only gateways).
    Other(String),
}

impl RouteTarget {
    fn of(route: &Route) -> Option<RouteTarget> {
        // An instance route also names the instance's interface; the interface is what it points at.
        if let Some(eni) = route.network_interface_id() {
            return Some(RouteTarget::NetworkInterface(eni.to_string()));
        }
        let pick = [
            route.gateway_id().map(|g| RouteTarget::Gateway(g.to_string())),
            route.nat_gateway_id().map(|g| RouteTarget::NatGateway(g.to_string())),
            route.transit_gateway_id().map(|g| RouteTarget::TransitGateway(g.to_string())),
            route.vpc_peering_connection_id().map(|g| RouteTarget::VpcPeering(g.to_string())),
            route.instance_id().map(|g| RouteTarget::Instance(g.to_string())),
            route.egress_only_internet_gateway_id().map(|g| RouteTarget::Other(g.to_string())),
            route.carrier_gateway_id().map(|g| RouteTarget::Other(g.to_string())),
            route.local_gateway_id().map(|g| RouteTarget::Other(g.to_string())),
        ];
        pick.into_iter().flatten().next()
    }

    /// The ID it names.
    pub fn id(&self) -> &str {
        match self {
            RouteTarget::Gateway(id)
            | RouteTarget::NatGateway(id)
            | RouteTarget::NetworkInterface(id)
            | RouteTarget::TransitGateway(id)
            | RouteTarget::VpcPeering(id)
            | RouteTarget::Instance(id)
            | RouteTarget::Other(id) => id,
        }
    }

    /// The target an ID names, by EC2's ID prefixes.
    pub fn from_id(id: &str) -> RouteTarget {
        let prefix = id.split('-').next().unwrap_or("");
        match prefix {
            "igw" | "vgw" => RouteTarget::Gateway(id.into()),
            "nat" => RouteTarget::NatGateway(id.into()),
            "eni" => RouteTarget::NetworkInterface(id.into()),
            "tgw" => RouteTarget::TransitGateway(id.into()),
            "pcx" => RouteTarget::VpcPeering(id.into()),
            "i" => RouteTarget::Instance(id.into()),
            _ => RouteTarget::Other(id.into()),
        }
    }
}

/// One route table, as far as a default route is concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRoute {
    pub route_table_id: String,
    pub vpc_id: String,
    /// What the route for the destination points at now; `None` when the table has no such route.
    pub target: Option<RouteTarget>,
    /// The table's tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A client for EC2 in one region; cheap to clone.
#[derive(Clone, Debug)]
pub struct AwsClient {
    ec2: aws_sdk_ec2::Client,
}

impl AwsClient {
    /// Builds the SDK client from the provider's aws settings and the AWS chain; nothing is contacted yet.
    pub async fn new(settings: &AwsSettings) -> Result<AwsClient, AwsError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(ca_file) = &settings.ca_file {
            let pem = std::fs::read(ca_file).map_err(|e| AwsError::Settings {
                attribute: "aws.ca_file".into(),
                detail: format!("{ca_file:?} cannot be read: {e}"),
            })?;
            use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
            let trust = TrustStore::default().with_pem_certificate(pem.as_slice());
            let context = TlsContext::builder().with_trust_store(trust).build().map_err(|e| AwsError::Settings {
                attribute: "aws.ca_file".into(),
                detail: format!("{ca_file:?} is not a usable PEM bundle: {e}"),
            })?;
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(context)
                .build_https();
            loader = loader.http_client(http);
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(AwsError::Settings {
                attribute: "aws.region".into(),
                detail: "is not set; set it in the provider's aws block or AWS_REGION".into(),
            });
        }
        let mut config = aws_sdk_ec2::config::Builder::from(&shared);
        if let Some(endpoint) = &settings.ec2_endpoint {
            config = config.endpoint_url(endpoint);
        }
        Ok(AwsClient { ec2: aws_sdk_ec2::Client::from_conf(config.build()) })
    }

    /// Each table's route for `destination`, in the order asked.
    pub async fn table_routes(
        &self,
        ids: &[String],
        destination: &str,
        budget: &Budget,
    ) -> Result<Vec<TableRoute>, AwsError> {
        let what = format!("route table {}", ids.join(", "));
        let tables: Vec<RouteTable> = with_retries(budget, "DescribeRouteTables", || async {
            self.ec2
                .describe_route_tables()
                .set_route_table_ids(Some(ids.to_vec()))
                .send()
                .await
                .map(|out| out.route_tables.unwrap_or_default())
                .map_err(|e| classify("DescribeRouteTables", &what, e))
        })
        .await?;
        ids.iter()
            .map(|id| {
                let table = tables.iter().find(|t| t.route_table_id() == Some(id.as_str())).ok_or_else(|| {
                    AwsError::NotFound {
                        what: format!("route table {id}"),
                        code: "InvalidRouteTableID.NotFound".into(),
                    }
                })?;
                let target = table
                    .routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some(destination))
                    .and_then(RouteTarget::of);
                let tags = table
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                    .collect();
                Ok(TableRoute {
                    route_table_id: id.clone(),
                    vpc_id: table.vpc_id().unwrap_or_default().to_string(),
                    target,
                    tags,
                })
            })
            .collect()
    }

    /// The primary network interface (device index 0) of an instance, and the instance's VPC.
    pub async fn primary_interface(&self, instance_id: &str, budget: &Budget) -> Result<(String, String), AwsError> {
        let what = format!("instance {instance_id}");
        let filter = Filter::builder().name("attachment.instance-id").values(instance_id).build();
        let interfaces = with_retries(budget, "DescribeNetworkInterfaces", || async {
            self.ec2
                .describe_network_interfaces()
                .filters(filter.clone())
                .send()
                .await
                .map(|out| out.network_interfaces.unwrap_or_default())
                .map_err(|e| classify("DescribeNetworkInterfaces", &what, e))
        })
        .await?;
        interfaces
            .iter()
            .find(|i| i.attachment().and_then(|a| a.device_index()) == Some(0))
            .or_else(|| interfaces.first())
            .and_then(|i| Some((i.network_interface_id()?.to_string(), i.vpc_id().unwrap_or_default().to_string())))
            .ok_or_else(|| AwsError::NotFound {
                what: format!("a network interface of {what}"),
                code: "InvalidInstanceID.NotFound".into(),
            })
    }

    /// Points the table's route for `destination` at `target`, replacing what is there or creating it.
    pub async fn set_route(
        &self,
        table: &str,
        destination: &str,
        target: &RouteTarget,
        exists: bool,
        budget: &Budget,
    ) -> Result<(), AwsError> {
        let what = format!("route table {table}");
        with_retries(budget, "route write", || async {
            // The two calls take the same target fields; a macro keeps one list of them.
            macro_rules! aimed {
                ($call:expr) => {
                    match target {
                        RouteTarget::Gateway(id) | RouteTarget::Other(id) => $call.gateway_id(id),
                        RouteTarget::NatGateway(id) => $call.nat_gateway_id(id),
                        RouteTarget::NetworkInterface(id) => $call.network_interface_id(id),
                        RouteTarget::TransitGateway(id) => $call.transit_gateway_id(id),
                        RouteTarget::VpcPeering(id) => $call.vpc_peering_connection_id(id),
                        RouteTarget::Instance(id) => $call.instance_id(id),
                    }
                };
            }
            if exists {
                let call = self.ec2.replace_route().route_table_id(table).destination_cidr_block(destination);
                aimed!(call).send().await.map(|_| ()).map_err(|e| classify("ReplaceRoute", &what, e))
            } else {
                let call = self.ec2.create_route().route_table_id(table).destination_cidr_block(destination);
                aimed!(call).send().await.map(|_| ()).map_err(|e| classify("CreateRoute", &what, e))
            }
        })
        .await
    }

    /// Sets one tag on a resource (a route table).
    pub async fn set_tag(&self, resource: &str, key: &str, value: &str, budget: &Budget) -> Result<(), AwsError> {
        let what = resource.to_string();
        let tag = aws_sdk_ec2::types::Tag::builder().key(key).value(value).build();
        with_retries(budget, "CreateTags", || async {
            self.ec2
                .create_tags()
                .resources(resource)
                .tags(tag.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("CreateTags", &what, e))
        })
        .await
    }

    /// Removes one tag from a resource.
    pub async fn remove_tag(&self, resource: &str, key: &str, budget: &Budget) -> Result<(), AwsError> {
        let what = resource.to_string();
        let tag = aws_sdk_ec2::types::Tag::builder().key(key).build();
        with_retries(budget, "DeleteTags", || async {
            self.ec2
                .delete_tags()
                .resources(resource)
                .tags(tag.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DeleteTags", &what, e))
        })
        .await
    }

    /// Deletes the table's route for `destination`; a route already gone is success.
    pub async fn delete_route(&self, table: &str, destination: &str, budget: &Budget) -> Result<(), AwsError> {
        let what = format!("the {destination} route of {table}");
        let result = with_retries(budget, "DeleteRoute", || async {
            self.ec2
                .delete_route()
                .route_table_id(table)
                .destination_cidr_block(destination)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify("DeleteRoute", &what, e))
        })
        .await;
        match result {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_named_by_their_id_prefixes() {
        assert_eq!(RouteTarget::from_id("igw-0abc"), RouteTarget::Gateway("igw-0abc".into()));
        assert_eq!(RouteTarget::from_id("nat-1"), RouteTarget::NatGateway("nat-1".into()));
        assert_eq!(RouteTarget::from_id("eni-1"), RouteTarget::NetworkInterface("eni-1".into()));
        assert_eq!(RouteTarget::from_id("i-1").id(), "i-1");
        assert!(matches!(RouteTarget::from_id("cagw-1"), RouteTarget::Other(_)));
    }

    #[test]
    fn a_route_names_its_interface_before_its_instance() {
        let route = Route::builder().instance_id("i-1").network_interface_id("eni-1").build();
        assert_eq!(RouteTarget::of(&route), Some(RouteTarget::NetworkInterface("eni-1".into())));
        let igw = Route::builder().gateway_id("igw-1").build();
        assert_eq!(RouteTarget::of(&igw), Some(RouteTarget::Gateway("igw-1".into())));
    }
}
