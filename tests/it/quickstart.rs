//! The README's examples: the quickstart converges and exits 0, the cap demo exits 3 by design,
//! and `export` round-trips to no changes.

use crate::support::{demo_emulator, manifests, path_str, Desktag, PROJECT};

#[test]
fn the_readme_quickstart_runs_against_the_builtin_emulator() {
    let ran = Desktag::new()
        .args([
            "apply",
            "--emulator",
            "--auto-approve",
            "examples/manifests",
        ])
        .run()
        .code(0);
    assert!(ran.stdout.contains("Plan:"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("0 failed, 0 skipped; 0 unverified, 0 blocked"),
        "{}",
        ran.stdout
    );
    // OPS-WKS-003 is made room on with `absent`, so it converges within the cap.
    assert!(
        ran.stdout
            .contains("+ OPS-WKS-003 (7d39b46b-65cb-5243-8081-0826a98d7a5a): applied"),
        "{}",
        ran.stdout
    );
    let plan = Desktag::new()
        .args(["plan", "--emulator", "examples/manifests"])
        .run()
        .code(0);
    assert!(!plan.stdout.contains("): blocked"), "{}", plan.stdout);
}

#[test]
fn the_readme_cap_demo_exits_3_by_design() {
    let ran = Desktag::new()
        .args(["apply", "--emulator", "--auto-approve", "examples/cap-demo"])
        .run()
        .code(3);
    assert!(
        ran.stdout
            .contains("! OPS-WKS-003 (7d39b46b-65cb-5243-8081-0826a98d7a5a): blocked"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stderr.lines().last(),
        Some("warning: 1 desktop blocked (OPS-WKS-003); all other changes applied"),
        "{}",
        ran.stderr
    );
}

#[test]
fn export_round_trips_to_no_changes() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["export"])
        .run()
        .code(0);
    let dir = manifests(&[("exported.yaml", &ran.stdout)]);
    Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(0);
    Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", path_str(dir.path())])
        .run()
        .code(0);

    let by_name = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["export", "--name", "ENG-WKS-*"])
        .run()
        .code(0);
    assert!(
        by_name.stdout.contains("# ENG-WKS-003") && !by_name.stdout.contains("FIN-"),
        "{}",
        by_name.stdout
    );
    // Shaped for people: names where unique, one document per env with shared tags as defaults.
    // Still no changes when planned, with --prune too: nothing is lost in the shaping.
    let shaped = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["export", "--by", "name", "--group-by", "env"])
        .run()
        .code(0);
    assert!(shaped.stdout.contains("defaults:"), "{}", shaped.stdout);
    assert!(shaped.stdout.contains("  - name: "), "{}", shaped.stdout);
    assert!(
        shaped.stdout.matches("\nversion: 1\n").count() >= 2,
        "{}",
        shaped.stdout
    );
    let dir = manifests(&[("shaped.yaml", &shaped.stdout)]);
    Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(0);
    Desktag::new()
        .against(&emu)
        .args([
            "plan",
            "--prune",
            "--detailed-exitcode",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
}
