//! What a scheduled run tells its monitoring once it ends, whatever the outcome: the Prometheus
//! metrics file (`--metrics`, written atomically, the last success carried over from the
//! previous file) and the `--notify` webhook (only when something happened). Neither changes the
//! run's outcome: a failure here is a logged error or warning. The webhook URL may hold a token,
//! so only its host is ever logged.

use desktag_core::error_chain::chain;

use crate::config::Observe;
use crate::error::{Error, Status};
use crate::render::metrics::{self, ProjectMetrics, RunMetrics};

use super::output;

/// Writes the metrics and sends the notification of a run of `command` that ended with
/// `outcome`, from what each project did.
pub(super) async fn finish(
    command: &'static str,
    observe: &Observe,
    projects: Vec<ProjectMetrics>,
    outcome: &Result<Status, Error>,
) {
    if observe.metrics.is_none() && observe.notify.is_none() {
        return;
    }
    let (exit_code, reason) = match outcome {
        Ok(status) => (
            match status {
                Status::Success => 0,
                Status::Failed(_) => 1,
                Status::Changes(_) => 2,
                Status::Blocked(_) => 3,
            },
            status.last_line(),
        ),
        Err(error) => (1, Some(format!("error: {}", chain(error)))),
    };
    let finished_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64 / 1000.0)
        .unwrap_or_default();
    let run = RunMetrics {
        command,
        finished_at,
        exit_code,
        reason,
        projects,
    };
    if let Some(path) = &observe.metrics {
        let previous = std::fs::read_to_string(path).ok();
        let text = metrics::prometheus(&run, previous.as_deref());
        match output::write_atomic(path, text.as_bytes()) {
            Ok(()) => tracing::info!(path = %path.display(), "wrote the metrics"),
            Err(e) => tracing::error!(error = %chain(&e), "the metrics could not be written"),
        }
    }
    if let (Some(url), Some(body)) = (&observe.notify, metrics::notification(&run)) {
        notify(url, &body).await;
    }
}

/// POSTs `body`; a failure is a warning naming the host, never the URL (it may hold a token).
async fn notify(url: &url::Url, body: &serde_json::Value) {
    let host = url.host_str().unwrap_or("?").to_string();
    let sent = async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        client
            .post(url.clone())
            .json(body)
            .send()
            .await?
            .error_for_status()
    }
    .await;
    match sent {
        Ok(_) => tracing::info!(%host, "sent the notification"),
        Err(e) => {
            let e = e.without_url();
            tracing::warn!(%host, error = %chain(&e), "the notification could not be sent; the run's outcome stands");
        }
    }
}
