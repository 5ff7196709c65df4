//! The real `api::Client` against a small recording axum server on 127.0.0.1:0: signatures are
//! verified on the server from the bytes received, and paging, id chunking, retries, encoding,
//! limits and secret hygiene are checked from what the server saw.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use desktag::report::ErrorInfo;
use desktag_api::{
    sign, ApiError, Client, ClientOptions, Connection, ConnectionArgs, DesktopTags, ManifestScope,
    TagAction,
};
use desktag_core::tags::Tags;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::server::{Recorded, Server as RecordingServer};

const AK: &str = "HPUAEXAMPLEAK0000001";
const SK: &str = "exampleSecretKey0123456789abcdefghijklmn";
const TOKEN: &str = "MIIEXAMPLE-iam-token-value-0123456789";
const PID: &str = "0123456789abcdef0123456789abcdef";
const DESK: &str = "d1e2f3a4-0000-1111-2222-333344445555";

enum Auth {
    AkSk(&'static str),
    Token(&'static str),
}

/// The recording server (`support::server`) with this suite's auth check in front of the
/// responder: an unauthenticated request gets the gateway's 401.
struct Server;

impl Server {
    async fn start(
        auth: Auth,
        latency: Duration,
        respond: impl Fn(&Recorded, usize) -> Response + Send + Sync + 'static,
    ) -> RecordingServer {
        RecordingServer::start(latency, move |recorded, index| {
            if authenticated(&auth, recorded) {
                respond(recorded, index)
            } else {
                with_request_id(
                    json_response(
                        401,
                        json!({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information: verify aksk signature fail"}),
                    ),
                    "req-401",
                )
            }
        })
        .await
    }
}

/// The server side of auth: the signature recomputed from the received bytes, or the token.
fn authenticated(auth: &Auth, r: &Recorded) -> bool {
    match auth {
        Auth::AkSk(sk) => {
            let Some(parsed) = r
                .header("authorization")
                .and_then(sign::parse_authorization)
            else {
                return false;
            };
            let query = r.query_pairs();
            let req = sign::Signable {
                method: &r.method,
                path: &r.path,
                query: &query,
                headers: &r.headers,
                body: &r.body,
            };
            parsed.access == AK && sign::verify(sk, &parsed, &req)
        }
        Auth::Token(token) => r.header("x-auth-token") == Some(token),
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn empty(status: u16) -> Response {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap()
}

fn with_request_id(mut response: Response, id: &str) -> Response {
    response
        .headers_mut()
        .insert("x-request-id", id.parse().unwrap());
    response
}

fn desktop_json(i: usize) -> Value {
    json!({
        "desktop_id": format!("desk-{i:05}"),
        "computer_name": format!("WKS-{i:05}"),
        "user_name": "alice",
        "status": "ACTIVE",
        "tags": [{"key": "n", "value": i.to_string()}, {"key": "empty"}]
    })
}

fn options() -> ClientOptions {
    ClientOptions {
        user_agent: "desktag-test".into(),
        ..ClientOptions::default()
    }
}

/// A client resolved the way the CLI resolves it, with AK/SK from the environment.
fn aksk_client(server: &RecordingServer, options: ClientOptions) -> Client {
    let args = ConnectionArgs {
        endpoint: Some(server.base.clone()),
        ..Default::default()
    };
    let env = |name: &str| match name {
        "HUAWEICLOUD_SDK_AK" => Some(AK.to_string()),
        "HUAWEICLOUD_SDK_SK" => Some(SK.to_string()),
        "HW_PROJECT_ID" => Some(PID.to_string()),
        _ => None,
    };
    let connection = Connection::resolve(&args, ManifestScope::default(), env).unwrap();
    Client::new(connection, options).unwrap()
}

fn token_client(server: &RecordingServer) -> Client {
    let args = ConnectionArgs {
        endpoint: Some(server.base.clone()),
        project_id: Some(PID.into()),
        ..Default::default()
    };
    let env = |name: &str| (name == "HW_AUTH_TOKEN").then(|| TOKEN.to_string());
    Client::new(
        Connection::resolve(&args, ManifestScope::default(), env).unwrap(),
        options(),
    )
    .unwrap()
}

fn ok_responder(r: &Recorded, _: usize) -> Response {
    if r.method == "GET" && r.path.ends_with("/desktops") {
        let ids = r.query_values("desktop_id");
        json_response(200, json!({"total_count": ids.len(), "desktops": []}))
    } else if r.method == "GET" {
        json_response(
            200,
            json!({"tags": [{"key": "env", "value": "prod"}, {"key": "owner", "value": ""}]}),
        )
    } else {
        empty(204)
    }
}

#[tokio::test]
async fn every_signed_request_verifies_on_the_server_from_the_wire_bytes() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let client = aksk_client(&server, options());
    let started = time::OffsetDateTime::now_utc();

    assert_eq!(client.create_tag(DESK, "env", "prod").await.unwrap(), 1);
    assert_eq!(client.delete_tag(DESK, "legacy").await.unwrap(), 1);
    let batch = Tags::from([("a".into(), "1".into()), ("b".into(), "".into())]);
    client
        .change_tags(DESK, TagAction::Create, &batch)
        .await
        .unwrap();
    client
        .change_tags(DESK, TagAction::Delete, &batch)
        .await
        .unwrap();
    client.list_desktops().await.unwrap();
    client
        .read_desktops(&["b-id".into(), "a-id".into()])
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    for r in &requests {
        // Every one passed verification (a failure would have been a 401 and an Err above).
        assert_eq!(
            r.header("host"),
            Some(format!("127.0.0.1:{}", server.port()).as_str())
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-project-id"), Some(PID));
        assert_eq!(r.header("user-agent"), Some("desktag-test"));
        assert!(r.header("x-auth-token").is_none());
        let date = sign::parse_sdk_date(r.header("x-sdk-date").unwrap()).unwrap();
        assert!((date - started).whole_seconds().abs() <= 60);
        let auth = sign::parse_authorization(r.header("authorization").unwrap()).unwrap();
        assert_eq!(
            auth.signed_headers.join(";"),
            "content-type;host;user-agent;x-project-id;x-sdk-date"
        );
    }
    let create = &requests[0];
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, format!("/v2/{PID}/desktops/{DESK}/tags"));
    assert_eq!(create.body, br#"{"tag":{"key":"env","value":"prod"}}"#);
    assert_eq!(requests[1].method, "DELETE");
    assert_eq!(
        requests[1].path,
        format!("/v2/{PID}/desktops/{DESK}/tags/legacy")
    );
    assert!(requests[1].body.is_empty());
    assert_eq!(
        requests[2].path,
        format!("/v2/{PID}/desktops/{DESK}/tags/action")
    );
    assert_eq!(
        requests[2].body,
        br#"{"action":"create","tags":[{"key":"a","value":"1"},{"key":"b","value":""}]}"#
    );
    assert_eq!(
        requests[3].body,
        br#"{"action":"delete","tags":[{"key":"a"},{"key":"b"}]}"#
    );
    // The wire query is the canonical query: sorted and encoded with the signer's rules.
    assert_eq!(requests[4].query.as_deref(), Some("limit=1000&offset=0"));
    assert_eq!(
        requests[5].query.as_deref(),
        Some("desktop_id=a-id&desktop_id=b-id&limit=1000&offset=0")
    );
}

#[tokio::test]
async fn batch_tag_writes_send_the_documented_bodies_and_refuse_oversized_calls() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let client = aksk_client(&server, options());
    let items = vec![
        DesktopTags {
            desktop_id: "d-1".into(),
            tags: Tags::from([("env".into(), "prod".into()), ("team".into(), "".into())]),
        },
        DesktopTags {
            desktop_id: "d-2".into(),
            tags: Tags::from([("env".into(), "dev".into())]),
        },
    ];
    assert_eq!(client.batch_create_tags(&items).await.unwrap(), 1);
    assert_eq!(client.batch_delete_tags(&items).await.unwrap(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, format!("/v2/{PID}/desktops/batch-tags"));
    assert_eq!(
        String::from_utf8_lossy(&requests[0].body),
        r#"{"desktops":[{"desktop_id":"d-1","tags":[{"key":"env","value":"prod"},{"key":"team","value":""}]},{"desktop_id":"d-2","tags":[{"key":"env","value":"dev"}]}]}"#
    );
    // A DELETE with a signed JSON body, keys only.
    assert_eq!(requests[1].method, "DELETE");
    assert_eq!(requests[1].path, format!("/v2/{PID}/desktops/batch-tags"));
    assert_eq!(
        String::from_utf8_lossy(&requests[1].body),
        r#"{"desktops":[{"desktop_id":"d-1","tags":[{"key":"env"},{"key":"team"}]},{"desktop_id":"d-2","tags":[{"key":"env"}]}]}"#
    );

    // Above the documented caps (or empty) nothing is sent.
    let one_tag = Tags::from([("k".into(), "v".into())]);
    let too_many_desktops: Vec<DesktopTags> = (0..=desktag_api::BATCH_MAX_DESKTOPS)
        .map(|i| DesktopTags {
            desktop_id: format!("d-{i}"),
            tags: one_tag.clone(),
        })
        .collect();
    let too_many_tags = vec![DesktopTags {
        desktop_id: "d-1".into(),
        tags: (0..=desktag_api::BATCH_MAX_TAGS)
            .map(|i| (format!("k{i}").into(), "v".into()))
            .collect(),
    }];
    let no_id = vec![DesktopTags {
        desktop_id: String::new(),
        tags: one_tag.clone(),
    }];
    for items in [&too_many_desktops, &too_many_tags, &no_id, &Vec::new()] {
        let err = client.batch_create_tags(items).await.unwrap_err();
        assert_eq!(err.attempts, 0);
        assert!(matches!(err.error, ApiError::InvalidArgument(_)), "{err}");
        let err = client.batch_delete_tags(items).await.unwrap_err();
        assert_eq!(err.attempts, 0);
    }
    // Exactly at the caps is fine.
    client
        .batch_create_tags(&too_many_desktops[..desktag_api::BATCH_MAX_DESKTOPS])
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_refused_batch_exposes_the_status() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, _| {
        json_response(
            403,
            json!({"error_code": "WKS.0403", "error_msg": "not allowed"}),
        )
    })
    .await;
    let client = aksk_client(&server, options());
    let items = [DesktopTags {
        desktop_id: "d-1".into(),
        tags: Tags::from([("env".into(), "prod".into())]),
    }];
    let err = client.batch_create_tags(&items).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.attempts, 1);
}

#[tokio::test]
async fn the_signature_matches_a_canonical_request_built_independently() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let client = aksk_client(&server, options());
    client.read_desktops(&["部门 A".into()]).await.unwrap();
    let r = &server.requests()[0];
    let date = r.header("x-sdk-date").unwrap();
    // Written out by hand from the SDK-HMAC-SHA256 rules, without the crate's signer.
    let canonical = format!(
        "GET\n/v2/{PID}/desktops/\ndesktop_id=%E9%83%A8%E9%97%A8%20A&limit=1000&offset=0\n\
         content-type:application/json\nhost:127.0.0.1:{port}\nuser-agent:desktag-test\n\
         x-project-id:{PID}\nx-sdk-date:{date}\n\n\
         content-type;host;user-agent;x-project-id;x-sdk-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        port = server.port()
    );
    let string_to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SK.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let expected = format!(
        "SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, Signature={}",
        hex::encode(mac.finalize().into_bytes())
    );
    assert_eq!(r.header("authorization"), Some(expected.as_str()));
}

#[tokio::test]
async fn a_security_token_is_sent_and_signed() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let args = ConnectionArgs {
        endpoint: Some(server.base.clone()),
        project_id: Some(PID.into()),
        ..Default::default()
    };
    let env = |name: &str| match name {
        "HW_ACCESS_KEY" => Some(AK.to_string()),
        "HW_SECRET_KEY" => Some(SK.to_string()),
        "HW_SECURITY_TOKEN" => Some("STS-TEMPORARY-TOKEN".to_string()),
        _ => None,
    };
    let client = Client::new(
        Connection::resolve(&args, ManifestScope::default(), env).unwrap(),
        options(),
    )
    .unwrap();
    client.create_tag(DESK, "env", "dev").await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.header("x-security-token"), Some("STS-TEMPORARY-TOKEN"));
    let auth = sign::parse_authorization(r.header("authorization").unwrap()).unwrap();
    assert!(auth
        .signed_headers
        .contains(&"x-security-token".to_string()));
}

#[tokio::test]
async fn token_auth_sends_x_auth_token_and_no_authorization() {
    let server = Server::start(Auth::Token(TOKEN), Duration::ZERO, ok_responder).await;
    let client = token_client(&server);
    client.create_tag(DESK, "env", "prod").await.unwrap();
    client.list_desktops().await.unwrap();
    for r in server.requests() {
        assert_eq!(r.header("x-auth-token"), Some(TOKEN));
        assert!(r.header("authorization").is_none());
        assert_eq!(r.header("x-project-id"), Some(PID));
        assert!(r.header("x-sdk-date").is_some());
    }
}

#[tokio::test]
async fn a_rejected_signature_is_a_clear_401_with_a_credentials_hint_and_no_retry() {
    let server = Server::start(
        Auth::AkSk("another-secret-key"),
        Duration::ZERO,
        ok_responder,
    )
    .await;
    let client = aksk_client(&server, options());
    let err = client.create_tag(DESK, "env", "prod").await.unwrap_err();
    assert_eq!(err.attempts, 1);
    assert_eq!(server.requests().len(), 1);
    let msg = err.error.to_string();
    assert!(msg.starts_with("the service answered 401 Unauthorized: APIGW.0301: Incorrect IAM authentication information"), "{msg}");
    assert!(msg.contains("(request id req-401)"), "{msg}");
    assert!(msg.contains("hint: the credentials were rejected"), "{msg}");
    assert!(!msg.contains(SK) && !msg.contains("Signature="), "{msg}");
    let info = ErrorInfo::from(&err.error);
    assert_eq!(info.status, Some(401));
    assert_eq!(info.error_code.as_deref(), Some("APIGW.0301"));
    assert_eq!(info.request_id.as_deref(), Some("req-401"));
    // Reads give the same error, without the attempt count.
    let err = client.list_desktops().await.unwrap_err();
    assert!(matches!(err, ApiError::Service { status: 401, .. }));
}

fn paging_responder(total: usize) -> impl Fn(&Recorded, usize) -> Response {
    move |r, _| {
        let offset: usize = r.query_values("offset")[0].parse().unwrap();
        let limit: usize = r.query_values("limit")[0].parse().unwrap();
        let page: Vec<Value> = (offset..total.min(offset + limit))
            .map(desktop_json)
            .collect();
        json_response(200, json!({"total_count": total, "desktops": page}))
    }
}

#[tokio::test]
async fn listing_pages_through_2500_desktops_in_3_requests() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, paging_responder(2500)).await;
    let client = aksk_client(&server, options());
    let desktops = client.list_desktops().await.unwrap();
    assert_eq!(desktops.len(), 2500);
    assert_eq!(desktops[0].id, "desk-00000");
    assert_eq!(desktops[2499].id, "desk-02499");
    assert_eq!(desktops[7].name, "WKS-00007");
    assert_eq!(desktops[7].user.as_deref(), Some("alice"));
    assert_eq!(desktops[7].tags.get("n").map(|v| v.as_str()), Some("7"));
    assert_eq!(desktops[7].tags.get("empty").map(|v| v.as_str()), Some(""));
    let offsets: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.query_values("offset")[0].clone())
        .collect();
    assert_eq!(offsets, ["0", "1000", "2000"]);
    assert_eq!(client.stats().requests, 3);
}

#[tokio::test]
async fn listing_stops_at_an_empty_page_even_if_the_total_says_more() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |r: &Recorded, _| {
        let offset: usize = r.query_values("offset")[0].parse().unwrap();
        let page: Vec<Value> = if offset == 0 {
            (0..3).map(desktop_json).collect()
        } else {
            vec![]
        };
        json_response(200, json!({"total_count": 5000, "desktops": page}))
    })
    .await;
    let client = aksk_client(&server, options());
    assert_eq!(client.list_desktops().await.unwrap().len(), 3);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn listing_that_never_ends_stops_with_an_error_after_1000_pages() {
    // One new desktop per page and a huge total: an honest client would page forever. (After
    // 5000 pages the server gives up, so a client without the bound ends with Ok.)
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |r: &Recorded, index| {
        let offset: usize = r.query_values("offset")[0].parse().unwrap();
        let page = if index < 5000 {
            vec![desktop_json(offset)]
        } else {
            vec![]
        };
        json_response(
            200,
            json!({"total_count": 1_000_000_000_000u64, "desktops": page}),
        )
    })
    .await;
    let err = listing_error(&server).await;
    assert!(matches!(err, ApiError::Paging { .. }), "{err}");
    assert!(err.to_string().contains("1000 pages"), "{err}");
    assert_eq!(server.requests().len(), 1000);
}

#[tokio::test]
async fn listing_more_desktops_than_the_total_count_is_an_error() {
    // Full pages of new desktops while the total says 1500.
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |r: &Recorded, _| {
        let offset: usize = r.query_values("offset")[0].parse().unwrap();
        let page: Vec<Value> = (offset..offset + 1000).map(desktop_json).collect();
        json_response(200, json!({"total_count": 1500, "desktops": page}))
    })
    .await;
    let err = listing_error(&server).await;
    let msg = err.to_string();
    assert!(
        matches!(err, ApiError::Paging { .. }) && msg.contains("2000") && msg.contains("1500"),
        "{msg}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn listing_a_repeated_page_is_an_error() {
    // The server ignores `offset`.
    let server = first_page_always(5000).await;
    let err = listing_error(&server).await;
    assert!(matches!(err, ApiError::Paging { .. }), "{err}");
    assert!(err.to_string().contains("offset 1000"), "{err}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn listing_by_id_chunks_250_ids_into_3_requests_of_at_most_100() {
    // The service knows every id except those divisible by 10, in a project of 100,000 desktops
    // (so reading 250 by id is cheaper than listing; the first page of the listing tells).
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |r: &Recorded, _| {
        let ids = r.query_values("desktop_id");
        if ids.is_empty() {
            let page: Vec<Value> = (0..1000).map(desktop_json).collect();
            return json_response(200, json!({"total_count": 100_000, "desktops": page}));
        }
        let found: Vec<Value> = ids
            .iter()
            .map(|id| id.trim_start_matches("desk-").parse::<usize>().unwrap())
            .filter(|i| i % 10 != 0)
            .map(desktop_json)
            .collect();
        json_response(200, json!({"total_count": found.len(), "desktops": found}))
    })
    .await;
    let client = aksk_client(&server, options());
    let mut ids: Vec<String> = (0..250).map(|i| format!("desk-{i:05}")).collect();
    ids.push("desk-00001".into()); // a duplicate is asked for once
    let desktops = client.read_desktops(&ids).await.unwrap();
    assert_eq!(desktops.len(), 225);
    assert!(desktops.windows(2).all(|w| w[0].id < w[1].id));
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests[0].query_values("desktop_id").is_empty());
    let mut asked = BTreeSet::new();
    for r in &requests[1..] {
        let chunk = r.query_values("desktop_id");
        assert!(!chunk.is_empty() && chunk.len() <= 100, "{}", chunk.len());
        asked.extend(chunk);
    }
    assert_eq!(asked.len(), 250);
    assert!(client.read_desktops(&[]).await.unwrap().is_empty());
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_429_then_a_500_are_retried_and_the_attempts_counted() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, i| match i {
        0 => json_response(429, json!({"error_code": "APIG.0308", "error_msg": "The throttling threshold has been reached"})),
        1 => json_response(500, json!({"error_code": "WKS.0500", "error_msg": "internal error"})),
        _ => empty(204),
    })
    .await;
    let client = aksk_client(&server, options());
    assert_eq!(client.create_tag(DESK, "env", "prod").await.unwrap(), 3);
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries), (3, 2));
    // Every attempt was signed afresh and verified.
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn persistent_503_gives_up_after_max_attempts_with_the_last_error() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, _| {
        with_request_id(
            json_response(503, json!({"code": "WKS.0503", "message": "busy"})),
            "req-503",
        )
    })
    .await;
    let client = aksk_client(
        &server,
        ClientOptions {
            max_attempts: 3,
            ..options()
        },
    );
    let err = client.delete_tag(DESK, "env").await.unwrap_err();
    assert_eq!(err.attempts, 3);
    assert_eq!(server.requests().len(), 3);
    assert!(matches!(
        &err.error,
        ApiError::Service { status: 503, error_code, error_msg, request_id, .. }
            if error_code == "WKS.0503" && error_msg == "busy" && request_id.as_deref() == Some("req-503")
    ));
    assert!(err.to_string().ends_with("(after 3 attempts)"), "{err}");
}

#[tokio::test]
async fn client_errors_400_and_404_are_not_retried() {
    for status in [400u16, 404] {
        let server = Server::start(Auth::AkSk(SK), Duration::ZERO, move |_: &Recorded, _| {
            json_response(
                status,
                json!({"error_code": "WKS.0001", "error_msg": "bad"}),
            )
        })
        .await;
        let client = aksk_client(&server, options());
        let err = client.create_tag(DESK, "env", "prod").await.unwrap_err();
        assert_eq!(err.attempts, 1, "{status}");
        assert_eq!(server.requests().len(), 1, "{status}");
        assert_eq!(client.stats().retries, 0);
        assert_eq!(err.error.status(), Some(status));
    }
}

#[tokio::test]
async fn retry_after_one_second_is_respected() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, i| {
        if i == 0 {
            let mut r = json_response(
                429,
                json!({"error_code": "APIG.0308", "error_msg": "slow down"}),
            );
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            r
        } else {
            empty(204)
        }
    })
    .await;
    let client = aksk_client(&server, options());
    assert_eq!(client.create_tag(DESK, "env", "prod").await.unwrap(), 2);
    let requests = server.requests();
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(950), "{gap:?}");
}

#[tokio::test]
async fn a_key_with_space_colon_and_unicode_is_deleted_percent_encoded() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let client = aksk_client(&server, options());
    client.delete_tag(DESK, "cost center:部门+@").await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(
        r.path,
        format!("/v2/{PID}/desktops/{DESK}/tags/cost%20center%3A%E9%83%A8%E9%97%A8%2B%40")
    );
    assert_eq!(r.header("content-length").unwrap_or("0"), "0");
}

#[tokio::test]
async fn bad_json_in_a_2xx_is_a_decode_error() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, _| {
        with_request_id(
            Response::builder()
                .status(200)
                .body(Body::from("<html>"))
                .unwrap(),
            "req-html",
        )
    })
    .await;
    let err = listing_error(&server).await;
    assert!(matches!(err, ApiError::Decode { status: 200, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("list of desktops") && msg.contains("req-html"),
        "{msg}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// A body that never ends: 64 KiB chunks of `fill` after `prefix`.
fn endless_body(status: u16, prefix: &'static str, fill: u8) -> Response {
    let head = futures::stream::once(async move { Ok(axum::body::Bytes::from(prefix)) });
    let rest =
        futures::stream::repeat_with(move || Ok(axum::body::Bytes::from(vec![fill; 64 * 1024])));
    Response::builder()
        .status(status)
        .body(Body::from_stream(
            head.chain(rest)
                .map(|chunk: Result<_, std::io::Error>| chunk),
        ))
        .unwrap()
}

#[tokio::test]
async fn an_endless_2xx_body_fails_at_the_cap_without_a_retry() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, _| {
        endless_body(200, "{\"tags\": [", b' ')
    })
    .await;
    // Without a cap the read would run into this timeout (and be retried).
    let client = aksk_client(
        &server,
        ClientOptions {
            max_attempts: 3,
            timeout: Duration::from_secs(10),
            ..options()
        },
    );
    let err = client.create_tag(DESK, "env", "prod").await.unwrap_err();
    assert!(
        matches!(&err.error, ApiError::TooLarge { method, limit, .. }
            if method == "POST" && *limit == 32 * 1024 * 1024),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("32 MiB") && msg.contains(&format!("/desktops/{DESK}/tags")),
        "{msg}"
    );
    assert_eq!(err.attempts, 1);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_endless_error_body_is_cut_and_reported_as_the_service_error() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, |_: &Recorded, _| {
        endless_body(500, "upstream exploded: ", b'x')
    })
    .await;
    let client = aksk_client(
        &server,
        ClientOptions {
            max_attempts: 1,
            timeout: Duration::from_secs(10),
            ..options()
        },
    );
    let err = client.delete_tag(DESK, "env").await.unwrap_err();
    assert!(
        matches!(&err.error, ApiError::Service { status: 500, error_msg, .. }
            if error_msg.starts_with("upstream exploded: xxx")),
        "{err}"
    );
}

#[tokio::test]
async fn secrets_are_absent_from_debug_and_from_errors_even_when_echoed() {
    // A hostile or buggy server echoes everything it received into the error message.
    let server = Server::start(Auth::Token(TOKEN), Duration::ZERO, |r: &Recorded, _| {
        let echoed = format!("{:?}", r.headers);
        json_response(403, json!({"error_code": "WKS.0403", "error_msg": echoed}))
    })
    .await;
    let client = token_client(&server);
    let err = client.create_tag(DESK, "env", "prod").await.unwrap_err();
    let shown = format!(
        "{err} {err:?} {:?} {client:?} {:?}",
        ErrorInfo::from(&err.error),
        client.connection()
    );
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        shown.contains("hint: the credentials lack permission"),
        "{shown}"
    );

    let signed = Server::start(Auth::AkSk(SK), Duration::ZERO, |r: &Recorded, _| {
        json_response(
            400,
            json!({"error_code": "X", "error_msg": format!("{:?}", r.headers)}),
        )
    })
    .await;
    let client = aksk_client(&signed, options());
    let err = client.create_tag(DESK, "env", "prod").await.unwrap_err();
    let shown = format!("{err} {err:?} {client:?} {:?}", client.connection());
    assert!(!shown.contains(SK), "{shown}");
    assert!(!format!("{client:?} {:?}", client.connection()).contains(AK));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_as_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let args = ConnectionArgs {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        project_id: Some(PID.into()),
        ..Default::default()
    };
    let env = |name: &str| (name == "HW_AUTH_TOKEN").then(|| TOKEN.to_string());
    let client = Client::new(
        Connection::resolve(&args, ManifestScope::default(), env).unwrap(),
        ClientOptions {
            max_attempts: 2,
            ..options()
        },
    )
    .unwrap();
    let err = client.create_tag(DESK, "env", "prod").await.unwrap_err();
    assert_eq!(err.attempts, 2);
    assert!(matches!(err.error, ApiError::Connect { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("cannot connect to http://127.0.0.1:{port}")),
        "{msg}"
    );
    assert!(!msg.contains(TOKEN));
    assert_eq!(ErrorInfo::from(&err.error).status, None);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = Server::start(Auth::AkSk(SK), Duration::from_secs(5), ok_responder).await;
    let client = aksk_client(
        &server,
        ClientOptions {
            max_attempts: 1,
            timeout: Duration::from_millis(200),
            ..options()
        },
    );
    let err = client.list_desktops().await.unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out after 0.2s"), "{err}");
}

#[tokio::test]
async fn concurrency_is_bounded_across_the_whole_client() {
    let server = Server::start(Auth::AkSk(SK), Duration::from_millis(50), ok_responder).await;
    let client = aksk_client(
        &server,
        ClientOptions {
            concurrency: 3,
            ..options()
        },
    );
    let writes = (0..12).map(|i| {
        let c = client.clone();
        async move { c.create_tag(&format!("desk-{i}"), "env", "prod").await }
    });
    for result in futures::future::join_all(writes).await {
        assert_eq!(result.unwrap(), 1);
    }
    // The bound is what is tested; how close a loaded machine gets to it is not.
    let max = server.state.max_in_flight.load(Ordering::SeqCst);
    assert!((1..=3).contains(&max), "max in flight {max}");
    assert_eq!(client.stats().requests, 12);
}

#[tokio::test]
async fn the_rate_limit_spaces_requests_after_the_burst() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let client = aksk_client(
        &server,
        ClientOptions {
            rate: Some(5.0),
            ..options()
        },
    );
    let started = Instant::now();
    let writes = (0..8).map(|i| {
        let c = client.clone();
        async move { c.create_tag(&format!("desk-{i}"), "env", "prod").await }
    });
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
    // A burst of 5, then 3 more at 200 ms intervals.
    assert!(
        started.elapsed() >= Duration::from_millis(580),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_empty_desktop_id_is_refused_without_a_request() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, ok_responder).await;
    let client = aksk_client(&server, options());
    let err = client.create_tag("", "env", "prod").await.unwrap_err();
    assert_eq!(err.attempts, 0);
    assert!(matches!(err.error, ApiError::InvalidArgument(_)));
    assert!(server.requests().is_empty());
}

/// Lists the whole project through `server` and returns the error the listing must end in.
/// A service that ignores `offset`: every page is desktops 0–999 of a project of `total`.
async fn first_page_always(total: usize) -> RecordingServer {
    Server::start(Auth::AkSk(SK), Duration::ZERO, move |_: &Recorded, _| {
        let page: Vec<Value> = (0..1000).map(desktop_json).collect();
        json_response(200, json!({"total_count": total, "desktops": page}))
    })
    .await
}

async fn listing_error(server: &RecordingServer) -> ApiError {
    aksk_client(server, options())
        .list_desktops()
        .await
        .expect_err("listing must fail")
}

#[tokio::test]
async fn a_streamed_read_hands_over_the_same_desktops_as_a_collected_one_page_by_page() {
    let server = Server::start(Auth::AkSk(SK), Duration::ZERO, paging_responder(2500)).await;
    let client = aksk_client(&server, options());
    // 2,400 of 2,500: listing (3 pages) is cheaper than 24 reads by id.
    let ids: Vec<String> = (0..2400).map(|i| format!("desk-{i:05}")).collect();
    let collected = client.read_desktops(&ids).await.unwrap();
    let before = server.requests().len();
    let mut streamed = Vec::new();
    client
        .read_desktops_each(&ids, |d| streamed.push(d))
        .await
        .unwrap();
    assert_eq!(server.requests().len() - before, 3, "the same three pages");
    streamed.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(streamed, collected);
    assert_eq!(streamed.len(), 2400);
}

#[tokio::test]
async fn a_streamed_read_refuses_a_desktop_listed_twice() {
    // Every page is the first one again: desktop 0 comes back on the page at offset 1000.
    let server = first_page_always(2500).await;
    let client = aksk_client(&server, options());
    let ids: Vec<String> = (0..2400).map(|i| format!("desk-{i:05}")).collect();
    let error = client
        .read_desktops_each(&ids, |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("a second time"), "{error}");
}
