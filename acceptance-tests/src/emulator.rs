//! What every emulator gives the daemon: its fault switchboard, its inventory, and its lines in `lab.env`.
//!
//! This is the one place an emulated system plugs into the lab: implement [`Emulator`] and add it to the list
//! the daemon builds (`daemon::start_emulators`). It must not start processes or bind ports by itself; the
//! daemon does that and hands the emulator what it needs.

use std::future::Future;
use std::pin::Pin;

use crate::fault::Faults;
use crate::inventory::Object;

/// A boxed future, for trait methods that must stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An emulated system registered with the daemon.
pub trait Emulator: Send + Sync {
    /// The name `fault --target` and the inventory use: `controller`, `azure`, `aws`, `kubernetes`.
    fn target(&self) -> &'static str;

    /// Its fault switchboard.
    fn faults(&self) -> &Faults;

    /// Every object it holds, normalised for comparison (see [`crate::inventory`]).
    fn inventory(&self) -> BoxFuture<'_, anyhow::Result<Vec<Object>>>;

    /// Its `export NAME=value` lines for `lab.env`, e.g. a URL and a CA file. Secrets go here too, since
    /// `lab.env` is written with mode 0600, but never into logs.
    fn env(&self) -> Vec<(String, String)>;

    /// A one-line description for `status`, e.g. "https://127.0.0.1:41234 (TLS)".
    fn describe(&self) -> String;
}
