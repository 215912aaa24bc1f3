//! Shared harness of the Kubernetes acceptance tests: a cluster per test (the lab's Kubernetes API started
//! in-process in a temp dir, or a real cluster when `KUBE_TEST_KUBECONFIG` names its kubeconfig), and the real
//! kubectl and helm binaries run against it with a private discovery cache and HOME.
//!
//! kubectl and helm come from `scripts/install-kube-tools.sh` (`.cache/bin/`), or from `KUBECTL` and
//! `HELM_BINARY`. A missing binary fails the test with the command that installs it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

// The shared lookup and output helpers, without the rest of `common` (which needs a lab binary).
#[path = "../common/tools.rs"]
mod tools;

#[allow(unused_imports)]
pub use tools::{stderr, stdout};

use mcp_egress_lab::daemon::LabDir;
use mcp_egress_lab::inventory::Object;
use mcp_egress_lab::kube::KubeHandle;
use mcp_egress_lab::tls::LabCa;

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub handle: Option<KubeHandle>,
    /// The lab's inventory right after it started, as the daemon keeps it for `inventory --diff`.
    pub baseline: Vec<Object>,
}

/// Serves the lab's Kubernetes API for the lab in `dir` as the daemon does: on the port the lab's port book
/// holds for it (its previous one when free), with the token from the lab's secrets.
pub async fn start_lab(dir: &Path, ca: &LabCa) -> KubeHandle {
    let lab = LabDir::new(dir).expect("lab dir");
    let secrets = lab.secrets().expect("lab secrets");
    let mut ports = lab.port_book();
    let listener = ports.bind(mcp_egress_lab::kube::TARGET).await.expect("a loopback port");
    ports.save(&lab).expect("saving the port book");
    mcp_egress_lab::kube::start(&lab.dir, ca, &secrets.kubernetes_token, listener)
        .await
        .expect("start the Kubernetes API")
}

/// kubectl and helm: `$env`, else the versions the project installs into the cache (never PATH's, whose
/// version these tests do not know).
fn tool(env: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    tools::in_cache(name).unwrap_or_else(|| {
        panic!("{name} not found in {}: run scripts/install-kube-tools.sh (or set {env})", tools::cache_bin().display())
    })
}

pub fn kubectl_bin() -> PathBuf {
    tool("KUBECTL", "kubectl")
}

pub fn helm_bin() -> PathBuf {
    tool("HELM_BINARY", "helm")
}

/// Whether the tests run against a real cluster instead of the lab.
pub fn external() -> Option<PathBuf> {
    std::env::var_os("KUBE_TEST_KUBECONFIG").map(PathBuf::from)
}

impl Cluster {
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = tempfile::tempdir().expect("tempdir");
        if let Some(kubeconfig) = external() {
            return Cluster { dir, home, kubeconfig, handle: None, baseline: vec![] };
        }
        let ca = LabCa::load_or_create(dir.path()).expect("lab CA");
        let handle = start_lab(dir.path(), &ca).await;
        let kubeconfig = handle.kubeconfig_path();
        let baseline = handle.inventory();
        Cluster { dir, home, kubeconfig, handle: Some(handle), baseline }
    }

    /// The lab handle; `None` against a real cluster (tests of lab-only features return early there).
    pub fn lab(&self) -> Option<&KubeHandle> {
        self.handle.as_ref()
    }

    fn command(&self, bin: &Path) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(bin);
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.home.path())
            .env("KUBECACHEDIR", self.home.path().join("kube-cache"))
            .env("HELM_CACHE_HOME", self.home.path().join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.home.path().join("helm-config"))
            .env("HELM_DATA_HOME", self.home.path().join("helm-data"))
            .kill_on_drop(true);
        c
    }

    pub async fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run(self.command(&kubectl_bin()), args, stdin).await
    }

    pub async fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None).await
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        ok(self.kubectl(args).await, "kubectl", args)
    }

    pub async fn apply_yaml(&self, extra: &[&str], yaml: &str) -> Output {
        let mut args = vec!["apply", "-f", "-"];
        args.extend_from_slice(extra);
        self.kubectl_stdin(&args, Some(yaml)).await
    }

    pub async fn helm(&self, args: &[&str]) -> Output {
        run(self.command(&helm_bin()), args, None).await
    }

    pub async fn helm_ok(&self, args: &[&str]) -> String {
        ok(self.helm(args).await, "helm", args)
    }

    /// Polls `kubectl get` with a jsonpath until it prints `want`.
    pub async fn wait_jsonpath(&self, args: &[&str], jsonpath: &str, want: &str) {
        let expr = format!("jsonpath={jsonpath}");
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["-o", &expr]);
        let mut last = String::new();
        for _ in 0..100 {
            let out = self.kubectl(&full).await;
            last = String::from_utf8_lossy(&out.stdout).to_string();
            if last == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kubectl {full:?}: wanted {want:?}, last saw {last:?}");
    }
}

async fn run(mut c: tokio::process::Command, args: &[&str], stdin: Option<&str>) -> Output {
    use tokio::io::AsyncWriteExt;
    c.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
    }
    drop(pipe);
    tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("command timed out")
        .expect("command output")
}

pub fn ok(out: Output, tool: &str, args: &[&str]) -> String {
    tools::ok(&out, &format!("{tool} {args:?}"))
}

/// Marks a test that does not apply against a real cluster, for `make test`'s skip count.
pub fn skip_on_real_cluster(test: &str) {
    println!("SKIP: {test} checks a lab-only feature; KUBE_TEST_KUBECONFIG points at a real cluster");
}

/// A namespace name unique to one test run, so tests can share a real cluster.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}
