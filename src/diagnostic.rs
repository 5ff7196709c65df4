//! Located diagnostics: what validation and planning report about the user's input.
//! Rendered as `path:line:col: error[code]: message` plus `help:` and `note:` lines, or as JSON.
//! Pure data and formatting; no I/O here.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A position in a manifest file. Lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub fn new(file: impl Into<Arc<str>>, line: u32, column: u32) -> Self {
        Location {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, with where it is, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable, kebab-case identifier, e.g. `unknown-field`, `conflict`, `tag-cap`.
    pub code: &'static str,
    /// Lowercase sentence naming what the user wrote.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Other places involved (e.g. the other side of a conflict).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, location: Location, message: impl Into<String>) -> Self {
        self.notes.push(Note {
            location,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `path:line:col: error[code]: message`, then indented `note:` and `help:` lines.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        for note in &self.notes {
            write!(f, "\n  note: {}: {}", note.location, note.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Sorts diagnostics by file, line, column, then severity and code, so output is deterministic.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.location, a.severity, a.code, &a.message).cmp(&(
            &b.location,
            b.severity,
            b.code,
            &b.message,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_code_notes_and_help() {
        let d = Diagnostic::error(
            "conflict",
            "desktop `FIN-1` gets `env` = \"dev\" here and \"prod\" elsewhere",
        )
        .at(Location::new("m/a.yaml", 3, 5))
        .with_note(
            Location::new("m/b.yaml", 7, 9),
            "`env` = \"prod\" is set here",
        )
        .with_help("make both entries agree, or remove one");
        assert_eq!(
            d.to_string(),
            "m/a.yaml:3:5: error[conflict]: desktop `FIN-1` gets `env` = \"dev\" here and \"prod\" elsewhere\n  \
             note: m/b.yaml:7:9: `env` = \"prod\" is set here\n  help: make both entries agree, or remove one"
        );
    }

    #[test]
    fn unlocated_warning_renders_without_prefix() {
        assert_eq!(Diagnostic::warning("x", "y").to_string(), "warning[x]: y");
    }
}
