//! What the controller pushes to its gateways, read in-process by the lab's enforcement point
//! ([`crate::pep`]): the DCF objects as the controller's API returns them, the onboarded cluster the lab's
//! Kubernetes backs, the remote syslog profiles with their TLS material, and the gateway that sends the logs.
//!
//! It only reads the controller's state; it decides nothing (the evaluation is `mcp_egress_policy::eval`).

use std::collections::BTreeSet;

use mcp_egress_policy::eval::ControllerView;
use serde_json::Value;

use super::rest::{greenfield_rule, CLUSTER_CONNECTED, CLUSTER_PARTIAL};
use super::{Controller, ATTACHMENT_POINTS};

/// The controller's DCF objects, copied out of its state so that evaluation holds no lock.
#[derive(Clone, Debug)]
pub struct DcfObjects {
    /// Every `policy-list3` object: rulesets and policy groups.
    pub rulesets: Vec<Value>,
    pub app_domains: Vec<Value>,
    pub attachment_points: Vec<(String, String)>,
    /// The V1 list as GET returns it: the stored entries, then the Greenfield rule.
    pub v1_policies: Vec<Value>,
    pub default_action: Value,
    /// The rulesets the controller made from reconciled FirewallPolicy objects.
    pub k8s_managed: BTreeSet<String>,
}

impl DcfObjects {
    /// The view `Tree::from_controller` takes.
    pub fn view(&self) -> ControllerView<'_> {
        ControllerView {
            rulesets: &self.rulesets,
            app_domains: &self.app_domains,
            attachment_points: &self.attachment_points,
            v1_policies: &self.v1_policies,
            default_action: &self.default_action,
            k8s_managed: &self.k8s_managed,
        }
    }
}

/// The onboarded cluster that the lab's Kubernetes API backs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabCluster {
    /// The controller's `cluster_id` (the EKS ARN or AKS resource ID it was onboarded with).
    pub cluster_id: String,
    /// `Connected`: its FirewallPolicies are reconciled and its Kubernetes SmartGroups resolve. Otherwise
    /// (`Partial`) only CIDR expressions match its pods.
    pub connected: bool,
}

/// TLS material of a syslog profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogTls {
    /// The CA the syslog server's certificate must chain to (PEM).
    pub ca_certificate: String,
    /// The gateway's client certificate (PEM), empty when none was given.
    pub public_certificate: String,
    /// Its private key (PEM); `None` when none was given or the lab restarted since (keys are not saved).
    pub private_key: Option<String>,
}

/// One enabled remote syslog profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogTarget {
    pub index: u8,
    pub name: String,
    pub server: String,
    pub port: u16,
    /// `TCP` or `UDP`.
    pub protocol: String,
    /// Gateways that do not send to this profile.
    pub exclude_gateways: Vec<String>,
    pub tls: Option<SyslogTls>,
}

/// The gateway a decision's log lines come from: its name and public IP, as the `GW-<name>-<ip>-sink`
/// syslog host field shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkGateway {
    pub name: String,
    pub ip: String,
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl Controller {
    /// The DCF objects as the controller's API returns them.
    pub fn dcf_objects(&self) -> DcfObjects {
        self.read(|s| {
            let mut v1_policies = s.policy_list.clone();
            v1_policies.push(greenfield_rule());
            DcfObjects {
                rulesets: s.rulesets.values().cloned().collect(),
                app_domains: s.app_domains.values().cloned().collect(),
                attachment_points: ATTACHMENT_POINTS.iter().map(|(n, id)| (n.to_string(), id.to_string())).collect(),
                v1_policies,
                default_action: s.default_action.clone(),
                k8s_managed: s
                    .rulesets
                    .iter()
                    .filter(|(_, r)| r.get("k8s_managed").and_then(Value::as_bool) == Some(true))
                    .map(|(uuid, _)| uuid.clone())
                    .collect(),
            }
        })
    }

    /// The onboarded cluster the lab's Kubernetes backs. Every onboarded cluster that is not `Disconnected` is
    /// backed by it (the lab has one Kubernetes API behind both managed cluster identities). When several are,
    /// the first `Connected` one in the controller's cluster-ID order wins, the one whose FirewallPolicies
    /// the controller reconciles; when none is connected, the first `Partial` one. `None` when no cluster is
    /// onboarded, or all are disconnected.
    pub fn lab_cluster(&self) -> Option<LabCluster> {
        self.read(|s| {
            let status = |c: &Value| c.get("status").and_then(Value::as_str).map(str::to_string);
            let pick = |wanted: &dyn Fn(Option<&str>) -> bool| {
                s.clusters.values().find(|c| wanted(status(c).as_deref())).map(|c| text(c, "cluster_id"))
            };
            // Clusters saved before states existed count as connected.
            if let Some(id) = pick(&|st| st.is_none_or(|st| st == CLUSTER_CONNECTED)) {
                return Some(LabCluster { cluster_id: id, connected: true });
            }
            pick(&|st| st == Some(CLUSTER_PARTIAL)).map(|id| LabCluster { cluster_id: id, connected: false })
        })
    }

    /// The enabled remote syslog profiles, in index order.
    pub fn syslog_targets(&self) -> Vec<SyslogTarget> {
        let keys = self.syslog_keys.lock().unwrap().clone();
        self.read(|s| {
            s.syslog
                .iter()
                .filter(|(_, p)| p.get("status").and_then(Value::as_str) == Some("enabled"))
                .filter_map(|(index, p)| {
                    let port = p.get("port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok())?;
                    let ca = text(p, "ca_certificate");
                    Some(SyslogTarget {
                        index: *index,
                        name: text(p, "name"),
                        server: text(p, "server"),
                        port,
                        protocol: text(p, "protocol"),
                        exclude_gateways: text(p, "exclude_gateway_list")
                            .split(',')
                            .map(str::trim)
                            .filter(|g| !g.is_empty())
                            .map(str::to_string)
                            .collect(),
                        tls: (!ca.is_empty()).then(|| SyslogTls {
                            ca_certificate: ca,
                            public_certificate: text(p, "public_certificate"),
                            private_key: keys.get(index).cloned(),
                        }),
                    })
                })
                .collect()
        })
    }

    /// The gateway that sends the decisions' logs: the first gateway in name order. `None` when the
    /// controller has no gateway.
    pub fn sink_gateway(&self) -> Option<SinkGateway> {
        self.read(|s| {
            s.gateways.values().next().map(|g| SinkGateway {
                name: g.vpc_name.clone(),
                ip: if g.public_ip.is_empty() { g.private_ip.clone() } else { g.public_ip.clone() },
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::super::{Controller, ControllerConfig};

    fn controller() -> (tempfile::TempDir, std::sync::Arc<Controller>) {
        let dir = tempfile::tempdir().unwrap();
        let c = Controller::open(dir.path(), ControllerConfig::for_tests(&["arn:a", "arn:b"]), HashMap::new()).unwrap();
        (dir, c)
    }

    #[test]
    fn the_lab_cluster_is_the_first_connected_then_the_first_partial() {
        let (_dir, c) = controller();
        assert_eq!(c.lab_cluster(), None);
        c.mutate(|s| {
            s.clusters.insert("1".into(), json!({"cluster_id": "arn:gone", "status": "Disconnected"}));
            s.clusters.insert("2".into(), json!({"cluster_id": "arn:a", "status": "Partial"}));
        });
        let partial = c.lab_cluster().unwrap();
        assert_eq!((partial.cluster_id.as_str(), partial.connected), ("arn:a", false));
        c.mutate(|s| {
            s.clusters.insert("3".into(), json!({"cluster_id": "arn:b", "status": "Connected"}));
        });
        let connected = c.lab_cluster().unwrap();
        assert_eq!((connected.cluster_id.as_str(), connected.connected), ("arn:b", true));
    }

    #[test]
    fn the_dcf_objects_mark_the_reconciled_rulesets_and_end_the_v1_list_with_greenfield() {
        let (_dir, c) = controller();
        c.mutate(|s| {
            s.rulesets.insert("k".into(), json!({"uuid": "k", "name": "k8s-x", "k8s_managed": true, "policies": []}));
            s.rulesets.insert("t".into(), json!({"uuid": "t", "name": "tier3", "policies": []}));
            s.policy_list = vec![json!({"name": "mine", "uuid": "m"})];
        });
        let objects = c.dcf_objects();
        assert_eq!(objects.k8s_managed.iter().collect::<Vec<_>>(), ["k"]);
        let v1: Vec<&str> = objects.v1_policies.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(v1, ["mine", "Greenfield-Rule"]);
        assert_eq!(objects.attachment_points.len(), 3);
        assert_eq!(objects.rulesets.len(), 2);
    }
}
