//! What `apply` prints: the plan once (only its summary with -q), then the outcome per desktop;
//! with a markdown or JSON report, stdout holds the report alone.

use desktag_emulator::Seed;

use crate::support::{demo_emulator, Desktag, Test};

#[test]
fn quiet_apply_shows_only_the_plan_summary_then_the_outcome() {
    let ran = Test::new()
        .emulator(Seed::demo())
        .args(["apply", "-q", "--auto-approve", "examples/manifests"])
        .code(0)
        .stdout_has(": applied ")
        .run()
        .ran;
    let first = ran.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("Plan: "), "{}", ran.stdout);
    assert!(!ran.stdout.contains("+++ planned"), "{}", ran.stdout);
}

#[test]
fn a_markdown_report_is_alone_on_stdout() {
    let ran = Test::new()
        .emulator(Seed::demo())
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "markdown",
            "examples/manifests",
        ])
        .code(0)
        // The plan went to stderr.
        .stderr_has("+++ planned")
        .run()
        .ran;
    assert!(
        ran.stdout.starts_with("<!-- desktag:apply project="),
        "{}",
        ran.stdout
    );
}

#[test]
fn output_channels_are_checked_before_anything_is_written() {
    let (_rt, emu) = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    // The step summary is a directory: refused before a single request.
    let ran = Desktag::new()
        .against(&emu)
        .env("GITHUB_STEP_SUMMARY", dir.path())
        .args(["apply", "--auto-approve", "examples/manifests"])
        .run()
        .code(1);
    assert!(ran.stderr.contains("names a directory"), "{}", ran.stderr);
    assert!(emu.requests().is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn output_channels_a_failing_stdout_after_apply_keeps_the_others_and_says_what_was_applied() {
    let (_rt, emu) = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let outputs = dir.path().join("outputs.txt");
    std::fs::write(&report, "the previous run's report").unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let ran = Desktag::new()
        .against(&emu)
        .env("GITHUB_OUTPUT", &outputs)
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            "--report",
        ])
        .arg_path(&report)
        .args(["examples/manifests"])
        .run_with_stdout(full)
        .code(1);
    let last = ran.stderr.lines().last().unwrap();
    assert!(
        last.contains(
            "changes were applied, but 1 output could not be written: cannot write <stdout>"
        ),
        "{}",
        ran.stderr
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(written["totals"]["applied"].as_u64().unwrap() > 0);
    assert!(std::fs::read_to_string(&outputs)
        .unwrap()
        .contains("has_changes=true"));
}

#[cfg(unix)]
#[test]
fn output_files_a_report_to_a_symlink_or_dev_null_is_written_through() {
    let (_rt, emu) = demo_emulator();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.json");
    let link = dir.path().join("report.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--report"])
        .arg_path(&link)
        .args(["examples/manifests"])
        .run()
        .code(0);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&target).unwrap().contains("totals"));
    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "--out", "/dev/null", "examples/manifests"])
        .run();
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
}
