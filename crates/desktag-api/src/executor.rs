//! The executor: runs a [`Call`] to completion over the transport. It holds the client-wide
//! concurrency bound (permits), the retry loop and the statistics, and draws every request from
//! the run's shared [`Budget`] (the adaptive rate). Decisions come from the pure `retry` and
//! `rate` modules; this module does the waiting and the logging.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use super::budget::Budget;
use super::error::{ApiError, CallError};
use super::rate::{stated_limit, RateEvent};
use super::retry::{AttemptOutcome, Decision, RetryPolicy};
use super::stop::{Stop, IN_FLIGHT_GRACE};
use super::transport::{Answer, Call, Failure, Transport};

/// HTTP attempts a call made (1 when the first attempt succeeded).
pub(crate) type Attempts = u32;

/// A backoff longer than this is logged as a warning (shorter ones at debug).
const WARN_BACKOFF: Duration = Duration::from_secs(1);

/// What the client did so far, across every clone of it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// HTTP requests sent.
    pub requests: u64,
    /// Of those, resends after a failed attempt.
    pub retries: u64,
    /// Answers that were 429 (throttled).
    pub throttled: u64,
    /// The request rate allowed now, in requests per second.
    pub rate: f64,
    /// The rate after the last cut, once the service has throttled: the rate the run settled at.
    pub settled_rate: Option<f64>,
}

pub(crate) struct Executor {
    pub transport: Transport,
    pub policy: RetryPolicy,
    /// Thrown: no new request, rate wait or retry; in-flight requests get `IN_FLIGHT_GRACE`.
    pub stop: Stop,
    permits: Semaphore,
    /// Requests in flight at once (the permits), for the budget's probe gate.
    concurrency: usize,
    /// The adaptive rate, shared with every client of the run with the same endpoint host and
    /// credentials.
    budget: Arc<Mutex<Budget>>,
    requests: AtomicU64,
    retries: AtomicU64,
    /// 429s this client was answered (the budget's other clients count their own).
    throttled: AtomicU64,
}

/// How a backoff is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    /// A warning that says the service's `Retry-After` (this long) was cut to the cap.
    Capped(Duration),
    /// A warning: the wait is longer than `WARN_BACKOFF`.
    LongWait,
    /// A short wait after a 429: routine under throttling, debug only.
    Quiet,
    /// A short wait after another failure: a warning, as every failure is.
    Failed,
}

/// Decides how a backoff of `delay` is logged; `asked` is the service's `Retry-After`.
fn backoff_notice(delay: Duration, asked: Option<Duration>, throttled: bool) -> Notice {
    match asked {
        Some(asked) if asked > delay => Notice::Capped(asked),
        _ if delay > WARN_BACKOFF => Notice::LongWait,
        _ if throttled => Notice::Quiet,
        _ => Notice::Failed,
    }
}

impl Executor {
    pub(crate) fn new(
        transport: Transport,
        policy: RetryPolicy,
        concurrency: usize,
        budget: Arc<Mutex<Budget>>,
        stop: Stop,
    ) -> Executor {
        Executor {
            transport,
            policy,
            stop,
            permits: Semaphore::new(concurrency),
            concurrency,
            budget,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        }
    }

    /// The budget this client draws from, for tests that check who shares it.
    #[cfg(test)]
    pub(crate) fn shared_budget(&self) -> &Arc<Mutex<Budget>> {
        &self.budget
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn stats(&self) -> Stats {
        let (rate, settled_rate) = self.budget().rate();
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            rate,
            settled_rate,
        }
    }

    /// Sends `call` until it succeeds, the retry policy gives up, or the run is stopped (then
    /// the last error stands, or `Stopped` when nothing was answered).
    pub(crate) async fn execute(&self, call: &Call) -> Result<(Answer, Attempts), CallError> {
        let mut attempt: u32 = 1;
        loop {
            let (error, outcome) = match self.attempt(call).await {
                Ok(answer) => return Ok((answer, attempt)),
                Err(failure) => failure,
            };
            if let ApiError::Stopped { in_flight, .. } = error {
                let attempts = if in_flight { attempt } else { attempt - 1 };
                return Err(CallError { error, attempts });
            }
            let sent_error = |error| CallError {
                error,
                attempts: attempt,
            };
            if self.stop.is_stopped() {
                return Err(sent_error(error));
            }
            let now = SystemTime::now();
            let decision = self
                .policy
                .decide(attempt, &outcome, now, &mut rand::thread_rng());
            let (delay, asked) = match decision {
                Decision::GiveUp => {
                    return Err(CallError {
                        error,
                        attempts: attempt,
                    })
                }
                Decision::Retry { delay, asked } => (delay, asked),
            };
            self.retries.fetch_add(1, Ordering::Relaxed);
            if asked.is_none() {
                if let AttemptOutcome::Status {
                    retry_after: Some(value),
                    ..
                } = &outcome
                {
                    tracing::warn!(
                        retry_after = ?value,
                        "the service sent a Retry-After desktag cannot read; backing off on its own"
                    );
                }
            }
            if asked.is_some() {
                // The service asked every caller to wait, not just this one.
                let now = Instant::now();
                self.budget().hold_until(now, now + delay);
            }
            self.log_backoff(call, attempt, &outcome, &error, delay, asked);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                // No retry once stopped: the last answer stands.
                _ = self.stop.stopped() => return Err(sent_error(error)),
            }
            attempt += 1;
        }
    }

    fn log_backoff(
        &self,
        call: &Call,
        attempt: u32,
        outcome: &AttemptOutcome,
        error: &ApiError,
        delay: Duration,
        asked: Option<Duration>,
    ) {
        let path = self.transport.display_path(call);
        let delay_ms = delay.as_millis() as u64;
        let throttled = matches!(outcome, AttemptOutcome::Status { status: 429, .. });
        match backoff_notice(delay, asked, throttled) {
            Notice::Capped(asked) => tracing::warn!(
                method = %call.method, %path, attempt, delay_ms, %error,
                "the service asked to wait {}s; desktag waits at most {}s before retrying",
                asked.as_secs(),
                delay.as_secs_f64()
            ),
            Notice::LongWait => tracing::warn!(
                method = %call.method, %path, attempt, delay_ms, %error,
                "{}; waiting {:.1}s before retrying",
                if throttled { "throttled" } else { "request failed" },
                delay.as_secs_f64()
            ),
            Notice::Quiet => tracing::debug!(
                method = %call.method, %path, attempt, delay_ms, %error,
                "throttled; retrying"
            ),
            Notice::Failed => tracing::warn!(
                method = %call.method, %path, attempt, delay_ms, %error,
                "request failed; retrying"
            ),
        }
    }

    /// One HTTP attempt under the concurrency bound and the shared rate.
    async fn attempt(&self, call: &Call) -> Result<Answer, Failure> {
        let stopped = |in_flight| {
            (
                ApiError::Stopped {
                    reason: self.stop.reason(),
                    in_flight,
                },
                AttemptOutcome::Fatal,
            )
        };
        let permit = tokio::select! {
            permit = self.permits.acquire() => permit,
            _ = self.stop.stopped() => return Err(stopped(false)),
        };
        let _permit = permit.map_err(|_| {
            (
                ApiError::Setup("the client was shut down".to_string()),
                AttemptOutcome::Fatal,
            )
        })?;
        // Still probing for the service's limit, past the first waves: at most half the
        // workers of every client of the budget in flight (`Budget::probe_gate`).
        let gate = self.budget().probe_gate(self.concurrency);
        let _probe = match gate {
            Some(gate) => Some(tokio::select! {
                permit = gate.acquire_owned() => permit.map_err(|_| {
                    (
                        ApiError::Setup("the client was shut down".to_string()),
                        AttemptOutcome::Fatal,
                    )
                })?,
                _ = self.stop.stopped() => return Err(stopped(false)),
            }),
            None => None,
        };
        if self.stop.is_stopped() {
            return Err(stopped(false));
        }
        let wait = self.budget().reserve(Instant::now());
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.stopped() => return Err(stopped(false)),
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = tokio::select! {
            result = self.transport.send(call) => result,
            _ = async {
                self.stop.stopped().await;
                tokio::time::sleep(IN_FLIGHT_GRACE).await;
            } => return Err(stopped(true)),
        };
        let event = match &result {
            Ok(_) => Some(RateEvent::Success),
            Err((_, AttemptOutcome::Status { status: 429, .. })) => Some(RateEvent::Throttled),
            Err((_, AttemptOutcome::Status { .. })) => Some(RateEvent::Answered),
            Err(_) => None,
        };
        if let Some(event) = event {
            let mut budget = self.budget();
            if event == RateEvent::Throttled {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                if let Err((ApiError::Service { error_msg, .. }, _)) = &result {
                    if let Some(limit) = stated_limit(error_msg) {
                        budget.stated(limit);
                    }
                }
            }
            budget.observe(event, Instant::now());
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_above_a_second_warns_429s_included() {
        let s = Duration::from_secs;
        assert_eq!(backoff_notice(s(2), None, true), Notice::LongWait);
        assert_eq!(backoff_notice(s(2), Some(s(2)), true), Notice::LongWait);
        assert_eq!(backoff_notice(s(5), None, false), Notice::LongWait);
        assert_eq!(
            backoff_notice(Duration::from_millis(150), None, true),
            Notice::Quiet
        );
        assert_eq!(
            backoff_notice(Duration::from_millis(150), None, false),
            Notice::Failed
        );
    }

    #[test]
    fn a_capped_retry_after_says_what_the_service_asked() {
        let s = Duration::from_secs;
        assert_eq!(
            backoff_notice(s(20), Some(s(999_999)), true),
            Notice::Capped(s(999_999))
        );
        // A short Retry-After within the cap is not "capped".
        assert_eq!(
            backoff_notice(
                Duration::from_millis(500),
                Some(Duration::from_millis(500)),
                true
            ),
            Notice::Quiet
        );
    }
}
