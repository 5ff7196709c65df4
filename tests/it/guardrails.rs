//! Guardrails against plans nobody meant: `--max-deletes`/`--max-changes` (and the `--prune`
//! default) refuse before any write or save; `protect` keys survive `--prune`; `create_only` keys
//! are set once and then left to people.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, tags_by_name, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// Twelve desktops with four unmanaged tags each, and one more with a billing id.
fn seed() -> desktag_emulator::Seed {
    let mut yaml = format!("project_id: {PROJECT}\ndesktops:\n");
    for i in 0..12 {
        yaml.push_str(&format!(
            "  - id: 44444444-0000-0000-0000-{i:012}\n    name: W-{i:02}\n    tags: {{a: x, b: x, c: x, owner: alice}}\n"
        ));
    }
    yaml.push_str("  - id: 44444444-0000-0000-0000-999999999999\n    name: BILL\n    tags: {billing-id: \"42\", legacy: x}\n");
    seed_yaml(&yaml)
}

const MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\nprotect: [\"billing-*\"]\ncreate_only: [owner]\ndesktops:\n  - name: \"W-*\"\n    tags: {owner: it, env: dev}\n  - name: BILL\n    tags: {env: dev}\n";

#[test]
fn prune_over_its_default_delete_limit_is_refused_with_no_write_and_no_saved_plan() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let m = path_str(dir.path());
    // 12 × 3 unmanaged + `legacy` = 37 deletes of 50 carried tags: over half (25).
    let out = dir.path().join("plan.json");
    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "--prune", "--out", out.to_str().unwrap(), m])
        .run()
        .code(1);
    let last = plan.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        "error: the plan deletes 37 tags, over the --prune default of 25 (half of the 50 tags \
         the planned desktops carry, at least 10); review it, then rerun with --max-deletes 37 if \
         it is what you want"
    );
    assert!(!out.exists(), "a refused plan is not saved");
    let apply = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--prune", m])
        .run()
        .code(1);
    assert!(
        apply.stderr.contains("over the --prune default"),
        "{}",
        apply.stderr
    );
    assert_eq!(emu.writes(), 0);

    let changes = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--max-changes", "5", m])
        .run()
        .code(1);
    assert!(
        changes.stderr.contains("over --max-changes 5"),
        "{}",
        changes.stderr
    );
    assert_eq!(emu.writes(), 0);
}

#[test]
fn a_raised_limit_applies_and_protect_and_create_only_hold() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let m = path_str(dir.path());
    Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--prune",
            "--max-deletes",
            "37",
            m,
        ])
        .run()
        .code(0);
    // owner was alice before: create_only keeps it; billing-id is protected from --prune.
    assert_eq!(
        tags_by_name(&emu, "W-03"),
        [
            ("env".into(), "dev".into()),
            ("owner".into(), "alice".into())
        ]
    );
    assert_eq!(
        tags_by_name(&emu, "BILL"),
        [
            ("billing-id".into(), "42".into()),
            ("env".into(), "dev".into())
        ]
    );
    // Converged: a second run has nothing to do.
    let again = Desktag::new()
        .against(&emu)
        .args(["plan", "--prune", "--detailed-exitcode", m])
        .run()
        .code(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

#[test]
fn unicode_a_protect_glob_in_nfc_protects_the_same_looking_nfd_key() {
    let (_rt, emu) = emulator_with(
        seed_yaml(&format!(
            "project_id: {PROJECT}\ndesktops:\n  - id: 88888888-0000-0000-0000-000000000001\n    name: U-1\n    tags: {{\"cafe\\u0301-x\": kept, other: gone}}\n"
        )),
        |_| {},
    );
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\nprotect: [\"café-*\"]\ncreate_only: [\"naïve\"]\ndesktops:\n  - name: U-1\n    tags: {env: prod, \"naïve\": new}\n",
    )]);
    Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["apply", "--auto-approve", "--prune", path_str(dir.path())])
        .run()
        .code(0);
    let tags = tags_by_name(&emu, "U-1");
    let keys: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains(&"cafe\u{301}-x"), "{tags:?}");
    assert!(!keys.contains(&"other"), "{tags:?}");
}
