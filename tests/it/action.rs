//! The GitHub Action's steps, run locally as a runner would run them: the `run:` lines of
//! `action.yml` with `GITHUB_*` and `RUNNER_*` set, against the emulator. Arguments are passed one
//! per line without word splitting or globbing, `--plan` needs no `paths`, the step outputs are
//! written, and the install step verifies a release binary's checksum.
#![cfg(unix)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{emulator_with, path_str, repo, small_seed, AK, SK, SMALL_MANIFEST};

/// The `run:` command of the step whose `id:` or `name:` contains `step`.
fn run_line(step: &str) -> String {
    let action = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let mut in_step = false;
    for line in action.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("- name:") {
            in_step = trimmed.contains(step);
        }
        if trimmed.starts_with("id:") && trimmed.contains(step) {
            in_step = true;
        }
        if in_step {
            if let Some(run) = trimmed.strip_prefix("run: ") {
                return run.to_string();
            }
        }
    }
    panic!("action.yml has no step `{step}` with a run line");
}

/// A runner's workspace: a checkout directory, RUNNER_TEMP and the GITHUB_* files.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["checkout", "temp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Runner { dir }
    }

    fn checkout(&self) -> PathBuf {
        self.dir.path().join("checkout")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The outputs the step wrote, as `name=value` lines.
    fn outputs(&self) -> String {
        std::fs::read_to_string(self.file("output")).unwrap_or_default()
    }

    fn output(&self, name: &str) -> Option<String> {
        self.outputs()
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(String::from))
    }

    /// Runs the `desktag` step of action.yml, as the runner does, with these inputs.
    fn step(&self, emulator: &str, command: &str, paths: &str, args: &str) -> i32 {
        std::fs::remove_file(self.file("output")).ok();
        let out = Command::new("bash")
            .args(["-c", &run_line("id: run")])
            .current_dir(self.checkout())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("GITHUB_ACTION_PATH", repo())
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary"))
            .env("RUNNER_TEMP", self.dir.path().join("temp"))
            .env("DESKTAG_BIN", env!("CARGO_BIN_EXE_desktag"))
            .env("DESKTAG_COMMAND", command)
            .env("DESKTAG_PATHS", paths)
            .env("DESKTAG_ARGS", args)
            .env("DESKTAG_ENDPOINT", emulator)
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        // Captured, so a passing run is quiet; the test harness shows it when one fails.
        eprint!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.code().unwrap_or(-1)
    }
}

#[test]
fn the_run_step_passes_each_line_as_one_argument_and_writes_the_outputs() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let runner = Runner::new();
    // A path with a space, and a file a shell glob `A-*` would expand to.
    let manifests = runner.checkout().join("my desktops");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("m.yaml"), SMALL_MANIFEST).unwrap();
    std::fs::write(runner.checkout().join("A-glob-bait"), "").unwrap();

    let code = runner.step(
        &emu.base_url(),
        "plan",
        "my desktops\n",
        "  --detailed-exitcode\n\n--target\nA-*\n",
    );
    assert_eq!(
        code,
        0,
        "exit 2 (changes) is a success: {}",
        runner.outputs()
    );
    assert_eq!(runner.output("exit_code").as_deref(), Some("2"));
    assert_eq!(runner.output("has_changes").as_deref(), Some("true"));
    let markdown = runner.output("markdown").unwrap();
    let comment = std::fs::read_to_string(&markdown).unwrap();
    assert!(comment.starts_with("<!-- desktag:plan"), "{comment}");
    // `A-*` reached desktag as a glob of desktop names: planned, B-1 not.
    assert!(
        comment.contains("A-1") && comment.contains("A-2"),
        "{comment}"
    );
    assert!(!comment.contains("B-1"), "{comment}");
    assert!(std::fs::read_to_string(runner.file("summary"))
        .unwrap()
        .contains("desktag:plan"));
    assert_eq!(emu.writes(), 0);
}

#[test]
fn apply_with_a_saved_plan_ignores_paths_and_reports() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let runner = Runner::new();
    std::fs::write(runner.checkout().join("m.yaml"), SMALL_MANIFEST).unwrap();
    let plan = runner.checkout().join("plan file.json");
    let code = runner.step(
        &emu.base_url(),
        "plan",
        ".",
        &format!("--out\n{}", path_str(&plan)),
    );
    assert_eq!(code, 0);
    // The default `paths: "."` is not passed beside --plan.
    let code = runner.step(
        &emu.base_url(),
        "apply",
        ".",
        &format!("--plan\n{}\n", path_str(&plan)),
    );
    assert_eq!(code, 0, "{}", runner.outputs());
    let report = runner.output("report").unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["totals"]["applied"], 6);
    let comment = std::fs::read_to_string(runner.output("markdown").unwrap()).unwrap();
    assert!(comment.starts_with("<!-- desktag:apply"), "{comment}");
    assert_eq!(runner.output("failed").as_deref(), Some("0"));
}

/// A release directory `ref/` with a fake `desktag` for Linux x86_64 and its checksum.
fn fake_release(dir: &Path, checksum: Option<&str>) {
    let release = dir.join("v9.9.9");
    std::fs::create_dir_all(&release).unwrap();
    let staging = dir.join("staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("desktag"), "#!/bin/sh\necho fake desktag\n").unwrap();
    let asset = release.join("desktag-x86_64-unknown-linux-musl.tar.gz");
    let ok = Command::new("tar")
        .args([
            "-czf",
            path_str(&asset),
            "-C",
            path_str(&staging),
            "desktag",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let sum = match checksum {
        Some(sum) => sum.to_string(),
        None => {
            let out = Command::new("sha256sum").arg(&asset).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        }
    };
    std::fs::write(
        release.join("desktag-x86_64-unknown-linux-musl.tar.gz.sha256"),
        sum,
    )
    .unwrap();
}

fn install(runner: &Runner, releases: &Path) -> std::process::Output {
    Command::new("bash")
        .args(["-c", &run_line("Install desktag")])
        .env_clear()
        // No desktag on PATH: only the system tools.
        .env("PATH", "/usr/bin:/bin")
        .env("GITHUB_ACTION_PATH", repo())
        .env("GITHUB_PATH", runner.file("path"))
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("DESKTAG_ACTION_REF", "v9.9.9")
        .env("DESKTAG_ACTION_REPOSITORY", "owner/desktag")
        .env("DESKTAG_INSTALL_DIR", runner.dir.path().join("tool"))
        .env(
            "DESKTAG_RELEASE_BASE_URL",
            format!("file://{}", path_str(releases)),
        )
        .output()
        .unwrap()
}

#[test]
fn the_install_step_takes_the_release_binary_only_when_its_checksum_matches() {
    if Command::new("sha256sum").arg("--version").output().is_err()
        || Command::new("curl").arg("--version").output().is_err()
    {
        eprintln!("skipped: sha256sum or curl missing");
        return;
    }
    let runner = Runner::new();
    let releases = runner.dir.path().join("releases");
    fake_release(&releases, None);
    let ran = install(&runner, &releases);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let bin = runner.dir.path().join("tool/bin");
    assert_eq!(
        std::fs::read_to_string(runner.file("path")).unwrap().trim(),
        path_str(&bin)
    );
    assert!(bin.join("desktag").exists());

    // A release whose checksum does not match is refused, never installed.
    let other = Runner::new();
    let bad = other.dir.path().join("releases");
    fake_release(&bad, Some(&format!("{}  desktag.tar.gz\n", "0".repeat(64))));
    let ran = install(&other, &bad);
    assert!(!ran.status.success());
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(stdout.contains("not installing it"), "{stdout}");
    assert!(!other.dir.path().join("tool/bin/desktag").exists());
}

/// The desktag container's arguments in the CronJob example.
fn cronjob_args() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("examples/kubernetes/cronjob.yaml")).unwrap();
    // The file holds the service account, then the CronJob.
    let doc = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_json::Value::deserialize(d).unwrap())
        .find(|d| d["kind"] == "CronJob")
        .expect("a CronJob document");
    let spec = &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let container = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "desktag")
        .unwrap();
    assert!(container["imagePullPolicy"].is_string());
    // The manifests come from git into an emptyDir, never a flattened ConfigMap.
    assert_eq!(spec["volumes"][0]["emptyDir"], serde_json::json!({}));
    assert!(spec["initContainers"][0]["image"]
        .as_str()
        .unwrap()
        .contains("git-sync"));
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_cronjobs_command_is_silent_in_sync_and_reports_on_stdout() {
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    let dir = crate::support::manifests(&[("m.yaml", SMALL_MANIFEST)]);
    let args: Vec<String> = cronjob_args()
        .into_iter()
        .map(|a| match a {
            a if a.starts_with("--project-id=") => {
                format!("--project-id={}", crate::support::PROJECT)
            }
            a if a.starts_with("/manifests") => path_str(dir.path()).to_string(),
            a => a,
        })
        .collect();
    let run = || {
        crate::support::Desktag::new()
            .against(&emu)
            .args(&args)
            .run()
            .code(0)
    };
    let first = run();
    assert_eq!(first.json()["totals"]["applied"], 6);
    let again = run();
    assert_eq!(again.stderr, "", "in sync: nothing for cron to mail");
    assert_eq!(again.json()["has_changes"], false);
}

#[test]
fn the_pre_commit_hook_validates_the_whole_tree() {
    let text = std::fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let hook = &hooks[0];
    assert_eq!(
        hook["pass_filenames"], false,
        "never one batch of staged files"
    );
    let mut words: Vec<String> = hook["entry"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(words.remove(0), "desktag");
    // A value in one file breaks the policy of another: caught only when both are read.
    let tree = crate::support::manifests(&[
        (
            "desktops/policy.yaml",
            "version: 1\npolicy:\n  allowed:\n    env: [dev, prod]\ndesktops: []\n",
        ),
        (
            "desktops/team/lab.yaml",
            "version: 1\ndesktops:\n  - name: LAB-1\n    tags: {env: qa}\n",
        ),
    ]);
    let args: Vec<String> = hook["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let ran = Command::new(env!("CARGO_BIN_EXE_desktag"))
        .args(&words)
        .args(&args)
        .current_dir(tree.path())
        .output()
        .unwrap();
    assert_eq!(
        ran.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
}

#[test]
fn the_cache_key_step_prints_a_digest_of_the_source() {
    let runner = Runner::new();
    let run = || {
        std::fs::remove_file(runner.file("output")).ok();
        let ok = Command::new("bash")
            .args(["-c", &run_line("id: source")])
            .env("GITHUB_ACTION_PATH", repo())
            .env("GITHUB_OUTPUT", runner.file("output"))
            .status()
            .unwrap();
        assert!(ok.success());
        runner.output("digest").unwrap()
    };
    let digest = run();
    assert_eq!(digest.len(), 16, "{digest}");
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(run(), digest, "stable");
}
