//! `desktag check`: loads the manifests, reads every desktop of the project and audits their tags
//! now against the manifests' `policy:`, with coverage (how many desktops a manifest selects).
//! Never writes to the service.

use crate::config;
use crate::error::{Error, Status};
use crate::inventory::Inventory;
use crate::plan::{self, policy};
use crate::render::{check, messages, Format};

use super::{output, session};

pub async fn run(config: &config::Check) -> Result<Status, Error> {
    if let Some(path) = &config.junit {
        output::check_writable(path)?;
    }
    let loaded = match session::load(&config.planning)? {
        Ok(loaded) => loaded,
        Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
    };
    let project = session::single_project(loaded.projects, "check")?;
    let session = session::Session::open(&config.planning.service, project.scope()).await?;
    // Every desktop of the project: the audit covers those no manifest selects too.
    let inventory = Inventory::new(session.client.list_desktops().await?);
    let resolution = plan::resolve(&project.manifest, &inventory, &config.planning.policy);
    output::diagnostics(&resolution.diagnostics);
    if resolution.has_errors() {
        let errors = resolution
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count();
        return Ok(Status::Failed(messages::invalid_input(errors)));
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
    output::stdout(|out| match config.printer.format {
        Format::Text => check::text(out, &audit),
        Format::Json => check::json(out, &audit),
        Format::Markdown => check::markdown(out, &audit),
    })?;
    if let Some(path) = &config.junit {
        output::write_atomic_with(path, |w| check::junit(w, &audit))?;
    }
    Ok(if audit.violating > 0 {
        Status::Failed(messages::policy_broken(audit.violating, audit.total))
    } else {
        Status::Success
    })
}
