//! `desktag check`: loads the manifests, reads every desktop of each project they name and audits
//! their tags now against the project's `policy:`, with coverage (how many desktops a manifest
//! selects).
//! Never writes to the service.

use tracing::Instrument;

use crate::config;
use crate::error::{Error, Status};
use crate::render::{check, messages, Format};
use desktag_core::diagnostic::Diagnostic;
use desktag_core::inventory::Inventory;
use desktag_core::plan;
use desktag_core::plan::policy::{self, Audit};

use super::{output, session};

pub(crate) async fn run(config: &config::Check) -> Result<Status, Error> {
    if let Some(path) = &config.junit {
        output::check_writable(path)?;
    }
    let loaded = match session::load(&config.planning)? {
        Ok(loaded) => loaded,
        Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
    };
    // Every project side by side, each on its own connection.
    let several = loaded.projects.len() > 1;
    let runs = futures::future::join_all(loaded.projects.into_iter().map(|project| {
        let span = session::project_span(project.project_id.as_deref(), several);
        audit_project(config, project).instrument(span)
    }))
    .await;
    let mut audits = Vec::with_capacity(runs.len());
    let mut errors = 0;
    for run in runs {
        let (diagnostics, audit) = run?;
        output::diagnostics(&diagnostics);
        match audit {
            Some(audit) => audits.push(audit),
            None => errors += diagnostics.iter().filter(|d| d.is_error()).count(),
        }
    }
    if errors > 0 {
        return Ok(Status::Failed(messages::invalid_input(errors)));
    }
    output::stdout(|out| match config.printer.format {
        Format::Text => check::text(out, &audits),
        Format::Json => check::json(out, &audits),
        Format::Markdown => check::markdown(out, &audits),
    })?;
    if let Some(path) = &config.junit {
        output::write_atomic_with(path, |w| check::junit(w, &audits))?;
    }
    let violating: usize = audits.iter().map(|a| a.violating).sum();
    let total: usize = audits.iter().map(|a| a.total).sum();
    Ok(if violating > 0 {
        Status::Failed(messages::policy_broken(violating, total))
    } else {
        Status::Success
    })
}

/// Audits one project: every desktop it has, the managed ones told apart. `None` when the
/// manifests do not resolve (the errors are in the diagnostics).
async fn audit_project(
    config: &config::Check,
    project: session::ProjectManifests,
) -> Result<(Vec<Diagnostic>, Option<Audit>), Error> {
    let session = session::Session::open(&config.planning.service, project.scope()).await?;
    // Every desktop of the project: the audit covers those no manifest selects too.
    let inventory = Inventory::new(session.client.list_desktops().await?);
    let resolution = plan::resolve(&project.manifest, &inventory, &config.planning.policy);
    if resolution.has_errors() {
        return Ok((resolution.diagnostics, None));
    }
    let managed: std::collections::HashSet<&str> = resolution
        .wanted
        .iter()
        .map(|w| w.desktop_id.as_str())
        .collect();
    let audit = policy::audit(
        &resolution.keys.policy,
        &inventory,
        &|id| managed.contains(id),
        &session.project_id,
    );
    Ok((resolution.diagnostics, Some(audit)))
}
