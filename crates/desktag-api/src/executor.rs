//! The executor: runs a [`Call`] to completion over the transport. It holds the client-wide
//! concurrency bound (permits), the one adaptive rate limiter every worker shares, the retry
//! loop and the statistics. Decisions come from the pure `retry` and `rate` modules; this module
//! does the waiting and the logging.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use super::error::{ApiError, CallError};
use super::rate::{RateEvent, RatePolicy, RateState, SLOW};
use super::retry::{AttemptOutcome, Decision, RetryPolicy};
use super::stop::{Stop, IN_FLIGHT_GRACE};
use super::transport::{Answer, Call, Failure, Transport};
use crate::token_bucket::TokenBucket;

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
    limiter: Mutex<Limiter>,
    requests: AtomicU64,
    retries: AtomicU64,
}

/// The shared adaptive rate: the AIMD state, the token bucket it drives and the send times of
/// the last second (to know the rate requests really went out at).
struct Limiter {
    policy: RatePolicy,
    state: RateState,
    bucket: TokenBucket,
    sent: VecDeque<Instant>,
    /// The rate last logged, so small steps are not logged one by one.
    logged: f64,
    /// Whether the slow-pacing warning was given (once per client).
    warned_slow: bool,
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

/// Send times kept for the sent-rate estimate; far above any rate a service allows.
const MAX_SENT_KEPT: usize = 100_000;

impl Limiter {
    fn reserve(&mut self, now: Instant) -> Duration {
        while self
            .sent
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= Duration::from_secs(1))
        {
            self.sent.pop_front();
        }
        if self.sent.len() < MAX_SENT_KEPT {
            self.sent.push_back(now);
        }
        self.bucket.reserve(now)
    }

    fn observe(&mut self, event: RateEvent, now: Instant) {
        let sent_rate = self.sent.len() as f64;
        let next = self.policy.next(&self.state, event, sent_rate, now);
        let first_cut = self.state.probing && !next.probing;
        if next.rate != self.state.rate {
            self.bucket.set_rate(next.rate);
            let rate = next.rate;
            if first_cut {
                tracing::info!(
                    rate = format_args!("{rate:.1}"),
                    "the service throttles requests; adapting the request rate, now {rate:.1}/s"
                );
                self.logged = rate;
            } else if rate < self.state.rate {
                tracing::debug!(
                    rate = format_args!("{rate:.1}"),
                    "throttled; request rate cut"
                );
                self.logged = rate;
            } else if rate >= self.logged * 1.1 || rate == self.policy.ceiling {
                tracing::debug!(rate = format_args!("{rate:.1}"), "request rate raised");
                self.logged = rate;
            }
        }
        if next.rate <= SLOW && next.rate < self.state.rate && !self.warned_slow {
            self.warned_slow = true;
            tracing::warn!(
                rate = format_args!("{:.2}", next.rate),
                floor = self.policy.floor,
                "the service throttles hard: pacing at {:.2} requests/s (never below {}/s); calls still throttled fail after their attempts, and --deadline bounds the run",
                next.rate,
                self.policy.floor
            );
        }
        self.state = next;
    }
}

impl Executor {
    pub(crate) fn new(
        transport: Transport,
        policy: RetryPolicy,
        concurrency: usize,
        rate: RatePolicy,
        stop: Stop,
    ) -> Executor {
        let state = rate.start();
        tracing::debug!(
            start = state.rate,
            ceiling = rate.ceiling,
            "adaptive request rate"
        );
        Executor {
            transport,
            policy,
            stop,
            permits: Semaphore::new(concurrency),
            limiter: Mutex::new(Limiter {
                policy: rate,
                bucket: TokenBucket::new(state.rate),
                logged: state.rate,
                warned_slow: false,
                state,
                sent: VecDeque::new(),
            }),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn stats(&self) -> Stats {
        let limiter = self.limiter();
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: limiter.state.throttled,
            rate: limiter.state.rate,
            settled_rate: limiter.state.settled(),
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
                self.limiter().bucket.hold_until(now, now + delay);
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
        if self.stop.is_stopped() {
            return Err(stopped(false));
        }
        let wait = self.limiter().reserve(Instant::now());
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
            Err(_) => None,
        };
        if let Some(event) = event {
            self.limiter().observe(event, Instant::now());
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

    #[test]
    fn throttled_for_ever_the_limiter_warns_once_when_pacing_slowly_and_keeps_its_floor() {
        let policy = RatePolicy::new(crate::MAX_RATE, crate::rate::FLOOR);
        let state = policy.start();
        let mut limiter = Limiter {
            policy,
            bucket: TokenBucket::new(state.rate),
            logged: state.rate,
            warned_slow: false,
            state,
            sent: VecDeque::new(),
        };
        let mut now = Instant::now();
        for _ in 0..100 {
            now += Duration::from_secs(2);
            limiter.observe(RateEvent::Throttled, now);
        }
        assert!(limiter.warned_slow);
        assert_eq!(limiter.state.rate, crate::rate::FLOOR);
    }
}
