//! Every user-facing text desktag prints: plans and reports (text diff, JSON, markdown), the
//! validation summary, the manifest `export` writes, and the messages of refusals such as a
//! stale plan. Always into a writer or a string. Pure formatting: no terminal detection, no
//! environment; the caller decides colour (through a [`Printer`]) and where the bytes go.

pub(crate) mod check;
pub(crate) mod json;
pub(crate) mod manifest;
pub(crate) mod markdown;
pub(crate) mod messages;
pub(crate) mod text;
pub(crate) mod validation;

mod diff;
mod escape;
#[cfg(test)]
mod samples;

use std::io::{self, Write};

use crate::report::{DesktopResult, Report};
use desktag_core::plan::{Plan, Summary};

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

    /// Writes the plans of a run: one plan as [`Printer::plan`] does, several with their project
    /// headings and a combined summary.
    pub(crate) fn plans(&self, mut w: &mut dyn Write, plans: &[Plan]) -> io::Result<()> {
        if let [one] = plans {
            return self.plan(w, one);
        }
        match self.format {
            Format::Text => text::plans(&mut w, plans, &self.text_style()),
            Format::Json => json::plans(&mut w, plans),
            Format::Markdown => markdown::plans(&mut w, plans),
        }
    }

    /// Writes the reports of a run, like [`Printer::plans`].
    pub(crate) fn reports(&self, mut w: &mut dyn Write, reports: &[Report]) -> io::Result<()> {
        if let [one] = reports {
            return self.report(w, one);
        }
        match self.format {
            Format::Text => text::reports(&mut w, reports, &self.text_style()),
            Format::Json => json::reports(&mut w, reports),
            Format::Markdown => markdown::reports(&mut w, reports),
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
    let (mut create, mut overwrite, mut delete) = (0, 0, 0);
    for change in changes {
        match change {
            desktag_core::plan::Change::Create { .. } => create += 1,
            desktag_core::plan::Change::Overwrite { .. } => overwrite += 1,
            desktag_core::plan::Change::Delete { .. } => delete += 1,
        }
    }
    format!("{create} to create, {overwrite} to overwrite, {delete} to delete")
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
