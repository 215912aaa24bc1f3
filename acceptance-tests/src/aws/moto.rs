//! Installing and running moto's server.
//!
//! Owns the venv under the repository's ignored cache (`<repo>/.cache/moto-venv`, or `$MCP_EGRESS_CACHE`),
//! which `scripts/install-moto.sh` fills on first use, and the `moto_server` child process.

use std::path::PathBuf;

use anyhow::{bail, Context};

/// The repository root: the parent of this crate's directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The cache directory: `$MCP_EGRESS_CACHE`, else `<repo>/.cache`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("MCP_EGRESS_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".cache"),
    }
}

/// The `moto_server` executable in the cache's venv.
pub fn moto_server() -> PathBuf {
    cache_dir().join("moto-venv").join("bin").join("moto_server")
}

/// Installs moto into the cache unless it is there already (the script says so on stderr while it works).
pub fn ensure_moto_installed() -> anyhow::Result<()> {
    let script = repo_root().join("scripts").join("install-moto.sh");
    if !script.exists() {
        if moto_server().exists() {
            return Ok(());
        }
        bail!(
            "moto is not installed and {} is missing; run the lab from a checkout of the repository",
            script.display()
        );
    }
    let status = std::process::Command::new("bash")
        .arg(&script)
        .env("MCP_EGRESS_CACHE", cache_dir())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    if !status.success() {
        bail!("installing moto failed ({status}); is python3 with venv and pip available, and PyPI reachable?");
    }
    if !moto_server().exists() {
        bail!("{} did not produce {}", script.display(), moto_server().display());
    }
    Ok(())
}

/// A running `moto_server`, stopped when dropped.
pub struct MotoProcess {
    child: std::process::Child,
    pub url: String,
}

impl MotoProcess {
    /// Starts moto on a free loopback port and waits until it answers.
    pub async fn start() -> anyhow::Result<MotoProcess> {
        let server = moto_server();
        if !server.exists() {
            bail!("{} is missing; `mcp-egress-lab up` installs it (or run scripts/install-moto.sh)", server.display());
        }
        let port = {
            let probe = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            probe.local_addr()?.port()
        };
        let child = std::process::Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", server.display()))?;
        let mut process = MotoProcess { child, url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::builder().no_proxy().build()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(format!("{}/moto-api/", process.url)).send().await {
                if response.status().is_success() {
                    return Ok(process);
                }
            }
            if let Some(status) = process.child.try_wait()? {
                bail!("moto_server exited ({status}) before it answered");
            }
            if std::time::Instant::now() > deadline {
                bail!("moto_server did not answer on {} within 30 s", process.url);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
