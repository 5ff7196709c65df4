//! `desktag plan`: read manifests and the inventory, plan, render; never writes to the service.

use crate::config;
use crate::error::{Error, RunTally, Status};
use crate::render::metrics::ProjectMetrics;
use crate::render::{self, messages, Format};
use desktag_core::inventory::Named;
use desktag_core::plan::{self, saved, Plan, Summary};

use super::{github, output, session};

pub(super) async fn run(config: &config::Plan) -> Result<Status, Error> {
    let mut projects = Vec::new();
    let outcome = execute(config, &mut projects).await;
    super::observe::finish("plan", &config.observe, projects, &outcome).await;
    outcome
}

/// What one project's plan counts in the metrics.
pub(super) fn plan_metrics(plan: &Plan, requests: u64) -> ProjectMetrics {
    let s = &plan.summary;
    ProjectMetrics {
        project_id: plan.project_id.clone(),
        up: true,
        drift: s.create + s.overwrite + s.delete,
        blocked: s.blocked,
        requests,
        ..ProjectMetrics::default()
    }
}

/// A project that could not be planned, in the metrics.
pub(super) fn failed_metrics(failed: &plan::ProjectFailure) -> ProjectMetrics {
    ProjectMetrics {
        project_id: failed.project_id.clone(),
        up: false,
        ..ProjectMetrics::default()
    }
}

async fn execute(
    config: &config::Plan,
    projects: &mut Vec<ProjectMetrics>,
) -> Result<Status, Error> {
    if let Some(path) = &config.out {
        output::check_writable(path)?;
    }
    github::check()?;
    let (plans, failed): (Vec<Plan>, _) = match session::plan_from(&config.planning).await? {
        Ok(run) => {
            for p in &run.planned {
                projects.push(plan_metrics(&p.plan, p.session.client.stats().requests));
            }
            projects.extend(run.failed.iter().map(failed_metrics));
            (
                run.planned.into_iter().map(|p| p.plan).collect(),
                run.failed,
            )
        }
        Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
    };
    if !config.silent {
        output::stdout(|out| config.printer.plans_of_run(out, &plans, &failed))?;
    }
    // Over a limit: shown for review, but not saved, so it cannot be applied as it is.
    if let Some(why) = over_limits(&plans, &config.planning.limits) {
        return Ok(Status::Failed(why));
    }
    // A project is missing: the plan is not the whole run's, so it is not saved either.
    if !failed.is_empty() {
        if let Some(path) = &config.out {
            tracing::error!(path = %path.display(), "not saving the plan: a project failed");
        }
    } else if let Some(path) = &config.out {
        let key = super::apply::plan_key();
        output::write_atomic_with(path, |w| saved::write_all_json(w, &plans, key.as_ref()))?;
        tracing::info!(path = %path.display(), signed = key.is_some(), "saved the plan");
    }
    let summary = Summary::total(&plans);
    github::publish(
        || markdown(&plans, &failed),
        github::Outputs {
            has_changes: plans.iter().any(|p| p.has_changes),
            blocked: summary.blocked,
            failed: failed.len(),
        },
    )?;
    let mut tally = tally(&plans, config.detailed_exitcode);
    tally.failed_projects = failed.into_iter().map(|f| f.project_id).collect();
    Ok(Status::of_run(&tally))
}

/// The first limit (`--max-deletes`, `--max-changes`) a project's plan exceeds, naming the
/// project when the run has several.
pub(super) fn over_limits(plans: &[Plan], limits: &plan::Limits) -> Option<String> {
    plans.iter().find_map(|p| {
        let why = plan::check_limits(p, limits)?;
        Some(if plans.len() > 1 {
            format!("project `{}`: {why}", p.project_id)
        } else {
            why
        })
    })
}

/// What the plans count towards the exit code.
pub(super) fn tally(plans: &[Plan], detailed_exitcode: bool) -> RunTally {
    let summary = Summary::total(plans);
    RunTally {
        applied: false,
        failed: 0,
        failed_projects: Vec::new(),
        blocked: plans.iter().flat_map(blocked_names).collect(),
        changes: summary.create + summary.overwrite + summary.delete + summary.rename,
        detailed_exitcode,
    }
}

/// The names (or ids, for unnamed desktops) of the blocked desktops.
pub(super) fn blocked_names(plan: &Plan) -> Vec<String> {
    plan.desktops
        .iter()
        .filter(|d| d.status == desktag_core::plan::DesktopStatus::Blocked)
        .map(|d| d.label().to_string())
        .collect()
}

fn markdown(plans: &[Plan], failed: &[plan::ProjectFailure]) -> String {
    let mut bytes = Vec::new();
    let _ = render::Printer::new(Format::Markdown, false).plans_of_run(&mut bytes, plans, failed);
    String::from_utf8_lossy(&bytes).into_owned()
}
