//! The manifest JSON Schema (`docs/manifest.schema.json`, printed by `desktag schema`) accepts
//! every shipped manifest and rejects the mistakes a schema can see.

use std::path::{Path, PathBuf};

use serde_json::Value;

const SCHEMA: &str = include_str!("../../docs/manifest.schema.json");

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

/// Every YAML document of `text`, as JSON values.
fn documents(text: &str) -> Result<Vec<Value>, serde_yaml::Error> {
    serde_yaml::Deserializer::from_str(text)
        .map(serde::Deserialize::deserialize)
        .collect()
}

fn errors(v: &jsonschema::Validator, text: &str) -> Vec<String> {
    documents(text)
        .expect("the snippet is YAML")
        .iter()
        .flat_map(|doc| {
            v.iter_errors(doc)
                .map(|e| format!("{}: {e}", e.instance_path()))
        })
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_manifest_is_valid_under_the_schema() {
    let v = validator();
    let mut files = yaml_files(Path::new("examples/manifests"));
    files.extend(yaml_files(Path::new("examples/cap-demo")));
    files.push(PathBuf::from("tests/fixtures/manifests/invalid/valid.yaml"));
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            errors(&v, &text),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn the_invalid_fixtures_are_rejected() {
    let v = validator();
    let text =
        std::fs::read_to_string("tests/fixtures/manifests/invalid/syntax-error.yaml").unwrap();
    assert!(documents(&text).is_err(), "not YAML, so no schema applies");
    // many-mistakes.yaml repeats a key, which a YAML reader already refuses; without the
    // repetition the schema finds the rest.
    let text =
        std::fs::read_to_string("tests/fixtures/manifests/invalid/many-mistakes.yaml").unwrap();
    let text = text.replace("      env: prod\n      rota:", "      rota:");
    let found = errors(&v, &text);
    for path in [
        "/version",
        "/project_id",
        "/desktops/0",
        "/desktops/1",
        "/desktops/3",
    ] {
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{path}:"))),
            "no error at {path}: {found:#?}"
        );
    }
}

#[test]
fn the_schema_agrees_with_the_tag_rules() {
    let v = validator();
    let accepted = [
        "version: 1\ndesktops: [{name: A, tags: {env: dev}}]",
        "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops: []",
        "version: 1\ndefaults: {cost center: CC-1, 部门: 财务, note: ''}\ndesktops: []",
        "version: 1\ndesktops: [{id: abc, absent: [legacy]}]",
        "version: 1\ndesktops: [{name: 'FIN-*', tags: {port: 8080, flag: true}}]",
        "version: 1\nignore_keys: ['ops-*']\ndesktops: []",
        // Letters with their combining marks: Hindi with a virama, a decomposed accent.
        "version: 1\ndesktops: [{name: A, tags: {\"विभाग\": \"वित्त\", \"cafe\u{301}\": x}}]",
    ];
    for text in accepted {
        assert_eq!(errors(&v, text), Vec::<String>::new(), "{text}");
    }
    let rejected = [
        "version: 2\ndesktops: []",
        "desktops: []",
        "version: 1\nproject: x\ndesktops: []",
        "version: 1\nproject_id: ab.c\ndesktops: []",
        "version: 1\ndesktops: [{name: A, id: b, tags: {env: dev}}]",
        "version: 1\ndesktops: [{tags: {env: dev}}]",
        "version: 1\ndesktops: [{name: A}]",
        "version: 1\ndesktops: [{name: A, tag: {env: dev}}]",
        "version: 1\ndesktops: [{name: A, tags: {cost/center: x}}]",
        "version: 1\ndesktops: [{name: A, tags: {_sys_owner: x}}]",
        "version: 1\ndesktops: [{name: A, tags: {' env': x}}]",
        "version: 1\ndesktops: [{name: A, tags: {env: 'a=b'}}]",
        "version: 1\ndesktops: [{name: A, tags: {env: this value is far too long to be a tag value on a desktop}}]",
        "version: 1\ndesktops: [{name: A, tags: {env: }}]",
        "version: 1\ndesktops: [{name: A, tags: {env: {a: b}}}]",
        "version: 1\ndesktops: [{name: A, absent: {env: x}}]",
        "version: 1\ndesktops: [{name: A, tags: {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10, k: 11}}]",
    ];
    for text in rejected {
        assert_ne!(errors(&v, text), Vec::<String>::new(), "{text}");
    }
}

#[test]
fn desktag_schema_prints_the_documented_schema() {
    let ran = crate::support::Desktag::new()
        .args(["schema"])
        .run()
        .code(0);
    assert_eq!(ran.stdout, SCHEMA);
    assert!(ran.stderr.is_empty(), "{}", ran.stderr);
}

#[test]
fn guardrail_and_policy_fields_are_in_the_schema() {
    let v = validator();
    let good = "version: 1\nprotect: [\"billing-*\"]\ncreate_only: [owner]\npolicy:\n  required: [owner]\n  allowed: {env: [dev, prod], cost-center: [\"CC-*\"]}\n  key_case: lower\ndesktops: []\n";
    assert_eq!(errors(&v, good), Vec::<String>::new());
    // desktag's own loader agrees.
    let loaded = desktag_core::manifest::load_str("m.yaml", good, &Default::default());
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    for bad in [
        "version: 1\npolicy: {key_case: upper}\n",
        "version: 1\npolicy: {allowed: {env: []}}\n",
        "version: 1\npolicy: {requird: [owner]}\n",
    ] {
        assert_ne!(errors(&v, bad), Vec::<String>::new(), "{bad}");
        let loaded = desktag_core::manifest::load_str("m.yaml", bad, &Default::default());
        assert!(loaded.has_errors(), "{bad}");
    }
}

#[test]
fn region_is_in_the_schema_with_the_loaders_rules() {
    let v = validator();
    let good = "version: 1\nproject_id: p1\nregion: cn-north-4\ndesktops: []\n";
    assert_eq!(errors(&v, good), Vec::<String>::new());
    let loaded = desktag_core::manifest::load_str("m.yaml", good, &Default::default());
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    for bad in [
        "version: 1\nregion: cn-north-4\ndesktops: []\n",
        "version: 1\nproject_id: p1\nregion: CN-North-4\ndesktops: []\n",
        "version: 1\nproject_id: p1\nregion: -cn\ndesktops: []\n",
        "version: 1\nproject_id: p1\nregion: [cn-north-4]\ndesktops: []\n",
    ] {
        assert_ne!(errors(&v, bad), Vec::<String>::new(), "{bad}");
        let loaded = desktag_core::manifest::load_str("m.yaml", bad, &Default::default());
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.code == "region" || d.code == "type"),
            "{bad}: {:?}",
            loaded.diagnostics
        );
    }
}

#[test]
fn templated_values_are_in_the_schema_and_mistakes_are_not() {
    let v = validator();
    let ok = "version: 1\ndesktops:\n  - name: A\n    tags: {owner: \"${desktop.user_name}\", host: \"${desktop.name}-${desktop.id}\", t: \"${env.DESKTAG_VAR_TEAM}\", pool: \"${desktop.user_name:-shared-pool}\"}\n";
    assert_eq!(errors(&v, ok), Vec::<String>::new());
    for bad in [
        "\"${desktop.nmae}\"",
        "\"${desktop.id\"",
        "\"5$\"",
        "\"${desktop.user_name:-a/b}\"",
        &"a".repeat(44),
    ] {
        let text = format!("version: 1\ndesktops:\n  - name: A\n    tags: {{k: {bad}}}\n");
        assert_ne!(errors(&v, &text), Vec::<String>::new(), "{bad}");
        let loaded = desktag_core::manifest::load_str("m.yaml", &text, &Default::default());
        assert!(loaded.has_errors(), "{bad}");
    }
}

// ---- the plan and report documents ----

fn document_validator(text: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

#[track_caller]
fn assert_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

#[test]
fn schema_prints_each_document_schema_and_the_manifest_one_by_default() {
    use crate::support::Desktag;
    let bare = Desktag::new().args(["schema"]).run().code(0);
    assert_eq!(bare.stdout, SCHEMA);
    let manifest = Desktag::new().args(["schema", "manifest"]).run().code(0);
    assert_eq!(manifest.stdout, SCHEMA);
    let plan = Desktag::new().args(["schema", "plan"]).run().code(0);
    assert_eq!(plan.stdout, include_str!("../../docs/plan.schema.json"));
    let report = Desktag::new().args(["schema", "report"]).run().code(0);
    assert_eq!(report.stdout, include_str!("../../docs/report.schema.json"));
}

#[test]
fn real_plans_saved_plans_and_reports_follow_their_schemas() {
    use crate::support::{emulator_with, manifests, path_str, small_seed, Desktag};
    let plan_schema = document_validator(include_str!("../../docs/plan.schema.json"));
    let report_schema = document_validator(include_str!("../../docs/report.schema.json"));
    let (_rt, emu) = emulator_with(small_seed(), |_| {});
    // A change, a blocked desktop (B-1 over the cap), a warning (NOPE-*), a template.
    let dir = manifests(&[(
        "m.yaml",
        "version: 1\nproject_id: 0123456789abcdef0123456789abcdef\ndesktops:\n  - name: \"A-*\"\n    tags: {env: prod, host: \"${desktop.name}\"}\n  - name: B-1\n    tags: {x1: a, x2: b, x3: c}\n  - name: NOPE-*\n    tags: {env: prod}\n",
    )]);
    let m = path_str(dir.path());
    let plan = Desktag::new()
        .against(&emu)
        .args(["plan", "--format", "json", m])
        .run()
        .code(3)
        .json();
    assert_valid(&plan_schema, &plan);
    assert_eq!(
        plan["projects"][0]["warnings"][0]["code"],
        "unmatched-selector"
    );
    let blocked = plan["projects"][0]["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "blocked")
        .unwrap();
    assert_eq!(blocked["reason_kind"], "cap");

    let saved = dir.path().join("plan.json");
    Desktag::new()
        .against(&emu)
        .args(["plan", "--out", path_str(&saved), m])
        .run()
        .code(3);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_valid(&plan_schema, &saved);
    assert_eq!(saved["kind"], "desktag-plan");

    let report = Desktag::new()
        .against(&emu)
        .args(["apply", "--auto-approve", "--report-format", "json", m])
        .run()
        .code(3)
        .json();
    assert_valid(&report_schema, &report);
    assert_eq!(report["format_version"], 2);
    assert_eq!(report["has_changes"], true);
    let achieved = report["totals"]["achieved_rate"].as_f64();
    let requests = report["totals"]["requests"].as_f64().unwrap();
    let ms = report["totals"]["duration_ms"].as_f64().unwrap();
    if ms > 0.0 {
        let expected = (requests * 10_000.0 / ms).round() / 10.0;
        assert_eq!(achieved, Some(expected));
    }
    for at in ["started_at", "finished_at"] {
        let text = report[at].as_str().unwrap();
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{at} {text:?}: {e}"));
    }
}

#[test]
fn the_schemas_refuse_documents_of_another_shape() {
    let plan_schema = document_validator(include_str!("../../docs/plan.schema.json"));
    let old = serde_json::json!({
        "format_version": 1, "project_id": "p", "endpoint": "e", "max_tags": 10,
        "prune": false, "has_changes": false, "desktops": [],
        "summary": {"create": 0, "overwrite": 0, "delete": 0, "changed": 0, "unchanged": 0, "blocked": 0}
    });
    assert!(
        !plan_schema.is_valid(&old),
        "a version-1 plan is not a version-2 one"
    );
}
