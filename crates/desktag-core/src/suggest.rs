//! "Did you mean …?": the closest known name by edit distance, when it is close enough to be a
//! typo — for unknown field names, template references, and computer names that match no
//! desktop. A leaf; pure, no I/O.

/// The known name closest to `unknown`, if it is plausibly a typo of it.
pub fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let normalized = unknown.to_lowercase().replace('-', "_");
    known
        .iter()
        .map(|&k| (distance(&normalized, k), k))
        .filter(|&(d, k)| d <= 2 && d < k.chars().count().div_ceil(2))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The candidate computer name closest to `unknown` (exact characters, case included), if it is
/// plausibly a typo of it: at most 2 edits, and fewer than half its length.
pub(crate) fn closest_name<'a>(
    unknown: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = unknown.chars().count();
    candidates
        // Two edits cannot bridge a longer length difference: skip those cheaply.
        .filter(|c| c.len().abs_diff(unknown.len()) <= 2 * 4)
        .map(|c| (distance(unknown, c), c))
        .filter(|&(d, c)| d <= 2 && d < len.min(c.chars().count()).div_ceil(2))
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (`strsim`'s, the one clap suggests flags with):
/// insertions, deletions, substitutions and transpositions of adjacent characters each cost 1.
fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &[&str] = &["id", "name", "tags", "absent", "priority"];
    const DOC: &[&str] = &[
        "version",
        "project_id",
        "defaults",
        "ignore_keys",
        "protect",
        "create_only",
        "policy",
        "desktops",
    ];

    #[test]
    fn suggests_the_field_a_typo_was_meant_to_be() {
        assert_eq!(closest("tag", ENTRY), Some("tags"));
        assert_eq!(closest("nmae", ENTRY), Some("name"));
        assert_eq!(closest("absnet", ENTRY), Some("absent"));
        assert_eq!(closest("Tags", ENTRY), Some("tags"));
        assert_eq!(closest("project-id", DOC), Some("project_id"));
        assert_eq!(closest("desktop", DOC), Some("desktops"));
        assert_eq!(closest("ignore_key", DOC), Some("ignore_keys"));
    }

    #[test]
    fn suggests_nothing_for_unrelated_names() {
        assert_eq!(closest("x", ENTRY), None);
        assert_eq!(closest("owner", ENTRY), None);
        assert_eq!(closest("colour", DOC), None);
    }

    #[test]
    fn suggests_the_computer_name_a_misspelt_one_was_meant_to_be() {
        let names = ["FIN-LAP-001", "FIN-LAP-002", "OPS-WKS-001"];
        assert_eq!(
            closest_name("FIN-LAP-01", names.iter().copied()),
            Some("FIN-LAP-001")
        );
        assert_eq!(
            closest_name("OPS-WSK-001", names.iter().copied()),
            Some("OPS-WKS-001")
        );
        assert_eq!(closest_name("ENG-1", names.iter().copied()), None);
        assert_eq!(closest_name("fin-lap-001", names.iter().copied()), None);
    }

    #[test]
    fn distance_counts_edits_and_transpositions() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("same", "same"), 0);
    }
}
