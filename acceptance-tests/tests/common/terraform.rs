//! The real `terraform` CLI against the provider binary, with no registry and no `terraform init`: each
//! [`Workspace`] is a temporary directory with its own CLI configuration whose `dev_overrides` point
//! `mcp-egress/aviatrix` at the freshly built provider.
//!
//! The provider binary is the one `cargo build` put beside this test's executable (`make test` builds it
//! first), or the directory in `MCP_EGRESS_PROVIDER_DIR`. Terraform is found by [`tools::find`]:
//! `$TERRAFORM`, PATH, then the cache `scripts/install-terraform.sh` fills.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::lab::Lab;
use super::tools;

/// The provider's address in `providers schema -json` and in state.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/mcp-egress/aviatrix";

/// The `terraform` block every configuration of ours starts with.
pub const REQUIRED_PROVIDERS: &str =
    "terraform {\n  required_providers {\n    aviatrix = { source = \"mcp-egress/aviatrix\" }\n  }\n}\n";

/// A configuration: [`REQUIRED_PROVIDERS`], an empty provider block (settings come from the environment),
/// then `body`.
pub fn config(body: &str) -> String {
    format!("{REQUIRED_PROVIDERS}\nprovider \"aviatrix\" {{}}\n{body}")
}

/// HCL for a gateway named `mcp-egress` (address `aviatrix_mcp_egress_gateway.egress`) in the lab's baseline
/// AWS VPC and gateway subnet, read from lab.env through input variables (see `steps`), with `arguments`
/// (such as `size = "t3.small"`) added to the resource block.
pub fn lab_aws_gateway(arguments: &str) -> String {
    format!(
        r#"
variable "lab_aws_account_name" {{ type = string }}
variable "aws_region" {{ type = string }}
variable "lab_aws_vpc_id" {{ type = string }}
variable "lab_aws_gateway_subnet_cidr" {{ type = string }}

resource "aviatrix_mcp_egress_gateway" "egress" {{
  name         = "mcp-egress"
  cloud        = "aws"
  account_name = var.lab_aws_account_name
  region       = var.aws_region
  vpc_id       = var.lab_aws_vpc_id
  subnet_cidr  = var.lab_aws_gateway_subnet_cidr
{arguments}
}}
"#
    )
}

/// A route's import ID from the values a state holds for it: `<gateway>,<destination_cidr>,<table>...`.
pub fn route_import_id(values: &serde_json::Value) -> String {
    let tables: Vec<&str> =
        values["route_table_ids"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str).collect();
    format!(
        "{},{},{}",
        values["gateway"].as_str().unwrap_or(""),
        values["destination_cidr"].as_str().unwrap_or(""),
        tables.join(",")
    )
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
        let bin = tools::find("terraform", "TERRAFORM").expect(
            "no terraform on PATH, in $TERRAFORM or in the cache: run scripts/install-terraform.sh (make test does)",
        );
        let out = Command::new(&bin)
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("running terraform version");
        // "Terraform v1.11.4" on the first line; older versions add lines after it.
        let text = tools::stdout(&out);
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
            println!(
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

/// A temporary Terraform working directory wired to the provider under test.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub terraform: Terraform,
    cli_config: PathBuf,
    overrides: Vec<(String, PathBuf)>,
    env: Vec<(String, String)>,
}

/// What one terraform command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run { code: out.status.code().unwrap_or(-1), stdout: tools::stdout(&out), stderr: tools::stderr(&out) }
    }

    /// Panics with the command's output unless it exited with `code`.
    pub fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(self.code, code, "{what}: {}", self.describe(code));
        self
    }

    /// "exit N (wanted W)" and both streams, for failure messages.
    pub fn describe(&self, wanted: i32) -> String {
        format!("exit {} (wanted {wanted})\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Workspace {
    /// A workspace holding `main.tf`.
    pub fn new(main_tf: &str) -> Workspace {
        Workspace::with_overrides(main_tf, &[])
    }

    /// A workspace holding `main.tf`, with dev_overrides for more providers (source address, directory).
    pub fn with_overrides(main_tf: &str, extra: &[(&str, &Path)]) -> Workspace {
        let overrides = extra.iter().map(|(source, path)| (source.to_string(), path.to_path_buf())).collect();
        let ws = Workspace::create(Terraform::find(), overrides, Vec::new());
        ws.write("main.tf", main_tf);
        ws
    }

    /// A workspace holding `main.tf` whose commands see the lab's `lab.env`: each variable as itself and as
    /// the input variable `TF_VAR_<name in lower case>`.
    pub fn for_lab(lab: &Lab, main_tf: &str) -> Workspace {
        let mut ws = Workspace::new(main_tf);
        for (name, value) in &lab.env {
            ws.set_env(name, value);
            ws.set_env(&format!("TF_VAR_{}", name.to_lowercase()), value);
        }
        ws
    }

    fn create(terraform: Terraform, overrides: Vec<(String, PathBuf)>, env: Vec<(String, String)>) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut lines = format!("    \"mcp-egress/aviatrix\" = {:?}\n", provider_dir().display().to_string());
        for (source, path) in &overrides {
            lines.push_str(&format!("    {source:?} = {:?}\n", path.display().to_string()));
        }
        let cli_config = dir.path().join("terraform.rc");
        std::fs::write(
            &cli_config,
            format!("provider_installation {{\n  dev_overrides {{\n{lines}  }}\n  direct {{}}\n}}\n"),
        )
        .expect("writing terraform.rc");
        Workspace { dir, terraform, cli_config, overrides, env }
    }

    /// A new workspace with this one's configuration files, providers and environment but no state: where
    /// an import starts from.
    pub fn fresh(&self) -> Workspace {
        let ws = Workspace::create(self.terraform.clone(), self.overrides.clone(), self.env.clone());
        for entry in std::fs::read_dir(self.path()).expect("reading the workspace") {
            let path = entry.expect("workspace entry").path();
            if path.extension().is_some_and(|ext| ext == "tf") {
                std::fs::copy(&path, ws.path().join(path.file_name().unwrap())).expect("copying configuration");
            }
        }
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.dir.path().join(name), contents).expect("writing into the workspace");
    }

    /// Copies the repository folder `from` (such as `modules`) to the same place in the workspace, skipping
    /// what `terraform init` and `apply` leave there (`.terraform*`, state files), so a root module's relative
    /// module sources (`../../modules/...`) resolve in the copy as in the repository.
    pub fn copy_repo_tree(&self, from: &str) {
        fn copy(src: &Path, dst: &Path) {
            std::fs::create_dir_all(dst).expect("creating a folder in the workspace");
            for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
                let entry = entry.expect("folder entry");
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with(".terraform") || name.contains(".tfstate") {
                    continue;
                }
                let path = entry.path();
                if path.is_dir() {
                    copy(&path, &dst.join(&name));
                } else {
                    std::fs::copy(&path, dst.join(&name)).expect("copying into the workspace");
                }
            }
        }
        copy(&tools::repo_root().join(from), &self.path().join(from));
    }

    /// Runs terraform with `args` in the workspace's subfolder `dir` (`terraform -chdir=dir ...`).
    pub fn run_in(&self, dir: &str, args: &[&str]) -> Run {
        let chdir = format!("-chdir={dir}");
        let mut all = vec![chdir.as_str()];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// terraform with `args` in the workspace, with logging off unless the test set TF_LOG.
    fn command(&self, args: &[&str]) -> Command {
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
        cmd
    }

    /// Runs terraform with `args` in the workspace and waits for it.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("running terraform"))
    }

    /// Starts terraform with `args` in the workspace without waiting, its output captured, for a test that
    /// acts while it runs (an interruption, say).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting terraform")
    }

    /// Runs terraform and parses its stdout as JSON, failing the test unless it exits 0.
    pub fn json(&self, args: &[&str]) -> Value {
        let run = self.run(args).expect_code(0, &format!("terraform {}", args.join(" ")));
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("terraform {args:?} printed no JSON ({e}):\n{}", run.stdout))
    }

    /// `terraform output -json`.
    pub fn outputs(&self) -> Value {
        self.json(&["output", "-json"])
    }

    /// `terraform show -json`: the state as Terraform reports it.
    pub fn state(&self) -> Value {
        self.json(&["show", "-json"])
    }

    /// Our provider's entry in `terraform providers schema -json`.
    pub fn provider_schema(&self) -> Value {
        self.json(&["providers", "schema", "-json"])["provider_schemas"][PROVIDER_ADDRESS].clone()
    }
}
