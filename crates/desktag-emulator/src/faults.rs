//! Fault injection for resilience tests: random 500s and 429s from a seeded RNG (repeatable with
//! a fixed seed and a fixed request order), a token-bucket rate limit, and added latency. The
//! clock is an argument, so the decisions are testable without sleeping.

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
    /// Requests per second the emulator accepts (token bucket, one second of burst); 429 beyond.
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
        }
    }
}

impl Faults {
    /// Checks the ranges; the message names the option.
    pub(crate) fn validate(&self) -> Result<(), crate::EmulatorError> {
        for (name, p) in [
            ("--fail-rate", self.fail_rate),
            ("--throttle-rate", self.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(crate::EmulatorError::Config(format!(
                    "{name} {p} is not a probability; give a number from 0 to 1"
                )));
            }
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

/// A fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    /// Over `rate_limit`.
    RateLimited,
    /// Drawn by `throttle_rate`.
    Throttled,
    /// Drawn by `fail_rate`.
    Failed,
}

/// The per-emulator fault state.
#[derive(Debug)]
pub(crate) struct Injector {
    pub faults: Faults,
    rng: Mutex<SmallRng>,
    bucket: Option<Mutex<TokenBucket>>,
}

impl Injector {
    pub(crate) fn new(faults: Faults) -> Self {
        Injector {
            rng: Mutex::new(SmallRng::seed_from_u64(faults.seed)),
            bucket: faults.rate_limit.map(|r| Mutex::new(TokenBucket::new(r))),
            faults,
        }
    }

    /// Decides whether this request fails, and how. The rate limit is checked first; then one
    /// draw decides between throttle, failure and success, so a fixed seed gives a fixed sequence.
    pub(crate) fn decide(&self, now: Instant, write: bool) -> Option<Fault> {
        if let Some(bucket) = &self.bucket {
            if bucket
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .try_take(now)
                .is_err()
            {
                return Some(Fault::RateLimited);
            }
        }
        let (throttle, fail) = (self.faults.throttle_rate, self.faults.fail_rate);
        if (throttle <= 0.0 && fail <= 0.0) || (self.faults.writes_only && !write) {
            return None;
        }
        let x: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).gen();
        if x < throttle {
            Some(Fault::Throttled)
        } else if x < throttle + fail {
            Some(Fault::Failed)
        } else {
            None
        }
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
            (0..200).map(|_| inj.decide(now, true)).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let failed = a.iter().filter(|f| **f == Some(Fault::Failed)).count();
        let throttled = a.iter().filter(|f| **f == Some(Fault::Throttled)).count();
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
        assert!((0..100).all(|_| inj.decide(now, true).is_none()));
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
}
