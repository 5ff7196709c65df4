//! The emulator's cross-desktop batch calls (`POST` and `DELETE …/desktops/batch-tags`), the
//! `--batch-cap` knob, and the rate limit and latency applied to every call alike. (Filtered
//! reads at scale are measured by `cargo bench --bench emulator`.)

use std::time::{Duration, Instant};

use desktag_core::secret::Secret;
use desktag_emulator::EmulatedDesktop as Desktop;
use desktag_emulator::{
    Auth, BatchCap, Clock, EmulatorConfig, EmulatorHandle, Faults, ManualClock, Seed,
};
use serde_json::{json, Value};

use crate::support::emulator;
use crate::support::wire::{Answer, Wire};

const PID: &str = "0123456789abcdef0123456789abcdef";

/// Ten desktops `d0`..`d9` without tags, and `full` with nine user tags and a system tag.
fn seed() -> Seed {
    let mut desktops: Vec<Desktop> = (0..10)
        .map(|i| Desktop::new(&format!("d{i}"), &format!("WKS-{i}"), &[]))
        .collect();
    let mut full: Vec<(String, String)> =
        (0..9).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    full.push(("_sys_origin".into(), "seed".into()));
    let full: Vec<(&str, &str)> = full.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    desktops.push(Desktop::new("full", "FULL", &full));
    Seed::single(PID, desktops)
}

/// An emulator serving the batch seed, and the wire client for it.
struct Emu {
    handle: EmulatorHandle,
    wire: Wire,
}

impl std::ops::Deref for Emu {
    type Target = Wire;

    fn deref(&self) -> &Wire {
        &self.wire
    }
}

impl Emu {
    async fn start(configure: impl FnOnce(&mut EmulatorConfig)) -> Emu {
        let mut config = EmulatorConfig {
            seed: seed(),
            ..EmulatorConfig::default()
        };
        configure(&mut config);
        let handle = emulator::start(config).await;
        Emu {
            wire: Wire::new(handle.base_url()),
            handle,
        }
    }

    /// `id → {key: value}` for every desktop, from the emulator's own state.
    fn tags(&self) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
        self.handle
            .desktops()
            .into_iter()
            .map(|d| {
                let tags = d
                    .tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (d.id, tags)
            })
            .collect()
    }
}

fn entry(id: &str, tags: &[(&str, &str)]) -> Value {
    json!({
        "desktop_id": id,
        "tags": tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
    })
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn assert_service_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(a.json["error_code"], code, "{}", a.json);
    assert!(
        a.json.get("request_id").is_none(),
        "service shape: {}",
        a.json
    );
}

#[tokio::test]
async fn batch_add_creates_and_overwrites_on_many_desktops_and_leaves_out_unknown_ids() {
    let emu = Emu::start(|_| {}).await;
    let a = emu
        .batch_add(json!({"desktops": [
            entry("d1", &[("env", "prod"), ("team", "a")]),
            entry("no-such-desktop", &[("env", "prod")]),
            entry("d2", &[("env", "dev")]),
            entry("", &[("env", "x")]),
        ]}))
        .await;
    assert_eq!((a.status, &a.json), (204, &Value::Null));
    let a = emu
        .batch_add(json!({"desktops": [entry("d1", &[("env", "staging")])]}))
        .await;
    assert_eq!(a.status, 204);
    let tags = emu.tags();
    assert_eq!(tags["d1"], pairs(&[("env", "staging"), ("team", "a")]));
    assert_eq!(tags["d2"], pairs(&[("env", "dev")]));
    assert!(tags["d3"].is_empty());
    assert_eq!(emu.handle.writes(), 2);
    let log = emu.handle.requests();
    assert!(log.iter().all(|r| r.write && r.desktop_id.is_none()));
}

#[tokio::test]
async fn batch_delete_takes_a_json_body_with_key_only_tags() {
    let emu = Emu::start(|_| {}).await;
    emu.batch_add(json!({"desktops": [
        entry("d1", &[("env", "prod"), ("team", "a")]),
        entry("d2", &[("env", "dev")]),
    ]}))
    .await;
    let a = emu
        .batch_delete(json!({"desktops": [
            {"desktop_id": "d1", "tags": [{"key": "env"}, {"key": "absent"}]},
            {"desktop_id": "d2", "tags": [{"key": "env", "value": "ignored"}]},
            {"desktop_id": "ghost", "tags": [{"key": "env"}]},
        ]}))
        .await;
    assert_eq!(a.status, 204, "{}", a.json);
    let tags = emu.tags();
    assert_eq!(tags["d1"], pairs(&[("team", "a")]));
    assert!(tags["d2"].is_empty());
    let a = emu.send(emu.http.delete(emu.url("/batch-tags"))).await;
    assert_service_error(&a, 400, desktag_emulator::EMPTY_BODY);
}

#[tokio::test]
async fn more_than_100_desktops_or_20_tags_per_desktop_is_a_400_that_changes_nothing() {
    let emu = Emu::start(|_| {}).await;
    let many: Vec<Value> = (0..=desktag_emulator::MAX_BATCH_DESKTOPS)
        .map(|i| entry(&format!("d{}", i % 10), &[("env", "prod")]))
        .collect();
    let a = emu.batch_add(json!({ "desktops": many })).await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert!(
        a.json["error_msg"].as_str().unwrap().contains("100"),
        "{}",
        a.json
    );
    let exactly_100: Vec<Value> = many[..100].to_vec();
    assert_eq!(
        emu.batch_add(json!({ "desktops": exactly_100 }))
            .await
            .status,
        204
    );
    emu.batch_delete(json!({"desktops": [{"desktop_id": "d1", "tags": [{"key": "env"}]}]}))
        .await;

    let keys: Vec<(String, String)> = (0..=desktag_emulator::MAX_BATCH_TAGS)
        .map(|i| (format!("t{i}"), "v".to_string()))
        .collect();
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let before = emu.tags();
    let a = emu
        .batch_add(json!({"desktops": [entry("d0", &[("ok", "1")]), entry("d1", &keys)]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert!(
        a.json["error_msg"].as_str().unwrap().contains("`d1`"),
        "{}",
        a.json
    );
    let a = emu
        .batch_delete(json!({"desktops": [{"desktop_id": "d1",
            "tags": (0..21).map(|i| json!({"key": format!("t{i}")})).collect::<Vec<_>>()}]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert_eq!(emu.tags(), before);
}

#[tokio::test]
async fn one_bad_tag_fails_the_whole_call() {
    let emu = Emu::start(|_| {}).await;
    let before = emu.tags();
    let a = emu
        .batch_add(json!({"desktops": [
            entry("d1", &[("env", "prod")]),
            entry("d2", &[("bad/key", "x")]),
        ]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::INVALID_TAG);
    assert!(a.json["error_msg"].as_str().unwrap().contains("bad/key"));
    let a = emu
        .batch_delete(json!({"desktops": [
            {"desktop_id": "full", "tags": [{"key": "k1"}, {"key": "_sys_origin"}]},
        ]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::INVALID_TAG);
    let a = emu
        .batch_add(json!({"desktops": [{"desktop_id": "d1"}]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::BAD_REQUEST);
    assert_eq!(emu.tags(), before);
    assert_eq!(emu.handle.writes(), 0);
}

#[tokio::test]
async fn batch_cap_reject_fails_the_call_when_one_desktop_would_pass_the_cap() {
    let emu = Emu::start(|_| {}).await;
    let before = emu.tags();
    let a = emu
        .batch_add(json!({"desktops": [
            entry("d1", &[("env", "prod")]),
            entry("full", &[("k1", "overwrite"), ("new1", "x"), ("new2", "y")]),
        ]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::TAG_CAP);
    assert!(a.json["error_msg"].as_str().unwrap().contains("`full`"));
    assert_eq!(emu.tags(), before);
    // Overwrites and one more tag (the system tag does not count) fit.
    let a = emu
        .batch_add(json!({"desktops": [entry("full", &[("k1", "overwrite"), ("new1", "x")])]}))
        .await;
    assert_eq!(a.status, 204, "{}", a.json);
    assert_eq!(emu.tags()["full"].len(), 11);
}

#[tokio::test]
async fn batch_cap_skip_leaves_that_desktop_alone_and_applies_the_rest() {
    let emu = Emu::start(|c| c.batch_cap = BatchCap::Skip).await;
    let before = emu.tags();
    let a = emu
        .batch_add(json!({"desktops": [
            entry("d1", &[("env", "prod")]),
            entry("full", &[("k1", "overwrite"), ("new1", "x"), ("new2", "y")]),
        ]}))
        .await;
    assert_eq!(a.status, 204, "{}", a.json);
    let after = emu.tags();
    assert_eq!(after["full"], before["full"]);
    assert_eq!(after["d1"], pairs(&[("env", "prod")]));
    // A bad tag still fails the whole call.
    let a = emu
        .batch_add(json!({"desktops": [entry("d2", &[("ok", "1")]), entry("d3", &[("a*b", "x")])]}))
        .await;
    assert_service_error(&a, 400, desktag_emulator::INVALID_TAG);
    assert!(emu.tags()["d2"].is_empty());
}

#[tokio::test]
async fn batch_calls_need_the_same_auth_as_every_other_call() {
    let emu = Emu::start(|c| c.auth = Auth::Token(Secret::new("tok"))).await;
    let body = json!({"desktops": [entry("d1", &[("env", "prod")])]});
    let a = emu.batch_add(body.clone()).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json["error_code"], desktag_emulator::GW_AUTH);
    assert_eq!(a.json["request_id"], a.request_id());
    let a = emu
        .send(
            emu.http
                .post(emu.url("/batch-tags"))
                .header("X-Auth-Token", "tok")
                .json(&body),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(emu.tags()["d1"], pairs(&[("env", "prod")]));
}

#[tokio::test]
async fn one_rate_limit_counts_every_kind_of_call() {
    // The emulator's clock stands still until the test moves it: no window to miss.
    let clock = ManualClock::new();
    let emu = Emu::start(|c| {
        c.faults = Faults {
            rate_limit: Some(3.0),
            clock: Clock::Manual(clock.clone()),
            ..Faults::default()
        }
    })
    .await;
    let body = json!({"desktops": [entry("d1", &[("env", "prod")])]});
    // A burst of three, spent on three different APIs.
    assert_eq!(
        emu.send(emu.http.get(emu.url("?limit=1"))).await.status,
        200
    );
    assert_eq!(emu.batch_add(body.clone()).await.status, 204);
    assert_eq!(
        emu.send(emu.http.get(emu.url("/d1/tags"))).await.status,
        200
    );
    let a = emu.batch_delete(body.clone()).await;
    assert_eq!(a.status, 429, "{}", a.json);
    assert_eq!(a.json["error_code"], desktag_emulator::GW_THROTTLED);
    assert_eq!(
        a.json["error_msg"],
        "The throttling threshold has been reached: policy user over ratelimit,limit:3,time:1 second"
    );
    assert_eq!(a.json["request_id"], a.request_id());
    let a = emu.send(emu.http.get(emu.url("?limit=1"))).await;
    assert_eq!(a.status, 429);
    // A third of a second refills one token (3 per second), and only one.
    clock.advance(Duration::from_millis(334));
    assert_eq!(emu.batch_delete(body.clone()).await.status, 204);
    assert_eq!(emu.batch_delete(body).await.status, 429);
}

#[tokio::test]
async fn latency_is_added_to_batch_calls_and_errors_too() {
    let emu = Emu::start(|c| {
        c.faults = Faults {
            latency: Duration::from_millis(120),
            ..Faults::default()
        }
    })
    .await;
    for body in [
        json!({"desktops": [entry("d1", &[("env", "prod")])]}),
        json!({"desktops": [entry("d1", &[("bad/key", "x")])]}),
    ] {
        let started = Instant::now();
        emu.batch_add(body).await;
        assert!(started.elapsed() >= Duration::from_millis(120));
    }
}
