//! `aviatrix_mcp_egress_server`: tier 2 for one MCP server, as one `networking.aviatrix.com/v1alpha1`
//! FirewallPolicy named `mcp-egress-<name>` in the server's namespace, which the controller reconciles into
//! a ruleset in the Kubernetes-managed position.
//!
//! The policy has the shape Obot's network policy controller writes (SmartGroups `<name>-pods` and
//! `any-destination`, WebGroup `<name>-approved-domains`), with rules named `tier2-<name>` so that every
//! decision is attributed to the server, and without Obot's trailing deny rule: the namespace's default deny
//! is tier 3, another resource. An empty domain list is zero egress (one deny rule); `egress = "allow"` is
//! the WebGroup `*`, warned about on every plan.
//!
//! Apply returns once the controller has reconciled the policy's generation (its status says so), or fails
//! with what to check, keeping the object in state. The object carries the label
//! `app.kubernetes.io/managed-by: terraform-provider-aviatrix`: a create that finds one of its name with
//! that label adopts it (an earlier create was interrupted), one without it is someone else's and an error.
//! This module writes nothing but the FirewallPolicy, and only through the Kubernetes client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{budget, failed, invalid};
use crate::clients::kube::{
    FirewallPolicy, FirewallPolicySpec, GroupRef, KubeClient, KubeError, PolicyRule, PolicySmartGroup, PolicyWebGroup,
    RuleSelector, SmartGroupSelector, FIREWALL_POLICY_CRD,
};
use crate::clients::retry::Budget;
use crate::data_sources::domains::invalid_domain_diagnostic;
use crate::plugin::schema::TfType;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::types::Type;
use crate::plugin::{
    AttributePath, CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Planned, Private, PrivateEntry,
    Resource, TfSchema,
};
use crate::policy;
use crate::provider::AviatrixProvider;

const TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How often a wait polls, and how often it says so at INFO.
const POLL: Duration = Duration::from_secs(1);
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// The label every FirewallPolicy of this provider carries, its value, and the label naming the MCP server a
/// policy of this provider is for.
pub use mcp_egress_policy::inventory::{MANAGED_BY, MANAGER, SERVER_LABEL};
/// The SmartGroup every rule of the policy points at.
pub const ANY_DESTINATION: &str = "any-destination";

/// The FirewallPolicy of MCP server `name`.
pub fn policy_name(name: &str) -> String {
    format!("mcp-egress-{name}")
}

/// What the server may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Egress {
    /// Only `domains` (none: zero egress).
    Deny,
    /// Every domain, on `ports`.
    Allow,
}

impl TfType for Egress {
    fn tf_type() -> Type {
        Type::String
    }
}

/// Tier 2 for one MCP server: the domains its pods may reach, as a FirewallPolicy the Aviatrix controller
/// enforces on the egress gateway. Apply waits until the controller has reconciled it.
///
/// Writes FirewallPolicy `mcp-egress-<name>` (labels `app.kubernetes.io/managed-by =
/// terraform-provider-aviatrix`, `mcp-egress.aviatrix.com/server = <name>`) in the shape Obot's network
/// policy controller uses, with permit rules `tier2-<name>` (and `tier2-<name>-<port>` for each further port
/// range) and no deny rule of its own: the namespace's default deny is tier 3. `domains = []` is one deny
/// rule `tier2-<name>` (zero egress). When the controller does not reconcile within the timeout (cluster not
/// onboarded or not Connected, flags `k8s` or `k8s_dcf_policies` off), apply fails and the object stays, in
/// state. Destroy deletes the policy and waits until it and the controller's ruleset are gone; give the
/// resource `depends_on` the cluster's resource so it goes first. Import ID: `<namespace>/<name>`.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct ServerState {
    /// `<namespace>/<name>`, also the import ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// The namespace the MCP server runs in (Obot's MCP runtime namespace, `obot-mcp` by default).
    #[tf(requires_replace)]
    pub namespace: String,
    /// The MCP server's name, a DNS-1123 label; Obot names the server's Deployment and labels its pods
    /// `app: <name>`.
    #[tf(requires_replace)]
    pub name: String,
    /// The domains the server may reach: hostnames such as `api.example.com`, or `*.example.com` for every
    /// name below example.com. An empty list is zero egress. Must be empty with `egress = "allow"`.
    #[tf(required)]
    pub domains: Vec<String>,
    /// The TCP ports the domains may be reached on; `[443]` unless set. Consecutive ports become one range.
    #[tf(optional, computed, default = [443])]
    pub ports: Option<Vec<i64>>,
    /// The labels that select the server's pods; `{ app = <name> }` unless set, as Obot labels them.
    #[tf(optional, computed)]
    pub pod_selector: Option<Known<BTreeMap<String, String>>>,
    /// `deny` (the default): only `domains`. `allow`: every domain on `ports`, unrestricted, which every
    /// plan warns about.
    #[tf(optional, computed, default = "deny")]
    pub egress: Option<Egress>,
    /// The FirewallPolicy's name, `mcp-egress-<name>`.
    #[tf(computed, use_state_for_unknown)]
    pub policy_name: Option<Known<String>>,
    /// The FirewallPolicy's `metadata.generation`.
    #[tf(computed)]
    pub generation: Option<Known<i64>>,
    /// Whether the controller has reconciled the current generation (`status.lastReconciledGeneration`).
    #[tf(computed)]
    pub reconciled: Option<Known<bool>>,
    /// The UUID of the controller ruleset the policy became (`status.ruleset`); null until reconciled.
    #[tf(computed)]
    pub ruleset: Option<Known<String>>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

/// Set by read when the object's spec is not what this resource writes for the values read back (a rule
/// added or changed outside Terraform that the attributes cannot show): the next plan rewrites it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Reshaped {
    /// What differs, for the plan's warning; empty when the spec is as written.
    what: String,
}

impl PrivateEntry for Reshaped {
    const KEY: &'static str = "server-reshaped";
    const VERSION: u32 = 1;
}

/// The values a FirewallPolicy is written from, checked and normalised.
#[derive(Clone, Debug, PartialEq)]
struct Desired {
    namespace: String,
    name: String,
    domains: Vec<String>,
    ports: Vec<u16>,
    selector: BTreeMap<String, String>,
    egress: Egress,
}

/// Inclusive port ranges of a sorted, deduplicated port list.
fn ranges(ports: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &p in ports {
        match out.last_mut() {
            Some((_, hi)) if p == *hi + 1 => *hi = p,
            _ => out.push((p, p)),
        }
    }
    out
}

impl Desired {
    fn from_state(state: &ServerState) -> Result<Desired, Diagnostics> {
        let normalized = policy::normalize(&state.domains).map_err(|invalid| {
            Diagnostics(invalid.iter().map(|i| invalid_domain_diagnostic("domains", i)).collect())
        })?;
        let mut ports: Vec<u16> = state
            .ports
            .clone()
            .unwrap_or_else(|| vec![443])
            .into_iter()
            .enumerate()
            .map(|(i, p)| u16::try_from(p).ok().filter(|&p| p > 0).ok_or_else(|| Diagnostics::from(port_error(i, p))))
            .collect::<Result<_, _>>()?;
        ports.sort_unstable();
        ports.dedup();
        Ok(Desired {
            namespace: state.namespace.clone(),
            name: state.name.clone(),
            domains: normalized.patterns.iter().map(ToString::to_string).collect(),
            ports,
            selector: selector_of(state),
            egress: state.egress.unwrap_or(Egress::Deny),
        })
    }

    fn web_group(&self) -> String {
        format!("{}-approved-domains", self.name)
    }

    fn rule_name(&self, index: usize, first_port: u16) -> String {
        if index == 0 {
            format!("tier2-{}", self.name)
        } else {
            format!("tier2-{}-{first_port}", self.name)
        }
    }

    /// The spec of the policy, in the shape Obot's network policy controller writes.
    fn spec(&self) -> FirewallPolicySpec {
        let pods = PolicySmartGroup {
            name: format!("{}-pods", self.name),
            selectors: vec![SmartGroupSelector {
                kind: Some("k8s".into()),
                k8s_namespace: Some(self.namespace.clone()),
                tags: Some(self.selector.clone()),
                ..Default::default()
            }],
        };
        let any = PolicySmartGroup {
            name: ANY_DESTINATION.into(),
            selectors: vec![SmartGroupSelector { cidr: Some("0.0.0.0/0".into()), ..Default::default() }],
        };
        let selector = Some(RuleSelector { match_labels: Some(self.selector.clone()), service: None });
        if self.egress == Egress::Deny && self.domains.is_empty() {
            return FirewallPolicySpec {
                smart_groups: vec![pods, any],
                rules: vec![PolicyRule {
                    name: self.rule_name(0, 0),
                    action: Some("deny".into()),
                    protocol: Some("any".into()),
                    selector,
                    destination_smart_groups: vec![GroupRef::named(ANY_DESTINATION)],
                    logging: Some(true),
                    ..Default::default()
                }],
                ..Default::default()
            };
        }
        let domains = match self.egress {
            Egress::Allow => vec!["*".to_string()],
            Egress::Deny => self.domains.clone(),
        };
        let rules = ranges(&self.ports)
            .into_iter()
            .enumerate()
            .map(|(i, (lo, hi))| PolicyRule {
                name: self.rule_name(i, lo),
                action: Some("permit".into()),
                protocol: Some("tcp".into()),
                port: Some(lo.into()),
                end_port: (hi > lo).then_some(hi.into()),
                selector: selector.clone(),
                destination_smart_groups: vec![GroupRef::named(ANY_DESTINATION)],
                web_groups: vec![GroupRef::named(&self.web_group())],
                logging: Some(true),
                ..Default::default()
            })
            .collect();
        FirewallPolicySpec {
            smart_groups: vec![pods, any],
            web_groups: vec![PolicyWebGroup { name: self.web_group(), domains }],
            rules,
            ..Default::default()
        }
    }

    /// The labels the policy carries.
    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(MANAGED_BY.to_string(), MANAGER.to_string()), (SERVER_LABEL.to_string(), self.name.clone())])
    }

    fn object(&self) -> FirewallPolicy {
        FirewallPolicy {
            metadata: kube::api::ObjectMeta {
                name: Some(policy_name(&self.name)),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels()),
                ..Default::default()
            },
            spec: self.spec(),
            status: None,
        }
    }

    /// What a policy's spec says, read back as the resource's values; `None` when it has none of the
    /// server's rules (someone else's policy of that name, or emptied).
    fn read_back(namespace: &str, name: &str, spec: &FirewallPolicySpec) -> Option<(Desired, Option<Vec<u16>>)> {
        let main = format!("tier2-{name}");
        let prefix = format!("tier2-{name}-");
        let ours: Vec<&PolicyRule> =
            spec.rules.iter().filter(|r| r.name == main || r.name.starts_with(&prefix)).collect();
        let first = ours.iter().find(|r| r.name == main).or(ours.first())?;
        let selector = first.selector.as_ref().and_then(|s| s.match_labels.clone()).unwrap_or_default();
        let permits: Vec<&&PolicyRule> = ours.iter().filter(|r| r.action.as_deref() == Some("permit")).collect();
        if permits.is_empty() {
            let desired = Desired {
                namespace: namespace.into(),
                name: name.into(),
                domains: Vec::new(),
                ports: Vec::new(),
                selector,
                egress: Egress::Deny,
            };
            return Some((desired, None));
        }
        let mut ports = Vec::new();
        for rule in &permits {
            if let Some(lo) = rule.port {
                let hi = rule.end_port.unwrap_or(lo).max(lo);
                ports.extend((lo..=hi).filter_map(|p| u16::try_from(p).ok()));
            }
        }
        ports.sort_unstable();
        ports.dedup();
        let web = format!("{name}-approved-domains");
        let domains = spec.web_groups.iter().find(|w| w.name == web).map(|w| w.domains.clone()).unwrap_or_default();
        let (egress, domains) = if domains == ["*"] { (Egress::Allow, Vec::new()) } else { (Egress::Deny, domains) };
        let desired =
            Desired { namespace: namespace.into(), name: name.into(), domains, ports: ports.clone(), selector, egress };
        Some((desired, Some(ports)))
    }
}

fn selector_of(state: &ServerState) -> BTreeMap<String, String> {
    match &state.pod_selector {
        Some(Known::Value(s)) => s.clone(),
        _ => BTreeMap::from([("app".to_string(), state.name.clone())]),
    }
}

fn port_error(index: usize, port: i64) -> Diagnostic {
    Diagnostic::error(
        "Invalid port",
        format!("ports[{index}] = {port} is not a TCP port; use a number from 1 to 65535, such as 443."),
    )
    .at(AttributePath::root().attr("ports").index(index as i64))
}

/// Whether `value` is a DNS-1123 label: at most 63 lower-case letters, digits and `-`, starting and ending
/// with a letter or digit.
fn is_dns_label(value: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !value.is_empty()
        && value.len() <= 63
        && value.chars().all(|c| alnum(c) || c == '-')
        && value.starts_with(alnum)
        && value.ends_with(alnum)
}

/// Whether `value` is a Kubernetes label key (an optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 characters) or, with `key = false`, a label value.
fn is_label_part(value: &str, key: bool) -> bool {
    let name_ok = |n: &str| {
        n.len() <= 63
            && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && (n.is_empty()
                || (n.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && n.ends_with(|c: char| c.is_ascii_alphanumeric())))
    };
    if !key {
        return name_ok(value);
    }
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    let prefix_ok = prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns_label));
    prefix_ok && !name.is_empty() && name_ok(name)
}

pub struct ServerResource {
    pub provider: Arc<AviatrixProvider>,
}

fn kube_failed(doing: &str, e: KubeError) -> Diagnostics {
    failed(doing, e)
}

fn crd_missing(namespace: &str) -> Diagnostics {
    Diagnostic::error(
        "The FirewallPolicy CRD is not installed",
        format!(
            "the cluster does not serve {FIREWALL_POLICY_CRD}, so no FirewallPolicy can be written in namespace {namespace}; install the Aviatrix k8s-firewall Helm chart (for example with aviatrix_mcp_egress_release), then apply again."
        ),
    )
    .into()
}

impl ServerResource {
    async fn check_crd(&self, kube: &KubeClient, namespace: &str, budget: &Budget) -> Result<(), Diagnostics> {
        match kube.firewall_policy_crd_installed(budget).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(crd_missing(namespace)),
            Err(e) => Err(kube_failed("discover the FirewallPolicy CRD", e)),
        }
    }

    /// Writes the desired policy: creates it, adopts one of ours left by an interrupted create, or replaces
    /// the spec at the resourceVersion it was read at (a conflict reads again and retries).
    async fn write(
        &self,
        kube: &KubeClient,
        desired: &Desired,
        creating: bool,
        budget: &Budget,
    ) -> Result<(), Diagnostics> {
        let name = policy_name(&desired.name);
        let what = format!("FirewallPolicy {}/{name}", desired.namespace);
        loop {
            let existing = kube
                .firewall_policy(&desired.namespace, &name, budget)
                .await
                .map_err(|e| kube_failed(&format!("read {what}"), e))?;
            let result = match existing {
                None => {
                    tracing::info!(policy = %what, "creating the FirewallPolicy");
                    kube.create_firewall_policy(&desired.namespace, &desired.object(), budget).await
                }
                Some(current) => {
                    if current.label(MANAGED_BY) != Some(MANAGER) {
                        return Err(Diagnostic::error(
                            "The FirewallPolicy belongs to someone else",
                            format!(
                                "{what} exists and is not managed by this provider (label {MANAGED_BY} = {:?}); choose another server name, or delete the policy if it is stale.",
                                current.label(MANAGED_BY).unwrap_or("")
                            ),
                        )
                        .at(AttributePath::root().attr("name"))
                        .into());
                    }
                    if creating {
                        tracing::info!(policy = %what, "the FirewallPolicy exists with this provider's label: adopting it (an earlier create was interrupted)");
                    }
                    let mut object = desired.object();
                    object.metadata = current.metadata.clone();
                    let labels = object.metadata.labels.get_or_insert_with(Default::default);
                    labels.extend(desired.labels());
                    if object.spec == current.spec && object.metadata == current.metadata {
                        return Ok(());
                    }
                    tracing::info!(policy = %what, "replacing the FirewallPolicy's spec");
                    kube.replace_firewall_policy(&desired.namespace, &object, budget).await
                }
            };
            match result {
                Ok(_) => return Ok(()),
                Err(KubeError::Conflict { detail, .. }) => {
                    tracing::info!(policy = %what, %detail, "the FirewallPolicy changed meanwhile: reading it again");
                    if !budget.sleep(Duration::from_millis(200)).await {
                        return Err(failed(&format!("write {what}"), "it kept changing until the timeout"));
                    }
                }
                Err(e) => return Err(kube_failed(&format!("write {what}"), e)),
            }
        }
    }

    /// Polls the policy until the controller reports its current generation reconciled. `Ok(None)` when the
    /// budget ran out first, with the policy as last read.
    async fn wait_reconciled(
        &self,
        kube: &KubeClient,
        desired: &Desired,
        budget: &Budget,
    ) -> Result<(FirewallPolicy, bool), Diagnostics> {
        let name = policy_name(&desired.name);
        let what = format!("FirewallPolicy {}/{name}", desired.namespace);
        let started = Instant::now();
        let mut reported = Instant::now();
        loop {
            let policy = kube
                .firewall_policy(&desired.namespace, &name, budget)
                .await
                .map_err(|e| kube_failed(&format!("read {what}"), e))?
                .ok_or_else(|| {
                    failed(&format!("wait for {what}"), "it was deleted while waiting for the controller")
                })?;
            if policy.reconciled() {
                tracing::info!(policy = %what, generation = policy.metadata.generation.unwrap_or(1), "the controller reconciled the FirewallPolicy");
                return Ok((policy, true));
            }
            if reported.elapsed() >= REPORT_EVERY {
                reported = Instant::now();
                tracing::info!(
                    policy = %what,
                    generation = policy.metadata.generation.unwrap_or(1),
                    reconciled = ?policy.status.as_ref().and_then(|s| s.last_reconciled_generation),
                    waited = ?started.elapsed(),
                    "waiting for the controller to reconcile the FirewallPolicy"
                );
            }
            if !budget.sleep(POLL).await {
                return Ok((policy, false));
            }
        }
    }

    /// Writes and waits; the state to keep, and an error when the controller never reconciled.
    async fn apply(&self, ctx: &CallContext, planned: ServerState, op: Operation) -> Outcome<ServerState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), op, TIMEOUT)?;
        let desired = Desired::from_state(&planned)?;
        let kube = self.provider.kubernetes().await?;
        self.check_crd(&kube, &desired.namespace, &budget).await?;
        self.write(&kube, &desired, op == Operation::Create, &budget).await?;
        let (policy, reconciled) = self.wait_reconciled(&kube, &desired, &budget).await?;
        let state = ServerState {
            id: Known::Value(format!("{}/{}", desired.namespace, desired.name)),
            pod_selector: Some(Known::Value(desired.selector.clone())),
            policy_name: Some(Known::Value(policy_name(&desired.name))),
            generation: Some(Known::Value(policy.metadata.generation.unwrap_or(1))),
            reconciled: Some(Known::Value(reconciled)),
            ruleset: ruleset_known(&policy),
            ..planned
        };
        if reconciled {
            return Ok(state.into());
        }
        let waited = Timeouts::get(state.timeouts.as_ref(), op, TIMEOUT).unwrap_or(TIMEOUT);
        Ok(Diagnosed::incomplete(state, Diagnostic::error(
            "The controller never reconciled the FirewallPolicy",
            format!(
                "FirewallPolicy {}/{} (generation {}) was written, but within {waited:?} the Aviatrix controller did not report it reconciled (status.lastReconciledGeneration). Check that the cluster is onboarded and Connected (aviatrix_mcp_egress_cluster) and that the controller's feature flags k8s and k8s_dcf_policies are on. The policy stays in place and in state (Terraform marks a failed create tainted), so nothing is orphaned; the next apply writes it again and waits.",
                desired.namespace,
                policy_name(&desired.name),
                policy.metadata.generation.unwrap_or(1)
            ),
        )))
    }

    /// The state a policy shows, from the values it was written with (`prior`, for the forms of domains and
    /// ports the user wrote when they mean the same), and whether its spec is what this resource writes.
    fn observe(
        namespace: &str,
        name: &str,
        policy: &FirewallPolicy,
        prior: Option<&ServerState>,
    ) -> (ServerState, Reshaped) {
        let read = Desired::read_back(namespace, name, &policy.spec);
        let prior_desired = prior.and_then(|p| Desired::from_state(p).ok());
        let (desired, ports) = match read {
            Some(found) => found,
            None => {
                // None of the server's rules are left: show an empty permit list, which the plan corrects.
                let d = Desired {
                    namespace: namespace.into(),
                    name: name.into(),
                    domains: Vec::new(),
                    ports: Vec::new(),
                    selector: BTreeMap::new(),
                    egress: Egress::Deny,
                };
                (d, None)
            }
        };
        // Zero egress has no ports: the configured ones stand.
        let ports: Vec<u16> =
            ports.unwrap_or_else(|| prior_desired.as_ref().map(|p| p.ports.clone()).unwrap_or(vec![443]));
        let full = Desired { ports: ports.clone(), ..desired.clone() };
        let reshaped = if full.spec() == policy.spec {
            Reshaped::default()
        } else if Desired::read_back(namespace, name, &policy.spec).is_none() {
            Reshaped { what: format!("it has no rule tier2-{name}") }
        } else {
            Reshaped { what: "its rules or groups differ from what this resource writes".into() }
        };
        let domains = match prior {
            Some(p) if prior_desired.as_ref().is_some_and(|d| d.domains == full.domains) => p.domains.clone(),
            _ => full.domains.clone(),
        };
        let ports_shown = match prior.and_then(|p| p.ports.clone()) {
            Some(written) if prior_desired.as_ref().is_some_and(|d| d.ports == ports) => written,
            _ => ports.iter().map(|&p| i64::from(p)).collect(),
        };
        let state = ServerState {
            id: Known::Value(format!("{namespace}/{name}")),
            namespace: namespace.into(),
            name: name.into(),
            domains,
            ports: Some(ports_shown),
            pod_selector: Some(Known::Value(full.selector.clone())),
            egress: Some(full.egress),
            policy_name: Some(Known::Value(policy_name(name))),
            generation: Some(Known::Value(policy.metadata.generation.unwrap_or(1))),
            reconciled: Some(Known::Value(policy.reconciled())),
            ruleset: ruleset_known(policy),
            timeouts: prior.and_then(|p| p.timeouts.clone()),
        };
        (state, reshaped)
    }
}

/// The ruleset of a reconciled policy; null before.
fn ruleset_known(policy: &FirewallPolicy) -> Option<Known<String>> {
    policy.status.as_ref().and_then(|s| s.ruleset.clone()).filter(|_| policy.reconciled()).map(Known::Value)
}

#[tonic::async_trait]
impl Resource for ServerResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_server";
    type State = ServerState;

    fn validate(&self, config: &ServerState) -> Diagnostics {
        let mut problems = Vec::new();
        for (attr, value) in [("namespace", &config.namespace), ("name", &config.name)] {
            if !value.is_empty() && !is_dns_label(value) {
                problems.push(invalid(attr, "Invalid name", format!(
                    "{attr} = {value:?} is not a DNS-1123 label; use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit, such as \"github-mcp\"."
                )));
            }
        }
        if let Err(invalid) = policy::normalize(&config.domains) {
            problems.extend(invalid.iter().map(|i| invalid_domain_diagnostic("domains", i)));
        }
        if config.egress == Some(Egress::Allow) && !config.domains.is_empty() {
            problems.push(invalid("domains", "Domains with egress = \"allow\"", format!(
                "domains = {:?} with egress = \"allow\": allow already permits every domain, so a list would not limit anything; set domains = [] with egress = \"allow\", or keep the list with egress = \"deny\".",
                config.domains
            )));
        }
        if let Some(ports) = &config.ports {
            if ports.is_empty() {
                problems.push(invalid("ports", "No ports", "ports = []: the domains must be reachable on at least one port; use [443] (the default) or list the TCP ports.".into()));
            }
            for (i, &p) in ports.iter().enumerate() {
                if !(1..=65535).contains(&p) {
                    problems.push(port_error(i, p));
                }
            }
        }
        if let Some(Known::Value(selector)) = &config.pod_selector {
            if selector.is_empty() {
                problems.push(invalid("pod_selector", "Empty pod selector", "pod_selector = {} would select every pod of the namespace; name the server's labels, such as { app = \"github-mcp\" } (the default).".into()));
            }
            for (k, v) in selector {
                if !is_label_part(k, true) || !is_label_part(v, false) {
                    problems.push(Diagnostic::error("Invalid pod selector", format!(
                        "pod_selector[{k:?}] = {v:?} is not a Kubernetes label; keys are an optional DNS prefix and '/' then at most 63 letters, digits, '-', '_' or '.', values at most 63 of those, both starting and ending with a letter or digit."
                    )).at(AttributePath::root().attr("pod_selector").key(k)));
                }
            }
        }
        if let Some(t) = &config.timeouts {
            problems.extend(t.validate());
        }
        Diagnostics(problems)
    }

    async fn plan(
        &self,
        _: &CallContext,
        prior: Option<&ServerState>,
        mut proposed: ServerState,
        private: &mut Private,
    ) -> Outcome<Planned<ServerState>> {
        let mut warnings = Diagnostics::default();
        if proposed.pod_selector.as_ref().is_none_or(Known::is_unknown) {
            proposed.pod_selector = Some(Known::Value(BTreeMap::from([("app".to_string(), proposed.name.clone())])));
        }
        proposed.id = Known::Value(format!("{}/{}", proposed.namespace, proposed.name));
        proposed.policy_name = Some(Known::Value(policy_name(&proposed.name)));
        if proposed.egress == Some(Egress::Allow) {
            let ports: Vec<String> = proposed.ports.iter().flatten().map(ToString::to_string).collect();
            warnings.push(Diagnostic::warning(
                "MCP server egress is unrestricted",
                format!(
                    "aviatrix_mcp_egress_server {}/{} has egress = \"allow\": its pods may reach every domain on TCP port(s) {}. List the domains it needs with egress = \"deny\" to contain it.",
                    proposed.namespace,
                    proposed.name,
                    ports.join(", ")
                ),
            ).at(AttributePath::root().attr("egress")));
        }
        if let Some(prior) = prior {
            let reshaped = private.get::<Reshaped>()?.unwrap_or_default();
            let unreconciled = prior.reconciled.as_ref().and_then(Known::value) == Some(&false);
            if !reshaped.what.is_empty() || unreconciled {
                // Nothing the attributes show differs, but the object needs writing or waiting for: plan an
                // update that does it.
                proposed.generation = Some(Known::Unknown);
                proposed.reconciled = Some(Known::Unknown);
                proposed.ruleset = Some(Known::Unknown);
                let why = if reshaped.what.is_empty() {
                    "the controller has not reconciled its current generation; apply waits for it".to_string()
                } else {
                    format!("it was changed outside Terraform ({}); apply writes it back", reshaped.what)
                };
                warnings.push(Diagnostic::warning(
                    "FirewallPolicy to be written again",
                    format!("FirewallPolicy {}/{}: {why}.", proposed.namespace, policy_name(&proposed.name)),
                ));
            }
        }
        warnings.into_outcome(Planned::new(proposed))
    }

    async fn create(&self, ctx: &CallContext, planned: ServerState, private: &mut Private) -> Outcome<ServerState> {
        private.set(&Reshaped::default())?;
        self.apply(ctx, planned, Operation::Create).await
    }

    async fn read(
        &self,
        ctx: &CallContext,
        current: ServerState,
        private: &mut Private,
    ) -> Outcome<Option<ServerState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, TIMEOUT)?;
        let kube = self.provider.kubernetes().await?;
        let name = policy_name(&current.name);
        let found = kube
            .firewall_policy(&current.namespace, &name, &budget)
            .await
            .map_err(|e| kube_failed(&format!("read FirewallPolicy {}/{name}", current.namespace), e))?;
        let Some(policy) = found else { return Ok(None.into()) };
        let (state, reshaped) = Self::observe(&current.namespace, &current.name, &policy, Some(&current));
        private.set(&reshaped)?;
        Ok(Some(state).into())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _: ServerState,
        planned: ServerState,
        private: &mut Private,
    ) -> Outcome<ServerState> {
        private.set(&Reshaped::default())?;
        self.apply(ctx, planned, Operation::Update).await
    }

    async fn delete(&self, ctx: &CallContext, prior: ServerState, _: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, TIMEOUT)?;
        let kube = self.provider.kubernetes().await?;
        let name = policy_name(&prior.name);
        let what = format!("FirewallPolicy {}/{name}", prior.namespace);
        let Some(policy) = kube
            .firewall_policy(&prior.namespace, &name, &budget)
            .await
            .map_err(|e| kube_failed(&format!("read {what}"), e))?
        else {
            return Ok(().into());
        };
        if policy.label(MANAGED_BY) != Some(MANAGER) {
            return Diagnostics::from(Diagnostic::warning(
                "FirewallPolicy left in place",
                format!(
                    "{what} no longer carries {MANAGED_BY} = {MANAGER}; it is someone else's now and was not deleted."
                ),
            ))
            .into_outcome(());
        }
        let ruleset = ruleset_known(&policy).and_then(Known::into_value);
        tracing::info!(policy = %what, "deleting the FirewallPolicy");
        kube.delete_firewall_policy(&prior.namespace, &name, &budget)
            .await
            .map_err(|e| kube_failed(&format!("delete {what}"), e))?;
        let mut reported = Instant::now();
        while kube
            .firewall_policy(&prior.namespace, &name, &budget)
            .await
            .map_err(|e| kube_failed(&format!("read {what}"), e))?
            .is_some()
        {
            if reported.elapsed() >= REPORT_EVERY {
                reported = Instant::now();
                tracing::info!(policy = %what, "waiting for the FirewallPolicy to be gone");
            }
            if !budget.sleep(POLL).await {
                return Err(failed(
                    &format!("delete {what}"),
                    "it was still there at the timeout (a finalizer may hold it)",
                ));
            }
        }
        // The controller removes what it made from the policy once it sees the policy gone; wait for its
        // ruleset to go too, where the provider can ask the controller.
        let Some(ruleset) = ruleset else { return Ok(().into()) };
        let Ok(controller) = self.provider.controller() else {
            tracing::info!(policy = %what, %ruleset, "no controller settings: not waiting for the controller to remove the ruleset");
            return Ok(().into());
        };
        let path = format!("microseg/policy-list3/{ruleset}");
        loop {
            match controller.rest_get(&path, &budget).await {
                Err(e) if e.is_not_found() => return Ok(().into()),
                Err(e) => return Err(failed(&format!("check that the controller removed ruleset {ruleset}"), e)),
                Ok(_) => {}
            }
            if reported.elapsed() >= REPORT_EVERY {
                reported = Instant::now();
                tracing::info!(policy = %what, %ruleset, "waiting for the controller to remove the policy's ruleset");
            }
            if !budget.sleep(POLL).await {
                return Err(failed(
                    &format!("delete {what}"),
                    format!("the policy is gone but the controller still holds its ruleset {ruleset}; check that the cluster is still onboarded and Connected (destroy servers before their cluster), then destroy again"),
                ));
            }
        }
    }

    async fn import(&self, ctx: &CallContext, id: &str, private: &mut Private) -> Outcome<ServerState> {
        let budget = budget(ctx, None, Operation::Read, TIMEOUT)?;
        let cannot = |why: String| Diagnostics::from(Diagnostic::error("Cannot import the MCP server", why));
        let Some((namespace, name)) = id.split_once('/').filter(|(ns, n)| is_dns_label(ns) && is_dns_label(n)) else {
            return Err(cannot(format!("{id:?} is not <namespace>/<name>, such as obot-mcp/github-mcp")));
        };
        let kube = self.provider.kubernetes().await?;
        self.check_crd(&kube, namespace, &budget).await?;
        let policy_name = policy_name(name);
        let policy = kube
            .firewall_policy(namespace, &policy_name, &budget)
            .await
            .map_err(|e| kube_failed(&format!("read FirewallPolicy {namespace}/{policy_name}"), e))?
            .ok_or_else(|| cannot(format!("namespace {namespace} has no FirewallPolicy {policy_name}")))?;
        if policy.label(MANAGED_BY) != Some(MANAGER) {
            return Err(cannot(format!(
                "FirewallPolicy {namespace}/{policy_name} is not managed by this provider (label {MANAGED_BY} = {:?})",
                policy.label(MANAGED_BY).unwrap_or("")
            )));
        }
        let (state, reshaped) = Self::observe(namespace, name, &policy, None);
        private.set(&reshaped)?;
        Ok(state.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(domains: &[&str], ports: &[i64], egress: Egress) -> ServerState {
        ServerState {
            id: Known::Unknown,
            namespace: "obot-mcp".into(),
            name: "github".into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            ports: Some(ports.to_vec()),
            pod_selector: None,
            egress: Some(egress),
            policy_name: None,
            generation: None,
            reconciled: None,
            ruleset: None,
            timeouts: None,
        }
    }

    #[test]
    fn ports_become_ranges_and_extra_rules() {
        assert_eq!(ranges(&[443]), [(443, 443)]);
        assert_eq!(ranges(&[80, 443, 8080, 8081, 8082]), [(80, 80), (443, 443), (8080, 8082)]);
        let spec =
            Desired::from_state(&state(&["api.github.com"], &[8081, 443, 8080, 443], Egress::Deny)).unwrap().spec();
        let rules: Vec<(&str, Option<u32>, Option<u32>)> =
            spec.rules.iter().map(|r| (r.name.as_str(), r.port, r.end_port)).collect();
        assert_eq!(rules, [("tier2-github", Some(443), None), ("tier2-github-8080", Some(8080), Some(8081))]);
        assert!(spec.rules.iter().all(|r| r.action.as_deref() == Some("permit") && r.logging == Some(true)));
    }

    #[test]
    fn the_spec_has_obots_shape_without_its_deny_rule() {
        let spec = Desired::from_state(&state(&["API.github.com", "*.githubusercontent.com"], &[443], Egress::Deny))
            .unwrap()
            .spec();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json["smartGroups"][0],
            serde_json::json!({"name": "github-pods", "selectors": [{"type": "k8s", "k8sNamespace": "obot-mcp", "tags": {"app": "github"}}]})
        );
        assert_eq!(
            json["smartGroups"][1],
            serde_json::json!({"name": "any-destination", "selectors": [{"cidr": "0.0.0.0/0"}]})
        );
        assert_eq!(json["webGroups"][0]["domains"], serde_json::json!(["*.githubusercontent.com", "api.github.com"]));
        assert_eq!(json["rules"].as_array().unwrap().len(), 1);
        assert_eq!(json["rules"][0]["selector"], serde_json::json!({"matchLabels": {"app": "github"}}));
        assert_eq!(json["rules"][0]["webGroups"], serde_json::json!([{"name": "github-approved-domains"}]));
    }

    #[test]
    fn no_domains_is_one_deny_rule_and_allow_is_the_wildcard() {
        let zero = Desired::from_state(&state(&[], &[443], Egress::Deny)).unwrap().spec();
        assert_eq!(zero.rules.len(), 1);
        assert_eq!((zero.rules[0].action.as_deref(), zero.rules[0].protocol.as_deref()), (Some("deny"), Some("any")));
        assert!(zero.web_groups.is_empty() && zero.rules[0].port.is_none());
        let allow = Desired::from_state(&state(&[], &[443], Egress::Allow)).unwrap().spec();
        assert_eq!(allow.web_groups[0].domains, ["*"]);
        assert_eq!(allow.rules[0].action.as_deref(), Some("permit"));
    }

    #[test]
    fn a_policy_reads_back_as_what_wrote_it() {
        for (domains, ports, egress) in [
            (vec!["api.github.com"], vec![443, 8443], Egress::Deny),
            (vec![], vec![443], Egress::Deny),
            (vec![], vec![80, 443], Egress::Allow),
        ] {
            let written = state(&domains, &ports, egress);
            let desired = Desired::from_state(&written).unwrap();
            let policy = FirewallPolicy { spec: desired.spec(), ..Default::default() };
            let (read, reshaped) = ServerResource::observe("obot-mcp", "github", &policy, Some(&written));
            assert_eq!(reshaped, Reshaped::default(), "{domains:?} {ports:?}");
            assert_eq!((read.domains, read.ports, read.egress), (written.domains, written.ports, written.egress));
            assert_eq!(read.pod_selector, Some(Known::Value(BTreeMap::from([("app".into(), "github".into())]))));
        }
    }

    #[test]
    fn a_spec_changed_outside_shows_as_drift() {
        let written = state(&["api.github.com"], &[443], Egress::Deny);
        let mut policy = FirewallPolicy { spec: Desired::from_state(&written).unwrap().spec(), ..Default::default() };
        policy.spec.web_groups[0].domains.push("evil.example.com".into());
        let (read, _) = ServerResource::observe("obot-mcp", "github", &policy, Some(&written));
        assert_eq!(read.domains, ["api.github.com", "evil.example.com"]);
        policy.spec.rules.push(PolicyRule { name: "sneaky".into(), ..Default::default() });
        let (_, reshaped) = ServerResource::observe("obot-mcp", "github", &policy, Some(&written));
        assert!(!reshaped.what.is_empty());
    }

    #[test]
    fn names_and_labels_are_checked() {
        assert!(is_dns_label("github-mcp") && is_dns_label("ms1abc"));
        assert!(
            !is_dns_label("GitHub") && !is_dns_label("-x") && !is_dns_label("a_b") && !is_dns_label(&"a".repeat(64))
        );
        assert!(is_label_part("app", true) && is_label_part("app.kubernetes.io/name", true));
        assert!(is_label_part("", false) && is_label_part("ms1-x.y_z", false));
        assert!(!is_label_part("/app", true) && !is_label_part("a b", false));
    }

    #[test]
    fn validation_names_the_attribute() {
        let resource = ServerResource { provider: Arc::new(AviatrixProvider::default()) };
        let mut bad = state(&["ok.example.com", "evil.example.com:443"], &[443, 70000], Egress::Deny);
        bad.name = "Bad_Name".into();
        let diags = Resource::validate(&resource, &bad).0;
        let paths: Vec<String> = diags.iter().map(|d| d.path.as_ref().unwrap().to_string()).collect();
        assert_eq!(paths, ["name", "domains[1]", "ports[1]"], "{diags:?}");
        assert!(diags[2].detail.starts_with("ports[1] = 70000 is not a TCP port"));
        let allow = state(&["api.github.com"], &[443], Egress::Allow);
        let diags = Resource::validate(&resource, &allow).0;
        assert!(diags[0].detail.contains("egress = \"allow\""), "{diags:?}");
    }
}
