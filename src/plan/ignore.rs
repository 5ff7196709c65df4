//! Which tag keys desktag must never change: the union of every document's `ignore_keys`, the
//! `--ignore-key` globs, and the service's `_sys_` system tags; and the warnings for managed keys
//! that an ignore glob matches. Pure: no I/O here.

use globset::{GlobSet, GlobSetBuilder};

use super::Policy;
use crate::diagnostic::{Code, Diagnostic, Location};
use crate::glob::key_glob;
pub use crate::glob::InvalidGlob;
use crate::manifest::Manifest;
use crate::tags::is_system_key;

/// Matches tag keys that are never created, overwritten, deleted or pruned.
///
/// Globs are `crate::glob::key_glob`s: `*`, `?`, `[abc]` classes and `{a,b}` alternatives,
/// case-sensitive. System keys (`_sys_…`) always match.
#[derive(Debug, Clone)]
pub struct KeyIgnore {
    globs: Vec<String>,
    set: GlobSet,
}

impl Default for KeyIgnore {
    fn default() -> Self {
        KeyIgnore {
            globs: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

/// Two matchers are equal when they were built from the same globs.
impl PartialEq for KeyIgnore {
    fn eq(&self, other: &Self) -> bool {
        self.globs == other.globs
    }
}

impl Eq for KeyIgnore {}

impl KeyIgnore {
    /// Ignores only system keys.
    pub fn none() -> Self {
        KeyIgnore::default()
    }

    /// Compiles `globs` (duplicates are dropped); the first invalid glob is an error.
    pub fn new<I, S>(globs: I) -> Result<Self, InvalidGlob>
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
            builder.add(key_glob(glob)?);
            kept.push(glob.to_string());
        }
        let set = builder.build().map_err(|e| InvalidGlob {
            glob: kept.join(", "),
            reason: e.kind().to_string(),
        })?;
        Ok(KeyIgnore { globs: kept, set })
    }

    /// Whether desktag must leave `key` alone.
    pub fn is_ignored(&self, key: &str) -> bool {
        is_system_key(key) || (!self.globs.is_empty() && self.set.is_match(key))
    }

    /// The globs (not system keys) that match `key`, in the order given.
    pub fn matching_globs(&self, key: &str) -> Vec<&str> {
        self.set
            .matches(key)
            .into_iter()
            .map(|i| self.globs[i].as_str())
            .collect()
    }

    /// The globs this matcher was built from, without duplicates.
    pub fn globs(&self) -> &[String] {
        &self.globs
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
}
