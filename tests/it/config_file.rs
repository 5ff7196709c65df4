//! The repository config, `desktag.toml`: found from the working directory up, or named with
//! `--config`, or ignored with `--no-config`; its `paths` and `exclude` say which YAML files are
//! manifests (named files included, for the pre-commit hook), its `[[projects]]` give documents
//! their project by path prefix, and its `[flags]` are defaults the command line beats.

use crate::support::{
    emulator_with, manifests, path_str, seed_yaml, tags_by_name, Desktag, AK, SK,
};

const PROJECT: &str = "0123456789abcdef0123456789abcdef";

/// A repository: manifests under `desktops/` (no `project_id`), a draft that does not validate,
/// and a Kubernetes file that is no manifest.
fn repository(config: &str) -> tempfile::TempDir {
    manifests(&[
        ("desktag.toml", config),
        (
            "desktops/team.yaml",
            "version: 1\ndesktops:\n  - name: \"W-*\"\n    tags: {env: prod}\n",
        ),
        ("desktops/drafts/next.yaml", "version: 1\ndesktops: oops\n"),
        (
            "k8s/cronjob.yaml",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: desktag}\n",
        ),
    ])
}

const CONFIG: &str = r#"
paths = ["desktops"]
exclude = ["desktops/drafts"]

[[projects]]
prefix = "desktops"
project_id = "0123456789abcdef0123456789abcdef"
"#;

fn seed() -> desktag_emulator::Seed {
    seed_yaml(&format!(
        "project_id: {PROJECT}\ndesktops:\n  - id: 55555555-0000-0000-0000-000000000001\n    name: W-1\n    tags: {{legacy: x, old: y}}\n"
    ))
}

#[test]
fn validate_at_the_root_reads_only_the_configured_manifests_from_any_subdirectory() {
    let repo = repository(CONFIG);
    let ok = Desktag::new()
        .current_dir(repo.path())
        .args(["validate"])
        .run()
        .code(0);
    assert!(ok.stdout.contains("1 document"), "{}", ok.stdout);
    // Found by walking up, with the paths still relative to the config file.
    let deeper = repo.path().join("desktops/drafts");
    Desktag::new()
        .current_dir(&deeper)
        .args(["validate"])
        .run()
        .code(0);
    // Without the config, the Kubernetes file and the draft are read and fail.
    let without = Desktag::new()
        .current_dir(repo.path())
        .args(["--no-config", "validate"])
        .run()
        .code(1);
    assert!(
        without.stderr.contains("k8s/cronjob.yaml") && without.stderr.contains("next.yaml"),
        "{}",
        without.stderr
    );
}

#[test]
fn named_files_outside_the_paths_or_excluded_are_skipped_as_a_pre_commit_hook_passes_them() {
    let repo = repository(CONFIG);
    let ran = Desktag::new()
        .current_dir(repo.path())
        .args([
            "validate",
            "k8s/cronjob.yaml",
            "desktops/drafts/next.yaml",
            "desktops/team.yaml",
        ])
        .run()
        .code(0);
    assert!(ran.stdout.contains("1 document"), "{}", ran.stdout);
}

#[test]
fn an_explicit_config_file_is_used_from_anywhere() {
    let repo = repository(CONFIG);
    let elsewhere = tempfile::tempdir().unwrap();
    let config = repo.path().join("desktag.toml");
    Desktag::new()
        .current_dir(elsewhere.path())
        .args(["--config", path_str(&config), "validate"])
        .run()
        .code(0);
    let missing = Desktag::new()
        .current_dir(elsewhere.path())
        .args(["--config", "nope.toml", "validate"])
        .run()
        .code(1);
    assert!(
        missing.stderr.contains("error: cannot read nope.toml"),
        "{}",
        missing.stderr
    );
}

#[test]
fn unknown_keys_are_errors_with_their_location_before_anything_runs() {
    let repo = repository("paths = [\"desktops\"]\n\n[flags]\nprnue = true\n");
    let ran = Desktag::new()
        .current_dir(repo.path())
        .args(["plan", "--emulator"])
        .run()
        .code(1);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(
        lines,
        vec![
            "desktag.toml:4:1: error[config]: unknown key `flags.prnue`",
            "  help: did you mean `prune`?",
            "error: desktag.toml is not a valid desktag config (1 problem)",
        ]
    );
    // Commands that read no manifests do not read the config either.
    Desktag::new()
        .current_dir(repo.path())
        .args(["schema"])
        .run()
        .code(0);
}

#[test]
fn documents_take_their_project_from_the_path_prefix() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let repo = repository(CONFIG);
    let plan = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args(["plan", "--format", "json"])
        .run()
        .code(0);
    let json = plan.json();
    assert_eq!(json["projects"][0]["project_id"], PROJECT, "{json:#}");
    // Without the config the documents name no project, and none is given.
    let without = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args(["--no-config", "plan", "desktops/team.yaml"])
        .run()
        .code(1);
    assert!(without.stderr.contains("project"), "{}", without.stderr);
}

#[test]
fn flag_defaults_apply_and_the_command_line_wins() {
    let config = format!(
        "{CONFIG}\n[flags]\nprune = true\nmax_deletes = 1\nwrite_mode = \"tag\"\nstrict = true\n"
    );
    let repo = repository(&config);
    let (_rt, emu) = emulator_with(seed(), |_| {});
    // prune from the config: two deletes, over the configured limit of one.
    let refused = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args(["plan"])
        .run()
        .code(1);
    assert!(
        refused.stderr.contains("deletes 2 tags"),
        "{}",
        refused.stderr
    );
    // --no-prune beats the config: only the create is left.
    let plan = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args(["plan", "--no-prune", "--format", "json"])
        .run()
        .code(0);
    assert_eq!(plan.json()["summary"]["delete"], 0, "{}", plan.stdout);
    // --max-deletes beats the config; the write mode comes from it.
    let apply = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args([
            "apply",
            "--auto-approve",
            "--max-deletes",
            "2",
            "--report-format",
            "json",
        ])
        .run()
        .code(0);
    assert_eq!(
        apply.json()["projects"][0]["write_mode"],
        "tag",
        "{}",
        apply.stdout
    );
    assert_eq!(
        tags_by_name(&emu, "W-1"),
        vec![("env".to_string(), "prod".to_string())]
    );
}

#[test]
fn strict_from_the_config_makes_unmatched_selectors_errors() {
    let repo = manifests(&[
        (
            "desktag.toml",
            &format!("{CONFIG}\n[flags]\nstrict = true\n"),
        ),
        (
            "desktops/team.yaml",
            "version: 1\ndesktops:\n  - name: NOBODY\n    tags: {env: prod}\n",
        ),
    ]);
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let strict = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args(["plan"])
        .run()
        .code(1);
    assert!(
        strict.stderr.contains("error[unmatched-selector]"),
        "{}",
        strict.stderr
    );
    Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .args(["plan", "--no-strict"])
        .run()
        .code(0);
}

#[test]
fn schema_config_prints_the_config_schema() {
    let ran = Desktag::new().args(["schema", "config"]).run().code(0);
    let schema = ran.json();
    assert_eq!(
        schema["title"], "desktag repository config (desktag.toml)",
        "{schema:#}"
    );
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let good = serde_json::json!({
        "paths": ["desktops"],
        "exclude": ["desktops/drafts"],
        "env": ["BUILD_ID"],
        "projects": [{"prefix": "desktops", "project_id": PROJECT, "region": "cn-north-4"}],
        "flags": {"write_mode": "desktop", "max_deletes": 20, "prune": true, "strict": true}
    });
    assert!(validator.is_valid(&good));
    for bad in [
        serde_json::json!({"pahts": ["a"]}),
        serde_json::json!({"flags": {"prnue": true}}),
        serde_json::json!({"flags": {"write_mode": "fast"}}),
        serde_json::json!({"projects": [{"prefix": "a"}]}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
}

#[test]
fn export_takes_the_project_and_region_from_the_config_and_writes_a_file_per_project() {
    const OTHER: &str = "fedcba9876543210fedcba9876543210";
    let (_rt, north) = emulator_with(seed(), |_| {});
    let (_rt2, south) = emulator_with(
        seed_yaml(&format!(
            "project_id: {OTHER}\ndesktops:\n  - id: 77777777-0000-0000-0000-000000000001\n    name: S-1\n    tags: {{\"n\": \"1\", owner: ann}}\n"
        )),
        |_| {},
    );
    // Each region's endpoint points at its emulator: the region can only come from the config.
    let desktag = || {
        Desktag::new()
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
            .env(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4",
                north.base_url(),
            )
            .env(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_AP_SOUTHEAST_1",
                south.base_url(),
            )
    };
    let one = repository(&format!("{CONFIG}region = \"cn-north-4\"\n"));
    let ran = desktag()
        .current_dir(one.path())
        .args(["export"])
        .run()
        .code(0);
    assert!(
        ran.stdout.contains(&format!(
            "project_id: \"{PROJECT}\"\nregion: \"cn-north-4\"\n"
        )),
        "{}",
        ran.stdout
    );
    // Keys are plain where YAML allows.
    assert!(
        ran.stdout.contains("      legacy: \"x\"\n"),
        "{}",
        ran.stdout
    );

    // Two projects: one file each with --out-dir, a usage error without.
    let two = repository(&format!(
        "{CONFIG}region = \"cn-north-4\"\n\n[[projects]]\nprefix = \"exported\"\nproject_id = \"{OTHER}\"\nregion = \"ap-southeast-1\"\n"
    ));
    let refused = desktag()
        .current_dir(two.path())
        .args(["export"])
        .run()
        .code(1);
    assert!(refused.stderr.contains("--out-dir"), "{}", refused.stderr);
    desktag()
        .current_dir(two.path())
        .args(["export", "--out-dir", "desktops/exported"])
        .run()
        .code(0);
    let dir = two.path().join("desktops/exported");
    let ours = std::fs::read_to_string(dir.join(format!("{PROJECT}.yaml"))).unwrap();
    assert!(ours.contains("W-1"), "{ours}");
    let theirs = std::fs::read_to_string(dir.join(format!("{OTHER}.yaml"))).unwrap();
    assert!(
        theirs.contains(&format!(
            "project_id: \"{OTHER}\"\nregion: \"ap-southeast-1\"\n"
        )) && theirs.contains("      \"n\": \"1\"\n      owner: \"ann\"\n"),
        "{theirs}"
    );
    // The exported files plan to no changes, each project against its own region.
    let plan = desktag()
        .current_dir(two.path())
        .args(["plan", "--format", "json", "desktops/exported"])
        .run()
        .code(0);
    assert_eq!(plan.json()["has_changes"], false, "{}", plan.stdout);
}

#[test]
fn env_allow_list_lets_templates_read_the_names_it_lists_and_no_others() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let repo = manifests(&[
        (
            "desktag.toml",
            &format!("env = [\"BUILD_ID\", \"DEPLOY_TOKEN\"]\n{CONFIG}"),
        ),
        (
            "desktops/team.yaml",
            "version: 1\ndesktops:\n  - name: \"W-*\"\n    tags: {build: \"${env.BUILD_ID}\"}\n",
        ),
    ]);
    // Listed: read and rendered, and recorded for the saved plan's re-check.
    let plan = Desktag::new()
        .current_dir(repo.path())
        .against(&emu)
        .env("BUILD_ID", "b-42")
        .args(["plan", "--format", "json"])
        .run()
        .code(0);
    let json = plan.json();
    let changes = &json["projects"][0]["desktops"][0]["changes"];
    assert_eq!(changes[0]["value"], "b-42", "{json:#}");
    // Without the config the name is not readable: a located error with the fix.
    let without = Desktag::new()
        .current_dir(repo.path())
        .env("BUILD_ID", "b-42")
        .args(["--no-config", "validate", "desktops"])
        .run()
        .code(1);
    assert!(
        without.stderr.contains("team.yaml:4")
            && without.stderr.contains("DESKTAG_VAR_*")
            && without.stderr.contains("desktag.toml's `env`"),
        "{}",
        without.stderr
    );
    // A listed name that looks like a credential stays unreadable, and its value never shows.
    std::fs::write(
        repo.path().join("desktops/team.yaml"),
        "version: 1\ndesktops:\n  - name: \"W-*\"\n    tags: {t: \"${env.DEPLOY_TOKEN}\"}\n",
    )
    .unwrap();
    let secret = Desktag::new()
        .current_dir(repo.path())
        .env("DEPLOY_TOKEN", "hunter2-secret")
        .args(["validate"])
        .run()
        .code(1);
    assert!(
        secret.stderr.contains("looks like a credential"),
        "{}",
        secret.stderr
    );
    assert!(!secret.stderr.contains("hunter2") && !secret.stdout.contains("hunter2"));
}

#[test]
fn check_without_a_path_or_a_config_audits_the_working_directory() {
    let (_rt, emu) = emulator_with(seed(), |_| {});
    let dir = manifests(&[(
        "m.yaml",
        &format!(
            "version: 1\nproject_id: {PROJECT}\ndesktops:\n  - name: W-1\n    tags: {{env: prod}}\n"
        ),
    )]);
    let ran = Desktag::new()
        .current_dir(dir.path())
        .against(&emu)
        .args(["check", "--format", "json"])
        .run();
    let json = ran.json();
    assert!(json.to_string().contains("W-1"), "{json:#}\n{}", ran.stderr);
}
