//! `desktag plan`: read manifests and the inventory, plan, render; never writes to the service.

use crate::cli::{PlanArgs, PlanFormat};
use crate::error::{Error, Status};
use crate::plan::{saved, Plan};
use crate::render;

use super::session;

pub async fn run(args: &PlanArgs, color: bool) -> Result<Status, Error> {
    if let Some(path) = &args.out {
        super::check_writable(path)?;
    }
    let Some((_session, plan)) = session::plan_from(&args.options).await? else {
        return Ok(Status::Failed);
    };
    super::stdout_write(|out| show(out, &plan, args.format, color))?;
    if let Some(path) = &args.out {
        super::write_atomic(path, saved::to_json(&plan).as_bytes())?;
        tracing::info!(path = %path.display(), "saved the plan");
    }
    publish_to_github(&plan)?;
    Ok(if plan.has_blocked() {
        Status::Failed
    } else if plan.has_changes && args.detailed_exitcode {
        Status::Changes
    } else {
        Status::Success
    })
}

/// Renders a plan in the chosen format.
pub(super) fn show(
    mut out: &mut dyn std::io::Write,
    plan: &Plan,
    format: PlanFormat,
    color: bool,
) -> std::io::Result<()> {
    match format {
        PlanFormat::Text => render::text::plan(&mut out, plan, &render::text::TextStyle { color }),
        PlanFormat::Json => render::json::plan(&mut out, plan),
        PlanFormat::Markdown => render::markdown::plan(&mut out, plan),
    }
}

/// `GITHUB_STEP_SUMMARY` gets the markdown plan; `GITHUB_OUTPUT` gets `has_changes`.
fn publish_to_github(plan: &Plan) -> Result<(), Error> {
    if std::env::var_os("GITHUB_STEP_SUMMARY").is_some() {
        let mut markdown = Vec::new();
        render::markdown::plan(&mut markdown, plan).map_err(|source| Error::Write {
            path: "<markdown>".into(),
            source,
        })?;
        super::append_to_env_file("GITHUB_STEP_SUMMARY", &String::from_utf8_lossy(&markdown))?;
    }
    super::append_to_env_file(
        "GITHUB_OUTPUT",
        &format!("has_changes={}\n", plan.has_changes),
    )
}
