//! The lab's Kubernetes: an HTTPS Kubernetes API on loopback that unmodified kubectl, helm v4, kube-rs and the
//! official Python client work against, with a small controller and kubelet stand-in so workloads become ready.
//!
//! [`start`] serves it through the lab's shared machinery: on a listener from the daemon's port book, through
//! [`crate::http::serve`] with TLS from the lab CA, with its state in a [`crate::store::StateFile`] and faults
//! from a [`crate::fault::Faults`] switchboard. It writes `DIR/kubeconfig` (CA data and the bearer token from
//! the lab's secrets). It follows the lab's reference facts on the Kubernetes API and Kubernetes semantics,
//! never what a client happens to send. It must not bind ports, reach beyond loopback, log the token, or know
//! anything about the product.

// An ApiError is a whole `Status` (message, details, causes) and is made at most once per request.
#![allow(clippy::result_large_err)]

pub mod apply;
pub mod controllers;
pub mod defaults;
pub mod discovery;
pub mod emulator;
pub mod errors;
pub mod handlers;
pub mod patch;
pub mod protobuf;
pub mod resources;
pub mod scale;
pub mod seed;
pub mod selectors;
pub mod server;
pub mod store;
pub mod table;
pub mod validation;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::fault::Faults;
use crate::inventory::Object;
use crate::store::StateFile;
use crate::tls::LabCa;

use server::App;
use store::Store;

/// The name of the API's state file, port and fault target.
pub const TARGET: &str = "kubernetes";

/// A running Kubernetes API. Dropping it stops serving and saves the state.
pub struct KubeHandle {
    url: String,
    dir: PathBuf,
    app: Arc<App>,
    tasks: Vec<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl KubeHandle {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `DIR/kubeconfig`.
    pub fn kubeconfig_path(&self) -> PathBuf {
        kubeconfig_path(&self.dir)
    }

    /// Every object, as the lab inventory lists it.
    pub fn inventory(&self) -> Vec<Object> {
        emulator::inventory(self.app.store.objects())
    }

    /// The fault switchboard this API consults on resource requests.
    pub fn faults(&self) -> &Faults {
        &self.app.faults
    }

    /// Restarts a pod's sandbox: its containers restart and it gets a new IP. Returns the new IP.
    pub fn fail_pod(&self, namespace: &str, name: &str) -> anyhow::Result<String> {
        controllers::fail_pod(&mut self.app.store.lock(), namespace, name).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// A reader of the live objects, for the lab's other parts (the enforcement point reads pods through it).
    pub fn reader(&self) -> ObjectReader {
        ObjectReader { app: self.app.clone() }
    }

    /// Stops serving and saves the state.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        self.app.store.save()
    }
}

/// Read access to the live objects of the lab's Kubernetes API, without going through HTTP. Cheap to clone.
#[derive(Clone)]
pub struct ObjectReader {
    app: Arc<App>,
}

impl ObjectReader {
    /// One object of a built-in core (`v1`) resource by its plural, e.g. `pods`; `ns` empty for cluster-scoped
    /// kinds such as `namespaces`.
    pub fn get_core(&self, plural: &str, ns: &str, name: &str) -> Option<serde_json::Value> {
        let state = self.app.store.lock();
        let def = state.resource("", plural)?.clone();
        state.get(&def, ns, name).cloned()
    }

    /// Objects of a built-in core resource in `ns` (all namespaces when `None`), in (namespace, name) order.
    pub fn list_core(&self, plural: &str, ns: Option<&str>) -> Vec<serde_json::Value> {
        let state = self.app.store.lock();
        let Some(def) = state.resource("", plural).cloned() else { return Vec::new() };
        state.list(&def, ns).into_iter().cloned().collect()
    }

    /// Objects of any served resource (`group` empty for the core group) in `ns`, in name order; `None` when
    /// the API does not serve that resource (a CRD that is not installed).
    pub fn list(&self, group: &str, plural: &str, ns: Option<&str>) -> Option<Vec<serde_json::Value>> {
        let state = self.app.store.lock();
        let def = state.resource(group, plural)?.clone();
        Some(state.list(&def, ns).into_iter().cloned().collect())
    }
}

impl Drop for KubeHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for t in &self.tasks {
            t.abort();
        }
        if !self.tasks.is_empty() {
            let _ = self.app.store.save();
        }
    }
}

fn state_file(dir: &Path) -> StateFile {
    StateFile::new(dir, TARGET)
}

fn kubeconfig_path(dir: &Path) -> PathBuf {
    dir.join("kubeconfig")
}

fn kubeconfig(url: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: mcp-egress-lab\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: mcp-egress-lab\n  context:\n    cluster: mcp-egress-lab\n    user: lab-admin\n    namespace: default\ncurrent-context: mcp-egress-lab\nusers:\n- name: lab-admin\n  user:\n    token: {token}\n"
    )
}

/// The API's shared state for the lab in `dir`, serving nothing: the store (loaded, or seeded on first use),
/// the token it accepts, the address discovery names, and its fault switchboard. [`server::router`] serves it.
pub fn open(dir: &Path, ca_pem: &str, token: &str, address: String) -> anyhow::Result<Arc<App>> {
    anyhow::ensure!(!token.is_empty(), "the Kubernetes API needs a bearer token");
    let store = Store::open(state_file(dir), ca_pem)?;
    Ok(Arc::new(App { store, token: token.to_string(), address, faults: Faults::new(server::FAULT_KINDS) }))
}

/// Serves the Kubernetes API for the lab in `dir` on `listener` (from the daemon's port book), accepting
/// `token`, and writes `DIR/kubeconfig` for it.
pub async fn start(dir: &Path, ca: &LabCa, token: &str, listener: TcpListener) -> anyhow::Result<KubeHandle> {
    let addr = listener.local_addr()?;
    let app = open(dir, ca.cert_pem(), token, addr.to_string())?;
    let url = format!("https://{addr}");
    crate::store::write_private(&kubeconfig_path(dir), kubeconfig(&url, ca.cert_pem(), token).as_bytes())?;
    let tls = ca.server_config("mcp-egress-lab kubernetes", &[b"h2", b"http/1.1"])?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = vec![
        tokio::spawn(crate::http::serve(listener, Some(tls), server::router(app.clone()), stopped)),
        tokio::spawn(controllers::run(app.store.clone())),
        tokio::spawn(persist(app.store.clone())),
    ];
    Ok(KubeHandle { url, dir: dir.to_path_buf(), app, tasks, stop })
}

/// Saves the state shortly after changes (batched), so a stop loses at most the last moment.
async fn persist(store: Arc<Store>) {
    let mut changes = store.changes();
    loop {
        if changes.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        changes.borrow_and_update();
        let s = store.clone();
        let _ = tokio::task::spawn_blocking(move || s.save()).await;
    }
}

/// The inventory saved for the lab in `dir`, for when its API is not running.
pub fn saved_inventory(dir: &Path) -> anyhow::Result<Vec<Object>> {
    Ok(emulator::inventory(store::saved_objects(&state_file(dir))?))
}

/// Calls one of the lab endpoints of a running API from another process (the CLI), on the port in the lab's
/// port book, with the token from its secrets and the lab CA in `DIR/ca.pem`.
async fn call_lab(dir: &Path, method: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    call_lab_with(dir, method, path, None).await
}

/// [`call_lab`] with a JSON body.
async fn call_lab_with(
    dir: &Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    use http_body_util::BodyExt;
    let lab = crate::daemon::LabDir::new(dir)?;
    let port = *lab.ports().get(TARGET).context("the lab's Kubernetes API has not been started in this directory")?;
    let token = lab.secrets()?.kubernetes_token;
    let ca_pem = std::fs::read(dir.join("ca.pem")).context("reading the lab CA")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca_pem) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connecting to the lab's Kubernetes API on port {port}; is the lab up?"))?;
    let tls =
        connector.connect(rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()), tcp).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        anyhow::bail!("{}", value.get("message").and_then(serde_json::Value::as_str).unwrap_or(status.as_str()));
    }
    Ok(value)
}

/// Creates a pod through the running lab's Kubernetes API (admission, defaults and the kubelet apply as to any
/// client); a pod of that name already there is left as it is. Answers whether it was created.
pub async fn create_pod_in(dir: &Path, pod: &serde_json::Value) -> anyhow::Result<bool> {
    let ns = pod.pointer("/metadata/namespace").and_then(serde_json::Value::as_str).unwrap_or("default");
    match call_lab_with(dir, "POST", &format!("/api/v1/namespaces/{ns}/pods"), Some(pod)).await {
        Ok(_) => Ok(true),
        Err(e) if e.to_string().contains("already exists") => Ok(false),
        Err(e) => Err(e),
    }
}

/// `mcp-egress-lab pod-fail`: restarts pod `namespace/name` of the running lab in `dir` with a new IP.
pub async fn fail_pod_in(dir: &Path, namespace: &str, name: &str) -> anyhow::Result<String> {
    let v = call_lab(dir, "POST", &format!("/lab/v1/namespaces/{namespace}/pods/{name}/fail")).await?;
    Ok(v["podIP"].as_str().unwrap_or_default().to_string())
}
