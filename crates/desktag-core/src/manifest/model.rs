//! The validated manifest: what the loader hands to resolution and planning. Every piece keeps
//! where it came from, so later stages (conflicts, warnings) can name file:line:col.

use crate::diagnostic::Location;
use crate::tags::{SortedMap, TagKey, TagValue};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub location: Location,
}

/// All documents of all manifest files, in load order (files sorted by path, documents in file
/// order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub documents: Vec<Document>,
}

/// A manifest file as read: its path as given and the SHA-256 of its bytes (hex).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
}

impl ManifestFile {
    pub(crate) fn of(path: &str, bytes: &[u8]) -> ManifestFile {
        use sha2::Digest;
        ManifestFile {
            path: path.to_string(),
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }
}

impl Manifest {
    /// The projects the documents name, sorted.
    pub fn projects(&self) -> std::collections::BTreeSet<&str> {
        self.documents
            .iter()
            .filter_map(|d| d.project_id.as_ref().map(|p| p.value.as_str()))
            .collect()
    }

    /// Keeps the documents of `project`: those that name it and those that name no project
    /// (which belong to whichever project a run plans). With `None`, only the latter.
    pub fn retain_project(&mut self, project: Option<&str>) {
        self.documents.retain(|d| match &d.project_id {
            None => true,
            Some(p) => Some(p.value.as_str()) == project,
        });
    }

    /// The region the documents of `project` give it (one at most: the loader refuses two).
    pub fn region_of(&self, project: &str) -> Option<&str> {
        self.documents
            .iter()
            .filter(|d| d.project_id.as_ref().is_some_and(|p| p.value == project))
            .find_map(|d| d.region.as_ref().map(|r| r.value.as_str()))
    }

    /// The manifest split into the documents of each project it names (each with the documents
    /// that name none), in project-id order; the whole manifest when it names none.
    pub fn by_project(self) -> Vec<(Option<String>, Manifest)> {
        let projects: Vec<String> = self.projects().into_iter().map(str::to_string).collect();
        if projects.is_empty() {
            return vec![(None, self)];
        }
        let mut rest = self;
        let last = projects.len() - 1;
        projects
            .into_iter()
            .enumerate()
            .map(|(i, project)| {
                // The last project takes the manifest itself: one project costs no copy.
                let mut manifest = if i == last {
                    std::mem::take(&mut rest)
                } else {
                    rest.clone()
                };
                manifest.retain_project(Some(&project));
                (Some(project), manifest)
            })
            .collect()
    }

    /// The environment variables the templated values read (`${env.NAME}`).
    pub fn env_names(&self) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        for doc in &self.documents {
            let values = doc
                .defaults
                .values()
                .chain(doc.desktops.iter().flat_map(|e| e.tags.values()));
            for value in values.filter(|v| crate::template::is_template(v.value.as_str())) {
                let Ok(template) = crate::template::Template::parse_checked(value.value.as_str())
                else {
                    continue;
                };
                for r in template.references() {
                    if let crate::template::Reference::Env(name) = r {
                        names.insert(name.clone());
                    }
                }
            }
        }
        names
    }
}

/// One YAML document (`version: 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Where the document starts.
    pub location: Location,
    pub project_id: Option<Sourced<String>>,
    /// The region the project lives in; only written beside `project_id`.
    pub region: Option<Sourced<String>>,
    /// Tags for every desktop this document selects (lowest precedence).
    pub defaults: SortedMap<TagKey, Sourced<TagValue>>,
    /// Globs over tag keys that desktag never changes or prunes.
    pub ignore_keys: Vec<Sourced<String>>,
    /// Globs over tag keys that desktag never deletes: not by `--prune`, not by `absent`.
    pub protect: Vec<Sourced<String>>,
    /// Globs over tag keys that desktag creates when missing but never overwrites.
    pub create_only: Vec<Sourced<String>>,
    /// Rules every selected desktop's tags must follow.
    pub policy: TagPolicy,
    /// `rename:`: keys migrated on every selected desktop, old → new, in key order.
    pub rename: Vec<Rename>,
    pub desktops: Vec<Entry>,
}

/// One `rename:` item: a desktop carrying `from` gets `to` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: Sourced<TagKey>,
    pub to: Sourced<TagKey>,
}

/// A document's `policy:`. Empty when not written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagPolicy {
    /// Keys every selected desktop must end with.
    pub required: Vec<Sourced<TagKey>>,
    /// Per key, the values it may take.
    pub allowed: Vec<AllowedValues>,
    pub key_case: Option<Sourced<KeyCase>>,
    /// `enforce:`: what breaking this document's rules does. `None` (not written) blocks.
    pub enforce: Option<Sourced<Enforce>>,
    /// `fix: rename`: under `key_case: lower`, a desktop's case variant of a managed key is
    /// renamed to it instead of breaking the rule.
    pub fix_rename: Option<Location>,
}

/// `policy: {enforce: …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforce {
    /// A desktop whose planned tags would break a rule is blocked (the default).
    Block,
    /// Violations are reported and counted; the desktop is still repaired.
    Warn,
}

/// `allowed: {key: [values]}`: the values are globs over the whole value (`*`, `?`; every other
/// character stands for itself, as in name globs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedValues {
    pub key: Sourced<TagKey>,
    pub values: Vec<Sourced<String>>,
}

/// `key_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCase {
    /// Every key in lower case (`Owner` beside `owner` is caught).
    Lower,
    /// No rule.
    Any,
}

/// One item of `desktops:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub selector: Selector,
    /// Where the entry (its `id:`/`name:` line) is.
    pub location: Location,
    pub tags: SortedMap<TagKey, Sourced<TagValue>>,
    /// Keys that must not exist, with where each was written.
    pub absent: SortedMap<TagKey, Location>,
    /// Breaks ties between entries of the same selector kind (two globs selecting one desktop):
    /// higher wins. 0 when not written.
    pub priority: i32,
    /// `override: true` (where written): the entry's overrides of lower-precedence sources in
    /// other documents are intended and not warned about.
    pub acknowledge: Option<Location>,
}

/// How an entry selects desktops. Precedence: `Id` > `Name` > `Glob` > document defaults.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selector {
    Id(String),
    /// An exact computer name.
    Name(String),
    /// A computer-name pattern with `*` and/or `?`.
    Glob(String),
}

impl Selector {
    /// Classifies a `name:` value: a glob if it contains `*` or `?`, else exact.
    pub(crate) fn from_name(name: String) -> Selector {
        if crate::glob::is_name_glob(&name) {
            Selector::Glob(name)
        } else {
            Selector::Name(name)
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Id(id) => write!(f, "id `{id}`"),
            Selector::Name(name) => write!(f, "name `{name}`"),
            Selector::Glob(glob) => write!(f, "name glob `{glob}`"),
        }
    }
}
