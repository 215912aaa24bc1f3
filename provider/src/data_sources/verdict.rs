//! `aviatrix_mcp_egress_verdict`: would a pod reach `host:port`, and by which tier and rule, decided from
//! live state: the controller's DCF objects and the cluster's pods, namespaces, services and FirewallPolicy
//! objects, read through the provider's clients. It never reads the Terraform configuration, so a `check`
//! block or a `terraform test` assertion on it proves what the gateway does, not what was written.
//!
//! The decision itself is the policy crate's ([`crate::policy::eval`]), the same code the lab's enforcement
//! point runs; this file only gathers its inputs (one read of the controller per data source read, no call
//! per rule) and turns the verdict into attributes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clients::kube::FirewallPolicyState;
use crate::clients::retry::Budget;
use crate::plugin::{AttributePath, CallContext, DataSource, Diagnostic, Diagnostics, Known, Outcome, TfSchema};
use crate::policy::eval::{BadAttempt, ControllerView, Destination, Host, Protocol, Tree, Verdict, Workload};
use crate::provider::AviatrixProvider;
use crate::resources::{failed, invalid};

const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const DEFAULT_PORT: u16 = 443;

/// What the enforcing gateway decides for one egress attempt from a pod, from live state: the controller's
/// DCF rule tree (rulesets at the attachment points, the Kubernetes-managed rulesets of reconciled
/// FirewallPolicies, the V1 policy list, the default action) and the pod as the cluster has it (labels, IP,
/// namespace labels, the services that select it). Meant for `check` blocks and `terraform test`: it reads
/// nothing of the configuration, so it shows what is enforced, not what was written.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct VerdictModel {
    /// The `id` of an `aviatrix_mcp_egress_cluster`: the controller's ID for the onboarded cluster. The pod
    /// is read from the provider's `kubernetes` cluster, which must be that cluster.
    #[tf(required)]
    pub cluster: Known<String>,
    /// The pod's namespace.
    #[tf(required)]
    pub namespace: Known<String>,
    /// A pod in `namespace`, by name. Exactly one of `pod` and `pod_labels`.
    #[tf(optional)]
    pub pod: Option<Known<String>>,
    /// A hypothetical pod in `namespace` with these labels and no IP (so CIDR SmartGroups cannot match it):
    /// what a server about to be deployed would get. Exactly one of `pod` and `pod_labels`.
    #[tf(optional)]
    pub pod_labels: Option<Known<BTreeMap<String, String>>>,
    /// The destination: the host name the client asks for (the TLS server name), or an IP address. Compared
    /// as the gateway compares server names: case-insensitive, a trailing dot ignored, Unicode as punycode.
    #[tf(required)]
    pub host: String,
    /// The destination port: 443 unless set; 0 (and only 0) for `icmp`.
    #[tf(optional, computed)]
    pub port: Option<u16>,
    /// `tcp` (unless set), `udp` or `icmp`.
    #[tf(optional, computed)]
    pub protocol: Option<String>,
    /// `permit`, `drop`, or `watch` (a deny rule that only monitors: the traffic passes and is logged).
    #[tf(computed)]
    pub action: Option<String>,
    /// 1 (named permits, before the Kubernetes-managed rules), 2 (the Kubernetes-managed rules of
    /// FirewallPolicies), 3 (after them: the default deny), or 0 when the V1 policy list or the controller's
    /// default action decided.
    #[tf(computed)]
    pub tier: Option<u8>,
    /// The deciding rule's name (`default-action` when no rule matched).
    #[tf(computed)]
    pub rule: Option<String>,
    /// The deciding rule's UUID (empty for the default action).
    #[tf(computed)]
    pub rule_uuid: Option<String>,
    /// The name of the ruleset the deciding rule belongs to (`V1 policy list` for the V1 list, empty for the
    /// default action).
    #[tf(computed)]
    pub ruleset: Option<String>,
    /// One sentence on what matched, with what the decision depends on (an unreconciled FirewallPolicy in
    /// the namespace, a cluster whose labels the controller cannot resolve).
    #[tf(computed)]
    pub reason: Option<String>,
    /// Whether the gateway logs the decision.
    #[tf(computed)]
    pub logged: Option<bool>,
    /// The pod's IP (`status.podIP`); null for `pod_labels` and for a pod that has none yet.
    #[tf(computed)]
    pub pod_ip: Option<String>,
}

pub struct VerdictDataSource {
    pub provider: Arc<AviatrixProvider>,
}

fn known<T>(value: &Option<Known<T>>) -> Option<&T> {
    value.as_ref().and_then(Known::value)
}

/// The protocol as written (`tcp` unless set), or why it is not accepted.
fn protocol_of(config: &VerdictModel) -> Result<Protocol, Diagnostic> {
    let written = config.protocol.as_deref().unwrap_or("tcp");
    match Protocol::parse(written) {
        Some(p @ (Protocol::Tcp | Protocol::Udp | Protocol::Icmp)) if written == p.as_str() => Ok(p),
        _ => Err(invalid(
            "protocol",
            "Invalid protocol",
            format!("protocol = {written:?} is not accepted; use \"tcp\", \"udp\" or \"icmp\"."),
        )),
    }
}

/// The port: as written, or 443 for tcp and udp and 0 for icmp when left out.
fn port_of(config: &VerdictModel, protocol: Protocol) -> Result<u16, Diagnostic> {
    match (protocol, config.port) {
        (Protocol::Icmp, None | Some(0)) => Ok(0),
        (Protocol::Icmp, Some(port)) => Err(invalid(
            "port",
            "Invalid port",
            format!("port = {port} with protocol = \"icmp\": ICMP has no ports; leave port out or set it to 0."),
        )),
        (_, None) => Ok(DEFAULT_PORT),
        (_, Some(0)) => Err(invalid(
            "port",
            "Invalid port",
            format!("port = 0 with protocol = {:?}; use a port from 1 to 65535.", protocol.as_str()),
        )),
        (_, Some(port)) => Ok(port),
    }
}

fn host_diagnostic(host: &str, error: &BadAttempt) -> Diagnostic {
    let why = match error {
        BadAttempt::Host { why, .. } => why.to_string(),
        other => other.to_string(),
    };
    invalid(
        "host",
        "Invalid host",
        format!(
            "host = {host:?} {why}. Accepted: a host name such as \"api.github.com\" (any case, a trailing dot and \
             Unicode are fine) or an IP address such as \"93.184.216.34\"; no scheme, port, path or wildcard."
        ),
    )
}

impl VerdictDataSource {
    /// The pod (`pod`) or the hypothetical one (`pod_labels`) as the controller would see it.
    async fn workload(
        &self,
        config: &VerdictModel,
        cluster: &Value,
        budget: &Budget,
    ) -> Result<(Workload, Vec<FirewallPolicyState>), Diagnostics> {
        let kube = self.provider.kubernetes().await?;
        let namespace = config.namespace.value().cloned().unwrap_or_default();
        let cluster_id = cluster["cluster_id"].as_str().unwrap_or_default().to_string();
        let pod = async {
            match known(&config.pod) {
                Some(name) => kube.pod(&namespace, name, budget).await.map(|p| p.map(Box::new)),
                None => Ok(None),
            }
        };
        let (pod, ns, services, policies) = tokio::try_join!(
            pod,
            kube.namespace(&namespace, budget),
            kube.services(&namespace, budget),
            kube.firewall_policy_states(budget),
        )
        .map_err(|e| failed("read the pod's namespace, services and FirewallPolicies from the cluster", e))?;
        let Some(ns) = ns else {
            return Err(invalid(
                "namespace",
                "No such namespace",
                format!(
                    "namespace = {namespace:?}: the cluster (controller cluster {cluster_id}) has no namespace of that name."
                ),
            )
            .into());
        };
        let pod = match (known(&config.pod), pod) {
            (Some(name), None) => {
                return Err(invalid(
                    "pod",
                    "No such pod",
                    format!(
                        "pod = {name:?}: there is no pod {name} in namespace {namespace} of cluster {cluster_id}; give the name of a running pod (kubectl get pods -n {namespace}), or describe a hypothetical one with pod_labels."
                    ),
                )
                .into())
            }
            (_, pod) => pod,
        };
        let labels = match &pod {
            Some(pod) => pod.metadata.labels.clone().unwrap_or_default(),
            None => known(&config.pod_labels).cloned().unwrap_or_default(),
        };
        Ok((workload(cluster, &ns, pod.as_deref(), labels, &services), policies))
    }
}

/// The source of the attempt as the controller resolves it: its cluster's `cluster_id`, the namespace and
/// its labels, the pod's name, labels and IP (none for a hypothetical pod), and the services whose selector
/// picks it. Kubernetes SmartGroups resolve unless the cluster registered in another state than `Connected`
/// (`Partial`, `Disconnected`).
fn workload(
    cluster: &Value,
    namespace: &Namespace,
    pod: Option<&Pod>,
    labels: BTreeMap<String, String>,
    services: &[Service],
) -> Workload {
    let selects = |service: &Service| {
        service
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.as_ref())
            .is_some_and(|selector| !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    let services = services.iter().filter(|s| selects(s)).filter_map(|s| s.metadata.name.clone()).collect();
    Workload {
        cluster_id: cluster["cluster_id"].as_str().unwrap_or_default().to_string(),
        namespace: namespace.metadata.name.clone().unwrap_or_default(),
        name: pod.and_then(|p| p.metadata.name.clone()).unwrap_or_default(),
        namespace_labels: namespace.metadata.labels.clone().unwrap_or_default(),
        services,
        ip: pod
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        labels,
        // `status` is what the cluster registered as; a controller that reports no state is taken at its
        // word that the cluster is onboarded (the lab's reconciler does the same).
        resolvable: cluster["status"].as_str().is_none_or(|status| status == "Connected"),
    }
}

/// The rulesets the controller enforces as Kubernetes-managed: those of FirewallPolicies it has reconciled
/// at their current generation.
fn enforced_rulesets(policies: &[FirewallPolicyState]) -> BTreeSet<String> {
    policies.iter().filter(|p| p.reconciled()).filter_map(|p| p.ruleset.clone()).collect()
}

/// The verdict's reason with what it depends on beyond the matching rule.
fn explain(verdict: &Verdict, workload: &Workload, cluster: &Value, policies: &[FirewallPolicyState]) -> String {
    let mut reason = verdict.reason.clone();
    let pending: Vec<String> = policies
        .iter()
        .filter(|p| p.namespace == workload.namespace && !p.reconciled())
        .map(|p| {
            let at = match p.last_reconciled_generation {
                Some(done) => format!("the controller has generation {done}"),
                None => "the controller has not reconciled it".to_string(),
            };
            format!(
                "FirewallPolicy {}/{} is not reconciled yet (generation {}, {at}), so its rules are not enforced",
                p.namespace,
                p.name,
                p.generation.unwrap_or(0)
            )
        })
        .collect();
    for note in pending {
        reason.push_str("; ");
        reason.push_str(&note);
    }
    if !workload.resolvable {
        reason.push_str(&format!(
            "; cluster {} is {:?} on the controller, which then resolves no Kubernetes SmartGroups (labels, namespaces) for its pods: only CIDR SmartGroups match",
            workload.cluster_id,
            cluster["status"].as_str().unwrap_or("not connected")
        ));
    }
    if workload.ip.is_none() {
        reason.push_str("; the pod has no IP, so no CIDR SmartGroup matches it");
    }
    reason
}

#[tonic::async_trait]
impl DataSource for VerdictDataSource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_verdict";
    type Model = VerdictModel;

    fn validate(&self, config: &VerdictModel) -> Diagnostics {
        let mut problems = Vec::new();
        match (&config.pod, &config.pod_labels) {
            (Some(_), Some(_)) => problems.push(invalid(
                "pod_labels",
                "Both pod and pod_labels",
                "pod and pod_labels are both set; give exactly one of them: pod for a pod that runs, pod_labels for a hypothetical pod with those labels.".into(),
            )),
            (None, None) => problems.push(Diagnostic::error(
                "Neither pod nor pod_labels",
                "Give exactly one of pod (the name of a pod in namespace) and pod_labels (the labels of a hypothetical pod).",
            )),
            _ => {}
        }
        for (attr, value) in [("cluster", config.cluster.value()), ("namespace", config.namespace.value())] {
            if value.is_some_and(|v| v.trim().is_empty()) {
                problems.push(invalid(attr, "Empty value", format!("{attr} is empty.")));
            }
        }
        if known(&config.pod).is_some_and(|p| p.trim().is_empty()) {
            problems.push(invalid("pod", "Empty value", "pod is empty; give a pod name.".into()));
        }
        if let Err(e) = Host::parse(&config.host) {
            problems.push(host_diagnostic(&config.host, &e));
        }
        match protocol_of(config) {
            Ok(protocol) => problems.extend(port_of(config, protocol).err()),
            Err(d) => problems.push(d),
        }
        Diagnostics(problems)
    }

    async fn read(&self, ctx: &CallContext, mut config: VerdictModel) -> Outcome<VerdictModel> {
        let budget = Budget::new(READ_TIMEOUT, ctx.cancel.clone());
        let protocol = protocol_of(&config).map_err(Diagnostics::from)?;
        let port = port_of(&config, protocol).map_err(Diagnostics::from)?;
        let controller = self.provider.controller()?;
        let id = config.cluster.value().cloned().unwrap_or_default();
        let cluster = controller.k8s_cluster(&id, &budget).await.map_err(|e| {
            if e.is_not_found() {
                Diagnostics::from(invalid(
                    "cluster",
                    "No such cluster",
                    format!("cluster = {id:?}: the controller has no onboarded cluster with that ID; give the id of an aviatrix_mcp_egress_cluster (GET /v2.5/api/k8s/clusters lists them)."),
                ))
            } else {
                failed("read the onboarded cluster", e)
            }
        })?;
        let ((workload, policies), objects) = tokio::try_join!(self.workload(&config, &cluster, &budget), async {
            controller.dcf_objects(&budget).await.map_err(|e| failed("read the controller's DCF policy", e))
        })?;
        let k8s_managed = enforced_rulesets(&policies);
        let tree = Tree::from_controller(ControllerView {
            rulesets: &objects.rulesets,
            app_domains: &objects.app_domains,
            attachment_points: &objects.attachment_points,
            v1_policies: &objects.v1_policies,
            default_action: &objects.default_action,
            k8s_managed: &k8s_managed,
        })
        .map_err(|e| Diagnostics::from(Diagnostic::error("The controller's DCF policy cannot be evaluated", e)))?;
        let destination = Destination { host: config.host.clone(), port, protocol };
        let verdict = tree.evaluate(&workload, &destination).map_err(|e| match e {
            BadAttempt::Host { .. } => Diagnostics::from(host_diagnostic(&config.host, &e)),
            other => Diagnostics::from(
                Diagnostic::error("Invalid attempt", other.to_string())
                    .at(AttributePath::root().attr(if other == BadAttempt::Port { "port" } else { "protocol" })),
            ),
        })?;
        tracing::debug!(pod = %workload.name, host = %config.host, port, action = %verdict.action, rule = %verdict.rule, "verdict");
        config.reason = Some(explain(&verdict, &workload, &cluster, &policies));
        config.port = Some(port);
        config.protocol = Some(protocol.as_str().to_string());
        config.action = Some(verdict.action.as_str().to_string());
        config.tier = Some(verdict.tier);
        config.rule = Some(verdict.rule);
        config.rule_uuid = Some(verdict.rule_uuid);
        config.ruleset = Some(verdict.ruleset);
        config.logged = Some(verdict.logged);
        config.pod_ip = workload.ip.map(|ip| ip.to_string());
        Ok(config.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::component::DynDataSource;
    use crate::plugin::value::Value as TfValue;
    use k8s_openapi::api::core::v1::{PodStatus, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    fn model() -> VerdictModel {
        VerdictModel {
            cluster: Known::Value("c-1".into()),
            namespace: Known::Value("obot-mcp".into()),
            pod: Some(Known::Value("healthcare-mcp-7f4d9c".into())),
            pod_labels: None,
            host: "api.ehr.example.com".into(),
            port: None,
            protocol: None,
            action: None,
            tier: None,
            rule: None,
            rule_uuid: None,
            ruleset: None,
            reason: None,
            logged: None,
            pod_ip: None,
        }
    }

    fn source() -> VerdictDataSource {
        VerdictDataSource { provider: Arc::new(AviatrixProvider::default()) }
    }

    fn problems(model: &VerdictModel) -> Vec<(String, String)> {
        let value = crate::plugin::bridge::to_value(model).unwrap();
        DynDataSource::validate(&source(), &value)
            .0
            .into_iter()
            .map(|d| (d.path.map(|p| p.to_string()).unwrap_or_default(), d.detail))
            .collect()
    }

    #[test]
    fn exactly_one_of_pod_and_pod_labels() {
        assert!(problems(&model()).is_empty());
        let both = VerdictModel { pod_labels: Some(Known::Value([("app".into(), "x".into())].into())), ..model() };
        let found = problems(&both);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "pod_labels");
        assert!(found[0].1.contains("pod and pod_labels are both set"), "{}", found[0].1);
        let neither = problems(&VerdictModel { pod: None, ..model() });
        assert!(neither[0].1.contains("pod (the name") && neither[0].1.contains("pod_labels"), "{neither:?}");
        let labels_only = VerdictModel { pod: None, pod_labels: Some(Known::Value(BTreeMap::new())), ..model() };
        assert!(problems(&labels_only).is_empty());
    }

    #[test]
    fn hosts_protocols_and_ports_are_checked_on_their_attribute() {
        let bad_host = problems(&VerdictModel { host: "https://exfil.attacker.io/x".into(), ..model() });
        assert_eq!(bad_host[0].0, "host");
        assert!(bad_host[0].1.starts_with("host = \"https://exfil.attacker.io/x\" is not a host name"), "{bad_host:?}");
        assert!(bad_host[0].1.contains("Accepted: a host name"), "{bad_host:?}");
        for ok in ["API.EHR.example.com.", "shop.bücher.example", "93.184.216.34", "[::1]"] {
            assert!(problems(&VerdictModel { host: ok.into(), ..model() }).is_empty(), "{ok}");
        }
        let any = problems(&VerdictModel { protocol: Some("any".into()), ..model() });
        assert_eq!(any[0].0, "protocol");
        assert!(any[0].1.contains("use \"tcp\", \"udp\" or \"icmp\""), "{any:?}");
        let icmp_port = problems(&VerdictModel { protocol: Some("icmp".into()), port: Some(443), ..model() });
        assert_eq!(icmp_port[0].0, "port");
        let zero = problems(&VerdictModel { port: Some(0), ..model() });
        assert!(zero[0].1.contains("from 1 to 65535"), "{zero:?}");
        let m = VerdictModel { protocol: Some("icmp".into()), ..model() };
        assert_eq!(port_of(&m, protocol_of(&m).unwrap()).unwrap(), 0);
        assert_eq!(port_of(&model(), Protocol::Tcp).unwrap(), 443);
    }

    #[test]
    fn an_unknown_cluster_still_lets_the_host_be_checked() {
        let mut value = crate::plugin::bridge::to_value(&VerdictModel { host: "a b".into(), ..model() }).unwrap();
        if let TfValue::Object(m) = &mut value {
            m.insert("cluster".into(), TfValue::Unknown);
        }
        let diags = DynDataSource::validate(&source(), &value).0;
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].path.as_ref().unwrap().to_string(), "host");
    }

    fn meta(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    fn service(name: &str, selector: &[(&str, &str)]) -> Service {
        Service {
            metadata: meta(name, &[]),
            spec: Some(ServiceSpec {
                selector: Some(selector.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_workload_is_the_pod_as_the_controller_resolves_it() {
        let cluster =
            json!({"id": "c-1", "cluster_id": "arn:aws:eks:us-east-1:1:cluster/lab-eks", "status": "Connected"});
        let ns = Namespace { metadata: meta("obot-mcp", &[("team", "mcp")]), ..Default::default() };
        let pod = Pod {
            metadata: meta("healthcare-mcp-7f4d9c", &[("app", "healthcare-mcp"), ("tier", "mcp")]),
            status: Some(PodStatus { pod_ip: Some("10.0.1.17".into()), ..Default::default() }),
            ..Default::default()
        };
        let labels = pod.metadata.labels.clone().unwrap();
        let services = [
            service("healthcare", &[("app", "healthcare-mcp")]),
            service("other", &[("app", "search-mcp")]),
            service("headless", &[]),
        ];
        let w = workload(&cluster, &ns, Some(&pod), labels, &services);
        assert_eq!(w.cluster_id, "arn:aws:eks:us-east-1:1:cluster/lab-eks");
        assert_eq!((w.namespace.as_str(), w.name.as_str()), ("obot-mcp", "healthcare-mcp-7f4d9c"));
        assert_eq!(w.namespace_labels["team"], "mcp");
        assert_eq!(w.services, ["healthcare".to_string()].into(), "a selector that picks nothing picks no pod");
        assert_eq!(w.ip, Some("10.0.1.17".parse().unwrap()));
        assert!(w.resolvable);

        let partial = json!({"cluster_id": "x", "status": "Partial"});
        let hypothetical =
            workload(&partial, &ns, None, [("app".to_string(), "search-mcp".to_string())].into(), &services);
        assert!(!hypothetical.resolvable && hypothetical.ip.is_none() && hypothetical.name.is_empty());
        assert_eq!(hypothetical.services, ["other".to_string()].into());
        let stateless = workload(&json!({"cluster_id": "x"}), &ns, None, BTreeMap::new(), &services);
        assert!(stateless.resolvable, "a cluster without a reported state is taken as connected");
    }

    #[test]
    fn only_reconciled_policies_are_enforced_and_pending_ones_are_named() {
        let policy = |name: &str, generation, done: Option<i64>| FirewallPolicyState {
            namespace: "obot-mcp".into(),
            name: name.into(),
            generation: Some(generation),
            last_reconciled_generation: done,
            ruleset: done.map(|_| format!("rs-{name}")),
        };
        let policies = [policy("s1", 1, Some(1)), policy("s2", 2, Some(1)), policy("s3", 1, None)];
        assert_eq!(enforced_rulesets(&policies), ["rs-s1".to_string()].into());
        let verdict = Verdict {
            action: crate::policy::eval::Action::Drop,
            tier: 3,
            rule: "tier3-default-deny".into(),
            rule_uuid: "u".into(),
            ruleset: "tier3".into(),
            position: crate::policy::eval::Position::AfterK8s,
            logged: true,
            reason: "rule tier3-default-deny denies".into(),
        };
        let cluster = json!({"cluster_id": "arn", "status": "Connected"});
        let w = Workload {
            namespace: "obot-mcp".into(),
            resolvable: true,
            ip: Some("10.0.0.1".parse().unwrap()),
            ..Default::default()
        };
        let reason = explain(&verdict, &w, &cluster, &policies);
        assert!(reason.starts_with("rule tier3-default-deny denies; FirewallPolicy obot-mcp/s2 is not reconciled yet (generation 2, the controller has generation 1)"), "{reason}");
        assert!(
            reason.contains("obot-mcp/s3 is not reconciled yet (generation 1, the controller has not reconciled it)"),
            "{reason}"
        );
        assert!(!reason.contains("obot-mcp/s1"), "{reason}");
        let elsewhere = Workload { namespace: "default".into(), ..w.clone() };
        assert_eq!(explain(&verdict, &elsewhere, &cluster, &policies), verdict.reason);
        let partial = Workload { resolvable: false, ip: None, ..elsewhere };
        let reason = explain(&verdict, &partial, &json!({"status": "Partial"}), &policies);
        assert!(reason.contains("is \"Partial\" on the controller") && reason.contains("has no IP"), "{reason}");
    }
}
