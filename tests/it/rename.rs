//! `rename:` migrates a key declaratively: the value moves (deletes first, so a desktop at the
//! cap is not blocked), an existing new key keeps its value, `protect` wins, the plan shows one
//! line per move and JSON `action: rename`, a second plan has no changes, and `--max-deletes`
//! counts a move as a change, not a delete. `key_case: lower` with `fix: rename` migrates case
//! variants of managed keys.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, tags_by_name, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// FULL carries 10 tags (the cap) with `Owner`; BOTH carries `Owner` and `owner`.
fn seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: 99999999-0000-0000-0000-000000000001\n    name: FULL\n    tags: {{Owner: alice, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}}\n  - id: 99999999-0000-0000-0000-000000000002\n    name: BOTH\n    tags: {{Owner: bob, owner: carol}}\n"
    ))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn rename_moves_values_keeps_existing_new_keys_and_converges() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[(
        "m.yaml",
        &format!("version: 1\nproject_id: {PROJECT}\nrename: {{Owner: owner}}\ndesktops:\n  - name: \"*\"\n    tags: {{k1: v}}\n"),
    )]);
    let m = path_str(dir.path());
    let text = Desktag::new().against(&emu).args(["plan", m]).run().code(0);
    assert!(
        text.stdout.contains("~ Owner \u{2192} owner = \"alice\""),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("-Owner = \"bob\""), "{}", text.stdout);
    let json = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", m])
        .run()
        .code(0)
        .json();
    assert_eq!(json["summary"]["rename"], 1, "{json:#}");
    assert_eq!(json["summary"]["delete"], 1, "{json:#}");
    let full = json["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "FULL")
        .unwrap();
    assert_eq!(
        full["changes"][0],
        serde_json::json!({"action": "rename", "from": "Owner", "old": "alice", "key": "owner", "value": "alice"})
    );
    // A move is a change, not a delete: --max-deletes 1 holds the one real delete (BOTH's).
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--max-deletes", "1", m])
        .run()
        .code(0);
    assert_eq!(
        tags_by_name(&emu, "FULL"),
        pairs(&[
            ("k1", "v"),
            ("k2", "v"),
            ("k3", "v"),
            ("k4", "v"),
            ("k5", "v"),
            ("k6", "v"),
            ("k7", "v"),
            ("k8", "v"),
            ("k9", "v"),
            ("owner", "alice"),
        ])
    );
    assert_eq!(
        tags_by_name(&emu, "BOTH"),
        pairs(&[("k1", "v"), ("owner", "carol")])
    );
    let again = Desktag::new().against(&emu).args(["plan", m]).run().code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn protect_wins_over_rename_and_a_renamed_key_may_not_be_wanted_under_its_old_name() {
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\nprotect: [\"Own*\"]\nrename: {Owner: owner, Team: team}\ndesktops:\n  - name: A\n    tags: {Team: x}\n",
    )]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    assert_eq!(
        ran.stderr.matches("error[rename]").count(),
        2,
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("`Owner` is renamed, but `protect` glob `Own*`"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("`Team` is renamed to `team` but also wanted under its old name"),
        "{}",
        ran.stderr
    );
}

#[test]
fn fix_rename_migrates_case_variants_of_managed_keys_instead_of_blocking() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let policy = |fix: &str| {
        format!("version: 1\nproject_id: {PROJECT}\npolicy: {{key_case: lower{fix}}}\ndesktops:\n  - name: FULL\n    tags: {{owner: alice}}\n")
    };
    let blocked = manifests(&[("m.yaml", &policy(""))]);
    Desktag::new()
        .against(&emu)
        .args(["plan", path_str(blocked.path())])
        .run()
        .code(3);
    let fixed = manifests(&[("m.yaml", &policy(", fix: rename"))]);
    let m = path_str(fixed.path());
    let plan = Desktag::new().against(&emu).args(["plan", m]).run().code(0);
    assert!(
        plan.stdout.contains("~ Owner \u{2192} owner = \"alice\""),
        "{}",
        plan.stdout
    );
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--write-mode", "tag", m])
        .run()
        .code(0);
    assert!(tags_by_name(&emu, "FULL").contains(&("owner".to_string(), "alice".to_string())));
    let again = Desktag::new().against(&emu).args(["plan", m]).run().code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn a_saved_plan_with_a_rename_applies() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[(
        "m.yaml",
        &format!("version: 1\nproject_id: {PROJECT}\nrename: {{Owner: owner}}\ndesktops:\n  - name: FULL\n    tags: {{k1: v}}\n"),
    )]);
    let out = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .args([
            "plan",
            "--out",
            path_str(&out),
            path_str(&dir.path().join("m.yaml")),
        ])
        .run()
        .code(0);
    let applied = Desktag::new()
        .against(&emu)
        .args(["apply", "--plan", path_str(&out), "--report-format", "json"])
        .run()
        .code(0);
    // The report lists the move's two writes.
    let report = applied.json();
    let changes = report["projects"][0]["desktops"][0]["changes"]
        .as_array()
        .unwrap();
    let actions: Vec<&str> = changes
        .iter()
        .map(|c| {
            c["change"]["action"]
                .as_str()
                .or(c["action"].as_str())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(actions, ["delete", "create"], "{report:#}");
    assert!(tags_by_name(&emu, "FULL").contains(&("owner".to_string(), "alice".to_string())));
}
