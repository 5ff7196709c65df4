//! Cron observability, as text: the Prometheus text format of a run's metrics (for the
//! node-exporter textfile collector) and the JSON summary `--notify` posts. Pure: the caller
//! reads the previous metrics file, gives the time, and writes or sends the result.

use std::fmt::Write as _;

/// What one project of a run did, for the metrics and the notification.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProjectMetrics {
    pub project_id: String,
    /// False when the project could not be reached, read or written.
    pub up: bool,
    /// Changes the plan found (drift, or what the manifests newly ask for).
    pub drift: usize,
    pub applied: usize,
    /// Changes that failed.
    pub failed: usize,
    pub blocked: usize,
    pub requests: u64,
    pub throttled: u64,
    /// Batch calls sent again after calls that failed under pressure.
    pub rebatched: u64,
    /// Batch calls sent to bisect rejected ones.
    pub bisected: u64,
    /// Steps down the write-mode ladder, every cause.
    pub fallbacks: u64,
    pub duration_seconds: f64,
}

/// A finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RunMetrics {
    /// `plan` or `apply`.
    pub command: &'static str,
    /// When it finished, in seconds since the Unix epoch.
    pub finished_at: f64,
    pub exit_code: u8,
    /// Why it exited non-zero: the last stderr line.
    pub reason: Option<String>,
    pub projects: Vec<ProjectMetrics>,
}

impl RunMetrics {
    /// A run succeeded when it did not end in an error (exit 1): in sync, changes (2) and
    /// blocked desktops (3) are what it is for.
    pub(crate) fn succeeded(&self) -> bool {
        self.exit_code != 1
    }

    fn sum(&self, f: impl Fn(&ProjectMetrics) -> usize) -> usize {
        self.projects.iter().map(f).sum()
    }

    /// Whether anything happened worth telling: changes planned or applied, blocked desktops,
    /// failures. A run in sync is not.
    pub(crate) fn eventful(&self) -> bool {
        !self.succeeded()
            || self
                .projects
                .iter()
                .any(|p| !p.up || p.drift > 0 || p.applied > 0 || p.failed > 0 || p.blocked > 0)
    }
}

/// The `desktag_last_success_timestamp_seconds` of a previous metrics file, if any.
pub(crate) fn last_success(previous: &str) -> Option<f64> {
    previous.lines().find_map(|line| {
        let rest = line.strip_prefix("desktag_last_success_timestamp_seconds")?;
        rest.rsplit(' ').next()?.parse().ok()
    })
}

/// Label values in the text format: `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A per-project gauge: its name, its help and how to read it from a project.
type Row = (&'static str, &'static str, fn(&ProjectMetrics) -> f64);

/// The per-project gauges, in the order the file lists them.
const PROJECT_GAUGES: [Row; 11] = [
    (
        "desktag_project_up",
        "1 when the project could be reached, read and written, else 0.",
        |p| f64::from(u8::from(p.up)),
    ),
    (
        "desktag_drift_changes",
        "Changes the plan found (tags that differ from the manifests).",
        |p| p.drift as f64,
    ),
    (
        "desktag_changes_applied",
        "Changes applied by the last run.",
        |p| p.applied as f64,
    ),
    (
        "desktag_changes_failed",
        "Changes that failed in the last run.",
        |p| p.failed as f64,
    ),
    (
        "desktag_desktops_blocked",
        "Desktops blocked (cap, policy, template) in the last run.",
        |p| p.blocked as f64,
    ),
    (
        "desktag_requests",
        "HTTP requests the last run sent.",
        |p| p.requests as f64,
    ),
    (
        "desktag_requests_throttled",
        "Requests the service throttled (HTTP 429) in the last run.",
        |p| p.throttled as f64,
    ),
    (
        "desktag_batch_calls_rebatched",
        "Batch calls the last run sent again after calls that failed under pressure.",
        |p| p.rebatched as f64,
    ),
    (
        "desktag_batch_calls_bisected",
        "Batch calls the last run sent to bisect calls the service rejected.",
        |p| p.bisected as f64,
    ),
    (
        "desktag_write_fallbacks",
        "Steps down the write-mode ladder (batch to per desktop, per desktop to per tag) in the last run.",
        |p| p.fallbacks as f64,
    ),
    (
        "desktag_run_duration_seconds",
        "How long the last run's writes took.",
        |p| p.duration_seconds,
    ),
];

/// The metrics file: one gauge per fact, run-wide ones labelled by command, per-project ones by
/// command and project. `previous` is the file's last content: its last success is kept when
/// this run failed.
pub(crate) fn prometheus(run: &RunMetrics, previous: Option<&str>) -> String {
    let command = format!("command=\"{}\"", run.command);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let run_wide = |value: f64| vec![(command.clone(), value)];
    gauge(
        "desktag_last_run_timestamp_seconds",
        "When the last run finished (Unix time).",
        run_wide(run.finished_at),
    );
    let success = if run.succeeded() {
        Some(run.finished_at)
    } else {
        previous.and_then(last_success)
    };
    gauge(
        "desktag_last_success_timestamp_seconds",
        "When the last run that did not fail finished (Unix time); kept from the previous file when a run fails.",
        success.map(run_wide).unwrap_or_default(),
    );
    gauge(
        "desktag_last_run_exit_code",
        "The exit code of the last run (0 done, 1 error, 2 changes, 3 blocked).",
        run_wide(f64::from(run.exit_code)),
    );
    let per_project = |f: fn(&ProjectMetrics) -> f64| -> Vec<(String, f64)> {
        run.projects
            .iter()
            .map(|p| {
                (
                    format!("{command},project=\"{}\"", label(&p.project_id)),
                    f(p),
                )
            })
            .collect()
    };
    for (name, help, f) in PROJECT_GAUGES {
        gauge(name, help, per_project(f));
    }
    out
}

/// The JSON `--notify` posts, or `None` when the run was in sync (nothing to tell). `text` is
/// the one line a Slack or Teams incoming webhook shows; the totals and projects are beside it.
pub(crate) fn notification(run: &RunMetrics) -> Option<serde_json::Value> {
    if !run.eventful() {
        return None;
    }
    let down: Vec<&str> = run
        .projects
        .iter()
        .filter(|p| !p.up)
        .map(|p| p.project_id.as_str())
        .collect();
    let mut text = format!(
        "desktag {}: {} applied, {} planned, {} failed, {} blocked",
        run.command,
        run.sum(|p| p.applied),
        run.sum(|p| p.drift),
        run.sum(|p| p.failed),
        run.sum(|p| p.blocked),
    );
    if !down.is_empty() {
        let _ = write!(text, "; project {} failed", down.join(", "));
    }
    if let Some(reason) = &run.reason {
        let _ = write!(text, " — {reason}");
    }
    let projects: Vec<serde_json::Value> = run
        .projects
        .iter()
        .map(|p| {
            serde_json::json!({
                "project_id": p.project_id, "up": p.up, "drift": p.drift,
                "applied": p.applied, "failed": p.failed, "blocked": p.blocked,
                "requests": p.requests, "throttled": p.throttled,
            })
        })
        .collect();
    Some(serde_json::json!({
        "text": text,
        "command": run.command,
        "exit_code": run.exit_code,
        "totals": {
            "drift": run.sum(|p| p.drift),
            "applied": run.sum(|p| p.applied),
            "failed": run.sum(|p| p.failed),
            "blocked": run.sum(|p| p.blocked),
            "projects_failed": down.len(),
        },
        "projects": projects,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(exit_code: u8, applied: usize) -> RunMetrics {
        RunMetrics {
            command: "apply",
            finished_at: 1_800_000_000.0,
            exit_code,
            reason: None,
            projects: vec![ProjectMetrics {
                project_id: "p\"1".into(),
                up: true,
                drift: applied,
                applied,
                requests: 4,
                duration_seconds: 0.5,
                ..ProjectMetrics::default()
            }],
        }
    }

    #[test]
    fn the_text_format_has_every_gauge_labelled_and_keeps_the_last_success_on_failure() {
        let ok = prometheus(&run(0, 2), None);
        assert!(
            ok.contains("desktag_last_success_timestamp_seconds{command=\"apply\"} 1800000000\n")
        );
        assert!(ok.contains("desktag_changes_applied{command=\"apply\",project=\"p\\\"1\"} 2\n"));
        assert!(ok.contains("# TYPE desktag_run_duration_seconds gauge\n"));
        assert_eq!(last_success(&ok), Some(1_800_000_000.0));
        let mut failed = run(1, 0);
        failed.finished_at = 1_800_000_100.0;
        let text = prometheus(&failed, Some(&ok));
        assert!(text.contains("desktag_last_run_timestamp_seconds{command=\"apply\"} 1800000100\n"));
        assert!(
            text.contains("desktag_last_success_timestamp_seconds{command=\"apply\"} 1800000000\n")
        );
        // No previous success: the gauge has no sample rather than a made-up one.
        let first = prometheus(&failed, None);
        assert!(!first.contains("desktag_last_success_timestamp_seconds{"));
    }

    #[test]
    fn a_notification_is_made_only_when_something_happened() {
        assert_eq!(notification(&run(0, 0)), None);
        let changed = notification(&run(0, 3)).unwrap();
        assert_eq!(
            changed["text"],
            "desktag apply: 3 applied, 3 planned, 0 failed, 0 blocked"
        );
        assert_eq!(changed["totals"]["applied"], 3);
        let mut failed = run(1, 0);
        failed.reason = Some("error: cannot connect".into());
        failed.projects[0].up = false;
        let text = notification(&failed).unwrap()["text"].clone();
        assert!(text
            .as_str()
            .unwrap()
            .ends_with("; project p\"1 failed — error: cannot connect"));
    }
}
