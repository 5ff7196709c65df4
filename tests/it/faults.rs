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
    let desktops = report["projects"][0]["desktops"].as_array().unwrap();
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
    let desktops = report["projects"][0]["desktops"].as_array().unwrap();
    assert!(desktops.iter().any(|d| d["reason"]
        .as_str()
        .is_some_and(|r| r.contains("interrupted"))));
}

/// A demo emulator that answers every tag write 429 (reads answer), for ever.
fn throttling_writes_for_ever() -> (tokio::runtime::Runtime, desktag_emulator::EmulatorHandle) {
    emulator_with(Seed::demo(), |c| {
        c.faults.throttle_rate = 1.0;
        c.faults.writes_only = true;
    })
}

#[cfg(unix)]
#[test]
fn interruption_sigterm_under_endless_429s_stops_at_once_and_writes_every_output() {
    use std::io::BufRead;
    let (_rt, emu) = throttling_writes_for_ever();
    let dir = tempfile::tempdir().unwrap();
    let report_file = dir.path().join("report.json");
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("outputs.txt");
    let mut child = Desktag::new()
        .against(&emu)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            "--report",
        ])
        .arg_path(&report_file)
        .args(["--max-attempts", "20", "examples/manifests"])
        .spawn();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Synchronised on the readiness line, then on the first 429 the run waits out.
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no readiness line: {seen}"
        );
        seen.push_str(&line);
        if line.contains("SIGINT or SIGTERM stops it") {
            break;
        }
    }
    while !emu.requests().iter().any(|r| r.status == 429) {
        std::thread::yield_now();
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest = std::io::read_to_string(stderr).unwrap();
    seen.push_str(&rest);
    let code = child.wait().unwrap().code();
    let stdout = reader.join().unwrap();
    assert_eq!(code, Some(1), "{seen}");
    assert!(seen.contains("interrupted: no new requests"), "{seen}");
    // Every output is written: stdout, --report, the step summary and the step outputs.
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    assert_eq!(report["totals"]["applied"], 0, "{report}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(saved["totals"], report["totals"]);
    assert!(std::fs::read_to_string(&summary)
        .unwrap()
        .contains("desktag"));
    assert!(std::fs::read_to_string(&outputs)
        .unwrap()
        .contains("failed="));
    assert_eq!(emu.writes(), 0);
    let desktops = report["projects"][0]["desktops"].as_array().unwrap();
    assert!(
        desktops
            .iter()
            .filter(|d| d["status"] == "failed")
            .all(|d| d["reason"]
                .as_str()
                .is_some_and(|r| r.contains("interrupted")
                    || r.contains("429")
                    || r.contains("stopped"))),
        "{report}"
    );
}

#[test]
fn interruption_the_deadline_ends_a_run_the_service_throttles_for_ever() {
    let (_rt, emu) = throttling_writes_for_ever();
    let dir = tempfile::tempdir().unwrap();
    let report_file = dir.path().join("report.json");
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--deadline", "2s", "--report"])
        .arg_path(&report_file)
        .args(["--max-attempts", "20", "examples/manifests"])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("the run's --deadline passed"),
        "{}",
        ran.stderr
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(report["totals"]["applied"], 0, "{report}");
    assert_eq!(emu.writes(), 0);
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
