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

const MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: \"FIN-*\"\n    tags:\n      owner: \"${desktop.user_name}\"\n      team: \"${env.DESKTAG_TEST_TEAM}\"\n";

#[test]
fn owners_come_from_the_desktops_users_and_a_desktop_without_one_is_blocked() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let m = path_str(dir.path());
    let ran = Desktag::new()
        .against(&emu)
        .env("DESKTAG_TEST_TEAM", "finance")
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
        .env("DESKTAG_TEST_TEAM", "finance")
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
            .contains("the environment variable `DESKTAG_TEST_TEAM` is not set"),
        "{}",
        ran.stdout
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn a_saved_plan_with_templates_applies_and_records_the_environment_it_used() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let out = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_TEST_TEAM", "ops")
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
    assert_eq!(plan["made_from"]["env"]["DESKTAG_TEST_TEAM"], "ops");
    // Applied without the variable set: the plan carries the rendered values.
    Desktag::new()
        .against(&emu)
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
        .env("DESKTAG_TEST_TEAM", "finance")
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
