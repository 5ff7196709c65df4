//! Exit codes and the last stderr line, for `plan` and `apply` alike: 0 done, 1 error, 2 changes
//! (`--detailed-exitcode`), 3 blocked; 1 beats 3 beats 2. Each case pins both in a snapshot.

use crate::support::{emulator_with, manifests, path_str, seed_yaml, tags_by_name, Desktag, Ran};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        r#"
project_id: {PROJECT}
desktops:
  - id: 33333333-0000-0000-0000-000000000002
    name: B-1
    tags: {{k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v}}
  - id: 33333333-0000-0000-0000-000000000001
    name: A-1
    tags: {{owner: it}}
  - id: 33333333-0000-0000-0000-000000000003
    name: C-1
    tags: {{k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v, k9: v}}
"#
    ))
}

/// A-1 and B-1 get two tags each; C-1 is not mentioned.
const MANIFEST: &str = "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  \
- name: A-1\n    tags: {a: \"1\", b: \"2\"}\n  - name: B-1\n    tags: {a: \"1\", b: \"2\"}\n";

/// The tag keys the emulator holds for the desktop named `name`, sorted.
fn tag_keys(emu: &desktag_emulator::EmulatorHandle, name: &str) -> Vec<String> {
    tags_by_name(emu, name)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// `exit N` and the last stderr line that is not a timestamped log line (or `(no stderr)`),
/// with temporary paths replaced by `TMP`.
fn outcome(ran: &Ran) -> String {
    let last = ran
        .stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("20"))
        .unwrap_or("(no stderr)");
    let tmp = std::env::temp_dir();
    let mut last = last.replace(tmp.to_str().unwrap(), "TMP");
    // The temporary directory's own name.
    if let Some(start) = last.find("TMP/") {
        if let Some(end) = last[start + 4..].find('/') {
            last.replace_range(start + 4..start + 4 + end, "DIR");
        }
    }
    format!("exit {}\n{last}", ran.code)
}

fn run(emu: &desktag_emulator::EmulatorHandle, args: &[&str]) -> Ran {
    Desktag::new().against(emu).args(args).run()
}

fn manifest_dir(text: &str) -> tempfile::TempDir {
    manifests(&[("m.yaml", text)])
}

#[test]
fn success_exits_0_without_a_closing_line() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let m = path_str(dir.path());
    run(&emu, &["apply", "--auto-approve", m]).code(0);
    let again = run(&emu, &["plan", "--detailed-exitcode", m]);
    insta::assert_snapshot!("success", outcome(&again));
    let apply = run(&emu, &["apply", "--detailed-exitcode", m]);
    assert_eq!(outcome(&apply), "exit 0\n(no stderr)", "{}", apply.stderr);
}

#[test]
fn changes_exit_2_with_detailed_exitcode_for_plan_and_apply() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let m = path_str(dir.path());
    run(&emu, &["plan", m]).code(0);
    insta::assert_snapshot!(
        "changes_plan",
        outcome(&run(&emu, &["plan", "--detailed-exitcode", m]))
    );
    insta::assert_snapshot!(
        "changes_apply",
        outcome(&run(
            &emu,
            &["apply", "--auto-approve", "--detailed-exitcode", m]
        ))
    );
}

#[test]
fn blocked_desktops_exit_3_and_beat_changes() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let m = path_str(dir.path());
    // B-1 would carry 10 tags, over a cap of 9; A-1 still changes.
    insta::assert_snapshot!(
        "blocked_plan",
        outcome(&run(
            &emu,
            &["plan", "--detailed-exitcode", "--max-tags", "9", m]
        ))
    );
    let apply = run(
        &emu,
        &[
            "apply",
            "--auto-approve",
            "--detailed-exitcode",
            "--max-tags",
            "9",
            m,
        ],
    );
    insta::assert_snapshot!("blocked_apply", outcome(&apply));
    assert_eq!(
        tag_keys(&emu, "A-1"),
        ["a", "b", "owner"],
        "A-1 was applied"
    );
    assert_eq!(tag_keys(&emu, "B-1").len(), 8, "B-1 was blocked");
}

#[test]
fn a_failed_change_exits_1_and_beats_blocked() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    // The service caps at 10 tags: C-1 (9 tags + 2 creates, allowed by --max-tags 12) fails on
    // its second create, while A-1 is applied.
    let dir = manifest_dir(
        "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  \
         - name: A-1\n    tags: {a: \"1\", b: \"2\"}\n  - name: C-1\n    tags: {a: \"1\", b: \"2\"}\n",
    );
    let ran = run(
        &emu,
        &[
            "apply",
            "--auto-approve",
            "--max-tags",
            "12",
            path_str(dir.path()),
        ],
    );
    insta::assert_snapshot!("failed", outcome(&ran));
}

#[test]
fn a_stale_saved_plan_exits_1() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let plan = dir.path().join("plan.json");
    run(
        &emu,
        &[
            "plan",
            "--out",
            path_str(&plan),
            path_str(&dir.path().join("m.yaml")),
        ],
    )
    .code(0);
    // A saved plan is its own approval: no --auto-approve needed.
    run(&emu, &["apply", "--plan", path_str(&plan)]).code(0);
    let writes = emu.writes();
    let stale = run(&emu, &["apply", "--plan", path_str(&plan)]);
    assert_eq!(emu.writes(), writes, "nothing was written");
    insta::assert_snapshot!("stale", outcome(&stale));
}

#[test]
fn a_saved_plan_refuses_another_project_id_as_a_usage_error() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let plan = dir.path().join("plan.json");
    run(
        &emu,
        &[
            "plan",
            "--out",
            path_str(&plan),
            path_str(&dir.path().join("m.yaml")),
        ],
    )
    .code(0);
    let ran = run(
        &emu,
        &[
            "apply",
            "--plan",
            path_str(&plan),
            "--project-id",
            "ffffffffffffffffffffffffffffffff",
        ],
    );
    insta::assert_snapshot!("saved_plan_other_project", outcome(&ran));
    assert_eq!(emu.writes(), 0);
}

#[test]
fn invalid_manifests_exit_1_for_validate_plan_and_apply() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir("version: 1\ndesktops:\n  - name: A-1\n    tags: 5\n");
    let m = path_str(dir.path());
    insta::assert_snapshot!(
        "invalid_validate",
        outcome(&Desktag::new().args(["validate", m]).run())
    );
    insta::assert_snapshot!("invalid_plan", outcome(&run(&emu, &["plan", m])));
    insta::assert_snapshot!(
        "invalid_apply",
        outcome(&run(&emu, &["apply", "--auto-approve", m]))
    );
}

#[test]
fn a_closed_stdout_ends_output_quietly() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    for command in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let mut child = Desktag::new()
            .against(&emu)
            .args(command)
            .arg_path(dir.path())
            .spawn();
        // The reader goes away before desktag writes anything, as `| head -0` would.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let ran = Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        insta::assert_snapshot!("broken_pipe", outcome(&ran));
    }
    assert_eq!(
        tag_keys(&emu, "B-1").len(),
        10,
        "apply went on without its stdout"
    );
    assert_eq!(tag_keys(&emu, "A-1"), ["a", "b", "owner"]);
}

#[test]
fn github_output_gets_counts_from_plan_and_apply_on_a_new_line() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let m = path_str(dir.path());
    let output = dir.path().join("github_output");
    let summary = dir.path().join("summary.md");
    std::fs::write(&output, "x").unwrap();
    let with_github = |args: &[&str]| {
        Desktag::new()
            .against(&emu)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .args(args)
            .run()
    };
    with_github(&["plan", "--max-tags", "9", m]).code(3);
    with_github(&["apply", "--auto-approve", "--max-tags", "9", m]).code(3);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "x\nhas_changes=true\nblocked=1\nfailed=0\nhas_changes=true\nblocked=1\nfailed=0\n"
    );
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with(&format!(
            "<!-- desktag:plan project={PROJECT} -->\n## Plan for `{PROJECT}`: 1 desktop blocked\n"
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("\n## Apply for `{PROJECT}`: 1 desktop blocked\n")),
        "{summary}"
    );
}

#[test]
fn plans_list_desktops_by_name_then_id() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifest_dir(MANIFEST);
    let plan = run(&emu, &["plan", "--format", "json", path_str(dir.path())])
        .code(0)
        .json();
    let names: Vec<&str> = plan["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A-1", "B-1"]);
}

#[test]
fn the_last_error_line_escapes_control_characters() {
    let ran = Desktag::new()
        .args([
            "apply",
            "--emulator",
            "--plan",
            "no-such-\u{1b}]0;pwned\u{7}.json",
        ])
        .run()
        .code(1);
    let last = ran.stderr.lines().last().unwrap_or_default();
    assert!(!ran.stderr.contains('\u{1b}'), "{:?}", ran.stderr);
    assert!(
        last.starts_with("error: cannot read no-such-\\u{001b}]0;pwned\\u{0007}.json"),
        "{last}"
    );
}

#[test]
fn a_saved_plan_made_with_the_emulator_applies_there_without_flags() {
    let dir = manifest_dir("");
    let plan = dir.path().join("plan.json");
    Desktag::new()
        .args([
            "plan",
            "--emulator",
            "--out",
            path_str(&plan),
            "examples/manifests",
        ])
        .run()
        .code(0);
    // No --emulator, no --auto-approve: the plan says where it was made and is the approval.
    let ran = Desktag::new()
        .args(["apply", "--plan", path_str(&plan)])
        .run();
    insta::assert_snapshot!("saved_emulator_plan", outcome(&ran));
    assert!(
        ran.stdout
            .contains(" applied, 0 failed, 0 skipped; 0 unverified"),
        "{}",
        ran.stdout
    );
    let pointed = Desktag::new()
        .args([
            "apply",
            "--plan",
            path_str(&plan),
            "--endpoint",
            "http://127.0.0.1:9",
        ])
        .run();
    insta::assert_snapshot!("saved_emulator_plan_elsewhere", outcome(&pointed));
}

#[test]
fn in_a_github_actions_job_plan_warnings_are_annotations_on_the_manifest_line() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let text = format!("{MANIFEST}  - name: NOPE-1\n    tags: {{a: \"1\"}}\n");
    let dir = manifest_dir(&text);
    let ran = Desktag::new()
        .against(&emu)
        .env("GITHUB_ACTIONS", "true")
        .args(["plan"])
        .arg_path(dir.path())
        .run()
        .code(0);
    let annotation = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("::warning file="))
        .unwrap_or_else(|| panic!("no annotation in {}", ran.stderr));
    assert!(
        annotation.contains("/m.yaml,line=8,col=5,") && annotation.contains("unmatched-selector"),
        "{annotation}"
    );
    // Outside a job, the same warning is a readable block.
    let ran = run(&emu, &["plan", path_str(dir.path())]);
    assert!(!ran.stderr.contains("::warning"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("warning[unmatched-selector]"),
        "{}",
        ran.stderr
    );
}
