//! `terraform-provider-fixture`: a provider built on the plugin framework alone, with no Aviatrix in it, for
//! the tests that prove the framework through the real terraform CLI (`acceptance-tests/tests/tf_framework.rs`).
//!
//! Its one resource, `fixture_note`, keeps notes as JSON files in `$FIXTURE_DIR`, so a test can change or
//! delete one behind Terraform's back. It exercises what resources rely on: warnings at validate, plan and
//! apply (`text = "warn"`), an error at validate (`text = "bad"`), defaults, replacement, computed values
//! kept or recomputed on update, and private state remembered across runs. Not shipped.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use terraform_provider_aviatrix::plugin::component::{DynDataSource, DynFunction, DynResource};
use terraform_provider_aviatrix::plugin::handshake::serve;
use terraform_provider_aviatrix::plugin::{
    AttributePath, CallContext, Diagnosed, Diagnostic, Diagnostics, Known, Outcome, Planned, Private, PrivateEntry,
    Provider, Resource, TfSchema,
};

/// A note kept as a file.
#[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
struct Note {
    /// The note's ID, assigned on create and kept for its life.
    #[tf(computed, use_state_for_unknown)]
    id: Known<String>,
    /// The text; `warn` makes every step warn, `bad` fails validation.
    text: String,
    /// Moving a note to another shelf replaces it.
    #[tf(requires_replace)]
    shelf: String,
    /// The protocol, `tcp` unless set.
    #[tf(optional, computed, default = "tcp")]
    protocol: Option<String>,
    /// Ports, `[443]` unless set.
    #[tf(optional, computed, default = [443])]
    ports: Option<Vec<i64>>,
    /// Raised on every update, so it is known only after apply.
    #[tf(computed)]
    revision: Known<i64>,
    /// The shelf the note was first put on, as private state remembers it.
    #[tf(computed, use_state_for_unknown)]
    first_shelf: Known<String>,
}

/// What private state keeps: the shelf at create time.
#[derive(Debug, Serialize, Deserialize)]
struct Origin {
    shelf: String,
}

impl PrivateEntry for Origin {
    const KEY: &'static str = "origin";
    const VERSION: u32 = 1;
}

struct Notes {
    dir: PathBuf,
}

fn warning(step: &str) -> Diagnostic {
    Diagnostic::warning(format!("Note warns at {step}"), format!("text = \"warn\" warns at {step}; the run goes on."))
        .at(AttributePath::root().attr("text"))
}

impl Notes {
    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn store(&self, note: &Note) -> Result<(), Diagnostics> {
        let id = note.id.value().expect("stored notes have IDs");
        let json = serde_json::to_vec(note).expect("notes encode");
        std::fs::write(self.file(id), json)
            .map_err(|e| Diagnostic::error("Cannot store the note", format!("{}: {e}", self.dir.display())).into())
    }

    fn load(&self, id: &str) -> Option<Note> {
        let bytes = std::fs::read(self.file(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The note with `first_shelf` from private state; "(forgotten)" shows as drift if private state was lost.
    fn remembered(note: Note, private: &Private) -> Result<Note, Diagnostics> {
        let first = private.get::<Origin>()?.map(|o| o.shelf).unwrap_or_else(|| "(forgotten)".to_string());
        Ok(Note { first_shelf: Known::Value(first), ..note })
    }
}

#[tonic::async_trait]
impl Resource for Notes {
    const TYPE_NAME: &'static str = "fixture_note";
    type State = Note;

    fn validate(&self, config: &Note) -> Diagnostics {
        match config.text.as_str() {
            "warn" => warning("validate").into(),
            "bad" => Diagnostic::error("Invalid note text", "text = \"bad\" is refused; use any other text.")
                .at(AttributePath::root().attr("text"))
                .into(),
            _ => Diagnostics::default(),
        }
    }

    async fn plan(&self, _: &CallContext, _: Option<&Note>, proposed: Note, _: &mut Private) -> Outcome<Planned<Note>> {
        let warn = proposed.text == "warn";
        let planned = Diagnosed::new(Planned::new(proposed));
        Ok(if warn { planned.with(warning("plan")) } else { planned })
    }

    async fn create(&self, _: &CallContext, planned: Note, private: &mut Private) -> Outcome<Note> {
        let id = format!("note-{}", uuid_like());
        private.set(&Origin { shelf: planned.shelf.clone() })?;
        let note = Note {
            id: Known::Value(id),
            revision: Known::Value(1),
            first_shelf: Known::Value(planned.shelf.clone()),
            ..planned
        };
        self.store(&note)?;
        let done = Diagnosed::new(note);
        Ok(if done.value.text == "warn" { done.with(warning("apply")) } else { done })
    }

    async fn read(&self, _: &CallContext, current: Note, private: &mut Private) -> Outcome<Option<Note>> {
        let id = current.id.value().cloned().unwrap_or_default();
        match self.load(&id) {
            Some(stored) => Ok(Some(Notes::remembered(stored, private)?).into()),
            None => Ok(None.into()),
        }
    }

    async fn update(&self, _: &CallContext, prior: Note, planned: Note, private: &mut Private) -> Outcome<Note> {
        let revision = prior.revision.value().copied().unwrap_or(0) + 1;
        let note = Notes::remembered(Note { id: prior.id, revision: Known::Value(revision), ..planned }, private)?;
        self.store(&note)?;
        let done = Diagnosed::new(note);
        Ok(if done.value.text == "warn" { done.with(warning("apply")) } else { done })
    }

    async fn delete(&self, _: &CallContext, prior: Note, _: &Private) -> Outcome<()> {
        let id = prior.id.value().cloned().unwrap_or_default();
        match std::fs::remove_file(self.file(&id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Diagnostic::error("Cannot delete the note", format!("{id}: {e}")).into())
            }
            _ => Ok(().into()),
        }
    }

    async fn import(&self, _: &CallContext, id: &str, private: &mut Private) -> Outcome<Note> {
        let Some(stored) = self.load(id) else {
            return Err(Diagnostic::error(
                "Cannot import the note",
                format!("no note {id:?} in the store; import takes a note ID such as note-1a2b"),
            )
            .into());
        };
        // Importing learns the shelf the note is on now; that is the best private state can know.
        private.set(&Origin { shelf: stored.shelf.clone() })?;
        Ok(Notes::remembered(stored, private)?.into())
    }
}

/// A short unique suffix without another dependency: time and process.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:x}{:x}", nanos & 0xffff_ffff, std::process::id())
}

/// No configuration: the store is `$FIXTURE_DIR`.
#[derive(Debug, Serialize, Deserialize, TfSchema)]
struct FixtureConfig {}

struct Fixture {
    dir: PathBuf,
}

#[tonic::async_trait]
impl Provider for Fixture {
    type Config = FixtureConfig;

    async fn configure(&self, _: FixtureConfig, _: &str) -> Outcome<()> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Diagnostic::error("FIXTURE_DIR is not usable", format!("{}: {e}", self.dir.display())))?;
        Ok(().into())
    }

    fn data_sources(self: &Arc<Self>) -> Vec<Arc<dyn DynDataSource>> {
        Vec::new()
    }

    fn resources(self: &Arc<Self>) -> Vec<Arc<dyn DynResource>> {
        vec![Arc::new(Notes { dir: self.dir.clone() })]
    }

    fn functions(self: &Arc<Self>) -> Vec<Arc<dyn DynFunction>> {
        Vec::new()
    }
}

fn main() {
    terraform_provider_aviatrix::plugin::log::init("fixture");
    let dir =
        std::env::var_os("FIXTURE_DIR").map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("fixture"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    if let Err(e) = runtime.block_on(serve(Fixture { dir })) {
        eprintln!("terraform-provider-fixture: {e}");
        std::process::exit(1);
    }
}
