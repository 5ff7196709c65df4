//! Errors of the API boundary: what the service answered (status, error code, message, request
//! id) or why no answer came. Messages are lowercase and never contain a secret or the
//! `Authorization` header; the client scrubs known secrets from anything the server echoes.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum ApiError {
    /// The service answered with a non-2xx status.
    #[error(
        "the service answered {status}{}: {error_code}: {error_msg}{}{}{}",
        reason_suffix(*status),
        detail_suffix(detail.as_deref()),
        request_id_suffix(request_id.as_deref()),
        auth_hint(*status, detail.as_deref())
    )]
    Service {
        status: u16,
        error_code: String,
        error_msg: String,
        /// From the `X-Request-Id` response header; quote it to Huawei Cloud support.
        request_id: Option<String>,
        /// `error_detail`, and on a refusal the encoded reason and what STS decoded of it.
        detail: Option<Box<ServiceDetail>>,
    },
    /// No complete answer within the request timeout.
    #[error("{method} {path} timed out after {}s; the service may be slow or unreachable (raise the timeout or retry later)", timeout.as_secs_f64())]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
    },
    /// No connection (refused, DNS, TLS).
    #[error("cannot connect to {endpoint}: {detail}; check --endpoint / --region and the network")]
    Connect { endpoint: String, detail: String },
    /// The connection failed mid-request.
    #[error("{method} {path} failed: {detail}")]
    Transport {
        method: String,
        path: String,
        detail: String,
    },
    /// A 2xx answer whose body is not the expected JSON.
    #[error("the service answered {status} to {method} {path} with a body that is not the expected {what}: {detail}{}", request_id_suffix(request_id.as_deref()))]
    Decode {
        status: u16,
        method: String,
        path: String,
        what: &'static str,
        detail: String,
        request_id: Option<String>,
    },
    /// A 2xx answer too large to read; not retried.
    #[error("the answer to {method} {path} is larger than {} MiB; desktag stops reading it (check --endpoint: a real Workspace answer is far smaller)", limit / (1024 * 1024))]
    TooLarge {
        method: String,
        path: String,
        limit: usize,
    },
    /// A listing the service would not let end (repeated pages, more desktops than it said).
    #[error("listing GET {path} stopped: {detail} (check --endpoint: the service is not paging as documented)")]
    Paging { path: String, detail: String },
    /// A call with an argument that cannot be sent (nothing was sent).
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// No usable credentials: a temporary source could not renew them before they expired.
    #[error("the credentials expired and cannot be renewed: {0}")]
    Credentials(String),
    /// The run was stopped (a signal or its deadline) before this request could be sent or
    /// answered; when it was in flight, whether the service acted on it is unknown.
    #[error("{}", if *in_flight { format!("the run stopped ({reason}) while this request was in flight; whether the service acted on it is unknown") } else { format!("not sent: the run stopped ({reason})") })]
    Stopped {
        reason: &'static str,
        /// Sent, but its answer was not awaited.
        in_flight: bool,
    },
    /// The client could not be built (bad options, TLS setup).
    #[error("cannot set up the http client: {0}")]
    Setup(String),
}

/// What an error body says beyond its code and message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDetail {
    /// The body's `error_detail`.
    pub error_detail: Option<String>,
    /// The body's `encoded_authorization_message` (on a 403): STS can decode it.
    pub encoded_authorization_message: Option<String>,
    /// What STS `decode-authorization-message` said (`--decode-denials`, `doctor`), or why it
    /// could not be decoded.
    pub decoded: Option<String>,
}

fn detail_suffix(detail: Option<&ServiceDetail>) -> String {
    let Some(detail) = detail else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(text) = &detail.error_detail {
        out.push_str(&format!(" ({text})"));
    }
    if let Some(decoded) = &detail.decoded {
        out.push_str(&format!("; denied: {decoded}"));
    }
    out
}

fn reason_suffix(status: u16) -> String {
    http_reason(status)
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

pub(crate) fn http_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

fn request_id_suffix(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

fn auth_hint(status: u16, detail: Option<&ServiceDetail>) -> &'static str {
    let encoded = detail.is_some_and(|d| d.encoded_authorization_message.is_some());
    match status {
        403 if encoded && detail.is_some_and(|d| d.decoded.is_none()) => {
            "; hint: the credentials lack permission; the service encoded the reason: \
               `desktag doctor` or --decode-denials asks STS which policy and action denied it \
               (the JSON report keeps the encoded message)"
        }
        403 if encoded => "",
        401 => {
            "; hint: the credentials were rejected: check that the AK/SK \
               (HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK or HW_ACCESS_KEY/HW_SECRET_KEY) or the token \
               (--token-file, HW_AUTH_TOKEN) is current and belongs to this project, and that the \
               clock is within 15 minutes of the real time; `desktag doctor` shows which \
               credential source is used"
        }
        403 => {
            "; hint: the credentials lack permission: grant the IAM user the workspace:desktops \
               actions (list, listTags, tag, untag) for this project, or check that the project id \
               is right"
        }
        _ => "",
    }
}

impl ApiError {
    /// The HTTP status, for service errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Service { status, .. } | ApiError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A failed call, with the number of HTTP attempts made before giving up.
#[derive(Debug, Error)]
#[error("{error} (after {attempts} attempt{})", if *attempts == 1 { "" } else { "s" })]
pub struct CallError {
    #[source]
    pub error: ApiError,
    pub attempts: u32,
}

impl CallError {
    /// The HTTP status the service answered, if it answered (403 and 400 matter to callers that
    /// fall back to another write mode).
    pub fn status(&self) -> Option<u16> {
        self.error.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16) -> ApiError {
        ApiError::Service {
            status,
            error_code: "APIGW.0301".into(),
            error_msg: "Incorrect IAM authentication information".into(),
            request_id: Some("req-123".into()),
            detail: None,
        }
    }

    #[test]
    fn service_error_shows_status_code_message_and_request_id() {
        let msg = service(400).to_string();
        assert_eq!(
            msg,
            "the service answered 400 Bad Request: APIGW.0301: \
             Incorrect IAM authentication information (request id req-123)"
        );
    }

    #[test]
    fn unauthorized_and_forbidden_get_a_credentials_hint() {
        assert!(service(401)
            .to_string()
            .contains("hint: the credentials were rejected"));
        assert!(service(403)
            .to_string()
            .contains("hint: the credentials lack permission"));
        assert!(!service(404).to_string().contains("hint"));
    }

    #[test]
    fn call_error_counts_attempts() {
        let e = CallError {
            error: service(500),
            attempts: 5,
        };
        assert!(e.to_string().ends_with("(after 5 attempts)"), "{e}");
    }
}
