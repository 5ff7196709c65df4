//! `Stop`: the switch that ends a client's work promptly (the first SIGINT or SIGTERM, or the
//! run's deadline). Once it is thrown, the executor sends no new request, waits for no rate token
//! and no backoff, and retries nothing; requests already in flight get a short grace to answer.
//! No I/O here; the executor selects on [`Stop::stopped`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How long a request already in flight may still take once the run is stopped: long enough for
/// a normal answer, short enough that the run ends within seconds of a SIGTERM.
pub const IN_FLIGHT_GRACE: Duration = Duration::from_secs(3);

/// A one-way switch shared by every clone of a client (and whoever may throw it).
#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    stopped: AtomicBool,
    notify: Notify,
    /// Why, set by the first `stop`.
    reason: std::sync::OnceLock<&'static str>,
}

/// Two handles are equal when they are the same switch.
impl PartialEq for Stop {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stop")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl Stop {
    /// Throws the switch, saying why (`"interrupted"`, `"the deadline passed"`); every waiter
    /// wakes. The first reason stays.
    pub fn stop(&self, reason: &'static str) {
        let _ = self.inner.reason.set(reason);
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Why the switch was thrown (`"stopped"` if it was not).
    pub fn reason(&self) -> &'static str {
        self.inner.reason.get().copied().unwrap_or("stopped")
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// Completes once the switch is thrown (at once if it already was).
    pub async fn stopped(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a `stop` between the two is not missed.
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_stopped_and_a_late_one_returns_at_once() {
        let stop = Stop::default();
        let waiter = tokio::spawn({
            let stop = stop.clone();
            async move { stop.stopped().await }
        });
        tokio::task::yield_now().await;
        assert!(!stop.is_stopped());
        stop.stop("interrupted");
        waiter.await.unwrap();
        assert_eq!(stop.reason(), "interrupted");
        stop.stopped().await;
        assert!(stop.is_stopped());
    }
}
