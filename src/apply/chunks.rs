//! Splits one phase's writes into cross-desktop batch calls: at most `BATCH_MAX_DESKTOPS`
//! desktops per call and `BATCH_MAX_TAGS` tags per desktop per call. Pure: no I/O, and no copy
//! of what the calls carry: a call is built from the desktops' work when it is sent.

use desktag_api::{BATCH_MAX_DESKTOPS, BATCH_MAX_TAGS};

/// How many calls' worth (pieces of at most `BATCH_MAX_TAGS` tags) `writes` writes make.
pub(super) fn pieces(writes: usize) -> usize {
    writes.div_ceil(BATCH_MAX_TAGS)
}

/// The calls that carry `desktops` (a desktop and its number of pieces each, in order), in
/// rounds: each call a list of desktops. A desktop's k-th piece goes into the k-th round, so no
/// round names a desktop twice and the calls of one round may run at once. Desktops without
/// pieces are left out.
pub(super) fn rounds<D: Copy>(desktops: impl IntoIterator<Item = (D, usize)>) -> Vec<Vec<Vec<D>>> {
    let mut rounds: Vec<Vec<D>> = Vec::new();
    for (desktop, pieces) in desktops {
        for round in 0..pieces {
            if rounds.len() <= round {
                rounds.push(Vec::new());
            }
            rounds[round].push(desktop);
        }
    }
    rounds
        .into_iter()
        .map(|round| {
            round
                .chunks(BATCH_MAX_DESKTOPS)
                .map(<[D]>::to_vec)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_carries_at_most_100_desktops() {
        let rounds = rounds((0..250).map(|i| (i, 1)));
        assert_eq!(rounds.len(), 1);
        let calls = &rounds[0];
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(calls[2][49], 249);
    }

    #[test]
    fn a_desktop_with_more_than_20_tags_is_split_across_rounds() {
        assert_eq!(pieces(45), 3);
        assert_eq!(pieces(20), 1);
        assert_eq!(pieces(21), 2);
        let rounds = rounds([("a", pieces(45)), ("b", pieces(3))]);
        assert_eq!(
            rounds,
            [vec![vec!["a", "b"]], vec![vec!["a"]], vec![vec!["a"]]]
        );
        for call in rounds.iter().flatten() {
            let ids: std::collections::BTreeSet<&str> = call.iter().copied().collect();
            assert_eq!(ids.len(), call.len(), "no desktop twice in one call");
        }
    }

    #[test]
    fn nothing_to_write_makes_no_call() {
        assert!(rounds(Vec::<(usize, usize)>::new()).is_empty());
        assert!(rounds([("a", pieces(0))]).is_empty());
    }
}
