//! Retrying, once for every client: exponential backoff with full jitter, bounded by the calling operation's
//! budget (its `timeouts` value and Terraform's cancellation), and only for errors that say trying again can
//! help. Clients decide what is retryable through [`Retryable`]; nothing else in the provider sleeps and
//! tries again.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio_util::sync::CancellationToken;

/// What an operation may spend: until a deadline, unless Terraform cancels it first.
#[derive(Clone, Debug)]
pub struct Budget {
    pub deadline: Instant,
    pub cancel: CancellationToken,
}

impl Budget {
    pub fn new(timeout: Duration, cancel: CancellationToken) -> Budget {
        Budget { deadline: Instant::now() + timeout, cancel }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Sleeps for `delay`, or less if the budget runs out; false if cancelled or out of time.
    pub async fn sleep(&self, delay: Duration) -> bool {
        let delay = delay.min(self.remaining());
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(delay) => !self.remaining().is_zero(),
        }
    }
}

/// Errors a retry loop can reason about.
pub trait Retryable: Sized {
    /// `Some(at least this long)` when trying again may help, `None` when it cannot.
    fn retry_after(&self) -> Option<Duration>;
    /// The error to report when the budget ran out while this one kept coming back.
    fn out_of_time(self, waited: Duration) -> Self;
    /// The error to report when Terraform cancelled the operation.
    fn cancelled() -> Self;
}

/// Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, initial * 2^n)], and never
/// shorter than what the system asked for (a Retry-After).
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max, attempt: 0 }
    }

    pub fn next_delay(&mut self, at_least: Duration) -> Duration {
        let ceiling = self.initial.saturating_mul(1u32 << self.attempt.min(16)).min(self.max);
        self.attempt += 1;
        let jittered = Duration::from_secs_f64(rand::rng().random_range(0.0..=ceiling.as_secs_f64()));
        jittered.max(at_least)
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(20))
    }
}

/// Runs `op` until it succeeds, fails with an error that is not retryable, or the budget ends (then the
/// last error is reported as out of time).
pub async fn with_retries<T, E, F, Fut>(budget: &Budget, what: &str, mut op: F) -> Result<T, E>
where
    E: Retryable + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut backoff = Backoff::default();
    loop {
        if budget.cancel.is_cancelled() {
            return Err(E::cancelled());
        }
        let attempt = Instant::now();
        let error = match op().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let Some(at_least) = error.retry_after() else { return Err(error) };
        let delay = backoff.next_delay(at_least);
        // An attempt that could not finish in the time left is not started: the last error says more than a
        // timeout in the middle of it would.
        if delay + attempt.elapsed() >= budget.remaining() {
            return Err(error.out_of_time(started.elapsed()));
        }
        tracing::info!(%error, retry_in_ms = delay.as_millis() as u64, "{what}: retrying");
        if !budget.sleep(delay).await {
            return Err(if budget.cancel.is_cancelled() {
                E::cancelled()
            } else {
                error.out_of_time(started.elapsed())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Flaky,
        Fatal,
        OutOfTime,
        Cancelled,
    }

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl Retryable for E {
        fn retry_after(&self) -> Option<Duration> {
            (*self == E::Flaky).then_some(Duration::ZERO)
        }
        fn out_of_time(self, _: Duration) -> E {
            E::OutOfTime
        }
        fn cancelled() -> E {
            E::Cancelled
        }
    }

    #[test]
    fn delays_grow_within_the_ceiling_and_honour_retry_after() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        for n in 0..10 {
            let ceiling = Duration::from_millis(100 * (1 << n.min(3)));
            assert!(b.next_delay(Duration::ZERO) <= ceiling);
        }
        assert!(b.next_delay(Duration::from_secs(3)) >= Duration::from_secs(3), "Retry-After is a floor");
    }

    #[tokio::test]
    async fn retries_only_what_is_retryable_and_stops_at_the_budget() {
        let budget = Budget::new(Duration::from_secs(5), CancellationToken::new());
        let calls = AtomicU32::new(0);
        let ok: Result<u32, E> = with_retries(&budget, "flaky twice", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(E::Flaky),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(ok, Ok(2));

        let calls = AtomicU32::new(0);
        let fatal: Result<(), E> = with_retries(&budget, "fatal", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(E::Fatal)
        })
        .await;
        assert_eq!((fatal, calls.load(Ordering::SeqCst)), (Err(E::Fatal), 1), "a fatal error is not retried");

        let short = Budget::new(Duration::from_millis(300), CancellationToken::new());
        let timed_out: Result<(), E> = with_retries(&short, "always flaky", || async { Err(E::Flaky) }).await;
        assert_eq!(timed_out, Err(E::OutOfTime));

        let cancel = CancellationToken::new();
        cancel.cancel();
        let cancelled: Result<(), E> =
            with_retries(&Budget::new(Duration::from_secs(5), cancel), "cancelled", || async { Err(E::Flaky) }).await;
        assert_eq!(cancelled, Err(E::Cancelled));
    }
}
