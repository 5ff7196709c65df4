//! The emulator's service-side faults: `--reject-value` (a tag value the service refuses, on
//! every kind of tag write, batch calls all or nothing) and `--lost-answer-rate` (a write applied,
//! its answer then held past the client's timeout, without holding up other requests or the
//! emulator's shutdown); and the real binary meeting a rejected value.

use std::time::Duration;

use desktag_emulator::{EmulatorConfig, Faults, Seed, INVALID_TAG};
use serde_json::json;

use crate::support::emulator::{self, Emulator};
use crate::support::wire::{Answer, Wire};
use crate::support::{manifests, path_str, seed_yaml, tags_of, Desktag, PROJECT};

fn seed() -> Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - {{id: d1, name: W-1, tags: {{old: forbidden}}}}\n  - {{id: d2, name: W-2}}\n  - {{id: d3, name: W-3}}\n"
    ))
}

fn config(faults: Faults) -> EmulatorConfig {
    emulator::config(seed(), |c| {
        c.auth = desktag_emulator::Auth::None;
        c.faults = faults;
    })
}

fn assert_invalid_tag(a: &Answer, key: &str) {
    assert_eq!(a.status, 400, "{}", a.json);
    assert_eq!(a.json["error_code"], INVALID_TAG, "{}", a.json);
    let msg = a.json["error_msg"].as_str().unwrap();
    assert!(msg.contains(&format!("`{key}`")), "{msg}");
}

#[tokio::test]
async fn a_rejected_value_refuses_every_kind_of_tag_write_and_changes_nothing() {
    let emu = emulator::start(config(Faults {
        reject_values: vec!["forbidden".to_string(), "also-bad".to_string()],
        ..Faults::default()
    }))
    .await;
    let wire = Wire::new(emu.base_url());
    let before = emu.desktops();

    let single = wire
        .post(
            "/d2/tags",
            json!({"tag": {"key": "env", "value": "forbidden"}}),
        )
        .await;
    assert_invalid_tag(&single, "env");
    let action = wire
        .post(
            "/d2/tags/action",
            json!({"action": "create", "tags": [{"key": "ok", "value": "fine"}, {"key": "team", "value": "also-bad"}]}),
        )
        .await;
    assert_invalid_tag(&action, "team");
    let batch = wire
        .batch_add(json!({"desktops": [
            {"desktop_id": "d2", "tags": [{"key": "env", "value": "prod"}]},
            {"desktop_id": "d3", "tags": [{"key": "env", "value": "prod"}, {"key": "x", "value": "forbidden"}]},
        ]}))
        .await;
    assert_invalid_tag(&batch, "x");
    assert_eq!(emu.desktops(), before, "nothing was applied");
    assert_eq!(emu.writes(), 0);

    // Other values pass, and deletes carry no value to refuse: a desktop already holding a
    // refused value can lose it.
    let fine = wire
        .post(
            "/d2/tags",
            json!({"tag": {"key": "env", "value": "Forbidden"}}),
        )
        .await;
    assert_eq!(fine.status, 204, "{}", fine.json);
    let delete = wire
        .batch_delete(json!({"desktops": [{"desktop_id": "d1", "tags": [{"key": "old", "value": "forbidden"}]}]}))
        .await;
    assert_eq!(delete.status, 204, "{}", delete.json);
    let log = emu.requests();
    let refused: Vec<_> = log.iter().filter(|r| r.status == 400).collect();
    assert_eq!(refused.len(), 3);
    assert!(refused
        .iter()
        .all(|r| r.write && r.error_code.as_deref() == Some(INVALID_TAG)));
}

#[tokio::test]
async fn a_lost_answer_is_applied_then_held_past_the_clients_timeout() {
    let emu = emulator::start(config(Faults {
        lost_answer_rate: 1.0,
        lost_answer: Duration::from_secs(600),
        ..Faults::default()
    }))
    .await;
    let wire = Wire::new(emu.base_url());
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .post(wire.url("/d2/tags"))
        .json(&json!({"tag": {"key": "env", "value": "prod"}}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The write was applied and logged as held, though its answer never came.
    assert_eq!(
        tags_of(&emu, "d2").get("env").map(|v| v.as_str()),
        Some("prod")
    );
    let log = emu.requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].status, log[0].held_ms), (204, Some(600_000)));

    // A held answer holds up neither reads (never lost) nor the emulator's shutdown.
    let held = tokio::spawn({
        let req = wire
            .http
            .post(wire.url("/d3/tags"))
            .json(&json!({"tag": {"key": "env", "value": "prod"}}));
        async move { req.send().await.map(|r| r.status().as_u16()) }
    });
    assert_eq!(wire.get("/d1/tags").await.status, 200);
    while emu.requests().len() < 3 {
        tokio::task::yield_now().await;
    }
    // A guard against a hang, not a time any run is expected to take.
    tokio::time::timeout(Duration::from_secs(120), emu.shutdown())
        .await
        .expect("the shutdown does not wait for held answers")
        .unwrap();
    assert_eq!(held.await.unwrap().ok(), Some(204), "released at shutdown");
}

#[test]
fn desktag_reports_the_desktop_whose_value_the_service_rejects_and_applies_the_rest() {
    let emu = Emulator::start(emulator::config(seed(), |c| {
        c.faults.reject_values = vec!["forbidden".to_string()];
    }));
    let dir = manifests(&[(
        "m.yaml",
        &format!(
            "version: 1\nproject_id: {PROJECT}\ndesktops:\n  - name: W-1\n    tags: {{env: prod}}\n  - name: W-2\n    tags: {{env: forbidden}}\n  - name: W-3\n    tags: {{env: prod}}\n"
        ),
    )]);
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
        .code(1);
    let report = ran.json();
    assert_eq!(report["totals"]["failed"], 1, "{report:#}");
    assert_eq!(report["totals"]["applied"], 2, "{report:#}");
    let env = |id: &str| tags_of(&emu, id).get("env").map(|v| v.to_string());
    assert_eq!(
        (env("d1"), env("d2"), env("d3")),
        (Some("prod".into()), None, Some("prod".into()))
    );
}
