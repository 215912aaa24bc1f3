//! `mcp-egress-lab`: brings the lab up and down, and inspects it.
//!
//! Owns the command line and process handling (starting the detached daemon, stopping it by recorded pid).
//! Everything the lab serves lives in the library; this file only starts, stops and asks.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use mcp_egress_lab::daemon::{FaultRequest, LabDir, RunInfo};
use mcp_egress_lab::fault::FaultKind;

/// What a command that needs a running lab exits with when there is none; `status` says the same with it.
const NOT_RUNNING: u8 = 3;

#[derive(Parser)]
#[command(
    name = "mcp-egress-lab",
    version,
    about = "The lab: an Aviatrix controller, Azure Resource Manager networking, AWS EC2 (moto) and a Kubernetes \
             API emulated on loopback, so the mcp-egress/aviatrix provider runs end to end with no account",
    after_help = "Exit status: 0 done; 1 failed, or `inventory --diff` found differences; 2 bad arguments; \
                  3 the lab in DIR is not running (status, inventory, fault, reboot-controller, attempt, \
                  decisions)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The directory every command takes.
#[derive(Args)]
struct Lab {
    /// The lab's directory: `up` creates it and keeps there the emulators' state, lab.env, the CA, the
    /// ports and the log; every other command finds the lab through it.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Start the lab in DIR (detached) and wait until every emulator is ready. Writes DIR/lab.env.
    Up {
        #[command(flatten)]
        lab: Lab,
        /// Lifetime of a controller session (CID), in seconds. Kept for later `up`s.
        #[arg(long)]
        cid_lifetime_secs: Option<u64>,
        /// How long the controller's async tasks stay in progress, in milliseconds. Kept for later `up`s.
        #[arg(long)]
        task_ms: Option<u64>,
    },
    /// Stop every process the lab in DIR started. Keeps all state in DIR.
    Down {
        #[command(flatten)]
        lab: Lab,
    },
    /// Say what runs where; exit 3 when the lab is not running.
    Status {
        #[command(flatten)]
        lab: Lab,
    },
    /// Print every object in every emulator as JSON, each marked as baseline or not; exit 3 when the lab is
    /// not running.
    Inventory {
        #[command(flatten)]
        lab: Lab,
        /// Print only what differs from the baseline; exit 1 when anything does.
        #[arg(long)]
        diff: bool,
    },
    /// Switch fault injection on (rate > 0) or off (rate 0) for one emulator.
    Fault {
        #[command(flatten)]
        lab: Lab,
        /// controller, azure, aws or kubernetes.
        #[arg(long)]
        target: String,
        #[arg(long, value_enum)]
        kind: FaultKind,
        /// Share of eligible requests that get the fault, 0 to 1.
        #[arg(long, default_value_t = 1.0)]
        rate: f64,
        /// Delay for `slow` and `slow-task`, Retry-After for `throttle`.
        #[arg(long, default_value_t = 2000)]
        delay_ms: u64,
        /// Only writes get the fault; reads pass (for emulators that tell them apart, such as kubernetes).
        #[arg(long)]
        writes_only: bool,
    },
    /// Reboot the controller: sessions end and the feature flags a reboot resets go off.
    RebootController {
        #[command(flatten)]
        lab: Lab,
    },
    /// Make a pod of the lab's Kubernetes fail: its containers restart and it gets a new IP from its node's
    /// pod CIDR, as after a sandbox restart. Prints the new IP.
    PodFail {
        #[command(flatten)]
        lab: Lab,
        /// The pod, as NAMESPACE/NAME.
        pod: String,
    },
    /// Try an egress connection from a pod as the lab's enforcement point (the gateway) would decide it, over
    /// the controller's live policy. Prints `<time> action=<permit|drop|watch> rule=<rule> pod=<pod>
    /// dst=<host> port=<port> tier=<n>`; the decision also goes to DIR/decisions.jsonl and to the
    /// controller's remote syslog profiles.
    Attempt {
        #[command(flatten)]
        lab: Lab,
        /// The pod, as NAMESPACE/NAME.
        #[arg(long, value_name = "NS/NAME")]
        pod: String,
        /// The destination, as HOST:PORT ([ADDRESS]:PORT for IPv6).
        #[arg(long, value_name = "HOST:PORT")]
        dst: String,
        /// tcp, udp or icmp (port 0).
        #[arg(long, default_value = "tcp")]
        protocol: String,
        /// Print the decision as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the enforcement point's decisions, oldest first.
    Decisions {
        #[command(flatten)]
        lab: Lab,
        /// Keep printing new decisions as they are made, until interrupted.
        #[arg(long)]
        follow: bool,
        /// Print each decision as a JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Serve the scenario page on loopback (no external assets) and print its URL: the MCP servers of a
    /// namespace with their pods, modes and permits, the tier-1 and tier-3 rules, an attempt form, the live
    /// decision log, and the kill chain played on this lab. Runs until interrupted; the lab may start later.
    Ui {
        #[command(flatten)]
        lab: Lab,
        /// The port on 127.0.0.1; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The MCP namespace shown first (the page can switch).
        #[arg(long, default_value = "obot-mcp")]
        namespace: String,
    },
    /// Run the lab in the foreground (what `up` starts detached).
    #[command(hide = true)]
    Serve {
        #[command(flatten)]
        lab: Lab,
    },
}

/// A command needed the lab in a directory, and it is not running there.
#[derive(Debug)]
struct NotRunning(PathBuf);

impl std::fmt::Display for NotRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no lab is running in {}; start it with `mcp-egress-lab up --dir {0}`", self.0.display())
    }
}

impl std::error::Error for NotRunning {}

fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mcp-egress-lab: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mcp-egress-lab: {e:#}");
            if e.downcast_ref::<NotRunning>().is_some() {
                ExitCode::from(NOT_RUNNING)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up { lab, cid_lifetime_secs, task_ms } => up(&lab.dir, cid_lifetime_secs, task_ms).await,
        Command::Down { lab } => down(&lab.dir),
        Command::Status { lab } => status(&lab.dir).await,
        Command::Inventory { lab, diff } => inventory(&lab.dir, diff).await,
        Command::Fault { lab, target, kind, rate, delay_ms, writes_only } => {
            let request = FaultRequest { target, kind, rate, delay_ms, writes_only };
            let active =
                admin(&lab.dir, reqwest::Method::POST, "/fault", Some(serde_json::to_value(&request)?)).await?;
            println!("{}", serde_json::to_string_pretty(&active)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::RebootController { lab } => {
            admin(&lab.dir, reqwest::Method::POST, "/reboot-controller", None).await?;
            println!("controller rebooted: sessions ended; k8s, k8s_dcf_policies, dcf_multi_policies, k8s_discovery and log_enrichment are off");
            Ok(ExitCode::SUCCESS)
        }
        Command::PodFail { lab, pod } => {
            let (namespace, name) =
                pod.split_once('/').with_context(|| format!("pod {pod:?}: give it as NAMESPACE/NAME"))?;
            let ip = mcp_egress_lab::kube::fail_pod_in(&lab.dir, namespace, name).await?;
            println!("pod {namespace}/{name} restarted with IP {ip}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Attempt { lab, pod, dst, protocol, json } => {
            let request = mcp_egress_lab::pep::http::AttemptRequest { pod, dst, protocol };
            let decision =
                admin(&lab.dir, reqwest::Method::POST, "/pep/attempt", Some(serde_json::to_value(&request)?)).await?;
            let decision: mcp_egress_lab::pep::Decision =
                serde_json::from_value(decision).context("reading the lab's decision")?;
            print_decision(&decision, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Decisions { lab, follow, json } => decisions(&lab.dir, follow, json).await,
        Command::Ui { lab, port, namespace } => {
            let dir = LabDir::new(&lab.dir)?.dir;
            let locate: mcp_egress_lab::ui::Locate = std::sync::Arc::new(move || {
                running_lab(&dir).map(|(run, token)| (run.admin_url, token)).map_err(|e| format!("{e:#}"))
            });
            mcp_egress_lab::ui::serve(locate, &namespace, port, |url| {
                use std::io::Write;
                println!("scenario page: {url}");
                let _ = std::io::stdout().flush();
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { lab } => {
            mcp_egress_lab::daemon::serve(&lab.dir).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether `pid` is a live (not zombie) process whose command line contains `marker`.
fn alive(pid: u32, marker: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false);
    !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid we recorded and re-checked just before; no memory is involved.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// The processes of a lab: the daemon, then what it started, each with the marker its command line holds.
fn processes(run: &RunInfo) -> Vec<(String, u32)> {
    let mut all = vec![("mcp-egress-lab".to_string(), run.daemon_pid)];
    all.extend(run.children.iter().cloned());
    all
}

/// Stops the processes of `run` by pid: SIGTERM, then SIGKILL after five seconds.
fn stop(run: &RunInfo) -> Vec<String> {
    let procs: Vec<(String, u32)> = processes(run).into_iter().filter(|(marker, pid)| alive(*pid, marker)).collect();
    for (_, pid) in &procs {
        signal(*pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && procs.iter().any(|(m, p)| alive(*p, m)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (marker, pid) in &procs {
        if alive(*pid, marker) {
            signal(*pid, libc::SIGKILL);
        }
    }
    procs.iter().map(|(m, p)| format!("{m} (pid {p})")).collect()
}

async fn up(dir: &Path, cid_lifetime_secs: Option<u64>, task_ms: Option<u64>) -> anyhow::Result<ExitCode> {
    let lab = LabDir::new(dir)?;
    if let Some(run) = lab.run_info()? {
        if alive(run.daemon_pid, "mcp-egress-lab") {
            println!("the lab in {} is already running", lab.dir.display());
            return status(&lab.dir).await;
        }
        // A daemon that died leaves its run file, and maybe children: stop those by their recorded pids.
        stop(&run);
        std::fs::remove_file(lab.run_file()).context("removing a stale run.json")?;
    }
    mcp_egress_lab::aws::ensure_moto_installed()?;
    lab.config(|config| {
        if let Some(secs) = cid_lifetime_secs {
            config.cid_lifetime_secs = secs;
        }
        if let Some(ms) = task_ms {
            config.task_ms = ms;
        }
    })?;
    lab.secrets()?;
    mcp_egress_lab::tls::LabCa::load_or_create(&lab.dir)?;

    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(lab.log_file())
        .with_context(|| format!("opening {}", lab.log_file().display()))?;
    let exe = std::env::current_exe().context("finding the mcp-egress-lab binary")?;
    let mut child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(exe)
            .arg("serve")
            .arg("--dir")
            .arg(&lab.dir)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting the lab daemon")?
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(run) = lab.run_info().ok().flatten() {
            if run.daemon_pid == child.id() {
                break;
            }
        }
        if let Some(exit) = child.try_wait()? {
            let log = std::fs::read_to_string(lab.log_file()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
            bail!(
                "the lab daemon exited ({exit}) before it was ready; {}:\n{}",
                lab.log_file().display(),
                tail.join("\n")
            );
        }
        if Instant::now() > deadline {
            signal(child.id(), libc::SIGTERM);
            bail!("the lab did not get ready within 60 s; see {}", lab.log_file().display());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    println!("lab up in {}", lab.dir.display());
    println!("  source {} for the provider's variables", lab.env_file().display());
    status(&lab.dir).await
}

fn down(dir: &Path) -> anyhow::Result<ExitCode> {
    let lab = LabDir::new(dir)?;
    let Some(run) = lab.run_info()? else {
        println!("no lab is running in {}", lab.dir.display());
        return Ok(ExitCode::SUCCESS);
    };
    let stopped = stop(&run);
    std::fs::remove_file(lab.run_file()).context("removing run.json")?;
    if stopped.is_empty() {
        println!("the lab in {} had already stopped", lab.dir.display());
    } else {
        println!("stopped {}; state kept in {}", stopped.join(", "), lab.dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(dir: &Path) -> anyhow::Result<ExitCode> {
    let lab = LabDir::new(dir)?;
    let Some(run) = lab.run_info()? else {
        println!("not running (no {})", lab.run_file().display());
        return Ok(ExitCode::from(NOT_RUNNING));
    };
    let mut all_alive = true;
    for (marker, pid) in processes(&run) {
        let up = alive(pid, &marker);
        all_alive &= up;
        println!("  {marker:<16} pid {pid:<8} {}", if up { "running" } else { "NOT RUNNING" });
    }
    for (target, describe) in &run.emulators {
        println!("  {target:<16} {describe}");
    }
    println!("  {:<16} {}", "admin", run.admin_url);
    println!("  {:<16} {}", "env", lab.env_file().display());
    if all_alive {
        if let Ok(faults) = admin(&lab.dir, reqwest::Method::GET, "/faults", None).await {
            let active: Vec<String> = faults
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(target, list)| {
                    list.as_array()
                        .into_iter()
                        .flatten()
                        .map(move |f| format!("{target}:{} rate {}", f["kind"].as_str().unwrap_or("?"), f["rate"]))
                })
                .collect();
            if !active.is_empty() {
                println!("  {:<16} {}", "faults", active.join(", "));
            }
        }
    }
    Ok(if all_alive { ExitCode::SUCCESS } else { ExitCode::from(NOT_RUNNING) })
}

/// The running lab in `dir` and its admin token, or [`NotRunning`].
fn running_lab(dir: &Path) -> anyhow::Result<(RunInfo, String)> {
    let lab = LabDir::new(dir)?;
    let run = match lab.run_info()? {
        Some(run) if alive(run.daemon_pid, "mcp-egress-lab") => run,
        _ => return Err(NotRunning(lab.dir.clone()).into()),
    };
    Ok((run, lab.secrets()?.admin_token))
}

/// Calls the running lab's admin endpoint.
async fn admin(
    dir: &Path,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let (run, token) = running_lab(dir)?;
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build()?;
    let mut request = client.request(method, format!("{}{path}", run.admin_url)).header("x-lab-admin-token", token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.with_context(|| format!("reaching the lab at {}; is it up?", run.admin_url))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{text}");
    }
    Ok(serde_json::from_str(&text)?)
}

fn print_decision(decision: &mcp_egress_lab::pep::Decision, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(decision)?)?;
    } else {
        writeln!(out, "{}", decision.line)?;
    }
    out.flush()?;
    Ok(())
}

/// `decisions`: the log from the admin endpoint, or with `follow` its event stream, printed as it comes.
async fn decisions(dir: &Path, follow: bool, json: bool) -> anyhow::Result<ExitCode> {
    if !follow {
        let all: Vec<mcp_egress_lab::pep::Decision> =
            serde_json::from_value(admin(dir, reqwest::Method::GET, "/pep/decisions", None).await?)?;
        for decision in &all {
            print_decision(decision, json)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (run, token) = running_lab(dir)?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut response = client
        .get(format!("{}/pep/decisions/stream", run.admin_url))
        .header("x-lab-admin-token", token)
        .send()
        .await
        .with_context(|| format!("reaching the lab at {}; is it up?", run.admin_url))?;
    if !response.status().is_success() {
        bail!("{}", response.text().await.unwrap_or_default());
    }
    // Server-sent events: `data:` lines, an empty line ends an event.
    let mut pending = String::new();
    let mut data = String::new();
    while let Some(chunk) = response.chunk().await.context("reading the decision stream")? {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line = pending[..end].trim_end_matches('\r').to_string();
            pending.drain(..=end);
            if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.trim_start());
            } else if line.is_empty() && !data.is_empty() {
                let decision: mcp_egress_lab::pep::Decision =
                    serde_json::from_str(&data).context("reading a decision from the stream")?;
                print_decision(&decision, json)?;
                data.clear();
            }
        }
    }
    bail!("the lab closed the decision stream (it stopped?)")
}

async fn inventory(dir: &Path, diff: bool) -> anyhow::Result<ExitCode> {
    if diff {
        let diff: mcp_egress_lab::inventory::Diff =
            serde_json::from_value(admin(dir, reqwest::Method::GET, "/inventory/diff", None).await?)?;
        println!("{}", serde_json::to_string_pretty(&diff)?);
        return Ok(if diff.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let objects = admin(dir, reqwest::Method::GET, "/inventory", None).await?;
    println!("{}", serde_json::to_string_pretty(&objects)?);
    Ok(ExitCode::SUCCESS)
}
