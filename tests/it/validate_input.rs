//! `desktag validate` on hostile or careless input: bytes the YAML reader would not consume, files
//! that yield nothing, YAML tags, mistakes reported once, paths that do not exist.

use crate::support::{manifests, path_str, Desktag};

#[test]
fn a_nul_byte_fails_validation_at_its_position_instead_of_ending_the_file() {
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: A\n    tags: {k1: a}\n\0\n  - name: B\n    tags: 5\n",
    )]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    let file = dir.path().join("m.yaml");
    assert!(
        ran.stderr.contains(&format!(
            "{}:5:1: error[control-char]: the file contains the control character U+0000",
            file.display()
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.contains("Invalid: 1 error"), "{}", ran.stdout);
}

#[test]
fn a_file_of_zeros_or_of_nothing_is_never_valid_silence() {
    let dir = manifests(&[("zeros.yaml", &"\0".repeat(4096))]);
    Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    let dir = manifests(&[("empty.yaml", "# nothing yet\n")]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(0);
    assert!(
        ran.stderr.contains("warning[no-documents]: `")
            && ran.stderr.contains("holds no manifest document"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.contains("Valid: 0 documents"), "{}", ran.stdout);
}

#[test]
fn yaml_tags_fail_validation() {
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: A\n    tags: {k1: !!binary aGk}\n",
    )]);
    let ran = Desktag::new()
        .args(["validate", path_str(dir.path())])
        .run()
        .code(1);
    assert!(
        ran.stderr.contains(":4:16: error[yaml-tag]"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_key_in_tags_and_absent_is_reported_once() {
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: A\n    tags: {env: dev}\n    absent: [env]\n",
    )]);
    let ran = Desktag::new()
        .args(["validate", "--format", "json", path_str(dir.path())])
        .run()
        .code(1);
    let codes: Vec<String> = ran.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["tags-absent-overlap"]);
}

#[test]
fn a_missing_path_is_named_without_a_made_up_position() {
    let ran = Desktag::new()
        .args(["validate", "no/such/manifests"])
        .run()
        .code(1);
    assert!(
        ran.stderr
            .contains("no/such/manifests: error[io]: `no/such/manifests` does not exist"),
        "{}",
        ran.stderr
    );
}
