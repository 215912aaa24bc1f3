//! The lab's enforcement point (PEP): decides an egress attempt from a pod as the spoke gateway would, over
//! the controller emulator's own state and the lab Kubernetes API's live pods, and records every decision.
//!
//! [`Pep::attempt`] reads the pod (labels, `status.podIP`, its namespace's labels, the Services whose
//! selector picks it) and the controller's DCF objects, evaluates them with `mcp_egress_policy::eval` (it
//! decides nothing itself), appends the [`Decision`] to `DIR/decisions.jsonl`, sends it to every enabled
//! remote syslog profile in the gateway's log shapes ([`syslog`]) and broadcasts it to subscribers. The
//! daemon serves it on its admin endpoint (`/pep/…`), the CLI's `attempt` and `decisions` call that, and a
//! web page can call the same endpoints or this API in-process.

pub mod http;
pub mod syslog;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use mcp_egress_policy::eval::{self, Action, BadAttempt, Destination, Protocol, Tree, Workload};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::controller::dcf::SinkGateway;
use crate::controller::Controller;
use crate::kube::ObjectReader;

/// The decision log's file name in the lab directory.
pub const DECISION_LOG: &str = "decisions.jsonl";

/// A pod, as `NAMESPACE/NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
}

impl PodRef {
    /// Parses `NAMESPACE/NAME`.
    pub fn parse(text: &str) -> Result<PodRef, AttemptError> {
        match text.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(PodRef { namespace: ns.to_string(), name: name.to_string() })
            }
            _ => Err(AttemptError::Input(format!(
                "pod {text:?}: give it as NAMESPACE/NAME, e.g. obot-mcp/healthcare-mcp-7f4d9c"
            ))),
        }
    }
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Parses a `HOST:PORT` destination (`[v6]:PORT` for an IPv6 literal) with its protocol name.
pub fn parse_destination(dst: &str, protocol: &str) -> Result<Destination, AttemptError> {
    let bad = |why: &str| AttemptError::Input(format!("dst {dst:?}: {why}; give HOST:PORT, e.g. api.example.com:443"));
    let (host, port) = dst.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    let protocol = match Protocol::parse(protocol) {
        Some(p) if p != Protocol::Any => p,
        _ => return Err(AttemptError::Input(format!("protocol {protocol:?}: use tcp, udp or icmp"))),
    };
    Ok(Destination { host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port, protocol })
}

/// One decision of the enforcement point, as the decision log holds it (one JSON object a line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Its position in the decision log, from 1.
    pub seq: u64,
    /// When it was decided, RFC 3339 UTC to the second.
    pub time: String,
    pub action: Action,
    /// The deciding rule's name (`default-action` when no rule matched).
    pub rule: String,
    /// The deciding rule's UUID (empty for the default action).
    pub rule_uuid: String,
    /// 1, 2 or 3; 0 for the V1 list and the default action.
    pub tier: u8,
    /// The ruleset the rule belongs to.
    pub ruleset: String,
    /// The pod's name.
    pub pod: String,
    pub namespace: String,
    /// `status.podIP` at the time of the attempt.
    pub pod_ip: Option<String>,
    /// The controller's ID of the cluster the pod ran in (empty when none is onboarded).
    pub cluster_id: String,
    /// The destination host as given.
    pub dst_host: String,
    pub port: u16,
    pub protocol: Protocol,
    /// What matched, in one sentence.
    pub reason: String,
    /// Whether the deciding rule (or default action) has logging on.
    pub logged: bool,
    /// The decision as one line: `<time> action=… rule=… pod=… dst=… port=… tier=…`.
    pub line: String,
}

/// Why an attempt was not decided.
#[derive(Debug)]
pub enum AttemptError {
    /// No such pod in the lab's Kubernetes.
    NoSuchPod(PodRef),
    /// The pod, host, port or protocol is malformed.
    Input(String),
    /// The controller's objects do not form a rule tree (a group that contains itself, a bad rule).
    Policy(String),
    /// The decision log could not be written.
    Log(anyhow::Error),
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::NoSuchPod(pod) => write!(f, "pod {pod} does not exist in the lab's Kubernetes"),
            AttemptError::Input(text) => f.write_str(text),
            AttemptError::Policy(text) => write!(f, "the controller's rule tree cannot be evaluated: {text}"),
            AttemptError::Log(e) => write!(f, "writing the decision log: {e:#}"),
        }
    }
}

impl std::error::Error for AttemptError {}

impl From<BadAttempt> for AttemptError {
    fn from(bad: BadAttempt) -> AttemptError {
        AttemptError::Input(bad.to_string())
    }
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// The workload the controller sees for `pod`: its labels, IP, namespace labels and the Services selecting it,
/// in the cluster the lab's Kubernetes backs.
pub fn workload(
    pod: &PodRef,
    object: &Value,
    namespace: Option<&Value>,
    services: &[Value],
    cluster: Option<&crate::controller::dcf::LabCluster>,
) -> Workload {
    let pod_labels = labels(object);
    let selected: BTreeSet<String> = services
        .iter()
        .filter(|svc| {
            let selector = svc.pointer("/spec/selector").and_then(Value::as_object);
            // A Service without a selector picks no pod (its endpoints are managed by hand).
            selector.is_some_and(|s| {
                !s.is_empty()
                    && s.iter()
                        .all(|(k, v)| v.as_str().is_some_and(|v| pod_labels.get(k).map(String::as_str) == Some(v)))
            })
        })
        .filter_map(|svc| svc.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
        .collect();
    Workload {
        cluster_id: cluster.map(|c| c.cluster_id.clone()).unwrap_or_default(),
        namespace: pod.namespace.clone(),
        name: pod.name.clone(),
        labels: pod_labels,
        namespace_labels: namespace.map(labels).unwrap_or_default(),
        services: selected,
        ip: object.pointer("/status/podIP").and_then(Value::as_str).and_then(|ip| ip.parse().ok()),
        resolvable: cluster.is_some_and(|c| c.connected),
    }
}

/// The enforcement point of one running lab.
pub struct Pep {
    controller: Arc<Controller>,
    kube: ObjectReader,
    log_path: PathBuf,
    /// Serialises appends and hands out `seq`: the next decision's number.
    next_seq: Mutex<u64>,
    sender: broadcast::Sender<Decision>,
}

impl Pep {
    /// The enforcement point over `controller` and `kube`, logging to `DIR/decisions.jsonl`.
    pub fn new(dir: &Path, controller: Arc<Controller>, kube: ObjectReader) -> anyhow::Result<Arc<Pep>> {
        let log_path = dir.join(DECISION_LOG);
        let existing = read_log(&log_path)?;
        let next = existing.last().map(|d| d.seq + 1).unwrap_or(1);
        let (sender, _) = broadcast::channel(1024);
        Ok(Arc::new(Pep { controller, kube, log_path, next_seq: Mutex::new(next), sender }))
    }

    /// The workload the gateway would see for `pod`, read from the live pod and the controller.
    pub fn workload(&self, pod: &PodRef) -> Result<Workload, AttemptError> {
        let object = self
            .kube
            .get_core("pods", &pod.namespace, &pod.name)
            .ok_or_else(|| AttemptError::NoSuchPod(pod.clone()))?;
        let namespace = self.kube.get_core("namespaces", "", &pod.namespace);
        let services = self.kube.list_core("services", Some(&pod.namespace));
        let cluster = self.controller.lab_cluster();
        Ok(workload(pod, &object, namespace.as_ref(), &services, cluster.as_ref()))
    }

    /// Every pod of `namespace` as the gateway would see it, in name order: what a page lists as the
    /// namespace's servers and offers as attempt sources.
    pub fn workloads(&self, namespace: &str) -> Vec<Workload> {
        let ns = self.kube.get_core("namespaces", "", namespace);
        let services = self.kube.list_core("services", Some(namespace));
        let cluster = self.controller.lab_cluster();
        self.kube
            .list_core("pods", Some(namespace))
            .iter()
            .filter_map(|pod| {
                let name = pod.pointer("/metadata/name").and_then(Value::as_str)?;
                let at = PodRef { namespace: namespace.to_string(), name: name.to_string() };
                Some(workload(&at, pod, ns.as_ref(), &services, cluster.as_ref()))
            })
            .collect()
    }

    /// Decides one attempt, records it, sends it to the syslog profiles and broadcasts it.
    pub async fn attempt(&self, pod: &PodRef, destination: &Destination) -> Result<Decision, AttemptError> {
        let workload = self.workload(pod)?;
        let tree = Tree::from_controller(self.controller.dcf_objects().view()).map_err(AttemptError::Policy)?;
        let verdict = tree.evaluate(&workload, destination)?;
        let now = chrono::Utc::now();
        let time = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut decision = Decision {
            seq: 0,
            line: eval::log_line(&time, &verdict, &pod.name, destination),
            time,
            action: verdict.action,
            rule: verdict.rule,
            rule_uuid: verdict.rule_uuid,
            tier: verdict.tier,
            ruleset: verdict.ruleset,
            pod: pod.name.clone(),
            namespace: pod.namespace.clone(),
            pod_ip: workload.ip.map(|ip| ip.to_string()),
            cluster_id: workload.cluster_id,
            dst_host: destination.host.clone(),
            port: destination.port,
            protocol: destination.protocol,
            reason: verdict.reason,
            logged: verdict.logged,
        };
        self.append(&mut decision).map_err(AttemptError::Log)?;
        crate::http::log("pep", &decision.line);
        self.export(&decision, &now).await;
        let _ = self.sender.send(decision.clone());
        Ok(decision)
    }

    fn append(&self, decision: &mut Decision) -> anyhow::Result<()> {
        let mut next = self.next_seq.lock().unwrap();
        decision.seq = *next;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))?;
        let mut line = serde_json::to_vec(decision)?;
        line.push(b'\n');
        file.write_all(&line).with_context(|| format!("appending to {}", self.log_path.display()))?;
        *next += 1;
        Ok(())
    }

    /// Sends the decision to every enabled syslog profile that does not exclude the sending gateway. A
    /// failure goes to the lab log only.
    async fn export(&self, decision: &Decision, now: &chrono::DateTime<chrono::Utc>) {
        let gateway = self
            .controller
            .sink_gateway()
            .unwrap_or_else(|| SinkGateway { name: "mcp-egress-lab".into(), ip: "127.0.0.1".into() });
        let line = syslog::line_for(decision, &gateway, now, std::process::id());
        for target in self.controller.syslog_targets() {
            if target.exclude_gateways.contains(&gateway.name) {
                continue;
            }
            if let Err(e) = syslog::send(&target, &line).await {
                crate::http::log(
                    "pep",
                    format!(
                        "decision {} not delivered to syslog profile {} ({} {}:{}): {e}",
                        decision.seq, target.index, target.protocol, target.server, target.port
                    ),
                );
            }
        }
    }

    /// Every decision so far, oldest first.
    pub fn decisions(&self) -> anyhow::Result<Vec<Decision>> {
        let _guard = self.next_seq.lock().unwrap();
        read_log(&self.log_path)
    }

    /// New decisions as they are made. Subscribe before reading [`Pep::decisions`] and skip `seq`s already
    /// seen, and nothing is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<Decision> {
        self.sender.subscribe()
    }
}

/// The decisions in a decision log file; none when it does not exist.
pub fn read_log(path: &Path) -> anyhow::Result<Vec<Decision>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{} line {}", path.display(), i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::dcf::LabCluster;
    use serde_json::json;

    fn pod_object() -> Value {
        json!({"metadata": {"name": "healthcare-mcp-7f4d9c", "namespace": "obot-mcp",
                            "labels": {"app": "healthcare-mcp", "tier": "mcp"}},
               "status": {"podIP": "10.244.0.17", "phase": "Running"}})
    }

    fn service(name: &str, selector: Value) -> Value {
        json!({"metadata": {"name": name}, "spec": {"selector": selector}})
    }

    #[test]
    fn the_workload_is_read_from_the_pod_its_namespace_and_the_services_selecting_it() {
        let pod = PodRef::parse("obot-mcp/healthcare-mcp-7f4d9c").unwrap();
        let ns = json!({"metadata": {"name": "obot-mcp", "labels": {"team": "ai"}}});
        let services = [
            service("healthcare", json!({"app": "healthcare-mcp"})),
            service("both", json!({"app": "healthcare-mcp", "tier": "mcp"})),
            service("other", json!({"app": "search-mcp"})),
            service("too-narrow", json!({"app": "healthcare-mcp", "tier": "web"})),
            json!({"metadata": {"name": "manual"}, "spec": {}}),
        ];
        let cluster = LabCluster { cluster_id: "arn:lab".into(), connected: true };
        let w = workload(&pod, &pod_object(), Some(&ns), &services, Some(&cluster));
        assert_eq!(
            (w.cluster_id.as_str(), w.namespace.as_str(), w.name.as_str()),
            ("arn:lab", "obot-mcp", "healthcare-mcp-7f4d9c")
        );
        assert_eq!(w.labels["app"], "healthcare-mcp");
        assert_eq!(w.namespace_labels["team"], "ai");
        assert_eq!(w.services.iter().map(String::as_str).collect::<Vec<_>>(), ["both", "healthcare"]);
        assert_eq!(w.ip, Some("10.244.0.17".parse().unwrap()));
        assert!(w.resolvable);

        let partial = LabCluster { connected: false, ..cluster };
        assert!(!workload(&pod, &pod_object(), None, &[], Some(&partial)).resolvable);
        let none = workload(&pod, &json!({"metadata": {}}), None, &[], None);
        assert!(!none.resolvable && none.cluster_id.is_empty() && none.ip.is_none());
    }

    #[test]
    fn pods_and_destinations_are_parsed_with_reasons() {
        assert!(PodRef::parse("no-namespace").unwrap_err().to_string().contains("NAMESPACE/NAME"));
        assert!(PodRef::parse("a/b/c").is_err());
        let d = parse_destination("api.example.com:443", "tcp").unwrap();
        assert_eq!((d.host.as_str(), d.port, d.protocol), ("api.example.com", 443, Protocol::Tcp));
        let v6 = parse_destination("[2001:db8::1]:53", "UDP").unwrap();
        assert_eq!((v6.host.as_str(), v6.protocol), ("2001:db8::1", Protocol::Udp));
        assert!(parse_destination("api.example.com", "tcp").unwrap_err().to_string().contains("no port"));
        assert!(parse_destination("api.example.com:99999", "tcp").unwrap_err().to_string().contains("port"));
        assert!(parse_destination("a.example:443", "sctp").unwrap_err().to_string().contains("tcp, udp or icmp"));
        assert!(parse_destination("a.example:443", "any").is_err());
    }
}
