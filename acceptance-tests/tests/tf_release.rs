//! Resource `aviatrix_mcp_egress_release` through the real terraform CLI and the real helm v4 against the lab's
//! Kubernetes: our `obot` test chart installed with values and a write-only secret (never in state, plan
//! output or helm's command line), imported, upgraded in place, drift (a field another manager took, a
//! release uninstalled behind Terraform's back) shown and repaired, `force_conflicts` taking fields back; a
//! failed install and an interrupted one leave nothing behind; a missing helm binary is a clear error; and
//! destroy removes the hook Job helm leaves and the namespace it created (`inventory --diff` clean).

mod common;
mod lab_kube;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::lab::Lab;
use common::steps::{Case, Step};
use common::terraform::{Workspace, REQUIRED_PROVIDERS};
use common::tools;
use lab_kube::Kube;
use reqwest::Method;
use serde_json::{json, Value};

const OBOT: &str = "aviatrix_mcp_egress_release.obot";
const SECRET: &str = "bootstrap-5ecret-7a1c9e";

fn real_helm() -> PathBuf {
    tools::find("helm", "HELM_BINARY").expect("helm v4: run scripts/install-kube-tools.sh (make test does)")
}

fn charts() -> String {
    tools::repo_root().join("acceptance-tests/charts").display().to_string()
}

/// A helm that records each command line, whether KUBECONFIG reached it, and the mode of each values
/// file, then runs the real helm.
fn recording_helm(dir: &Path) -> PathBuf {
    let wrapper = dir.join("helm");
    let log = dir.join("helm.log");
    let script = format!(
        r#"#!/bin/sh
{{
  printf 'argv:'; for a in "$@"; do printf ' %s' "$a"; done; printf '\n'
  printf 'kubeconfig-env:%s\n' "${{KUBECONFIG-unset}}"
  prev=
  for a in "$@"; do
    if [ "$prev" = "-f" ]; then printf 'values-file:%s %s\n' "$(stat -c %a "$a")" "$a"; fi
    prev=$a
  done
}} >> '{log}'
exec '{helm}' "$@"
"#,
        log = log.display(),
        helm = real_helm().display()
    );
    std::fs::write(&wrapper, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

/// The obot release, with `helm` as the binary and `arguments` added to the resource.
fn obot(helm: &Path, namespace: &str, deny: &str, arguments: &str) -> String {
    format!(
        r#"{REQUIRED_PROVIDERS}
provider "aviatrix" {{
  helm {{ binary = "{helm}" }}
}}

resource "aviatrix_mcp_egress_release" "obot" {{
  name             = "obot"
  namespace        = "{namespace}"
  create_namespace = true
  chart            = "{charts}/obot"
  values = [yamlencode({{
    mcpNamespace = {{ name = "obot-mcp" }}
    config = {{
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_REPO = "https://charts.obot.ai"
      OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME = "aviatrix-network-policy-controller"
      OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS            = "{deny}"
    }}
  }})]
  sensitive_values         = [yamlencode({{ secret = {{ OBOT_BOOTSTRAP_TOKEN = "{SECRET}" }} }})]
  sensitive_values_version = "1"
{arguments}
}}
"#,
        helm = helm.display(),
        charts = charts(),
    )
}

fn get(lab: &Lab, path: &str) -> (u16, Value) {
    let kube = Kube::from_lab(lab);
    tokio::runtime::Runtime::new().expect("runtime").block_on(kube.send(Method::GET, path, None))
}

fn deployment(lab: &Lab, namespace: &str) -> Value {
    let (status, d) = get(lab, &format!("/apis/apps/v1/namespaces/{namespace}/deployments/obot"));
    assert_eq!(status, 200, "{d}");
    d
}

fn env_of(deployment: &Value, name: &str) -> Option<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

fn kubectl(lab: &Lab, args: &[&str], stdin: Option<&str>) -> String {
    let bin = tools::find("kubectl", "KUBECTL").expect("kubectl: run scripts/install-kube-tools.sh");
    let mut child = Command::new(bin)
        .args(args)
        .env("KUBECONFIG", lab.var("KUBECONFIG"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    tools::ok(&child.wait_with_output().unwrap(), &format!("kubectl {args:?}"))
}

fn helm_cli(lab: &Lab, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(real_helm())
        .args(args)
        .args(["--kubeconfig", &lab.var("KUBECONFIG")])
        .env("HELM_CONFIG_HOME", home.path())
        .env("HELM_CACHE_HOME", home.path())
        .env("HELM_DATA_HOME", home.path())
        .output()
        .expect("helm")
}

/// Another field manager takes `.spec.replicas` of the obot Deployment by server-side apply.
fn intruder_scales(lab: &Lab, namespace: &str) {
    let patch = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: obot\n  namespace: {namespace}\nspec:\n  replicas: 3\n"
    );
    kubectl(lab, &["apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", "-"], Some(&patch));
}

#[test]
fn obot_installs_with_secrets_imports_upgrades_in_place_drifts_and_is_removed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let helm = recording_helm(dir.path());
    let log = dir.path().join("helm.log");
    let config = |deny: &str, arguments: &str| obot(&helm, "obot", deny, arguments);
    let log_check = log.clone();
    Case::new("the obot release")
        .needs_terraform(1, 11, "sensitive_values is a write-only attribute")
        .step(
            Step::apply(&config("true", ""))
                .expect_attr(OBOT, "id", json!("obot/obot"))
                .expect_attr(OBOT, "status", json!("deployed"))
                .expect_attr(OBOT, "revision", json!(1))
                .expect_attr(OBOT, "chart_version", json!("0.2.0"))
                .expect_attr(OBOT, "app_version", json!("v0.0.0-lab"))
                .expect_attr(OBOT, "drift", json!([]))
                .expect_attr(OBOT, "sensitive_values", Value::Null),
        )
        .step(Step::outside(
            "Obot runs with default deny and its secret; helm never saw it on a command line",
            move |lab| {
                let d = deployment(lab, "obot");
                assert_eq!(env_of(&d, "OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS").as_deref(), Some("true"), "{d}");
                assert_eq!(env_of(&d, "OBOT_SERVER_MCPNAMESPACE").as_deref(), Some("obot-mcp"));
                assert_eq!(
                    env_of(&d, "OBOT_SERVER_MCPNETWORK_POLICY_PROVIDER_CHART_NAME").as_deref(),
                    Some("aviatrix-network-policy-controller")
                );
                let (_, secret) = get(lab, "/api/v1/namespaces/obot/secrets/obot-secret");
                use base64::Engine;
                let token = base64::engine::general_purpose::STANDARD
                    .decode(secret["data"]["OBOT_BOOTSTRAP_TOKEN"].as_str().unwrap_or_default())
                    .unwrap();
                assert_eq!(String::from_utf8(token).unwrap(), SECRET);
                let (status, role) =
                    get(lab, "/apis/rbac.authorization.k8s.io/v1/namespaces/obot-mcp/roles/obot-mcp-role");
                assert_eq!(status, 200, "{role}");
                assert!(role.to_string().contains("firewallpolicies"), "{role}");
                let (status, job) = get(lab, "/apis/batch/v1/namespaces/obot/jobs/obot-bootstrap");
                assert_eq!(status, 200, "the post-install hook ran and helm kept it: {job}");
                let text = std::fs::read_to_string(&log_check).unwrap();
                assert!(text.contains("argv: install obot"), "{text}");
                assert!(!text.contains(SECRET), "the secret reached helm's command line:\n{text}");
                assert!(
                    text.lines().filter(|l| l.starts_with("kubeconfig-env:")).all(|l| l == "kubeconfig-env:unset"),
                    "{text}"
                );
                assert!(text.contains("--kubeconfig"), "{text}");
                let files: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("values-file:")).collect();
                assert!(files.len() >= 2, "values and sensitive values travel as files: {text}");
                for f in files {
                    let (mode, path) = f.split_once(' ').unwrap();
                    assert_eq!(mode, "600", "{f}");
                    assert!(!Path::new(path).exists(), "values file left behind: {path}");
                }
            },
        ))
        .step(Step::import(OBOT))
        .step(Step::apply(&config("false", "")).expect_attr(OBOT, "revision", json!(2)))
        .step(Step::outside("the upgrade changed the value in place", |lab| {
            let d = deployment(lab, "obot");
            assert_eq!(env_of(&d, "OBOT_SERVER_MCPDEFAULT_DENY_ALL_EGRESS").as_deref(), Some("false"));
        }))
        .step(Step::outside("another field manager takes .spec.replicas", |lab| intruder_scales(lab, "obot")))
        .step(Step::plan(&config("false", "")).expect_changes(&[OBOT]))
        .step(Step::apply(&config("false", "")).expect_error(
            r#"(?s)Failed to upgrade the release: .*conflict.*intruder.*\.spec\.replicas.*set force_conflicts = true"#,
        ))
        .step(Step::apply(&config("false", "  force_conflicts = true")).expect_attr(OBOT, "drift", json!([])))
        .step(Step::outside("the release took .spec.replicas back", |lab| {
            let d = deployment(lab, "obot");
            assert_eq!(d["spec"]["replicas"], 1, "{d}");
        }))
        .step(Step::outside("someone uninstalls the release behind Terraform's back", |lab| {
            let out = helm_cli(lab, &["uninstall", "obot", "-n", "obot", "--wait"]);
            assert!(out.status.success(), "{}", tools::text(&out));
        }))
        .step(Step::plan(&config("false", "  force_conflicts = true")).expect_changes(&[OBOT]))
        .step(Step::apply(&config("false", "  force_conflicts = true")).expect_attr(OBOT, "revision", json!(1)))
        .step(Step::destroy().expect_no_resource(OBOT))
        .step(Step::outside("no hook Job, no namespace it created", |lab| {
            let (status, _) = get(lab, "/apis/batch/v1/namespaces/obot/jobs/obot-bootstrap");
            assert_eq!(status, 404);
            let (status, _) = get(lab, "/api/v1/namespaces/obot");
            assert_eq!(status, 404);
        }))
        .run();
}

#[test]
fn secrets_stay_out_of_state_and_plan_and_the_plan_names_the_manager_that_took_a_field() {
    let terraform = common::terraform::Terraform::find();
    if !terraform.at_least(1, 11, "write-only sensitive_values") {
        return;
    }
    let lab = Lab::up(&[]);
    let dir = tempfile::tempdir().unwrap();
    let helm = recording_helm(dir.path());
    let mut ws = Workspace::new(&obot(&helm, "obot", "true", ""));
    for (name, value) in &lab.env {
        ws.set_env(name, value);
    }
    let plan = ws.run(&["plan", "-no-color"]).expect_code(0, "plan");
    assert!(!plan.stdout.contains(SECRET) && !plan.stderr.contains(SECRET), "{}", plan.stdout);
    assert!(plan.stdout.contains("sensitive_values         = (write-only attribute)"), "{}", plan.stdout);
    ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply");
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
    assert!(!state.contains(SECRET), "the secret is in the state");
    intruder_scales(&lab, "obot");
    let plan = ws.run(&["plan", "-no-color", "-detailed-exitcode"]).expect_code(2, "plan after the drift");
    let text = plan.stdout.replace('\n', " ");
    assert!(
        text.contains(r#"Deployment obot/obot .spec.replicas was changed by field manager \"intruder\" (Apply)"#),
        "{}",
        plan.stdout
    );
    assert!(text.contains("set force_conflicts = true"), "{}", plan.stdout);
    assert!(!plan.stdout.contains(SECRET));
    ws.run(&["destroy", "-auto-approve", "-no-color"]).expect_code(0, "destroy");
    let (clean, diff) = lab.diff();
    assert!(clean, "left behind: {diff}");
    let log = std::fs::read_to_string(dir.path().join("helm.log")).unwrap();
    assert!(!log.contains(SECRET), "{log}");
}

#[test]
fn a_failed_install_rolls_back_and_leaves_nothing() {
    let helm = real_helm();
    // The post-install Job is held, so the install cannot complete within its timeout.
    let held = obot(&helm, "obot", "true", "  timeouts {\n    create = \"25s\"\n  }\n")
        .replace("mcpNamespace = {", "bootstrapJob = { hold = true }\n    mcpNamespace = {");
    Case::new("a hook that never completes")
        .needs_terraform(1, 11, "sensitive_values is a write-only attribute")
        .step(
            Step::apply(&held)
                .expect_error(r"(?s)Failed to install the release: .*obot-bootstrap")
                .expect_no_resource(OBOT),
        )
        .step(Step::outside("no release, no hook Job, no namespace", |lab| {
            let out = helm_cli(lab, &["list", "-A", "-q"]);
            assert!(tools::stdout(&out).trim().is_empty(), "{}", tools::text(&out));
            for path in [
                "/apis/batch/v1/namespaces/obot/jobs/obot-bootstrap",
                "/api/v1/namespaces/obot",
                "/api/v1/namespaces/obot-mcp",
            ] {
                let (status, v) = get(lab, path);
                assert!(status == 404 || v["metadata"]["deletionTimestamp"].is_string(), "{path}: {v}");
            }
        }))
        .run();
}

#[test]
fn an_install_interrupted_in_pending_install_is_recovered_by_the_next_apply() {
    let helm = real_helm();
    let charts = charts();
    Case::new("a release stuck in pending-install")
        .needs_terraform(1, 11, "sensitive_values is a write-only attribute")
        .step(Step::outside("an install is killed while it waits for its hook", move |lab| {
            let home = tempfile::tempdir().unwrap();
            let mut child = Command::new(real_helm())
                .args([
                    "install",
                    "obot",
                    &format!("{charts}/obot"),
                    "-n",
                    "default",
                    "--set",
                    "bootstrapJob.hold=true",
                ])
                .args(["--wait", "--timeout", "120s", "--kubeconfig", &lab.var("KUBECONFIG")])
                .env("HELM_CONFIG_HOME", home.path())
                .env("HELM_CACHE_HOME", home.path())
                .env("HELM_DATA_HOME", home.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let started = std::time::Instant::now();
            loop {
                let (status, _) = get(lab, "/apis/batch/v1/namespaces/default/jobs/obot-bootstrap");
                if status == 200 || started.elapsed().as_secs() > 60 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            child.kill().unwrap();
            child.wait().unwrap();
            let out = helm_cli(lab, &["list", "-n", "default", "-o", "json"]);
            let list: Value = serde_json::from_str(&tools::stdout(&out)).unwrap();
            assert_eq!(list[0]["status"], "pending-install", "{list}");
        }))
        .step(
            Step::apply(
                &obot(&helm, "default", "true", "").replace("create_namespace = true", "create_namespace = false"),
            )
            .expect_attr(OBOT, "status", json!("deployed"))
            .expect_attr(OBOT, "revision", json!(1)),
        )
        .step(Step::outside("the bootstrap Job is the new install's, and it completed", |lab| {
            let (_, job) = get(lab, "/apis/batch/v1/namespaces/default/jobs/obot-bootstrap");
            assert_ne!(job["spec"]["suspend"], true, "{job}");
        }))
        .step(Step::destroy().expect_no_resource(OBOT))
        .run();
}

#[test]
fn a_missing_helm_binary_and_bad_input_are_refused_with_what_to_do() {
    let missing = obot(Path::new("/nonexistent/helm"), "obot", "true", "");
    let bad_values = format!(
        "{REQUIRED_PROVIDERS}\nprovider \"aviatrix\" {{}}\nresource \"aviatrix_mcp_egress_release\" \"obot\" {{\n  name = \"obot\"\n  namespace = \"obot\"\n  chart = \"{}/obot\"\n  values = [\"- not\\n- a mapping\"]\n}}\n",
        charts()
    );
    let alias = obot(&real_helm(), "obot", "true", "").replace(&format!("{}/obot", charts()), "obot-repo/obot");
    Case::new("refusals")
        .needs_terraform(1, 11, "sensitive_values is a write-only attribute")
        .step(Step::plan(&bad_values).expect_error(r"values\[0\] = .* is YAML but not a mapping"))
        .step(Step::plan(&alias).expect_error(r#"chart = "obot-repo/obot" names a chart through a repository alias"#))
        .step(
            Step::apply(&missing)
                .expect_error(r#"helm binary "/nonexistent/helm" \(from helm.binary\) is not an executable file; set helm.binary .* or HELM_BINARY"#)
                .expect_no_resource(OBOT),
        )
        .run();
}

#[test]
fn the_firewall_chart_installs_its_rbac_and_an_edited_local_chart_plans_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("k8s-firewall");
    let copied = Command::new("cp").arg("-r").arg(format!("{}/k8s-firewall", charts())).arg(&chart).status().unwrap();
    assert!(copied.success());
    let config = format!(
        r#"{REQUIRED_PROVIDERS}
provider "aviatrix" {{}}

resource "aviatrix_mcp_egress_release" "firewall" {{
  name      = "k8s-firewall"
  namespace = "kube-system"
  chart     = "{}"
}}
"#,
        chart.display()
    );
    const FIREWALL: &str = "aviatrix_mcp_egress_release.firewall";
    let values = chart.join("values.yaml");
    Case::new("k8s-firewall from a local chart")
        .step(
            Step::apply(&config)
                .expect_attr(FIREWALL, "chart_version", json!("9.0.0"))
                .expect_attr(FIREWALL, "revision", json!(1))
                .expect_attr_set(FIREWALL, "chart_digest"),
        )
        .step(Step::outside("the controller's group is bound to the firewall policy rules", |lab| {
            let (status, binding) = get(lab, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/avx-controller");
            assert_eq!(status, 200, "{binding}");
            assert_eq!(
                binding["subjects"][0],
                json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "avx-controller"})
            );
            let (_, role) = get(lab, "/apis/rbac.authorization.k8s.io/v1/clusterroles/avx-controller");
            let rules = role["rules"].to_string();
            assert!(rules.contains("networking.aviatrix.com") && rules.contains("endpointslices"), "{rules}");
            assert!(!rules.contains("networkpolicies"), "{rules}");
        }))
        .step(Step::import(FIREWALL))
        .step(Step::outside("the chart is edited without a version bump", move |_| {
            let text = std::fs::read_to_string(&values).unwrap();
            std::fs::write(&values, text.replace("manageNetworkPolicies: false", "manageNetworkPolicies: true"))
                .unwrap();
        }))
        .step(Step::plan(&config).expect_changes(&[FIREWALL]))
        .step(Step::apply(&config).expect_attr(FIREWALL, "revision", json!(2)))
        .step(Step::outside("the upgrade added the NetworkPolicy rule", |lab| {
            let (_, role) = get(lab, "/apis/rbac.authorization.k8s.io/v1/clusterroles/avx-controller");
            assert!(role["rules"].to_string().contains("networkpolicies"), "{role}");
        }))
        .step(Step::destroy().expect_no_resource(FIREWALL))
        .run();
}
