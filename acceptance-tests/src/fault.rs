//! Fault injection: which faults are switched on for one emulator, and at what rate.
//!
//! Owns the switchboard only. Each emulator decides what a fault looks like on its wire (the controller's
//! `return:false` envelopes, ARM's error bodies, EC2's error codes); nothing here builds a response.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The kinds of fault an emulator can be asked to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// The system's own 5xx answer.
    ServerError,
    /// Responses delayed by `delay_ms`.
    Slow,
    /// The session or token is treated as expired.
    ExpiredSession,
    /// Asynchronous tasks end in failure.
    TaskFailed,
    /// Asynchronous tasks stay in progress for good.
    TaskStuck,
    /// Asynchronous tasks take `delay_ms` (for Azure: writes become long-running operations).
    SlowTask,
    /// HTTP 409 conflicts.
    Conflict,
    /// Throttling: 429 (or the system's equivalent) with Retry-After.
    Throttle,
    /// The system is briefly unavailable: 503, which clients are expected to retry (a 500 they are not).
    Unavailable,
    /// Controller: a k8s cluster onboarded while it is on registers as `Partial`, as EKS clusters are reported
    /// to when the controller cannot list their custom resources; their FirewallPolicies are never reconciled.
    PartialCluster,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError => "server-error",
            FaultKind::Slow => "slow",
            FaultKind::ExpiredSession => "expired-session",
            FaultKind::TaskFailed => "task-failed",
            FaultKind::TaskStuck => "task-stuck",
            FaultKind::SlowTask => "slow-task",
            FaultKind::Conflict => "conflict",
            FaultKind::Throttle => "throttle",
            FaultKind::Unavailable => "unavailable",
            FaultKind::PartialCluster => "partial-cluster",
        }
    }
}

/// One switched-on fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultSetting {
    pub kind: FaultKind,
    /// Probability per eligible request, 0 < rate <= 1.
    pub rate: f64,
    /// For `slow` and `slow-task`: the delay; for `throttle`: the Retry-After, rounded up to seconds.
    pub delay_ms: u64,
    /// Fires for this many requests at most, then switches itself off; `None` until switched off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Only writes are eligible. An emulator that cannot tell reads from writes treats every request as one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub writes_only: bool,
}

impl FaultSetting {
    /// `kind` on every eligible request, for good: what `mcp-egress-lab fault` switches on.
    pub fn always(kind: FaultKind, delay_ms: u64) -> FaultSetting {
        FaultSetting { kind, rate: 1.0, delay_ms, count: None, writes_only: false }
    }

    /// `kind` switched off.
    pub fn off(kind: FaultKind) -> FaultSetting {
        FaultSetting { rate: 0.0, ..FaultSetting::always(kind, 0) }
    }
}

/// The faults switched on for one emulator.
pub struct Faults {
    supported: &'static [FaultKind],
    settings: Mutex<BTreeMap<FaultKind, FaultSetting>>,
}

impl Faults {
    pub fn new(supported: &'static [FaultKind]) -> Faults {
        Faults { supported, settings: Mutex::new(BTreeMap::new()) }
    }

    pub fn supported(&self) -> &'static [FaultKind] {
        self.supported
    }

    /// Switches a fault on (rate > 0) or off (rate 0).
    pub fn set(&self, target: &str, setting: FaultSetting) -> Result<(), String> {
        if !self.supported.contains(&setting.kind) {
            let names: Vec<&str> = self.supported.iter().map(|k| k.name()).collect();
            return Err(format!(
                "fault kind {} is not something {target} does; {target} supports: {}",
                setting.kind.name(),
                names.join(", ")
            ));
        }
        if !(0.0..=1.0).contains(&setting.rate) || setting.rate.is_nan() {
            return Err(format!(
                "rate {} is out of range; use a number from 0 (off) to 1 (every request)",
                setting.rate
            ));
        }
        let mut settings = self.settings.lock().unwrap();
        if setting.rate == 0.0 || setting.count == Some(0) {
            settings.remove(&setting.kind);
        } else {
            settings.insert(setting.kind, setting);
        }
        Ok(())
    }

    /// The faults now switched on.
    pub fn active(&self) -> Vec<FaultSetting> {
        self.settings.lock().unwrap().values().cloned().collect()
    }

    /// Rolls the dice for `kind`: `Some(setting)` when the fault fires for this request.
    pub fn fires(&self, kind: FaultKind) -> Option<FaultSetting> {
        self.fires_for(kind, true)
    }

    /// Like [`Faults::fires`], for an emulator that knows whether the request writes; a fault limited to
    /// writes passes reads by. A fault with a `count` uses one up each time it fires.
    pub fn fires_for(&self, kind: FaultKind, is_write: bool) -> Option<FaultSetting> {
        let mut settings = self.settings.lock().unwrap();
        let setting = settings.get_mut(&kind)?;
        if (setting.writes_only && !is_write) || !(setting.rate >= 1.0 || rand::random::<f64>() < setting.rate) {
            return None;
        }
        let fired = setting.clone();
        if let Some(left) = setting.count.as_mut() {
            *left -= 1;
            if *left == 0 {
                settings.remove(&kind);
            }
        }
        Some(fired)
    }

    /// Sleeps when the `slow` fault fires.
    pub async fn maybe_slow(&self) {
        if let Some(setting) = self.fires(FaultKind::Slow) {
            tokio::time::sleep(std::time::Duration::from_millis(setting.delay_ms)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_kinds_and_bad_rates_are_refused_and_rate_zero_switches_off() {
        let faults = Faults::new(&[FaultKind::Slow, FaultKind::ServerError]);
        let set = |kind, rate| faults.set("x", FaultSetting { rate, ..FaultSetting::always(kind, 10) });
        assert!(set(FaultKind::Conflict, 1.0).unwrap_err().contains("supports: slow, server-error"));
        assert!(set(FaultKind::Slow, 1.5).is_err());
        set(FaultKind::ServerError, 1.0).unwrap();
        assert!(faults.fires(FaultKind::ServerError).is_some());
        assert!(faults.fires(FaultKind::Slow).is_none());
        set(FaultKind::ServerError, 0.0).unwrap();
        assert!(faults.fires(FaultKind::ServerError).is_none());
        assert!(faults.active().is_empty());
    }

    #[test]
    fn a_counted_fault_fires_that_often_then_is_off_and_a_writes_only_fault_passes_reads_by() {
        let faults = Faults::new(&[FaultKind::Throttle]);
        let setting =
            FaultSetting { count: Some(2), writes_only: true, ..FaultSetting::always(FaultKind::Throttle, 1000) };
        faults.set("x", setting).unwrap();
        assert!(faults.fires_for(FaultKind::Throttle, false).is_none(), "a read is not eligible");
        assert_eq!(faults.fires_for(FaultKind::Throttle, true).unwrap().delay_ms, 1000);
        assert_eq!(faults.active()[0].count, Some(1), "one use left");
        assert!(faults.fires(FaultKind::Throttle).is_some(), "plain `fires` counts as a write");
        assert!(faults.fires_for(FaultKind::Throttle, true).is_none(), "used up");
        assert!(faults.active().is_empty(), "and switched off");
    }
}
