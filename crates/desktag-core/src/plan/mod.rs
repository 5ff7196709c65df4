//! The pure planner: resolve manifest selectors against the inventory into each
//! desktop's wanted state, then compare wanted with current into a `Plan` of ordered changes or a
//! blocked reason. No I/O, no clock, no randomness: the same inputs always give the same plan.

mod keys;
mod limits;
mod planner;
pub mod policy;
mod resolve;
pub mod saved;
mod shared;
pub use shared::Shared;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use keys::{InvalidGlob, KeyGlobs, KeyIgnore, KeyRules};
pub use limits::{check_limits, Limits};
pub use planner::{attribute_of, plan, plan_all, Place, TemplateUse, FORMAT_VERSION};
pub use resolve::{check_offline, resolve, Resolution};

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::tags::{CompactString, Tags, DEFAULT_MAX_TAGS};

/// What the user asked for beyond the manifests (`--prune`, `--ignore-key`, `--max-tags`,
/// `--target`, `--strict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub max_tags: usize,
    pub prune: bool,
    /// Key globs from `--ignore-key`; the manifests' `ignore_keys` are added to these.
    pub ignore_keys: Vec<String>,
    /// `--target`: when non-empty, only these desktop ids are planned.
    pub targets: BTreeSet<String>,
    /// Unmatched selectors are errors instead of warnings.
    pub strict: bool,
    /// The values of the `${env.NAME}` references the manifests make, read when the run started
    /// (a name that is not set is absent).
    pub env: std::collections::BTreeMap<String, String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_tags: DEFAULT_MAX_TAGS,
            prune: false,
            ignore_keys: Vec::new(),
            targets: BTreeSet::new(),
            strict: false,
            env: Default::default(),
        }
    }
}

/// One desktop's wanted state after selector resolution and precedence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wanted {
    pub desktop_id: String,
    /// Shared between desktops that want the same (every desktop one name glob selects).
    pub tags: std::sync::Arc<Tags>,
    pub absent: BTreeSet<CompactString>,
    /// Where each wanted key is written and by which kind of source: one per key of `tags`, then
    /// one per key of `absent`, each in key order (the keys are not repeated: a run holds one
    /// `Wanted` per desktop), shared like `tags`. The planner copies those of the keys that
    /// change into the plan.
    pub sources: std::sync::Arc<[(crate::diagnostic::Location, Layer)]>,
}

impl Wanted {
    /// Where the want of `key` is written, and by which kind of source.
    pub fn source(&self, key: &str) -> Option<&(crate::diagnostic::Location, Layer)> {
        let at = match self.tags.position(key) {
            Some(i) => i,
            None => self.tags.len() + self.absent.iter().position(|k| k == key)?,
        };
        self.sources.get(at)
    }
}

/// Which kind of manifest source a wanted value comes from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Defaults,
    NameGlob,
    Name,
    Id,
}

impl Layer {
    /// The layer of an entry's selector (a document's defaults are `Layer::Defaults`).
    pub(crate) fn of(selector: &crate::manifest::Selector) -> Layer {
        use crate::manifest::Selector;
        match selector {
            Selector::Id(_) => Layer::Id,
            Selector::Name(_) => Layer::Name,
            Selector::Glob(_) => Layer::NameGlob,
        }
    }

    /// `defaults`, `name glob`, `name`, `id`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Defaults => "defaults",
            Layer::NameGlob => "name glob",
            Layer::Name => "name",
            Layer::Id => "id",
        }
    }
}

fn no_sources(sources: &std::sync::Arc<[Source]>) -> bool {
    sources.is_empty()
}

fn no_changes(changes: &std::sync::Arc<[Change]>) -> bool {
    changes.is_empty()
}

/// Where the want behind one change is written. Changes no manifest asks for (deletes by
/// `--prune`) have none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    pub key: CompactString,
    pub file: std::sync::Arc<str>,
    pub line: u32,
    pub column: u32,
    pub layer: Layer,
}

/// One project's plan: an entry of the plan document's `projects` (see [`PlanSet`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub project_id: String,
    pub endpoint: String,
    /// The region the manifests gave the project, which chose the endpoint; `apply --plan`
    /// connects through it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub max_tags: usize,
    pub prune: bool,
    /// True when any desktop has changes.
    pub has_changes: bool,
    /// Sorted by desktop id.
    pub desktops: Vec<DesktopPlan>,
    pub summary: Summary,
    /// Warnings from resolution (unmatched selectors, ignored-but-wanted keys), structured as
    /// `validate --format json` prints diagnostics.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The manifests and flags the plan was made from; `apply --plan` re-plans from them and
    /// refuses a plan they do not produce. Absent in plans made by desktag 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_from: Option<Provenance>,
}

/// What a plan was made from, beyond what the plan document records already (`max_tags`,
/// `prune`, `project_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Every manifest file read, in load order, with the SHA-256 of its bytes.
    pub manifests: Vec<crate::manifest::ManifestFile>,
    /// `--ignore-key` globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_keys: Vec<String>,
    /// `--target`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The `${env.NAME}` values the templates rendered with.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    /// Per desktop with changes, the desktop attributes its templated values read (`user_name`,
    /// `name`, `id`, `enterprise_project_id`) as they were: part of the staleness check, so a
    /// desktop reassigned to another user since is refused, not given the old owner.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    /// One small sorted map each (not a `BTreeMap`, whose one node costs half a kilobyte): a
    /// plan of 100,000 templated desktops records one per desktop.
    pub attributes: std::collections::BTreeMap<String, Attributes>,
}

/// A desktop's attributes (`user_name`, …) and their values, as a plan's provenance records them.
pub type Attributes = crate::tags::SortedMap<CompactString, CompactString>;

/// A warning of a plan, in the shape of a diagnostic of `validate --format json` (without its
/// notes): what the JSON contract promises for plans and `--log-format json` for stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// Always `warning`: errors stop planning.
    pub severity: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::diagnostic::Location>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl From<&Diagnostic> for Warning {
    fn from(d: &Diagnostic) -> Warning {
        Warning {
            severity: d.severity.to_string(),
            code: d.code.to_string(),
            location: d.location.clone(),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

/// `file:line:col: warning[code]: message`, then `  help: …`: as diagnostics read.
impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.location {
            write!(f, "{at}: ")?;
        }
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl Plan {
    /// Drops what only explains the plan to its reader, once shown: where each want is written
    /// (`sources`) and the keys left alone (`unmanaged`, `ignored`, `kept`). Applying reads none
    /// of it, and for 100,000 desktops it is tens of megabytes held through the whole apply.
    pub fn drop_explanations(&mut self) {
        for desktop in &mut self.desktops {
            desktop.sources = Default::default();
            desktop.unmanaged = Vec::new();
            desktop.ignored = Vec::new();
            desktop.kept = Vec::new();
        }
    }

    /// Keeps the warnings of `diagnostics` (errors are left out) in `warnings`.
    pub fn with_warnings(mut self, diagnostics: &[Diagnostic]) -> Self {
        self.warnings = diagnostics
            .iter()
            .filter(|d| !d.is_error())
            .map(Warning::from)
            .collect();
        self
    }
}

/// Why a desktop is blocked, as a machine reads it (`reason_kind`); `reason` says it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedKind {
    /// The planned tags would exceed the per-desktop cap.
    Cap,
    /// The planned tags would break the manifests' `policy:`.
    Policy,
    /// A templated value it needs cannot be rendered for it.
    Template,
    /// The desktop is not in the project.
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesktopStatus {
    Change,
    Unchanged,
    Blocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesktopPlan {
    pub desktop_id: String,
    /// Computer name; empty when the desktop was not found.
    pub name: String,
    pub status: DesktopStatus,
    /// Why the desktop is blocked, with the numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What kind of rule blocked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_kind: Option<BlockedKind>,
    /// The tags the desktop had when the plan was made (also the staleness fingerprint).
    pub current: Tags,
    /// Deletes, then overwrites, then creates; each group sorted by key. Shared between desktops
    /// with the same changes (every desktop one name glob selects, in a rollout).
    #[serde(default, skip_serializing_if = "no_changes")]
    pub changes: std::sync::Arc<[Change]>,
    /// Current keys that are kept but not managed by the manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<CompactString>,
    /// Current keys that match an ignore glob or are system tags; never touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<CompactString>,
    /// `create_only` keys the manifests want another value for, kept as the desktop carries
    /// them (`--explain` says so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<CompactString>,
    /// Where the want behind each change is written, in change order. Shared between desktops
    /// whose wants come from the same places (every desktop a name glob selects): at 100,000
    /// desktops a list each was a third of a plan.
    #[serde(default, skip_serializing_if = "no_sources")]
    pub sources: std::sync::Arc<[Source]>,
    /// Rules of `enforce: warn` policies the planned tags break (each with where the rule is
    /// written): reported, not blocking.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_warnings: Vec<String>,
}

impl crate::inventory::Named for DesktopPlan {
    fn name(&self) -> &str {
        &self.name
    }
    fn id(&self) -> &str {
        &self.desktop_id
    }
}

/// One API call's worth of change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Change {
    Delete {
        key: CompactString,
        old: CompactString,
    },
    /// `rename:` (or `fix: rename`): the value of `from` moves to `key` (absent until now);
    /// written as a delete of `from` and a create of `key`, deletes first. One change for the
    /// guardrails, not a delete. `from` and `old` are boxed: renames are rare, and a change is as
    /// large as its largest kind, for each of the hundreds of thousands a plan can hold.
    Rename {
        from: Box<CompactString>,
        old: Box<CompactString>,
        key: CompactString,
        value: CompactString,
    },
    Overwrite {
        key: CompactString,
        old: CompactString,
        value: CompactString,
    },
    Create {
        key: CompactString,
        value: CompactString,
    },
}

impl Change {
    pub fn key(&self) -> &str {
        match self {
            Change::Delete { key, .. }
            | Change::Overwrite { key, .. }
            | Change::Create { key, .. }
            | Change::Rename { key, .. } => key,
        }
    }

    /// `delete`, `overwrite`, `create` or `rename`.
    pub fn action(&self) -> &'static str {
        match self {
            Change::Delete { .. } => "delete",
            Change::Overwrite { .. } => "overwrite",
            Change::Create { .. } => "create",
            Change::Rename { .. } => "rename",
        }
    }

    /// The calls' worth of a change: a rename is the delete of its old key, then the create of
    /// its new one; the others are themselves.
    pub fn writes(&self) -> Vec<Change> {
        match self {
            Change::Rename {
                from,
                old,
                key,
                value,
            } => vec![
                Change::Delete {
                    key: (**from).clone(),
                    old: (**old).clone(),
                },
                Change::Create {
                    key: key.clone(),
                    value: value.clone(),
                },
            ],
            other => vec![other.clone()],
        }
    }

    /// Applies this change to a tag map (what the service does on success).
    pub fn apply_to(&self, tags: &mut Tags) {
        match self {
            Change::Delete { key, .. } => {
                tags.remove(key);
            }
            Change::Overwrite { key, value, .. } | Change::Create { key, value } => {
                tags.insert(key.clone(), value.clone());
            }
            Change::Rename {
                from, key, value, ..
            } => {
                tags.remove(from.as_str());
                tags.insert(key.clone(), value.clone());
            }
        }
    }
}

impl DesktopPlan {
    /// The tags the desktop will carry once every change is applied.
    pub fn planned(&self) -> Tags {
        let mut tags = self.current.clone();
        for change in self.changes.iter() {
            change.apply_to(&mut tags);
        }
        tags
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub overwrite: usize,
    pub delete: usize,
    /// Keys moved by `rename:` (each one change, not a delete).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rename: usize,
    /// Desktops with at least one change.
    pub changed: usize,
    pub unchanged: usize,
    pub blocked: usize,
    /// Desktops whose planned tags break an `enforce: warn` policy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub policy_warnings: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A project a run over several could not plan or apply: it could not be reached, read or
/// written. The other projects go on; the run exits 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFailure {
    pub project_id: String,
    /// Where it was tried; absent when the connection could not even be resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The error with its causes, on one line.
    pub error: String,
}

/// The plan document (`format_version: 2`), what `plan --format json` prints and `--out`
/// saves: the combined summary, then one plan per project (also for one project), in
/// project-id order, and the projects that could not be planned. Written with `P = &[Plan]`,
/// read back with `P = Vec<Plan>`. Its JSON Schema is `docs/plan.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSet<P> {
    pub format_version: u32,
    /// The desktag that made it.
    pub desktag_version: String,
    /// True when any project's plan has changes.
    pub has_changes: bool,
    /// The sum of the projects' summaries.
    pub summary: Summary,
    pub projects: P,
    /// The projects that could not be planned, with why.
    #[serde(default)]
    pub failed_projects: Vec<ProjectFailure>,
}

impl<'a> PlanSet<&'a [Plan]> {
    pub fn of(plans: &'a [Plan]) -> Self {
        PlanSet::with_failures(plans, &[])
    }

    /// The plans and the projects that failed beside them.
    pub fn with_failures(plans: &'a [Plan], failed: &[ProjectFailure]) -> Self {
        PlanSet {
            format_version: FORMAT_VERSION,
            desktag_version: env!("CARGO_PKG_VERSION").to_string(),
            has_changes: plans.iter().any(|p| p.has_changes),
            summary: Summary::total(plans),
            projects: plans,
            failed_projects: failed.to_vec(),
        }
    }
}

impl Summary {
    /// The sum of the summaries of `plans`.
    pub fn total(plans: &[Plan]) -> Summary {
        let mut total = Summary::default();
        for s in plans.iter().map(|p| &p.summary) {
            total.create += s.create;
            total.overwrite += s.overwrite;
            total.delete += s.delete;
            total.rename += s.rename;
            total.changed += s.changed;
            total.unchanged += s.unchanged;
            total.blocked += s.blocked;
            total.policy_warnings += s.policy_warnings;
        }
        total
    }

    /// Counts the changes and desktop statuses of `desktops`.
    pub fn of(desktops: &[DesktopPlan]) -> Summary {
        let mut summary = Summary::default();
        for d in desktops {
            match d.status {
                DesktopStatus::Blocked => summary.blocked += 1,
                DesktopStatus::Unchanged => summary.unchanged += 1,
                DesktopStatus::Change => summary.changed += 1,
            }
            if !d.policy_warnings.is_empty() {
                summary.policy_warnings += 1;
            }
            for change in d.changes.iter() {
                match change {
                    Change::Create { .. } => summary.create += 1,
                    Change::Overwrite { .. } => summary.overwrite += 1,
                    Change::Delete { .. } => summary.delete += 1,
                    Change::Rename { .. } => summary.rename += 1,
                }
            }
        }
        summary
    }
}
