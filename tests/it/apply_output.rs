//! What `apply` prints: the plan once (only its summary with -q), then the outcome per desktop;
//! with a markdown or JSON report, stdout holds the report alone.

use crate::support::{demo_emulator, Desktag};

#[test]
fn quiet_apply_shows_only_the_plan_summary_then_the_outcome() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "-q", "--auto-approve", "examples/manifests"])
        .run()
        .code(0);
    let first = ran.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("Plan: "), "{}", ran.stdout);
    assert!(!ran.stdout.contains("+++ planned"), "{}", ran.stdout);
    assert!(ran.stdout.contains(": applied "), "{}", ran.stdout);
}

#[test]
fn a_markdown_report_is_alone_on_stdout() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "markdown",
            "examples/manifests",
        ])
        .run()
        .code(0);
    assert!(
        ran.stdout.starts_with("<!-- desktag:apply project="),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("+++ planned"),
        "the plan went to stderr"
    );
}
