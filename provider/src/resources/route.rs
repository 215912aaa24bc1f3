//! `aviatrix_mcp_egress_route`: the default route (or another destination) of the node subnets' route
//! tables, pointed at the egress gateway: on AWS at the gateway instance's primary network interface, on
//! Azure at a VirtualAppliance next hop on its private IP.
//!
//! What each table's route pointed at before is recorded on the table itself, as a tag
//! (`mcp-egress-previous-<destination>`), before the route is changed: an interrupted apply, a lost state or
//! an import still knows what to put back, and `previous_targets` shows it in the plan. Destroy restores each
//! table's previous target, or deletes the route where there was none, and removes the tag. A route that
//! no longer points at the gateway is drift: the table drops out of `route_table_ids` in state and the next
//! plan puts it back. A table outside the gateway's VPC or VNet is refused before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::gateway::{GatewayResource, Reported};
use super::{budget, check_cidr, failed, invalid, Cloud};
use crate::clients::aws::RouteTarget;
use crate::clients::azure::{ResourceId, RouteProperties};
use crate::clients::retry::Budget;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::{
    AttributePath, CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Planned, Private, Resource,
    TfSchema,
};
use crate::provider::AviatrixProvider;

const WRITE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// What a table had when it had no route for the destination.
const NO_ROUTE: &str = "none";

/// Routes the node subnets' traffic for `destination_cidr` (the default route unless set) through the
/// egress gateway, so that every connection MCP pods make reaches the enforcement point with its pod IP.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct RouteState {
    /// `<gateway>,<destination_cidr>`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// The name of the egress gateway (`aviatrix_mcp_egress_gateway.<name>.name`).
    pub gateway: String,
    /// The route tables of the node subnets: AWS route table IDs (`rtb-...`) or Azure route table resource IDs.
    pub route_table_ids: BTreeSet<String>,
    /// The destination routed through the gateway, `0.0.0.0/0` unless set.
    #[tf(optional, computed, default = "0.0.0.0/0", requires_replace)]
    pub destination_cidr: Option<String>,
    /// What each table's route pointed at before this resource, restored on destroy: `none` (no route),
    /// AWS `<kind>:<id>` (such as `gateway:igw-0abc`), Azure `<route name>:<next hop type>[:<ip>]`.
    #[tf(computed)]
    pub previous_targets: Option<Known<BTreeMap<String, String>>>,
    /// What the routes point at now: the gateway's network interface (AWS) or private IP (Azure).
    #[tf(computed)]
    pub target: Option<Known<String>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

impl RouteState {
    fn destination(&self) -> &str {
        self.destination_cidr.as_deref().unwrap_or("0.0.0.0/0")
    }

    fn previous(&self) -> BTreeMap<String, String> {
        self.previous_targets.clone().and_then(Known::into_value).unwrap_or_default()
    }
}

/// The tag that records a table's previous target for `destination`.
fn tag_key(destination: &str) -> String {
    format!("mcp-egress-previous-{}", destination.replace('/', "_"))
}

/// A route table ID, by cloud.
#[derive(Clone, Debug)]
enum Table {
    Aws(String),
    Azure(ResourceId),
}

impl Table {
    fn parse(id: &str) -> Result<Table, String> {
        if let Some(hex) = id.strip_prefix("rtb-") {
            if (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(Table::Aws(id.to_string()));
            }
        }
        match ResourceId::parse(id) {
            Ok(rid) if rid.kind.eq_ignore_ascii_case("routeTables") && rid.child.is_none() => Ok(Table::Azure(rid)),
            _ => Err(format!(
                "{id:?} is neither an AWS route table ID (rtb-...) nor an Azure route table resource ID \
                 (/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.Network/routeTables/<name>)"
            )),
        }
    }

    fn cloud(&self) -> Cloud {
        match self {
            Table::Aws(_) => Cloud::Aws,
            Table::Azure(_) => Cloud::Azure,
        }
    }
}

/// Where the routes must point: the gateway's next hop, and the network it lives in.
#[derive(Clone, Debug)]
struct GatewayHop {
    cloud: Cloud,
    /// AWS: the primary interface ID; Azure: the private IP.
    hop: String,
    /// AWS: the VPC ID; Azure: `vnet_name:resource_group`, lower-cased.
    network: String,
}

/// One table as it is now.
#[derive(Clone, Debug)]
struct Observed {
    id: String,
    /// The networks of the table: its VPC (AWS) or the VNets of its associated subnets (Azure).
    networks: BTreeSet<String>,
    /// What its route for the destination points at now, encoded as in `previous_targets`.
    now: String,
    /// The previous target recorded on the table, if any.
    recorded: Option<String>,
    tags: BTreeMap<String, String>,
}

impl Observed {
    fn points_at(&self, hop: &GatewayHop) -> bool {
        match hop.cloud {
            Cloud::Aws => self.now == format!("network_interface:{}", hop.hop),
            Cloud::Azure => {
                self.now.split_once(':').map(|(_, hop_type)| hop_type) == Some(&format!("VirtualAppliance:{}", hop.hop))
            }
        }
    }
}

fn encode_aws(target: &Option<RouteTarget>) -> String {
    match target {
        None => NO_ROUTE.into(),
        Some(t) => {
            let kind = match t {
                RouteTarget::Gateway(_) => "gateway",
                RouteTarget::NatGateway(_) => "nat_gateway",
                RouteTarget::NetworkInterface(_) => "network_interface",
                RouteTarget::TransitGateway(_) => "transit_gateway",
                RouteTarget::VpcPeering(_) => "vpc_peering",
                RouteTarget::Instance(_) => "instance",
                RouteTarget::Other(_) => "other",
            };
            format!("{kind}:{}", t.id())
        }
    }
}

fn decode_aws(encoded: &str) -> Option<RouteTarget> {
    let (_, id) = encoded.split_once(':')?;
    Some(RouteTarget::from_id(id))
}

/// The route name we give a route we create on Azure.
fn azure_route_name(destination: &str) -> String {
    format!("mcp-egress-{}", destination.replace(['/', '.'], "-"))
}

pub struct RouteResource {
    pub provider: Arc<AviatrixProvider>,
}

impl RouteResource {
    async fn gateway(&self, name: &str, budget: &Budget) -> Result<Option<GatewayHop>, Diagnostics> {
        let controller = self.provider.controller()?;
        let Some(g): Option<Reported> =
            GatewayResource::find(&controller, name, budget).await.map_err(|e| failed("read the gateway", e))?
        else {
            return Ok(None);
        };
        match Cloud::from_cloud_type(g.cloud_type) {
            Some(Cloud::Aws) => {
                let aws = self.provider.aws().await?;
                let (eni, vpc) = aws
                    .primary_interface(&g.cloudn_gateway_inst_id, budget)
                    .await
                    .map_err(|e| failed("find the gateway's network interface", e))?;
                Ok(Some(GatewayHop { cloud: Cloud::Aws, hop: eni, network: vpc }))
            }
            Some(Cloud::Azure) => {
                let mut parts = g.vpc_id.splitn(3, ':');
                let network = format!("{}:{}", parts.next().unwrap_or(""), parts.next().unwrap_or("")).to_lowercase();
                Ok(Some(GatewayHop { cloud: Cloud::Azure, hop: g.private_ip, network }))
            }
            None => Err(failed("read the gateway", format!("gateway {name} is of cloud_type {}", g.cloud_type))),
        }
    }

    /// Each table as it is now; `None` for a table that no longer exists.
    async fn observe(&self, id: &str, destination: &str, budget: &Budget) -> Result<Option<Observed>, Diagnostics> {
        let table = Table::parse(id).map_err(|e| invalid("route_table_ids", "Invalid route table ID", e))?;
        let key = tag_key(destination);
        match table {
            Table::Aws(rtb) => {
                let aws = self.provider.aws().await?;
                let routes = match aws.table_routes(std::slice::from_ref(&rtb), destination, budget).await {
                    Ok(r) => r,
                    Err(e) if e.is_not_found() => return Ok(None),
                    Err(e) => return Err(failed(&format!("read route table {rtb}"), e)),
                };
                let r = routes.into_iter().next().expect("one table asked, one answered");
                Ok(Some(Observed {
                    id: id.to_string(),
                    networks: [r.vpc_id.clone()].into(),
                    now: encode_aws(&r.target),
                    recorded: r.tags.get(&key).cloned(),
                    tags: r.tags,
                }))
            }
            Table::Azure(rid) => {
                let azure = self.provider.azure()?;
                let t = match azure.route_table(&rid, budget).await {
                    Ok(t) => t,
                    Err(e) if e.is_not_found() => return Ok(None),
                    Err(e) => return Err(failed(&format!("read route table {}", rid.name), e)),
                };
                let now = t
                    .properties
                    .routes
                    .iter()
                    .find(|r| r.properties.address_prefix == destination)
                    .map(|r| {
                        let p = &r.properties;
                        let name = r.name.clone().unwrap_or_default();
                        match &p.next_hop_ip_address {
                            Some(ip) => format!("{name}:{}:{ip}", p.next_hop_type),
                            None => format!("{name}:{}", p.next_hop_type),
                        }
                    })
                    .unwrap_or_else(|| NO_ROUTE.to_string());
                let networks = t
                    .properties
                    .subnets
                    .iter()
                    .filter_map(|s| ResourceId::parse(&s.id).ok())
                    .map(|s| format!("{}:{}", s.name, s.resource_group).to_lowercase())
                    .collect();
                Ok(Some(Observed {
                    id: id.to_string(),
                    networks,
                    now,
                    recorded: t.tags.get(&key).cloned(),
                    tags: t.tags,
                }))
            }
        }
    }

    /// Refuses a table outside the gateway's network, naming it.
    fn check_network(observed: &Observed, hop: &GatewayHop) -> Result<(), Diagnostics> {
        if observed.networks.is_empty() || observed.networks.contains(&hop.network) {
            return Ok(());
        }
        let theirs: Vec<&str> = observed.networks.iter().map(String::as_str).collect();
        Err(invalid(
            "route_table_ids",
            "Route table outside the gateway's network",
            format!(
                "route table {} belongs to {}, but the gateway is in {}; list only the route tables of the gateway's VPC or VNet.",
                observed.id,
                theirs.join(", "),
                hop.network
            ),
        )
        .into())
    }

    async fn record(
        &self,
        observed: &Observed,
        destination: &str,
        previous: &str,
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        let key = tag_key(destination);
        match Table::parse(&observed.id).expect("observed tables parse") {
            Table::Aws(rtb) => self
                .provider
                .aws()
                .await?
                .set_tag(&rtb, &key, previous, budget)
                .await
                .map_err(|e| failed("tag the route table", e)),
            Table::Azure(rid) => {
                let mut tags = observed.tags.clone();
                tags.insert(key, previous.to_string());
                self.provider.azure()?.set_tags(&rid, &tags, budget).await.map_err(|e| failed("tag the route table", e))
            }
        }
    }

    async fn unrecord(&self, observed: &Observed, destination: &str, budget: &Budget) -> Result<(), Diagnostics> {
        let key = tag_key(destination);
        if !observed.tags.contains_key(&key) {
            return Ok(());
        }
        match Table::parse(&observed.id).expect("observed tables parse") {
            Table::Aws(rtb) => self
                .provider
                .aws()
                .await?
                .remove_tag(&rtb, &key, budget)
                .await
                .map_err(|e| failed("untag the route table", e)),
            Table::Azure(rid) => {
                let mut tags = observed.tags.clone();
                tags.remove(&key);
                self.provider
                    .azure()?
                    .set_tags(&rid, &tags, budget)
                    .await
                    .map_err(|e| failed("untag the route table", e))
            }
        }
    }

    /// Points the table's route at the gateway.
    async fn point(
        &self,
        observed: &Observed,
        destination: &str,
        hop: &GatewayHop,
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        if observed.points_at(hop) {
            return Ok(());
        }
        tracing::info!(table = %observed.id, destination, "pointing the route at the egress gateway");
        match Table::parse(&observed.id).expect("observed tables parse") {
            Table::Aws(rtb) => {
                let target = RouteTarget::NetworkInterface(hop.hop.clone());
                let exists = observed.now != NO_ROUTE;
                self.provider
                    .aws()
                    .await?
                    .set_route(&rtb, destination, &target, exists, budget)
                    .await
                    .map_err(|e| failed(&format!("point the route of {rtb} at the gateway"), e))
            }
            Table::Azure(rid) => {
                let name = match observed.now.split_once(':') {
                    Some((name, _)) if observed.now != NO_ROUTE => name.to_string(),
                    _ => azure_route_name(destination),
                };
                let route = RouteProperties {
                    address_prefix: destination.to_string(),
                    next_hop_type: "VirtualAppliance".into(),
                    next_hop_ip_address: Some(hop.hop.clone()),
                    provisioning_state: None,
                };
                self.provider
                    .azure()?
                    .put_route(&rid, &name, &route, budget)
                    .await
                    .map(|_| ())
                    .map_err(|e| failed(&format!("point the route of {} at the gateway", rid.name), e))
            }
        }
    }

    /// Puts the table's previous target back: its route as it was, or no route where there was none.
    async fn restore(
        &self,
        observed: &Observed,
        destination: &str,
        previous: &str,
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        tracing::info!(table = %observed.id, destination, previous, "restoring the route's previous target");
        match Table::parse(&observed.id).expect("observed tables parse") {
            Table::Aws(rtb) => {
                let aws = self.provider.aws().await?;
                let done = match decode_aws(previous) {
                    None => aws.delete_route(&rtb, destination, budget).await,
                    Some(target) => aws.set_route(&rtb, destination, &target, observed.now != NO_ROUTE, budget).await,
                };
                done.map_err(|e| failed(&format!("restore the route of {rtb}"), e))
            }
            Table::Azure(rid) => {
                let azure = self.provider.azure()?;
                let mut parts = previous.splitn(3, ':');
                let done = match (parts.next(), parts.next(), parts.next()) {
                    (Some(name), Some(hop_type), ip) if previous != NO_ROUTE => {
                        let route = RouteProperties {
                            address_prefix: destination.to_string(),
                            next_hop_type: hop_type.to_string(),
                            next_hop_ip_address: ip.map(str::to_string),
                            provisioning_state: None,
                        };
                        azure.put_route(&rid, name, &route, budget).await.map(|_| ())
                    }
                    _ => {
                        let ours = match observed.now.split_once(':') {
                            Some((name, _)) => name.to_string(),
                            None => azure_route_name(destination),
                        };
                        azure.delete_route(&rid, &ours, budget).await
                    }
                };
                done.map_err(|e| failed(&format!("restore the route of {}", rid.name), e))
            }
        }
    }

    /// Brings `tables` to the gateway, recording each one's previous target first; returns the previous
    /// targets. A table that already points at the gateway with nothing recorded is refused: what it had
    /// before is unknown, so destroy could not put it back.
    async fn take(
        &self,
        tables: &BTreeSet<String>,
        destination: &str,
        hop: &GatewayHop,
        planned_previous: Option<&BTreeMap<String, String>>,
        budget: &Budget,
    ) -> Result<BTreeMap<String, String>, Diagnostics> {
        let mut seen = Vec::new();
        for id in tables {
            let observed = self.observe(id, destination, budget).await?.ok_or_else(|| {
                Diagnostics::from(invalid(
                    "route_table_ids",
                    "Route table not found",
                    format!("route table {id} does not exist."),
                ))
            })?;
            Self::check_network(&observed, hop)?;
            let previous = match &observed.recorded {
                Some(recorded) => recorded.clone(),
                None if observed.points_at(hop) => {
                    return Err(invalid(
                        "route_table_ids",
                        "Unknown previous route",
                        format!(
                            "route table {id} already routes {destination} to the gateway, with no record of its previous target; point it back at its original target, or add the tag {} = \"<kind>:<id>\" naming it, then apply again.",
                            tag_key(destination)
                        ),
                    )
                    .into())
                }
                None => observed.now.clone(),
            };
            if let Some(planned) = planned_previous.and_then(|p| p.get(id)) {
                if *planned != previous {
                    return Err(invalid(
                        "route_table_ids",
                        "Route changed since the plan",
                        format!("the {destination} route of {id} was {planned} at plan time and is {previous} now; run terraform apply again to plan against it."),
                    )
                    .into());
                }
            }
            seen.push((observed, previous));
        }
        // Every table checked before any is changed.
        let mut previous_targets = BTreeMap::new();
        for (observed, previous) in seen {
            if observed.recorded.is_none() {
                self.record(&observed, destination, &previous, budget).await?;
            }
            self.point(&observed, destination, hop, budget).await?;
            previous_targets.insert(observed.id.clone(), previous);
        }
        Ok(previous_targets)
    }

    /// Gives `tables` back their previous targets and removes the records.
    async fn release(
        &self,
        tables: &BTreeSet<String>,
        destination: &str,
        hop: Option<&GatewayHop>,
        known_previous: &BTreeMap<String, String>,
        budget: &Budget,
    ) -> Outcome<()> {
        let mut warnings = Diagnostics::default();
        for id in tables {
            let Some(observed) = self.observe(id, destination, budget).await? else { continue };
            let previous = observed.recorded.clone().or_else(|| known_previous.get(id).cloned());
            let ours = hop.is_none_or(|h| observed.points_at(h));
            match previous {
                Some(previous) if ours => self.restore(&observed, destination, &previous, budget).await?,
                Some(_) => warnings.push(Diagnostic::warning(
                    "Route left as found",
                    format!("the {destination} route of {id} no longer points at the gateway ({}); it was left as it is.", observed.now),
                )),
                None => warnings.push(Diagnostic::warning(
                    "No previous route known",
                    format!("route table {id} has no record of its previous {destination} target; its route was left as it is."),
                )),
            }
            self.unrecord(&observed, destination, budget).await?;
        }
        warnings.into_outcome(())
    }
}

fn id_of(state: &RouteState) -> String {
    format!("{},{}", state.gateway, state.destination())
}

#[tonic::async_trait]
impl Resource for RouteResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_route";
    type State = RouteState;

    fn validate(&self, config: &RouteState) -> Diagnostics {
        let mut problems = Vec::new();
        if let Some(cidr) = &config.destination_cidr {
            problems.extend(check_cidr("destination_cidr", cidr));
        }
        if config.route_table_ids.is_empty() {
            problems.push(invalid(
                "route_table_ids",
                "No route tables",
                "route_table_ids is empty; list the route tables of the node subnets.".into(),
            ));
        }
        let mut clouds = BTreeSet::new();
        for id in &config.route_table_ids {
            match Table::parse(id) {
                Ok(t) => {
                    clouds.insert(t.cloud().name());
                }
                Err(e) => problems.push(
                    Diagnostic::error("Invalid route table ID", format!("route_table_ids: {e}."))
                        .at(AttributePath::root().attr("route_table_ids")),
                ),
            }
        }
        if clouds.len() > 1 {
            problems.push(invalid(
                "route_table_ids",
                "Route tables of two clouds",
                "route_table_ids mixes AWS and Azure route tables; one route resource serves one gateway in one cloud."
                    .into(),
            ));
        }
        if config.gateway.trim().is_empty() {
            problems.push(invalid("gateway", "No gateway", "gateway is empty; name the egress gateway.".into()));
        }
        if let Some(t) = &config.timeouts {
            problems.extend(t.validate());
        }
        Diagnostics(problems)
    }

    async fn plan(
        &self,
        ctx: &CallContext,
        prior: Option<&RouteState>,
        mut proposed: RouteState,
        _: &mut Private,
    ) -> Outcome<Planned<RouteState>> {
        let unchanged =
            prior.is_some_and(|p| p.gateway == proposed.gateway && p.route_table_ids == proposed.route_table_ids);
        if unchanged {
            return Ok(Planned::new(proposed).into());
        }
        let budget = budget(ctx, proposed.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
        let destination = proposed.destination().to_string();
        let hop = self.gateway(&proposed.gateway, &budget).await?;
        let mut previous = prior.map(RouteState::previous).unwrap_or_default();
        previous.retain(|table, _| proposed.route_table_ids.contains(table));
        for id in &proposed.route_table_ids {
            if previous.contains_key(id) {
                continue;
            }
            let observed = self.observe(id, &destination, &budget).await?.ok_or_else(|| {
                Diagnostics::from(invalid(
                    "route_table_ids",
                    "Route table not found",
                    format!("route table {id} does not exist."),
                ))
            })?;
            if let Some(hop) = &hop {
                Self::check_network(&observed, hop)?;
            }
            let shown = observed.recorded.clone().unwrap_or_else(|| observed.now.clone());
            previous.insert(id.clone(), shown);
        }
        proposed.previous_targets = Some(Known::Value(previous));
        if let Some(p) = prior.filter(|p| p.gateway == proposed.gateway) {
            proposed.target = p.target.clone();
        }
        Ok(Planned::new(proposed).into())
    }

    async fn create(&self, ctx: &CallContext, planned: RouteState, _: &mut Private) -> Outcome<RouteState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, WRITE_TIMEOUT)?;
        let destination = planned.destination().to_string();
        let hop = self.gateway(&planned.gateway, &budget).await?.ok_or_else(|| {
            Diagnostics::from(invalid(
                "gateway",
                "Gateway not found",
                format!("the controller has no gateway named {:?}.", planned.gateway),
            ))
        })?;
        let planned_previous = planned.previous_targets.clone().and_then(Known::into_value);
        let previous =
            self.take(&planned.route_table_ids, &destination, &hop, planned_previous.as_ref(), &budget).await?;
        Ok(RouteState {
            id: Known::Value(id_of(&planned)),
            previous_targets: Some(Known::Value(previous)),
            target: Some(Known::Value(hop.hop)),
            ..planned
        }
        .into())
    }

    async fn read(&self, ctx: &CallContext, current: RouteState, _: &mut Private) -> Outcome<Option<RouteState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
        let destination = current.destination().to_string();
        let hop = self.gateway(&current.gateway, &budget).await?;
        let mut previous = current.previous();
        let mut kept = BTreeSet::new();
        for id in &current.route_table_ids {
            let Some(observed) = self.observe(id, &destination, &budget).await? else {
                previous.remove(id);
                continue;
            };
            if let Some(recorded) = &observed.recorded {
                previous.insert(id.clone(), recorded.clone());
            }
            if hop.as_ref().is_some_and(|h| observed.points_at(h)) {
                kept.insert(id.clone());
            }
        }
        Ok(Some(RouteState {
            route_table_ids: kept,
            previous_targets: Some(Known::Value(previous)),
            target: hop.map(|h| Known::Value(h.hop)),
            ..current
        })
        .into())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        prior: RouteState,
        planned: RouteState,
        _: &mut Private,
    ) -> Outcome<RouteState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, WRITE_TIMEOUT)?;
        let destination = planned.destination().to_string();
        let hop = self.gateway(&planned.gateway, &budget).await?.ok_or_else(|| {
            Diagnostics::from(invalid(
                "gateway",
                "Gateway not found",
                format!("the controller has no gateway named {:?}.", planned.gateway),
            ))
        })?;
        let removed: BTreeSet<String> = prior.route_table_ids.difference(&planned.route_table_ids).cloned().collect();
        let released = self.release(&removed, &destination, None, &prior.previous(), &budget).await?;
        let planned_previous = planned.previous_targets.clone().and_then(Known::into_value);
        let previous =
            self.take(&planned.route_table_ids, &destination, &hop, planned_previous.as_ref(), &budget).await?;
        Ok(Diagnosed::new(RouteState {
            previous_targets: Some(Known::Value(previous)),
            target: Some(Known::Value(hop.hop)),
            ..planned
        })
        .with_all(released.diagnostics))
    }

    async fn delete(&self, ctx: &CallContext, prior: RouteState, _: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, WRITE_TIMEOUT)?;
        let hop = self.gateway(&prior.gateway, &budget).await?;
        self.release(&prior.route_table_ids, prior.destination(), hop.as_ref(), &prior.previous(), &budget).await
    }

    async fn import(&self, ctx: &CallContext, id: &str, _: &mut Private) -> Outcome<RouteState> {
        let budget = budget(ctx, None, Operation::Read, READ_TIMEOUT)?;
        let parts: Vec<&str> = id.split(',').map(str::trim).collect();
        let refuse = |why: String| -> Diagnostics {
            Diagnostic::error(
                "Cannot import the route",
                format!("{why}; the import ID is <gateway>,<destination_cidr>,<route table ID>[,<route table ID>...], such as mcp-egress,0.0.0.0/0,rtb-0a1b2c3d"),
            )
            .into()
        };
        if parts.len() < 3 {
            return Err(refuse(format!("{id:?} has fewer than three parts")));
        }
        let (gateway, destination) = (parts[0].to_string(), parts[1].to_string());
        let hop = self
            .gateway(&gateway, &budget)
            .await?
            .ok_or_else(|| refuse(format!("the controller has no gateway named {gateway:?}")))?;
        let mut previous = BTreeMap::new();
        for table in &parts[2..] {
            let observed = self
                .observe(table, &destination, &budget)
                .await?
                .ok_or_else(|| refuse(format!("route table {table} does not exist")))?;
            let recorded = observed.recorded.clone().ok_or_else(|| {
                refuse(format!(
                    "route table {table} carries no {} tag, so this provider never routed it",
                    tag_key(&destination)
                ))
            })?;
            if !observed.points_at(&hop) {
                return Err(refuse(format!("the {destination} route of {table} does not point at gateway {gateway}")));
            }
            previous.insert(table.to_string(), recorded);
        }
        let state = RouteState {
            id: Known::Value(String::new()),
            gateway,
            route_table_ids: parts[2..].iter().map(|s| s.to_string()).collect(),
            destination_cidr: Some(destination),
            previous_targets: Some(Known::Value(previous)),
            target: Some(Known::Value(hop.hop)),
            timeouts: None,
        };
        Ok(RouteState { id: Known::Value(id_of(&state)), ..state }.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ids_name_their_cloud_and_bad_ones_say_what_is_accepted() {
        assert!(matches!(Table::parse("rtb-0a1b2c3d"), Ok(Table::Aws(_))));
        let azure = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/nodes";
        assert!(matches!(Table::parse(azure), Ok(Table::Azure(_))));
        let subnet = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a";
        for bad in ["rtb-xyz", "subnet-0a1b2c3d", subnet] {
            assert!(Table::parse(bad).unwrap_err().contains("neither an AWS route table ID"), "{bad}");
        }
    }

    #[test]
    fn previous_targets_encode_and_decode() {
        assert_eq!(encode_aws(&None), "none");
        assert_eq!(decode_aws("none"), None);
        let igw = Some(RouteTarget::Gateway("igw-0abc".into()));
        assert_eq!(encode_aws(&igw), "gateway:igw-0abc");
        assert_eq!(decode_aws("gateway:igw-0abc"), igw);
        assert_eq!(decode_aws("nat_gateway:nat-1"), Some(RouteTarget::NatGateway("nat-1".into())));
        assert_eq!(tag_key("0.0.0.0/0"), "mcp-egress-previous-0.0.0.0_0");
        assert_eq!(azure_route_name("0.0.0.0/0"), "mcp-egress-0-0-0-0-0");
    }

    #[test]
    fn a_route_points_at_the_gateway_by_interface_or_appliance_ip() {
        let observed = |now: &str| Observed {
            id: "t".into(),
            networks: BTreeSet::new(),
            now: now.into(),
            recorded: None,
            tags: BTreeMap::new(),
        };
        let aws = GatewayHop { cloud: Cloud::Aws, hop: "eni-1".into(), network: "vpc-1".into() };
        assert!(observed("network_interface:eni-1").points_at(&aws));
        assert!(!observed("gateway:igw-1").points_at(&aws));
        let azure = GatewayHop { cloud: Cloud::Azure, hop: "10.20.0.4".into(), network: "v:rg".into() };
        assert!(observed("default:VirtualAppliance:10.20.0.4").points_at(&azure));
        assert!(!observed("default:Internet").points_at(&azure));
    }
}
