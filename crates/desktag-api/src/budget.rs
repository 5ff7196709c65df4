//! The request budget a run's calls draw from: the adaptive rate (the pure `rate` policy), the
//! token bucket it drives and what the service admitted lately. The service limits requests per user per
//! API, so every client of one run that talks to the same endpoint host under the same
//! credentials draws from one budget ([`Budgets`], carried in `ClientOptions`); a client of
//! another region, or under other credentials, has its own. No I/O and no clock here (the
//! executor passes the time in); logging only.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::connection::{Connection, Credentials};
use super::rate::{RateEvent, RatePolicy, RateState, SLOW, STATED_MARGIN};
use crate::token_bucket::TokenBucket;

/// Admission times kept for the estimate; far above any rate a service allows.
const MAX_ADMITTED_KEPT: usize = 100_000;

/// The burst a service is assumed to allow, as time at its limit (the emulator's and the
/// Workspace API's token buckets hold one second).
const BURST: Duration = Duration::from_secs(1);

/// Requests in flight at once, across the clients of one budget, while the rate still probes for
/// the service's limit (no 429 yet), once the first `PROBE_FREE_WAVES` waves are sent: half of
/// `concurrency`. When a service's
/// burst runs out, every request in flight is throttled at once: in a run of a hundred
/// requests, eight of them are more than the 5 % a run should lose, four are not. Against a
/// service that answers in 30 ms, four in flight still send over 130 requests per second.
pub(crate) fn probe_concurrency(concurrency: usize) -> usize {
    concurrency.div_ceil(2).max(1)
}

/// Waves of requests (`concurrency` each) a probing run sends at full concurrency: a short run
/// stays inside a service's burst (a second of requests at its limit: 50 at 50 requests per
/// second), and halving its requests in flight would only slow it down.
pub(crate) const PROBE_FREE_WAVES: u64 = 6;

/// The adaptive rate shared by every call drawing from it: the AIMD state, the token bucket it
/// drives and the admissions of the last few seconds (a bound on the service's limit).
#[derive(Debug)]
pub(crate) struct Budget {
    policy: RatePolicy,
    state: RateState,
    bucket: TokenBucket,
    /// When the service admitted the requests of the current busy period (answers other than
    /// 429), at most `policy.window` back.
    admitted: VecDeque<Instant>,
    /// The rate last logged, so small steps are not logged one by one.
    logged: f64,
    /// Whether the slow-pacing warning was given (once per budget).
    warned_slow: bool,
    /// The limit the service stated in a 429, in requests per second, if it did.
    stated: Option<f64>,
    /// Requests reserved so far.
    sent: u64,
    /// Held by each request while the rate probes, past the first waves (`probe_gate`); made by
    /// the first client that needs it, for every client sharing the budget.
    probe: Option<Arc<tokio::sync::Semaphore>>,
}

impl Budget {
    pub(crate) fn new(policy: RatePolicy) -> Budget {
        let state = policy.start();
        Budget {
            policy,
            bucket: TokenBucket::new(state.rate),
            logged: state.rate,
            warned_slow: false,
            stated: None,
            sent: 0,
            probe: None,
            state,
            admitted: VecDeque::new(),
        }
    }

    /// The rate allowed now, and the rate the run settled at once the service has throttled.
    pub(crate) fn rate(&self) -> (f64, Option<f64>) {
        (self.state.rate, self.state.settled())
    }

    /// Takes one request's token at `now` and returns how long to wait before sending it.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        self.sent += 1;
        self.bucket.reserve(now)
    }

    /// While the rate still probes for the service's limit (no 429 yet), once the first
    /// `PROBE_FREE_WAVES` waves of `concurrency` requests are sent: the semaphore every request
    /// holds, of `probe_concurrency(concurrency)` permits, shared by every client of the budget.
    /// `None` otherwise. When a service's burst runs out, every request in flight is throttled
    /// at once; this halves that wave.
    pub(crate) fn probe_gate(&mut self, concurrency: usize) -> Option<Arc<tokio::sync::Semaphore>> {
        let waves = concurrency as u64 * PROBE_FREE_WAVES;
        if !self.state.probing || self.sent < waves {
            return None;
        }
        let gate = self.probe.get_or_insert_with(|| {
            Arc::new(tokio::sync::Semaphore::new(probe_concurrency(concurrency)))
        });
        Some(gate.clone())
    }

    /// A rate the service's limit is at least, from what it admitted in the current busy
    /// period (at most `window` back): a service with a one-second burst admits at most
    /// `limit × (t + 1 s)` in any `t`, so each admission time `s` gives the bound
    /// `admitted since s / (now − s + 1 s)`, and the highest is kept. It holds right after a
    /// burst too, where the sent rate overshoots the limit by up to twice, and a slow start
    /// (a service's refill lost while its bucket was full) does not drag it down.
    fn admitted_bound(&mut self, now: Instant) -> f64 {
        let window = self.policy.window;
        while self
            .admitted
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > window)
        {
            self.admitted.pop_front();
        }
        let count = self.admitted.len();
        self.admitted
            .iter()
            .enumerate()
            .map(|(i, at)| {
                let span = now.saturating_duration_since(*at) + BURST;
                (count - i) as f64 / span.as_secs_f64()
            })
            .fold(0.0, f64::max)
    }

    fn admit(&mut self, now: Instant) {
        // An idle second lets the service's bucket fill up: a new busy period starts.
        if self
            .admitted
            .back()
            .is_some_and(|at| now.saturating_duration_since(*at) >= BURST)
        {
            self.admitted.clear();
        }
        if self.admitted.len() < MAX_ADMITTED_KEPT {
            self.admitted.push_back(now);
        }
    }

    /// No request drawn after this is sent before `until` (the service's `Retry-After` applies
    /// to every caller, not just the one it answered).
    pub(crate) fn hold_until(&mut self, now: Instant, until: Instant) {
        self.bucket.hold_until(now, until);
    }

    /// What one answer at `now` says about the rate.
    pub(crate) fn observe(&mut self, event: RateEvent, now: Instant) {
        if event != RateEvent::Throttled {
            self.admit(now);
        }
        // Only a 429 that cuts needs the bound (it scans the window); one within the hold of
        // the last cut is the same event.
        let held = matches!(self.state.last_cut,
            Some(at) if now.saturating_duration_since(at) < self.policy.hold);
        let admitted = if event == RateEvent::Throttled && !held {
            self.admitted_bound(now)
        } else {
            0.0
        };
        let next = self.policy.next(&self.state, event, admitted, now);
        let first_cut = self.state.probing && !next.probing;
        if next.rate != self.state.rate {
            self.bucket.set_rate(next.rate);
            self.log_change(next.rate, first_cut);
        }
        if next.last_cut != self.state.last_cut {
            // The service's bucket is empty: no burst after a cut, paced from now on.
            self.bucket.hold_until(now, now);
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

    /// The first cut is news (INFO); later steps are routine (DEBUG), and rises are logged only
    /// every 10 %.
    fn log_change(&mut self, rate: f64, first_cut: bool) {
        if first_cut {
            let stated = self
                .stated
                .map(|limit| format!(" (its limit: {limit:.1}/s)"))
                .unwrap_or_default();
            tracing::info!(
                rate = format_args!("{rate:.1}"),
                "the service throttles requests{stated}; adapting the request rate, now {rate:.1}/s"
            );
        } else if rate < self.state.rate {
            tracing::debug!(
                rate = format_args!("{rate:.1}"),
                "throttled; request rate cut"
            );
        } else if rate >= self.logged * 1.1 || rate == self.policy.ceiling {
            tracing::debug!(rate = format_args!("{rate:.1}"), "request rate raised");
        } else {
            return;
        }
        self.logged = rate;
    }

    /// A 429 that states the service's limit (`rate::stated_limit`): the rate never goes above
    /// just under it from now on, so it does not climb past the limit again after a cut, and a
    /// limit per minute is found at once rather than in dozens of cuts.
    pub(crate) fn stated(&mut self, limit: f64) {
        let ceiling = limit * STATED_MARGIN;
        if ceiling < self.policy.ceiling {
            tracing::debug!(
                limit = format_args!("{limit:.3}"),
                "the service states its limit; pacing at most at {ceiling:.3} requests/s"
            );
            self.stated = Some(limit);
            self.lower_ceiling(ceiling);
        }
    }

    /// A client joining with a lower ceiling (`--rate`) lowers the budget's: the lowest wins.
    fn lower_ceiling(&mut self, ceiling: f64) {
        if ceiling < self.policy.ceiling {
            self.policy.ceiling = ceiling;
            self.policy.floor = self.policy.floor.min(ceiling);
            if self.state.rate > ceiling {
                self.state.rate = ceiling;
                self.bucket.set_rate(ceiling);
            }
        }
    }
}

/// Whose budget: the endpoint's host and port, and a digest of the credential identity (the
/// access key, or the token). The secret itself is never kept, and `Debug` shows only a prefix
/// of the digest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct BudgetKey {
    host: String,
    identity: [u8; 16],
}

impl BudgetKey {
    pub(crate) fn of(connection: &Connection) -> BudgetKey {
        let endpoint = &connection.endpoint;
        let host = format!(
            "{}:{}",
            endpoint.host_str().unwrap_or_default(),
            endpoint.port_or_known_default().unwrap_or_default()
        );
        let mut digest = Sha256::new();
        match &connection.credentials {
            Credentials::AkSk { ak, .. } => {
                digest.update(b"ak\0");
                digest.update(ak.expose().as_bytes());
            }
            Credentials::Token { token, .. } => {
                digest.update(b"token\0");
                digest.update(token.expose().as_bytes());
            }
        }
        let mut identity = [0u8; 16];
        identity.copy_from_slice(&digest.finalize()[..16]);
        BudgetKey { host, identity }
    }
}

impl fmt::Debug for BudgetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {}", self.host, hex::encode(&self.identity[..4]))
    }
}

/// The budgets of one run, by [`BudgetKey`]. Clones share the registry, so the per-project
/// clients of a run (each built from a clone of the run's `ClientOptions`) find each other's
/// budget. A budget lives as long as a client uses it.
#[derive(Clone, Default)]
pub struct Budgets {
    shared: Arc<Mutex<HashMap<BudgetKey, Weak<Mutex<Budget>>>>>,
}

impl Budgets {
    /// The budget for `key`: the one a live client already draws from, else a new one under
    /// `policy`.
    pub(crate) fn get(&self, key: BudgetKey, policy: RatePolicy) -> Arc<Mutex<Budget>> {
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.retain(|_, budget| budget.strong_count() > 0);
        if let Some(budget) = shared.get(&key).and_then(Weak::upgrade) {
            budget
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .lower_ceiling(policy.ceiling);
            return budget;
        }
        let budget = Arc::new(Mutex::new(Budget::new(policy)));
        shared.insert(key, Arc::downgrade(&budget));
        budget
    }

    /// Budgets some client still draws from.
    pub fn len(&self) -> usize {
        let shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.values().filter(|b| b.strong_count() > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Two handles are equal when they are the same registry.
impl PartialEq for Budgets {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for Budgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgets")
            .field("live", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::{FLOOR, START_RATE};
    use crate::{Client, ClientOptions, MAX_RATE};
    use desktag_core::secret::Secret;

    #[test]
    fn a_probing_run_keeps_half_its_workers_in_flight() {
        assert_eq!(probe_concurrency(8), 4);
        assert_eq!(probe_concurrency(3), 2);
        assert_eq!(probe_concurrency(1), 1);
        assert_eq!(probe_concurrency(0), 1);
    }

    fn aksk(endpoint: &str, ak: &str) -> Connection {
        Connection {
            endpoint: url::Url::parse(endpoint).unwrap(),
            project_id: format!("project-of-{ak}"),
            credentials: Credentials::AkSk {
                ak: Secret::new(ak),
                sk: Secret::new("SECRET-KEY-VALUE"),
                security_token: None,
                origin: "test",
            },
        }
    }

    fn token(endpoint: &str, token: &str) -> Connection {
        Connection {
            endpoint: url::Url::parse(endpoint).unwrap(),
            project_id: "p".into(),
            credentials: Credentials::Token {
                token: Secret::new(token),
                origin: "test".into(),
            },
        }
    }

    fn shared(a: &Client, b: &Client) -> bool {
        Arc::ptr_eq(a.exec.shared_budget(), b.exec.shared_budget())
    }

    const REGION_A: &str = "https://workspace.ap-southeast-1.myhuaweicloud.com";
    const REGION_B: &str = "https://workspace.ap-southeast-3.myhuaweicloud.com";

    #[test]
    fn clients_of_one_run_with_the_same_endpoint_and_access_key_share_one_budget() {
        let options = ClientOptions::default();
        let one = Client::new(aksk(REGION_A, "AK1"), options.clone()).unwrap();
        let two = Client::new(aksk(REGION_A, "AK1"), options.clone()).unwrap();
        assert!(shared(&one, &two));
        assert_eq!(options.budgets.len(), 1);
        // A cut seen by one client paces the other; the 429 counts stay per client.
        let now = Instant::now();
        one.exec
            .shared_budget()
            .lock()
            .unwrap()
            .observe(RateEvent::Throttled, now);
        assert!(two.stats().rate < START_RATE);
        assert_eq!(two.stats().rate, one.stats().rate);
        assert_eq!(two.stats().throttled, 0);
        // A Retry-After answered to one client pauses the other as well.
        let later = now + Duration::from_secs(10);
        one.exec
            .shared_budget()
            .lock()
            .unwrap()
            .hold_until(later, later + Duration::from_secs(3));
        let wait = two.exec.shared_budget().lock().unwrap().reserve(later);
        assert!(wait >= Duration::from_secs(3), "{wait:?}");
    }

    #[test]
    fn another_region_or_other_credentials_get_a_budget_of_their_own() {
        let options = ClientOptions::default();
        let base = Client::new(aksk(REGION_A, "AK1"), options.clone()).unwrap();
        let region = Client::new(aksk(REGION_B, "AK1"), options.clone()).unwrap();
        let key = Client::new(aksk(REGION_A, "AK2"), options.clone()).unwrap();
        let port = Client::new(
            aksk(
                "https://workspace.ap-southeast-1.myhuaweicloud.com:8443",
                "AK1",
            ),
            options.clone(),
        )
        .unwrap();
        let by_token = Client::new(token(REGION_A, "tok-1"), options.clone()).unwrap();
        let other_token = Client::new(token(REGION_A, "tok-2"), options.clone()).unwrap();
        let same_token = Client::new(token(REGION_A, "tok-1"), options.clone()).unwrap();
        for other in [&region, &key, &port, &by_token] {
            assert!(!shared(&base, other));
        }
        assert!(!shared(&by_token, &other_token));
        assert!(shared(&by_token, &same_token));
        assert_eq!(options.budgets.len(), 6);
        // Options of another run (a registry of their own) never share.
        let elsewhere = Client::new(aksk(REGION_A, "AK1"), ClientOptions::default()).unwrap();
        assert!(!shared(&base, &elsewhere));
    }

    #[test]
    fn a_budget_lives_as_long_as_a_client_draws_from_it() {
        let options = ClientOptions::default();
        let client = Client::new(aksk(REGION_A, "AK1"), options.clone()).unwrap();
        assert_eq!(options.budgets.len(), 1);
        drop(client);
        assert!(options.budgets.is_empty());
    }

    #[test]
    fn the_key_keeps_no_secret_and_shows_none() {
        let key = BudgetKey::of(&token(REGION_A, "the-token-itself"));
        let shown = format!("{key:?}");
        assert!(
            shown.starts_with("workspace.ap-southeast-1.myhuaweicloud.com:443 as "),
            "{shown}"
        );
        assert!(!shown.contains("the-token-itself"));
        let ak = BudgetKey::of(&aksk(REGION_A, "AKVISIBLE"));
        assert!(!format!("{ak:?}").contains("AKVISIBLE"));
        // An access key and a token spelled the same are different identities.
        assert_ne!(
            BudgetKey::of(&token(REGION_A, "X")),
            BudgetKey::of(&aksk(REGION_A, "X"))
        );
    }

    #[test]
    fn a_lower_ceiling_joining_a_budget_wins() {
        let budgets = Budgets::default();
        let key = BudgetKey::of(&aksk(REGION_A, "AK1"));
        let fast = budgets.get(key.clone(), RatePolicy::new(MAX_RATE, FLOOR));
        let slow = budgets.get(key, RatePolicy::new(3.0, FLOOR));
        assert!(Arc::ptr_eq(&fast, &slow));
        assert_eq!(fast.lock().unwrap().rate().0, 3.0);
    }

    #[test]
    fn the_admitted_bound_counts_the_burst_and_restarts_after_an_idle_second() {
        let mut budget = Budget::new(RatePolicy::new(MAX_RATE, FLOOR));
        let t0 = Instant::now();
        // 60 admitted in the first half second (a burst of 50 and 10 more): at least 40/s.
        for i in 0..60u32 {
            budget.observe(
                RateEvent::Success,
                t0 + Duration::from_millis(u64::from(i) * 500 / 60),
            );
        }
        let bound = budget.admitted_bound(t0 + Duration::from_millis(500));
        assert!((bound - 60.0 / 1.5).abs() < 1.0, "{bound}");
        // After an idle second the service's bucket is full again: the count starts over.
        let later = t0 + Duration::from_secs(3);
        budget.observe(RateEvent::Answered, later);
        assert!((budget.admitted_bound(later) - 1.0).abs() < 1e-9);
        // Throttled answers are not admissions.
        budget.observe(RateEvent::Throttled, later);
        assert!((budget.admitted_bound(later) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn leaving_the_probe_lands_under_the_limit_with_no_burst() {
        let mut budget = Budget::new(RatePolicy::new(MAX_RATE, FLOOR));
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // The probe has gone far past a limit of 50/s with a burst of 50: 62 admitted in
        // 250 ms, then the first 429.
        for i in 0..62u64 {
            budget.reserve(ms(i * 4));
            budget.observe(RateEvent::Success, ms(i * 4 + 2));
        }
        assert!(budget.rate().0 > 1000.0);
        budget.observe(RateEvent::Throttled, ms(250));
        let (rate, settled) = budget.rate();
        assert!(rate < 50.0 && rate > 40.0, "{rate}");
        assert_eq!(settled, Some(rate));
        // Paced from the first request on: no burst into the empty bucket.
        assert_eq!(budget.reserve(ms(250)), Duration::ZERO);
        let second = budget.reserve(ms(250));
        assert!(
            second >= Duration::from_secs_f64(1.0 / rate) - Duration::from_micros(10),
            "{second:?}"
        );
    }

    #[test]
    fn a_stated_limit_caps_the_rate_just_under_it_and_a_higher_one_changes_nothing() {
        let mut budget = Budget::new(RatePolicy::new(MAX_RATE, FLOOR));
        let t0 = Instant::now();
        for i in 0..50u64 {
            budget.observe(RateEvent::Success, t0 + Duration::from_millis(i));
        }
        assert!(budget.rate().0 > 1000.0);
        // `limit:600,time:1 minute`: 10 per second, found in one step.
        budget.stated(10.0);
        budget.observe(RateEvent::Throttled, t0 + Duration::from_millis(60));
        assert!(
            budget.rate().0 <= 10.0 * STATED_MARGIN,
            "{:?}",
            budget.rate()
        );
        for i in 0..10_000u64 {
            budget.observe(RateEvent::Success, t0 + Duration::from_millis(100 + i));
        }
        assert_eq!(budget.rate().0, 10.0 * STATED_MARGIN);
        // A service stating a higher limit later does not raise it.
        budget.stated(500.0);
        assert_eq!(budget.rate().0, 10.0 * STATED_MARGIN);
    }

    #[test]
    fn throttled_for_ever_the_budget_warns_once_when_pacing_slowly_and_keeps_its_floor() {
        let mut budget = Budget::new(RatePolicy::new(MAX_RATE, FLOOR));
        let mut now = Instant::now();
        for _ in 0..100 {
            now += Duration::from_secs(2);
            budget.observe(RateEvent::Throttled, now);
        }
        assert!(budget.warned_slow);
        assert_eq!(budget.rate().0, FLOOR);
    }

    #[test]
    fn past_its_first_waves_a_probing_budget_gates_requests_until_the_first_429() {
        let mut budget = Budget::new(RatePolicy::new(MAX_RATE, FLOOR));
        let now = Instant::now();
        for _ in 0..47 {
            budget.reserve(now);
            assert!(
                budget.probe_gate(8).is_none(),
                "the first six waves go freely"
            );
        }
        budget.reserve(now);
        let gate = budget.probe_gate(8).expect("gated while probing");
        assert_eq!(gate.available_permits(), 4);
        // Every client of the budget holds the same gate.
        assert!(Arc::ptr_eq(&gate, &budget.probe_gate(8).unwrap()));
        budget.observe(RateEvent::Throttled, now);
        assert!(
            budget.probe_gate(8).is_none(),
            "no gate once the limit is found"
        );
    }
}
