//! What `apply` prints: the plan once (only its summary with -q), then the outcome per desktop;
//! with a markdown or JSON report, stdout holds the report alone.

use desktag_emulator::Seed;

use crate::support::Test;

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
