//! The apply report: what happened to every planned change, how it was written and with how many
//! attempts. Plain, serializable data built by `apply` and rendered by `render`; it never holds
//! credentials.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use desktag_api::ApiError;
use desktag_core::plan::Change;

/// One project's report: an entry of the report document's `projects` (see [`ReportSet`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub project_id: String,
    pub endpoint: String,
    /// When applying this project started and finished (RFC 3339, UTC).
    pub started_at: String,
    pub finished_at: String,
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
    /// For a blocked desktop, what kind of rule blocked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<desktag_core::plan::BlockedKind>,
    #[serde(default, skip_serializing_if = "Changes::is_empty")]
    pub changes: Changes,
    /// The rules of `enforce: warn` policies the desktop breaks (it was repaired all the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_warnings: Vec<String>,
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
    /// Boxed: most changes have none, and a report holds one `ChangeReport` per change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Box<ErrorInfo>>,
}

/// A desktop's changes and how each ended, kept compact: the changes as planned, shared between
/// desktops with the same changes (every desktop one glob selects, in a rollout), and a small
/// record of how each ended. A report of 100,000 desktops × 8 changes holds 800,000 of those
/// records, not 800,000 copies of the changes. Read and written as a list of [`ChangeReport`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    planned: Arc<[Change]>,
    ends: Vec<Ended>,
}

/// How one change ended (see [`ChangeReport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub outcome: Outcome,
    pub via: Option<WriteMode>,
    pub attempts: u32,
    pub error: Option<Box<ErrorInfo>>,
}

/// One change of a [`Changes`] and how it ended, borrowed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ChangeView<'a> {
    #[serde(flatten)]
    pub change: &'a Change,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<WriteMode>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a ErrorInfo>,
}

impl Changes {
    /// `planned`, none of them sent yet (skipped, until a call settles them).
    pub(crate) fn unsent(planned: Arc<[Change]>) -> Changes {
        let ended = Ended {
            outcome: Outcome::Skipped,
            via: None,
            attempts: 0,
            error: None,
        };
        Changes {
            ends: vec![ended; planned.len()],
            planned,
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = ChangeView<'_>> + Clone {
        self.planned
            .iter()
            .zip(&self.ends)
            .map(|(change, end)| ChangeView {
                change,
                outcome: end.outcome,
                via: end.via,
                attempts: end.attempts,
                error: end.error.as_deref(),
            })
    }

    /// The `i`-th change and how it ended.
    pub fn get(&self, i: usize) -> Option<ChangeView<'_>> {
        self.iter().nth(i)
    }

    pub(crate) fn change(&self, i: usize) -> &Change {
        &self.planned[i]
    }

    pub(crate) fn ended(&self, i: usize) -> &Ended {
        &self.ends[i]
    }

    pub(crate) fn ended_mut(&mut self, i: usize) -> &mut Ended {
        &mut self.ends[i]
    }

    /// Settles the `i`-th change's outcome, with the error that ended it (none when applied or
    /// skipped).
    pub(crate) fn end(&mut self, i: usize, outcome: Outcome, error: Option<ErrorInfo>) {
        let end = &mut self.ends[i];
        end.outcome = outcome;
        end.error = error.map(Box::new);
    }
}

impl FromIterator<ChangeReport> for Changes {
    fn from_iter<I: IntoIterator<Item = ChangeReport>>(reports: I) -> Changes {
        let (planned, ends): (Vec<Change>, Vec<Ended>) = reports
            .into_iter()
            .map(|r| {
                let end = Ended {
                    outcome: r.outcome,
                    via: r.via,
                    attempts: r.attempts,
                    error: r.error,
                };
                (r.change, end)
            })
            .unzip();
        Changes {
            planned: planned.into(),
            ends,
        }
    }
}

impl From<Vec<ChangeReport>> for Changes {
    fn from(reports: Vec<ChangeReport>) -> Changes {
        reports.into_iter().collect()
    }
}

impl Serialize for Changes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Changes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Changes, D::Error> {
        Ok(Vec::<ChangeReport>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

/// A failed call as the service described it. `status` is absent for transport errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub error_msg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The service's `error_detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    /// On a refusal, the reason as the service encoded it (STS `decode-authorization-message`
    /// decodes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_authorization_message: Option<String>,
    /// What STS decoded of it (`--decode-denials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denial: Option<String>,
}

impl ErrorInfo {
    /// An error desktag found itself (no call failed): only its message.
    pub fn message(text: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            error_msg: text.into(),
            ..ErrorInfo::default()
        }
    }
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
                detail,
            } => ErrorInfo {
                status: Some(*status),
                error_code: Some(error_code.clone()),
                error_msg: error_msg.clone(),
                request_id: request_id.clone(),
                error_detail: detail.as_ref().and_then(|d| d.error_detail.clone()),
                encoded_authorization_message: detail
                    .as_ref()
                    .and_then(|d| d.encoded_authorization_message.clone()),
                denial: detail.as_ref().and_then(|d| d.decoded.clone()),
            },
            ApiError::Decode {
                status, request_id, ..
            } => ErrorInfo {
                status: Some(*status),
                error_code: None,
                error_msg: error.to_string(),
                request_id: request_id.clone(),
                error_detail: None,
                encoded_authorization_message: None,
                denial: None,
            },
            _ => ErrorInfo {
                status: None,
                error_code: None,
                error_msg: error.to_string(),
                request_id: None,
                error_detail: None,
                encoded_authorization_message: None,
                denial: None,
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
    /// The requests actually sent per second: `requests` over the duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub achieved_rate: Option<f64>,
    /// The ceiling the rate limiter settled at (requests per second): the adaptive rate after
    /// its last cut on a 429, or the rate it had reached when nothing was throttled. Not a
    /// throughput: see `achieved_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_ceiling: Option<f64>,
    pub duration_ms: u64,
    /// Batch calls sent again as batch calls after calls that failed under pressure (429, 5xx,
    /// a timeout, a broken connection) left changes pending.
    #[serde(default)]
    pub rebatched: u64,
    /// Batch calls sent to bisect calls the service rejected, to isolate the desktops they were
    /// about.
    #[serde(default)]
    pub bisected: u64,
    /// Steps down the write-mode ladder (a desktop written per desktop instead of in a batch
    /// call, or per tag instead of per desktop), by cause.
    #[serde(default)]
    pub fallbacks: Fallbacks,
}

/// Steps down the write-mode ladder, by cause (`Totals::fallbacks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallbacks {
    /// The service refused (403) the mode.
    #[serde(default)]
    pub refused: u64,
    /// The service rejected the desktop's call (another 4xx): its tags go one call each, so a
    /// bad one fails alone.
    #[serde(default)]
    pub rejected: u64,
    /// A read after a batch call answered success did not show what it sent.
    #[serde(default)]
    pub unconfirmed: u64,
}

impl Fallbacks {
    pub(crate) fn total(&self) -> u64 {
        self.refused + self.rejected + self.unconfirmed
    }
}

/// The report document (`format_version: 2`): when the run started and finished, the combined
/// totals, then one report per project (also for one project), in project-id order, and the
/// projects that could not be planned or applied. Its JSON Schema is `docs/report.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReportSet<R> {
    pub format_version: u32,
    /// The desktag that applied it.
    pub desktag_version: String,
    /// The earliest start and latest finish of the projects (RFC 3339, UTC); absent when no
    /// project got as far as applying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// True when any change was applied.
    pub has_changes: bool,
    pub totals: Totals,
    pub projects: R,
    /// The projects that could not be planned or applied, with why.
    #[serde(default)]
    pub failed_projects: Vec<desktag_core::plan::ProjectFailure>,
}

impl<'a> ReportSet<&'a [Report]> {
    /// The reports and the projects that failed beside them.
    pub(crate) fn with_failures(
        reports: &'a [Report],
        failed: &[desktag_core::plan::ProjectFailure],
    ) -> Self {
        let totals = Totals::total(reports);
        ReportSet {
            format_version: desktag_core::plan::FORMAT_VERSION,
            desktag_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: reports.iter().map(|r| r.started_at.clone()).min(),
            finished_at: reports.iter().map(|r| r.finished_at.clone()).max(),
            has_changes: totals.applied > 0,
            totals,
            projects: reports,
            failed_projects: failed.to_vec(),
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
            total.rebatched += t.rebatched;
            total.bisected += t.bisected;
            total.fallbacks.refused += t.fallbacks.refused;
            total.fallbacks.rejected += t.fallbacks.rejected;
            total.fallbacks.unconfirmed += t.fallbacks.unconfirmed;
            total.duration_ms = total.duration_ms.max(t.duration_ms);
        }
        total.achieved_rate = achieved_rate(total.requests, total.duration_ms);
        total
    }
}

/// Requests per second over `duration_ms`, rounded to 0.1; none for a run too short to say.
pub fn achieved_rate(requests: u64, duration_ms: u64) -> Option<f64> {
    (duration_ms > 0).then(|| (requests as f64 * 10_000.0 / duration_ms as f64).round() / 10.0)
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
    fn changes_read_and_write_as_the_list_of_their_reports() {
        let reports = vec![
            ChangeReport {
                change: Change::Create {
                    key: "env".into(),
                    value: "prod".into(),
                },
                outcome: Outcome::Applied,
                via: Some(WriteMode::Batch),
                attempts: 1,
                error: None,
            },
            ChangeReport {
                change: Change::Overwrite {
                    key: "team".into(),
                    old: "a".into(),
                    value: "b".into(),
                },
                outcome: Outcome::Failed,
                via: Some(WriteMode::Tag),
                attempts: 3,
                error: Some(Box::new(ErrorInfo::message("no"))),
            },
            ChangeReport {
                change: Change::Delete {
                    key: "old".into(),
                    old: "x".into(),
                },
                outcome: Outcome::Skipped,
                via: None,
                attempts: 0,
                error: None,
            },
        ];
        let changes = Changes::from(reports.clone());
        let json = serde_json::to_value(&changes).unwrap();
        assert_eq!(json, serde_json::to_value(&reports).unwrap());
        let back: Changes = serde_json::from_value(json).unwrap();
        assert_eq!(back, changes);
        let second = changes.get(1).unwrap();
        assert_eq!(second.change.key(), "team");
        assert_eq!((second.outcome, second.attempts), (Outcome::Failed, 3));
        assert_eq!(second.error.map(|e| e.error_msg.as_str()), Some("no"));
        assert!(changes.get(3).is_none());
    }

    #[test]
    fn unsent_changes_share_their_list_and_are_skipped_until_settled() {
        let planned: Arc<[Change]> = vec![Change::Create {
            key: "env".into(),
            value: "prod".into(),
        }]
        .into();
        let (a, mut b) = (
            Changes::unsent(planned.clone()),
            Changes::unsent(planned.clone()),
        );
        assert!(Arc::ptr_eq(&a.planned, &b.planned));
        b.ended_mut(0).outcome = Outcome::Applied;
        assert_eq!(a.get(0).unwrap().outcome, Outcome::Skipped);
        assert_eq!(b.get(0).unwrap().outcome, Outcome::Applied);
        assert_eq!(b.change(0), &planned[0]);
    }

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
            detail: None,
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
