//! A token bucket holding `ceil(rate)` tokens and refilled at `rate` per second, written as GCRA
//! ("generic cell rate algorithm") so a reservation is one arithmetic step. The one rate-limit
//! primitive of the crate: the API client reserves and sleeps (`reserve`), the emulator admits or
//! refuses (`try_take`). Pure: the caller passes the time in; no clock, no I/O, no crate imports.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Time to earn one token.
    interval: Duration,
    /// How far ahead of its "theoretical" time a request may go: (burst − 1) intervals.
    tolerance: Duration,
    /// The first reservation; times below are offsets from it, so no `Instant` sum can overflow.
    start: Option<Instant>,
    /// When the bucket will next be full-to-one ("theoretical arrival time"), after `start`.
    tat: Duration,
}

impl TokenBucket {
    /// `rate` requests per second, burst `ceil(rate)`. Total: a rate too small to express (or not
    /// a positive number) gives an interval of `Duration::MAX` instead of a panic; the client
    /// refuses rates outside `MIN_RATE..=MAX_RATE` before it gets here.
    pub fn new(rate: f64) -> TokenBucket {
        let interval = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX);
        let burst = if rate.is_finite() {
            rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32
        } else {
            1
        };
        TokenBucket {
            interval,
            tolerance: interval.saturating_mul(burst - 1),
            start: None,
            tat: Duration::ZERO,
        }
    }

    /// Changes the rate (and the burst, `ceil(rate)`) from now on; tokens already reserved keep
    /// their times. The adaptive client rate calls this on every change.
    pub(crate) fn set_rate(&mut self, rate: f64) {
        let fresh = TokenBucket::new(rate);
        self.interval = fresh.interval;
        self.tolerance = fresh.tolerance;
    }

    /// Empties the bucket until `until`: no reservation made after this call is sent before then
    /// (a server's `Retry-After` applies to every caller of the bucket).
    pub(crate) fn hold_until(&mut self, now: Instant, until: Instant) {
        let start = *self.start.get_or_insert(now);
        let target = until
            .saturating_duration_since(start)
            .saturating_add(self.tolerance);
        self.tat = self.tat.max(target);
    }

    /// Takes one token at `now` and returns how long to wait before sending (saturating at
    /// `Duration::MAX`).
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        let tat = self.tat.max(elapsed);
        let wait = (tat - elapsed).saturating_sub(self.tolerance);
        self.tat = tat.saturating_add(self.interval);
        wait
    }

    /// Takes one token at `now` if one is available, else leaves the bucket unchanged and returns
    /// how long until one will be (a server-side limiter answers 429 instead of waiting).
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let start = *self.start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        let tat = self.tat.max(elapsed);
        let wait = (tat - elapsed).saturating_sub(self.tolerance);
        if wait > Duration::ZERO {
            return Err(wait);
        }
        self.tat = tat.saturating_add(self.interval);
        Ok(())
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
    fn try_take_admits_the_burst_then_refuses_without_consuming() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0);
        assert_eq!(b.try_take(t0), Ok(()));
        assert_eq!(b.try_take(t0), Ok(()));
        let refused = b.try_take(t0).unwrap_err();
        assert!(refused > Duration::ZERO && refused <= Duration::from_millis(500));
        // A refusal takes nothing: once the wait has passed, exactly one more is admitted.
        assert_eq!(b.try_take(t0 + refused), Ok(()));
        assert!(b.try_take(t0 + refused).is_err());
    }

    #[test]
    fn try_take_allows_a_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5.0);
        assert!((0..5).all(|_| b.try_take(t0).is_ok()));
        assert!(b.try_take(t0).is_err());
        assert!(b.try_take(t0 + Duration::from_millis(100)).is_err());
        assert!(b.try_take(t0 + Duration::from_millis(200)).is_ok());
        assert!(b.try_take(t0 + Duration::from_millis(200)).is_err());
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.try_take(later).is_ok()).count(), 5);
    }

    #[test]
    fn set_rate_changes_the_spacing_of_later_reservations() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1.0);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::from_secs(1));
        b.set_rate(10.0);
        // The next one still waits for the reservation already made, then 100 ms apart.
        let next = b.reserve(t0);
        assert!(next <= Duration::from_secs(2), "{next:?}");
        let after = b.reserve(t0);
        assert!(
            after.abs_diff(next + Duration::from_millis(100)) < Duration::from_micros(5)
                || after <= next,
            "{after:?}"
        );
        b.set_rate(1.0);
        let later = b.reserve(t0 + Duration::from_secs(100));
        assert_eq!(later, Duration::ZERO);
        assert_eq!(
            b.reserve(t0 + Duration::from_secs(100)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn hold_until_delays_every_later_reservation_and_try_take() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100.0);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        b.hold_until(t0, t0 + Duration::from_secs(2));
        let wait = b.reserve(t0);
        assert!(wait >= Duration::from_secs(2), "{wait:?}");
        assert!(b.try_take(t0 + Duration::from_secs(1)).is_err());
        // A hold in the past changes nothing.
        let mut c = TokenBucket::new(100.0);
        c.hold_until(t0 + Duration::from_secs(5), t0);
        assert_eq!(c.reserve(t0 + Duration::from_secs(5)), Duration::ZERO);
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

    #[test]
    fn rates_too_small_to_express_do_not_panic_or_overflow() {
        let t0 = Instant::now();
        for rate in [1e-20, 1e-19, 1e-300, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut b = TokenBucket::new(rate);
            for _ in 0..3 {
                b.reserve(t0);
            }
            b.reserve(t0 + Duration::from_secs(3600));
        }
        let mut b = TokenBucket::new(1e-19);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert!(b.reserve(t0) > Duration::from_secs(1_000_000_000));
    }
}
