//! Apply when things go wrong: injected faults and latency, a rejected change, an interrupted
//! run that converges when run again, and Ctrl-C that still reports.

use desktag_emulator::Seed;

use crate::support::{
    emulator_with, manifests, path_str, seed_yaml, small_seed, tags_of, Desktag, PROJECT,
    SMALL_MANIFEST,
};
#[cfg(unix)]
use crate::support::{interrupt_twice_while_writing, interrupt_while_writing};

#[test]
fn apply_under_faults_converges() {
    let (_rt, emu) = emulator_with(small_seed(), |c| {
        c.faults.fail_rate = 0.3;
        c.faults.throttle_rate = 0.2;
        c.faults.seed = 7;
    });
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let m = path_str(dir.path());
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--max-attempts",
            "20",
            "--report-format",
            "json",
            m,
        ])
        .run()
        .code(0);
    let report = ran.json();
    assert_eq!(report["totals"]["applied"], 6);
    assert!(
        report["totals"]["retries"].as_u64().unwrap() > 0,
        "faults caused no retry: {report}"
    );
    Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", m])
        .run()
        .code(0);
}

#[test]
fn a_rejected_change_fails_only_its_desktop() {
    // The planner allows 12 tags, the service only 10: B-1 (8 tags + 2 creates) is fine, but C-1
    // (9 tags + 2 creates) is rejected on its second create with a non-retryable 400.
    let seed = seed_yaml(&format!(
        r#"
project_id: {PROJECT}
desktops:
  - id: 22222222-0000-0000-0000-000000000001
    name: B-1
    tags: {{k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v}}
  - id: 22222222-0000-0000-0000-000000000002
    name: C-1
    tags: {{k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}}
"#
    ));
    let (_rt, emu) = emulator_with(seed, |_| {});
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: \"*-1\"\n    tags: {a: \"1\", b: \"2\"}\n",
    )]);
    let ran = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args([
            "apply",
            "--auto-approve",
            "--max-tags",
            "12",
            "--write-mode",
            "tag",
            "--report-format",
            "json",
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    let report = ran.json();
    let desktops = report["desktops"].as_array().unwrap();
    assert_eq!(desktops[0]["status"], "applied");
    assert_eq!(desktops[1]["status"], "failed");
    let failed = &desktops[1]["changes"][1];
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["attempts"], 1, "a 400 is not retried");
    assert_eq!(failed["error"]["status"], 400);
    assert!(failed["error"]["error_code"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert_eq!(
        tags_of(&emu, "22222222-0000-0000-0000-000000000001").len(),
        10
    );
}

#[test]
fn an_interrupted_apply_converges_when_run_again() {
    let gate = desktag_emulator::Gate::after_writes(5);
    let (_rt, emu) = emulator_with(Seed::demo(), |c| c.faults.gate = Some(gate.clone()));
    let mut child = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--concurrency",
            "2",
            "--write-mode",
            "tag",
            "examples/manifests",
        ])
        .spawn();
    // Killed with five writes made and more in flight.
    gate.wait_until_holding(1);
    child.kill().unwrap();
    let _ = child.wait();
    gate.open();
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "examples/manifests"])
        .run()
        .code(0);
    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", "examples/manifests"])
        .run();
    let doc = plan.json();
    assert_eq!(doc["summary"]["create"], 0, "{doc}");
    assert_eq!(doc["summary"]["overwrite"], 0);
    assert_eq!(doc["summary"]["delete"], 0);
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_apply_stops_new_changes_and_still_reports() {
    let gate = desktag_emulator::Gate::after_writes(3);
    let (_rt, emu) = emulator_with(Seed::demo(), |c| c.faults.gate = Some(gate.clone()));
    let child = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--concurrency",
            "2",
            "--write-mode",
            "tag",
            "--report-format",
            "json",
            "examples/manifests",
        ])
        .spawn();
    let output = interrupt_while_writing(child, &gate);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let skipped = report["totals"]["skipped"].as_u64().unwrap();
    let applied = report["totals"]["applied"].as_u64().unwrap();
    assert!(skipped > 0, "{report}");
    assert_eq!(
        applied,
        emu.writes(),
        "the report counts exactly the writes made"
    );
    let desktops = report["desktops"].as_array().unwrap();
    assert!(desktops.iter().any(|d| d["reason"]
        .as_str()
        .is_some_and(|r| r.contains("interrupted"))));
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_exits_130_at_once_without_a_report() {
    let gate = desktag_emulator::Gate::after_writes(3);
    let (_rt, emu) = emulator_with(Seed::demo(), |c| c.faults.gate = Some(gate.clone()));
    let child = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--write-mode",
            "tag",
            "--report-format",
            "json",
            "examples/manifests",
        ])
        .spawn();
    let output = interrupt_twice_while_writing(child, &gate);
    gate.open();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(output.stdout.is_empty(), "no report");
    assert!(
        stderr
            .trim_end()
            .ends_with("error: interrupted twice; exiting without a report"),
        "{stderr}"
    );
}
