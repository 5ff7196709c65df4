//! Every user-facing text desktag prints: plans and reports (text diff, JSON, markdown), the
//! validation summary, the manifest `export` writes, and the messages of refusals such as a
//! stale plan. Always into a writer or a string. Pure formatting: no terminal detection, no
//! environment; the caller decides colour (through a [`Printer`]) and where the bytes go.

pub mod check;
pub mod json;
pub mod manifest;
pub mod markdown;
pub mod messages;
pub mod metrics;
pub mod text;
pub mod validation;

mod diff;
mod escape;
#[cfg(test)]
mod samples;

use std::io::{self, Write};

use crate::report::{DesktopResult, Report};
use desktag_core::plan::{Plan, ProjectFailure, Summary};

/// An output format of plans and reports (`plan --format`, `apply --report-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// How plans and reports are written for one run: the format and whether text is coloured.
/// Built once from the configuration; the commands hand it every plan and report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printer {
    pub format: Format,
    pub color: bool,
    /// Text plans say where each change comes from (`plan --explain`).
    pub explain: bool,
}

impl Printer {
    pub fn new(format: Format, color: bool) -> Printer {
        Printer {
            format,
            color,
            explain: false,
        }
    }

    /// The same printer in another format (colour only applies to text).
    pub fn with_format(self, format: Format) -> Printer {
        Printer { format, ..self }
    }

    /// Writes a plan.
    pub fn plan(&self, mut w: &mut dyn Write, plan: &Plan) -> io::Result<()> {
        match self.format {
            Format::Text => text::plan(&mut w, plan, &self.text_style()),
            Format::Json => json::plan(&mut w, plan),
            Format::Markdown => markdown::plan(&mut w, plan),
        }
    }

    /// Writes the plans of a run: one plan as [`Printer::plan`] does, several with their project
    /// headings and a combined summary.
    pub fn plans(&self, w: &mut dyn Write, plans: &[Plan]) -> io::Result<()> {
        self.plans_of_run(w, plans, &[])
    }

    /// Writes the plans of a run and the projects it could not plan (`failed`).
    pub fn plans_of_run(
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

    /// Writes the reports of a run, like [`Printer::plans`].
    pub fn reports(&self, w: &mut dyn Write, reports: &[Report]) -> io::Result<()> {
        self.reports_of_run(w, reports, &[])
    }

    /// Writes the reports of a run and the projects it could not plan or apply (`failed`).
    pub fn reports_of_run(
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
    pub fn report(&self, mut w: &mut dyn Write, report: &Report) -> io::Result<()> {
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

/// The summary line of a run's plans: [`summary_line`] for one project, the summed line after
/// `All N projects: ` for several.
pub fn plans_summary_line(plans: &[Plan]) -> String {
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
pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
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
