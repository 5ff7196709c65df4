//! The manifest `desktag export` prints: desktops' current tags as a version-1 manifest that
//! `validate` accepts and that, planned against the same inventory, yields no changes. Pure:
//! text out, no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::escape::escape;
use desktag_core::glob::is_name_glob;
use desktag_core::inventory::Desktop;
use desktag_core::tags::{is_system_key, CompactString};
use desktag_core::template::Attr;

/// A YAML double-quoted scalar. JSON string escapes are valid YAML escapes.
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

/// A tag key as a YAML mapping key: plain where YAML reads it back as the same text (ASCII
/// letters first, then letters, digits, `_`, `-`, `.`; not a word YAML 1.1 reads as a boolean or
/// null), double-quoted otherwise.
fn key(text: &str) -> String {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !WORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_string()
    } else {
        quote(text)
    }
}

/// How `export` writes its manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Select desktops by computer name where that name is unique in the project (and is not a
    /// glob), by id elsewhere.
    pub by_name: bool,
    /// One document per value of this key (and one for desktops without it), with the tags all
    /// desktops of a document share lifted into its `defaults`.
    pub group_by: Option<String>,
    /// `--template KEY=ATTR`: where a desktop's `KEY` equals its attribute, write the template
    /// (`owner: "${desktop.user_name}"`), so the value follows the desktop.
    pub templates: Vec<(String, Attr)>,
    /// The project's region, written beside `project_id` when known (from `desktag.toml`).
    pub region: Option<String>,
}

/// The manifest text for `desktops`, sorted by name then id. `ambiguous` holds the computer
/// names several desktops of the project carry (they are selected by id). System tags (`_sys_…`)
/// are left out: desktag never writes them. Desktops with no other tags are listed as comments,
/// since an entry needs at least one tag. Planned against the same inventory, the manifest yields
/// no changes.
pub(crate) fn manifest(
    project_id: &str,
    desktops: &[Desktop],
    shape: &Shape,
    ambiguous: &BTreeSet<String>,
) -> String {
    let mut sorted: Vec<&Desktop> = desktops.iter().collect();
    desktag_core::inventory::sort_by_name(&mut sorted);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Exported by desktag {}: the current tags of {} desktop(s).",
        env!("CARGO_PKG_VERSION"),
        sorted.len()
    );
    let groups: Vec<(Option<&str>, Vec<&Desktop>)> = match &shape.group_by {
        None => vec![(None, sorted)],
        Some(key) => {
            let mut groups: BTreeMap<Option<&str>, Vec<&Desktop>> = BTreeMap::new();
            for d in sorted {
                groups
                    .entry(d.tags.get(key.as_str()).map(|v| v.as_str()))
                    .or_default()
                    .push(d);
            }
            // Desktops without the key come last.
            let mut groups: Vec<_> = groups.into_iter().collect();
            let without = usize::from(groups.first().is_some_and(|g| g.0.is_none()));
            groups.rotate_left(without);
            groups
        }
    };
    for (i, (value, members)) in groups.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "---");
        }
        if let (Some(key), Some(value)) = (&shape.group_by, value) {
            let _ = writeln!(out, "# {}: {}", escape(key, false), escape(value, false));
        } else if let Some(key) = &shape.group_by {
            let _ = writeln!(out, "# without {}", escape(key, false));
        }
        let lift_from = value.and(shape.group_by.as_deref());
        document(&mut out, project_id, members, shape, ambiguous, lift_from);
    }
    out
}

/// One document. With `lift_from` (the group key), the tags every member carries with the same
/// value, except that key, become `defaults`; every entry keeps the group key, so none is empty.
fn document(
    out: &mut String,
    project_id: &str,
    members: &[&Desktop],
    shape: &Shape,
    ambiguous: &BTreeSet<String>,
    lift_from: Option<&str>,
) {
    let own = |d: &Desktop| -> Vec<(CompactString, CompactString)> {
        d.tags
            .iter()
            .filter(|(k, _)| !is_system_key(k))
            .map(|(k, v)| (k.clone(), templated(d, k, v, &shape.templates)))
            .collect()
    };
    let defaults: Vec<(CompactString, CompactString)> = match (lift_from, members.first()) {
        (Some(group_key), Some(first)) => {
            // Compared as written (templated), so `${desktop.user_name}` is shared.
            let all: Vec<Vec<(CompactString, CompactString)>> =
                members.iter().map(|d| own(d)).collect();
            own(first)
                .into_iter()
                .filter(|pair| {
                    pair.0.as_str() != group_key && all.iter().all(|tags| tags.contains(pair))
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "project_id: {}", quote(project_id));
    if let Some(region) = &shape.region {
        let _ = writeln!(out, "region: {}", quote(region));
    }
    if !defaults.is_empty() {
        let _ = writeln!(out, "defaults:");
        for (k, value) in &defaults {
            let _ = writeln!(out, "  {}: {}", key(k), quote(value));
        }
    }
    let tagged = members.iter().any(|d| !own(d).is_empty());
    let _ = writeln!(out, "{}", if tagged { "desktops:" } else { "desktops: []" });
    for desktop in members {
        let tags: Vec<(CompactString, CompactString)> = own(desktop)
            .into_iter()
            .filter(|(k, _)| !defaults.iter().any(|(d, _)| d == k))
            .collect();
        // Comments are raw text: control and layout characters must not reach a terminal or an
        // editor unescaped (a newline would even end the comment).
        let name = escape(&desktop.name, false);
        if own(desktop).is_empty() {
            let _ = writeln!(
                out,
                "  # {name} ({}) has no tags",
                escape(&desktop.id, false)
            );
            continue;
        }
        let by_name = shape.by_name
            && !desktop.name.is_empty()
            && !ambiguous.contains(desktop.name.as_str())
            && !is_name_glob(&desktop.name);
        if by_name {
            let _ = writeln!(out, "  - name: {}", quote(&desktop.name));
        } else {
            let _ = writeln!(out, "  # {name}");
            let _ = writeln!(out, "  - id: {}", quote(&desktop.id));
        }
        let _ = writeln!(out, "    tags:");
        for (k, value) in tags {
            let _ = writeln!(out, "      {}: {}", key(&k), quote(&value));
        }
    }
}

/// `value`, or the template `${desktop.ATTR}` when `--template key=ATTR` names this key and the
/// desktop's attribute has exactly this value.
fn templated(
    d: &Desktop,
    key: &str,
    value: &CompactString,
    templates: &[(String, Attr)],
) -> CompactString {
    for (k, attr) in templates {
        let has = match attr {
            Attr::UserName => d.user.as_deref(),
            Attr::Name => Some(d.name.as_str()),
            Attr::Id => Some(d.id.as_str()),
            Attr::EnterpriseProjectId => d.enterprise_project_id.as_deref(),
        };
        if k == key && !value.is_empty() && has == Some(value.as_str()) {
            return format!("${{desktop.{}}}", attr.as_str()).into();
        }
    }
    value.clone()
}

/// The computer names more than one of `desktops` carries.
pub(crate) fn ambiguous_names(desktops: &[Desktop]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    desktops
        .iter()
        .filter(|d| !seen.insert(d.name.as_str()))
        .map(|d| d.name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desktop(id: &str, name: &str, tags: &[(&str, &str)]) -> Desktop {
        Desktop::new(id, name, tags)
    }

    fn export(desktops: &[Desktop]) -> String {
        manifest("p1", desktops, &Shape::default(), &BTreeSet::new())
    }

    #[test]
    fn exports_sorted_quoted_entries_without_system_tags() {
        let text = export(&[
            desktop("b", "B-1", &[("env", "prod"), ("_sys_x", "1")]),
            desktop(
                "a",
                "A-1",
                &[("cost center", "CC:1"), ("部门", ""), ("n", "007")],
            ),
            desktop("c", "C-1", &[("_sys_only", "1")]),
        ]);
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>().join("\n"),
            "version: 1\nproject_id: \"p1\"\ndesktops:\n  # A-1\n  - id: \"a\"\n    tags:\n      \"cost center\": \"CC:1\"\n      \
             \"n\": \"007\"\n      \"部门\": \"\"\n  # B-1\n  - id: \"b\"\n    tags:\n      env: \"prod\"\n  # C-1 (c) has no tags"
        );
    }

    #[test]
    fn keys_are_plain_where_yaml_reads_them_back_as_written() {
        for plain in ["env", "cost-center", "ops.note", "team_2", "Owner"] {
            assert_eq!(key(plain), plain);
        }
        for quoted in [
            "n", "Yes", "off", "null", "8080", "1e3", "-x", "a b", "a:b", "部门", "",
        ] {
            assert_eq!(key(quoted), quote(quoted), "{quoted}");
        }
    }

    #[test]
    fn control_characters_in_names_are_escaped_in_comments() {
        let text = export(&[
            desktop("a\u{1b}", "x\u{1b}]0;pwned\u{7}\nversion: 2", &[]),
            desktop("b", "\u{202e}evil", &[("k", "v")]),
        ]);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'));
        assert!(
            text.contains("# x\\u{001b}]0;pwned\\u{0007}\\nversion: 2 (a\\u{001b}) has no tags"),
            "{text}"
        );
        assert_eq!(text.matches("version:").count(), 2, "{text}");
    }

    #[test]
    fn no_tagged_desktops_gives_an_empty_list() {
        assert!(export(&[desktop("a", "A", &[])]).contains("desktops: []\n"));
    }

    fn fleet() -> Vec<Desktop> {
        vec![
            desktop(
                "d1",
                "FIN-1",
                &[("env", "prod"), ("cc", "CC-1"), ("owner", "ann")],
            ),
            desktop(
                "d2",
                "FIN-2",
                &[("env", "prod"), ("cc", "CC-1"), ("owner", "bob")],
            ),
            desktop("d3", "DUP", &[("env", "dev"), ("cc", "CC-2")]),
            desktop("d4", "DUP", &[("env", "dev"), ("cc", "CC-2")]),
            desktop("d5", "LAB*", &[("x", "1")]),
        ]
    }

    #[test]
    fn by_name_uses_unique_plain_names_and_ids_elsewhere() {
        let all = fleet();
        let shape = Shape {
            by_name: true,
            ..Shape::default()
        };
        let text = manifest("p", &all, &shape, &ambiguous_names(&all));
        assert!(text.contains("  - name: \"FIN-1\"\n"), "{text}");
        assert!(text.contains("  # DUP\n  - id: \"d3\"\n"), "{text}");
        // A name that looks like a glob would select more than itself.
        assert!(text.contains("  - id: \"d5\"\n"), "{text}");
    }

    #[test]
    fn templates_replace_values_equal_to_the_attribute_and_lift_into_defaults() {
        let mut a = desktop("d1", "A", &[("owner", "ann"), ("env", "dev")]);
        a.user = Some("ann".into());
        let mut b = desktop("d2", "B", &[("owner", "bob"), ("env", "dev")]);
        b.user = Some("bob".into());
        // Carl's owner is not his user: it stays as written.
        let mut c = desktop("d3", "C", &[("owner", "dan"), ("env", "prod")]);
        c.user = Some("carl".into());
        let shape = Shape {
            group_by: Some("env".into()),
            templates: vec![("owner".into(), Attr::UserName)],
            ..Shape::default()
        };
        let text = manifest("p", &[a, b, c], &shape, &BTreeSet::new());
        assert!(
            text.contains("defaults:\n  owner: \"${desktop.user_name}\"\n"),
            "{text}"
        );
        assert!(text.contains("owner: \"dan\""), "{text}");
    }

    #[test]
    fn group_by_writes_a_document_per_value_with_shared_tags_in_defaults() {
        let all = fleet();
        let shape = Shape {
            by_name: true,
            group_by: Some("env".into()),
            ..Shape::default()
        };
        let text = manifest("p", &all, &shape, &ambiguous_names(&all));
        insta::assert_snapshot!(text.lines().skip(1).collect::<Vec<_>>().join("\n"));
    }
}
