//! The writers: cross-desktop batch phases, one desktop's group of changes in one call, single
//! tags. Each records what it sent and what came of it in the desktop's `DesktopWork`; which mode
//! comes next after a failure is decided by `ladder`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::stream::{self, StreamExt};

use crate::report::WriteMode;
use desktag_api::{CallError, Client, DesktopTags};
use desktag_core::plan::Change;

use super::chunks::rounds;
use super::ladder::{next, verdict, Ladder, Next, Verdict};
use super::progress::Ticker;
use super::verify::read;
use super::work::{confirmed, DesktopWork, Group};

/// How a batch call ended; `None` beside it when it was not sent (interrupted, or batch writes
/// were refused meanwhile).
type BatchAnswer = Result<u32, CallError>;

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
}

impl Run<'_> {
    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    /// Records a 403 on a call of `mode`; the first one for that mode is logged.
    fn refused(&self, mode: WriteMode, error: &CallError) {
        if self.ladder.refuse(mode) {
            let to = mode.next().unwrap_or(mode);
            tracing::warn!(
                error = %error.error,
                "the service refused {mode} writes (403); the rest of this run writes in {to} mode"
            );
        }
    }
}

/// Writes `group` of every desktop with cross-desktop batch calls, re-reads the desktops the
/// calls succeeded for, and writes whatever a read does not confirm (or a call failed for) in
/// `desktop` mode.
pub(super) async fn batch_phase(run: &Run<'_>, works: &mut [DesktopWork<'_>], group: Group) {
    if run.ladder.mode(WriteMode::Batch) == WriteMode::Batch {
        let index: BTreeMap<String, usize> = works
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id().to_string(), i))
            .collect();
        let items: Vec<DesktopTags> = works
            .iter()
            .filter_map(|w| {
                let pending = w.pending(group);
                (!pending.is_empty()).then(|| DesktopTags {
                    desktop_id: w.id().to_string(),
                    tags: w.tags(&pending),
                })
            })
            .collect();
        // Rounds run one after another, so no desktop is written by two calls at once.
        let mut answers: Vec<(Vec<DesktopTags>, Option<BatchAnswer>)> = Vec::new();
        for round in rounds(items) {
            let done: Vec<_> = stream::iter(round)
                .map(|call| async move {
                    if run.interrupted() || run.ladder.mode(WriteMode::Batch) != WriteMode::Batch {
                        return (call, None);
                    }
                    run.batches.fetch_add(1, Ordering::Relaxed);
                    let answer = match group {
                        Group::Deletes => run.client.batch_delete_tags(&call).await,
                        Group::Creates => run.client.batch_create_tags(&call).await,
                    };
                    (call, Some(answer))
                })
                .buffer_unordered(run.concurrency)
                .collect()
                .await;
            answers.extend(done);
        }

        // What each desktop was sent in calls that succeeded, to be confirmed by a read.
        let mut to_confirm: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (call, answer) in answers {
            let Some(answer) = answer else { continue };
            let attempts = match &answer {
                Ok(attempts) => *attempts,
                Err(error) => error.attempts,
            };
            if let Err(error) = &answer {
                if verdict(&error.error) == Verdict::Refused {
                    run.refused(WriteMode::Batch, error);
                } else {
                    tracing::info!(
                        desktops = call.len(),
                        error = %error,
                        "a batch call failed; its desktops are written one by one"
                    );
                }
            }
            for item in &call {
                let w = &mut works[index[&item.desktop_id]];
                let carried = w.pending_in(group, &item.tags);
                w.sent(&carried, WriteMode::Batch, attempts);
                if answer.is_ok() {
                    to_confirm
                        .entry(index[&item.desktop_id])
                        .or_default()
                        .extend(carried);
                }
            }
        }
        let unconfirmed = confirm(run, works, to_confirm).await;
        stream::iter(works.iter_mut().filter(|w| !w.pending(group).is_empty()))
            .map(|w| write_group(run, w, group, WriteMode::Desktop))
            .buffer_unordered(run.concurrency)
            .collect::<Vec<()>>()
            .await;
        if group == Group::Deletes {
            recheck_deletes(run, works, unconfirmed).await;
        }
        return;
    }

    stream::iter(works.iter_mut().filter(|w| !w.pending(group).is_empty()))
        .map(|w| write_group(run, w, group, WriteMode::Desktop))
        .buffer_unordered(run.concurrency)
        .collect::<Vec<()>>()
        .await;
}

/// The desktops whose batch deletes a read showed not done were written again one by one; a
/// service that answered a batch with success without doing it may do the same to those calls,
/// and a create after a delete that did not happen can take a desktop past its tag cap. So they
/// are read once more, and a delete the read still shows not done fails (no create follows).
async fn recheck_deletes(run: &Run<'_>, works: &mut [DesktopWork<'_>], desktops: BTreeSet<usize>) {
    let desktops: Vec<usize> = desktops
        .into_iter()
        .filter(|&i| !works[i].applied_in(Group::Deletes).is_empty())
        .collect();
    if desktops.is_empty() {
        return;
    }
    let ids: Vec<String> = desktops
        .iter()
        .map(|&i| works[i].id().to_string())
        .collect();
    let found = read(run.client, &ids).await;
    let seen = run.batches.load(Ordering::Relaxed);
    for i in desktops {
        let w = &mut works[i];
        let deletes = w.applied_in(Group::Deletes);
        match &found {
            Ok(found) => match found.get(w.id()) {
                Some(tags) => {
                    let (_, missing) = confirmed(w, &deletes, tags);
                    if !missing.is_empty() {
                        w.not_done(
                            &missing,
                            "the service answered success, but a read after the call still shows the key",
                        );
                    }
                    w.observed = Some(tags.clone());
                    w.observed_after_batches = seen;
                }
                None => w.not_done(&deletes, "the desktop was not found when read after its deletes"),
            },
            Err(error) => w.not_done(
                &deletes,
                &format!(
                    "the delete could not be confirmed by a read ({error}) after a batch answer proved wrong"
                ),
            ),
        }
    }
}

/// Re-reads the desktops of `sent` and settles as applied what the read shows done. The rest
/// stays pending for the fallback; the desktops a read did not confirm in full are returned.
async fn confirm(
    run: &Run<'_>,
    works: &mut [DesktopWork<'_>],
    sent: BTreeMap<usize, Vec<usize>>,
) -> BTreeSet<usize> {
    let mut unconfirmed = BTreeSet::new();
    if sent.is_empty() {
        return unconfirmed;
    }
    let ids: Vec<String> = sent.keys().map(|&i| works[i].id().to_string()).collect();
    let mut found = match read(run.client, &ids).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "could not re-read the desktops after a batch write; writing them one by one");
            return sent.into_keys().collect();
        }
    };
    let seen = run.batches.load(Ordering::Relaxed);
    for (i, indices) in sent {
        let w = &mut works[i];
        let Some(tags) = found.remove(w.id()) else {
            unconfirmed.insert(i);
            continue;
        };
        let (done, missing) = confirmed(w, &indices, &tags);
        if !missing.is_empty() {
            unconfirmed.insert(i);
        }
        w.applied(&done, &run.ticker);
        w.observed = Some(tags);
        w.observed_after_batches = seen;
    }
    if !unconfirmed.is_empty() {
        tracing::info!(
            desktops = unconfirmed.len(),
            "desktops do not carry what a batch call sent; writing them one by one"
        );
    }
    unconfirmed
}

/// Writes the pending changes of `group` of one desktop, starting in `mode` (or the run's floor)
/// and falling back as `ladder::next` says.
pub(super) async fn write_group(
    run: &Run<'_>,
    work: &mut DesktopWork<'_>,
    group: Group,
    mode: WriteMode,
) {
    let mut mode = run.ladder.mode(mode);
    loop {
        let pending = work.pending(group);
        if pending.is_empty() {
            return;
        }
        if run.interrupted() {
            work.interrupt();
            return;
        }
        if mode != WriteMode::Desktop {
            return write_tags(run, work, &pending).await;
        }
        let tags = work.tags(&pending);
        match run
            .client
            .change_tags(work.id(), group.action(), &tags)
            .await
        {
            Ok(attempts) => {
                work.sent(&pending, WriteMode::Desktop, attempts);
                work.applied(&pending, &run.ticker);
                return;
            }
            Err(error) => {
                work.sent(&pending, WriteMode::Desktop, error.attempts);
                let v = verdict(&error.error);
                if v == Verdict::Refused {
                    run.refused(WriteMode::Desktop, &error);
                }
                match next(WriteMode::Desktop, v) {
                    Next::FallBack(to) => {
                        tracing::debug!(desktop = work.id(), %error, "per-desktop call failed; writing its tags one by one");
                        mode = run.ladder.mode(to);
                    }
                    Next::Fail => {
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
/// failure stops the desktop (the service is not taking writes, so the rest is skipped).
async fn write_tags(run: &Run<'_>, work: &mut DesktopWork<'_>, pending: &[usize]) {
    for &i in pending {
        if run.interrupted() {
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
