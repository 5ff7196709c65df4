//! The planner: compares each desktop's wanted state with its current tags and
//! decides the ordered changes, or why the desktop is blocked. Pure and deterministic: no I/O,
//! no clock; desktops come out sorted by id, changes as deletes, overwrites, creates by key.

use std::collections::HashMap;

use super::keys::{KeyIgnore, KeyRules};
use super::{
    BlockedKind, Change, DesktopPlan, DesktopStatus, Plan, Policy, Source, Summary, Wanted,
};
use crate::inventory::{Desktop, Inventory};
use crate::tags::{check_value, is_system_key, CompactString, Tags};
use crate::template::{is_template, Attr, Template};

/// The plan document's format version (also of saved plans and reports).
pub const FORMAT_VERSION: u32 = 2;

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

/// The `${env.NAME}` names whose values some desktop of `plan` carries or will carry: those read
/// by the templated values wanted for a desktop that is not blocked. A saved plan records only
/// these values, never one that no tag takes (such as a value that could not be a tag).
pub fn env_used(wanted: &[Wanted], plan: &Plan) -> std::collections::BTreeSet<String> {
    let usable: std::collections::HashSet<&str> = plan
        .desktops
        .iter()
        .filter(|d| d.status != DesktopStatus::Blocked)
        .map(|d| d.desktop_id.as_str())
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for w in wanted
        .iter()
        .filter(|w| usable.contains(w.desktop_id.as_str()))
    {
        for value in w.tags.values().filter(|v| is_template(v)) {
            if let Ok(template) = Template::parse_checked(value) {
                for r in template.references() {
                    if let crate::template::Reference::Env(name) = r {
                        names.insert(name.clone());
                    }
                }
            }
        }
    }
    names
}

/// Per desktop of `plan` with changes, the attributes its templated values read, with their
/// values in `inventory`: what `saved::stale` compares, besides the tags.
pub fn attributes_used(
    wanted: &[Wanted],
    inventory: &Inventory,
    plan: &Plan,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let changed: std::collections::HashSet<&str> = plan
        .desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        .map(|d| d.desktop_id.as_str())
        .collect();
    let mut out = std::collections::BTreeMap::new();
    for w in wanted
        .iter()
        .filter(|w| changed.contains(w.desktop_id.as_str()))
    {
        let Some(desktop) = inventory.get(&w.desktop_id) else {
            continue;
        };
        let mut attributes = std::collections::BTreeMap::new();
        for value in w.tags.values().filter(|v| is_template(v)) {
            let Ok(template) = Template::parse_checked(value) else {
                continue;
            };
            for r in template.references() {
                if let crate::template::Reference::Desktop(attr) = r {
                    attributes.insert(
                        attr.as_str().to_string(),
                        attribute_of(desktop, *attr).unwrap_or_default(),
                    );
                }
            }
        }
        if !attributes.is_empty() {
            out.insert(w.desktop_id.clone(), attributes);
        }
    }
    out
}

/// The value of `attr` for `desktop` (`None`: it has none).
pub fn attribute_of(desktop: &Desktop, attr: Attr) -> Option<String> {
    match attr {
        Attr::UserName => desktop.user.clone(),
        Attr::Name => Some(desktop.name.clone()).filter(|n| !n.is_empty()),
        Attr::Id => Some(desktop.id.clone()),
        Attr::EnterpriseProjectId => desktop.enterprise_project_id.clone(),
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
        reason_kind: Some(BlockedKind::NotFound),
        current: Tags::new(),
        changes: Vec::new(),
        unmanaged: Vec::new(),
        ignored: Vec::new(),
        kept: Vec::new(),
        sources: Vec::new(),
        policy_warnings: Vec::new(),
    }
}

/// A desktop desktag will not change, and why: no changes are planned for it.
fn blocked(
    desktop: &Desktop,
    kind: BlockedKind,
    reason: String,
    unmanaged: Vec<CompactString>,
    ignored: Vec<CompactString>,
) -> DesktopPlan {
    DesktopPlan {
        desktop_id: desktop.id.clone(),
        name: desktop.name.clone(),
        status: DesktopStatus::Blocked,
        reason: Some(reason),
        reason_kind: Some(kind),
        current: desktop.tags.clone(),
        changes: Vec::new(),
        unmanaged,
        ignored,
        kept: Vec::new(),
        sources: Vec::new(),
        policy_warnings: Vec::new(),
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
    // Templated values take this desktop's attributes, rendered only where the value will be
    // written or compared: a key that is ignored, or create-only and already present, needs
    // nothing from its template. One that is needed and cannot render blocks the desktop.
    let mut render = Renderer {
        desktop,
        env: &policy.env,
        templates,
        failed: None,
    };
    let mut deletes = Vec::new();
    let mut renames = Vec::new();
    // Old keys a rename takes care of, and the new keys it creates.
    let (moved_from, moved_to) = plan_renames(
        current,
        &wanted.tags,
        &wanted.absent,
        keys,
        ignore,
        &mut deletes,
        &mut renames,
    );
    render_moves(&mut renames, wanted, &mut render);
    let Sorted {
        deletes: mut unwanted,
        overwrites,
        mut unmanaged,
        mut ignored,
        kept,
        counted,
    } = sort_current(
        current,
        wanted,
        &moved_from,
        policy,
        keys,
        ignore,
        &mut render,
    );
    deletes.append(&mut unwanted);
    let creates = plan_creates(current, wanted, &moved_to, ignore, &mut render);
    if let Some(reason) = render.failed {
        return blocked(desktop, BlockedKind::Template, reason, vec![], vec![]);
    }

    // Deletes of renamed keys join the others in key order.
    deletes.sort();
    // The plan keeps these for every desktop: no spare capacity.
    unmanaged.shrink_to_fit();
    ignored.shrink_to_fit();
    let after = counted - deletes.len() + creates.len();
    let has_changes =
        !(deletes.is_empty() && renames.is_empty() && overwrites.is_empty() && creates.is_empty());
    // A desktop with nothing to change is never blocked: desktag would not touch it.
    if has_changes && after > policy.max_tags {
        let reason = cap_reason(
            counted,
            deletes.len(),
            creates.len(),
            policy.max_tags,
            &unmanaged,
        );
        return blocked(desktop, BlockedKind::Cap, reason, unmanaged, ignored);
    }
    let changes = in_order([deletes, renames, overwrites, creates]);
    // Like the cap: a desktop desktag would change must end within the blocking rules; the
    // rules of `enforce: warn` policies are reported on every desktop, changed or not.
    let (policy_warnings, broken) = check_policy(keys, current, &changes, has_changes);
    if let Some(reason) = broken {
        return blocked(desktop, BlockedKind::Policy, reason, unmanaged, ignored);
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
        reason_kind: None,
        current: current.clone(),
        changes,
        unmanaged,
        ignored,
        kept,
        sources,
        policy_warnings,
    }
}

/// A move takes the manifests' value of its new key when they manage it, rendered like any
/// value written.
fn render_moves<'a>(renames: &mut [Change], wanted: &'a Wanted, render: &mut Renderer<'_, 'a>) {
    for change in renames {
        if let Change::Rename { key, value, .. } = change {
            if let Some(wanted_value) = wanted.tags.get(key.as_str()) {
                if let Some(rendered) = render.value(key, wanted_value) {
                    *value = rendered;
                }
            }
        }
    }
}

/// The wanted keys the desktop lacks (not ignored, not the new key of a move), rendered.
fn plan_creates<'a>(
    current: &Tags,
    wanted: &'a Wanted,
    moved_to: &std::collections::BTreeSet<CompactString>,
    ignore: &mut IgnoreMemo<'a>,
    render: &mut Renderer<'_, 'a>,
) -> Vec<Change> {
    let mut creates = Vec::new();
    for (key, value) in &wanted.tags {
        if !current.contains_key(key) && !ignore.is_ignored(key) && !moved_to.contains(key.as_str())
        {
            if let Some(value) = render.value(key, value) {
                creates.push(Change::Create {
                    key: key.clone(),
                    value,
                });
            }
        }
    }
    creates
}

/// Deletes, renames, overwrites, creates: the order changes are made in, in one vector exactly
/// sized (a plan holds one of these per desktop).
fn in_order(groups: [Vec<Change>; 4]) -> Vec<Change> {
    let mut changes = Vec::with_capacity(groups.iter().map(Vec::len).sum());
    for mut group in groups {
        changes.append(&mut group);
    }
    changes
}

/// One desktop's current tags, key by key: what the manifests change (overwrites, and deletes
/// of unwanted keys), what they leave to people, and how many tags the cap counts now.
struct Sorted {
    deletes: Vec<Change>,
    overwrites: Vec<Change>,
    unmanaged: Vec<CompactString>,
    ignored: Vec<CompactString>,
    kept: Vec<CompactString>,
    /// Non-system tags now: the ones the cap counts.
    counted: usize,
}

/// Sorts a desktop's current tags (`moved_from`: the old keys a rename takes care of).
fn sort_current<'a>(
    current: &'a Tags,
    wanted: &'a Wanted,
    moved_from: &std::collections::BTreeSet<&str>,
    policy: &Policy,
    keys: &KeyRules,
    ignore: &mut IgnoreMemo<'a>,
    render: &mut Renderer<'_, 'a>,
) -> Sorted {
    let mut sorted = Sorted {
        deletes: Vec::new(),
        overwrites: Vec::new(),
        unmanaged: Vec::new(),
        ignored: Vec::new(),
        kept: Vec::new(),
        counted: 0,
    };
    for (key, old) in current {
        if !is_system_key(key) {
            sorted.counted += 1;
        }
        if moved_from.contains(key.as_str()) {
            continue;
        }
        if ignore.is_ignored(key) {
            sorted.ignored.push(key.clone());
        } else if let Some(value) = wanted.tags.get(key) {
            // A create-only key belongs to people once it exists.
            if keys.create_only.is_match(key) {
                if value != old {
                    sorted.kept.push(key.clone());
                }
            } else if let Some(value) = render.value(key, value) {
                if value != *old {
                    sorted.overwrites.push(Change::Overwrite {
                        key: key.clone(),
                        old: old.clone(),
                        value,
                    });
                }
            }
        } else if ((policy.prune && !keys.renames.iter().any(|(_, to)| to == key))
            || wanted.absent.contains(key))
            && !keys.protect.is_match(key)
        {
            sorted.deletes.push(Change::Delete {
                key: key.clone(),
                old: old.clone(),
            });
        } else {
            sorted.unmanaged.push(key.clone());
        }
    }
    sorted
}

/// The desktop's tags after `changes`, against the policy rules: the violations of `enforce:
/// warn` rules (reported on every desktop, changed or not) and, when the desktop would change
/// and break a blocking rule, why it is blocked: like the cap, a desktop desktag would change
/// must end within the blocking rules.
fn check_policy(
    keys: &KeyRules,
    current: &Tags,
    changes: &[Change],
    has_changes: bool,
) -> (Vec<String>, Option<String>) {
    if keys.policy.is_empty() {
        return (Vec::new(), None);
    }
    let mut planned = current.clone();
    for change in changes {
        change.apply_to(&mut planned);
    }
    let (advisory, broken): (Vec<_>, Vec<_>) = keys
        .policy
        .violations(&planned)
        .into_iter()
        .partition(|v| v.warn);
    let policy_warnings = advisory.iter().map(ToString::to_string).collect();
    if has_changes && !broken.is_empty() {
        let rules = broken
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let reason = format!(
            "would break the policy: {rules}; change the manifests or the desktop's tags to follow it"
        );
        return (policy_warnings, Some(reason));
    }
    (policy_warnings, None)
}

/// The renames of one desktop (`rename:`, and under `fix: rename` its case variants of managed
/// keys): where the new key is free, the value moves (one `Rename`, with the manifests' value of
/// the new key when they manage it); where it is taken, the old key is deleted. Returns the old
/// keys handled and the new keys the moves create.
fn plan_renames<'a>(
    current: &'a Tags,
    wanted: &Tags,
    absent: &std::collections::BTreeSet<CompactString>,
    keys: &KeyRules,
    ignore: &mut IgnoreMemo<'a>,
    deletes: &mut Vec<Change>,
    renames: &mut Vec<Change>,
) -> (
    std::collections::BTreeSet<&'a str>,
    std::collections::BTreeSet<CompactString>,
) {
    let mut from_keys = std::collections::BTreeSet::new();
    let mut to_keys: std::collections::BTreeSet<CompactString> = Default::default();
    let mut pairs: Vec<(&'a CompactString, CompactString)> = Vec::new();
    for (from, to) in &keys.renames {
        if let Some(key) = current.keys().find(|k| k.as_str() == from.as_str()) {
            pairs.push((key, to.clone()));
        }
    }
    if keys.policy.fixes_case() {
        for key in current.keys() {
            let lower: CompactString = key.to_lowercase();
            if lower != *key
                && !is_system_key(key)
                && wanted.contains_key(lower.as_str())
                && !pairs.iter().any(|(f, _)| *f == key)
            {
                pairs.push((key, lower));
            }
        }
    }
    for (from, to) in pairs {
        // The memo keeps keys of the desktop; the new key is asked of the matcher itself.
        if ignore.is_ignored(from)
            || ignore.ignore.is_ignored(to.as_str())
            || keys.protect.is_match(from)
        {
            continue;
        }
        let Some(old) = current.get(from.as_str()) else {
            continue;
        };
        from_keys.insert(from.as_str());
        // A new key that is taken, or wanted absent, leaves nothing to move the value to.
        if current.contains_key(to.as_str()) || to_keys.contains(&to) || absent.contains(&to) {
            deletes.push(Change::Delete {
                key: from.clone(),
                old: old.clone(),
            });
        } else {
            let value = wanted.get(to.as_str()).unwrap_or(old).clone();
            renames.push(Change::Rename {
                from: from.clone(),
                old: old.clone(),
                key: to.clone(),
                value,
            });
            to_keys.insert(to);
        }
    }
    renames.sort();
    (from_keys, to_keys)
}

/// Parsed templates by their text (the loader already refused those that do not parse).
type Templates<'a> = HashMap<&'a str, Result<Template, String>>;

/// Renders one desktop's templated values on demand; the first value that cannot render is the
/// reason the desktop is blocked.
struct Renderer<'r, 'a> {
    desktop: &'r Desktop,
    env: &'r std::collections::BTreeMap<String, String>,
    templates: &'r mut Templates<'a>,
    failed: Option<String>,
}

impl<'a> Renderer<'_, 'a> {
    /// `value` as written for this desktop, checked as a tag value; `None` (and the reason
    /// kept) when it cannot be.
    fn value(&mut self, key: &str, value: &'a CompactString) -> Option<CompactString> {
        if !is_template(value) {
            return Some(value.clone());
        }
        if self.failed.is_some() {
            return None;
        }
        match self.render(value) {
            Ok(text) => Some(text.into()),
            Err(what) => {
                self.failed = Some(format!(
                    "tag `{}` = {:?} cannot be rendered: {what}; nothing is written to this desktop until it can",
                    key.escape_debug(),
                    value.as_str()
                ));
                None
            }
        }
    }

    fn render(&mut self, value: &'a str) -> Result<String, String> {
        let desktop = self.desktop;
        let attr = |a: Attr| attribute_of(desktop, a);
        let env = |name: &str| self.env.get(name).cloned();
        let template = self
            .templates
            .entry(value)
            .or_insert_with(|| Template::parse_checked(value).map_err(|e| e.message));
        let text = match template {
            Ok(template) => template.render(&attr, &env).map_err(|e| e.to_string())?,
            Err(e) => return Err(e.clone()),
        };
        check_value(&text).map_err(|e| {
            // A value read from the environment is never shown: it may be a secret a job holds
            // under an allowed name, and reasons reach pull-request comments and CI logs.
            let reads_env = template.as_ref().is_ok_and(|t| {
                t.references()
                    .any(|r| matches!(r, crate::template::Reference::Env(_)))
            });
            if reads_env {
                format!(
                    "it renders to a value of {} characters (read in part from the environment, so not shown), which is not a valid tag value ({e})",
                    text.chars().count()
                )
            } else {
                format!("it renders to {text:?}, which is not a valid tag value ({e})")
            }
        })?;
        Ok(text)
    }
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
