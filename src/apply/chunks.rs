//! Splits one phase's writes into cross-desktop batch calls: at most `BATCH_MAX_DESKTOPS`
//! desktops per call and `BATCH_MAX_TAGS` tags per desktop per call. Pure: no I/O.

use desktag_api::{DesktopTags, BATCH_MAX_DESKTOPS, BATCH_MAX_TAGS};
use desktag_core::tags::Tags;

/// The calls that carry `items` (one desktop each, in order), in rounds. A desktop with more
/// than `BATCH_MAX_TAGS` tags is split into pieces; its k-th piece goes into the k-th round, so
/// no round names a desktop twice and the calls of one round may run at once. Desktops without
/// tags are left out.
pub(super) fn rounds(items: Vec<DesktopTags>) -> Vec<Vec<Vec<DesktopTags>>> {
    let mut rounds: Vec<Vec<DesktopTags>> = Vec::new();
    for item in items {
        let mut pieces: Vec<Tags> = Vec::new();
        for (key, value) in item.tags {
            match pieces.last_mut() {
                Some(piece) if piece.len() < BATCH_MAX_TAGS => {
                    piece.insert(key, value);
                }
                _ => pieces.push(Tags::from_iter([(key, value)])),
            }
        }
        for (round, tags) in pieces.into_iter().enumerate() {
            if rounds.len() <= round {
                rounds.push(Vec::new());
            }
            rounds[round].push(DesktopTags {
                desktop_id: item.desktop_id.clone(),
                tags,
            });
        }
    }
    rounds
        .into_iter()
        .map(|round| {
            let mut calls = Vec::new();
            let mut rest = round.into_iter().peekable();
            while rest.peek().is_some() {
                calls.push(rest.by_ref().take(BATCH_MAX_DESKTOPS).collect());
            }
            calls
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, n: usize) -> DesktopTags {
        DesktopTags {
            desktop_id: id.to_string(),
            tags: (0..n)
                .map(|k| (format!("k{k:02}").into(), "v".into()))
                .collect(),
        }
    }

    #[test]
    fn a_call_carries_at_most_100_desktops() {
        let items = (0..250).map(|i| item(&format!("d{i:03}"), 5)).collect();
        let rounds = rounds(items);
        assert_eq!(rounds.len(), 1);
        let calls = &rounds[0];
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(calls[2][49].desktop_id, "d249");
    }

    #[test]
    fn a_desktop_with_more_than_20_tags_is_split_across_rounds() {
        let rounds = rounds(vec![item("a", 45), item("b", 3)]);
        assert_eq!(rounds.len(), 3);
        let calls: Vec<Vec<DesktopTags>> = rounds.into_iter().flatten().collect();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].len(), 2);
        assert_eq!(calls[0][0].tags.len(), 20);
        assert_eq!(calls[0][1].tags.len(), 3);
        assert_eq!(calls[1][0].tags.len(), 20);
        assert_eq!(calls[2][0].tags.len(), 5);
        let sent: usize = calls.iter().flatten().map(|d| d.tags.len()).sum();
        assert_eq!(sent, 48);
        for call in &calls {
            let ids: std::collections::BTreeSet<&str> =
                call.iter().map(|d| d.desktop_id.as_str()).collect();
            assert_eq!(ids.len(), call.len(), "no desktop twice in one call");
        }
    }

    #[test]
    fn nothing_to_write_makes_no_call() {
        assert!(rounds(vec![]).is_empty());
        assert!(rounds(vec![item("a", 0)]).is_empty());
    }
}
