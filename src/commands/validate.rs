//! `desktag validate`: every check that needs no network, all problems at once.

use crate::config;
use crate::diagnostic;
use crate::error::{Error, Status};
use crate::manifest::{self, LoadOptions};
use crate::plan::{self, Policy};
use crate::render::messages;
use crate::render::validation::{self, Style, Validation};

use super::output;

pub fn run(config: &config::Validate) -> Result<Status, Error> {
    let loaded = manifest::load(
        &config.paths,
        &LoadOptions {
            max_tags: config.max_tags,
        },
    );
    let mut diagnostics = loaded.diagnostics;
    let policy = Policy {
        max_tags: config.max_tags,
        ..Policy::default()
    };
    diagnostics.extend(plan::check_offline(&loaded.manifest, &policy));
    diagnostic::sort(&mut diagnostics);

    let documents = loaded.manifest.documents.len();
    let entries: usize = loaded
        .manifest
        .documents
        .iter()
        .map(|d| d.desktops.len())
        .sum();
    let found = Validation::new(&diagnostics, documents, entries);
    match config.format {
        Style::Json => output::stdout(|out| validation::json(out, &found))?,
        Style::Github => output::stdout(|out| validation::github(out, &found))?,
        Style::Text => {
            output::diagnostics(&diagnostics);
            output::stdout(|out| writeln!(out, "{}", validation::verdict(&found)))?;
        }
    }
    Ok(if found.valid {
        Status::Success
    } else {
        Status::Failed(messages::invalid_manifests(found.errors))
    })
}
