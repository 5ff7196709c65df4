//! `apply --write-mode batch|desktop|tag`: every mode converges to the same state, batch writes
//! are confirmed by a re-read; rejected ones are bisected and the isolated desktop falls back per
//! desktop, then per tag; a 403 on the batch calls
//! moves the run to the next mode with one warning.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use desktag_core::secret::Secret;
use desktag_emulator::{Auth, BatchCap, EmulatorConfig, RequestRecord, Seed};
use serde_json::Value;

#[cfg(unix)]
use crate::support::interrupt_while_writing;
use crate::support::{emulator_with, manifests, path_str, seed_yaml, Desktag, AK, SK};

pub(crate) const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// Deletes (with `--prune`), overwrites and creates on several desktops.
fn seed() -> Seed {
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..12 {
        yaml.push_str(&format!(
            "  - id: 33333333-0000-0000-0000-{i:012}\n    name: W-{i:02}\n    tags: {{owner: it, stale-{i}: x, env: dev}}\n"
        ));
    }
    seed_yaml(&yaml)
}

const MANIFEST: &str = r#"
version: 1
defaults:
  cost-center: CC-1
desktops:
  - name: "W-*"
    tags:
      env: prod
      owner: it
      team: ops
"#;

pub(crate) fn tags_by_desktop(
    desktops: Vec<desktag_emulator::EmulatedDesktop>,
) -> BTreeMap<String, Vec<String>> {
    desktops
        .into_iter()
        .map(|d| {
            let tags = d.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (d.id, tags)
        })
        .collect()
}

pub(crate) fn apply_json(
    endpoint_env: impl FnOnce(Desktag) -> Desktag,
    extra: &[&str],
    dir: &str,
) -> (i32, Value, String) {
    let mut args = vec!["apply", "--auto-approve", "--report-format", "json"];
    args.extend_from_slice(extra);
    args.push(dir);
    let ran = endpoint_env(Desktag::new())
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(args)
        .run();
    let json = ran.json();
    (ran.code, json, ran.stderr)
}

pub(crate) fn changes(report: &Value) -> Vec<&Value> {
    report["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["changes"].as_array().into_iter().flatten())
        .collect()
}

pub(crate) fn writes_to(requests: &[RequestRecord], suffix: &str, method: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.write && r.method == method && r.path.ends_with(suffix))
        .count()
}

#[test]
fn every_write_mode_converges_the_same_fixture_and_a_second_apply_writes_nothing() {
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let m = path_str(dir.path());
    let mut end_states = Vec::new();
    for mode in ["batch", "desktop", "tag"] {
        let (_rt, emu) = emulator_with(seed(), |_| {});
        let (code, report, stderr) =
            apply_json(|d| d.against(&emu), &["--prune", "--write-mode", mode], m);
        assert_eq!(code, 0, "{mode}: {report}\n{stderr}");
        assert_eq!(report["projects"][0]["write_mode"], mode);
        // Per desktop: delete stale-i, overwrite env, create cost-center and team.
        assert_eq!(report["totals"]["applied"], 12 * 4, "{mode}");
        for change in changes(&report) {
            assert_eq!(change["outcome"], "applied", "{mode}: {change}");
            assert_eq!(change["via"], mode, "{mode}: {change}");
        }
        let requests = emu.requests();
        let writes = requests.iter().filter(|r| r.write).count();
        match mode {
            // One batch delete and one batch create (12 desktops fit one call).
            "batch" => assert_eq!(writes, 2, "{requests:?}"),
            "desktop" => assert_eq!(writes, 12 * 2),
            _ => assert_eq!(writes, 12 * 4),
        }
        end_states.push(tags_by_desktop(emu.desktops()));

        let before = emu.writes();
        let (code, again, _) =
            apply_json(|d| d.against(&emu), &["--prune", "--write-mode", mode], m);
        assert_eq!(code, 0);
        assert_eq!(again["totals"]["applied"], 0);
        assert_eq!(
            emu.writes(),
            before,
            "{mode}: a second apply sends no write"
        );
    }
    assert_eq!(end_states[0], end_states[1]);
    assert_eq!(end_states[1], end_states[2]);
    let first = end_states[0].values().next().unwrap();
    assert_eq!(
        first,
        &["cost-center=CC-1", "env=prod", "owner=it", "team=ops"]
    );
}

/// Two desktops whose creates pass the service's cap of 10 (the plan allows 12): the batch call
/// (or, with `--batch-cap skip`, the desktop inside it) fails, and so do their per-desktop calls.
fn near_cap_seed() -> Seed {
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..6 {
        yaml.push_str(&format!(
            "  - id: 44444444-0000-0000-0000-{i:012}\n    name: N-{i:02}\n"
        ));
    }
    yaml.push_str(
        "  - id: 44444444-0000-0000-0000-999999999999\n    name: N-99\n    tags: {k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}\n",
    );
    seed_yaml(&yaml)
}

const NEAR_CAP_MANIFEST: &str =
    "version: 1\ndesktops:\n  - name: \"N-*\"\n    tags: {a: \"1\", b: \"2\"}\n";
const BAD: &str = "44444444-0000-0000-0000-999999999999";

/// The checks shared by a rejected batch and a silently skipped desktop.
fn assert_only_the_bad_tag_failed(emu: &desktag_emulator::EmulatorHandle, report: &Value) {
    let desktops = report["projects"][0]["desktops"].as_array().unwrap();
    for d in desktops {
        if d["desktop_id"] == BAD {
            assert_eq!(d["status"], "failed", "{d}");
            let changes = d["changes"].as_array().unwrap();
            assert_eq!(changes[0]["key"], "a");
            assert_eq!(changes[0]["outcome"], "applied");
            assert_eq!(changes[0]["via"], "tag");
            let bad = &changes[1];
            assert_eq!(bad["key"], "b");
            assert_eq!(bad["outcome"], "failed");
            assert_eq!(bad["via"], "tag");
            assert_eq!(bad["error"]["status"], 400, "{bad}");
            assert!(bad["error"]["error_code"]
                .as_str()
                .is_some_and(|c| !c.is_empty()));
            assert!(bad["error"]["error_msg"]
                .as_str()
                .is_some_and(|c| !c.is_empty()));
            assert!(bad["error"]["request_id"]
                .as_str()
                .is_some_and(|c| !c.is_empty()));
        } else {
            assert_eq!(d["status"], "applied", "{d}");
        }
    }
    let requests = emu.requests();
    let single_b = requests
        .iter()
        .filter(|r| {
            r.method == "POST" && r.desktop_id.as_deref() == Some(BAD) && r.path.ends_with("/tags")
        })
        .count();
    assert_eq!(
        single_b, 2,
        "a and b each sent once as a single tag: {requests:?}"
    );
    // Nothing is reported applied that the service does not show.
    let state = tags_by_desktop(emu.desktops());
    for d in desktops {
        for c in d["changes"].as_array().unwrap() {
            let pair = format!(
                "{}={}",
                c["key"].as_str().unwrap(),
                c["value"].as_str().unwrap()
            );
            let has = state[d["desktop_id"].as_str().unwrap()].contains(&pair);
            assert_eq!(c["outcome"] == "applied", has, "{c}");
        }
    }
    assert_eq!(state[BAD].len(), 10);
}

#[test]
fn a_rejected_batch_is_bisected_so_only_the_bad_desktop_falls_back_and_only_its_bad_tag_fails() {
    let (_rt, emu) = emulator_with(near_cap_seed(), |_| {});
    let dir = manifests(&[("m.yaml", NEAR_CAP_MANIFEST)]);
    let (code, report, stderr) = apply_json(
        |d| d.against(&emu),
        &["--max-tags", "12"],
        path_str(dir.path()),
    );
    assert_eq!(code, 1, "{report}");
    assert_only_the_bad_tag_failed(&emu, &report);
    let requests = emu.requests();
    // 7 desktops, the bad one last: 7 → 3 + 4 → 2 + 2 → 1 + 1. The first call and six halves,
    // within 2·⌈log2 7⌉ + 2 calls for the isolation.
    let batch = writes_to(&requests, "/batch-tags", "POST");
    assert_eq!(batch, 7, "{requests:?}");
    assert_eq!(report["totals"]["bisected"], 6, "{}", report["totals"]);
    // Only the isolated desktop is written per desktop (rejected again), then per tag.
    assert_eq!(writes_to(&requests, "/tags/action", "POST"), 1);
    assert_eq!(
        report["totals"]["fallbacks"]["rejected"], 2,
        "batch → desktop → tag"
    );
    assert_eq!(report["totals"]["rebatched"], 0);
    let ok = report["projects"][0]["desktops"][0]["changes"][0].clone();
    assert_eq!(ok["via"], "batch");
    assert_eq!(
        ok["attempts"], 2,
        "the first call and the half it was in: {ok}"
    );
    assert_eq!(
        stderr.matches("rejected batch calls; bisected").count(),
        1,
        "one warning for the bisection: {stderr}"
    );
    assert_eq!(
        stderr.matches("rejected a per-desktop call").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_desktop_the_batch_silently_skips_is_caught_by_the_re_read() {
    let (_rt, emu) = emulator_with(near_cap_seed(), |c| c.batch_cap = BatchCap::Skip);
    let dir = manifests(&[("m.yaml", NEAR_CAP_MANIFEST)]);
    let (code, report, _) = apply_json(
        |d| d.against(&emu),
        &["--max-tags", "12"],
        path_str(dir.path()),
    );
    assert_eq!(code, 1, "{report}");
    assert_only_the_bad_tag_failed(&emu, &report);
    let requests = emu.requests();
    assert_eq!(writes_to(&requests, "/batch-tags", "POST"), 1);
    // Only the skipped desktop needed a fallback.
    assert_eq!(
        writes_to(&requests, "/tags/action", "POST"),
        1,
        "{requests:?}"
    );
    let ok = report["projects"][0]["desktops"][0]["changes"][0].clone();
    assert_eq!(ok["via"], "batch");
}

#[test]
fn a_403_on_the_batch_calls_moves_the_run_to_per_desktop_calls_with_one_warning() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // 250 desktops: three batch calls per phase, refused by a proxy in front of the emulator.
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..250 {
        yaml.push_str(&format!(
            "  - id: 55555555-0000-0000-0000-{i:012}\n    name: P-{i:03}\n    tags: {{old: x}}\n"
        ));
    }
    let state = desktag_emulator::EmulatorState::new(EmulatorConfig {
        seed: seed_yaml(&yaml),
        auth: Auth::AkSk {
            ak: AK.to_string(),
            sk: Secret::new(SK),
        },
        ..EmulatorConfig::default()
    })
    .unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let app = desktag_emulator::app(state.clone()).layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            async move {
                use axum::response::IntoResponse;
                if req.uri().path().ends_with("/desktops/batch-tags") {
                    counter.fetch_add(1, Ordering::Relaxed);
                    return (
                        axum::http::StatusCode::FORBIDDEN,
                        [("x-request-id", "denied-1")],
                        axum::Json(serde_json::json!({
                            "error_code": "WKS.00010002",
                            "error_msg": "policy does not allow workspace:desktops:tag"
                        })),
                    )
                        .into_response();
                }
                next.run(req).await
            }
        },
    ));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });

    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: \"P-*\"\n    tags: {env: prod}\n",
    )]);
    let endpoint = format!("http://{addr}");
    let (code, report, stderr) = apply_json(
        |d| {
            d.env("DESKTAG_ENDPOINT", &endpoint)
                .env("HUAWEICLOUD_SDK_AK", AK)
                .env("HUAWEICLOUD_SDK_SK", SK)
        },
        // Every desktop loses its only tag: over the --prune default, so raised explicitly.
        &["--prune", "--max-deletes", "250"],
        path_str(dir.path()),
    );
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["totals"]["applied"], 500);
    for change in changes(&report) {
        assert_eq!(change["via"], "desktop", "{change}");
    }
    assert_eq!(
        stderr.matches("refused batch writes").count(),
        1,
        "one warning: {stderr}"
    );
    // The first batch call is sent alone: one refusal, not one per call in flight.
    assert_eq!(refused.load(Ordering::Relaxed), 1);
    assert_eq!(
        report["totals"]["fallbacks"]["refused"], 500,
        "{}",
        report["totals"]
    );
    let state = tags_by_desktop(state.desktops());
    assert!(
        state.values().all(|tags| tags == &["env=prod"]),
        "{state:?}"
    );
}

/// `n` desktops each needing 2 new tags, for the timing-dependent tests.
pub(crate) fn many_seed(n: usize) -> Seed {
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - id: 66666666-0000-0000-0000-{i:012}\n    name: M-{i:02}\n"
        ));
    }
    seed_yaml(&yaml)
}

const MANY_MANIFEST: &str =
    "version: 1\ndesktops:\n  - name: \"M-*\"\n    tags: {env: prod, team: ops}\n";

#[cfg(unix)]
#[test]
fn ctrl_c_in_desktop_mode_skips_the_rest_and_reports_only_what_was_written() {
    let gate = desktag_emulator::Gate::after_writes(3);
    let (_rt, emu) = emulator_with(many_seed(40), |c| c.faults.gate = Some(gate.clone()));
    let dir = manifests(&[("m.yaml", MANY_MANIFEST)]);
    let child = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args([
            "apply",
            "--auto-approve",
            "--concurrency",
            "2",
            "--write-mode",
            "desktop",
            "--report-format",
            "json",
            path_str(dir.path()),
        ])
        .spawn();
    let output = interrupt_while_writing(child, &gate);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert!(
        report["totals"]["skipped"].as_u64().unwrap() > 0,
        "{report}"
    );
    let state = tags_by_desktop(emu.desktops());
    for d in report["projects"][0]["desktops"].as_array().unwrap() {
        for c in d["changes"].as_array().unwrap() {
            let pair = format!(
                "{}={}",
                c["key"].as_str().unwrap(),
                c["value"].as_str().unwrap()
            );
            let has = state[d["desktop_id"].as_str().unwrap()].contains(&pair);
            assert_eq!(c["outcome"] == "applied", has, "{c}");
            if c["outcome"] == "applied" {
                assert_eq!(c["via"], "desktop");
            }
        }
    }
}
#[test]
fn under_the_services_rate_limit_every_write_lands_and_every_429_is_counted() {
    // 300 writes against a service limited to 50 requests per second. How rare the 429s stay
    // depends on the machine's speed, so that figure is measured by `cargo bench --bench apply
    // -- realistic`; here only what holds at any speed.
    let (_rt, emu) = emulator_with(many_seed(150), |c| c.faults.rate_limit = Some(50.0));
    let dir = manifests(&[("m.yaml", MANY_MANIFEST)]);
    let (code, report, stderr) = apply_json(
        |d| d.against(&emu),
        &["--write-mode", "tag"],
        path_str(dir.path()),
    );
    assert_eq!(code, 0, "{report}\n{stderr}");
    let requests = emu.requests();
    let throttled = requests.iter().filter(|r| r.status == 429).count();
    assert_eq!(report["totals"]["applied"], 300);
    assert_eq!(
        report["totals"]["throttled"].as_u64().unwrap() as usize,
        throttled,
        "the report counts the 429s"
    );
    assert!(report["projects"][0]["totals"]["rate_ceiling"]
        .as_f64()
        .is_some_and(|r| r > 0.0));
}

#[test]
fn a_desktop_with_more_than_20_new_tags_is_written_in_two_batch_rounds() {
    let (_rt, emu) = emulator_with(many_seed(3), |c| c.max_tags = 30);
    let tags: Vec<String> = (0..25).map(|k| format!("k{k:02}: v")).collect();
    let manifest = format!(
        "version: 1\ndesktops:\n  - name: \"M-*\"\n    tags: {{{}}}\n",
        tags.join(", ")
    );
    let dir = manifests(&[("m.yaml", &manifest)]);
    let (code, report, stderr) = apply_json(
        |d| d.against(&emu),
        &["--max-tags", "30"],
        path_str(dir.path()),
    );
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(report["totals"]["applied"], 75);
    for change in changes(&report) {
        assert_eq!(change["via"], "batch", "{change}");
    }
    let requests = emu.requests();
    assert_eq!(
        writes_to(&requests, "/batch-tags", "POST"),
        2,
        "{requests:?}"
    );
    assert!(tags_by_desktop(emu.desktops())
        .values()
        .all(|t| t.len() == 25));
}

/// An emulator (no auth: the proxy rewrites bodies) behind `middleware`, served on 127.0.0.1:0.
pub(crate) fn proxied<F, Fut>(
    seed: Seed,
    max_tags: usize,
    middleware: F,
) -> (
    tokio::runtime::Runtime,
    Arc<desktag_emulator::EmulatorState>,
    String,
)
where
    F: Fn(axum::extract::Request, axum::middleware::Next) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = desktag_emulator::EmulatorState::new(EmulatorConfig {
        seed,
        max_tags,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let app = desktag_emulator::app(state.clone()).layer(axum::middleware::from_fn(middleware));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    (runtime, state, format!("http://{addr}"))
}

pub(crate) fn at(endpoint: &str) -> impl FnOnce(Desktag) -> Desktag + '_ {
    move |d| {
        d.env("DESKTAG_ENDPOINT", endpoint)
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
    }
}

const DELETE_ONLY: &str = "77777777-0000-0000-0000-000000000001";
const CREATE_ONLY: &str = "77777777-0000-0000-0000-000000000002";

#[test]
fn verification_a_misdirected_batch_create_is_caught_on_a_desktop_read_earlier() {
    // V-1 only loses `k` (read back after the delete phase); V-2 only gains `k`. The batch
    // create for V-2 lands on V-1 instead: V-1 must not be reported applied.
    let seed = seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: {DELETE_ONLY}\n    name: V-1\n    tags: {{k: x}}\n  - id: {CREATE_ONLY}\n    name: V-2\n"
    ));
    let (_rt, state, endpoint) = proxied(
        seed,
        10,
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            if req.method() != axum::http::Method::POST
                || !req.uri().path().ends_with("/batch-tags")
            {
                return next.run(req).await;
            }
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let text = String::from_utf8(bytes.to_vec())
                .unwrap()
                .replace(CREATE_ONLY, DELETE_ONLY);
            let mut parts = parts;
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(text),
            ))
            .await
        },
    );
    let dir = manifests(&[(
        "m.yaml",
        &format!("version: 1\ndesktops:\n  - id: {DELETE_ONLY}\n    absent: [k]\n  - id: {CREATE_ONLY}\n    tags: {{k: x}}\n"),
    )]);
    let (code, report, stderr) = apply_json(at(&endpoint), &[], path_str(dir.path()));
    assert_eq!(code, 1, "{report}\n{stderr}");
    let v1 = report["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["desktop_id"] == DELETE_ONLY)
        .unwrap();
    assert_eq!(v1["status"], "unverified", "{v1}");
    assert_eq!(v1["changes"][0]["outcome"], "failed", "{v1}");
    // Totals never count as applied what the final read shows absent: only V-2's create.
    assert_eq!(report["totals"]["applied"], 1, "{report}");
    let carried = tags_by_desktop(state.desktops());
    assert_eq!(
        carried[DELETE_ONLY],
        ["k=x"],
        "the lie is real: {carried:?}"
    );
}

#[test]
fn verification_deletes_answered_but_not_done_get_no_create_past_the_cap() {
    // A lenient service (cap 20) that answers every delete 204 and does nothing; the run's cap
    // is 10 and the desktop carries 10, two of which --prune deletes before two creates.
    let seed = seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: {DELETE_ONLY}\n    name: L-1\n    tags: {{a: \"1\", b: \"1\", c: \"1\", d: \"1\", e: \"1\", f: \"1\", g: \"1\", h: \"1\", x1: \"1\", x2: \"1\"}}\n"
    ));
    let (_rt, state, endpoint) = proxied(
        seed,
        20,
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            use axum::response::IntoResponse;
            let lie = || {
                (
                    axum::http::StatusCode::NO_CONTENT,
                    [("x-request-id", "lie-1")],
                )
                    .into_response()
            };
            let path = req.uri().path().to_string();
            if req.method() == axum::http::Method::DELETE && path.ends_with("/batch-tags") {
                return lie();
            }
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            if parts.method == axum::http::Method::POST
                && path.ends_with("/tags/action")
                && String::from_utf8_lossy(&bytes).contains("\"delete\"")
            {
                return lie();
            }
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        },
    );
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: L-1\n    tags: {a: \"1\", b: \"1\", c: \"1\", d: \"1\", e: \"1\", f: \"1\", g: \"1\", h: \"1\", n1: \"1\", n2: \"1\"}\n",
    )]);
    let (code, report, stderr) = apply_json(
        at(&endpoint),
        &["--prune", "--max-deletes", "2"],
        path_str(dir.path()),
    );
    assert_eq!(code, 1, "{report}\n{stderr}");
    let carried = tags_by_desktop(state.desktops());
    assert_eq!(
        carried[DELETE_ONLY].len(),
        10,
        "no create past the cap: {carried:?}"
    );
    let d = &report["projects"][0]["desktops"][0];
    assert_eq!(d["status"], "failed", "{d}");
    for change in d["changes"].as_array().unwrap() {
        assert_ne!(change["outcome"], "applied", "{change}");
    }
    assert_eq!(report["totals"]["applied"], 0, "{report}");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("a read after the call still shows the key"),
        "{d}"
    );
}

#[test]
fn verification_a_misdirected_batch_create_on_a_desktop_without_changes_is_caught() {
    const BYSTANDER: &str = "77777777-0000-0000-0000-000000000003";
    let seed = seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: {CREATE_ONLY}\n    name: V-2\n  - id: {BYSTANDER}\n    name: V-3\n    tags: {{other: y}}\n"
    ));
    let (_rt, state, endpoint) = proxied(
        seed,
        10,
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            if req.method() != axum::http::Method::POST
                || !req.uri().path().ends_with("/batch-tags")
            {
                return next.run(req).await;
            }
            let (mut parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            // The create meant for V-2 lands on V-3 as well.
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            let twice = text.replacen(
            &format!("{{\"desktop_id\":\"{CREATE_ONLY}\""),
            &format!("{{\"desktop_id\":\"{BYSTANDER}\",\"tags\":[{{\"key\":\"k\",\"value\":\"x\"}}]}},{{\"desktop_id\":\"{CREATE_ONLY}\""),
            1,
        );
            assert_ne!(twice, text, "the batch body is as expected: {text}");
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(twice),
            ))
            .await
        },
    );
    let dir = manifests(&[(
        "m.yaml",
        &format!("version: 1\ndesktops:\n  - id: {CREATE_ONLY}\n    tags: {{k: x}}\n  - id: {BYSTANDER}\n    tags: {{other: y}}\n"),
    )]);
    let (code, report, stderr) = apply_json(at(&endpoint), &[], path_str(dir.path()));
    assert_eq!(code, 1, "{report}\n{stderr}");
    let v3 = report["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["desktop_id"] == BYSTANDER)
        .unwrap();
    assert_eq!(v3["status"], "unverified", "{v3}");
    assert!(v3["reason"].as_str().unwrap().contains("`k`"), "{v3}");
    assert_eq!(
        tags_by_desktop(state.desktops())[BYSTANDER],
        ["k=x", "other=y"]
    );
}
