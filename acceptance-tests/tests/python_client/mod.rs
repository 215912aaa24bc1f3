//! Running a Python client scenario (`tests/python/*.py`), with the client installed by its
//! `scripts/install-*.sh` into the repository's ignored cache. A test module of `lab_boto3`,
//! `lab_azure_python` and `kube_python`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[path = "../common/tools.rs"]
mod tools;

use tools::repo_root;

/// Whether python3 is missing from PATH: then the tests print `SKIP:` and return.
pub fn python3_missing() -> bool {
    std::process::Command::new("python3").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true)
}

/// Runs `scripts/{install_script}` (idempotent) and returns the python of the venv it fills, `venv`.
pub fn python_with(install_script: &str, venv: &str) -> PathBuf {
    let script = repo_root().join("scripts").join(install_script);
    let out = std::process::Command::new("bash").arg(&script).output().expect("running the install script");
    tools::ok(&out, &script.display().to_string());
    // The cache is the parent of the cache's bin/, as scripts/tools.sh lays it out.
    tools::cache_bin().parent().expect("the cache's bin/ has a parent").join(venv).join("bin/python")
}

/// Runs `tests/python/{scenario}` with `args` and exactly the environment `lab_env` (what a user gets from
/// sourcing a lab's `lab.env`), plus PATH, a private HOME so no ~/.aws or ~/.azure is read, and loopback
/// exempt from proxies; returns its stdout, after asserting it exited 0 and printed `done`.
pub async fn run_scenario(
    lab_env: &HashMap<String, String>,
    python: &Path,
    scenario: &str,
    args: &[&str],
    done: &str,
) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(scenario);
    let home = tempfile::tempdir().expect("a private HOME");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(&script)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(lab_env)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), command.output()).await.expect("in time").expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{scenario} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(done), "{stdout}");
    stdout
}
