//! Unit tests for resolution and the planner, on hand-built manifests and inventories.

use std::collections::BTreeSet;

use super::*;
use crate::diagnostic::Location;
use crate::inventory::{Desktop, Inventory};
use crate::manifest::{Document, Entry, Manifest, Selector, Sourced};
use crate::tags::{CompactString, SortedMap, TagKey, TagValue};

fn loc(file: &str, line: u32) -> Location {
    Location::new(file, line, 3)
}

fn tagmap(file: &str, line: u32, pairs: &[(&str, &str)]) -> SortedMap<TagKey, Sourced<TagValue>> {
    pairs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            (
                TagKey::new(*k).unwrap(),
                Sourced {
                    value: TagValue::new(*v).unwrap(),
                    location: loc(file, line + i as u32),
                },
            )
        })
        .collect()
}

fn entry(
    file: &str,
    line: u32,
    selector: Selector,
    tags: &[(&str, &str)],
    absent: &[&str],
) -> Entry {
    Entry {
        selector,
        location: loc(file, line),
        tags: tagmap(file, line + 1, tags),
        absent: absent
            .iter()
            .enumerate()
            .map(|(i, k)| (TagKey::new(*k).unwrap(), loc(file, line + 20 + i as u32)))
            .collect(),
        priority: 0,
        acknowledge: None,
    }
}

fn doc(file: &str, defaults: &[(&str, &str)], ignore: &[&str], desktops: Vec<Entry>) -> Document {
    Document {
        rename: Vec::new(),
        location: loc(file, 1),
        project_id: None,
        region: None,
        defaults: tagmap(file, 100, defaults),
        ignore_keys: ignore
            .iter()
            .map(|g| Sourced {
                value: g.to_string(),
                location: loc(file, 90),
            })
            .collect(),
        protect: Vec::new(),
        create_only: Vec::new(),
        policy: Default::default(),
        desktops,
    }
}

fn id(s: &str) -> Selector {
    Selector::Id(s.into())
}

fn name(s: &str) -> Selector {
    Selector::from_name(s.into())
}

fn desktop(id: &str, name: &str, tags: &[(&str, &str)]) -> Desktop {
    Desktop::new(id, name, tags)
}

fn inventory() -> Inventory {
    Inventory::new([
        desktop("d1", "FIN-WKS-001", &[("owner", "it")]),
        desktop("d2", "FIN-WKS-002", &[]),
        desktop("d3", "FIN-LAP-001", &[]),
        desktop("d4", "FIN-LAP-002", &[]),
        desktop("d5", "DUP", &[]),
        desktop("d6", "DUP", &[]),
    ])
}

/// Where `plan_all` plans in these tests.
const PLACE: Place<'static> = Place {
    project_id: "p",
    endpoint: "e",
};

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

fn codes(r: &Resolution) -> Vec<(&'static str, bool)> {
    r.diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.is_error()))
        .collect()
}

// ---- resolution ----

#[test]
fn precedence_is_id_then_name_then_glob_then_defaults() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[("env", "default"), ("owner", "finance"), ("tier", "d")],
            &[],
            vec![
                entry(
                    "a.yaml",
                    10,
                    name("FIN-*"),
                    &[("env", "glob"), ("tier", "g")],
                    &[],
                ),
                entry(
                    "a.yaml",
                    30,
                    name("FIN-WKS-001"),
                    &[("env", "name")],
                    &["tier"],
                ),
                entry("a.yaml", 50, id("d1"), &[("env", "id")], &[]),
            ],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(r.diagnostics, vec![]);
    let ids: Vec<&str> = r.wanted.iter().map(|w| w.desktop_id.as_str()).collect();
    assert_eq!(ids, ["d1", "d2", "d3", "d4"]);
    assert_eq!(
        r.wanted[0].tags,
        tags(&[("env", "id"), ("owner", "finance")]).into()
    );
    assert_eq!(
        r.wanted[0].absent,
        BTreeSet::from([CompactString::from("tier")])
    );
    assert_eq!(
        r.wanted[1].tags,
        tags(&[("env", "glob"), ("owner", "finance"), ("tier", "g")]).into()
    );
}

#[test]
fn lower_absent_loses_to_higher_tags() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![
                entry("a.yaml", 10, name("FIN-WKS-*"), &[], &["env"]),
                entry("a.yaml", 30, name("FIN-WKS-002"), &[("env", "prod")], &[]),
            ],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(r.diagnostics, vec![]);
    assert_eq!(
        r.wanted[0].absent,
        BTreeSet::from([CompactString::from("env")])
    );
    assert_eq!(r.wanted[1].tags, tags(&[("env", "prod")]).into());
    assert!(r.wanted[1].absent.is_empty());
}

#[test]
fn same_precedence_conflict_across_files_names_both_locations() {
    let m = Manifest {
        documents: vec![
            doc(
                "a.yaml",
                &[],
                &[],
                vec![entry(
                    "a.yaml",
                    10,
                    name("FIN-WKS-001"),
                    &[("env", "dev")],
                    &[],
                )],
            ),
            doc(
                "b.yaml",
                &[],
                &[],
                vec![entry(
                    "b.yaml",
                    4,
                    name("FIN-WKS-001"),
                    &[("env", "prod")],
                    &[],
                )],
            ),
        ],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(r.diagnostics.len(), 1, "{:#?}", r.diagnostics);
    assert_eq!(
        r.diagnostics[0].to_string(),
        "b.yaml:5:3: error[conflict]: conflicting wants for tag `env` on desktop `FIN-WKS-001` (`d1`): \
         the entry for name `FIN-WKS-001` wants \"prod\" here, the entry for name `FIN-WKS-001` wants \"dev\"\n  \
         note: a.yaml:11:3: the entry for name `FIN-WKS-001` wants `env` = \"dev\" here\n  \
         help: both are exact-name entries, so neither wins: make them agree, remove one, or set `env` \
         with a more specific selector (id > exact name > name glob > defaults)"
    );
    assert!(
        r.wanted[0].tags.is_empty(),
        "a conflicting key is not wanted"
    );
}

#[test]
fn absent_against_tags_at_same_precedence_is_a_conflict_but_equal_values_are_fine() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![
                entry(
                    "a.yaml",
                    10,
                    name("FIN-*"),
                    &[("env", "prod"), ("x", "1")],
                    &[],
                ),
                entry("a.yaml", 30, name("FIN-LAP-*"), &[("x", "1")], &["env"]),
            ],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(r.diagnostics.len(), 1, "{:#?}", r.diagnostics);
    let d = &r.diagnostics[0];
    assert_eq!(d.code, "conflict");
    assert!(
        d.message
            .contains("on 2 desktops (`FIN-LAP-001` (`d3`), `FIN-LAP-002` (`d4`))"),
        "{}",
        d.message
    );
    assert!(d.message.contains("wants it absent here"), "{}", d.message);
    assert_eq!(r.wanted[2].tags, tags(&[("x", "1")]).into());
}

#[test]
fn defaults_of_two_documents_selecting_one_desktop_conflict() {
    let m = Manifest {
        documents: vec![
            doc(
                "a.yaml",
                &[("owner", "finance")],
                &[],
                vec![entry("a.yaml", 10, name("FIN-LAP-*"), &[("a", "1")], &[])],
            ),
            doc(
                "b.yaml",
                &[("owner", "it")],
                &[],
                vec![entry("b.yaml", 10, id("d3"), &[("b", "1")], &[])],
            ),
        ],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(codes(&r), [("conflict", true)]);
    assert!(r.diagnostics[0]
        .message
        .contains("the document's defaults wants \"it\" here"));
    // d4 is selected only by a.yaml, so it gets a.yaml's defaults without conflict.
    assert_eq!(
        r.wanted[1].tags,
        tags(&[("a", "1"), ("owner", "finance")]).into()
    );
}

#[test]
fn unmatched_selectors_warn_or_fail_under_strict_and_ambiguous_names_fail() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![
                entry("a.yaml", 10, name("NOPE"), &[("a", "1")], &[]),
                entry("a.yaml", 20, name("NOPE-*"), &[("a", "1")], &[]),
                entry("a.yaml", 30, name("DUP"), &[("a", "1")], &[]),
                entry("a.yaml", 40, id("missing"), &[("a", "1")], &[]),
            ],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(
        codes(&r),
        [
            ("unmatched-selector", false),
            ("unmatched-selector", false),
            ("ambiguous-name", true)
        ]
    );
    assert_eq!(
        r.diagnostics[2].to_string(),
        "a.yaml:30:3: error[ambiguous-name]: name `DUP` matches 2 desktops: `d5`, `d6`\n  \
         help: select each of these desktops by `id` instead"
    );
    assert_eq!(r.wanted.len(), 1, "the missing id is still wanted");
    assert_eq!(r.wanted[0].desktop_id, "missing");

    let strict = Policy {
        strict: true,
        ..Policy::default()
    };
    let r = resolve(&m, &inventory(), &strict);
    assert_eq!(
        codes(&r),
        [
            ("unmatched-selector", true),
            ("unmatched-selector", true),
            ("ambiguous-name", true)
        ]
    );
    assert_eq!(
        r.diagnostics[1].to_string(),
        "a.yaml:20:3: error[unmatched-selector]: name glob `NOPE-*` matches no desktop in the project\n  \
         help: check the spelling (names are case-sensitive), or remove the entry"
    );
}

#[test]
fn globs_are_case_sensitive_and_only_star_and_question_mark_are_special() {
    let inv = Inventory::new([
        desktop("a", "lab[1]", &[]),
        desktop("b", "lab1", &[]),
        desktop("c", "LAB2", &[]),
    ]);
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![
                entry("a.yaml", 10, name("lab[?]"), &[("x", "1")], &[]),
                entry("a.yaml", 20, name("lab?"), &[("y", "1")], &[]),
            ],
        )],
    };
    let r = resolve(&m, &inv, &Policy::default());
    assert_eq!(r.diagnostics, vec![]);
    let got: Vec<(&str, &Tags)> = r
        .wanted
        .iter()
        .map(|w| (w.desktop_id.as_str(), &*w.tags))
        .collect();
    assert_eq!(
        got,
        [("a", &tags(&[("x", "1")])), ("b", &tags(&[("y", "1")]))]
    );
}

#[test]
fn targets_keep_only_those_desktops_and_warn_about_unselected_ones() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![entry("a.yaml", 10, name("FIN-*"), &[("a", "1")], &[])],
        )],
    };
    let policy = Policy {
        targets: BTreeSet::from(["d2".to_string(), "d9".to_string()]),
        ..Policy::default()
    };
    let r = resolve(&m, &inventory(), &policy);
    let ids: Vec<&str> = r.wanted.iter().map(|w| w.desktop_id.as_str()).collect();
    assert_eq!(ids, ["d2"]);
    assert_eq!(
        r.diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "warning[unmatched-target]: --target `d9` matches no desktop a manifest entry \
             selects\n  help: give a desktop id, a computer name or a name glob (`*`, `?`) of a \
             desktop the manifests select"
        ]
    );
}

#[test]
fn targets_match_ids_exact_names_and_name_globs() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![entry("a.yaml", 10, name("FIN-*"), &[("a", "1")], &[])],
        )],
    };
    let kept = |targets: &[&str]| {
        let policy = Policy {
            targets: targets.iter().map(|t| t.to_string()).collect(),
            ..Policy::default()
        };
        let r = resolve(&m, &inventory(), &policy);
        let ids: Vec<String> = r.wanted.iter().map(|w| w.desktop_id.clone()).collect();
        (ids, r.diagnostics.len())
    };
    assert_eq!(kept(&["FIN-WKS-002"]), (vec!["d2".to_string()], 0));
    assert_eq!(
        kept(&["FIN-LAP-*"]),
        (vec!["d3".to_string(), "d4".to_string()], 0)
    );
    assert_eq!(
        kept(&["d1", "FIN-LAP-00?"]),
        (vec!["d1".into(), "d3".into(), "d4".into()], 0)
    );
    // A name the manifests do not select, or a near miss, keeps nothing and says so.
    assert_eq!(kept(&["FIN-LAP-01"]), (vec![], 1));
    assert_eq!(kept(&["DUP"]), (vec![], 1));
}

#[test]
fn ignore_globs_are_the_union_of_documents_and_policy_and_wanted_ignored_keys_warn() {
    let m = Manifest {
        documents: vec![
            doc(
                "a.yaml",
                &[("ops-owner", "x")],
                &["ops-*"],
                vec![entry("a.yaml", 10, id("d1"), &[("env", "1")], &[])],
            ),
            doc("b.yaml", &[], &["bad-[", "tmp-*"], vec![]),
        ],
    };
    let policy = Policy {
        ignore_keys: vec!["cli-*".into()],
        ..Policy::default()
    };
    let r = resolve(&m, &inventory(), &policy);
    assert_eq!(r.keys.ignore.globs(), ["cli-*", "ops-*", "tmp-*"]);
    assert!(r.keys.ignore.is_ignored("_sys_x"));
    assert_eq!(codes(&r), [("ignored-key", false), ("invalid-glob", true)]);
    assert_eq!(
        r.diagnostics[0].to_string(),
        "a.yaml:100:3: warning[ignored-key]: tag `ops-owner` is managed here but matches ignore glob `ops-*`; \
         desktag will not change it\n  help: remove the tag from the manifest, or narrow the ignore glob"
    );
    assert_eq!(r.diagnostics.iter().filter(|d| !d.is_error()).count(), 1);
}

#[test]
fn a_misspelt_name_gets_the_closest_name_of_the_inventory() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![entry("a.yaml", 10, name("FIN-LAP-01"), &[("a", "1")], &[])],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(
        r.diagnostics[0].to_string(),
        "a.yaml:10:3: warning[unmatched-selector]: name `FIN-LAP-01` matches no desktop in the project\n  \
         help: did you mean `FIN-LAP-001`? (names are case-sensitive) or remove the entry"
    );
}

#[test]
fn check_offline_reports_no_unmatched_or_ambiguous_selectors() {
    let m = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![
                entry("a.yaml", 10, name("NOPE"), &[("a", "1")], &[]),
                entry("a.yaml", 20, name("NOPE-*"), &[("a", "1")], &[]),
                entry("a.yaml", 30, id("x"), &[("a", "1")], &[]),
            ],
        )],
    };
    let strict = Policy {
        strict: true,
        targets: ["y".to_string()].into_iter().collect(),
        ..Policy::default()
    };
    assert_eq!(check_offline(&m, &strict), []);
}

#[test]
fn check_offline_finds_id_and_name_conflicts_without_an_inventory() {
    let m = Manifest {
        documents: vec![
            doc(
                "a.yaml",
                &[],
                &[],
                vec![
                    entry("a.yaml", 10, id("x-1"), &[("env", "dev")], &[]),
                    entry("a.yaml", 20, name("WKS-1"), &[("env", "dev")], &[]),
                    entry("a.yaml", 30, name("WKS-*"), &[("tier", "a")], &[]),
                    entry("a.yaml", 40, name("NEVER-*"), &[("tier", "a")], &[]),
                ],
            ),
            doc(
                "b.yaml",
                &[],
                &[],
                vec![
                    entry("b.yaml", 10, id("x-1"), &[("env", "prod")], &[]),
                    entry("b.yaml", 20, name("WKS-1"), &[("env", "dev")], &[]),
                    entry("b.yaml", 30, name("*-1"), &[("tier", "b")], &[]),
                ],
            ),
        ],
    };
    let d = check_offline(&m, &Policy::default());
    let shown: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        shown,
        [
            "conflicting wants for tag `env` on desktop `x-1`: the entry for id `x-1` wants \"prod\" here, \
             the entry for id `x-1` wants \"dev\"",
            "conflicting wants for tag `tier` on desktop named `WKS-1`: the entry for name glob `*-1` wants \
             \"b\" here, the entry for name glob `WKS-*` wants \"a\"",
        ]
    );
}

// ---- planner ----

fn want(id: &str, tags_: &[(&str, &str)], absent: &[&str]) -> Wanted {
    Wanted {
        desktop_id: id.into(),
        tags: tags(tags_).into(),
        absent: absent.iter().map(|s| CompactString::from(*s)).collect(),
        sources: Default::default(),
    }
}

fn run(wanted: &[Wanted], inv: &Inventory, policy: &Policy, ignore: &KeyIgnore) -> Plan {
    let keys = KeyRules {
        ignore: ignore.clone(),
        ..KeyRules::default()
    };
    plan(wanted, inv, policy, &keys, "proj", "http://127.0.0.1:1")
}

#[test]
fn plans_deletes_then_overwrites_then_creates_sorted_by_key() {
    let inv = Inventory::new([desktop(
        "d1",
        "W1",
        &[
            ("a", "1"),
            ("b", "old"),
            ("c", "x"),
            ("keep", "k"),
            ("_sys_x", "s"),
            ("ops-1", "o"),
        ],
    )]);
    let w = [want(
        "d1",
        &[
            ("b", "new"),
            ("z", "1"),
            ("y", "2"),
            ("ops-1", "changed"),
            ("keep", "k"),
        ],
        &["c", "a", "gone"],
    )];
    let p = run(
        &w,
        &inv,
        &Policy::default(),
        &KeyIgnore::new(["ops-*"]).unwrap(),
    );
    let d = &p.desktops[0];
    assert_eq!(d.status, DesktopStatus::Change);
    assert_eq!(
        d.changes,
        [
            Change::Delete {
                key: "a".into(),
                old: "1".into()
            },
            Change::Delete {
                key: "c".into(),
                old: "x".into()
            },
            Change::Overwrite {
                key: "b".into(),
                old: "old".into(),
                value: "new".into()
            },
            Change::Create {
                key: "y".into(),
                value: "2".into()
            },
            Change::Create {
                key: "z".into(),
                value: "1".into()
            },
        ]
        .into()
    );
    assert!(d.unmanaged.is_empty());
    assert_eq!(d.ignored, ["_sys_x", "ops-1"]);
    assert_eq!(
        p.summary,
        Summary {
            create: 2,
            overwrite: 1,
            delete: 2,
            changed: 1,
            unchanged: 0,
            blocked: 0,
            rename: 0,
            policy_warnings: 0
        }
    );
    assert!(p.has_changes);
}

#[test]
fn unmanaged_keys_are_kept_unless_pruned_and_ignored_keys_survive_prune() {
    let inv = Inventory::new([desktop(
        "d1",
        "W1",
        &[
            ("env", "dev"),
            ("legacy", "x"),
            ("ops-a", "1"),
            ("_sys_b", "2"),
        ],
    )]);
    let w = [want("d1", &[("env", "dev")], &[])];
    let ignore = KeyIgnore::new(["ops-*"]).unwrap();
    let p = run(&w, &inv, &Policy::default(), &ignore);
    assert_eq!(p.desktops[0].status, DesktopStatus::Unchanged);
    assert_eq!(p.desktops[0].unmanaged, ["legacy"]);
    assert!(!p.has_changes);

    let prune = Policy {
        prune: true,
        ..Policy::default()
    };
    let p = run(&w, &inv, &prune, &ignore);
    assert_eq!(
        p.desktops[0].changes,
        [Change::Delete {
            key: "legacy".into(),
            old: "x".into()
        }]
        .into()
    );
    assert!(p.desktops[0].unmanaged.is_empty());
    assert_eq!(p.desktops[0].ignored, ["_sys_b", "ops-a"]);
}

#[test]
fn a_desktop_over_the_cap_is_blocked_with_the_numbers_and_unmanaged_keys() {
    let current: Vec<(String, String)> =
        (0..8).map(|i| (format!("k{i}"), "v".to_string())).collect();
    let current: Vec<(&str, &str)> = current
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut with_sys = current.clone();
    with_sys.push(("_sys_a", "1"));
    let inv = Inventory::new([desktop("d1", "W1", &with_sys), desktop("d2", "W2", &[])]);
    let w = [
        want(
            "d1",
            &[("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")],
            &["k0"],
        ),
        want("d2", &[("a", "1")], &[]),
    ];
    let p = run(&w, &inv, &Policy::default(), &KeyIgnore::none());
    let d = &p.desktops[0];
    assert_eq!(d.status, DesktopStatus::Blocked);
    assert!(d.changes.is_empty());
    assert_eq!(
        d.reason.as_deref(),
        Some(
            "would carry 11 tags, over the cap of 10 (8 now, 1 deleted, 4 created; system tags not counted); \
             unmanaged tags: `k1`, `k2`, `k3`, `k4`, `k5`, `k6`, `k7`; run with --prune or list them under \
             `absent` to make room"
        )
    );
    assert_eq!(
        p.desktops[1].status,
        DesktopStatus::Change,
        "other desktops are still planned"
    );
    assert_eq!(p.summary.blocked, 1);
    assert_eq!(p.summary.create, 1);

    // Exactly at the cap is fine; system tags do not count.
    let w = [want("d1", &[("a", "1"), ("b", "1"), ("c", "1")], &["k0"])];
    let p = run(&w, &inv, &Policy::default(), &KeyIgnore::none());
    assert_eq!(p.desktops[0].status, DesktopStatus::Change);
    let max = Policy {
        max_tags: 20,
        ..Policy::default()
    };
    let w = [want("d1", &[("a", "1"), ("b", "1"), ("c", "1")], &[])];
    assert_eq!(
        run(&w, &inv, &max, &KeyIgnore::none()).desktops[0].status,
        DesktopStatus::Change
    );
}

#[test]
fn a_missing_desktop_is_blocked_as_not_found() {
    let p = run(
        &[want("zz", &[("a", "1")], &[])],
        &Inventory::default(),
        &Policy::default(),
        &KeyIgnore::none(),
    );
    assert_eq!(p.desktops[0].status, DesktopStatus::Blocked);
    assert_eq!(
        p.desktops[0].reason.as_deref(),
        Some("desktop `zz` not found in project `proj`; check the id in the manifest")
    );
    assert!(!p.has_changes);
}

#[test]
fn with_warnings_keeps_only_rendered_warnings() {
    let p = run(
        &[],
        &Inventory::default(),
        &Policy::default(),
        &KeyIgnore::none(),
    )
    .with_warnings(&[
        crate::diagnostic::Diagnostic::warning(crate::diagnostic::Code::UnmatchedSelector, "x")
            .at(loc("a.yaml", 2)),
        crate::diagnostic::Diagnostic::error(crate::diagnostic::Code::Conflict, "y"),
    ]);
    let shown: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["a.yaml:2:3: warning[unmatched-selector]: x"]);
    assert_eq!(p.warnings[0].code, "unmatched-selector");
    assert_eq!(p.warnings[0].severity, "warning");
}

#[test]
fn a_desktop_already_over_the_cap_with_nothing_to_change_is_unchanged_not_blocked() {
    let full: Vec<(String, String)> = (0..12)
        .map(|i| (format!("k{i:02}"), "v".to_string()))
        .collect();
    let full: Vec<(&str, &str)> = full.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let inv = Inventory::new([desktop("d1", "W1", &full)]);
    let p = run(
        &[want("d1", &[("k00", "v")], &[])],
        &inv,
        &Policy::default(),
        &KeyIgnore::none(),
    );
    assert_eq!(p.desktops[0].status, DesktopStatus::Unchanged);
    // Any change on it is blocked, and with no unmanaged keys the hint is to want fewer tags.
    let all: Vec<(&str, &str)> = full.iter().map(|(k, _)| (*k, "w")).collect();
    let p = run(
        &[want("d1", &all, &[])],
        &inv,
        &Policy::default(),
        &KeyIgnore::none(),
    );
    assert_eq!(p.desktops[0].status, DesktopStatus::Blocked);
    assert_eq!(
        p.desktops[0].reason.as_deref(),
        Some(
            "would carry 12 tags, over the cap of 10 (12 now, 0 deleted, 0 created; system tags not counted); \
             no unmanaged tags to remove: want fewer tags, or raise --max-tags if the account allows more"
        )
    );
}

// ---- guardrails: protect and create_only ----

fn sourced_globs(file: &str, line: u32, globs: &[&str]) -> Vec<Sourced<String>> {
    globs
        .iter()
        .map(|g| Sourced {
            value: g.to_string(),
            location: loc(file, line),
        })
        .collect()
}

#[test]
fn create_only_keys_are_created_when_missing_and_never_overwritten() {
    let inv = Inventory::new([
        desktop("d1", "W1", &[("owner", "alice"), ("env", "dev")]),
        desktop("d2", "W2", &[]),
    ]);
    let keys = KeyRules {
        create_only: KeyGlobs::new(["owner"]).unwrap(),
        ..KeyRules::default()
    };
    let wanted = [
        want("d1", &[("owner", "it"), ("env", "prod")], &[]),
        want("d2", &[("owner", "it")], &[]),
    ];
    let p = plan(&wanted, &inv, &Policy::default(), &keys, "p", "e");
    let d1 = &p.desktops[0];
    assert_eq!(
        d1.changes,
        [Change::Overwrite {
            key: "env".into(),
            old: "dev".into(),
            value: "prod".into()
        }]
        .into(),
        "owner stays alice"
    );
    assert_eq!(
        p.desktops[1].changes,
        [Change::Create {
            key: "owner".into(),
            value: "it".into()
        }]
        .into()
    );
}

#[test]
fn protected_keys_survive_prune() {
    let inv = Inventory::new([desktop(
        "d1",
        "W1",
        &[("billing-id", "42"), ("legacy", "x"), ("env", "dev")],
    )]);
    let keys = KeyRules {
        protect: KeyGlobs::new(["billing-*"]).unwrap(),
        ..KeyRules::default()
    };
    let policy = Policy {
        prune: true,
        ..Policy::default()
    };
    let p = plan(
        &[want("d1", &[("env", "dev")], &[])],
        &inv,
        &policy,
        &keys,
        "p",
        "e",
    );
    let d = &p.desktops[0];
    assert_eq!(
        d.changes,
        [Change::Delete {
            key: "legacy".into(),
            old: "x".into()
        }]
        .into()
    );
    assert_eq!(d.unmanaged, ["billing-id"]);
}

#[test]
fn absent_of_a_protected_key_is_an_error_at_absent_with_a_note_at_the_glob() {
    let mut document = doc(
        "a.yaml",
        &[],
        &[],
        vec![entry("a.yaml", 10, id("d1"), &[], &["billing-id"])],
    );
    document.protect = sourced_globs("b.yaml", 7, &["billing-*"]);
    let m = Manifest {
        documents: vec![document],
    };
    let expected = "a.yaml:30:3: error[protected-key]: `billing-id` is listed in `absent` but \
                    `protect` glob `billing-*` keeps it from ever being deleted";
    let r = resolve(&m, &inventory(), &Policy::default());
    assert!(r.has_errors());
    let shown = r.diagnostics[0].to_string();
    assert!(shown.starts_with(expected), "{shown}");
    assert!(
        shown.contains("note: b.yaml:7:3: protected here"),
        "{shown}"
    );
    // Offline validation finds it too.
    let offline = check_offline(&m, &Policy::default());
    assert_eq!(offline.len(), 1, "{offline:?}");
    assert_eq!(offline[0].code, "protected-key");
}

#[test]
fn key_rules_are_the_union_of_every_document() {
    let mut a = doc("a.yaml", &[], &[], vec![]);
    a.protect = sourced_globs("a.yaml", 3, &["billing-*"]);
    let mut b = doc("b.yaml", &[], &[], vec![]);
    b.protect = sourced_globs("b.yaml", 3, &["cost-*"]);
    b.create_only = sourced_globs("b.yaml", 4, &["owner"]);
    let m = Manifest {
        documents: vec![a, b],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert_eq!(r.keys.protect.globs(), ["billing-*", "cost-*"]);
    assert_eq!(r.keys.create_only.globs(), ["owner"]);
}

// ---- priority and overrides ----

#[test]
fn priority_breaks_ties_between_overlapping_globs() {
    let mut department = entry("b.yaml", 10, name("FIN-WKS-*"), &[("team", "finance")], &[]);
    department.priority = 10;
    let m = Manifest {
        documents: vec![
            doc(
                "a.yaml",
                &[],
                &[],
                vec![entry("a.yaml", 10, name("*"), &[("team", "all")], &[])],
            ),
            doc("b.yaml", &[], &[], vec![department]),
        ],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    let team = |id: &str| {
        r.wanted
            .iter()
            .find(|w| w.desktop_id == id)
            .map(|w| w.tags["team"].to_string())
    };
    assert_eq!(team("d1").as_deref(), Some("finance"));
    assert_eq!(team("d3").as_deref(), Some("all"));
}

#[test]
fn equal_priority_with_different_values_stays_a_conflict() {
    let mut a = entry("a.yaml", 10, name("FIN-*"), &[("team", "x")], &[]);
    let mut b = entry("b.yaml", 10, name("*-001"), &[("team", "y")], &[]);
    a.priority = 5;
    b.priority = 5;
    let m = Manifest {
        documents: vec![
            doc("a.yaml", &[], &[], vec![a]),
            doc("b.yaml", &[], &[], vec![b]),
        ],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert!(r.has_errors());
    assert_eq!(r.diagnostics[0].code, "conflict");
}

#[test]
fn an_id_overriding_a_glob_of_another_document_warns_naming_both_places() {
    let m = Manifest {
        documents: vec![
            doc(
                "hand.yaml",
                &[],
                &[],
                vec![entry(
                    "hand.yaml",
                    10,
                    name("FIN-*"),
                    &[("env", "prod")],
                    &[],
                )],
            ),
            doc(
                "export.yaml",
                &[],
                &[],
                vec![entry("export.yaml", 30, id("d1"), &[("env", "dev")], &[])],
            ),
        ],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert!(!r.has_errors(), "{:#?}", r.diagnostics);
    let shown: Vec<String> = r.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(
        shown[0].starts_with(
            "export.yaml:31:3: warning[override]: the entry for id `d1` sets tag `env` to \"dev\" on desktop `FIN-WKS-001` (`d1`), overriding \"prod\" from the entry for name glob `FIN-*`"
        ),
        "{}",
        shown[0]
    );
    assert!(shown[0].contains("note: hand.yaml:11:3:"), "{}", shown[0]);
    // --strict makes it an error; the same override inside one document is intended.
    let strict = Policy {
        strict: true,
        ..Policy::default()
    };
    assert!(resolve(&m, &inventory(), &strict).has_errors());
    let one = Manifest {
        documents: vec![doc(
            "a.yaml",
            &[],
            &[],
            vec![
                entry("a.yaml", 10, name("FIN-*"), &[("env", "prod")], &[]),
                entry("a.yaml", 30, id("d1"), &[("env", "dev")], &[]),
            ],
        )],
    };
    assert!(resolve(&one, &inventory(), &Policy::default())
        .diagnostics
        .is_empty());
}

#[test]
fn override_true_silences_exactly_its_own_entry_and_a_stale_one_warns() {
    let acked = |mut e: Entry, line: u32| {
        e.acknowledge = Some(loc("export.yaml", line));
        e
    };
    let m = Manifest {
        documents: vec![
            doc(
                "hand.yaml",
                &[],
                &[],
                vec![entry(
                    "hand.yaml",
                    10,
                    name("FIN-*"),
                    &[("env", "prod"), ("team", "fin")],
                    &[],
                )],
            ),
            doc(
                "export.yaml",
                &[],
                &[],
                vec![
                    // Acknowledged: its override is intended.
                    acked(
                        entry("export.yaml", 30, id("d1"), &[("env", "dev")], &[]),
                        39,
                    ),
                    // Not acknowledged: still warned.
                    entry("export.yaml", 40, id("d2"), &[("team", "ops")], &[]),
                    // Acknowledged, but overrides nothing: stale.
                    acked(
                        entry("export.yaml", 50, id("d2"), &[("room", "1")], &[]),
                        59,
                    ),
                ],
            ),
        ],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    let shown: Vec<String> = r
        .diagnostics
        .iter()
        .map(|d| d.to_string().lines().next().unwrap().to_string())
        .collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(
        shown[0].starts_with("export.yaml:41:3: warning[override]: the entry for id `d2`"),
        "{shown:#?}"
    );
    assert_eq!(
        shown[1],
        "export.yaml:59:3: warning[stale-override]: this entry says `override: true` but overrides no value from another document on the desktops it selects"
    );
    // The acknowledged value still wins, and its source is still recorded for --explain.
    let d1 = r.wanted.iter().find(|w| w.desktop_id == "d1").unwrap();
    assert_eq!(d1.tags.get("env").map(|v| v.as_str()), Some("dev"));
    assert!(d1
        .source("env")
        .is_some_and(|(l, layer)| l.line == 31 && *layer == Layer::Id));
    // --strict makes the rest errors; with --target the stale check is left out (other
    // desktops are not resolved).
    let strict = Policy {
        strict: true,
        ..Policy::default()
    };
    let r = resolve(&m, &inventory(), &strict);
    assert_eq!(
        r.diagnostics.iter().filter(|d| d.is_error()).count(),
        2,
        "{:#?}",
        r.diagnostics
    );
    let targeted = Policy {
        targets: ["d2".to_string()].into(),
        ..Policy::default()
    };
    let r = resolve(&m, &inventory(), &targeted);
    assert!(
        r.diagnostics.iter().all(|d| d.code != "stale-override"),
        "{:#?}",
        r.diagnostics
    );
}

// ---- templated values ----

#[test]
fn templates_render_per_desktop_and_block_what_cannot_render() {
    let mut with_user = desktop("d1", "FIN-1", &[]);
    with_user.user = Some("ann".into());
    with_user.enterprise_project_id = Some("ep-1".into());
    let inv = Inventory::new([
        with_user,
        desktop("d2", "FIN-2", &[]),
        desktop("d3", "FIN-3-with-a-very-long-computer-name-xxxxxxxxx", &[]),
    ]);
    let wanted = [
        want(
            "d1",
            &[
                ("owner", "${desktop.user_name}"),
                ("ep", "${desktop.enterprise_project_id}"),
                ("team", "${env.DESKTAG_VAR_TEAM}"),
            ],
            &[],
        ),
        want("d2", &[("owner", "${desktop.user_name}")], &[]),
        want("d3", &[("host", "${desktop.name}-${desktop.id}")], &[]),
    ];
    let policy = Policy {
        env: [("DESKTAG_VAR_TEAM".to_string(), "finance".to_string())].into(),
        ..Policy::default()
    };
    let p = run(&wanted, &inv, &policy, &KeyIgnore::none());
    let d1 = &p.desktops[0];
    assert_eq!(d1.status, DesktopStatus::Change);
    assert_eq!(
        d1.planned(),
        tags(&[("ep", "ep-1"), ("owner", "ann"), ("team", "finance")])
    );
    let d2 = &p.desktops[1];
    assert_eq!(d2.status, DesktopStatus::Blocked);
    assert_eq!(
        d2.reason.as_deref(),
        Some("tag `owner` = \"${desktop.user_name}\" cannot be rendered: `${desktop.user_name}` has no value for this desktop (give it a fallback: `${desktop.user_name:-VALUE}`); nothing is written to this desktop until it can")
    );
    let d3 = &p.desktops[2];
    assert_eq!(d3.status, DesktopStatus::Blocked);
    assert!(
        d3.reason
            .as_deref()
            .unwrap()
            .contains("which is not a valid tag value"),
        "{:?}",
        d3.reason
    );
    // A missing environment variable blocks too.
    let p = run(&wanted[..1], &inv, &Policy::default(), &KeyIgnore::none());
    assert!(p.desktops[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("the environment variable `DESKTAG_VAR_TEAM` is not set"));
}

#[test]
fn env_rendered_values_are_never_shown_in_a_reason() {
    let inv = Inventory::new([desktop("d1", "FIN-1", &[])]);
    let secret = "https://user:hunter2@db.example.com/x";
    let policy = Policy {
        env: [("DESKTAG_VAR_DB".to_string(), secret.to_string())].into(),
        ..Policy::default()
    };
    let wanted = [want("d1", &[("db", "x-${env.DESKTAG_VAR_DB}")], &[])];
    let p = run(&wanted, &inv, &policy, &KeyIgnore::none());
    let reason = p.desktops[0].reason.as_deref().unwrap();
    assert_eq!(p.desktops[0].status, DesktopStatus::Blocked);
    assert!(!reason.contains("hunter2"), "{reason}");
    assert!(!reason.contains("db.example"), "{reason}");
    assert!(
        reason.contains(&format!(
            "renders to a value of {} characters",
            secret.chars().count() + 2
        )),
        "{reason}"
    );
    // The offending character and where it is, not the value.
    assert!(reason.contains("at character 9"), "{reason}");
}

#[test]
fn a_template_is_rendered_only_where_its_value_is_written() {
    // Kiosks and pools have no user; their owner exists already and is create-only.
    let inv = Inventory::new([
        desktop("d1", "KIOSK-1", &[("owner", "facilities"), ("env", "dev")]),
        desktop("d2", "KIOSK-2", &[("owner", "facilities")]),
        desktop("d3", "KIOSK-3", &[]),
    ]);
    let keys = KeyRules {
        create_only: KeyGlobs::new(["owner"]).unwrap(),
        ignore: KeyIgnore::new(["managed-by"]).unwrap(),
        ..KeyRules::default()
    };
    let want_all = |id: &str| {
        want(
            id,
            &[
                ("owner", "${desktop.user_name}"),
                ("managed-by", "${env.UNSET}"),
                ("env", "prod"),
            ],
            &[],
        )
    };
    let wanted = [want_all("d1"), want_all("d2"), want_all("d3")];
    let p = plan(&wanted, &inv, &Policy::default(), &keys, "p", "e");
    let d1 = &p.desktops[0];
    assert_eq!(d1.status, DesktopStatus::Change, "{:?}", d1.reason);
    assert_eq!(
        d1.changes,
        [Change::Overwrite {
            key: "env".into(),
            old: "dev".into(),
            value: "prod".into()
        }]
        .into()
    );
    assert_eq!(d1.kept, ["owner"]);
    let d2 = &p.desktops[1];
    assert_eq!(d2.status, DesktopStatus::Change, "{:?}", d2.reason);
    // The owner would be created here: its template is needed, and cannot render.
    let d3 = &p.desktops[2];
    assert_eq!(d3.status, DesktopStatus::Blocked);
    assert!(d3.reason.as_deref().unwrap().contains("`owner`"));
}

#[test]
fn a_fallback_renders_where_the_attribute_is_missing() {
    let mut with_user = desktop("d1", "FIN-1", &[]);
    with_user.user = Some("ann".into());
    let inv = Inventory::new([with_user, desktop("d2", "POOL-1", &[])]);
    let owner = [("owner", "${desktop.user_name:-shared-pool}")];
    let wanted = [want("d1", &owner, &[]), want("d2", &owner, &[])];
    let p = run(&wanted, &inv, &Policy::default(), &KeyIgnore::none());
    assert_eq!(p.desktops[0].planned(), tags(&[("owner", "ann")]));
    assert_eq!(p.desktops[1].planned(), tags(&[("owner", "shared-pool")]));
}

#[test]
fn unicode_an_observed_key_not_in_nfc_that_looks_wanted_is_a_warning() {
    let loaded = crate::manifest::load_str(
        "m.yaml",
        "version: 1\ndesktops:\n  - name: \"FIN-*\"\n    tags: {café: x}\n",
        &crate::manifest::LoadOptions::default(),
    );
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    let inventory = Inventory::new([
        desktop("d1", "FIN-1", &[("cafe\u{301}", "x")]),
        desktop("d2", "FIN-2", &[("cafe\u{301}", "y")]),
        desktop("d3", "FIN-3", &[("café", "x")]),
    ]);
    let r = resolve(&loaded.manifest, &inventory, &Policy::default());
    let warnings: Vec<&Diagnostic> = r.diagnostics.iter().collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(warnings[0].code, "not-nfc");
    assert!(
        warnings[0].message.starts_with(
            "2 desktops (`FIN-1` first) carry the key `cafe\\u{301}`, not in Unicode NFC"
        ),
        "{}",
        warnings[0].message
    );
}

/// A plan of 100,000 desktops holds a change per wanted tag: a change is no larger than the
/// overwrite it most often is (a rename's extra strings are boxed).
#[test]
fn a_change_is_as_small_as_an_overwrite() {
    use std::mem::size_of;
    assert_eq!(size_of::<Change>(), 3 * size_of::<CompactString>());
}

#[test]
fn plan_all_moves_the_desktops_into_the_plan_and_plans_as_plan_does() {
    let inv = Inventory::new([
        desktop("d1", "W1", &[("env", "dev")]),
        desktop("d2", "W2", &[("env", "prod")]),
        desktop("d3", "W3", &[]),
        desktop("d5", "W5", &[]),
    ]);
    // Out of id order, one desktop wanted twice, one not in the project, one nobody wants.
    let wanted = vec![
        want("d5", &[("team", "ops")], &[]),
        want("d1", &[("env", "prod")], &[]),
        want("d4", &[("env", "prod")], &[]),
        want("d2", &[("env", "prod")], &[]),
        want("d1", &[("team", "ops")], &[]),
    ];
    let keys = KeyRules::default();
    let borrowed = plan(&wanted, &inv, &Policy::default(), &keys, "p", "e");
    let (owned, uses) = plan_all(wanted, inv, &Policy::default(), &keys, PLACE);
    assert_eq!(owned, borrowed);
    assert_eq!(uses, TemplateUse::default());
    let ids: Vec<(&str, &str, DesktopStatus)> = owned
        .desktops
        .iter()
        .map(|d| (d.desktop_id.as_str(), d.name.as_str(), d.status))
        .collect();
    assert_eq!(
        ids,
        [
            ("d1", "W1", DesktopStatus::Change),
            ("d1", "W1", DesktopStatus::Change),
            ("d2", "W2", DesktopStatus::Unchanged),
            ("d4", "", DesktopStatus::Blocked),
            ("d5", "W5", DesktopStatus::Change),
        ]
    );
    // Both wants of d1 see its tags.
    assert_eq!(owned.desktops[0].current, tags(&[("env", "dev")]));
    assert_eq!(owned.desktops[1].current, tags(&[("env", "dev")]));
    assert_eq!(owned.summary.blocked, 1);
}

#[test]
fn template_use_names_what_unblocked_desktops_read_and_changed_desktops_attributes() {
    let mut alice = desktop("d1", "W1", &[]);
    alice.user = Some("alice".into());
    let mut bob = desktop("d2", "W2", &[("owner", "bob"), ("team", "t-ops")]);
    bob.user = Some("bob".into());
    // No user: its owner cannot render, so it is blocked and reads nothing.
    let nobody = desktop("d3", "W3", &[]);
    let inv = Inventory::new([alice, bob, nobody]);
    let templated = [("owner", "${desktop.user_name}"), ("team", "t-${env.TEAM}")];
    let wanted = vec![
        want("d1", &templated, &[]),
        want("d2", &templated, &[]),
        want("d3", &templated, &[]),
    ];
    let policy = Policy {
        env: [("TEAM".to_string(), "ops".to_string())].into(),
        ..Policy::default()
    };
    let (p, uses) = plan_all(wanted, inv, &policy, &KeyRules::default(), PLACE);
    let statuses: Vec<DesktopStatus> = p.desktops.iter().map(|d| d.status).collect();
    assert_eq!(
        statuses,
        [
            DesktopStatus::Change,
            DesktopStatus::Unchanged,
            DesktopStatus::Blocked
        ]
    );
    assert_eq!(uses.env, BTreeSet::from(["TEAM".to_string()]));
    // Only the desktop with changes records the attributes it was planned with.
    let d1 = [("user_name".into(), "alice".into())].into();
    assert_eq!(uses.attributes, [("d1".to_string(), d1)].into());
}

#[test]
fn dropping_the_explanations_keeps_what_apply_reads() {
    let inv = Inventory::new([desktop("d1", "W1", &[("env", "dev"), ("x", "1")])]);
    let mut w = want("d1", &[("env", "prod")], &[]);
    w.sources = vec![(loc("a.yaml", 3), Layer::Id)].into();
    let ignore = KeyIgnore::new(["x"]).unwrap();
    let mut p = run(&[w], &inv, &Policy::default(), &ignore);
    assert_eq!(p.desktops[0].sources.len(), 1);
    assert_eq!(p.desktops[0].ignored, ["x"]);
    let before = p.clone();
    p.drop_explanations();
    let d = &p.desktops[0];
    assert!(d.sources.is_empty() && d.ignored.is_empty());
    assert!(d.unmanaged.is_empty() && d.kept.is_empty());
    assert_eq!(
        (&d.changes, &d.current, d.status, &p.summary),
        (
            &before.desktops[0].changes,
            &before.desktops[0].current,
            before.desktops[0].status,
            &before.summary
        )
    );
}

#[test]
fn a_want_finds_the_source_of_a_tag_or_an_absent_key() {
    let mut w = want(
        "d1",
        &[("env", "prod"), ("team", "ops")],
        &["legacy", "old"],
    );
    w.sources = ["env", "team", "legacy", "old"]
        .iter()
        .enumerate()
        .map(|(i, _)| (loc("a.yaml", i as u32 + 1), Layer::Name))
        .collect();
    let line = |key: &str| w.source(key).map(|(l, _)| l.line);
    assert_eq!(
        [
            line("env"),
            line("team"),
            line("legacy"),
            line("old"),
            line("x")
        ],
        [Some(1), Some(2), Some(3), Some(4), None]
    );
    // Resolution lines them up so, absent keys after the tags.
    let m = Manifest {
        documents: vec![doc(
            "m.yaml",
            &[("zone", "eu")],
            &[],
            vec![entry(
                "m.yaml",
                9,
                id("d1"),
                &[("env", "prod")],
                &["legacy"],
            )],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    let d1 = r.wanted.iter().find(|w| w.desktop_id == "d1").unwrap();
    let layer = |key: &str| d1.source(key).map(|(_, layer)| *layer);
    assert_eq!(
        [layer("env"), layer("zone"), layer("legacy")],
        [Some(Layer::Id), Some(Layer::Defaults), Some(Layer::Id)]
    );
}

#[test]
fn desktops_whose_wants_come_from_the_same_places_share_one_source_list() {
    let inv = Inventory::new([
        desktop("d1", "W1", &[]),
        desktop("d2", "W2", &[]),
        desktop("d3", "W3", &[]),
    ]);
    let at = |line| {
        (
            crate::diagnostic::Location {
                file: "m.yaml".into(),
                line,
                column: 5,
            },
            Layer::NameGlob,
        )
    };
    let mut wanted: Vec<Wanted> = ["d1", "d2", "d3"]
        .iter()
        .map(|id| Wanted {
            sources: vec![at(4), at(5)].into(),
            ..want(id, &[("env", "prod"), ("team", "ops")], &[])
        })
        .collect();
    // d3's wants are written elsewhere.
    wanted[2].sources = vec![at(9), at(10)].into();
    let (plan, _) = plan_all(wanted, inv, &Policy::default(), &KeyRules::default(), PLACE);
    let [d1, d2, d3] = &plan.desktops[..] else {
        panic!("three desktops")
    };
    assert_eq!(d1.sources.len(), 2);
    assert_eq!(d1.sources[0].line, 4);
    assert!(
        std::sync::Arc::ptr_eq(&d1.sources, &d2.sources),
        "one list for both"
    );
    assert!(!std::sync::Arc::ptr_eq(&d1.sources, &d3.sources));
    assert_eq!(d3.sources[1].line, 10);
}

#[test]
fn desktops_with_the_same_changes_share_one_list_and_others_keep_theirs() {
    let inv = Inventory::new([
        desktop("d1", "W1", &[]),
        desktop("d2", "W2", &[]),
        desktop("d3", "W3", &[("env", "dev")]),
    ]);
    let wanted: Vec<Wanted> = ["d1", "d2", "d3"]
        .iter()
        .map(|id| want(id, &[("env", "prod")], &[]))
        .collect();
    let (plan, _) = plan_all(wanted, inv, &Policy::default(), &KeyRules::default(), PLACE);
    let [d1, d2, d3] = &plan.desktops[..] else {
        panic!("three desktops")
    };
    assert!(std::sync::Arc::ptr_eq(&d1.changes, &d2.changes));
    assert!(matches!(d1.changes[..], [Change::Create { .. }]));
    // d3 overwrites instead: its own list.
    assert!(!std::sync::Arc::ptr_eq(&d1.changes, &d3.changes));
    assert!(matches!(d3.changes[..], [Change::Overwrite { .. }]));
}

#[test]
fn the_resolution_shares_the_wants_of_desktops_one_glob_selects() {
    let m = Manifest {
        documents: vec![doc(
            "m.yaml",
            &[],
            &[],
            vec![entry("m.yaml", 4, name("FIN-*"), &[("env", "prod")], &[])],
        )],
    };
    let r = resolve(&m, &inventory(), &Policy::default());
    assert!(r.wanted.len() >= 2, "{:?}", r.wanted);
    let (a, b) = (&r.wanted[0], &r.wanted[1]);
    assert!(std::sync::Arc::ptr_eq(&a.tags, &b.tags));
    assert!(std::sync::Arc::ptr_eq(&a.sources, &b.sources));
}
