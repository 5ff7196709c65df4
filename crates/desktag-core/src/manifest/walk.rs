//! The generic part of validation: a checker that walks YAML nodes from `reader`, records every
//! problem with its location, and walks mappings by a declared field table, so that duplicate
//! keys, unknown fields and "did you mean …?" come from the table itself. Knows no manifest
//! field; the tables live in `document`. Pure: no I/O here.

use std::sync::Arc;

use super::reader::{Head, Item, Pos, Reader, SyntaxError};
use super::{shorten, LoadOptions};
use crate::diagnostic::{Code, Diagnostic, Location};
use crate::suggest;

pub(super) type Result<T> = std::result::Result<T, SyntaxError>;

/// The state of validating one file: the reader, the options, and the problems found so far.
pub(super) struct Check<'t, 'o> {
    pub file: Arc<str>,
    pub reader: Reader<'t>,
    pub options: &'o LoadOptions,
    pub diagnostics: Vec<Diagnostic>,
}

/// A field's value as the walker hands it to the field's parser, which must consume it.
pub(super) struct Value {
    pub head: Head,
    /// Where the value starts.
    pub pos: Pos,
    /// Where its key is (a null value is reported at the key).
    pub key_pos: Pos,
}

/// A parser of one field: reads `value` into the mapping's state `S`.
pub(super) type ReadField<S> = fn(&mut Check<'_, '_>, &mut S, Value) -> Result<()>;

/// The fields of one kind of mapping, declared once: the walker finds unknown keys and suggests
/// names from this table, so adding a field is one line here plus its parser.
pub(super) struct Table<S: 'static> {
    /// How the mapping is named in messages: "a desktop entry".
    pub place: &'static str,
    pub fields: &'static [(&'static str, ReadField<S>)],
    /// Help for a key that is a field of another kind of mapping (`tags` at the top level).
    pub misplaced: fn(&str) -> Option<String>,
}

impl<S> Table<S> {
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.fields.iter().map(|(name, _)| *name).collect()
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.fields.iter().any(|(name, _)| *name == key)
    }
}

/// What walking a mapping by its table saw.
pub(super) struct Walked {
    /// Where the mapping visibly starts: its first key, or the mapping itself when empty.
    pub start: Pos,
    /// Whether any key at all was written (known, unknown or duplicate).
    pub any_key: bool,
    /// Whether an unknown field was reported.
    pub unknown: bool,
}

impl Check<'_, '_> {
    pub(crate) fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn error(&mut self, code: Code, pos: Pos, message: String, help: impl Into<String>) {
        let location = self.loc(pos);
        self.push(
            Diagnostic::error(code, message)
                .at(location)
                .with_help(help),
        );
    }

    /// Reports that `what` was expected where something else was written, and skips it.
    pub(crate) fn wrong_type(
        &mut self,
        head: &Head,
        pos: Pos,
        what: &str,
        help: &str,
    ) -> Result<()> {
        if *head == Head::Alias {
            self.error(
                Code::Alias,
                pos,
                "YAML aliases (`*name`) are not supported in manifests".into(),
                "write the value out in full; anchors and aliases make reviews of tag changes harder",
            );
        } else {
            let message = format!("expected {what}, found {}", head.describe());
            self.error(Code::Type, pos, message, help);
        }
        self.reader.skip(head)
    }

    /// Reports the YAML tags the reader met (`!!int 5`, `!custom x`) where they were written.
    pub(crate) fn report_yaml_tags(&mut self) {
        for (pos, tag) in self.reader.take_tags() {
            self.error(
                Code::YamlTag,
                pos,
                format!(
                    "YAML tags (`{}`) are not supported in manifests",
                    shorten(&tag)
                ),
                "remove the tag; write text values as they are, quoted if needed",
            );
        }
    }

    /// A field whose value is null (`tags:` with nothing after it).
    pub(crate) fn null_field(&mut self, field: &str, key_pos: Pos, help: &str) {
        self.error(
            Code::NullValue,
            key_pos,
            format!("`{field}` has no value"),
            help,
        );
    }

    /// Reads the rest of a mapping whose fields `table` declares, passing each field's value to
    /// its parser with `state`. Duplicate keys, unknown fields and non-text keys are reported
    /// and skipped here.
    pub(crate) fn fields<S>(
        &mut self,
        start: Pos,
        table: &Table<S>,
        state: &mut S,
    ) -> Result<Walked> {
        let mut seen: Vec<(String, Pos)> = Vec::new();
        let mut unknown = false;
        let start = self.mapping(start, |c, key, key_pos| {
            let (head, pos) = c.reader.node()?;
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                let first = c.loc(*first);
                c.duplicate(&key, key_pos, first);
                return c.reader.skip(&head);
            }
            seen.push((key.clone(), key_pos));
            match table.fields.iter().find(|(name, _)| *name == key) {
                Some((_, read)) => read(c, state, Value { head, pos, key_pos }),
                None => {
                    unknown = true;
                    c.unknown_field(&key, key_pos, table);
                    c.reader.skip(&head)
                }
            }
        })?;
        Ok(Walked {
            start,
            any_key: !seen.is_empty(),
            unknown,
        })
    }

    /// Reads the rest of a mapping, calling `on_key` with each text key; `on_key` must consume
    /// the value. Non-scalar keys are reported and skipped with their values. Returns the
    /// position of the first key (where a block mapping visibly starts), or of the mapping.
    pub(crate) fn mapping(
        &mut self,
        start: Pos,
        mut on_key: impl FnMut(&mut Self, String, Pos) -> Result<()>,
    ) -> Result<Pos> {
        let mut first = None;
        loop {
            match self.reader.item()? {
                Item::End(_) => return Ok(first.unwrap_or(start)),
                Item::Node(head, pos) => {
                    first.get_or_insert(pos);
                    if let Head::Scalar(key) = head {
                        on_key(self, key.text, pos)?;
                    } else {
                        let what = head.describe();
                        self.error(
                            Code::Type,
                            pos,
                            format!("expected a plain key, found {what} used as a key"),
                            "write keys as plain text, like `env: dev`",
                        );
                        self.reader.skip(&head)?;
                        let (value, _) = self.reader.node()?;
                        self.reader.skip(&value)?;
                    }
                }
            }
        }
    }

    pub(crate) fn duplicate(&mut self, key: &str, pos: Pos, first: Location) {
        let location = self.loc(pos);
        self.push(
            Diagnostic::error(
                Code::DuplicateKey,
                format!("`{}` is written twice in the same mapping", shorten(key)),
            )
            .at(location)
            .with_note(first, format!("`{}` is first written here", shorten(key)))
            .with_help("keep one of the two; YAML parsers would silently drop one of them"),
        );
    }

    fn unknown_field<S>(&mut self, key: &str, pos: Pos, table: &Table<S>) {
        let known = table.names();
        let help = if let Some(help) = (table.misplaced)(key) {
            help
        } else if let Some(s) = suggest::closest(key, &known) {
            format!("did you mean `{s}`?")
        } else {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!("the fields of {} are {}", table.place, list.join(", "))
        };
        self.error(
            Code::UnknownField,
            pos,
            format!("unknown field `{}` in {}", shorten(key), table.place),
            help,
        );
    }

    /// A list of text items (`absent`, `ignore_keys`), each passed to `item` with its position.
    /// `None` when the value was not a list (reported), else how many items were written.
    pub(crate) fn scalar_list(
        &mut self,
        field: &str,
        value: Value,
        example: &str,
        mut item: impl FnMut(&mut Self, String, Pos),
    ) -> Result<Option<usize>> {
        let Value { head, pos, key_pos } = value;
        match head {
            Head::Seq => {}
            Head::Scalar(ref s) if s.is_null() => {
                self.null_field(
                    field,
                    key_pos,
                    &format!("write a list like `{field}: {example}`, or remove `{field}`"),
                );
                return Ok(None);
            }
            other => {
                let what = format!("a list for `{field}`");
                self.wrong_type(
                    &other,
                    pos,
                    &what,
                    &format!("write a list like `{field}: {example}`"),
                )?;
                return Ok(None);
            }
        }
        let mut count = 0;
        loop {
            match self.reader.item()? {
                Item::End(_) => return Ok(Some(count)),
                Item::Node(Head::Scalar(s), p) if s.is_null() => {
                    count += 1;
                    let p = if s.text.is_empty() {
                        self.reader.empty_item_pos(p)
                    } else {
                        p
                    };
                    self.error(
                        Code::NullValue,
                        p,
                        format!("`{field}` has an empty item"),
                        format!(
                            "remove the empty item, or write a value like `{field}: {example}`"
                        ),
                    );
                }
                Item::Node(Head::Scalar(s), p) => {
                    count += 1;
                    item(self, s.text, p);
                }
                Item::Node(other, p) => {
                    count += 1;
                    let what = format!("text items in `{field}`");
                    self.wrong_type(
                        &other,
                        p,
                        &what,
                        &format!("write a list like `{field}: {example}`"),
                    )?;
                }
            }
        }
    }
}
