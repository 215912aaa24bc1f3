//! The plugin framework through the real terraform CLI, on a provider of its own (`terraform-provider-fixture`,
//! built from provider/examples/framework_fixture.rs by `cargo test`): warnings at validate, plan and apply
//! are shown and the run succeeds; an error stops validate; defaults are planned; a computed value marked
//! `use_state_for_unknown` keeps its state while another is known after apply; a replacing attribute
//! replaces; private state survives between runs; drift, import and destroy behave.

mod common;

use std::path::PathBuf;

use common::terraform::{provider_dir, Run, Workspace};
use serde_json::{json, Value};

fn fixture_dir() -> PathBuf {
    let dir = provider_dir().join("examples");
    assert!(
        dir.join("terraform-provider-fixture").exists(),
        "{} is missing: `cargo test` builds the framework fixture (cargo build -p terraform-provider-aviatrix --examples)",
        dir.display()
    );
    dir
}

fn config(text: &str, shelf: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    fixture = {{ source = "framework-test/fixture" }}
  }}
}}

resource "fixture_note" "n" {{
  text  = "{text}"
  shelf = "{shelf}"
}}
"#
    )
}

struct Fixture {
    ws: Workspace,
    store: tempfile::TempDir,
}

impl Fixture {
    fn new(text: &str, shelf: &str) -> Fixture {
        let fixture = fixture_dir();
        let mut ws = Workspace::with_overrides(&config(text, shelf), &[("framework-test/fixture", &fixture)]);
        let store = tempfile::tempdir().unwrap();
        ws.set_env("FIXTURE_DIR", store.path().to_str().unwrap());
        Fixture { ws, store }
    }

    fn set(&self, text: &str, shelf: &str) {
        self.ws.write("main.tf", &config(text, shelf));
    }

    /// The note's attributes as `terraform show -json` has them.
    fn state(&self) -> Value {
        let run = self.ws.run(&["show", "-json"]).expect_code(0, "show -json");
        let shown: Value = serde_json::from_str(&run.stdout).unwrap();
        shown["values"]["root_module"]["resources"][0]["values"].clone()
    }

    /// The planned change of the note: `terraform plan -out` then `show -json` of the plan.
    fn planned_change(&self) -> Value {
        self.ws.run(&["plan", "-out=tfplan", "-no-color"]).expect_code(0, "plan -out");
        let run = self.ws.run(&["show", "-json", "tfplan"]).expect_code(0, "show -json tfplan");
        let plan: Value = serde_json::from_str(&run.stdout).unwrap();
        plan["resource_changes"][0].clone()
    }

    fn stored_notes(&self) -> usize {
        std::fs::read_dir(self.store.path()).map(|d| d.count()).unwrap_or(0)
    }
}

fn output(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn warnings_at_validate_plan_and_apply_are_shown_and_the_run_succeeds() {
    let f = Fixture::new("warn", "a");
    let validate = f.ws.run(&["validate", "-no-color"]).expect_code(0, "validate with a warning");
    assert!(output(&validate).contains("Warning: Note warns at validate"), "{}", output(&validate));

    let plan = f.ws.run(&["plan", "-no-color"]).expect_code(0, "plan with warnings");
    let text = output(&plan);
    assert!(text.contains("Note warns at plan"), "{text}");
    assert!(text.contains("fixture_note.n will be created"), "{text}");

    let apply = f.ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply with warnings");
    let text = output(&apply);
    assert!(text.contains("Warning: Note warns at apply"), "{text}");
    assert!(text.contains("Apply complete! Resources: 1 added"), "{text}");
    assert_eq!(f.stored_notes(), 1);
    f.ws.run(&["destroy", "-auto-approve", "-no-color"]).expect_code(0, "destroy");
    assert_eq!(f.stored_notes(), 0, "destroy leaves no note behind");
}

#[test]
fn an_error_at_validate_stops_the_run_on_its_attribute() {
    let f = Fixture::new("bad", "a");
    let run = f.ws.run(&["validate", "-no-color"]).expect_code(1, "validate with an error");
    let text = output(&run);
    assert!(text.contains("Error: Invalid note text") && text.contains("text = \"bad\" is refused"), "{text}");
    assert!(text.contains("on main.tf line"), "the error points at the configuration: {text}");
    f.ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(1, "apply with an error");
    assert_eq!(f.stored_notes(), 0, "nothing is made when validation fails");
}

#[test]
fn plan_rules_defaults_kept_state_replacement_and_private_state() {
    let f = Fixture::new("hello", "a");
    // Create: defaults are planned as values, computed attributes are known after apply.
    let create = f.planned_change();
    assert_eq!(create["change"]["actions"], json!(["create"]));
    assert_eq!(create["change"]["after"]["protocol"], "tcp");
    assert_eq!(create["change"]["after"]["ports"], json!([443]));
    assert_eq!(create["change"]["after_unknown"]["id"], true);
    f.ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply");
    let created = f.state();
    assert_eq!((created["protocol"].as_str(), created["revision"].as_i64()), (Some("tcp"), Some(1)));
    assert_eq!(created["first_shelf"], "a");
    f.ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "second plan is empty");

    // Private state comes back to read on a later run: a refresh still knows the first shelf.
    f.ws.run(&["apply", "-refresh-only", "-auto-approve", "-no-color"]).expect_code(0, "refresh");
    assert_eq!(f.state()["first_shelf"], "a", "private state was lost between runs");

    // Update in place: `revision` is known after apply, `id` and `first_shelf` keep their state.
    f.set("changed", "a");
    let update = f.planned_change();
    assert_eq!(update["change"]["actions"], json!(["update"]));
    assert_eq!(update["change"]["after_unknown"]["revision"], true);
    assert_eq!(update["change"]["after"]["id"], created["id"], "id keeps its state");
    assert_eq!(update["change"]["after"]["first_shelf"], "a");
    f.ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply update");
    let updated = f.state();
    assert_eq!((updated["id"].clone(), updated["revision"].as_i64()), (created["id"].clone(), Some(2)));

    // A replacing attribute: the plan names it and the object is replaced.
    f.set("changed", "b");
    let replace = f.planned_change();
    assert_eq!(replace["change"]["actions"], json!(["delete", "create"]));
    assert_eq!(replace["change"]["replace_paths"], json!([["shelf"]]));
    let plan_text = output(&f.ws.run(&["plan", "-no-color"]));
    assert!(plan_text.contains("# forces replacement"), "{plan_text}");
    f.ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply replacement");
    let replaced = f.state();
    assert_ne!(replaced["id"], created["id"]);
    assert_eq!(replaced["first_shelf"], "b");
    assert_eq!(f.stored_notes(), 1, "the old note is gone");

    f.ws.run(&["destroy", "-auto-approve", "-no-color"]).expect_code(0, "destroy");
    assert_eq!(f.stored_notes(), 0);
}

#[test]
fn drift_and_import() {
    let f = Fixture::new("hello", "a");
    f.ws.run(&["apply", "-auto-approve", "-no-color"]).expect_code(0, "apply");
    let id = f.state()["id"].as_str().unwrap().to_string();

    // Import into a fresh state: the next plan is empty, and private state is set by import.
    f.ws.run(&["state", "rm", "fixture_note.n"]).expect_code(0, "state rm");
    let missing =
        f.ws.run(&["import", "-no-color", "fixture_note.n", "note-none"]).expect_code(1, "import a missing ID");
    assert!(output(&missing).contains("no note \"note-none\" in the store"), "{}", output(&missing));
    f.ws.run(&["import", "-no-color", "fixture_note.n", &id]).expect_code(0, "import");
    f.ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(0, "plan after import is empty");
    assert_eq!(f.state()["first_shelf"], "a");

    // Deleted behind Terraform's back: the next plan re-creates it.
    std::fs::remove_file(f.store.path().join(format!("{id}.json"))).unwrap();
    let plan = f.ws.run(&["plan", "-detailed-exitcode", "-no-color"]).expect_code(2, "plan after deletion");
    assert!(output(&plan).contains("fixture_note.n will be created"), "{}", output(&plan));
    f.ws.run(&["destroy", "-auto-approve", "-no-color"]).expect_code(0, "destroy");
}
