//! Tag keys and values, and project ids: the validation rules shared by the manifest loader, the
//! planner, the API client and the emulator, so all of them accept exactly the same text. Pure: no
//! I/O here. docs/manifest.md states these rules for users.
//!
//! Keys are 1–128 and values 0–43 Unicode scalar values. Allowed characters are Unicode letters
//! and digits together with the combining marks written after them (the Devanagari virama in
//! `क्ष`, the accent of a decomposed `é`), `_ - . : + @`, and spaces that are neither leading nor
//! trailing. Keys must not start with `_sys_` (system tags, owned by the service).

mod map;

use std::fmt;

pub use compact_str::CompactString;
pub(crate) use map::SortedMap;
use serde::{Deserialize, Deserializer, Serialize};

/// Longest tag key, in characters.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest tag value, in characters.
pub(crate) const MAX_VALUE_CHARS: usize = 43;
/// Default number of tags a desktop may carry (CreateTag's documented cap).
pub const DEFAULT_MAX_TAGS: usize = 10;
/// Prefix of system tags: never written by desktag, never counted toward the cap.
pub const SYSTEM_PREFIX: &str = "_sys_";

/// The tags of one desktop as the service reports them: key → value, sorted by key.
/// Observed tags are plain strings (the service may hold keys desktag would not write, such as
/// `_sys_` tags); desired tags are validated `TagKey`/`TagValue`. Keys and values up to 24 bytes
/// are stored inline (no allocation), and the map is one sorted vector: desktag holds one of these
/// per desktop, by the hundred thousand.
pub type Tags = SortedMap<CompactString, CompactString>;

/// Whether `key` is a system tag (`_sys_…`).
pub fn is_system_key(key: &str) -> bool {
    key.starts_with(SYSTEM_PREFIX)
}

/// Why a key or value was rejected. `Display` is a lowercase sentence naming the offending text;
/// `help()` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagError {
    EmptyKey,
    KeyTooLong {
        chars: usize,
    },
    ValueTooLong {
        chars: usize,
    },
    SystemPrefix,
    /// A character outside the allowed set; `explicit` is true for the documented forbidden ones.
    BadChar {
        what: &'static str,
        ch: char,
        position: usize,
    },
    OuterSpace {
        what: &'static str,
    },
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagError::EmptyKey => write!(f, "tag key is empty"),
            TagError::KeyTooLong { chars } => {
                write!(
                    f,
                    "tag key is {chars} characters long; the limit is {MAX_KEY_CHARS}"
                )
            }
            TagError::ValueTooLong { chars } => {
                write!(
                    f,
                    "tag value is {chars} characters long; the limit is {MAX_VALUE_CHARS}"
                )
            }
            TagError::SystemPrefix => write!(
                f,
                "tag key starts with `{SYSTEM_PREFIX}`, which is reserved for system tags"
            ),
            TagError::BadChar { what, ch, position } => {
                write!(
                    f,
                    "tag {what} contains {} at character {position}, which is not allowed",
                    describe_char(*ch)
                )
            }
            TagError::OuterSpace { what } => {
                write!(f, "tag {what} has leading or trailing whitespace")
            }
        }
    }
}

impl std::error::Error for TagError {}

impl TagError {
    /// A short, actionable hint for the user.
    pub fn help(&self) -> String {
        match self {
            TagError::EmptyKey => "give the tag a key of 1 to 128 characters".into(),
            TagError::KeyTooLong { .. } => format!("shorten the key to at most {MAX_KEY_CHARS} characters"),
            TagError::ValueTooLong { .. } => format!("shorten the value to at most {MAX_VALUE_CHARS} characters"),
            TagError::SystemPrefix => format!("rename the key so it does not start with `{SYSTEM_PREFIX}`"),
            TagError::BadChar { .. } => "use only letters, digits, inner spaces and `_ - . : + @`; `= * < > \\ , | /` are forbidden".into(),
            TagError::OuterSpace { .. } => "remove the spaces at the start and end".into(),
        }
    }

    /// A stable code per kind of error, which the diagnostic codes must agree with.
    #[cfg(test)]
    pub(crate) fn code(&self) -> &'static str {
        match self {
            TagError::EmptyKey | TagError::KeyTooLong { .. } => "key-length",
            TagError::ValueTooLong { .. } => "value-length",
            TagError::SystemPrefix => "system-key",
            TagError::BadChar { .. } | TagError::OuterSpace { .. } => "tag-charset",
        }
    }
}

fn describe_char(ch: char) -> String {
    if is_mark(ch) {
        format!(
            "the combining mark U+{:04X} with no letter or digit before it",
            ch as u32
        )
    } else if ch.is_control() || ch.is_whitespace() {
        format!("{:?} (U+{:04X})", ch, ch as u32)
    } else {
        format!("`{ch}`")
    }
}

/// Whether `ch` is a combining mark (general category M: Mn, Mc, Me).
pub(crate) fn is_mark(ch: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    ch.general_category_group() == GeneralCategoryGroup::Mark
}

pub(crate) fn check_chars(text: &str, what: &'static str) -> Result<(), TagError> {
    // A combining mark belongs to the letter or digit before it (possibly after other marks).
    let mut after_letter = false;
    for (i, ch) in text.chars().enumerate() {
        let ok = if ch.is_alphanumeric() {
            after_letter = true;
            true
        } else if is_mark(ch) {
            after_letter
        } else {
            after_letter = false;
            matches!(ch, '_' | '-' | '.' | ':' | '+' | '@' | ' ')
        };
        if !ok {
            return Err(TagError::BadChar {
                what,
                ch,
                position: i + 1,
            });
        }
    }
    if text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace) {
        return Err(TagError::OuterSpace { what });
    }
    Ok(())
}

/// `text` in Unicode Normalization Form C: `cafe\u{301}` (an `e` and a combining acute) and
/// `café` (one precomposed letter) look the same, so every glob and key comparison that decides
/// what desktag touches is made on this form. Borrowed when `text` is already NFC.
pub fn nfc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfc().collect())
    }
}

/// `text` for a message that compares it with its NFC form: combining marks written as
/// `\u{301}` (and control characters escaped), so `cafe\u{301}` and `café` do not read the same.
pub fn spell_marks(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_mark(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.escape_debug().to_string()
            }
        })
        .collect()
}

/// Checks a tag key against every rule. System keys (`_sys_`) are rejected.
pub fn check_key(key: &str) -> Result<(), TagError> {
    if key.is_empty() {
        return Err(TagError::EmptyKey);
    }
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        return Err(TagError::KeyTooLong { chars });
    }
    if is_system_key(key) {
        return Err(TagError::SystemPrefix);
    }
    check_chars(key, "key")
}

/// Checks a tag value against every rule. The empty string is a valid value.
pub fn check_value(value: &str) -> Result<(), TagError> {
    let chars = value.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err(TagError::ValueTooLong { chars });
    }
    check_chars(value, "value")
}

/// Longest project id accepted, in characters. Real ids are 32 hexadecimal digits; the margin
/// admits other deployments while still catching a pasted URL or token.
pub(crate) const MAX_PROJECT_ID_CHARS: usize = 64;

/// Why a project id was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectIdError {
    Empty,
    TooLong { chars: usize },
    BadChar { ch: char },
}

impl fmt::Display for ProjectIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectIdError::Empty => write!(f, "project id is empty"),
            ProjectIdError::TooLong { chars } => write!(
                f,
                "project id is {chars} characters long; the limit is {MAX_PROJECT_ID_CHARS}"
            ),
            ProjectIdError::BadChar { ch } => write!(
                f,
                "project id contains {}, which is not allowed",
                describe_char(*ch)
            ),
        }
    }
}

impl std::error::Error for ProjectIdError {}

/// The one project-id rule (manifest `project_id`, `--project-id`, environment): 1 to 64 ASCII
/// letters, digits, `-` and `_`. The id becomes a URL path segment, so nothing else may pass.
pub fn check_project_id(id: &str) -> Result<(), ProjectIdError> {
    if id.is_empty() {
        return Err(ProjectIdError::Empty);
    }
    if let Some(ch) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(ProjectIdError::BadChar { ch });
    }
    let chars = id.chars().count();
    if chars > MAX_PROJECT_ID_CHARS {
        return Err(ProjectIdError::TooLong { chars });
    }
    Ok(())
}

/// The one region-id rule (manifest `region`, `--region`, `HW_REGION_NAME`): 1 to 64 lowercase
/// ASCII letters, digits and `-`, not starting or ending with `-` (`cn-north-4`). The id becomes
/// a host name label, so nothing else may pass.
pub fn is_region_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

macro_rules! validated_string {
    ($name:ident, $check:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(CompactString);

        impl $name {
            /// Validates `text`.
            pub(crate) fn new(text: impl Into<CompactString>) -> Result<Self, TagError> {
                let text = text.into();
                $check(&text)?;
                Ok(Self(text))
            }
            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = TagError;
            fn from_str(s: &str) -> Result<Self, TagError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = CompactString::deserialize(d)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

validated_string!(TagKey, check_key, "A tag key that passed `check_key`.");
validated_string!(
    TagValue,
    check_value,
    "A tag value that passed `check_value`, or a template the manifest loader checked (its \
     rendered value is checked per desktop when planning)."
);

impl TagValue {
    /// A templated value (`owner: "${desktop.user_name}"`), checked by `crate::template` where it
    /// was written; kept as written until a desktop renders it.
    pub(crate) fn template(text: impl Into<CompactString>) -> Self {
        Self(text.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_characters() {
        for key in [
            "env",
            "cost-center",
            "a_b.c:d+e@f",
            "部门",
            "cost center:a",
            "Ünïcode9",
        ] {
            assert_eq!(check_key(key), Ok(()), "{key}");
        }
        assert_eq!(check_value(""), Ok(()));
        assert_eq!(check_value("FIN 01"), Ok(()));
    }

    #[test]
    fn rejects_each_forbidden_character() {
        for ch in [
            '=', '*', '<', '>', '\\', ',', '|', '/', '#', '\t', '\n', '!',
        ] {
            let key = format!("a{ch}b");
            assert!(
                matches!(check_key(&key), Err(TagError::BadChar { ch: c, position: 2, .. }) if c == ch),
                "{key:?}"
            );
            assert!(check_value(&key).is_err(), "{key:?}");
        }
    }

    #[test]
    fn counts_length_in_characters_not_bytes() {
        let key: String = "部".repeat(128);
        assert_eq!(check_key(&key), Ok(()));
        assert_eq!(
            check_key(&format!("{key}x")),
            Err(TagError::KeyTooLong { chars: 129 })
        );
        let value: String = "é".repeat(43);
        assert_eq!(check_value(&value), Ok(()));
        assert_eq!(
            check_value(&format!("{value}e")),
            Err(TagError::ValueTooLong { chars: 44 })
        );
    }

    #[test]
    fn rejects_empty_system_and_padded_keys() {
        assert_eq!(check_key(""), Err(TagError::EmptyKey));
        assert_eq!(check_key("_sys_enterprise"), Err(TagError::SystemPrefix));
        assert_eq!(check_key(" env"), Err(TagError::OuterSpace { what: "key" }));
        assert_eq!(
            check_value("prod "),
            Err(TagError::OuterSpace { what: "value" })
        );
        assert!(is_system_key("_sys_x") && !is_system_key("sys_x"));
    }

    #[test]
    fn letters_keep_their_combining_marks() {
        // Hindi with a virama (U+094D), a decomposed `é` (e + U+0301), Thai vowel marks.
        for key in [
            "क्षेत्र",
            "cafe\u{301}",
            "ภาษาไทย",
            "a\u{301}\u{302}",
            "x9\u{301}",
        ] {
            assert_eq!(check_key(key), Ok(()), "{key:?}");
            assert_eq!(check_value(key), Ok(()), "{key:?}");
        }
        // A mark with no letter or digit before it is not text of any language.
        assert_eq!(
            check_key("a-\u{301}").unwrap_err().to_string(),
            "tag key contains the combining mark U+0301 with no letter or digit before it at \
             character 3, which is not allowed"
        );
        for (key, position) in [("\u{301}a", 1), ("a-\u{301}", 3), ("a \u{94d}", 3)] {
            assert!(
                matches!(check_key(key), Err(TagError::BadChar { position: p, .. }) if p == position),
                "{key:?}"
            );
        }
    }

    #[test]
    fn project_ids_are_short_ascii_words() {
        assert_eq!(check_project_id("0123456789abcdef0123456789abcdef"), Ok(()));
        assert_eq!(check_project_id("p_1-x"), Ok(()));
        assert_eq!(check_project_id(""), Err(ProjectIdError::Empty));
        assert_eq!(
            check_project_id("abc/../x"),
            Err(ProjectIdError::BadChar { ch: '/' })
        );
        assert_eq!(check_project_id(&"a".repeat(64)), Ok(()));
        assert_eq!(
            check_project_id(&"a".repeat(65)),
            Err(ProjectIdError::TooLong { chars: 65 })
        );
        assert!(check_project_id("é").is_err());
    }

    #[test]
    fn deserialize_rejects_invalid_values() {
        let ok: TagKey = serde_json::from_str("\"env\"").unwrap();
        assert_eq!(ok.as_str(), "env");
        let err = serde_json::from_str::<TagKey>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("`/`"), "{err}");
    }
}
