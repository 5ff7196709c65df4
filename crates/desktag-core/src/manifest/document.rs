//! The manifest's shape: the field tables of a document and of a desktop entry, and the walk of a
//! document through them. To add a manifest field, add a line to `DOCUMENT` or `ENTRY`, a slot
//! in `DocumentFields`/`EntryFields`, and (if it is a new kind of value) a parser in `fields`.
//! Pure: no I/O here.

use yaml_rust2::parser::Event;

use super::fields::{Collection, TagMap};
use super::model::{Document, Selector, Sourced, TagPolicy};
use super::reader::{Head, Item, Pos, SyntaxError};
use super::walk::{Check, Result, Table, Value};
use crate::diagnostic::{Code, Location};
use crate::tags::{SortedMap, TagKey};

/// The top-level fields of a manifest document.
pub(super) const DOCUMENT: Table<DocumentFields> = Table {
    place: "a manifest document",
    fields: &[
        ("version", |c, d, v| {
            d.version = Some(c.version(v)?);
            Ok(())
        }),
        ("project_id", |c, d, v| {
            d.project_id = c.project_id(v)?;
            Ok(())
        }),
        ("region", |c, d, v| {
            let key_pos = v.key_pos;
            d.region = c.region(v)?.map(|r| (r, key_pos));
            Ok(())
        }),
        ("defaults", |c, d, v| {
            let key_pos = v.key_pos;
            let defaults = c.tag_map("defaults", v)?;
            d.defaults_at = Some((key_pos, defaults.written.unwrap_or(0)));
            d.defaults = defaults.valid;
            Ok(())
        }),
        ("ignore_keys", |c, d, v| {
            d.ignore_keys = c.key_globs("ignore_keys", v)?;
            Ok(())
        }),
        ("protect", |c, d, v| {
            d.protect = c.key_globs("protect", v)?;
            Ok(())
        }),
        ("create_only", |c, d, v| {
            d.create_only = c.key_globs("create_only", v)?;
            Ok(())
        }),
        ("policy", |c, d, v| {
            d.policy = c.policy(v)?;
            Ok(())
        }),
        ("rename", |c, d, v| {
            d.rename = c.renames(v)?;
            Ok(())
        }),
        ("desktops", |c, d, v| {
            d.entries = Some(c.desktops(v)?);
            Ok(())
        }),
    ],
    misplaced: |key| {
        if key == "tags" {
            Some("did you mean `defaults`? (`tags` belongs in an entry under `desktops:`)".into())
        } else if ENTRY.has(key) {
            Some(format!("`{key}` belongs in an entry under `desktops:`"))
        } else {
            None
        }
    },
};

/// The fields of one item of `desktops:`.
pub(super) const ENTRY: Table<EntryFields> = Table {
    place: "a desktop entry",
    fields: &[
        ("id", |c, e, v| {
            let key_pos = v.key_pos;
            e.id = Some((c.desktop_id(v)?, key_pos));
            Ok(())
        }),
        ("name", |c, e, v| {
            let key_pos = v.key_pos;
            e.name = Some((c.desktop_name(v)?, key_pos));
            Ok(())
        }),
        ("tags", |c, e, v| {
            e.tags = Some(c.tag_map("tags", v)?);
            Ok(())
        }),
        ("absent", |c, e, v| {
            e.absent = Some(c.absent(v)?);
            Ok(())
        }),
        ("priority", |c, e, v| {
            e.priority = c.priority(v)?;
            Ok(())
        }),
        ("override", |c, e, v| {
            e.acknowledge = c.override_flag(v)?;
            Ok(())
        }),
    ],
    misplaced: |key| {
        DOCUMENT.has(key).then(|| {
            format!("`{key}` is a document field; move it to the top level of the document")
        })
    },
};

/// What a document's top-level fields said, collected in any order.
#[derive(Default)]
pub(super) struct DocumentFields {
    /// `None` when `version` was not written; `Some(false)` when it is not 1 (reported).
    pub version: Option<bool>,
    pub project_id: Option<Sourced<String>>,
    /// `region`, with the position of its key.
    pub region: Option<(Sourced<String>, Pos)>,
    pub defaults: TagMap,
    /// The `defaults:` key and how many keys it listed, valid or not.
    pub defaults_at: Option<(Pos, usize)>,
    pub ignore_keys: Vec<Sourced<String>>,
    pub protect: Vec<Sourced<String>>,
    pub create_only: Vec<Sourced<String>>,
    pub policy: TagPolicy,
    pub rename: Vec<super::model::Rename>,
    /// `None` when `desktops` was not written.
    pub entries: Option<Vec<PendingEntry>>,
}

/// What one entry's fields said. Each selector keeps its key's position and its value, `None`
/// when the value was invalid (reported).
#[derive(Default)]
pub(super) struct EntryFields {
    pub id: Option<(Option<String>, Pos)>,
    pub name: Option<(Option<Selector>, Pos)>,
    pub tags: Option<Collection<TagMap>>,
    pub absent: Option<Collection<SortedMap<TagKey, Location>>>,
    pub priority: i32,
    /// `override: true`, where written.
    pub acknowledge: Option<Location>,
}

/// A desktop entry before the document-wide checks (the cap needs the document's `defaults`,
/// which may come after `desktops`). `selector` is `None` when it was missing or invalid.
pub(super) struct PendingEntry {
    pub selector: Option<Selector>,
    pub location: Location,
    pub tags: TagMap,
    pub absent: SortedMap<TagKey, Location>,
    pub priority: i32,
    pub acknowledge: Option<Location>,
}

/// What reading the next document of a stream gave.
pub(super) enum Next {
    /// A document whose valid parts are handed on.
    Document(Box<Document>),
    /// A document too broken to hand on (its problems are reported).
    Unusable,
    /// An empty document: nothing but comments, or nothing at all.
    Empty,
    /// The stream has no more documents.
    End,
}

impl Check<'_, '_> {
    /// Reads the next document of the stream.
    pub(crate) fn document(&mut self) -> Result<Next> {
        loop {
            match self.reader.next()? {
                (Event::StreamStart, _) => continue,
                (Event::StreamEnd, _) => return Ok(Next::End),
                (Event::DocumentStart, _) => break,
                (other, pos) => {
                    return Err(SyntaxError {
                        pos,
                        message: format!("unexpected YAML event {other:?}"),
                    })
                }
            }
        }
        let (head, pos) = self.reader.node()?;
        let next = match head {
            Head::Map => {
                let mut fields = DocumentFields::default();
                let walked = self.fields(pos, &DOCUMENT, &mut fields)?;
                match self.finish_document(fields, &walked) {
                    Some(document) => Next::Document(Box::new(document)),
                    None => Next::Unusable,
                }
            }
            Head::Scalar(ref s) if s.plain && s.text.is_empty() => Next::Empty,
            other => {
                self.wrong_type(
                    &other,
                    pos,
                    "a manifest document (a mapping starting with `version: 1`)",
                    "write the document as fields such as `version: 1` and `desktops:`",
                )?;
                Next::Unusable
            }
        };
        match self.reader.next()? {
            (Event::DocumentEnd, _) => Ok(next),
            (other, pos) => Err(SyntaxError {
                pos,
                message: format!("expected the end of the document, found {other:?}"),
            }),
        }
    }

    /// `desktops:`: a list of entries.
    fn desktops(&mut self, value: Value) -> Result<Vec<PendingEntry>> {
        let Value { head, pos, key_pos } = value;
        let mut entries = Vec::new();
        match head {
            Head::Seq => {}
            Head::Scalar(ref s) if s.is_null() => {
                self.null_field(
                    "desktops",
                    key_pos,
                    "list entries under `desktops:`, each starting with `- id:` or `- name:`",
                );
                return Ok(entries);
            }
            other => {
                self.wrong_type(
                    &other,
                    pos,
                    "a list of desktop entries for `desktops`",
                    "write each entry as a list item starting with `- id:` or `- name:`",
                )?;
                return Ok(entries);
            }
        }
        loop {
            match self.reader.item()? {
                Item::End(_) => return Ok(entries),
                Item::Node(Head::Map, p) => {
                    let mut fields = EntryFields::default();
                    let walked = self.fields(p, &ENTRY, &mut fields)?;
                    if let Some(entry) = self.finish_entry(fields, &walked) {
                        entries.push(entry);
                    }
                }
                Item::Node(Head::Scalar(s), p) if s.is_null() => {
                    let p = if s.text.is_empty() {
                        self.reader.empty_item_pos(p)
                    } else {
                        p
                    };
                    self.empty_entry(p);
                }
                Item::Node(other, p) => {
                    self.wrong_type(
                        &other,
                        p,
                        "a desktop entry (a mapping with `id` or `name`, and `tags` or `absent`)",
                        "write the entry as `- name: <computer name>` with `tags:` indented below it",
                    )?;
                }
            }
        }
    }

    pub(crate) fn empty_entry(&mut self, pos: Pos) {
        self.error(
            Code::EmptyEntry,
            pos,
            "desktop entry is empty".into(),
            "give the entry an `id` or a `name`, and `tags` or `absent`; or remove it",
        );
    }
}
