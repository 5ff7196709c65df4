//! The planner: compares each desktop's wanted state with its current tags and
//! decides the ordered changes, or why the desktop is blocked. Pure and deterministic: no I/O,
//! no clock; desktops come out sorted by id, changes as deletes, overwrites, creates by key.

use std::collections::HashMap;

use super::keys::{KeyIgnore, KeyRules};
use super::{Change, DesktopPlan, DesktopStatus, Plan, Policy, Source, Summary, Wanted};
use crate::inventory::{Desktop, Inventory};
use crate::tags::{check_value, is_system_key, CompactString, TagError, Tags};
use crate::template::{is_template, Attr, Missing, Template, TemplateError};

/// The plan document's format version.
pub const FORMAT_VERSION: u32 = 1;

/// Plans every wanted desktop against `inventory`. Desktops in `wanted` that are not in the
/// inventory are blocked as not found; desktops not in `wanted` are not planned at all.
pub fn plan(
    wanted: &[Wanted],
    inventory: &Inventory,
    policy: &Policy,
    keys: &KeyRules,
    project_id: &str,
    endpoint: &str,
) -> Plan {
    // One parse per distinct template, however many desktops render it.
    let mut templates = HashMap::new();
    let mut ignored = IgnoreMemo {
        ignore: &keys.ignore,
        seen: HashMap::new(),
    };
    let mut desktops: Vec<DesktopPlan> = wanted
        .iter()
        .map(|w| match inventory.get(&w.desktop_id) {
            Some(desktop) => plan_desktop(w, desktop, policy, keys, &mut ignored, &mut templates),
            None => not_found(&w.desktop_id, project_id),
        })
        .collect();
    desktops.sort_by(|a, b| a.desktop_id.cmp(&b.desktop_id));

    let summary = Summary::of(&desktops);
    Plan {
        format_version: FORMAT_VERSION,
        project_id: project_id.to_string(),
        endpoint: endpoint.to_string(),
        region: None,
        max_tags: policy.max_tags,
        prune: policy.prune,
        has_changes: summary.changed > 0,
        desktops,
        summary,
        warnings: Vec::new(),
        made_from: None,
    }
}

/// Remembers `KeyIgnore` answers: the same few keys recur on every desktop, and glob matching
/// costs far more than a hash lookup.
struct IgnoreMemo<'a> {
    ignore: &'a KeyIgnore,
    seen: HashMap<&'a str, bool>,
}

impl<'a> IgnoreMemo<'a> {
    fn is_ignored(&mut self, key: &'a str) -> bool {
        if let Some(&known) = self.seen.get(key) {
            return known;
        }
        let answer = self.ignore.is_ignored(key);
        self.seen.insert(key, answer);
        answer
    }
}

fn not_found(id: &str, project_id: &str) -> DesktopPlan {
    DesktopPlan {
        desktop_id: id.to_string(),
        name: String::new(),
        status: DesktopStatus::Blocked,
        reason: Some(format!(
            "desktop `{id}` not found in project `{project_id}`; check the id in the manifest"
        )),
        current: Tags::new(),
        changes: Vec::new(),
        unmanaged: Vec::new(),
        ignored: Vec::new(),
        sources: Vec::new(),
    }
}

/// A desktop desktag will not change, and why: no changes are planned for it.
fn blocked(
    desktop: &Desktop,
    reason: String,
    unmanaged: Vec<CompactString>,
    ignored: Vec<CompactString>,
) -> DesktopPlan {
    DesktopPlan {
        desktop_id: desktop.id.clone(),
        name: desktop.name.clone(),
        status: DesktopStatus::Blocked,
        reason: Some(reason),
        current: desktop.tags.clone(),
        changes: Vec::new(),
        unmanaged,
        ignored,
        sources: Vec::new(),
    }
}

fn plan_desktop<'a>(
    wanted: &'a Wanted,
    desktop: &'a Desktop,
    policy: &Policy,
    keys: &KeyRules,
    ignore: &mut IgnoreMemo<'a>,
    templates: &mut Templates<'a>,
) -> DesktopPlan {
    let current = &desktop.tags;
    // Templated values take this desktop's attributes; one that cannot blocks the desktop.
    let rendered;
    let tags: &Tags = if wanted.tags.values().any(|v| is_template(v)) {
        match render_tags(&wanted.tags, desktop, &policy.env, templates) {
            Ok(tags) => {
                rendered = tags;
                &rendered
            }
            Err(reason) => return blocked(desktop, reason.to_string(), Vec::new(), Vec::new()),
        }
    } else {
        &wanted.tags
    };
    let Diff {
        mut deletes,
        mut overwrites,
        mut creates,
        unmanaged,
        ignored,
        counted,
    } = diff(wanted, tags, current, policy, keys, ignore);
    let after = counted - deletes.len() + creates.len();
    let has_changes = !(deletes.is_empty() && overwrites.is_empty() && creates.is_empty());
    // A desktop with nothing to change is never blocked: desktag would not touch it.
    if has_changes && after > policy.max_tags {
        let reason = cap_reason(
            counted,
            deletes.len(),
            creates.len(),
            policy.max_tags,
            &unmanaged,
        );
        return blocked(desktop, reason, unmanaged, ignored);
    }

    // Exactly sized: a plan holds one of these per desktop.
    let mut changes = Vec::with_capacity(deletes.len() + overwrites.len() + creates.len());
    changes.append(&mut deletes);
    changes.append(&mut overwrites);
    changes.append(&mut creates);
    // Like the cap: a desktop desktag would change must end within the policy.
    if has_changes {
        if let Some(reason) = policy_breach(current, &changes, keys) {
            return blocked(desktop, reason, unmanaged, ignored);
        }
    }
    let sources = sources_of(&changes, wanted);
    DesktopPlan {
        desktop_id: desktop.id.clone(),
        name: desktop.name.clone(),
        status: if has_changes {
            DesktopStatus::Change
        } else {
            DesktopStatus::Unchanged
        },
        reason: None,
        current: current.clone(),
        changes,
        unmanaged,
        ignored,
        sources,
    }
}

/// How one desktop's tags now differ from the ones wanted, change by kind.
struct Diff {
    deletes: Vec<Change>,
    overwrites: Vec<Change>,
    creates: Vec<Change>,
    /// Keys no manifest manages, left alone.
    unmanaged: Vec<CompactString>,
    /// Keys the ignore globs (or the system prefix) keep out of the plan.
    ignored: Vec<CompactString>,
    /// Non-system tags now: the ones the cap counts.
    counted: usize,
}

/// Compares `current` with `tags` (`wanted`'s tags, as rendered for this desktop).
fn diff<'a>(
    wanted: &'a Wanted,
    tags: &Tags,
    current: &'a Tags,
    policy: &Policy,
    keys: &KeyRules,
    ignore: &mut IgnoreMemo<'a>,
) -> Diff {
    let mut deletes = Vec::new();
    let mut overwrites = Vec::new();
    let mut creates = Vec::new();
    let mut unmanaged = Vec::new();
    let mut ignored = Vec::new();
    let mut counted = 0usize;
    for (key, old) in current {
        if !is_system_key(key) {
            counted += 1;
        }
        if ignore.is_ignored(key) {
            ignored.push(key.clone());
        } else if let Some(value) = tags.get(key) {
            // A create-only key belongs to people once it exists.
            if value != old && !keys.create_only.is_match(key) {
                overwrites.push(Change::Overwrite {
                    key: key.clone(),
                    old: old.clone(),
                    value: value.clone(),
                });
            }
        } else if (policy.prune || wanted.absent.contains(key)) && !keys.protect.is_match(key) {
            deletes.push(Change::Delete {
                key: key.clone(),
                old: old.clone(),
            });
        } else {
            unmanaged.push(key.clone());
        }
    }
    // The same keys in the same order; the values as rendered.
    for ((key, _), value) in wanted.tags.iter().zip(tags.values()) {
        if !current.contains_key(key) && !ignore.is_ignored(key) {
            creates.push(Change::Create {
                key: key.clone(),
                value: value.clone(),
            });
        }
    }

    // The plan keeps these for every desktop: no spare capacity.
    unmanaged.shrink_to_fit();
    ignored.shrink_to_fit();
    Diff {
        deletes,
        overwrites,
        creates,
        unmanaged,
        ignored,
        counted,
    }
}

/// Why `changes` would leave the desktop breaking the policy, if they would.
fn policy_breach(current: &Tags, changes: &[Change], keys: &KeyRules) -> Option<String> {
    if keys.policy.is_empty() {
        return None;
    }
    let mut planned = current.clone();
    for change in changes {
        change.apply_to(&mut planned);
    }
    let broken = keys.policy.violations(&planned);
    if broken.is_empty() {
        return None;
    }
    let rules = broken
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "would break the policy: {rules}; change the manifests or the desktop's tags to follow it"
    ))
}

/// Parsed templates by their text (the loader already refused those that do not parse).
type Templates<'a> = HashMap<&'a str, Result<Template, TemplateError>>;

/// A templated tag that cannot be written to one desktop: the reason it is blocked.
#[derive(Debug, thiserror::Error)]
#[error(
    "tag `{}` = {value:?} cannot be rendered: {why}; nothing is written to this desktop until it can",
    key.escape_debug()
)]
struct Unrenderable {
    key: String,
    value: String,
    why: Why,
}

#[derive(Debug, thiserror::Error)]
enum Why {
    #[error("{}", .0.message)]
    Parse(TemplateError),
    #[error(transparent)]
    Missing(#[from] Missing),
    #[error("it renders to {text:?}, which is not a valid tag value ({error})")]
    Invalid { text: String, error: TagError },
}

/// `tags` with every templated value rendered for `desktop`, each checked as a tag value.
fn render_tags<'a>(
    tags: &'a Tags,
    desktop: &Desktop,
    env: &std::collections::BTreeMap<String, String>,
    templates: &mut Templates<'a>,
) -> Result<Tags, Unrenderable> {
    let attr = |a: Attr| -> Option<String> {
        match a {
            Attr::UserName => desktop.user.clone(),
            Attr::Name => Some(desktop.name.clone()).filter(|n| !n.is_empty()),
            Attr::Id => Some(desktop.id.clone()),
            Attr::EnterpriseProjectId => desktop.enterprise_project_id.clone(),
        }
    };
    let env = |name: &str| env.get(name).cloned();
    let mut out = Tags::new();
    for (key, value) in tags {
        if !is_template(value) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let unrenderable = |why: Why| Unrenderable {
            key: key.to_string(),
            value: value.to_string(),
            why,
        };
        let template = templates
            .entry(value.as_str())
            .or_insert_with(|| Template::parse(value));
        let text = match template {
            Ok(template) => template.render(&attr, &env).map_err(Why::Missing),
            Err(e) => Err(Why::Parse(e.clone())),
        }
        .map_err(unrenderable)?;
        if let Err(error) = check_value(&text) {
            return Err(unrenderable(Why::Invalid { text, error }));
        }
        out.insert(key.clone(), text.into());
    }
    Ok(out)
}

/// Where the wants behind `changes` are written, in change order (none for `--prune` deletes).
fn sources_of(changes: &[Change], wanted: &Wanted) -> Vec<Source> {
    let mut sources = Vec::new();
    for change in changes {
        let key = change.key();
        if let Ok(i) = wanted
            .sources
            .binary_search_by(|(k, ..)| k.as_str().cmp(key))
        {
            let (key, location, layer) = &wanted.sources[i];
            sources.push(Source {
                key: key.clone(),
                file: location.file.clone(),
                line: location.line,
                column: location.column,
                layer: *layer,
            });
        }
    }
    sources
}

fn cap_reason(
    now: usize,
    deleted: usize,
    created: usize,
    cap: usize,
    unmanaged: &[CompactString],
) -> String {
    let after = now - deleted + created;
    let numbers = format!(
        "would carry {after} tags, over the cap of {cap} ({now} now, {deleted} deleted, {created} created; system tags not counted)"
    );
    if unmanaged.is_empty() {
        format!("{numbers}; no unmanaged tags to remove: want fewer tags, or raise --max-tags if the account allows more")
    } else {
        let keys = unmanaged
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{numbers}; unmanaged tags: {keys}; run with --prune or list them under `absent` to make room")
    }
}
