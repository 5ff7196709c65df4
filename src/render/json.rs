//! The JSON renderings: the plan document and the report document, pretty-printed
//! with a trailing newline. The types themselves define the shape; this only writes them.

use std::io::{self, Write};

use crate::report::{Report, ReportSet};
use desktag_core::plan::{Plan, PlanSet, ProjectFailure};

/// Writes the plan document of one project: `format_version: 2` has a `projects` list however
/// many projects there are.
pub(crate) fn plan(w: &mut impl Write, plan: &Plan) -> io::Result<()> {
    plans(w, std::slice::from_ref(plan), &[])
}

/// Writes the plan document: the combined summary, then each project's plan, then the projects
/// that failed.
pub(crate) fn plans(
    w: &mut impl Write,
    plans: &[Plan],
    failed: &[ProjectFailure],
) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &PlanSet::with_failures(plans, failed))?;
    writeln!(w)
}

/// Writes the report document: the run's times, the combined totals, then each project's
/// report, then the projects that failed.
pub(crate) fn reports(
    w: &mut impl Write,
    reports: &[Report],
    failed: &[ProjectFailure],
) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &ReportSet::with_failures(reports, failed))?;
    writeln!(w)
}

/// Writes the report document of one project, with its `projects` list like [`reports`].
pub(crate) fn report(w: &mut impl Write, report: &Report) -> io::Result<()> {
    reports(w, std::slice::from_ref(report), &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::samples::{sample_plan, sample_report};

    #[test]
    fn plan_json_is_the_documented_shape_and_round_trips() {
        let p = sample_plan();
        let mut out = Vec::new();
        plan(&mut out, &p).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        let back: PlanSet<Vec<Plan>> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.format_version, 2);
        assert_eq!(back.projects, [p]);
        // The version changes with every release; the snapshot keeps the shape.
        let text = text.replace(env!("CARGO_PKG_VERSION"), "VERSION");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn several_projects_carry_the_combined_summary_and_round_trip() {
        let first = sample_plan();
        let mut second = sample_plan();
        second.project_id = "q".into();
        let both = vec![first, second];
        let mut out = Vec::new();
        plans(&mut out, &both, &[]).unwrap();
        let back: PlanSet<Vec<Plan>> = serde_json::from_slice(&out).unwrap();
        assert_eq!(back.summary, desktag_core::plan::Summary::total(&both));
        assert!(back.has_changes);
        assert_eq!(back.projects, both);

        let reports_in = vec![sample_report(), sample_report()];
        let mut out = Vec::new();
        reports(&mut out, &reports_in, &[]).unwrap();
        let back: ReportSet<Vec<Report>> = serde_json::from_slice(&out).unwrap();
        assert_eq!(back.totals.applied, 2 * reports_in[0].totals.applied);
        assert_eq!(back.totals.rate_ceiling, None);
        assert_eq!(back.projects, reports_in);
    }

    #[test]
    fn report_json_is_the_documented_shape_and_round_trips() {
        let r = sample_report();
        let mut out = Vec::new();
        report(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        let back: ReportSet<Vec<Report>> = serde_json::from_str(&text).unwrap();
        assert_eq!(back.format_version, 2);
        assert_eq!(back.started_at.as_deref(), Some("2026-12-01T09:00:00Z"));
        assert!(back.has_changes);
        assert_eq!(back.projects, [r]);
        let text = text.replace(env!("CARGO_PKG_VERSION"), "VERSION");
        insta::assert_snapshot!(text);
    }
}
