//! The emulator over real HTTP on 127.0.0.1 (and `oneshot` on its router): every endpoint, the
//! tag rules and cap, error shapes, auth, faults, the state file, and concurrency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use desktag_api::sign::{self, Signable};
use desktag_core::secret::Secret;
use desktag_emulator::{Auth, EmulatorConfig, EmulatorHandle, EmulatorState, Faults, Seed};
use serde_json::{json, Value};

use crate::support::emulator;
use crate::support::wire::{Answer, Wire, Wire as Api};

const PID: &str = "0123456789abcdef0123456789abcdef";
const AK: &str = "AKEMULATORTEST000001";
const SK: &str = "emulator-test-secret-key";

fn seed() -> Seed {
    let mut text = format!("project_id: {PID}\ndesktops:\n");
    for i in 0..25 {
        text.push_str(&format!(
            "  - {{id: desk-{i:02}, name: WKS-{i:02}, user: user{i}, status: {}}}\n",
            if i % 5 == 0 { "SHUTOFF" } else { "ACTIVE" }
        ));
    }
    text.push_str("  - id: full\n    name: FULL\n    tags: {");
    let tags: Vec<String> = (0..9).map(|i| format!("k{i}: v{i}")).collect();
    text.push_str(&tags.join(", "));
    text.push_str(", _sys_origin: seed}\n");
    Seed::from_yaml(&text).unwrap()
}

fn config() -> EmulatorConfig {
    EmulatorConfig {
        seed: seed(),
        ..EmulatorConfig::default()
    }
}

async fn start(config: EmulatorConfig) -> (EmulatorHandle, Api) {
    let handle = emulator::start(config).await;
    let api = Wire::new(handle.base_url());
    (handle, api)
}

fn assert_service_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.json["error_code"], code, "{}", a.json);
    assert!(a.json["error_msg"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        a.json.get("request_id").is_none(),
        "service shape: {}",
        a.json
    );
    assert_eq!(a.headers["content-type"], "application/json");
}

fn assert_gateway_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.json["error_code"], code, "{}", a.json);
    assert_eq!(
        a.json["request_id"].as_str(),
        a.headers["x-request-id"].to_str().ok(),
        "gateway shape: {}",
        a.json
    );
}

fn ids(list: &Value) -> Vec<String> {
    list["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["desktop_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_pages_through_all_desktops_sorted_by_id() {
    let (_emu, api) = start(config()).await;
    let all = api.get("").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json["total_count"], 26);
    let all_ids = ids(&all.json);
    let mut sorted = all_ids.clone();
    sorted.sort();
    assert_eq!(all_ids, sorted);

    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let page = api.get(&format!("?offset={offset}&limit=7")).await;
        assert_eq!(page.json["total_count"], 26);
        let got = ids(&page.json);
        if got.is_empty() {
            break;
        }
        offset += got.len();
        paged.extend(got);
    }
    assert_eq!(paged, all_ids);

    let first = &all.json["desktops"][0];
    assert_eq!(
        first,
        &json!({"desktop_id": "desk-00", "computer_name": "WKS-00", "user_name": "user0",
                "status": "SHUTOFF", "tags": []})
    );
    let full = all.json["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["desktop_id"] == "full")
        .unwrap();
    assert_eq!(
        full["tags"][0],
        json!({"key": "_sys_origin", "value": "seed"})
    );
    assert!(full.get("user_name").is_none());
}

#[tokio::test]
async fn list_filters_by_repeated_desktop_id_and_exact_computer_name() {
    let (_emu, api) = start(config()).await;
    let some = api
        .get("?desktop_id=desk-03&desktop_id=desk-01&desktop_id=nope")
        .await;
    assert_eq!(ids(&some.json), ["desk-01", "desk-03"]);
    assert_eq!(some.json["total_count"], 2);
    let named = api.get("?computer_name=WKS-07").await;
    assert_eq!(ids(&named.json), ["desk-07"]);
    let none = api.get("?computer_name=WKS-0").await;
    assert_eq!(none.json["total_count"], 0);
    let shut = api.get("?status=SHUTOFF&limit=2").await;
    assert_eq!(shut.json["total_count"], 5);
    assert_eq!(ids(&shut.json).len(), 2);
}

#[tokio::test]
async fn list_rejects_bad_paging_too_many_ids_and_unknown_filters() {
    let (_emu, api) = start(config()).await;
    for query in ["?limit=1001", "?limit=-1", "?offset=x", "?limit="] {
        assert_service_error(&api.get(query).await, 400, desktag_emulator::BAD_REQUEST);
    }
    assert_eq!(api.get("?limit=0").await.json["total_count"], 26);
    let many: String = (0..101).map(|i| format!("desktop_id=d{i}&")).collect();
    let a = api.get(&format!("?{many}")).await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert!(a.json["error_msg"].as_str().unwrap().contains("101"));
    let hundred: String = (0..100).map(|i| format!("desktop_id=d{i}&")).collect();
    assert_eq!(api.get(&format!("?{hundred}")).await.status, 200);
    let a = api.get("?desktop_type=SHARED").await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert!(a.json["error_msg"]
        .as_str()
        .unwrap()
        .contains("desktop_type"));
}

#[tokio::test]
async fn create_overwrite_show_and_delete_a_tag() {
    let (emu, api) = start(config()).await;
    let a = api
        .post(
            "/desk-01/tags",
            json!({"tag": {"key": "env", "value": "dev"}}),
        )
        .await;
    assert_eq!((a.status, &a.json), (204, &Value::Null));
    api.post(
        "/desk-01/tags",
        json!({"tag": {"key": "env", "value": "prod"}}),
    )
    .await;
    api.post("/desk-01/tags", json!({"tag": {"key": "cost center:a"}}))
        .await;
    assert_eq!(
        api.tags("desk-01").await,
        json!([{"key": "cost center:a", "value": ""}, {"key": "env", "value": "prod"}])
    );
    let a = api.delete("/desk-01/tags/cost%20center%3Aa").await;
    assert_eq!(a.status, 204);
    let a = api.delete("/desk-01/tags/never-there").await;
    assert_eq!(a.status, 204, "deleting a missing key is a success");
    assert_eq!(
        api.tags("desk-01").await,
        json!([{"key": "env", "value": "prod"}])
    );
    let d = emu
        .desktops()
        .into_iter()
        .find(|d| d.id == "desk-01")
        .unwrap();
    assert_eq!(d.tags.get("env").map(|v| v.as_str()), Some("prod"));
    // Three creates (one a no-op overwrite is still a success) and two deletes succeeded.
    assert_eq!(emu.writes(), 5);
}

#[tokio::test]
async fn unicode_keys_round_trip_through_the_path() {
    let (_emu, api) = start(config()).await;
    api.post(
        "/desk-02/tags",
        json!({"tag": {"key": "部门", "value": "财务"}}),
    )
    .await;
    assert_eq!(
        api.tags("desk-02").await,
        json!([{"key": "部门", "value": "财务"}])
    );
    let a = api.delete("/desk-02/tags/%E9%83%A8%E9%97%A8").await;
    assert_eq!(a.status, 204);
    assert_eq!(api.tags("desk-02").await, json!([]));
}

#[tokio::test]
async fn batch_action_creates_and_deletes() {
    let (_emu, api) = start(config()).await;
    let a = api
        .post(
            "/desk-04/tags/action",
            json!({"action": "create", "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"key": "c"}]}),
        )
        .await;
    assert_eq!(a.status, 204);
    let a = api
        .post(
            "/desk-04/tags/action",
            json!({"action": "delete", "tags": [{"key": "a"}, {"key": "b", "value": "ignored"}, {"key": "zz"}]}),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(
        api.tags("desk-04").await,
        json!([{"key": "c", "value": ""}])
    );
    let a = api
        .post(
            "/desk-04/tags/action",
            json!({"action": "replace", "tags": []}),
        )
        .await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert!(a.json["error_msg"].as_str().unwrap().contains("replace"));
    let a = api
        .post("/desk-04/tags/action", json!({"tags": [{"key": "a"}]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
}

#[tokio::test]
async fn the_cap_rejects_a_new_key_and_leaves_the_desktop_unchanged() {
    let (emu, api) = start(config()).await;
    // `full` has 9 user tags and one system tag, which does not count.
    let a = api
        .post("/full/tags", json!({"tag": {"key": "k9", "value": "v9"}}))
        .await;
    assert_eq!(a.status, 204);
    let before = api.tags("full").await;
    let a = api
        .post("/full/tags", json!({"tag": {"key": "k10", "value": "x"}}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::TAG_CAP);
    let msg = a.json["error_msg"].as_str().unwrap();
    assert!(
        msg.contains("`k10`") && msg.contains("limit of 10"),
        "{msg}"
    );
    assert_eq!(api.tags("full").await, before);
    let a = api
        .post(
            "/full/tags",
            json!({"tag": {"key": "k0", "value": "overwritten"}}),
        )
        .await;
    assert_eq!(
        a.status, 204,
        "overwrites of existing keys are fine at the cap"
    );
    let rec = emu
        .requests()
        .into_iter()
        .find(|r| r.status == 400)
        .unwrap();
    assert_eq!(rec.error_code.as_deref(), Some(desktag_emulator::TAG_CAP));
    assert_eq!((rec.desktop_id.as_deref(), rec.write), (Some("full"), true));
}

#[tokio::test]
async fn a_batch_that_breaks_a_rule_changes_nothing() {
    let (_emu, api) = start(config()).await;
    let before = api.tags("full").await;
    let a = api
        .post(
            "/full/tags/action",
            json!({"action": "create", "tags": [{"key": "k0", "value": "new"}, {"key": "n1", "value": "x"}, {"key": "n2", "value": "y"}]}),
        )
        .await;
    assert_service_error(&a, 400, desktag_emulator::TAG_CAP);
    let a = api
        .post(
            "/full/tags/action",
            json!({"action": "create", "tags": [{"key": "k0", "value": "new"}, {"key": "bad=key", "value": "x"}]}),
        )
        .await;
    assert_service_error(&a, 400, desktag_emulator::INVALID_TAG);
    assert_eq!(api.tags("full").await, before);
}

#[tokio::test]
async fn invalid_keys_and_values_are_rejected_naming_the_key() {
    let (_emu, api) = start(config()).await;
    for (key, value) in [
        ("a/b", "x"),
        ("_sys_mine", "x"),
        (" pad", "x"),
        ("ok", "this value is far too long for the service limit"),
    ] {
        let a = api
            .post(
                "/desk-05/tags",
                json!({"tag": {"key": key, "value": value}}),
            )
            .await;
        assert_service_error(&a, 400, desktag_emulator::INVALID_TAG);
        let msg = a.json["error_msg"].as_str().unwrap();
        assert!(msg.contains(&format!("`{key}`")), "{msg}");
    }
    let a = api.delete("/desk-05/tags/_sys_origin").await;
    assert_service_error(&a, 400, desktag_emulator::INVALID_TAG);
    assert_eq!(api.tags("desk-05").await, json!([]));
}

#[tokio::test]
async fn unknown_desktops_projects_and_paths_are_404s_in_their_shapes() {
    let (_emu, api) = start(config()).await;
    assert_service_error(
        &api.get("/no-such-desktop/tags").await,
        404,
        desktag_emulator::DESKTOP_NOT_FOUND,
    );
    let a = api
        .post(
            "/no-such-desktop/tags",
            json!({"tag": {"key": "a", "value": "b"}}),
        )
        .await;
    assert_service_error(&a, 404, desktag_emulator::DESKTOP_NOT_FOUND);
    assert_service_error(
        &api.delete("/no-such-desktop/tags/a").await,
        404,
        desktag_emulator::DESKTOP_NOT_FOUND,
    );
    let other = api
        .send(api.http.get(format!(
            "{}/v2/ffffffffffffffffffffffffffffffff/desktops",
            api.base
        )))
        .await;
    assert_service_error(&other, 404, desktag_emulator::PROJECT_NOT_FOUND);
    let unknown = api
        .send(api.http.get(format!("{}/v2/{PID}/servers", api.base)))
        .await;
    assert_gateway_error(&unknown, 404, desktag_emulator::GW_NO_API);
    let wrong_method = api.send(api.http.put(api.url("/desk-01/tags"))).await;
    assert_gateway_error(&wrong_method, 404, desktag_emulator::GW_NO_API);
}

#[tokio::test]
async fn malformed_bodies_are_400s_in_the_service_shape() {
    let (_emu, api) = start(config()).await;
    for (body, code, hint) in [
        ("", desktag_emulator::EMPTY_BODY, "empty"),
        ("{\"tag\": ", desktag_emulator::BAD_REQUEST, "EOF"),
        (
            "{\"tags\": {}}",
            desktag_emulator::BAD_REQUEST,
            "missing field `tag`",
        ),
        (
            "{\"tag\": {\"key\": 5}}",
            desktag_emulator::BAD_REQUEST,
            "invalid type",
        ),
        (
            "{\"tag\": {\"value\": \"x\"}}",
            desktag_emulator::BAD_REQUEST,
            "missing field `key`",
        ),
        ("[1,2]", desktag_emulator::BAD_REQUEST, "invalid"),
    ] {
        let a = api.post_raw("/desk-06/tags", body).await;
        assert_service_error(&a, 400, code);
        let msg = a.json["error_msg"].as_str().unwrap();
        assert!(msg.contains(hint), "{body:?}: {msg}");
    }
    let a = api
        .post_raw("/desk-06/tags/action", "{\"action\": 1}")
        .await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert_eq!(api.tags("desk-06").await, json!([]));
}

#[tokio::test]
async fn every_response_has_a_unique_request_id() {
    let (emu, api) = start(config()).await;
    let mut seen = std::collections::BTreeSet::new();
    for path in ["", "/desk-01/tags", "/nope/tags", "/x/y/z"] {
        let a = api.get(path).await;
        let id = a.headers["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 32);
        assert!(seen.insert(id));
    }
    let recorded: std::collections::BTreeSet<_> =
        emu.requests().into_iter().map(|r| r.request_id).collect();
    assert_eq!(recorded, seen);
}

#[tokio::test]
async fn bodies_over_12_mb_are_413() {
    let (_emu, api) = start(config()).await;
    let big = vec![b' '; desktag_emulator::MAX_BODY_BYTES + 1];
    let a = api
        .send(api.http.post(api.url("/desk-01/tags")).body(big))
        .await;
    assert_gateway_error(&a, 413, desktag_emulator::GW_BAD_REQUEST);
}

#[tokio::test]
async fn the_request_log_records_method_path_status_and_writes() {
    let (emu, api) = start(config()).await;
    api.get("?limit=5").await;
    api.post("/desk-01/tags", json!({"tag": {"key": "a", "value": "b"}}))
        .await;
    api.delete("/nope/tags/a").await;
    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (
            log[0].method.as_str(),
            log[0].query.as_str(),
            log[0].status,
            log[0].write
        ),
        ("GET", "limit=5", 200, false)
    );
    assert_eq!(log[1].path, format!("/v2/{PID}/desktops/desk-01/tags"));
    assert_eq!((log[1].status, log[1].write), (204, true));
    assert_eq!(log[1].desktop_id.as_deref(), Some("desk-01"));
    assert_eq!(
        log[2].error_code.as_deref(),
        Some(desktag_emulator::DESKTOP_NOT_FOUND)
    );
    assert_eq!(emu.writes(), 1);
    assert_eq!(emu.project_id(), PID);
}

#[tokio::test]
async fn the_router_answers_oneshot_requests() {
    use tower::ServiceExt;
    let state = EmulatorState::new(config()).unwrap();
    let app = desktag_emulator::app(Arc::clone(&state));
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/v2/{PID}/desktops/desk-09/tags"))
        .body(axum::body::Body::from(
            r#"{"tag":{"key":"env","value":"dev"}}"#,
        ))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.headers().contains_key("x-request-id"));
    let d = state
        .desktops()
        .into_iter()
        .find(|d| d.id == "desk-09")
        .unwrap();
    assert_eq!(d.tags.get("env").map(|v| v.as_str()), Some("dev"));
}

fn aksk_config() -> EmulatorConfig {
    EmulatorConfig {
        auth: Auth::AkSk {
            ak: AK.to_string(),
            sk: Secret::new(SK),
        },
        ..config()
    }
}

#[tokio::test]
async fn a_correct_signature_is_accepted() {
    let (emu, api) = start(aksk_config()).await;
    let now = sign::sdk_date(time::OffsetDateTime::now_utc());
    let body = br#"{"tag": {"key": "env", "value": "prod"}}"#;
    let a = api
        .signed("POST", "/desk-01/tags", body, (AK, SK), &now)
        .await;
    assert_eq!(a.status, 204, "{}", a.json);
    let a = api
        .signed("GET", "/desk-01/tags", b"", (AK, SK), &now)
        .await;
    assert_eq!(a.json["tags"], json!([{"key": "env", "value": "prod"}]));
    let a = api
        .signed("DELETE", "/desk-01/tags/env", b"", (AK, SK), &now)
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(emu.writes(), 2);
}

#[tokio::test]
async fn a_wrong_or_missing_signature_is_401_and_writes_nothing() {
    let (emu, api) = start(aksk_config()).await;
    let now = sign::sdk_date(time::OffsetDateTime::now_utc());
    let body = br#"{"tag": {"key": "env", "value": "prod"}}"#;
    let a = api
        .signed("POST", "/desk-01/tags", body, (AK, "not-the-secret"), &now)
        .await;
    assert_gateway_error(&a, 401, desktag_emulator::GW_AUTH);
    assert!(a.json["error_msg"]
        .as_str()
        .unwrap()
        .contains("verify aksk signature fail"));
    let a = api
        .post(
            "/desk-01/tags",
            json!({"tag": {"key": "env", "value": "prod"}}),
        )
        .await;
    assert_gateway_error(&a, 401, desktag_emulator::GW_AUTH);
    assert_eq!(api.get("").await.status, 401);
    assert_eq!(emu.writes(), 0);
    assert!(emu.desktops().iter().all(|d| !d.tags.contains_key("env")));
}

#[tokio::test]
async fn a_signature_older_than_fifteen_minutes_is_expired() {
    let (_emu, api) = start(aksk_config()).await;
    let old = sign::sdk_date(time::OffsetDateTime::now_utc() - time::Duration::minutes(16));
    let a = api
        .signed("GET", "/desk-01/tags", b"", (AK, SK), &old)
        .await;
    assert_gateway_error(&a, 401, desktag_emulator::GW_EXPIRED);
    assert!(a.json["error_msg"]
        .as_str()
        .unwrap()
        .contains("signature expired"));
}

#[tokio::test]
async fn token_auth_requires_the_exact_token() {
    let (_emu, api) = start(EmulatorConfig {
        auth: Auth::Token(Secret::new("token-abc")),
        ..config()
    })
    .await;
    let ok = api
        .send(
            api.http
                .get(api.url(""))
                .header("X-Auth-Token", "token-abc"),
        )
        .await;
    assert_eq!(ok.status, 200);
    let bad = api
        .send(
            api.http
                .get(api.url(""))
                .header("X-Auth-Token", "token-abd"),
        )
        .await;
    assert_gateway_error(&bad, 401, desktag_emulator::GW_AUTH);
    assert!(!bad.json.to_string().contains("token-ab"));
    assert_gateway_error(&api.get("").await, 401, desktag_emulator::GW_AUTH);
}

/// Runs creates of distinct keys on distinct desktops; returns the statuses.
async fn create_many(api: &Api, n: usize) -> Vec<(String, u16, Answer)> {
    let mut out = Vec::new();
    for i in 0..n {
        let desk = format!("desk-{:02}", i % 25);
        let a = api
            .post(
                &format!("/{desk}/tags"),
                json!({"tag": {"key": format!("k{i}"), "value": "v"}}),
            )
            .await;
        out.push((desk, a.status, a));
    }
    out
}

#[tokio::test]
async fn faults_with_a_fixed_seed_repeat_and_faulted_writes_are_not_applied() {
    let faults = Faults {
        fail_rate: 0.3,
        throttle_rate: 0.2,
        retry_after: Some(2),
        seed: 7,
        ..Faults::default()
    };
    let run = || async {
        let (emu, api) = start(EmulatorConfig {
            faults: faults.clone(),
            ..config()
        })
        .await;
        let results = create_many(&api, 40).await;
        (emu, results)
    };
    let (emu, first) = run().await;
    let (_emu2, second) = run().await;
    let statuses: Vec<u16> = first.iter().map(|r| r.1).collect();
    assert_eq!(statuses, second.iter().map(|r| r.1).collect::<Vec<_>>());
    assert!(statuses.contains(&500) && statuses.contains(&429) && statuses.contains(&204));
    let desktops = emu.desktops();
    for (i, (desk, status, answer)) in first.iter().enumerate() {
        let tags = &desktops.iter().find(|d| &d.id == desk).unwrap().tags;
        assert_eq!(
            tags.contains_key(format!("k{i}").as_str()),
            *status == 204,
            "request {i}"
        );
        match status {
            500 => assert_service_error(answer, 500, desktag_emulator::INTERNAL),
            429 => {
                assert_gateway_error(answer, 429, desktag_emulator::GW_THROTTLED);
                assert_eq!(answer.headers["retry-after"], "2");
                assert!(answer.json["error_msg"]
                    .as_str()
                    .unwrap()
                    .starts_with("The throttling threshold has been reached"));
            }
            _ => assert_eq!(*status, 204),
        }
    }
    assert_eq!(
        emu.writes() as usize,
        statuses.iter().filter(|s| **s == 204).count()
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_beyond_n_per_second() {
    let (emu, api) = start(EmulatorConfig {
        faults: Faults {
            rate_limit: Some(5.0),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let started = Instant::now();
    let results = create_many(&api, 20).await;
    let elapsed = started.elapsed().as_secs_f64();
    let ok = results.iter().filter(|r| r.1 == 204).count();
    let limited = results.iter().filter(|r| r.1 == 429).count();
    assert_eq!(ok + limited, 20);
    // A burst of 5, then 5 per second.
    assert!(
        ok >= 5 && ok as f64 <= 5.0 + 5.0 * elapsed + 1.0,
        "{ok} in {elapsed}s"
    );
    assert!(limited >= 1);
    assert_eq!(emu.writes() as usize, ok);
}

#[tokio::test]
async fn latency_is_added_to_every_response() {
    let (_emu, api) = start(EmulatorConfig {
        faults: Faults {
            latency: Duration::from_millis(150),
            ..Faults::default()
        },
        ..config()
    })
    .await;
    let started = Instant::now();
    api.get("/nope/tags").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn the_state_file_is_saved_atomically_and_loaded_by_the_next_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    let with_state = || EmulatorConfig {
        state_file: Some(state.clone()),
        ..config()
    };
    let (emu, api) = start(with_state()).await;
    assert!(
        !state.exists(),
        "nothing is written before the first change"
    );
    // A reader polls the file while writers change it: every read must be a whole state.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (state, stop) = (state.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut reads = 0;
            loop {
                let last = stop.load(std::sync::atomic::Ordering::SeqCst);
                if let Ok(text) = std::fs::read_to_string(&state) {
                    Seed::from_yaml(&text).expect("a complete state file");
                    reads += 1;
                }
                if last {
                    return reads;
                }
                // Paced, not spinning: on a shared machine a busy reader starves the writers.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    let writes = (0..40).map(|i| {
        let api = &api;
        async move {
            api.post(
                &format!("/desk-{:02}/tags", i % 10),
                json!({"tag": {"key": format!("k{i}"), "value": "v"}}),
            )
            .await
            .status
        }
    });
    let statuses = futures::future::join_all(writes).await;
    assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);
    let on_disk = Seed::from_yaml(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(
        on_disk.desktops,
        emu.desktops(),
        "each 204 waited for its save"
    );
    let mut leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["state.yaml", "state.yaml.lock"],
        "no temporary files left behind, only the emulator's lock"
    );
    emu.shutdown().await.unwrap();

    let (second, api2) = start(with_state()).await;
    assert_eq!(
        api2.tags("desk-03").await,
        json!([{"key": "k13", "value": "v"}, {"key": "k23", "value": "v"},
               {"key": "k3", "value": "v"}, {"key": "k33", "value": "v"}])
    );
    assert_eq!(second.desktops(), on_disk.desktops);
}

#[tokio::test]
async fn a_retried_write_whose_save_failed_is_saved_before_it_succeeds() {
    // A directory in the state file's place makes the first save fail.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    let (emu, api) = start(EmulatorConfig {
        state_file: Some(state.clone()),
        ..config()
    })
    .await;
    std::fs::create_dir(&state).unwrap();
    let tag = json!({"tag": {"key": "env", "value": "prod"}});
    let first = api.post("/desk-01/tags", tag.clone()).await;
    assert_eq!(first.status, 500, "{}", first.json);
    // The change was made in memory; the client retries once saving can work.
    std::fs::remove_dir(&state).unwrap();
    let retry = api.post("/desk-01/tags", tag).await;
    assert_eq!(retry.status, 204, "{}", retry.json);
    let on_disk =
        Seed::from_yaml(&std::fs::read_to_string(&state).expect("the retry saved")).unwrap();
    assert_eq!(on_disk.desktops, emu.desktops());
    // A later no-op write with nothing pending needs no save and still succeeds.
    assert_eq!(api.delete("/desk-02/tags/absent").await.status, 204);
}

#[tokio::test]
async fn a_corrupt_state_file_stops_the_emulator_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    std::fs::write(
        &state,
        "project_id: p\ndesktops: [{id: a, name: A}, {id: a, name: B}]\n",
    )
    .unwrap();
    let err = desktag_emulator::spawn(EmulatorConfig {
        state_file: Some(state),
        ..config()
    })
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("state.yaml") && text.contains("`a`"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_on_one_desktop_never_exceed_the_cap() {
    let (emu, api) = start(config()).await;
    let api = Arc::new(api);
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let api = Arc::clone(&api);
            tokio::spawn(async move {
                api.post(
                    "/desk-11/tags",
                    json!({"tag": {"key": format!("c{i}"), "value": "v"}}),
                )
                .await
                .status
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            204 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 10);
    let d = emu
        .desktops()
        .into_iter()
        .find(|d| d.id == "desk-11")
        .unwrap();
    assert_eq!(d.tags.len(), 10);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (emu, api) = start(config()).await;
    assert_eq!(api.get("").await.status, 200);
    let base = emu.base_url();
    emu.shutdown().await.unwrap();
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(fresh
        .get(format!("{base}/v2/{PID}/desktops"))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let (emu, _api) = start(config()).await;
    let err = desktag_emulator::spawn(EmulatorConfig {
        listen: emu.local_addr(),
        ..config()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--listen"), "{err}");
}

/// The official SDK (huaweicloudsdkcore 3.1.219) signed the signing guide's V5 example request with this
/// Authorization, captured by `.ci/sdk-conformance/run.sh`. Its canonical request hashes to
/// 3e60cb45…, not the documented d88d2eb5…, so the documented V5 signature (b898ad0b…) is not
/// what the SDK sends for those inputs; desktag's signer matches the SDK.
#[test]
fn our_signer_reproduces_the_sdk_capture_of_the_v5_request() {
    let pid = "0123456789abcdef0123456789abcdef";
    let path = format!("/v2/{pid}/desktops/d1e2f3a4-0000-1111-2222-333344445555/tags");
    let headers: Vec<(String, String)> = [
        ("User-Agent", "huaweicloud-usdk-python/3.0; desktag-test"),
        ("Content-Type", "application/json"),
        ("X-Sdk-Date", "20240102T030405Z"),
        ("X-Project-Id", pid),
        ("Host", "127.0.0.1:18080"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    let req = Signable {
        method: "POST",
        path: &path,
        query: &[],
        headers: &headers,
        body: br#"{"tag": {"key": "env", "value": "prod"}}"#,
    };
    let canonical = sign::canonical_request(&req, &sign::signed_header_names(&headers));
    assert!(sign::string_to_sign(&canonical, "20240102T030405Z")
        .ends_with("3e60cb45f856ed60e58560ae1679918a3bdf1a05ea12a6f4fef797e332d056b9"));
    assert_eq!(
        sign::authorization(
            "HPUAEXAMPLEAK0000001",
            "exampleSecretKey0123456789abcdefghijklmn",
            &req
        ),
        "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK0000001, \
         SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, \
         Signature=57168ba1e8b172fc79e963bba4202cfbd8fab1cf006902ab0b6a4118685acc4b"
    );
}

#[tokio::test]
async fn state_file_of_another_project_or_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    let served = config().seed.project_id.clone();
    std::fs::write(
        &state,
        "project_id: another0000000000000000000000000\ndesktops: [{id: a, name: A}]\n",
    )
    .unwrap();
    let err = desktag_emulator::spawn(EmulatorConfig {
        state_file: Some(state.clone()),
        ..config()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("holds project `another0000000000000000000000000`") && err.contains(&served),
        "{err}"
    );
    std::fs::write(
        &state,
        format!("project_id: {served}\ndesktops: [{{id: a, name: A, tags: {{a: '1', b: '1', c: '1'}}}}]\n"),
    )
    .unwrap();
    let err = desktag_emulator::spawn(EmulatorConfig {
        state_file: Some(state),
        max_tags: 2,
        ..config()
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("carries 3 tags, over --max-tags 2"), "{err}");
}
