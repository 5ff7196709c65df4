//! `policy: {enforce: warn}`: a rule being rolled out reports and counts its violations in every
//! format, while the rest of each desktop is repaired and the exit code is not 3 for them.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, tags_by_name, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// One hand-made `Cost-Center` on a desktop whose `env` drifted.
fn seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: 88888888-0000-0000-0000-000000000001\n    name: W-1\n    tags: {{env: dev, Cost-Center: CC-9}}\n"
    ))
}

fn manifest(enforce: &str) -> String {
    format!(
        "version: 1\nproject_id: {PROJECT}\npolicy: {{key_case: lower, enforce: {enforce}}}\ndesktops:\n  - name: W-1\n    tags: {{env: prod}}\n"
    )
}

#[test]
fn a_blocking_policy_stops_the_repair_and_exits_3() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", &manifest("block"))]);
    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", path_str(dir.path())])
        .run()
        .code(3);
    assert!(plan.stdout.contains("blocked"), "{}", plan.stdout);
}

#[test]
fn a_warning_policy_repairs_the_rest_and_reports_the_violation_in_every_format() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", &manifest("warn"))]);
    let m = path_str(dir.path());
    let text = Desktag::new().against(&emu).args(["plan", m]).run().code(0);
    assert!(
        text.stdout.contains(
            "  warning: breaks the policy (enforce: warn): key `Cost-Center` is not in lower case (policy at "
        ) && text
            .stdout
            .contains("1 desktop breaks an `enforce: warn` policy."),
        "{}",
        text.stdout
    );
    let json = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", m])
        .run()
        .code(0)
        .json();
    assert_eq!(json["summary"]["policy_warnings"], 1, "{json:#}");
    assert_eq!(json["summary"]["overwrite"], 1, "{json:#}");
    let warnings = json["projects"][0]["desktops"][0]["policy_warnings"]
        .as_array()
        .unwrap();
    assert_eq!(warnings.len(), 1, "{json:#}");
    let markdown = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "markdown", m])
        .run()
        .code(0);
    assert!(
        markdown.stdout.contains(
            "W-1 (88888888-0000-0000-0000-000000000001): breaks the policy (enforce: warn)"
        ),
        "{}",
        markdown.stdout
    );
    // check reports it and passes: only warn rules are broken.
    let check = Desktag::new()
        .against(&emu)
        .args(["check", "--format", "json", m])
        .run()
        .code(0)
        .json();
    assert_eq!(
        (check["violating"].clone(), check["warned"].clone()),
        (0.into(), 1.into()),
        "{check:#}"
    );
    let check_text = Desktag::new()
        .against(&emu)
        .args(["check", m])
        .run()
        .code(0);
    assert!(
        check_text
            .stdout
            .contains("warning (enforce: warn): key `Cost-Center`"),
        "{}",
        check_text.stdout
    );
    // In a GitHub Actions job, a warning annotation per desktop.
    let annotated = Desktag::new()
        .against(&emu)
        .env("GITHUB_ACTIONS", "true")
        .args(["plan", m])
        .run()
        .code(0);
    assert!(
        annotated.stderr.contains(
            "::warning title=desktag policy::desktop `W-1` (88888888-0000-0000-0000-000000000001) breaks the policy (enforce: warn): key `Cost-Center`"
        ),
        "{}",
        annotated.stderr
    );
    // apply repairs `env` and leaves the hand-made key to people; its JSON report says so too.
    let report = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--report-format", "json", m])
        .run()
        .code(0)
        .json();
    let desktop = &report["projects"][0]["desktops"][0];
    assert_eq!(desktop["status"], "applied", "{report:#}");
    assert!(
        desktop["policy_warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("`Cost-Center` is not in lower case")),
        "{report:#}"
    );
    assert_eq!(
        tags_by_name(&emu, "W-1"),
        vec![
            ("Cost-Center".to_string(), "CC-9".to_string()),
            ("env".to_string(), "prod".to_string())
        ]
    );
    // Applied again (nothing to do), the text report still names the rule it breaks.
    let apply = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", m])
        .run()
        .code(0);
    assert!(apply.stdout.contains("enforce: warn"), "{}", apply.stdout);
    assert_eq!(
        tags_by_name(&emu, "W-1"),
        vec![
            ("Cost-Center".to_string(), "CC-9".to_string()),
            ("env".to_string(), "prod".to_string())
        ]
    );
}
