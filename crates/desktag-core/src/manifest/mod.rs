//! Manifests: loading YAML files and directories into a validated `Manifest`. Owns the YAML
//! event parser (positions, duplicate keys, aliases); one-document serde parsing lives in
//! `crate::yaml`. Reads files
//! (`files`); everything after reading is pure. The manifest format is documented for users in
//! docs/manifest.md; the diagnostic codes are `diagnostic::Code`.
//!
//! Validation: `reader` (YAML events with positions) → `walk` (generic checker, field tables)
//! → `document` (the tables of a document and an entry) → `fields` (one value each) → `rules`
//! (checks across values) → `model` (the validated `Manifest`).

mod document;
mod fields;
mod files;
mod model;
mod policy;
mod reader;
mod rules;
mod scope;
mod validate;
mod walk;

#[cfg(test)]
mod tests;

pub use model::{
    AllowedValues, Document, Enforce, Entry, KeyCase, Manifest, ManifestFile, Selector,
};
pub use model::{Rename, Sourced, TagPolicy};
pub use scope::{normalise, path_glob, ProjectDefault, Scope};

use std::path::PathBuf;
use std::sync::Arc;

use crate::diagnostic::{self, Diagnostic};
use crate::tags::DEFAULT_MAX_TAGS;

/// What loading produced: every valid part of the manifests, and every problem found.
#[derive(Debug, Clone, Default)]
pub struct LoadOutcome {
    pub manifest: Manifest,
    /// Errors and warnings, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
    /// Every file read, in load order, with the SHA-256 of its bytes (a saved plan records
    /// them).
    pub files: Vec<ManifestFile>,
    /// Files left out because the [`Scope`] does not include them (outside its `paths`, or
    /// excluded).
    pub skipped: usize,
}

impl LoadOutcome {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// What validation needs to know beyond the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// The most tags one desktop may carry (`--max-tags`): `defaults` merged with one entry's
    /// `tags` may not exceed it.
    pub max_tags: usize,
    /// The repository config's say: which files are manifests, and the project of documents
    /// that name none. `None` without a `desktag.toml`.
    pub scope: Option<Arc<Scope>>,
    /// Environment variables templates may read besides `DESKTAG_VAR_*` (desktag.toml's
    /// `env`): a `${env.NAME}` naming another is an error where written.
    pub env_allow: Vec<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_tags: DEFAULT_MAX_TAGS,
            scope: None,
            env_allow: Vec::new(),
        }
    }
}

/// Loads manifests from files and directories. Directories are walked recursively in sorted
/// order, taking `*.yaml`/`*.yml` and skipping hidden files and folders; a file named explicitly
/// is read whatever its extension. Every problem of every file is collected, located by the path
/// as given (a missing path or unreadable file is an error at that path, never a panic).
///
/// With a [`Scope`] (from `desktag.toml`), only files under its `paths` that match none of its
/// `exclude` globs are read, named or found by a walk (so a pre-commit hook may pass every
/// changed YAML file), and documents naming no project take the project of their path prefix.
///
/// Documents come in load order: files in the order found, documents in file order. Anchors and
/// aliases are rejected (an alias is an error): tag changes should be reviewable line by line.
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> LoadOutcome {
    let mut diagnostics = Vec::new();
    let mut documents = Vec::new();
    let mut read = Vec::new();
    let mut skipped = 0;
    for file in files::collect(
        paths,
        options.scope.as_deref(),
        &mut diagnostics,
        &mut skipped,
    ) {
        let name: Arc<str> = Arc::from(file.display().to_string());
        match files::read(&file, &name) {
            Ok(text) => {
                read.push(ManifestFile::of(&name, text.as_bytes()));
                let (mut docs, diags) = validate::check_text(name, strip_bom(&text), options);
                if let Some(scope) = &options.scope {
                    scope.apply_defaults(&file, &mut docs);
                }
                documents.extend(docs);
                diagnostics.extend(diags);
            }
            Err(diagnostic) => diagnostics.push(*diagnostic),
        }
    }
    diagnostics.extend(check_regions(&documents));
    diagnostic::sort(&mut diagnostics);
    LoadOutcome {
        manifest: Manifest { documents },
        diagnostics,
        files: read,
        skipped,
    }
}

/// Loads one manifest file's text; `file` is the name used in diagnostics.
pub fn load_str(file: &str, text: &str, options: &LoadOptions) -> LoadOutcome {
    let (documents, mut diagnostics) =
        validate::check_text(Arc::from(file), strip_bom(text), options);
    diagnostics.extend(check_regions(&documents));
    diagnostic::sort(&mut diagnostics);
    LoadOutcome {
        manifest: Manifest { documents },
        diagnostics,
        files: vec![ManifestFile::of(file, text.as_bytes())],
        skipped: 0,
    }
}

/// A project lives in one region: documents that name the same `project_id` with different
/// `region`s are an error at the later one, naming the first.
fn check_regions(documents: &[Document]) -> Vec<Diagnostic> {
    let mut first: std::collections::BTreeMap<&str, &Sourced<String>> = Default::default();
    let mut diagnostics = Vec::new();
    for doc in documents {
        let (Some(project), Some(region)) = (&doc.project_id, &doc.region) else {
            continue;
        };
        let seen = *first.entry(project.value.as_str()).or_insert(region);
        if seen.value != region.value {
            diagnostics.push(
                Diagnostic::error(
                    diagnostic::Code::Region,
                    format!(
                        "project `{}` is given region `{}` here and region `{}` at {}",
                        project.value, region.value, seen.value, seen.location
                    ),
                )
                .at(region.location.clone())
                .with_help("a project lives in one region: write the same `region` in every document of the project"),
            );
        }
    }
    diagnostics
}

/// Documents that name no project beside documents of several projects belong to no one run
/// over all of them: a warning at each, since `--project-id` runs still take them.
pub fn check_unnamed_beside_projects(manifest: &Manifest) -> Vec<Diagnostic> {
    let projects = manifest.projects();
    if projects.len() < 2 {
        return Vec::new();
    }
    let listed: Vec<String> = projects.iter().map(|p| format!("`{p}`")).collect();
    manifest
        .documents
        .iter()
        .filter(|d| d.project_id.is_none())
        .map(|d| {
            Diagnostic::warning(
                diagnostic::Code::ProjectId,
                format!(
                    "this document names no `project_id`, beside documents of {} projects ({}): \
                     a run over all of them refuses it",
                    projects.len(),
                    listed.join(", ")
                ),
            )
            .at(d.location.clone())
            .with_help(
                "add the project's `project_id` to the document, or always run with --project-id",
            )
        })
        .collect()
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Shortens user text quoted in a message, so a 10,000-character value does not flood the output.
pub(crate) fn shorten(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        None => text.into(),
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
    }
}
