//! Tag policy end to end: `validate` finds what the manifests themselves break, `plan` blocks a
//! desktop whose planned end state would break a rule (exit 3), and `check` audits every desktop
//! of the project, managed or not, with coverage, JSON and JUnit (exit 1 on a broken rule).

use crate::support::{emulator_with, manifests, path_str, seed_yaml, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn seed() -> desktag_emulator::Seed {
    let desktop = |n: u32, name: &str, tags: &str| {
        format!(
            "  - id: 77777777-0000-0000-0000-00000000000{n}\n    name: {name}\n    tags: {tags}\n"
        )
    };
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n{}{}{}",
        desktop(1, "FIN-1", "{owner: ann}"),
        desktop(2, "FIN-2", "{Owner: bob}"),
        desktop(3, "LAB-1", "{env: qa}")
    ))
}

const MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\npolicy:\n  required: [owner]\n  allowed: {env: [dev, prod]}\n  key_case: lower\ndesktops:\n  - name: \"FIN-*\"\n    tags: {env: prod}\n";

#[test]
fn plan_blocks_a_desktop_whose_end_state_breaks_the_policy() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", path_str(dir.path())])
        .run()
        .code(3);
    // FIN-1 gets env: prod; FIN-2 would keep `Owner` and lack `owner`.
    assert!(ran.stdout.contains("FIN-1"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("would break the policy: lacks required key `owner`"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("key `Owner` is not in lower case"),
        "{}",
        ran.stdout
    );
    let last = ran.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("warning: 1 desktop blocked (FIN-2)"),
        "{last}"
    );
}

#[test]
fn validate_reports_what_the_manifests_break_where_it_is_written() {
    let text = MANIFEST.replace("{env: prod}", "{env: staging}");
    let dir = manifests(&[("m.yaml", &text)]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains(
            "m.yaml:9:12: error[policy-violation]: `env` is \"staging\", not one of dev, prod"
        ),
        "{}",
        ran.stderr
    );
}

#[test]
fn check_audits_every_desktop_with_coverage_json_and_junit() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[("m.yaml", MANIFEST)]);
    let junit = dir.path().join("policy.xml");
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "check",
            "--junit",
            path_str(&junit),
            path_str(&dir.path().join("m.yaml")),
        ])
        .run()
        .code(1);
    assert!(
        ran.stdout.contains(
            "Policy: 2 of 3 desktops break the rules; coverage: 2 of 3 managed by the manifests."
        ),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("! LAB-1 (77777777-0000-0000-0000-000000000003), not managed"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stderr.lines().last().unwrap(),
        "error: 2 of 3 desktops break the policy"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    assert_eq!(emu.writes(), 0, "check never writes");

    let json = Desktag::new()
        .against(&emu)
        .args(["check", "--format", "json", path_str(dir.path())])
        .run()
        .code(1)
        .json();
    assert_eq!(json["total"], 3);
    assert_eq!(json["managed"], 2);
    assert_eq!(json["violating"], 2);
}
