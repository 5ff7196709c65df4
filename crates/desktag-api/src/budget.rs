//! The request budget a run's calls draw from: the adaptive rate (the pure `rate` policy), the
//! token bucket it drives and what was sent lately. The service limits requests per user per
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
use super::rate::{RateEvent, RatePolicy, RateState, SLOW};
use crate::token_bucket::TokenBucket;

/// Send times kept for the sent-rate estimate; far above any rate a service allows.
const MAX_SENT_KEPT: usize = 100_000;

/// The adaptive rate shared by every call drawing from it: the AIMD state, the token bucket it
/// drives and the send times of the last second (to know the rate requests really went out at).
#[derive(Debug)]
pub(crate) struct Budget {
    policy: RatePolicy,
    state: RateState,
    bucket: TokenBucket,
    sent: VecDeque<Instant>,
    /// The rate last logged, so small steps are not logged one by one.
    logged: f64,
    /// Whether the slow-pacing warning was given (once per budget).
    warned_slow: bool,
}

impl Budget {
    pub(crate) fn new(policy: RatePolicy) -> Budget {
        let state = policy.start();
        Budget {
            policy,
            bucket: TokenBucket::new(state.rate),
            logged: state.rate,
            warned_slow: false,
            state,
            sent: VecDeque::new(),
        }
    }

    /// The rate allowed now, and the rate the run settled at once the service has throttled.
    pub(crate) fn rate(&self) -> (f64, Option<f64>) {
        (self.state.rate, self.state.settled())
    }

    /// Takes one request's token at `now` and returns how long to wait before sending it.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
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

    /// No request drawn after this is sent before `until` (the service's `Retry-After` applies
    /// to every caller, not just the one it answered).
    pub(crate) fn hold_until(&mut self, now: Instant, until: Instant) {
        self.bucket.hold_until(now, until);
    }

    /// What one answer at `now` says about the rate.
    pub(crate) fn observe(&mut self, event: RateEvent, now: Instant) {
        let sent_rate = self.sent.len() as f64;
        let next = self.policy.next(&self.state, event, sent_rate, now);
        let first_cut = self.state.probing && !next.probing;
        if next.rate != self.state.rate {
            self.bucket.set_rate(next.rate);
            self.log_change(next.rate, first_cut);
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
            tracing::info!(
                rate = format_args!("{rate:.1}"),
                "the service throttles requests; adapting the request rate, now {rate:.1}/s"
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
