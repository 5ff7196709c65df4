//! Located diagnostics: what validation and planning report about the user's input.
//! Rendered as `path:line:col: error[code]: message` plus `help:` and `note:` lines, or as JSON.
//! Pure data and formatting; no I/O here.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A position in a manifest file. Lines and columns count from 1; line and column 0 stand for
/// the whole file (a path that cannot be read), shown as the path alone and serialized without
/// `line` and `column`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    pub file: Arc<str>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub column: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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

impl Location {
    /// The whole file, not a position in it.
    pub fn whole_file(file: impl Into<Arc<str>>) -> Self {
        Location::new(file, 0, 0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}", self.file);
        }
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

/// Declares `Code`: each variant once, with its stable kebab-case name and a one-line meaning.
/// docs/manifest.md lists every code (a unit test checks both directions).
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// The stable identifier of a diagnostic, shown as `error[code]` and in JSON output.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            #[cfg(test)]
            pub(crate) const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The kebab-case name users see, e.g. `unknown-field`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }
        }
    };
}

codes! {
    // Finding and reading files.
    /// A path could not be read (missing, unreadable, not a file or directory).
    Io = "io",
    /// A file is larger than a manifest can sensibly be.
    FileSize = "file-size",
    /// A file is not UTF-8 text.
    Encoding = "encoding",
    /// A directory holds no `*.yaml`/`*.yml` files.
    NoManifests = "no-manifests",
    /// A file holds no manifest document at all (empty, or only comments).
    NoDocuments = "no-documents",
    /// A character YAML does not allow in a file (NUL and other control characters).
    ControlChar = "control-char",
    /// The YAML cannot be parsed.
    YamlSyntax = "yaml-syntax",
    /// A YAML alias (`*name`).
    Alias = "alias",
    /// A YAML tag (`!!binary`, `!custom`).
    YamlTag = "yaml-tag",
    // The shape of a document.
    /// A value of the wrong kind (a list where text belongs, ...).
    Type = "type",
    /// A field desktag does not know.
    UnknownField = "unknown-field",
    /// A required field is missing.
    MissingField = "missing-field",
    /// The same key twice in one mapping, or one item twice in `absent`.
    DuplicateKey = "duplicate-key",
    /// A field or item with no value.
    NullValue = "null-value",
    /// `version` is not 1.
    Version = "version",
    /// An invalid `project_id`.
    ProjectId = "project-id",
    /// An invalid `region`, one without `project_id`, or one project given two regions.
    Region = "region",
    /// An entry's `id`/`name` is missing, doubled or invalid.
    Selector = "selector",
    /// A desktop entry with nothing in it.
    EmptyEntry = "empty-entry",
    /// A desktop entry with neither `tags` nor `absent`.
    NoTags = "no-tags",
    /// A name or key glob that does not compile.
    InvalidGlob = "invalid-glob",
    /// A key both in `tags` and in `absent` of one entry.
    TagsAbsentOverlap = "tags-absent-overlap",
    /// More tags than a desktop may carry.
    TagCap = "tag-cap",
    /// A document without `desktops` (warning).
    NoDesktops = "no-desktops",
    // The tag rules.
    /// A tag key that is empty or too long.
    KeyLength = "key-length",
    /// A tag value that is too long.
    ValueLength = "value-length",
    /// A tag key starting with `_sys_`.
    SystemKey = "system-key",
    /// A character tag keys and values may not contain.
    TagCharset = "tag-charset",
    /// A tag key not in Unicode NFC form (a combining accent where a precomposed letter exists;
    /// warning).
    NotNfc = "not-nfc",
    // Resolution against the inventory.
    /// Entries of equal precedence want different things for one key of one desktop.
    Conflict = "conflict",
    /// A selector matches no desktop (a warning, an error with `--strict`).
    UnmatchedSelector = "unmatched-selector",
    /// An exact name matches several desktops.
    AmbiguousName = "ambiguous-name",
    /// A `--target` no entry selects (warning).
    UnmatchedTarget = "unmatched-target",
    /// A more specific selector in another document overrides a value (warning; an error with
    /// `--strict`).
    Override = "override",
    /// A `rename:` item that cannot be: renamed to itself, chained, against `protect`, or a key
    /// also wanted under its old name.
    Rename = "rename",
    /// An `override: true` entry that overrides nothing (warning; an error with `--strict`).
    StaleOverride = "stale-override",
    /// A managed key that an ignore glob matches (warning).
    IgnoredKey = "ignored-key",
    /// A key listed in `absent` that a `protect` glob keeps from deletion.
    ProtectedKey = "protected-key",
    /// A templated value (`${…}`) refers to something unknown, is not closed, or reads a
    /// credential.
    Template = "template",
    /// A `policy:` block is malformed (an unknown `key_case`, an empty `allowed` list).
    Policy = "policy",
    /// A manifest wants what a `policy:` forbids (a value not allowed, a key not in lower case,
    /// a required key in `absent`).
    PolicyViolation = "policy-violation",
    // The repository config.
    /// `desktag.toml` is malformed: TOML syntax, an unknown key, a value of the wrong kind.
    Config = "config",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Lets tests and callers compare with the name users see: `d.code == "tag-cap"`.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&crate::tags::TagError> for Code {
    fn from(e: &crate::tags::TagError) -> Code {
        use crate::tags::TagError;
        match e {
            TagError::EmptyKey | TagError::KeyTooLong { .. } => Code::KeyLength,
            TagError::ValueTooLong { .. } => Code::ValueLength,
            TagError::SystemPrefix => Code::SystemKey,
            TagError::BadChar { .. } | TagError::OuterSpace { .. } => Code::TagCharset,
        }
    }
}

/// One problem, with where it is, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable identifier, e.g. `unknown-field`, `conflict`, `tag-cap`.
    pub code: Code,
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
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
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

    pub(crate) fn with_note(mut self, location: Location, message: impl Into<String>) -> Self {
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
            Code::Conflict,
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
        assert_eq!(
            Diagnostic::warning(Code::NoDesktops, "y").to_string(),
            "warning[no-desktops]: y"
        );
    }

    #[test]
    fn a_whole_file_location_has_no_line_or_column() {
        let d = Diagnostic::error(Code::Io, "`x.yaml` does not exist")
            .at(Location::whole_file("x.yaml"));
        assert_eq!(d.to_string(), "x.yaml: error[io]: `x.yaml` does not exist");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["location"], serde_json::json!({"file": "x.yaml"}));
    }

    #[test]
    fn codes_are_unique_kebab_case_and_match_the_tag_rules() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "two codes share a name");
        // The emulator names tag errors by the same codes.
        for e in [
            crate::tags::TagError::EmptyKey,
            crate::tags::TagError::ValueTooLong { chars: 44 },
            crate::tags::TagError::SystemPrefix,
            crate::tags::TagError::OuterSpace { what: "key" },
        ] {
            assert_eq!(Code::from(&e).as_str(), e.code());
        }
    }

    #[test]
    fn every_code_is_documented_in_the_manifest_reference() {
        let docs = include_str!("../../../docs/manifest.md");
        for code in Code::ALL {
            assert!(
                docs.contains(&format!("| `{code}` |")),
                "docs/manifest.md has no row for `{code}`"
            );
        }
        // And the table lists no code that does not exist.
        for line in docs.lines().filter(|l| l.starts_with("| `")) {
            let name = line
                .trim_start_matches("| `")
                .split('`')
                .next()
                .unwrap_or("");
            assert!(
                Code::ALL.iter().any(|c| c.as_str() == name),
                "docs/manifest.md documents unknown code `{name}`"
            );
        }
    }
}
