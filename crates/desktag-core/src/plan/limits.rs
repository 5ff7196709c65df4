//! Guardrails on the size of a plan: `--max-deletes` and `--max-changes`. A plan over a limit is
//! refused before anything is written or saved, so a wrong glob or an emptied manifest cannot
//! delete a project's tags in one merge. Pure: the decision only; the commands refuse.

use super::Plan;
use crate::tags::is_system_key;

/// With `--prune` and no `--max-deletes`, a plan may delete at most this fraction of the tags
/// the planned desktops carry now…
pub(crate) const PRUNE_DELETE_FRACTION: f64 = 0.5;
/// …and never has a limit below this many deletes.
pub(crate) const PRUNE_DELETE_FLOOR: usize = 10;

/// The limits a run was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `--max-deletes N`; `None`: no limit, unless `--prune` (see `PRUNE_DELETE_FRACTION`).
    pub max_deletes: Option<usize>,
    /// `--max-changes N`: creates, overwrites and deletes together.
    pub max_changes: Option<usize>,
    /// `--prune` of this run, which gives `max_deletes` its default. Never the plan's own
    /// `prune`: a saved plan is checked against the limits of the command applying it.
    pub prune: bool,
}

/// Why `plan` goes over `limits`, or `None` when it stays within them. The message gives the
/// counts, the limit and how to raise it.
pub fn check_limits(plan: &Plan, limits: &Limits) -> Option<String> {
    let s = &plan.summary;
    let changes = s.create + s.overwrite + s.delete + s.rename;
    if let Some(max) = limits.max_changes {
        if changes > max {
            return Some(format!(
                "the plan makes {changes} changes, over --max-changes {max}; review it, then rerun with --max-changes {changes} if it is what you want"
            ));
        }
    }
    let (max, why) = match limits.max_deletes {
        Some(max) => (max, format!("--max-deletes {max}")),
        None if limits.prune => {
            let carried = carried_tags(plan);
            let max = prune_default(carried);
            (
                max,
                format!("the --prune default of {max} (half of the {carried} tags the planned desktops carry, at least {PRUNE_DELETE_FLOOR})"),
            )
        }
        None => return None,
    };
    (s.delete > max).then(|| {
        format!(
            "the plan deletes {} tags, over {why}; review it, then rerun with --max-deletes {} if it is what you want",
            s.delete, s.delete
        )
    })
}

/// The delete limit `--prune` gets when `--max-deletes` is not given.
pub(crate) fn prune_default(carried: usize) -> usize {
    ((carried as f64 * PRUNE_DELETE_FRACTION) as usize).max(PRUNE_DELETE_FLOOR)
}

/// The non-system tags the planned desktops carry now.
fn carried_tags(plan: &Plan) -> usize {
    plan.desktops
        .iter()
        .map(|d| d.current.keys().filter(|k| !is_system_key(k)).count())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Change, DesktopPlan, DesktopStatus, Summary};
    use crate::tags::Tags;

    /// One desktop carrying `carried` tags, of which `deletes` are deleted, plus `creates`.
    fn plan(carried: usize, deletes: usize, creates: usize, prune: bool) -> Plan {
        let current: Tags = (0..carried)
            .map(|i| (format!("k{i}").into(), "v".into()))
            .collect();
        let mut changes: Vec<Change> = (0..deletes)
            .map(|i| Change::Delete {
                key: format!("k{i}").into(),
                old: "v".into(),
            })
            .collect();
        changes.extend((0..creates).map(|i| Change::Create {
            key: format!("n{i}").into(),
            value: "v".into(),
        }));
        let desktops = vec![DesktopPlan {
            desktop_id: "d".into(),
            name: "D".into(),
            status: DesktopStatus::Change,
            reason: None,
            reason_kind: None,
            current,
            changes: changes.into(),
            unmanaged: Vec::new(),
            ignored: Vec::new(),
            kept: Vec::new(),
            sources: Default::default(),
            policy_warnings: Vec::new(),
        }];
        Plan {
            project_id: "p".into(),
            endpoint: "e".into(),
            region: None,
            max_tags: 1000,
            prune,
            has_changes: true,
            summary: Summary::of(&desktops),
            desktops,
            warnings: Vec::new(),
            made_from: None,
        }
    }

    #[test]
    fn no_limits_without_flags_or_prune() {
        assert_eq!(
            check_limits(&plan(100, 100, 5, false), &Limits::default()),
            None
        );
    }

    #[test]
    fn max_deletes_and_max_changes_refuse_with_the_counts() {
        let limits = Limits {
            max_deletes: Some(3),
            max_changes: None,
            prune: false,
        };
        assert_eq!(check_limits(&plan(10, 3, 0, false), &limits), None);
        assert_eq!(
            check_limits(&plan(10, 4, 0, false), &limits).unwrap(),
            "the plan deletes 4 tags, over --max-deletes 3; review it, then rerun with --max-deletes 4 if it is what you want"
        );
        let limits = Limits {
            max_deletes: None,
            max_changes: Some(5),
            prune: false,
        };
        assert_eq!(check_limits(&plan(10, 2, 3, false), &limits), None);
        assert!(check_limits(&plan(10, 2, 4, false), &limits)
            .unwrap()
            .starts_with("the plan makes 6 changes, over --max-changes 5"));
        // Zero means none at all.
        let none = Limits {
            max_deletes: Some(0),
            max_changes: None,
            prune: true,
        };
        assert!(check_limits(&plan(10, 1, 0, true), &none).is_some());
    }

    #[test]
    fn the_prune_default_follows_the_run_not_the_plan() {
        // A saved plan that says `prune: false` still gets the default when the run prunes, and
        // one that says `prune: true` does not choose the limit for a run that does not.
        let pruning = Limits {
            prune: true,
            ..Limits::default()
        };
        assert!(check_limits(&plan(20, 11, 0, false), &pruning).is_some());
        assert_eq!(
            check_limits(&plan(20, 11, 0, true), &Limits::default()),
            None
        );
    }

    #[test]
    fn prune_defaults_to_half_of_the_carried_tags_never_below_ten() {
        assert_eq!(prune_default(0), 10);
        assert_eq!(prune_default(20), 10);
        assert_eq!(prune_default(400), 200);
        let pruning = Limits {
            prune: true,
            ..Limits::default()
        };
        assert_eq!(check_limits(&plan(20, 10, 0, true), &pruning), None);
        let refused = check_limits(&plan(20, 11, 0, true), &pruning).unwrap();
        assert!(
            refused.contains("over the --prune default of 10 (half of the 20 tags"),
            "{refused}"
        );
        // An explicit --max-deletes replaces the default, up or down.
        let raised = Limits {
            max_deletes: Some(11),
            max_changes: None,
            prune: true,
        };
        assert_eq!(check_limits(&plan(20, 11, 0, true), &raised), None);
    }
}
