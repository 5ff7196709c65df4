//! Fault injection for resilience tests: random 500s, 429s and lost answers from a seeded RNG
//! (repeatable with a fixed seed and a fixed request order), a token-bucket rate limit per
//! credential, tag values the service refuses, and added latency. The clock is an argument, so
//! the decisions are testable without sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use desktag_api::token_bucket::TokenBucket;

/// What can go wrong on purpose. The default injects nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Probability (0..=1) of a 500 service error.
    pub fail_rate: f64,
    /// Probability (0..=1) of a 429 `APIG.0308`.
    pub throttle_rate: f64,
    /// `Retry-After` seconds sent with every 429.
    pub retry_after: Option<u64>,
    /// Requests per second the emulator accepts from one credential (a token bucket with one
    /// second of burst for each access key or token; requests without one share a bucket),
    /// whichever projects they address; 429 beyond.
    pub rate_limit: Option<f64>,
    /// Added before every response.
    pub latency: Duration,
    /// Seed of the fault RNG.
    pub seed: u64,
    /// Inject the drawn faults (`fail_rate`, `throttle_rate`) into writes only; reads answer.
    pub writes_only: bool,
    /// The clock the rate limit reads.
    pub clock: Clock,
    /// Holds write requests past a count until a test opens it.
    pub gate: Option<Gate>,
    /// Tag values the service refuses: a tag write carrying one is answered 400 `WKS.0003`
    /// (invalid tag) and changes nothing, a batch call included. A rule desktag cannot know.
    pub reject_values: Vec<String>,
    /// Probability (0..=1) that a write is applied and its answer then held for `lost_answer`
    /// (a client with a shorter timeout sees a timeout of an applied call).
    pub lost_answer_rate: f64,
    /// How long a lost answer is held (until the emulator stops, at most).
    pub lost_answer: Duration,
}

/// How long [`Gate::wait_until_holding`] waits before it gives up: a guard against a hang, not a
/// time any test expects.
pub(crate) const GATE_PATIENCE: Duration = Duration::from_secs(120);

/// Lets the first `n` write requests (any method but GET) through, then holds the rest until
/// [`Gate::open`]: a test can act while requests are in flight (send a signal, say) and know
/// that they are, without racing the clock.
#[derive(Debug, Clone)]
pub struct Gate(Arc<GateState>);

#[derive(Debug)]
struct GateState {
    pass: u64,
    counts: Mutex<GateCounts>,
    held_changed: Condvar,
    open: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct GateCounts {
    passed: u64,
    held: u64,
    open: bool,
}

impl Gate {
    /// A gate that lets `n` writes through and holds the ones after.
    pub fn after_writes(n: u64) -> Gate {
        Gate(Arc::new(GateState {
            pass: n,
            counts: Mutex::new(GateCounts::default()),
            held_changed: Condvar::new(),
            open: tokio::sync::watch::channel(false).0,
        }))
    }

    /// Blocks the calling thread until `n` requests are held at the gate. Panics after
    /// `GATE_PATIENCE`, so a run that never gets there fails instead of hanging.
    pub fn wait_until_holding(&self, n: u64) {
        let counts = self.0.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (counts, waited) = self
            .0
            .held_changed
            .wait_timeout_while(counts, GATE_PATIENCE, |c| c.held < n)
            .unwrap_or_else(|p| p.into_inner());
        assert!(
            !waited.timed_out(),
            "the gate held {} of {n} requests ({} passed)",
            counts.held,
            counts.passed
        );
    }

    /// Lets every held and later request through.
    pub fn open(&self) {
        self.0.counts.lock().unwrap_or_else(|p| p.into_inner()).open = true;
        self.0.open.send_replace(true);
    }

    /// Passes a write request, or waits until the gate opens.
    pub(crate) async fn pass(&self) {
        let mut opened = {
            let mut counts = self.0.counts.lock().unwrap_or_else(|p| p.into_inner());
            if counts.open || counts.passed < self.0.pass {
                counts.passed += 1;
                return;
            }
            counts.held += 1;
            self.0.held_changed.notify_all();
            self.0.open.subscribe()
        };
        let _ = opened.wait_for(|open| *open).await;
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Where the rate limit reads the time: the system clock, or a clock a test moves by hand, so a
/// rate-limit test does not depend on how fast a loaded machine runs it.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(ManualClock),
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            Clock::Manual(clock) => clock.now(),
        }
    }
}

impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Clock::System, Clock::System) => true,
            (Clock::Manual(a), Clock::Manual(b)) => Arc::ptr_eq(&a.0, &b.0),
            _ => false,
        }
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it; clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> Self {
        ManualClock(Arc::new(Mutex::new(Instant::now())))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }

    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            fail_rate: 0.0,
            throttle_rate: 0.0,
            retry_after: None,
            rate_limit: None,
            latency: Duration::ZERO,
            seed: 0,
            clock: Clock::System,
            gate: None,
            writes_only: false,
            reject_values: Vec::new(),
            lost_answer_rate: 0.0,
            lost_answer: DEFAULT_LOST_ANSWER,
        }
    }
}

/// How long a lost answer is held unless told otherwise: longer than any client's timeout.
pub const DEFAULT_LOST_ANSWER: Duration = Duration::from_secs(60);

/// Most credentials with a bucket of their own; requests with further ones share the bucket of
/// requests without a credential, so a flood of made-up access keys cannot grow the map.
pub(crate) const MAX_RATE_CREDENTIALS: usize = 1024;

impl Faults {
    /// Checks the ranges; the message names the option.
    pub(crate) fn validate(&self) -> Result<(), crate::EmulatorError> {
        for (name, p) in [
            ("--fail-rate", self.fail_rate),
            ("--throttle-rate", self.throttle_rate),
            ("--lost-answer-rate", self.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(crate::EmulatorError::Config(format!(
                    "{name} {p} is not a probability; give a number from 0 to 1"
                )));
            }
        }
        let drawn = self.fail_rate + self.throttle_rate + self.lost_answer_rate;
        if self.lost_answer_rate > 0.0 && drawn > 1.0 {
            return Err(crate::EmulatorError::Config(format!(
                "--fail-rate, --throttle-rate and --lost-answer-rate add up to {drawn}; one draw \
                 decides between them, so their sum must be at most 1"
            )));
        }
        if let Some(r) = self.rate_limit {
            if !(r.is_finite() && r > 0.0) {
                return Err(crate::EmulatorError::Config(format!(
                    "--rate-limit {r} must be a positive number of requests per second"
                )));
            }
        }
        Ok(())
    }
}

/// A refusal chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    /// Over `rate_limit`.
    RateLimited,
    /// Drawn by `throttle_rate`.
    Throttled,
    /// Drawn by `fail_rate`.
    Failed,
}

/// What the faults make of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Answer it as the service would.
    Serve,
    /// Refuse it without running it.
    Refuse(Fault),
    /// Run it (a write), then hold its answer for `Faults::lost_answer`.
    LoseAnswer,
}

/// The per-emulator fault state.
#[derive(Debug)]
pub(crate) struct Injector {
    pub faults: Faults,
    rng: Mutex<SmallRng>,
    buckets: Option<Mutex<Buckets>>,
}

/// One token bucket per credential, made on first use.
#[derive(Debug)]
struct Buckets {
    rate: f64,
    by_credential: HashMap<String, TokenBucket>,
}

impl Buckets {
    fn take(&mut self, credential: &str, now: Instant) -> bool {
        let key = if self.by_credential.contains_key(credential)
            || self.by_credential.len() < MAX_RATE_CREDENTIALS
        {
            credential
        } else {
            ""
        };
        let rate = self.rate;
        self.by_credential
            .entry(key.to_string())
            .or_insert_with(|| TokenBucket::new(rate))
            .try_take(now)
            .is_ok()
    }
}

impl Injector {
    pub(crate) fn new(faults: Faults) -> Self {
        Injector {
            rng: Mutex::new(SmallRng::seed_from_u64(faults.seed)),
            buckets: faults.rate_limit.map(|rate| {
                Mutex::new(Buckets {
                    rate,
                    by_credential: HashMap::new(),
                })
            }),
            faults,
        }
    }

    /// Decides what happens to this request. `credential` names the bucket it draws from (an
    /// access key or a token's digest; `""` for none). The rate limit is checked first; then one
    /// draw decides between throttle, failure, a lost answer (writes only) and success, so a
    /// fixed seed gives a fixed sequence.
    pub(crate) fn decide(&self, now: Instant, write: bool, credential: &str) -> Verdict {
        if let Some(buckets) = &self.buckets {
            let mut buckets = buckets.lock().unwrap_or_else(|p| p.into_inner());
            if !buckets.take(credential, now) {
                return Verdict::Refuse(Fault::RateLimited);
            }
        }
        let (throttle, fail) = (self.faults.throttle_rate, self.faults.fail_rate);
        let lost = if write {
            self.faults.lost_answer_rate
        } else {
            0.0
        };
        if (throttle <= 0.0 && fail <= 0.0 && lost <= 0.0) || (self.faults.writes_only && !write) {
            return Verdict::Serve;
        }
        let x: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).gen();
        if x < throttle {
            Verdict::Refuse(Fault::Throttled)
        } else if x < throttle + fail {
            Verdict::Refuse(Fault::Failed)
        } else if x < throttle + fail + lost {
            Verdict::LoseAnswer
        } else {
            Verdict::Serve
        }
    }

    /// Whether a tag with `value` is refused (`--reject-value`).
    pub(crate) fn rejects(&self, value: &str) -> bool {
        self.faults.reject_values.iter().any(|v| v == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_seed_gives_a_repeatable_sequence() {
        let faults = Faults {
            fail_rate: 0.3,
            throttle_rate: 0.2,
            seed: 42,
            ..Faults::default()
        };
        let now = Instant::now();
        let run = || {
            let inj = Injector::new(faults.clone());
            (0..200)
                .map(|_| inj.decide(now, true, ""))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let failed = a
            .iter()
            .filter(|f| **f == Verdict::Refuse(Fault::Failed))
            .count();
        let throttled = a
            .iter()
            .filter(|f| **f == Verdict::Refuse(Fault::Throttled))
            .count();
        assert!((30..90).contains(&failed), "{failed}");
        assert!((15..70).contains(&throttled), "{throttled}");
    }

    #[tokio::test]
    async fn a_gate_passes_n_writes_then_holds_the_rest_until_opened() {
        let gate = Gate::after_writes(2);
        gate.pass().await;
        gate.pass().await;
        let held = tokio::spawn({
            let gate = gate.clone();
            async move { gate.pass().await }
        });
        tokio::task::spawn_blocking({
            let gate = gate.clone();
            move || gate.wait_until_holding(1)
        })
        .await
        .unwrap();
        assert!(!held.is_finished());
        gate.open();
        held.await.unwrap();
        gate.pass().await;
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let shared = Clock::Manual(clock.clone());
        let t0 = shared.now();
        assert_eq!(shared.now(), t0);
        clock.advance(Duration::from_millis(250));
        assert_eq!(shared.now() - t0, Duration::from_millis(250));
    }

    #[test]
    fn no_faults_by_default() {
        let now = Instant::now();
        let inj = Injector::new(Faults::default());
        assert!((0..100).all(|_| inj.decide(now, true, "") == Verdict::Serve));
    }

    #[test]
    fn rates_are_validated() {
        let bad = Faults {
            fail_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--fail-rate"));
        let bad = Faults {
            rate_limit: Some(0.0),
            ..Faults::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--rate-limit"));
        assert!(Faults::default().validate().is_ok());
    }

    #[test]
    fn each_credential_has_its_own_bucket_and_no_credential_shares_one() {
        let inj = Injector::new(Faults {
            rate_limit: Some(2.0),
            ..Faults::default()
        });
        let now = Instant::now();
        let refused = Verdict::Refuse(Fault::RateLimited);
        for credential in ["ak:A", "ak:B", ""] {
            assert_eq!(inj.decide(now, true, credential), Verdict::Serve);
            assert_eq!(inj.decide(now, false, credential), Verdict::Serve);
            assert_eq!(inj.decide(now, true, credential), refused, "{credential}");
        }
        // Half a second refills one token of each bucket.
        let later = now + Duration::from_millis(500);
        assert_eq!(inj.decide(later, true, "ak:A"), Verdict::Serve);
        assert_eq!(inj.decide(later, true, "ak:A"), refused);
        assert_eq!(inj.decide(later, true, "ak:B"), Verdict::Serve);
    }

    #[test]
    fn credentials_past_the_cap_share_the_bucket_of_requests_without_one() {
        let inj = Injector::new(Faults {
            rate_limit: Some(1.0),
            ..Faults::default()
        });
        let now = Instant::now();
        for i in 0..MAX_RATE_CREDENTIALS {
            assert_eq!(inj.decide(now, true, &format!("ak:{i}")), Verdict::Serve);
        }
        assert_eq!(inj.decide(now, true, "ak:one-more"), Verdict::Serve);
        assert_eq!(
            inj.decide(now, true, "ak:and-another"),
            Verdict::Refuse(Fault::RateLimited)
        );
        assert_eq!(
            inj.decide(now, true, ""),
            Verdict::Refuse(Fault::RateLimited)
        );
    }

    #[test]
    fn lost_answers_are_drawn_for_writes_only() {
        let inj = Injector::new(Faults {
            lost_answer_rate: 1.0,
            ..Faults::default()
        });
        let now = Instant::now();
        assert_eq!(inj.decide(now, true, ""), Verdict::LoseAnswer);
        assert_eq!(inj.decide(now, false, ""), Verdict::Serve);
        let some = Injector::new(Faults {
            lost_answer_rate: 0.25,
            seed: 3,
            ..Faults::default()
        });
        let lost = (0..400)
            .filter(|_| some.decide(now, true, "") == Verdict::LoseAnswer)
            .count();
        assert!((50..150).contains(&lost), "{lost}");
    }

    #[test]
    fn the_drawn_rates_must_add_up_to_at_most_one_with_lost_answers() {
        let bad = Faults {
            fail_rate: 0.5,
            lost_answer_rate: 0.75,
            ..Faults::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(
            err.contains("--lost-answer-rate") && err.contains("1.25"),
            "{err}"
        );
        let bad = Faults {
            lost_answer_rate: -0.1,
            ..Faults::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--lost-answer-rate"));
    }

    #[test]
    fn rejected_values_match_exactly() {
        let inj = Injector::new(Faults {
            reject_values: vec!["forbidden".to_string()],
            ..Faults::default()
        });
        assert!(inj.rejects("forbidden"));
        assert!(!inj.rejects("Forbidden") && !inj.rejects("forbidden2") && !inj.rejects(""));
    }
}
