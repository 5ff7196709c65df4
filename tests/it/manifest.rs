//! Manifest loading end to end: the shipped examples, directory walks, and the rendered
//! diagnostics of a fixture full of mistakes (insta snapshots).

use std::path::PathBuf;

use desktag::manifest::{load, LoadOptions};

fn render(diagnostics: &[desktag::diagnostic::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn shipped_examples_load_without_problems() {
    let loaded = load(
        &[PathBuf::from("examples/manifests")],
        &LoadOptions::default(),
    );
    assert_eq!(render(&loaded.diagnostics), "");
}

#[test]
fn shipped_examples_become_documents_in_file_order() {
    let loaded = load(
        &[PathBuf::from("examples/manifests")],
        &LoadOptions::default(),
    );
    let files: Vec<String> = loaded
        .manifest
        .documents
        .iter()
        .map(|d| d.location.to_string())
        .collect();
    assert_eq!(
        files,
        [
            "examples/manifests/finance.yaml:2:1",
            "examples/manifests/teams/engineering.yaml:2:1",
            "examples/manifests/teams/operations.yaml:2:1",
            "examples/manifests/teams/operations.yaml:14:1",
        ]
    );
}

#[test]
fn directory_walk_is_sorted_recursive_and_skips_hidden_entries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "version: 1\ndesktops: []\n").unwrap();
    };
    for rel in [
        "b.yaml",
        "a.yml",
        "c/z.yaml",
        "c/a.YAML",
        "ab/x.yaml",
        ".hidden.yaml",
        ".git/config.yaml",
        "c/.cache/deep.yaml",
        "notes.txt",
        "d/readme.md",
    ] {
        write(rel);
    }
    let loaded = load(
        &[root.to_path_buf(), root.join("notes.txt")],
        &LoadOptions::default(),
    );
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        render(&loaded.diagnostics)
    );
    let found: Vec<String> = loaded
        .manifest
        .documents
        .iter()
        .map(|d| {
            d.location
                .file
                .strip_prefix(&*root.display().to_string())
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .collect();
    // Sorted by file name at each level, directories in place; an explicitly named file is read
    // whatever its extension.
    assert_eq!(
        found,
        [
            "a.yml",
            "ab/x.yaml",
            "b.yaml",
            "c/a.YAML",
            "c/z.yaml",
            "notes.txt"
        ]
    );
}

#[test]
fn missing_paths_and_empty_directories_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let empty = dir.path().join("empty");
    let loaded = load(
        &[
            PathBuf::from("tests/fixtures/manifests/nope.yaml"),
            empty.clone(),
        ],
        &LoadOptions::default(),
    );
    let codes: Vec<(&str, String)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.location.as_ref().unwrap().file.to_string()))
        .collect();
    assert_eq!(
        codes,
        [
            ("no-manifests", empty.display().to_string()),
            ("io", "tests/fixtures/manifests/nope.yaml".to_string()),
        ]
    );
    assert!(loaded.has_errors());
}

fn invalid_fixtures() -> Vec<desktag::diagnostic::Diagnostic> {
    let loaded = load(
        &[PathBuf::from("tests/fixtures/manifests/invalid")],
        &LoadOptions::default(),
    );
    // The valid file among the broken ones is still read.
    assert!(loaded
        .manifest
        .documents
        .iter()
        .any(|d| d.location.file.ends_with("valid.yaml")));
    loaded.diagnostics
}

#[test]
fn every_mistake_is_reported_with_location_and_help() {
    let diagnostics = invalid_fixtures();
    assert!(diagnostics
        .iter()
        .all(|d| d.location.is_some() && d.help.is_some()));
    insta::assert_snapshot!(render(&diagnostics));
}

#[test]
fn every_mistake_is_reported_as_json() {
    let diagnostics = invalid_fixtures();
    insta::assert_snapshot!(serde_json::to_string_pretty(&diagnostics).unwrap());
}
