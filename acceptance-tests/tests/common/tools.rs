//! Where things are and what they printed: the repository root, the tool cache `scripts/install-*.sh`
//! fill, one lookup order for external binaries, and the text of a finished command.
//!
//! The lookup order is the tool's own environment variable, then PATH, then the cache: a newer tool a
//! developer has installed wins over the cache's fallback (the cache's Terraform is 1.0.3). This module
//! runs nothing itself and knows no tool by name.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("acceptance-tests lives in the repo").to_path_buf()
}

/// The cache's `bin/`: `$MCP_EGRESS_CACHE/bin`, else `<repo>/.cache/bin`, as in `scripts/tools.sh`.
pub fn cache_bin() -> PathBuf {
    match std::env::var_os("MCP_EGRESS_CACHE") {
        Some(cache) if !cache.is_empty() => PathBuf::from(cache).join("bin"),
        _ => repo_root().join(".cache/bin"),
    }
}

/// `name` in the first directory of PATH that holds it.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|path| path.is_file())
}

/// `name` in the cache, if it is installed there.
pub fn in_cache(name: &str) -> Option<PathBuf> {
    Some(cache_bin().join(name)).filter(|path| path.is_file())
}

/// A binary by the lookup order: `$env_var`, then PATH, then the cache. `None` when it is nowhere.
pub fn find(name: &str, env_var: &str) -> Option<PathBuf> {
    std::env::var_os(env_var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| on_path(name))
        .or_else(|| in_cache(name))
}

/// A command's stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A command's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Everything a command printed, stdout then stderr, for failure messages.
pub fn text(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// The stdout of a command that must have succeeded; otherwise fails the test with `what`, its status and
/// both streams.
pub fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}
