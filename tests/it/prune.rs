//! `--prune` and ignored keys: exactly the unmanaged keys go, ignored and system keys stay, and a
//! bad ignore glob fails before any request.

use crate::support::{
    emulator_with, manifests, path_str, small_seed, tags_of, Desktag, SMALL_MANIFEST,
};

#[test]
fn prune_deletes_exactly_the_unmanaged_keys_not_ignored() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--prune",
            "--ignore-key",
            "ops-*",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
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
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "--ignore-key", "ops-[", path_str(dir.path())])
        .run()
        .code(1);
    assert!(ran.stderr.contains("`ops-[`"), "{}", ran.stderr);
    assert!(emu.requests().is_empty());
}
