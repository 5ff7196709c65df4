//! The adaptive request rate: a pure decision, like the retry policy. Given the current state,
//! what one response said (success or throttled), a bound on the service's limit and the time,
//! it returns the next rate. AIMD as TCP does it: a *probe* phase that grows the rate
//! geometrically from a safe start until the first 429 (so a fast, unthrottled service is not
//! held back for long), then additive increase while calls succeed and a multiplicative cut on a
//! 429, at most one cut per `hold` (the 429s of requests already in flight belong to the same
//! event). A cut starts from the lower of the rate and what the service was seen to admit (see
//! `budget`), so leaving the probe at several times the limit lands just under it, not above.
//! The budget owns the token bucket and the executor the clock; nothing here sleeps or reads
//! the time.

use std::time::{Duration, Instant};

/// The rate desktag starts at when `--rate` is higher or absent, in requests per second. Low
/// enough for a per-user API throttle, and the probe phase leaves it quickly when nothing throttles.
pub(crate) const START_RATE: f64 = 10.0;

/// The adaptive rate is never cut below this many requests per second (unless `--rate` is
/// lower): a service answering 429 to everything makes calls fail after their attempts instead of
/// a run crawling for hours.
pub const FLOOR: f64 = 1.0;

/// Pacing at or below this many requests per second is warned about once: the run will be slow.
pub const SLOW: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RatePolicy {
    /// The ceiling (`--rate`); the rate never goes above it.
    pub ceiling: f64,
    /// The floor; a cut never goes below it.
    pub floor: f64,
    /// Probe phase: each success multiplies the rate by `1 + probe_gain`.
    pub probe_gain: f64,
    /// After the first 429, each second of successes raises the rate by this share of itself
    /// (each success adds `increase`), so a service's limit is found again as fast at 500
    /// requests per second as at 50 ...
    pub increase: f64,
    /// ... and by at least this many requests per second.
    pub min_increase: f64,
    /// A 429 multiplies the rate by this (0 < decrease < 1) ...
    pub decrease: f64,
    /// ... or sets it to this share of the rate the service was seen to admit, when lower.
    pub margin: f64,
    /// 429s within this time of a cut are the same event and do not cut again.
    pub hold: Duration,
    /// How far back the admitted-rate estimate looks.
    pub window: Duration,
}

impl RatePolicy {
    /// The policy for a ceiling of `ceiling` requests per second.
    pub(crate) fn new(ceiling: f64, floor: f64) -> RatePolicy {
        RatePolicy {
            ceiling,
            floor: floor.min(ceiling),
            probe_gain: 0.25,
            increase: 0.04,
            min_increase: 2.0,
            decrease: 0.9,
            margin: 0.95,
            hold: Duration::from_secs(1),
            window: Duration::from_secs(5),
        }
    }

    /// The state a run starts in: `START_RATE`, or the ceiling when that is lower.
    pub(crate) fn start(&self) -> RateState {
        RateState {
            rate: START_RATE.min(self.ceiling),
            probing: true,
            last_cut: None,
        }
    }

    /// The state after one response at `now`. `admitted` is a rate the service's limit is known
    /// to be at least (from what it admitted lately; only read for a 429). A cut goes to
    /// `decrease` × the rate or `margin` × `admitted`, whichever is lower: leaving the probe, the
    /// rate is far above anything the service allows, and in the steady state the rate reached
    /// while the service's burst drained is above its limit too. `admitted` counts as at least
    /// `START_RATE`, so one stray 429 in a sparse run does not crawl.
    pub(crate) fn next(
        &self,
        state: &RateState,
        event: RateEvent,
        admitted: f64,
        now: Instant,
    ) -> RateState {
        let mut next = state.clone();
        match event {
            RateEvent::Success => {
                let raised = if state.probing {
                    state.rate * (1.0 + self.probe_gain)
                } else {
                    let step = (self.increase * state.rate).max(self.min_increase);
                    state.rate + step / state.rate.max(1.0)
                };
                next.rate = raised.min(self.ceiling);
            }
            RateEvent::Answered => {}
            RateEvent::Throttled => {
                let same_event = state
                    .last_cut
                    .is_some_and(|at| now.saturating_duration_since(at) < self.hold);
                if !same_event {
                    let cut =
                        (state.rate * self.decrease).min(admitted.max(START_RATE) * self.margin);
                    next.rate = cut.clamp(self.floor, self.ceiling);
                    next.probing = false;
                    next.last_cut = Some(now);
                }
            }
        }
        next
    }
}

/// A service's stated limit is paced at this share of it: exact, so only timing noise needs room.
pub(crate) const STATED_MARGIN: f64 = 0.98;

/// The limit a 429's message states, in requests per second: the gateway says `The throttling
/// threshold has been reached: policy user over ratelimit,limit:50,time:1 second` (or
/// `time:1 minute`). `None` for anything else, and for a limit below `MIN_RATE` or above
/// `MAX_RATE` (the message is the service's, so hostile: it may lower the rate, never raise it).
pub(crate) fn stated_limit(message: &str) -> Option<f64> {
    let (_, rest) = message.split_once("limit:")?;
    let (count, rest) = rest.split_once(',')?;
    let count: u64 = count.trim().parse().ok()?;
    let period = rest.trim().strip_prefix("time:")?.trim();
    let (amount, unit) = period.split_once(' ')?;
    let amount: u64 = amount.parse().ok()?;
    let unit_seconds = match unit.trim_end_matches(|c: char| !c.is_ascii_alphabetic()) {
        "second" | "seconds" => 1,
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        _ => return None,
    };
    let seconds = amount.checked_mul(unit_seconds).filter(|s| *s > 0)?;
    let rate = count as f64 / seconds as f64;
    (super::MIN_RATE..=super::MAX_RATE)
        .contains(&rate)
        .then_some(rate)
}

/// What one response tells the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateEvent {
    /// A 2xx.
    Success,
    /// Another error status: the service admitted the request (it counts against the limit)
    /// but says nothing about the rate.
    Answered,
    /// A 429.
    Throttled,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RateState {
    /// Requests per second now allowed.
    pub rate: f64,
    /// Still growing geometrically (no 429 yet).
    pub probing: bool,
    /// The last cut.
    pub last_cut: Option<Instant>,
}

impl RateState {
    /// The rate after the last cut: the highest rate known to be below the service's limit, once
    /// the service has throttled at all.
    pub(crate) fn settled(&self) -> Option<f64> {
        (!self.probing).then_some(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ceiling: f64) -> RatePolicy {
        RatePolicy::new(ceiling, 0.001)
    }

    #[test]
    fn starts_at_the_safe_rate_or_the_lower_ceiling() {
        assert_eq!(policy(1000.0).start().rate, START_RATE);
        assert_eq!(policy(3.0).start().rate, 3.0);
    }

    #[test]
    fn probing_grows_geometrically_up_to_the_ceiling() {
        let p = policy(100.0);
        let t = Instant::now();
        let mut s = p.start();
        s = p.next(&s, RateEvent::Success, 10.0, t);
        assert!((s.rate - 12.5).abs() < 1e-9, "{}", s.rate);
        for _ in 0..100 {
            s = p.next(&s, RateEvent::Success, 10.0, t);
        }
        assert_eq!(s.rate, 100.0);
        assert!(s.probing);
        assert_eq!(s.settled(), None);
    }

    #[test]
    fn a_429_cuts_multiplicatively_from_what_was_admitted_and_ends_probing() {
        let p = policy(10_000.0);
        let t = Instant::now();
        let s = RateState {
            rate: 5000.0,
            ..p.start()
        };
        // The probe reached 5000 but the service admitted 60 per second: the cut goes just under.
        let cut = p.next(&s, RateEvent::Throttled, 60.0, t);
        assert!((cut.rate - 57.0).abs() < 1e-9, "{}", cut.rate);
        assert!(!cut.probing);
        assert_eq!(cut.settled(), Some(cut.rate));
        // Admitting more than the rate says nothing: the cut starts from the rate.
        let s = RateState {
            rate: 40.0,
            probing: false,
            ..p.start()
        };
        let cut = p.next(&s, RateEvent::Throttled, 400.0, t);
        assert!((cut.rate - 36.0).abs() < 1e-9, "{}", cut.rate);
        // A sparse run (little admitted) still cuts from at least the start rate.
        let cut = p.next(&s, RateEvent::Throttled, 1.0, t);
        assert!((cut.rate - START_RATE * 0.95).abs() < 1e-9, "{}", cut.rate);
    }

    #[test]
    fn other_answers_neither_raise_nor_cut() {
        let p = policy(100.0);
        let s = p.start();
        assert_eq!(p.next(&s, RateEvent::Answered, 50.0, Instant::now()), s);
    }

    #[test]
    fn throttles_within_the_hold_are_one_event() {
        let p = policy(100.0);
        let t = Instant::now();
        let s = RateState {
            rate: 50.0,
            ..p.start()
        };
        let once = p.next(&s, RateEvent::Throttled, 50.0, t);
        let twice = p.next(
            &once,
            RateEvent::Throttled,
            50.0,
            t + Duration::from_millis(500),
        );
        assert_eq!(twice.rate, once.rate);
        let later = p.next(
            &twice,
            RateEvent::Throttled,
            50.0,
            t + Duration::from_secs(2),
        );
        assert!(later.rate < twice.rate);
    }

    #[test]
    fn after_a_cut_successes_raise_the_rate_additively() {
        let p = policy(100.0);
        let t = Instant::now();
        let mut s = p.next(
            &RateState {
                rate: 50.0,
                ..p.start()
            },
            RateEvent::Throttled,
            50.0,
            t,
        );
        assert_eq!(s.rate, 45.0);
        // One second of successes at 45/s adds `min_increase` (2, more than 4 % of 45) requests
        // per second; at 500/s it adds 4 %.
        for _ in 0..45 {
            s = p.next(&s, RateEvent::Success, 45.0, t);
        }
        assert!((s.rate - 47.0).abs() < 0.1, "{}", s.rate);
        let p = policy(1000.0);
        let mut s = RateState {
            rate: 500.0,
            probing: false,
            ..p.start()
        };
        for _ in 0..500 {
            s = p.next(&s, RateEvent::Success, 500.0, t);
        }
        assert!((s.rate - 520.0).abs() < 1.0, "{}", s.rate);
    }

    #[test]
    fn the_rate_stays_between_floor_and_ceiling() {
        let p = RatePolicy::new(20.0, 1.0);
        let mut s = p.start();
        let t = Instant::now();
        for i in 0..100u32 {
            s = p.next(
                &s,
                RateEvent::Throttled,
                s.rate,
                t + Duration::from_secs(u64::from(i) * 2),
            );
        }
        assert_eq!(s.rate, 1.0);
        for _ in 0..10_000 {
            s = p.next(&s, RateEvent::Success, s.rate, t);
        }
        assert_eq!(s.rate, 20.0);
    }

    /// What one simulated run did.
    #[derive(Debug, Clone, Copy)]
    struct Simulated {
        /// Requests sent, retries included.
        sent: u64,
        /// Of those, answered 429.
        throttled: u64,
        /// Calls that gave up after their attempts.
        failed: u64,
        /// Seconds from the first request to the last answer.
        wall: f64,
    }

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Event {
        /// A worker wants to send attempt `attempt` of its call (0: it needs a new call).
        Ready { attempt: u32 },
        /// The answer to attempt `attempt` arrives (the service decides then, after its
        /// latency, as the emulator does).
        Answer { attempt: u32 },
    }

    /// The simulated service: it answers in `latency` and admits `limit` requests per second
    /// per user with one second of burst (a token bucket, as the emulator's `--rate-limit`);
    /// `states_limit`: its 429s say the limit, as the gateway's and the emulator's do.
    #[derive(Debug, Clone, Copy)]
    struct Service {
        latency: Duration,
        limit: f64,
        states_limit: bool,
    }

    /// A run of `phases` (calls each; a phase starts when the one before has finished, as
    /// listing, writing and re-reading do) by `workers` workers, each running one call to
    /// completion with its retries, as apply's workers do, against `service`. Every request
    /// draws from the real `Budget` and every 429 goes through the real retry policy with
    /// seeded jitter; time is simulated, events run in time order.
    fn simulate(phases: &[u64], workers: u64, service: Service, seed: u64) -> Simulated {
        let Service {
            latency,
            limit,
            states_limit,
        } = service;
        use crate::budget::Budget;
        use crate::retry::{AttemptOutcome, Decision, RetryPolicy};
        use crate::token_bucket::TokenBucket;
        use rand::SeedableRng;
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        let t0 = Instant::now();
        let mut budget = Budget::new(RatePolicy::new(super::super::MAX_RATE, FLOOR));
        let mut bucket = TokenBucket::new(limit);
        let retry = RetryPolicy::default();
        let throttled_answer = AttemptOutcome::Status {
            status: 429,
            retry_after: None,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut queue = BinaryHeap::new();
        let mut parked: Vec<u64> = (0..workers).collect();
        // Workers held back while the rate probes (`budget::probe_concurrency`), and the
        // requests in flight.
        let probe_cap = crate::budget::probe_concurrency(workers as usize) as u64;
        let (mut held, mut in_flight): (Vec<(u64, u32)>, u64) = (Vec::new(), 0);
        let (mut phase, mut started, mut finished) = (0usize, 0u64, 0u64);
        // Phase "-1" has finished: the first phase starts.
        let mut advance = true;
        let mut out = Simulated {
            sent: 0,
            throttled: 0,
            failed: 0,
            wall: 0.0,
        };
        let mut at = Duration::ZERO;
        loop {
            // The next phase starts when every call of this one has finished.
            while phase < phases.len() && finished == phases[phase] {
                (phase, started, finished, advance) = (phase + 1, 0, 0, true);
            }
            if std::mem::take(&mut advance) {
                for worker in parked.drain(..) {
                    queue.push(Reverse((at, worker, Event::Ready { attempt: 0 })));
                }
            }
            let Some(Reverse((when, worker, event))) = queue.pop() else {
                break;
            };
            at = when;
            let now = t0 + at;
            match event {
                Event::Ready { mut attempt } => {
                    if attempt == 0 {
                        if phase == phases.len() || started == phases[phase] {
                            parked.push(worker);
                            continue;
                        }
                        started += 1;
                        attempt = 1;
                    }
                    // The executor's gate, counted here rather than held.
                    let gated = budget.probe_gate(workers as usize).is_some();
                    if gated && in_flight >= probe_cap {
                        held.push((worker, attempt));
                        continue;
                    }
                    in_flight += 1;
                    let send = at + budget.reserve(now);
                    out.sent += 1;
                    queue.push(Reverse((send + latency, worker, Event::Answer { attempt })));
                }
                Event::Answer { attempt } => {
                    out.wall = at.as_secs_f64();
                    in_flight -= 1;
                    if let Some((waiting, attempt)) = held.pop() {
                        queue.push(Reverse((at, waiting, Event::Ready { attempt })));
                    }
                    let mut next = (at, Event::Ready { attempt: 0 });
                    if bucket.try_take(now).is_ok() {
                        budget.observe(RateEvent::Success, now);
                        finished += 1;
                    } else {
                        out.throttled += 1;
                        if states_limit {
                            budget.stated(limit);
                        }
                        budget.observe(RateEvent::Throttled, now);
                        let unix = std::time::SystemTime::UNIX_EPOCH;
                        match retry.decide(attempt, &throttled_answer, unix, &mut rng) {
                            Decision::Retry { delay, .. } => {
                                next = (
                                    at + delay,
                                    Event::Ready {
                                        attempt: attempt + 1,
                                    },
                                );
                            }
                            Decision::GiveUp => {
                                out.failed += 1;
                                finished += 1;
                            }
                        }
                    }
                    queue.push(Reverse((next.0, worker, next.1)));
                }
            }
        }
        out
    }

    /// The phases of an apply of `calls` requests in batch mode: the first list page, the rest
    /// of the listing, the batch writes and the re-reads (⌈N/1000⌉ list + ⌈N/100⌉ batch +
    /// ⌈N/1000⌉ re-reads for N desktops); `calls` of one phase for a long tag-mode run.
    fn batch_phases(calls: u64) -> Vec<u64> {
        let reads = (calls / 12).max(1);
        vec![1, reads - 1, calls - 2 * reads, reads]
    }

    /// Five seeds of one scale: (throttled share, mean wall in seconds, calls that failed).
    fn five_runs(phases: &[u64], states_limit: bool) -> (f64, f64, u64) {
        let service = Service {
            latency: Duration::from_millis(30),
            limit: 50.0,
            states_limit,
        };
        let runs: Vec<Simulated> = (0..5)
            .map(|seed| simulate(phases, 8, service, seed))
            .collect();
        let sent: u64 = runs.iter().map(|r| r.sent).sum();
        let throttled: u64 = runs.iter().map(|r| r.throttled).sum();
        let wall = runs.iter().map(|r| r.wall).sum::<f64>() / runs.len() as f64;
        let failed = runs.iter().map(|r| r.failed).sum();
        (throttled as f64 / sent as f64, wall, failed)
    }

    /// Runs from 400 to 100,000 desktops in batch mode, and a long tag-mode run, each with 8
    /// workers against a service of 30 ms latency that admits 50 requests per second: fewer than
    /// 5 % of the requests are throttled (2 % in the long run), and no run takes more than 10 %
    /// longer than under the 0.2 policy (cuts of 20 % from the rate sent in the last second),
    /// whose simulated figures are the last two columns (its throttled share was 11.6 % at 240
    /// calls). In a run of 60 to 160 calls the burst is spent near the end, and 8 requests in
    /// flight when the first 429 comes would be more than 5 % of the run (7 % at 96 calls); past
    /// its first waves a probing run keeps half its workers in flight, so the wave is 4.
    #[test]
    fn a_simulated_run_settles_just_under_the_limit() {
        let table: [(&str, Vec<u64>, f64, f64, f64); 7] = [
            ("12", batch_phases(12), 0.05, 0.12, 0.0),
            ("50", batch_phases(50), 0.05, 0.27, 0.0),
            ("96", batch_phases(96), 0.05, 1.13, 0.178),
            ("240", batch_phases(240), 0.05, 3.89, 0.116),
            ("1200", batch_phases(1200), 0.05, 23.20, 0.025),
            ("2200", batch_phases(2200), 0.05, 43.19, 0.016),
            ("tag 5000", vec![1, 5000], 0.02, 99.16, 0.009),
        ];
        for (name, phases, most_throttled, wall_before, throttled_before) in table {
            for (states_limit, says) in [(true, "stated"), (false, "silent")] {
                let (share, wall, failed) = five_runs(&phases, states_limit);
                eprintln!(
                    "{name:>8} calls, limit {says}: throttled {:>4.1} % (before {:>4.1} %), wall {wall:>6.2} s (before {wall_before:>6.2} s)",
                    share * 100.0,
                    throttled_before * 100.0
                );
                assert_eq!(failed, 0, "{name} {says}");
                assert!(share < most_throttled, "{name} {says}: throttled {share}");
                assert!(
                    share <= throttled_before,
                    "{name} {says}: throttled {share}"
                );
                assert!(
                    wall <= wall_before * 1.1,
                    "{name} {says}: {wall} s, {wall_before} s before"
                );
            }
        }
    }

    #[test]
    fn a_429_message_that_states_the_limit_is_read_per_second() {
        let gateway = |tail: &str| {
            format!("The throttling threshold has been reached: policy user over ratelimit,{tail}")
        };
        assert_eq!(stated_limit(&gateway("limit:50,time:1 second")), Some(50.0));
        assert_eq!(
            stated_limit(&gateway("limit:600,time:1 minute")),
            Some(10.0)
        );
        assert_eq!(
            stated_limit(&gateway("limit:30, time:2 minutes.")),
            Some(0.25)
        );
        for garbage in [
            "too many requests",
            "limit:,time:1 second",
            "limit:-5,time:1 second",
            "limit:50,time:0 second",
            "limit:50,time:1 fortnight",
            "limit:50",
            "limit:1e9,time:1 second",
            "limit:0,time:1 second",
            "limit:99999999999999999999999,time:1 second",
            "limit:1,time:18446744073709551615 hours",
        ] {
            assert_eq!(stated_limit(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn throttled_for_ever_the_rate_stops_at_the_floor() {
        let p = RatePolicy::new(super::super::MAX_RATE, FLOOR);
        let mut state = p.start();
        let mut now = Instant::now();
        for _ in 0..1000 {
            now += Duration::from_secs(2);
            state = p.next(&state, RateEvent::Throttled, 100.0, now);
        }
        assert_eq!(state.rate, FLOOR);
        // A --rate below the floor is kept: the floor never raises the ceiling.
        let low = RatePolicy::new(0.5, FLOOR);
        assert_eq!(low.floor, 0.5);
        const { assert!(SLOW > FLOOR, "the slow warning can fire above the floor") };
    }
}
