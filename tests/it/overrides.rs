//! Acknowledged overrides: `override: true` silences exactly its entry's override warning, a stale
//! one warns against the project's desktops, and `validate --strict` fails on what is left.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

const ORG: &str = "version: 1\ndesktops:\n  - name: \"FIN-*\"\n    tags: {team: unassigned}\n";

fn department(acknowledged: bool) -> String {
    let ack = if acknowledged {
        "    override: true\n"
    } else {
        ""
    };
    format!("version: 1\ndesktops:\n  - name: FIN-1\n{ack}    tags: {{team: finance}}\n")
}

#[test]
fn validate_warns_about_an_unacknowledged_override_and_strict_fails_on_it() {
    let dir = manifests(&[("org.yaml", ORG), ("dept.yaml", &department(false))]);
    let m = path_str(dir.path());
    let warned = Desktag::new().args(["validate", m]).run().code(0);
    assert!(
        warned.stderr.contains("warning[override]"),
        "{}",
        warned.stderr
    );
    let strict = Desktag::new()
        .args(["validate", "--strict", m])
        .run()
        .code(1);
    assert!(
        strict.stderr.contains("error[override]"),
        "{}",
        strict.stderr
    );
    let json = Desktag::new()
        .args(["validate", "--strict", "--format", "json", m])
        .run()
        .code(1);
    assert_eq!(json.json()["valid"], false, "{}", json.stdout);
}

#[test]
fn an_acknowledged_override_is_silent_even_under_strict() {
    let dir = manifests(&[("org.yaml", ORG), ("dept.yaml", &department(true))]);
    let m = path_str(dir.path());
    let ran = Desktag::new()
        .args(["validate", "--strict", m])
        .run()
        .code(0);
    assert!(!ran.stderr.contains("override"), "{}", ran.stderr);
}

#[test]
fn a_stale_acknowledgement_warns_when_planning_against_the_desktops() {
    let (_rt, emu) = emulator_with(
        seed_yaml(&format!(
            "project_id: {PROJECT}\ndesktops:\n  - id: 66666666-0000-0000-0000-000000000001\n    name: FIN-1\n  - id: 66666666-0000-0000-0000-000000000002\n    name: FIN-2\n"
        )),
        |_| {},
    );
    // FIN-2 has no lower-precedence value to override.
    let stale =
        "version: 1\ndesktops:\n  - name: FIN-2\n    override: true\n    tags: {room: \"2\"}\n";
    let dir = manifests(&[
        ("org.yaml", ORG),
        ("dept.yaml", &department(true)),
        ("stale.yaml", stale),
    ]);
    let m = path_str(dir.path());
    let plan = Desktag::new()
        .against(&emu)
        .args(["--no-config", "plan", "--project-id", PROJECT, m])
        .run()
        .code(0);
    assert!(
        plan.stderr
            .contains("stale.yaml:4:5: warning[stale-override]"),
        "{}",
        plan.stderr
    );
    // The acknowledged override of FIN-1 is silent: the stale one is the only warning.
    assert_eq!(
        plan.stderr.matches("warning[").count(),
        1,
        "{}",
        plan.stderr
    );
    let strict = Desktag::new()
        .against(&emu)
        .args(["plan", "--strict", "--project-id", PROJECT, m])
        .run()
        .code(1);
    assert!(
        strict.stderr.contains("error[stale-override]"),
        "{}",
        strict.stderr
    );
}
