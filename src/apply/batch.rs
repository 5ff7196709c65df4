//! The cross-desktop batch phase: one group (deletes, or creates and overwrites) of every desktop
//! in batch calls of up to 100 desktops, in rounds.
//!
//! - Every call's desktops are read back: a call answered with success is confirmed by the read,
//!   and a call that failed under pressure (429, 5xx, a timeout, a broken connection, after the
//!   client's retries) may have been applied, so the read settles what it did.
//! - What such a failed call left pending is sent again **as batch calls**, after a pause, for at
//!   most `ROUNDS` rounds in all; only then is it reported failed. Under pressure the calls never
//!   get smaller or more numerous.
//! - A call the service rejects (another 4xx) is bisected until the desktop it is about stands
//!   alone; only that desktop is written per desktop (and then per tag, where the bad tag fails).
//! - A call refused (403) lowers the run's floor: the rest is written per desktop, after one probe.
//! - A desktop a read does not show carrying what a successful call sent is written per desktop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};

use crate::report::WriteMode;
use desktag_api::{ApiError, CallError, DesktopTags};
use smallvec::SmallVec;

use super::chunks::{pieces, rounds};
use super::ladder::{next, verdict, Next, Verdict};
use super::verify::read;
use super::work::{confirmed, DesktopWork, Group};
use super::write::{write_group, Run, Tally};

/// Batch rounds in a phase: the first, then re-sends of what calls that failed under pressure
/// left pending.
pub(super) const ROUNDS: u32 = 4;

/// The pause before the second round; doubled before each later one.
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// One batch call and how it ended; `answer` is `None` when it was not sent (the run was
/// interrupted, or batch writes were refused meanwhile). What it carried is not kept: the
/// desktops and the piece name it (`DesktopWork::piece`).
struct Sent {
    /// The desktops it carried, as indices of the phase's works.
    desktops: Vec<usize>,
    /// Which piece of each desktop's writes it carried.
    piece: usize,
    answer: Option<Result<u32, CallError>>,
    /// Rejected and bisected: its halves are other `Sent`s.
    bisected: bool,
}

/// What one desktop's calls of a round carried, to be settled by a read: the pieces
/// (`DesktopWork::piece`; one, unless the desktop has more than 20 writes), not a list of them.
#[derive(Default)]
struct Carried {
    pieces: SmallVec<[usize; 2]>,
    /// A call carrying some of them failed under pressure (else every call was answered success).
    failed: bool,
}

/// What a round left for later.
#[derive(Default)]
struct Left {
    /// Desktops to write per desktop: isolated by bisection, or not confirmed after a success.
    per_desktop: BTreeSet<usize>,
    /// Of those, the ones a read showed not carrying what a successful call sent.
    unconfirmed: BTreeSet<usize>,
    /// Desktops of calls that failed under pressure, with the error.
    pressure: BTreeMap<usize, ApiError>,
}

/// Writes `group` of every desktop in batch rounds, then per desktop what batch calls cannot
/// write (see the module's rules).
pub(super) async fn batch_phase(run: &Run<'_>, works: &mut [DesktopWork], group: Group) {
    // A read-back finds each desktop by a binary search over the works (`settle`).
    debug_assert!(
        works.windows(2).all(|w| w[0].id() < w[1].id()),
        "works sorted by id, each id once"
    );
    let mut left = Left::default();
    for round in 0..ROUNDS {
        if run.interrupted() || run.ladder.mode(WriteMode::Batch) != WriteMode::Batch {
            break;
        }
        // Each desktop with writes pending and its number of pieces.
        let targets: Vec<(usize, usize)> = works
            .iter()
            .enumerate()
            .filter(|(i, _)| !left.per_desktop.contains(i))
            .map(|(i, w)| (i, pieces(w.pending(group).len())))
            .filter(|&(_, pieces)| pieces > 0)
            .collect();
        if targets.is_empty() {
            break;
        }
        if round > 0 {
            let pause = FIRST_PAUSE * 2u32.pow(round - 1);
            warn_rebatch(&left.pressure, targets.len(), pause, round);
            if !sleep(run, pause).await {
                break;
            }
        }
        let calls_before = run.batches.load(Ordering::Relaxed);
        let bisected_before = run.tally.bisected.load(Ordering::Relaxed);
        let sent = send_round(run, works, targets, group).await;
        if round > 0 {
            let calls = run.batches.load(Ordering::Relaxed) - calls_before;
            let bisected = run.tally.bisected.load(Ordering::Relaxed) - bisected_before;
            Tally::add(&run.tally.rebatched, calls - bisected as usize);
        }
        left.pressure.clear();
        let carried = record(run, works, group, sent, &mut left);
        settle(run, works, group, carried, &mut left).await;
    }
    finish_phase(run, works, group, left).await;
}

/// After the rounds: fails what is still pending under pressure, and writes per desktop the
/// desktops batch calls could not write.
async fn finish_phase(run: &Run<'_>, works: &mut [DesktopWork], group: Group, left: Left) {
    if !run.interrupted() && run.ladder.mode(WriteMode::Batch) == WriteMode::Batch {
        // The desktops whose last round failed under pressure and that still have writes.
        let mut failed: BTreeMap<usize, ApiError> = BTreeMap::new();
        for (i, error) in left.pressure {
            let w = &mut works[i];
            let pending = w.pending(group);
            if !pending.is_empty() {
                w.failed(&pending, &error, &run.ticker);
                w.stop();
                failed.insert(i, error);
            }
        }
        if let Some(error) = failed.values().next() {
            tracing::warn!(
                desktops = failed.len(),
                %error,
                "batch calls still failed after {ROUNDS} rounds ({}); their {} desktops are reported failed, not sent one by one",
                causes(&failed),
                failed.len()
            );
        }
    }
    let refused = run.ladder.mode(WriteMode::Batch) != WriteMode::Batch;
    let targets: BTreeSet<usize> = (0..works.len())
        .filter(|&i| refused || left.per_desktop.contains(&i))
        .filter(|&i| !works[i].pending(group).is_empty())
        .collect();
    if refused {
        let moved = targets.difference(&left.per_desktop).count();
        Tally::add(&run.tally.refused, moved);
    }
    stream::iter(
        works
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| targets.contains(i))
            .map(|(_, w)| w),
    )
    .map(|w| write_group(run, w, group, WriteMode::Desktop))
    .buffer_unordered(run.concurrency)
    .collect::<Vec<()>>()
    .await;
    if group == Group::Deletes {
        recheck_deletes(run, works, left.unconfirmed).await;
    }
}

/// Sends the pieces of `targets` in batch calls: rounds of calls that may run at once
/// (`chunks::rounds`), one after another, so no desktop is written by two calls at once. A
/// call's body is built as it is sent, so a phase of 100,000 desktops never holds them all.
async fn send_round(
    run: &Run<'_>,
    works: &[DesktopWork],
    targets: Vec<(usize, usize)>,
    group: Group,
) -> Vec<Sent> {
    let mut all = Vec::new();
    for (piece, calls) in rounds(targets).into_iter().enumerate() {
        let done: Vec<Vec<Sent>> = stream::iter(calls)
            .map(|desktops| {
                let call = desktops
                    .iter()
                    .map(|&i| works[i].batch_item(group, piece))
                    .collect();
                send_call(run, desktops, piece, call, group)
            })
            .buffer_unordered(run.concurrency)
            .collect()
            .await;
        all.extend(done.into_iter().flatten());
    }
    all
}

/// Sends one batch call once the ladder lets it (a mode's first call is its probe); a rejected
/// call of several desktops is bisected, its halves sent at once.
fn send_call<'a>(
    run: &'a Run<'a>,
    desktops: Vec<usize>,
    piece: usize,
    call: Vec<DesktopTags>,
    group: Group,
) -> BoxFuture<'a, Vec<Sent>> {
    Box::pin(async move {
        let admit = run.ladder.admit(WriteMode::Batch).await;
        if admit.mode != WriteMode::Batch || run.interrupted() {
            if admit.probe {
                run.ladder.withdrawn(admit.mode);
            }
            return vec![Sent {
                desktops,
                piece,
                answer: None,
                bisected: false,
            }];
        }
        run.batches.fetch_add(1, Ordering::Relaxed);
        let answer = match group {
            Group::Deletes => run.client.batch_delete_tags(&call).await,
            Group::Creates => run.client.batch_create_tags(&call).await,
        };
        run.answered(&admit, answer.as_ref().err());
        let bisect = answer
            .as_ref()
            .is_err_and(|e| next(WriteMode::Batch, verdict(&e.error), call.len()) == Next::Bisect);
        if !bisect || run.interrupted() {
            return vec![Sent {
                desktops,
                piece,
                answer: Some(answer),
                bisected: false,
            }];
        }
        let mid = call.len() / 2;
        let (mut call, mut left_desktops) = (call, desktops.clone());
        let (right, right_desktops) = (call.split_off(mid), left_desktops.split_off(mid));
        Tally::add(&run.tally.bisected, 2);
        let (mut left, right) = futures::join!(
            send_call(run, left_desktops, piece, call, group),
            send_call(run, right_desktops, piece, right, group)
        );
        left.extend(right);
        left.push(Sent {
            desktops,
            piece,
            answer: Some(answer),
            bisected: true,
        });
        left
    })
}

/// Records what each call carried and how it ended in the desktops' work; returns what the
/// answered calls carried, to be read back. Desktops a bisection isolated go to `left`.
fn record(
    run: &Run<'_>,
    works: &mut [DesktopWork],
    group: Group,
    sent: Vec<Sent>,
    left: &mut Left,
) -> BTreeMap<usize, Carried> {
    let mut carried: BTreeMap<usize, Carried> = BTreeMap::new();
    let (mut rejected, mut isolated) = (None, 0usize);
    for Sent {
        desktops,
        piece,
        answer,
        bisected,
    } in sent
    {
        let Some(answer) = answer else { continue };
        let attempts = match &answer {
            Ok(attempts) => *attempts,
            Err(error) => error.attempts,
        };
        let step = answer
            .as_ref()
            .err()
            .map(|e| next(WriteMode::Batch, verdict(&e.error), desktops.len()));
        if bisected && rejected.is_none() {
            rejected = answer.as_ref().err().map(|e| e.error.to_string());
        }
        for i in desktops {
            let w = &mut works[i];
            let changes = w.piece(group, piece);
            w.sent(&changes, WriteMode::Batch, attempts);
            match (&answer, step) {
                (_, Some(Next::Bisect)) => {}
                (Ok(_), _) => carried.entry(i).or_default().pieces.push(piece),
                (Err(error), Some(Next::Again)) => {
                    let entry = carried.entry(i).or_default();
                    entry.pieces.push(piece);
                    entry.failed = true;
                    left.pressure.insert(i, error.error.clone());
                }
                (Err(error), _) if verdict(&error.error) == Verdict::Rejected => {
                    if left.per_desktop.insert(i) {
                        isolated += 1;
                    }
                }
                // Refused: the run's floor dropped; the phase writes the rest per desktop.
                (Err(_), _) => {}
            }
        }
    }
    if isolated > 0 {
        Tally::add(&run.tally.rejected, isolated);
        tracing::warn!(
            desktops = isolated,
            error = rejected.as_deref().unwrap_or_default(),
            "the service rejected batch calls; bisected them ({} calls so far) down to {isolated} desktops, written per desktop so the bad tag fails alone",
            run.tally.bisected.load(Ordering::Relaxed)
        );
    }
    carried
}

/// Reads back the desktops of the round's answered calls and settles as applied what the read
/// shows done, each desktop as its page arrives. A desktop whose successful call the read does not
/// confirm goes to `left` (written per desktop); what a failed call left pending stays pending
/// for the next round. When the read fails, what it had not reached stays pending: a batch write
/// is safe to send again.
async fn settle(
    run: &Run<'_>,
    works: &mut [DesktopWork],
    group: Group,
    mut carried: BTreeMap<usize, Carried>,
    left: &mut Left,
) {
    if carried.is_empty() {
        return;
    }
    let ids: Vec<String> = carried.keys().map(|&i| works[i].id().to_string()).collect();
    let seen = run.batches.load(Ordering::Relaxed);
    let mut unconfirmed = 0;
    // Each desktop is settled as its page arrives: the read-back is never held whole.
    let read = run.client.read_desktops_each(&ids, |desktop| {
        let Ok(i) = works.binary_search_by(|w| w.id().cmp(desktop.id.as_str())) else {
            return;
        };
        let Some(Carried { pieces, failed }) = carried.remove(&i) else {
            return;
        };
        let w = &mut works[i];
        // What is pending has not changed since the calls were made of it.
        let changes: Vec<usize> = pieces.iter().flat_map(|&k| w.piece(group, k)).collect();
        let (done, missing) = confirmed(w, &changes, &desktop.tags);
        w.applied(&done, &run.ticker);
        if !failed && !missing.is_empty() && left.per_desktop.insert(i) {
            left.unconfirmed.insert(i);
            unconfirmed += 1;
        }
        w.observe(desktop.tags, seen);
    });
    match read.await {
        Err(error) => tracing::warn!(
            desktops = carried.len(),
            %error,
            "could not re-read the desktops of this round's batch calls; what they carry stays pending and is sent again as batch calls"
        ),
        // Not found: a successful call's desktop is written per desktop (which says it is gone).
        Ok(()) => {
            for (i, Carried { failed, .. }) in carried {
                if !failed && left.per_desktop.insert(i) {
                    left.unconfirmed.insert(i);
                    unconfirmed += 1;
                }
            }
        }
    }
    if unconfirmed > 0 {
        Tally::add(&run.tally.unconfirmed, unconfirmed);
        tracing::warn!(
            desktops = unconfirmed,
            "{unconfirmed} desktops do not carry what a batch call answered success for; writing them per desktop"
        );
    }
}

/// Warns that a round re-sends what calls that failed under pressure left pending.
fn warn_rebatch(
    pressure: &BTreeMap<usize, ApiError>,
    desktops: usize,
    pause: Duration,
    round: u32,
) {
    let error = pressure.values().next().map(ToString::to_string);
    tracing::warn!(
        desktops,
        error = error.as_deref().unwrap_or_default(),
        "batch calls failed after their retries ({}); sending the {desktops} desktops still pending again as batch calls in {} s (round {} of {ROUNDS})",
        causes(pressure),
        pause.as_secs(),
        round + 1
    );
}

/// How many desktops each kind of pressure failed, e.g. `throttled (429): 100, timed out: 3`.
fn causes(pressure: &BTreeMap<usize, ApiError>) -> String {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for error in pressure.values() {
        *counts.entry(cause(error)).or_default() += 1;
    }
    counts
        .iter()
        .map(|(cause, n)| format!("{cause}: {n} desktops"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kind of pressure an error is.
fn cause(error: &ApiError) -> &'static str {
    match error {
        ApiError::Service { status: 429, .. } => "throttled (429)",
        ApiError::Service { status: 401, .. } => "unauthorized (401)",
        ApiError::Service { .. } => "service error",
        ApiError::Timeout { .. } => "timed out",
        ApiError::Connect { .. } | ApiError::Transport { .. } => "connection failed",
        ApiError::Stopped { .. } => "stopped",
        _ => "failed",
    }
}

/// Sleeps `pause`, or less when the run is stopped; false when it was.
async fn sleep(run: &Run<'_>, pause: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => !run.interrupted(),
        () = run.client.stop().stopped() => false,
    }
}

/// The desktops whose batch deletes a read showed not done were written again one by one; a
/// service that answered a batch with success without doing it may do the same to those calls,
/// and a create after a delete that did not happen can take a desktop past its tag cap. So they
/// are read once more, and a delete the read still shows not done fails (no create follows).
async fn recheck_deletes(run: &Run<'_>, works: &mut [DesktopWork], desktops: BTreeSet<usize>) {
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
                    w.observe(tags.clone(), seen);
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
