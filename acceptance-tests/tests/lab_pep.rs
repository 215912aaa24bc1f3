//! The lab's enforcement point: with tiers 1 and 3 written straight to the controller's REST API and tier 2 a
//! reconciled FirewallPolicy, `attempt` decides a live pod's egress as the gateway would (permit, drop, watch,
//! with tier and rule), refuses a pod that does not exist, records every decision in the decision log that
//! `decisions` prints and follows, and sends each decision to the controller's syslog profiles over UDP, TCP
//! and TLS with the client certificate, whose key the lab keeps off disk.

mod common;
mod lab_kube;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::lab::{ControllerApi, Lab};
use common::tools::text;
use lab_kube::{policy_spec, Kube, POLICIES};
use reqwest::Method;
use serde_json::{json, Value};

const ANYWHERE: &str = "def000ad-0000-0000-0000-000000000000";
const PUBLIC_INTERNET: &str = "def000ad-0000-0000-0000-000000000001";
const BEFORE_UI: &str = "a77ac400-0000-4000-8000-000000000001";
const AFTER_K8S: &str = "a77ac400-0000-4000-8000-000000000003";

/// Creates a pod in `obot-mcp` and waits until the lab's kubelet gave it an IP.
async fn pod(kube: &Kube, name: &str, app: &str) -> String {
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": name, "namespace": "obot-mcp", "labels": {"app": app}},
                     "spec": {"containers": [{"name": "server", "image": "ghcr.io/obot-platform/mcp:1"}]}});
    let (status, body) = kube.send(Method::POST, "/api/v1/namespaces/obot-mcp/pods", Some(pod)).await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, pod) = kube.send(Method::GET, &format!("/api/v1/namespaces/obot-mcp/pods/{name}"), None).await;
        if let Some(ip) = pod["status"]["podIP"].as_str() {
            return ip.to_string();
        }
        assert!(Instant::now() < deadline, "pod {name} got no IP: {pod}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create(api: &ControllerApi, path: &str, body: Value) -> String {
    let (status, reply) = api.rest(Method::POST, path, Some(body)).await;
    assert_eq!(status, 200, "POST {path}: {reply}");
    reply["uuid"].as_str().expect("uuid").to_string()
}

/// `attempt --json`: the decision.
fn attempt(lab: &Lab, pod: &str, dst: &str) -> Value {
    let output = lab.cli(&["attempt", "--pod", pod, "--dst", dst, "--json"]);
    assert!(output.status.success(), "attempt {pod} {dst}: {}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("decision JSON: {}", text(&output)))
}

fn decided(decision: &Value) -> (String, u64, String) {
    (
        decision["action"].as_str().unwrap().to_string(),
        decision["tier"].as_u64().unwrap(),
        decision["rule"].as_str().unwrap().to_string(),
    )
}

fn is(action: &str, tier: u64, rule: &str) -> (String, u64, String) {
    (action.to_string(), tier, rule.to_string())
}

#[tokio::test]
async fn attempts_are_decided_by_tier_logged_followed_and_sent_to_syslog() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let kube = Kube::from_lab(&lab);
    let cluster_id = lab.var("LAB_EKS_CLUSTER_ID");

    // Onboard the lab's EKS identity, with the flags DCF on Kubernetes needs.
    kube.install_firewall_policy_crd_and_namespace().await;
    for feature in ["k8s", "k8s_dcf_policies"] {
        let reply = api.json_action(json!({"action": "enable_controller_feature", "feature": feature})).await;
        assert_eq!(reply["return"], true, "{reply}");
    }
    let cluster = json!({"cluster_id": cluster_id, "credential": {"use_csp_credentials": true}});
    assert_eq!(api.rest(Method::POST, "k8s/clusters", Some(cluster)).await.0, 200);

    // Tier 2: server s1's FirewallPolicy (api.example.com on 443, everything else denied for app=s1).
    let policy = json!({"apiVersion": "networking.aviatrix.com/v1alpha1", "kind": "FirewallPolicy",
                        "metadata": {"name": "obot-s1-fw", "namespace": "obot-mcp"}, "spec": policy_spec(&["api.example.com"])});
    assert_eq!(kube.send(Method::POST, POLICIES, Some(policy)).await.0, 201);
    kube.wait_for_generation(1).await;

    // Tiers 1 and 3 for the namespace, at the attachment points before and after the K8s-managed rules.
    let namespace = create(
        &api,
        "app-domains",
        json!({"name": "obot-mcp-pods", "selector": {"any": [{"all": {"type": "k8s", "k8s_cluster_id": cluster_id, "k8s_namespace": "obot-mcp"}}]}}),
    )
    .await;
    let registry = create(
        &api,
        "app-domains",
        json!({"name": "registries", "selector": {"any": [{"all": {"snifilter": "registry.npmjs.org"}}]}}),
    )
    .await;
    create(
        &api,
        "microseg/policy-list3",
        json!({"name": "tier1-obot-mcp", "attach_to": BEFORE_UI, "policies": [
            {"name": "tier1-registry", "action": "PERMIT", "protocol": "TCP", "port_ranges": [{"lo": 443}], "priority": 10,
             "src_ads": [namespace], "dst_ads": [PUBLIC_INTERNET], "web_filters": [registry], "logging": true}]}),
    )
    .await;
    let tier3_rule = |enforcement: &str| {
        json!({"name": "tier3-obot-mcp", "attach_to": AFTER_K8S, "policies": [
            {"name": "tier3-default-deny", "action": "DENY", "protocol": "PROTOCOL_UNSPECIFIED", "priority": 10,
             "src_ads": [namespace], "dst_ads": [ANYWHERE], "logging": true, "enforcement": enforcement}]})
    };
    let tier3 = create(&api, "microseg/policy-list3", tier3_rule("ENFORCE")).await;

    let s1_ip = pod(&kube, "s1-7f4d9c", "s1").await;
    pod(&kube, "healthcare-mcp-7f4d9c", "healthcare-mcp").await;

    // The admin endpoint lists the namespace's pods as the gateway sees them, for the token's holder only.
    let run: Value = serde_json::from_slice(&std::fs::read(lab.path().join("run.json")).unwrap()).unwrap();
    let secrets: Value = serde_json::from_slice(&std::fs::read(lab.path().join("secrets.json")).unwrap()).unwrap();
    let pods_url = format!("{}/pep/pods/obot-mcp", run["admin_url"].as_str().unwrap());
    let admin = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(admin.get(&pods_url).send().await.unwrap().status(), 401);
    let pods: Value = admin
        .get(&pods_url)
        .header("x-lab-admin-token", secrets["admin_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = pods.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["healthcare-mcp-7f4d9c", "s1-7f4d9c"]);
    assert_eq!((pods[1]["ip"].as_str(), pods[1]["labels"]["app"].as_str()), (Some(s1_ip.as_str()), Some("s1")));
    assert_eq!(
        (pods[1]["cluster_id"].as_str(), pods[1]["resolvable"].as_bool()),
        (Some(cluster_id.as_str()), Some(true))
    );

    // Syslog listeners the controller's profiles point at: UDP on index 0, TCP on index 1.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for (index, protocol, port) in
        [("0", "UDP", udp.local_addr().unwrap().port()), ("1", "TCP", tcp.local_addr().unwrap().port())]
    {
        let port = port.to_string();
        let reply = api
            .action(
                "enable_remote_syslog_logging",
                &[("index", index), ("name", "siem"), ("server", "127.0.0.1"), ("port", &port), ("protocol", protocol)],
            )
            .await;
        assert_eq!(reply["return"], true, "{reply}");
    }

    // Tier 2 permits s1's own domain; tier 1 the registry, before any K8s-managed rule; tier 3 drops the rest.
    let permit = attempt(&lab, "obot-mcp/s1-7f4d9c", "api.example.com:443");
    assert_eq!(decided(&permit), is("permit", 2, "allow-approved-egress"));
    assert_eq!((permit["pod_ip"].as_str(), permit["namespace"].as_str()), (Some(s1_ip.as_str()), Some("obot-mcp")));
    assert_eq!(permit["cluster_id"], json!(cluster_id));
    // The L7 line reached both listeners, with the pod attribution.
    let mut datagram = [0u8; 8192];
    let n = udp.recv(&mut datagram).expect("a syslog datagram");
    let first = String::from_utf8_lossy(&datagram[..n]).to_string();
    let (conn, _) = tcp.accept().expect("a syslog connection");
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut over_tcp = String::new();
    BufReader::new(conn).read_line(&mut over_tcp).unwrap();
    for line in [&first, over_tcp.trim_end()] {
        let (header, body) = line.split_once(": ").unwrap_or_else(|| panic!("syslog line {line:?}"));
        assert!(header.starts_with("<158>") && header.contains("-sink traffic_server["), "{header}");
        let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("L7 JSON in {line:?}"));
        assert_eq!((body["action"].as_str(), body["enforced"].as_bool()), (Some("Permit"), Some(true)));
        assert_eq!(
            (body["sni_hostname"].as_str(), body["src"].as_str()),
            (Some("api.example.com"), Some(s1_ip.as_str()))
        );
        assert_eq!((body["pod"].as_str(), body["namespace"].as_str()), (Some("s1-7f4d9c"), Some("obot-mcp")));
        assert_eq!((body["rule_name"].as_str(), body["tier"].as_u64()), (Some("allow-approved-egress"), Some(2)));
        assert_eq!(body["decided_by"], permit["rule_uuid"]);
        assert_eq!(body["dest_port"], 443);
        assert_eq!(body["verdict_line"], permit["line"]);
    }
    assert_eq!(
        decided(&attempt(&lab, "obot-mcp/s1-7f4d9c", "registry.npmjs.org:443")),
        is("permit", 1, "tier1-registry")
    );
    let n = udp.recv(&mut datagram).expect("a syslog datagram");
    assert!(String::from_utf8_lossy(&datagram[..n]).contains(r#""rule_name":"tier1-registry""#));

    // The kill chain's exfiltration: dropped by tier 3, in the seed's log line shape.
    let output = lab.cli(&["attempt", "--pod", "obot-mcp/healthcare-mcp-7f4d9c", "--dst", "exfil.attacker.io:443"]);
    assert!(output.status.success(), "{}", text(&output));
    let line = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(chrono_like(time), "{line}");
    assert_eq!(
        rest,
        "action=drop rule=tier3-default-deny pod=healthcare-mcp-7f4d9c dst=exfil.attacker.io port=443 tier=3"
    );
    let n = udp.recv(&mut datagram).expect("a syslog datagram");
    let dropped = String::from_utf8_lossy(&datagram[..n]).to_string();
    assert!(dropped.starts_with("<153>") && dropped.contains(r#""action":"Deny""#), "{dropped}");

    // Tier 3 under monitoring: the same attempt passes as watch.
    let (status, body) =
        api.rest(Method::PUT, &format!("microseg/policy-list3/{tier3}"), Some(tier3_rule("MONITOR"))).await;
    assert_eq!(status, 200, "{body}");
    let watched = attempt(&lab, "obot-mcp/healthcare-mcp-7f4d9c", "exfil.attacker.io:443");
    assert_eq!(decided(&watched), is("watch", 3, "tier3-default-deny"));
    let n = udp.recv(&mut datagram).expect("a syslog datagram");
    assert!(String::from_utf8_lossy(&datagram[..n]).contains(r#""enforced":false"#));

    // Bad input fails with a message naming what was wrong, and records nothing.
    let missing = lab.cli(&["attempt", "--pod", "obot-mcp/ghost", "--dst", "api.example.com:443"]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(text(&missing).contains("pod obot-mcp/ghost does not exist"), "{}", text(&missing));
    for (dst, protocol, says) in [
        ("api.example.com", "tcp", "no port"),
        ("api.example.com:0", "tcp", "port must be"),
        ("exfil attacker:443", "tcp", "is not a host name"),
        ("api.example.com:443", "sctp", "use tcp, udp or icmp"),
    ] {
        let bad = lab.cli(&["attempt", "--pod", "obot-mcp/s1-7f4d9c", "--dst", dst, "--protocol", protocol]);
        assert_eq!(bad.status.code(), Some(1), "{dst} {protocol}: {}", text(&bad));
        assert!(text(&bad).contains(says), "{dst} {protocol}: {}", text(&bad));
    }

    // The decision log and `decisions --json` hold the four decisions, in order.
    let logged: Vec<Value> = std::fs::read_to_string(lab.path().join("decisions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed = lab.cli(&["decisions", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let listed: Vec<Value> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed, logged);
    let actions: Vec<&str> = listed.iter().map(|d| d["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["permit", "permit", "drop", "watch"]);
    for key in ["time", "rule_uuid", "pod", "namespace", "pod_ip", "dst_host", "port", "protocol", "reason"] {
        assert!(!listed[2][key].is_null(), "{key} missing from {}", listed[2]);
    }
    let plain = lab.cli(&["decisions"]);
    assert!(String::from_utf8_lossy(&plain.stdout).lines().nth(2).unwrap().ends_with(
        "action=drop rule=tier3-default-deny pod=healthcare-mcp-7f4d9c dst=exfil.attacker.io port=443 tier=3"
    ));

    // `decisions --follow` prints the log, then a decision made while it runs.
    let mut follow = std::process::Command::new(common::lab::BIN)
        .args(["decisions", "--dir", &lab.dir_arg(), "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    for _ in 0..4 {
        received.recv_timeout(Duration::from_secs(10)).expect("the log so far");
    }
    attempt(&lab, "obot-mcp/s1-7f4d9c", "pypi.org:443");
    let new = received.recv_timeout(Duration::from_secs(10)).expect("the new decision");
    follow.kill().unwrap();
    let _ = follow.wait();
    assert!(new.ends_with("action=drop rule=deny-all-external pod=s1-7f4d9c dst=pypi.org port=443 tier=2"), "{new}");

    // A lab that is not running says so with exit 3.
    lab.stop();
    let down = lab.cli(&["attempt", "--pod", "obot-mcp/s1-7f4d9c", "--dst", "api.example.com:443"]);
    assert_eq!(down.status.code(), Some(common::lab::NOT_RUNNING), "{}", text(&down));
    assert_eq!(lab.cli(&["decisions"]).status.code(), Some(common::lab::NOT_RUNNING));
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn chrono_like(time: &str) -> bool {
    let b = time.as_bytes();
    b.len() == 20 && b[4] == b'-' && b[10] == b'T' && b[19] == b'Z'
}

// Multi-threaded: the TLS listener answers while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_profiles_send_with_the_client_certificate_keep_the_key_off_disk_and_a_dead_server_fails_nothing() {
    let lab = Lab::up(&[]);
    let api = ControllerApi::login(&lab).await;
    let kube = Kube::from_lab(&lab);
    kube.install_firewall_policy_crd_and_namespace().await;
    let key = "-----BEGIN PRIVATE KEY-----\nbm90LWEtcmVhbC1rZXktYnV0LWEtc2VjcmV0\n-----END PRIVATE KEY-----\n";
    let ca = std::fs::read_to_string(lab.path().join("ca.pem")).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let reply = api
        .action(
            "enable_remote_syslog_logging",
            &[
                ("index", "2"),
                ("name", "tls"),
                ("server", "127.0.0.1"),
                ("port", &closed),
                ("protocol", "TCP"),
                ("ca_certificate", &ca),
                ("public_certificate", &ca),
                ("private_key", key),
            ],
        )
        .await;
    assert_eq!(reply["return"], true, "{reply}");
    let status = api.action("get_remote_syslog_logging_status", &[("index", "2")]).await;
    assert_eq!(status["results"]["tls"], true, "{status}");
    assert!(!status.to_string().contains("bm90LWEtcmVhbC1rZXktYnV0LWEtc2VjcmV0"));

    // A live TLS listener that requires the gateway's client certificate, on profile 3.
    let ca_issuer = mcp_egress_lab::tls::LabCa::load_or_create(&lab.path()).unwrap();
    let (client_cert, client_key) = ca_issuer.issue_loopback("gateway").unwrap();
    let (tls_port, tls_lines) = tls_listener(&ca_issuer).await;
    let port = tls_port.to_string();
    let reply = api
        .action(
            "enable_remote_syslog_logging",
            &[
                ("index", "3"),
                ("name", "siem-tls"),
                ("server", "127.0.0.1"),
                ("port", &port),
                ("protocol", "TCP"),
                ("ca_certificate", &ca),
                ("public_certificate", &client_cert),
                ("private_key", &client_key),
            ],
        )
        .await;
    assert_eq!(reply["return"], true, "{reply}");
    let key_body = client_key.lines().nth(1).unwrap().to_string();

    // No cluster is onboarded and no rule is written: the V1 list's Greenfield rule decides, outside the tiers;
    // the delivery to the dead syslog server fails, and the attempt does not.
    pod(&kube, "s1-7f4d9c", "s1").await;
    let decision = attempt(&lab, "obot-mcp/s1-7f4d9c", "api.example.com:443");
    assert_eq!(decided(&decision), is("permit", 0, "Greenfield-Rule"));
    assert_eq!(decision["cluster_id"], "");

    let over_tls = tokio::time::timeout(Duration::from_secs(10), tls_lines).await.expect("a line over TLS");
    let log = std::fs::read_to_string(lab.path().join("lab.log")).unwrap();
    let over_tls = over_tls.unwrap_or_else(|e| panic!("{e}; the lab log:\n{log}"));
    assert!(over_tls.contains(r#""pod":"s1-7f4d9c""#) && over_tls.contains(" traffic_server["), "{over_tls}");

    let inventory = String::from_utf8_lossy(&lab.cli(&["inventory"]).stdout).to_string();
    for secret in ["bm90LWEtcmVhbC1rZXktYnV0LWEtc2VjcmV0", key_body.as_str()] {
        assert!(!inventory.contains(secret), "a private key is in the inventory");
        for entry in walk(&lab.path()) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&bytes).contains(secret), "a private key is in {}", entry.display());
        }
    }
    let log = std::fs::read_to_string(lab.path().join("lab.log")).unwrap();
    assert!(log.contains("not delivered to syslog profile 2"), "the failed delivery is logged:\n{log}");
}

/// A syslog-over-TLS listener that requires a client certificate from the lab CA: its port, and the first
/// line it receives.
async fn tls_listener(ca: &mcp_egress_lab::tls::LabCa) -> (u16, tokio::task::JoinHandle<String>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::AsyncBufReadExt;
    let (cert, key) = ca.issue_loopback("siem").unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).unwrap()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone()).build().unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap(),
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lines = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.expect("a TLS handshake with the gateway's certificate");
        let mut line = String::new();
        tokio::io::BufReader::new(tls).read_line(&mut line).await.unwrap();
        line
    });
    (port, lines)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
