//! The one place serde_yaml is called: parse one YAML document into a serde type, or render one,
//! with the error's line and column kept. A leaf (no crate imports), so that the manifest loader
//! and the emulator's seed files share it without depending on each other, and replacing
//! serde_yaml (archived upstream) is a change in this file only.

/// A YAML document that could not be parsed or rendered; `line`/`column` are 1-based when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// Deserializes one YAML document.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        YamlError {
            message: e.to_string(),
            line: loc.as_ref().map(|l| l.line() as u32),
            column: loc.as_ref().map(|l| l.column() as u32),
        }
    })
}

/// Serializes a value as one YAML document.
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_yaml::to_string(value).map_err(|e| YamlError {
        message: e.to_string(),
        line: None,
        column: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_keep_the_position_and_values_round_trip() {
        let err =
            super::from_str::<std::collections::BTreeMap<String, u32>>("a: 1\nb: [\n").unwrap_err();
        assert!(err.line.is_some() && err.column.is_some(), "{err:?}");
        let value: std::collections::BTreeMap<String, u32> = [("a".to_string(), 1)].into();
        let text = super::to_string(&value).unwrap();
        assert_eq!(
            super::from_str::<std::collections::BTreeMap<String, u32>>(&text).unwrap(),
            value
        );
    }

    #[test]
    fn a_nul_is_refused_instead_of_ending_the_document() {
        let got = super::from_str::<std::collections::BTreeMap<String, u32>>("a: 1\n\0\nb: 2\n");
        assert!(got.is_err(), "{got:?}");
    }
}
