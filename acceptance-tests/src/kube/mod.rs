//! The lab's Kubernetes: an HTTPS Kubernetes API on loopback that unmodified kubectl, helm v4 and kube-rs
//! work against, with a small controller and kubelet stand-in so workloads become ready.
//!
//! [`start`] serves it on a free 127.0.0.1 port (the previous one when free), writes `DIR/kubeconfig` (CA data
//! and a bearer token) and keeps its state in `DIR/kube/`, so a restart keeps every object. It follows the facts
//! in `shared/reference/kubernetes-api-for-emulators.md` and Kubernetes semantics, never what a client happens
//! to send. It must not reach beyond loopback, log the token, or know anything about the product.

// An ApiError is a whole `Status` (message, details, causes) and is made at most once per request.
#![allow(clippy::result_large_err)]

pub mod apply;
pub mod controllers;
pub mod defaults;
pub mod discovery;
pub mod emulator;
pub mod errors;
pub mod fault;
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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::tls::LabCa;

pub use fault::{Fault, FaultMode};
use server::App;
use store::Store;

/// A running Kubernetes API.
pub struct KubeHandle {
    addr: SocketAddr,
    dir: PathBuf,
    store: Arc<Store>,
    tasks: Vec<JoinHandle<()>>,
    stop: tokio::sync::watch::Sender<bool>,
    lab_faults: Arc<crate::fault::Faults>,
    token: String,
}

impl KubeHandle {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `DIR/kubeconfig`.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Every object by kind and namespace; the seeded ones are marked `baseline`.
    pub fn inventory(&self) -> Value {
        self.store.inventory()
    }

    /// Switches fault injection (the same switch `mcp-egress-lab fault` writes).
    pub fn set_fault(&self, fault: &Fault) -> anyhow::Result<()> {
        fault::write(&self.dir, fault)
    }

    /// Restarts a pod's sandbox: its containers restart and it gets a new IP. Returns the new IP.
    pub fn fail_pod(&self, namespace: &str, name: &str) -> anyhow::Result<String> {
        controllers::fail_pod(&mut self.store.lock(), namespace, name).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The lab-wide fault switchboard this API consults (server-error, slow, conflict, throttle).
    pub fn lab_faults(&self) -> &crate::fault::Faults {
        &self.lab_faults
    }

    /// The bearer token, for in-process clients such as the controller emulator's reconciler. Never log it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The lab directory this API keeps its state in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops serving and saves the state.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        self.store.save()
    }
}

impl Drop for KubeHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        for t in &self.tasks {
            t.abort();
        }
        if !self.tasks.is_empty() {
            let _ = self.store.save();
        }
    }
}

fn state_dir(dir: &Path) -> PathBuf {
    dir.join("kube")
}

fn load_or_create_token(kdir: &Path) -> anyhow::Result<String> {
    let path = kdir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::store::write_private(&path, token.as_bytes())?;
    Ok(token)
}

fn kubeconfig(url: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: mcp-egress-lab\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: mcp-egress-lab\n  context:\n    cluster: mcp-egress-lab\n    user: lab-admin\n    namespace: default\ncurrent-context: mcp-egress-lab\nusers:\n- name: lab-admin\n  user:\n    token: {token}\n"
    )
}

/// Starts the Kubernetes API for the lab in `dir`.
pub async fn start(dir: &Path, ca: &LabCa) -> anyhow::Result<KubeHandle> {
    let kdir = state_dir(dir);
    std::fs::create_dir_all(&kdir).with_context(|| format!("creating {}", kdir.display()))?;
    let token = load_or_create_token(&kdir)?;
    let store = Store::open(&kdir, ca.cert_pem())?;

    // Reuse the previous port when it is free, so clients configured before a restart keep working.
    let port_file = kdir.join("port");
    let previous: Option<u16> = std::fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok());
    let listener = match previous {
        Some(p) => match TcpListener::bind(("127.0.0.1", p)).await {
            Ok(l) => l,
            Err(_) => TcpListener::bind(("127.0.0.1", 0)).await?,
        },
        None => TcpListener::bind(("127.0.0.1", 0)).await?,
    };
    let addr = listener.local_addr()?;
    std::fs::write(&port_file, addr.port().to_string())?;
    let url = format!("https://{addr}");
    crate::store::write_private(&dir.join("kubeconfig"), kubeconfig(&url, ca.cert_pem(), &token).as_bytes())?;

    let tls = tokio_rustls::TlsAcceptor::from(ca.server_config("mcp-egress-lab kubernetes", &[b"h2", b"http/1.1"])?);
    use crate::fault::FaultKind;
    let lab_faults = Arc::new(crate::fault::Faults::new(&[
        FaultKind::ServerError,
        FaultKind::Slow,
        FaultKind::Conflict,
        FaultKind::Throttle,
    ]));
    let app = Arc::new(App {
        store: store.clone(),
        token: token.clone(),
        address: addr.to_string(),
        faults: fault::FaultSwitch::new(dir),
        lab_faults: lab_faults.clone(),
    });

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tasks = vec![
        tokio::spawn(accept_loop(listener, tls, app, stopped)),
        tokio::spawn(controllers::run(store.clone())),
        tokio::spawn(persist(store.clone())),
    ];
    Ok(KubeHandle { addr, dir: dir.to_path_buf(), store, tasks, stop, lab_faults, token })
}

/// Accepts connections until stopped; open connections (and their watches) close on stop too.
async fn accept_loop(
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    app: Arc<App>,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let app = app.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let Ok(stream) = tls.accept(tcp).await else { return };
            let service = hyper::service::service_fn(move |req| server::serve(app.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stopped.wait_for(|s| *s) => {}
            }
        });
    }
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

/// The inventory saved in `dir`, for when the lab is not running.
pub fn inventory_from_dir(dir: &Path) -> anyhow::Result<Value> {
    store::inventory_from_file(&state_dir(dir))
}

/// Calls one of the lab endpoints of a running API from another process (the CLI), with the token and CA
/// of `DIR/kube/` and the CA in `DIR/ca.pem`.
async fn call_lab(dir: &Path, method: &str, path: &str) -> anyhow::Result<Value> {
    use http_body_util::BodyExt;
    let kdir = state_dir(dir);
    let port: u16 = std::fs::read_to_string(kdir.join("port"))
        .context("the lab's Kubernetes API has not been started in this directory")?
        .trim()
        .parse()?;
    let token = std::fs::read_to_string(kdir.join("token")).context("reading the API token")?;
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
        .header("authorization", format!("Bearer {}", token.trim()))
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!("{}", value.get("message").and_then(Value::as_str).unwrap_or(status.as_str()));
    }
    Ok(value)
}

/// `mcp-egress-lab pod-fail`: restarts pod `namespace/name` of the running lab in `dir` with a new IP.
pub async fn fail_pod_in(dir: &Path, namespace: &str, name: &str) -> anyhow::Result<String> {
    let v = call_lab(dir, "POST", &format!("/lab/v1/namespaces/{namespace}/pods/{name}/fail")).await?;
    Ok(v["podIP"].as_str().unwrap_or_default().to_string())
}

/// The inventory of the lab in `dir`: asked of the running API, or read from the saved state when it is down.
pub async fn inventory_in(dir: &Path) -> anyhow::Result<Value> {
    match call_lab(dir, "GET", "/lab/v1/inventory").await {
        Ok(v) => Ok(v),
        Err(_) => inventory_from_dir(dir),
    }
}
