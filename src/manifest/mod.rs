//! Manifests: loading YAML files and directories into a validated `Manifest`. Owns every call to
//! serde_yaml and the YAML event parser, so the YAML library is a one-module swap. Reads files
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
mod reader;
mod rules;
pub(crate) mod suggest;
mod validate;
mod walk;

#[cfg(test)]
mod tests;

pub use model::{Document, Entry, Manifest, Selector, Sourced};

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
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_tags: DEFAULT_MAX_TAGS,
        }
    }
}

/// Loads manifests from files and directories. Directories are walked recursively in sorted
/// order, taking `*.yaml`/`*.yml` and skipping hidden files and folders; a file named explicitly
/// is read whatever its extension. Every problem of every file is collected, located by the path
/// as given (a missing path or unreadable file is an error at that path, never a panic).
///
/// Documents come in load order: files in the order found, documents in file order. Anchors and
/// aliases are rejected (an alias is an error): tag changes should be reviewable line by line.
pub fn load(paths: &[PathBuf], options: &LoadOptions) -> LoadOutcome {
    let mut diagnostics = Vec::new();
    let mut documents = Vec::new();
    for file in files::collect(paths, &mut diagnostics) {
        let name: Arc<str> = Arc::from(file.display().to_string());
        match files::read(&file, &name) {
            Ok(text) => {
                let (docs, diags) = validate::check_text(name, strip_bom(&text), options);
                documents.extend(docs);
                diagnostics.extend(diags);
            }
            Err(diagnostic) => diagnostics.push(*diagnostic),
        }
    }
    diagnostic::sort(&mut diagnostics);
    LoadOutcome {
        manifest: Manifest { documents },
        diagnostics,
    }
}

/// Loads one manifest file's text; `file` is the name used in diagnostics.
pub fn load_str(file: &str, text: &str, options: &LoadOptions) -> LoadOutcome {
    let (documents, mut diagnostics) =
        validate::check_text(Arc::from(file), strip_bom(text), options);
    diagnostic::sort(&mut diagnostics);
    LoadOutcome {
        manifest: Manifest { documents },
        diagnostics,
    }
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

/// A YAML syntax or shape error with its position (1-based), from `from_yaml_str`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// Deserializes one YAML document. Other modules (the emulator's seed files) parse YAML through
/// this function so that serde_yaml stays inside `manifest/`.
pub fn from_yaml_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        YamlError {
            message: e.to_string(),
            line: loc.as_ref().map(|l| l.line() as u32),
            column: loc.as_ref().map(|l| l.column() as u32),
        }
    })
}

/// Serializes a value as YAML, keeping serde_yaml inside `manifest/` for callers that write
/// YAML (the emulator's state file).
pub fn to_yaml_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_yaml::to_string(value).map_err(|e| YamlError {
        message: e.to_string(),
        line: None,
        column: None,
    })
}

#[cfg(test)]
mod yaml_str_tests {
    use super::*;

    #[test]
    fn from_yaml_str_refuses_a_nul_instead_of_stopping_at_it() {
        let got = from_yaml_str::<std::collections::BTreeMap<String, u32>>("a: 1\n\0\nb: 2\n");
        assert!(got.is_err(), "{got:?}");
    }
}
