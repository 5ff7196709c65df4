//! Manifest loading end to end: the shipped examples, directory walks, and the rendered
//! diagnostics of a fixture full of mistakes (insta snapshots).

use std::path::PathBuf;

use desktag_core::manifest::{load, LoadOptions};

fn render(diagnostics: &[desktag_core::diagnostic::Diagnostic]) -> String {
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
            "examples/manifests/policy.yaml:4:1",
            "examples/manifests/teams/engineering.yaml:2:1",
            "examples/manifests/teams/operations.yaml:2:1",
            "examples/manifests/teams/operations.yaml:15:1",
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
        .map(|d| {
            (
                d.code.as_str(),
                d.location.as_ref().unwrap().file.to_string(),
            )
        })
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

fn invalid_fixtures() -> Vec<desktag_core::diagnostic::Diagnostic> {
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

/// Fuzz-style properties: whatever the text, `load_str` returns (never panics), and every
/// problem it reports is located inside the text.
mod never_panics {
    use desktag_core::manifest::{load_str, LoadOptions};
    use proptest::prelude::*;
    use proptest::sample::Index;

    const VALID: &str = "# a valid manifest to mutate\nversion: 1\nproject_id: 0123456789abcdef\ndefaults:\n  owner: finance\n  cost-center: \"CC-1001\"\nignore_keys: [\"ops-*\", 'tmp-?']\ndesktops:\n  - id: 8e07d3e9-454e-4fc9-ba56-c631d05c4712\n    tags:\n      env: dev\n      note: >-\n        folded\n        text\n    absent: [legacy-owner]\n  - name: \"FIN-LAP-*\"\n    tags: {form-factor: laptop, port: 8080}\n---\nversion: 1\ndesktops:\n  - name: OPS-1\n    absent:\n      - x\n";

    const TOKENS: &[&str] = &[
        "version",
        "desktops",
        "tags",
        "absent",
        "id",
        "name",
        "defaults",
        "ignore_keys",
        "project_id",
        ":",
        ": ",
        " ",
        "  ",
        "\n",
        "- ",
        "-",
        "[",
        "]",
        "{",
        "}",
        ",",
        "\"",
        "'",
        "#",
        "---",
        "...",
        "&a",
        "*a",
        "!!str",
        "!!null",
        "~",
        "|",
        ">-",
        "?",
        "\t",
        "1",
        "env",
        "_sys_x",
        "a/b",
        "FIN-*",
        "[*",
        "\u{feff}",
        "é",
        "\r\n",
        "%YAML 1.2",
        "<<",
    ];

    fn check(text: &str) -> Result<(), TestCaseError> {
        let loaded = load_str("fuzz.yaml", text, &LoadOptions::default());
        let lines = text.lines().count().max(1) as u32;
        for d in &loaded.diagnostics {
            let location = d.location.as_ref();
            prop_assert!(location.is_some(), "unlocated: {d}");
            let mut all = vec![location.unwrap()];
            all.extend(d.notes.iter().map(|n| &n.location));
            for l in all {
                prop_assert!(
                    l.line >= 1 && l.line <= lines && l.column >= 1,
                    "{d}\nis outside the {lines} line(s) of {text:?}"
                );
            }
            prop_assert!(d.help.is_some(), "no help: {d}");
        }
        Ok(())
    }

    fn mutate(lines: &mut Vec<String>, op: u8, at: &Index, ch: char) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = at.index(lines.len());
        match op % 5 {
            0 => {
                lines.remove(i);
            }
            1 => {
                let line = lines[i].clone();
                lines.insert(i, line);
            }
            2 => {
                let j = (i + 1) % lines.len();
                lines.swap(i, j);
            }
            3 => {
                let line = &mut lines[i];
                let cut = at.index(line.chars().count() + 1);
                let byte = line.char_indices().nth(cut).map_or(line.len(), |(b, _)| b);
                line.insert(byte, ch);
            }
            _ => {
                let line = &mut lines[i];
                let keep = at.index(line.chars().count() + 1);
                *line = line.chars().take(keep).collect();
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            check(&String::from_utf8_lossy(&bytes))?;
        }

        #[test]
        fn yaml_token_soup(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..120)) {
            check(&tokens.concat())?;
        }

        #[test]
        fn mutations_of_a_valid_manifest(
            ops in proptest::collection::vec(
                (any::<u8>(), any::<Index>(), prop_oneof![
                    Just(':'), Just('-'), Just(' '), Just('\t'), Just('"'), Just('['), Just('{'),
                    Just('*'), Just('&'), Just('#'), Just('\n'), any::<char>(),
                ]),
                1..8,
            )
        ) {
            let mut lines: Vec<String> = VALID.lines().map(str::to_string).collect();
            for (op, at, ch) in &ops {
                mutate(&mut lines, *op, at, *ch);
            }
            check(&(lines.join("\n") + "\n"))?;
        }
    }

    /// Control characters YAML does not allow, NUL first.
    fn control_char() -> impl Strategy<Value = char> {
        prop_oneof![
            Just('\0'),
            (1u32..0x20)
                .prop_filter("allowed in YAML", |c| ![0x09, 0x0a, 0x0d].contains(c))
                .prop_map(|c| char::from_u32(c).unwrap()),
            Just('\u{7f}'),
            (0x80u32..0xa0)
                .prop_filter("NEL is allowed", |c| *c != 0x85)
                .prop_map(|c| char::from_u32(c).unwrap()),
            Just('\u{fffe}'),
            Just('\u{ffff}'),
        ]
    }

    /// Inserts `ch` before the character at `at` (or at the end).
    fn inject(text: &str, at: &Index, ch: char) -> String {
        let chars = text.chars().count();
        let cut = at.index(chars + 1);
        let byte = text.char_indices().nth(cut).map_or(text.len(), |(b, _)| b);
        let mut out = text.to_string();
        out.insert(byte, ch);
        out
    }

    /// A text with injected bytes fails with located errors, or reads exactly as the text
    /// without them: never a silent subset.
    fn injected(clean: &str, dirty: &str) -> Result<(), TestCaseError> {
        check(dirty)?;
        let got = load_str("fuzz.yaml", dirty, &LoadOptions::default());
        if !got.has_errors() {
            let want = load_str("fuzz.yaml", clean, &LoadOptions::default());
            prop_assert_eq!(
                &got.manifest,
                &want.manifest,
                "{:?} read differently from {:?}",
                dirty,
                clean
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn control_characters_anywhere_are_located_errors(
            injections in proptest::collection::vec((any::<Index>(), control_char()), 1..4)
        ) {
            let mut dirty = VALID.to_string();
            for (at, ch) in &injections {
                dirty = inject(&dirty, at, *ch);
            }
            injected(VALID, &dirty)?;
            let got = load_str("fuzz.yaml", &dirty, &LoadOptions::default());
            prop_assert!(got.has_errors(), "{:?} was accepted", dirty);
        }

        #[test]
        fn a_nul_in_a_mutated_manifest_never_hides_what_follows(
            ops in proptest::collection::vec((any::<u8>(), any::<Index>(), any::<char>()), 0..4),
            at in any::<Index>(),
        ) {
            let mut lines: Vec<String> = VALID.lines().map(str::to_string).collect();
            for (op, at, ch) in &ops {
                mutate(&mut lines, *op, at, *ch);
            }
            let clean = lines.join("\n") + "\n";
            injected(&clean, &inject(&clean, &at, '\0'))?;
        }
    }

    #[test]
    fn the_unmutated_manifest_is_valid() {
        let loaded = load_str("fuzz.yaml", VALID, &LoadOptions::default());
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        assert_eq!(loaded.manifest.documents.len(), 2);
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let text = format!(
            "version: 1\nextra: {}{}\n",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        let loaded = load_str("deep.yaml", &text, &LoadOptions::default());
        assert!(loaded.has_errors());
    }
}
