//! The emulator's error answers, in the real API's two shapes: the Workspace service's
//! `{"error_code","error_msg"}` and the API gateway's `{"error_code","error_msg","request_id"}`. The `WKS.*` codes below are the emulator's own (the real table is not public);
//! the gateway codes are the documented ones. Pure data; no I/O here.

use axum::http::StatusCode;

use desktag_core::tags::TagError;

/// Empty request body (the documented meaning of `WKS.0001`).
pub const EMPTY_BODY: &str = "WKS.0001";
/// Malformed JSON, a missing field, a wrong type, or a bad query parameter.
pub const BAD_REQUEST: &str = "WKS.0002";
/// A tag key or value that breaks the key/value rules.
pub const INVALID_TAG: &str = "WKS.0003";
/// A create that would take a desktop past the tag cap.
pub const TAG_CAP: &str = "WKS.0004";
/// Unknown desktop id.
pub const DESKTOP_NOT_FOUND: &str = "WKS.0005";
/// A project id that is not the emulated project's.
pub const PROJECT_NOT_FOUND: &str = "WKS.0006";
/// Injected internal error (`--fail-rate`), or the state file could not be saved.
pub const INTERNAL: &str = "WKS.0500";

pub const GW_NO_API: &str = "APIGW.0101";
pub const GW_BAD_REQUEST: &str = "APIGW.0201";
pub const GW_AUTH: &str = "APIGW.0301";
pub const GW_EXPIRED: &str = "APIGW.0303";
pub const GW_THROTTLED: &str = "APIG.0308";

/// Who answers: the service (no `request_id` in the body) or the gateway in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Service,
    Gateway,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub shape: Shape,
    /// `Retry-After` seconds, for 429s.
    pub retry_after: Option<u64>,
    /// More fields of the body: `error_detail`, `encoded_authorization_message`.
    pub extra: Vec<(&'static str, String)>,
}

impl ServiceError {
    pub(crate) fn service(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ServiceError {
            status,
            code,
            message: message.into(),
            shape: Shape::Service,
            retry_after: None,
            extra: Vec::new(),
        }
    }

    pub(crate) fn gateway(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ServiceError {
            shape: Shape::Gateway,
            ..ServiceError::service(status, code, message)
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ServiceError::service(StatusCode::BAD_REQUEST, BAD_REQUEST, message)
    }

    pub(crate) fn empty_body() -> Self {
        ServiceError::service(
            StatusCode::BAD_REQUEST,
            EMPTY_BODY,
            "the request message input by the interface is empty: send a JSON body",
        )
    }

    pub(crate) fn desktop_not_found(id: &str) -> Self {
        ServiceError::service(
            StatusCode::NOT_FOUND,
            DESKTOP_NOT_FOUND,
            format!("desktop `{id}` does not exist in this project"),
        )
    }

    pub(crate) fn project_not_found(pid: &str) -> Self {
        ServiceError::service(
            StatusCode::NOT_FOUND,
            PROJECT_NOT_FOUND,
            format!("project `{pid}` does not exist"),
        )
    }

    pub(crate) fn invalid_tag(key: &str, e: &TagError) -> Self {
        ServiceError::service(
            StatusCode::BAD_REQUEST,
            INVALID_TAG,
            format!("invalid tag `{key}`: {e}; {}", e.help()),
        )
    }

    /// A tag value the service's own rules refuse (`--reject-value`): the invalid-tag answer.
    pub(crate) fn rejected_value(key: &str) -> Self {
        ServiceError::service(
            StatusCode::BAD_REQUEST,
            INVALID_TAG,
            format!(
                "invalid tag `{key}`: its value is not allowed by the service's rules (injected \
                 by --reject-value)"
            ),
        )
    }

    pub(crate) fn tag_cap(id: &str, have: usize, adding: &[&str], max: usize) -> Self {
        let keys = adding
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        ServiceError::service(
            StatusCode::BAD_REQUEST,
            TAG_CAP,
            format!(
                "desktop `{id}` has {have} tags; adding {keys} would exceed the limit of {max} \
                 tags per desktop: delete tags first"
            ),
        )
    }

    pub(crate) fn not_an_api(method: &str, path: &str) -> Self {
        ServiceError::gateway(
            StatusCode::NOT_FOUND,
            GW_NO_API,
            format!("the API does not exist or has not been published: {method} {path}"),
        )
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        ServiceError::gateway(
            StatusCode::PAYLOAD_TOO_LARGE,
            GW_BAD_REQUEST,
            format!("request entity too large: the body limit is {limit} bytes"),
        )
    }

    pub(crate) fn throttled(limit: String, retry_after: Option<u64>) -> Self {
        ServiceError {
            retry_after,
            ..ServiceError::gateway(
                StatusCode::TOO_MANY_REQUESTS,
                GW_THROTTLED,
                format!(
                    "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second"
                ),
            )
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ServiceError::service(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL, message)
    }

    /// The JSON body for this error.
    pub(crate) fn body(&self, request_id: &str) -> serde_json::Value {
        let mut body = self.base_body(request_id);
        for (name, value) in &self.extra {
            body[*name] = serde_json::Value::String(value.clone());
        }
        body
    }

    fn base_body(&self, request_id: &str) -> serde_json::Value {
        match self.shape {
            Shape::Service => serde_json::json!({
                "error_code": self.code,
                "error_msg": self.message,
            }),
            Shape::Gateway => serde_json::json!({
                "error_code": self.code,
                "error_msg": self.message,
                "request_id": request_id,
            }),
        }
    }
}
