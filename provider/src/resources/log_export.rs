//! `aviatrix_mcp_egress_log_export`: a remote syslog profile on the controller
//! (`enable_remote_syslog_logging`), so that every gateway sends its decisions, the containment's drops
//! included, to a SIEM.
//!
//! A profile lives at an index, 0 to 8 (9 is CoPilot's). Read is `get_remote_syslog_logging_status`: a
//! profile disabled behind Terraform's back is gone (the next plan creates it again), one changed is drift.
//! Create adopts a profile already at the index when it is the one configured (an interrupted create), and
//! refuses one that differs, naming what holds the index. Delete disables the profile. The TLS private key is
//! write-only: it reaches the controller on create and on updates, never the state, the plan or a log; a new
//! key is applied by changing `private_key_version`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{budget, failed, invalid};
use crate::clients::controller::{ControllerClient, ControllerError};
use crate::clients::retry::Budget;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::{CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Private, Resource, TfSchema};
use crate::provider::AviatrixProvider;

const TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The index the controller keeps for CoPilot.
const COPILOT_INDEX: i64 = 9;

/// A remote syslog profile on the controller: where the gateways send their logs.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
pub struct LogExportState {
    /// The profile's index, as text; the import ID.
    #[tf(computed, use_state_for_unknown)]
    pub id: Known<String>,
    /// The profile's slot on the controller, 0 to 8 (9 is reserved for CoPilot). Changing it replaces the
    /// profile.
    #[tf(requires_replace)]
    pub index: i64,
    /// The profile's name, as the controller's logging settings show it.
    pub name: String,
    /// The syslog server's address or host name, as the gateways reach it.
    pub server: String,
    /// The syslog server's port, 1 to 65535.
    pub port: i64,
    /// `tcp` (the default) or `udp`. TLS needs `tcp`.
    #[tf(optional, computed, default = "tcp")]
    pub protocol: Option<String>,
    /// An rsyslog template for the lines, when the server wants a format of its own.
    #[tf(optional)]
    pub template: Option<String>,
    /// Names of gateways that do not send to this profile.
    #[tf(optional)]
    pub exclude_gateways: Option<Vec<String>>,
    /// TLS: the CA certificate (PEM) the server's certificate must chain to. Setting it turns TLS on.
    #[tf(optional)]
    pub ca_certificate: Option<String>,
    /// TLS: the gateways' client certificate (PEM), with `private_key`.
    #[tf(optional)]
    pub public_certificate: Option<String>,
    /// TLS: the client certificate's private key (PEM). Write-only: sent to the controller, never kept in
    /// state or shown in a plan. Change `private_key_version` to send a new one.
    #[tf(optional, sensitive, write_only)]
    pub private_key: Option<String>,
    /// Any number that changes when `private_key` does; required with `private_key`. The key itself is never
    /// stored, so this is how a plan knows to send it again.
    #[tf(optional)]
    pub private_key_version: Option<i64>,
    #[tf(block)]
    pub timeouts: Option<Timeouts>,
}

/// What the controller holds at an index, in the terms the resource compares.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Profile {
    name: String,
    server: String,
    port: i64,
    /// Lowercase: `tcp` or `udp`.
    protocol: String,
    template: String,
    exclude_gateways: Vec<String>,
    ca_certificate: String,
    public_certificate: String,
}

fn text(value: &Value, key: &str) -> String {
    match &value[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

impl Profile {
    /// The profile a status answer describes; `None` when the index is disabled.
    fn from_status(status: &Value) -> Option<Profile> {
        if status["status"].as_str() != Some("enabled") {
            return None;
        }
        let exclude = match &status["exclude_gateway_list"] {
            Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            other => other
                .as_str()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect(),
        };
        Some(Profile {
            name: text(status, "name"),
            server: text(status, "server"),
            port: text(status, "port").parse().unwrap_or(0),
            protocol: text(status, "protocol").to_ascii_lowercase(),
            template: text(status, "template"),
            exclude_gateways: exclude,
            ca_certificate: text(status, "ca_certificate"),
            public_certificate: text(status, "public_certificate"),
        })
    }

    fn of(state: &LogExportState) -> Profile {
        Profile {
            name: state.name.clone(),
            server: state.server.clone(),
            port: state.port,
            protocol: state.protocol.clone().unwrap_or_else(|| "tcp".into()),
            template: state.template.clone().unwrap_or_default(),
            exclude_gateways: state.exclude_gateways.clone().unwrap_or_default(),
            ca_certificate: state.ca_certificate.clone().unwrap_or_default(),
            public_certificate: state.public_certificate.clone().unwrap_or_default(),
        }
    }

    fn describe(&self) -> String {
        format!("profile {:?} ({} {}:{})", self.name, self.protocol, self.server, self.port)
    }

    /// The state for this profile: values the configuration left null stay null when the controller holds
    /// their empty form.
    fn state(&self, index: i64, prior: &LogExportState) -> LogExportState {
        let keep_null = |reported: &str, prior: &Option<String>| {
            if reported.is_empty() && prior.as_deref().is_none_or(str::is_empty) {
                prior.clone()
            } else {
                Some(reported.to_string())
            }
        };
        LogExportState {
            id: Known::Value(index.to_string()),
            index,
            name: self.name.clone(),
            server: self.server.clone(),
            port: self.port,
            protocol: Some(self.protocol.clone()),
            template: keep_null(&self.template, &prior.template),
            exclude_gateways: if self.exclude_gateways.is_empty()
                && prior.exclude_gateways.as_ref().is_none_or(Vec::is_empty)
            {
                prior.exclude_gateways.clone()
            } else {
                Some(self.exclude_gateways.clone())
            },
            ca_certificate: keep_null(&self.ca_certificate, &prior.ca_certificate),
            public_certificate: keep_null(&self.public_certificate, &prior.public_certificate),
            private_key: None,
            private_key_version: prior.private_key_version,
            timeouts: prior.timeouts.clone(),
        }
    }
}

pub struct LogExportResource {
    pub provider: Arc<AviatrixProvider>,
}

impl LogExportResource {
    async fn status(client: &ControllerClient, index: i64, budget: &Budget) -> Result<Value, ControllerError> {
        client.query("get_remote_syslog_logging_status", &[("index", &index.to_string())], budget).await
    }

    /// Enables the profile at the planned index with everything configured, the private key included.
    async fn enable(client: &ControllerClient, planned: &LogExportState, budget: &Budget) -> Result<(), Diagnostics> {
        let wanted = Profile::of(planned);
        let index = planned.index.to_string();
        let port = wanted.port.to_string();
        let protocol = wanted.protocol.to_ascii_uppercase();
        let exclude = wanted.exclude_gateways.join(",");
        let mut params: Vec<(&str, &str)> = vec![
            ("index", &index),
            ("name", &wanted.name),
            ("server", &wanted.server),
            ("port", &port),
            ("protocol", &protocol),
        ];
        for (key, value) in [
            ("template", &wanted.template),
            ("exclude_gateway_list", &exclude),
            ("ca_certificate", &wanted.ca_certificate),
            ("public_certificate", &wanted.public_certificate),
        ] {
            if !value.is_empty() {
                params.push((key, value));
            }
        }
        if let Some(key) = planned.private_key.as_deref().filter(|k| !k.is_empty()) {
            params.push(("private_key", key));
        }
        tracing::info!(index = planned.index, server = %wanted.server, port = wanted.port, protocol = %wanted.protocol, "enabling the remote syslog profile");
        let confirm = || async {
            let status = Self::status(client, planned.index, budget).await?;
            Ok((Profile::from_status(&status).as_ref() == Some(&wanted)).then_some(Value::Null))
        };
        client
            .action("enable_remote_syslog_logging", &params, budget, confirm)
            .await
            .map(|_| ())
            .map_err(|e| failed(&format!("enable remote syslog profile {}", planned.index), e))
    }

    async fn read_profile(
        client: &ControllerClient,
        index: i64,
        budget: &Budget,
    ) -> Result<Option<Profile>, Diagnostics> {
        let status = Self::status(client, index, budget)
            .await
            .map_err(|e| failed(&format!("read remote syslog profile {index}"), e))?;
        Ok(Profile::from_status(&status))
    }
}

fn check_index(index: i64) -> Option<Diagnostic> {
    match index {
        0..=8 => None,
        COPILOT_INDEX => Some(invalid(
            "index",
            "Index reserved for CoPilot",
            "index = 9 is reserved for CoPilot on the controller; use an index from 0 to 8.".into(),
        )),
        other => Some(invalid(
            "index",
            "Invalid syslog profile index",
            format!("index = {other}: the controller has profiles 0 to 9, and 9 is CoPilot's; use 0 to 8."),
        )),
    }
}

#[tonic::async_trait]
impl Resource for LogExportResource {
    const TYPE_NAME: &'static str = "aviatrix_mcp_egress_log_export";
    type State = LogExportState;

    fn validate(&self, config: &LogExportState) -> Diagnostics {
        let mut problems: Vec<Diagnostic> = check_index(config.index).into_iter().collect();
        if !(1..=65535).contains(&config.port) {
            problems.push(invalid(
                "port",
                "Invalid port",
                format!("port = {}: use a port from 1 to 65535.", config.port),
            ));
        }
        let protocol = config.protocol.as_deref().unwrap_or("tcp");
        if protocol != "tcp" && protocol != "udp" {
            problems.push(invalid(
                "protocol",
                "Invalid protocol",
                format!("protocol = {protocol:?}: use \"tcp\" or \"udp\" (lowercase)."),
            ));
        }
        if config.server.trim().is_empty() || config.server.contains(char::is_whitespace) {
            problems.push(invalid(
                "server",
                "Invalid server",
                format!("server = {:?}: give the syslog server's address or host name.", config.server),
            ));
        }
        if config.name.trim().is_empty() {
            problems.push(invalid("name", "Empty name", "name is empty; give the profile a name.".into()));
        }
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let tls = set(&config.ca_certificate);
        if !tls {
            for (attr, given) in
                [("public_certificate", set(&config.public_certificate)), ("private_key", set(&config.private_key))]
            {
                if given {
                    problems.push(invalid(
                        attr,
                        "TLS material without a CA certificate",
                        format!("{attr} is only used with TLS, which ca_certificate turns on; set ca_certificate or remove {attr}."),
                    ));
                }
            }
        }
        if tls && protocol == "udp" {
            problems.push(invalid(
                "protocol",
                "TLS over UDP",
                "protocol = \"udp\" with ca_certificate: syslog over TLS runs on TCP; use protocol = \"tcp\".".into(),
            ));
        }
        if set(&config.public_certificate) != set(&config.private_key) {
            let missing = if set(&config.private_key) { "public_certificate" } else { "private_key" };
            problems.push(invalid(
                missing,
                "Incomplete client certificate",
                format!("{missing} is missing: a client certificate needs both public_certificate and private_key."),
            ));
        }
        if set(&config.private_key) && config.private_key_version.is_none() {
            problems.push(invalid(
                "private_key_version",
                "private_key_version required",
                "private_key is write-only and never stored, so a changed key is only noticed through private_key_version: set it (say to 1) and change it with the key.".into(),
            ));
        }
        if let Some(list) = &config.exclude_gateways {
            for (i, gateway) in list.iter().enumerate() {
                if gateway.trim().is_empty() || gateway.contains(',') {
                    problems.push(
                        Diagnostic::error(
                            "Invalid gateway name",
                            format!("exclude_gateways[{i}] = {gateway:?}: give one gateway name per entry."),
                        )
                        .at(crate::plugin::AttributePath::root().attr("exclude_gateways").index(i as i64)),
                    );
                }
            }
        }
        if let Some(t) = &config.timeouts {
            problems.extend(t.validate());
        }
        Diagnostics(problems)
    }

    async fn create(&self, ctx: &CallContext, planned: LogExportState, _: &mut Private) -> Outcome<LogExportState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Create, TIMEOUT)?;
        let client = self.provider.controller()?;
        let wanted = Profile::of(&planned);
        let mut warnings = Diagnostics::default();
        match Self::read_profile(&client, planned.index, &budget).await? {
            Some(held) if held == wanted => {
                tracing::info!(
                    index = planned.index,
                    "the syslog profile is there already: adopting it (an earlier create was interrupted)"
                );
                warnings.push(Diagnostic::warning(
                    "Adopted a syslog profile",
                    format!(
                        "remote syslog profile {} was already enabled as configured; it is now managed by this resource.",
                        planned.index
                    ),
                ));
                // The key cannot be read back: send it again so the controller has the configured one.
                if planned.private_key.is_some() {
                    Self::enable(&client, &planned, &budget).await?;
                }
            }
            Some(held) => {
                return Err(invalid(
                    "index",
                    "Syslog profile index in use",
                    format!(
                        "index = {}: the controller's remote syslog profile {} is {}, which this configuration did not make; choose a free index (0 to 8), or import it with `terraform import <address> {}`.",
                        planned.index, planned.index, held.describe(), planned.index
                    ),
                )
                .into());
            }
            None => Self::enable(&client, &planned, &budget).await?,
        }
        let held = Self::read_profile(&client, planned.index, &budget).await?.ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Syslog profile not enabled",
                format!(
                    "the controller reports remote syslog profile {} disabled right after enabling it.",
                    planned.index
                ),
            ))
        })?;
        Ok(Diagnosed::new(held.state(planned.index, &planned)).with_all(warnings))
    }

    async fn read(
        &self,
        ctx: &CallContext,
        current: LogExportState,
        _: &mut Private,
    ) -> Outcome<Option<LogExportState>> {
        let budget = budget(ctx, current.timeouts.as_ref(), Operation::Read, TIMEOUT)?;
        let client = self.provider.controller()?;
        Ok(Self::read_profile(&client, current.index, &budget).await?.map(|p| p.state(current.index, &current)).into())
    }

    async fn update(
        &self,
        ctx: &CallContext,
        _: LogExportState,
        planned: LogExportState,
        _: &mut Private,
    ) -> Outcome<LogExportState> {
        let budget = budget(ctx, planned.timeouts.as_ref(), Operation::Update, TIMEOUT)?;
        let client = self.provider.controller()?;
        // Enabling an index again replaces its profile: everything configured is sent, the key included.
        Self::enable(&client, &planned, &budget).await?;
        let held = Self::read_profile(&client, planned.index, &budget).await?.ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Syslog profile not enabled",
                format!(
                    "the controller reports remote syslog profile {} disabled right after enabling it.",
                    planned.index
                ),
            ))
        })?;
        Ok(held.state(planned.index, &planned).into())
    }

    async fn delete(&self, ctx: &CallContext, prior: LogExportState, _: &Private) -> Outcome<()> {
        let budget = budget(ctx, prior.timeouts.as_ref(), Operation::Delete, TIMEOUT)?;
        let client = self.provider.controller()?;
        let index = prior.index.to_string();
        tracing::info!(index = prior.index, "disabling the remote syslog profile");
        let confirm = || async {
            let status = Self::status(&client, prior.index, &budget).await?;
            Ok(Profile::from_status(&status).is_none().then_some(Value::Null))
        };
        client
            .action("disable_remote_syslog_logging", &[("index", &index)], &budget, confirm)
            .await
            .map(|_| ().into())
            .map_err(|e| failed(&format!("disable remote syslog profile {}", prior.index), e))
    }

    async fn import(&self, ctx: &CallContext, id: &str, _: &mut Private) -> Outcome<LogExportState> {
        let budget = budget(ctx, None, Operation::Read, TIMEOUT)?;
        let client = self.provider.controller()?;
        let bad = |why: String| Diagnostics::from(Diagnostic::error("Cannot import the syslog profile", why));
        let index: i64 = id
            .trim()
            .parse()
            .map_err(|_| bad(format!("import ID {id:?} is not a profile index; use the index, 0 to 8.")))?;
        if let Some(problem) = check_index(index) {
            return Err(problem.into());
        }
        let held = Self::read_profile(&client, index, &budget).await?.ok_or_else(|| {
            bad(format!("remote syslog profile {index} is disabled on the controller: nothing to import."))
        })?;
        let empty = LogExportState {
            id: Known::Value(index.to_string()),
            index,
            name: String::new(),
            server: String::new(),
            port: 0,
            protocol: None,
            template: None,
            exclude_gateways: None,
            ca_certificate: None,
            public_certificate: None,
            private_key: None,
            private_key_version: None,
            timeouts: None,
        };
        Ok(held.state(index, &empty).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> LogExportState {
        LogExportState {
            id: Known::Unknown,
            index: 0,
            name: "siem".into(),
            server: "10.0.0.5".into(),
            port: 5000,
            protocol: Some("udp".into()),
            template: None,
            exclude_gateways: None,
            ca_certificate: None,
            public_certificate: None,
            private_key: None,
            private_key_version: None,
            timeouts: None,
        }
    }

    fn problems(state: &LogExportState) -> Vec<(String, String)> {
        let resource = LogExportResource { provider: Arc::new(AviatrixProvider::default()) };
        resource
            .validate(state)
            .0
            .into_iter()
            .map(|d| (d.path.map(|p| p.to_string()).unwrap_or_default(), d.detail))
            .collect()
    }

    #[test]
    fn index_9_port_protocol_and_incomplete_tls_are_refused_with_what_is_accepted() {
        assert!(problems(&config()).is_empty());
        let copilot = problems(&LogExportState { index: 9, ..config() });
        assert_eq!(copilot[0].0, "index");
        assert!(copilot[0].1.contains("reserved for CoPilot"), "{copilot:?}");
        assert!(problems(&LogExportState { index: 12, ..config() })[0].1.contains("use 0 to 8"));
        assert_eq!(problems(&LogExportState { port: 0, ..config() })[0].0, "port");
        assert!(problems(&LogExportState { protocol: Some("TLS".into()), ..config() })[0]
            .1
            .contains("\"tcp\" or \"udp\""));

        let pem = Some("-----BEGIN CERTIFICATE-----".to_string());
        let over_udp = problems(&LogExportState { ca_certificate: pem.clone(), ..config() });
        assert!(over_udp.iter().any(|(p, d)| p == "protocol" && d.contains("runs on TCP")), "{over_udp:?}");
        let tcp = LogExportState { protocol: Some("tcp".into()), ca_certificate: pem.clone(), ..config() };
        let half = problems(&LogExportState { public_certificate: pem.clone(), ..tcp.clone() });
        assert!(half.iter().any(|(p, _)| p == "private_key"), "{half:?}");
        let key = Some("-----BEGIN PRIVATE KEY-----".to_string());
        let unversioned =
            problems(&LogExportState { public_certificate: pem.clone(), private_key: key.clone(), ..tcp.clone() });
        assert_eq!(unversioned.len(), 1);
        assert_eq!(unversioned[0].0, "private_key_version");
        assert!(!unversioned[0].1.contains("BEGIN PRIVATE KEY"), "a diagnostic never quotes the key");
        let complete =
            LogExportState { public_certificate: pem, private_key: key, private_key_version: Some(1), ..tcp };
        assert!(problems(&complete).is_empty());
        let no_ca = problems(&LogExportState {
            private_key: Some("k".into()),
            private_key_version: Some(1),
            protocol: Some("tcp".into()),
            ..config()
        });
        assert!(no_ca.iter().any(|(p, d)| p == "private_key" && d.contains("set ca_certificate")), "{no_ca:?}");
        let bad_gateway = problems(&LogExportState { exclude_gateways: Some(vec!["a,b".into()]), ..config() });
        assert_eq!(bad_gateway[0].0, "exclude_gateways[0]");
    }

    #[test]
    fn a_status_answer_reads_back_as_the_configured_profile() {
        let status = json!({"index": 0, "name": "siem", "server": "10.0.0.5", "port": 5000, "protocol": "UDP",
                            "template": "", "exclude_gateway_list": "gw-a, gw-b", "tls": false,
                            "ca_certificate": "", "public_certificate": "", "status": "enabled"});
        let held = Profile::from_status(&status).unwrap();
        assert_eq!(held.protocol, "udp");
        assert_eq!(held.exclude_gateways, ["gw-a", "gw-b"]);
        let state = held.state(0, &config());
        assert_eq!((state.template, state.ca_certificate), (None, None));
        assert_eq!(state.exclude_gateways, Some(vec!["gw-a".to_string(), "gw-b".to_string()]));
        assert_eq!(state.id.value().map(String::as_str), Some("0"));
        assert_eq!(Profile::from_status(&json!({"index": 0, "status": "disabled"})), None);
        let configured =
            Profile::of(&LogExportState { exclude_gateways: Some(vec!["gw-a".into(), "gw-b".into()]), ..config() });
        assert_eq!(configured, held);
    }
}
