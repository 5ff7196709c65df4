//! The command line itself: exit codes, help text, validate output.

use crate::support::{manifests, path_str, Desktag, Test};

#[test]
fn a_usage_error_exits_1_never_2() {
    Test::new()
        .args(["plan", "--no-such-flag"])
        .code(1)
        .stderr_has("--no-such-flag")
        .stdout("")
        .run();
    Test::new().args(["frobnicate"]).code(1).run();
    Test::new()
        .args(["plan", "--max-tags", "ten"])
        .code(1)
        .run();
    Test::new()
        .args(["plan", "--rate", "1e-20"])
        .code(1)
        .stderr_has("between 0.001 and 100000")
        .run();
}

#[test]
fn help_and_version_exit_0() {
    let help = Desktag::new().args(["--help"]).run().code(0);
    insta::assert_snapshot!("help", help.stdout);
    let plan_help = Desktag::new().args(["plan", "--help"]).run().code(0);
    insta::assert_snapshot!("plan_help", plan_help.stdout);
    let version = Desktag::new().args(["--version"]).run().code(0);
    assert!(version.stdout.starts_with("desktag "));
}

#[test]
fn validate_accepts_the_shipped_examples() {
    let ran = Test::new()
        .args(["validate", "examples/manifests"])
        .code(0)
        .stderr("")
        .run()
        .ran;
    assert!(
        ran.stdout.starts_with("Valid: 5 documents"),
        "{}",
        ran.stdout
    );
}

#[test]
fn validate_reports_every_problem_with_its_location_and_exits_1() {
    let dir = manifests(&[
        (
            "a.yaml",
            "version: 1\ndesktops:\n  - id: d1\n    tags:\n      env: dev\n      bad/key: x\n",
        ),
        ("b.yaml", "version: 2\ndesktop: []\n"),
        (
            "c.yaml",
            "version: 1\ndesktops:\n  - id: d1\n    tags:\n      env: prod\n",
        ),
    ]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    let dir_name = path_str(dir.path());
    assert!(
        ran.stderr
            .contains(&format!("{dir_name}/a.yaml:6:7: error[")),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(&format!("{dir_name}/b.yaml:1:")),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("help:"), "{}", ran.stderr);
    // The conflict between a.yaml and c.yaml names both places.
    assert!(ran.stderr.contains("conflict"), "{}", ran.stderr);
    assert!(ran.stdout.starts_with("Invalid:"), "{}", ran.stdout);

    let json = Desktag::new()
        .args(["validate", "--format", "json", dir_name])
        .run()
        .code(1);
    let doc = json.json();
    assert_eq!(doc["valid"], false);
    assert!(doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["code"].is_string()));

    let github = Desktag::new()
        .args(["validate", "--format", "github", dir_name])
        .run()
        .code(1);
    assert!(
        github.stdout.contains(&format!(
            "::error file={dir_name}/a.yaml,line=6,col=7,title=desktag "
        )),
        "{}",
        github.stdout
    );
    assert!(github.stdout.ends_with("\n"), "{}", github.stdout);
    assert!(
        github
            .stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("Invalid:"),
        "{}",
        github.stdout
    );
}

#[test]
fn validate_of_a_missing_path_is_a_located_error() {
    let ran = Desktag::new()
        .args(["validate", "no/such/dir"])
        .run()
        .code(1);
    assert!(ran.stderr.contains("no/such/dir"), "{}", ran.stderr);
}

#[test]
fn plan_without_credentials_fails_before_any_request() {
    let ran = Desktag::new()
        .env("DESKTAG_ENDPOINT", "http://127.0.0.1:9")
        .args(["plan", "examples/manifests"])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains("HUAWEICLOUD_SDK_AK") || ran.stderr.contains("credential"),
        "{}",
        ran.stderr
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    Test::new()
        .env("DESKTAG_ENDPOINT", "http://workspace.example.com")
        .env("HUAWEICLOUD_SDK_AK", "ak")
        .env("HUAWEICLOUD_SDK_SK", "sk")
        .args(["plan", "examples/manifests"])
        .code(1)
        .stderr_has("http")
        .stdout("")
        .run();
}

#[test]
fn completions_and_man_pages_come_from_the_clap_definitions() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let ran = Desktag::new().args(["completions", shell]).run().code(0);
        for word in ["validate", "write-mode", "detailed-exitcode"] {
            assert!(ran.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let man = Desktag::new().args(["man"]).run().code(0);
    assert!(man.stdout.contains(".TH desktag 1"), "{}", man.stdout);
    assert!(man.stdout.contains("validate"), "{}", man.stdout);

    let dir = tempfile::tempdir().unwrap();
    Desktag::new()
        .args(["man", "--dir"])
        .arg_path(dir.path())
        .run()
        .code(0);
    let plan = std::fs::read_to_string(dir.path().join("desktag-plan.1")).unwrap();
    assert!(plan.contains("detailed\\-exitcode"), "{plan}");

    // The directory is created, parents included; the main page has the two extra sections.
    let missing = dir.path().join("share/man/man1");
    Desktag::new()
        .args(["man", "--dir"])
        .arg_path(&missing)
        .run()
        .code(0);
    let main = std::fs::read_to_string(missing.join("desktag.1")).unwrap();
    for section in [".SH \"ENVIRONMENT\"", ".SH \"EXIT STATUS\"", "DESKTAG_LOG"] {
        assert!(main.contains(section), "{section}: {main}");
        assert!(man.stdout.contains(section), "{section}");
    }
    // A file where the directory should be is an error.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    Desktag::new()
        .args(["man", "--dir"])
        .arg_path(&file)
        .run()
        .code(1);
}
