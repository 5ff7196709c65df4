//! Manifests: loading YAML files and directories into a validated `Manifest` (design §2).
//! Owns every call to serde_yaml and the YAML event parser, so the YAML library is a one-module
//! swap. Reads files; everything after loading is pure.

mod model;

pub use model::{Document, Entry, Manifest, Selector, Sourced};

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;

/// What loading produced: every valid part of the manifests, and every problem found.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub manifest: Manifest,
    /// Errors and warnings, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads manifests from files and directories (recursively, sorted, hidden entries skipped).
pub fn load(paths: &[PathBuf]) -> Loaded {
    let _ = paths;
    unimplemented!("manifest loading is built by the manifest work")
}

/// Loads one manifest file's text; `file` is the name used in diagnostics.
pub fn load_str(file: &str, text: &str) -> Loaded {
    let _ = (file, text);
    unimplemented!("manifest loading is built by the manifest work")
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

/// Serializes a value as YAML (used by `export` and the emulator's state file).
pub fn to_yaml_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_yaml::to_string(value).map_err(|e| YamlError {
        message: e.to_string(),
        line: None,
        column: None,
    })
}
