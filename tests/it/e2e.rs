//! End to end: the real binary planning and applying against the in-process emulator, checked
//! through the emulator's request log and state.

use desktag::emulator::Seed;

use crate::support::{demo_emulator, emulator_with, manifests, path_str, seed_yaml, Desktag};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

fn small_seed() -> Seed {
    seed_yaml(&format!(
        r#"
project_id: {PROJECT}
desktops:
  - id: 11111111-0000-0000-0000-000000000001
    name: A-1
    tags: {{owner: it, legacy: x, ops-note: keep, _sys_origin: console}}
  - id: 11111111-0000-0000-0000-000000000002
    name: A-2
  - id: 11111111-0000-0000-0000-000000000003
    name: B-1
    tags: {{k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v, k8: v}}
"#
    ))
}

const SMALL_MANIFEST: &str = r#"
version: 1
project_id: 0123456789abcdef0123456789abcdef
defaults:
  cost-center: CC-1
desktops:
  - name: "A-*"
    tags:
      env: prod
  - name: B-1
    tags:
      env: prod
"#;

fn tags_of(handle: &desktag::emulator::EmulatorHandle, id: &str) -> desktag::tags::Tags {
    handle
        .desktops()
        .into_iter()
        .find(|d| d.id == id)
        .expect("desktop exists")
        .tags
}

#[test]
fn plan_never_sends_a_write() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "examples/manifests"])
        .run();
    assert!(ran.stdout.contains("to create"), "{}", ran.stdout);
    assert_eq!(emu.writes(), 0, "{:?}", emu.requests());
    assert!(!emu.requests().is_empty());
}

#[test]
fn apply_then_plan_shows_no_changes_and_apply_twice_sends_no_writes() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let m = path_str(dir.path());
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--write-mode", "tag", m])
        .run()
        .code(0);
    let writes = emu.writes();
    assert_eq!(
        writes,
        2 + 2 + 2,
        "A-1: cost-center, env; A-2: the same; B-1: cost-center, env"
    );
    assert_eq!(
        tags_of(&emu, "11111111-0000-0000-0000-000000000002")
            .get("env")
            .map(|v| v.as_str()),
        Some("prod")
    );

    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", m])
        .run()
        .code(0);
    assert!(
        plan.stdout
            .contains("No changes. Desktop tags match the manifests."),
        "{}",
        plan.stdout
    );

    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", m])
        .run()
        .code(0);
    assert_eq!(emu.writes(), writes, "the second apply sent writes");
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_github_outputs_are_written() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let output = dir.path().join("github_output");
    let summary = dir.path().join("summary.md");
    Desktag::new()
        .against(&emu)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "plan",
            "--detailed-exitcode",
            path_str(&dir.path().join("m.yaml")),
        ])
        .run()
        .code(2);
    assert_eq!(
        std::fs::read_to_string(output).unwrap(),
        "has_changes=true\nblocked=0\nfailed=0\n"
    );
    assert!(std::fs::read_to_string(summary)
        .unwrap()
        .contains("## Plan"));
}

#[test]
fn plan_json_carries_has_changes_and_the_summary() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", path_str(dir.path())])
        .run()
        .code(0);
    let doc = ran.json();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["has_changes"], true);
    assert_eq!(doc["summary"]["create"], 6);
    assert!(!ran.stdout.contains(crate::support::SK));
}

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
fn a_stale_saved_plan_is_refused_without_writing() {
    let (rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    // Someone changes a planned desktop by hand.
    let connection = desktag::api::Connection {
        endpoint: url::Url::parse(&emu.base_url()).unwrap(),
        project_id: PROJECT.to_string(),
        credentials: desktag::api::Credentials::AkSk {
            ak: crate::support::AK.to_string().into(),
            sk: crate::support::SK.to_string().into(),
            security_token: None,
            origin: "the test",
        },
    };
    let client = desktag::api::Client::new(connection, Default::default()).unwrap();
    rt.block_on(client.create_tag("11111111-0000-0000-0000-000000000002", "owner", "someone"))
        .expect("the hand-made change is accepted");
    let writes = emu.writes();
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(1);
    assert!(ran.stderr.contains("stale"), "{}", ran.stderr);
    assert!(ran.stderr.contains("A-2"), "{}", ran.stderr);
    assert_eq!(emu.writes(), writes, "a stale plan must not write");

    // A fresh plan applies.
    save_plan(&emu, dir.path());
    Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(0);
    assert!(emu.writes() > writes);
}

#[test]
fn prune_deletes_exactly_the_unmanaged_keys_not_ignored() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--prune",
            "--ignore-key",
            "ops-*",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
    let a1 = tags_of(&emu, "11111111-0000-0000-0000-000000000001");
    let keys: Vec<&str> = a1.keys().map(|v| v.as_str()).collect();
    assert_eq!(keys, ["_sys_origin", "cost-center", "env", "ops-note"]);
    let b1 = tags_of(&emu, "11111111-0000-0000-0000-000000000003");
    assert_eq!(
        b1.keys().map(|v| v.as_str()).collect::<Vec<_>>(),
        ["cost-center", "env"]
    );
}

#[test]
fn an_over_cap_desktop_is_blocked_while_the_others_apply() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            "examples/cap-demo",
        ])
        .run()
        .code(3);
    let report = ran.json();
    let desktops = report["desktops"].as_array().unwrap();
    let blocked: Vec<&str> = desktops
        .iter()
        .filter(|d| d["status"] == "blocked")
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(blocked, ["OPS-WKS-003"]);
    assert!(
        desktops
            .iter()
            .all(|d| d["status"] != "failed" && d["status"] != "unverified"),
        "{report}"
    );
    assert_eq!(
        report["totals"]["applied"], 6,
        "OPS-WKS-001 and OPS-WKS-002 get 3 tags each: {report}"
    );
    assert!(
        ran.stderr.contains("OPS-WKS-003"),
        "the plan shown on stderr names the blocked desktop"
    );
    let blocked_reason = desktops.iter().find(|d| d["status"] == "blocked").unwrap()["reason"]
        .as_str()
        .unwrap();
    assert!(blocked_reason.contains("10"), "{blocked_reason}");
}

#[test]
fn apply_without_a_terminal_requires_auto_approve() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", path_str(dir.path())])
        .run()
        .code(1);
    assert!(ran.stderr.contains("--auto-approve"), "{}", ran.stderr);
    assert_eq!(emu.writes(), 0);
}

#[test]
fn an_interrupted_apply_converges_when_run_again() {
    let (_rt, emu) = demo_emulator_with_latency(40);
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
    wait_for_writes(&emu, 5);
    child.kill().unwrap();
    let _ = child.wait();
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

fn demo_emulator_with_latency(
    ms: u64,
) -> (tokio::runtime::Runtime, desktag::emulator::EmulatorHandle) {
    emulator_with(Seed::demo(), |c| {
        c.faults.latency = std::time::Duration::from_millis(ms)
    })
}

#[test]
fn export_round_trips_to_no_changes() {
    let (_rt, emu) = demo_emulator();
    let ran = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["export"])
        .run()
        .code(0);
    let dir = manifests(&[("exported.yaml", &ran.stdout)]);
    Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(0);
    Desktag::new()
        .against(&emu)
        .args(["plan", "--detailed-exitcode", path_str(dir.path())])
        .run()
        .code(0);

    let by_name = Desktag::new()
        .against(&emu)
        .env("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        .args(["export", "--name", "ENG-WKS-*"])
        .run()
        .code(0);
    assert!(
        by_name.stdout.contains("# ENG-WKS-003") && !by_name.stdout.contains("FIN-"),
        "{}",
        by_name.stdout
    );
}

#[test]
fn the_readme_quickstart_runs_against_the_builtin_emulator() {
    let ran = Desktag::new()
        .args([
            "apply",
            "--emulator",
            "--auto-approve",
            "examples/manifests",
        ])
        .run()
        .code(0);
    assert!(ran.stdout.contains("Plan:"), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("0 failed, 0 skipped; 0 unverified, 0 blocked"),
        "{}",
        ran.stdout
    );
    // OPS-WKS-003 is made room on with `absent`, so it converges within the cap.
    assert!(
        ran.stdout
            .contains("+ OPS-WKS-003 (7d39b46b-65cb-5243-8081-0826a98d7a5a): applied"),
        "{}",
        ran.stdout
    );
    let plan = Desktag::new()
        .args(["plan", "--emulator", "examples/manifests"])
        .run()
        .code(0);
    assert!(!plan.stdout.contains("): blocked"), "{}", plan.stdout);
}

#[test]
fn the_readme_cap_demo_exits_3_by_design() {
    let ran = Desktag::new()
        .args(["apply", "--emulator", "--auto-approve", "examples/cap-demo"])
        .run()
        .code(3);
    assert!(
        ran.stdout
            .contains("! OPS-WKS-003 (7d39b46b-65cb-5243-8081-0826a98d7a5a): blocked"),
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stderr.lines().last(),
        Some("warning: 1 desktop blocked (OPS-WKS-003); all other changes applied"),
        "{}",
        ran.stderr
    );
}

#[test]
fn secrets_never_reach_output_even_when_verbose() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "-vv",
            "apply",
            "--auto-approve",
            "--report-format",
            "json",
            path_str(dir.path()),
        ])
        .run()
        .code(0);
    assert!(!ran.stdout.contains(crate::support::SK) && !ran.stderr.contains(crate::support::SK));
}

#[test]
fn an_unwritable_report_path_fails_before_any_write() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let report = dir.path().join("missing-dir").join("report.json");
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--report",
            path_str(&report),
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert!(ran.stderr.contains("missing-dir"), "{}", ran.stderr);
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
}

#[test]
fn a_project_id_that_matches_no_manifest_is_an_error_not_a_silent_no_op() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args([
            "plan",
            "--project-id",
            "ffffffffffffffffffffffffffffffff",
            path_str(dir.path()),
        ])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("matches none of the manifests"),
        "{}",
        ran.stderr
    );
    assert!(emu.requests().is_empty());
}

#[test]
fn an_edited_saved_plan_is_refused_without_writing() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let plan_file = save_plan(&emu, dir.path());
    let text = std::fs::read_to_string(&plan_file).unwrap();
    assert!(text.contains("\"key\": \"env\""));
    std::fs::write(
        &plan_file,
        text.replacen("\"key\": \"env\"", "\"key\": \"env/x\"", 1),
    )
    .unwrap();
    let ran = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--plan", path_str(&plan_file)])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("is not a usable desktag plan"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("env/x"), "{}", ran.stderr);
    assert_eq!(emu.writes(), 0);
}

#[test]
fn ctrl_c_during_apply_stops_new_changes_and_still_reports() {
    let (_rt, emu) = demo_emulator_with_latency(40);
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
    wait_for_writes(&emu, 3);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
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

/// `desktag plan --out DIR/plan.json DIR/m.yaml`, which must succeed; returns the plan's path.
fn save_plan(emu: &desktag::emulator::EmulatorHandle, dir: &std::path::Path) -> std::path::PathBuf {
    let plan_file = dir.join("plan.json");
    Desktag::new()
        .against(emu)
        .args([
            "plan",
            "--out",
            path_str(&plan_file),
            path_str(&dir.join("m.yaml")),
        ])
        .run()
        .code(0);
    plan_file
}

/// Waits (at most 30 s) until the emulator has applied `n` writes; fails the test otherwise.
fn wait_for_writes(emu: &desktag::emulator::EmulatorHandle, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while emu.writes() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "apply made only {} of {n} writes in 30 s",
            emu.writes()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn an_invalid_ignore_glob_fails_before_any_request() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let ran = Desktag::new()
        .against(&emu)
        .args(["plan", "--ignore-key", "ops-[", path_str(dir.path())])
        .run()
        .code(1);
    assert!(ran.stderr.contains("`ops-[`"), "{}", ran.stderr);
    assert!(emu.requests().is_empty());
}
