//! Which Workspace tag API a request is for: the method and raw path matched to an `Op` with its
//! project and desktop ids and tag key, percent-decoded as the service decodes them. Pure.

use axum::http::Method;
use percent_encoding::percent_decode_str;

use super::errors::ServiceError;

/// Which API a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    List,
    ShowTags {
        id: String,
    },
    CreateTag {
        id: String,
    },
    BatchTags {
        id: String,
    },
    DeleteTag {
        id: String,
        key: String,
    },
    /// `POST …/desktops/batch-tags`: create or overwrite tags on many desktops.
    BatchAdd,
    /// `DELETE …/desktops/batch-tags` with a JSON body: delete keys from many desktops.
    BatchDelete,
}

impl Op {
    pub(super) fn desktop_id(&self) -> Option<&str> {
        match self {
            Op::List | Op::BatchAdd | Op::BatchDelete => None,
            Op::ShowTags { id }
            | Op::CreateTag { id }
            | Op::BatchTags { id }
            | Op::DeleteTag { id, .. } => Some(id),
        }
    }

    /// The IAM action the call needs (what a deny rule names).
    pub(super) fn action(&self) -> &'static str {
        match self {
            Op::List => "workspace:desktops:list",
            Op::ShowTags { .. } => "workspace:desktops:listTags",
            Op::CreateTag { .. } | Op::BatchTags { .. } => "workspace:desktops:tag",
            Op::DeleteTag { .. } => "workspace:desktops:untag",
            Op::BatchAdd => "workspace:desktops:batchTag",
            Op::BatchDelete => "workspace:desktops:batchUntag",
        }
    }

    pub(super) fn is_write(&self) -> bool {
        matches!(
            self,
            Op::CreateTag { .. }
                | Op::BatchTags { .. }
                | Op::DeleteTag { .. }
                | Op::BatchAdd
                | Op::BatchDelete
        )
    }
}

fn decode_lossy(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Matches method and raw path to an API: `(project id, op)`.
pub(super) fn route(method: &Method, path: &str) -> Result<(String, Op), ServiceError> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let not_found = || ServiceError::not_an_api(method.as_str(), path);
    let (pid, rest) = match segments.as_slice() {
        ["v2", pid, "desktops", rest @ ..] if !pid.is_empty() => (decode_lossy(pid), rest),
        _ => return Err(not_found()),
    };
    let op = match (method, rest) {
        (&Method::GET, []) => Op::List,
        (&Method::POST, ["batch-tags"]) => Op::BatchAdd,
        (&Method::DELETE, ["batch-tags"]) => Op::BatchDelete,
        (&Method::GET, [id, "tags"]) if !id.is_empty() => Op::ShowTags {
            id: decode_lossy(id),
        },
        (&Method::POST, [id, "tags"]) if !id.is_empty() => Op::CreateTag {
            id: decode_lossy(id),
        },
        (&Method::POST, [id, "tags", "action"]) if !id.is_empty() => Op::BatchTags {
            id: decode_lossy(id),
        },
        (&Method::DELETE, [id, "tags", key]) if !id.is_empty() => {
            let key = percent_decode_str(key).decode_utf8().map_err(|_| {
                ServiceError::bad_request(format!(
                    "the tag key in the path `{key}` is not percent-encoded UTF-8"
                ))
            })?;
            Op::DeleteTag {
                id: decode_lossy(id),
                key: key.into_owned(),
            }
        }
        _ => return Err(not_found()),
    };
    Ok((pid, op))
}

/// Query pairs, percent-decoded (`+` stays `+`, as the SDK encodes a space as `%20`).
pub(super) fn decode_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_lossy(k), decode_lossy(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_the_real_paths() {
        let r = |m: Method, p: &str| route(&m, p);
        assert_eq!(
            r(Method::GET, "/v2/p/desktops").unwrap(),
            ("p".into(), Op::List)
        );
        assert_eq!(
            r(Method::POST, "/v2/p/desktops/d/tags/action").unwrap().1,
            Op::BatchTags { id: "d".into() }
        );
        assert_eq!(
            r(Method::DELETE, "/v2/p/desktops/d/tags/cost%20center%3Aa")
                .unwrap()
                .1,
            Op::DeleteTag {
                id: "d".into(),
                key: "cost center:a".into()
            }
        );
        assert_eq!(
            r(Method::DELETE, "/v2/p/desktops/d/tags/action").unwrap().1,
            Op::DeleteTag {
                id: "d".into(),
                key: "action".into()
            }
        );
        assert_eq!(
            r(Method::POST, "/v2/p/desktops/batch-tags").unwrap().1,
            Op::BatchAdd
        );
        assert_eq!(
            r(Method::DELETE, "/v2/p/desktops/batch-tags").unwrap().1,
            Op::BatchDelete
        );
        for (m, p) in [
            (Method::GET, "/v2/p/desktops/batch-tags"),
            (Method::PUT, "/v2/p/desktops/batch-tags"),
            (Method::PUT, "/v2/p/desktops/d/tags"),
            (Method::GET, "/v2/p/desktops/"),
            (Method::GET, "/v3/p/desktops"),
            (Method::GET, "/v2/p/desktops/d/tags/x"),
            (Method::DELETE, "/v2/p/desktops/d/tags"),
        ] {
            assert_eq!(r(m, p).unwrap_err().code, "APIGW.0101", "{p}");
        }
        let err = r(Method::DELETE, "/v2/p/desktops/d/tags/%FF").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn query_decoding_keeps_plus_and_repeats() {
        assert_eq!(
            decode_query(Some("desktop_id=a&desktop_id=b&k=a%20b+c&flag")),
            vec![
                ("desktop_id".into(), "a".into()),
                ("desktop_id".into(), "b".into()),
                ("k".into(), "a b+c".into()),
                ("flag".into(), "".into())
            ]
        );
        assert!(decode_query(None).is_empty());
    }
}
