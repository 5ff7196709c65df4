//! Selector resolution: turns manifest entries into each selected desktop's wanted state,
//! applying precedence (`id` > exact `name` > name glob > `defaults`) and reporting conflicts,
//! unmatched or ambiguous selectors and ignored-but-wanted keys (`resolve`); and the same checks
//! that need no inventory, for offline validation (`check_offline`). Pure: no I/O here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use globset::GlobSetBuilder;

use super::keys::{ignored_key_warnings, key_rules, protected_absent_errors, KeyRules};
use super::shared::Shared;
use super::{Layer, Policy, Wanted};
use crate::diagnostic::{self, Code, Diagnostic, Location};
use crate::glob::{is_name_glob, name_glob};
use crate::inventory::Inventory;
use crate::manifest::{Manifest, Selector};
use crate::suggest;
use crate::tags::{CompactString, Tags};

/// What resolution produced: the wanted state of every selected desktop, the key rules the
/// planner must use, and every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    /// One entry per selected desktop, sorted by desktop id. Ids that are not in the inventory
    /// are kept so the planner can block them as not found.
    pub wanted: Vec<Wanted>,
    pub keys: KeyRules,
    /// Errors and warnings, sorted by location.
    pub diagnostics: Vec<Diagnostic>,
}

impl Resolution {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Resolves every selector of `manifest` against `inventory` and merges the wanted tags of each
/// selected desktop by precedence. `policy.targets` (when non-empty) keeps only those desktops;
/// `policy.strict` turns unmatched selectors into errors.
pub fn resolve(manifest: &Manifest, inventory: &Inventory, policy: &Policy) -> Resolution {
    let names = Names(inventory);
    let mut diagnostics = Vec::new();
    let keys = checked_key_rules(manifest, policy, &mut diagnostics);
    let mut selections = select(manifest, &names, policy, &mut diagnostics);
    if !policy.targets.is_empty() {
        keep_targets(&mut selections, &names, &policy.targets, &mut diagnostics);
    }
    let label = |target: Target| match (target, names.get(target.as_str())) {
        (_, Some(name)) => format!("`{name}` (`{}`)", target.as_str()),
        (_, None) => format!("`{}`", target.as_str()),
    };
    // Under --target only some desktops are resolved: an acknowledgement may be used on others.
    let stale_checked = policy.targets.is_empty();
    let wanted = merge(
        manifest,
        &selections,
        &label,
        policy.strict,
        stale_checked,
        &mut diagnostics,
    );
    look_alike_keys(&wanted, inventory, &mut diagnostics);
    diagnostic::sort(&mut diagnostics);
    Resolution {
        wanted,
        keys,
        diagnostics,
    }
}

/// Observed keys not in Unicode NFC that look like a key the manifests want (`cafe\u{301}` on a
/// desktop, `café` in a manifest): the service keeps them apart, so the desktop would carry both.
/// One warning per such key, with how many desktops carry it.
fn look_alike_keys(wanted: &[Wanted], inventory: &Inventory, diagnostics: &mut Vec<Diagnostic>) {
    let mut found: BTreeMap<&str, (String, usize, &str)> = BTreeMap::new();
    for w in wanted {
        let Some(desktop) = inventory.get(&w.desktop_id) else {
            continue;
        };
        for key in desktop.tags.keys() {
            let nfc = crate::tags::nfc(key);
            if nfc == key.as_str() || w.tags.contains_key(key.as_str()) {
                continue;
            }
            let looks_wanted = w.tags.contains_key(nfc.as_ref()) || w.absent.contains(nfc.as_ref());
            if looks_wanted {
                let entry = found
                    .entry(key.as_str())
                    .or_insert_with(|| (nfc.into_owned(), 0, desktop.name.as_str()));
                entry.1 += 1;
            }
        }
    }
    // Combining marks spelled out, so the two keys do not read the same in the message.
    let spelled = crate::tags::spell_marks;
    for (key, (nfc, count, first)) in found {
        diagnostics.push(
            Diagnostic::warning(
                Code::NotNfc,
                format!(
                    "{count} {} (`{}` first) {} the key `{}`, not in Unicode NFC: it looks like the `{}` the manifests want, but the service keeps the two apart",
                    if count == 1 { "desktop" } else { "desktops" },
                    first.escape_debug(),
                    if count == 1 { "carries" } else { "carry" },
                    spelled(key),
                    nfc.escape_debug()
                ),
            )
            .with_help(format!(
                "list `{}` under `absent` (or run with --prune) to remove the look-alike",
                key.escape_debug()
            )),
        );
    }
}

/// The run's key rules, with what the manifests themselves break of them (an `absent` key that
/// is protected, values and keys against the policy, managed keys an ignore glob matches)
/// reported where written.
fn checked_key_rules(
    manifest: &Manifest,
    policy: &Policy,
    diagnostics: &mut Vec<Diagnostic>,
) -> KeyRules {
    let keys = key_rules(manifest, policy, diagnostics);
    protected_absent_errors(manifest, &keys.protect, diagnostics);
    keys.policy.manifest_diagnostics(manifest, diagnostics);
    ignored_key_warnings(manifest, &keys.ignore, diagnostics);
    keys
}

/// Offline validation: every problem of the manifests' selectors that needs no inventory, for
/// `desktag validate`. Several entries or documents selecting the same id, or the same exact
/// name, with conflicting wants; name globs checked against the exact names the manifests
/// mention (any desktop with such a name would be matched by them); bad ignore globs and
/// ignored-but-wanted keys. Unmatched and ambiguous selectors need the inventory and are not
/// looked for.
pub fn check_offline(manifest: &Manifest, policy: &Policy) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    checked_key_rules(manifest, policy, &mut diagnostics);
    let named: BTreeSet<&str> = entries(manifest)
        .filter_map(|(_, e)| match &e.selector {
            Selector::Name(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let candidates: Vec<(Target, &str)> = named.iter().map(|n| (Target::Named(n), *n)).collect();
    let glob_hits = match_globs(manifest, &candidates, &mut diagnostics);
    let mut selections = Vec::new();
    for_each_entry(manifest, glob_hits, |doc_no, entry_no, entry, hits| {
        let mut select = |target| selections.push((target, doc_no, entry_no));
        match &entry.selector {
            Selector::Id(id) => select(Target::Id(id)),
            Selector::Name(name) => select(Target::Named(name)),
            Selector::Glob(_) => hits.iter().for_each(|t| select(*t)),
        }
    });
    selections.sort_unstable();
    let label = |target: Target| match target {
        Target::Id(id) => format!("`{id}`"),
        Target::Named(name) => format!("named `{name}`"),
    };
    // Offline, globs are matched only against the names the manifests mention, so an
    // acknowledgement that overrides nothing here may still override on a real desktop.
    merge(
        manifest,
        &selections,
        &label,
        policy.strict,
        false,
        &mut diagnostics,
    );
    diagnostic::sort(&mut diagnostics);
    diagnostics
}

/// The desktop a selection points at. Against an inventory every target is a desktop id;
/// offline an exact name stands for the desktop(s) so named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target<'a> {
    Id(&'a str),
    Named(&'a str),
}

impl<'a> Target<'a> {
    fn as_str(self) -> &'a str {
        match self {
            Target::Id(s) | Target::Named(s) => s,
        }
    }
}

/// `--target`: keeps the selections of the desktops a target names, by id, by exact computer
/// name, or by a name glob (`*`, `?`) as manifests match names. A target that keeps nothing is
/// a warning: the run would otherwise silently do less than asked.
fn keep_targets(
    selections: &mut Vec<Selection<'_>>,
    names: &Names<'_>,
    targets: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let matchers: Vec<(&str, Option<globset::GlobMatcher>)> = targets
        .iter()
        .map(|t| {
            let glob = is_name_glob(t)
                .then(|| name_glob(t).ok())
                .flatten()
                .map(|g| g.compile_matcher());
            (t.as_str(), glob)
        })
        .collect();
    let mut used = vec![false; matchers.len()];
    selections.retain(|s| {
        let id = s.0.as_str();
        let name = names.get(id);
        let mut keep = false;
        for (i, (target, glob)) in matchers.iter().enumerate() {
            let hit = *target == id
                || name == Some(*target)
                || matches!((glob, name), (Some(g), Some(n)) if g.is_match(n));
            used[i] |= hit;
            keep |= hit;
        }
        keep
    });
    for ((target, _), used) in matchers.iter().zip(used) {
        if !used {
            diagnostics.push(
                Diagnostic::warning(
                    Code::UnmatchedTarget,
                    format!("--target `{target}` matches no desktop a manifest entry selects"),
                )
                .with_help(
                    "give a desktop id, a computer name or a name glob (`*`, `?`) of a desktop \
                     the manifests select",
                ),
            );
        }
    }
}

/// The computer names of the inventory's desktops by id (the inventory itself, which is sorted
/// by id: no second index of 100,000 desktops).
#[derive(Clone, Copy)]
struct Names<'a>(&'a Inventory);

impl<'a> Names<'a> {
    fn get(&self, id: &str) -> Option<&'a str> {
        self.0.get(id).map(|d| d.name.as_str())
    }

    /// (id, computer name), by id.
    fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.iter().map(|d| (d.id.as_str(), d.name.as_str()))
    }
}

/// One entry selecting one desktop: (desktop, document, entry within the document). Only these
/// small triples are kept for every desktop; each desktop's claims are built, decided and
/// dropped one desktop at a time in `merge`.
type Selection<'a> = (Target<'a>, u32, u32);

/// Calls `f` with every entry (document number, entry number, entry) and, for name-glob entries,
/// the glob's hits from `match_globs` (empty for other entries).
fn for_each_entry<'m, 'a>(
    manifest: &'m Manifest,
    glob_hits: Vec<Vec<Target<'a>>>,
    mut f: impl FnMut(u32, u32, &'m crate::manifest::Entry, &[Target<'a>]),
) {
    let mut hits = glob_hits.into_iter();
    for (doc_no, doc) in manifest.documents.iter().enumerate() {
        for (entry_no, entry) in doc.desktops.iter().enumerate() {
            let these = match entry.selector {
                Selector::Glob(_) => hits.next().unwrap_or_default(),
                _ => Vec::new(),
            };
            f(to_u32(doc_no), to_u32(entry_no), entry, &these);
        }
    }
}

/// The selections of every entry against the inventory (`names`: id → computer name), sorted
/// by desktop id then load order; unmatched and ambiguous selectors are reported.
fn select<'a>(
    manifest: &'a Manifest,
    names: &Names<'a>,
    policy: &Policy,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Selection<'a>> {
    let candidates: Vec<(Target, &str)> = names
        .iter()
        .map(|(id, name)| (Target::Id(id), name))
        .collect();
    let glob_hits = match_globs(manifest, &candidates, diagnostics);
    drop(candidates);
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, name) in names.iter() {
        by_name.entry(name).or_default().push(id);
    }
    let mut selections = Vec::new();
    for_each_entry(manifest, glob_hits, |doc_no, entry_no, entry, hits| {
        let mut select = |id| selections.push((Target::Id(id), doc_no, entry_no));
        match &entry.selector {
            Selector::Id(id) => select(id.as_str()),
            Selector::Name(name) => match by_name.get(name.as_str()).map(Vec::as_slice) {
                None | Some([]) => {
                    let closest = suggest::closest_name(name, by_name.keys().copied());
                    diagnostics.push(unmatched(policy, entry, closest));
                }
                Some([one]) => select(one),
                Some(many) => diagnostics.push(ambiguous(entry.location.clone(), name, many)),
            },
            Selector::Glob(_) => {
                if hits.is_empty() {
                    diagnostics.push(unmatched(policy, entry, None));
                }
                hits.iter().for_each(|t| select(t.as_str()));
            }
        }
    });
    // By desktop id, then in load order (the order claims are made in).
    selections.sort_unstable();
    selections
}

/// Every entry of every document, with its document index, in load order.
fn entries(manifest: &Manifest) -> impl Iterator<Item = (usize, &crate::manifest::Entry)> {
    manifest
        .documents
        .iter()
        .enumerate()
        .flat_map(|(d, doc)| doc.desktops.iter().map(move |e| (d, e)))
}

/// One source's want for one key of one desktop.
#[derive(Clone, Copy)]
struct Claim<'m> {
    /// The kind of source; a later `Layer` wins.
    layer: Layer,
    /// The entry's `priority` (0 for defaults): the tie-breaker within one precedence.
    priority: i32,
    /// The document the claim is written in.
    doc: u32,
    /// `None` means the key must be absent.
    value: Option<&'m str>,
    location: &'m Location,
    /// `None` for a document's defaults.
    selector: Option<&'m Selector>,
    /// The entry's `override: true`, where written.
    ack: Option<&'m Location>,
}

impl Claim<'_> {
    /// What decides between claims: the selector's precedence, then the entry's priority.
    fn rank(&self) -> (Layer, i32) {
        (self.layer, self.priority)
    }

    fn source(&self) -> String {
        match self.selector {
            Some(selector) => format!("the entry for {selector}"),
            None => "the document's defaults".to_string(),
        }
    }

    fn want(&self) -> String {
        match self.value {
            Some(value) => format!("{value:?}"),
            None => "it absent".to_string(),
        }
    }
}

/// Conflicts with the same key, sources and values are reported once, listing the desktops.
type ConflictKey<'m> = (
    &'m str,
    &'m Location,
    &'m Location,
    Option<&'m str>,
    Option<&'m str>,
);

/// One desktop's claims (`group`: its selections, in load order), as (key, claim): its entries'
/// tags and absent keys, then the defaults of the documents those entries are in, sorted by key
/// keeping the order made in. The entries' `override: true` join `acks`.
fn gather_claims<'m>(
    manifest: &'m Manifest,
    group: &[Selection<'_>],
    claims: &mut Vec<(&'m str, Claim<'m>)>,
    acks: &mut BTreeSet<&'m Location>,
) {
    for &(_, doc_no, entry_no) in group {
        let entry = &manifest.documents[doc_no as usize].desktops[entry_no as usize];
        let layer = Layer::of(&entry.selector);
        let priority = entry.priority;
        let doc = doc_no;
        let selector = Some(&entry.selector);
        let ack = entry.acknowledge.as_ref();
        acks.extend(ack);
        for (key, value) in &entry.tags {
            let claim = Claim {
                layer,
                priority,
                doc,
                value: Some(value.value.as_str()),
                location: &value.location,
                selector,
                ack,
            };
            claims.push((key.as_str(), claim));
        }
        for (key, location) in &entry.absent {
            let claim = Claim {
                layer,
                priority,
                doc,
                value: None,
                location,
                selector,
                ack,
            };
            claims.push((key.as_str(), claim));
        }
    }
    // Documents whose entries select this desktop (their defaults apply), in load order;
    // the group is in load order, so equal documents are adjacent.
    let mut last_doc = None;
    for &(_, doc_no, _) in group {
        if last_doc == Some(doc_no) {
            continue;
        }
        last_doc = Some(doc_no);
        for (key, value) in &manifest.documents[doc_no as usize].defaults {
            let claim = Claim {
                layer: Layer::Defaults,
                priority: 0,
                doc: doc_no,
                value: Some(value.value.as_str()),
                location: &value.location,
                selector: None,
                ack: None,
            };
            claims.push((key.as_str(), claim));
        }
    }
    // Stable: each key's claims stay in the order they were made.
    claims.sort_by(|a, b| a.0.cmp(b.0));
}

/// One desktop's wants while its keys are settled (reused from desktop to desktop), and the
/// wants and sources of the desktops before, to share: every desktop one name glob selects
/// wants the same, from the same places.
#[derive(Default)]
struct Wants {
    tags: Tags,
    absent: BTreeSet<CompactString>,
    sources: Vec<(Location, Layer)>,
    /// Sources of the absent keys, to follow those of the tags (see `Wanted::sources`).
    absent_sources: Vec<(Location, Layer)>,
    shared_tags: Shared<Tags>,
    shared_sources: Shared<[(Location, Layer)]>,
}

impl Wants {
    /// Records `claim`, the one that decides `key`: keys come in key order, so the sources of
    /// the tags line up with them.
    fn settle(&mut self, key: &str, claim: &Claim) {
        let source = (claim.location.clone(), claim.layer);
        match claim.value {
            Some(value) => {
                self.tags.insert(key.into(), value.into());
                self.sources.push(source);
            }
            None => {
                self.absent.insert(key.into());
                self.absent_sources.push(source);
            }
        }
    }

    /// The desktop's wants once every key is settled, sharing what equals an earlier desktop's;
    /// the buffers are left empty for the next desktop.
    fn finished(&mut self, desktop_id: String) -> Wanted {
        self.sources.append(&mut self.absent_sources);
        let tags = self
            .shared_tags
            .share_buffer(&mut self.tags, Tags::clear, |mut tags| {
                tags.shrink_to_fit();
                Arc::new(tags)
            });
        let sources = self
            .shared_sources
            .share_buffer(&mut self.sources, Vec::clear, Arc::from);
        Wanted {
            desktop_id,
            tags,
            absent: std::mem::take(&mut self.absent),
            sources,
        }
    }
}

/// Merges the claims of every selected desktop by precedence (`selections` sorted by target,
/// then load order), reporting conflicts with each desktop named by `label`. Overrides by an
/// entry with `override: true` are not reported; with `stale_checked`, such an entry that
/// overrides nothing is.
fn merge(
    manifest: &Manifest,
    selections: &[Selection<'_>],
    label: &dyn Fn(Target) -> String,
    strict: bool,
    stale_checked: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Wanted> {
    // `override: true` of the entries that selected some desktop, and of those that overrode.
    let mut acks: BTreeSet<&Location> = BTreeSet::new();
    let mut used_acks: BTreeSet<&Location> = BTreeSet::new();
    let mut conflicts: BTreeMap<ConflictKey, (Claim, Claim, Vec<Target>)> = BTreeMap::new();
    let mut overrides: BTreeMap<ConflictKey, (Claim, Claim, Vec<Target>)> = BTreeMap::new();
    let desktops = selections.chunk_by(|a, b| a.0 == b.0).count();
    let mut wanted = Vec::with_capacity(desktops);
    // One desktop's claims, reused: (key, claim), sorted by key keeping the order made in.
    let mut claims: Vec<(&str, Claim)> = Vec::new();
    let mut wants = Wants::default();
    for group in selections.chunk_by(|a, b| a.0 == b.0) {
        let id = group[0].0;
        claims.clear();
        gather_claims(manifest, group, &mut claims, &mut acks);

        for same_key in claims.chunk_by(|a, b| a.0 == b.0) {
            let key = same_key[0].0;
            let top = same_key
                .iter()
                .map(|(_, c)| c.rank())
                .max()
                .unwrap_or((Layer::Defaults, 0));
            let mut tops: Vec<&Claim> = same_key
                .iter()
                .map(|(_, c)| c)
                .filter(|c| c.rank() == top)
                .collect();
            tops.sort_by(|a, b| a.location.cmp(b.location));
            let first = tops[0];
            if let Some(other) = tops.iter().find(|c| c.value != first.value) {
                let k = (
                    key,
                    other.location,
                    first.location,
                    other.value,
                    first.value,
                );
                conflicts
                    .entry(k)
                    .or_insert_with(|| (**other, *first, Vec::new()))
                    .2
                    .push(id);
                continue;
            }
            // A more specific selector in another document silently replacing a value (an
            // exported manifest beside hand-written globs) is worth a word; an override within
            // one document, or one settled by `priority`, is the author's intent.
            for (_, lower) in same_key {
                if lower.layer < first.layer && lower.doc != first.doc && lower.value != first.value
                {
                    if let Some(ack) = first.ack {
                        // Intended: acknowledged where written, and shown by --explain.
                        used_acks.insert(ack);
                        continue;
                    }
                    let k = (
                        key,
                        first.location,
                        lower.location,
                        first.value,
                        lower.value,
                    );
                    overrides
                        .entry(k)
                        .or_insert_with(|| (*first, *lower, Vec::new()))
                        .2
                        .push(id);
                }
            }
            wants.settle(key, first);
        }
        wanted.push(wants.finished(id.as_str().to_string()));
    }
    for ((key, ..), (here, there, ids)) in conflicts {
        diagnostics.push(conflict(label, key, &here, &there, &ids));
    }
    for ((key, ..), (winner, loser, ids)) in overrides {
        diagnostics.push(overridden(label, key, &winner, &loser, &ids, strict));
    }
    if stale_checked {
        for ack in acks.difference(&used_acks) {
            diagnostics.push(stale_override(ack, strict));
        }
    }
    wanted
}

/// An `override: true` that overrides nothing on the desktops its entry selects.
fn stale_override(at: &Location, strict: bool) -> Diagnostic {
    let message = "this entry says `override: true` but overrides no value from another document on the desktops it selects";
    let diagnostic = if strict {
        Diagnostic::error(Code::StaleOverride, message)
    } else {
        Diagnostic::warning(Code::StaleOverride, message)
    };
    diagnostic.at(at.clone()).with_help(
        "remove `override: true` (the acknowledgement is stale), or the entry if it is no longer needed",
    )
}

/// "desktop `FIN-1`" or "3 desktops (`A`, `B`, `C`)", "… and N more" past three.
fn desktops_on(label: &dyn Fn(Target) -> String, ids: &[Target]) -> String {
    const SHOWN: usize = 3;
    let mut desktops: Vec<String> = ids.iter().take(SHOWN).map(|id| label(*id)).collect();
    if ids.len() > SHOWN {
        desktops.push(format!("{} more", ids.len() - SHOWN));
    }
    if ids.len() == 1 {
        format!("desktop {}", desktops[0])
    } else {
        format!("{} desktops ({})", ids.len(), desktops.join(", "))
    }
}

/// A value from a more specific selector in another document replaces a different one: a
/// warning at the winner with a note at the loser (an error with `--strict`).
fn overridden(
    label: &dyn Fn(Target) -> String,
    key: &str,
    winner: &Claim,
    loser: &Claim,
    ids: &[Target],
    strict: bool,
) -> Diagnostic {
    let message = format!(
        "{} sets tag `{key}` to {} on {}, overriding {} from {}",
        winner.source(),
        winner.want(),
        desktops_on(label, ids),
        loser.want(),
        loser.source()
    );
    let diagnostic = if strict {
        Diagnostic::error(Code::Override, message)
    } else {
        Diagnostic::warning(Code::Override, message)
    };
    diagnostic
        .at(winner.location.clone())
        .with_note(
            loser.location.clone(),
            format!("{} wants `{key}` = {} here", loser.source(), loser.want()),
        )
        .with_help(
            "the more specific selector wins (id > exact name > name glob > defaults); make the two agree, remove the one that should not apply, or write `override: true` on the entry if it is intended",
        )
}

/// For each name-glob entry (in `entries` order), the candidates (target, computer name) whose
/// name it matches, in candidate order.
fn match_globs<'a>(
    manifest: &Manifest,
    candidates: &[(Target<'a>, &'a str)],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Vec<Target<'a>>> {
    let mut builder = GlobSetBuilder::new();
    let mut slots = Vec::new();
    let mut count = 0;
    for (_, entry) in entries(manifest) {
        let Selector::Glob(pattern) = &entry.selector else {
            continue;
        };
        match name_glob(pattern) {
            Ok(glob) => {
                builder.add(glob);
                slots.push(count);
            }
            Err(e) => diagnostics.push(
                Diagnostic::error(Code::InvalidGlob, format!("name {e}"))
                    .at(entry.location.clone())
                    .with_help("only `*` and `?` are special in a name glob"),
            ),
        }
        count += 1;
    }
    let mut hits = vec![Vec::new(); count];
    let Ok(set) = builder.build() else {
        return hits;
    };
    if set.is_empty() {
        return hits;
    }
    let mut found = Vec::new();
    for (target, name) in candidates {
        set.matches_into(name, &mut found);
        for &i in &found {
            hits[slots[i]].push(*target);
        }
    }
    hits
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 documents and entries")
}

/// A name or name glob that selects no desktop: a warning, or an error under `--strict`;
/// `closest` is the inventory's name nearest to a misspelt exact name.
fn unmatched(policy: &Policy, entry: &crate::manifest::Entry, closest: Option<&str>) -> Diagnostic {
    let message = format!("{} matches no desktop in the project", entry.selector);
    let d = if policy.strict {
        Diagnostic::error(Code::UnmatchedSelector, message)
    } else {
        Diagnostic::warning(Code::UnmatchedSelector, message)
    };
    let help = match closest {
        Some(name) => {
            format!("did you mean `{name}`? (names are case-sensitive) or remove the entry")
        }
        None => "check the spelling (names are case-sensitive), or remove the entry".to_string(),
    };
    d.at(entry.location.clone()).with_help(help)
}

fn ambiguous(location: Location, name: &str, ids: &[&str]) -> Diagnostic {
    let list = ids
        .iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Diagnostic::error(
        Code::AmbiguousName,
        format!("name `{name}` matches {} desktops: {list}", ids.len()),
    )
    .at(location)
    .with_help("select each of these desktops by `id` instead")
}

fn conflict(
    label: &dyn Fn(Target) -> String,
    key: &str,
    here: &Claim,
    there: &Claim,
    ids: &[Target],
) -> Diagnostic {
    let on = desktops_on(label, ids);
    let level = match here.layer {
        Layer::Id => "id entries",
        Layer::Name => "exact-name entries",
        Layer::NameGlob => "name-glob entries",
        Layer::Defaults => "document defaults",
    };
    Diagnostic::error(
        Code::Conflict,
        format!(
            "conflicting wants for tag `{key}` on {on}: {} wants {} here, {} wants {}",
            here.source(),
            here.want(),
            there.source(),
            there.want()
        ),
    )
    .at(here.location.clone())
    .with_note(
        there.location.clone(),
        format!("{} wants `{key}` = {} here", there.source(), there.want()),
    )
    .with_help(format!(
        "both are {level}, so neither wins: make them agree, remove one, or set `{key}` with a \
         more specific selector (id > exact name > name glob > defaults)"
    ))
}
