//! Fault injection for resilience tests: random 500s and 429s from a seeded RNG (repeatable with
//! a fixed seed and a fixed request order), a token-bucket rate limit, and added latency. The
//! clock is an argument, so the decisions are testable without sleeping.

use std::sync::Mutex;
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
            writes_only: false,
        }
    }
}

impl Faults {
    /// Checks the ranges; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("--fail-rate", self.fail_rate),
            ("--throttle-rate", self.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name} {p} is not a probability; give a number from 0 to 1"
                ));
            }
        }
        if let Some(r) = self.rate_limit {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!(
                    "--rate-limit {r} must be a positive number of requests per second"
                ));
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
    pub fn new(faults: Faults) -> Self {
        Injector {
            rng: Mutex::new(SmallRng::seed_from_u64(faults.seed)),
            bucket: faults.rate_limit.map(|r| Mutex::new(TokenBucket::new(r))),
            faults,
        }
    }

    /// Decides whether this request fails, and how. The rate limit is checked first; then one
    /// draw decides between throttle, failure and success, so a fixed seed gives a fixed sequence.
    pub fn decide(&self, now: Instant, write: bool) -> Option<Fault> {
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
        assert!(bad.validate().unwrap_err().contains("--fail-rate"));
        let bad = Faults {
            rate_limit: Some(0.0),
            ..Faults::default()
        };
        assert!(bad.validate().unwrap_err().contains("--rate-limit"));
        assert!(Faults::default().validate().is_ok());
    }
}
