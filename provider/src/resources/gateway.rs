//! `aviatrix_mcp_egress_gateway`: the spoke gateway that enforces egress (the PEP), in the cluster's AWS VPC
//! or Azure VNet: single-IP SNAT on, no transit attachment, no HA.
//!
//! The gateway's name is its identity and its import ID. Create is an async controller task polled to its
//! end; a create that was interrupted or retried finds the gateway it started and adopts it instead of
//! starting a second. `size` and `tags` change in place; every other argument replaces the gateway. Delete
//! waits while the controller says the gateway is still in use (routes pointing at it), within its timeout.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{budget, check_aws_region, check_azure_location, check_cidr, failed, invalid, Cloud};
use crate::clients::azure::{location_display_name, location_of_display_name, ResourceId};
use crate::clients::controller::{ControllerClient, ControllerError};
use crate::clients::retry::Budget;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::{CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Private, Resource, TfSchema};
use crate::provider::AviatrixProvider;

const CREATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DELETE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// A spoke gateway for egress only (single-IP SNAT, no transit, no HA), created through the Aviatrix
/// controller in the VPC or VNet where the cluster's nodes run. The node subnets' default route points at
/// it (`aviatrix_mcp_egress_route`), so it sees, and decides, every connection MCP servers make.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct GatewayState {
    /// The gateway's name, as its ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// The gateway's name: up to 50 letters, digits, `-` and `_`, starting with a letter. Also the import ID.
    #[tf(requires_replace)]
    pub name: String,
    /// `aws` or `azure`.
    #[tf(requires_replace)]
    pub cloud: Cloud,
    /// The controller's access account for the cloud account the VPC or VNet belongs to.
    #[tf(requires_replace)]
    pub account_name: String,
    /// An AWS region such as `us-east-1`, or an Azure location name such as `eastus` (not a display name).
    #[tf(requires_replace)]
    pub region: String,
    /// The AWS VPC ID (`vpc-...`), or the VNet's ARM resource ID.
    #[tf(requires_replace)]
    pub vpc_id: String,
    /// The CIDR of the subnet the gateway is placed in, such as `10.10.0.0/24`.
    #[tf(requires_replace)]
    pub subnet_cidr: String,
    /// The instance size, such as `t3.small` (AWS) or `Standard_B2ms` (Azure). Changes in place.
    pub size: String,
    /// Tags on the gateway's cloud resources. Change in place.
    #[tf(optional)]
    pub tags: Option<BTreeMap<String, String>>,
    /// The gateway's private IP: the next hop of the node subnets' default route.
    #[tf(computed, use_state_for_unknown)]
    pub private_ip: Option<Known<String>>,
    /// The gateway's public IP, which egress is SNATed to.
    #[tf(computed, use_state_for_unknown)]
    pub public_ip: Option<Known<String>>,
    /// The cloud instance (AWS instance ID, Azure VM) behind the gateway.
    #[tf(computed, use_state_for_unknown)]
    pub instance_id: Option<Known<String>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

/// The gateway as `list_vpcs_summary` reports it (reference: `vpc_name` is the gateway's name).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Reported {
    pub vpc_name: String,
    pub cloud_type: u64,
    pub account_name: String,
    /// AWS: the VPC ID; Azure: `vnet_name:resource_group:resourceGuid`.
    pub vpc_id: String,
    pub vpc_region: String,
    pub vpc_size: String,
    pub public_subnet: String,
    #[serde(default)]
    pub public_ip: String,
    #[serde(default)]
    pub private_ip: String,
    #[serde(default)]
    pub cloudn_gateway_inst_id: String,
    #[serde(default)]
    pub tags: Value,
}

fn known(value: &str) -> Option<Known<String>> {
    (!value.is_empty()).then(|| Known::Value(value.to_string()))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 50
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub struct GatewayResource {
    pub provider: Arc<AviatrixProvider>,
}

impl GatewayResource {
    /// The gateway named `name`, if the controller has one.
    pub(crate) async fn find(
        client: &ControllerClient,
        name: &str,
        budget: &Budget,
    ) -> Result<Option<Reported>, ControllerError> {
        let list = match client.query("list_vpcs_summary", &[("gateway_name", name)], budget).await {
            Ok(list) => list,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let found = list.as_array().and_then(|l| l.iter().find(|g| g["vpc_name"] == name)).cloned();
        match found {
            None => Ok(None),
            Some(g) => serde_json::from_value(g).map(Some).map_err(|e| ControllerError::Rejected {
                call: "list_vpcs_summary".into(),
                reason: format!("the gateway record does not decode: {e}"),
            }),
        }
    }

    /// The controller's `vpc_id` and `vpc_region` for this placement: AWS as given; Azure as the VNet's
    /// `name:resource_group:resourceGuid` and the location's display name (reference §2.2).
    async fn placement(&self, state: &GatewayState, budget: &Budget) -> Result<(String, String), Diagnostics> {
        match state.cloud {
            Cloud::Aws => Ok((state.vpc_id.clone(), state.region.clone())),
            Cloud::Azure => {
                let id = ResourceId::parse(&state.vpc_id).map_err(|e| invalid("vpc_id", "Invalid VNet ID", e))?;
                let azure = self.provider.azure()?;
                let vnet = azure.virtual_network(&id, budget).await.map_err(|e| failed("read the VNet", e))?;
                if !vnet.location.eq_ignore_ascii_case(&state.region) {
                    return Err(invalid(
                        "region",
                        "Region does not match the VNet",
                        format!(
                            "region = {:?}, but VNet {} is in {:?}; set region to \"{}\".",
                            state.region, vnet.name, vnet.location, vnet.location
                        ),
                    )
                    .into());
                }
                let guid = vnet.properties.resource_guid.ok_or_else(|| {
                    failed(
                        "read the VNet",
                        format!("VNet {} has no resourceGuid, which the controller needs", vnet.name),
                    )
                })?;
                let display = location_display_name(&state.region).unwrap_or(&state.region);
                Ok((format!("{}:{}:{guid}", vnet.name, id.resource_group), display.to_string()))
            }
        }
    }

    /// State from what the controller reports, keeping the user's spelling where the controller's differs
    /// only in form (the Azure VNet ID and location).
    async fn state_of(
        &self,
        client: &ControllerClient,
        g: Reported,
        prior: Option<&GatewayState>,
        budget: &Budget,
    ) -> Result<GatewayState, Diagnostics> {
        let cloud = Cloud::from_cloud_type(g.cloud_type).ok_or_else(|| {
            failed(
                "read the gateway",
                format!(
                    "gateway {} is of cloud_type {}, which this provider does not manage",
                    g.vpc_name, g.cloud_type
                ),
            )
        })?;
        let (region, vpc_id) = match cloud {
            Cloud::Aws => (g.vpc_region.clone(), g.vpc_id.clone()),
            Cloud::Azure => {
                let region =
                    location_of_display_name(&g.vpc_region).map(str::to_string).unwrap_or(g.vpc_region.clone());
                let mut parts = g.vpc_id.splitn(3, ':');
                let (vnet, group) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let same = |id: &ResourceId| {
                    id.name.eq_ignore_ascii_case(vnet) && id.resource_group.eq_ignore_ascii_case(group)
                };
                let kept = prior.and_then(|p| ResourceId::parse(&p.vpc_id).ok().filter(same).map(|_| p.vpc_id.clone()));
                let vpc_id = match kept {
                    Some(id) => id,
                    None => {
                        let subscription = super::account_number(client, &g.account_name, budget).await?;
                        format!("/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{vnet}")
                    }
                };
                (region, vpc_id)
            }
        };
        let tags: BTreeMap<String, String> = match &g.tags {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        };
        let tags = if tags.is_empty() && prior.is_none_or(|p| p.tags.is_none()) { None } else { Some(tags) };
        Ok(GatewayState {
            id: Known::Value(g.vpc_name.clone()),
            name: g.vpc_name,
            cloud,
            account_name: g.account_name,
            region,
            vpc_id,
            subnet_cidr: g.public_subnet,
            size: g.vpc_size,
            tags,
            private_ip: known(&g.private_ip),
            public_ip: known(&g.public_ip),
            instance_id: known(&g.cloudn_gateway_inst_id),
            timeouts: prior.and_then(|p| p.timeouts.clone()),
        })
    }
}

/// True when a reported gateway is the one `planned` describes (so a retried create may adopt it).
fn same_placement(g: &Reported, planned: &GatewayState, controller_vpc: &str) -> bool {
    g.cloud_type == planned.cloud.cloud_type() as u64
        && g.account_name == planned.account_name
        && g.vpc_id.eq_ignore_ascii_case(controller_vpc)
        && g.public_subnet == planned.subnet_cidr
}

#[tonic::async_trait]
impl Resource for GatewayResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_gateway";
    type State = GatewayState;

    fn validate(&self, config: &GatewayState) -> Diagnostics {
        let mut problems = Vec::new();
        if !valid_name(&config.name) {
            problems.push(invalid(
                "name",
                "Invalid gateway name",
                format!("name = {:?}: use up to 50 letters, digits, '-' and '_', starting with a letter.", config.name),
            ));
        }
        match config.cloud {
            Cloud::Aws => {
                problems.extend(check_aws_region("region", &config.region));
                let hex = config
                    .vpc_id
                    .strip_prefix("vpc-")
                    .is_some_and(|h| (8..=17).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()));
                if !hex {
                    problems.push(invalid(
                        "vpc_id",
                        "Invalid VPC ID",
                        format!(
                            "vpc_id = {:?} is not an AWS VPC ID; use one such as \"vpc-0a1b2c3d4e5f60789\".",
                            config.vpc_id
                        ),
                    ));
                }
            }
            Cloud::Azure => {
                problems.extend(check_azure_location("region", &config.region));
                match ResourceId::parse(&config.vpc_id) {
                    Ok(id) if id.kind.eq_ignore_ascii_case("virtualNetworks") && id.child.is_none() => {}
                    Ok(_) | Err(_) => problems.push(invalid(
                        "vpc_id",
                        "Invalid VNet ID",
                        format!("vpc_id = {:?} is not a VNet's ARM resource ID; use one such as /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<name>.", config.vpc_id),
                    )),
                }
            }
        }
        problems.extend(check_cidr("subnet_cidr", &config.subnet_cidr));
        if config.size.trim().is_empty() {
            problems.push(invalid(
                "size",
                "Invalid gateway size",
                "size is empty; use an instance size such as \"t3.small\" or \"Standard_B2ms\".".into(),
            ));
        }
        if let Some(timeouts) = &config.timeouts {
            problems.extend(timeouts.validate());
        }
        Diagnostics(problems)
    }

    async fn create(&self, ctx: &CallContext, planned: GatewayState, _: &mut Private) -> Outcome<GatewayState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, CREATE_TIMEOUT)?;
        let client = self.provider.controller()?;
        let (vpc_id, vpc_region) = self.placement(&planned, &budget).await?;
        let name = planned.name.clone();
        let existing = Self::find(&client, &name, &budget).await.map_err(|e| failed("look for the gateway", e))?;
        let mut warnings = Diagnostics::default();
        match existing {
            Some(g) if same_placement(&g, &planned, &vpc_id) => {
                tracing::info!(gateway = %name, "the gateway exists already in this placement: adopting it (an earlier create was interrupted)");
                warnings.push(Diagnostic::warning(
                    "Adopted an existing gateway",
                    format!("Gateway {name} already existed with this placement, as an interrupted create leaves it; it is now managed by this resource."),
                ));
            }
            Some(g) => {
                return Err(invalid(
                    "name",
                    "Gateway name taken",
                    format!("A gateway named {name:?} already exists in {} ({}); choose another name, or import it with `terraform import <address> {name}`.", g.vpc_id, g.public_subnet),
                )
                .into())
            }
            None => {
                let tags = serde_json::to_string(&planned.tags.clone().unwrap_or_default()).expect("tags encode");
                let cloud_type = planned.cloud.cloud_type().to_string();
                let mut params = vec![
                    ("cloud_type", cloud_type.as_str()),
                    ("account_name", planned.account_name.as_str()),
                    ("gw_name", name.as_str()),
                    ("gw_size", planned.size.as_str()),
                    ("vpc_id", vpc_id.as_str()),
                    ("vpc_region", vpc_region.as_str()),
                    ("gw_subnet", planned.subnet_cidr.as_str()),
                    ("enable_nat", "yes"),
                    ("single_az_ha", "disabled"),
                ];
                if planned.tags.is_some() {
                    params.push(("json_tags", tags.as_str()));
                }
                tracing::info!(gateway = %name, "creating the gateway: the controller launches its instance, which takes minutes");
                let confirm = || async {
                    Ok(Self::find(&client, &name, &budget).await?.map(|_| Value::Object(Default::default())))
                };
                client
                    .run_task("create_multicloud_primary_gateway", &params, &budget, confirm)
                    .await
                    .map_err(|e| failed(&format!("create gateway {name}"), e))?;
            }
        }
        let g = Self::find(&client, &name, &budget).await.map_err(|e| failed("read the new gateway", e))?.ok_or_else(
            || {
                failed(
                    "read the new gateway",
                    format!("the controller reports gateway {name} created but lists no such gateway"),
                )
            },
        )?;
        let state = self.state_of(&client, g, Some(&planned), &budget).await?;
        Ok(Diagnosed::new(GatewayState { timeouts: planned.timeouts, ..state }).with_all(warnings))
    }

    async fn read(&self, ctx: &CallContext, current: GatewayState, _: &mut Private) -> Outcome<Option<GatewayState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
        let client = self.provider.controller()?;
        match Self::find(&client, &current.name, &budget).await.map_err(|e| failed("read the gateway", e))? {
            None => Ok(None.into()),
            Some(g) => Ok(Some(self.state_of(&client, g, Some(&current), &budget).await?).into()),
        }
    }

    async fn update(
        &self,
        ctx: &CallContext,
        prior: GatewayState,
        planned: GatewayState,
        _: &mut Private,
    ) -> Outcome<GatewayState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, UPDATE_TIMEOUT)?;
        let client = self.provider.controller()?;
        let name = planned.name.clone();
        let cloud_type = planned.cloud.cloud_type().to_string();
        if planned.size != prior.size {
            tracing::info!(gateway = %name, from = %prior.size, to = %planned.size, "resizing the gateway: the controller stops, resizes and starts its instance");
            let resized = || async {
                Ok(Self::find(&client, &name, &budget)
                    .await?
                    .filter(|g| g.vpc_size == planned.size)
                    .map(|_| Value::Null))
            };
            let params =
                [("cloud_type", cloud_type.as_str()), ("gw_name", name.as_str()), ("gw_size", planned.size.as_str())];
            client
                .run_task("edit_gw_config", &params, &budget, resized)
                .await
                .map_err(|e| failed(&format!("resize gateway {name}"), e))?;
        }
        if planned.tags != prior.tags {
            let tags = serde_json::to_string(&planned.tags.clone().unwrap_or_default()).expect("tags encode");
            // Replacing all tags is idempotent: a resend after an unknown fate is safe.
            let confirm = || async { Ok(None) };
            let params = [
                ("cloud_type", cloud_type.as_str()),
                ("resource_type", "gw"),
                ("resource_name", name.as_str()),
                ("new_tag_json", tags.as_str()),
            ];
            client
                .action("update_resource_tags", &params, &budget, confirm)
                .await
                .map_err(|e| failed(&format!("update the tags of gateway {name}"), e))?;
        }
        let g = Self::find(&client, &name, &budget)
            .await
            .map_err(|e| failed("read the gateway", e))?
            .ok_or_else(|| failed("update the gateway", format!("gateway {name} disappeared during the update")))?;
        let state = self.state_of(&client, g, Some(&planned), &budget).await?;
        Ok(GatewayState { timeouts: planned.timeouts, ..state }.into())
    }

    async fn delete(&self, ctx: &CallContext, prior: GatewayState, _: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, DELETE_TIMEOUT)?;
        let client = self.provider.controller()?;
        let name = prior.name.clone();
        let cloud_type = prior.cloud.cloud_type().to_string();
        let params = [("cloud_type", cloud_type.as_str()), ("gw_name", name.as_str())];
        let mut waited_in_use = false;
        loop {
            let gone = || async {
                Ok(Self::find(&client, &name, &budget).await?.is_none().then(|| Value::Object(Default::default())))
            };
            match client.run_task("delete_container", &params, &budget, gone).await {
                Ok(_) => return Ok(().into()),
                Err(e) if e.is_not_found() => return Ok(().into()),
                Err(ControllerError::Rejected { reason, .. }) if reason.contains("in use") => {
                    if !waited_in_use {
                        tracing::info!(gateway = %name, %reason, "the gateway is still in use; waiting for what uses it to go");
                        waited_in_use = true;
                    }
                    if !budget.sleep(Duration::from_secs(10)).await {
                        return Err(failed(
                            &format!("delete gateway {name}"),
                            format!("the controller still says: {reason}; remove the routes that point at the gateway, or raise timeouts.delete"),
                        ));
                    }
                }
                Err(e) => return Err(failed(&format!("delete gateway {name}"), e)),
            }
        }
    }

    async fn import(&self, ctx: &CallContext, id: &str, _: &mut Private) -> Outcome<GatewayState> {
        let budget = budget(ctx, None, Operation::Read, READ_TIMEOUT)?;
        let client = self.provider.controller()?;
        match Self::find(&client, id, &budget).await.map_err(|e| failed("read the gateway", e))? {
            Some(g) => Ok(self.state_of(&client, g, None, &budget).await?.into()),
            None => Err(Diagnostic::error(
                "Cannot import the gateway",
                format!("the controller has no gateway named {id:?}; import takes the gateway's name"),
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::component::DynResource;
    use crate::plugin::value::Value as TfValue;

    fn config(cloud: &str, region: &str, vpc_id: &str, subnet: &str, name: &str) -> TfValue {
        let model = serde_json::json!({
            "id": null, "name": name, "cloud": cloud, "account_name": "acct", "region": region, "vpc_id": vpc_id,
            "subnet_cidr": subnet, "size": "t3.small", "tags": null, "private_ip": null, "public_ip": null,
            "instance_id": null, "timeouts": null,
        });
        let schema = GatewayResource::schema_of();
        let mut value = TfValue::from_json(&model, &schema.value_type()).unwrap();
        // As the server hands configuration to validation: computed values not yet known.
        if let TfValue::Object(m) = &mut value {
            m.insert("id".into(), TfValue::Unknown);
        }
        value
    }

    impl GatewayResource {
        fn schema_of() -> crate::plugin::schema::Schema {
            crate::plugin::schema::Schema::of::<GatewayState>(0)
        }
    }

    fn problems(v: &TfValue) -> Vec<(String, String)> {
        let r = GatewayResource { provider: Arc::new(AviatrixProvider::default()) };
        DynResource::validate(&r, v)
            .0
            .into_iter()
            .map(|d| (d.path.map(|p| p.to_string()).unwrap_or_default(), d.detail))
            .collect()
    }

    #[test]
    fn good_placements_pass_and_bad_ones_name_their_attribute() {
        assert!(problems(&config("aws", "us-east-1", "vpc-0a1b2c3d", "10.10.0.0/24", "egress-1")).is_empty());
        let vnet = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
        assert!(problems(&config("azure", "eastus", vnet, "10.20.0.0/24", "egress-1")).is_empty());

        let bad = problems(&config("azure", "East US", "vpc-0a1b2c3d", "10.20.0.9/24", "1-bad"));
        let paths: Vec<&str> = bad.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["name", "region", "vpc_id", "subnet_cidr"], "{bad:?}");
        assert!(bad[1].1.contains("use the location name \"eastus\""), "{bad:?}");
        let aws = problems(&config("aws", "eastus", vnet, "10.10.0.0/24", "egress-1"));
        assert_eq!(aws.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["region", "vpc_id"]);
    }

    #[test]
    fn an_unknown_cloud_is_refused_with_the_accepted_values() {
        let out = problems(&config("gcp", "us-east-1", "vpc-0a1b2c3d", "10.10.0.0/24", "egress-1"));
        assert_eq!(out.len(), 1);
        assert!(out[0].0 == "cloud" && out[0].1.contains("expected `aws` or `azure`"), "{out:?}");
    }
}
