//! Saved plans: `apply --plan` refuses, with no write, a plan that went stale, a corrupted or
//! inconsistent file, a plan whose recorded manifests (path and SHA-256) changed, and one whose
//! changes those manifests do not produce (a hand edit that stays internally consistent).

use serde_json::{json, Value};

use crate::support::{
    emulator_with, manifests, path_str, seed_yaml, small_seed, Desktag, SMALL_MANIFEST,
};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: 66666666-0000-0000-0000-000000000001\n    name: A-1\n    tags: {{env: dev, keep-1: x, keep-2: y}}\n"
    ))
}

const MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: A-1\n    tags: {env: prod}\n";

fn save_plan(emu: &desktag_emulator::EmulatorHandle, dir: &std::path::Path) -> std::path::PathBuf {
    let plan_file = dir.join("plan.json");
    Desktag::new()
        .against(emu)
        .args([
            "plan",
            "--out",
            path_str(&plan_file),
            path_str(&dir.join("m.yaml")),
        ])
        .run()
        .code(0);
    plan_file
}

fn apply_saved(
    emu: &desktag_emulator::EmulatorHandle,
    plan: &std::path::Path,
) -> crate::support::Ran {
    Desktag::new()
        .against(emu)
        .args(["apply", "--auto-approve", "--plan", path_str(plan)])
        .run()
}

#[test]
fn the_saved_plan_records_its_manifests_with_digests() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let manifests = plan["projects"][0]["made_from"]["manifests"]
        .as_array()
        .unwrap();
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["path"], path_str(&dir.path().join("m.yaml")));
    let sha = manifests[0]["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(sha.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn a_hand_edited_but_consistent_plan_is_refused_with_no_write() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    // Two deletes of unmanaged keys, with the summary fixed to match: consistent on its own.
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let desktop = &mut plan["projects"][0]["desktops"][0];
    let mut changes = vec![
        json!({"action": "delete", "key": "keep-1", "old": "x"}),
        json!({"action": "delete", "key": "keep-2", "old": "y"}),
    ];
    changes.extend(desktop["changes"].as_array().unwrap().iter().cloned());
    desktop["changes"] = Value::Array(changes);
    desktop["unmanaged"] = json!([]);
    // The project's summary and the document's.
    plan["projects"][0]["summary"]["delete"] = json!(2);
    plan["summary"]["delete"] = json!(2);
    std::fs::write(&plan_file, serde_json::to_string_pretty(&plan).unwrap()).unwrap();

    let ran = apply_saved(&emu, &plan_file).code(1);
    let last = ran.stderr.lines().last().unwrap();
    assert!(
        last.contains("has changes for 1 desktop that its manifests do not produce"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(
            "the plan file has delete `keep-1`, delete `keep-2`, overwrite `env`; its manifests give overwrite `env`"
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn a_plan_whose_manifest_changed_is_refused_and_one_without_them_applies_with_a_warning() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    let manifest = dir.path().join("m.yaml");
    std::fs::write(&manifest, MANIFEST.replace("prod", "test")).unwrap();
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr.contains("which has changed since"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);

    // The plan file alone (as when only it reaches the apply job): checked for staleness and
    // consistency only, with a warning.
    std::fs::remove_file(&manifest).unwrap();
    let ran = apply_saved(&emu, &plan_file).code(0);
    assert!(
        ran.stderr
            .contains("manifests the plan was made from are not here"),
        "{}",
        ran.stderr
    );
    assert!(emu.writes() > 0);
}

#[test]
fn an_untouched_plan_made_with_flags_applies() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .args([
            "plan",
            "--prune",
            "--ignore-key",
            "keep-2",
            "--target",
            "A-1",
            "--out",
            path_str(&plan_file),
            path_str(&dir.path().join("m.yaml")),
        ])
        .run()
        .code(0);
    apply_saved(&emu, &plan_file).code(0);
    let desktop = emu.desktops().into_iter().next().unwrap();
    let keys: Vec<String> = desktop.tags.keys().map(|k| k.to_string()).collect();
    assert_eq!(keys, ["env", "keep-2"]);
}

#[test]
fn a_stale_saved_plan_is_refused_without_writing() {
    let (rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    // Someone changes a planned desktop by hand.
    let connection = desktag_api::Connection {
        endpoint: url::Url::parse(&emu.base_url()).unwrap(),
        project_id: PROJECT.to_string(),
        credentials: desktag_api::Credentials::AkSk {
            ak: crate::support::AK.to_string().into(),
            sk: crate::support::SK.to_string().into(),
            security_token: None,
            origin: "the test",
        },
    };
    let client = desktag_api::Client::new(connection, Default::default()).unwrap();
    rt.block_on(client.create_tag("11111111-0000-0000-0000-000000000002", "owner", "someone"))
        .expect("the hand-made change is accepted");
    let writes = emu.writes();
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(1);
    assert!(ran.stderr.contains("stale"), "{}", ran.stderr);
    assert!(ran.stderr.contains("A-2"), "{}", ran.stderr);
    assert_eq!(emu.writes(), writes, "a stale plan must not write");

    // A fresh plan applies.
    save_plan(&emu, dir.path());
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(0);
    assert!(emu.writes() > writes);
}

#[test]
fn an_edited_saved_plan_is_refused_without_writing() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(text.contains("\"key\": \"env\""));
    std::fs::write(
        &plan_file,
        text.replacen("\"key\": \"env\"", "\"key\": \"env/x\"", 1),
    )
    .unwrap();
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("is not a usable desktag plan"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("env/x"), "{}", ran.stderr);
    assert_eq!(emu.writes(), 0);
}
