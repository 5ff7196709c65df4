//! The output of `desktag validate`: diagnostics one block each, then a one-line verdict (text),
//! or one JSON document with the counts and every diagnostic. Pure: into a writer.

use std::io::{self, Write};

use serde::Serialize;

use super::plural;
use crate::diagnostic::Diagnostic;

/// What validation found, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validation<'a> {
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub documents: usize,
    pub entries: usize,
    pub diagnostics: &'a [Diagnostic],
}

impl<'a> Validation<'a> {
    /// Counts the errors and warnings among `diagnostics`.
    pub fn new(diagnostics: &'a [Diagnostic], documents: usize, entries: usize) -> Self {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        Validation {
            valid: errors == 0,
            errors,
            warnings: diagnostics.len() - errors,
            documents,
            entries,
            diagnostics,
        }
    }
}

/// Writes diagnostics, one block each (stderr in the CLI).
pub fn diagnostics(w: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        writeln!(w, "{d}")?;
    }
    Ok(())
}

/// `Valid: 2 documents, 5 desktop entries; 0 warnings.` or `Invalid: 3 errors, 1 warning.`
pub fn verdict(v: &Validation) -> String {
    if v.valid {
        format!(
            "Valid: {} {}, {} {}; {} {}.",
            v.documents,
            plural(v.documents, "document", "documents"),
            v.entries,
            plural(v.entries, "desktop entry", "desktop entries"),
            v.warnings,
            plural(v.warnings, "warning", "warnings")
        )
    } else {
        format!(
            "Invalid: {} {}, {} {}.",
            v.errors,
            plural(v.errors, "error", "errors"),
            v.warnings,
            plural(v.warnings, "warning", "warnings")
        )
    }
}

/// The JSON document of `validate --format json`, with a trailing newline.
pub fn json(w: &mut dyn Write, v: &Validation) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, v)?;
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_count_in_words() {
        assert_eq!(
            verdict(&Validation::new(&[], 1, 1)),
            "Valid: 1 document, 1 desktop entry; 0 warnings."
        );
        assert_eq!(
            verdict(&Validation::new(&[], 2, 3)),
            "Valid: 2 documents, 3 desktop entries; 0 warnings."
        );
    }
}
