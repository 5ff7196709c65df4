//! Property tests for the planner invariants: a re-plan after applying is empty, no
//! single call pushes a desktop over the cap, nothing outside wanted/absent/prune is touched,
//! ignored and system keys are never touched, protected keys never deleted, create-only keys
//! never overwritten, and the output is deterministic.

use proptest::prelude::*;

use super::*;
use crate::inventory::{Desktop, Inventory};
use crate::tags::{is_system_key, CompactString, Tags};

const KEYS: [&str; 16] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "ops-x", "ops-y", "_sys_a",
    "_sys_b",
];
const MANAGEABLE: usize = 14; // KEYS without the system ones
const VALUES: [&str; 3] = ["1", "2", ""];
const IGNORE_GLOBS: [&str; 2] = ["ops-*", "c"];
const PROTECT_GLOBS: [&str; 2] = ["a", "[de]"];
const CREATE_ONLY_GLOBS: [&str; 2] = ["b", "f*"];

/// The globs of `globs` whose flag is on.
fn chosen(globs: &[&'static str], on: Vec<bool>) -> KeyGlobs {
    KeyGlobs::new(globs.iter().zip(on).filter_map(|(g, on)| on.then_some(*g))).unwrap()
}

fn tag_map(max_key: usize) -> impl Strategy<Value = Tags> {
    prop::collection::btree_map(
        (0..max_key).prop_map(|i| CompactString::from(KEYS[i])),
        (0..VALUES.len()).prop_map(|i| CompactString::from(VALUES[i])),
        0..14,
    )
    .prop_map(|m| m.into_iter().collect())
}

#[derive(Debug, Clone)]
struct Case {
    inventory: Inventory,
    wanted: Vec<Wanted>,
    policy: Policy,
    keys: KeyRules,
}

fn case() -> impl Strategy<Value = Case> {
    let desktop = (
        tag_map(KEYS.len()),
        tag_map(MANAGEABLE),
        prop::collection::btree_set(
            (0..MANAGEABLE).prop_map(|i| CompactString::from(KEYS[i])),
            0..5,
        ),
        any::<bool>(),
    );
    (
        prop::collection::vec(desktop, 1..6),
        any::<bool>(),
        2usize..12,
        prop::collection::vec(any::<bool>(), IGNORE_GLOBS.len()),
        prop::collection::vec(any::<bool>(), PROTECT_GLOBS.len()),
        prop::collection::vec(any::<bool>(), CREATE_ONLY_GLOBS.len()),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(
            |(
                desktops,
                prune,
                max_tags,
                ignore_on,
                protect_on,
                create_only_on,
                policy_on,
                rename_on,
            )| {
                let mut inventory = Inventory::default();
                let mut wanted = Vec::new();
                for (i, (current, tags, absent, exists)) in desktops.into_iter().enumerate() {
                    let id = format!("d{i}");
                    if exists {
                        inventory.insert(Desktop {
                            id: id.clone(),
                            name: format!("W{i}").into(),
                            user: None,
                            enterprise_project_id: None,
                            status: "ACTIVE".into(),
                            tags: current,
                        });
                    }
                    // A renamed key is never wanted under its old name (the loader refuses it).
                    let tags: Tags = tags
                        .into_iter()
                        .filter(|(k, _)| !(rename_on && k == "g"))
                        .collect();
                    let absent = absent
                        .into_iter()
                        .filter(|k| !(tags.contains_key(k) || (rename_on && k == "g")))
                        .collect();
                    wanted.push(Wanted {
                        desktop_id: id,
                        tags: tags.into(),
                        absent,
                        sources: Default::default(),
                    });
                }
                let globs: Vec<&str> = IGNORE_GLOBS
                    .iter()
                    .zip(ignore_on)
                    .filter_map(|(g, on)| on.then_some(*g))
                    .collect();
                Case {
                    inventory,
                    wanted,
                    policy: Policy {
                        max_tags,
                        prune,
                        ..Policy::default()
                    },
                    keys: KeyRules {
                        ignore: KeyIgnore::new(globs).unwrap(),
                        protect: chosen(&PROTECT_GLOBS, protect_on),
                        create_only: chosen(&CREATE_ONLY_GLOBS, create_only_on),
                        policy: match policy_on {
                            0 => Default::default(),
                            1 => policy(false),
                            _ => policy(true),
                        },
                        renames: if rename_on {
                            vec![("g".into(), "h".into())]
                        } else {
                            Vec::new()
                        },
                    },
                }
            },
        )
}

/// `a` is required, `b` may only be "1", keys in lower case (all of KEYS are); with `warn`, a
/// second document's `enforce: warn` policy also wants `c` and `a` to be "1".
fn policy(warn: bool) -> super::policy::PolicyRules {
    let mut text = "version: 1\npolicy: {required: [a], allowed: {b: [\"1\"]}, key_case: lower}\ndesktops: []\n".to_string();
    if warn {
        text.push_str("---\nversion: 1\npolicy: {enforce: warn, required: [c], allowed: {a: [\"1\"]}}\ndesktops: []\n");
    }
    let loaded = crate::manifest::load_str("p.yaml", &text, &Default::default());
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    super::policy::PolicyRules::of(&loaded.manifest)
}

fn plan_case(c: &Case, inventory: &Inventory) -> Plan {
    plan(&c.wanted, inventory, &c.policy, &c.keys, "p", "e")
}

fn counted(tags: &Tags) -> usize {
    tags.keys().filter(|k| !is_system_key(k)).count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_the_plan_then_replanning_gives_no_changes(c in case()) {
        let first = plan_case(&c, &c.inventory);
        let mut after = c.inventory.clone();
        for d in &first.desktops {
            if let Some(mut desktop) = after.get(&d.desktop_id).cloned() {
                desktop.tags = d.planned();
                after.insert(desktop);
            }
        }
        let second = plan_case(&c, &after);
        prop_assert!(!second.has_changes, "{:#?}", second);
        for (a, b) in first.desktops.iter().zip(&second.desktops) {
            // Blocked desktops stay blocked; everything else is now unchanged.
            let expect = if a.status == DesktopStatus::Blocked { DesktopStatus::Blocked } else { DesktopStatus::Unchanged };
            prop_assert_eq!(b.status, expect);
        }
    }

    #[test]
    fn no_single_change_pushes_a_desktop_over_the_cap(c in case()) {
        let p = plan_case(&c, &c.inventory);
        for d in &p.desktops {
            if d.status == DesktopStatus::Blocked {
                prop_assert!(d.changes.is_empty());
                continue;
            }
            let mut tags = d.current.clone();
            let start = counted(&tags);
            for change in d.changes.iter() {
                let before = counted(&tags);
                change.apply_to(&mut tags);
                let now = counted(&tags);
                // Never above the cap, unless the desktop already was and this call shrank it.
                prop_assert!(now <= c.policy.max_tags || (now < before && before <= start), "{:#?}", d);
            }
            prop_assert!(counted(&tags) <= c.policy.max_tags || d.changes.is_empty());
        }
    }

    #[test]
    fn only_wanted_absent_or_pruned_keys_are_touched_and_never_ignored_ones(c in case()) {
        let p = plan_case(&c, &c.inventory);
        for (d, w) in p.desktops.iter().zip(&c.wanted) {
            prop_assert_eq!(&d.desktop_id, &w.desktop_id);
            for change in d.changes.iter() {
                let key = change.key();
                prop_assert!(!c.keys.ignore.is_ignored(key) && !is_system_key(key));
                let allowed = match change {
                    Change::Create { value, .. } => w.tags.get(key) == Some(value) && !d.current.contains_key(key),
                    Change::Overwrite { old, value, .. } => w.tags.get(key) == Some(value)
                        && d.current.get(key) == Some(old) && old != value
                        && !c.keys.create_only.is_match(key),
                    Change::Delete { old, .. } => d.current.get(key) == Some(old)
                        && !c.keys.protect.is_match(key)
                        && (w.absent.contains(key)
                            || (c.policy.prune && !w.tags.contains_key(key))
                            || c.keys.renames.iter().any(|(f, _)| f == key)),
                    Change::Rename { from, old, value, .. } => c.keys.renames.iter().any(|(f, t)| *f == **from && t == key)
                        && d.current.get(from.as_str()) == Some(&**old)
                        && !d.current.contains_key(key)
                        && w.tags.get(key).unwrap_or(old) == value,
                };
                prop_assert!(allowed, "{:?} on {:#?}", change, d);
            }
            // Ordering: deletes, overwrites, creates, each by key.
            let mut sorted = d.changes.to_vec();
            sorted.sort();
            prop_assert_eq!(&sorted[..], &d.changes[..]);
            // Unmanaged: current, not wanted, not deleted, not ignored.
            for key in &d.unmanaged {
                prop_assert!(!w.tags.contains_key(key) && !c.keys.ignore.is_ignored(key));
                prop_assert!(!c.policy.prune || c.keys.protect.is_match(key)
                    || c.keys.renames.iter().any(|(_, to)| to == key));
            }
        }
    }

    #[test]
    fn no_desktop_desktag_changes_ends_outside_a_blocking_policy_and_warn_rules_are_reported(c in case()) {
        let p = plan_case(&c, &c.inventory);
        for d in p.desktops.iter().filter(|d| d.status != DesktopStatus::Blocked) {
            let (warn, block): (Vec<_>, Vec<_>) =
                c.keys.policy.violations(&d.planned()).into_iter().partition(|v| v.warn);
            if d.status == DesktopStatus::Change {
                prop_assert_eq!(block, vec![], "{:#?}", d);
            }
            let reported: Vec<String> = warn.iter().map(ToString::to_string).collect();
            prop_assert_eq!(&d.policy_warnings, &reported, "{:#?}", d);
        }
    }

    #[test]
    fn a_planned_end_state_never_holds_both_the_old_and_the_new_key_of_a_rename(c in case()) {
        let p = plan_case(&c, &c.inventory);
        for d in p.desktops.iter().filter(|d| d.status == DesktopStatus::Change) {
            let end = d.planned();
            for (from, to) in &c.keys.renames {
                prop_assert!(!(end.contains_key(from) && end.contains_key(to)), "{:#?}", d);
                prop_assert!(!end.contains_key(from), "{:#?}", d);
            }
        }
    }

    #[test]
    fn plans_are_deterministic_whatever_the_input_order(c in case()) {
        let a = plan_case(&c, &c.inventory);
        let mut reversed = c.clone();
        reversed.wanted.reverse();
        let b = plan_case(&reversed, &c.inventory);
        prop_assert_eq!(&a, &b);
        let ids: Vec<&str> = a.desktops.iter().map(|d| d.desktop_id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        prop_assert_eq!(ids, sorted);
        let summed: usize = a.desktops.iter().map(|d| d.changes.len()).sum();
        prop_assert_eq!(summed, a.summary.create + a.summary.overwrite + a.summary.delete + a.summary.rename);
        prop_assert_eq!(a.desktops.len(), a.summary.changed + a.summary.unchanged + a.summary.blocked);
    }
}
