//! The applier: executes a `Plan` through the API client and returns a `Report` (design §4–§6).
//! Desktops run concurrently up to a bound; one desktop's changes run strictly in plan order
//! (deletes, overwrites, creates) so the cap holds after every call; after a failed change the
//! desktop's remaining changes are skipped while other desktops go on. Afterwards the changed
//! desktops are re-read in batches and checked against the planned result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::api::Client;
use crate::plan::saved::describe_difference;
use crate::plan::{Change, DesktopPlan, DesktopStatus, Plan};
use crate::report::{ChangeReport, DesktopReport, DesktopResult, Outcome, Report, Totals};

/// How progress is shown on stderr while applying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar (stderr is a terminal).
    Bar,
    /// A log line at this interval (stderr is not a terminal).
    Heartbeat(Duration),
    Off,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Desktops worked on at once. The client bounds requests in flight separately.
    pub concurrency: usize,
    pub progress: Progress,
    /// Set (e.g. by a Ctrl-C handler) to stop starting new changes; changes already in flight
    /// finish, the rest are reported as skipped and their desktops as failed.
    pub interrupted: Arc<AtomicBool>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            concurrency: 8,
            progress: Progress::Off,
            interrupted: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Counters shared by the workers and the progress display.
#[derive(Default)]
struct Counters {
    done: AtomicUsize,
    failed: AtomicUsize,
}

/// Applies every non-blocked desktop's changes, then verifies. Never fails as a whole: a failed
/// change is data in the report.
pub async fn apply(plan: &Plan, client: &Client, options: &ApplyOptions) -> Report {
    let started = Instant::now();
    let stats_before = client.stats();
    let total: usize = plan
        .desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        .map(|d| d.changes.len())
        .sum();
    let counters = Arc::new(Counters::default());
    let display = ProgressDisplay::start(options.progress, total, counters.clone());

    let mut desktops: Vec<DesktopReport> = stream::iter(plan.desktops.iter())
        .map(|desktop| apply_desktop(desktop, client, &counters, &display, &options.interrupted))
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    display.finish();
    desktops.sort_by(|a, b| a.desktop_id.cmp(&b.desktop_id));

    verify(plan, client, &mut desktops).await;

    let stats = client.stats();
    let mut totals = Totals {
        requests: stats.requests - stats_before.requests,
        retries: stats.retries - stats_before.retries,
        duration_ms: started.elapsed().as_millis() as u64,
        ..Totals::default()
    };
    for desktop in &desktops {
        match desktop.status {
            DesktopResult::Unverified => totals.unverified += 1,
            DesktopResult::Blocked => totals.blocked += 1,
            _ => {}
        }
        for change in &desktop.changes {
            match change.outcome {
                Outcome::Applied => totals.applied += 1,
                Outcome::Failed => totals.failed += 1,
                Outcome::Skipped => totals.skipped += 1,
            }
        }
    }
    Report {
        format_version: 1,
        project_id: plan.project_id.clone(),
        endpoint: plan.endpoint.clone(),
        desktops,
        totals,
    }
}

async fn apply_desktop(
    desktop: &DesktopPlan,
    client: &Client,
    counters: &Counters,
    display: &ProgressDisplay,
    interrupted: &AtomicBool,
) -> DesktopReport {
    let status = match desktop.status {
        DesktopStatus::Blocked => DesktopResult::Blocked,
        DesktopStatus::Unchanged => DesktopResult::Unchanged,
        DesktopStatus::Change => DesktopResult::Applied,
    };
    let mut report = DesktopReport {
        desktop_id: desktop.desktop_id.clone(),
        name: desktop.name.clone(),
        status,
        reason: desktop.reason.clone(),
        changes: Vec::with_capacity(desktop.changes.len()),
    };
    if status != DesktopResult::Applied {
        return report;
    }
    for change in &desktop.changes {
        if report.status != DesktopResult::Failed && interrupted.load(Ordering::Relaxed) {
            report.status = DesktopResult::Failed;
            report.reason = Some("interrupted before all of its changes were applied".to_string());
        }
        if report.status == DesktopResult::Failed {
            // The cap could break if later creates ran after a failed delete.
            report.changes.push(ChangeReport {
                change: change.clone(),
                outcome: Outcome::Skipped,
                attempts: 0,
                error: None,
            });
            counters.done.fetch_add(1, Ordering::Relaxed);
            display.tick();
            continue;
        }
        let result = match change {
            Change::Delete { key, .. } => client.delete_tag(&desktop.desktop_id, key).await,
            Change::Overwrite { key, value, .. } | Change::Create { key, value } => {
                client.create_tag(&desktop.desktop_id, key, value).await
            }
        };
        let entry = match result {
            Ok(attempts) => ChangeReport {
                change: change.clone(),
                outcome: Outcome::Applied,
                attempts,
                error: None,
            },
            Err(failure) => {
                tracing::warn!(
                    desktop = %desktop.desktop_id,
                    action = change.action(),
                    key = change.key(),
                    error = %failure.error,
                    "change failed; skipping the desktop's remaining changes"
                );
                report.status = DesktopResult::Failed;
                report.reason = Some(format!(
                    "{} `{}` failed: {}",
                    change.action(),
                    change.key(),
                    failure.error
                ));
                counters.failed.fetch_add(1, Ordering::Relaxed);
                ChangeReport {
                    change: change.clone(),
                    outcome: Outcome::Failed,
                    attempts: failure.attempts,
                    error: Some(failure.error.to_error_info()),
                }
            }
        };
        report.changes.push(entry);
        counters.done.fetch_add(1, Ordering::Relaxed);
        display.tick();
    }
    report
}

/// Re-reads the applied desktops (batched by id) and marks those whose tags differ from the
/// planned result as unverified.
async fn verify(plan: &Plan, client: &Client, desktops: &mut [DesktopReport]) {
    let ids: Vec<String> = desktops
        .iter()
        .filter(|d| d.status == DesktopResult::Applied)
        .map(|d| d.desktop_id.clone())
        .collect();
    if ids.is_empty() {
        return;
    }
    let observed = match client.list_desktops_by_id(&ids).await {
        Ok(found) => found
            .into_iter()
            .map(|d| (d.id, d.tags))
            .collect::<std::collections::BTreeMap<_, _>>(),
        Err(error) => {
            for d in desktops
                .iter_mut()
                .filter(|d| d.status == DesktopResult::Applied)
            {
                d.status = DesktopResult::Unverified;
                d.reason = Some(format!("could not re-read the desktop to verify: {error}"));
            }
            return;
        }
    };
    let planned: std::collections::BTreeMap<&str, &DesktopPlan> = plan
        .desktops
        .iter()
        .map(|d| (d.desktop_id.as_str(), d))
        .collect();
    for d in desktops
        .iter_mut()
        .filter(|d| d.status == DesktopResult::Applied)
    {
        let want = planned[d.desktop_id.as_str()].planned();
        match observed.get(&d.desktop_id) {
            None => {
                d.status = DesktopResult::Unverified;
                d.reason = Some("the desktop was not found when re-read to verify".to_string());
            }
            Some(have) if *have != want => {
                d.status = DesktopResult::Unverified;
                d.reason = Some(format!(
                    "tags after apply differ from the plan: {}",
                    describe_difference(&want, have)
                ));
            }
            Some(_) => {}
        }
    }
}

/// The progress bar or the heartbeat task.
struct ProgressDisplay {
    bar: Option<indicatif::ProgressBar>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl ProgressDisplay {
    fn start(progress: Progress, total: usize, counters: Arc<Counters>) -> ProgressDisplay {
        match progress {
            Progress::Bar if total > 0 => {
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(total as u64),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} applying [{bar:30}] {pos}/{len} changes {msg} ({elapsed})",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                ProgressDisplay {
                    bar: Some(bar),
                    heartbeat: None,
                }
            }
            Progress::Heartbeat(every) if total > 0 => {
                let task = tokio::spawn(async move {
                    let started = Instant::now();
                    let mut ticker = tokio::time::interval(every);
                    ticker.tick().await;
                    loop {
                        ticker.tick().await;
                        tracing::info!(
                            done = counters.done.load(Ordering::Relaxed),
                            failed = counters.failed.load(Ordering::Relaxed),
                            total,
                            elapsed_s = started.elapsed().as_secs(),
                            "apply in progress"
                        );
                    }
                });
                ProgressDisplay {
                    bar: None,
                    heartbeat: Some(task),
                }
            }
            _ => ProgressDisplay {
                bar: None,
                heartbeat: None,
            },
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(task) = &self.heartbeat {
            task.abort();
        }
    }
}
