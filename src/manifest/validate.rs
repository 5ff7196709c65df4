//! Validation of one manifest file's text into documents of the model, collecting every problem
//! with its location instead of stopping at the first (design §2). Reads events from `reader`
//! and walks them by hand, like a deserializer that never gives up. Pure: no I/O here.

use std::sync::Arc;

use yaml_rust2::parser::Event;

use super::model::{Document, Entry, Selector, Sourced};
use super::reader::{Head, Item, Pos, Reader, SyntaxError};
use super::{shorten, suggest, LoadOptions};
use crate::diagnostic::{Diagnostic, Location};
use crate::tags::{check_key, check_value, SortedMap, TagKey, TagValue};

type Result<T> = std::result::Result<T, SyntaxError>;
type TagMap = SortedMap<TagKey, Sourced<TagValue>>;

const DOCUMENT_FIELDS: &[&str] = &[
    "version",
    "project_id",
    "defaults",
    "ignore_keys",
    "desktops",
];
const ENTRY_FIELDS: &[&str] = &["id", "name", "tags", "absent"];

/// Validates every document of one file. Returns the documents that could be read (each with
/// only its valid parts) and every diagnostic. After a YAML syntax error the file's remaining
/// text cannot be read: the document in progress is dropped with its diagnostics, and the syntax
/// error is reported alone for it.
pub(crate) fn check_text(
    file: Arc<str>,
    text: &str,
    options: &LoadOptions,
) -> (Vec<Document>, Vec<Diagnostic>) {
    let mut check = Check {
        file,
        reader: Reader::new(text),
        options,
        diagnostics: Vec::new(),
    };
    let mut documents = Vec::new();
    loop {
        let mark = check.diagnostics.len();
        match check.document() {
            Ok(Some(Some(document))) => documents.push(document),
            Ok(Some(None)) => {}
            Ok(None) => break,
            Err(e) => {
                check.diagnostics.truncate(mark);
                let location = check.loc(e.pos);
                check.diagnostics.push(
                    Diagnostic::error("yaml-syntax", format!("invalid YAML: {}", e.message))
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
    (documents, check.diagnostics)
}

struct Check<'t, 'o> {
    file: Arc<str>,
    reader: Reader<'t>,
    options: &'o LoadOptions,
    diagnostics: Vec<Diagnostic>,
}

/// A desktop entry before the document-wide checks (the cap needs the document's `defaults`,
/// which may come after `desktops`).
struct PendingEntry {
    selector: Option<Selector>,
    location: Location,
    tags: TagMap,
    absent: SortedMap<TagKey, Location>,
}

/// What a document's top-level fields said, collected in any order.
#[derive(Default)]
struct DocumentFields {
    version_ok: bool,
    version_seen: bool,
    project_id: Option<Sourced<String>>,
    defaults: TagMap,
    /// The `defaults:` key and how many keys it listed, valid or not.
    defaults_at: Option<(Pos, usize)>,
    ignore_keys: Vec<Sourced<String>>,
    desktops_seen: bool,
    /// An unknown field was reported (perhaps a misspelt `desktops`).
    unknown: bool,
    entries: Vec<PendingEntry>,
}

impl Check<'_, '_> {
    fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn error(&mut self, code: &'static str, pos: Pos, message: String, help: impl Into<String>) {
        let location = self.loc(pos);
        self.push(
            Diagnostic::error(code, message)
                .at(location)
                .with_help(help),
        );
    }

    /// Reports that `what` was expected where something else was written, and skips it.
    fn wrong_type(&mut self, head: &Head, pos: Pos, what: &str, help: &str) -> Result<()> {
        if *head == Head::Alias {
            self.alias(pos);
        } else {
            let message = format!("expected {what}, found {}", head.describe());
            self.error("type", pos, message, help);
        }
        self.reader.skip(head)
    }

    fn alias(&mut self, pos: Pos) {
        self.error(
            "alias",
            pos,
            "YAML aliases (`*name`) are not supported in manifests".into(),
            "write the value out in full; anchors and aliases make reviews of tag changes harder",
        );
    }

    /// One document: `Some(Some(doc))` when it could be read, `Some(None)` when it was empty or
    /// unusable (problems are reported), `None` at the end of the stream.
    fn document(&mut self) -> Result<Option<Option<Document>>> {
        loop {
            match self.reader.next()? {
                (Event::StreamStart, _) => continue,
                (Event::StreamEnd, _) => return Ok(None),
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
        let document = match head {
            Head::Map => self.document_fields(pos)?,
            Head::Scalar(ref s) if s.plain && s.tag.is_none() && s.text.is_empty() => None,
            other => {
                self.wrong_type(
                    &other,
                    pos,
                    "a manifest document (a mapping starting with `version: 1`)",
                    "write the document as fields such as `version: 1` and `desktops:`",
                )?;
                None
            }
        };
        match self.reader.next()? {
            (Event::DocumentEnd, _) => Ok(Some(document)),
            (other, pos) => Err(SyntaxError {
                pos,
                message: format!("expected the end of the document, found {other:?}"),
            }),
        }
    }

    /// Reads the rest of a mapping, calling `on_key` with each plain key; `on_key` must consume
    /// the value. Non-scalar keys are reported and skipped with their values. Returns the
    /// position of the first key (where a block mapping visibly starts), or of the mapping.
    fn mapping(
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
                            "type",
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

    /// Reports `key` if it was already seen in this mapping; records it otherwise.
    fn duplicate_field(&mut self, seen: &mut Vec<(String, Pos)>, key: &str, pos: Pos) -> bool {
        if let Some((_, first)) = seen.iter().find(|(k, _)| k == key) {
            let first = self.loc(*first);
            self.duplicate(key, pos, first);
            return true;
        }
        seen.push((key.to_string(), pos));
        false
    }

    fn duplicate(&mut self, key: &str, pos: Pos, first: Location) {
        let location = self.loc(pos);
        self.push(
            Diagnostic::error(
                "duplicate-key",
                format!("`{}` is written twice in the same mapping", shorten(key)),
            )
            .at(location)
            .with_note(first, format!("`{}` is first written here", shorten(key)))
            .with_help("keep one of the two; YAML parsers would silently drop one of them"),
        );
    }

    fn unknown_field(&mut self, key: &str, pos: Pos, in_entry: bool) {
        let (known, place) = if in_entry {
            (ENTRY_FIELDS, "a desktop entry")
        } else {
            (DOCUMENT_FIELDS, "a manifest document")
        };
        let help = if !in_entry && key == "tags" {
            "did you mean `defaults`? (`tags` belongs in an entry under `desktops:`)".to_string()
        } else if let Some(s) = suggest::closest(key, known) {
            format!("did you mean `{s}`?")
        } else if !in_entry && ENTRY_FIELDS.contains(&key) {
            format!("`{key}` belongs in an entry under `desktops:`")
        } else if in_entry && DOCUMENT_FIELDS.contains(&key) {
            format!("`{key}` is a document field; move it to the top level of the document")
        } else {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!("the fields of {place} are {}", list.join(", "))
        };
        self.error(
            "unknown-field",
            pos,
            format!("unknown field `{}` in {place}", shorten(key)),
            help,
        );
    }

    /// A field whose value is null (`tags:` with nothing after it).
    fn null_field(&mut self, field: &str, key_pos: Pos, help: &str) {
        self.error(
            "null-value",
            key_pos,
            format!("`{field}` has no value"),
            help,
        );
    }

    fn document_fields(&mut self, start: Pos) -> Result<Option<Document>> {
        let mut fields = DocumentFields::default();
        let mut seen = Vec::new();
        let first = self.mapping(start, |c, key, kpos| {
            let (head, vpos) = c.reader.node()?;
            if c.duplicate_field(&mut seen, &key, kpos) {
                return c.reader.skip(&head);
            }
            match key.as_str() {
                "version" => {
                    fields.version_seen = true;
                    fields.version_ok = c.version(head, vpos, kpos)?;
                }
                "project_id" => fields.project_id = c.project_id(head, vpos, kpos)?,
                "defaults" => {
                    let count;
                    (fields.defaults, count) = c.tag_map("defaults", head, vpos, kpos)?;
                    fields.defaults_at = Some((kpos, count.unwrap_or(0)));
                }
                "ignore_keys" => fields.ignore_keys = c.ignore_keys(head, vpos, kpos)?,
                "desktops" => {
                    fields.desktops_seen = true;
                    fields.entries = c.desktops(head, vpos, kpos)?;
                }
                _ => {
                    fields.unknown = true;
                    c.unknown_field(&key, kpos, false);
                    c.reader.skip(&head)?;
                }
            }
            Ok(())
        })?;
        Ok(self.finish_document(fields, first))
    }

    /// The document-wide checks (version present, the cap with `defaults`), then the document.
    fn finish_document(&mut self, fields: DocumentFields, start: Pos) -> Option<Document> {
        if !fields.version_seen {
            self.error(
                "missing-field",
                start,
                "manifest document has no `version`".into(),
                "add `version: 1` as the first line of the document",
            );
        }
        if !fields.desktops_seen && !fields.unknown {
            let location = self.loc(start);
            self.push(
                Diagnostic::warning(
                    "no-desktops",
                    "manifest document has no `desktops`, so it changes nothing",
                )
                .at(location)
                .with_help(
                    "add a `desktops:` list of entries with `id` or `name`, or delete the document",
                ),
            );
        }
        let max = self.options.max_tags;
        let defaults_over = match fields.defaults_at {
            Some((pos, count)) if count > max => {
                self.error(
                    "tag-cap",
                    pos,
                    format!("`defaults` sets {count} tags; a desktop may carry at most {max}"),
                    "remove some defaults, or raise the limit with `--max-tags` if your account allows more",
                );
                true
            }
            _ => false,
        };
        let mut desktops = Vec::with_capacity(fields.entries.len());
        for entry in fields.entries {
            let own_only = entry
                .tags
                .keys()
                .filter(|k| !fields.defaults.contains_key(*k))
                .count();
            let total = fields.defaults.len() + own_only;
            if total > max && !defaults_over {
                let who = match &entry.selector {
                    Some(s) => format!("the entry for {s}"),
                    None => "this desktop entry".into(),
                };
                let message = format!(
                    "{who} would carry {total} tags ({} from `defaults`, {} in `tags`); a desktop may carry at most {max}",
                    fields.defaults.len(),
                    entry.tags.len(),
                );
                self.push(
                    Diagnostic::error("tag-cap", message)
                        .at(entry.location.clone())
                        .with_help(format!(
                            "remove {} tag(s) from this entry or from `defaults`, or raise the limit with `--max-tags` if your account allows more",
                            total - max
                        )),
                );
            }
            if let Some(selector) = entry.selector {
                desktops.push(Entry {
                    selector,
                    location: entry.location,
                    tags: entry.tags,
                    absent: entry.absent,
                });
            }
        }
        if !fields.version_ok {
            return None;
        }
        Some(Document {
            location: self.loc(start),
            project_id: fields.project_id,
            defaults: fields.defaults,
            ignore_keys: fields.ignore_keys,
            desktops,
        })
    }

    fn version(&mut self, head: Head, pos: Pos, key_pos: Pos) -> Result<bool> {
        let Head::Scalar(s) = head else {
            self.wrong_type(
                &head,
                pos,
                "the number 1 for `version`",
                "write `version: 1`",
            )?;
            return Ok(false);
        };
        if s.is_null() {
            self.null_field("version", key_pos, "write `version: 1`");
            return Ok(false);
        }
        if s.is_string() {
            let message = format!(
                "`version` must be the number 1, found the string {:?}",
                s.text
            );
            self.error("version", pos, message, "write `version: 1` without quotes");
            return Ok(false);
        }
        if s.text == "1" {
            return Ok(true);
        }
        let message = format!("unsupported manifest version `{}`", shorten(&s.text));
        self.error(
            "version",
            pos,
            message,
            "this desktag reads version 1 manifests; write `version: 1`",
        );
        Ok(false)
    }

    fn project_id(
        &mut self,
        head: Head,
        pos: Pos,
        key_pos: Pos,
    ) -> Result<Option<Sourced<String>>> {
        const HELP: &str = "write the 32-character project id from the console (letters, digits, `-` and `_`), or remove `project_id` to use `--project-id` or the environment";
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a project id for `project_id`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("project_id", key_pos, HELP);
            return Ok(None);
        }
        if s.text.is_empty() {
            self.error("project-id", pos, "`project_id` is empty".into(), HELP);
            return Ok(None);
        }
        if let Some(bad) = s
            .text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            let message = format!(
                "project id `{}` contains `{bad}`, which is not allowed",
                shorten(&s.text)
            );
            self.error("project-id", pos, message, HELP);
            return Ok(None);
        }
        Ok(Some(Sourced {
            value: s.text,
            location: self.loc(pos),
        }))
    }

    /// A mapping of tag key → value (`defaults`, `tags`). Returns the valid tags and how many
    /// keys were written (`None` when the field was not a mapping; that is reported).
    fn tag_map(
        &mut self,
        field: &str,
        head: Head,
        pos: Pos,
        key_pos: Pos,
    ) -> Result<(TagMap, Option<usize>)> {
        let mut map = TagMap::new();
        match head {
            Head::Map => {}
            Head::Scalar(ref s) if s.is_null() => {
                self.null_field(
                    field,
                    key_pos,
                    &format!(
                        "write tags under `{field}:` as `key: value` lines, or remove `{field}`"
                    ),
                );
                return Ok((map, None));
            }
            other => {
                let what = format!("a mapping of `key: value` tags for `{field}`");
                self.wrong_type(
                    &other,
                    pos,
                    &what,
                    "write one `key: value` per line, indented under the field",
                )?;
                return Ok((map, None));
            }
        }
        // Keys that were rejected, kept so that a duplicate of one is still reported.
        let mut rejected: Vec<(String, Pos)> = Vec::new();
        let mut count = 0;
        self.mapping(pos, |c, key, kpos| {
            let (vhead, vpos) = c.reader.node()?;
            let first = match map.get(key.as_str()) {
                Some(tag) => Some(tag.location.clone()),
                None => rejected
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, p)| c.loc(*p)),
            };
            if let Some(first) = first {
                c.duplicate(&key, kpos, first);
                return c.reader.skip(&vhead);
            }
            count += 1;
            let key_ok = match check_key(&key) {
                Ok(()) => true,
                Err(e) => {
                    let message = format!("`{}`: {e}", shorten(&key));
                    let location = c.loc(kpos);
                    c.push(
                        Diagnostic::error(e.code(), message)
                            .at(location)
                            .with_help(e.help()),
                    );
                    false
                }
            };
            let value = c.tag_value(&key, vhead, vpos, kpos)?;
            match (key_ok, value) {
                (true, Some(value)) => {
                    // `check_key` passed above, so `new` cannot fail here.
                    if let Ok(tag_key) = TagKey::new(key) {
                        let location = c.loc(kpos);
                        map.insert(tag_key, Sourced { value, location });
                    }
                }
                _ => rejected.push((key, kpos)),
            }
            Ok(())
        })?;
        // The validated model keeps one map per entry: no spare capacity.
        map.shrink_to_fit();
        Ok((map, Some(count)))
    }

    /// The value of tag `key`: plain scalars are taken as written (`8080`, `true`).
    fn tag_value(
        &mut self,
        key: &str,
        head: Head,
        pos: Pos,
        key_pos: Pos,
    ) -> Result<Option<TagValue>> {
        let Head::Scalar(s) = head else {
            let what = format!("a text value for tag `{}`", shorten(key));
            self.wrong_type(
                &head,
                pos,
                &what,
                "tag values are text; quote the value if it contains `:` or starts with `[` or `{`",
            )?;
            return Ok(None);
        };
        if s.is_null() {
            let shown = shorten(key);
            self.error(
                "null-value",
                key_pos,
                format!("tag `{shown}` has no value"),
                format!("write `{shown}: \"\"` for an empty value, or give it a value"),
            );
            return Ok(None);
        }
        match check_value(&s.text) {
            Ok(()) => Ok(TagValue::new(s.text).ok()),
            Err(e) => {
                let message = format!("value of tag `{}`: {e}", shorten(key));
                let location = self.loc(pos);
                self.push(
                    Diagnostic::error(e.code(), message)
                        .at(location)
                        .with_help(e.help()),
                );
                Ok(None)
            }
        }
    }

    /// A list of scalars (`absent`, `ignore_keys`), each passed to `item` with its position.
    fn scalar_list(
        &mut self,
        field: &str,
        head: Head,
        pos: Pos,
        key_pos: Pos,
        example: &str,
        mut item: impl FnMut(&mut Self, String, Pos),
    ) -> Result<Option<usize>> {
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
                        "null-value",
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

    fn ignore_keys(&mut self, head: Head, pos: Pos, key_pos: Pos) -> Result<Vec<Sourced<String>>> {
        let mut globs = Vec::new();
        self.scalar_list(
            "ignore_keys",
            head,
            pos,
            key_pos,
            "[\"ops-*\"]",
            |c, text, p| match globset::Glob::new(&text) {
                Ok(_) => globs.push(Sourced {
                    value: text,
                    location: c.loc(p),
                }),
                Err(e) => c.bad_glob("key glob", &text, p, e.kind()),
            },
        )?;
        Ok(globs)
    }

    fn bad_glob(&mut self, what: &str, text: &str, pos: Pos, kind: &globset::ErrorKind) {
        self.error(
            "bad-glob",
            pos,
            format!("{what} `{}` is not a valid glob: {kind}", shorten(text)),
            "use `*` for any run of characters, `?` for one, `[abc]` for a set; close every `[` and `{`",
        );
    }

    /// The keys of `absent`, and how many items were written (`None` when it was not a list).
    fn absent(
        &mut self,
        head: Head,
        pos: Pos,
        key_pos: Pos,
    ) -> Result<(SortedMap<TagKey, Location>, Option<usize>)> {
        let mut keys: SortedMap<TagKey, Location> = SortedMap::new();
        let mut rejected: Vec<(String, Pos)> = Vec::new();
        let count = self.scalar_list(
            "absent",
            head,
            pos,
            key_pos,
            "[legacy-owner]",
            |c, text, p| {
                let first = match keys.get(text.as_str()) {
                    Some(location) => Some(location.clone()),
                    None => rejected
                        .iter()
                        .find(|(k, _)| *k == text)
                        .map(|(_, p)| c.loc(*p)),
                };
                if let Some(first) = first {
                    let location = c.loc(p);
                    let shown = shorten(&text);
                    c.push(
                        Diagnostic::error(
                            "duplicate-key",
                            format!("`{shown}` is listed twice in `absent`"),
                        )
                        .at(location)
                        .with_note(first, format!("`{shown}` is first listed here"))
                        .with_help("remove one of the two"),
                    );
                    return;
                }
                match check_key(&text) {
                    Ok(()) => {
                        if let Ok(key) = TagKey::new(text) {
                            keys.insert(key, c.loc(p));
                        }
                    }
                    Err(e) => {
                        let message = format!("`{}` in `absent`: {e}", shorten(&text));
                        let location = c.loc(p);
                        c.push(
                            Diagnostic::error(e.code(), message)
                                .at(location)
                                .with_help(e.help()),
                        );
                        rejected.push((text, p));
                    }
                }
            },
        )?;
        keys.shrink_to_fit();
        Ok((keys, count))
    }

    fn desktops(&mut self, head: Head, pos: Pos, key_pos: Pos) -> Result<Vec<PendingEntry>> {
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
                    if let Some(entry) = self.entry(p)? {
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

    fn empty_entry(&mut self, pos: Pos) {
        self.error(
            "empty-entry",
            pos,
            "desktop entry is empty".into(),
            "give the entry an `id` or a `name`, and `tags` or `absent`; or remove it",
        );
    }

    fn entry(&mut self, start: Pos) -> Result<Option<PendingEntry>> {
        let mut seen = Vec::new();
        let mut unknown = false;
        let mut id: Option<(Option<String>, Pos)> = None;
        let mut name: Option<(Option<Selector>, Pos)> = None;
        // Each `(valid part, items written)`; items written is `None` when the field's value was
        // not a collection at all (already reported).
        let mut tags: Option<(TagMap, Option<usize>)> = None;
        let mut absent: Option<(SortedMap<TagKey, Location>, Option<usize>)> = None;
        let first = self.mapping(start, |c, key, kpos| {
            let (head, vpos) = c.reader.node()?;
            if c.duplicate_field(&mut seen, &key, kpos) {
                return c.reader.skip(&head);
            }
            match key.as_str() {
                "id" => id = Some((c.desktop_id(head, vpos, kpos)?, kpos)),
                "name" => name = Some((c.desktop_name(head, vpos, kpos)?, kpos)),
                "tags" => tags = Some(c.tag_map("tags", head, vpos, kpos)?),
                "absent" => absent = Some(c.absent(head, vpos, kpos)?),
                _ => {
                    unknown = true;
                    c.unknown_field(&key, kpos, true);
                    c.reader.skip(&head)?;
                }
            }
            Ok(())
        })?;
        if seen.is_empty() {
            self.empty_entry(first);
            return Ok(None);
        }
        let (selector, location) = match (id, name) {
            (Some((_, id_pos)), Some((_, name_pos))) => {
                let (at, other) = (id_pos.min(name_pos), id_pos.max(name_pos));
                let location = self.loc(at);
                let other_loc = self.loc(other);
                self.push(
                    Diagnostic::error("selector", "desktop entry has both `id` and `name`")
                        .at(location)
                        .with_note(other_loc, "the other selector is here")
                        .with_help("keep one: `id` selects one desktop, `name` selects by computer name or glob"),
                );
                (None, self.loc(at))
            }
            (Some((id, pos)), None) => (id.map(Selector::Id), self.loc(pos)),
            (None, Some((name, pos))) => (name, self.loc(pos)),
            (None, None) => {
                self.error(
                    "selector",
                    first,
                    "desktop entry has no `id` or `name`".into(),
                    "add `id: <desktop id>` or `name: <computer name or glob>` to say which desktops it tags",
                );
                (None, self.loc(first))
            }
        };
        let (tags, tags_written) = tags.unwrap_or((TagMap::new(), Some(0)));
        let (absent, absent_written) = absent.unwrap_or((SortedMap::new(), Some(0)));
        // After an unknown field (`tag:`, `absnet:`) "no tags" would only repeat that error.
        if tags_written == Some(0) && absent_written == Some(0) && !unknown {
            let who = selector
                .as_ref()
                .map_or("desktop entry".into(), |s| format!("the entry for {s}"));
            self.push(
                Diagnostic::error("no-tags", format!("{who} has no `tags` and no `absent`"))
                    .at(location.clone())
                    .with_help("add `tags:` with `key: value` lines or `absent:` with keys to delete, or remove the entry"),
            );
        }
        for (key, absent_at) in &absent {
            if let Some(tag) = tags.get(key) {
                self.push(
                    Diagnostic::error(
                        "tags-absent-overlap",
                        format!("`{key}` is both in `tags` and in `absent`"),
                    )
                    .at(absent_at.clone())
                    .with_note(
                        tag.location.clone(),
                        format!("`{key}` is set in `tags` here"),
                    )
                    .with_help(
                        "a key is either wanted or deleted: remove it from `tags` or from `absent`",
                    ),
                );
            }
        }
        Ok(Some(PendingEntry {
            selector,
            location,
            tags,
            absent,
        }))
    }

    fn desktop_id(&mut self, head: Head, pos: Pos, key_pos: Pos) -> Result<Option<String>> {
        const HELP: &str = "write the desktop id, e.g. `id: 8e07d3e9-454e-4fc9-ba56-c631d05c4712` (see `desktag export`)";
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a desktop id for `id`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("id", key_pos, HELP);
            return Ok(None);
        }
        if s.text.is_empty() || s.text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            let message = format!(
                "desktop id {:?} is empty or contains whitespace",
                shorten(&s.text)
            );
            self.error("selector", pos, message, HELP);
            return Ok(None);
        }
        Ok(Some(s.text))
    }

    fn desktop_name(&mut self, head: Head, pos: Pos, key_pos: Pos) -> Result<Option<Selector>> {
        const HELP: &str = "write the computer name, e.g. `name: FIN-WKS-002`, or a glob like `name: \"FIN-LAP-*\"`";
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a computer name for `name`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("name", key_pos, HELP);
            return Ok(None);
        }
        if s.text.trim().is_empty() {
            self.error("selector", pos, "computer name is empty".into(), HELP);
            return Ok(None);
        }
        let selector = Selector::from_name(s.text);
        if let Selector::Glob(glob) = &selector {
            if let Err(e) = Selector::name_glob(glob) {
                self.bad_glob("name glob", glob, pos, e.kind());
                return Ok(None);
            }
        }
        Ok(Some(selector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;

    /// Diagnostics of `text` as `line:col code: message` lines (sorted).
    fn problems(text: &str) -> Vec<String> {
        load_str("m.yaml", text, &LoadOptions::default())
            .diagnostics
            .iter()
            .map(|d| {
                let l = d.location.as_ref().expect("every problem is located");
                format!("{}:{} {}: {}", l.line, l.column, d.code, d.message)
            })
            .collect()
    }

    fn one(text: &str) -> Diagnostic {
        let loaded = load_str("m.yaml", text, &LoadOptions::default());
        assert_eq!(loaded.diagnostics.len(), 1, "{:#?}", loaded.diagnostics);
        loaded.diagnostics.into_iter().next().unwrap()
    }

    fn doc(text: &str) -> Document {
        let loaded = load_str("m.yaml", text, &LoadOptions::default());
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        assert_eq!(loaded.manifest.documents.len(), 1);
        loaded.manifest.documents.into_iter().next().unwrap()
    }

    const HEAD: &str = "version: 1\ndesktops:\n";

    #[test]
    fn valid_document_becomes_the_model_with_locations() {
        let d = doc("version: 1\nproject_id: p_1-x\ndefaults:\n  owner: fin\nignore_keys: [\"ops-*\"]\ndesktops:\n  - id: abc\n    tags: {env: dev}\n    absent: [legacy]\n  - name: \"FIN-*\"\n    tags:\n      port: 8080\n      flag: true\n      empty: \"\"\n");
        assert_eq!(d.location, Location::new("m.yaml", 1, 1));
        assert_eq!(d.project_id.as_ref().unwrap().value, "p_1-x");
        assert_eq!(d.defaults["owner"].value.as_str(), "fin");
        assert_eq!(d.defaults["owner"].location, Location::new("m.yaml", 4, 3));
        assert_eq!(d.ignore_keys[0].value, "ops-*");
        assert_eq!(d.desktops.len(), 2);
        let e = &d.desktops[0];
        assert_eq!(e.selector, Selector::Id("abc".into()));
        assert_eq!(e.location, Location::new("m.yaml", 7, 5));
        assert_eq!(e.tags["env"].value.as_str(), "dev");
        assert_eq!(e.absent["legacy"], Location::new("m.yaml", 9, 14));
        let g = &d.desktops[1];
        assert_eq!(g.selector, Selector::Glob("FIN-*".into()));
        assert_eq!(g.tags["port"].value.as_str(), "8080");
        assert_eq!(g.tags["flag"].value.as_str(), "true");
        assert_eq!(g.tags["empty"].value.as_str(), "");
    }

    #[test]
    fn multiline_and_quoted_scalars_are_read_as_text() {
        let d = doc("version: 1\ndesktops:\n  - name: 'FIN 01'\n    tags:\n      note: >-\n        two\n        words\n      quoted: \"a:b\"\n");
        assert_eq!(d.desktops[0].selector, Selector::Name("FIN 01".into()));
        assert_eq!(d.desktops[0].tags["note"].value.as_str(), "two words");
        assert_eq!(d.desktops[0].tags["quoted"].value.as_str(), "a:b");
        // A literal block keeps its newline, which no tag value may contain.
        let d = one("version: 1\ndesktops:\n  - name: x\n    tags:\n      note: |\n        line\n");
        assert_eq!(d.code, "tag-charset");
    }

    #[test]
    fn several_documents_are_read_and_empty_ones_skipped() {
        let loaded = load_str(
            "m.yaml",
            "# only a comment\n---\nversion: 1\ndesktops: []\n---\n# nothing\n---\nversion: 1\ndesktops: []\n",
            &LoadOptions::default(),
        );
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let lines: Vec<u32> = loaded
            .manifest
            .documents
            .iter()
            .map(|d| d.location.line)
            .collect();
        assert_eq!(lines, vec![3, 8]);
        assert!(load_str("m.yaml", "", &LoadOptions::default())
            .diagnostics
            .is_empty());
    }

    #[test]
    fn version_is_required_and_must_be_one() {
        assert_eq!(
            problems("desktops: []\n"),
            vec!["1:1 missing-field: manifest document has no `version`"]
        );
        assert_eq!(
            problems("version: 2\ndesktops: []\n"),
            vec!["1:10 version: unsupported manifest version `2`"]
        );
        let d = one("version: \"1\"\ndesktops: []\n");
        assert_eq!(d.help.as_deref(), Some("write `version: 1` without quotes"));
        assert_eq!(
            problems("version:\ndesktops: []\n"),
            vec!["1:1 null-value: `version` has no value"]
        );
        // A document with a bad version is reported but not handed on.
        assert!(load_str(
            "m.yaml",
            "version: 2\ndesktops: []\n",
            &LoadOptions::default()
        )
        .manifest
        .documents
        .is_empty());
    }

    #[test]
    fn project_id_must_be_letters_digits_dash_underscore() {
        assert_eq!(
            problems("version: 1\nproject_id: ab.c\ndesktops: []\n"),
            vec!["2:13 project-id: project id `ab.c` contains `.`, which is not allowed"]
        );
        assert_eq!(
            problems("version: 1\nproject_id: ''\ndesktops: []\n"),
            vec!["2:13 project-id: `project_id` is empty"]
        );
        assert_eq!(
            problems("version: 1\nproject_id:\ndesktops: []\n"),
            vec!["2:1 null-value: `project_id` has no value"]
        );
        assert_eq!(
            doc("version: 1\nproject_id: 0123\ndesktops: []\n")
                .project_id
                .unwrap()
                .value,
            "0123"
        );
    }

    #[test]
    fn unknown_fields_are_errors_with_suggestions() {
        let d = one("version: 1\ndesktops:\n  - name: x\n    tag:\n      env: dev\n");
        assert_eq!(d.message, "unknown field `tag` in a desktop entry");
        assert_eq!(d.location, Some(Location::new("m.yaml", 4, 5)));
        assert_eq!(d.help.as_deref(), Some("did you mean `tags`?"));
        let d = one("version: 1\ndesktop: []\n");
        assert_eq!(d.help.as_deref(), Some("did you mean `desktops`?"));
        let d = problems("version: 1\ntags: {a: b}\ndesktops: []\n");
        assert_eq!(
            d,
            vec!["2:1 unknown-field: unknown field `tags` in a manifest document"]
        );
        let d = one("version: 1\ndesktops: []\ncolour: red\n");
        assert!(d
            .help
            .unwrap()
            .starts_with("the fields of a manifest document are `version`"));
    }

    #[test]
    fn entry_needs_exactly_one_selector() {
        let d = one(&format!(
            "{HEAD}  - id: a\n    name: b\n    tags: {{x: y}}\n"
        ));
        assert_eq!(d.code, "selector");
        assert_eq!(d.message, "desktop entry has both `id` and `name`");
        assert_eq!(d.location, Some(Location::new("m.yaml", 3, 5)));
        assert_eq!(d.notes[0].location, Location::new("m.yaml", 4, 5));
        assert_eq!(
            problems(&format!("{HEAD}  - tags: {{x: y}}\n")),
            vec!["3:5 selector: desktop entry has no `id` or `name`"]
        );
    }

    #[test]
    fn entry_needs_tags_or_absent() {
        assert_eq!(
            problems(&format!("{HEAD}  - name: b\n")),
            vec!["3:5 no-tags: the entry for name `b` has no `tags` and no `absent`"]
        );
        assert_eq!(
            problems(&format!("{HEAD}  - name: b\n    tags: {{}}\n")).len(),
            1
        );
        assert!(problems(&format!("{HEAD}  - name: b\n    absent: [x]\n")).is_empty());
    }

    #[test]
    fn empty_entries_are_errors_at_their_dash() {
        assert_eq!(
            problems(&format!(
                "{HEAD}  -\n  - {{}}\n  - name: b\n    tags: {{a: b}}\n"
            )),
            vec![
                "3:3 empty-entry: desktop entry is empty",
                "4:5 empty-entry: desktop entry is empty"
            ]
        );
    }

    #[test]
    fn tag_keys_and_values_follow_the_tag_rules() {
        let got = problems(&format!(
            "{HEAD}  - name: b\n    tags:\n      a/b: x\n      _sys_x: y\n      ok: {}\n      fine: \"v=1\"\n",
            "v".repeat(44)
        ));
        assert_eq!(
            got,
            vec![
                "5:7 tag-charset: `a/b`: tag key contains `/` at character 2, which is not allowed",
                "6:7 system-key: `_sys_x`: tag key starts with `_sys_`, which is reserved for system tags",
                "7:11 value-length: value of tag `ok`: tag value is 44 characters long; the limit is 43",
                "8:13 tag-charset: value of tag `fine`: tag value contains `=` at character 2, which is not allowed",
            ]
        );
        let d = one(&format!("{HEAD}  - name: b\n    absent: [\"a,b\"]\n"));
        assert_eq!(
            d.message,
            "`a,b` in `absent`: tag key contains `,` at character 2, which is not allowed"
        );
        assert!(d.help.unwrap().contains("forbidden"));
    }

    #[test]
    fn null_tag_value_says_how_to_write_an_empty_one() {
        for value in ["", " ~", " null"] {
            let d = one(&format!(
                "{HEAD}  - name: b\n    tags:\n      env:{value}\n      x: y\n"
            ));
            assert_eq!(d.code, "null-value");
            assert_eq!(d.message, "tag `env` has no value");
            assert_eq!(d.location, Some(Location::new("m.yaml", 5, 7)));
            assert_eq!(
                d.help.as_deref(),
                Some("write `env: \"\"` for an empty value, or give it a value")
            );
        }
    }

    #[test]
    fn collections_where_text_belongs_are_type_errors() {
        assert_eq!(
            problems(&format!(
                "{HEAD}  - name: b\n    tags:\n      env: [a, b]\n      o: {{x: 1}}\n"
            )),
            vec![
                "5:12 type: expected a text value for tag `env`, found a list",
                "6:10 type: expected a text value for tag `o`, found a mapping",
            ]
        );
        assert_eq!(
            problems(&format!("{HEAD}  - name: b\n    tags: [a]\n")),
            vec!["4:11 type: expected a mapping of `key: value` tags for `tags`, found a list"]
        );
        assert_eq!(
            problems(&format!("{HEAD}  - name: b\n    absent: legacy\n")),
            vec!["4:13 type: expected a list for `absent`, found text `legacy`"]
        );
        assert_eq!(problems("[1]\n"), vec!["1:1 type: expected a manifest document (a mapping starting with `version: 1`), found a list"]);
        assert_eq!(
            problems("version: 1\ndesktops: {}\n"),
            vec!["2:11 type: expected a list of desktop entries for `desktops`, found a mapping"]
        );
    }

    #[test]
    fn duplicate_keys_point_at_the_first_occurrence() {
        let got = load_str(
            "m.yaml",
            &format!("version: 1\n{}  - name: b\n    tags:\n      env: a\n      env: b\n    name: c\nversion: 1\n", "desktops:\n"),
            &LoadOptions::default(),
        )
        .diagnostics;
        let rendered: Vec<String> = got.iter().map(|d| d.to_string()).collect();
        assert_eq!(rendered.len(), 3, "{rendered:#?}");
        assert!(rendered[0].starts_with("m.yaml:6:7: error[duplicate-key]: `env` is written twice in the same mapping\n  note: m.yaml:5:7: `env` is first written here"), "{}", rendered[0]);
        assert!(rendered[1].starts_with("m.yaml:7:5: error[duplicate-key]: `name`"));
        assert!(rendered[2].starts_with("m.yaml:8:1: error[duplicate-key]: `version`"));
        // A duplicate of a rejected key is still a duplicate.
        let got = problems(&format!(
            "{HEAD}  - name: b\n    tags:\n      a/b: x\n      a/b: y\n"
        ));
        assert_eq!(
            got[1],
            "6:7 duplicate-key: `a/b` is written twice in the same mapping"
        );
        let got = problems(&format!("{HEAD}  - name: b\n    absent: [x, x]\n"));
        assert_eq!(
            got,
            vec!["4:17 duplicate-key: `x` is listed twice in `absent`"]
        );
    }

    #[test]
    fn the_same_key_in_tags_and_absent_is_an_error() {
        let d = one(&format!(
            "{HEAD}  - name: b\n    absent: [env]\n    tags: {{env: dev}}\n"
        ));
        assert_eq!(d.code, "tags-absent-overlap");
        assert_eq!(d.location, Some(Location::new("m.yaml", 4, 14)));
        assert_eq!(d.notes[0].location, Location::new("m.yaml", 5, 12));
    }

    #[test]
    fn defaults_and_tags_together_may_not_exceed_the_cap() {
        let defaults: String = (0..4).map(|i| format!("  d{i}: v\n")).collect();
        let tags: String = (0..8).map(|i| format!("      t{i}: v\n")).collect();
        let text = format!("version: 1\ndefaults:\n{defaults}desktops:\n  - name: b\n    tags:\n{tags}      d0: own\n");
        let d = one(&text);
        assert_eq!(d.code, "tag-cap");
        assert_eq!(
            d.message,
            "the entry for name `b` would carry 12 tags (4 from `defaults`, 9 in `tags`); a desktop may carry at most 10"
        );
        assert_eq!(d.location, Some(Location::new("m.yaml", 8, 5)));
        assert!(d.help.unwrap().starts_with("remove 2 tag(s)"));
        // A higher limit accepts it.
        let loaded = load_str("m.yaml", &text, &LoadOptions { max_tags: 12 });
        assert!(loaded.diagnostics.is_empty());
        // Defaults over the cap on their own are reported once, at `defaults`.
        let many: String = (0..11).map(|i| format!("  d{i}: v\n")).collect();
        let got = problems(&format!("version: 1\ndefaults:\n{many}desktops:\n  - name: a\n    tags: {{x: y}}\n  - name: b\n    tags: {{x: y}}\n"));
        assert_eq!(
            got,
            vec!["2:1 tag-cap: `defaults` sets 11 tags; a desktop may carry at most 10"]
        );
    }

    #[test]
    fn globs_must_compile() {
        // In a name glob only `*` and `?` are special, so brackets are literal and always valid.
        assert_eq!(
            problems(&format!("{HEAD}  - name: \"FIN-[*\"\n    tags: {{a: b}}\n")),
            Vec::<String>::new()
        );
        let got = problems("version: 1\nignore_keys: [\"ops-{a\", ok-*]\ndesktops: []\n");
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("2:15 bad-glob: key glob `ops-{a` is not a valid glob"),
            "{got:?}"
        );
        // A name with brackets but no `*`/`?` is an exact name, not a glob.
        let d = doc(&format!("{HEAD}  - name: \"FIN-[1\"\n    tags: {{a: b}}\n"));
        assert_eq!(d.desktops[0].selector, Selector::Name("FIN-[1".into()));
    }

    #[test]
    fn aliases_are_rejected_and_anchors_allowed() {
        let got = problems(&format!("{HEAD}  - name: &n b\n    tags:\n      x: *n\n"));
        assert_eq!(
            got,
            vec!["5:10 alias: YAML aliases (`*name`) are not supported in manifests"]
        );
    }

    #[test]
    fn syntax_error_is_reported_once_and_earlier_documents_kept() {
        let text =
            "version: 1\ndesktops: []\n---\nversion: 1\ncolour: x\ndesktops:\n  - name: \"open\n";
        let loaded = load_str("m.yaml", text, &LoadOptions::default());
        assert_eq!(loaded.manifest.documents.len(), 1);
        let got: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(got, vec!["yaml-syntax"], "{:#?}", loaded.diagnostics);
        let d = &loaded.diagnostics[0];
        assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
        assert_eq!(d.location.as_ref().unwrap().line, 7);
    }

    #[test]
    fn problems_of_all_entries_are_collected_in_one_run() {
        let got = problems(&format!(
            "{HEAD}  - name: a\n    tgs: {{}}\n  - id: b\n    tags: {{k: \"x/y\"}}\n  - name: c\n    tags:\n      k:\n"
        ));
        assert_eq!(got.len(), 3, "{got:#?}");
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_are_accepted() {
        let d = doc(
            "\u{feff}version: 1\r\ndesktops:\r\n  - name: b\r\n    tags:\r\n      env: dev\r\n",
        );
        assert_eq!(
            d.desktops[0].tags["env"].location,
            Location::new("m.yaml", 5, 7)
        );
        let got = problems("version: 1\r\ndesktops:\r\n  - name: b\r\n    tags:\r\n      env:\r\n");
        assert_eq!(got, vec!["5:7 null-value: tag `env` has no value"]);
    }

    #[test]
    fn tab_indentation_is_a_located_syntax_error() {
        let got = problems("version: 1\ndesktops:\n\t- name: b\n");
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("3:2 yaml-syntax: invalid YAML: tabs disallowed"),
            "{got:?}"
        );
    }

    #[test]
    fn document_without_desktops_is_a_warning() {
        let loaded = load_str("m.yaml", "version: 1\n", &LoadOptions::default());
        assert!(!loaded.has_errors());
        assert_eq!(loaded.diagnostics[0].code, "no-desktops");
        assert_eq!(loaded.manifest.documents.len(), 1);
    }
}
