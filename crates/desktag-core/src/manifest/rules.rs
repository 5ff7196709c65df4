//! The rules that look at more than one value: a document needs `version`; an entry needs
//! exactly one selector and something to do, and no key both in `tags` and in `absent`; the tag
//! cap over `defaults` plus an entry's `tags`. Pure: no I/O here.

use super::document::{DocumentFields, EntryFields, PendingEntry};
use super::fields::{Collection, TagMap};
use super::model::{Document, Entry, Selector};
use super::walk::{Check, Walked};
use crate::diagnostic::{Code, Diagnostic};
use crate::tags::SortedMap;

impl Check<'_, '_> {
    /// The document-wide checks (version present, the cap with `defaults`), then the document;
    /// `None` when its version is missing or wrong (so nothing of it can be trusted).
    pub(super) fn finish_document(
        &mut self,
        fields: DocumentFields,
        walked: &Walked,
    ) -> Option<Document> {
        let start = walked.start;
        if fields.version.is_none() {
            self.error(
                Code::MissingField,
                start,
                "manifest document has no `version`".into(),
                "add `version: 1` as the first line of the document",
            );
        }
        if fields.entries.is_none() && !walked.unknown {
            let location = self.loc(start);
            self.push(
                Diagnostic::warning(
                    Code::NoDesktops,
                    "manifest document has no `desktops`, so it changes nothing",
                )
                .at(location)
                .with_help(
                    "add a `desktops:` list of entries with `id` or `name`, or delete the document",
                ),
            );
        }
        let region = match fields.region {
            Some((_, key_pos)) if fields.project_id.is_none() => {
                self.error(
                    Code::Region,
                    key_pos,
                    "`region` without `project_id`: a region says where a named project lives".into(),
                    "add the project's `project_id` beside `region`, or remove `region` and pass --region",
                );
                None
            }
            region => region.map(|(r, _)| r),
        };
        let max = self.options.max_tags;
        let defaults_over = match fields.defaults_at {
            Some((pos, count)) if count > max => {
                self.error(
                    Code::TagCap,
                    pos,
                    format!("`defaults` sets {count} tags; a desktop may carry at most {max}"),
                    "remove some defaults, or raise the limit with `--max-tags` if your account allows more",
                );
                true
            }
            _ => false,
        };
        let entries = fields.entries.unwrap_or_default();
        let mut desktops = Vec::with_capacity(entries.len());
        for entry in entries {
            if !defaults_over {
                self.check_cap(&fields.defaults, &entry);
            }
            if let Some(selector) = entry.selector {
                desktops.push(Entry {
                    selector,
                    location: entry.location,
                    tags: entry.tags,
                    absent: entry.absent,
                    priority: entry.priority,
                    acknowledge: entry.acknowledge,
                });
            }
        }
        if fields.version != Some(true) {
            return None;
        }
        Some(Document {
            location: self.loc(start),
            project_id: fields.project_id,
            region,
            defaults: fields.defaults,
            ignore_keys: fields.ignore_keys,
            protect: fields.protect,
            create_only: fields.create_only,
            policy: fields.policy,
            rename: fields.rename,
            desktops,
        })
    }

    /// `defaults` merged with the entry's `tags` may not exceed the cap.
    fn check_cap(&mut self, defaults: &TagMap, entry: &PendingEntry) {
        let max = self.options.max_tags;
        let own_only = entry
            .tags
            .keys()
            .filter(|k| !defaults.contains_key(*k))
            .count();
        let total = defaults.len() + own_only;
        if total <= max {
            return;
        }
        let who = match &entry.selector {
            Some(s) => format!("the entry for {s}"),
            None => "this desktop entry".into(),
        };
        let message = format!(
            "{who} would carry {total} tags ({} from `defaults`, {} in `tags`); a desktop may carry at most {max}",
            defaults.len(),
            entry.tags.len(),
        );
        self.push(
            Diagnostic::error(Code::TagCap, message)
                .at(entry.location.clone())
                .with_help(format!(
                    "remove {} tag(s) from this entry or from `defaults`, or raise the limit with `--max-tags` if your account allows more",
                    total - max
                )),
        );
    }

    /// The entry-wide checks: one selector, something to do, no key both wanted and deleted.
    /// `None` for an entry with no field at all (reported as empty).
    pub(super) fn finish_entry(
        &mut self,
        fields: EntryFields,
        walked: &Walked,
    ) -> Option<PendingEntry> {
        let first = walked.start;
        if !walked.any_key {
            self.empty_entry(first);
            return None;
        }
        let (selector, location) = match (fields.id, fields.name) {
            (Some((_, id_pos)), Some((_, name_pos))) => {
                let (at, other) = (id_pos.min(name_pos), id_pos.max(name_pos));
                let location = self.loc(at);
                let other_loc = self.loc(other);
                self.push(
                    Diagnostic::error(Code::Selector, "desktop entry has both `id` and `name`")
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
                    Code::Selector,
                    first,
                    "desktop entry has no `id` or `name`".into(),
                    "add `id: <desktop id>` or `name: <computer name or glob>` to say which desktops it tags",
                );
                (None, self.loc(first))
            }
        };
        let tags = fields.tags.unwrap_or_else(Collection::absent);
        let absent = fields.absent.unwrap_or_else(Collection::absent);
        // After an unknown field (`tag:`, `absnet:`) "no tags" would only repeat that error.
        if tags.written == Some(0) && absent.written == Some(0) && !walked.unknown {
            let who = selector
                .as_ref()
                .map_or("desktop entry".into(), |s| format!("the entry for {s}"));
            self.push(
                Diagnostic::error(Code::NoTags, format!("{who} has no `tags` and no `absent`"))
                    .at(location.clone())
                    .with_help("add `tags:` with `key: value` lines or `absent:` with keys to delete, or remove the entry"),
            );
        }
        let (tags, mut absent): (TagMap, SortedMap<_, _>) = (tags.valid, absent.valid);
        for (key, absent_at) in &absent {
            if let Some(tag) = tags.get(key) {
                self.push(
                    Diagnostic::error(
                        Code::TagsAbsentOverlap,
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
        // The overlap is reported above; keeping the key on one side only stops later stages
        // (resolution) from reporting the same mistake again as a conflict.
        absent.retain(|key, _| !tags.contains_key(key));
        Some(PendingEntry {
            selector,
            location,
            tags,
            absent,
            priority: fields.priority,
            acknowledge: fields.acknowledge,
        })
    }
}
