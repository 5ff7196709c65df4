//! The one glob compiler: tag-key globs (`ignore_keys`, `--ignore-key`) and computer-name globs
//! (`name:` selectors, `export --name`). Every caller compiles through here, so "valid" and
//! "matches" mean the same in validation, planning and export. Pure: no I/O here.

use globset::{Glob, GlobBuilder};

/// A glob that does not compile. `Display`: "glob `ops-[a` is not a valid pattern: <reason>".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("glob `{glob}` is not a valid pattern: {reason}")]
pub struct InvalidGlob {
    pub glob: String,
    pub reason: String,
}

/// A glob over tag keys: `*` (any run of characters), `?` (one character), `[abc]` classes and
/// `{a,b}` alternatives; `\` escapes the next character. Case-sensitive; `/` is not special.
pub fn key_glob(pattern: &str) -> Result<Glob, InvalidGlob> {
    build(pattern, pattern)
}

/// A glob over computer names: only `*` and `?` are special, every other character (`[`, `{`,
/// `\` included) stands for itself, so any name pattern compiles. Case-sensitive.
pub fn name_glob(pattern: &str) -> Result<Glob, InvalidGlob> {
    let mut escaped = String::with_capacity(pattern.len());
    for ch in pattern.chars() {
        if matches!(ch, '[' | ']' | '{' | '}' | '\\' | '!' | ',') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    build(&escaped, pattern)
}

/// Whether a `name:` value is a glob (it contains `*` or `?`) rather than an exact name.
pub fn is_name_glob(name: &str) -> bool {
    name.contains(['*', '?'])
}

fn build(syntax: &str, shown: &str) -> Result<Glob, InvalidGlob> {
    GlobBuilder::new(syntax)
        .literal_separator(false)
        .backslash_escape(true)
        .case_insensitive(false)
        .build()
        .map_err(|e| InvalidGlob {
            glob: shown.to_string(),
            reason: e.kind().to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(glob: Glob, text: &str) -> bool {
        glob.compile_matcher().is_match(text)
    }

    #[test]
    fn key_globs_have_classes_and_alternatives() {
        assert!(matches(key_glob("ops-*").unwrap(), "ops-a/b"));
        assert!(matches(key_glob("{a,b}x").unwrap(), "bx"));
        assert!(matches(key_glob("t[0-9]").unwrap(), "t1"));
        assert!(!matches(key_glob("ops-*").unwrap(), "OPS-a"));
        let err = key_glob("ops-[a").unwrap_err();
        assert_eq!(err.glob, "ops-[a");
        assert!(err
            .to_string()
            .starts_with("glob `ops-[a` is not a valid pattern: "));
    }

    #[test]
    fn name_globs_treat_everything_but_star_and_question_mark_literally() {
        for pattern in ["FIN-[*", "a{b*", "x\\*", "!*", "a,b?"] {
            assert!(name_glob(pattern).is_ok(), "{pattern}");
        }
        assert!(matches(name_glob("FIN-[*").unwrap(), "FIN-[1"));
        assert!(!matches(name_glob("FIN-[*").unwrap(), "FIN-1"));
        assert!(matches(name_glob("FIN-??").unwrap(), "FIN-01"));
        assert!(!matches(name_glob("fin-*").unwrap(), "FIN-01"));
        assert!(is_name_glob("a*") && is_name_glob("a?") && !is_name_glob("a[1]"));
    }
}
