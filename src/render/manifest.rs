//! The manifest `desktag export` prints: desktops' current tags as a version-1 manifest that
//! `validate` accepts and that, planned against the same inventory, yields no changes. Pure:
//! text out, no I/O.

use std::fmt::Write as _;

use super::escape::escape;
use crate::inventory::Desktop;
use crate::tags::{is_system_key, CompactString};

/// A YAML double-quoted scalar. JSON string escapes are valid YAML escapes.
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings always serialise")
}

/// The manifest text for `desktops` (selected by id, sorted by id). System tags (`_sys_…`) are
/// left out: desktag never writes them. Desktops with no other tags are listed as comments, since
/// an entry needs at least one tag.
pub fn manifest(project_id: &str, desktops: &[Desktop]) -> String {
    let mut sorted: Vec<&Desktop> = desktops.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Exported by desktag {}: the current tags of {} desktop(s).",
        env!("CARGO_PKG_VERSION"),
        sorted.len()
    );
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "project_id: {}", quote(project_id));
    let tagged: Vec<&&Desktop> = sorted
        .iter()
        .filter(|d| d.tags.keys().any(|k| !is_system_key(k)))
        .collect();
    if tagged.is_empty() {
        let _ = writeln!(out, "desktops: []");
    } else {
        let _ = writeln!(out, "desktops:");
    }
    for desktop in &sorted {
        let tags: Vec<(&CompactString, &CompactString)> = desktop
            .tags
            .iter()
            .filter(|(k, _)| !is_system_key(k))
            .collect();
        // Comments are raw text: control and layout characters must not reach a terminal or an
        // editor unescaped (a newline would even end the comment).
        let name = escape(&desktop.name, false);
        if tags.is_empty() {
            let _ = writeln!(
                out,
                "  # {name} ({}) has no tags",
                escape(&desktop.id, false)
            );
            continue;
        }
        let _ = writeln!(out, "  # {name}");
        let _ = writeln!(out, "  - id: {}", quote(&desktop.id));
        let _ = writeln!(out, "    tags:");
        for (key, value) in tags {
            let _ = writeln!(out, "      {}: {}", quote(key), quote(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desktop(id: &str, name: &str, tags: &[(&str, &str)]) -> Desktop {
        Desktop::new(id, name, tags)
    }

    #[test]
    fn exports_sorted_quoted_entries_without_system_tags() {
        let text = manifest(
            "p1",
            &[
                desktop("b", "B-1", &[("env", "prod"), ("_sys_x", "1")]),
                desktop(
                    "a",
                    "A-1",
                    &[("cost center", "CC:1"), ("部门", ""), ("n", "007")],
                ),
                desktop("c", "C-1", &[("_sys_only", "1")]),
            ],
        );
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>().join("\n"),
            "version: 1\nproject_id: \"p1\"\ndesktops:\n  # A-1\n  - id: \"a\"\n    tags:\n      \"cost center\": \"CC:1\"\n      \
             \"n\": \"007\"\n      \"部门\": \"\"\n  # B-1\n  - id: \"b\"\n    tags:\n      \"env\": \"prod\"\n  # C-1 (c) has no tags"
        );
    }

    #[test]
    fn control_characters_in_names_are_escaped_in_comments() {
        let text = manifest(
            "p",
            &[
                desktop("a\u{1b}", "x\u{1b}]0;pwned\u{7}\nversion: 2", &[]),
                desktop("b", "\u{202e}evil", &[("k", "v")]),
            ],
        );
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
        assert!(manifest("p", &[desktop("a", "A", &[])]).contains("desktops: []\n"));
    }
}
