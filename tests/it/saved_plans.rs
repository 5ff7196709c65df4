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

    // The plan file alone (as when only it reaches the apply job): refused, unless the person
    // applying it says the file is trusted; then checked for staleness and consistency only,
    // with a warning.
    std::fs::remove_file(&manifest).unwrap();
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("1 of the manifests it records is not here"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--trust-plan"), "{}", ran.stderr);
    assert_eq!(emu.writes(), 0);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--trust-plan",
            "--plan",
            path_str(&plan_file),
        ])
        .run()
        .code(0);
    assert!(
        ran.stderr
            .contains("applying it unchecked against them (--trust-plan)"),
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
    // Applied with other options than it was made with: refused, naming them.
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("it prunes and this command has no --prune"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("it records --prune --ignore-key \"keep-2\" --target \"A-1\""),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
    // With the same options given again, it applies.
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .args(["--prune", "--ignore-key", "keep-2", "--target", "A-1"])
        .run()
        .code(0);
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

/// Reads, edits and writes back a saved plan.
fn edit_plan(plan_file: &std::path::Path, f: impl FnOnce(&mut Value)) {
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(plan_file).unwrap()).unwrap();
    f(&mut plan);
    std::fs::write(plan_file, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
}

/// Two deletes of the unmanaged keys, with the summary fixed to match.
fn add_unmanaged_deletes(plan: &mut Value) {
    let desktop = &mut plan["projects"][0]["desktops"][0];
    let mut changes = vec![
        json!({"action": "delete", "key": "keep-1", "old": "x"}),
        json!({"action": "delete", "key": "keep-2", "old": "y"}),
    ];
    changes.extend(desktop["changes"].as_array().unwrap().iter().cloned());
    desktop["changes"] = Value::Array(changes);
    desktop["unmanaged"] = json!([]);
    plan["projects"][0]["summary"]["delete"] = json!(2);
    plan["summary"]["delete"] = json!(2);
}

#[test]
fn saved_plan_provenance_a_bogus_manifest_entry_does_not_switch_off_the_replan() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    edit_plan(&plan_file, |plan| {
        add_unmanaged_deletes(plan);
        plan["projects"][0]["made_from"]["manifests"]
            .as_array_mut()
            .unwrap()
            .push(json!({"path": "/nonexistent/bogus.yaml", "sha256": "00"}));
    });
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("cannot be checked against the manifests it was made from"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
    // Given the manifests on the command line, the bogus entry is a file they do not include.
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(1);
    assert!(
        ran.stderr
            .contains("which the manifests given to this command do not include"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn saved_plan_provenance_a_plan_without_made_from_is_refused_unless_trusted() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    edit_plan(&plan_file, |plan| {
        plan["projects"][0]
            .as_object_mut()
            .unwrap()
            .remove("made_from");
    });
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("it records no manifests it was made from; nothing was written"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
    // Given the manifests, it is re-planned from them all the same: a hand edit is caught.
    let edited = dir.path().join("edited.json");
    std::fs::copy(&plan_file, &edited).unwrap();
    edit_plan(&edited, add_unmanaged_deletes);
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&edited)])
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("that its manifests do not produce"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
    Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--trust-plan",
            "--plan",
            path_str(&plan_file),
        ])
        .run()
        .code(0);
    assert!(emu.writes() > 0);
}

#[test]
fn saved_plan_settings_a_flipped_prune_is_refused() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    // The exact edit the README says is caught: prune on, deletes of unmanaged keys added.
    edit_plan(&plan_file, |plan| {
        add_unmanaged_deletes(plan);
        plan["projects"][0]["prune"] = json!(true);
    });
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("it prunes and this command has no --prune"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn saved_plan_settings_a_dropped_ignore_glob_is_refused() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = dir.path().join("plan.json");
    let flags = ["--prune", "--ignore-key", "keep-*"];
    Desktag::new()
        .against(&emu)
        .args(["plan", "--out", path_str(&plan_file)])
        .args(flags)
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(0);
    // The glob dropped from the file and the ignored keys deleted: consistent on its own.
    edit_plan(&plan_file, |plan| {
        plan["projects"][0]["made_from"]
            .as_object_mut()
            .unwrap()
            .remove("ignore_keys");
        plan["projects"][0]["desktops"][0]["ignored"] = json!([]);
        add_unmanaged_deletes(plan);
    });
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .args(flags)
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("that its manifests do not produce"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn saved_plan_guardrails_max_deletes_is_checked_at_apply_time() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .args(["plan", "--prune", "--out", path_str(&plan_file)])
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(0);
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--prune", "--max-deletes", "1"])
        .args(["--plan", path_str(&plan_file)])
        .run()
        .code(1);
    assert!(
        ran.stderr
            .contains("the plan deletes 2 tags, over --max-deletes 1"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

const ENV_MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: A-1\n    tags: {env: prod, team: \"${env.DESKTAG_VAR_TEAM}\"}\n";

#[test]
fn saved_plan_environment_an_edited_env_value_is_refused() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", ENV_MANIFEST)]);
    let plan_file = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEAM", "finance")
        .args(["plan", "--out", path_str(&plan_file)])
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(0);
    edit_plan(&plan_file, |plan| {
        plan["projects"][0]["made_from"]["env"]["DESKTAG_VAR_TEAM"] = json!("evil");
        for change in plan["projects"][0]["desktops"][0]["changes"]
            .as_array_mut()
            .unwrap()
        {
            if change["key"] == "team" {
                change["value"] = json!("evil");
            }
        }
    });
    let ran = Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEAM", "finance")
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains(
            "the plan file has overwrite `env`, create `team` = \"evil\"; its manifests give overwrite `env`, create `team` = \"finance\""
        ),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
    // The environment of the apply job counts, not the file: a different value there is refused
    // too, and the refusal names the variable without its value.
    let plan_file2 = dir.path().join("plan2.json");
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEAM", "finance")
        .args(["plan", "--out", path_str(&plan_file2)])
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(0);
    let ran = Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEAM", "sales")
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file2)])
        .run()
        .code(1);
    assert!(
        ran.stderr
            .contains("the environment differs from when it was made: `DESKTAG_VAR_TEAM`"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn saved_plan_environment_only_used_values_are_recorded() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    // One desktop takes DESKTAG_VAR_TEAM; the entry reading DESKTAG_VAR_DB selects no desktop,
    // and DESKTAG_VAR_URL cannot be a tag value, so its desktop is blocked.
    let manifest = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: A-1\n    tags: {team: \"${env.DESKTAG_VAR_TEAM}\"}\n  - name: NOBODY\n    tags: {db: \"${env.DESKTAG_VAR_DB}\"}\n";
    let dir = manifests(&[("m.yaml", manifest)]);
    let plan_file = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .env("DESKTAG_VAR_TEAM", "finance")
        .env("DESKTAG_VAR_DB", "postgres://u:hunter2@db/x")
        .args(["plan", "--out", path_str(&plan_file)])
        .arg_path(&dir.path().join("m.yaml"))
        .run()
        .code(0);
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    let plan: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        plan["projects"][0]["made_from"]["env"],
        json!({"DESKTAG_VAR_TEAM": "finance"})
    );
}

#[test]
fn saved_plan_signature_a_signed_plan_applies_and_an_altered_or_unsigned_one_is_refused() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = dir.path().join("plan.json");
    let key = "a-key-only-the-pipeline-holds";
    let plan = |out: &std::path::Path, key: Option<&str>| {
        let mut run = Desktag::new()
            .against(&emu)
            .args(["plan", "--out", path_str(out)])
            .arg_path(&dir.path().join("m.yaml"));
        if let Some(key) = key {
            run = run.env("DESKTAG_PLAN_KEY", key);
        }
        run.run().code(0);
    };
    let apply = |file: &std::path::Path, key: &str| {
        Desktag::new()
            .against(&emu)
            .env("DESKTAG_PLAN_KEY", key)
            .args(["apply", "--auto-approve", "--plan", path_str(file)])
            .run()
    };
    plan(&plan_file, Some(key));
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(text.contains("\"signature\": \"hmac-sha256:"), "{text}");
    assert!(!text.contains(key));

    // Altered after signing (a warning added: harmless in itself, still refused).
    let altered = dir.path().join("altered.json");
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["projects"][0]["warnings"] =
        json!([{"severity": "warning", "code": "selector", "message": "x"}]);
    std::fs::write(&altered, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let ran = apply(&altered, key).code(1);
    assert!(
        ran.stderr.contains("its signature does not match"),
        "{}",
        ran.stderr
    );
    // A key written twice (parsers disagree on which one wins) is refused whatever it holds.
    let twice = dir.path().join("twice.json");
    std::fs::write(
        &twice,
        text.replace("\"desktops\"", "\"warnings\": [\"x\"],\n  \"desktops\""),
    )
    .unwrap();
    let ran = apply(&twice, key).code(1);
    assert!(
        ran.stderr.contains("the key `warnings` appears twice"),
        "{}",
        ran.stderr
    );
    // Signed with another key.
    let ran = apply(&plan_file, "another-key").code(1);
    assert!(
        ran.stderr.contains("its signature does not match"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains(key));
    // Not signed at all.
    let unsigned = dir.path().join("unsigned.json");
    plan(&unsigned, None);
    let ran = apply(&unsigned, key).code(1);
    assert!(ran.stderr.contains("it is not signed"), "{}", ran.stderr);
    assert_eq!(emu.writes(), 0);

    apply(&plan_file, key).code(0);
    assert!(emu.writes() > 0);
}

#[test]
fn saved_plan_format_unknown_fields_and_future_versions_are_refused() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    let original = std::fs::read_to_string(&plan_file).unwrap();
    edit_plan(&plan_file, |plan| {
        plan["projects"][0]["desktops"][0]["changes"][0]["force"] = json!(true);
    });
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("a field `projects.0.desktops.0.changes.0.force` that plans do not have"),
        "{}",
        ran.stderr
    );
    std::fs::write(&plan_file, &original).unwrap();
    edit_plan(&plan_file, |plan| plan["desktag_version"] = json!("99.0.0"));
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr
            .contains("written by desktag 99.0.0, newer than this desktag"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn saved_plan_input_a_fifo_is_refused_instead_of_blocking() {
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("plan.json");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        let ran = Desktag::new()
            .args([
                "apply",
                "--auto-approve",
                "--emulator",
                "--plan",
                path_str(&fifo),
            ])
            .run()
            .code(1);
        assert!(ran.stderr.contains("not a regular file"), "{}", ran.stderr);
    }
}

#[cfg(unix)]
#[test]
fn saved_plan_input_a_recorded_fifo_is_not_read_as_a_manifest() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    let fifo = dir.path().join("pipe.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    edit_plan(&plan_file, |plan| {
        plan["projects"][0]["made_from"]["manifests"][0]["path"] = json!(path_str(&fifo));
    });
    let ran = apply_saved(&emu, &plan_file).code(1);
    assert!(
        ran.stderr.contains("which is not a regular file"),
        "{}",
        ran.stderr
    );
    assert_eq!(emu.writes(), 0);
}

/// Runs `apply` (without --auto-approve) on a pseudo-terminal through `script`, answers the
/// prompt once `between` (a hand change) has run, and returns the exit code and the terminal's
/// output.
#[cfg(target_os = "linux")]
fn apply_on_a_terminal(
    emu: &desktag_emulator::EmulatorHandle,
    manifest: &std::path::Path,
    between: impl FnOnce(),
) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    let command = format!(
        "{} apply {}",
        env!("CARGO_BIN_EXE_desktag"),
        path_str(manifest)
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "dumb")
        .env("NO_COLOR", "1")
        .env("DESKTAG_ENDPOINT", emu.base_url())
        .env("HUAWEICLOUD_SDK_AK", crate::support::AK)
        .env("HUAWEICLOUD_SDK_SK", crate::support::SK)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script runs");
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Synchronised on the prompt itself.
    while !String::from_utf8_lossy(&seen).contains("Only 'yes' will be accepted") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    between();
    child.stdin.as_mut().unwrap().write_all(b"yes\n").unwrap();
    out.read_to_end(&mut seen).unwrap();
    let code = child.wait().unwrap().code();
    (code, String::from_utf8_lossy(&seen).into_owned())
}

#[cfg(target_os = "linux")]
#[test]
fn interactive_a_desktop_changed_while_the_prompt_is_open_is_not_overwritten() {
    let (rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
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
    let (code, output) = apply_on_a_terminal(&emu, &dir.path().join("m.yaml"), || {
        // Someone sets the key the plan creates while the question is on screen.
        rt.block_on(client.create_tag("11111111-0000-0000-0000-000000000002", "env", "staging"))
            .expect("the hand-made change is accepted");
    });
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("changed while the confirmation was asked; nothing was written"),
        "{output}"
    );
    assert_eq!(emu.writes(), 1, "only the hand-made change");
    assert_eq!(
        crate::support::tags_by_name(&emu, "A-2"),
        vec![("env".to_string(), "staging".to_string())]
    );
}
