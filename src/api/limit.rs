//! The client-wide rate limit (design §4 `--rate`): a token bucket holding `ceil(rate)` tokens and
//! refilled at `rate` per second, written as GCRA so a reservation is one arithmetic step. Pure:
//! the caller passes the time in and sleeps for the returned wait.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    /// Time to earn one token.
    interval: Duration,
    /// How far ahead of its "theoretical" time a request may go: (burst − 1) intervals.
    tolerance: Duration,
    /// When the bucket will next be full-to-one ("theoretical arrival time"), if ever used.
    tat: Option<Instant>,
}

impl TokenBucket {
    /// `rate` requests per second, burst `ceil(rate)`. `rate` must be finite and > 0.
    pub(crate) fn new(rate: f64) -> TokenBucket {
        debug_assert!(rate.is_finite() && rate > 0.0);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let burst = rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32;
        TokenBucket {
            interval,
            tolerance: interval.saturating_mul(burst - 1),
            tat: None,
        }
    }

    /// Takes one token at `now` and returns how long to wait before sending.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let wait = tat.duration_since(now).saturating_sub(self.tolerance);
        self.tat = Some(tat + self.interval);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_ceil_rate_goes_at_once_then_one_per_interval() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3.0);
        let waits: Vec<Duration> = (0..6).map(|_| b.reserve(t0)).collect();
        let third = Duration::from_secs_f64(1.0 / 3.0);
        assert_eq!(&waits[..3], &[Duration::ZERO; 3]);
        for (i, w) in waits[3..].iter().enumerate() {
            let expected = third * (i as u32 + 1);
            assert!(
                w.abs_diff(expected) < Duration::from_micros(5),
                "{i}: {w:?}"
            );
        }
    }

    #[test]
    fn tokens_refill_with_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert!(b.reserve(t0) > Duration::ZERO);
        // After a long pause the bucket is full again, but never holds more than the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert!(b.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn a_fractional_rate_has_a_burst_of_one() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.5);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::from_secs(2));
        assert_eq!(
            b.reserve(t0 + Duration::from_secs(1)),
            Duration::from_secs(3)
        );
    }
}
