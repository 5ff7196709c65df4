//! `desktag validate`: every check that needs no network (design §2), all problems at once.

use std::io::Write;

use serde::Serialize;

use crate::cli::{ValidateArgs, ValidateFormat};
use crate::diagnostic::{self, Diagnostic};
use crate::error::{Error, Status};
use crate::manifest::{self, LoadOptions};
use crate::plan::{self, Policy};

#[derive(Serialize)]
struct JsonOutput<'a> {
    valid: bool,
    errors: usize,
    warnings: usize,
    documents: usize,
    entries: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn run(args: &ValidateArgs) -> Result<Status, Error> {
    let paths = super::paths_or_cwd(&args.paths);
    let loaded = manifest::load(
        &paths,
        &LoadOptions {
            max_tags: args.max_tags,
        },
    );
    let mut diagnostics = loaded.diagnostics;
    let policy = Policy {
        max_tags: args.max_tags,
        ..Policy::default()
    };
    diagnostics.extend(plan::check_offline(&loaded.manifest, &policy));
    diagnostic::sort(&mut diagnostics);

    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let documents = loaded.manifest.documents.len();
    let entries: usize = loaded
        .manifest
        .documents
        .iter()
        .map(|d| d.desktops.len())
        .sum();
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        ValidateFormat::Json => {
            let doc = JsonOutput {
                valid: errors == 0,
                errors,
                warnings,
                documents,
                entries,
                diagnostics: &diagnostics,
            };
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        ValidateFormat::Text => {
            super::print_diagnostics(&diagnostics);
            if errors == 0 {
                writeln!(
                    out,
                    "Valid: {documents} document{}, {entries} desktop entr{}; {warnings} warning{}.",
                    plural(documents),
                    if entries == 1 { "y" } else { "ies" },
                    plural(warnings)
                )
            } else {
                writeln!(
                    out,
                    "Invalid: {errors} error{}, {warnings} warning{}.",
                    plural(errors),
                    plural(warnings)
                )
            }
        }
    };
    written.map_err(|source| Error::Write {
        path: "<stdout>".into(),
        source,
    })?;
    Ok(if errors == 0 {
        Status::Success
    } else {
        Status::Failed
    })
}

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
