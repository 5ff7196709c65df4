//! The apply report: what happened to every planned change, how it was written and with how many
//! attempts. Plain, serializable data built by `apply` and rendered by `render`; it never holds
//! credentials.

use serde::{Deserialize, Serialize};

use desktag_api::ApiError;
use desktag_core::plan::Change;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub project_id: String,
    pub endpoint: String,
    /// The write mode asked for (`--write-mode`); changes may have been written by a later one.
    #[serde(default)]
    pub write_mode: WriteMode,
    /// Sorted by desktop id.
    pub desktops: Vec<DesktopReport>,
    pub totals: Totals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesktopResult {
    Applied,
    Failed,
    Unverified,
    Unchanged,
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopReport {
    pub desktop_id: String,
    pub name: String,
    pub status: DesktopResult,
    /// Why blocked, failed or unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeReport>,
}

impl desktag_core::inventory::Named for DesktopReport {
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.desktop_id
    }
}

/// How changes are written, from the fewest requests to the most. Each mode falls back to the
/// next one: a batch write that the re-read does not confirm is redone per desktop, a rejected
/// per-desktop call is redone one tag at a time.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Cross-desktop calls: up to 100 desktops and 20 tags per desktop each.
    #[default]
    Batch,
    /// One call per desktop for its deletes and one for its creates and overwrites.
    Desktop,
    /// One call per tag.
    Tag,
}

impl WriteMode {
    /// Every mode, best first: the order writes fall back in (and the declaration order, which
    /// `Ord` follows).
    pub(crate) const ALL: [WriteMode; 3] = [WriteMode::Batch, WriteMode::Desktop, WriteMode::Tag];

    /// The mode a write falls back to, if any.
    pub(crate) fn next(self) -> Option<WriteMode> {
        WriteMode::ALL.get(self as usize + 1).copied()
    }
}

impl std::fmt::Display for WriteMode {
    /// The name `--write-mode` takes (clap's), which serde's `lowercase` also gives.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        let value = self
            .to_possible_value()
            .expect("every write mode is a --write-mode value");
        f.write_str(value.get_name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Applied,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeReport {
    #[serde(flatten)]
    pub change: Change,
    pub outcome: Outcome,
    /// The kind of call that applied the change or failed it last; absent when never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<WriteMode>,
    /// HTTP attempts of every call that carried this change, fallbacks included (0 when never
    /// sent). A batch call's attempts count for each change it carried.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// A failed call as the service described it. `status` is absent for transport errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub error_msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The report converts API errors (the API layer knows nothing of the report schema).
impl From<&ApiError> for ErrorInfo {
    fn from(error: &ApiError) -> ErrorInfo {
        match error {
            ApiError::Service {
                status,
                error_code,
                error_msg,
                request_id,
            } => ErrorInfo {
                status: Some(*status),
                error_code: Some(error_code.clone()),
                error_msg: error_msg.clone(),
                request_id: request_id.clone(),
            },
            ApiError::Decode {
                status, request_id, ..
            } => ErrorInfo {
                status: Some(*status),
                error_code: None,
                error_msg: error.to_string(),
                request_id: request_id.clone(),
            },
            _ => ErrorInfo {
                status: None,
                error_code: None,
                error_msg: error.to_string(),
                request_id: None,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Changes applied.
    pub applied: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Changes not applied because a change they depend on failed or the run was interrupted.
    pub skipped: usize,
    /// Desktops whose re-read tags did not match the plan.
    pub unverified: usize,
    /// Desktops not applied because they are blocked.
    pub blocked: usize,
    /// HTTP requests sent, reads included.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Requests the service throttled (HTTP 429).
    #[serde(default)]
    pub throttled: u64,
    /// The request rate (per second) the run settled at: the adaptive rate after its last cut
    /// on a 429, or the rate reached when nothing was throttled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub duration_ms: u64,
}

/// The reports of a run over several projects: the combined totals, then one report per
/// project, in project-id order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReportSet<R> {
    pub format_version: u32,
    pub totals: Totals,
    pub projects: R,
}

impl<'a> ReportSet<&'a [Report]> {
    pub(crate) fn of(reports: &'a [Report]) -> Self {
        ReportSet {
            format_version: 1,
            totals: Totals::total(reports),
            projects: reports,
        }
    }
}

impl Totals {
    /// The sum of the totals of `reports`, which ran side by side: the duration is the longest,
    /// and there is no one settled rate.
    pub(crate) fn total(reports: &[Report]) -> Totals {
        let mut total = Totals::default();
        for t in reports.iter().map(|r| &r.totals) {
            total.applied += t.applied;
            total.failed += t.failed;
            total.skipped += t.skipped;
            total.unverified += t.unverified;
            total.blocked += t.blocked;
            total.requests += t.requests;
            total.retries += t.retries;
            total.throttled += t.throttled;
            total.duration_ms = total.duration_ms.max(t.duration_ms);
        }
        total
    }
}

impl Report {
    /// True when every desktop ended applied or unchanged.
    pub fn is_success(&self) -> bool {
        self.desktops
            .iter()
            .all(|d| matches!(d.status, DesktopResult::Applied | DesktopResult::Unchanged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn write_modes_are_listed_best_first_and_named_alike_everywhere() {
        let mut sorted = WriteMode::ALL;
        sorted.sort();
        assert_eq!(sorted, WriteMode::ALL);
        let fallbacks: Vec<_> = WriteMode::ALL.iter().map(|m| m.next()).collect();
        assert_eq!(
            fallbacks,
            [Some(WriteMode::Desktop), Some(WriteMode::Tag), None]
        );
        for mode in WriteMode::ALL {
            assert_eq!(
                serde_json::to_value(mode).unwrap(),
                serde_json::Value::String(mode.to_string())
            );
        }
        assert_eq!(WriteMode::Batch.to_string(), "batch");
    }

    #[test]
    fn error_info_carries_the_service_fields() {
        let service = ApiError::Service {
            status: 429,
            error_code: "APIGW.0301".into(),
            error_msg: "Incorrect IAM authentication information".into(),
            request_id: Some("req-123".into()),
        };
        let info = ErrorInfo::from(&service);
        assert_eq!(info.status, Some(429));
        assert_eq!(info.error_code.as_deref(), Some("APIGW.0301"));
        assert_eq!(info.request_id.as_deref(), Some("req-123"));
        let timeout = ApiError::Timeout {
            method: "GET".into(),
            path: "/v2/p/desktops".into(),
            timeout: Duration::from_secs(30),
        };
        let info = ErrorInfo::from(&timeout);
        assert_eq!(info.status, None);
        assert!(
            info.error_msg.contains("timed out after 30s"),
            "{}",
            info.error_msg
        );
    }
}
