//! Reading desktops back: after each batch phase (to confirm what a batch call did) and at the
//! end (every applied desktop against its planned tags). A desktop read after its last write is
//! not read again, unless a batch call was sent after the read: a batch call can touch any
//! desktop, so only a read newer than the run's last batch call counts.

use std::collections::{BTreeMap, BTreeSet};

use desktag_api::{ApiError, Client};
use desktag_core::plan::saved::describe_difference;
use desktag_core::tags::{CompactString, Tags};

use super::work::{DesktopWork, Observed};

/// The tags of the desktops `ids` that exist, by id.
pub(super) async fn read(
    client: &Client,
    ids: &[String],
) -> Result<BTreeMap<String, Tags>, ApiError> {
    let found = client.read_desktops(ids).await?;
    Ok(found.into_iter().map(|d| (d.id, d.tags)).collect())
}

/// Marks every applied desktop whose tags differ from the plan as unverified, and each of its
/// changes the read does not show as failed (the totals never count them as applied). Desktops
/// read since their last write and since the run's last batch call (`batches` sent in all) are
/// checked against that read; the others are re-read.
pub(super) async fn verify(client: &Client, works: &mut [DesktopWork], batches: usize) {
    for w in works.iter_mut() {
        if w.observed_after_batches < batches {
            w.observed = None;
        }
    }
    let ids: Vec<String> = works
        .iter()
        .filter(|w| w.is_applied() && w.observed.is_none())
        .map(|w| w.id().to_string())
        .collect();
    let mut read_error = None;
    if !ids.is_empty() {
        match read(client, &ids).await {
            Ok(mut found) => {
                let ids: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
                for w in works.iter_mut().filter(|w| ids.contains(w.id())) {
                    // Absent from the answer: checked below as not found.
                    match found.remove(w.id()) {
                        Some(tags) => w.observe(tags, batches),
                        None => w.observed = None,
                    }
                }
            }
            Err(error) => read_error = Some(error),
        }
    }
    for w in works.iter_mut().filter(|w| w.is_applied()) {
        match (&w.observed, &read_error) {
            (Some(Observed::AsPlanned), _) => {}
            (Some(Observed::Differs(have)), _) => {
                let reason = format!(
                    "tags after apply differ from the plan: {}",
                    describe_difference(&w.planned(), have)
                );
                let absent = w.applied_but_absent(have);
                w.absent_after_apply(&absent);
                w.unverified(reason);
            }
            (None, Some(error)) => {
                w.unverified(format!("could not re-read the desktop to verify: {error}"))
            }
            (None, None) => w.unverified("the desktop was not found when re-read to verify".into()),
        }
    }
    if batches > 0 {
        check_bystanders(client, works).await;
    }
}

/// After batch calls, the desktops the plan did not change are read too: a misdirected batch
/// call may have written one of them. A desktop whose tags differ from the plan's record in a
/// key this run wrote somewhere is unverified (other keys are left alone: people may be editing
/// them meanwhile).
async fn check_bystanders(client: &Client, works: &mut [DesktopWork]) {
    use desktag_core::plan::DesktopStatus;
    let ids: Vec<String> = works
        .iter()
        .filter(|w| w.planned_status != DesktopStatus::Change && !w.name.is_empty())
        .map(|w| w.id().to_string())
        .collect();
    // Each key once: a run of 100,000 desktops writes the same few keys on each.
    let mut written: BTreeSet<CompactString> = BTreeSet::new();
    for key in works.iter().flat_map(DesktopWork::written_keys) {
        if !written.contains(key) {
            written.insert(key.into());
        }
    }
    if ids.is_empty() || written.is_empty() {
        return;
    }
    let found = match read(client, &ids).await {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "could not re-read the desktops the plan did not change, to check that no batch call wrote to them");
            return;
        }
    };
    for w in works
        .iter_mut()
        .filter(|w| w.planned_status != DesktopStatus::Change && !w.name.is_empty())
    {
        let Some(now) = found.get(w.id()) else {
            continue;
        };
        let then = &w.current;
        let pick = |tags: &Tags| -> Tags {
            tags.iter()
                .filter(|(k, _)| written.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let (then, now) = (pick(then), pick(now));
        if then != now {
            w.unverified(format!(
                "the plan has no changes for this desktop, but after the run's batch calls its tags differ in keys this run wrote: {}",
                describe_difference(&then, &now)
            ));
        }
    }
}
