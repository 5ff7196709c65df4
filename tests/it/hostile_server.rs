//! The real client against a tiny hostile (or merely careless) server on 127.0.0.1: listings that
//! lack what the API promises, desktops listed twice, cheap reads at scale, and a server that
//! throttles like the real service. Each test starts and stops its own server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use desktag_api::{ApiError, Client, ClientOptions, Connection, ConnectionArgs, ManifestScope};
use serde_json::{json, Value};

use crate::support::server::{Recorded, Server as RecordingServer};

const PID: &str = "0123456789abcdef0123456789abcdef";

/// What a handler sees: method, path and decoded query pairs.
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
}

impl Seen {
    fn values(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn offset(&self) -> usize {
        self.values("offset")
            .first()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// The recording server of `support::server`, answering with a handler that sees only
/// method, path and query.
struct Hostile {
    server: RecordingServer,
}

impl Seen {
    fn of(r: &Recorded) -> Seen {
        Seen {
            method: r.method.clone(),
            path: r.path.clone(),
            query: r.query_pairs(),
        }
    }
}

impl Hostile {
    async fn start(handler: impl Fn(&Seen) -> Response + Send + Sync + 'static) -> Hostile {
        let server =
            RecordingServer::start(Duration::ZERO, move |r, _| handler(&Seen::of(r))).await;
        Hostile { server }
    }

    fn client(&self, options: ClientOptions) -> Client {
        let args = ConnectionArgs {
            endpoint: Some(self.server.base.clone()),
            project_id: Some(PID.into()),
            ..Default::default()
        };
        let env = |name: &str| (name == "HW_AUTH_TOKEN").then(|| "token-value".to_string());
        Client::new(
            Connection::resolve(&args, ManifestScope::default(), env).unwrap(),
            options,
        )
        .unwrap()
    }

    fn requests(&self) -> usize {
        self.server.requests().len()
    }
}

fn json_body(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn desktop(i: usize) -> Value {
    json!({"desktop_id": format!("desk-{i:06}"), "computer_name": format!("WKS-{i:06}"), "tags": []})
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("desk-{i:06}")).collect()
}

/// The error a whole-project listing and a small by-id read end in when every answer is `body`.
async fn both_reads_fail(body: Value) -> (ApiError, ApiError) {
    let server = Hostile::start(move |_| json_body(200, &body)).await;
    let client = server.client(ClientOptions::default());
    let listed = client.list_desktops().await.expect_err("listing must fail");
    let by_id = client
        .read_desktops(&ids(3))
        .await
        .expect_err("reading by id must fail");
    (listed, by_id)
}

#[tokio::test]
async fn an_empty_object_is_not_an_empty_project() {
    let (listed, by_id) = both_reads_fail(json!({})).await;
    for err in [listed, by_id] {
        assert!(matches!(err, ApiError::Decode { status: 200, .. }), "{err}");
        assert!(err.to_string().contains("total_count"), "{err}");
    }
}

#[tokio::test]
async fn null_total_and_null_desktops_are_not_an_empty_project() {
    let (listed, _) = both_reads_fail(json!({"total_count": null, "desktops": null})).await;
    assert!(matches!(listed, ApiError::Decode { .. }), "{listed}");
    let (listed, _) = both_reads_fail(json!({"total_count": 0, "desktops": null})).await;
    assert!(listed.to_string().contains("`desktops`"), "{listed}");
    let (listed, _) = both_reads_fail(json!({"desktops": [desktop(1)]})).await;
    assert!(listed.to_string().contains("`total_count`"), "{listed}");
}

#[tokio::test]
async fn a_desktop_listed_twice_in_one_page_is_an_error() {
    let (listed, by_id) =
        both_reads_fail(json!({"total_count": 2, "desktops": [desktop(1), desktop(1)]})).await;
    for err in [listed, by_id] {
        assert!(matches!(err, ApiError::Paging { .. }), "{err}");
        assert!(
            err.to_string().contains("desk-000001 a second time"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn an_empty_desktop_id_is_an_error() {
    let (listed, _) =
        both_reads_fail(json!({"total_count": 1, "desktops": [{"desktop_id": ""}]})).await;
    assert!(listed.to_string().contains("empty desktop_id"), "{listed}");
}

#[tokio::test]
async fn a_desktop_listed_again_on_a_later_page_is_an_error() {
    // Page two starts with the last desktop of page one (offsets shifted under the listing).
    let server = Hostile::start(|seen| {
        let offset = seen.offset();
        let start = offset.saturating_sub(usize::from(offset > 0));
        let page: Vec<Value> = (start..start + 1000).map(desktop).collect();
        json_body(200, &json!({"total_count": 3000, "desktops": page}))
    })
    .await;
    let client = server.client(ClientOptions::default());
    let err = client.list_desktops().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("offset 1000 listed desktop desk-000999 a second time"),
        "{err}"
    );
    // The concurrent listing behind a large read by id catches it too.
    let err = client.read_desktops(&ids(2000)).await.unwrap_err();
    assert!(matches!(err, ApiError::Paging { .. }), "{err}");
}

/// A project of `total` desktops that pages honestly and filters by id.
fn honest(total: usize) -> impl Fn(&Seen) -> Response {
    move |seen| {
        assert_eq!(seen.method, "GET", "{}", seen.path);
        let asked = seen.values("desktop_id");
        if asked.is_empty() {
            let offset = seen.offset();
            let page: Vec<Value> = (offset..total.min(offset + 1000)).map(desktop).collect();
            return json_body(200, &json!({"total_count": total, "desktops": page}));
        }
        assert!(asked.len() <= 100);
        let found: Vec<Value> = asked
            .iter()
            .filter_map(|id| id.strip_prefix("desk-")?.parse::<usize>().ok())
            .filter(|i| *i < total)
            .map(desktop)
            .collect();
        json_body(200, &json!({"total_count": found.len(), "desktops": found}))
    }
}

#[tokio::test]
async fn reading_100000_desktops_by_id_takes_at_most_101_requests() {
    let server = Hostile::start(honest(100_000)).await;
    let client = server.client(ClientOptions::default());
    let desktops = client.read_desktops(&ids(100_000)).await.unwrap();
    assert_eq!(desktops.len(), 100_000);
    assert!(server.requests() <= 101, "{} requests", server.requests());
}

#[tokio::test]
async fn a_small_selection_in_a_large_project_is_read_by_id() {
    let server = Hostile::start(honest(100_000)).await;
    let client = server.client(ClientOptions::default());
    let mut wanted = ids(250);
    wanted.push("desk-999999".into()); // not in the project
    let desktops = client.read_desktops(&wanted).await.unwrap();
    assert_eq!(desktops.len(), 250);
    // One page to learn the size, then 3 reads by id.
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn a_large_selection_in_a_small_project_lists_it_and_reports_only_the_selected() {
    let server = Hostile::start(honest(1500)).await;
    let client = server.client(ClientOptions::default());
    let mut wanted = ids(300);
    wanted.push("desk-777777".into());
    let desktops = client.read_desktops(&wanted).await.unwrap();
    assert_eq!(desktops.len(), 300);
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn every_429_is_retried_and_the_rate_settles_below_where_it_was_cut() {
    // The server throttles by count, not by clock: the 60th to 62nd requests it receives get a
    // 429, whatever the machine's speed. (How rare 429s stay against a real rate limit is
    // measured by `cargo bench --bench apply -- realistic`.)
    let received = AtomicUsize::new(0);
    let server = Hostile::start(move |_| {
        let n = received.fetch_add(1, Ordering::SeqCst) + 1;
        if (60..=62).contains(&n) {
            json_body(
                429,
                &json!({"error_code": "APIG.0308", "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:40,time:1 second"}),
            )
        } else {
            Response::builder().status(204).body(Body::empty()).unwrap()
        }
    })
    .await;
    let client = server.client(ClientOptions {
        max_attempts: 10,
        ..ClientOptions::default()
    });
    let writes = (0..200).map(|i| {
        let c = client.clone();
        async move { c.create_tag(&format!("desk-{i}"), "env", "prod").await }
    });
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
    let stats = client.stats();
    assert_eq!(stats.throttled, 3, "{stats:?}");
    assert_eq!(stats.retries, 3, "{stats:?}");
    assert_eq!(stats.requests, 203, "{stats:?}");
    assert_eq!(server.requests(), 203);
    let settled = stats.settled_rate.expect("a settled rate after 429s");
    assert!(settled > 0.0 && settled <= stats.rate, "{stats:?}");
}

#[tokio::test]
async fn a_ceiling_below_the_start_rate_is_never_exceeded() {
    let server =
        Hostile::start(|_| Response::builder().status(204).body(Body::empty()).unwrap()).await;
    let client = server.client(ClientOptions {
        rate: Some(4.0),
        ..ClientOptions::default()
    });
    let started = Instant::now();
    let writes = (0..8).map(|i| {
        let c = client.clone();
        async move { c.create_tag(&format!("desk-{i}"), "env", "prod").await }
    });
    for result in futures::future::join_all(writes).await {
        result.unwrap();
    }
    // A burst of 4, then 4 more at 250 ms intervals.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().rate, 4.0);
}

/// A 429 answer asking to wait a long time.
fn throttled_for_ever(_: &Seen) -> Response {
    Response::builder()
        .status(429)
        .header("content-type", "application/json")
        .header("retry-after", "3600")
        .body(axum::body::Body::from(
            r#"{"error_code":"APIG.0308","error_msg":"throttled"}"#,
        ))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interruption_a_stopped_client_waits_out_no_backoff_and_sends_nothing_new() {
    let server = Hostile::start(throttled_for_ever).await;
    let stop = desktag_api::Stop::default();
    let client = server.client(ClientOptions {
        max_attempts: 20,
        stop: Some(stop.clone()),
        ..ClientOptions::default()
    });
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.create_tag("d1", "k", "v").await }
    });
    // Synchronised on the first answer: the call now waits out the service's Retry-After.
    while server.requests() == 0 {
        tokio::task::yield_now().await;
    }
    stop.stop("interrupted");
    let error = call.await.unwrap().unwrap_err();
    assert_eq!(error.attempts, 1, "no retry after the stop: {error}");
    assert!(
        matches!(error.error, ApiError::Service { status: 429, .. }),
        "{error}"
    );
    // A call made after the stop sends nothing.
    let error = client.create_tag("d1", "k", "v").await.unwrap_err();
    assert_eq!(error.attempts, 0);
    assert!(
        matches!(
            error.error,
            ApiError::Stopped {
                in_flight: false,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(server.requests(), 1);
}
