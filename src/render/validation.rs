//! The output of `desktag validate`: diagnostics one block each, then a one-line verdict (text),
//! one JSON document with the counts and every diagnostic, or GitHub Actions workflow commands
//! that annotate the manifest lines in a pull request. Pure: into a writer.

use std::io::{self, Write};

use serde::Serialize;

use super::plural;
use desktag_core::diagnostic::Diagnostic;

/// How `validate` shows what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Diagnostic blocks on stderr, the verdict on stdout.
    Text,
    /// One JSON document on stdout.
    Json,
    /// GitHub Actions annotations, then the verdict, on stdout.
    Github,
}

/// What validation found, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Validation<'a> {
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub documents: usize,
    pub entries: usize,
    pub diagnostics: &'a [Diagnostic],
}

impl<'a> Validation<'a> {
    /// Counts the errors and warnings among `diagnostics`.
    pub(crate) fn new(diagnostics: &'a [Diagnostic], documents: usize, entries: usize) -> Self {
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
pub(crate) fn diagnostics(w: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        writeln!(w, "{d}")?;
    }
    Ok(())
}

/// `Valid: 2 documents, 5 desktop entries; 0 warnings.` or `Invalid: 3 errors, 1 warning.`
pub(crate) fn verdict(v: &Validation) -> String {
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
pub(crate) fn json(w: &mut dyn Write, v: &Validation) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, v)?;
    writeln!(w)
}

/// One `::error file=…,line=…,col=…,title=…::message` workflow command per diagnostic, then the
/// verdict. GitHub shows each on the manifest line in the pull request's diff.
pub(crate) fn github(w: &mut dyn Write, v: &Validation) -> io::Result<()> {
    annotations(w, v.diagnostics)?;
    writeln!(w, "{}", verdict(v))
}

/// One GitHub Actions workflow command per diagnostic (`::error …::…` or `::warning …::…`), with
/// the help and notes folded into the message.
pub(crate) fn annotations(w: &mut dyn Write, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        let level = d.severity;
        let mut properties = Vec::new();
        if let Some(at) = &d.location {
            properties.push(format!("file={}", github_property(&at.file)));
            if at.line > 0 {
                properties.push(format!("line={}", at.line));
            }
            if at.column > 0 {
                properties.push(format!("col={}", at.column));
            }
        }
        properties.push(format!(
            "title={}",
            github_property(&format!("desktag {}", d.code))
        ));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        for note in &d.notes {
            message.push_str(&format!("\nnote: {}: {}", note.location, note.message));
        }
        writeln!(
            w,
            "::{level} {}::{}",
            properties.join(","),
            github_data(&message)
        )?;
    }
    Ok(())
}

/// A workflow command's message: `%`, CR and LF are escaped so one diagnostic stays one command.
fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as a message, plus `:` and `,`.
fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use desktag_core::diagnostic::{Code, Location, Note};
    use std::sync::Arc;

    #[test]
    fn github_annotations_carry_file_line_column_and_escape_separators() {
        let file: Arc<str> = Arc::from("desktops/a,b:c.yaml");
        let diagnostics = [
            Diagnostic::error(Code::UnknownField, "unknown field `tagz`\n100% sure")
                .at(Location {
                    file: file.clone(),
                    line: 4,
                    column: 5,
                })
                .with_help("did you mean `tags`?"),
            Diagnostic::warning(Code::NoDocuments, "the file holds no YAML document").at(
                Location {
                    file: file.clone(),
                    line: 0,
                    column: 0,
                },
            ),
        ];
        let mut diagnostics = diagnostics.to_vec();
        diagnostics[0].notes.push(Note {
            location: Location {
                file,
                line: 9,
                column: 3,
            },
            message: "first here".into(),
        });
        let mut out = Vec::new();
        github(&mut out, &Validation::new(&diagnostics, 1, 1)).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap());
    }

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
