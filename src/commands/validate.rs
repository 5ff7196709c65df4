//! `desktag validate`: every check that needs no network, all problems at once.

use crate::config;
use crate::error::{Error, Status};
use crate::render::messages;
use crate::render::validation::{self, Style, Validation};
use desktag_core::diagnostic;
use desktag_core::manifest::{self, LoadOptions};
use desktag_core::plan::{self, Policy};

use super::output;

pub(crate) fn run(config: &config::Validate) -> Result<Status, Error> {
    let loaded = manifest::load(
        &config.paths,
        &LoadOptions {
            max_tags: config.max_tags,
            scope: config.scope.clone(),
            env_allow: config.env_allow.clone(),
        },
    );
    super::session::log_skipped(loaded.skipped);
    let mut diagnostics = loaded.diagnostics;
    let policy = Policy {
        max_tags: config.max_tags,
        strict: config.strict,
        ..Policy::default()
    };
    let documents = loaded.manifest.documents.len();
    let entries: usize = loaded
        .manifest
        .documents
        .iter()
        .map(|d| d.desktops.len())
        .sum();
    diagnostics.extend(manifest::check_unnamed_beside_projects(&loaded.manifest));
    // Each project is planned on its own: entries of two projects never conflict, and a
    // project's policy is its own. Documents that name no project are checked with each.
    for (_, project) in loaded.manifest.by_project() {
        diagnostics.extend(plan::check_offline(&project, &policy));
    }
    // Checked once per project, a document that names none reports its problems once.
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| seen.insert((d.location.clone(), d.code, d.message.clone())));
    if config.strict {
        for d in &mut diagnostics {
            d.severity = diagnostic::Severity::Error;
        }
    }
    diagnostic::sort(&mut diagnostics);
    let found = Validation::new(&diagnostics, documents, entries);
    match config.format {
        Style::Json => output::stdout(|out| validation::json(out, &found))?,
        Style::Github => output::stdout(|out| validation::github(out, &found))?,
        Style::Text => {
            output::diagnostics(&diagnostics);
            if !config.silent {
                output::stdout(|out| writeln!(out, "{}", validation::verdict(&found)))?;
            }
        }
    }
    Ok(if found.valid {
        Status::Success
    } else {
        Status::Failed(messages::invalid_manifests(found.errors))
    })
}
