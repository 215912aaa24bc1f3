//! `aviatrix_mcp_egress_policy`: tiers 1 and 3 of the containment for one MCP namespace of one onboarded
//! cluster, as DCF objects on the controller.
//!
//! It owns, per namespace: a SmartGroup of the namespace's pods, one WebGroup per named permit, a tier-1
//! ruleset (one PERMIT rule per permit) and a tier-3 ruleset (the default deny, or watch under
//! `enforcement = "monitor"`), each ruleset marked as ours in its `metadata`. The rulesets are placed in the
//! rule tree through two policy groups shared by every stack on the controller: `mcp-egress-tier1` at
//! `TERRAFORM_BEFORE_UI_MANAGED` (ahead of the K8s-managed rules) and `mcp-egress-tier3` at
//! `TERRAFORM_AFTER_K8S_MANAGED` (after them). A stack only ever adds or removes its own sub-policy in a
//! shared group, read-modify-write with a conflict check and a verified read-back, never a blind overwrite;
//! the first stack in creates a group, the last one out removes it. It never rewrites a rule or group it
//! does not own.
//!
//! Every object is found by its name (and, for rulesets, by the owner in its metadata) before anything is
//! made, so an interrupted create is adopted and import needs only `<cluster>/<namespace>`. Read reports
//! what the controller holds; a rule or group of ours changed outside Terraform, or our sub-policy taken out
//! of a shared group, is planned as an update that puts it back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{budget, failed};
use crate::clients::controller::{ControllerClient, ControllerError};
use crate::clients::retry::{Backoff, Budget};
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::{
    AttributePath, CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Planned, Private, Resource,
    TfSchema,
};
use crate::policy;
use crate::provider::AviatrixProvider;

const TIMEOUT: Duration = Duration::from_secs(10 * 60);
const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What marks a ruleset or policy group as written by this provider (`metadata.managed_by`).
pub const MANAGED_BY: &str = "mcp-egress/aviatrix";
/// The resource type named in the metadata (`metadata.resource_type`).
const RESOURCE_TYPE: &str = "aviatrix_mcp_egress_policy";
/// The built-in SmartGroups (the same UUIDs on every controller).
pub const ANYWHERE: &str = "def000ad-0000-0000-0000-000000000000";
pub const PUBLIC_INTERNET: &str = "def000ad-0000-0000-0000-000000000001";
/// The name of the tier-3 rule.
pub const DEFAULT_DENY: &str = "tier3-default-deny";

/// The two tiers this resource writes, with where they sit in the rule tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Named permits, ahead of the K8s-managed rules.
    One,
    /// The default deny, after the K8s-managed rules.
    Three,
}

impl Tier {
    fn number(self) -> u8 {
        match self {
            Tier::One => 1,
            Tier::Three => 3,
        }
    }

    /// The attachment point its shared group is attached at.
    pub fn attachment_point(self) -> &'static str {
        match self {
            Tier::One => "TERRAFORM_BEFORE_UI_MANAGED",
            Tier::Three => "TERRAFORM_AFTER_K8S_MANAGED",
        }
    }

    /// The shared policy group's name.
    pub fn group_name(self) -> &'static str {
        match self {
            Tier::One => "mcp-egress-tier1",
            Tier::Three => "mcp-egress-tier3",
        }
    }
}

/// What tier 3 does with traffic no permit allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Enforcement {
    /// Drop and log.
    Enforce,
    /// Let through and log (the rule's `enforcement: MONITOR`).
    Monitor,
}

impl Enforcement {
    fn parse(text: &str) -> Option<Enforcement> {
        match text {
            "enforce" => Some(Enforcement::Enforce),
            "monitor" => Some(Enforcement::Monitor),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Enforcement::Enforce => "enforce",
            Enforcement::Monitor => "monitor",
        }
    }

    fn wire(self) -> &'static str {
        match self {
            Enforcement::Enforce => "ENFORCE",
            Enforcement::Monitor => "MONITOR",
        }
    }
}

/// A permit's transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Tcp,
    Udp,
    Any,
}

impl Protocol {
    fn parse(text: &str) -> Option<Protocol> {
        match text {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "any" => Some(Protocol::Any),
            _ => None,
        }
    }

    fn from_wire(text: &str) -> Option<Protocol> {
        match text {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "PROTOCOL_UNSPECIFIED" => Some(Protocol::Any),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Any => "any",
        }
    }

    fn wire(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Any => "PROTOCOL_UNSPECIFIED",
        }
    }
}

/// One named tier-1 permit: the namespace's pods may reach these domains on these ports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TfSchema)]
pub struct NamedPermit {
    /// The permit's name, unique in the list: lowercase letters, digits and `-`, at most 57 characters. The
    /// rule is named `tier1-<name>`.
    pub name: String,
    /// Egress domains (`*.example.com` wildcards allowed), normalised as `aviatrix_mcp_egress_domains` does.
    pub domains: Vec<String>,
    /// Destination ports, `[443]` unless set.
    #[tf(optional, computed, default = [443])]
    pub ports: Option<Vec<i64>>,
    /// `tcp` (the default), `udp` or `any`.
    #[tf(optional, computed, default = "tcp")]
    pub protocol: Option<String>,
}

impl NamedPermit {
    fn ports(&self) -> Vec<i64> {
        self.ports.clone().unwrap_or_else(|| vec![443])
    }

    fn protocol(&self) -> Protocol {
        self.protocol.as_deref().and_then(Protocol::parse).unwrap_or(Protocol::Tcp)
    }

    /// The domains as the WebGroup holds them (normalised, sorted, covered entries dropped).
    fn normalized_domains(&self) -> Option<Vec<String>> {
        policy::normalize(&self.domains).ok().map(|n| n.patterns.iter().map(ToString::to_string).collect())
    }

    /// Whether two permits mean the same (domains compared in normal form).
    fn same_as(&self, other: &NamedPermit) -> bool {
        self.name == other.name
            && self.ports() == other.ports()
            && self.protocol() == other.protocol()
            && self.normalized_domains().is_some()
            && self.normalized_domains() == other.normalized_domains()
    }
}

/// Tiers 1 and 3 of the egress containment for one MCP namespace of one onboarded cluster: the named
/// permits ahead of the per-server (K8s-managed) rules, and the default deny after them, with logging on.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct PolicyState {
    /// `<cluster>/<namespace>`; the import ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// The onboarded cluster: the `id` of an `aviatrix_mcp_egress_cluster` (the controller's cluster ID).
    #[tf(requires_replace)]
    pub cluster: Known<String>,
    /// The MCP namespace whose pods the policy contains.
    #[tf(requires_replace)]
    pub namespace: Known<String>,
    /// Narrows the pods selected in the namespace to those with all these labels; all pods of the namespace
    /// unless set.
    #[tf(optional)]
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// Tier 1: named infrastructure permits (registries, cloud APIs, identity endpoints), each a PERMIT rule
    /// `tier1-<name>` to the Public Internet filtered by a WebGroup of its domains, logging on.
    #[tf(optional, nested)]
    pub named_permits: Option<Vec<NamedPermit>>,
    /// Tier 3: `enforce` (the default) drops and logs everything else from the pods; `monitor` lets it
    /// through and logs it (the rule's enforcement `MONITOR`).
    #[tf(optional, computed, default = "enforce")]
    pub enforcement: Option<String>,
    /// For clusters where the controller cannot resolve label SmartGroups (status `Partial`): the pods
    /// SmartGroup also lists each selected pod's IP (`/32`), read live from the Kubernetes API, so a pod
    /// restarted with a new IP shows in the next plan and one apply fixes it. `false` unless set.
    #[tf(optional, computed, default = false)]
    pub pod_ip_fallback: Option<bool>,
    /// The UUID of the SmartGroup of the namespace's pods.
    #[tf(computed, use_state_for_unknown)]
    pub source_group: Option<Known<String>>,
    /// The UUID of each permit's WebGroup, by permit name.
    #[tf(computed)]
    pub web_groups: Option<Known<BTreeMap<String, String>>>,
    /// The UUID of the tier-1 ruleset.
    #[tf(computed, use_state_for_unknown)]
    pub tier1_ruleset: Option<Known<String>>,
    /// The UUID of the tier-3 ruleset.
    #[tf(computed, use_state_for_unknown)]
    pub tier3_ruleset: Option<Known<String>>,
    /// The UUID of the shared policy group at `TERRAFORM_BEFORE_UI_MANAGED` that holds the tier-1 ruleset.
    #[tf(computed, use_state_for_unknown)]
    pub tier1_group: Option<Known<String>>,
    /// The UUID of the shared policy group at `TERRAFORM_AFTER_K8S_MANAGED` that holds the tier-3 ruleset.
    #[tf(computed, use_state_for_unknown)]
    pub tier3_group: Option<Known<String>>,
    /// With `pod_ip_fallback`: the pod IPs the SmartGroup lists, sorted.
    #[tf(computed)]
    pub pod_ips: Option<Known<Vec<String>>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

impl PolicyState {
    fn permits(&self) -> &[NamedPermit] {
        self.named_permits.as_deref().unwrap_or(&[])
    }

    fn labels(&self) -> BTreeMap<String, String> {
        self.pod_labels.clone().unwrap_or_default()
    }

    fn enforcement(&self) -> Enforcement {
        self.enforcement.as_deref().and_then(Enforcement::parse).unwrap_or(Enforcement::Enforce)
    }

    fn fallback(&self) -> bool {
        self.pod_ip_fallback.unwrap_or(false)
    }

    fn cluster_id(&self) -> String {
        self.cluster.value().cloned().unwrap_or_default()
    }

    fn namespace_name(&self) -> String {
        self.namespace.value().cloned().unwrap_or_default()
    }

    /// An ID attribute that read found missing or changed outside Terraform ("").
    fn broken(id: &Option<Known<String>>) -> bool {
        matches!(id, Some(Known::Value(v)) if v.is_empty())
    }

    /// Whether read found something of ours missing or changed that the configuration does not show.
    fn needs_repair(&self) -> bool {
        let ids = [&self.source_group, &self.tier1_ruleset, &self.tier3_ruleset, &self.tier1_group, &self.tier3_group];
        let web: BTreeSet<&String> = match &self.web_groups {
            Some(Known::Value(m)) => m.keys().collect(),
            _ => BTreeSet::new(),
        };
        let named: BTreeSet<&String> = self.permits().iter().map(|p| &p.name).collect();
        ids.iter().any(|id| Self::broken(id)) || web != named
    }
}

/// The names of one policy's objects on the controller.
#[derive(Clone, Debug)]
struct Names {
    /// `<cluster>/<namespace>`: the resource ID, the owner in metadata, and the sub-policy's name.
    id: String,
    prefix: String,
}

impl Names {
    fn new(cluster: &str, namespace: &str) -> Names {
        Names { id: format!("{cluster}/{namespace}"), prefix: format!("mcp-egress-{namespace}-{cluster}") }
    }

    fn smart_group(&self) -> String {
        format!("{}-pods", self.prefix)
    }

    fn web_group_prefix(&self) -> String {
        format!("{}-permit-", self.prefix)
    }

    fn web_group(&self, permit: &str) -> String {
        format!("{}{permit}", self.web_group_prefix())
    }

    fn ruleset(&self, tier: Tier) -> String {
        format!("{}-tier{}", self.prefix, tier.number())
    }
}

/// The metadata of a ruleset of ours.
fn ruleset_metadata(names: &Names, tier: Tier, state: &PolicyState) -> Value {
    json!({
        "managed_by": MANAGED_BY,
        "resource_type": RESOURCE_TYPE,
        "owner": names.id,
        "tier": tier.number(),
        "cluster": state.cluster_id(),
        "namespace": state.namespace_name(),
        "pod_ip_fallback": state.fallback(),
    })
}

/// The metadata of a shared policy group.
fn group_metadata(tier: Tier) -> Value {
    json!({ "managed_by": MANAGED_BY, "resource_type": RESOURCE_TYPE, "shared": true, "tier": tier.number() })
}

fn owner_of(list: &Value) -> Option<&str> {
    (list["metadata"]["managed_by"] == MANAGED_BY).then(|| list["metadata"]["owner"].as_str()).flatten()
}

fn is_group(list: &Value) -> bool {
    list["sub_policies"].is_array()
}

/// Whether a `policy-list3` object is one of our shared groups for `tier`.
fn is_our_group(list: &Value, tier: Tier) -> bool {
    is_group(list)
        && list["metadata"]["managed_by"] == MANAGED_BY
        && list["metadata"]["shared"] == true
        && list["metadata"]["tier"] == tier.number()
}

/// The pods SmartGroup's selector: the namespace's pods by label, and with the fallback each pod's IP.
fn pods_selector(
    cluster_id: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    ips: Option<&[String]>,
) -> Value {
    let mut all = serde_json::Map::new();
    all.insert("type".into(), json!("k8s"));
    all.insert("k8s_cluster_id".into(), json!(cluster_id));
    all.insert("k8s_namespace".into(), json!(namespace));
    for (key, value) in labels {
        all.insert(format!("tags.{key}"), json!(value));
    }
    let mut any = vec![json!({ "all": all })];
    for ip in ips.unwrap_or(&[]) {
        any.push(json!({ "all": { "cidr": format!("{ip}/32") } }));
    }
    json!({ "any": any })
}

fn web_selector(domains: &[String]) -> Value {
    json!({ "any": domains.iter().map(|d| json!({ "all": { "snifilter": d } })).collect::<Vec<_>>() })
}

fn tier1_rules(permits: &[NamedPermit], source: &str, web_groups: &BTreeMap<String, String>) -> Vec<Value> {
    permits
        .iter()
        .enumerate()
        .map(|(i, permit)| {
            json!({
                "name": format!("tier1-{}", permit.name),
                "action": "PERMIT",
                "priority": (i as u64 + 1) * 100,
                "protocol": permit.protocol().wire(),
                "src_ads": [source],
                "dst_ads": [PUBLIC_INTERNET],
                "web_filters": [web_groups.get(&permit.name).cloned().unwrap_or_default()],
                "port_ranges": permit.ports().iter().map(|p| json!({ "lo": p })).collect::<Vec<_>>(),
                "logging": true,
                "enforcement": "ENFORCE",
            })
        })
        .collect()
}

/// The default deny. Its destination is Anywhere, not only the Public Internet: what the namespace's pods
/// send through the gateway to private addresses (other VPCs, on-premises, peered services) is as much an
/// exfiltration path as the internet.
fn tier3_rules(source: &str, enforcement: Enforcement) -> Vec<Value> {
    vec![json!({
        "name": DEFAULT_DENY,
        "action": "DENY",
        "priority": 100,
        "protocol": "PROTOCOL_UNSPECIFIED",
        "src_ads": [source],
        "dst_ads": [ANYWHERE],
        "logging": true,
        "enforcement": enforcement.wire(),
    })]
}

/// A rule as far as its meaning goes, so rules compare equal whatever defaults the controller filled in.
fn rule_meaning(rule: &Value) -> Value {
    let list = |key: &str| rule[key].as_array().cloned().unwrap_or_default();
    let ports: Vec<Value> = list("port_ranges")
        .iter()
        .map(|r| {
            let lo = r["lo"].as_u64().unwrap_or(0);
            json!([lo, r["hi"].as_u64().unwrap_or(lo)])
        })
        .collect();
    let mode = if rule["watch"] == true || rule["enforcement"] == "MONITOR" {
        "monitor"
    } else if rule["enforcement"] == "DISABLE" {
        "disable"
    } else {
        "enforce"
    };
    json!({
        "name": rule["name"], "action": rule["action"], "priority": rule["priority"].as_u64().unwrap_or(0),
        "protocol": rule["protocol"], "src_ads": list("src_ads"), "dst_ads": list("dst_ads"),
        "web_filters": list("web_filters"), "port_ranges": ports, "logging": rule["logging"] == true, "mode": mode,
    })
}

fn rules_mean(actual: &Value, wanted: &[Value]) -> bool {
    let actual: Vec<Value> = actual.as_array().into_iter().flatten().map(rule_meaning).collect();
    let wanted: Vec<Value> = wanted.iter().map(rule_meaning).collect();
    actual == wanted
}

/// A sub-policy's entry for our ruleset in a shared group.
fn sub_policy_of<'a>(group: &'a Value, name: &str) -> Option<&'a Value> {
    group["sub_policies"].as_array().into_iter().flatten().find(|s| s["name"] == name)
}

/// What the controller holds that concerns one policy.
struct World {
    cluster: Option<Value>,
    domains: Vec<Value>,
    lists: Vec<Value>,
    /// Attachment point ID by tier.
    points: BTreeMap<u8, String>,
}

impl World {
    async fn load(client: &ControllerClient, cluster: &str, budget: &Budget) -> Result<World, Diagnostics> {
        let cluster = match client.k8s_cluster(cluster, budget).await {
            Ok(c) => Some(c),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(failed("read the onboarded cluster", e)),
        };
        let domains = client.app_domains(budget).await.map_err(|e| failed("list the SmartGroups and WebGroups", e))?;
        let lists = client.policy_lists(budget).await.map_err(|e| failed("list the DCF rulesets", e))?;
        let mut points = BTreeMap::new();
        for tier in [Tier::One, Tier::Three] {
            let id = client
                .attachment_point(tier.attachment_point(), budget)
                .await
                .map_err(|e| failed(&format!("look up the attachment point {}", tier.attachment_point()), e))?;
            points.insert(tier.number(), id);
        }
        Ok(World { cluster, domains, lists, points })
    }

    fn domain(&self, name: &str) -> Option<&Value> {
        self.domains.iter().find(|d| d["name"] == name)
    }

    fn domain_by_uuid(&self, uuid: &str) -> Option<&Value> {
        self.domains.iter().find(|d| d["uuid"] == uuid)
    }

    fn list(&self, name: &str) -> Option<&Value> {
        self.lists.iter().find(|l| l["name"] == name && !is_group(l))
    }

    fn attached(&self, tier: Tier) -> Option<&Value> {
        let point = self.points.get(&tier.number())?;
        self.lists.iter().find(|l| l["attach_to"].as_str() == Some(point.as_str()))
    }
}

fn uuid_of(value: &Value) -> String {
    value["uuid"].as_str().unwrap_or_default().to_string()
}

/// What read and import make of the controller's objects: the configuration they stand for, the UUIDs of
/// those that are as this resource would write them ("" for one missing or changed), and what differs.
fn observe(names: &Names, world: &World, prior: &PolicyState) -> (PolicyState, Vec<String>) {
    let mut drift = Vec::new();
    let cluster_arn = world.cluster.as_ref().and_then(|c| c["cluster_id"].as_str()).map(str::to_string);
    let smart = world.domain(&names.smart_group());
    let tier1 = world.list(&names.ruleset(Tier::One)).filter(|l| owner_of(l) == Some(&names.id));
    let tier3 = world.list(&names.ruleset(Tier::Three)).filter(|l| owner_of(l) == Some(&names.id));

    // The selection: labels from the label expression, pod IPs from the CIDR expressions.
    let expressions: Vec<&serde_json::Map<String, Value>> = smart
        .and_then(|s| s["selector"]["any"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e["all"].as_object())
        .collect();
    let label_expression = expressions.iter().find(|e| e.get("type").and_then(Value::as_str) == Some("k8s"));
    let labels: BTreeMap<String, String> = label_expression
        .map(|e| {
            e.iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("tags.")?.to_string(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let fallback =
        tier1.or(tier3).and_then(|l| l["metadata"]["pod_ip_fallback"].as_bool()).unwrap_or_else(|| prior.fallback());
    let mut ips: Vec<String> = expressions
        .iter()
        .filter_map(|e| e.get("cidr").and_then(Value::as_str))
        .map(|c| c.trim_end_matches("/32").to_string())
        .collect();
    ips.sort();
    let cluster_arn = cluster_arn
        .or_else(|| label_expression.and_then(|e| e.get("k8s_cluster_id")).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let source_uuid = smart.map(uuid_of).unwrap_or_default();
    let source_group = match smart {
        None => {
            drift.push(format!("SmartGroup {} is missing", names.smart_group()));
            String::new()
        }
        Some(s)
            if s["selector"]
                == pods_selector(&cluster_arn, &names_namespace(prior), &labels, fallback.then_some(&ips[..])) =>
        {
            source_uuid.clone()
        }
        Some(_) => {
            drift.push(format!("SmartGroup {} was changed outside Terraform", names.smart_group()));
            String::new()
        }
    };

    // Tier 1: each `tier1-<name>` rule is a permit, its domains those of the WebGroup it filters on.
    let mut permits = Vec::new();
    let mut web_groups = BTreeMap::new();
    for rule in tier1.and_then(|l| l["policies"].as_array()).into_iter().flatten() {
        let Some(name) = rule["name"].as_str().and_then(|n| n.strip_prefix("tier1-")) else { continue };
        let web = rule["web_filters"].as_array().and_then(|f| f.first()).and_then(Value::as_str).unwrap_or("");
        let group = world.domain_by_uuid(web).filter(|d| d["name"] == names.web_group(name).as_str());
        let domains: Vec<String> = group
            .and_then(|g| g["selector"]["any"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|e| e["all"]["snifilter"].as_str().map(str::to_string))
            .collect();
        if let Some(group) = group {
            if group["selector"] == web_selector(&domains) {
                web_groups.insert(name.to_string(), uuid_of(group));
            } else {
                drift.push(format!("WebGroup {} was changed outside Terraform", names.web_group(name)));
            }
        }
        let ports = rule["port_ranges"].as_array().into_iter().flatten().filter_map(|r| r["lo"].as_i64()).collect();
        let protocol = rule["protocol"].as_str().and_then(Protocol::from_wire).unwrap_or(Protocol::Tcp);
        permits.push(NamedPermit {
            name: name.to_string(),
            domains,
            ports: Some(ports),
            protocol: Some(protocol.name().to_string()),
        });
    }
    let tier1_ruleset = match tier1 {
        None => {
            drift.push(format!("ruleset {} is missing", names.ruleset(Tier::One)));
            String::new()
        }
        Some(l) if rules_mean(&l["policies"], &tier1_rules(&permits, &source_uuid, &web_groups)) => uuid_of(l),
        Some(_) => {
            drift.push(format!("a rule of ruleset {} was changed outside Terraform", names.ruleset(Tier::One)));
            String::new()
        }
    };

    // Tier 3: the default deny, enforced or watched.
    let deny =
        tier3.and_then(|l| l["policies"].as_array()).and_then(|rules| rules.iter().find(|r| r["name"] == DEFAULT_DENY));
    let enforcement = match deny {
        Some(rule) if rule_meaning(rule)["mode"] == "monitor" => Enforcement::Monitor,
        Some(_) => Enforcement::Enforce,
        None => prior.enforcement(),
    };
    let tier3_ruleset = match tier3 {
        None => {
            drift.push(format!("ruleset {} is missing", names.ruleset(Tier::Three)));
            String::new()
        }
        Some(l) if rules_mean(&l["policies"], &tier3_rules(&source_uuid, enforcement)) => uuid_of(l),
        Some(_) => {
            drift.push(format!(
                "rule {DEFAULT_DENY} of ruleset {} was changed outside Terraform",
                names.ruleset(Tier::Three)
            ));
            String::new()
        }
    };

    // The shared groups: ours must be attached, holding our sub-policy for our ruleset.
    let mut groups = BTreeMap::new();
    for (tier, ruleset) in [(Tier::One, tier1), (Tier::Three, tier3)] {
        let attached = world.attached(tier).filter(|g| is_our_group(g, tier));
        let held = attached
            .filter(|g| ruleset.is_some_and(|r| sub_policy_of(g, &names.id).is_some_and(|s| s["list"] == r["uuid"])));
        match held {
            Some(g) => {
                groups.insert(tier.number(), uuid_of(g));
            }
            None => {
                drift.push(format!(
                    "the sub-policy {} is not in the policy group {} at {}",
                    names.id,
                    tier.group_name(),
                    tier.attachment_point()
                ));
                groups.insert(tier.number(), String::new());
            }
        }
    }

    // The configuration as written stays where it means what the controller holds.
    let named_permits = if permits.is_empty() { None } else { Some(permits) };
    let named_permits = match (&prior.named_permits, &named_permits) {
        (Some(p), Some(o)) if p.len() == o.len() && p.iter().zip(o).all(|(a, b)| a.same_as(b)) => {
            prior.named_permits.clone()
        }
        (Some(p), None) if p.is_empty() => prior.named_permits.clone(),
        _ => named_permits,
    };
    let pod_labels = if labels.is_empty() { None } else { Some(labels) };
    let pod_labels =
        if prior.labels() == pod_labels.clone().unwrap_or_default() { prior.pod_labels.clone() } else { pod_labels };
    let state = PolicyState {
        id: Known::Value(names.id.clone()),
        pod_labels,
        named_permits,
        enforcement: Some(enforcement.name().to_string()),
        pod_ip_fallback: Some(fallback),
        source_group: Some(Known::Value(source_group)),
        web_groups: Some(Known::Value(web_groups)),
        tier1_ruleset: Some(Known::Value(tier1_ruleset)),
        tier3_ruleset: Some(Known::Value(tier3_ruleset)),
        tier1_group: Some(Known::Value(groups[&1].clone())),
        tier3_group: Some(Known::Value(groups[&3].clone())),
        pod_ips: fallback.then_some(Known::Value(ips)),
        ..prior.clone()
    };
    (state, drift)
}

fn names_namespace(state: &PolicyState) -> String {
    state.namespace_name()
}

/// A DNS label as Kubernetes names namespaces (RFC 1123): lowercase alphanumerics and `-`, at most `max`.
fn dns_label(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// A Kubernetes label key (`[prefix/]name`) or value.
fn label_part(value: &str, allow_empty: bool) -> bool {
    if value.is_empty() {
        return allow_empty;
    }
    value.len() <= 63
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn at(path: AttributePath, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(summary, detail).at(path)
}

fn permit_path(i: usize) -> AttributePath {
    AttributePath::root().attr("named_permits").index(i as i64)
}

/// Every problem with the configuration, each on its attribute.
fn check(config: &PolicyState) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    if let Known::Value(ns) = &config.namespace {
        if !dns_label(ns, 63) {
            problems.push(at(AttributePath::root().attr("namespace"), "Invalid namespace", format!("namespace = {ns:?} is not a Kubernetes namespace name; use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters.")));
        }
    }
    if let Known::Value(cluster) = &config.cluster {
        if cluster.trim().is_empty() || cluster.contains('/') {
            problems.push(at(AttributePath::root().attr("cluster"), "Invalid cluster", format!("cluster = {cluster:?} is not a controller cluster ID; use the id of an aviatrix_mcp_egress_cluster (aviatrix_mcp_egress_cluster.<name>.id).")));
        }
    }
    for (key, value) in config.pod_labels.iter().flatten() {
        let (prefix, name) = key.rsplit_once('/').map(|(p, n)| (Some(p), n)).unwrap_or((None, key.as_str()));
        let prefix_ok =
            prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(|l| dns_label(l, 63)));
        if !prefix_ok || !label_part(name, false) {
            problems.push(at(AttributePath::root().attr("pod_labels").key(key), "Invalid pod label", format!("pod_labels key {key:?} is not a Kubernetes label key; use [prefix/]name with a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit.")));
        }
        if !label_part(value, true) {
            problems.push(at(AttributePath::root().attr("pod_labels").key(key), "Invalid pod label", format!("pod_labels[{key:?}] = {value:?} is not a Kubernetes label value; use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit.")));
        }
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, permit) in config.permits().iter().enumerate() {
        let path = permit_path(i);
        if !dns_label(&permit.name, 57) {
            problems.push(at(path.clone().attr("name"), "Invalid permit name", format!("named_permits[{i}].name = {:?}: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 57 characters (the rule is named tier1-<name>).", permit.name)));
        }
        if let Some(first) = seen.insert(&permit.name, i) {
            problems.push(at(path.clone().attr("name"), "Duplicate permit name", format!("named_permits[{i}].name = {:?} is also the name of named_permits[{first}]; each permit needs its own name.", permit.name)));
        }
        if permit.domains.is_empty() {
            problems.push(at(path.clone().attr("domains"), "No domains", format!("named_permits[{i}].domains is empty; give at least one domain such as \"api.example.com\" or \"*.example.com\", or remove the permit.")));
        }
        if let Err(invalid) = policy::normalize(&permit.domains) {
            for bad in invalid {
                problems.push(at(
                    path.clone().attr("domains").index(bad.index as i64),
                    "Invalid egress domain",
                    format!(
                        "named_permits[{i}].domains[{}] = {:?}: {} (rule {}). Accepted: {}.",
                        bad.index,
                        bad.value,
                        bad.rejection.explanation(),
                        bad.rejection.rule(),
                        policy::ACCEPTED
                    ),
                ));
            }
        }
        let ports = permit.ports();
        if ports.is_empty() || ports.len() > 64 {
            problems.push(at(
                path.clone().attr("ports"),
                "Invalid ports",
                format!("named_permits[{i}].ports holds {} ports; give from 1 to 64.", ports.len()),
            ));
        }
        for (j, port) in ports.iter().enumerate() {
            if !(1..=65535).contains(port) {
                problems.push(at(
                    path.clone().attr("ports").index(j as i64),
                    "Invalid port",
                    format!("named_permits[{i}].ports[{j}] = {port}: a port is from 1 to 65535."),
                ));
            }
        }
        if let Some(protocol) = &permit.protocol {
            if Protocol::parse(protocol).is_none() {
                problems.push(at(
                    path.clone().attr("protocol"),
                    "Invalid protocol",
                    format!("named_permits[{i}].protocol = {protocol:?}; use \"tcp\", \"udp\" or \"any\"."),
                ));
            }
        }
    }
    if let Some(mode) = &config.enforcement {
        if Enforcement::parse(mode).is_none() {
            problems.push(at(
                AttributePath::root().attr("enforcement"),
                "Invalid enforcement",
                format!("enforcement = {mode:?}; use \"enforce\" (drop and log) or \"monitor\" (let through and log)."),
            ));
        }
    }
    if let Some(t) = &config.timeouts {
        problems.extend(t.validate());
    }
    problems
}

/// The backoff between attempts at a shared group that changed under us.
fn group_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(200), Duration::from_secs(5))
}

/// Why an attempt at a shared group has to start over.
enum Attempt {
    /// Someone else changed the group (or the attachment point) meanwhile.
    Conflict(String),
    Failed(Diagnostics),
}

impl From<Diagnostics> for Attempt {
    fn from(d: Diagnostics) -> Attempt {
        Attempt::Failed(d)
    }
}

fn group_failed(tier: Tier, doing: &str, e: ControllerError) -> Attempt {
    match e {
        ControllerError::NotFound { what } => Attempt::Conflict(format!("{what} (gone meanwhile)")),
        ControllerError::Rejected { reason, .. } if reason.contains("already has policy list") => {
            Attempt::Conflict(reason)
        }
        other => Attempt::Failed(failed(&format!("{doing} the policy group {}", tier.group_name()), other)),
    }
}

/// Repeats `attempt` while it ends in a conflict, with backoff, inside the budget.
async fn until_settled<T, F, Fut>(budget: &Budget, tier: Tier, doing: &str, mut attempt: F) -> Result<T, Diagnostics>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Attempt>>,
{
    let mut backoff = group_backoff();
    let begun = std::time::Instant::now();
    loop {
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(Attempt::Failed(d)) => return Err(d),
            Err(Attempt::Conflict(why)) => {
                tracing::info!(group = tier.group_name(), why = %why, waited_s = begun.elapsed().as_secs(), "the shared policy group changed meanwhile; starting over");
                if !budget.sleep(backoff.next_delay(Duration::ZERO)).await {
                    return Err(Diagnostic::error(
                        format!("Failed to {doing} the policy group {}", tier.group_name()),
                        format!("the group kept changing under other writers for {:?} (last: {why}); raise the resource's timeouts or apply again.", begun.elapsed()),
                    )
                    .into());
                }
            }
        }
    }
}

pub struct PolicyResource {
    pub provider: Arc<AviatrixProvider>,
}

impl PolicyResource {
    /// The live IPs of the selected pods, sorted.
    async fn pod_ips(
        &self,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        budget: &Budget,
    ) -> Result<Vec<String>, Diagnostics> {
        let kube = self.provider.kubernetes().await?;
        let pods = kube
            .pods(namespace, labels, budget)
            .await
            .map_err(|e| failed(&format!("list the pods of namespace {namespace}"), e))?;
        let mut ips: Vec<String> = pods
            .iter()
            .filter_map(|p| p.status.as_ref())
            .filter(|s| !matches!(s.phase.as_deref(), Some("Succeeded" | "Failed")))
            .filter_map(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty())
            .collect();
        ips.sort();
        ips.dedup();
        Ok(ips)
    }

    /// The cluster as the controller has it; one that is not onboarded is an error on `cluster`.
    async fn cluster(client: &ControllerClient, id: &str, budget: &Budget) -> Result<Value, Diagnostics> {
        client.k8s_cluster(id, budget).await.map_err(|e| {
            if e.is_not_found() {
                at(AttributePath::root().attr("cluster"), "Unknown cluster", format!("cluster = {id:?}: the controller has no onboarded cluster with that ID; use the id of an aviatrix_mcp_egress_cluster.")).into()
            } else {
                failed("read the onboarded cluster", e)
            }
        })
    }

    /// Makes or updates an app-domain of ours named `name`; returns its UUID.
    async fn ensure_domain(
        client: &ControllerClient,
        world: &World,
        name: &str,
        selector: Value,
        budget: &Budget,
    ) -> Result<String, Diagnostics> {
        let body = json!({ "name": name, "selector": selector });
        match world.domain(name) {
            Some(existing) if existing["selector"] == body["selector"] => Ok(uuid_of(existing)),
            Some(existing) => {
                let uuid = uuid_of(existing);
                tracing::info!(name, uuid = %uuid, "updating the app-domain");
                client
                    .update_app_domain(&uuid, &body, budget)
                    .await
                    .map_err(|e| failed(&format!("update {name}"), e))?;
                Ok(uuid)
            }
            None => {
                tracing::info!(name, "creating the app-domain");
                client.create_app_domain(&body, budget).await.map_err(|e| failed(&format!("create {name}"), e))
            }
        }
    }

    /// Makes or updates a ruleset of ours; one of that name owned by someone else is an error.
    async fn ensure_ruleset(
        client: &ControllerClient,
        world: &World,
        names: &Names,
        tier: Tier,
        rules: Vec<Value>,
        metadata: Value,
        budget: &Budget,
    ) -> Result<String, Diagnostics> {
        let name = names.ruleset(tier);
        let existing = world.lists.iter().find(|l| l["name"] == name.as_str());
        if let Some(other) = existing.filter(|l| is_group(l) || owner_of(l) != Some(&names.id)) {
            return Err(Diagnostic::error(
                "Ruleset owned by someone else",
                format!("the controller already holds a policy list named {name} ({}) whose metadata does not name this policy ({}) as its owner (metadata: {}); rename or remove it, since this resource never rewrites what it does not own.", uuid_of(other), names.id, other["metadata"]),
            )
            .into());
        }
        match existing {
            Some(list) if rules_mean(&list["policies"], &rules) && list["metadata"] == metadata => Ok(uuid_of(list)),
            Some(list) => {
                let uuid = uuid_of(list);
                // Each rule keeps its UUID across updates, matched by name.
                let mut rules = rules;
                for rule in &mut rules {
                    if let Some(old) =
                        list["policies"].as_array().into_iter().flatten().find(|p| p["name"] == rule["name"])
                    {
                        rule["uuid"] = old["uuid"].clone();
                    }
                }
                let body = json!({ "name": name, "attach_to": list["attach_to"].as_str().unwrap_or(""), "policies": rules, "metadata": metadata });
                tracing::info!(ruleset = %name, uuid = %uuid, "updating the ruleset");
                let wanted = rules.clone();
                client
                    .update_policy_list(&uuid, &body, |now| rules_mean(&now["policies"], &wanted), budget)
                    .await
                    .map_err(|e| failed(&format!("update the ruleset {name}"), e))?;
                Ok(uuid)
            }
            None => {
                let body = json!({ "name": name, "attach_to": "", "policies": rules, "metadata": metadata });
                tracing::info!(ruleset = %name, "creating the ruleset");
                client
                    .create_policy_list(&body, budget)
                    .await
                    .map_err(|e| failed(&format!("create the ruleset {name}"), e))
            }
        }
    }

    /// Puts our sub-policy for `ruleset` into the shared group at the tier's attachment point, making the
    /// group when the point is free; returns the group's UUID.
    async fn join(
        client: &ControllerClient,
        tier: Tier,
        sub_name: &str,
        ruleset: &str,
        budget: &Budget,
    ) -> Result<String, Diagnostics> {
        until_settled(budget, tier, "join", || async {
            let point = client
                .attachment_point(tier.attachment_point(), budget)
                .await
                .map_err(|e| failed(&format!("look up the attachment point {}", tier.attachment_point()), e))?;
            let lists = client.policy_lists(budget).await.map_err(|e| failed("list the DCF rulesets", e))?;
            let holder = lists.iter().find(|l| l["attach_to"].as_str() == Some(point.as_str()));
            let ours = |priority: u64| json!({ "name": sub_name, "priority": priority, "list": ruleset });
            let (uuid, base) = match holder {
                None => {
                    let body = json!({ "name": tier.group_name(), "attach_to": point, "sub_policies": [ours(100)], "metadata": group_metadata(tier) });
                    tracing::info!(group = tier.group_name(), point = tier.attachment_point(), "creating the shared policy group");
                    let uuid = client.create_policy_list(&body, budget).await.map_err(|e| group_failed(tier, "create", e))?;
                    (uuid, Vec::new())
                }
                Some(other) if !is_our_group(other, tier) => {
                    let kind = if is_group(other) { "policy group" } else { "ruleset" };
                    return Err(Attempt::Failed(Diagnostic::error(
                        "Attachment point taken",
                        format!("the attachment point {} holds the {kind} {:?} ({}), which is not the shared group {} of {RESOURCE_TYPE}. An attachment point takes a single object: detach that {kind} (or move it into a policy group of your own elsewhere) and apply again.", tier.attachment_point(), other["name"].as_str().unwrap_or(""), uuid_of(other), tier.group_name()),
                    ).into()));
                }
                Some(group) => {
                    let uuid = uuid_of(group);
                    let base: Vec<Value> = group["sub_policies"].as_array().cloned().unwrap_or_default();
                    if sub_policy_of(group, sub_name).is_some_and(|s| s["list"] == ruleset) {
                        return Ok(uuid);
                    }
                    let priority = sub_policy_of(group, sub_name)
                        .and_then(|s| s["priority"].as_u64())
                        .unwrap_or_else(|| base.iter().filter_map(|s| s["priority"].as_u64()).max().unwrap_or(0) + 100);
                    let mut subs: Vec<Value> = base.iter().filter(|s| s["name"] != sub_name).cloned().collect();
                    subs.push(ours(priority));
                    // No ETag: re-read right before the write, and start over if it moved.
                    let now = client.policy_list(&uuid, budget).await.map_err(|e| group_failed(tier, "read", e))?;
                    if now["sub_policies"] != group["sub_policies"] || now["attach_to"] != group["attach_to"] {
                        return Err(Attempt::Conflict("its sub-policies changed since they were read".into()));
                    }
                    let body = json!({ "name": group["name"], "attach_to": point, "sub_policies": subs, "metadata": group["metadata"] });
                    tracing::info!(group = tier.group_name(), sub_policy = sub_name, "adding the sub-policy to the shared policy group");
                    let wanted = subs.clone();
                    client
                        .update_policy_list(&uuid, &body, |now| now["sub_policies"] == Value::Array(wanted.clone()), budget)
                        .await
                        .map_err(|e| group_failed(tier, "update", e))?;
                    (uuid, base)
                }
            };
            Self::verify(client, tier, &uuid, sub_name, Some(ruleset), &base, budget).await?;
            Ok(uuid)
        })
        .await
    }

    /// After a write to a shared group: ours is there (or gone, for `ruleset = None`), and every other
    /// sub-policy that was there before is still there; checked twice, a moment apart, since another writer
    /// may have been between its own read and write.
    async fn verify(
        client: &ControllerClient,
        tier: Tier,
        uuid: &str,
        sub_name: &str,
        ruleset: Option<&str>,
        base: &[Value],
        budget: &Budget,
    ) -> Result<(), Attempt> {
        for pause in [Duration::ZERO, Duration::from_millis(300)] {
            budget.sleep(pause).await;
            let now = client.policy_list(uuid, budget).await.map_err(|e| group_failed(tier, "read back", e))?;
            let mine = sub_policy_of(&now, sub_name);
            let mine_right = match ruleset {
                Some(r) => mine.is_some_and(|s| s["list"] == r),
                None => mine.is_none(),
            };
            let others_kept = base
                .iter()
                .filter(|s| s["name"] != sub_name)
                .all(|s| now["sub_policies"].as_array().is_some_and(|l| l.iter().any(|n| n["name"] == s["name"])));
            if !mine_right || !others_kept {
                return Err(Attempt::Conflict("the read-back does not hold what was written".into()));
            }
        }
        Ok(())
    }

    /// Takes our sub-policy out of the tier's shared group; the last one out removes the group.
    async fn leave(client: &ControllerClient, tier: Tier, sub_name: &str, budget: &Budget) -> Result<(), Diagnostics> {
        until_settled(budget, tier, "leave", || async {
            let lists = client.policy_lists(budget).await.map_err(|e| failed("list the DCF rulesets", e))?;
            let Some(group) = lists.iter().find(|l| is_our_group(l, tier) && sub_policy_of(l, sub_name).is_some()) else {
                return Ok(());
            };
            let uuid = uuid_of(group);
            let base: Vec<Value> = group["sub_policies"].as_array().cloned().unwrap_or_default();
            let rest: Vec<Value> = base.iter().filter(|s| s["name"] != sub_name).cloned().collect();
            let now = client.policy_list(&uuid, budget).await.map_err(|e| group_failed(tier, "read", e))?;
            if now["sub_policies"] != group["sub_policies"] {
                return Err(Attempt::Conflict("its sub-policies changed since they were read".into()));
            }
            if rest.is_empty() {
                tracing::info!(group = tier.group_name(), "removing the shared policy group: its last sub-policy leaves");
                return match client.delete_policy_list(&uuid, budget).await {
                    Ok(()) => Ok(()),
                    Err(e) => Err(group_failed(tier, "remove", e)),
                };
            }
            let body = json!({ "name": group["name"], "attach_to": group["attach_to"], "sub_policies": rest, "metadata": group["metadata"] });
            tracing::info!(group = tier.group_name(), sub_policy = sub_name, "taking the sub-policy out of the shared policy group");
            let wanted = rest.clone();
            client
                .update_policy_list(&uuid, &body, |now| now["sub_policies"] == Value::Array(wanted.clone()), budget)
                .await
                .map_err(|e| group_failed(tier, "update", e))?;
            Self::verify(client, tier, &uuid, sub_name, None, &base, budget).await
        })
        .await
    }

    /// Brings the controller to what `planned` says, adopting whatever of it exists already.
    async fn converge(&self, planned: &PolicyState, budget: &Budget) -> Result<PolicyState, Diagnostics> {
        let client = self.provider.controller()?;
        let (cluster, namespace) = (planned.cluster_id(), planned.namespace_name());
        let names = Names::new(&cluster, &namespace);
        let reported = Self::cluster(&client, &cluster, budget).await?;
        let arn = reported["cluster_id"].as_str().unwrap_or_default().to_string();
        let labels = planned.labels();
        let ips = if planned.fallback() {
            Some(match &planned.pod_ips {
                Some(Known::Value(ips)) => ips.clone(),
                _ => self.pod_ips(&namespace, &labels, budget).await?,
            })
        } else {
            None
        };
        let world = World::load(&client, &cluster, budget).await?;
        let source = Self::ensure_domain(
            &client,
            &world,
            &names.smart_group(),
            pods_selector(&arn, &namespace, &labels, ips.as_deref()),
            budget,
        )
        .await?;
        let mut web_groups = BTreeMap::new();
        for permit in planned.permits() {
            let domains = permit.normalized_domains().unwrap_or_default();
            let uuid =
                Self::ensure_domain(&client, &world, &names.web_group(&permit.name), web_selector(&domains), budget)
                    .await?;
            web_groups.insert(permit.name.clone(), uuid);
        }
        let tier1 = Self::ensure_ruleset(
            &client,
            &world,
            &names,
            Tier::One,
            tier1_rules(planned.permits(), &source, &web_groups),
            ruleset_metadata(&names, Tier::One, planned),
            budget,
        )
        .await?;
        let tier3 = Self::ensure_ruleset(
            &client,
            &world,
            &names,
            Tier::Three,
            tier3_rules(&source, planned.enforcement()),
            ruleset_metadata(&names, Tier::Three, planned),
            budget,
        )
        .await?;
        let group1 = Self::join(&client, Tier::One, &names.id, &tier1, budget).await?;
        let group3 = Self::join(&client, Tier::Three, &names.id, &tier3, budget).await?;
        // WebGroups of permits that are gone, now that no rule of ours uses them.
        for stale in world.domains.iter().filter(|d| {
            d["name"]
                .as_str()
                .and_then(|n| n.strip_prefix(&names.web_group_prefix()))
                .is_some_and(|p| !web_groups.contains_key(p))
        }) {
            let uuid = uuid_of(stale);
            tracing::info!(web_group = %stale["name"], "removing the WebGroup of a permit that is gone");
            client
                .delete_app_domain(&uuid, budget)
                .await
                .map_err(|e| failed(&format!("remove the WebGroup {}", stale["name"]), e))?;
        }
        Ok(PolicyState {
            id: Known::Value(names.id.clone()),
            source_group: Some(Known::Value(source)),
            web_groups: Some(Known::Value(web_groups)),
            tier1_ruleset: Some(Known::Value(tier1)),
            tier3_ruleset: Some(Known::Value(tier3)),
            tier1_group: Some(Known::Value(group1)),
            tier3_group: Some(Known::Value(group3)),
            pod_ips: ips.map(Known::Value),
            ..planned.clone()
        })
    }

    /// Reads what the controller holds for `<cluster>/<namespace>`; `None` when none of it exists.
    async fn observe_live(
        &self,
        prior: &PolicyState,
        budget: &Budget,
    ) -> Result<Option<(PolicyState, Vec<String>)>, Diagnostics> {
        let client = self.provider.controller()?;
        let names = Names::new(&prior.cluster_id(), &prior.namespace_name());
        let world = World::load(&client, &prior.cluster_id(), budget).await?;
        let nothing = world.domain(&names.smart_group()).is_none()
            && world.list(&names.ruleset(Tier::One)).is_none()
            && world.list(&names.ruleset(Tier::Three)).is_none();
        if nothing {
            return Ok(None);
        }
        Ok(Some(observe(&names, &world, prior)))
    }
}

#[tonic::async_trait]
impl Resource for PolicyResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_policy";
    type State = PolicyState;

    fn validate(&self, config: &PolicyState) -> Diagnostics {
        Diagnostics(check(config))
    }

    async fn plan(
        &self,
        ctx: &CallContext,
        prior: Option<&PolicyState>,
        mut proposed: PolicyState,
        _: &mut Private,
    ) -> Outcome<Planned<PolicyState>> {
        let mut warnings = Diagnostics::default();
        if let (Known::Value(cluster), Known::Value(namespace)) = (&proposed.cluster, &proposed.namespace) {
            let (cluster, namespace) = (cluster.clone(), namespace.clone());
            if prior.is_none() {
                proposed.id = Known::Value(Names::new(&cluster, &namespace).id);
            }
            let budget = budget(ctx, proposed.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
            let client = self.provider.controller()?;
            let reported = Self::cluster(&client, &cluster, &budget).await?;
            let status = reported["status"].as_str().unwrap_or("");
            if status == "Partial" && !proposed.fallback() {
                warnings.push(
                    Diagnostic::warning(
                        "Label SmartGroups do not resolve on this cluster",
                        format!("the controller reports cluster {cluster} as Partial ({}): it cannot resolve the pods of namespace {namespace} by label, so tiers 1 and 3 select no pod there. Set pod_ip_fallback = true to select the pods by their IPs, read from the Kubernetes API at every plan.", reported["status_message"].as_str().unwrap_or("")),
                    )
                    .at(AttributePath::root().attr("pod_ip_fallback")),
                );
            }
            proposed.pod_ips = if proposed.fallback() {
                Some(Known::Value(self.pod_ips(&namespace, &proposed.labels(), &budget).await?))
            } else {
                None
            };
        } else if !proposed.fallback() {
            proposed.pod_ips = None;
        }
        if let Some(prior) = prior {
            if prior.needs_repair() {
                // Read found something of ours missing or changed outside Terraform: the update puts it back.
                for id in [
                    &mut proposed.source_group,
                    &mut proposed.tier1_ruleset,
                    &mut proposed.tier3_ruleset,
                    &mut proposed.tier1_group,
                    &mut proposed.tier3_group,
                ] {
                    *id = Some(Known::Unknown);
                }
                proposed.web_groups = Some(Known::Unknown);
            }
            let names: Vec<&String> = proposed.permits().iter().map(|p| &p.name).collect();
            let had: Vec<&String> = prior.permits().iter().map(|p| &p.name).collect();
            if names != had {
                proposed.web_groups = Some(Known::Unknown);
            }
        }
        Ok(Diagnosed::new(Planned::new(proposed)).with_all(warnings))
    }

    async fn create(&self, ctx: &CallContext, planned: PolicyState, _: &mut Private) -> Outcome<PolicyState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, TIMEOUT)?;
        Ok(self.converge(&planned, &budget).await?.into())
    }

    async fn read(&self, ctx: &CallContext, current: PolicyState, _: &mut Private) -> Outcome<Option<PolicyState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, READ_TIMEOUT)?;
        match self.observe_live(&current, &budget).await? {
            None => Ok(None.into()),
            Some((state, drift)) if drift.is_empty() => Ok(Some(state).into()),
            Some((state, drift)) => {
                let warning = Diagnostic::warning(
                    "Changed outside Terraform",
                    format!(
                        "{}: {}; the next apply puts it back.",
                        current.id.value().cloned().unwrap_or_default(),
                        drift.join("; ")
                    ),
                );
                Ok(Diagnosed::new(Some(state)).with(warning))
            }
        }
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _: PolicyState,
        planned: PolicyState,
        _: &mut Private,
    ) -> Outcome<PolicyState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, TIMEOUT)?;
        Ok(self.converge(&planned, &budget).await?.into())
    }

    async fn delete(&self, ctx: &CallContext, prior: PolicyState, _: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, TIMEOUT)?;
        let client = self.provider.controller()?;
        let names = Names::new(&prior.cluster_id(), &prior.namespace_name());
        // The order the controller needs: out of the groups, then the rulesets, then what they used.
        Self::leave(&client, Tier::One, &names.id, &budget).await?;
        Self::leave(&client, Tier::Three, &names.id, &budget).await?;
        let lists = client.policy_lists(&budget).await.map_err(|e| failed("list the DCF rulesets", e))?;
        for tier in [Tier::One, Tier::Three] {
            let name = names.ruleset(tier);
            for list in lists.iter().filter(|l| l["name"] == name.as_str() && owner_of(l) == Some(&names.id)) {
                tracing::info!(ruleset = %name, "removing the ruleset");
                client
                    .delete_policy_list(&uuid_of(list), &budget)
                    .await
                    .map_err(|e| failed(&format!("remove the ruleset {name}"), e))?;
            }
        }
        let domains = client.app_domains(&budget).await.map_err(|e| failed("list the SmartGroups and WebGroups", e))?;
        let ours = |d: &&Value| {
            d["name"].as_str().is_some_and(|n| n == names.smart_group() || n.starts_with(&names.web_group_prefix()))
        };
        for domain in domains.iter().filter(ours) {
            tracing::info!(name = %domain["name"], "removing the app-domain");
            client
                .delete_app_domain(&uuid_of(domain), &budget)
                .await
                .map_err(|e| failed(&format!("remove {}", domain["name"]), e))?;
        }
        Ok(().into())
    }

    async fn import(&self, ctx: &CallContext, id: &str, _: &mut Private) -> Outcome<PolicyState> {
        let budget = budget(ctx, None, Operation::Read, READ_TIMEOUT)?;
        let Some((cluster, namespace)) = id.split_once('/').filter(|(c, n)| !c.is_empty() && !n.is_empty()) else {
            return Err(Diagnostic::error("Invalid import ID", format!("{id:?} is not <cluster>/<namespace>: give the controller's cluster ID (aviatrix_mcp_egress_cluster.<name>.id) and the namespace, such as \"3f6c…/mcp\".")).into());
        };
        let prior = PolicyState {
            id: Known::Value(id.to_string()),
            cluster: Known::Value(cluster.to_string()),
            namespace: Known::Value(namespace.to_string()),
            pod_labels: None,
            named_permits: None,
            enforcement: Some("enforce".into()),
            pod_ip_fallback: Some(false),
            source_group: None,
            web_groups: None,
            tier1_ruleset: None,
            tier3_ruleset: None,
            tier1_group: None,
            tier3_group: None,
            pod_ips: None,
            timeouts: None,
        };
        match self.observe_live(&prior, &budget).await? {
            Some((state, drift)) if drift.is_empty() => Ok(state.into()),
            Some((state, drift)) => Ok(Diagnosed::new(state).with(Diagnostic::warning("Imported with differences", format!("{id}: {}; the next apply puts it back.", drift.join("; "))))),
            None => Err(Diagnostic::error("Cannot import the policy", format!("the controller holds no SmartGroup or ruleset of a policy {id:?} (names mcp-egress-{namespace}-{cluster}-*); import takes <cluster>/<namespace> of a policy this provider made.")).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permit(name: &str, domains: &[&str]) -> NamedPermit {
        NamedPermit {
            name: name.into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            ports: Some(vec![443]),
            protocol: Some("tcp".into()),
        }
    }

    fn config(permits: Vec<NamedPermit>) -> PolicyState {
        PolicyState {
            id: Known::Unknown,
            cluster: Known::Value("c1".into()),
            namespace: Known::Value("mcp".into()),
            pod_labels: None,
            named_permits: Some(permits),
            enforcement: Some("enforce".into()),
            pod_ip_fallback: Some(false),
            source_group: None,
            web_groups: None,
            tier1_ruleset: None,
            tier3_ruleset: None,
            tier1_group: None,
            tier3_group: None,
            pod_ips: None,
            timeouts: None,
        }
    }

    fn paths(problems: &[Diagnostic]) -> Vec<String> {
        problems.iter().map(|d| d.path.as_ref().map(ToString::to_string).unwrap_or_default()).collect()
    }

    #[test]
    fn bad_permits_are_refused_on_their_element() {
        let mut bad = config(vec![
            permit("github", &["api.github.com", "evil.example.com:443"]),
            permit("github", &["ghcr.io"]),
            NamedPermit { ports: Some(vec![0]), protocol: Some("icmp".into()), ..permit("Bad_Name", &[]) },
        ]);
        bad.enforcement = Some("block".into());
        let problems = check(&bad);
        let got = paths(&problems);
        for want in [
            "named_permits[0].domains[1]",
            "named_permits[1].name",
            "named_permits[2].name",
            "named_permits[2].domains",
            "named_permits[2].ports[0]",
            "named_permits[2].protocol",
            "enforcement",
        ] {
            assert!(got.iter().any(|p| p == want), "no error on {want}: {got:?}");
        }
        let domain = problems.iter().find(|d| d.detail.starts_with("named_permits[0].domains[1]")).unwrap();
        assert!(
            domain.detail.contains("\"evil.example.com:443\"") && domain.detail.contains("rule no-port"),
            "{}",
            domain.detail
        );
        assert!(check(&config(vec![permit("github", &["api.github.com", "*.githubusercontent.com"])])).is_empty());
    }

    #[test]
    fn the_rules_say_what_each_tier_does() {
        let permits = vec![NamedPermit {
            ports: Some(vec![443, 8443]),
            protocol: Some("any".into()),
            ..permit("registries", &["ghcr.io"])
        }];
        let web = BTreeMap::from([("registries".to_string(), "wg-1".to_string())]);
        let rules = tier1_rules(&permits, "sg-1", &web);
        assert_eq!(rules[0]["name"], "tier1-registries");
        assert_eq!(
            (rules[0]["action"].as_str(), rules[0]["protocol"].as_str()),
            (Some("PERMIT"), Some("PROTOCOL_UNSPECIFIED"))
        );
        assert_eq!(rules[0]["dst_ads"], json!([PUBLIC_INTERNET]));
        assert_eq!(rules[0]["web_filters"], json!(["wg-1"]));
        assert_eq!(rules[0]["port_ranges"], json!([{"lo": 443}, {"lo": 8443}]));
        assert_eq!(rules[0]["logging"], true);
        let deny = &tier3_rules("sg-1", Enforcement::Enforce)[0];
        assert_eq!((deny["name"].as_str(), deny["action"].as_str()), (Some(DEFAULT_DENY), Some("DENY")));
        assert_eq!(rule_meaning(deny)["mode"], "enforce");
        assert_eq!(rule_meaning(&tier3_rules("sg-1", Enforcement::Monitor)[0])["mode"], "monitor");
        // What the controller fills in does not count as a change; a changed port does.
        let mut stored = rules[0].clone();
        stored["uuid"] = json!("u");
        stored["system_resource"] = json!(false);
        assert!(rules_mean(&json!([stored.clone()]), &rules));
        stored["port_ranges"] = json!([{"lo": 443}, {"lo": 9443}]);
        assert!(!rules_mean(&json!([stored]), &rules));
    }

    #[test]
    fn the_pods_group_selects_by_label_and_with_the_fallback_by_ip() {
        let labels = BTreeMap::from([("app".to_string(), "server".to_string())]);
        let selector = pods_selector("arn:eks", "mcp", &labels, None);
        assert_eq!(
            selector,
            json!({"any": [{"all": {"type": "k8s", "k8s_cluster_id": "arn:eks", "k8s_namespace": "mcp", "tags.app": "server"}}]})
        );
        let ips = ["10.1.0.5".to_string()];
        let fallback = pods_selector("arn:eks", "mcp", &labels, Some(&ips));
        assert_eq!(fallback["any"][1], json!({"all": {"cidr": "10.1.0.5/32"}}));
    }
}
