//! Unit tests of manifest validation: each rule, its location and its message, on small texts.

use super::model::{Document, Selector};
use super::{load_str, LoadOptions};
use crate::diagnostic::{Diagnostic, Location};

/// Diagnostics of `text` as `line:col code: message` lines (sorted).
fn problems(text: &str) -> Vec<String> {
    load_str("m.yaml", text, &LoadOptions::default())
        .diagnostics
        .iter()
        .map(|d| {
            let l = d.location.as_ref().expect("every problem is located");
            format!("{}:{} {}: {}", l.line, l.column, d.code, d.message)
        })
        .collect()
}

fn one(text: &str) -> Diagnostic {
    let loaded = load_str("m.yaml", text, &LoadOptions::default());
    assert_eq!(loaded.diagnostics.len(), 1, "{:#?}", loaded.diagnostics);
    loaded.diagnostics.into_iter().next().unwrap()
}

fn doc(text: &str) -> Document {
    let loaded = load_str("m.yaml", text, &LoadOptions::default());
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.manifest.documents.len(), 1);
    loaded.manifest.documents.into_iter().next().unwrap()
}

const HEAD: &str = "version: 1\ndesktops:\n";

#[test]
fn valid_document_becomes_the_model_with_locations() {
    let d = doc("version: 1\nproject_id: p_1-x\ndefaults:\n  owner: fin\nignore_keys: [\"ops-*\"]\ndesktops:\n  - id: abc\n    tags: {env: dev}\n    absent: [legacy]\n  - name: \"FIN-*\"\n    tags:\n      port: 8080\n      flag: true\n      empty: \"\"\n");
    assert_eq!(d.location, Location::new("m.yaml", 1, 1));
    assert_eq!(d.project_id.as_ref().unwrap().value, "p_1-x");
    assert_eq!(d.defaults["owner"].value.as_str(), "fin");
    assert_eq!(d.defaults["owner"].location, Location::new("m.yaml", 4, 3));
    assert_eq!(d.ignore_keys[0].value, "ops-*");
    assert_eq!(d.desktops.len(), 2);
    let e = &d.desktops[0];
    assert_eq!(e.selector, Selector::Id("abc".into()));
    assert_eq!(e.location, Location::new("m.yaml", 7, 5));
    assert_eq!(e.tags["env"].value.as_str(), "dev");
    assert_eq!(e.absent["legacy"], Location::new("m.yaml", 9, 14));
    let g = &d.desktops[1];
    assert_eq!(g.selector, Selector::Glob("FIN-*".into()));
    assert_eq!(g.tags["port"].value.as_str(), "8080");
    assert_eq!(g.tags["flag"].value.as_str(), "true");
    assert_eq!(g.tags["empty"].value.as_str(), "");
}

#[test]
fn multiline_and_quoted_scalars_are_read_as_text() {
    let d = doc("version: 1\ndesktops:\n  - name: 'FIN 01'\n    tags:\n      note: >-\n        two\n        words\n      quoted: \"a:b\"\n");
    assert_eq!(d.desktops[0].selector, Selector::Name("FIN 01".into()));
    assert_eq!(d.desktops[0].tags["note"].value.as_str(), "two words");
    assert_eq!(d.desktops[0].tags["quoted"].value.as_str(), "a:b");
    // A literal block keeps its newline, which no tag value may contain.
    let d = one("version: 1\ndesktops:\n  - name: x\n    tags:\n      note: |\n        line\n");
    assert_eq!(d.code, "tag-charset");
}

#[test]
fn several_documents_are_read_and_empty_ones_skipped() {
    let loaded = load_str(
        "m.yaml",
        "# only a comment\n---\nversion: 1\ndesktops: []\n---\n# nothing\n---\nversion: 1\ndesktops: []\n",
        &LoadOptions::default(),
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let lines: Vec<u32> = loaded
        .manifest
        .documents
        .iter()
        .map(|d| d.location.line)
        .collect();
    assert_eq!(lines, vec![3, 8]);
}

#[test]
fn a_file_without_documents_says_so() {
    for text in ["", "# only a comment\n", "---\n# nothing\n...\n"] {
        assert_eq!(
            problems(text),
            vec!["1:1 no-documents: `m.yaml` holds no manifest document, so it changes nothing"],
            "{text:?}"
        );
        assert!(!load_str("m.yaml", text, &LoadOptions::default()).has_errors());
    }
}

#[test]
fn version_is_required_and_must_be_one() {
    assert_eq!(
        problems("desktops: []\n"),
        vec!["1:1 missing-field: manifest document has no `version`"]
    );
    assert_eq!(
        problems("version: 2\ndesktops: []\n"),
        vec!["1:10 version: unsupported manifest version `2`"]
    );
    let d = one("version: \"1\"\ndesktops: []\n");
    assert_eq!(d.help.as_deref(), Some("write `version: 1` without quotes"));
    assert_eq!(
        problems("version:\ndesktops: []\n"),
        vec!["1:1 null-value: `version` has no value"]
    );
    // A document with a bad version is reported but not handed on.
    assert!(load_str(
        "m.yaml",
        "version: 2\ndesktops: []\n",
        &LoadOptions::default()
    )
    .manifest
    .documents
    .is_empty());
}

#[test]
fn project_id_must_be_letters_digits_dash_underscore() {
    assert_eq!(
        problems("version: 1\nproject_id: ab.c\ndesktops: []\n"),
        vec!["2:13 project-id: project id `ab.c` contains `.`, which is not allowed"]
    );
    assert_eq!(
        problems("version: 1\nproject_id: ''\ndesktops: []\n"),
        vec!["2:13 project-id: `project_id` is empty"]
    );
    assert_eq!(
        problems("version: 1\nproject_id:\ndesktops: []\n"),
        vec!["2:1 null-value: `project_id` has no value"]
    );
    assert_eq!(
        doc("version: 1\nproject_id: 0123\ndesktops: []\n")
            .project_id
            .unwrap()
            .value,
        "0123"
    );
}

#[test]
fn region_is_a_region_id_beside_project_id_and_one_per_project() {
    let d = doc("version: 1\nproject_id: p1\nregion: cn-north-4\ndesktops: []\n");
    let region = d.region.unwrap();
    assert_eq!(region.value, "cn-north-4");
    assert_eq!((region.location.line, region.location.column), (3, 9));
    assert_eq!(
        problems("version: 1\nproject_id: p1\nregion: CN-North-4\ndesktops: []\n"),
        vec!["3:9 region: `CN-North-4` is not a region id"]
    );
    assert_eq!(
        problems("version: 1\nregion: cn-north-4\ndesktops: []\n"),
        vec![
            "2:1 region: `region` without `project_id`: a region says where a named project lives"
        ]
    );
    assert_eq!(
        problems("version: 1\nproject_id: p1\nregion:\ndesktops: []\n"),
        vec!["3:1 null-value: `region` has no value"]
    );
    // Two documents of one project in two regions: an error at the second, naming the first.
    let two = "version: 1\nproject_id: p1\nregion: cn-north-4\ndesktops: []\n---\n\
               version: 1\nproject_id: p1\nregion: cn-east-3\ndesktops: []\n---\n\
               version: 1\nproject_id: p2\nregion: cn-east-3\ndesktops: []\n---\n\
               version: 1\nproject_id: p1\nregion: cn-north-4\ndesktops: []\n";
    assert_eq!(
        problems(two),
        vec!["8:9 region: project `p1` is given region `cn-east-3` here and region `cn-north-4` at m.yaml:3:9"]
    );
}

#[test]
fn a_manifest_splits_by_project_with_the_unnamed_documents_in_each() {
    let text = "version: 1\nproject_id: p2\nregion: cn-east-3\ndesktops: []\n---\n\
                version: 1\ndesktops: []\n---\n\
                version: 1\nproject_id: p1\ndesktops: []\n";
    let manifest = load_str("m.yaml", text, &LoadOptions::default()).manifest;
    assert_eq!(
        manifest.projects().into_iter().collect::<Vec<_>>(),
        ["p1", "p2"]
    );
    assert_eq!(manifest.region_of("p2"), Some("cn-east-3"));
    assert_eq!(manifest.region_of("p1"), None);
    let lines =
        |m: &super::Manifest| -> Vec<u32> { m.documents.iter().map(|d| d.location.line).collect() };
    let split = manifest.clone().by_project();
    assert_eq!(split.len(), 2);
    assert_eq!(split[0].0.as_deref(), Some("p1"));
    // Load order is kept: the unnamed document (line 6) before p1's (line 9).
    assert_eq!(lines(&split[0].1), [6, 9]);
    assert_eq!(split[1].0.as_deref(), Some("p2"));
    assert_eq!(lines(&split[1].1), [1, 6]);
    let mut unnamed = manifest.clone();
    unnamed.retain_project(None);
    assert_eq!(lines(&unnamed), [6]);
    // No project named: the whole manifest, as it is.
    let none = load_str(
        "m.yaml",
        "version: 1\ndesktops: []\n",
        &LoadOptions::default(),
    );
    assert_eq!(
        none.manifest.clone().by_project(),
        vec![(None, none.manifest)]
    );
}

#[test]
fn unknown_fields_are_errors_with_suggestions() {
    let d = one("version: 1\ndesktops:\n  - name: x\n    tag:\n      env: dev\n");
    assert_eq!(d.message, "unknown field `tag` in a desktop entry");
    assert_eq!(d.location, Some(Location::new("m.yaml", 4, 5)));
    assert_eq!(d.help.as_deref(), Some("did you mean `tags`?"));
    let d = one("version: 1\ndesktop: []\n");
    assert_eq!(d.help.as_deref(), Some("did you mean `desktops`?"));
    let d = problems("version: 1\ntags: {a: b}\ndesktops: []\n");
    assert_eq!(
        d,
        vec!["2:1 unknown-field: unknown field `tags` in a manifest document"]
    );
    let d = one("version: 1\ndesktops: []\ncolour: red\n");
    assert!(d
        .help
        .unwrap()
        .starts_with("the fields of a manifest document are `version`"));
}

#[test]
fn entry_needs_exactly_one_selector() {
    let d = one(&format!(
        "{HEAD}  - id: a\n    name: b\n    tags: {{x: y}}\n"
    ));
    assert_eq!(d.code, "selector");
    assert_eq!(d.message, "desktop entry has both `id` and `name`");
    assert_eq!(d.location, Some(Location::new("m.yaml", 3, 5)));
    assert_eq!(d.notes[0].location, Location::new("m.yaml", 4, 5));
    assert_eq!(
        problems(&format!("{HEAD}  - tags: {{x: y}}\n")),
        vec!["3:5 selector: desktop entry has no `id` or `name`"]
    );
}

#[test]
fn entry_needs_tags_or_absent() {
    assert_eq!(
        problems(&format!("{HEAD}  - name: b\n")),
        vec!["3:5 no-tags: the entry for name `b` has no `tags` and no `absent`"]
    );
    assert_eq!(
        problems(&format!("{HEAD}  - name: b\n    tags: {{}}\n")).len(),
        1
    );
    assert!(problems(&format!("{HEAD}  - name: b\n    absent: [x]\n")).is_empty());
}

#[test]
fn empty_entries_are_errors_at_their_dash() {
    assert_eq!(
        problems(&format!(
            "{HEAD}  -\n  - {{}}\n  - name: b\n    tags: {{a: b}}\n"
        )),
        vec![
            "3:3 empty-entry: desktop entry is empty",
            "4:5 empty-entry: desktop entry is empty"
        ]
    );
}

#[test]
fn tag_keys_and_values_follow_the_tag_rules() {
    let got = problems(&format!(
        "{HEAD}  - name: b\n    tags:\n      a/b: x\n      _sys_x: y\n      ok: {}\n      fine: \"v=1\"\n",
        "v".repeat(44)
    ));
    assert_eq!(
        got,
        vec![
            "5:7 tag-charset: `a/b`: tag key contains `/` at character 2, which is not allowed",
            "6:7 system-key: `_sys_x`: tag key starts with `_sys_`, which is reserved for system tags",
            "7:11 value-length: value of tag `ok`: tag value is 44 characters long; the limit is 43",
            "8:13 tag-charset: value of tag `fine`: tag value contains `=` at character 2, which is not allowed",
        ]
    );
    let d = one(&format!("{HEAD}  - name: b\n    absent: [\"a,b\"]\n"));
    assert_eq!(
        d.message,
        "`a,b` in `absent`: tag key contains `,` at character 2, which is not allowed"
    );
    assert!(d.help.unwrap().contains("forbidden"));
}

#[test]
fn null_tag_value_says_how_to_write_an_empty_one() {
    for value in ["", " ~", " null"] {
        let d = one(&format!(
            "{HEAD}  - name: b\n    tags:\n      env:{value}\n      x: y\n"
        ));
        assert_eq!(d.code, "null-value");
        assert_eq!(d.message, "tag `env` has no value");
        assert_eq!(d.location, Some(Location::new("m.yaml", 5, 7)));
        assert_eq!(
            d.help.as_deref(),
            Some("write `env: \"\"` for an empty value, or give it a value")
        );
    }
}

#[test]
fn collections_where_text_belongs_are_type_errors() {
    assert_eq!(
        problems(&format!(
            "{HEAD}  - name: b\n    tags:\n      env: [a, b]\n      o: {{x: 1}}\n"
        )),
        vec![
            "5:12 type: expected a text value for tag `env`, found a list",
            "6:10 type: expected a text value for tag `o`, found a mapping",
        ]
    );
    assert_eq!(
        problems(&format!("{HEAD}  - name: b\n    tags: [a]\n")),
        vec!["4:11 type: expected a mapping of `key: value` tags for `tags`, found a list"]
    );
    assert_eq!(
        problems(&format!("{HEAD}  - name: b\n    absent: legacy\n")),
        vec!["4:13 type: expected a list for `absent`, found text `legacy`"]
    );
    assert_eq!(problems("[1]\n"), vec!["1:1 type: expected a manifest document (a mapping starting with `version: 1`), found a list"]);
    assert_eq!(
        problems("version: 1\ndesktops: {}\n"),
        vec!["2:11 type: expected a list of desktop entries for `desktops`, found a mapping"]
    );
}

#[test]
fn duplicate_keys_point_at_the_first_occurrence() {
    let got = load_str(
        "m.yaml",
        &format!("version: 1\n{}  - name: b\n    tags:\n      env: a\n      env: b\n    name: c\nversion: 1\n", "desktops:\n"),
        &LoadOptions::default(),
    )
    .diagnostics;
    let rendered: Vec<String> = got.iter().map(|d| d.to_string()).collect();
    assert_eq!(rendered.len(), 3, "{rendered:#?}");
    assert!(rendered[0].starts_with("m.yaml:6:7: error[duplicate-key]: `env` is written twice in the same mapping\n  note: m.yaml:5:7: `env` is first written here"), "{}", rendered[0]);
    assert!(rendered[1].starts_with("m.yaml:7:5: error[duplicate-key]: `name`"));
    assert!(rendered[2].starts_with("m.yaml:8:1: error[duplicate-key]: `version`"));
    // A duplicate of a rejected key is still a duplicate.
    let got = problems(&format!(
        "{HEAD}  - name: b\n    tags:\n      a/b: x\n      a/b: y\n"
    ));
    assert_eq!(
        got[1],
        "6:7 duplicate-key: `a/b` is written twice in the same mapping"
    );
    let got = problems(&format!("{HEAD}  - name: b\n    absent: [x, x]\n"));
    assert_eq!(
        got,
        vec!["4:17 duplicate-key: `x` is listed twice in `absent`"]
    );
}

#[test]
fn the_same_key_in_tags_and_absent_is_an_error() {
    let d = one(&format!(
        "{HEAD}  - name: b\n    absent: [env]\n    tags: {{env: dev}}\n"
    ));
    assert_eq!(d.code, "tags-absent-overlap");
    assert_eq!(d.location, Some(Location::new("m.yaml", 4, 14)));
    assert_eq!(d.notes[0].location, Location::new("m.yaml", 5, 12));
}

#[test]
fn defaults_and_tags_together_may_not_exceed_the_cap() {
    let defaults: String = (0..4).map(|i| format!("  d{i}: v\n")).collect();
    let tags: String = (0..8).map(|i| format!("      t{i}: v\n")).collect();
    let text = format!(
        "version: 1\ndefaults:\n{defaults}desktops:\n  - name: b\n    tags:\n{tags}      d0: own\n"
    );
    let d = one(&text);
    assert_eq!(d.code, "tag-cap");
    assert_eq!(
        d.message,
        "the entry for name `b` would carry 12 tags (4 from `defaults`, 9 in `tags`); a desktop may carry at most 10"
    );
    assert_eq!(d.location, Some(Location::new("m.yaml", 8, 5)));
    assert!(d.help.unwrap().starts_with("remove 2 tag(s)"));
    // A higher limit accepts it.
    let loaded = load_str(
        "m.yaml",
        &text,
        &LoadOptions {
            max_tags: 12,
            ..LoadOptions::default()
        },
    );
    assert!(loaded.diagnostics.is_empty());
    // Defaults over the cap on their own are reported once, at `defaults`.
    let many: String = (0..11).map(|i| format!("  d{i}: v\n")).collect();
    let got = problems(&format!("version: 1\ndefaults:\n{many}desktops:\n  - name: a\n    tags: {{x: y}}\n  - name: b\n    tags: {{x: y}}\n"));
    assert_eq!(
        got,
        vec!["2:1 tag-cap: `defaults` sets 11 tags; a desktop may carry at most 10"]
    );
}

#[test]
fn globs_must_compile() {
    // In a name glob only `*` and `?` are special, so brackets are literal and always valid.
    assert_eq!(
        problems(&format!("{HEAD}  - name: \"FIN-[*\"\n    tags: {{a: b}}\n")),
        Vec::<String>::new()
    );
    let got = problems("version: 1\nignore_keys: [\"ops-{a\", ok-*]\ndesktops: []\n");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("2:15 invalid-glob: key glob `ops-{a` is not a valid glob"),
        "{got:?}"
    );
    // A name with brackets but no `*`/`?` is an exact name, not a glob.
    let d = doc(&format!("{HEAD}  - name: \"FIN-[1\"\n    tags: {{a: b}}\n"));
    assert_eq!(d.desktops[0].selector, Selector::Name("FIN-[1".into()));
}

#[test]
fn aliases_are_rejected_and_anchors_allowed() {
    let got = problems(&format!("{HEAD}  - name: &n b\n    tags:\n      x: *n\n"));
    assert_eq!(
        got,
        vec!["5:10 alias: YAML aliases (`*name`) are not supported in manifests"]
    );
}

#[test]
fn syntax_error_is_reported_once_and_earlier_documents_kept() {
    let text =
        "version: 1\ndesktops: []\n---\nversion: 1\ncolour: x\ndesktops:\n  - name: \"open\n";
    let loaded = load_str("m.yaml", text, &LoadOptions::default());
    assert_eq!(loaded.manifest.documents.len(), 1);
    let got: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(got, vec!["yaml-syntax"], "{:#?}", loaded.diagnostics);
    let d = &loaded.diagnostics[0];
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    assert_eq!(d.location.as_ref().unwrap().line, 7);
}

#[test]
fn problems_of_all_entries_are_collected_in_one_run() {
    let got = problems(&format!(
        "{HEAD}  - name: a\n    tgs: {{}}\n  - id: b\n    tags: {{k: \"x/y\"}}\n  - name: c\n    tags:\n      k:\n"
    ));
    assert_eq!(got.len(), 3, "{got:#?}");
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_are_accepted() {
    let d =
        doc("\u{feff}version: 1\r\ndesktops:\r\n  - name: b\r\n    tags:\r\n      env: dev\r\n");
    assert_eq!(
        d.desktops[0].tags["env"].location,
        Location::new("m.yaml", 5, 7)
    );
    let got = problems("version: 1\r\ndesktops:\r\n  - name: b\r\n    tags:\r\n      env:\r\n");
    assert_eq!(got, vec!["5:7 null-value: tag `env` has no value"]);
}

#[test]
fn tab_indentation_is_a_located_syntax_error() {
    let got = problems("version: 1\ndesktops:\n\t- name: b\n");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("3:2 yaml-syntax: invalid YAML: tabs disallowed"),
        "{got:?}"
    );
}

#[test]
fn document_without_desktops_is_a_warning() {
    let loaded = load_str("m.yaml", "version: 1\n", &LoadOptions::default());
    assert!(!loaded.has_errors());
    assert_eq!(loaded.diagnostics[0].code, "no-desktops");
    assert_eq!(loaded.manifest.documents.len(), 1);
}

#[test]
fn a_nul_byte_is_a_located_error_not_the_end_of_the_file() {
    // Before, everything after the NUL was silently ignored and this validated as one entry.
    let text =
        "version: 1\ndesktops:\n  - name: A\n    tags: {k1: a}\n\0\n  - name: B\n    tags: 5\n";
    let loaded = load_str("m.yaml", text, &LoadOptions::default());
    assert!(loaded.has_errors());
    assert!(loaded.manifest.documents.is_empty());
    assert_eq!(
        problems(text),
        vec!["5:1 control-char: the file contains the control character U+0000, which YAML does not allow"]
    );
    assert_eq!(
        problems("\0\0\0"),
        vec!["1:1 control-char: the file contains the control character U+0000 (and 2 more such characters), which YAML does not allow"]
    );
}

#[test]
fn other_control_characters_are_located_errors_wherever_they_are() {
    for (text, at) in [
        ("version: 1\n# a comment \u{1b}[2J\ndesktops: []\n", "2:13"),
        ("version: 1\u{7f}\ndesktops: []\n", "1:11"),
        ("version: 1\ndesktops: []\n\u{85}\u{9b}", "3:2"),
    ] {
        let got = problems(text);
        assert_eq!(got.len(), 1, "{text:?}: {got:?}");
        assert!(
            got[0].starts_with(&format!("{at} control-char:")),
            "{got:?}"
        );
    }
    // Tab, CR, LF and NEL are allowed where YAML allows them.
    assert!(problems("version: 1\r\ndesktops: []\r\n# a\tb \u{85}\n").is_empty());
}

#[test]
fn yaml_tags_are_rejected_where_they_are_written() {
    let got = problems(&format!(
        "{HEAD}  - name: !!str b\n    tags:\n      n: !!int 5\n      b: !!binary aGk=\n      c: !custom {{x: y}}\n    absent: !!seq [x]\n"
    ));
    assert_eq!(
        got,
        vec![
            "3:11 yaml-tag: YAML tags (`!!str`) are not supported in manifests",
            "5:10 yaml-tag: YAML tags (`!!int`) are not supported in manifests",
            "6:10 yaml-tag: YAML tags (`!!binary`) are not supported in manifests",
            "6:19 tag-charset: value of tag `b`: tag value contains `=` at character 4, which is not allowed",
            "7:10 yaml-tag: YAML tags (`!custom`) are not supported in manifests",
            "7:18 type: expected a text value for tag `c`, found a mapping",
            "8:13 yaml-tag: YAML tags (`!!seq`) are not supported in manifests",
        ]
    );
    // Inside a value that is skipped as a whole, and on the document itself.
    let got = problems("--- !doc\nversion: 1\nextra: [!x 1]\ndesktops: []\n");
    assert!(
        got.iter().filter(|p| p.contains("yaml-tag")).count() == 2,
        "{got:?}"
    );
}

#[test]
fn keys_with_combining_marks_are_accepted() {
    let d = doc(&format!(
        "{HEAD}  - name: b\n    tags:\n      क्षेत्र: उत्तर\n      \"caf\u{e9}\": \"e\u{301}\"\n"
    ));
    assert_eq!(d.desktops[0].tags.len(), 2);
    // A combining accent where a precomposed letter exists is accepted, with a warning.
    let loaded = load_str(
        "m.yaml",
        &format!("{HEAD}  - name: b\n    tags:\n      \"cafe\u{301}\": x\n"),
        &LoadOptions::default(),
    );
    assert!(!loaded.has_errors());
    assert_eq!(loaded.manifest.documents[0].desktops[0].tags.len(), 1);
    assert_eq!(loaded.diagnostics[0].code, "not-nfc");
}

#[test]
fn a_project_id_longer_than_the_api_accepts_is_rejected() {
    let long = "a".repeat(65);
    assert_eq!(
        problems(&format!("version: 1\nproject_id: {long}\ndesktops: []\n")),
        vec![format!(
            "2:13 project-id: project id `{}…`: project id is 65 characters long; the limit is 64",
            "a".repeat(60)
        )]
    );
}

#[test]
fn the_overlap_of_tags_and_absent_is_not_handed_on_twice() {
    let loaded = load_str(
        "m.yaml",
        &format!("{HEAD}  - name: b\n    absent: [env, x]\n    tags: {{env: dev}}\n"),
        &LoadOptions::default(),
    );
    let entry = &loaded.manifest.documents[0].desktops[0];
    assert!(entry.tags.contains_key("env"));
    assert!(!entry.absent.contains_key("env") && entry.absent.contains_key("x"));
}

#[test]
fn the_end_of_file_check_accepts_every_ordinary_ending() {
    for text in [
        "version: 1\ndesktops: []",
        "version: 1\ndesktops: []\n   ",
        "version: 1\ndesktops: []\n# end",
        "version: 1\ndesktops: []\n...\n",
        "version: 1\ndesktops: []\n...\n# after\n",
        "version: 1\ndesktops: []\n\n\n\n",
        "version: 1\r\ndesktops: []\r\n\r\n",
        "version: 1\ndesktops: [] # é 部\n",
        "--- \nversion: 1\ndesktops: []\n--- \n",
    ] {
        let got = problems(text);
        assert!(
            got.iter().all(|p| !p.contains("yaml-syntax")),
            "{text:?}: {got:?}"
        );
    }
}

#[test]
fn protect_and_create_only_are_key_glob_lists_with_locations() {
    let d = doc("version: 1\nprotect: [\"billing-*\"]\ncreate_only:\n  - owner\ndesktops:\n  - name: A\n    tags: {owner: x}\n");
    assert_eq!(d.protect[0].value, "billing-*");
    assert_eq!(d.protect[0].location, Location::new("m.yaml", 2, 11));
    assert_eq!(d.create_only[0].value, "owner");
    assert_eq!(d.create_only[0].location, Location::new("m.yaml", 4, 5));
    let loaded = load_str(
        "m.yaml",
        "version: 1\nprotect: [\"ops-[a\"]\ncreate_only: owner\ndesktops: []\n",
        &LoadOptions::default(),
    );
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["invalid-glob", "type"], "{:#?}", loaded.diagnostics);
}

#[test]
fn priority_is_a_bounded_whole_number() {
    let d = doc("version: 1\ndesktops:\n  - name: \"FIN-*\"\n    priority: 10\n    tags: {a: b}\n");
    assert_eq!(d.desktops[0].priority, 10);
    for bad in ["1001", "\"5\"", "1.5", "high"] {
        let text = format!(
            "version: 1\ndesktops:\n  - name: A\n    priority: {bad}\n    tags: {{a: b}}\n"
        );
        let e = one(&text);
        assert_eq!(e.code, "type", "{bad}");
        assert_eq!(e.location, Some(Location::new("m.yaml", 4, 15)), "{bad}");
    }
}

#[test]
fn rename_maps_old_keys_to_new_ones_and_refuses_self_and_chained_renames() {
    let d = doc("version: 1\nrename: {Owner: owner, CostCenter: cost-center}\ndesktops:\n  - id: d1\n    tags: {a: b}\n");
    let pairs: Vec<(&str, &str)> = d
        .rename
        .iter()
        .map(|r| (r.from.value.as_str(), r.to.value.as_str()))
        .collect();
    assert_eq!(pairs, [("CostCenter", "cost-center"), ("Owner", "owner")]);
    assert_eq!(d.rename[1].from.location, Location::new("m.yaml", 2, 10));
    let e = one("version: 1\nrename: {a: a}\ndesktops:\n  - id: d1\n    tags: {x: y}\n");
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("rename", "`a` is renamed to itself")
    );
    let e = one("version: 1\nrename: {a: b, b: c}\ndesktops:\n  - id: d1\n    tags: {x: y}\n");
    assert_eq!(e.code, "rename");
    assert!(e.message.contains("itself renamed"), "{}", e.message);
    let e = one("version: 1\nrename: {a: [b]}\ndesktops:\n  - id: d1\n    tags: {x: y}\n");
    assert_eq!(e.code, "type");
}

#[test]
fn policy_enforce_is_block_or_warn() {
    let d = doc("version: 1\npolicy: {enforce: warn, required: [owner]}\ndesktops:\n  - id: d1\n    tags: {owner: a}\n");
    assert_eq!(
        d.policy.enforce.as_ref().map(|e| e.value),
        Some(crate::manifest::Enforce::Warn)
    );
    let e = one("version: 1\npolicy: {enforce: audit}\ndesktops:\n  - id: d1\n    tags: {a: b}\n");
    assert_eq!(e.code, "policy");
    assert_eq!(
        e.message,
        "`enforce` must be `block` or `warn`, not `audit`"
    );
}

#[test]
fn override_is_true_or_false_and_true_keeps_where_it_is_written() {
    let d = doc("version: 1\ndesktops:\n  - id: d1\n    override: true\n    tags: {a: b}\n  - id: d2\n    override: false\n    tags: {a: b}\n");
    assert_eq!(
        d.desktops[0].acknowledge,
        Some(Location::new("m.yaml", 4, 5))
    );
    assert_eq!(d.desktops[1].acknowledge, None);
    for bad in ["yes", "\"true\"", "1", "[true]"] {
        let text = format!(
            "version: 1\ndesktops:\n  - name: A\n    override: {bad}\n    tags: {{a: b}}\n"
        );
        let e = one(&text);
        assert_eq!(e.code, "type", "{bad}");
        assert_eq!(e.location, Some(Location::new("m.yaml", 4, 15)), "{bad}");
    }
}

#[test]
fn templated_values_are_checked_where_written() {
    let d = doc("version: 1\ndesktops:\n  - name: A\n    tags: {owner: \"${desktop.user_name}\", cc: \"CC-${env.DESKTAG_VAR_TEAM}\"}\n");
    assert_eq!(
        d.desktops[0].tags["owner"].value.as_str(),
        "${desktop.user_name}"
    );
    let e =
        one("version: 1\ndesktops:\n  - name: A\n    tags:\n      owner: \"x-${desktop.nmae}\"\n");
    assert_eq!(e.code, "template");
    // Column of the `$`: the value starts at column 14 with its quote.
    assert_eq!(e.location, Some(Location::new("m.yaml", 5, 17)));
    assert_eq!(
        e.message,
        "value of tag `owner`: unknown reference `${desktop.nmae}`"
    );
    assert_eq!(e.help.as_deref(), Some("did you mean `${desktop.name}`?"));
    for (bad, code) in [
        ("\"${desktop.id\"", "template"),
        ("\"5$\"", "template"),
        ("\"${env.HW_SECRET_KEY}\"", "template"),
        // The text around a reference follows the tag rules: `/` is forbidden.
        ("\"a/${desktop.id}\"", "tag-charset"),
    ] {
        let text = format!("version: 1\ndesktops:\n  - name: A\n    tags: {{k: {bad}}}\n");
        let e = one(&text);
        assert_eq!(e.code, code, "{bad}: {e}");
    }
}

#[test]
fn guardrail_globs_that_can_never_match_a_key_are_errors() {
    for (glob, why) in [
        ("\"billing-* \"", "whitespace"),
        ("\" billing\"", "whitespace"),
        ("\"bill\u{200b}ing\"", "at character 5"),
        ("\"\"", "it is empty"),
    ] {
        for field in ["protect", "create_only", "ignore_keys"] {
            let text = format!(
                "version: 1\n{field}: [{glob}]\ndesktops:\n  - name: A\n    tags: {{k: v}}\n"
            );
            let e = one(&text);
            assert_eq!(e.code, "invalid-glob", "{field} {glob}: {e:?}");
            assert!(
                e.message.contains("can never match a tag key"),
                "{}",
                e.message
            );
            assert!(
                e.message.contains(why) || format!("{e:?}").contains(why),
                "{why}: {}",
                e.message
            );
            assert_eq!(e.location.as_ref().map(|l| l.line), Some(2));
        }
    }
    // Wildcards, sets and alternatives stand for allowed characters.
    doc("version: 1\nprotect: [\"bill*\", \"[ab]-?\", \"{x,y}-z\", \"café-*\"]\ndesktops:\n  - name: A\n    tags: {k: v}\n");
}

#[test]
fn a_required_key_key_case_lower_forbids_is_an_error() {
    let e = one("version: 1\npolicy:\n  key_case: lower\n  required: [Owner]\ndesktops:\n  - name: A\n    tags: {owner: x}\n");
    assert_eq!(e.code, "policy");
    assert!(
        e.message
            .contains("`Owner` is required, but `key_case: lower` forbids it"),
        "{}",
        e.message
    );
    assert_eq!(e.help.as_deref(), Some("require `owner`"));
    doc("version: 1\npolicy:\n  key_case: lower\n  required: [owner]\ndesktops:\n  - name: A\n    tags: {owner: x}\n");
}

#[test]
fn unicode_a_key_not_in_nfc_is_a_warning_with_the_nfc_spelling() {
    let loaded = load_str(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: A\n    tags: {\"cafe\u{301}\": x, café: y}\n    absent: [\"nai\u{308}ve\"]\n",
        &LoadOptions::default(),
    );
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["not-nfc", "not-nfc"], "{:#?}", loaded.diagnostics);
    assert!(!loaded.has_errors());
    assert_eq!(
        loaded.diagnostics[0].help.as_deref(),
        Some("write it as `café` (one precomposed character)")
    );
}
