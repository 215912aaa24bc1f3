//! Drives the real `terraform` CLI against the provider binary, with no registry and no `terraform init`:
//! each [`Workspace`] is a temporary directory with its own CLI configuration whose `dev_overrides` point
//! `mcp-egress/aviatrix` at the freshly built provider.
//!
//! The provider binary is the one `cargo build` put beside this test's executable (`make test` builds it
//! first), or the directory in `MCP_EGRESS_PROVIDER_DIR`. Terraform is `$TERRAFORM`, else the one on PATH,
//! else the one `scripts/install-terraform.sh` installed into the repo's cache.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("acceptance-tests lives in the repo").to_path_buf()
}

/// The directory holding `terraform-provider-aviatrix`.
pub fn provider_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MCP_EGRESS_PROVIDER_DIR") {
        return PathBuf::from(dir);
    }
    // target/<profile>/deps/<test> -> target/<profile>
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target directory").to_path_buf();
    let bin = dir.join("terraform-provider-aviatrix");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p terraform-provider-aviatrix` (make test does), or set MCP_EGRESS_PROVIDER_DIR",
        bin.display()
    );
    dir
}

/// A terraform binary and its version.
#[derive(Clone, Debug)]
pub struct Terraform {
    pub bin: PathBuf,
    pub version: (u32, u32, u32),
}

impl Terraform {
    pub fn find() -> Terraform {
        let bin = std::env::var_os("TERRAFORM")
            .map(PathBuf::from)
            .or_else(|| which("terraform"))
            .or_else(|| Some(repo_root().join(".cache/bin/terraform")).filter(|p| p.exists()))
            .expect("no terraform: run scripts/install-terraform.sh (make test does)");
        let out = Command::new(&bin)
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("running terraform version");
        let text = String::from_utf8_lossy(&out.stdout);
        let v = text.split_whitespace().nth(1).unwrap_or("v0.0.0").trim_start_matches('v');
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        Terraform { bin, version }
    }

    /// True when this terraform is at least `major.minor`.
    pub fn supports(&self, major: u32, minor: u32) -> bool {
        (self.version.0, self.version.1) >= (major, minor)
    }

    /// True when this terraform is at least `major.minor`; otherwise prints why the calling test skips.
    pub fn at_least(&self, major: u32, minor: u32, needs: &str) -> bool {
        let ok = self.supports(major, minor);
        if !ok {
            eprintln!(
                "SKIP: {needs} needs Terraform >= {major}.{minor}; {} is {}.{}.{}",
                self.bin.display(),
                self.version.0,
                self.version.1,
                self.version.2
            );
        }
        ok
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// A temporary Terraform working directory wired to the provider under test.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub terraform: Terraform,
    cli_config: PathBuf,
    env: Vec<(String, String)>,
}

/// What one terraform command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with the command's output unless it exited with `code`.
    pub fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(
            self.code, code,
            "{what}: exit {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl Workspace {
    /// A workspace holding `main.tf`; extra dev_overrides (source address, directory) may be given.
    pub fn new(main_tf: &str) -> Workspace {
        Workspace::with_overrides(main_tf, &[])
    }

    pub fn with_overrides(main_tf: &str, extra: &[(&str, &Path)]) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut overrides = format!("    \"mcp-egress/aviatrix\" = {:?}\n", provider_dir().display().to_string());
        for (source, path) in extra {
            overrides.push_str(&format!("    {source:?} = {:?}\n", path.display().to_string()));
        }
        let cli_config = dir.path().join("terraform.rc");
        std::fs::write(
            &cli_config,
            format!("provider_installation {{\n  dev_overrides {{\n{overrides}  }}\n  direct {{}}\n}}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("main.tf"), main_tf).unwrap();
        Workspace { dir, terraform: Terraform::find(), cli_config, env: Vec::new() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.dir.path().join(name), contents).unwrap();
    }

    /// Runs terraform with `args` in the workspace, with logging off unless the test set TF_LOG.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(&self.terraform.bin);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("TF_CLI_ARGS");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("running terraform"))
    }

    /// `terraform output -json` parsed.
    pub fn outputs(&self) -> serde_json::Value {
        let run = self.run(&["output", "-json"]).expect_code(0, "terraform output");
        serde_json::from_str(&run.stdout).expect("output -json is JSON")
    }
}
