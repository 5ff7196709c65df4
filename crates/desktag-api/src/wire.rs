//! Wire DTOs of the Workspace API: the JSON the service sends
//! and expects, and their conversion to the crate's own types. Nothing outside `api` sees these.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use desktag_core::inventory::Desktop;
use desktag_core::tags::{CompactString, Tags};

/// `{key, value}`; `value` may be missing or null on the wire, which means "".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireTag {
    pub key: CompactString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<CompactString>,
}

pub(crate) fn tags_from_wire(tags: Option<Vec<WireTag>>) -> Tags {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect()
}

/// `GET /v2/{project_id}/desktops` → `{"total_count":N,"desktops":[…]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListDesktopsResponse {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub desktops: Option<Vec<WireDesktop>>,
}

/// The fields of `SimpleDesktopInfo` desktag uses; the rest are ignored. Short strings (tags,
/// names, users, statuses) are read inline, as the inventory keeps them.
#[derive(Debug, Deserialize)]
pub(crate) struct WireDesktop {
    pub desktop_id: String,
    #[serde(default)]
    pub computer_name: Option<CompactString>,
    #[serde(default)]
    pub user_name: Option<CompactString>,
    #[serde(default)]
    pub enterprise_project_id: Option<String>,
    #[serde(default)]
    pub status: Option<CompactString>,
    #[serde(default)]
    pub tags: Option<Vec<WireTag>>,
}

impl From<WireDesktop> for Desktop {
    fn from(d: WireDesktop) -> Desktop {
        Desktop {
            id: d.desktop_id,
            name: d.computer_name.unwrap_or_default(),
            user: d.user_name.filter(|u| !u.is_empty()),
            enterprise_project_id: d.enterprise_project_id.filter(|e| !e.is_empty()),
            status: d.status.unwrap_or_default(),
            tags: tags_from_wire(d.tags),
        }
    }
}

/// `POST …/desktops/{id}/tags` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateTagRequest<'a> {
    pub tag: TagRef<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TagRef<'a> {
    pub key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
}

/// `tags` as `{key, value}` references; `with_values: false` sends keys only (deletes).
pub(crate) fn tag_refs(tags: &Tags, with_values: bool) -> Vec<TagRef<'_>> {
    tags.iter()
        .map(|(key, value)| TagRef {
            key,
            value: with_values.then_some(value.as_str()),
        })
        .collect()
}

/// `POST …/desktops/{id}/tags/action` body (`TagsReq`); deletes are sent key-only.
#[derive(Debug, Serialize)]
pub(crate) struct ChangeTagsRequest<'a> {
    pub action: &'static str,
    pub tags: Vec<TagRef<'a>>,
}

/// `POST` and `DELETE /v2/{project_id}/desktops/batch-tags` body.
#[derive(Debug, Serialize)]
pub(crate) struct BatchTagsRequest<'a> {
    pub desktops: Vec<DesktopTagsInfo<'a>>,
}

/// One desktop of a `batch-tags` body.
#[derive(Debug, Serialize)]
pub(crate) struct DesktopTagsInfo<'a> {
    pub desktop_id: &'a str,
    pub tags: Vec<TagRef<'a>>,
}

/// An error as the service described it: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
    /// `error_detail`, truncated like the message.
    pub detail: Option<String>,
    /// `encoded_authorization_message`, kept whole (STS needs every byte) up to
    /// `MAX_ENCODED_CHARS`.
    pub encoded: Option<String>,
}

/// Longest encoded authorization message kept; a longer one is dropped, not cut.
const MAX_ENCODED_CHARS: usize = 16 * 1024;

/// The string value of the first `name` key in `value` or its nested objects.
fn find_key(value: &Value, name: &str, depth: usize) -> Option<String> {
    let Value::Object(map) = value else {
        return None;
    };
    if let Some(Value::String(s)) = map.get(name) {
        return Some(s.clone()).filter(|s| !s.trim().is_empty());
    }
    if depth >= 8 {
        return None;
    }
    map.values().find_map(|v| find_key(v, name, depth + 1))
}

/// Longest error message kept from a response body, in characters.
const MAX_ERROR_CHARS: usize = 500;

/// Decodes an error body the way the SDK does: `error_code`+`error_msg`, then
/// `errorCode`+`errorMsg`, then `code`+`message`, then the same inside nested objects; else the
/// HTTP status as the code and the raw body (truncated) — or the status text — as the message.
pub(crate) fn decode_error(status: u16, reason: Option<&str>, body: &[u8]) -> ErrorBody {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some((code, message)) = find_error(&value, 0) {
            return ErrorBody {
                code: truncate(&code),
                message: truncate(&message),
                detail: find_key(&value, "error_detail", 0).map(|d| truncate(&d)),
                encoded: find_key(&value, "encoded_authorization_message", 0)
                    .filter(|e| e.chars().count() <= MAX_ENCODED_CHARS),
            };
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        reason.unwrap_or("no response body").to_string()
    } else {
        truncate(text)
    };
    ErrorBody {
        code: status.to_string(),
        message,
        detail: None,
        encoded: None,
    }
}

fn find_error(value: &Value, depth: usize) -> Option<(String, String)> {
    let Value::Object(map) = value else {
        return None;
    };
    for (code, message) in [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ] {
        if let (Some(c), Some(m)) = (map.get(code), map.get(message)) {
            if let (Some(c), Some(m)) = (scalar(c), scalar(m)) {
                return Some((c, m));
            }
        }
    }
    // Bound the recursion: a hostile body must not blow the stack.
    if depth >= 8 {
        return None;
    }
    map.values().find_map(|v| find_error(v, depth + 1))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(MAX_ERROR_CHARS).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_detail_and_the_encoded_refusal_are_kept() {
        let body = br#"{"error_code":"WKS.0403","error_msg":"Policy doesn't allow it","error_detail":"explicit deny","encoded_authorization_message":"ENC123"}"#;
        let e = decode_error(403, None, body);
        assert_eq!(e.detail.as_deref(), Some("explicit deny"));
        assert_eq!(e.encoded.as_deref(), Some("ENC123"));
        let huge = format!(
            r#"{{"error_code":"X","error_msg":"m","encoded_authorization_message":"{}"}}"#,
            "E".repeat(MAX_ENCODED_CHARS + 1)
        );
        assert_eq!(decode_error(403, None, huge.as_bytes()).encoded, None);
        assert_eq!(decode_error(500, None, b"oops").detail, None);
    }

    #[test]
    fn desktop_decodes_tags_with_missing_and_null_values() {
        let body = br#"{"total_count":1,"desktops":[{"desktop_id":"d1","computer_name":"FIN-1",
            "user_name":"alice","enterprise_project_id":"ep-1","status":"ACTIVE","extra":{"x":1},
            "tags":[{"key":"env","value":"dev"},{"key":"empty"},{"key":"null","value":null}]}]}"#;
        let page: ListDesktopsResponse = serde_json::from_slice(body).unwrap();
        assert_eq!(page.total_count, Some(1));
        let d: Desktop = page.desktops.unwrap().pop().unwrap().into();
        assert_eq!(d.id, "d1");
        assert_eq!(d.name, "FIN-1");
        assert_eq!(d.user.as_deref(), Some("alice"));
        assert_eq!(d.enterprise_project_id.as_deref(), Some("ep-1"));
        assert_eq!(d.status, "ACTIVE");
        assert_eq!(
            d.tags,
            Tags::from([
                ("empty".into(), "".into()),
                ("env".into(), "dev".into()),
                ("null".into(), "".into())
            ])
        );
    }

    #[test]
    fn desktop_without_optional_fields_decodes() {
        let page: ListDesktopsResponse =
            serde_json::from_slice(br#"{"desktops":[{"desktop_id":"d2","tags":null}]}"#).unwrap();
        let d: Desktop = page.desktops.unwrap().pop().unwrap().into();
        assert_eq!((d.name.as_str(), d.user, d.tags.len()), ("", None, 0));
    }

    #[test]
    fn request_bodies_are_compact_and_deletes_key_only() {
        let create = CreateTagRequest {
            tag: TagRef {
                key: "env",
                value: Some("prod"),
            },
        };
        assert_eq!(
            serde_json::to_string(&create).unwrap(),
            r#"{"tag":{"key":"env","value":"prod"}}"#
        );
        let delete = ChangeTagsRequest {
            action: "delete",
            tags: vec![TagRef {
                key: "obsolete",
                value: None,
            }],
        };
        assert_eq!(
            serde_json::to_string(&delete).unwrap(),
            r#"{"action":"delete","tags":[{"key":"obsolete"}]}"#
        );
    }

    #[test]
    fn error_bodies_decode_in_sdk_order() {
        let cases: [(&[u8], &str, &str); 6] = [
            (
                br#"{"error_code":"WKS.0001","error_msg":"empty"}"#,
                "WKS.0001",
                "empty",
            ),
            (
                br#"{"errorCode":"APIGW.0301","errorMsg":"bad sig"}"#,
                "APIGW.0301",
                "bad sig",
            ),
            (br#"{"code":400,"message":"nope"}"#, "400", "nope"),
            (
                br#"{"error":{"code":"X.1","message":"nested"}}"#,
                "X.1",
                "nested",
            ),
            (
                br#"{"code":"C","message":"m","error_code":"E","error_msg":"first"}"#,
                "E",
                "first",
            ),
            (
                b"<html>bad gateway</html>",
                "502",
                "<html>bad gateway</html>",
            ),
        ];
        for (body, code, msg) in cases {
            let e = decode_error(502, Some("Bad Gateway"), body);
            assert_eq!((e.code.as_str(), e.message.as_str()), (code, msg));
        }
    }

    #[test]
    fn empty_error_body_falls_back_to_the_status_text() {
        let e = decode_error(503, Some("Service Unavailable"), b"");
        assert_eq!(e.code, "503");
        assert_eq!(e.message, "Service Unavailable");
    }

    #[test]
    fn long_error_bodies_are_truncated() {
        let body = "x".repeat(5000);
        let e = decode_error(500, None, body.as_bytes());
        assert_eq!(e.message.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(e.message.ends_with('…'));
    }
}
