//! Fault injection for the Kubernetes API: 5xx errors, 409 conflicts, 429 with Retry-After, and slow
//! responses, on resource requests (discovery, health and `/version` are left alone so clients can start).
//!
//! The switch lives in `DIR/kube/fault.json`, so `mcp-egress-lab fault` in another process can flip it; the
//! server reads it on each resource request and starts afresh whenever its contents change. A fault may be limited to a number of requests and
//! to writes only.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What to inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", tag = "mode")]
pub enum FaultMode {
    /// Normal service.
    #[default]
    None,
    /// Answer with this HTTP status (500, 503, 504) and a Status body.
    Error { code: u16 },
    /// Answer 409 Conflict, as on a stale resourceVersion.
    Conflict,
    /// Answer 429 with `Retry-After: seconds`.
    Throttle { retry_after_seconds: u32 },
    /// Delay each answer by this many milliseconds, then serve it.
    Slow { delay_ms: u64 },
}

/// A fault and its scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    #[serde(flatten)]
    pub mode: FaultMode,
    /// Only this many requests are affected; `None` for all until cleared.
    #[serde(default)]
    pub count: Option<u32>,
    /// Only POST, PUT, PATCH and DELETE are affected.
    #[serde(default)]
    pub writes_only: bool,
}

/// Writes the fault switch for the lab in `dir` (the lab directory).
pub fn write(dir: &Path, fault: &Fault) -> anyhow::Result<()> {
    let path = path(dir);
    std::fs::create_dir_all(path.parent().expect("parent")).ok();
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(fault)?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn path(dir: &Path) -> PathBuf {
    dir.join("kube").join("fault.json")
}

/// The server's view of the switch.
pub struct FaultSwitch {
    path: PathBuf,
    state: Mutex<(Vec<u8>, Fault)>,
}

impl FaultSwitch {
    pub fn new(dir: &Path) -> FaultSwitch {
        FaultSwitch { path: path(dir), state: Mutex::new((vec![], Fault::default())) }
    }

    /// The fault to apply to this request, if any (counting it against `count`).
    pub fn take(&self, is_write: bool) -> Option<FaultMode> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = std::fs::read(&self.path).unwrap_or_default();
        if bytes != st.0 {
            st.1 = serde_json::from_slice(&bytes).unwrap_or_default();
            st.0 = bytes;
        }
        let fault = &mut st.1;
        if fault.mode == FaultMode::None || (fault.writes_only && !is_write) {
            return None;
        }
        if let Some(n) = fault.count.as_mut() {
            if *n == 0 {
                return None;
            }
            *n -= 1;
        }
        Some(fault.mode.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_reads_the_file_and_counts_down() {
        let dir = tempfile::tempdir().unwrap();
        let switch = FaultSwitch::new(dir.path());
        assert_eq!(switch.take(true), None);
        write(
            dir.path(),
            &Fault { mode: FaultMode::Throttle { retry_after_seconds: 2 }, count: Some(2), writes_only: true },
        )
        .unwrap();
        assert_eq!(switch.take(false), None, "reads are not affected");
        assert_eq!(switch.take(true), Some(FaultMode::Throttle { retry_after_seconds: 2 }));
        assert!(switch.take(true).is_some());
        assert_eq!(switch.take(true), None, "count exhausted");
        let text = std::fs::read_to_string(dir.path().join("kube/fault.json")).unwrap();
        assert!(text.contains("\"mode\": \"throttle\""), "{text}");
    }
}
