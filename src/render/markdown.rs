//! PR-comment markdown: a hidden `<!-- desktag:plan project=… -->` marker (so CI can update one
//! sticky comment in place), a `## Plan` heading with the project (naming blocked desktops), a
//! warning when tags
//! will be deleted, a summary table, each desktop's diff in a ```` ```diff ```` block (folded in
//! `<details>` when longer than 12 lines, or all of them past 10 desktops), and the whole comment kept under 60,000 characters
//! by leaving out desktops with a note — never the summary. Pure formatting.

use std::io::{self, Write};

use super::diff::desktop_diff;
use super::escape::{display, fence, html, markdown as md, markdown_name, markdown_with_code};
use super::text::{attempts_via, describe, describe_error, report_totals_line};
use super::{change_counts, plural, result_name, summary_line};
use crate::report::{DesktopReport, DesktopResult, Outcome, Report};
use desktag_core::plan::{Change, DesktopPlan, DesktopStatus, Plan};

/// The comment stays under this many characters (GitHub refuses comments over 65,536).
pub(crate) const MAX_COMMENT_CHARS: usize = 60_000;
/// Diffs longer than this many lines are folded in `<details>`.
pub(crate) const FOLD_LINES: usize = 12;
/// With more changed desktops than this, every diff is folded: the comment reads as the summary
/// table and one line per desktop.
pub(crate) const FOLD_ALL_OVER: usize = 10;

/// Writes the plan as a PR comment.
pub(crate) fn plan(w: &mut impl Write, plan: &Plan) -> io::Result<()> {
    plan_within(
        w,
        plan,
        MAX_COMMENT_CHARS,
        &marker("plan", &plan.project_id),
    )
}

/// The changes by key, a list above the per-desktop diffs, so a deleted department file reads
/// as one line (`- `cost-center`: CC-4001 → CC-0000 on 20 desktops`), not 20 folded diffs.
fn key_summary(plan: &Plan) -> String {
    let lines = super::key_summary(plan);
    if lines.is_empty() {
        return String::new();
    }
    let value = |v: &str| format!("`{}`", super::escape::display(v).replace('`', "'"));
    let mut out = String::from("\n**Changes by key**\n\n");
    for line in lines.iter().take(super::KEY_SUMMARY_LINES) {
        let what = match (line.old, line.new) {
            (Some(from), Some(new)) if line.action == "rename" => {
                format!("renamed from {} = {}", value(from), value(new))
            }
            (Some(old), Some(new)) => format!("{} → {}", value(old), value(new)),
            (None, Some(new)) => format!("created as {}", value(new)),
            (Some(old), None) => format!("deleted (was {})", value(old)),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "- {}: {what} on {} {}\n",
            value(line.key),
            line.desktops,
            plural(line.desktops, "desktop", "desktops")
        ));
    }
    if lines.len() > super::KEY_SUMMARY_LINES {
        out.push_str(&format!(
            "- and {} more\n",
            lines.len() - super::KEY_SUMMARY_LINES
        ));
    }
    out
}

/// The projects a run could not plan or apply, one line each with the error.
pub(crate) fn failed_projects(
    w: &mut impl Write,
    failed: &[desktag_core::plan::ProjectFailure],
) -> io::Result<()> {
    for f in failed {
        writeln!(
            w,
            "**Project {} failed:** {}\n",
            markdown_name(&f.project_id),
            md(&f.error)
        )?;
    }
    Ok(())
}

/// Writes the plans of a run over several projects as one PR comment: one marker naming every
/// project, a line that sums them up, then each project's section, each within an equal share
/// of the length limit.
pub(crate) fn plans(w: &mut impl Write, plans: &[Plan]) -> io::Result<()> {
    let totals = summary_line(&desktag_core::plan::Summary::total(plans));
    several(
        w,
        "plan",
        plans,
        |p| &p.project_id,
        &totals,
        |w, p, limit| plan_within(w, p, limit, ""),
    )
}

/// One comment for several projects: a marker naming them all, the summed `totals`, then each
/// project's section written by `within` under an equal share of the limit.
fn several<W: Write, T>(
    w: &mut W,
    kind: &str,
    items: &[T],
    project_id: fn(&T) -> &String,
    totals: &str,
    within: impl Fn(&mut W, &T, usize) -> io::Result<()>,
) -> io::Result<()> {
    let ids: Vec<&str> = items.iter().map(|i| project_id(i).as_str()).collect();
    let head = format!(
        "{}**All {} projects: {totals}**\n\n",
        marker(kind, &ids.join(",")),
        items.len()
    );
    w.write_all(head.as_bytes())?;
    let share = (MAX_COMMENT_CHARS - head.len()) / items.len().max(1);
    for item in items {
        within(w, item, share)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// The plan's comment, starting with `marker` (empty inside a comment of several projects),
/// under `limit` characters.
fn plan_within(w: &mut impl Write, plan: &Plan, limit: usize, marker: &str) -> io::Result<()> {
    let s = &plan.summary;
    let mut head = marker.to_string();
    head.push_str(&format!(
        "## Plan{}{}\n\n",
        project(&plan.project_id),
        blocked_note(s.blocked)
    ));
    if s.delete > 0 {
        let on = plan
            .desktops
            .iter()
            .filter(|d| d.changes.iter().any(|c| matches!(c, Change::Delete { .. })))
            .count();
        head.push_str(&format!(
            "> [!WARNING]\n> This plan deletes {} {} on {on} {}.\n\n",
            s.delete,
            plural(s.delete, "tag", "tags"),
            plural(on, "desktop", "desktops")
        ));
    }
    head.push_str("| Create | Overwrite | Delete | Changed | Unchanged | Blocked |\n");
    head.push_str("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
    head.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} |\n\n",
        s.create, s.overwrite, s.delete, s.changed, s.unchanged, s.blocked
    ));
    head.push_str(&format!("**{}**\n", summary_line(s)));
    head.push_str(&key_summary(plan));

    // Blocked desktops first: they need a person's attention.
    let mut sections: Vec<String> = plan
        .desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Blocked)
        .map(blocked_section)
        .collect();
    let fold_all = plan.summary.changed > FOLD_ALL_OVER;
    sections.extend(
        plan.desktops
            .iter()
            .filter(|d| d.status == DesktopStatus::Change)
            .map(|d| change_section(d, fold_all)),
    );
    let desktops = sections.len();
    // The resolution's warnings, then what breaks an `enforce: warn` policy, per desktop.
    let mut warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    for d in &plan.desktops {
        for v in &d.policy_warnings {
            warnings.push(format!(
                "{} ({}): breaks the policy (enforce: warn): {}",
                display(&d.name),
                display(&d.desktop_id),
                display(v)
            ));
        }
    }
    if !warnings.is_empty() {
        sections.push(warnings_section(&warnings));
    }
    w.write_all(fit(head, sections, desktops, limit, "desktag plan").as_bytes())
}

/// Joins `head` and as many whole `sections` as fit under `limit` characters; when some are
/// left out, a note says how many (of the first `desktops` sections, which are desktops).
fn fit(
    head: String,
    sections: Vec<String>,
    desktops: usize,
    limit: usize,
    command: &str,
) -> String {
    let mut out = head;
    let extra = sections.len() - desktops;
    let note = |left: usize| {
        let what = if left == 0 {
            "The warnings are not shown".to_string()
        } else {
            format!(
                "{left} of the {desktops} {} {} not shown{}",
                plural(desktops, "desktop", "desktops"),
                if left == 1 { "is" } else { "are" },
                if extra > 0 { " (nor the warnings)" } else { "" }
            )
        };
        format!(
            "\n> [!NOTE]\n> {what}, to keep this comment under {limit} characters. \
             Run `{command}` for the full output.\n"
        )
    };
    let total = sections.len();
    for (i, section) in sections.into_iter().enumerate() {
        let left_after = desktops.saturating_sub(i + 1);
        let reserve = if i + 1 < total {
            note(left_after).len()
        } else {
            0
        };
        if out.len() + 1 + section.len() + reserve > limit {
            out.push_str(&note(desktops.saturating_sub(i)));
            return out;
        }
        out.push('\n');
        out.push_str(&section);
    }
    out
}

/// The hidden first line that identifies desktag's comment for `kind` and project, e.g.
/// `<!-- desktag:plan project=abc -->`. Nothing in it can close the comment early.
pub(crate) fn marker(kind: &str, project_id: &str) -> String {
    let id = html(project_id).replace("--", "-\u{2060}-");
    format!("<!-- desktag:{kind} project={id} -->\n")
}

/// ` for `abc`` for a heading, or nothing for an unknown project.
fn project(project_id: &str) -> String {
    if project_id.is_empty() {
        String::new()
    } else {
        format!(" for `{}`", md(project_id).replace('`', "'"))
    }
}

/// `: 1 desktop blocked` for a heading, or nothing.
fn blocked_note(blocked: usize) -> String {
    if blocked == 0 {
        String::new()
    } else {
        format!(
            ": {blocked} {} blocked",
            plural(blocked, "desktop", "desktops")
        )
    }
}

fn heading(d: &DesktopPlan) -> String {
    format!(
        "{} (`{}`)",
        markdown_name(&d.name),
        md(&d.desktop_id).replace('`', "'")
    )
}

fn blocked_section(d: &DesktopPlan) -> String {
    format!(
        "#### Blocked: {}\n\n{}\n",
        heading(d),
        markdown_with_code(d.reason.as_deref().unwrap_or("blocked"))
    )
}

fn change_section(d: &DesktopPlan, fold_all: bool) -> String {
    let lines = desktop_diff(d);
    let body: String = lines.iter().map(|l| format!("{}\n", l.text)).collect();
    let fence = fence(&body);
    let block = format!("{fence}diff\n{body}{fence}\n");
    let counts = change_counts(&d.changes);
    if fold_all || lines.len() > FOLD_LINES {
        format!(
            "<details><summary>{} ({}): {counts} ({} diff lines)</summary>\n\n{block}\n</details>\n",
            html(&d.name),
            html(&d.desktop_id),
            lines.len()
        )
    } else {
        format!("#### {}: {counts}\n\n{block}", heading(d))
    }
}

fn warnings_section(warnings: &[String]) -> String {
    let body: String = warnings.iter().map(|w| format!("{w}\n")).collect();
    let fence = fence(&body);
    format!(
        "<details><summary>{} {}</summary>\n\n{fence}text\n{body}{fence}\n\n</details>\n",
        warnings.len(),
        plural(warnings.len(), "warning", "warnings")
    )
}

/// Writes the apply report as a PR comment.
pub(crate) fn report(w: &mut impl Write, report: &Report) -> io::Result<()> {
    report_within(
        w,
        report,
        MAX_COMMENT_CHARS,
        &marker("apply", &report.project_id),
    )
}

/// Writes the reports of a run over several projects as one PR comment, like [`plans`].
pub(crate) fn reports(w: &mut impl Write, reports: &[Report]) -> io::Result<()> {
    let totals = super::text::reports_totals_line(reports);
    several(
        w,
        "apply",
        reports,
        |r| &r.project_id,
        &totals,
        |w, r, limit| report_within(w, r, limit, ""),
    )
}

/// The report's comment, starting with `marker`, under `limit` characters (as [`plan_within`]).
fn report_within(
    w: &mut impl Write,
    report: &Report,
    limit: usize,
    marker: &str,
) -> io::Result<()> {
    let t = &report.totals;
    let mut head = marker.to_string();
    // "failed" only when a change failed or could not be verified; blocked desktops are named
    // but do not make an otherwise complete apply a failure.
    let failed = report
        .desktops
        .iter()
        .any(|d| matches!(d.status, DesktopResult::Failed | DesktopResult::Unverified));
    if failed {
        head.push_str(&format!(
            "## Apply failed{}\n\n",
            project(&report.project_id)
        ));
    } else {
        head.push_str(&format!(
            "## Apply{}{}\n\n",
            project(&report.project_id),
            blocked_note(t.blocked)
        ));
    }
    head.push_str(
        "| Applied | Failed | Skipped | Unverified | Blocked | Requests | Retries | Duration |\n",
    );
    head.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    head.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} | {} | {}.{:03} s |\n\n",
        t.applied,
        t.failed,
        t.skipped,
        t.unverified,
        t.blocked,
        t.requests,
        t.retries,
        t.duration_ms / 1000,
        t.duration_ms % 1000
    ));
    head.push_str(&format!("**{}**\n", report_totals_line(report)));

    // Problems first, then what was applied.
    let mut shown: Vec<&DesktopReport> = report
        .desktops
        .iter()
        .filter(|d| d.status != DesktopResult::Unchanged)
        .collect();
    shown.sort_by_key(|d| (d.status == DesktopResult::Applied, d.desktop_id.as_str()));
    let sections: Vec<String> = shown.into_iter().map(report_section).collect();
    let desktops = sections.len();
    w.write_all(
        fit(
            head,
            sections,
            desktops,
            limit,
            "desktag apply --report-format markdown",
        )
        .as_bytes(),
    )
}

fn report_section(d: &DesktopReport) -> String {
    let mut out = format!(
        "#### {} (`{}`): {}\n",
        markdown_name(&d.name),
        md(&d.desktop_id).replace('`', "'"),
        result_name(d.status)
    );
    if let Some(reason) = &d.reason {
        out.push_str(&format!("\n{}\n", markdown_with_code(reason)));
    }
    if !d.changes.is_empty() {
        out.push_str("\n| Outcome | Change | Attempts | Error |\n| --- | --- | ---: | --- |\n");
        for c in d.changes.iter() {
            let outcome = match c.outcome {
                Outcome::Failed => format!("**{}**", super::word(&c.outcome)),
                Outcome::Applied | Outcome::Skipped => super::word(&c.outcome),
            };
            let error = c.error.map(describe_error).unwrap_or_default();
            out.push_str(&format!(
                "| {outcome} | {} | {} | {} |\n",
                md(&describe(c.change)),
                if c.outcome == Outcome::Skipped {
                    "-".to_string()
                } else {
                    attempts_via(c)
                },
                md(&error)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::samples::{sample_plan, sample_report};
    use desktag_core::inventory::{Desktop, Inventory};
    use desktag_core::plan::{KeyRules, Policy, Wanted};

    fn render(p: &Plan, limit: usize) -> String {
        let mut out = Vec::new();
        plan_within(&mut out, p, limit, &marker("plan", &p.project_id)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plan_markdown_with_blocked_deletes_folding_and_warnings() {
        let text = render(&sample_plan(), MAX_COMMENT_CHARS);
        assert!(
            text.starts_with("<!-- desktag:plan project="),
            "a hidden marker first: {text}"
        );
        assert!(text.contains("\n## Plan for `"), "{text}");
        assert!(text.contains("`: 2 desktops blocked\n"), "{text}");
        assert!(
            text.contains("<details><summary>ENG-LAP-001"),
            "the long diff is folded"
        );
        assert!(
            !text.contains("<details><summary>FIN-WKS-001"),
            "short diffs are not"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn empty_plan_markdown() {
        let mut p = sample_plan();
        p.desktops.retain(|d| d.status == DesktopStatus::Unchanged);
        p.summary = desktag_core::plan::Summary {
            unchanged: 1,
            ..Default::default()
        };
        p.has_changes = false;
        p.warnings.clear();
        insta::assert_snapshot!(render(&p, MAX_COMMENT_CHARS));
    }

    #[test]
    fn truncation_keeps_the_summary_and_notes_what_is_left_out() {
        insta::assert_snapshot!(render(&sample_plan(), 1500));
    }

    #[test]
    fn a_huge_plan_stays_under_the_comment_limit() {
        let inventory: Inventory = (0..5000)
            .map(|i| Desktop {
                id: format!("id-{i:05}"),
                name: format!("WKS-{i}").into(),
                user: None,
                enterprise_project_id: None,
                status: "ACTIVE".into(),
                tags: desktag_core::tags::Tags::from([("owner".into(), "it".into())]),
            })
            .collect();
        let wanted: Vec<Wanted> = inventory
            .iter()
            .map(|d| Wanted {
                desktop_id: d.id.clone(),
                tags: desktag_core::tags::Tags::from([("owner".into(), "finance".into())]).into(),
                absent: Default::default(),
                sources: Default::default(),
            })
            .collect();
        let p = desktag_core::plan::plan(
            &wanted,
            &inventory,
            &Policy::default(),
            &KeyRules::default(),
            "p",
            "e",
        );
        let text = render(&p, MAX_COMMENT_CHARS);
        assert!(text.chars().count() < MAX_COMMENT_CHARS, "{}", text.len());
        assert!(text.contains("| 0 | 5000 | 0 | 5000 | 0 | 0 |"));
        assert!(
            text.contains("desktops are not shown, to keep this comment under 60000 characters"),
            "{text}"
        );
        // Past 10 desktops every diff is folded into `<details>`.
        let shown = text.matches("<details><summary>").count();
        assert!(shown > 100, "{shown}");
        let note = format!("> {} of the 5000 desktops are not shown", 5000 - shown);
        assert!(text.contains(&note), "{note}");
    }

    #[test]
    fn report_markdown() {
        let mut out = Vec::new();
        report(&mut out, &sample_report()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\n## Apply failed for `"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_apply_with_only_blocked_desktops_is_not_called_failed() {
        let mut r = sample_report();
        r.desktops
            .retain(|d| matches!(d.status, DesktopResult::Applied | DesktopResult::Blocked));
        let blocked = r
            .desktops
            .iter()
            .filter(|d| d.status == DesktopResult::Blocked)
            .count();
        assert!(blocked > 0, "the sample has a blocked desktop");
        r.totals.blocked = blocked;
        let mut out = Vec::new();
        report(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Apply failed"), "{text}");
        assert!(text.contains(&format!("`: {blocked} desktop")), "{text}");
    }

    #[test]
    fn the_marker_cannot_be_closed_by_a_project_id() {
        assert_eq!(marker("plan", "p1"), "<!-- desktag:plan project=p1 -->\n");
        let hostile = marker("plan", "x--><b>");
        assert_eq!(hostile.matches("-->").count(), 1, "{hostile}");
    }

    #[test]
    fn report_markdown_truncated() {
        let mut out = Vec::new();
        let r = sample_report();
        report_within(&mut out, &r, 1200, &marker("apply", &r.project_id)).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }
}
