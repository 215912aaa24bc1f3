//! The lab's detached process (`mcp-egress-lab serve --dir DIR`) and the files it shares with the CLI.
//!
//! Owns the lab directory's layout (config, secrets, run info, `lab.env`, baseline), starting every emulator
//! on its own loopback port, the admin endpoint the CLI's `inventory`, `fault` and `reboot-controller` talk to,
//! and shutdown. It must not implement any emulated system's behaviour: that lives in the emulators' modules,
//! registered in [`start_emulators`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::aws::{Aws, AwsHost, MotoProcess};
use crate::azure::{Azure, AzureConfig, AzureHost};
use crate::controller::{CloudHost, Controller, ControllerConfig, CLOUD_AWS, CLOUD_AZURE};
use crate::emulator::Emulator;
use crate::fault::{FaultKind, FaultSetting};
use crate::inventory::{self, Object};
use crate::store::{write_atomic, write_private};
use crate::tls::LabCa;

/// Settings chosen at `up` and kept in `DIR/config.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabConfig {
    /// Lifetime of a controller CID, in seconds.
    pub cid_lifetime_secs: u64,
    /// How long the controller's async tasks answer REQUEST_IN_PROGRESS, in milliseconds.
    pub task_ms: u64,
    /// The AWS region of the baseline.
    pub aws_region: String,
}

impl Default for LabConfig {
    fn default() -> LabConfig {
        LabConfig { cid_lifetime_secs: 3600, task_ms: 1000, aws_region: "us-east-1".into() }
    }
}

/// Credentials the lab invents on first `up`, kept in `DIR/secrets.json` (mode 0600).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Secrets {
    pub controller_username: String,
    pub controller_password: String,
    pub azure_tenant_id: String,
    pub azure_subscription_id: String,
    pub azure_client_id: String,
    pub azure_client_secret: String,
    /// Guards the admin endpoint.
    pub admin_token: String,
    /// The bearer token of the lab's Kubernetes API (in `DIR/kubeconfig`). Labs made before it existed get
    /// one on their next start.
    #[serde(default)]
    pub kubernetes_token: String,
}

/// What a running lab wrote for the CLI: `DIR/run.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    pub daemon_pid: u32,
    /// Other processes the daemon started (name, pid), e.g. moto.
    pub children: Vec<(String, u32)>,
    pub admin_url: String,
    /// One line per emulator: target and where it serves.
    pub emulators: Vec<(String, String)>,
}

/// Files of a lab directory.
pub struct LabDir {
    pub dir: PathBuf,
}

impl LabDir {
    pub fn new(dir: &Path) -> anyhow::Result<LabDir> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the lab directory {}", dir.display()))?;
        let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
        Ok(LabDir { dir })
    }

    pub fn run_file(&self) -> PathBuf {
        self.dir.join("run.json")
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("lab.log")
    }

    pub fn env_file(&self) -> PathBuf {
        self.dir.join("lab.env")
    }

    pub fn baseline_file(&self) -> PathBuf {
        self.dir.join("baseline.json")
    }

    /// The ports of the last run, by emulator, so that a restarted lab serves where `lab.env` points.
    pub fn ports(&self) -> HashMap<String, u16> {
        std::fs::read(self.dir.join("ports.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn save_ports(&self, ports: &HashMap<String, u16>) -> anyhow::Result<()> {
        write_atomic(&self.dir.join("ports.json"), &serde_json::to_vec_pretty(ports)?)
    }

    pub fn run_info(&self) -> anyhow::Result<Option<RunInfo>> {
        match std::fs::read(self.run_file()) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).context("parsing run.json")?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("reading run.json"),
        }
    }

    /// The saved config, with `change` applied and saved back.
    pub fn config(&self, change: impl FnOnce(&mut LabConfig)) -> anyhow::Result<LabConfig> {
        let path = self.dir.join("config.json");
        let mut config = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).context("parsing config.json")?,
            Err(_) => LabConfig::default(),
        };
        change(&mut config);
        write_atomic(&path, &serde_json::to_vec_pretty(&config)?)?;
        Ok(config)
    }

    /// The lab's credentials, invented on first use.
    pub fn secrets(&self) -> anyhow::Result<Secrets> {
        let path = self.dir.join("secrets.json");
        let mut secrets = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).context("parsing secrets.json")?,
            Err(_) => Secrets {
                controller_username: "admin".into(),
                controller_password: crate::controller::random_token(24),
                azure_tenant_id: uuid::Uuid::new_v4().to_string(),
                azure_subscription_id: uuid::Uuid::new_v4().to_string(),
                azure_client_id: uuid::Uuid::new_v4().to_string(),
                azure_client_secret: crate::controller::random_token(40),
                admin_token: crate::controller::random_token(32),
                kubernetes_token: String::new(),
            },
        };
        if secrets.kubernetes_token.is_empty() {
            secrets.kubernetes_token = crate::controller::random_token(64);
            write_private(&path, &serde_json::to_vec_pretty(&secrets)?)?;
        }
        Ok(secrets)
    }

    /// The port book of this lab: where each emulator listened last time, and where it listens now.
    pub fn port_book(&self) -> PortBook {
        PortBook { previous: self.ports(), now: HashMap::new() }
    }
}

/// Quotes a value for a POSIX shell.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The lab.env line that puts the tools the project installs first on PATH: the cache's `bin/` (terraform
/// when none was on PATH) and `<repo>/.cache/bin` (kubectl and helm, from `scripts/install-kube-tools.sh`),
/// one entry when they are the same. The `case` makes sourcing lab.env again change nothing.
fn tools_first_on_path() -> String {
    let real = |dir: PathBuf| std::fs::canonicalize(&dir).unwrap_or(dir);
    let mut dirs = Vec::new();
    for dir in [real(crate::aws::moto::cache_dir()).join("bin"), real(crate::aws::moto::repo_root()).join(".cache/bin")]
    {
        let dir = dir.display().to_string();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let bins = shell_quote(&dirs.join(":"));
    format!("# the project's tools (kubectl, helm, terraform) first on PATH, once\ncase \":$PATH:\" in *:{bins}:*) ;; *) export PATH={bins}:\"$PATH\" ;; esac\n")
}

/// Writes `DIR/lab.env`: every emulator's variables, then the baseline's identities. The one place the file
/// is written; an emulator adds lines through [`Emulator::env`].
pub fn write_lab_env(lab: &LabDir, emulators: &[Arc<dyn Emulator>]) -> anyhow::Result<()> {
    let mut text = String::from("# Written by `mcp-egress-lab up`. Source it: . ./lab.env\n");
    text.push_str(&tools_first_on_path());
    for emulator in emulators {
        text.push_str(&format!("# {}\n", emulator.target()));
        for (name, value) in emulator.env() {
            text.push_str(&format!("export {name}={}\n", shell_quote(&value)));
        }
    }
    write_private(&lab.env_file(), text.as_bytes())
}

/// The running emulators, in the order `status` and `lab.env` list them.
pub struct Emulators {
    pub list: Vec<Arc<dyn Emulator>>,
    pub controller: Arc<Controller>,
    /// Processes the emulators started (name, pid).
    pub children: Vec<(String, u32)>,
    /// Kept alive for the daemon's lifetime (child processes, guards).
    pub keep: Vec<Box<dyn std::any::Any + Send + Sync>>,
    /// Where each emulator listens.
    pub ports: PortBook,
    /// The lab Kubernetes API's live objects, for the enforcement point.
    pub kube: crate::kube::ObjectReader,
}

/// Starts every emulator on its own loopback port. To add an emulated system: start it here, push it on
/// `list`, and give it a [`CloudHost`] or other handle if the controller needs one.
pub async fn start_emulators(
    lab: &LabDir,
    ca: &LabCa,
    config: &LabConfig,
    secrets: &Secrets,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Emulators> {
    let mut ports = lab.port_book();
    let mut clouds: HashMap<u32, Arc<dyn CloudHost>> = HashMap::new();
    let mut list: Vec<Arc<dyn Emulator>> = Vec::new();
    let mut children = Vec::new();
    let mut keep: Vec<Box<dyn std::any::Any + Send + Sync>> = Vec::new();

    // Azure Resource Manager (TLS), with its token endpoint on the same port.
    let azure = Azure::open(
        &lab.dir,
        AzureConfig {
            tenant_id: secrets.azure_tenant_id.clone(),
            subscription_id: secrets.azure_subscription_id.clone(),
            client_id: secrets.azure_client_id.clone(),
            client_secret: secrets.azure_client_secret.clone(),
            resource_group: "lab-rg".into(),
            location: "eastus".into(),
            vnet_name: "lab-vnet".into(),
        },
    )?;
    let listener = ports.bind("azure").await?;
    azure.set_url(format!("https://127.0.0.1:{}", listener.local_addr()?.port()));
    let tls = ca.server_config("azure-resource-manager", &[b"h2", b"http/1.1"])?;
    tokio::spawn(crate::http::serve(listener, Some(tls), azure.router(), shutdown.clone()));
    clouds.insert(CLOUD_AZURE, Arc::new(AzureHost { azure: azure.clone() }));
    let azure_cluster_id = azure.aks_cluster_id();
    list.push(azure);

    // AWS EC2: moto (plain HTTP, loopback only), restored from the journal, behind the lab's proxy, which
    // speaks HTTPS with the lab CA as EC2's endpoints do.
    let moto = MotoProcess::start().await?;
    crate::http::log("aws", format!("moto_server answering on {}", moto.url));
    children.push(("moto_server".to_string(), moto.pid()));
    let aws = Aws::open(&lab.dir, moto.url.clone(), &config.aws_region).await?;
    keep.push(Box::new(moto));
    let listener = ports.bind("aws").await?;
    aws.set_url(format!("https://127.0.0.1:{}", listener.local_addr()?.port()));
    let tls = ca.server_config("aws-ec2", &[b"h2", b"http/1.1"])?;
    tokio::spawn(crate::http::serve(listener, Some(tls), aws.router(), shutdown.clone()));
    clouds.insert(CLOUD_AWS, Arc::new(AwsHost { ec2: aws.ec2.clone() }));
    list.push(aws.clone());

    let controller_config = ControllerConfig {
        username: secrets.controller_username.clone(),
        password: secrets.controller_password.clone(),
        cid_lifetime: Duration::from_secs(config.cid_lifetime_secs),
        task_duration: Duration::from_millis(config.task_ms),
        aws_account_name: "lab-aws".into(),
        aws_account_number: crate::aws::ACCOUNT_ID.into(),
        azure_account_name: "lab-azure".into(),
        azure_subscription_id: secrets.azure_subscription_id.clone(),
        known_clusters: vec![aws.eks_cluster_id(), azure_cluster_id],
    };
    let controller = Controller::open(&lab.dir, controller_config, clouds)?;
    let listener = ports.bind("controller").await?;
    controller.set_url(format!("https://127.0.0.1:{}", listener.local_addr()?.port()));
    let tls = ca.server_config("aviatrix-controller", &[b"h2", b"http/1.1"])?;
    tokio::spawn(crate::http::serve(listener, Some(tls), controller.router(), shutdown.clone()));
    list.insert(0, controller.clone() as Arc<dyn Emulator>);
    // Kubernetes API (TLS, bearer token). The controller reconciles FirewallPolicy objects through it, as the
    // real controller does with the credentials it was given at onboarding.
    let listener = ports.bind(crate::kube::TARGET).await?;
    let kube = crate::kube::start(&lab.dir, ca, &secrets.kubernetes_token, listener).await?;
    controller.start_reconciler(crate::controller::reconcile::KubeAccess {
        server: kube.url().to_string(),
        ca_pem: ca.cert_pem().as_bytes().to_vec(),
        token: secrets.kubernetes_token.clone(),
    });
    let kube_reader = kube.reader();
    list.push(Arc::new(crate::kube::emulator::KubeEmulator::new(kube)));

    Ok(Emulators { list, controller, children, keep, ports, kube: kube_reader })
}

/// The ports emulators bound, kept in `DIR/ports.json`: each prefers the one it had last time, so a restarted
/// lab serves where `lab.env` and `DIR/kubeconfig` point.
pub struct PortBook {
    previous: HashMap<String, u16>,
    now: HashMap<String, u16>,
}

impl PortBook {
    /// A loopback listener for emulator `name`, on its previous port when that is free.
    pub async fn bind(&mut self, name: &str) -> anyhow::Result<tokio::net::TcpListener> {
        let listener = crate::http::bind_loopback_preferring(self.previous.get(name).copied()).await?;
        self.now.insert(name.to_string(), listener.local_addr()?.port());
        Ok(listener)
    }

    /// Records the ports bound so far in `lab`, beside those of emulators not started this time.
    pub fn save(&self, lab: &LabDir) -> anyhow::Result<()> {
        let mut all = self.previous.clone();
        all.extend(self.now.iter().map(|(name, port)| (name.clone(), *port)));
        lab.save_ports(&all)
    }
}

struct Admin {
    emulators: Vec<Arc<dyn Emulator>>,
    controller: Arc<Controller>,
    token: String,
    baseline: Vec<Object>,
}

/// The body of `POST /fault`.
#[derive(Debug, Serialize, Deserialize)]
pub struct FaultRequest {
    pub target: String,
    pub kind: FaultKind,
    pub rate: f64,
    pub delay_ms: u64,
    /// Only writes are eligible (where the emulator tells reads from writes).
    #[serde(default)]
    pub writes_only: bool,
}

/// The admin endpoint's error: plain text, HTTP 400 or 500.
fn admin_error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, text.into()).into_response()
}

fn authorised(admin: &Admin, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get("x-lab-admin-token").and_then(|v| v.to_str().ok()) {
        Some(token) if token == admin.token => Ok(()),
        _ => Err(admin_error(StatusCode::UNAUTHORIZED, "missing or wrong x-lab-admin-token")),
    }
}

async fn collect_inventory(emulators: &[Arc<dyn Emulator>]) -> anyhow::Result<Vec<Object>> {
    let mut all = Vec::new();
    for emulator in emulators {
        all.extend(emulator.inventory().await.with_context(|| format!("listing {}", emulator.target()))?);
    }
    Ok(all)
}

async fn admin_inventory(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&admin, &headers) {
        return r;
    }
    match collect_inventory(&admin.emulators).await {
        Ok(mut objects) => {
            inventory::mark(&mut objects, &admin.baseline);
            Json(inventory::by_system(objects)).into_response()
        }
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

async fn admin_diff(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&admin, &headers) {
        return r;
    }
    match collect_inventory(&admin.emulators).await {
        Ok(objects) => Json(inventory::diff(&admin.baseline, &objects)).into_response(),
        Err(e) => admin_error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    }
}

async fn admin_fault(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Json(request): Json<FaultRequest>,
) -> Response {
    if let Err(r) = authorised(&admin, &headers) {
        return r;
    }
    let Some(emulator) = admin.emulators.iter().find(|e| e.target() == request.target) else {
        let targets: Vec<&str> = admin.emulators.iter().map(|e| e.target()).collect();
        return admin_error(
            StatusCode::BAD_REQUEST,
            format!("no emulator {:?} in this lab; targets: {}", request.target, targets.join(", ")),
        );
    };
    let setting = FaultSetting {
        rate: request.rate,
        writes_only: request.writes_only,
        ..FaultSetting::always(request.kind, request.delay_ms)
    };
    match emulator.faults().set(emulator.target(), setting) {
        Ok(()) => {
            crate::http::log(
                "admin",
                format!("fault {} on {} at rate {}", request.kind.name(), request.target, request.rate),
            );
            Json(emulator.faults().active()).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e),
    }
}

async fn admin_faults(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&admin, &headers) {
        return r;
    }
    let all: HashMap<&str, Vec<FaultSetting>> =
        admin.emulators.iter().map(|e| (e.target(), e.faults().active())).collect();
    Json(all).into_response()
}

async fn admin_reboot(State(admin): State<Arc<Admin>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&admin, &headers) {
        return r;
    }
    admin.controller.reboot();
    crate::http::log("admin", "controller rebooted: sessions ended, reboot-reset feature flags off");
    Json(serde_json::json!({"rebooted": true})).into_response()
}

/// Runs the lab until SIGTERM or SIGINT: `mcp-egress-lab serve --dir DIR`.
pub async fn serve(dir: &Path) -> anyhow::Result<()> {
    let lab = LabDir::new(dir)?;
    crate::http::log("daemon", format!("starting in {}", lab.dir.display()));
    let config = lab.config(|_| {})?;
    let secrets = lab.secrets()?;
    let ca = LabCa::load_or_create(&lab.dir)?;
    let (shutdown_tx, shutdown) = watch::channel(false);

    let mut emulators = start_emulators(&lab, &ca, &config, &secrets, &shutdown).await?;

    // The baseline is what a fresh lab holds right after seeding; later starts keep the first one.
    let baseline: Vec<Object> = match std::fs::read(lab.baseline_file()) {
        Ok(bytes) => serde_json::from_slice(&bytes).context("parsing baseline.json")?,
        Err(_) => {
            let objects = collect_inventory(&emulators.list).await?;
            write_atomic(&lab.baseline_file(), &serde_json::to_vec_pretty(&objects)?)?;
            objects
        }
    };

    let admin = Arc::new(Admin {
        emulators: emulators.list.clone(),
        controller: emulators.controller.clone(),
        token: secrets.admin_token.clone(),
        baseline,
    });
    let admin_router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/inventory", get(admin_inventory))
        .route("/inventory/diff", get(admin_diff))
        .route("/fault", post(admin_fault))
        .route("/faults", get(admin_faults))
        .route("/reboot-controller", post(admin_reboot))
        .with_state(admin.clone());
    let pep = crate::pep::Pep::new(&lab.dir, emulators.controller.clone(), emulators.kube.clone())?;
    let token = admin.token.clone();
    let protected = crate::pep::http::routes(pep.clone()).merge(crate::ui::routes(
        &lab.dir,
        emulators.controller.clone(),
        emulators.kube.clone(),
        pep,
    ));
    let admin_router = admin_router.merge(protected.route_layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let token = token.clone();
            async move {
                match request.headers().get("x-lab-admin-token").and_then(|v| v.to_str().ok()) {
                    Some(given) if given == token => next.run(request).await,
                    _ => admin_error(StatusCode::UNAUTHORIZED, "missing or wrong x-lab-admin-token"),
                }
            }
        },
    )));
    let admin_listener = emulators.ports.bind("admin").await?;
    emulators.ports.save(&lab)?;
    let admin_url = format!("http://127.0.0.1:{}", admin_listener.local_addr()?.port());
    tokio::spawn(crate::http::serve(admin_listener, None, admin_router, shutdown.clone()));

    write_lab_env(&lab, &emulators.list)?;
    let run = RunInfo {
        daemon_pid: std::process::id(),
        children: emulators.children.clone(),
        admin_url,
        emulators: emulators.list.iter().map(|e| (e.target().to_string(), e.describe())).collect(),
    };
    write_atomic(&lab.run_file(), &serde_json::to_vec_pretty(&run)?)?;
    crate::http::log("daemon", format!("ready: {}", lab.dir.display()));

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    crate::http::log("daemon", "stopping");
    let _ = shutdown_tx.send(true);
    drop(emulators);
    Ok(())
}
