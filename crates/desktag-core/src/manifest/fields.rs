//! Parsers of single field values: `version`, `project_id`, tag maps, `absent`, key globs,
//! `id` and `name`. Each consumes one value, reports what is wrong with it where it was written,
//! and returns only the valid part. Pure: no I/O here.

use super::model::{Selector, Sourced};
use super::reader::{Head, Pos};
use super::shorten;
use super::walk::{Check, Result, Value};
use crate::diagnostic::{Code, Diagnostic, Location};
use crate::glob;
use crate::tags::{check_key, check_project_id, check_value, ProjectIdError, SortedMap};
use crate::tags::{TagError, TagKey, TagValue};

pub(super) type TagMap = SortedMap<TagKey, Sourced<TagValue>>;

/// A collection field as read: its valid part, and how many items were written, valid or not
/// (`None` when the value was not a collection at all; that is reported).
pub(super) struct Collection<T> {
    pub valid: T,
    pub written: Option<usize>,
}

impl<T: Default> Collection<T> {
    /// A field that was not written: nothing valid, no items.
    pub(crate) fn absent() -> Self {
        Collection {
            valid: T::default(),
            written: Some(0),
        }
    }

    fn not_a_collection() -> Self {
        Collection {
            valid: T::default(),
            written: None,
        }
    }
}

impl Check<'_, '_> {
    pub(super) fn tag_error(&mut self, e: &TagError, pos: Pos, message: String) {
        let location = self.loc(pos);
        self.push(
            Diagnostic::error(Code::from(e), message)
                .at(location)
                .with_help(e.help()),
        );
    }

    /// `version: 1`; true when it is exactly that.
    pub(crate) fn version(&mut self, value: Value) -> Result<bool> {
        let Value { head, pos, key_pos } = value;
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
            self.error(
                Code::Version,
                pos,
                message,
                "write `version: 1` without quotes",
            );
            return Ok(false);
        }
        if s.text == "1" {
            return Ok(true);
        }
        let message = format!("unsupported manifest version `{}`", shorten(&s.text));
        self.error(
            Code::Version,
            pos,
            message,
            "this desktag reads version 1 manifests; write `version: 1`",
        );
        Ok(false)
    }

    pub(crate) fn project_id(&mut self, value: Value) -> Result<Option<Sourced<String>>> {
        const HELP: &str = "write the 32-character project id from the console (letters, digits, `-` and `_`), or remove `project_id` to use `--project-id` or the environment";
        let Value { head, pos, key_pos } = value;
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a project id for `project_id`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("project_id", key_pos, HELP);
            return Ok(None);
        }
        if let Err(e) = check_project_id(&s.text) {
            let shown = shorten(&s.text);
            let message = match e {
                ProjectIdError::Empty => "`project_id` is empty".to_string(),
                ProjectIdError::BadChar { ch } => {
                    format!("project id `{shown}` contains `{ch}`, which is not allowed")
                }
                ProjectIdError::TooLong { .. } => format!("project id `{shown}`: {e}"),
            };
            self.error(Code::ProjectId, pos, message, HELP);
            return Ok(None);
        }
        Ok(Some(Sourced {
            value: s.text,
            location: self.loc(pos),
        }))
    }

    pub(crate) fn region(&mut self, value: Value) -> Result<Option<Sourced<String>>> {
        const HELP: &str = "write the region id the project lives in, e.g. `region: cn-north-4` (lowercase letters, digits and `-`)";
        let Value { head, pos, key_pos } = value;
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a region id for `region`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("region", key_pos, HELP);
            return Ok(None);
        }
        if !crate::tags::is_region_id(&s.text) {
            let message = format!("`{}` is not a region id", shorten(&s.text));
            self.error(Code::Region, pos, message, HELP);
            return Ok(None);
        }
        Ok(Some(Sourced {
            value: s.text,
            location: self.loc(pos),
        }))
    }

    /// A mapping of tag key → value (`defaults`, `tags`).
    pub(crate) fn tag_map(&mut self, field: &str, value: Value) -> Result<Collection<TagMap>> {
        let Value { head, pos, key_pos } = value;
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
                return Ok(Collection::not_a_collection());
            }
            other => {
                let what = format!("a mapping of `key: value` tags for `{field}`");
                self.wrong_type(
                    &other,
                    pos,
                    &what,
                    "write one `key: value` per line, indented under the field",
                )?;
                return Ok(Collection::not_a_collection());
            }
        }
        let mut map = TagMap::new();
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
            let tag_key = match TagKey::new(key.as_str()) {
                Ok(k) => {
                    c.nfc_warning(&key, kpos);
                    Some(k)
                }
                Err(e) => {
                    c.tag_error(&e, kpos, format!("`{}`: {e}", shorten(&key)));
                    None
                }
            };
            let value = c.tag_value(
                &key,
                Value {
                    head: vhead,
                    pos: vpos,
                    key_pos: kpos,
                },
            )?;
            match (tag_key, value) {
                (Some(tag_key), Some(value)) => {
                    let location = c.loc(kpos);
                    map.insert(tag_key, Sourced { value, location });
                }
                _ => rejected.push((key, kpos)),
            }
            Ok(())
        })?;
        // The validated model keeps one map per entry: no spare capacity.
        map.shrink_to_fit();
        Ok(Collection {
            valid: map,
            written: Some(count),
        })
    }

    /// `rename: {Old: new}`: tag keys to tag keys. An old key renamed to itself, or to a key
    /// another item renames, is an error; so is a key renamed twice.
    pub(super) fn renames(&mut self, value: Value) -> Result<Vec<super::model::Rename>> {
        const HELP: &str = "write one `OldKey: new-key` per line, e.g. `rename: {Owner: owner}`";
        let Value { head, pos, key_pos } = value;
        match head {
            Head::Map => {}
            Head::Scalar(ref s) if s.is_null() => {
                self.null_field("rename", key_pos, HELP);
                return Ok(Vec::new());
            }
            other => {
                self.wrong_type(
                    &other,
                    pos,
                    "a mapping of `old: new` keys for `rename`",
                    HELP,
                )?;
                return Ok(Vec::new());
            }
        }
        let mut out: Vec<super::model::Rename> = Vec::new();
        let mut seen: Vec<(String, Pos)> = Vec::new();
        self.mapping(pos, |c, key, kpos| {
            let (vhead, vpos) = c.reader.node()?;
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                let first = c.loc(*first);
                c.duplicate(&key, kpos, first);
                return c.reader.skip(&vhead);
            }
            seen.push((key.clone(), kpos));
            let from = match TagKey::new(key.as_str()) {
                Ok(k) => Some(k),
                Err(e) => {
                    c.tag_error(&e, kpos, format!("`{}`: {e}", shorten(&key)));
                    None
                }
            };
            let Head::Scalar(s) = &vhead else {
                c.wrong_type(&vhead, vpos, "the new key (text) for a `rename` item", HELP)?;
                return Ok(());
            };
            if s.is_null() {
                c.null_field(&key, kpos, HELP);
                return Ok(());
            }
            let to = match TagKey::new(s.text.as_str()) {
                Ok(k) => k,
                Err(e) => {
                    c.tag_error(&e, vpos, format!("`{}`: {e}", shorten(&s.text)));
                    return Ok(());
                }
            };
            let Some(from) = from else {
                return Ok(());
            };
            if from == to {
                c.error(
                    Code::Rename,
                    vpos,
                    format!("`{}` is renamed to itself", shorten(&key)),
                    "remove the item, or give the new key",
                );
                return Ok(());
            }
            out.push(super::model::Rename {
                from: Sourced {
                    value: from,
                    location: c.loc(kpos),
                },
                to: Sourced {
                    value: to,
                    location: c.loc(vpos),
                },
            });
            Ok(())
        })?;
        self.chained_renames(&out);
        out.sort_by(|a, b| a.from.value.cmp(&b.from.value));
        Ok(out)
    }

    /// A chain (`a: b, b: c`) would depend on the order of the writes: each rename to a key
    /// that is itself renamed is an error.
    fn chained_renames(&mut self, renames: &[super::model::Rename]) {
        let olds: Vec<String> = renames
            .iter()
            .map(|r| r.from.value.as_str().to_string())
            .collect();
        let mut chained = Vec::new();
        for r in renames {
            if olds.iter().any(|o| o == r.to.value.as_str()) {
                chained.push((r.to.value.as_str().to_string(), r.to.location.clone()));
            }
        }
        for (key, at) in chained {
            self.push(
                crate::diagnostic::Diagnostic::error(
                    Code::Rename,
                    format!(
                        "`{}` is renamed to a key that is itself renamed",
                        shorten(&key)
                    ),
                )
                .at(at)
                .with_help("rename each old key straight to its final name"),
            );
        }
    }

    /// `priority: N`, an integer from -1000 to 1000; 0 when invalid (reported).
    pub(crate) fn priority(&mut self, value: Value) -> Result<i32> {
        const HELP: &str =
            "write a whole number from -1000 to 1000, e.g. `priority: 10`; the higher wins";
        let Value { head, pos, key_pos } = value;
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a number for `priority`", HELP)?;
            return Ok(0);
        };
        if s.is_null() {
            self.null_field("priority", key_pos, HELP);
            return Ok(0);
        }
        match s.text.parse::<i32>() {
            Ok(n) if s.plain && (-1000..=1000).contains(&n) => Ok(n),
            _ => {
                self.error(
                    Code::Type,
                    pos,
                    format!(
                        "`priority` must be a whole number from -1000 to 1000, not `{}`",
                        shorten(&s.text)
                    ),
                    HELP,
                );
                Ok(0)
            }
        }
    }

    /// `override: true|false`: the location of the key when true.
    pub(super) fn override_flag(&mut self, value: Value) -> Result<Option<Location>> {
        const HELP: &str = "write `override: true` to say this entry's overrides of lower-precedence sources in other documents are intended";
        let Value { head, pos, key_pos } = value;
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "true or false for `override`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("override", key_pos, HELP);
            return Ok(None);
        }
        match (s.plain, s.text.as_str()) {
            (true, "true") => Ok(Some(self.loc(key_pos))),
            (true, "false") => Ok(None),
            _ => {
                self.error(
                    Code::Type,
                    pos,
                    format!(
                        "`override` must be true or false, not `{}`",
                        shorten(&s.text)
                    ),
                    HELP,
                );
                Ok(None)
            }
        }
    }

    /// The value of tag `key`: plain scalars are taken as written (`8080`, `true`).
    fn tag_value(&mut self, key: &str, value: Value) -> Result<Option<TagValue>> {
        let Value { head, pos, key_pos } = value;
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
                Code::NullValue,
                key_pos,
                format!("tag `{shown}` has no value"),
                format!("write `{shown}: \"\"` for an empty value, or give it a value"),
            );
            return Ok(None);
        }
        if crate::template::is_template(&s.text) {
            let valid = self.template_value(key, &s.text, pos, s.plain);
            return Ok(valid.then(|| TagValue::template(s.text)));
        }
        match check_value(&s.text) {
            Ok(()) => Ok(TagValue::new(s.text).ok()),
            Err(e) => {
                self.tag_error(&e, pos, format!("value of tag `{}`: {e}", shorten(key)));
                Ok(None)
            }
        }
    }

    /// A templated value of tag `key`: every reference known, every `${` closed, and the text
    /// around the references made of characters a tag value may hold. False when it was reported.
    fn template_value(&mut self, key: &str, text: &str, pos: Pos, plain: bool) -> bool {
        let template =
            match crate::template::Template::parse_allowing(text, &self.options.env_allow) {
                Ok(template) => template,
                Err(e) => {
                    // Past the opening quote of a quoted value (exact for values without escapes).
                    let offset = u32::try_from(e.offset).unwrap_or(0) + u32::from(!plain);
                    let at = Pos {
                        line: pos.line,
                        column: pos.column + offset,
                    };
                    self.error(
                        Code::Template,
                        at,
                        format!("value of tag `{}`: {}", shorten(key), e.message),
                        e.help,
                    );
                    return false;
                }
            };
        // The literal text must be valid on its own; the length is checked once rendered.
        if let Err(e) = crate::tags::check_chars(&template.literal(), "value") {
            self.tag_error(&e, pos, format!("value of tag `{}`: {e}", shorten(key)));
            return false;
        }
        // A fallback may become the whole value: it is checked as one.
        for (reference, fallback) in template.fallbacks() {
            if let Err(e) = check_value(fallback) {
                let what = format!(
                    "value of tag `{}`: the fallback of `{reference}`: {e}",
                    shorten(key)
                );
                self.tag_error(&e, pos, what);
                return false;
            }
        }
        true
    }

    /// A key written with combining marks where a precomposed letter exists (`cafe\u{301}`
    /// rather than `café`) is a warning: the service keeps them apart, while they look the same
    /// to people and to desktag's guardrail globs, which compare in Unicode NFC.
    pub(super) fn nfc_warning(&mut self, key: &str, pos: Pos) {
        let nfc = crate::tags::nfc(key);
        if nfc == key {
            return;
        }
        let location = self.loc(pos);
        self.push(
            Diagnostic::warning(
                Code::NotNfc,
                format!(
                    "tag key `{}` is not in Unicode NFC form: it looks like `{}`, but the service treats the two as different keys",
                    crate::tags::spell_marks(&shorten(key)),
                    shorten(&nfc)
                ),
            )
            .at(location)
            .with_help(format!("write it as `{}` (one precomposed character)", shorten(&nfc))),
        );
    }

    /// A list of key globs (`ignore_keys`, `protect`, `create_only`): the globs that compile,
    /// each with where it was written.
    pub(crate) fn key_globs(
        &mut self,
        field: &'static str,
        value: Value,
    ) -> Result<Vec<Sourced<String>>> {
        let mut globs = Vec::new();
        self.scalar_list(
            field,
            value,
            "[\"ops-*\"]",
            |c, text, p| match glob::key_glob(&text) {
                Ok(_) => match never_matches_a_key(&text) {
                    None => globs.push(Sourced {
                        value: text,
                        location: c.loc(p),
                    }),
                    Some(why) => c.error(
                        Code::InvalidGlob,
                        p,
                        format!(
                            "`{field}` glob `{}` can never match a tag key: {why}",
                            shorten(&text).escape_debug()
                        ),
                        "write the key as tags spell it: letters, digits, `_ - . : + @` and inner spaces, no space at either end",
                    ),
                },
                Err(e) => c.invalid_glob("key glob", &e, p),
            },
        )?;
        Ok(globs)
    }

    fn invalid_glob(&mut self, what: &str, e: &glob::InvalidGlob, pos: Pos) {
        self.error(
            Code::InvalidGlob,
            pos,
            format!(
                "{what} `{}` is not a valid glob: {}",
                shorten(&e.glob),
                e.reason
            ),
            "use `*` for any run of characters, `?` for one, `[abc]` for a set; close every `[` and `{`",
        );
    }

    /// The keys of `absent`, each with where it was written.
    pub(crate) fn absent(
        &mut self,
        value: Value,
    ) -> Result<Collection<SortedMap<TagKey, Location>>> {
        let mut keys: SortedMap<TagKey, Location> = SortedMap::new();
        let mut rejected: Vec<(String, Pos)> = Vec::new();
        let written = self.scalar_list("absent", value, "[legacy-owner]", |c, text, p| {
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
                        Code::DuplicateKey,
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
                    c.nfc_warning(&text, p);
                    if let Ok(key) = TagKey::new(text) {
                        keys.insert(key, c.loc(p));
                    }
                }
                Err(e) => {
                    c.tag_error(&e, p, format!("`{}` in `absent`: {e}", shorten(&text)));
                    rejected.push((text, p));
                }
            }
        })?;
        keys.shrink_to_fit();
        Ok(Collection {
            valid: keys,
            written,
        })
    }

    pub(crate) fn desktop_id(&mut self, value: Value) -> Result<Option<String>> {
        const HELP: &str = "write the desktop id, e.g. `id: 8e07d3e9-454e-4fc9-ba56-c631d05c4712` (see `desktag export`)";
        let Value { head, pos, key_pos } = value;
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
            self.error(Code::Selector, pos, message, HELP);
            return Ok(None);
        }
        Ok(Some(s.text))
    }

    pub(crate) fn desktop_name(&mut self, value: Value) -> Result<Option<Selector>> {
        const HELP: &str = "write the computer name, e.g. `name: FIN-WKS-002`, or a glob like `name: \"FIN-LAP-*\"`";
        let Value { head, pos, key_pos } = value;
        let Head::Scalar(s) = head else {
            self.wrong_type(&head, pos, "a computer name for `name`", HELP)?;
            return Ok(None);
        };
        if s.is_null() {
            self.null_field("name", key_pos, HELP);
            return Ok(None);
        }
        if s.text.trim().is_empty() {
            self.error(Code::Selector, pos, "computer name is empty".into(), HELP);
            return Ok(None);
        }
        let selector = Selector::from_name(s.text);
        if let Selector::Glob(pattern) = &selector {
            if let Err(e) = glob::name_glob(pattern) {
                self.invalid_glob("name glob", &e, pos);
                return Ok(None);
            }
        }
        Ok(Some(selector))
    }
}

/// Why a key glob can match no valid tag key (an empty glob, a space at either end, a character
/// keys may not hold, such as a zero-width space), or `None`. A guardrail that guards nothing is
/// an error, not a silent no-op. Wildcards and sets stand for some allowed character.
fn never_matches_a_key(glob: &str) -> Option<String> {
    if glob.is_empty() {
        return Some("it is empty".to_string());
    }
    // The literal text, with every wildcard, set and alternative stood in for by a letter.
    let mut literal = String::with_capacity(glob.len());
    let mut chars = glob.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '*' | '?' | '{' | '}' | ',' => literal.push('a'),
            '[' => {
                for inner in chars.by_ref() {
                    if inner == ']' {
                        break;
                    }
                }
                literal.push('a');
            }
            '\\' => {
                if let Some(escaped) = chars.next() {
                    literal.push(escaped);
                }
            }
            c => literal.push(c),
        }
    }
    crate::tags::check_chars(&literal, "key")
        .err()
        .map(|e| e.to_string())
}
