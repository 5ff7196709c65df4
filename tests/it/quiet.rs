//! Quiet, machine-friendly output: `-qq` prints nothing when the run succeeds, `-q` only errors
//! and the last line, `--log-format json` makes every stderr line a JSON object, and a closed
//! stdout or stderr never panics nor changes what is written.

use std::process::Stdio;

use crate::support::{emulator_with, manifests, path_str, small_seed, Desktag, SMALL_MANIFEST};

/// B-1 carries 8 tags: with `extra` it would carry 11, over the cap, so it is blocked.
const BLOCKING: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: B-1\n    tags: {x1: a, x2: b, x3: c}\n  - name: NOPE-*\n    tags: {env: prod}\n";

/// Applies the small manifest, so the next run is in sync.
fn synced() -> (
    tokio::runtime::Runtime,
    desktag_emulator::EmulatorHandle,
    tempfile::TempDir,
) {
    let (rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", path_str(dir.path())])
        .run()
        .code(0);
    (rt, emu, dir)
}

#[test]
fn qq_prints_nothing_when_in_sync_and_still_writes_the_report() {
    let (_rt, emu, dir) = synced();
    let m = path_str(dir.path());
    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "-qq", m])
        .run()
        .code(0);
    assert_eq!((plan.stdout.as_str(), plan.stderr.as_str()), ("", ""));
    let report = dir.path().join("report.json");
    let apply = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "-qq",
            "--auto-approve",
            "--report",
            path_str(&report),
            m,
        ])
        .run()
        .code(0);
    assert_eq!((apply.stdout.as_str(), apply.stderr.as_str()), ("", ""));
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("\"totals\""));
}

#[test]
fn q_keeps_only_the_last_line_and_qq_keeps_it_for_a_blocked_run() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", BLOCKING)]);
    let m = path_str(dir.path());
    let q = Desktag::new()
        .against(&emu)
        .args(["plan", "-q", m])
        .run()
        .code(3);
    // The unmatched `NOPE-*` warning is not shown; the reason for exit 3 is.
    assert_eq!(
        q.stderr,
        "warning: 1 desktop blocked (B-1); all other changes planned\n"
    );
    let qq = Desktag::new()
        .against(&emu)
        .args(["plan", "-qq", m])
        .run()
        .code(3);
    assert_eq!(qq.stdout, "");
    assert_eq!(q.stderr, qq.stderr);
}

#[test]
fn every_json_log_line_is_one_json_object() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", BLOCKING)]);
    let m = path_str(dir.path());
    // apply with a JSON report shows the plan on stderr; the manifest has a warning; the run
    // ends blocked.
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--log-format",
            "json",
            "--auto-approve",
            "--report-format",
            "json",
            m,
        ])
        .run()
        .code(3);
    let lines: Vec<serde_json::Value> = ran
        .stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap())
        .collect();
    let warning = lines
        .iter()
        .find(|l| l["diagnostic"]["code"] == "unmatched-selector")
        .unwrap_or_else(|| panic!("{}", ran.stderr));
    assert_eq!(warning["level"], "WARN");
    assert!(warning["diagnostic"]["location"]["file"]
        .as_str()
        .unwrap()
        .ends_with("m.yaml"));
    assert!(
        messages.iter().any(|m| m.starts_with("Plan: ")),
        "the plan summary: {messages:?}"
    );
    assert_eq!(
        messages.last().copied(),
        Some("warning: 1 desktop blocked (B-1); all other changes applied")
    );
    assert!(ran.json()["totals"].is_object());
}

/// A pipe whose reader is gone: every write to it fails with a broken pipe.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

#[test]
fn a_closed_stdout_and_stderr_end_with_the_documented_code() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", BLOCKING)]);
    // `desktag plan … 2>&1 | head -1`, once head has gone.
    let pipe = closed_pipe();
    let ran = Desktag::new()
        .against(&emu)
        .output_to(
            Some(Stdio::from(pipe.try_clone().unwrap())),
            Some(Stdio::from(pipe)),
        )
        .args(["plan", "-v", path_str(dir.path())])
        .run();
    assert_eq!(ran.code, 3, "blocked, not a panic (101)");
}

#[test]
fn a_closed_stderr_changes_nothing_that_is_applied_or_written() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let report = dir.path().join("report.json");
    let ran = Desktag::new()
        .against(&emu)
        .output_to(None, Some(Stdio::from(closed_pipe())))
        .args([
            "apply",
            "-v",
            "--auto-approve",
            "--report-format",
            "json",
            "--report",
            path_str(&report),
            path_str(dir.path()),
        ])
        .run()
        .code(0);
    assert_eq!(ran.json()["totals"]["applied"], 6);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(file["totals"]["applied"], 6);
    assert!(emu.writes() > 0);
}

#[test]
fn qq_validate_prints_nothing_for_valid_manifests_and_the_reason_for_invalid_ones() {
    let ran = Desktag::new()
        .args(["validate", "-qq", "examples/manifests"])
        .run()
        .code(0);
    assert_eq!((ran.stdout.as_str(), ran.stderr.as_str()), ("", ""));
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: A\n    tags: {k: \"a/b\"}\n",
    )]);
    let bad = Desktag::new()
        .args(["validate", "-qq", path_str(dir.path())])
        .run()
        .code(1);
    assert_eq!(bad.stderr, "error: the manifests have 1 error\n");
}

#[test]
fn a_usage_error_with_json_logs_is_one_json_line() {
    let ran = Desktag::new()
        .args(["--log-format", "json", "plan", "--no-such-flag"])
        .run()
        .code(1);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stderr);
    let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert!(line["fields"]["message"]
        .as_str()
        .unwrap()
        .contains("--no-such-flag"));
}
