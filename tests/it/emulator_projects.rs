//! One emulator serving several projects: each project's own desktops on every route, one rate
//! limit per credential shared by every project it calls, a state file that keeps them all, and
//! the real binary applying two projects against one emulator.

use std::time::Duration;

use desktag_emulator::{Auth, Clock, EmulatorConfig, Faults, ManualClock, Seed};
use serde_json::json;

use crate::support::emulator::{self, Emulator};
use crate::support::wire::{Answer, Wire};
use crate::support::{manifests, path_str, seed_yaml, Desktag};

const P1: &str = "11111111111111111111111111111111";
const P2: &str = "22222222222222222222222222222222";

/// P1 has desktop `a`; P2 has its own `a` (another desktop with the same id) and `b`.
fn two_projects() -> Seed {
    seed_yaml(&format!(
        "projects:\n  - project_id: {P1}\n    desktops:\n      - {{id: a, name: P1-A, tags: {{keep: one}}}}\n  - project_id: {P2}\n    desktops:\n      - {{id: a, name: P2-A}}\n      - {{id: b, name: P2-B}}\n"
    ))
}

fn open_config(seed: Seed) -> EmulatorConfig {
    emulator::config(seed, |c| c.auth = Auth::None)
}

/// `…/v2/{project}/desktops{path}` of `wire`'s emulator.
fn url(wire: &Wire, project: &str, path: &str) -> String {
    format!("{}/v2/{project}/desktops{path}", wire.base)
}

fn names(list: &Answer) -> Vec<&str> {
    list.json["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["computer_name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn one_emulator_serves_each_project_its_own_desktops() {
    let emu = emulator::start(open_config(two_projects())).await;
    let wire = Wire::new(emu.base_url());
    let get = |project: &str, path: &str| wire.http.get(url(&wire, project, path));

    let p1 = wire.send(get(P1, "")).await;
    assert_eq!(
        (p1.json["total_count"].as_u64(), names(&p1)),
        (Some(1), vec!["P1-A"])
    );
    let p2 = wire.send(get(P2, "?desktop_id=a&desktop_id=b")).await;
    assert_eq!(names(&p2), vec!["P2-A", "P2-B"]);

    // A write to one project's `a` leaves the other's alone; a desktop of P2 is unknown in P1.
    let post = wire
        .http
        .post(url(&wire, P2, "/a/tags"))
        .json(&json!({"tag": {"key": "env", "value": "prod"}}));
    assert_eq!(wire.send(post).await.status, 204);
    let batch = wire
        .http
        .post(url(&wire, P1, "/batch-tags"))
        .json(&json!({"desktops": [{"desktop_id": "b", "tags": [{"key": "env", "value": "x"}]}]}));
    assert_eq!(
        wire.send(batch).await.status,
        204,
        "unknown ids are left out"
    );
    let missing = wire.send(get(P1, "/b/tags")).await;
    assert_eq!(
        (missing.status, missing.json["error_code"].as_str()),
        (404, Some(desktag_emulator::DESKTOP_NOT_FOUND))
    );
    assert_eq!(
        wire.send(get(P1, "/a/tags")).await.json["tags"],
        json!([{"key": "keep", "value": "one"}])
    );
    assert_eq!(
        wire.send(get(P2, "/a/tags")).await.json["tags"],
        json!([{"key": "env", "value": "prod"}])
    );
    assert!(emu.project_desktops(P2).unwrap()[1].tags.is_empty());

    let unknown = wire.send(get("33333333333333333333333333333333", "")).await;
    assert_eq!(
        (unknown.status, unknown.json["error_code"].as_str()),
        (404, Some(desktag_emulator::PROJECT_NOT_FOUND))
    );
    assert_eq!(emu.project_ids(), vec![P1.to_string(), P2.to_string()]);
    assert_eq!(emu.project_id(), P1, "the first project is the default one");
}

/// A request presenting `credential`: `("ak", AK)` as a signature's access key (the emulator
/// runs without auth, so the signature itself is not checked), `("token", T)`, or nothing.
fn with_credential(
    req: reqwest::RequestBuilder,
    credential: Option<(&str, &str)>,
) -> reqwest::RequestBuilder {
    match credential {
        Some(("ak", ak)) => req.header(
            "Authorization",
            format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature=00"),
        ),
        Some((_, token)) => req.header("X-Auth-Token", token),
        None => req,
    }
}

#[tokio::test]
async fn the_rate_limit_is_one_bucket_per_credential_shared_by_its_projects() {
    // The emulator's clock stands still until the test moves it: no window to miss.
    let clock = ManualClock::new();
    let mut config = open_config(two_projects());
    config.faults = Faults {
        rate_limit: Some(2.0),
        clock: Clock::Manual(clock.clone()),
        ..Faults::default()
    };
    let emu = emulator::start(config).await;
    let wire = Wire::new(emu.base_url());
    let status = |project: &'static str, credential: Option<(&'static str, &'static str)>| {
        let req = with_credential(wire.http.get(url(&wire, project, "?limit=1")), credential);
        async { wire.send(req).await.status }
    };
    let ak1 = Some(("ak", "AK-ONE"));
    // AK-ONE's burst of two is spent across both projects.
    assert_eq!(status(P1, ak1).await, 200);
    assert_eq!(status(P2, ak1).await, 200);
    assert_eq!(status(P1, ak1).await, 429);
    assert_eq!(status(P2, ak1).await, 429);
    // Another access key, a token, and requests without a credential each have their own.
    for other in [Some(("ak", "AK-TWO")), Some(("token", "a-token")), None] {
        assert_eq!(status(P2, other).await, 200, "{other:?}");
        assert_eq!(status(P1, other).await, 200, "{other:?}");
        assert_eq!(status(P1, other).await, 429, "{other:?}");
    }
    // Half a second refills one token in every bucket.
    clock.advance(Duration::from_millis(500));
    assert_eq!(status(P2, ak1).await, 200);
    assert_eq!(status(P1, ak1).await, 429);
    assert_eq!(status(P1, None).await, 200);
    let throttled = emu.requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 6);
}

#[tokio::test]
async fn a_state_file_keeps_every_project_and_refuses_another_set_of_projects() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.yaml");
    let with_state = |seed: Seed| {
        let mut config = open_config(seed);
        config.state_file = Some(state.clone());
        config
    };
    let emu = emulator::start(with_state(two_projects())).await;
    let wire = Wire::new(emu.base_url());
    let post = wire
        .http
        .post(url(&wire, P2, "/b/tags"))
        .json(&json!({"tag": {"key": "env", "value": "saved"}}));
    assert_eq!(wire.send(post).await.status, 204);
    emu.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        text.starts_with("# desktag emulator state: 3 desktops\nprojects:"),
        "{text}"
    );

    let again = emulator::start(with_state(two_projects())).await;
    let b = &again.project_desktops(P2).unwrap()[1];
    assert_eq!(
        (b.id.as_str(), b.tags.get("env").map(|v| v.as_str())),
        ("b", Some("saved"))
    );
    assert_eq!(again.project_desktops(P1).unwrap()[0].tags.len(), 1);
    again.shutdown().await.unwrap();

    let one = seed_yaml(&format!(
        "project_id: {P1}\ndesktops: [{{id: a, name: A}}]\n"
    ));
    let err = desktag_emulator::spawn(with_state(one))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "it holds projects `{P1}`, `{P2}`, but this emulator serves project `{P1}`"
        )),
        "{err}"
    );
}

#[test]
fn desktag_applies_two_projects_against_one_emulator() {
    let emu = Emulator::start(emulator::config(two_projects(), |_| {}));
    let dir = manifests(&[
        (
            "one.yaml",
            &format!("version: 1\nproject_id: {P1}\ndesktops:\n  - name: P1-A\n    tags: {{env: one}}\n"),
        ),
        (
            "two.yaml",
            &format!("version: 1\nproject_id: {P2}\ndesktops:\n  - name: \"P2-*\"\n    tags: {{env: two}}\n"),
        ),
    ]);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
    let report = ran.json();
    assert_eq!(report["totals"]["applied"], 3, "{report:#}");
    let env = |project: &str| -> Vec<String> {
        emu.project_desktops(project)
            .unwrap()
            .iter()
            .map(|d| d.tags.get("env").map(|v| v.to_string()).unwrap_or_default())
            .collect()
    };
    assert_eq!(env(P1), vec!["one"]);
    assert_eq!(env(P2), vec!["two", "two"]);
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.path.starts_with(&format!("/v2/{P2}/"))),
        "P2 was served by the same emulator"
    );
}
