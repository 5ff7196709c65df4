//! The run's shared state (`Run`: client, ladder, counters) and the smaller writers: one
//! desktop's group of changes in one call, and single tags. Each records what it sent and what
//! came of it in the desktop's `DesktopWork`; which mode comes next after a failure is decided by
//! `ladder`. The cross-desktop batch phase is `batch`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::report::{Fallbacks, Totals, WriteMode};
use desktag_api::{CallError, Client};
use desktag_core::plan::Change;

use super::ladder::{next, verdict, Admit, Ladder, Next, Verdict};
use super::progress::Ticker;
use super::work::{DesktopWork, Group};

/// What every writer of a run shares.
pub(super) struct Run<'a> {
    pub client: &'a Client,
    pub ladder: Ladder,
    pub ticker: Ticker,
    pub interrupted: &'a AtomicBool,
    /// Calls (or desktops) in progress at once.
    pub concurrency: usize,
    /// Batch calls sent so far: a read made before the last of them is no proof of a desktop's
    /// tags now (see `DesktopWork::observed_after_batches`).
    pub batches: AtomicUsize,
    pub tally: Tally,
}

/// What the ladder did, counted for the WARN lines and the report's totals.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Batch calls sent again as batch calls, after calls that failed under pressure.
    pub rebatched: AtomicU64,
    /// Batch calls sent to bisect rejected ones.
    pub bisected: AtomicU64,
    /// Desktops written in a lower mode after the service refused (403) a mode.
    pub refused: AtomicU64,
    /// Desktops written in a lower mode because the service rejected their call.
    pub rejected: AtomicU64,
    /// Desktops written per desktop because a read did not show what a batch call answered
    /// success for.
    pub unconfirmed: AtomicU64,
    /// The first per-desktop rejection was logged.
    warned_rejected: AtomicBool,
}

impl Tally {
    pub(super) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A per-desktop call for `desktop` was rejected: its tags go one at a time. Counted; the
    /// first one of the run is a warning with its error, the others are in the report's totals.
    fn rejected_desktop(&self, desktop: &str, error: &CallError) {
        Tally::add(&self.rejected, 1);
        if !self.warned_rejected.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                desktop,
                error = %error.error,
                "the service rejected a per-desktop call; writing its tags one at a time so the bad one fails alone (later ones are counted in the report's fallbacks.rejected)"
            );
        }
    }

    /// Sets the report totals' ladder counts.
    pub(super) fn count_into(&self, totals: &mut Totals) {
        totals.rebatched = self.rebatched.load(Ordering::Relaxed);
        totals.bisected = self.bisected.load(Ordering::Relaxed);
        totals.fallbacks = Fallbacks {
            refused: self.refused.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            unconfirmed: self.unconfirmed.load(Ordering::Relaxed),
        };
    }
}

impl Run<'_> {
    pub(super) fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    /// Records the answer to a call of `admit.mode`. A 403 lowers the run's floor; the one that
    /// does says so, once for the run.
    pub(super) fn answered(&self, admit: &Admit, error: Option<&CallError>) {
        let refused = error.filter(|e| verdict(&e.error) == Verdict::Refused);
        if self
            .ladder
            .answered(admit.mode, admit.probe, refused.is_some())
        {
            let mode = admit.mode;
            let to = mode.next().unwrap_or(mode);
            let error = refused.map(|e| &e.error);
            tracing::warn!(
                error = %error.map(ToString::to_string).unwrap_or_default(),
                "the service refused {mode} writes (403); the rest of this run writes in {to} mode, starting with one probe call"
            );
        }
    }
}

/// Writes the pending changes of `group` of one desktop, starting in `mode` (or the run's floor)
/// and falling back as `ladder::next` says.
pub(super) async fn write_group(
    run: &Run<'_>,
    work: &mut DesktopWork,
    group: Group,
    mode: WriteMode,
) {
    let mut wanted = mode;
    loop {
        let pending = work.pending(group);
        if pending.is_empty() {
            return;
        }
        if run.interrupted() {
            work.interrupt();
            return;
        }
        let admit = run.ladder.admit(wanted).await;
        if admit.mode > wanted {
            // The run's floor is below this desktop's mode: a mode was refused.
            Tally::add(&run.tally.refused, 1);
        }
        if admit.mode == WriteMode::Tag {
            return write_tags(run, work, &pending, Some(admit)).await;
        }
        if run.interrupted() {
            if admit.probe {
                run.ladder.withdrawn(admit.mode);
            }
            work.interrupt();
            return;
        }
        let tags = work.tags(&pending);
        let answer = run
            .client
            .change_tags(work.id(), group.action(), &tags)
            .await;
        run.answered(&admit, answer.as_ref().err());
        match answer {
            Ok(attempts) => {
                work.sent(&pending, WriteMode::Desktop, attempts);
                work.applied(&pending, &run.ticker);
                return;
            }
            Err(error) => {
                work.sent(&pending, WriteMode::Desktop, error.attempts);
                let v = verdict(&error.error);
                match next(WriteMode::Desktop, v, 1) {
                    Next::FallBack(to) => {
                        if v == Verdict::Rejected {
                            run.tally.rejected_desktop(work.id(), &error);
                        } else {
                            Tally::add(&run.tally.refused, 1);
                        }
                        wanted = to;
                    }
                    Next::Fail | Next::Again | Next::Bisect => {
                        work.failed(&pending, &error.error, &run.ticker);
                        work.stop();
                        return;
                    }
                }
            }
        }
    }
}

/// One call per change. A rejected tag fails alone and the others are still sent; any other
/// failure stops the desktop (the service is not taking writes, so the rest is skipped). `first`
/// is the leave for the first call, when the caller already has it.
async fn write_tags(
    run: &Run<'_>,
    work: &mut DesktopWork,
    pending: &[usize],
    mut first: Option<Admit>,
) {
    for &i in pending {
        let admit = match first.take() {
            Some(admit) => admit,
            None => run.ladder.admit(WriteMode::Tag).await,
        };
        if run.interrupted() {
            if admit.probe {
                run.ladder.withdrawn(admit.mode);
            }
            work.interrupt();
            return;
        }
        let answer = match work.change(i) {
            Change::Delete { key, .. } => run.client.delete_tag(work.id(), key).await,
            Change::Overwrite { key, value, .. } | Change::Create { key, value } => {
                run.client.create_tag(work.id(), key, value).await
            }
            Change::Rename { .. } => unreachable!("{}", super::work::SPLIT),
        };
        run.answered(&admit, answer.as_ref().err());
        match answer {
            Ok(attempts) => {
                work.sent(&[i], WriteMode::Tag, attempts);
                work.applied(&[i], &run.ticker);
            }
            Err(error) => {
                work.sent(&[i], WriteMode::Tag, error.attempts);
                work.failed(&[i], &error.error, &run.ticker);
                if verdict(&error.error) != Verdict::Rejected {
                    work.stop();
                    return;
                }
            }
        }
    }
}
