//! Progress on stderr while applying: a bar on a terminal, a periodic log line otherwise. Counts
//! changes as they settle (applied, failed or skipped), whatever kind of call wrote them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How progress is shown on stderr while applying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar (stderr is a terminal).
    Bar,
    /// A log line at this interval (stderr is not a terminal).
    Heartbeat(Duration),
    Off,
}

#[derive(Default)]
struct Counters {
    done: AtomicUsize,
    failed: AtomicUsize,
}

/// Counts settled changes and moves the bar; shared by every writer of a run.
pub(super) struct Ticker {
    counters: Arc<Counters>,
    bar: Option<indicatif::ProgressBar>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Ticker {
    /// Starts the display for `total` changes (none when there is nothing to do).
    pub(crate) fn start(progress: Progress, total: usize) -> Ticker {
        let counters = Arc::new(Counters::default());
        let mut ticker = Ticker {
            counters: counters.clone(),
            bar: None,
            heartbeat: None,
        };
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
                ticker.bar = Some(bar);
            }
            Progress::Heartbeat(every) if total > 0 => {
                // In the caller's span, so a run over several projects says whose progress.
                ticker.heartbeat = Some(tokio::spawn(tracing::Instrument::in_current_span(
                    async move {
                        let started = Instant::now();
                        let mut interval = tokio::time::interval(every);
                        interval.tick().await;
                        loop {
                            interval.tick().await;
                            tracing::info!(
                                done = counters.done.load(Ordering::Relaxed),
                                failed = counters.failed.load(Ordering::Relaxed),
                                total,
                                elapsed_s = started.elapsed().as_secs(),
                                "apply in progress"
                            );
                        }
                    },
                )));
            }
            _ => {}
        }
        ticker
    }

    #[cfg(test)]
    pub(crate) fn off() -> Ticker {
        Ticker {
            counters: Arc::default(),
            bar: None,
            heartbeat: None,
        }
    }

    /// One change settled.
    pub(crate) fn settled(&self, failed: bool) {
        self.counters.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(task) = &self.heartbeat {
            task.abort();
        }
    }
}
