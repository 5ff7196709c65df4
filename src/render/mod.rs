//! Every user-facing text desktag prints: plans and reports (text diff, JSON, markdown), the
//! validation summary, the manifest `export` writes, and the messages of refusals such as a
//! stale plan. Always into a writer or a string. Pure formatting: no terminal detection, no
//! environment; the caller decides colour (through a [`Printer`]) and where the bytes go.

pub(crate) mod check;
pub(crate) mod doctor;
pub(crate) mod json;
pub(crate) mod manifest;
pub(crate) mod markdown;
pub(crate) mod messages;
pub(crate) mod metrics;
pub(crate) mod text;
pub(crate) mod validation;

mod diff;
mod escape;
#[cfg(test)]
mod samples;

use std::io::{self, Write};

use crate::report::{DesktopResult, Report};
use desktag_core::plan::{Plan, ProjectFailure, Summary};

/// An output format of plans and reports (`plan --format`, `apply --report-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Markdown,
}

/// How plans and reports are written for one run: the format and whether text is coloured.
/// Built once from the configuration; the commands hand it every plan and report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Printer {
    pub format: Format,
    pub color: bool,
    /// Text plans say where each change comes from (`plan --explain`).
    pub explain: bool,
}

impl Printer {
    pub(crate) fn new(format: Format, color: bool) -> Printer {
        Printer {
            format,
            color,
            explain: false,
        }
    }

    /// Writes a plan.
    pub(crate) fn plan(&self, mut w: &mut dyn Write, plan: &Plan) -> io::Result<()> {
        match self.format {
            Format::Text => text::plan(&mut w, plan, &self.text_style()),
            Format::Json => json::plan(&mut w, plan),
            Format::Markdown => markdown::plan(&mut w, plan),
        }
    }

    /// Writes the plans of a run and the projects it could not plan (`failed`): one plan as
    /// [`Printer::plan`] does, several with their project headings and a combined summary.
    pub(crate) fn plans_of_run(
        &self,
        mut w: &mut dyn Write,
        plans: &[Plan],
        failed: &[ProjectFailure],
    ) -> io::Result<()> {
        if let ([one], []) = (plans, failed) {
            return self.plan(w, one);
        }
        match self.format {
            Format::Text => text::plans(&mut w, plans, &self.text_style())?,
            Format::Json => return json::plans(&mut w, plans, failed),
            Format::Markdown => markdown::plans(&mut w, plans)?,
        }
        self.failed_projects(w, failed)
    }

    /// Writes the reports of a run and the projects it could not plan or apply (`failed`).
    pub(crate) fn reports_of_run(
        &self,
        mut w: &mut dyn Write,
        reports: &[Report],
        failed: &[ProjectFailure],
    ) -> io::Result<()> {
        if let ([one], []) = (reports, failed) {
            return self.report(w, one);
        }
        match self.format {
            Format::Text => text::reports(&mut w, reports, &self.text_style())?,
            Format::Json => return json::reports(&mut w, reports, failed),
            Format::Markdown => markdown::reports(&mut w, reports)?,
        }
        self.failed_projects(w, failed)
    }

    /// After the projects of a run (text and markdown), the ones that failed, each with why.
    fn failed_projects(&self, mut w: &mut dyn Write, failed: &[ProjectFailure]) -> io::Result<()> {
        match self.format {
            Format::Text => text::failed_projects(&mut w, failed, &self.text_style()),
            Format::Markdown => markdown::failed_projects(&mut w, failed),
            Format::Json => Ok(()),
        }
    }

    /// Writes an apply report.
    pub(crate) fn report(&self, mut w: &mut dyn Write, report: &Report) -> io::Result<()> {
        match self.format {
            Format::Text => text::report(&mut w, report, &self.text_style()),
            Format::Json => json::report(&mut w, report),
            Format::Markdown => markdown::report(&mut w, report),
        }
    }

    fn text_style(&self) -> text::TextStyle {
        text::TextStyle {
            color: self.color && self.format == Format::Text,
            explain: self.explain,
        }
    }
}

/// The one-line plan summary shared by the text and markdown renderers, e.g.
/// `Plan: 3 to create, 1 to overwrite, 0 to delete on 2 desktops; 5 unchanged; 1 blocked.`
pub(crate) fn summary_line(summary: &Summary) -> String {
    let warned = match summary.policy_warnings {
        0 => String::new(),
        n => format!(
            " {n} {} an `enforce: warn` policy.",
            plural(n, "desktop breaks", "desktops break")
        ),
    };
    if summary.changed == 0 && summary.blocked == 0 {
        return format!("No changes. Desktop tags match the manifests.{warned}");
    }
    let renamed = match summary.rename {
        0 => String::new(),
        n => format!(", {n} to rename"),
    };
    format!(
        "Plan: {} to create, {} to overwrite, {} to delete{renamed} on {} {}; {} unchanged; {} blocked.{warned}",
        summary.create,
        summary.overwrite,
        summary.delete,
        summary.changed,
        plural(summary.changed, "desktop", "desktops"),
        summary.unchanged,
        summary.blocked
    )
}

/// The summary line of a run's plans: [`summary_line`] for one project, the summed line after
/// `All N projects: ` for several.
pub(crate) fn plans_summary_line(plans: &[Plan]) -> String {
    match plans {
        [one] => summary_line(&one.summary),
        _ => format!(
            "All {} projects: {}",
            plans.len(),
            summary_line(&Summary::total(plans))
        ),
    }
}

/// One line of the per-key summary: the same change of one key on `desktops` desktops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyChange<'p> {
    pub key: &'p str,
    /// `create`, `overwrite`, `delete` or `rename`.
    pub action: &'static str,
    /// The value before (overwrite, delete); for a rename, the key it moves from.
    pub old: Option<&'p str>,
    /// The value after (create, overwrite).
    pub new: Option<&'p str>,
    pub desktops: usize,
}

/// Lines of the per-key summary shown at most; the rest is counted.
pub(crate) const KEY_SUMMARY_LINES: usize = 20;

/// The plan's changes grouped by key and by what happens to it (`cost-center`: "CC-4001" →
/// "CC-0000" on 20 desktops), sorted by key, then by the number of desktops (most first). Empty
/// when fewer than two desktops change: their diffs say it as shortly.
pub(crate) fn key_summary(plan: &Plan) -> Vec<KeyChange<'_>> {
    use desktag_core::plan::Change;
    if plan.summary.changed < 2 {
        return Vec::new();
    }
    // (key, action, old, new) → desktops.
    type Group<'p> = (&'p str, &'static str, Option<&'p str>, Option<&'p str>);
    let mut groups: std::collections::BTreeMap<Group<'_>, usize> = Default::default();
    for change in plan.desktops.iter().flat_map(|d| d.changes.iter()) {
        let key = match change {
            Change::Create { key, value } => (key.as_str(), "create", None, Some(value.as_str())),
            Change::Overwrite { key, old, value } => (
                key.as_str(),
                "overwrite",
                Some(old.as_str()),
                Some(value.as_str()),
            ),
            Change::Delete { key, old } => (key.as_str(), "delete", Some(old.as_str()), None),
            // A move: `old` is the key it moves from.
            Change::Rename {
                from, key, value, ..
            } => (
                key.as_str(),
                "rename",
                Some(from.as_str()),
                Some(value.as_str()),
            ),
        };
        *groups.entry(key).or_default() += 1;
    }
    let mut lines: Vec<KeyChange<'_>> = groups
        .into_iter()
        .map(|((key, action, old, new), desktops)| KeyChange {
            key,
            action,
            old,
            new,
            desktops,
        })
        .collect();
    lines.sort_by(|a, b| a.key.cmp(b.key).then(b.desktops.cmp(&a.desktops)));
    lines
}

/// `one` or `many` by count: `plural(n, "desktop", "desktops")`.
pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `1 to create, 0 to overwrite, 2 to delete` for one desktop's changes.
fn change_counts(changes: &[desktag_core::plan::Change]) -> String {
    let (mut create, mut overwrite, mut delete, mut rename) = (0, 0, 0, 0);
    for change in changes {
        match change {
            desktag_core::plan::Change::Create { .. } => create += 1,
            desktag_core::plan::Change::Overwrite { .. } => overwrite += 1,
            desktag_core::plan::Change::Delete { .. } => delete += 1,
            desktag_core::plan::Change::Rename { .. } => rename += 1,
        }
    }
    let renamed = match rename {
        0 => String::new(),
        n => format!(", {n} to rename"),
    };
    format!("{create} to create, {overwrite} to overwrite, {delete} to delete{renamed}")
}

/// The word for a unit enum value, as in the JSON document: the name serde gives it (its
/// `#[serde(rename_all)]` is the one definition of these words).
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        other => unreachable!("a unit variant serializes as a string, not {other:?}"),
    }
}

/// The report status word, as in the JSON document.
fn result_name(status: DesktopResult) -> String {
    word(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use desktag_core::plan::{Change, DesktopPlan, DesktopStatus};

    fn moved(id: &str, from: &str) -> DesktopPlan {
        DesktopPlan {
            desktop_id: id.into(),
            name: id.into(),
            status: DesktopStatus::Change,
            reason: None,
            reason_kind: None,
            current: [("cost-center".into(), from.into())].into_iter().collect(),
            changes: vec![Change::Overwrite {
                key: "cost-center".into(),
                old: from.into(),
                value: "CC-0000".into(),
            }]
            .into(),
            unmanaged: vec![],
            ignored: vec![],
            kept: vec![],
            sources: Default::default(),
            policy_warnings: vec![],
        }
    }

    #[test]
    fn a_deleted_department_file_reads_as_one_line_per_key() {
        let mut plan = samples::sample_plan();
        plan.desktops = (0..20)
            .map(|i| moved(&format!("d{i:02}"), "CC-4001"))
            .chain([moved("e1", "CC-5001")])
            .collect();
        plan.summary = desktag_core::plan::Summary::of(&plan.desktops);
        let lines = key_summary(&plan);
        assert_eq!(
            lines,
            [
                KeyChange {
                    key: "cost-center",
                    action: "overwrite",
                    old: Some("CC-4001"),
                    new: Some("CC-0000"),
                    desktops: 20
                },
                KeyChange {
                    key: "cost-center",
                    action: "overwrite",
                    old: Some("CC-5001"),
                    new: Some("CC-0000"),
                    desktops: 1
                },
            ]
        );
        let mut text = Vec::new();
        Printer::new(Format::Text, false)
            .plan(&mut text, &plan)
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.starts_with(
                "Changes by key:\n  cost-center: \"CC-4001\" -> \"CC-0000\" on 20 desktops\n"
            ),
            "{text}"
        );
        let mut md = Vec::new();
        Printer::new(Format::Markdown, false)
            .plan(&mut md, &plan)
            .unwrap();
        let md = String::from_utf8(md).unwrap();
        let summary = md
            .find("- `cost-center`: `CC-4001` → `CC-0000` on 20 desktops")
            .unwrap();
        assert!(summary < md.find("<details>").unwrap(), "above the diffs");
        // One desktop: its diff says it; no summary.
        plan.desktops.truncate(1);
        plan.summary = desktag_core::plan::Summary::of(&plan.desktops);
        assert!(key_summary(&plan).is_empty());
    }
}
