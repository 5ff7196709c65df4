//! The saved-plan file (`plan --out`, `apply --plan`): the plan document plus a kind
//! marker and the writing version, and every check before a saved plan drives writes: that it is
//! one the planner could have made (`SavedPlanError`), that its desktops still carry the tags it
//! recorded (`stale`), and that its manifests still produce it (`check_made_from`). Pure:
//! reading and writing the file, and the file system, are the caller's.

use serde::{Deserialize, Serialize};

use super::{Change, DesktopStatus, Plan, PlanSet, Summary};
use crate::inventory::Inventory;
use crate::tags::{CompactString, Tags};

/// Marks a JSON file as a desktag plan, so a report or a random JSON file is refused clearly.
pub(crate) const KIND: &str = "desktag-plan";

/// The saved form of a plan: a kind marker and the writing version, then the plan's own fields.
/// Written with `P = &Plan`, read back with `P = Plan`.
#[derive(Debug, Serialize, Deserialize)]
struct SavedPlan<P> {
    kind: std::borrow::Cow<'static, str>,
    desktag_version: std::borrow::Cow<'static, str>,
    #[serde(flatten)]
    plan: P,
}

/// Writes the plans of a run for `--out` (pretty JSON, trailing newline), streamed: a plan of
/// 100,000 desktops is not copied or held as text. One plan is written as it is, the plans of
/// several projects as one file holding them all (a [`PlanSet`]), which `apply --plan` applies
/// together.
pub fn write_all_json(w: &mut dyn std::io::Write, plans: &[Plan]) -> std::io::Result<()> {
    match plans {
        [one] => write_saved(w, one),
        _ => write_saved(w, PlanSet::of(plans)),
    }
}

/// Writes one plan (tests).
#[cfg(test)]
pub(crate) fn write_json(w: &mut dyn std::io::Write, plan: &Plan) -> std::io::Result<()> {
    write_saved(w, plan)
}

/// Reads a saved plan of one project; the error as text (tests).
#[cfg(test)]
pub(crate) fn from_json(text: &str) -> Result<Plan, String> {
    let mut plans = all_from_json(text).map_err(|e| e.to_string())?;
    match (plans.pop(), plans.is_empty()) {
        (Some(plan), true) => Ok(plan),
        _ => Err("it holds the plans of several projects".to_string()),
    }
}

fn write_saved<P: Serialize>(w: &mut dyn std::io::Write, plan: P) -> std::io::Result<()> {
    let saved = SavedPlan {
        kind: KIND.into(),
        desktag_version: env!("CARGO_PKG_VERSION").into(),
        plan,
    };
    serde_json::to_writer_pretty(&mut *w, &saved)?;
    w.write_all(b"\n")
}

/// Why a saved plan file is not one desktag will apply; the message says what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("its kind is `{kind}`, not `{}`", KIND)]
    WrongKind { kind: String },
    #[error(
        "it has no `kind: {}` marker; save plans with `desktag plan --out FILE`",
        KIND
    )]
    NoKind,
    #[error("format_version {0} is not supported by this desktag (it reads 1)")]
    UnsupportedVersion(u64),
    #[error("it has no format_version")]
    NoVersion,
    #[error("malformed plan: {0}")]
    Malformed(serde_json::Error),
    /// One project of a plan of several is wrong.
    #[error("project `{project}`: {problem}")]
    InProject {
        project: String,
        problem: Box<SavedPlanError>,
    },
    #[error("project `{0}` is listed twice")]
    ProjectTwice(String),
    #[error("it lists no projects")]
    NoProjects,
    #[error("its summary does not match its projects' plans; the file was edited")]
    SetSummary,
    /// A desktop's entry is not one the planner could have made.
    #[error("desktop `{desktop_id}`: {problem}")]
    Desktop { desktop_id: String, problem: String },
    #[error("its summary does not match its changes; the file was edited or corrupted")]
    Summary,
    /// Re-planning from the recorded manifests failed.
    #[error("its manifests no longer resolve: {0}")]
    NoLongerResolves(crate::diagnostic::Diagnostic),
}

/// Reads a saved plan: the plans of one or several projects, each checked. The error says what
/// is wrong with the file (and, for a plan of several projects, which project).
pub fn all_from_json(text: &str) -> Result<Vec<Plan>, SavedPlanError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(SavedPlanError::NotJson)?;
    match value.get("kind").and_then(|k| k.as_str()) {
        Some(KIND) => {}
        Some(other) => {
            return Err(SavedPlanError::WrongKind {
                kind: other.to_string(),
            })
        }
        None => return Err(SavedPlanError::NoKind),
    }
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(1) => {}
        Some(v) => return Err(SavedPlanError::UnsupportedVersion(v)),
        None => return Err(SavedPlanError::NoVersion),
    }
    if value.get("projects").is_some() {
        let saved: SavedPlan<PlanSet<Vec<Plan>>> =
            serde_json::from_value(value).map_err(SavedPlanError::Malformed)?;
        let set = saved.plan;
        let mut seen = std::collections::BTreeSet::new();
        for plan in &set.projects {
            check(plan).map_err(|problem| SavedPlanError::InProject {
                project: plan.project_id.clone(),
                problem: Box::new(problem),
            })?;
            if !seen.insert(plan.project_id.as_str()) {
                return Err(SavedPlanError::ProjectTwice(plan.project_id.clone()));
            }
        }
        if set.projects.is_empty() {
            return Err(SavedPlanError::NoProjects);
        }
        let has_changes = set.projects.iter().any(|p| p.has_changes);
        if set.summary != Summary::total(&set.projects) || set.has_changes != has_changes {
            return Err(SavedPlanError::SetSummary);
        }
        return Ok(set.projects);
    }
    let saved: SavedPlan<Plan> =
        serde_json::from_value(value).map_err(SavedPlanError::Malformed)?;
    check(&saved.plan)?;
    Ok(vec![saved.plan])
}

/// A saved plan is input like any other: before it drives writes, check that it is one the
/// planner could have made — valid keys and values, changes that fit the tags it recorded, the
/// cap after every change, and a summary that matches — so an edited or corrupted file is refused
/// instead of applied.
fn check(plan: &Plan) -> Result<(), SavedPlanError> {
    let mut seen = std::collections::BTreeSet::new();
    for d in &plan.desktops {
        let at = |problem: String| SavedPlanError::Desktop {
            desktop_id: d.desktop_id.clone(),
            problem,
        };
        if !seen.insert(d.desktop_id.as_str()) {
            return Err(at("listed twice".to_string()));
        }
        if (d.status == DesktopStatus::Change) == d.changes.is_empty() {
            return Err(at(format!(
                "status `{:?}` does not fit its {} change(s)",
                d.status,
                d.changes.len()
            )));
        }
        let mut tags = d.current.clone();
        let mut last_rank = 0;
        for change in &d.changes {
            let key = change.key();
            crate::tags::check_key(key).map_err(|e| at(format!("key `{key}`: {e}")))?;
            let rank = match change {
                Change::Delete { old, .. } => {
                    if tags.get(key).map(|v| v.as_str()) != Some(old.as_str()) {
                        return Err(at(format!(
                            "delete of `{key}` does not match the recorded tags"
                        )));
                    }
                    1
                }
                Change::Overwrite { old, value, .. } => {
                    crate::tags::check_value(value)
                        .map_err(|e| at(format!("value of `{key}`: {e}")))?;
                    if tags.get(key).map(|v| v.as_str()) != Some(old.as_str()) {
                        return Err(at(format!(
                            "overwrite of `{key}` does not match the recorded tags"
                        )));
                    }
                    2
                }
                Change::Create { value, .. } => {
                    crate::tags::check_value(value)
                        .map_err(|e| at(format!("value of `{key}`: {e}")))?;
                    if tags.contains_key(key) {
                        return Err(at(format!(
                            "create of `{key}`, which the desktop already has"
                        )));
                    }
                    3
                }
            };
            if rank < last_rank {
                return Err(at(
                    "changes are not in the order deletes, overwrites, creates".to_string(),
                ));
            }
            last_rank = rank;
            change.apply_to(&mut tags);
            let counted = tags
                .keys()
                .filter(|k| !crate::tags::is_system_key(k))
                .count();
            if counted > plan.max_tags {
                return Err(at(format!(
                    "would carry {counted} tags after `{}` of `{key}`, over the cap of {}",
                    change.action(),
                    plan.max_tags
                )));
            }
        }
    }
    let summary = Summary::of(&plan.desktops);
    if summary != plan.summary || plan.has_changes != (summary.changed > 0) {
        return Err(SavedPlanError::Summary);
    }
    Ok(())
}

/// A desktop whose tags changed since the plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    pub desktop_id: String,
    pub name: String,
    /// What differs, e.g. "`env` is \"dev\" (wanted \"prod\")", or "not found".
    pub difference: String,
}

/// The ids of the desktops `apply --plan` must re-read: those with changes.
pub fn desktops_to_check(plan: &Plan) -> Vec<String> {
    plan.desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        .map(|d| d.desktop_id.clone())
        .collect()
}

/// Every desktop with planned changes whose current tags differ from those the plan recorded.
/// Desktops without changes cannot be harmed by applying the plan and are not checked.
pub fn stale(plan: &Plan, now: &Inventory) -> Vec<Stale> {
    plan.desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        .filter_map(|d| {
            let difference = match now.get(&d.desktop_id) {
                None => "the desktop no longer exists".to_string(),
                Some(desktop) if desktop.tags != d.current => {
                    describe_difference(&d.current, &desktop.tags)
                }
                Some(_) => return None,
            };
            Some(Stale {
                desktop_id: d.desktop_id.clone(),
                name: d.name.clone(),
                difference,
            })
        })
        .collect()
}

/// What checking a saved plan against the manifests it was made from found.
#[derive(Debug, PartialEq, Eq)]
pub enum MadeFrom {
    /// Its manifests are unchanged and give exactly its changes.
    Verified,
    /// The plan records no manifests (made by desktag 0.1): it cannot be checked.
    NotRecorded,
    /// Manifests it was made from are not here (apply runs elsewhere): it cannot be checked.
    Missing { count: usize, first: String },
    /// This manifest changed since the plan was made.
    Changed { manifest: String },
    /// This manifest could not be read, and why.
    Unreadable { manifest: String, why: String },
    /// Desktops whose changes in the plan differ from what its manifests give: the file was
    /// edited by hand, or made from other manifests.
    NotProduced(Vec<Stale>),
}

/// A saved plan must be what its manifests produce: each manifest it recorded, when present,
/// must be unchanged (same SHA-256), and re-planning from them against `now` (the desktops' tags
/// now, already checked not stale) must give exactly the plan's changes. `exists` and `load`
/// are the file system (`Path::exists` and `manifest::load`), passed in so this stays pure.
pub fn check_made_from(
    plan: &Plan,
    now: &Inventory,
    exists: impl Fn(&str) -> bool,
    load: impl FnOnce(
        &[std::path::PathBuf],
        &crate::manifest::LoadOptions,
    ) -> crate::manifest::LoadOutcome,
) -> Result<MadeFrom, SavedPlanError> {
    let Some(made_from) = &plan.made_from else {
        return Ok(MadeFrom::NotRecorded);
    };
    let missing: Vec<&str> = made_from
        .manifests
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| !exists(p))
        .collect();
    if let Some(first) = missing.first() {
        return Ok(MadeFrom::Missing {
            count: missing.len(),
            first: first.to_string(),
        });
    }
    // One read of each file: the loader hashes what it reads, so the digests come with it.
    let paths: Vec<std::path::PathBuf> = made_from
        .manifests
        .iter()
        .map(|f| f.path.clone().into())
        .collect();
    let loaded = load(
        &paths,
        &crate::manifest::LoadOptions {
            max_tags: plan.max_tags,
        },
    );
    for file in &made_from.manifests {
        match loaded.files.iter().find(|f| f.path == file.path) {
            Some(now) if now.sha256 == file.sha256 => {}
            Some(_) => {
                return Ok(MadeFrom::Changed {
                    manifest: file.path.clone(),
                })
            }
            // Not read: the loader says why (permissions, a directory in its place, …).
            None => {
                let why = loaded
                    .diagnostics
                    .iter()
                    .find(|d| d.is_error())
                    .map_or_else(|| "it could not be read".to_string(), ToString::to_string);
                return Ok(MadeFrom::Unreadable {
                    manifest: file.path.clone(),
                    why,
                });
            }
        }
    }
    let mut manifest = loaded.manifest;
    manifest.retain_project(Some(&plan.project_id));
    let differs = not_produced(plan, made_from, &manifest, now)?;
    Ok(if differs.is_empty() {
        MadeFrom::Verified
    } else {
        MadeFrom::NotProduced(differs)
    })
}

/// Re-plans the desktops a saved plan changes, from the manifests it was made from (`manifest`,
/// narrowed to the plan's project) and the flags it recorded, against `now` (their tags now,
/// already checked not stale). Every desktop whose planned changes differ is returned: the file
/// was edited by hand, or the manifests are not the ones it was made from. An error when the
/// manifests no longer resolve.
fn not_produced(
    plan: &Plan,
    made_from: &super::Provenance,
    manifest: &crate::manifest::Manifest,
    now: &Inventory,
) -> Result<Vec<Stale>, SavedPlanError> {
    let policy = super::Policy {
        max_tags: plan.max_tags,
        prune: plan.prune,
        ignore_keys: made_from.ignore_keys.clone(),
        targets: made_from.targets.iter().cloned().collect(),
        strict: false,
        env: made_from.env.clone(),
    };
    let resolution = super::resolve(manifest, now, &policy);
    if let Some(error) = resolution.diagnostics.iter().find(|d| d.is_error()) {
        return Err(SavedPlanError::NoLongerResolves(error.clone()));
    }
    let again = super::plan(
        &resolution.wanted,
        now,
        &policy,
        &resolution.keys,
        &plan.project_id,
        &plan.endpoint,
    );
    let produced: std::collections::HashMap<&str, &super::DesktopPlan> = again
        .desktops
        .iter()
        .map(|d| (d.desktop_id.as_str(), d))
        .collect();
    let listed = |changes: &[Change]| -> String {
        if changes.is_empty() {
            return "no changes".to_string();
        }
        changes
            .iter()
            .map(|c| format!("{} `{}`", c.action(), c.key().escape_debug()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(plan
        .desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        .filter_map(|d| {
            let theirs: &[Change] = match produced.get(d.desktop_id.as_str()) {
                Some(p) if p.status == DesktopStatus::Change => &p.changes,
                _ => &[],
            };
            (theirs != d.changes.as_slice()).then(|| Stale {
                desktop_id: d.desktop_id.clone(),
                name: d.name.clone(),
                difference: format!(
                    "the plan file has {}; its manifests give {}",
                    listed(&d.changes),
                    listed(theirs)
                ),
            })
        })
        .collect())
}

/// What differs between expected and found tags: `` `env`: expected "prod", found "dev" ``.
/// Used for stale saved plans and by apply's verification; control characters are escaped.
pub fn describe_difference(expected: &Tags, found: &Tags) -> String {
    let keys: std::collections::BTreeSet<&str> = expected
        .keys()
        .chain(found.keys())
        .map(|k| k.as_str())
        .collect();
    let show =
        |v: Option<&CompactString>| v.map_or_else(|| "absent".to_string(), |v| format!("{v:?}"));
    keys.into_iter()
        .filter(|k| expected.get(*k) != found.get(*k))
        .map(|k| {
            format!(
                "`{}`: expected {}, found {}",
                k.escape_debug(),
                show(expected.get(k)),
                show(found.get(k))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`write_json`] into a string.
    fn to_json(plan: &Plan) -> String {
        let mut out = Vec::new();
        write_json(&mut out, plan).expect("a plan always serialises");
        String::from_utf8(out).expect("JSON is UTF-8")
    }
    use crate::inventory::Desktop;
    use crate::plan::{Change, DesktopPlan, Summary};

    fn sample() -> Plan {
        Plan {
            format_version: 1,
            project_id: "p".into(),
            endpoint: "https://e".into(),
            region: None,
            max_tags: 10,
            prune: false,
            has_changes: true,
            desktops: vec![DesktopPlan {
                desktop_id: "d1".into(),
                name: "FIN-1".into(),
                status: DesktopStatus::Change,
                reason: None,
                current: crate::tags::Tags::from([("env".into(), "dev".into())]),
                changes: vec![Change::Overwrite {
                    key: "env".into(),
                    old: "dev".into(),
                    value: "prod".into(),
                }],
                unmanaged: vec![],
                ignored: vec![],
                sources: vec![],
            }],
            summary: Summary {
                overwrite: 1,
                changed: 1,
                ..Summary::default()
            },
            warnings: vec![],
            made_from: None,
        }
    }

    fn desktop(tags: &[(&str, &str)]) -> Desktop {
        Desktop::new("d1", "FIN-1", tags)
    }

    #[test]
    fn saved_plan_round_trips() {
        let plan = sample();
        assert_eq!(from_json(&to_json(&plan)).unwrap(), plan);
    }

    #[test]
    fn refuses_files_that_are_not_plans() {
        assert!(from_json("{").unwrap_err().starts_with("not JSON"));
        assert!(from_json("{\"format_version\":1}")
            .unwrap_err()
            .contains("no `kind"));
        let report = to_json(&sample()).replace(KIND, "desktag-report");
        assert!(from_json(&report).unwrap_err().contains("desktag-report"));
        let future = to_json(&sample()).replace("\"format_version\": 1", "\"format_version\": 2");
        assert!(from_json(&future).unwrap_err().contains("format_version 2"));
    }

    #[test]
    fn refuses_plans_the_planner_could_not_have_made() {
        let edit = |f: &dyn Fn(&mut Plan)| {
            let mut plan = sample();
            f(&mut plan);
            from_json(&to_json(&plan)).unwrap_err()
        };
        let bad_key = edit(&|p| {
            p.desktops[0].changes.push(Change::Create {
                key: "bad/key".into(),
                value: "x".into(),
            });
            p.summary.create += 1;
        });
        assert!(bad_key.contains("`bad/key`"), "{bad_key}");
        let wrong_old = edit(&|p| {
            p.desktops[0].changes[0] = Change::Overwrite {
                key: "env".into(),
                old: "qa".into(),
                value: "prod".into(),
            };
        });
        assert!(
            wrong_old.contains("does not match the recorded tags"),
            "{wrong_old}"
        );
        let summary = edit(&|p| p.has_changes = false);
        assert!(summary.contains("summary does not match"), "{summary}");
        let twice = edit(&|p| {
            let again = p.desktops[0].clone();
            p.desktops.push(again);
            p.summary = Summary::of(&p.desktops);
        });
        assert!(twice.contains("listed twice"), "{twice}");
        let over_cap = edit(&|p| p.max_tags = 0);
        assert!(over_cap.contains("over the cap of 0"), "{over_cap}");
        let status = edit(&|p| {
            p.desktops[0].status = DesktopStatus::Unchanged;
            p.summary = Summary::of(&p.desktops);
            p.has_changes = false;
        });
        assert!(status.contains("does not fit"), "{status}");
    }

    /// [`write_all_json`] into a string.
    fn all_to_json(plans: &[Plan]) -> String {
        let mut out = Vec::new();
        write_all_json(&mut out, plans).expect("plans always serialise");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    fn two_projects() -> Vec<Plan> {
        let mut second = sample();
        second.project_id = "q".into();
        second.region = Some("cn-north-4".into());
        vec![sample(), second]
    }

    #[test]
    fn a_saved_plan_of_several_projects_round_trips_and_one_project_stays_a_plain_plan() {
        let plans = two_projects();
        let text = all_to_json(&plans);
        assert_eq!(all_from_json(&text).unwrap(), plans);
        assert!(from_json(&text).unwrap_err().contains("several projects"));
        let one = all_to_json(&plans[..1]);
        assert_eq!(one, to_json(&plans[0]));
        assert_eq!(all_from_json(&one).unwrap(), plans[..1].to_vec());
    }

    #[test]
    fn a_saved_plan_of_several_projects_is_checked_like_one() {
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut value: serde_json::Value =
                serde_json::from_str(&all_to_json(&two_projects())).unwrap();
            f(&mut value);
            all_from_json(&value.to_string()).unwrap_err().to_string()
        };
        let summary = edit(&|v| v["summary"]["overwrite"] = 5.into());
        assert!(summary.contains("summary does not match"), "{summary}");
        let inner = edit(&|v| v["projects"][1]["max_tags"] = 0.into());
        assert!(
            inner.starts_with("project `q`: ") && inner.contains("over the cap"),
            "{inner}"
        );
        let twice = edit(&|v| v["projects"][1]["project_id"] = "p".into());
        assert!(twice.contains("project `p` is listed twice"), "{twice}");
        let none = edit(&|v| {
            v["projects"] = serde_json::json!([]);
            v["summary"] = serde_json::to_value(Summary::default()).unwrap();
            v["has_changes"] = false.into();
        });
        assert!(none.contains("no projects"), "{none}");
    }

    #[test]
    fn unchanged_desktops_are_not_stale() {
        let inv = Inventory::new([desktop(&[("env", "dev")])]);
        assert!(stale(&sample(), &inv).is_empty());
    }

    #[test]
    fn changed_or_missing_desktops_are_stale() {
        let inv = Inventory::new([desktop(&[("env", "test")])]);
        let found = stale(&sample(), &inv);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].difference.contains("\"test\""),
            "{}",
            found[0].difference
        );
        let gone = stale(&sample(), &Inventory::default());
        assert_eq!(gone[0].difference, "the desktop no longer exists");
    }
}
