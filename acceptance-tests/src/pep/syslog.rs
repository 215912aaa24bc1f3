//! A decision in the gateway's log shapes (docs/decision-logs.md), and their delivery to the controller's
//! remote syslog profiles over UDP, TCP or TLS.
//!
//! The shapes are pure functions of a [`Decision`], the sending gateway and the time, so they are tested
//! without a network. Delivery never fails an attempt: the caller logs what did not arrive.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mcp_egress_policy::eval::{Action, Protocol};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::Decision;
use crate::controller::dcf::{SinkGateway, SyslogTarget, SyslogTls};

/// Facility local3, as the gateways' lines carry it (`<158>` info, `<153>` alert).
const FACILITY: u8 = 19;
const SEVERITY_ALERT: u8 = 1;
const SEVERITY_INFO: u8 = 6;

/// How long one delivery may take before it counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

/// The RFC 3164 header: `<PRI>Mmm dd hh:mm:ss GW-<name>-<ip>-sink`, the day padded with a space.
fn header(severity: u8, time: &DateTime<Utc>, gateway: &SinkGateway) -> String {
    format!("<{}>{} GW-{}-{}-sink", FACILITY * 8 + severity, time.format("%b %e %H:%M:%S"), gateway.name, gateway.ip)
}

/// Whether the gateway reports the decision as a deny (`drop`, and `watch`: a deny rule that only monitors).
fn denied(decision: &Decision) -> bool {
    decision.action != Action::Permit
}

/// The L7 line: `<PRI>Mmm dd hh:mm:ss GW-<name>-<ip>-sink traffic_server[<pid>]: {json}`, with the pod
/// attribution (`pod`, `namespace`, `rule_name`, `tier`, `verdict_line`) added to the gateway's keys.
pub fn l7_line(decision: &Decision, gateway: &SinkGateway, time: &DateTime<Utc>, pid: u32) -> String {
    let severity = if denied(decision) { SEVERITY_ALERT } else { SEVERITY_INFO };
    let mut body = json!({
        "priority": if denied(decision) { "LOG_ALERT" } else { "LOG_INFO" },
        "action": if denied(decision) { "Deny" } else { "Permit" },
        "reason": "POLICY",
        "src": decision.pod_ip.clone().unwrap_or_default(),
        "dest_port": decision.port,
        "enforced": decision.action != Action::Watch,
        "stage": "SNI",
        "sni_hostname": decision.dst_host,
        "decided_by": decision.rule_uuid,
        "proto": decision.protocol.as_str().to_ascii_uppercase(),
        "timestamp": time.timestamp(),
        "pod": decision.pod,
        "namespace": decision.namespace,
        "rule_name": decision.rule,
        "tier": decision.tier,
        "verdict_line": decision.line,
    });
    if decision.dst_host.parse::<std::net::IpAddr>().is_ok() {
        body["dest"] = Value::String(decision.dst_host.clone());
    }
    format!("{} traffic_server[{pid}]: {body}", header(severity, time, gateway))
}

/// The L4 line of a non-TCP attempt: `… AviatrixGwMicrosegPacket: POLICY=<uuid> SRC_IP=… DST_PORT=… PROTO=…
/// ACT=PERMIT|DENY ENFORCED=true|false`, then `POD=… RULE=… TIER=… DST_HOST=…`.
pub fn l4_line(decision: &Decision, gateway: &SinkGateway, time: &DateTime<Utc>) -> String {
    let mut fields =
        vec![format!("POLICY={}", decision.rule_uuid), format!("SRC_IP={}", decision.pod_ip.as_deref().unwrap_or(""))];
    if decision.dst_host.parse::<std::net::IpAddr>().is_ok() {
        fields.push(format!("DST_IP={}", decision.dst_host));
    }
    fields.extend([
        format!("PROTO={}", decision.protocol.as_str().to_ascii_uppercase()),
        format!("DST_PORT={}", decision.port),
        format!("ACT={}", if denied(decision) { "DENY" } else { "PERMIT" }),
        format!("ENFORCED={}", decision.action != Action::Watch),
        format!("POD={}/{}", decision.namespace, decision.pod),
        format!("RULE={}", decision.rule),
        format!("TIER={}", decision.tier),
        format!("DST_HOST={}", decision.dst_host),
    ]);
    format!(
        "{} /usr/local/bin/avx-gw-state-sync {} AviatrixGwMicrosegPacket: {}",
        header(SEVERITY_INFO, time, gateway),
        time.format("%Y/%m/%d %H:%M:%S"),
        fields.join(" ")
    )
}

/// The line the gateway sends for a decision: the L7 line for TCP, the L4 line otherwise.
pub fn line_for(decision: &Decision, gateway: &SinkGateway, time: &DateTime<Utc>, pid: u32) -> String {
    if decision.protocol == Protocol::Tcp {
        l7_line(decision, gateway, time, pid)
    } else {
        l4_line(decision, gateway, time)
    }
}

/// Sends one line to one profile: a datagram over UDP; over TCP (and TLS when the profile has TLS material)
/// one connection per line, the line ended by a newline (RFC 6587 non-transparent framing).
pub async fn send(target: &SyslogTarget, line: &str) -> Result<(), String> {
    tokio::time::timeout(SEND_TIMEOUT, send_inner(target, line))
        .await
        .map_err(|_| format!("no answer within {} s", SEND_TIMEOUT.as_secs()))?
}

async fn send_inner(target: &SyslogTarget, line: &str) -> Result<(), String> {
    let address = (target.server.as_str(), target.port);
    if target.protocol.eq_ignore_ascii_case("UDP") {
        let socket = tokio::net::UdpSocket::bind(if target.server.contains(':') { "[::]:0" } else { "0.0.0.0:0" })
            .await
            .map_err(|e| format!("opening a UDP socket: {e}"))?;
        socket.send_to(line.as_bytes(), address).await.map_err(|e| format!("sending: {e}"))?;
        return Ok(());
    }
    let stream = tokio::net::TcpStream::connect(address).await.map_err(|e| format!("connecting: {e}"))?;
    let framed = format!("{line}\n");
    match &target.tls {
        None => {
            let mut stream = stream;
            stream.write_all(framed.as_bytes()).await.map_err(|e| format!("sending: {e}"))?;
            stream.shutdown().await.map_err(|e| format!("closing: {e}"))
        }
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(client_config(tls)?);
            let name = rustls::pki_types::ServerName::try_from(target.server.clone())
                .map_err(|e| format!("server {:?} is not a TLS server name: {e}", target.server))?;
            let mut stream = connector.connect(name, stream).await.map_err(|e| format!("TLS handshake: {e}"))?;
            stream.write_all(framed.as_bytes()).await.map_err(|e| format!("sending: {e}"))?;
            stream.shutdown().await.map_err(|e| format!("closing: {e}"))
        }
    }
}

/// A TLS client that trusts the profile's CA only, with the gateway's certificate when it has one and its key.
fn client_config(tls: &SyslogTls) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(tls.ca_certificate.as_bytes()) {
        let cert = cert.map_err(|e| format!("ca_certificate: {e}"))?;
        roots.add(cert).map_err(|e| format!("ca_certificate: {e}"))?;
    }
    // The provider is named: the build holds both ring and aws-lc-rs, so rustls cannot pick one itself.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots);
    let config = match (&tls.private_key, tls.public_certificate.is_empty()) {
        (Some(key), false) => {
            let chain = CertificateDer::pem_slice_iter(tls.public_certificate.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("public_certificate: {e}"))?;
            // The key's own error text could quote it: say only that it did not parse.
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|_| "the profile's private key is not a PEM private key".to_string())?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("client certificate: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn decision(action: Action, protocol: Protocol, host: &str) -> Decision {
        Decision {
            seq: 1,
            time: "2026-03-14T18:42:07Z".into(),
            action,
            rule: "tier3-default-deny".into(),
            rule_uuid: "5a1c0de0-0000-4000-8000-000000000003".into(),
            tier: 3,
            ruleset: "tier3-obot-mcp".into(),
            pod: "healthcare-mcp-7f4d9c".into(),
            namespace: "obot-mcp".into(),
            pod_ip: Some("10.244.0.17".into()),
            cluster_id: "arn:aws:eks:us-east-1:123456789012:cluster/lab-eks".into(),
            dst_host: host.into(),
            port: 443,
            protocol,
            reason: "rule tier3-default-deny denies".into(),
            logged: true,
            line: "2026-03-14T18:42:07Z action=drop rule=tier3-default-deny pod=healthcare-mcp-7f4d9c dst=exfil.attacker.io port=443 tier=3".into(),
        }
    }

    fn gateway() -> SinkGateway {
        SinkGateway { name: "mcp-egress-gw".into(), ip: "203.0.113.11".into() }
    }

    fn time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 22, 57, 55).unwrap()
    }

    fn l7_json(line: &str) -> Value {
        let (head, body) = line.split_once(": ").unwrap();
        assert_eq!(head, "<153>Mar  4 22:57:55 GW-mcp-egress-gw-203.0.113.11-sink traffic_server[4242]");
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn a_drop_is_an_enforced_deny_in_the_l7_shape_with_the_pod_attribution() {
        let line = l7_line(&decision(Action::Drop, Protocol::Tcp, "exfil.attacker.io"), &gateway(), &time(), 4242);
        let body = l7_json(&line);
        assert_eq!(body["action"], "Deny");
        assert_eq!(body["enforced"], true);
        assert_eq!(body["sni_hostname"], "exfil.attacker.io");
        assert_eq!(body["decided_by"], "5a1c0de0-0000-4000-8000-000000000003");
        assert_eq!(body["src"], "10.244.0.17");
        assert_eq!((body["dest_port"].as_u64(), body["proto"].as_str()), (Some(443), Some("TCP")));
        assert_eq!(body["timestamp"], time().timestamp());
        assert_eq!(
            (body["pod"].as_str(), body["namespace"].as_str()),
            (Some("healthcare-mcp-7f4d9c"), Some("obot-mcp"))
        );
        assert_eq!((body["rule_name"].as_str(), body["tier"].as_u64()), (Some("tier3-default-deny"), Some(3)));
        assert!(body["verdict_line"].as_str().unwrap().contains("action=drop rule=tier3-default-deny"));
        assert!(body.get("dest").is_none(), "a server name has no address to report");
    }

    #[test]
    fn watch_is_an_unenforced_deny_and_permit_is_logged_at_info() {
        let watched =
            l7_json(&l7_line(&decision(Action::Watch, Protocol::Tcp, "x.example"), &gateway(), &time(), 4242));
        assert_eq!((watched["action"].as_str(), watched["enforced"].as_bool()), (Some("Deny"), Some(false)));
        let permit = l7_line(&decision(Action::Permit, Protocol::Tcp, "93.184.216.34"), &gateway(), &time(), 7);
        assert!(permit.starts_with("<158>Mar  4 22:57:55 GW-mcp-egress-gw-203.0.113.11-sink traffic_server[7]: {"));
        let body: Value = serde_json::from_str(permit.split_once("]: ").unwrap().1).unwrap();
        assert_eq!((body["action"].as_str(), body["enforced"].as_bool()), (Some("Permit"), Some(true)));
        assert_eq!(body["dest"], "93.184.216.34");
    }

    #[test]
    fn a_non_tcp_attempt_is_an_l4_microseg_line() {
        let mut d = decision(Action::Watch, Protocol::Udp, "198.51.100.7");
        d.port = 53;
        let line = line_for(&d, &gateway(), &time(), 1);
        assert_eq!(
            line,
            "<158>Mar  4 22:57:55 GW-mcp-egress-gw-203.0.113.11-sink /usr/local/bin/avx-gw-state-sync \
             2026/03/04 22:57:55 AviatrixGwMicrosegPacket: POLICY=5a1c0de0-0000-4000-8000-000000000003 \
             SRC_IP=10.244.0.17 DST_IP=198.51.100.7 PROTO=UDP DST_PORT=53 ACT=DENY ENFORCED=false \
             POD=obot-mcp/healthcare-mcp-7f4d9c RULE=tier3-default-deny TIER=3 DST_HOST=198.51.100.7"
        );
        let tcp = line_for(&decision(Action::Drop, Protocol::Tcp, "a.example"), &gateway(), &time(), 1);
        assert!(tcp.contains(" traffic_server[1]: {"), "{tcp}");
    }

    #[tokio::test]
    async fn over_tls_the_line_reaches_a_server_that_wants_the_profiles_client_certificate() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio::io::AsyncReadExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::tls::LabCa::load_or_create(dir.path()).unwrap();
        let (server_cert, server_key) = ca.issue_loopback("siem").unwrap();
        let (client_cert, client_key) = ca.issue_loopback("gateway").unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                CertificateDer::pem_slice_iter(server_cert.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap(),
                PrivateKeyDer::from_pem_slice(server_key.as_bytes()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut received = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut text = String::new();
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.read_to_string(&mut text).await;
                }
                received.push(text);
            }
            received
        });
        let mut target = SyslogTarget {
            index: 4,
            name: "tls".into(),
            server: "127.0.0.1".into(),
            port,
            protocol: "TCP".into(),
            exclude_gateways: vec![],
            tls: Some(SyslogTls {
                ca_certificate: ca.cert_pem().to_string(),
                public_certificate: client_cert,
                private_key: Some(client_key),
            }),
        };
        send(&target, "over tls").await.unwrap();
        // Without its key (a restarted lab), the profile presents no certificate and this server refuses it.
        target.tls.as_mut().unwrap().private_key = None;
        let _ = send(&target, "no certificate").await;
        assert_eq!(server.await.unwrap(), ["over tls\n".to_string(), String::new()]);
    }

    #[tokio::test]
    async fn lines_reach_udp_and_tcp_listeners_and_a_dead_one_is_an_error() {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = |protocol: &str, port: u16| SyslogTarget {
            index: 0,
            name: "t".into(),
            server: "127.0.0.1".into(),
            port,
            protocol: protocol.into(),
            exclude_gateways: vec![],
            tls: None,
        };
        send(&target("UDP", udp.local_addr().unwrap().port()), "one").await.unwrap();
        let mut buf = [0u8; 64];
        let n = udp.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        let port = tcp.local_addr().unwrap().port();
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut s, _) = tcp.accept().await.unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).await.unwrap();
            text
        });
        send(&target("TCP", port), "two").await.unwrap();
        assert_eq!(reader.await.unwrap(), "two\n");
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        assert!(send(&target("TCP", closed), "three").await.unwrap_err().contains("connecting"));
    }
}
