//! The terminal rendering of plans and reports: per desktop a header and a unified diff of its
//! tags, then one summary line. Colour (ANSI red/green/cyan) only when asked; no terminal
//! detection here.

use std::io::{self, Write};

use super::diff::{desktop_diff, Kind};
use super::escape::{display, quote_key, quote_value};
use super::{change_counts, plural, result_name, summary_line};
use crate::report::{ChangeView, DesktopResult, ErrorInfo, Outcome, Report, Totals, WriteMode};
use desktag_core::plan::{Change, DesktopPlan, DesktopStatus, Plan, Summary};

/// How text is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TextStyle {
    /// Emit ANSI colour codes.
    pub color: bool,
    /// Under each desktop's diff, say where the want behind each change is written.
    pub explain: bool,
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl TextStyle {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// `NAME (id)` for headers.
fn title(name: &str, id: &str) -> String {
    format!("{} ({})", display(name), display(id))
}

/// Writes the plan: the changes by key (when several desktops change), each changed or blocked
/// desktop, then the summary line.
pub(crate) fn plan(w: &mut impl Write, plan: &Plan, style: &TextStyle) -> io::Result<()> {
    key_summary(w, plan, style)?;
    for desktop in &plan.desktops {
        match desktop.status {
            // Unchanged desktops are left out, unless they break an `enforce: warn` policy or,
            // with --explain, are kept as they are by `create_only`.
            DesktopStatus::Unchanged
                if desktop.policy_warnings.is_empty()
                    && (!style.explain || desktop.kept.is_empty()) =>
            {
                continue
            }
            DesktopStatus::Unchanged => {
                let title = title(&desktop.name, &desktop.desktop_id);
                if desktop.policy_warnings.is_empty() {
                    let header = format!("= {title}: unchanged");
                    writeln!(w, "{}", style.paint(BOLD, &header))?;
                } else {
                    writeln!(w, "! {title}: unchanged")?;
                }
                if style.explain {
                    explain_kept(w, desktop)?;
                }
            }
            DesktopStatus::Blocked => blocked(w, desktop, style)?,
            DesktopStatus::Change => changed(w, desktop, style)?,
        }
        for v in &desktop.policy_warnings {
            writeln!(
                w,
                "  warning: breaks the policy (enforce: warn): {}",
                display(v)
            )?;
        }
        writeln!(w)?;
    }
    writeln!(w, "{}", style.paint(BOLD, &summary_line(&plan.summary)))
}

/// `Changes by key:`, then `  cost-center: "CC-4001" -> "CC-0000" on 20 desktops` per line.
fn key_summary(w: &mut impl Write, plan: &Plan, style: &TextStyle) -> io::Result<()> {
    let lines = super::key_summary(plan);
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(w, "{}", style.paint(BOLD, "Changes by key:"))?;
    for line in lines.iter().take(super::KEY_SUMMARY_LINES) {
        let what = match (line.old, line.new) {
            (Some(from), Some(new)) if line.action == "rename" => {
                format!("renamed from {} = {}", quote_key(from), quote_value(new))
            }
            (Some(old), Some(new)) => format!("{} -> {}", quote_value(old), quote_value(new)),
            (None, Some(new)) => format!("create {}", quote_value(new)),
            (Some(old), None) => format!("delete (was {})", quote_value(old)),
            (None, None) => String::new(),
        };
        writeln!(
            w,
            "  {}: {what} on {} {}",
            quote_key(line.key),
            line.desktops,
            plural(line.desktops, "desktop", "desktops")
        )?;
    }
    if lines.len() > super::KEY_SUMMARY_LINES {
        writeln!(w, "  and {} more", lines.len() - super::KEY_SUMMARY_LINES)?;
    }
    writeln!(w)
}

/// Writes the plans of a run over several projects: each under a `== Project … ==` heading,
/// then one line that sums them up.
pub(crate) fn plans(w: &mut impl Write, plans: &[Plan], style: &TextStyle) -> io::Result<()> {
    for p in plans {
        project_section(w, &p.project_id, &p.endpoint, style, |w| plan(w, p, style))?;
    }
    let line = format!(
        "All {} projects: {}",
        plans.len(),
        summary_line(&Summary::total(plans))
    );
    writeln!(w, "{}", style.paint(BOLD, &line))
}

/// One project's part of a run over several: its heading, what `body` writes, a blank line.
fn project_section<W: Write>(
    w: &mut W,
    project_id: &str,
    endpoint: &str,
    style: &TextStyle,
    body: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    let heading = project_heading(project_id, endpoint);
    writeln!(w, "{}\n", style.paint(BOLD, &heading))?;
    body(w)?;
    writeln!(w)
}

/// The projects a run could not plan or apply: each under its heading, with the error.
pub(crate) fn failed_projects(
    w: &mut impl Write,
    failed: &[desktag_core::plan::ProjectFailure],
    style: &TextStyle,
) -> io::Result<()> {
    for f in failed {
        let endpoint = f.endpoint.as_deref().unwrap_or("(no endpoint)");
        project_section(w, &f.project_id, endpoint, style, |w| {
            let line = format!("! failed: {}", display(&f.error));
            writeln!(w, "{}", style.paint(RED, &line))
        })?;
    }
    Ok(())
}

/// `== Project p1 at https://… ==`.
pub(crate) fn project_heading(project_id: &str, endpoint: &str) -> String {
    format!(
        "== Project {} at {} ==",
        display(project_id),
        display(endpoint)
    )
}

fn blocked(w: &mut impl Write, d: &DesktopPlan, style: &TextStyle) -> io::Result<()> {
    let header = format!("! {}: blocked", title(&d.name, &d.desktop_id));
    writeln!(w, "{}", style.paint(RED, &header))?;
    if let Some(reason) = &d.reason {
        writeln!(w, "  {}", display(reason))?;
    }
    Ok(())
}

fn changed(w: &mut impl Write, d: &DesktopPlan, style: &TextStyle) -> io::Result<()> {
    let header = format!(
        "~ {}: {}",
        title(&d.name, &d.desktop_id),
        change_counts(&d.changes)
    );
    writeln!(w, "{}", style.paint(BOLD, &header))?;
    for line in desktop_diff(d) {
        let text = match line.kind {
            Kind::FileHeader => style.paint(BOLD, &line.text),
            Kind::Removed => style.paint(RED, &line.text),
            Kind::Added => style.paint(GREEN, &line.text),
            Kind::Moved => style.paint(CYAN, &line.text),
            Kind::Context => line.text,
        };
        writeln!(w, "{text}")?;
    }
    if style.explain {
        explain(w, d)?;
    }
    Ok(())
}

/// `  why: env = "prod" from teams/fin.yaml:7:7 (name glob)`, one line per change; deletes no
/// manifest asks for are `--prune`'s.
fn explain(w: &mut impl Write, d: &DesktopPlan) -> io::Result<()> {
    for change in d.changes.iter() {
        let key = change.key();
        let why = match d.sources.iter().find(|s| s.key.as_str() == key) {
            Some(s) => format!(
                "{} from {}:{}:{} ({})",
                what_is_wanted(change),
                display(&s.file),
                s.line,
                s.column,
                s.layer.as_str()
            ),
            None if matches!(change, Change::Rename { .. }) => {
                format!("{} by `rename:`", what_is_wanted(change))
            }
            None => format!(
                "{} by --prune: no manifest wants it",
                what_is_wanted(change)
            ),
        };
        writeln!(w, "  why: {why}")?;
    }
    explain_kept(w, d)
}

/// `  kept: owner: create_only, carries "alice"`, for each create-only key the manifests want
/// another value for.
fn explain_kept(w: &mut impl Write, d: &DesktopPlan) -> io::Result<()> {
    for key in &d.kept {
        let carries = d.current.get(key).map(|v| v.as_str()).unwrap_or_default();
        writeln!(
            w,
            "  kept: {}: create_only, carries {}",
            quote_key(key),
            quote_value(carries)
        )?;
    }
    Ok(())
}

/// `env = "prod"`, or `legacy absent`.
fn what_is_wanted(change: &Change) -> String {
    match change {
        Change::Create { key, value } | Change::Overwrite { key, value, .. } => {
            format!("{} = {}", quote_key(key), quote_value(value))
        }
        Change::Delete { key, .. } => format!("{} absent", quote_key(key)),
        Change::Rename {
            from, key, value, ..
        } => format!(
            "{} renamed to {} = {}",
            quote_key(from),
            quote_key(key),
            quote_value(value)
        ),
    }
}

/// One change in words: `create env = "dev"`, `overwrite owner: "it" -> "finance"`,
/// `delete legacy (was "x")`.
pub(crate) fn describe(change: &Change) -> String {
    match change {
        Change::Create { key, value } => {
            format!("create {} = {}", quote_key(key), quote_value(value))
        }
        Change::Overwrite { key, old, value } => format!(
            "overwrite {}: {} -> {}",
            quote_key(key),
            quote_value(old),
            quote_value(value)
        ),
        Change::Delete { key, old } => {
            format!("delete {} (was {})", quote_key(key), quote_value(old))
        }
        Change::Rename {
            from, key, value, ..
        } => format!(
            "rename {} to {} = {}",
            quote_key(from),
            quote_key(key),
            quote_value(value)
        ),
    }
}

/// A failed call: `HTTP 400 WKS.0210: message (request id …)`.
pub(crate) fn describe_error(e: &ErrorInfo) -> String {
    let mut out = match e.status {
        Some(status) => format!("HTTP {status}"),
        None => "transport error".to_string(),
    };
    if let Some(code) = &e.error_code {
        out.push(' ');
        out.push_str(&display(code));
    }
    out.push_str(": ");
    out.push_str(&display(&e.error_msg));
    if let Some(id) = &e.request_id {
        out.push_str(&format!(" (request id {})", display(id)));
    }
    out
}

pub(crate) fn attempts(n: u32) -> String {
    format!("{n} {}", plural(n as usize, "attempt", "attempts"))
}

/// `3 attempts via desktop call`: the attempts of a sent change and the kind of call that wrote
/// it (or failed it last).
pub(crate) fn attempts_via(c: ChangeView<'_>) -> String {
    let via = match c.via {
        Some(WriteMode::Batch) => " via batch call",
        Some(WriteMode::Desktop) => " via desktop call",
        Some(WriteMode::Tag) => " via single tag",
        None => "",
    };
    format!("{}{via}", attempts(c.attempts))
}

/// `Apply: 5 applied, 1 failed, 2 skipped; 1 unverified, 1 blocked; 3 unchanged; 14 requests,
/// 3 retries in 1.23 s.`
pub(crate) fn report_totals_line(report: &Report) -> String {
    totals_line(&report.totals, unchanged(report))
}

/// The totals line of several reports, summed.
pub(crate) fn reports_totals_line(reports: &[Report]) -> String {
    totals_line(&Totals::total(reports), reports.iter().map(unchanged).sum())
}

fn unchanged(report: &Report) -> usize {
    report
        .desktops
        .iter()
        .filter(|d| d.status == DesktopResult::Unchanged)
        .count()
}

fn totals_line(t: &Totals, unchanged: usize) -> String {
    // What was achieved, and the limiter's ceiling beside it: never one read as the other.
    let throttled = match (t.throttled, t.achieved_rate, t.rate_ceiling) {
        (0, None, None) => String::new(),
        (n, Some(achieved), Some(ceiling)) => {
            format!(", {n} throttled, {achieved:.1} requests/s (limiter ceiling {ceiling:.1}/s)")
        }
        (n, Some(achieved), None) => format!(", {n} throttled, {achieved:.1} requests/s"),
        (n, None, _) => format!(", {n} throttled"),
    };
    let ladder = ladder_note(t);
    format!(
        "Apply: {} applied, {} failed, {} skipped; {} unverified, {} blocked; {} unchanged; \
         {} {}, {} {}{throttled}{ladder} in {}.{:03} s.",
        t.applied,
        t.failed,
        t.skipped,
        t.unverified,
        t.blocked,
        unchanged,
        t.requests,
        plural(t.requests as usize, "request", "requests"),
        t.retries,
        plural(t.retries as usize, "retry", "retries"),
        t.duration_ms / 1000,
        t.duration_ms % 1000
    )
}

/// `, 2 batch calls re-sent, 14 bisection calls, 1 fallback (rejected 1)`: what the write
/// ladder did beyond the plain calls; empty when it did nothing.
fn ladder_note(t: &Totals) -> String {
    let mut out = String::new();
    if t.rebatched > 0 {
        let calls = plural(t.rebatched as usize, "batch call", "batch calls");
        out.push_str(&format!(", {} {calls} re-sent", t.rebatched));
    }
    if t.bisected > 0 {
        let calls = plural(t.bisected as usize, "bisection call", "bisection calls");
        out.push_str(&format!(", {} {calls}", t.bisected));
    }
    let f = &t.fallbacks;
    if f.total() > 0 {
        let causes: Vec<String> = [
            ("refused", f.refused),
            ("rejected", f.rejected),
            ("unconfirmed", f.unconfirmed),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(cause, n)| format!("{cause} {n}"))
        .collect();
        let word = plural(f.total() as usize, "fallback", "fallbacks");
        out.push_str(&format!(", {} {word} ({})", f.total(), causes.join(", ")));
    }
    out
}

/// Writes the apply report: one line per desktop that was touched, failed or blocked, with detail
/// for failures and retries only (the plan shown before lists every change), then the totals.
pub(crate) fn report(w: &mut impl Write, report: &Report, style: &TextStyle) -> io::Result<()> {
    let mut listed = false;
    for d in &report.desktops {
        let (mark, color) = match d.status {
            DesktopResult::Unchanged => continue,
            DesktopResult::Applied => ("+", GREEN),
            DesktopResult::Failed | DesktopResult::Unverified | DesktopResult::Blocked => {
                ("!", RED)
            }
        };
        let status = result_name(d.status);
        let applied = d.status == DesktopResult::Applied;
        let header = if applied {
            let n = d.changes.len();
            format!(
                "{mark} {}: {status} {n} {}",
                title(&d.name, &d.desktop_id),
                plural(n, "change", "changes")
            )
        } else {
            format!("{mark} {}: {status}", title(&d.name, &d.desktop_id))
        };
        writeln!(w, "{}", style.paint(color, &header))?;
        if let Some(reason) = &d.reason {
            writeln!(w, "  {}", display(reason))?;
        }
        // The plan above already lists every change: an applied desktop only details the
        // changes that needed retries; a failed or unverified one details them all.
        for c in d.changes.iter().filter(|c| !applied || c.attempts > 1) {
            writeln!(w, "  {}", change_line(c, style))?;
        }
        listed = true;
    }
    if listed {
        writeln!(w)?;
    }
    let color = if report.is_success() { BOLD } else { RED };
    writeln!(w, "{}", style.paint(color, &report_totals_line(report)))
}

/// Writes the reports of a run over several projects: each under a `== Project … ==` heading,
/// then the summed totals.
pub(crate) fn reports(w: &mut impl Write, reports: &[Report], style: &TextStyle) -> io::Result<()> {
    for r in reports {
        project_section(w, &r.project_id, &r.endpoint, style, |w| {
            report(w, r, style)
        })?;
    }
    let line = format!(
        "All {} projects: {}",
        reports.len(),
        reports_totals_line(reports)
    );
    let color = if reports.iter().all(Report::is_success) {
        BOLD
    } else {
        RED
    };
    writeln!(w, "{}", style.paint(color, &line))
}

fn change_line(c: ChangeView<'_>, style: &TextStyle) -> String {
    let (word, color) = match c.outcome {
        Outcome::Applied => ("applied", GREEN),
        Outcome::Failed => ("failed ", RED),
        Outcome::Skipped => ("skipped", CYAN),
    };
    let mut line = format!("{} {}", style.paint(color, word), describe(c.change));
    if c.outcome != Outcome::Skipped {
        line.push_str(&format!(" [{}]", attempts_via(c)));
    }
    if let Some(e) = &c.error {
        line.push_str(": ");
        line.push_str(&describe_error(e));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::samples::{sample_plan, sample_report};

    fn render_plan(p: &Plan, color: bool) -> String {
        let mut out = Vec::new();
        plan(
            &mut out,
            p,
            &TextStyle {
                color,
                explain: false,
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn several_projects_are_headed_and_summed() {
        let first = sample_plan();
        let mut second = sample_plan();
        second.project_id = "fedcba9876543210fedcba9876543210".into();
        second.endpoint = "https://workspace.ap-southeast-1.myhuaweicloud.com/".into();
        let mut out = Vec::new();
        plans(&mut out, &[first.clone(), second], &TextStyle::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let s = &first.summary;
        assert!(
            text.ends_with(&format!(
                "All 2 projects: Plan: {} to create, {} to overwrite, {} to delete on {} desktops; {} unchanged; {} blocked.\n",
                2 * s.create,
                2 * s.overwrite,
                2 * s.delete,
                2 * s.changed,
                2 * s.unchanged,
                2 * s.blocked
            )),
            "{text}"
        );
        insta::assert_snapshot!(text);

        let first = sample_report();
        let mut second = sample_report();
        second.project_id = "fedcba9876543210fedcba9876543210".into();
        second.totals.duration_ms += 500;
        let mut out = Vec::new();
        reports(
            &mut out,
            &[first.clone(), second.clone()],
            &TextStyle::default(),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("== Project ").count(), 2, "{text}");
        let last = text.lines().last().unwrap();
        assert!(
            last.starts_with(&format!(
                "All 2 projects: Apply: {} applied",
                2 * first.totals.applied
            )),
            "{last}"
        );
        // Side by side: the run took as long as its longest project.
        let ms = second.totals.duration_ms;
        assert!(
            last.ends_with(&format!(" in {}.{:03} s.", ms / 1000, ms % 1000)),
            "{last}"
        );
    }

    #[test]
    fn plan_text_without_colour() {
        insta::assert_snapshot!(render_plan(&sample_plan(), false));
    }

    #[test]
    fn plan_text_with_colour() {
        let text = render_plan(&sample_plan(), true);
        assert!(text.contains("\x1b[31m-owner = \"it\"\x1b[0m"), "{text}");
        assert!(
            text.contains("\x1b[32m+owner = \"finance\"\x1b[0m"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let mut p = sample_plan();
        p.desktops.retain(|d| d.status == DesktopStatus::Unchanged);
        p.summary = desktag_core::plan::Summary {
            unchanged: p.desktops.len(),
            ..Default::default()
        };
        p.has_changes = false;
        assert_eq!(
            render_plan(&p, false),
            "No changes. Desktop tags match the manifests.\n"
        );
        assert!(!render_plan(&p, true).contains("\x1b[3"));
    }

    #[test]
    fn report_text_without_colour() {
        let mut out = Vec::new();
        report(
            &mut out,
            &sample_report(),
            &TextStyle {
                color: false,
                explain: false,
            },
        )
        .unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

    #[test]
    fn report_text_with_colour_marks_failures_red() {
        let mut out = Vec::new();
        report(
            &mut out,
            &sample_report(),
            &TextStyle {
                color: true,
                explain: false,
            },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\x1b[31mfailed \x1b[0m"), "{text}");
        insta::assert_snapshot!(text);
    }
}
