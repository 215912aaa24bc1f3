//! The gateway's decision for one egress attempt: the DCF rule tree in evaluation order, the SmartGroups and
//! WebGroups its rules name, the workload (a pod) and the destination (host, port, protocol).
//!
//! The tree is built from the controller's objects as its API returns them ([`Tree::from_controller`]), so the
//! provider's verdict data source (over live state read through its clients) and the lab's enforcement point
//! (over the controller emulator's own state) evaluate the same code. Neither reads a Terraform configuration.
//!
//! Evaluation order, first match wins: the object attached at `TERRAFORM_BEFORE_UI_MANAGED`, UI-managed
//! rulesets, `TERRAFORM_AFTER_UI_MANAGED`, the Kubernetes-managed rulesets (made by the controller from
//! FirewallPolicy objects), `TERRAFORM_AFTER_K8S_MANAGED`, the V1 policy list, then the default action. The
//! tier is the position: before the Kubernetes-managed rules 1, Kubernetes-managed 2, after them 3, the V1
//! list and the default action 0 (outside the three tiers).
//!
//! Host names compare as the gateway compares SNI: case-insensitive, a trailing dot ignored, internationalised
//! names in punycode, and `*.example.com` matching names below `example.com` but never `example.com` itself
//! nor `example.com.attacker.io`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Built-in SmartGroup matching every source and destination.
pub const ANYWHERE: &str = "def000ad-0000-0000-0000-000000000000";
/// Built-in SmartGroup matching destinations on the public internet.
pub const PUBLIC_INTERNET: &str = "def000ad-0000-0000-0000-000000000001";
/// Built-in WebGroup matching every TLS server name.
pub const ALL_WEB: &str = "def000ad-0000-0000-0000-000000000002";

/// The attachment points, in evaluation order, with the position each stands for.
pub const ATTACHMENT_ORDER: [(&str, Position); 3] = [
    ("TERRAFORM_BEFORE_UI_MANAGED", Position::BeforeUi),
    ("TERRAFORM_AFTER_UI_MANAGED", Position::AfterUi),
    ("TERRAFORM_AFTER_K8S_MANAGED", Position::AfterK8s),
];

/// Where in the tree a rule sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    BeforeUi,
    UiManaged,
    AfterUi,
    K8sManaged,
    AfterK8s,
    V1List,
    Default,
}

impl Position {
    /// The tier a decision at this position belongs to (0: outside the three tiers).
    pub fn tier(self) -> u8 {
        match self {
            Position::BeforeUi | Position::UiManaged | Position::AfterUi => 1,
            Position::K8sManaged => 2,
            Position::AfterK8s => 3,
            Position::V1List | Position::Default => 0,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Position::BeforeUi => "attached at TERRAFORM_BEFORE_UI_MANAGED",
            Position::UiManaged => "UI-managed",
            Position::AfterUi => "attached at TERRAFORM_AFTER_UI_MANAGED",
            Position::K8sManaged => "Kubernetes-managed",
            Position::AfterK8s => "attached at TERRAFORM_AFTER_K8S_MANAGED",
            Position::V1List => "in the V1 policy list",
            Position::Default => "the default action",
        }
    }
}

/// A transport protocol, of a rule or of an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Any,
    Tcp,
    Udp,
    Icmp,
}

impl Protocol {
    /// Parses `tcp`, `udp`, `icmp`, `any` (any case) and the controller's `PROTOCOL_UNSPECIFIED`.
    pub fn parse(text: &str) -> Option<Protocol> {
        Some(match text.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "icmp" => Protocol::Icmp,
            "any" | "protocol_unspecified" | "" => Protocol::Any,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Any => "any",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule does to what it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Permit,
    Deny,
}

/// Whether a rule enforces, only watches (traffic passes and is logged), or is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Enforce,
    Monitor,
    Disable,
}

/// The decision on an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Permit,
    Drop,
    /// A deny rule under monitoring matched: the traffic passes and is logged.
    Watch,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Permit => "permit",
            Action::Drop => "drop",
            Action::Watch => "watch",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

/// A SmartGroup: OR over expressions, AND within one (`{"any":[{"all":{…}}]}` on the controller).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmartGroup {
    pub uuid: String,
    pub name: String,
    pub any: Vec<Map<String, Value>>,
}

/// A WebGroup: the server names (`snifilter`) it admits. URL filters need TLS decryption and are kept apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebGroup {
    pub uuid: String,
    pub name: String,
    pub sni: Vec<String>,
    pub url: Vec<String>,
}

/// One DCF rule, with the ruleset it came from and its position in the tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub uuid: String,
    pub name: String,
    pub ruleset: String,
    pub position: Position,
    pub action: RuleAction,
    pub enforcement: Enforcement,
    pub protocol: Protocol,
    /// Empty: every port.
    pub ports: Vec<PortRange>,
    pub sources: Vec<String>,
    pub destinations: Vec<String>,
    /// Empty: no server-name condition.
    pub web_filters: Vec<String>,
    pub logging: bool,
}

/// The controller's default action, applied when no rule matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefaultAction {
    pub action: RuleAction,
    pub logging: bool,
}

/// The whole rule tree of a controller, flattened into evaluation order, and the groups its rules name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub rules: Vec<Rule>,
    pub smart_groups: BTreeMap<String, SmartGroup>,
    pub web_groups: BTreeMap<String, WebGroup>,
    pub default_action: DefaultAction,
}

/// The source of an attempt: a pod as the controller knows it from the onboarded cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// The controller's `k8s_cluster_id` for the pod's cluster (the EKS ARN, the AKS resource ID, …).
    pub cluster_id: String,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub namespace_labels: BTreeMap<String, String>,
    /// Services whose selector picks the pod.
    pub services: BTreeSet<String>,
    pub ip: Option<IpAddr>,
    /// Whether the controller resolves Kubernetes SmartGroups (labels, namespaces) for this cluster; false
    /// for a "Partial" cluster, where only CIDR expressions match the pod.
    pub resolvable: bool,
}

/// The destination of an attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// The host name the client asks for (the TLS server name), or an IP address literal.
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// What the gateway decides, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub action: Action,
    /// 1, 2 or 3; 0 when the V1 list or the default action decided.
    pub tier: u8,
    /// The deciding rule's name (`default-action` for the default).
    pub rule: String,
    /// The deciding rule's UUID (empty for the default action).
    pub rule_uuid: String,
    /// The ruleset the rule belongs to.
    pub ruleset: String,
    pub position: Position,
    /// Whether the decision is logged.
    pub logged: bool,
    /// One sentence: what matched.
    pub reason: String,
}

/// Why an attempt cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadAttempt {
    Host { host: String, why: &'static str },
    Port,
    Protocol,
}

impl fmt::Display for BadAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadAttempt::Host { host, why } => write!(f, "host {host:?} {why}; give a host name or an IP address"),
            BadAttempt::Port => f.write_str("port must be 1-65535 for tcp and udp, and 0 for icmp"),
            BadAttempt::Protocol => f.write_str("protocol must be tcp, udp or icmp"),
        }
    }
}

impl std::error::Error for BadAttempt {}

/// A destination host after normalisation: a server name (lowercase ASCII, no trailing dot) or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Address(IpAddr),
}

impl Host {
    /// Normalises a host as the gateway reads a TLS server name.
    pub fn parse(raw: &str) -> Result<Host, BadAttempt> {
        let bad = |why| BadAttempt::Host { host: raw.to_string(), why };
        let trimmed = raw.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Host::Address(ip));
        }
        let name = raw.strip_suffix('.').unwrap_or(raw);
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.contains(['/', ':', '@', ' ', '*']) {
            return Err(bad("is not a host name"));
        }
        let ascii = idna::domain_to_ascii(name).map_err(|_| bad("is not a valid internationalised name"))?;
        if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
            return Err(bad("has an empty label"));
        }
        Ok(Host::Name(ascii.to_ascii_lowercase()))
    }
}

/// Normalises one WebGroup `snifilter` entry the way hosts are normalised, keeping `*` labels.
fn normalize_filter(filter: &str) -> String {
    let name = filter.trim().strip_suffix('.').unwrap_or(filter.trim());
    name.split('.')
        .map(|label| {
            if label == "*" {
                "*".to_string()
            } else {
                idna::domain_to_ascii(label)
                    .map(|l| l.to_ascii_lowercase())
                    .unwrap_or_else(|_| label.to_ascii_lowercase())
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Does a `snifilter` entry admit `host`? `*` admits every name; a leading `*` label stands for one or more
/// labels; any other `*` label for exactly one; every other label compares exactly.
pub fn sni_matches(filter: &str, host: &str) -> bool {
    let filter = normalize_filter(filter);
    if filter == "*" {
        return true;
    }
    let pattern: Vec<&str> = filter.split('.').collect();
    let labels: Vec<&str> = host.split('.').collect();
    let (leading, rest) = match pattern.split_first() {
        Some((&"*", rest)) => (true, rest),
        _ => (false, &pattern[..]),
    };
    let fixed = |tail: &[&str]| tail.len() == rest.len() && rest.iter().zip(tail).all(|(p, l)| *p == "*" || p == l);
    if leading {
        labels.len() > rest.len() && fixed(&labels[labels.len() - rest.len()..])
    } else {
        fixed(&labels)
    }
}

fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((net, len)) => (net, len.parse::<u32>().ok()),
        None => (cidr, None),
    };
    match (net.parse::<IpAddr>(), ip) {
        (Ok(IpAddr::V4(net)), IpAddr::V4(ip)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (Ok(IpAddr::V6(net)), IpAddr::V6(ip)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || cidr_contains("100.64.0.0/10", ip))
        }
        IpAddr::V6(v6) => !(v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Does one `all` expression describe the workload? Every key must hold.
fn expression_matches_workload(all: &Map<String, Value>, w: &Workload) -> bool {
    let kubernetes = all.get("type").and_then(Value::as_str) == Some("k8s")
        || all.keys().any(|k| k.starts_with("k8s_") || k.starts_with("tags.") || k.starts_with("namespacetags."));
    if kubernetes && !w.resolvable {
        return false;
    }
    all.iter().all(|(key, value)| {
        let wanted = text(value);
        let wanted = wanted.as_deref();
        match key.as_str() {
            "type" => wanted == Some("k8s"),
            "k8s_cluster_id" => wanted == Some(w.cluster_id.as_str()),
            "k8s_namespace" => wanted == Some(w.namespace.as_str()),
            "k8s_pod" => wanted == Some(w.name.as_str()),
            "k8s_service" => wanted.is_some_and(|s| w.services.contains(s)),
            "cidr" => match (wanted, w.ip) {
                (Some(cidr), Some(ip)) => cidr_contains(cidr, ip),
                _ => false,
            },
            k => {
                if let Some(label) = k.strip_prefix("tags.") {
                    w.labels.get(label).map(String::as_str) == wanted
                } else if let Some(label) = k.strip_prefix("namespacetags.") {
                    w.namespace_labels.get(label).map(String::as_str) == wanted
                } else {
                    // Accounts, regions, VPCs, external feeds: attributes a pod does not have.
                    false
                }
            }
        }
    })
}

fn expression_matches_destination(all: &Map<String, Value>, host: &Host) -> bool {
    if all.is_empty() {
        return false;
    }
    all.iter().all(|(key, value)| {
        let wanted = text(value);
        match (key.as_str(), host) {
            ("cidr", Host::Address(ip)) => wanted.is_some_and(|c| cidr_contains(&c, *ip)),
            // A name the gateway has not resolved is somewhere on the internet: only "everything" holds it.
            ("cidr", Host::Name(_)) => wanted.is_some_and(|c| c.ends_with("/0")),
            ("fqdn", Host::Name(name)) => wanted.is_some_and(|f| sni_matches(&f, name)),
            _ => false,
        }
    })
}

impl Tree {
    fn source_matches(&self, uuid: &str, w: &Workload) -> bool {
        if uuid == ANYWHERE {
            return true;
        }
        self.smart_groups.get(uuid).is_some_and(|g| g.any.iter().any(|all| expression_matches_workload(all, w)))
    }

    fn destination_matches(&self, uuid: &str, host: &Host) -> bool {
        match uuid {
            ANYWHERE => true,
            PUBLIC_INTERNET => match host {
                Host::Name(_) => true,
                Host::Address(ip) => is_public(*ip),
            },
            _ => self
                .smart_groups
                .get(uuid)
                .is_some_and(|g| g.any.iter().any(|all| expression_matches_destination(all, host))),
        }
    }

    /// The WebGroup entry admitting `host`, as `(group name, entry)`.
    fn web_match(&self, uuids: &[String], host: &Host) -> Option<(String, String)> {
        let Host::Name(name) = host else { return None };
        uuids.iter().find_map(|uuid| {
            if uuid == ALL_WEB {
                return Some(("All-Web".to_string(), "*".to_string()));
            }
            let group = self.web_groups.get(uuid)?;
            group.sni.iter().find(|f| sni_matches(f, name)).map(|f| (group.name.clone(), f.clone()))
        })
    }

    fn group_name(&self, uuid: &str) -> String {
        match uuid {
            ANYWHERE => "Anywhere".into(),
            PUBLIC_INTERNET => "Public Internet".into(),
            _ => self.smart_groups.get(uuid).map(|g| g.name.clone()).unwrap_or_else(|| uuid.to_string()),
        }
    }

    /// Decides one attempt from `workload` to `destination`.
    pub fn evaluate(&self, workload: &Workload, destination: &Destination) -> Result<Verdict, BadAttempt> {
        let host = Host::parse(&destination.host)?;
        match destination.protocol {
            Protocol::Any => return Err(BadAttempt::Protocol),
            Protocol::Icmp if destination.port != 0 => return Err(BadAttempt::Port),
            Protocol::Tcp | Protocol::Udp if destination.port == 0 => return Err(BadAttempt::Port),
            _ => {}
        }
        for rule in &self.rules {
            if rule.enforcement == Enforcement::Disable {
                continue;
            }
            if rule.protocol != Protocol::Any && rule.protocol != destination.protocol {
                continue;
            }
            if !rule.ports.is_empty() && !rule.ports.iter().any(|r| (r.lo..=r.hi).contains(&destination.port)) {
                continue;
            }
            let Some(source) = rule.sources.iter().find(|s| self.source_matches(s, workload)) else { continue };
            let Some(target) = rule.destinations.iter().find(|d| self.destination_matches(d, &host)) else {
                continue;
            };
            let web = if rule.web_filters.is_empty() {
                None
            } else {
                if destination.protocol != Protocol::Tcp {
                    continue;
                }
                match self.web_match(&rule.web_filters, &host) {
                    Some(found) => Some(found),
                    None => continue,
                }
            };
            let action = match (rule.action, rule.enforcement) {
                (RuleAction::Permit, _) => Action::Permit,
                (RuleAction::Deny, Enforcement::Monitor) => Action::Watch,
                (RuleAction::Deny, _) => Action::Drop,
            };
            let verb = match rule.action {
                RuleAction::Permit => "permits",
                RuleAction::Deny => "denies",
            };
            let mut reason = format!(
                "rule {} ({}, ruleset {}) {verb} {} from {} to {}",
                rule.name,
                rule.position.describe(),
                rule.ruleset,
                if rule.protocol == Protocol::Any { "any protocol".to_string() } else { rule.protocol.to_string() },
                self.group_name(source),
                self.group_name(target),
            );
            if let Some((group, entry)) = web {
                reason
                    .push_str(&format!(" for server names in WebGroup {group} ({entry} admits {})", destination.host));
            }
            if action == Action::Watch {
                reason.push_str("; the rule is monitoring, so the traffic passes and is logged");
            }
            return Ok(Verdict {
                action,
                tier: rule.position.tier(),
                rule: rule.name.clone(),
                rule_uuid: rule.uuid.clone(),
                ruleset: rule.ruleset.clone(),
                position: rule.position,
                logged: rule.logging,
                reason,
            });
        }
        let action = match self.default_action.action {
            RuleAction::Permit => Action::Permit,
            RuleAction::Deny => Action::Drop,
        };
        Ok(Verdict {
            action,
            tier: 0,
            rule: "default-action".into(),
            rule_uuid: String::new(),
            ruleset: String::new(),
            position: Position::Default,
            logged: self.default_action.logging,
            reason: format!(
                "no rule matched; the controller's default action is {}",
                if action == Action::Permit { "PERMIT" } else { "DENY" }
            ),
        })
    }
}

/// The controller's objects as its API returns them, for [`Tree::from_controller`].
#[derive(Clone, Copy, Debug)]
pub struct ControllerView<'a> {
    /// Every `policy-list3` object: rulesets (`policies`) and policy groups (`sub_policies`).
    pub rulesets: &'a [Value],
    /// Every app-domain (SmartGroups and WebGroups).
    pub app_domains: &'a [Value],
    /// `(name, attachment_point_id)` of the attachment points.
    pub attachment_points: &'a [(String, String)],
    /// The V1 policy list's `policies`, system entries included.
    pub v1_policies: &'a [Value],
    /// `microseg/default-action-policy`.
    pub default_action: &'a Value,
    /// UUIDs of the rulesets the controller made from FirewallPolicy objects (their `status.ruleset`).
    pub k8s_managed: &'a BTreeSet<String>,
}

fn str_list(value: Option<&Value>) -> Vec<String> {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

fn parse_rule(policy: &Value, ruleset: &str, position: Position, at: &str) -> Result<Rule, String> {
    let name = policy.get("name").and_then(Value::as_str).ok_or_else(|| format!("{at}: a rule has no name"))?;
    let action = match policy.get("action").and_then(Value::as_str).unwrap_or("") {
        "PERMIT" | "INTRUSION_DETECTION_PERMIT" => RuleAction::Permit,
        "DENY" => RuleAction::Deny,
        other => return Err(format!("{at}: rule {name} has action {other:?}")),
    };
    let enforcement = match policy.get("enforcement").and_then(Value::as_str) {
        Some("MONITOR") => Enforcement::Monitor,
        Some("DISABLE") => Enforcement::Disable,
        _ if policy.get("watch").and_then(Value::as_bool) == Some(true) => Enforcement::Monitor,
        _ => Enforcement::Enforce,
    };
    let protocol = Protocol::parse(policy.get("protocol").and_then(Value::as_str).unwrap_or(""))
        .ok_or_else(|| format!("{at}: rule {name} has protocol {}", policy["protocol"]))?;
    let mut ports = Vec::new();
    for range in policy.get("port_ranges").and_then(Value::as_array).into_iter().flatten() {
        let port = |key: &str| range.get(key).and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok());
        let lo = port("lo").ok_or_else(|| format!("{at}: rule {name} has a port range without lo"))?;
        ports.push(PortRange { lo, hi: port("hi").unwrap_or(lo) });
    }
    Ok(Rule {
        uuid: policy.get("uuid").and_then(Value::as_str).unwrap_or_default().to_string(),
        name: name.to_string(),
        ruleset: ruleset.to_string(),
        position,
        action,
        enforcement,
        protocol,
        ports,
        sources: str_list(policy.get("src_ads")),
        destinations: str_list(policy.get("dst_ads")),
        web_filters: str_list(policy.get("web_filters")),
        logging: policy.get("logging").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// Rules of one list in priority order (lower first; ties keep the list's order).
fn ordered_rules(policies: &[Value], ruleset: &str, position: Position, at: &str) -> Result<Vec<Rule>, String> {
    let mut indexed: Vec<(u64, usize, &Value)> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| (p.get("priority").and_then(Value::as_u64).unwrap_or(0), i, p))
        .collect();
    indexed.sort_by_key(|(priority, i, _)| (*priority, *i));
    indexed.into_iter().map(|(_, _, p)| parse_rule(p, ruleset, position, at)).collect()
}

/// A sub-policy's target: `"<uuid>"` or `{"uuid": "<uuid>"}`.
fn reference(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("uuid").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

impl Tree {
    /// Builds the tree from the controller's objects.
    pub fn from_controller(view: ControllerView<'_>) -> Result<Tree, String> {
        let by_uuid: BTreeMap<&str, &Value> =
            view.rulesets.iter().filter_map(|r| Some((r.get("uuid")?.as_str()?, r))).collect();
        let mut rules = Vec::new();

        // Expands one object (a ruleset or a policy group) into `rules`, depth first in priority order.
        fn expand(
            object: &Value,
            position: Position,
            by_uuid: &BTreeMap<&str, &Value>,
            seen: &mut Vec<String>,
            rules: &mut Vec<Rule>,
        ) -> Result<(), String> {
            let uuid = object.get("uuid").and_then(Value::as_str).unwrap_or_default().to_string();
            let name = object.get("name").and_then(Value::as_str).unwrap_or(&uuid).to_string();
            if seen.contains(&uuid) {
                return Err(format!("policy group {name} contains itself"));
            }
            seen.push(uuid);
            if let Some(subs) = object.get("sub_policies").and_then(Value::as_array) {
                let mut ordered: Vec<(u64, usize, &Value)> = subs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.get("priority").and_then(Value::as_u64).unwrap_or(0), i, s))
                    .collect();
                ordered.sort_by_key(|(p, i, _)| (*p, *i));
                for (_, i, sub) in ordered {
                    let target = reference(sub.get("list")).or_else(|| reference(sub.get("block")));
                    let Some(target) = target else {
                        return Err(format!("policy group {name}: sub_policies[{i}] names no list or block"));
                    };
                    let Some(child) = by_uuid.get(target.as_str()) else {
                        return Err(format!(
                            "policy group {name}: sub_policies[{i}] names {target}, which does not exist"
                        ));
                    };
                    expand(child, position, by_uuid, seen, rules)?;
                }
            } else {
                let policies = object.get("policies").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
                rules.extend(ordered_rules(policies, &name, position, &format!("ruleset {name}"))?);
            }
            seen.pop();
            Ok(())
        }

        let attached = |point: &str| -> Option<&Value> {
            let id = view.attachment_points.iter().find(|(name, _)| name == point).map(|(_, id)| id.as_str())?;
            view.rulesets.iter().find(|r| r.get("attach_to").and_then(Value::as_str) == Some(id))
        };
        let mut k8s: Vec<&Value> = view
            .rulesets
            .iter()
            .filter(|r| r.get("uuid").and_then(Value::as_str).is_some_and(|u| view.k8s_managed.contains(u)))
            .collect();
        k8s.sort_by_key(|r| {
            (r.get("name").and_then(Value::as_str).unwrap_or(""), r.get("uuid").and_then(Value::as_str))
        });

        for (point, position) in ATTACHMENT_ORDER {
            if position == Position::AfterK8s {
                for ruleset in &k8s {
                    expand(ruleset, Position::K8sManaged, &by_uuid, &mut Vec::new(), &mut rules)?;
                }
            }
            if let Some(object) = attached(point) {
                expand(object, position, &by_uuid, &mut Vec::new(), &mut rules)?;
            }
        }
        rules.extend(ordered_rules(view.v1_policies, "V1 policy list", Position::V1List, "the V1 policy list")?);

        let mut smart_groups = BTreeMap::new();
        let mut web_groups = BTreeMap::new();
        for domain in view.app_domains {
            let Some(uuid) = domain.get("uuid").and_then(Value::as_str) else { continue };
            let name = domain.get("name").and_then(Value::as_str).unwrap_or(uuid).to_string();
            let any: Vec<Map<String, Value>> = domain
                .pointer("/selector/any")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("all").and_then(Value::as_object).cloned())
                .collect();
            let web =
                !any.is_empty() && any.iter().all(|all| all.contains_key("snifilter") || all.contains_key("urlfilter"));
            if web {
                let pick =
                    |key: &str| any.iter().filter_map(|all| all.get(key)?.as_str().map(str::to_string)).collect();
                web_groups.insert(
                    uuid.to_string(),
                    WebGroup { uuid: uuid.to_string(), name, sni: pick("snifilter"), url: pick("urlfilter") },
                );
            } else {
                smart_groups.insert(uuid.to_string(), SmartGroup { uuid: uuid.to_string(), name, any });
            }
        }
        let default_action = DefaultAction {
            action: if view.default_action.get("action").and_then(Value::as_str) == Some("DENY") {
                RuleAction::Deny
            } else {
                RuleAction::Permit
            },
            logging: view.default_action.get("logging").and_then(Value::as_bool).unwrap_or(false),
        };
        Ok(Tree { rules, smart_groups, web_groups, default_action })
    }
}

/// One decision as the lab's enforcement point and the logs print it:
/// `<time> action=<a> rule=<r> pod=<pod> dst=<host> port=<port> tier=<n>`.
pub fn log_line(time_rfc3339: &str, verdict: &Verdict, pod: &str, destination: &Destination) -> String {
    format!(
        "{time_rfc3339} action={} rule={} pod={pod} dst={} port={} tier={}",
        verdict.action, verdict.rule, destination.host, destination.port, verdict.tier
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CLUSTER: &str = "arn:aws:eks:us-east-1:123456789012:cluster/lab";
    const BEFORE: &str = "ap-before";
    const AFTER_K8S: &str = "ap-after-k8s";

    fn points() -> Vec<(String, String)> {
        vec![
            ("TERRAFORM_BEFORE_UI_MANAGED".into(), BEFORE.into()),
            ("TERRAFORM_AFTER_UI_MANAGED".into(), "ap-after-ui".into()),
            ("TERRAFORM_AFTER_K8S_MANAGED".into(), AFTER_K8S.into()),
        ]
    }

    fn group(uuid: &str, all: Value) -> Value {
        json!({"uuid": uuid, "name": uuid, "selector": {"any": [{"all": all}]}})
    }

    fn web(uuid: &str, domains: &[&str]) -> Value {
        let any: Vec<Value> = domains.iter().map(|d| json!({"all": {"snifilter": d}})).collect();
        json!({"uuid": uuid, "name": uuid, "selector": {"any": any}})
    }

    fn rule(name: &str, action: &str, protocol: &str, ports: Value, src: &str, dst: &str, web: &[&str]) -> Value {
        json!({"name": name, "uuid": format!("u-{name}"), "action": action, "protocol": protocol, "port_ranges": ports,
               "src_ads": [src], "dst_ads": [dst], "web_filters": web, "logging": true, "priority": 10})
    }

    /// The kill chain's controller: tier 1 (a registry permit for the namespace), tier 2 (healthcare-mcp's
    /// FirewallPolicy permit, and a second server's), tier 3 (the namespace's default deny), through policy
    /// groups at the attachment points, and the Greenfield rule in the V1 list.
    struct Lab {
        rulesets: Vec<Value>,
        domains: Vec<Value>,
        k8s: BTreeSet<String>,
        v1: Vec<Value>,
        default: Value,
    }

    impl Lab {
        fn new(tier3_monitor: bool) -> Lab {
            let ns = json!({"type": "k8s", "k8s_cluster_id": CLUSTER, "k8s_namespace": "obot-mcp"});
            let mut deny =
                rule("tier3-default-deny", "DENY", "PROTOCOL_UNSPECIFIED", json!([]), "sg-ns", ANYWHERE, &[]);
            if tier3_monitor {
                deny["watch"] = json!(true);
            }
            Lab {
                rulesets: vec![
                    json!({"uuid": "g1", "name": "mcp-egress-tier1", "attach_to": BEFORE,
                           "sub_policies": [{"name": "obot-mcp", "priority": 10, "list": "t1"}]}),
                    json!({"uuid": "t1", "name": "tier1-obot-mcp", "policies": [
                        rule("tier1-registry", "PERMIT", "TCP", json!([{"lo": 443}]), "sg-ns", PUBLIC_INTERNET, &["wg-registry"])]}),
                    json!({"uuid": "k1", "name": "k8s-obot-mcp-healthcare", "policies": [
                        rule("tier2-healthcare-mcp", "PERMIT", "TCP", json!([{"lo": 443}]), "sg-health", "sg-any", &["wg-ehr"])]}),
                    json!({"uuid": "k2", "name": "k8s-obot-mcp-search", "policies": [
                        rule("tier2-search-mcp", "PERMIT", "TCP", json!([{"lo": 8443, "hi": 8444}]), "sg-search", "sg-any", &["wg-search"])]}),
                    json!({"uuid": "g3", "name": "mcp-egress-tier3", "attach_to": AFTER_K8S,
                           "sub_policies": [{"name": "obot-mcp", "priority": 10, "list": "t3"}]}),
                    json!({"uuid": "t3", "name": "tier3-obot-mcp", "policies": [deny]}),
                    json!({"uuid": "detached", "name": "not evaluated", "policies": [
                        rule("nowhere", "PERMIT", "PROTOCOL_UNSPECIFIED", json!([]), ANYWHERE, ANYWHERE, &[])]}),
                ],
                domains: vec![
                    group("sg-ns", ns.clone()),
                    group(
                        "sg-health",
                        json!({"type": "k8s", "k8s_cluster_id": CLUSTER, "k8s_namespace": "obot-mcp", "tags.app": "healthcare-mcp"}),
                    ),
                    group(
                        "sg-search",
                        json!({"type": "k8s", "k8s_cluster_id": CLUSTER, "k8s_namespace": "obot-mcp", "tags.app": "search-mcp"}),
                    ),
                    group("sg-any", json!({"cidr": "0.0.0.0/0"})),
                    web("wg-registry", &["*.dkr.ecr.*.amazonaws.com", "registry.npmjs.org"]),
                    web("wg-ehr", &["api.ehr.example.com", "*.bücher.example"]),
                    web("wg-search", &["*.search.example.com", "api.ehr.example.com"]),
                ],
                k8s: ["k1".to_string(), "k2".to_string()].into(),
                v1: vec![json!({"name": "Greenfield-Rule", "uuid": "gf", "action": "PERMIT", "priority": 2147483646,
                                "protocol": "PROTOCOL_UNSPECIFIED", "src_ads": [ANYWHERE], "dst_ads": [ANYWHERE],
                                "logging": false, "system_resource": true})],
                default: json!({"action": "PERMIT", "logging": false}),
            }
        }

        fn tree(&self) -> Tree {
            Tree::from_controller(ControllerView {
                rulesets: &self.rulesets,
                app_domains: &self.domains,
                attachment_points: &points(),
                v1_policies: &self.v1,
                default_action: &self.default,
                k8s_managed: &self.k8s,
            })
            .unwrap()
        }
    }

    fn pod(app: &str) -> Workload {
        Workload {
            cluster_id: CLUSTER.into(),
            namespace: "obot-mcp".into(),
            name: format!("{app}-7f4d9c"),
            labels: [("app".to_string(), app.to_string())].into(),
            ip: Some("10.0.1.17".parse().unwrap()),
            resolvable: true,
            ..Workload::default()
        }
    }

    fn tcp(host: &str, port: u16) -> Destination {
        Destination { host: host.into(), port, protocol: Protocol::Tcp }
    }

    fn decide(tree: &Tree, w: &Workload, host: &str, port: u16) -> (Action, u8, String) {
        let v = tree.evaluate(w, &tcp(host, port)).unwrap();
        (v.action, v.tier, v.rule)
    }

    #[test]
    fn the_kill_chain_permits_by_tiers_2_and_1_and_drops_the_exfiltration_by_tier_3() {
        let tree = Lab::new(false).tree();
        let health = pod("healthcare-mcp");
        assert_eq!(
            decide(&tree, &health, "api.ehr.example.com", 443),
            (Action::Permit, 2, "tier2-healthcare-mcp".into())
        );
        assert_eq!(
            decide(&tree, &health, "123456789012.dkr.ecr.us-east-1.amazonaws.com", 443),
            (Action::Permit, 1, "tier1-registry".into())
        );
        let drop = tree.evaluate(&health, &tcp("exfil.attacker.io", 443)).unwrap();
        assert_eq!(
            (drop.action, drop.tier, drop.rule.as_str(), drop.logged),
            (Action::Drop, 3, "tier3-default-deny", true)
        );
        assert!(drop.reason.contains("ruleset tier3-obot-mcp"), "{}", drop.reason);
        assert_eq!(
            log_line("2026-03-14T18:42:07Z", &drop, "healthcare-mcp-7f4d9c", &tcp("exfil.attacker.io", 443)),
            "2026-03-14T18:42:07Z action=drop rule=tier3-default-deny pod=healthcare-mcp-7f4d9c dst=exfil.attacker.io port=443 tier=3"
        );
    }

    #[test]
    fn one_servers_permit_is_not_another_servers() {
        let tree = Lab::new(false).tree();
        // search-mcp's own list names api.ehr.example.com on 8443 only: 443 is not its port.
        assert_eq!(
            decide(&tree, &pod("search-mcp"), "api.ehr.example.com", 443),
            (Action::Drop, 3, "tier3-default-deny".into())
        );
        assert_eq!(
            decide(&tree, &pod("search-mcp"), "api.ehr.example.com", 8444),
            (Action::Permit, 2, "tier2-search-mcp".into())
        );
        assert_eq!(
            decide(&tree, &pod("other"), "api.ehr.example.com", 443),
            (Action::Drop, 3, "tier3-default-deny".into())
        );
        // A pod outside the MCP namespace is not contained: the Greenfield rule lets it through, tier 0.
        let mut outside = pod("healthcare-mcp");
        outside.namespace = "default".into();
        assert_eq!(decide(&tree, &outside, "exfil.attacker.io", 443), (Action::Permit, 0, "Greenfield-Rule".into()));
    }

    #[test]
    fn host_names_compare_as_server_names() {
        let tree = Lab::new(false).tree();
        let health = pod("healthcare-mcp");
        let permitted = (Action::Permit, 2, "tier2-healthcare-mcp".to_string());
        for host in ["api.ehr.example.com", "API.EHR.Example.COM", "api.ehr.example.com."] {
            assert_eq!(decide(&tree, &health, host, 443), permitted, "{host}");
        }
        // IDNA: the Unicode and punycode spellings are one name; a wildcard below it matches either.
        for host in ["shop.bücher.example", "shop.xn--bcher-kva.example", "a.b.BÜCHER.example."] {
            assert_eq!(decide(&tree, &health, host, 443), permitted, "{host}");
        }
        // Look-alikes and the wildcard's own suffix fall to tier 3.
        for host in [
            "bücher.example",
            "api.ehr.example.com.attacker.io",
            "xapi.ehr.example.com",
            "api.ehr.example.co",
            "api-ehr.example.com",
            "ehr.example.com",
        ] {
            assert_eq!(decide(&tree, &health, host, 443), (Action::Drop, 3, "tier3-default-deny".into()), "{host}");
        }
        assert!(matches!(tree.evaluate(&health, &tcp("exfil attacker", 443)), Err(BadAttempt::Host { .. })));
    }

    #[test]
    fn wildcard_depth() {
        // A leading `*` is one or more labels; any other `*` exactly one.
        assert!(sni_matches("*.example.com", "a.example.com"));
        assert!(sni_matches("*.example.com", "a.b.c.example.com"));
        assert!(!sni_matches("*.example.com", "example.com"));
        assert!(!sni_matches("*.example.com", "example.com.attacker.io"));
        assert!(!sni_matches("*.example.com", "badexample.com"));
        assert!(sni_matches("*.dkr.ecr.*.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com"));
        assert!(!sni_matches("*.dkr.ecr.*.amazonaws.com", "1.dkr.ecr.a.b.amazonaws.com"));
        assert!(!sni_matches("*.dkr.ecr.*.amazonaws.com", "dkr.ecr.eu-west-1.amazonaws.com"));
        assert!(sni_matches("*", "anything.example"));
        assert!(sni_matches("Example.COM.", "example.com"));
    }

    #[test]
    fn overlapping_permits_across_tiers_and_ports() {
        let mut lab = Lab::new(false);
        // Tier 1 also permits api.ehr.example.com, but on 8080 only: on 443 tier 2 still decides.
        lab.domains.push(web("wg-ehr-alt", &["api.ehr.example.com"]));
        let t1 = lab.rulesets.iter_mut().find(|r| r["uuid"] == "t1").unwrap();
        t1["policies"].as_array_mut().unwrap().insert(
            0,
            rule("tier1-ehr-alt", "PERMIT", "TCP", json!([{"lo": 8080}]), "sg-ns", PUBLIC_INTERNET, &["wg-ehr-alt"]),
        );
        let tree = lab.tree();
        let health = pod("healthcare-mcp");
        assert_eq!(decide(&tree, &health, "api.ehr.example.com", 8080), (Action::Permit, 1, "tier1-ehr-alt".into()));
        assert_eq!(
            decide(&tree, &health, "api.ehr.example.com", 443),
            (Action::Permit, 2, "tier2-healthcare-mcp".into())
        );
        assert_eq!(
            decide(&tree, &pod("search-mcp"), "api.ehr.example.com", 8080),
            (Action::Permit, 1, "tier1-ehr-alt".into())
        );
        // UDP never matches a TCP rule nor a WebGroup: tier 3 takes it.
        let udp = tree
            .evaluate(&health, &Destination { host: "api.ehr.example.com".into(), port: 443, protocol: Protocol::Udp });
        assert_eq!(udp.unwrap().rule, "tier3-default-deny");
    }

    #[test]
    fn monitoring_lets_traffic_through_as_watch() {
        let tree = Lab::new(true).tree();
        let health = pod("healthcare-mcp");
        let watched = tree.evaluate(&health, &tcp("exfil.attacker.io", 443)).unwrap();
        assert_eq!((watched.action, watched.tier, watched.rule.as_str()), (Action::Watch, 3, "tier3-default-deny"));
        assert!(watched.reason.contains("monitoring"));
        assert_eq!(
            decide(&tree, &health, "api.ehr.example.com", 443),
            (Action::Permit, 2, "tier2-healthcare-mcp".into())
        );
        let mut lab = Lab::new(false);
        lab.rulesets.iter_mut().find(|r| r["uuid"] == "t3").unwrap()["policies"][0]["enforcement"] = json!("DISABLE");
        assert_eq!(
            decide(&lab.tree(), &health, "exfil.attacker.io", 443),
            (Action::Permit, 0, "Greenfield-Rule".into())
        );
    }

    #[test]
    fn a_partial_cluster_resolves_only_cidr_groups() {
        let mut lab = Lab::new(false);
        let mut health = pod("healthcare-mcp");
        health.resolvable = false;
        assert_eq!(
            decide(&lab.tree(), &health, "exfil.attacker.io", 443),
            (Action::Permit, 0, "Greenfield-Rule".into())
        );
        // The fallback: the namespace group written from the live pod IPs.
        lab.domains[0] = group("sg-ns", json!({"cidr": "10.0.1.17/32"}));
        assert_eq!(
            decide(&lab.tree(), &health, "exfil.attacker.io", 443),
            (Action::Drop, 3, "tier3-default-deny".into())
        );
        health.ip = Some("10.0.1.18".parse().unwrap());
        assert_eq!(
            decide(&lab.tree(), &health, "exfil.attacker.io", 443),
            (Action::Permit, 0, "Greenfield-Rule".into())
        );
    }

    #[test]
    fn groups_run_sub_policies_by_priority_and_the_default_action_decides_last() {
        let mut lab = Lab::new(false);
        lab.rulesets.push(json!({"uuid": "t1b", "name": "tier1-other", "policies": [
            rule("tier1-block-first", "DENY", "TCP", json!([{"lo": 443}]), "sg-ns", PUBLIC_INTERNET, &["wg-registry"])]}));
        lab.rulesets[0]["sub_policies"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "other", "priority": 5, "list": "t1b"}));
        let tree = lab.tree();
        assert_eq!(decide(&tree, &pod("x"), "registry.npmjs.org", 443), (Action::Drop, 1, "tier1-block-first".into()));
        assert!(!tree.rules.iter().any(|r| r.name == "nowhere"), "a detached ruleset is not evaluated");
        lab.v1.clear();
        lab.default = json!({"action": "DENY", "logging": true});
        let mut outside = pod("x");
        outside.namespace = "default".into();
        let v = lab.tree().evaluate(&outside, &tcp("example.com", 443)).unwrap();
        assert_eq!((v.action, v.tier, v.rule.as_str(), v.logged), (Action::Drop, 0, "default-action", true));
        // A group that contains itself is refused.
        lab.rulesets[0]["sub_policies"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "loop", "priority": 1, "block": "g1"}));
        let err = Tree::from_controller(ControllerView {
            rulesets: &lab.rulesets,
            app_domains: &lab.domains,
            attachment_points: &points(),
            v1_policies: &lab.v1,
            default_action: &lab.default,
            k8s_managed: &lab.k8s,
        })
        .unwrap_err();
        assert!(err.contains("contains itself"), "{err}");
    }

    #[test]
    fn attempts_are_checked() {
        let tree = Lab::new(false).tree();
        let w = pod("x");
        assert_eq!(tree.evaluate(&w, &tcp("example.com", 0)), Err(BadAttempt::Port));
        let any = Destination { host: "example.com".into(), port: 443, protocol: Protocol::Any };
        assert_eq!(tree.evaluate(&w, &any), Err(BadAttempt::Protocol));
        // An address literal has no server name: WebGroup rules cannot match it.
        assert_eq!(decide(&tree, &pod("healthcare-mcp"), "93.184.216.34", 443).2, "tier3-default-deny");
    }
}
