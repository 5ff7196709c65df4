//! Validation of one manifest file's text into documents of the model, collecting every problem
//! with its location instead of stopping at the first. The work is split by concern: `walk` (the
//! generic checker and field-table walker), `document` (the field tables), `fields` (one value
//! each) and `rules` (checks across values). Pure: no I/O here.

use std::sync::Arc;

use super::document::Next;
use super::model::Document;
use super::reader::{Pos, Reader};
use super::walk::Check;
use super::LoadOptions;
use crate::diagnostic::{Code, Diagnostic, Location};

/// Validates every document of one file. Returns the documents that could be read (each with
/// only its valid parts) and every diagnostic. After a YAML syntax error the file's remaining
/// text cannot be read: the document in progress is dropped with its diagnostics, and the syntax
/// error is reported alone for it.
pub(crate) fn check_text(
    file: Arc<str>,
    text: &str,
    options: &LoadOptions,
) -> (Vec<Document>, Vec<Diagnostic>) {
    if let Some(diagnostic) = forbidden_character(&file, text) {
        return (Vec::new(), vec![diagnostic]);
    }
    let mut check = Check {
        file,
        reader: Reader::new(text),
        options,
        diagnostics: Vec::new(),
    };
    let mut documents = Vec::new();
    let mut written = 0;
    loop {
        let mark = check.diagnostics.len();
        let next = check.document();
        check.report_yaml_tags();
        match next {
            Ok(Next::Document(document)) => {
                written += 1;
                documents.push(*document);
            }
            Ok(Next::Unusable) => written += 1,
            Ok(Next::Empty) => {}
            Ok(Next::End) => break,
            Err(e) => {
                written += 1;
                check.diagnostics.truncate(mark);
                let location = check.loc(e.pos);
                check.diagnostics.push(
                    Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {}", e.message))
                        .at(location)
                        .with_help(
                            "fix the YAML syntax here (indent with spaces, close quotes and \
                             brackets); the rest of this file is checked once it parses",
                        ),
                );
                break;
            }
        }
    }
    if written == 0 {
        let location = check.loc(Pos { line: 1, column: 1 });
        check.diagnostics.push(
            Diagnostic::warning(
                Code::NoDocuments,
                format!(
                    "`{}` holds no manifest document, so it changes nothing",
                    check.file
                ),
            )
            .at(location)
            .with_help("write a document starting with `version: 1`, or remove the file"),
        );
    }
    (documents, check.diagnostics)
}

/// The first character YAML does not allow in a stream (NUL and the other C0 and C1 control
/// characters except tab, line feed, carriage return and NEL; DEL; U+FFFE and U+FFFF), as a
/// located error. The YAML reader would stop at a NUL and silently ignore the rest of the file,
/// so such a file is refused before it is parsed.
fn forbidden_character(file: &Arc<str>, text: &str) -> Option<Diagnostic> {
    let (index, ch) = text.char_indices().find(|&(_, c)| !yaml_printable(c))?;
    let before = &text[..index];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let others = text.chars().filter(|&c| !yaml_printable(c)).count() - 1;
    let more = match others {
        0 => String::new(),
        1 => " (and 1 more such character)".to_string(),
        n => format!(" (and {n} more such characters)"),
    };
    Some(
        Diagnostic::error(
            Code::ControlChar,
            format!(
                "the file contains the control character U+{:04X}{more}, which YAML does not allow",
                ch as u32
            ),
        )
        .at(Location::new(
            file.clone(),
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        ))
        .with_help(
            "remove it (a NUL often means the file was truncated or is not text); nothing of this \
             file is read until then",
        ),
    )
}

/// YAML 1.2's printable characters (`c-printable`).
fn yaml_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}')
        || ('\u{a0}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c)
        || c >= '\u{10000}'
}
