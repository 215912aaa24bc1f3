//! The step harness: a provider acceptance test is a [`Case`], a list of [`Step`]s run in order against one
//! lab and one Terraform working directory, as terraform-plugin-testing runs a TestCase.
//!
//! A step is an action (apply, plan, import, destroy, or a change made behind Terraform's back) and what it
//! must show: values in the state read through `terraform show -json`, an error matching a regex, the
//! changes of a plan. Every successful apply is followed by a re-plan that must be empty
//! (`plan -detailed-exitcode` exits 0); an import goes into a fresh state, must agree with what apply
//! stored, and must re-plan empty there too. Whatever the steps did, pass or fail, a case ends by
//! destroying what it applied and by requiring `mcp-egress-lab inventory --diff` to be clean, as
//! CheckDestroy does: nothing a case made outlives it.
//!
//! The provider is configured from the lab's `lab.env` alone, so `provider "aviatrix" {}` is all the
//! provider block a case's configuration needs. Every `lab.env` variable is also given to Terraform as an
//! input variable named in lower case (`LAB_AWS_VPC_ID` as `TF_VAR_lab_aws_vpc_id`): a configuration that
//! declares `variable "lab_aws_vpc_id" {}` gets the baseline VPC; undeclared ones are ignored. The harness asserts only lifecycle rules; what a resource
//! must hold is said by the test, step by step.
//!
//! ```ignore
//! Case::new("a route through the gateway")
//!     .step(Step::apply(CONFIG).expect_attr("aviatrix_mcp_egress_route.nodes", "next_hop", json!("gw-1")))
//!     .step(Step::import("aviatrix_mcp_egress_route.nodes"))
//!     .step(Step::outside("the route is pointed back at the internet", |lab| { /* ... */ }))
//!     .step(Step::plan(CONFIG).expect_changes(&["aviatrix_mcp_egress_route.nodes"]))
//!     .run();
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};

use regex::Regex;
use serde_json::Value;

use super::lab::Lab;
use super::terraform::{Run, Terraform, Workspace};

/// One scenario: steps against a lab of its own, ending with a clean lab.
pub struct Case {
    name: String,
    needs: Option<(u32, u32, String)>,
    steps: Vec<Step>,
    teardown: Option<Teardown>,
}

/// What a case removes after its final destroy (see [`Case::teardown`]).
type Teardown = Box<dyn FnOnce(&Lab)>;

/// One action of a [`Case`] and what it must show.
pub struct Step {
    action: Action,
    config: Option<String>,
    checks: Vec<Check>,
    error: Option<ExpectedError>,
    plan: Option<PlanShows>,
    warnings: Option<Warnings>,
    /// Values that must appear nowhere the step leaves a trace: its output, the state file, the plan.
    kept_out: Vec<String>,
}

/// What the warnings of a successful apply or plan must be (check blocks report failed assertions as warnings).
enum Warnings {
    None,
    Matching(Regex),
}

enum Action {
    Apply,
    Plan,
    Import { address: String, id: ImportId, ignore: Vec<String> },
    Destroy,
    Outside { what: String, change: Box<dyn FnOnce(&Lab)> },
}

/// A value the state must hold after a step.
enum Check {
    Attr { address: String, path: String, want: Value },
    AttrSet { address: String, path: String },
    Output { name: String, want: Value },
    NoResource { address: String },
}

struct ExpectedError {
    pattern: Regex,
    highlight: Option<String>,
}

/// Where an import step's ID comes from.
enum ImportId {
    /// The `id` attribute the current state holds for the address.
    FromState,
    Given(String),
    /// Made from the values the current state holds for the address.
    MadeFrom(Box<dyn Fn(&Value) -> String>),
}

enum PlanShows {
    NoChanges,
    Changes(Vec<String>),
}

type Outcome = Result<(), String>;

impl Case {
    pub fn new(name: &str) -> Case {
        Case { name: name.to_string(), needs: None, steps: Vec::new(), teardown: None }
    }

    /// The case needs Terraform `major.minor` for `what`; with an older one it prints `SKIP:` and passes.
    pub fn needs_terraform(mut self, major: u32, minor: u32, what: &str) -> Case {
        self.needs = Some((major, minor, what.to_string()));
        self
    }

    /// What the case set up behind Terraform's back and must remove itself (a CRD, a namespace): run after
    /// the final destroy and before `inventory --diff`, pass or fail. A panic in it fails the case.
    pub fn teardown(mut self, remove: impl FnOnce(&Lab) + 'static) -> Case {
        self.teardown = Some(Box::new(remove));
        self
    }

    pub fn step(mut self, step: Step) -> Case {
        self.steps.push(step);
        self
    }

    /// Runs the case and fails the test with every failure it found.
    pub fn run(self) {
        if let Err(failure) = self.try_run() {
            panic!("{failure}");
        }
    }

    /// Runs the case: the steps in order until one fails, then always the destroy and the lab's
    /// `inventory --diff`. The error names the case, the step and what went wrong, cleanup failures
    /// included.
    pub fn try_run(self) -> Result<(), String> {
        let terraform = Terraform::find();
        if let Some((major, minor, what)) = &self.needs {
            if !terraform.at_least(*major, *minor, &format!("{}: {what}", self.name)) {
                return Ok(());
            }
        }
        let lab = Lab::up(&[]);
        let ws = Workspace::for_lab(&lab, "");
        let mut failures = Vec::new();
        for (index, step) in self.steps.into_iter().enumerate() {
            let label = step.label();
            if let Err(why) = step.run(&lab, &ws) {
                failures.push(format!("case {:?}, step {} ({label}): {why}", self.name, index + 1));
                break;
            }
        }
        let teardown = self.teardown;
        let destroyed = destroy_and_check_with(&lab, &ws, teardown);
        if let Err(why) = destroyed {
            failures.push(format!("case {:?}, at its end: {why}", self.name));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n\n"))
        }
    }
}

impl Step {
    fn new(action: Action, config: Option<String>) -> Step {
        Step { action, config, checks: Vec::new(), error: None, plan: None, warnings: None, kept_out: Vec::new() }
    }

    /// `terraform apply` of `config`, then the checks, then a re-plan that must be empty.
    pub fn apply(config: &str) -> Step {
        Step::new(Action::Apply, Some(config.to_string()))
    }

    /// `terraform plan` of `config`; it must succeed unless an error is expected. Say what it must show
    /// with [`Step::expect_no_changes`] or [`Step::expect_changes`], and warnings with [`Step::expect_warning`].
    pub fn plan(config: &str) -> Step {
        Step::new(Action::Plan, Some(config.to_string()))
    }

    /// `terraform import ADDRESS ID` into a fresh state with the current configuration, then a plan there of
    /// `ADDRESS` (`-target`) that must change nothing of it (what it depends on is not in the fresh state). The ID is the `id` attribute the current state holds for `address`, unless given
    /// with [`Step::id`]. When the current state holds `address`, the imported values must equal its values
    /// (but for [`Step::ignoring`]); when it does not, the step destroys what it imported.
    pub fn import(address: &str) -> Step {
        Step::new(Action::Import { address: address.to_string(), id: ImportId::FromState, ignore: Vec::new() }, None)
    }

    /// `terraform destroy`; the state must be empty after it and the lab back to its baseline.
    pub fn destroy() -> Step {
        Step::new(Action::Destroy, None)
    }

    /// A change made behind Terraform's back, such as drift, through the lab's emulators. A panic in
    /// `change` fails the step.
    pub fn outside(what: &str, change: impl FnOnce(&Lab) + 'static) -> Step {
        Step::new(Action::Outside { what: what.to_string(), change: Box::new(change) }, None)
    }

    /// For an import: the ID to import.
    pub fn id(self, id: &str) -> Step {
        self.import_id(ImportId::Given(id.to_string()))
    }

    /// For an import: the ID, made from the values the current state holds for the address, for resources
    /// whose import ID is more than their `id` (a route's tables, say).
    pub fn id_from(self, make: impl Fn(&Value) -> String + 'static) -> Step {
        self.import_id(ImportId::MadeFrom(Box::new(make)))
    }

    fn import_id(mut self, source: ImportId) -> Step {
        match &mut self.action {
            Action::Import { id, .. } => *id = source,
            _ => panic!("Step::id and Step::id_from are for import steps"),
        }
        self
    }

    /// For an import: attributes that may differ from what apply stored (write-only or not readable back).
    pub fn ignoring(mut self, attributes: &[&str]) -> Step {
        match &mut self.action {
            Action::Import { ignore, .. } => ignore.extend(attributes.iter().map(|a| a.to_string())),
            _ => panic!("Step::ignoring is for import steps"),
        }
        self
    }

    /// After the step, the value at `path` (dot-separated, list indices as numbers: `removed.0.domain`) in
    /// the resource or data source at `address` equals `want`.
    pub fn expect_attr(mut self, address: &str, path: &str, want: Value) -> Step {
        self.checks.push(Check::Attr { address: address.to_string(), path: path.to_string(), want });
        self
    }

    /// After the step, the value at `path` of `address` is set (not null), whatever it is: computed IDs.
    pub fn expect_attr_set(mut self, address: &str, path: &str) -> Step {
        self.checks.push(Check::AttrSet { address: address.to_string(), path: path.to_string() });
        self
    }

    /// After the step, the root module's output `name` equals `want`.
    pub fn expect_output(mut self, name: &str, want: Value) -> Step {
        self.checks.push(Check::Output { name: name.to_string(), want });
        self
    }

    /// After the step, the state holds nothing at `address`.
    pub fn expect_no_resource(mut self, address: &str) -> Step {
        self.checks.push(Check::NoResource { address: address.to_string() });
        self
    }

    /// The command must fail with an error matching `pattern`. It is matched against each error
    /// diagnostic as "summary: detail" (`(?s)` lets `.` cross lines), and against the command's plain text
    /// (import, which has no JSON output). The step's state checks still apply: what a failed apply left.
    /// An apply that fails as expected is not re-planned.
    pub fn expect_error(mut self, pattern: &str) -> Step {
        let pattern = Regex::new(pattern).unwrap_or_else(|e| panic!("expect_error({pattern:?}): {e}"));
        self.error = Some(ExpectedError { pattern, highlight: None });
        self
    }

    /// With [`Step::expect_error`]: the matching diagnostic highlights exactly `source` in the configuration.
    pub fn highlighting(mut self, source: &str) -> Step {
        self.error.as_mut().expect("Step::highlighting comes after expect_error").highlight = Some(source.to_string());
        self
    }

    /// For an apply: it succeeds with no warning at all, so every `check` block's assertions held.
    pub fn expect_no_warnings(mut self) -> Step {
        self.warnings = Some(Warnings::None);
        self
    }

    /// For an apply or a plan: it succeeds, and one of its warnings matches `pattern` as "summary: detail" (a
    /// failed `check` assertion is the warning "Check block assertion failed: <error_message>").
    pub fn expect_warning(mut self, pattern: &str) -> Step {
        let pattern = Regex::new(pattern).unwrap_or_else(|e| panic!("expect_warning({pattern:?}): {e}"));
        self.warnings = Some(Warnings::Matching(pattern));
        self
    }

    /// For an apply or a plan: `secret` (a write-only value, say) appears nowhere the step leaves it: not in
    /// terraform's output, not in the state file (private state included), not in the plan or the re-plan
    /// (the saved plan's values; its copy of the configuration is the configuration).
    pub fn expect_kept_out(mut self, secret: &str) -> Step {
        self.kept_out.push(secret.to_string());
        self
    }

    /// For a plan: it changes nothing (`plan -detailed-exitcode` exits 0).
    pub fn expect_no_changes(mut self) -> Step {
        self.plan = Some(PlanShows::NoChanges);
        self
    }

    /// For a plan: it changes exactly these addresses, resources by address and outputs as `output.NAME`.
    pub fn expect_changes(mut self, addresses: &[&str]) -> Step {
        let mut addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        addresses.sort();
        self.plan = Some(PlanShows::Changes(addresses));
        self
    }

    fn label(&self) -> String {
        match &self.action {
            Action::Apply => "apply".into(),
            Action::Plan => "plan".into(),
            Action::Import { address, .. } => format!("import {address}"),
            Action::Destroy => "destroy".into(),
            Action::Outside { what, .. } => format!("outside Terraform: {what}"),
        }
    }

    fn run(self, lab: &Lab, ws: &Workspace) -> Outcome {
        if self.plan.is_some() && !matches!(self.action, Action::Plan) {
            return Err("expect_no_changes and expect_changes are for plan steps".into());
        }
        if self.warnings.is_some() && (!matches!(self.action, Action::Apply | Action::Plan) || self.error.is_some()) {
            return Err("expect_no_warnings and expect_warning are for apply and plan steps that succeed".into());
        }
        if let Some(config) = &self.config {
            ws.write("main.tf", config);
        }
        match self.action {
            Action::Apply => {
                if let Some(error) = &self.error {
                    error.check(&ws.run(&["apply", "-auto-approve", "-no-color", "-json"]), "apply")?;
                    return check_state(&self.checks, &ws.state());
                }
                let applied = match &self.warnings {
                    None => ws.run(&["apply", "-auto-approve", "-no-color"]),
                    Some(_) => ws.run(&["apply", "-auto-approve", "-no-color", "-json"]),
                };
                kept_out(&self.kept_out, "the apply output", &format!("{}{}", applied.stdout, applied.stderr))?;
                let warned = warnings(&applied);
                succeeded(applied, "apply")?;
                if let Some(wanted) = &self.warnings {
                    wanted.check("apply", &warned)?;
                }
                check_state(&self.checks, &ws.state())?;
                let state_file = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap_or_default();
                kept_out(&self.kept_out, "the state file", &state_file)?;
                let replan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
                kept_out(&self.kept_out, "the plan after apply", &format!("{}{}", replan.stdout, replan.stderr))?;
                if replan.code != 0 {
                    return Err(format!("the plan after apply is not empty: {}", replan.describe(0)));
                }
                Ok(())
            }
            Action::Plan => {
                if let Some(error) = &self.error {
                    error.check(&ws.run(&["plan", "-no-color", "-json"]), "plan")?;
                    return check_state(&self.checks, &ws.state());
                }
                let mut args = vec!["plan", "-detailed-exitcode", "-no-color", "-out=step.tfplan"];
                if self.warnings.is_some() {
                    args.push("-json");
                }
                let run = ws.run(&args);
                kept_out(&self.kept_out, "the plan output", &format!("{}{}", run.stdout, run.stderr))?;
                if run.code != 0 && run.code != 2 {
                    return Err(format!("plan failed: {}", run.describe(0)));
                }
                if let Some(wanted) = &self.warnings {
                    wanted.check("plan", &warnings(&run))?;
                }
                if !self.kept_out.is_empty() {
                    // What Terraform and the provider planned; the `configuration` section quotes the
                    // configuration's own literals, which are the user's to keep out.
                    let mut saved = ws.json(&["show", "-json", "step.tfplan"]);
                    if let Some(plan) = saved.as_object_mut() {
                        plan.remove("configuration");
                    }
                    kept_out(&self.kept_out, "the saved plan", &saved.to_string())?;
                }
                match &self.plan {
                    Some(PlanShows::NoChanges) if run.code != 0 => {
                        return Err(format!("the plan is not empty: {}", run.describe(0)));
                    }
                    Some(PlanShows::Changes(want)) => {
                        let got = planned_changes(&ws.json(&["show", "-json", "step.tfplan"]));
                        if &got != want {
                            return Err(format!("the plan changes {got:?}, wanted {want:?}:\n{}", run.stdout));
                        }
                    }
                    _ => {}
                }
                check_state(&self.checks, &ws.state())
            }
            Action::Import { address, id, ignore } => {
                import(ws, &address, id, &ignore, &self.checks, self.error.as_ref())
            }
            Action::Destroy => {
                if let Some(error) = &self.error {
                    error.check(&ws.run(&["destroy", "-auto-approve", "-no-color", "-json"]), "destroy")?;
                    return check_state(&self.checks, &ws.state());
                }
                destroy_and_check(lab, ws)?;
                check_state(&self.checks, &ws.state())
            }
            Action::Outside { change, .. } => {
                catch_unwind(AssertUnwindSafe(|| change(lab))).map_err(|panic| panic_text(&*panic))?;
                check_state(&self.checks, &ws.state())
            }
        }
    }
}

/// Fails when any of `secrets` appears in `text`, which is `where`; the message does not repeat the secret.
fn kept_out(secrets: &[String], place: &str, text: &str) -> Outcome {
    match secrets.iter().position(|secret| text.contains(secret.as_str())) {
        Some(i) => Err(format!("the value given to expect_kept_out #{} appears in {place}", i + 1)),
        None => Ok(()),
    }
}

/// The import step: into a fresh state, compared with the current one, re-planned empty.
fn import(
    ws: &Workspace,
    address: &str,
    id: ImportId,
    ignore: &[String],
    checks: &[Check],
    error: Option<&ExpectedError>,
) -> Outcome {
    let state = ws.state();
    let applied = resource(&state, address).map(|r| r["values"].clone());
    let id = match (id, &applied) {
        (ImportId::Given(id), _) => id,
        (ImportId::FromState, Some(values)) => values["id"]
            .as_str()
            .ok_or_else(|| format!("{address} has no string `id` in the state; give the ID with Step::id"))?
            .to_string(),
        (ImportId::MadeFrom(make), Some(values)) => make(values),
        (_, None) => return Err(format!("{address} is not in the state; give the ID to import with Step::id")),
    };
    let fresh = ws.fresh();
    let run = fresh.run(&["import", "-no-color", address, &id]);
    if let Some(error) = error {
        return error.check(&run, "import");
    }
    succeeded(run, &format!("import {address} {id}"))?;
    let outcome = (|| {
        let imported = fresh.state();
        let values = resource(&imported, address)
            .map(|r| r["values"].clone())
            .ok_or("the import left no resource in the state")?;
        if let Some(applied) = &applied {
            let differs = differing_keys(applied, &values, ignore);
            if !differs.is_empty() {
                return Err(format!(
                    "the imported values differ from the applied ones in {differs:?}\n--- applied\n{applied:#}\n--- imported\n{values:#}"
                ));
            }
        }
        check_state(checks, &imported)?;
        // The rest of the configuration, what the resource depends on included, is not in the fresh state:
        // only the imported resource must plan nothing.
        let target = format!("-target={address}");
        let replan = fresh.run(&["plan", "-detailed-exitcode", "-no-color", &target, "-out=import.tfplan"]);
        let changes = match replan.code {
            0 => Vec::new(),
            2 => planned_changes(&fresh.json(&["show", "-json", "import.tfplan"])),
            _ => return Err(format!("the plan after import failed: {}", replan.describe(0))),
        };
        if changes.iter().any(|changed| changed == address) {
            return Err(format!("the plan of {address} after import is not empty: {}", replan.describe(0)));
        }
        Ok(())
    })();
    // What the current state does not hold, nothing else would destroy.
    if applied.is_none() {
        succeeded(fresh.run(&["destroy", "-auto-approve", "-no-color"]), "destroying what the import adopted")?;
    }
    outcome
}

/// The end of every case, and the destroy step: destroy what the state holds, then the state must be empty
/// and the lab must hold nothing but its baseline.
fn destroy_and_check(lab: &Lab, ws: &Workspace) -> Outcome {
    destroy_and_check_with(lab, ws, None)
}

/// [`destroy_and_check`] with the case's teardown between the destroy and the diff.
fn destroy_and_check_with(lab: &Lab, ws: &Workspace, teardown: Option<Teardown>) -> Outcome {
    let destroyed = destroy_only(ws);
    if let Some(remove) = teardown {
        catch_unwind(AssertUnwindSafe(|| remove(lab))).map_err(|panic| format!("teardown: {}", panic_text(&*panic)))?;
    }
    destroyed?;
    let (clean, diff) = lab.diff();
    if !clean {
        return Err(format!("the lab is not back to its baseline (mcp-egress-lab inventory --diff):\n{diff:#}"));
    }
    Ok(())
}

fn destroy_only(ws: &Workspace) -> Outcome {
    if ws.path().join("terraform.tfstate").exists() {
        succeeded(ws.run(&["destroy", "-auto-approve", "-no-color"]), "destroy")?;
        let left: Vec<String> = resources(&ws.state()).iter().map(|r| r["address"].to_string()).collect();
        if !left.is_empty() {
            return Err(format!("the state still holds {} after destroy", left.join(", ")));
        }
    }
    Ok(())
}

impl ExpectedError {
    /// The command failed, and one of its errors matches (and highlights what it should).
    fn check(&self, run: &Run, command: &str) -> Outcome {
        if run.code == 0 {
            return Err(format!("{command} succeeded; wanted an error matching /{}/:\n{}", self.pattern, run.stdout));
        }
        let errors = errors(run);
        let Some(found) = errors.iter().find(|e| self.pattern.is_match(&e.text)) else {
            let texts: Vec<&str> = errors.iter().map(|e| e.text.as_str()).collect();
            return Err(format!(
                "{command} failed, but no error matches /{}/; its errors:\n{}",
                self.pattern,
                texts.join("\n---\n")
            ));
        };
        match (&self.highlight, &found.highlight) {
            (Some(want), Some(got)) if want != got => Err(format!("the error highlights {got:?}, wanted {want:?}")),
            (Some(want), None) => Err(format!("the error highlights nothing, wanted {want:?}: {}", found.text)),
            _ => Ok(()),
        }
    }
}

/// One error a command reported: "summary: detail" and the configuration text it highlights.
struct Reported {
    text: String,
    highlight: Option<String>,
}

impl Warnings {
    fn check(&self, what: &str, warned: &[String]) -> Outcome {
        match self {
            Warnings::None if warned.is_empty() => Ok(()),
            Warnings::None => Err(format!("{what} warned, wanted no warning:\n{}", warned.join("\n---\n"))),
            Warnings::Matching(pattern) if warned.iter().any(|w| pattern.is_match(w)) => Ok(()),
            Warnings::Matching(pattern) => {
                Err(format!("no warning of the {what} matches /{pattern}/; its warnings:\n{}", warned.join("\n---\n")))
            }
        }
    }
}

/// The warnings of a `-json` run as "summary: detail", without the dev_overrides warning every workspace
/// prints (it is the harness's own).
fn warnings(run: &Run) -> Vec<String> {
    diagnostics(run, "warning")
        .into_iter()
        .map(|w| w.text)
        .filter(|w| !w.starts_with("Provider development overrides are in effect"))
        .collect()
}

/// The error diagnostics of a `-json` run, and the run's plain text (what is not JSON) as one more.
fn errors(run: &Run) -> Vec<Reported> {
    let mut found = diagnostics(run, "error");
    let mut plain = String::new();
    for line in run.stdout.lines() {
        if serde_json::from_str::<Value>(line).is_err() {
            plain.push_str(line);
            plain.push('\n');
        }
    }
    plain.push_str(&run.stderr);
    if !plain.trim().is_empty() {
        found.push(Reported { text: plain, highlight: None });
    }
    found
}

/// The diagnostics of one severity (`error`, `warning`) of a `-json` run.
fn diagnostics(run: &Run, severity: &str) -> Vec<Reported> {
    let mut found = Vec::new();
    for line in run.stdout.lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        let diagnostic = &message["diagnostic"];
        if message["type"] != "diagnostic" || diagnostic["severity"] != severity {
            continue;
        }
        let snippet = &diagnostic["snippet"];
        let highlight = match (
            snippet["code"].as_str(),
            snippet["highlight_start_offset"].as_u64(),
            snippet["highlight_end_offset"].as_u64(),
        ) {
            (Some(code), Some(start), Some(end)) => code.get(start as usize..end as usize).map(str::to_string),
            _ => None,
        };
        let text = format!(
            "{}: {}",
            diagnostic["summary"].as_str().unwrap_or(""),
            diagnostic["detail"].as_str().unwrap_or("")
        );
        found.push(Reported { text, highlight });
    }
    found
}

fn succeeded(run: Run, what: &str) -> Outcome {
    if run.code == 0 {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", run.describe(0)))
    }
}

fn check_state(checks: &[Check], state: &Value) -> Outcome {
    let mut wrong = Vec::new();
    for check in checks {
        match check {
            Check::Attr { address, path, want } => match attr(state, address, path) {
                Ok(got) if got == want => {}
                Ok(got) => wrong.push(format!("{address}.{path} = {got}, wanted {want}")),
                Err(why) => wrong.push(why),
            },
            Check::AttrSet { address, path } => match attr(state, address, path) {
                Ok(Value::Null) => wrong.push(format!("{address}.{path} is null, wanted a value")),
                Ok(_) => {}
                Err(why) => wrong.push(why),
            },
            Check::Output { name, want } => match &state["values"]["outputs"][name]["value"] {
                got if got == want => {}
                Value::Null => wrong.push(format!("no output {name:?} in the state")),
                got => wrong.push(format!("output {name} = {got}, wanted {want}")),
            },
            Check::NoResource { address } => {
                if resource(state, address).is_some() {
                    wrong.push(format!("{address} is still in the state"));
                }
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("the state does not show what it should:\n  {}", wrong.join("\n  ")))
    }
}

/// Every resource and data source in a `show -json` document, child modules included.
fn resources(state: &Value) -> Vec<&Value> {
    fn walk<'a>(module: &'a Value, out: &mut Vec<&'a Value>) {
        out.extend(module["resources"].as_array().into_iter().flatten());
        for child in module["child_modules"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let mut out = Vec::new();
    walk(&state["values"]["root_module"], &mut out);
    out
}

fn resource<'a>(state: &'a Value, address: &str) -> Option<&'a Value> {
    resources(state).into_iter().find(|r| r["address"] == address)
}

/// The value at a dot-separated path in the values of `address`.
fn attr<'a>(state: &'a Value, address: &str, path: &str) -> Result<&'a Value, String> {
    let resource = resource(state, address).ok_or_else(|| format!("{address} is not in the state"))?;
    let mut value = &resource["values"];
    for part in path.split('.').filter(|p| !p.is_empty()) {
        value = match (value, part.parse::<usize>()) {
            (Value::Array(list), Ok(index)) => list.get(index),
            (Value::Object(map), _) => map.get(part),
            _ => None,
        }
        .ok_or_else(|| format!("{address} has no {path} (stopped at {part:?} in {value})"))?;
    }
    Ok(value)
}

/// What a saved plan changes: resource addresses and `output.NAME`, sorted, no-ops left out.
fn planned_changes(plan: &Value) -> Vec<String> {
    let changes = |actions: &Value| actions.as_array().is_some_and(|a| a.iter().any(|x| x != "no-op"));
    let mut out: Vec<String> = plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| changes(&c["change"]["actions"]))
        .filter_map(|c| c["address"].as_str().map(str::to_string))
        .collect();
    out.extend(
        plan["output_changes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, c)| changes(&c["actions"]))
            .map(|(name, _)| format!("output.{name}")),
    );
    out.sort();
    out
}

/// The top-level keys whose values differ between two attribute maps, but for `ignore`.
fn differing_keys(a: &Value, b: &Value, ignore: &[String]) -> Vec<String> {
    let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let mut all = keys(a);
    all.extend(keys(b));
    all.sort();
    all.dedup();
    all.into_iter().filter(|k| !ignore.contains(k) && a.get(k) != b.get(k)).collect()
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "it panicked".to_string())
}
