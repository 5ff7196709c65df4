//! `desktag plan`: read manifests and the inventory, plan, render; never writes to the service.

use crate::config;
use crate::error::{Error, RunTally, Status};
use crate::plan::{self, saved, Plan};
use crate::render::{self, messages, Format};

use super::{github, output, session};

pub async fn run(config: &config::Plan) -> Result<Status, Error> {
    if let Some(path) = &config.out {
        output::check_writable(path)?;
    }
    let plan = match session::plan_from(&config.planning).await? {
        Ok((_session, plan)) => plan,
        Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
    };
    output::stdout(|out| config.printer.plan(out, &plan))?;
    // Over a limit: shown for review, but not saved, so it cannot be applied as it is.
    if let Some(why) = plan::check_limits(&plan, &config.planning.limits) {
        return Ok(Status::Failed(why));
    }
    if let Some(path) = &config.out {
        output::write_atomic_with(path, |w| saved::write_json(w, &plan))?;
        tracing::info!(path = %path.display(), "saved the plan");
    }
    github::publish(
        || markdown(&plan),
        github::Outputs {
            has_changes: plan.has_changes,
            blocked: plan.summary.blocked,
            failed: 0,
        },
    )?;
    Ok(Status::of_run(&tally(&plan, config.detailed_exitcode)))
}

/// What a plan counts towards the exit code.
pub(super) fn tally(plan: &Plan, detailed_exitcode: bool) -> RunTally {
    RunTally {
        applied: false,
        failed: 0,
        blocked: blocked_names(plan),
        changes: plan.summary.create + plan.summary.overwrite + plan.summary.delete,
        detailed_exitcode,
    }
}

/// The names (or ids, for unnamed desktops) of the blocked desktops.
pub(super) fn blocked_names(plan: &Plan) -> Vec<String> {
    plan.desktops
        .iter()
        .filter(|d| d.status == crate::plan::DesktopStatus::Blocked)
        .map(|d| {
            if d.name.is_empty() {
                d.desktop_id.clone()
            } else {
                d.name.clone()
            }
        })
        .collect()
}

fn markdown(plan: &Plan) -> String {
    let mut bytes = Vec::new();
    let _ = render::Printer::new(Format::Markdown, false).plan(&mut bytes, plan);
    String::from_utf8_lossy(&bytes).into_owned()
}
