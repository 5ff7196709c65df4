//! `--prune` and ignored keys: exactly the unmanaged keys go, ignored and system keys stay, and a
//! bad ignore glob fails before any request.

use crate::support::{small_seed, tags_of, Test, SMALL_MANIFEST};

#[test]
fn prune_deletes_exactly_the_unmanaged_keys_not_ignored() {
    let done = Test::new()
        .emulator(small_seed())
        .args([
            "apply",
            "--auto-approve",
            "--prune",
            "--ignore-key",
            "ops-*",
        ])
        .manifests(&[("m.yaml", SMALL_MANIFEST)])
        .code(0)
        .run();
    let emu = done.emulator.expect("an emulator");
    let a1 = tags_of(&emu, "11111111-0000-0000-0000-000000000001");
    let keys: Vec<&str> = a1.keys().map(|v| v.as_str()).collect();
    assert_eq!(keys, ["_sys_origin", "cost-center", "env", "ops-note"]);
    let b1 = tags_of(&emu, "11111111-0000-0000-0000-000000000003");
    assert_eq!(
        b1.keys().map(|v| v.as_str()).collect::<Vec<_>>(),
        ["cost-center", "env"]
    );
}

#[test]
fn an_invalid_ignore_glob_fails_before_any_request() {
    let done = Test::new()
        .emulator_with(small_seed(), |_| {})
        .args(["plan", "--ignore-key", "ops-["])
        .manifests(&[("m.yaml", SMALL_MANIFEST)])
        .code(1)
        .stderr_has("`ops-[`")
        .run();
    assert!(done.emulator.expect("an emulator").requests().is_empty());
}
