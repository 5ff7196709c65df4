//! Plan and apply end to end: the real binary against the in-process emulator, checked through
//! the emulator's request log and state: no writes from plan, convergence, blocked desktops,
//! confirmation, project choice, and secrets kept out of every output.

use crate::support::{
    demo_emulator, emulator_with, manifests, path_str, small_seed, tags_of, Desktag, SMALL_MANIFEST,
};

#[test]
fn plan_never_sends_a_write() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "examples/manifests"])
        .run();
    assert!(ran.stdout.contains("to create"), "{}", ran.stdout);
    assert_eq!(emu.writes(), 0, "{:?}", emu.requests());
    assert!(!emu.requests().is_empty());
}

#[test]
fn apply_then_plan_shows_no_changes_and_apply_twice_sends_no_writes() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let m = path_str(dir.path());
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--write-mode", "tag", m])
        .run()
        .code(0);
    let writes = emu.writes();
    assert_eq!(
        writes,
        2 + 2 + 2,
        "A-1: cost-center, env; A-2: the same; B-1: cost-center, env"
    );
    assert_eq!(
        tags_of(&emu, "11111111-0000-0000-0000-000000000002")
            .get("env")
            .map(|v| v.as_str()),
        Some("prod")
    );

    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", m])
        .run()
        .code(0);
    assert!(
        plan.stdout
            .contains("No changes. Desktop tags match the manifests."),
        "{}",
        plan.stdout
    );

    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", m])
        .run()
        .code(0);
    assert_eq!(emu.writes(), writes, "the second apply sent writes");
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_github_outputs_are_written() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let output = dir.path().join("github_output");
    let summary = dir.path().join("summary.md");
    Desktag::new()
        .against(&emu)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "plan",
            "--detailed-exitcode",
            path_str(&dir.path().join("m.yaml")),
        ])
        .run()
        .code(2);
    assert_eq!(
        std::fs::read_to_string(output).unwrap(),
        "has_changes=true\nblocked=0\nfailed=0\n"
    );
    assert!(std::fs::read_to_string(summary)
        .unwrap()
        .contains("## Plan"));
}

#[test]
fn plan_json_carries_has_changes_and_the_summary() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", path_str(dir.path())])
        .run()
        .code(0);
    let doc = ran.json();
    assert_eq!(doc["format_version"], 2);
    assert_eq!(doc["has_changes"], true);
    assert_eq!(doc["summary"]["create"], 6);
    assert!(!ran.stdout.contains(crate::support::SK));
}

#[test]
fn an_over_cap_desktop_is_blocked_while_the_others_apply() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            "examples/cap-demo",
        ])
        .run()
        .code(3);
    let report = ran.json();
    let desktops = report["projects"][0]["desktops"].as_array().unwrap();
    let blocked: Vec<&str> = desktops
        .iter()
        .filter(|d| d["status"] == "blocked")
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(blocked, ["OPS-WKS-003"]);
    assert!(
        desktops
            .iter()
            .all(|d| d["status"] != "failed" && d["status"] != "unverified"),
        "{report}"
    );
    assert_eq!(
        report["totals"]["applied"], 6,
        "OPS-WKS-001 and OPS-WKS-002 get 3 tags each: {report}"
    );
    assert!(
        ran.stderr.contains("OPS-WKS-003"),
        "the plan shown on stderr names the blocked desktop"
    );
    let blocked_reason = desktops.iter().find(|d| d["status"] == "blocked").unwrap()["reason"]
        .as_str()
        .unwrap();
    assert!(blocked_reason.contains("10"), "{blocked_reason}");
}

#[test]
fn apply_without_a_terminal_requires_auto_approve() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", path_str(dir.path())])
        .run()
        .code(1);
    assert!(ran.stderr.contains("--auto-approve"), "{}", ran.stderr);
    assert_eq!(emu.writes(), 0);
}

#[test]
fn an_unwritable_report_path_fails_before_any_write() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let report = dir.path().join("missing-dir").join("report.json");
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--report",
            path_str(&report),
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert!(ran.stderr.contains("missing-dir"), "{}", ran.stderr);
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
}

#[test]
fn a_project_id_that_matches_no_manifest_is_an_error_not_a_silent_no_op() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "plan",
            "--project-id",
            "ffffffffffffffffffffffffffffffff",
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("matches none of the manifests"),
        "{}",
        ran.stderr
    );
    assert!(emu.requests().is_empty());
}

#[test]
fn secrets_never_reach_output_even_when_verbose() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "-vv",
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
    assert!(!ran.stdout.contains(crate::support::SK) && !ran.stderr.contains(crate::support::SK));
}

#[test]
fn explain_says_where_each_change_comes_from_and_json_carries_it() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let m = path_str(dir.path());
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "--prune", "--explain", "--target", "A-1", m])
        .run()
        .code(0);
    let file = dir.path().join("m.yaml");
    let file = path_str(&file);
    let why: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("  why: "))
        .collect();
    assert_eq!(
        why,
        [
            "  why: legacy absent by --prune: no manifest wants it".to_string(),
            "  why: ops-note absent by --prune: no manifest wants it".to_string(),
            "  why: owner absent by --prune: no manifest wants it".to_string(),
            format!("  why: cost-center = \"CC-1\" from {file}:5:3 (defaults)"),
            format!("  why: env = \"prod\" from {file}:9:7 (name glob)"),
        ],
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains("A-2"), "--target keeps one desktop");

    let json = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", m])
        .run()
        .code(0)
        .json();
    let a1 = json["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "A-1")
        .unwrap();
    let sources = a1["sources"].as_array().unwrap();
    assert_eq!(sources.len(), a1["changes"].as_array().unwrap().len());
    assert!(sources
        .iter()
        .any(|s| s["key"] == "env" && s["layer"] == "name_glob" && s["line"] == 9));
}
