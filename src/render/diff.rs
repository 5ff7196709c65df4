//! One desktop's tags as a diff (built with `similar`): sorted `key = "value"` lines, current →
//! planned, unmanaged keys marked, ignored and system keys shown as context, without hunk
//! headers. Pure.

use std::collections::BTreeSet;

use similar::{ChangeTag, TextDiff};

use super::escape::{quote_key, quote_value};
use desktag_core::plan::{Change, DesktopPlan};
use desktag_core::tags::{is_system_key, CompactString, Tags};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--- current` / `+++ planned`.
    FileHeader,
    Context,
    Removed,
    Added,
    /// `~Owner → owner = "alice"`: a key renamed, on one line after the diff.
    Moved,
}

/// One rendered diff line, without its trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub kind: Kind,
    pub text: String,
}

/// The diff of `desktop`'s tags, current → planned. Empty when nothing changes.
pub(crate) fn desktop_diff(desktop: &DesktopPlan) -> Vec<Line> {
    let mut planned = desktop.planned();
    // A renamed key is one `~` line, not a removed and an added one.
    let mut current = desktop.current.clone();
    let mut moved = Vec::new();
    for change in desktop.changes.iter() {
        if let Change::Rename {
            from, key, value, ..
        } = change
        {
            current.remove(from.as_str());
            planned.remove(key);
            moved.push(Line {
                kind: Kind::Moved,
                text: format!(
                    "~ {} \u{2192} {} = {}",
                    quote_key(from),
                    quote_key(key),
                    quote_value(value)
                ),
            });
        }
    }
    let desktop = &DesktopPlan {
        current,
        ..desktop.clone()
    };
    let unmanaged: BTreeSet<&str> = desktop
        .unmanaged
        .iter()
        .map(CompactString::as_str)
        .collect();
    let ignored: BTreeSet<&str> = desktop.ignored.iter().map(CompactString::as_str).collect();
    let old = tag_lines(&desktop.current, &unmanaged, &ignored);
    let new = tag_lines(&planned, &unmanaged, &ignored);
    if old == new && moved.is_empty() {
        return Vec::new();
    }
    let diff = TextDiff::from_lines(&old, &new);
    let radius = desktop.current.len() + planned.len();
    let mut unified = diff.unified_diff();
    unified.context_radius(radius);
    let mut lines = vec![
        Line {
            kind: Kind::FileHeader,
            text: "--- current".into(),
        },
        Line {
            kind: Kind::FileHeader,
            text: "+++ planned".into(),
        },
    ];
    // The whole tag list is one hunk (every line is context); its `@@ -a,b +c,d @@` header would
    // only be noise for a reviewer.
    for hunk in unified.iter_hunks() {
        for change in hunk.iter_changes() {
            let (kind, sign) = match change.tag() {
                ChangeTag::Equal => (Kind::Context, ' '),
                ChangeTag::Delete => (Kind::Removed, '-'),
                ChangeTag::Insert => (Kind::Added, '+'),
            };
            let value = change.value();
            lines.push(Line {
                kind,
                text: format!("{sign}{}", value.strip_suffix('\n').unwrap_or(value)),
            });
        }
    }
    lines.extend(moved);
    lines
}

fn tag_lines(tags: &Tags, unmanaged: &BTreeSet<&str>, ignored: &BTreeSet<&str>) -> String {
    let mut out = String::new();
    for (key, value) in tags {
        out.push_str(&quote_key(key));
        out.push_str(" = ");
        out.push_str(&quote_value(value));
        if is_system_key(key) {
            out.push_str("  # system");
        } else if ignored.contains(key.as_str()) {
            out.push_str("  # ignored");
        } else if unmanaged.contains(key.as_str()) {
            out.push_str("  # unmanaged");
        }
        out.push('\n');
    }
    out
}
