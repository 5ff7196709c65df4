//! Which tag keys desktag must never change: the union of every document's `ignore_keys`, the
//! `--ignore-key` globs, and the service's `_sys_` system tags. Pure: no I/O here.

use globset::{GlobSet, GlobSetBuilder};

use crate::glob::key_glob;
pub use crate::glob::InvalidGlob;
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
