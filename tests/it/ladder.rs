//! The write ladder under pressure, with the real binary: a batch call that fails under
//! pressure (throttled, timed out after being applied) is re-read and what is still pending is
//! sent again as batch calls, never one call per desktop; a service that keeps throttling gets a
//! bounded number of rounds; a refused mode costs one refusal, then one probe of the next mode.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{emulator_with, manifests, path_str};
use crate::write_modes::{apply_json, changes, many_seed, proxied, tags_by_desktop, writes_to};

const TWO_TAGS: &str = "version: 1\ndesktops:\n  - name: \"M-*\"\n    tags: {a: \"1\", b: \"2\"}\n";

/// Per-desktop and single-tag writes in a request log.
fn smaller_writes(requests: &[desktag_emulator::RequestRecord]) -> usize {
    writes_to(requests, "/tags/action", "POST") + writes_to(requests, "/tags", "POST")
}

#[test]
fn a_throttled_batch_is_re_read_and_sent_again_as_batch_calls_never_per_desktop() {
    // Half of the writes throttled, no retries: batch calls fail after their one attempt. One
    // call at a time, so the seeded fault sequence falls on the same calls every run.
    let (_rt, emu) = emulator_with(many_seed(150), |c| {
        c.faults.throttle_rate = 0.5;
        c.faults.writes_only = true;
        c.faults.seed = 2;
    });
    let dir = manifests(&[("m.yaml", TWO_TAGS)]);
    let (code, report, stderr) = apply_json(
        |d| d.against(&emu),
        &["--max-attempts", "1", "--concurrency", "1"],
        path_str(dir.path()),
    );
    assert_eq!(code, 0, "{report}\n{stderr}");
    let totals = &report["totals"];
    assert_eq!(totals["applied"], 300, "{totals}");
    let requests = emu.requests();
    assert_eq!(
        smaller_writes(&requests),
        0,
        "never decomposed: {requests:?}"
    );
    let rebatched = totals["rebatched"].as_u64().unwrap();
    assert!(rebatched >= 1, "{totals}");
    assert!(totals["throttled"].as_u64().unwrap() >= 1, "{totals}");
    assert_eq!(
        writes_to(&requests, "/batch-tags", "POST") as u64,
        2 + rebatched,
        "two calls in the first round, then the re-sent ones: {requests:?}"
    );
    assert_eq!(totals["fallbacks"]["refused"], 0);
    assert_eq!(totals["fallbacks"]["rejected"], 0);
    for change in changes(&report) {
        assert_eq!(change["via"], "batch", "{change}");
    }
    // Said why, once per round: the cause and the count.
    let rounds = stderr.matches("again as batch calls").count();
    assert!(rounds >= 1, "{stderr}");
    assert!(stderr.contains("throttled (429)"), "{stderr}");
    let state = tags_by_desktop(emu.desktops());
    assert!(state.values().all(|t| t == &["a=1", "b=2"]), "{state:?}");
}

#[test]
fn a_service_that_throttles_every_write_gets_bounded_batch_rounds_then_failures() {
    let (_rt, emu) = emulator_with(many_seed(50), |c| {
        c.faults.throttle_rate = 1.0;
        c.faults.writes_only = true;
    });
    let dir = manifests(&[("m.yaml", TWO_TAGS)]);
    let (code, report, stderr) = apply_json(
        |d| d.against(&emu),
        &["--max-attempts", "1"],
        path_str(dir.path()),
    );
    assert_eq!(code, 1, "{report}\n{stderr}");
    let totals = &report["totals"];
    assert_eq!(totals["applied"], 0, "{totals}");
    assert_eq!(totals["failed"], 100, "{totals}");
    assert_eq!(totals["rebatched"], 3, "four rounds of one call: {totals}");
    let requests = emu.requests();
    assert_eq!(writes_to(&requests, "/batch-tags", "POST"), 4);
    assert_eq!(smaller_writes(&requests), 0, "{requests:?}");
    for change in changes(&report) {
        assert_eq!(change["outcome"], "failed", "{change}");
        assert_eq!(change["error"]["status"], 429, "{change}");
    }
    assert_eq!(
        stderr.matches("again as batch calls").count(),
        3,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("still failed after 4 rounds").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_batch_that_times_out_after_being_applied_is_confirmed_by_the_re_read_and_not_sent_again() {
    // [batch creates held, per-desktop or single-tag writes]
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let counter = seen.clone();
    // The service applies every batch create, then answers too late for the client's timeout.
    let (_rt, _state, endpoint) = proxied(many_seed(30), 10, move |req, next| {
        let counter = counter.clone();
        async move {
            let post = req.method() == axum::http::Method::POST;
            let path = req.uri().path().to_string();
            let batch = post && path.ends_with("/desktops/batch-tags");
            if post && (path.ends_with("/tags/action") || path.ends_with("/tags")) {
                counter[1].fetch_add(1, Ordering::Relaxed);
            }
            let response = next.run(req).await;
            if batch {
                counter[0].fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            response
        }
    });
    let dir = manifests(&[("m.yaml", TWO_TAGS)]);
    let (code, report, stderr) = apply_json(
        crate::write_modes::at(&endpoint),
        &["--timeout", "1", "--max-attempts", "1"],
        path_str(dir.path()),
    );
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        seen[0].load(Ordering::Relaxed),
        1,
        "one batch call, not re-sent"
    );
    assert_eq!(
        seen[1].load(Ordering::Relaxed),
        0,
        "nothing per desktop or per tag"
    );
    let totals = &report["totals"];
    assert_eq!(totals["applied"], 60, "{totals}");
    assert_eq!(totals["rebatched"], 0, "{totals}");
    for change in changes(&report) {
        assert_eq!(change["via"], "batch", "{change}");
        assert_eq!(change["outcome"], "applied", "{change}");
    }
}

#[test]
fn refused_modes_cost_one_refusal_each_then_one_probe_of_the_next() {
    let refused = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let counters = refused.clone();
    // Neither batch calls nor per-desktop calls are allowed; single tags are.
    let (_rt, state, endpoint) = proxied(many_seed(40), 10, move |req, next| {
        let counters = counters.clone();
        async move {
            use axum::response::IntoResponse;
            let path = req.uri().path().to_string();
            let which = if path.ends_with("/desktops/batch-tags") {
                Some(0)
            } else if path.ends_with("/tags/action") {
                Some(1)
            } else {
                None
            };
            if let Some(which) = which {
                counters[which].fetch_add(1, Ordering::Relaxed);
                return (
                    axum::http::StatusCode::FORBIDDEN,
                    axum::Json(serde_json::json!({
                        "error_code": "WKS.00010002",
                        "error_msg": "policy does not allow this action"
                    })),
                )
                    .into_response();
            }
            next.run(req).await
        }
    });
    let dir = manifests(&[("m.yaml", TWO_TAGS)]);
    let (code, report, stderr) =
        apply_json(crate::write_modes::at(&endpoint), &[], path_str(dir.path()));
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(
        refused[0].load(Ordering::Relaxed),
        1,
        "one refused batch call"
    );
    assert_eq!(
        refused[1].load(Ordering::Relaxed),
        1,
        "one refused per-desktop call"
    );
    let totals = &report["totals"];
    assert_eq!(totals["applied"], 80, "{totals}");
    // Every desktop stepped down twice: batch → desktop → tag.
    assert_eq!(totals["fallbacks"]["refused"], 80, "{totals}");
    for change in changes(&report) {
        assert_eq!(change["via"], "tag", "{change}");
    }
    assert_eq!(
        stderr.matches("refused batch writes").count(),
        1,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("refused desktop writes").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("starting with one probe call").count(), 2);
    let state = tags_by_desktop(state.desktops());
    assert!(state.values().all(|t| t == &["a=1", "b=2"]), "{state:?}");
}

#[test]
fn one_rejected_desktop_among_200_is_isolated_in_log_calls_and_only_its_bad_tag_fails() {
    let bad = "66666666-0000-0000-0000-000000000137";
    let (_rt, emu) = emulator_with(many_seed(200), |c| {
        c.faults.reject_values = vec!["not-allowed-here".to_string()];
    });
    let manifest = format!("{TWO_TAGS}  - id: {bad}\n    tags: {{approval: not-allowed-here}}\n");
    let dir = manifests(&[("m.yaml", &manifest)]);
    let (code, report, stderr) = apply_json(|d| d.against(&emu), &[], path_str(dir.path()));
    assert_eq!(code, 1, "{report}\n{stderr}");
    let totals = &report["totals"];
    // Two calls of 100 (by id); the one with the bad desktop (its 38th) is halved down to it:
    // 100 → 50 → 25 → 13 → 6 → 3 → 1, six levels of two calls each, within 2·⌈log2 100⌉ + 2.
    let bisected = totals["bisected"].as_u64().unwrap();
    assert!(bisected <= 2 * 7 + 2, "{totals}");
    assert_eq!(bisected, 12, "{totals}");
    let requests = emu.requests();
    assert_eq!(
        writes_to(&requests, "/batch-tags", "POST") as u64,
        2 + bisected,
        "{requests:?}"
    );
    // Only the isolated desktop is written per desktop (rejected), then per tag.
    assert_eq!(writes_to(&requests, "/tags/action", "POST"), 1);
    assert_eq!(writes_to(&requests, "/tags", "POST"), 3);
    assert_eq!(totals["applied"], 400, "{totals}");
    assert_eq!(totals["failed"], 1, "{totals}");
    let desktop = report["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["desktop_id"] == bad)
        .unwrap();
    for change in desktop["changes"].as_array().unwrap() {
        assert_eq!(change["via"], "tag", "{change}");
        let failed = change["key"] == "approval";
        assert_eq!(change["outcome"] == "failed", failed, "{change}");
    }
    assert_eq!(stderr.matches("bisected them").count(), 1, "{stderr}");
}
