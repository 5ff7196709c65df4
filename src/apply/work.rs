//! One desktop's changes while they are written: which are settled (applied, failed, skipped),
//! by which kind of call, with how many attempts. Pure bookkeeping, no I/O; the writers in
//! `write` decide what to send and record here what happened.

use crate::report::{Changes, DesktopReport, DesktopResult, ErrorInfo, Outcome, WriteMode};
use desktag_api::{ApiError, DesktopTags, TagAction, BATCH_MAX_TAGS};
use desktag_core::plan::{BlockedKind, Change, DesktopPlan, DesktopStatus, Shared};
use desktag_core::tags::Tags;
use smallvec::SmallVec;

use super::progress::Ticker;

/// The two phases of a desktop's writes: deletes first, so the tag cap holds after every call,
/// then creates and overwrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Group {
    Deletes,
    Creates,
}

impl Group {
    pub(crate) fn of(change: &Change) -> Group {
        match change {
            Change::Delete { .. } => Group::Deletes,
            Change::Overwrite { .. } | Change::Create { .. } => Group::Creates,
            Change::Rename { .. } => unreachable!("{SPLIT}"),
        }
    }

    pub(crate) fn action(self) -> TagAction {
        match self {
            Group::Deletes => TagAction::Delete,
            Group::Creates => TagAction::Create,
        }
    }
}

/// Work holds a rename as its two writes (`Change::writes`): the delete of the old key among
/// the deletes, the create of the new one among the creates, so the cap holds in every mode.
pub(super) const SPLIT: &str = "a rename is split into its delete and its create";

/// A desktop's tags as a read saw them: as the plan wants them (the usual case after its writes,
/// kept without a copy of the tags, so a run does not hold a second inventory), or what they were
/// instead.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Observed {
    AsPlanned,
    /// Boxed: rare, and every desktop's work has room for an `Observed`.
    Differs(Box<Tags>),
}

pub(super) const INTERRUPTED: &str = "interrupted before all of its changes were applied";

/// What the run keeps of a desktop's plan: what writing, verifying and reporting need, and none
/// of what only the plan shows (kept, ignored and unmanaged keys, sources), so a run of 100,000
/// desktops holds less than its plan did.
pub(super) struct DesktopWork {
    id: String,
    /// Computer name; empty when the plan did not find the desktop.
    pub name: String,
    /// Whether the plan changes, leaves or blocks the desktop.
    pub planned_status: DesktopStatus,
    reason_kind: Option<BlockedKind>,
    /// The tags the desktop had when the plan was made.
    pub current: Tags,
    policy_warnings: Vec<String>,
    /// The plan's changes, as their writes, and how each ended (the report keeps them).
    changes: Changes,
    /// Which changes are settled; inline up to 16 writes (more only for a desktop that swaps
    /// most of its tags at once).
    settled: SmallVec<[bool; 16]>,
    status: DesktopResult,
    reason: Option<String>,
    /// A failure that ends the desktop's writes (the rest is skipped).
    stopped: bool,
    /// The desktop's tags as read after its last write; cleared by every later write.
    pub observed: Option<Observed>,
    /// How many batch calls the run had sent when `observed` was read: a batch call can touch
    /// any desktop (a misdirected one included), so a read older than the run's last batch call
    /// proves nothing about the desktop now.
    pub observed_after_batches: usize,
}

// A run's works take the place of its plan's desktops (an in-place collect), so they must not be
// larger: at 100,000 desktops a second vector would cost 25 MB.
const _: () = assert!(std::mem::size_of::<DesktopWork>() <= std::mem::size_of::<DesktopPlan>());

impl DesktopWork {
    /// Takes the desktop's plan; its changes move into the work (the report keeps them), shared
    /// as the plan shares them; a desktop's renames, split into their writes, are shared with
    /// the other desktops that have the same (`shared`).
    pub(crate) fn new(plan: DesktopPlan, shared: &mut Shared<[Change]>) -> DesktopWork {
        let status = match plan.status {
            DesktopStatus::Blocked => DesktopResult::Blocked,
            DesktopStatus::Unchanged => DesktopResult::Unchanged,
            DesktopStatus::Change => DesktopResult::Applied,
        };
        let changes = if status == DesktopResult::Applied {
            let renames = plan
                .changes
                .iter()
                .any(|c| matches!(c, Change::Rename { .. }));
            let writes = if renames {
                let writes: Vec<Change> = plan.changes.iter().flat_map(Change::writes).collect();
                shared.share(writes.into())
            } else {
                // Shared already as planned.
                plan.changes
            };
            Changes::unsent(writes)
        } else {
            Changes::default()
        };
        DesktopWork {
            id: plan.desktop_id,
            name: plan.name,
            planned_status: plan.status,
            reason_kind: plan.reason_kind,
            current: plan.current,
            policy_warnings: plan.policy_warnings,
            reason: plan.reason,
            settled: smallvec::smallvec![false; changes.len()],
            changes,
            status,
            stopped: false,
            observed: None,
            observed_after_batches: 0,
        }
    }

    /// Records a read of the desktop, made when the run had sent `batches` batch calls.
    pub(super) fn observe(&mut self, tags: Tags, batches: usize) {
        self.observed = Some(if tags == self.planned() {
            Observed::AsPlanned
        } else {
            Observed::Differs(Box::new(tags))
        });
        self.observed_after_batches = batches;
    }

    /// The tags the plan wants the desktop to end with: its tags when planned, with every write
    /// of its plan applied (`DesktopPlan::planned`, whose changes the work holds).
    pub(super) fn planned(&self) -> Tags {
        let mut tags = self.current.clone();
        for c in self.changes.iter() {
            c.change.apply_to(&mut tags);
        }
        tags
    }

    /// The keys the desktop's writes touch.
    pub(super) fn written_keys(&self) -> impl Iterator<Item = &str> {
        self.changes.iter().map(|c| c.change.key())
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The unsettled changes of `group`, in plan order. Creates are offered only once every
    /// delete of the desktop is applied: a desktop whose delete failed could go over its cap.
    pub(crate) fn pending(&self, group: Group) -> Vec<usize> {
        if self.stopped {
            return Vec::new();
        }
        if group == Group::Creates
            && self
                .changes
                .iter()
                .any(|c| Group::of(c.change) == Group::Deletes && c.outcome != Outcome::Applied)
        {
            return Vec::new();
        }
        (0..self.changes.len())
            .filter(|&i| !self.settled[i] && Group::of(self.changes.change(i)) == group)
            .collect()
    }

    pub(crate) fn change(&self, i: usize) -> &Change {
        self.changes.change(i)
    }

    /// The tags of changes `indices`: the new value for creates and overwrites, the old one for
    /// deletes (sent key-only).
    pub(crate) fn tags(&self, indices: &[usize]) -> Tags {
        indices
            .iter()
            .map(|&i| match self.changes.change(i) {
                Change::Delete { key, old } => (key.clone(), old.clone()),
                Change::Overwrite { key, value, .. } | Change::Create { key, value } => {
                    (key.clone(), value.clone())
                }
                Change::Rename { .. } => unreachable!("{SPLIT}"),
            })
            .collect()
    }

    /// The `k`-th batch call's worth of the pending changes of `group`: at most `BATCH_MAX_TAGS`
    /// of them, by key (`chunks::pieces` counts them). Sending does not change what is pending,
    /// so the pieces a round's calls were built from are the pieces its answers are recorded
    /// against.
    pub(super) fn piece(&self, group: Group, k: usize) -> Vec<usize> {
        let mut pending = self.pending(group);
        pending.sort_by(|&a, &b| {
            self.changes
                .change(a)
                .key()
                .cmp(self.changes.change(b).key())
        });
        pending
            .chunks(BATCH_MAX_TAGS)
            .nth(k)
            .map(<[usize]>::to_vec)
            .unwrap_or_default()
    }

    /// What the `k`-th batch call of `group` carries for this desktop.
    pub(super) fn batch_item(&self, group: Group, k: usize) -> DesktopTags {
        DesktopTags {
            desktop_id: self.id().to_string(),
            tags: self.tags(&self.piece(group, k)),
        }
    }

    /// A call of kind `via` carrying `indices` was made with `attempts` HTTP attempts.
    pub(crate) fn sent(&mut self, indices: &[usize], via: WriteMode, attempts: u32) {
        if attempts == 0 {
            return;
        }
        for &i in indices {
            let end = self.changes.ended_mut(i);
            end.via = Some(via);
            end.attempts += attempts;
        }
        self.observed = None;
    }

    pub(crate) fn applied(&mut self, indices: &[usize], ticker: &Ticker) {
        for &i in indices {
            self.changes.end(i, Outcome::Applied, None);
            self.settle(i, ticker);
        }
    }

    pub(crate) fn failed(&mut self, indices: &[usize], error: &ApiError, ticker: &Ticker) {
        for &i in indices {
            self.changes
                .end(i, Outcome::Failed, Some(ErrorInfo::from(error)));
            let change = self.changes.change(i);
            if self.status != DesktopResult::Failed {
                self.status = DesktopResult::Failed;
                self.reason = Some(format!(
                    "{} `{}` failed: {error}",
                    change.action(),
                    change.key()
                ));
            }
            tracing::warn!(
                desktop = %self.id,
                action = change.action(),
                key = change.key(),
                %error,
                "change failed"
            );
            self.settle(i, ticker);
        }
    }

    /// Changes `indices` that a call reported done but a read made after it shows not done: they
    /// count as failed, not applied, and the desktop's writes stop (a desktop whose delete did not
    /// happen gets no create: it could go over its cap).
    pub(super) fn not_done(&mut self, indices: &[usize], why: &str) {
        for &i in indices {
            self.changes
                .end(i, Outcome::Failed, Some(ErrorInfo::message(why)));
            let change = self.changes.change(i);
            if matches!(self.status, DesktopResult::Applied) {
                self.status = DesktopResult::Failed;
                self.reason = Some(format!(
                    "{} `{}`: {why}",
                    change.action(),
                    change.key().escape_debug()
                ));
            }
            tracing::warn!(
                desktop = %self.id,
                action = change.action(),
                key = change.key(),
                "{why}"
            );
        }
        self.stopped = true;
    }

    /// The changes of `group` settled as applied.
    pub(super) fn applied_in(&self, group: Group) -> Vec<usize> {
        (0..self.changes.len())
            .filter(|&i| {
                self.changes.ended(i).outcome == Outcome::Applied
                    && Group::of(self.changes.change(i)) == group
            })
            .collect()
    }

    /// The changes reported applied that `observed` shows not done.
    pub(super) fn applied_but_absent(&self, observed: &Tags) -> Vec<usize> {
        let applied: Vec<usize> = (0..self.changes.len())
            .filter(|&i| self.changes.ended(i).outcome == Outcome::Applied)
            .collect();
        confirmed(self, &applied, observed).1
    }

    /// Marks changes `indices`, reported applied, as failed because the final read does not show
    /// them (the desktop itself is unverified): totals never count them as applied.
    pub(super) fn absent_after_apply(&mut self, indices: &[usize]) {
        for &i in indices {
            let why = "the service reported it done, but the desktop's tags read after apply do not show it";
            self.changes
                .end(i, Outcome::Failed, Some(ErrorInfo::message(why)));
        }
    }

    /// Ends the desktop's writes: what is still pending will be skipped.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
    }

    /// Stops the desktop because the run was interrupted.
    pub(crate) fn interrupt(&mut self) {
        if self.status != DesktopResult::Failed {
            self.status = DesktopResult::Failed;
            self.reason = Some(INTERRUPTED.to_string());
        }
        self.stopped = true;
    }

    fn settle(&mut self, i: usize, ticker: &Ticker) {
        if !self.settled[i] {
            self.settled[i] = true;
            ticker.settled(self.changes.ended(i).outcome == Outcome::Failed);
        }
    }

    /// Settles every change still pending as skipped; a desktop with a skipped change has failed.
    pub(crate) fn finish(&mut self, ticker: &Ticker) {
        for i in 0..self.changes.len() {
            if !self.settled[i] {
                if self.changes.ended(i).via.is_some() {
                    // Sent, but never confirmed (the run stopped before a read could, or the
                    // desktop's writes stopped before it was sent again): whether the service did
                    // it is unknown, so it is neither applied nor skipped.
                    let why = "sent, but no read confirmed it and it was not sent again";
                    self.changes
                        .end(i, Outcome::Failed, Some(ErrorInfo::message(why)));
                } else {
                    self.changes.end(i, Outcome::Skipped, None);
                }
                self.settle(i, ticker);
                if self.status != DesktopResult::Failed {
                    self.status = DesktopResult::Failed;
                    self.reason = Some(INTERRUPTED.to_string());
                }
            }
        }
    }

    /// True when every planned change is applied (the desktop is then verified).
    pub(crate) fn is_applied(&self) -> bool {
        self.status == DesktopResult::Applied
    }

    pub(crate) fn unverified(&mut self, reason: String) {
        self.status = DesktopResult::Unverified;
        self.reason = Some(reason);
    }

    pub(crate) fn into_report(self) -> DesktopReport {
        DesktopReport {
            desktop_id: self.id,
            name: self.name,
            status: self.status,
            reason: self.reason,
            reason_kind: (self.status == DesktopResult::Blocked)
                .then_some(self.reason_kind)
                .flatten(),
            changes: self.changes,
            policy_warnings: self.policy_warnings,
        }
    }
}

/// Of `indices`, the changes that `observed` shows done (a deleted key is absent, a created or
/// overwritten key has the new value), and the rest.
pub(super) fn confirmed(
    work: &DesktopWork,
    indices: &[usize],
    observed: &Tags,
) -> (Vec<usize>, Vec<usize>) {
    indices.iter().partition(|&&i| match work.change(i) {
        Change::Delete { key, .. } => !observed.contains_key(key.as_str()),
        Change::Overwrite { key, value, .. } | Change::Create { key, value } => {
            observed.get(key.as_str()) == Some(value)
        }
        Change::Rename { .. } => unreachable!("{SPLIT}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use desktag_core::plan::Change;

    fn plan() -> DesktopPlan {
        DesktopPlan {
            desktop_id: "d1".into(),
            name: "D-1".into(),
            status: DesktopStatus::Change,
            reason: None,
            reason_kind: None,
            current: [("old", "1"), ("env", "dev")]
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            changes: vec![
                Change::Delete {
                    key: "old".into(),
                    old: "1".into(),
                },
                Change::Overwrite {
                    key: "env".into(),
                    old: "dev".into(),
                    value: "prod".into(),
                },
                Change::Create {
                    key: "team".into(),
                    value: "ops".into(),
                },
            ]
            .into(),
            unmanaged: vec![],
            ignored: vec![],
            kept: vec![],
            sources: Default::default(),
            policy_warnings: vec![],
        }
    }

    #[test]
    fn creates_wait_until_every_delete_is_applied() {
        let plan = plan();
        let ticker = Ticker::off();
        let mut work = DesktopWork::new(plan.clone(), &mut Shared::default());
        assert_eq!(work.pending(Group::Deletes), [0]);
        assert!(work.pending(Group::Creates).is_empty());
        work.sent(&[0], WriteMode::Batch, 1);
        work.applied(&[0], &ticker);
        assert_eq!(work.pending(Group::Creates), [1, 2]);
    }

    #[test]
    fn a_failed_delete_skips_the_creates_and_fails_the_desktop() {
        let plan = plan();
        let ticker = Ticker::off();
        let mut work = DesktopWork::new(plan.clone(), &mut Shared::default());
        let error = ApiError::Service {
            status: 400,
            error_code: "WKS.0001".into(),
            error_msg: "bad".into(),
            request_id: Some("r1".into()),
            detail: None,
        };
        work.sent(&[0], WriteMode::Tag, 1);
        work.failed(&[0], &error, &ticker);
        assert!(work.pending(Group::Creates).is_empty());
        work.finish(&ticker);
        let report = work.into_report();
        assert_eq!(report.status, DesktopResult::Failed);
        assert!(report.reason.unwrap().starts_with("delete `old` failed"));
        let outcomes: Vec<Outcome> = report.changes.iter().map(|c| c.outcome).collect();
        assert_eq!(
            outcomes,
            [Outcome::Failed, Outcome::Skipped, Outcome::Skipped]
        );
        assert_eq!(report.changes.get(0).unwrap().via, Some(WriteMode::Tag));
        assert_eq!(report.changes.get(1).unwrap().via, None);
        assert_eq!(
            report
                .changes
                .get(0)
                .unwrap()
                .error
                .as_ref()
                .unwrap()
                .request_id
                .as_deref(),
            Some("r1")
        );
    }

    #[test]
    fn attempts_add_up_over_fallbacks_and_via_names_the_last_call() {
        let plan = plan();
        let ticker = Ticker::off();
        let mut work = DesktopWork::new(plan.clone(), &mut Shared::default());
        work.sent(&[0], WriteMode::Batch, 2);
        work.sent(&[0], WriteMode::Desktop, 1);
        work.applied(&[0], &ticker);
        let report = work.into_report();
        assert_eq!(report.changes.get(0).unwrap().attempts, 3);
        assert_eq!(report.changes.get(0).unwrap().via, Some(WriteMode::Desktop));
    }

    #[test]
    fn a_desktop_s_pending_writes_come_in_pieces_of_20_by_key() {
        let mut plan = plan();
        plan.changes = (0..25)
            .rev()
            .map(|k| Change::Create {
                key: format!("k{k:02}").into(),
                value: "v".into(),
            })
            .collect();
        let work = DesktopWork::new(plan, &mut Shared::default());
        let keys = |k| -> Vec<String> {
            let item = work.batch_item(Group::Creates, k);
            assert_eq!(item.desktop_id, "d1");
            item.tags.keys().map(ToString::to_string).collect()
        };
        let first = keys(0);
        assert_eq!(first.len(), 20);
        assert_eq!((first[0].as_str(), first[19].as_str()), ("k00", "k19"));
        assert_eq!(keys(1), ["k20", "k21", "k22", "k23", "k24"]);
        assert!(keys(2).is_empty());
        // The indices are the plan's (creates were planned from k24 down).
        assert_eq!(work.piece(Group::Creates, 1), [4, 3, 2, 1, 0]);
    }

    #[test]
    fn a_read_confirms_only_what_it_shows() {
        let plan = plan();
        let work = DesktopWork::new(plan.clone(), &mut Shared::default());
        let observed: Tags = [("env", "prod"), ("old", "1")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let (yes, no) = confirmed(&work, &[0, 1, 2], &observed);
        assert_eq!(yes, [1]);
        assert_eq!(no, [0, 2]);
    }

    #[test]
    fn a_write_after_a_read_makes_the_read_stale() {
        let plan = plan();
        let mut work = DesktopWork::new(plan.clone(), &mut Shared::default());
        work.observe(Tags::new(), 0);
        assert_eq!(work.observed, Some(Observed::Differs(Box::default())));
        work.sent(&[0], WriteMode::Desktop, 1);
        assert!(work.observed.is_none());
    }
}
