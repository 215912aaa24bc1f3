//! The moves of the kill chain against a lab's cluster, for the tests that play it: kubectl with the lab's
//! kubeconfig, a pod as Obot runs an MCP server, and `mcp-egress-lab attempt` for what the gateway decides.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::lab::Lab;
use super::tools::{self, text};

/// kubectl with the lab's kubeconfig and a private HOME (no shared discovery cache), `stdin` fed when given.
pub fn kubectl(lab: &Lab, args: &[&str], stdin: Option<&str>) -> Output {
    let bin =
        tools::find("kubectl", "KUBECTL").expect("no kubectl: run scripts/install-kube-tools.sh (make test does)");
    let mut child = Command::new(bin)
        .env("KUBECONFIG", lab.var("KUBECONFIG"))
        .env("HOME", lab.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().expect("kubectl")
}

/// kubectl that must succeed; its stdout.
pub fn kubectl_ok(lab: &Lab, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(lab, args, stdin);
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A pod as Obot runs an MCP server, labelled `app: <app>` (and the user it runs for); returns once the kubelet gave it an IP.
pub fn run_pod(lab: &Lab, namespace: &str, name: &str, app: &str) {
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": name, "namespace": namespace, "labels": {"app": app, "mcp-user-id": "u1"}},
                     "spec": {"containers": [{"name": "mcp", "image": "ghcr.io/obot-platform/mcp-images/stdio-wrapper:v0.24.2"}]}});
    kubectl_ok(lab, &["apply", "-f", "-"], Some(&pod.to_string()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let out = kubectl(lab, &["get", "pod", "-n", namespace, name, "-o", "jsonpath={.status.podIP}"], None);
        if out.status.success() && !out.stdout.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("pod {namespace}/{name} got no IP");
}

/// `mcp-egress-lab attempt --json` from `pod` (`namespace/name`) to `dst` (`host:port`): (action, tier, rule).
pub fn decide(lab: &Lab, pod: &str, dst: &str) -> (String, u64, String) {
    let out = lab.cli(&["attempt", "--pod", pod, "--dst", dst, "--json"]);
    assert!(out.status.success(), "attempt {pod} {dst}: {}", text(&out));
    let d: Value = serde_json::from_slice(&out.stdout).expect("attempt --json prints JSON");
    let field = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    (field("action"), d["tier"].as_u64().unwrap_or(99), field("rule"))
}
