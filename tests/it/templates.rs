//! Templated values end to end: the owner comes from each desktop's user, a desktop without one
//! is blocked (exit 3) and left untouched, `${env.NAME}` is read at plan time, and a second run
//! has nothing to do.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, tags_by_name, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: 88888888-0000-0000-0000-000000000001\n    name: FIN-1\n    user: ann\n    enterprise_project_id: ep-9\n  - id: 88888888-0000-0000-0000-000000000002\n    name: FIN-2\n    user: bob\n  - id: 88888888-0000-0000-0000-000000000003\n    name: FIN-3\n"
    ))
}

const MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: \"FIN-*\"\n    tags:\n      owner: \"${desktop.user_name}\"\n      team: \"${env.DESKTAG_VAR_TEST_TEAM}\"\n";

#[test]
fn owners_come_from_the_desktops_users_and_a_desktop_without_one_is_blocked() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let m = path_str(dir.path());
    let ran = Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEST_TEAM", "finance")
        .args(["apply", "--auto-approve", m])
        .run()
        .code(3);
    assert!(
        ran.stdout
            .contains("tag `owner` = \"${desktop.user_name}\" cannot be rendered"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        tags_by_name(&emu, "FIN-1"),
        [
            ("owner".to_string(), "ann".to_string()),
            ("team".to_string(), "finance".to_string())
        ]
    );
    assert_eq!(tags_by_name(&emu, "FIN-2")[0].1, "bob");
    assert!(
        tags_by_name(&emu, "FIN-3").is_empty(),
        "blocked: nothing written"
    );

    // The plan shows rendered values; converged desktops have nothing left to do.
    let again = Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEST_TEAM", "finance")
        .args(["plan", "--format", "json", m])
        .run()
        .code(3)
        .json();
    assert_eq!(again["summary"]["changed"], 0);
    assert_eq!(again["summary"]["blocked"], 1);
}

#[test]
fn an_unset_environment_variable_blocks_instead_of_writing_half_right() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", path_str(dir.path())])
        .run()
        .code(3);
    assert!(
        ran.stdout
            .contains("the environment variable `DESKTAG_VAR_TEST_TEAM` is not set"),
        "{}",
        ran.stdout
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn a_saved_plan_with_templates_is_replanned_with_the_environment_of_the_apply() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let out = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEST_TEAM", "ops")
        .args([
            "plan",
            "--out",
            path_str(&out),
            path_str(&dir.path().join("m.yaml")),
        ])
        .run()
        .code(3);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(
        plan["projects"][0]["made_from"]["env"]["DESKTAG_VAR_TEST_TEAM"],
        "ops"
    );
    // The attributes the templates read are part of the staleness fingerprint.
    let attributes = plan["projects"][0]["made_from"]["attributes"]
        .as_object()
        .unwrap();
    assert!(
        attributes.values().all(|a| a.get("user_name").is_some()),
        "{attributes:?}"
    );
    // Applied without the variable set: the re-plan reads the environment of the apply, not
    // the file, and refuses what it does not produce.
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--plan", path_str(&out)])
        .run()
        .code(1);
    assert!(
        ran.stderr
            .contains("the environment differs from when it was made: `DESKTAG_VAR_TEST_TEAM`"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
    // With the same environment, it applies.
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEST_TEAM", "ops")
        .args(["apply", "--plan", path_str(&out)])
        .run()
        .code(3);
    assert_eq!(tags_by_name(&emu, "FIN-2")[1].1, "ops");
}

#[test]
fn export_with_templates_round_trips_to_no_changes() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEST_TEAM", "finance")
        .args(["apply", "--auto-approve", path_str(dir.path())])
        .run()
        .code(3);
    let exported = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args([
            "export",
            "--by",
            "name",
            "--group-by",
            "team",
            "--template",
            "owner=user_name",
        ])
        .run()
        .code(0);
    assert!(
        exported
            .stdout
            .contains("defaults:\n  owner: \"${desktop.user_name}\"\n"),
        "{}",
        exported.stdout
    );
    let shaped = manifests(&[("shaped.yaml", &exported.stdout)]);
    Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", path_str(shaped.path())])
        .run()
        .code(0);
    let bad = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["export", "--template", "owner=user"])
        .run()
        .code(1);
    assert!(bad.stderr.contains("write KEY=ATTR"), "{}", bad.stderr);
}

/// Kiosks and pools have no user; their owner was set by hand and is `create_only`.
fn kiosk_seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: 88888888-0000-0000-0000-000000000001\n    name: FIN-1\n    user: ann\n  - id: 88888888-0000-0000-0000-000000000002\n    name: KIOSK-1\n    tags:\n      owner: facilities\n  - id: 88888888-0000-0000-0000-000000000003\n    name: POOL-1\n"
    ))
}

#[test]
fn a_userless_desktop_keeps_its_create_only_owner_and_is_not_blocked() {
    let (_rt, emu) = emulator_with(kiosk_seed(), |_| {});
    let manifest = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ncreate_only: [owner]\ndesktops:\n  - name: \"FIN-1\"\n    tags:\n      owner: \"${desktop.user_name}\"\n  - name: \"KIOSK-*\"\n    tags:\n      owner: \"${desktop.user_name}\"\n      site: hq\n  - name: \"POOL-*\"\n    tags:\n      owner: \"${desktop.user_name:-shared-pool}\"\n";
    let dir = manifests(&[("m.yaml", manifest)]);
    let m = path_str(dir.path());
    let planned = Desktag::new()
        .against(&emu)
        .args(["plan", "--explain", m])
        .run()
        .code(0);
    assert!(
        planned
            .stdout
            .contains("  kept: owner: create_only, carries \"facilities\""),
        "{}",
        planned.stdout
    );
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", m])
        .run()
        .code(0);
    assert_eq!(
        tags_by_name(&emu, "KIOSK-1"),
        [
            ("owner".to_string(), "facilities".to_string()),
            ("site".to_string(), "hq".to_string())
        ]
    );
    assert_eq!(tags_by_name(&emu, "FIN-1")[0].1, "ann");
    assert_eq!(tags_by_name(&emu, "POOL-1")[0].1, "shared-pool");
    // The nightly run after it: in sync, exit 0, not 3.
    Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", m])
        .run()
        .code(0);
}

#[test]
fn a_fallback_that_is_no_valid_tag_value_is_refused_where_written() {
    let manifest = "version: 1\ndesktops:\n  - name: \"FIN-*\"\n    tags:\n      owner: \"${desktop.user_name:-a{b}\"\n      env: \"${env.DESKTAG_VAR_ENV:-x/y}\"\n";
    let dir = manifests(&[("m.yaml", manifest)]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    assert!(
        ran.stderr
            .contains("value of tag `env`: the fallback of `${env.DESKTAG_VAR_ENV}`"),
        "{}",
        ran.stderr
    );
}
