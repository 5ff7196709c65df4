//! Rendering plans and reports: text diff, JSON and markdown, always into a writer.
//! Pure formatting: no terminal detection, no environment; the caller decides colour and where
//! the bytes go.

pub mod json;
pub mod markdown;
pub mod text;

mod diff;
mod escape;
#[cfg(test)]
mod samples;

use crate::plan::Summary;
use crate::report::DesktopResult;

/// The one-line plan summary shared by the text and markdown renderers, e.g.
/// `Plan: 3 to create, 1 to overwrite, 0 to delete on 2 desktops; 5 unchanged; 1 blocked.`
pub fn summary_line(summary: &Summary) -> String {
    if summary.changed == 0 && summary.blocked == 0 {
        return "No changes. Desktop tags match the manifests.".to_string();
    }
    format!(
        "Plan: {} to create, {} to overwrite, {} to delete on {} {}; {} unchanged; {} blocked.",
        summary.create,
        summary.overwrite,
        summary.delete,
        summary.changed,
        plural(summary.changed, "desktop", "desktops"),
        summary.unchanged,
        summary.blocked
    )
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `1 to create, 0 to overwrite, 2 to delete` for one desktop's changes.
fn change_counts(changes: &[crate::plan::Change]) -> String {
    let (mut create, mut overwrite, mut delete) = (0, 0, 0);
    for change in changes {
        match change {
            crate::plan::Change::Create { .. } => create += 1,
            crate::plan::Change::Overwrite { .. } => overwrite += 1,
            crate::plan::Change::Delete { .. } => delete += 1,
        }
    }
    format!("{create} to create, {overwrite} to overwrite, {delete} to delete")
}

/// The report status word, as in the JSON document.
fn result_name(status: DesktopResult) -> &'static str {
    match status {
        DesktopResult::Applied => "applied",
        DesktopResult::Failed => "failed",
        DesktopResult::Unverified => "unverified",
        DesktopResult::Unchanged => "unchanged",
        DesktopResult::Blocked => "blocked",
    }
}
