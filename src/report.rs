//! The apply report (design §6): what happened to every planned change. Plain, serializable data
//! built by `apply` and rendered by `render`; it never holds credentials.

use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::plan::Change;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub format_version: u32,
    pub project_id: String,
    pub endpoint: String,
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
    /// HTTP attempts made for this change (0 when skipped).
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Changes applied.
    pub applied: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Changes not attempted because an earlier change of the same desktop failed.
    pub skipped: usize,
    /// Desktops whose re-read tags did not match the plan.
    pub unverified: usize,
    /// Desktops not applied because they are blocked.
    pub blocked: usize,
    /// HTTP requests sent, reads included.
    pub requests: u64,
    /// Of those, retries.
    pub retries: u64,
    pub duration_ms: u64,
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
