//! The planner: compares each desktop's wanted state with its current tags and
//! decides the ordered changes, or why the desktop is blocked. Pure and deterministic: no I/O,
//! no clock; desktops come out sorted by id, changes as deletes, overwrites, creates by key.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::keys::{KeyIgnore, KeyRules};
use super::shared::Shared;
use super::{
    Attributes, BlockedKind, Change, DesktopPlan, DesktopStatus, Plan, Policy, Source, Summary,
    Wanted,
};
use crate::inventory::{Desktop, Draining, Inventory};
use crate::tags::{check_value, is_system_key, CompactString, Tags};
use crate::template::{is_template, Attr, Reference, Template};

/// The plan document's format version (also of saved plans and reports).
pub const FORMAT_VERSION: u32 = 2;

/// Plans every wanted desktop against `inventory`. Desktops in `wanted` that are not in the
/// inventory are blocked as not found; desktops not in `wanted` are not planned at all. A copy
/// of its inputs goes to [`plan_all`], which a run uses to plan without one.
pub fn plan(
    wanted: &[Wanted],
    inventory: &Inventory,
    policy: &Policy,
    keys: &KeyRules,
    project_id: &str,
    endpoint: &str,
) -> Plan {
    let place = Place {
        project_id,
        endpoint,
    };
    plan_all(wanted.to_vec(), inventory.clone(), policy, keys, place).0
}

/// Which project, at which endpoint, a plan is for.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub project_id: &'a str,
    pub endpoint: &'a str,
}

/// What the templated values of a plan read, for its provenance (`made_from`): the
/// `${env.NAME}` names that some desktop which is not blocked takes (a saved plan records only
/// these values, never one that no tag takes, such as a value that could not be a tag), and per
/// desktop with changes the desktop attributes they read, with their values then (what
/// `saved::stale` compares, besides the tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateUse {
    pub env: BTreeSet<String>,
    pub attributes: BTreeMap<String, Attributes>,
}

impl TemplateUse {
    /// Notes what the templated values `wanted` of `desktop`, planned as `status`, read.
    fn record(&mut self, wanted: &Wanted, desktop: &Desktop, status: DesktopStatus) {
        if status == DesktopStatus::Blocked {
            return;
        }
        let mut attributes = Attributes::new();
        for value in wanted.tags.values().filter(|v| is_template(v)) {
            let Ok(template) = Template::parse_checked(value) else {
                continue;
            };
            for r in template.references() {
                match r {
                    Reference::Env(name) => {
                        self.env.insert(name.clone());
                    }
                    Reference::Desktop(attr) if status == DesktopStatus::Change => {
                        attributes.insert(
                            attr.as_str().into(),
                            attribute_of(desktop, *attr).unwrap_or_default().into(),
                        );
                    }
                    Reference::Desktop(_) => {}
                }
            }
        }
        if !attributes.is_empty() {
            self.attributes.insert(desktop.id.clone(), attributes);
        }
    }
}

/// Plans every wanted desktop against `inventory`, as [`plan`] does, taking both: each
/// desktop's id, name and tags move into its plan, each wanted state and each desktop nobody
/// wants is freed once passed, so a run over 100,000 desktops never holds two copies of them.
/// Also returns what the templated values read.
pub fn plan_all(
    mut wanted: Vec<Wanted>,
    inventory: Inventory,
    policy: &Policy,
    keys: &KeyRules,
    place: Place<'_>,
) -> (Plan, TemplateUse) {
    // Resolution gives them sorted; stable, so wants of one id keep their order.
    if !wanted.is_sorted_by(|a, b| a.desktop_id <= b.desktop_id) {
        wanted.sort_by(|a, b| a.desktop_id.cmp(&b.desktop_id));
    }
    // One parse per distinct template, however many desktops render it.
    let mut templates = HashMap::new();
    let mut ignored = IgnoreMemo {
        ignore: &keys.ignore,
        seen: HashMap::new(),
    };
    let mut uses = TemplateUse::default();
    let mut shared: Shared<[Source]> = Shared::default();
    let mut shared_changes: Shared<[Change]> = Shared::default();
    let mut desktops = Vec::with_capacity(wanted.len());
    let mut inventory = inventory.into_iter();
    // The desktop of the want at hand: desktops come in id order, as the wants do.
    let mut slot: Option<Desktop> = None;
    let mut wanted = Draining::new(wanted).peekable();
    while let Some(w) = wanted.next() {
        if slot.as_ref().is_none_or(|d| d.id < w.desktop_id) {
            slot = inventory.by_ref().find(|d| d.id >= w.desktop_id);
        }
        let desktop = match &slot {
            Some(d) if d.id == w.desktop_id => d,
            _ => {
                desktops.push(not_found(&w.desktop_id, place.project_id));
                continue;
            }
        };
        let mut planned = plan_desktop(&w, desktop, policy, keys, &mut ignored, &mut templates);
        planned.changes = shared_changes.share(std::mem::take(&mut planned.changes));
        planned.sources = shared.share(std::mem::take(&mut planned.sources));
        uses.record(&w, desktop, planned.status);
        // Another want of the same desktop (only callers other than resolution make them)
        // needs it again.
        let again = wanted
            .peek()
            .is_some_and(|next| next.desktop_id == w.desktop_id);
        let desktop = if again {
            desktop.clone()
        } else {
            slot.take().expect("the desktop just planned")
        };
        planned.desktop_id = desktop.id;
        planned.name = desktop.name.into();
        planned.current = desktop.tags;
        desktops.push(planned);
    }
    let summary = Summary::of(&desktops);
    let plan = Plan {
        project_id: place.project_id.to_string(),
        endpoint: place.endpoint.to_string(),
        region: None,
        max_tags: policy.max_tags,
        prune: policy.prune,
        has_changes: summary.changed > 0,
        desktops,
        summary,
        warnings: Vec::new(),
        made_from: None,
    };
    (plan, uses)
}

/// The value of `attr` for `desktop` (`None`: it has none).
pub fn attribute_of(desktop: &Desktop, attr: Attr) -> Option<String> {
    match attr {
        Attr::UserName => desktop.user.as_ref().map(ToString::to_string),
        Attr::Name => Some(desktop.name.to_string()).filter(|n| !n.is_empty()),
        Attr::Id => Some(desktop.id.clone()),
        Attr::EnterpriseProjectId => desktop.enterprise_project_id.clone(),
    }
}

/// Remembers `KeyIgnore` answers: the same few keys recur on every desktop, and glob matching
/// costs far more than a hash lookup.
struct IgnoreMemo<'k> {
    ignore: &'k KeyIgnore,
    seen: HashMap<CompactString, bool>,
}

impl IgnoreMemo<'_> {
    fn is_ignored(&mut self, key: &str) -> bool {
        if let Some(&known) = self.seen.get(key) {
            return known;
        }
        let answer = self.ignore.is_ignored(key);
        self.seen.insert(key.into(), answer);
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
        changes: Default::default(),
        unmanaged: Vec::new(),
        ignored: Vec::new(),
        kept: Vec::new(),
        sources: Default::default(),
        policy_warnings: Vec::new(),
    }
}

/// A desktop desktag will not change, and why: no changes are planned for it.
fn blocked(
    kind: BlockedKind,
    reason: String,
    unmanaged: Vec<CompactString>,
    ignored: Vec<CompactString>,
) -> DesktopPlan {
    DesktopPlan {
        desktop_id: String::new(),
        name: String::new(),
        status: DesktopStatus::Blocked,
        reason: Some(reason),
        reason_kind: Some(kind),
        current: Tags::new(),
        changes: Default::default(),
        unmanaged,
        ignored,
        kept: Vec::new(),
        sources: Default::default(),
        policy_warnings: Vec::new(),
    }
}

/// One desktop's plan, without its id, name and current tags: [`plan_all`] moves those in.
fn plan_desktop<'a>(
    wanted: &'a Wanted,
    desktop: &'a Desktop,
    policy: &Policy,
    keys: &KeyRules,
    ignore: &mut IgnoreMemo<'_>,
    templates: &mut Templates,
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
        return blocked(BlockedKind::Template, reason, vec![], vec![]);
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
        return blocked(BlockedKind::Cap, reason, unmanaged, ignored);
    }
    let changes = in_order([deletes, renames, overwrites, creates]);
    // Like the cap: a desktop desktag would change must end within the blocking rules; the
    // rules of `enforce: warn` policies are reported on every desktop, changed or not.
    let (policy_warnings, broken) = check_policy(keys, current, &changes, has_changes);
    if let Some(reason) = broken {
        return blocked(BlockedKind::Policy, reason, unmanaged, ignored);
    }
    let sources = sources_of(&changes, wanted).into();
    DesktopPlan {
        desktop_id: String::new(),
        name: String::new(),
        status: if has_changes {
            DesktopStatus::Change
        } else {
            DesktopStatus::Unchanged
        },
        reason: None,
        reason_kind: None,
        current: Tags::new(),
        changes: changes.into(),
        unmanaged,
        ignored,
        kept,
        sources,
        policy_warnings,
    }
}

/// A move takes the manifests' value of its new key when they manage it, rendered like any
/// value written.
fn render_moves(renames: &mut [Change], wanted: &Wanted, render: &mut Renderer<'_>) {
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
fn plan_creates(
    current: &Tags,
    wanted: &Wanted,
    moved_to: &std::collections::BTreeSet<CompactString>,
    ignore: &mut IgnoreMemo<'_>,
    render: &mut Renderer<'_>,
) -> Vec<Change> {
    let mut creates = Vec::new();
    for (key, value) in wanted.tags.iter() {
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
    ignore: &mut IgnoreMemo<'_>,
    render: &mut Renderer<'_>,
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
    ignore: &mut IgnoreMemo<'_>,
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
                from: Box::new(from.clone()),
                old: Box::new(old.clone()),
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
type Templates = HashMap<CompactString, Result<Template, String>>;

/// Renders one desktop's templated values on demand; the first value that cannot render is the
/// reason the desktop is blocked.
struct Renderer<'r> {
    desktop: &'r Desktop,
    env: &'r std::collections::BTreeMap<String, String>,
    templates: &'r mut Templates,
    failed: Option<String>,
}

impl Renderer<'_> {
    /// `value` as written for this desktop, checked as a tag value; `None` (and the reason
    /// kept) when it cannot be.
    fn value(&mut self, key: &str, value: &CompactString) -> Option<CompactString> {
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

    fn render(&mut self, value: &str) -> Result<String, String> {
        let desktop = self.desktop;
        let attr = |a: Attr| attribute_of(desktop, a);
        let env = |name: &str| self.env.get(name).cloned();
        if !self.templates.contains_key(value) {
            let parsed = Template::parse_checked(value).map_err(|e| e.message);
            self.templates.insert(value.into(), parsed);
        }
        let template = &self.templates[value];
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
        if let Some((location, layer)) = wanted.source(key) {
            sources.push(Source {
                key: key.into(),
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
