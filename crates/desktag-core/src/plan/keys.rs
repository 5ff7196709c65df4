//! Which tag keys the planner treats specially, each the union over every document of the run:
//! never changed (`ignore_keys`, `--ignore-key` and the service's `_sys_` system tags), never
//! deleted (`protect`), never overwritten (`create_only`); and the diagnostics for manifests that
//! want what those rules forbid. Pure: no I/O here.

use globset::{GlobSet, GlobSetBuilder};

use super::Policy;
use crate::diagnostic::{Code, Diagnostic, Location};
use crate::glob::key_glob;
pub use crate::glob::InvalidGlob;
use crate::manifest::{Document, Manifest, Sourced};
use crate::tags::{is_system_key, CompactString};

/// A set of tag-key globs (`crate::glob::key_glob`s: `*`, `?`, `[abc]` classes and `{a,b}`
/// alternatives, case-sensitive), remembering the globs it was built from.
#[derive(Debug, Clone)]
pub struct KeyGlobs {
    globs: Vec<String>,
    set: GlobSet,
}

impl Default for KeyGlobs {
    fn default() -> Self {
        KeyGlobs {
            globs: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

/// Two sets are equal when they were built from the same globs.
impl PartialEq for KeyGlobs {
    fn eq(&self, other: &Self) -> bool {
        self.globs == other.globs
    }
}

impl Eq for KeyGlobs {}

impl KeyGlobs {
    /// Compiles `globs` (duplicates are dropped); the first invalid glob is an error.
    pub(crate) fn new<I, S>(globs: I) -> Result<Self, InvalidGlob>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut kept: Vec<String> = Vec::new();
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            let glob = glob.as_ref();
            if kept.iter().any(|g| g == glob) {
                continue;
            }
            // Compiled in NFC and matched against keys in NFC: `café-*` also covers a key
            // written with a combining accent.
            builder.add(key_glob(&crate::tags::nfc(glob)).map_err(|e| InvalidGlob {
                glob: glob.to_string(),
                ..e
            })?);
            kept.push(glob.to_string());
        }
        let set = builder.build().map_err(|e| InvalidGlob {
            glob: kept.join(", "),
            reason: e.kind().to_string(),
        })?;
        Ok(KeyGlobs { globs: kept, set })
    }

    /// Whether some glob matches `key` (both in Unicode NFC).
    pub fn is_match(&self, key: &str) -> bool {
        !self.globs.is_empty() && self.set.is_match(&*crate::tags::nfc(key))
    }

    /// The globs that match `key`, in the order given.
    pub(crate) fn matching_globs(&self, key: &str) -> Vec<&str> {
        if self.globs.is_empty() {
            return Vec::new();
        }
        self.set
            .matches(&*crate::tags::nfc(key))
            .into_iter()
            .map(|i| self.globs[i].as_str())
            .collect()
    }

    /// The globs this set was built from, without duplicates.
    pub(crate) fn globs(&self) -> &[String] {
        &self.globs
    }
}

/// Matches tag keys that are never created, overwritten, deleted or pruned: the ignore globs,
/// and the service's system keys (`_sys_…`), which always match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyIgnore(KeyGlobs);

impl KeyIgnore {
    /// Ignores only system keys.
    #[cfg(test)]
    pub(crate) fn none() -> Self {
        KeyIgnore::default()
    }

    /// Compiles `globs` (duplicates are dropped); the first invalid glob is an error.
    pub fn new<I, S>(globs: I) -> Result<Self, InvalidGlob>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        KeyGlobs::new(globs).map(KeyIgnore)
    }

    /// Whether desktag must leave `key` alone.
    pub(crate) fn is_ignored(&self, key: &str) -> bool {
        is_system_key(key) || self.0.is_match(key)
    }

    /// The globs (not system keys) that match `key`, in the order given.
    pub(crate) fn matching_globs(&self, key: &str) -> Vec<&str> {
        self.0.matching_globs(key)
    }

    /// The globs this matcher was built from, without duplicates.
    pub(crate) fn globs(&self) -> &[String] {
        self.0.globs()
    }
}

/// How the planner treats keys beyond what the manifests want: the union over every document of
/// the run (and the flags), as one set each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRules {
    /// Never created, overwritten, deleted or pruned (`ignore_keys`, `--ignore-key`, `_sys_`).
    pub ignore: KeyIgnore,
    /// Never deleted: not by `--prune`; asking for it in `absent` is an error (`protect`).
    pub protect: KeyGlobs,
    /// Created when missing, never overwritten once present (`create_only`).
    pub create_only: KeyGlobs,
    /// What every planned desktop's tags must follow (`policy:`).
    pub policy: super::policy::PolicyRules,
    /// `rename:` of every document: old key → new key, sorted by old key.
    pub renames: Vec<(CompactString, CompactString)>,
}

/// The key rules of a run: the ignore matcher, and the `protect` and `create_only` globs of every
/// document. Bad globs were reported by the loader and never reach here; any left are dropped.
pub(super) fn key_rules(
    manifest: &Manifest,
    policy: &Policy,
    diagnostics: &mut Vec<Diagnostic>,
) -> KeyRules {
    let union = |field: fn(&Document) -> &Vec<Sourced<String>>| {
        let globs = manifest
            .documents
            .iter()
            .flat_map(|d| field(d).iter())
            .filter(|g| key_glob(&g.value).is_ok())
            .map(|g| g.value.as_str());
        KeyGlobs::new(globs).unwrap_or_default()
    };
    KeyRules {
        ignore: ignore_matcher(manifest, policy, diagnostics),
        protect: union(|d| &d.protect),
        create_only: union(|d| &d.create_only),
        policy: super::policy::PolicyRules::of(manifest),
        renames: renames(manifest, diagnostics),
    }
}

/// The `rename:` items of every document, checked across documents: `protect` wins over a
/// rename of the key it keeps (an error), a renamed key may not be wanted under its old name,
/// and one key is renamed to one new key. Items in error are left out.
fn renames(
    manifest: &Manifest,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<(CompactString, CompactString)> {
    let protect: Vec<&Sourced<String>> =
        manifest.documents.iter().flat_map(|d| &d.protect).collect();
    let mut out: Vec<(CompactString, CompactString, &crate::diagnostic::Location)> = Vec::new();
    for doc in &manifest.documents {
        for r in &doc.rename {
            let (from, to) = (r.from.value.as_str(), r.to.value.as_str());
            let error = |message: String, help: &str| {
                Diagnostic::error(Code::Rename, message)
                    .at(r.from.location.clone())
                    .with_help(help.to_string())
            };
            if let Some(glob) = protect
                .iter()
                .find(|g| key_glob(&g.value).is_ok_and(|g| g.compile_matcher().is_match(from)))
            {
                diagnostics.push(
                    error(
                        format!("`{from}` is renamed, but `protect` glob `{}` keeps it from ever being deleted", glob.value),
                        "protect wins: remove the rename, or narrow the `protect` glob",
                    )
                    .with_note(glob.location.clone(), "protected here"),
                );
                continue;
            }
            let wanted = manifest.documents.iter().find_map(|d| {
                d.defaults.get(from).map(|v| &v.location).or_else(|| {
                    d.desktops
                        .iter()
                        .find_map(|e| e.tags.get(from).map(|v| &v.location))
                })
            });
            if let Some(at) = wanted {
                diagnostics.push(
                    error(
                        format!("`{from}` is renamed to `{to}` but also wanted under its old name"),
                        "want the new key instead, or remove the rename",
                    )
                    .with_note(at.clone(), "wanted here"),
                );
                continue;
            }
            match out.iter().find(|(f, ..)| f == from) {
                Some((_, other, _)) if other != to => {
                    diagnostics.push(error(
                        format!("`{from}` is renamed to `{to}` here and to `{other}` elsewhere"),
                        "rename a key to one new key in every document",
                    ));
                }
                Some(_) => {}
                None => out.push((from.into(), to.into(), &r.from.location)),
            }
        }
    }
    out.sort();
    out.into_iter().map(|(f, t, _)| (f, t)).collect()
}

/// A key listed in `absent` that a `protect` glob matches: the manifests contradict themselves,
/// so nothing is guessed; an error where `absent` names it, with a note at the glob.
pub(super) fn protected_absent_errors(
    manifest: &Manifest,
    protect: &KeyGlobs,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if protect.globs().is_empty() {
        return;
    }
    let glob_locations: Vec<&Sourced<String>> =
        manifest.documents.iter().flat_map(|d| &d.protect).collect();
    for doc in &manifest.documents {
        for entry in &doc.desktops {
            for (key, location) in &entry.absent {
                let globs = protect.matching_globs(key.as_str());
                let Some(glob) = globs.first() else {
                    continue;
                };
                let mut d = Diagnostic::error(
                    Code::ProtectedKey,
                    format!("`{key}` is listed in `absent` but `protect` glob `{glob}` keeps it from ever being deleted"),
                )
                .at(location.clone())
                .with_help("remove the key from `absent`, or narrow the `protect` glob");
                if let Some(at) = glob_locations.iter().find(|g| g.value == *glob) {
                    d = d.with_note(at.location.clone(), "protected here");
                }
                diagnostics.push(d);
            }
        }
    }
}

/// The union of `policy.ignore_keys` and every document's `ignore_keys`; bad globs are reported
/// where they were written and left out.
pub(super) fn ignore_matcher(
    manifest: &Manifest,
    policy: &Policy,
    diagnostics: &mut Vec<Diagnostic>,
) -> KeyIgnore {
    let mut globs = Vec::new();
    for glob in &policy.ignore_keys {
        match key_glob(glob) {
            Ok(_) => globs.push(glob.as_str()),
            Err(e) => diagnostics.push(
                Diagnostic::error(Code::InvalidGlob, format!("--ignore-key: {e}"))
                    .with_help("use `*`, `?`, `[abc]` or `{a,b}`, e.g. `ops-*`"),
            ),
        }
    }
    for doc in &manifest.documents {
        for glob in &doc.ignore_keys {
            match key_glob(&glob.value) {
                Ok(_) => globs.push(glob.value.as_str()),
                Err(e) => diagnostics.push(
                    Diagnostic::error(Code::InvalidGlob, format!("ignore {e}"))
                        .at(glob.location.clone())
                        .with_help("use `*`, `?`, `[abc]` or `{a,b}`, e.g. `ops-*`"),
                ),
            }
        }
    }
    // Every glob was checked on its own, so the set compiles.
    KeyIgnore::new(globs).unwrap_or_default()
}

/// A wanted key that an ignore glob matches is never changed: say so where it is written.
pub(super) fn ignored_key_warnings(
    manifest: &Manifest,
    ignore: &KeyIgnore,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if ignore.globs().is_empty() {
        return;
    }
    let mut warn = |key: &str, location: &Location| {
        let globs = ignore.matching_globs(key);
        if globs.is_empty() {
            return;
        }
        let globs = globs
            .iter()
            .map(|g| format!("`{g}`"))
            .collect::<Vec<_>>()
            .join(", ");
        diagnostics.push(
            Diagnostic::warning(
                Code::IgnoredKey,
                format!("tag `{key}` is managed here but matches ignore glob {globs}; desktag will not change it"),
            )
            .at(location.clone())
            .with_help("remove the tag from the manifest, or narrow the ignore glob"),
        );
    };
    for doc in &manifest.documents {
        for (key, value) in &doc.defaults {
            warn(key.as_str(), &value.location);
        }
        for entry in &doc.desktops {
            for (key, value) in &entry.tags {
                warn(key.as_str(), &value.location);
            }
            for (key, location) in &entry.absent {
                warn(key.as_str(), location);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_keys_are_always_ignored() {
        let none = KeyIgnore::none();
        assert!(none.is_ignored("_sys_enterprise"));
        assert!(!none.is_ignored("env"));
    }

    #[test]
    fn globs_match_case_sensitively_with_star_and_question_mark() {
        let ignore = KeyIgnore::new(["ops-*", "tier?", "{a,b}x"]).unwrap();
        assert!(ignore.is_ignored("ops-owner"));
        assert!(ignore.is_ignored("ops-"));
        assert!(!ignore.is_ignored("OPS-owner"));
        assert!(ignore.is_ignored("tier1"));
        assert!(!ignore.is_ignored("tier12"));
        assert!(ignore.is_ignored("bx"));
        assert!(!ignore.is_ignored("env"));
        assert_eq!(ignore.matching_globs("ops-a"), vec!["ops-*"]);
    }

    #[test]
    fn duplicate_globs_are_kept_once_and_equality_follows_globs() {
        let a = KeyIgnore::new(["x*", "x*"]).unwrap();
        assert_eq!(a.globs(), ["x*".to_string()]);
        assert_eq!(a, KeyIgnore::new(["x*"]).unwrap());
        assert_ne!(a, KeyIgnore::none());
    }

    #[test]
    fn an_invalid_glob_is_an_error_naming_it() {
        let err = KeyIgnore::new(["ok", "ops-[a"]).unwrap_err();
        assert_eq!(err.glob, "ops-[a");
        assert!(err
            .to_string()
            .starts_with("glob `ops-[a` is not a valid pattern"));
    }

    #[test]
    fn unicode_globs_and_keys_match_in_nfc() {
        let nfc = KeyGlobs::new(["café-*"]).unwrap();
        assert!(nfc.is_match("café-x"));
        assert!(nfc.is_match("cafe\u{301}-x"));
        assert_eq!(nfc.matching_globs("cafe\u{301}-x"), vec!["café-*"]);
        let nfd = KeyGlobs::new(["cafe\u{301}-*"]).unwrap();
        assert!(nfd.is_match("café-x"));
        assert!(!nfc.is_match("cafe-x"));
    }
}
