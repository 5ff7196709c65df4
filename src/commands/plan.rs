//! `desktag plan`: read manifests and the inventory, plan, render; never writes to the service.

use crate::config;
use crate::error::{Error, RunTally, Status};
use crate::render::{self, messages, Format};
use desktag_core::inventory::Named;
use desktag_core::plan::{self, saved, Plan, Summary};

use super::{github, output, session};

pub(crate) async fn run(config: &config::Plan) -> Result<Status, Error> {
    if let Some(path) = &config.out {
        output::check_writable(path)?;
    }
    let plans: Vec<Plan> = match session::plan_from(&config.planning).await? {
        Ok(planned) => planned.into_iter().map(|p| p.plan).collect(),
        Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
    };
    output::stdout(|out| config.printer.plans(out, &plans))?;
    // Over a limit: shown for review, but not saved, so it cannot be applied as it is.
    if let Some(why) = over_limits(&plans, &config.planning.limits) {
        return Ok(Status::Failed(why));
    }
    if let Some(path) = &config.out {
        output::write_atomic_with(path, |w| saved::write_all_json(w, &plans))?;
        tracing::info!(path = %path.display(), "saved the plan");
    }
    let summary = Summary::total(&plans);
    github::publish(
        || markdown(&plans),
        github::Outputs {
            has_changes: plans.iter().any(|p| p.has_changes),
            blocked: summary.blocked,
            failed: 0,
        },
    )?;
    Ok(Status::of_run(&tally(&plans, config.detailed_exitcode)))
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
        blocked: plans.iter().flat_map(blocked_names).collect(),
        changes: summary.create + summary.overwrite + summary.delete,
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

fn markdown(plans: &[Plan]) -> String {
    let mut bytes = Vec::new();
    let _ = render::Printer::new(Format::Markdown, false).plans(&mut bytes, plans);
    String::from_utf8_lossy(&bytes).into_owned()
}
