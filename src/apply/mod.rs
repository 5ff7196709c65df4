//! The applier: executes a `Plan` through the API client and returns a `Report`.
//!
//! Writes go in two phases per desktop, deletes before creates and overwrites, so a desktop never
//! goes over its tag cap after any call; a desktop whose delete failed gets no create. How the
//! writes are sent is the `WriteMode`: cross-desktop batch calls (each phase for the whole run,
//! confirmed by re-reading the desktops), one call per desktop and phase, or one call per tag.
//! What fails under pressure stays a batch and is sent again; what the service rejects is
//! bisected and falls back to the next mode, what it refuses moves the run down after one probe
//! (`ladder`, `batch`). Afterwards
//! every applied desktop is checked against its planned tags. A failed change is data in the
//! report, never an error of the run.

mod batch;
mod chunks;
mod ladder;
mod progress;
mod verify;
mod work;
mod write;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};

use crate::report::{DesktopResult, Outcome, Report, Totals};
use desktag_api::Client;
use desktag_core::plan::{DesktopStatus, Plan, Shared};

pub use crate::report::WriteMode;
pub use progress::Progress;

use ladder::Ladder;
use progress::Ticker;
use work::{DesktopWork, Group};
use write::{Run, Tally};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Desktops (or batch calls) worked on at once. The client bounds requests in flight
    /// separately.
    pub concurrency: usize,
    pub progress: Progress,
    /// Set (e.g. by a Ctrl-C handler, with the client's `Stop` switch) to stop starting new
    /// calls; calls already in flight get a short grace, the changes not yet applied are
    /// reported as skipped and their desktops as failed.
    pub interrupted: Arc<AtomicBool>,
    pub write_mode: WriteMode,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            progress: Progress::Off,
            interrupted: Arc::new(AtomicBool::new(false)),
            write_mode: WriteMode::default(),
        }
    }
}

/// Applies every non-blocked desktop's changes, then verifies. Never fails as a whole: a failed
/// change is data in the report. Takes the plan: its changes move into the report, so a run of
/// 100,000 desktops holds them once.
pub async fn apply(plan: Plan, client: &Client, options: &ApplyOptions) -> Report {
    let started = Instant::now();
    let started_at = rfc3339_now();
    let stats_before = client.stats();
    let total: usize = plan
        .desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        // A rename is two writes.
        .map(|d| d.changes.iter().map(|c| c.writes().len()).sum::<usize>())
        .sum();
    let run = Run {
        client,
        ladder: Ladder::new(options.write_mode),
        ticker: Ticker::start(options.progress, total),
        interrupted: &options.interrupted,
        concurrency: options.concurrency.max(1),
        batches: Default::default(),
        tally: Tally::default(),
    };
    let Plan {
        project_id,
        endpoint,
        desktops,
        made_from,
        warnings,
        ..
    } = plan;
    // Only the desktops are applied: what explains the plan (the attributes its templates read,
    // its warnings) would otherwise live, unused, until the report is made.
    drop((made_from, warnings));
    let mut shared = Shared::default();
    let mut works: Vec<DesktopWork> = desktops
        .into_iter()
        .map(|d| DesktopWork::new(d, &mut shared))
        .collect();
    // By id: a desktop a read names is found by a binary search, with no index of the ids, and
    // the report lists the desktops in this order.
    works.sort_by(|a, b| a.id().cmp(b.id()));

    match options.write_mode {
        WriteMode::Batch => {
            for group in [Group::Deletes, Group::Creates] {
                batch::batch_phase(&run, &mut works, group).await;
            }
        }
        mode @ (WriteMode::Desktop | WriteMode::Tag) => {
            let run = &run;
            stream::iter(works.iter_mut())
                .map(|work| async move {
                    for group in [Group::Deletes, Group::Creates] {
                        write::write_group(run, work, group, mode).await;
                    }
                })
                .buffer_unordered(run.concurrency)
                .collect::<Vec<()>>()
                .await;
        }
    }
    for work in &mut works {
        work.finish(&run.ticker);
    }
    run.ticker.finish();

    let batches = run.batches.load(std::sync::atomic::Ordering::Relaxed);
    verify::verify(client, &mut works, batches).await;

    let desktops: Vec<_> = works.into_iter().map(DesktopWork::into_report).collect();
    let stats = client.stats();
    let mut totals = Totals {
        requests: stats.requests - stats_before.requests,
        retries: stats.retries - stats_before.retries,
        throttled: stats.throttled - stats_before.throttled,
        rate_ceiling: Some(stats.settled_rate.unwrap_or(stats.rate)),
        duration_ms: started.elapsed().as_millis() as u64,
        ..Totals::default()
    };
    run.tally.count_into(&mut totals);
    totals.achieved_rate = crate::report::achieved_rate(totals.requests, totals.duration_ms);
    tracing::info!(
        write_mode = %options.write_mode,
        requests = totals.requests,
        throttled = totals.throttled,
        rate = stats.rate,
        settled_rate = stats.settled_rate,
        rebatched = totals.rebatched,
        bisected = totals.bisected,
        "apply finished"
    );
    count_outcomes(&mut totals, &desktops);
    Report {
        project_id,
        started_at,
        finished_at: rfc3339_now(),
        endpoint,
        write_mode: options.write_mode,
        desktops,
        totals,
    }
}

/// Adds the desktops' results and their changes' outcomes to `totals`.
fn count_outcomes(totals: &mut Totals, desktops: &[crate::report::DesktopReport]) {
    for desktop in desktops {
        match desktop.status {
            DesktopResult::Unverified => totals.unverified += 1,
            DesktopResult::Blocked => totals.blocked += 1,
            _ => {}
        }
        for change in desktop.changes.iter() {
            match change.outcome {
                Outcome::Applied => totals.applied += 1,
                Outcome::Failed => totals.failed += 1,
                Outcome::Skipped => totals.skipped += 1,
            }
        }
    }
}

/// Now, in RFC 3339 (UTC), as reports record it.
fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
