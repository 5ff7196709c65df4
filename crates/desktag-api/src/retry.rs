//! The retry policy: a pure decision — given the attempt number, what happened, the time and a
//! random source — to retry after a delay or give up. Capped exponential backoff with full
//! jitter, `Retry-After` honoured up to the cap. The executor does the sleeping.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// What one HTTP attempt ended with, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptOutcome {
    /// The service answered with this status (an error status: 2xx never reaches the policy).
    Status {
        status: u16,
        /// The raw `Retry-After` header, if any: seconds or an HTTP date.
        retry_after: Option<String>,
    },
    /// The request or the response did not complete within the timeout.
    Timeout,
    /// No connection could be made (refused, DNS, TLS handshake).
    Connect,
    /// The connection broke mid-request. The tag writes are idempotent (create overwrites,
    /// deleting a missing key succeeds), so a resend is safe.
    Transport,
    /// Something a resend cannot fix (e.g. an unreadable 2xx body).
    Fatal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait `delay`, then try again. `asked` is what the service's `Retry-After` said (before
    /// the cap), when it said anything usable: then the wait applies to every caller.
    Retry {
        delay: Duration,
        asked: Option<Duration>,
    },
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, the first included (≥ 1).
    pub max_attempts: u32,
    /// Backoff ceiling for the first retry; doubles each time.
    pub base: Duration,
    /// No delay, `Retry-After` included, is longer than this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(20),
        }
    }
}

/// 429, 500, 502, 503, 504.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) ended with `outcome`.
    pub(crate) fn decide(
        &self,
        attempt: u32,
        outcome: &AttemptOutcome,
        now: SystemTime,
        rng: &mut impl Rng,
    ) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let retry_after = match outcome {
            AttemptOutcome::Status {
                status,
                retry_after,
            } if is_retryable_status(*status) => retry_after.as_deref(),
            AttemptOutcome::Timeout | AttemptOutcome::Connect | AttemptOutcome::Transport => None,
            AttemptOutcome::Status { .. } | AttemptOutcome::Fatal => return Decision::GiveUp,
        };
        if let Some(asked) = retry_after.and_then(|v| parse_retry_after(v, now)) {
            return Decision::Retry {
                delay: asked.min(self.cap),
                asked: Some(asked),
            };
        }
        Decision::Retry {
            delay: self.jittered(attempt, rng),
            asked: None,
        }
    }

    /// Full jitter: uniform in [0, min(cap, base·2^(attempt−1))].
    fn jittered(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let ceiling = self.base.saturating_mul(factor).min(self.cap);
        let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(rng.gen_range(0..=micros))
    }
}

/// `Retry-After: 3` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` → the delay from `now`
/// (zero for a date in the past); `None` when unparseable. Seconds past what a `u64` holds are
/// the longest wait (the policy caps it), and fractional seconds (`1.5`, which the standard does
/// not allow but services send) are read as written rather than dropped.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let decimal = value.split_once('.').is_some_and(|(whole, fraction)| {
        !whole.is_empty()
            && !fraction.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
    });
    if decimal {
        let seconds: f64 = value.parse().ok()?;
        return Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn status(status: u16) -> AttemptOutcome {
        AttemptOutcome::Status {
            status,
            retry_after: None,
        }
    }

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn delay(d: Decision) -> Duration {
        match d {
            Decision::Retry { delay, .. } => delay,
            Decision::GiveUp => panic!("expected a retry"),
        }
    }

    #[test]
    fn retries_throttling_server_errors_and_transport_failures() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for o in [
            status(429),
            status(500),
            status(502),
            status(503),
            status(504),
            AttemptOutcome::Timeout,
            AttemptOutcome::Connect,
            AttemptOutcome::Transport,
        ] {
            assert!(
                matches!(p.decide(1, &o, now(), &mut rng), Decision::Retry { .. }),
                "{o:?}"
            );
        }
    }

    #[test]
    fn gives_up_on_other_client_errors_and_fatal_outcomes() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for o in [
            status(400),
            status(401),
            status(403),
            status(404),
            status(409),
            status(501),
            AttemptOutcome::Fatal,
        ] {
            assert_eq!(p.decide(1, &o, now(), &mut rng), Decision::GiveUp, "{o:?}");
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(
            p.decide(2, &status(503), now(), &mut rng),
            Decision::Retry { .. }
        ));
        assert_eq!(p.decide(3, &status(503), now(), &mut rng), Decision::GiveUp);
        let once = RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        };
        assert_eq!(
            once.decide(1, &AttemptOutcome::Timeout, now(), &mut rng),
            Decision::GiveUp
        );
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_capped_ceiling() {
        let p = RetryPolicy {
            max_attempts: 100,
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(42);
        for attempt in 1..=20u32 {
            let ceiling = (Duration::from_millis(200) * 2u32.pow(attempt.min(16) - 1))
                .min(Duration::from_secs(20));
            let mut max_seen = Duration::ZERO;
            for _ in 0..200 {
                let d = delay(p.decide(attempt, &status(500), now(), &mut rng));
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
                max_seen = max_seen.max(d);
            }
            // Full jitter spreads over the whole range, so the largest of 200 draws is near the top.
            assert!(
                max_seen > ceiling * 8 / 10,
                "attempt {attempt}: {max_seen:?}"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let p = RetryPolicy::default();
        let schedule = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (1..5)
                .map(|a| delay(p.decide(a, &status(429), now(), &mut rng)))
                .collect::<Vec<_>>()
        };
        assert_eq!(schedule(7), schedule(7));
        assert_ne!(schedule(7), schedule(8));
    }

    #[test]
    fn retry_after_seconds_replaces_the_jitter() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        let o = AttemptOutcome::Status {
            status: 429,
            retry_after: Some("3".into()),
        };
        assert_eq!(
            p.decide(1, &o, now(), &mut rng),
            Decision::Retry {
                delay: Duration::from_secs(3),
                asked: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn retry_after_http_date_is_measured_from_now() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        let at = httpdate::fmt_http_date(now() + Duration::from_secs(7));
        let o = AttemptOutcome::Status {
            status: 503,
            retry_after: Some(at),
        };
        assert_eq!(
            p.decide(1, &o, now(), &mut rng),
            Decision::Retry {
                delay: Duration::from_secs(7),
                asked: Some(Duration::from_secs(7))
            }
        );
        let past = AttemptOutcome::Status {
            status: 503,
            retry_after: Some(httpdate::fmt_http_date(now() - Duration::from_secs(60))),
        };
        assert_eq!(
            p.decide(1, &past, now(), &mut rng),
            Decision::Retry {
                delay: Duration::ZERO,
                asked: Some(Duration::ZERO)
            }
        );
    }

    #[test]
    fn retry_after_is_capped() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        let o = AttemptOutcome::Status {
            status: 429,
            retry_after: Some("3600".into()),
        };
        assert_eq!(
            p.decide(1, &o, now(), &mut rng),
            Decision::Retry {
                delay: Duration::from_secs(20),
                asked: Some(Duration::from_secs(3600))
            }
        );
    }

    #[test]
    fn unparseable_retry_after_falls_back_to_jitter() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        let o = AttemptOutcome::Status {
            status: 429,
            retry_after: Some("soon".into()),
        };
        assert!(delay(p.decide(1, &o, now(), &mut rng)) <= Duration::from_millis(200));
    }

    #[test]
    fn retry_after_on_a_non_retryable_status_is_ignored() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        let o = AttemptOutcome::Status {
            status: 400,
            retry_after: Some("1".into()),
        };
        assert_eq!(p.decide(1, &o, now(), &mut rng), Decision::GiveUp);
    }

    #[test]
    fn retry_after_beyond_u64_or_fractional_is_read_not_ignored() {
        let now = now();
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::MAX)
        );
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after(".5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        // Capped like any other Retry-After.
        let policy = RetryPolicy::default();
        let outcome = AttemptOutcome::Status {
            status: 429,
            retry_after: Some("184467440737095516160".into()),
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            policy.decide(1, &outcome, now, &mut rng),
            Decision::Retry {
                delay: policy.cap,
                asked: Some(Duration::MAX)
            }
        );
    }
}
