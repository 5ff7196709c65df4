//! The saved-plan file (`plan --out`, `apply --plan`): the plan document plus a kind
//! marker, the writing version and an optional HMAC signature, the checks that a file is one the
//! planner could have made (known fields only, a supported version, consistent changes), and the
//! staleness and re-plan comparisons. Pure: reading and writing the file, the clock and the
//! signing key are the caller's.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Change, DesktopStatus, Plan, PlanSet, Summary};
use crate::inventory::Inventory;
use crate::secret::Secret;
use crate::tags::{CompactString, Tags};

/// Marks a JSON file as a desktag plan, so a report or a random JSON file is refused clearly.
pub(crate) const KIND: &str = "desktag-plan";

/// The environment variable holding the key `plan --out` signs with and `apply --plan` checks.
pub const KEY_VARIABLE: &str = "DESKTAG_PLAN_KEY";

/// How a signature starts; the rest is the hex HMAC-SHA256.
const SIGNATURE_SCHEME: &str = "hmac-sha256:";

/// The saved form of a plan: a kind marker, then the plan document (`format_version: 2`, the
/// writing version, every project's plan), then the signature when a key was given. Written with
/// `P = PlanSet<&[Plan]>`, read back with `P = PlanSet<Vec<Plan>>`.
#[derive(Debug, Serialize, Deserialize)]
struct SavedPlan<P> {
    kind: std::borrow::Cow<'static, str>,
    #[serde(flatten)]
    plan: P,
    /// `hmac-sha256:HEX`: the [`mac`] of the same document without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

/// The MAC of the bytes a signature covers: the document, typed, without its signature, as
/// compact JSON. Computed from the parsed value rather than the file's bytes, so the check covers
/// exactly what is applied (and whitespace does not matter). The JSON is fed to the MAC as it is
/// written, never held whole (for 100,000 desktops it is over a hundred megabytes).
fn mac<P: Serialize>(key: &Secret, saved: &SavedPlan<P>) -> Hmac<Sha256> {
    let unsigned = SavedPlan {
        kind: saved.kind.clone(),
        plan: &saved.plan,
        signature: None,
    };
    let mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
        .expect("HMAC accepts any key length");
    let mut fed = MacWriter(mac);
    serde_json::to_writer(&mut fed, &unsigned).expect("a plan always serialises");
    fed.0
}

/// Feeds what is written to a MAC.
struct MacWriter(Hmac<Sha256>);

impl std::io::Write for MacWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes one plan, unsigned (tests).
#[cfg(test)]
pub(crate) fn write_json(w: &mut dyn std::io::Write, plan: &Plan) -> std::io::Result<()> {
    write_all_json(w, std::slice::from_ref(plan), None)
}

/// Writes the plans of a run for `--out`: one file holding every project's plan (a
/// [`PlanSet`], as `plan --format json` prints it), which `apply --plan` applies together.
/// With `key`, the file carries an HMAC-SHA256 signature that `apply --plan` checks.
pub fn write_all_json(
    w: &mut dyn std::io::Write,
    plans: &[Plan],
    key: Option<&Secret>,
) -> std::io::Result<()> {
    write_saved(w, PlanSet::of(plans), key)
}

fn write_saved<P: Serialize>(
    w: &mut dyn std::io::Write,
    plan: P,
    key: Option<&Secret>,
) -> std::io::Result<()> {
    let mut saved = SavedPlan {
        kind: KIND.into(),
        plan,
        signature: None,
    };
    if let Some(key) = key {
        let tag = mac(key, &saved).finalize().into_bytes();
        saved.signature = Some(format!("{SIGNATURE_SCHEME}{}", hex::encode(tag)));
    }
    serde_json::to_writer_pretty(&mut *w, &saved)?;
    w.write_all(b"\n")
}

/// A saved plan as read: its plans and whether a signature was found (checked when a key was
/// given).
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub plans: Vec<Plan>,
    pub signed: bool,
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
    #[error(
        "it is a format_version 1 plan, made by desktag {written} or earlier; this desktag reads \
         format_version {}: make the plan again with `desktag plan --out FILE`",
        super::FORMAT_VERSION
    )]
    FormatVersion1 { written: String },
    #[error(
        "format_version {version} is not supported by this desktag (it reads {reads})",
        version = .0,
        reads = super::FORMAT_VERSION
    )]
    UnsupportedVersion(u64),
    #[error("it has no format_version")]
    NoVersion,
    #[error("it has no desktag_version")]
    NoWriterVersion,
    #[error(
        "it was written by desktag {}, newer than this desktag ({}); apply it with desktag {} or later",
        written.escape_debug(),
        env!("CARGO_PKG_VERSION"),
        written.escape_debug()
    )]
    NewerWriter { written: String },
    #[error("its desktag_version {written:?} is not a version")]
    NotAVersion { written: String },
    #[error("malformed plan: {0}")]
    Malformed(serde_json::Error),
    #[error(
        "it has a field `{0}` that plans do not have; it was edited, or written by another desktag"
    )]
    UnknownField(String),
    #[error(
        "it is not signed, and {KEY_VARIABLE} is set: only plans written by `desktag plan --out` with the same {KEY_VARIABLE} are applied"
    )]
    Unsigned,
    #[error("its signature is not `{SIGNATURE_SCHEME}` and hex digits")]
    SignatureFormat,
    #[error(
        "its signature does not match: the file was altered after it was signed, or signed with another {KEY_VARIABLE}"
    )]
    SignatureMismatch,
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
    #[error("it records projects that failed; it is not the whole run's plan")]
    FailedProjects,
    /// Read as one project's plan (tests only read files that way).
    #[cfg(test)]
    #[error("it holds the plans of several projects")]
    SeveralProjects,
    /// A desktop's entry is not one the planner could have made.
    #[error("desktop `{desktop_id}`: {problem}")]
    Desktop { desktop_id: String, problem: String },
    #[error("its summary does not match its changes; the file was edited or corrupted")]
    Summary,
    /// Re-planning from the recorded manifests failed.
    #[error("its manifests no longer resolve: {0}")]
    NoLongerResolves(crate::diagnostic::Diagnostic),
}

/// Reads a saved plan of one project (tests).
#[cfg(test)]
pub(crate) fn from_json(text: &str) -> Result<Plan, SavedPlanError> {
    let mut plans = all_from_json(text)?;
    match (plans.pop(), plans.is_empty()) {
        (Some(plan), true) => Ok(plan),
        _ => Err(SavedPlanError::SeveralProjects),
    }
}

/// Reads a saved plan without a key (tests): see [`read`].
#[cfg(test)]
pub(crate) fn all_from_json(text: &str) -> Result<Vec<Plan>, SavedPlanError> {
    read(text, None).map(|r| r.plans)
}

/// Reads a saved plan: the plans of one or several projects, each checked. The error says what
/// is wrong with the file (and, for a plan of several projects, which project). With `key`, an
/// unsigned file or one whose signature does not match is refused.
pub fn read(text: &str, key: Option<&Secret>) -> Result<Read, SavedPlanError> {
    let Strict(value) = serde_json::from_str(text).map_err(SavedPlanError::NotJson)?;
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
        Some(v) if v == u64::from(super::FORMAT_VERSION) => {}
        Some(1) => {
            return Err(SavedPlanError::FormatVersion1 {
                written: value
                    .get("desktag_version")
                    .and_then(|v| v.as_str())
                    .unwrap_or("0.2")
                    .to_string(),
            })
        }
        Some(v) => return Err(SavedPlanError::UnsupportedVersion(v)),
        None => return Err(SavedPlanError::NoVersion),
    }
    check_writer_version(&value)?;
    let saved: SavedPlan<PlanSet<Vec<Plan>>> =
        serde_json::from_value(value.clone()).map_err(SavedPlanError::Malformed)?;
    known_fields_only(&value, &saved)?;
    let signed = check_signature(&saved, key)?;
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
    if !set.failed_projects.is_empty() {
        return Err(SavedPlanError::FailedProjects);
    }
    Ok(Read {
        plans: set.projects,
        signed,
    })
}

/// A plan written by a newer desktag (a later major or minor version) may mean more than this one
/// understands: it is refused with the version to use.
fn check_writer_version(value: &serde_json::Value) -> Result<(), SavedPlanError> {
    let Some(written) = value.get("desktag_version").and_then(|v| v.as_str()) else {
        return Err(SavedPlanError::NoWriterVersion);
    };
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split(['.', '-', '+']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    let ours = env!("CARGO_PKG_VERSION");
    match (parse(written), parse(ours)) {
        (Some(theirs), Some(mine)) if theirs <= mine => Ok(()),
        (Some(_), _) => Err(SavedPlanError::NewerWriter {
            written: written.to_string(),
        }),
        (None, _) => Err(SavedPlanError::NotAVersion {
            written: written.to_string(),
        }),
    }
}

/// Refuses a field the plan format does not have, at any depth: a field this desktag would
/// ignore is one a newer format (or a hand edit) meant something by. Compares the file with the
/// typed document written back (fields that are empty in the file may be absent there).
fn known_fields_only<P: Serialize>(
    file: &serde_json::Value,
    typed: &SavedPlan<P>,
) -> Result<(), SavedPlanError> {
    let known = serde_json::to_value(typed).expect("a plan always serialises");
    let mut path = Vec::new();
    match unknown_field(file, &known, &mut path) {
        None => Ok(()),
        Some(field) => Err(SavedPlanError::UnknownField(field)),
    }
}

/// `null`, `[]` or `{}`: the values of the fields a plan leaves out when they are empty.
fn is_empty(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn unknown_field(
    file: &serde_json::Value,
    known: &serde_json::Value,
    path: &mut Vec<String>,
) -> Option<String> {
    use serde_json::Value;
    match (file, known) {
        (Value::Object(file), Value::Object(known)) => {
            for (name, value) in file {
                path.push(name.escape_debug().to_string());
                let found = match known.get(name) {
                    Some(k) => unknown_field(value, k, path),
                    // What the writer leaves out when empty.
                    None if is_empty(value) => None,
                    None => Some(path.join(".")),
                };
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        (Value::Array(file), Value::Array(known)) => {
            file.iter().zip(known).enumerate().find_map(|(i, (f, k))| {
                path.push(i.to_string());
                let found = unknown_field(f, k, path);
                path.pop();
                found
            })
        }
        _ => None,
    }
}

/// With a key, the document must carry a signature that matches it (compared in constant time).
/// Returns whether the document is signed.
fn check_signature<P: Serialize>(
    saved: &SavedPlan<P>,
    key: Option<&Secret>,
) -> Result<bool, SavedPlanError> {
    let Some(key) = key else {
        return Ok(saved.signature.is_some());
    };
    let Some(signature) = &saved.signature else {
        return Err(SavedPlanError::Unsigned);
    };
    let tag = signature
        .strip_prefix(SIGNATURE_SCHEME)
        .and_then(|hex| hex::decode(hex).ok())
        .ok_or(SavedPlanError::SignatureFormat)?;
    mac(key, saved)
        .verify_slice(&tag)
        .map_err(|_| SavedPlanError::SignatureMismatch)?;
    Ok(true)
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
        for change in d.changes.iter() {
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
                Change::Rename {
                    from, old, value, ..
                } => {
                    crate::tags::check_key(from).map_err(|e| at(format!("key `{from}`: {e}")))?;
                    crate::tags::check_value(value)
                        .map_err(|e| at(format!("value of `{key}`: {e}")))?;
                    if tags.get(from.as_str()).map(|v| v.as_str()) != Some(old.as_str())
                        || tags.contains_key(key)
                    {
                        return Err(at(format!(
                            "rename of `{from}` to `{key}` does not match the recorded tags"
                        )));
                    }
                    2
                }
                Change::Overwrite { old, value, .. } => {
                    crate::tags::check_value(value)
                        .map_err(|e| at(format!("value of `{key}`: {e}")))?;
                    if tags.get(key).map(|v| v.as_str()) != Some(old.as_str()) {
                        return Err(at(format!(
                            "overwrite of `{key}` does not match the recorded tags"
                        )));
                    }
                    3
                }
                Change::Create { value, .. } => {
                    crate::tags::check_value(value)
                        .map_err(|e| at(format!("value of `{key}`: {e}")))?;
                    if tags.contains_key(key) {
                        return Err(at(format!(
                            "create of `{key}`, which the desktop already has"
                        )));
                    }
                    4
                }
            };
            if rank < last_rank {
                return Err(at(
                    "changes are not in the order deletes, renames, overwrites, creates"
                        .to_string(),
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
            let attributes = plan
                .made_from
                .as_ref()
                .and_then(|m| m.attributes.get(&d.desktop_id));
            let difference = match now.get(&d.desktop_id) {
                None => "the desktop no longer exists".to_string(),
                Some(desktop) if desktop.tags != d.current => {
                    describe_difference(&d.current, &desktop.tags)
                }
                Some(desktop) => attributes_changed(attributes?, desktop)?,
            };
            Some(Stale {
                desktop_id: d.desktop_id.clone(),
                name: d.name.clone(),
                difference,
            })
        })
        .collect()
}

/// How the desktop attributes a plan's templated values read differ now (`${desktop.user_name}`
/// is "bob", the plan was made when it was "alice"), or `None`.
fn attributes_changed(
    recorded: &super::Attributes,
    desktop: &crate::inventory::Desktop,
) -> Option<String> {
    let changed: Vec<String> = recorded
        .iter()
        .filter_map(|(name, then)| {
            let attr = crate::template::Attr::from_name(name)?;
            let now = super::attribute_of(desktop, attr).unwrap_or_default();
            (now != *then).then(|| {
                format!(
                    "`${{desktop.{name}}}` is now {:?}; the plan was made when it was {:?}, and its values use it",
                    now, then
                )
            })
        })
        .collect();
    (!changed.is_empty()).then(|| changed.join("; "))
}

/// Re-plans the desktops a saved plan changes, from its manifests (`manifest`, narrowed to the
/// plan's project) with `policy` — the options and environment of the command applying it, never
/// the settings the file records — against `now` (their tags now, already checked not stale).
/// Every desktop whose planned changes differ is returned: the file was edited by hand, the
/// manifests are not the ones it was made from, or the options or environment differ (a desktop
/// attribute a template reads, such as its user, included). An error when the manifests no longer
/// resolve.
pub fn not_produced(
    plan: &Plan,
    policy: &super::Policy,
    manifest: &crate::manifest::Manifest,
    now: &Inventory,
) -> Result<Vec<Stale>, SavedPlanError> {
    let resolution = super::resolve(manifest, now, policy);
    if let Some(error) = resolution.diagnostics.iter().find(|d| d.is_error()) {
        return Err(SavedPlanError::NoLongerResolves(error.clone()));
    }
    let place = super::Place {
        project_id: &plan.project_id,
        endpoint: &plan.endpoint,
    };
    let (again, _) = super::plan_all(
        resolution.wanted,
        now.clone(),
        policy,
        &resolution.keys,
        place,
    );
    let produced: std::collections::HashMap<&str, &super::DesktopPlan> = again
        .desktops
        .iter()
        .map(|d| (d.desktop_id.as_str(), d))
        .collect();
    Ok(plan
        .desktops
        .iter()
        .filter(|d| d.status == DesktopStatus::Change)
        .filter_map(|d| {
            let (theirs, blocked): (&[Change], Option<&str>) =
                match produced.get(d.desktop_id.as_str()) {
                    Some(p) if p.status == DesktopStatus::Change => (&p.changes, None),
                    Some(p) if p.status == DesktopStatus::Blocked => (&[], p.reason.as_deref()),
                    _ => (&[], None),
                };
            (theirs != &*d.changes).then(|| {
                let (ours, theirs) = listed(&d.changes, theirs);
                let theirs = match blocked {
                    Some(reason) => format!("no changes (blocked: {})", reason.escape_debug()),
                    None => theirs,
                };
                Stale {
                    desktop_id: d.desktop_id.clone(),
                    name: d.name.clone(),
                    difference: format!("the plan file has {ours}; its manifests give {theirs}"),
                }
            })
        })
        .collect())
}

/// Two lists of changes as text, each change as its action and key; a change whose action and
/// key appear on both sides with other values also shows its value, so the two lines never look
/// the same while differing.
fn listed(ours: &[Change], theirs: &[Change]) -> (String, String) {
    let same_key = |c: &Change, other: &[Change]| {
        other
            .iter()
            .any(|o| o.action() == c.action() && o.key() == c.key() && o != c)
    };
    let text = |changes: &[Change], other: &[Change]| -> String {
        if changes.is_empty() {
            return "no changes".to_string();
        }
        changes
            .iter()
            .map(|c| {
                let head = format!("{} `{}`", c.action(), c.key().escape_debug());
                match c {
                    Change::Create { value, .. } | Change::Overwrite { value, .. }
                        if same_key(c, other) =>
                    {
                        format!("{head} = {:?}", value.as_str())
                    }
                    _ => head,
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    (text(ours, theirs), text(theirs, ours))
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

/// JSON read as a value, refusing an object that names a key twice. Parsers disagree on which
/// of two equal keys wins (this one keeps the last, many keep the first), so a file holding one
/// can show a reviewer one thing and apply another; a plan never has one.
struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{}` appears twice in one object",
                    key.escape_debug()
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// Why the projects of a saved plan do not agree on the manifests they were made from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceError {
    #[error("its projects record different manifests")]
    Different,
    #[error("some of its projects record no manifests")]
    Missing,
}

/// What the projects of a saved plan were made from: every project of a run records the same
/// files, or none does (`None`).
pub fn shared_provenance(plans: &[Plan]) -> Result<Option<&super::Provenance>, ProvenanceError> {
    match plans.first().and_then(|p| p.made_from.as_ref()) {
        Some(first)
            if plans
                .iter()
                .all(|p| p.made_from.as_ref().map(|m| &m.manifests) == Some(&first.manifests)) =>
        {
            Ok(Some(first))
        }
        Some(_) => Err(ProvenanceError::Different),
        None if plans.iter().any(|p| p.made_from.is_some()) => Err(ProvenanceError::Missing),
        None => Ok(None),
    }
}

/// The first way the manifests read differ from those a saved plan records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestMismatch<'a> {
    /// A recorded file was read with other bytes (its recorded path).
    Changed(&'a str),
    /// A recorded file was not read (its recorded path).
    NotRead(&'a str),
    /// A file was read that the plan does not record (its path as read).
    Extra(&'a str),
}

/// One manifest file keyed by its identity (the caller decides what makes two paths the same
/// file, e.g. their canonical form): the key, its path and its SHA-256.
pub type KeyedFile<'a, K> = (K, &'a str, &'a str);

/// Compares the manifests a saved plan records with those read, both keyed by file identity:
/// each recorded file, in order, must be read with its recorded digest, and nothing else read.
pub fn compare_manifests<'a, K: Ord>(
    recorded: Vec<KeyedFile<'a, K>>,
    read: Vec<KeyedFile<'a, K>>,
) -> Result<(), ManifestMismatch<'a>> {
    let read: std::collections::BTreeMap<K, (&str, &str)> = read
        .into_iter()
        .map(|(id, path, sha)| (id, (path, sha)))
        .collect();
    for (id, path, sha) in &recorded {
        match read.get(id) {
            Some((_, found)) if found == sha => {}
            Some(_) => return Err(ManifestMismatch::Changed(path)),
            None => return Err(ManifestMismatch::NotRead(path)),
        }
    }
    let recorded: std::collections::BTreeSet<&K> = recorded.iter().map(|(id, _, _)| id).collect();
    match read.iter().find(|(id, _)| !recorded.contains(id)) {
        Some((_, (extra, _))) => Err(ManifestMismatch::Extra(extra)),
        None => Ok(()),
    }
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

    #[test]
    fn compare_manifests_names_the_first_changed_unread_or_extra_file() {
        let rec = |v: &[(u8, &'static str, &'static str)]| v.to_vec();
        assert_eq!(
            compare_manifests(rec(&[(1, "a", "x")]), rec(&[(1, "./a", "x")])),
            Ok(())
        );
        assert_eq!(
            compare_manifests(rec(&[(1, "a", "x")]), rec(&[(1, "a", "y")])),
            Err(ManifestMismatch::Changed("a"))
        );
        assert_eq!(
            compare_manifests(rec(&[(1, "a", "x"), (2, "b", "z")]), rec(&[(1, "a", "x")])),
            Err(ManifestMismatch::NotRead("b"))
        );
        assert_eq!(
            compare_manifests(rec(&[(1, "a", "x")]), rec(&[(1, "a", "x"), (2, "c", "w")])),
            Err(ManifestMismatch::Extra("c"))
        );
    }

    #[test]
    fn shared_provenance_refuses_projects_that_disagree() {
        let made = |path: &str| {
            Some(crate::plan::Provenance {
                manifests: vec![crate::manifest::ManifestFile {
                    path: path.into(),
                    sha256: "s".into(),
                }],
                ..Default::default()
            })
        };
        let with = |m| Plan {
            made_from: m,
            ..sample()
        };
        assert_eq!(shared_provenance(&[with(None), with(None)]), Ok(None));
        let same = [with(made("a")), with(made("a"))];
        assert_eq!(shared_provenance(&same), Ok(same[0].made_from.as_ref()));
        assert_eq!(
            shared_provenance(&[with(made("a")), with(made("b"))]),
            Err(ProvenanceError::Different)
        );
        assert_eq!(
            shared_provenance(&[with(None), with(made("a"))]),
            Err(ProvenanceError::Missing)
        );
    }

    fn sample() -> Plan {
        Plan {
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
                reason_kind: None,
                current: crate::tags::Tags::from([("env".into(), "dev".into())]),
                changes: vec![Change::Overwrite {
                    key: "env".into(),
                    old: "dev".into(),
                    value: "prod".into(),
                }]
                .into(),
                unmanaged: vec![],
                ignored: vec![],
                kept: vec![],
                sources: Default::default(),
                policy_warnings: vec![],
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
        assert!(from_json("{")
            .unwrap_err()
            .to_string()
            .starts_with("not JSON"));
        assert!(from_json("{\"format_version\":1}")
            .unwrap_err()
            .to_string()
            .contains("no `kind"));
        let report = to_json(&sample()).replace(KIND, "desktag-report");
        assert!(from_json(&report)
            .unwrap_err()
            .to_string()
            .contains("desktag-report"));
        let future = to_json(&sample()).replace("\"format_version\": 2", "\"format_version\": 3");
        assert!(from_json(&future)
            .unwrap_err()
            .to_string()
            .contains("format_version 3"));
        let old = to_json(&sample()).replace("\"format_version\": 2", "\"format_version\": 1");
        assert_eq!(
            from_json(&old).unwrap_err().to_string(),
            format!(
                "it is a format_version 1 plan, made by desktag {} or earlier; this desktag reads \
                 format_version 2: make the plan again with `desktag plan --out FILE`",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn refuses_plans_the_planner_could_not_have_made() {
        let edit = |f: &dyn Fn(&mut Plan)| {
            let mut plan = sample();
            f(&mut plan);
            from_json(&to_json(&plan)).unwrap_err().to_string()
        };
        let bad_key = edit(&|p| {
            let mut changes = p.desktops[0].changes.to_vec();
            changes.push(Change::Create {
                key: "bad/key".into(),
                value: "x".into(),
            });
            p.desktops[0].changes = changes.into();
            p.summary.create += 1;
        });
        assert!(bad_key.contains("`bad/key`"), "{bad_key}");
        let wrong_old = edit(&|p| {
            let mut changes = p.desktops[0].changes.to_vec();
            changes[0] = Change::Overwrite {
                key: "env".into(),
                old: "qa".into(),
                value: "prod".into(),
            };
            p.desktops[0].changes = changes.into();
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
        write_all_json(&mut out, plans, None).expect("plans always serialise");
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
        assert!(from_json(&text)
            .unwrap_err()
            .to_string()
            .contains("several projects"));
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

    #[test]
    fn the_signature_is_the_hmac_of_the_compact_document_without_it() {
        // Fed to the MAC as it is written: the same bytes as the whole document at once.
        let key = Secret::new("k1");
        let plans = [sample()];
        let saved = SavedPlan {
            kind: KIND.into(),
            plan: PlanSet::of(&plans),
            signature: None,
        };
        let whole = serde_json::to_vec(&saved).unwrap();
        let mut expected = Hmac::<Sha256>::new_from_slice(b"k1").unwrap();
        expected.update(&whole);
        assert_eq!(
            mac(&key, &saved).finalize().into_bytes(),
            expected.finalize().into_bytes()
        );
    }

    #[test]
    fn saved_plan_signature_covers_every_field_and_needs_the_key() {
        let key = Secret::new("k1");
        let signed = {
            let mut out = Vec::new();
            write_all_json(&mut out, &[sample()], Some(&key)).unwrap();
            String::from_utf8(out).unwrap()
        };
        let read_back = read(&signed, Some(&key)).unwrap();
        assert!(read_back.signed);
        assert_eq!(read_back.plans, vec![sample()]);
        // Whitespace is not part of what is signed; content is.
        let compact =
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&signed).unwrap())
                .unwrap();
        assert!(read(&compact, Some(&key)).is_ok());
        let edited = signed.replace("\"FIN-1\"", "\"FIN-2\"");
        assert!(read(&edited, Some(&key))
            .unwrap_err()
            .to_string()
            .contains("signature does not match"));
        assert!(read(&signed, Some(&Secret::new("k2")))
            .unwrap_err()
            .to_string()
            .contains("signature does not match"));
        let unsigned = to_json(&sample());
        assert!(read(&unsigned, Some(&key))
            .unwrap_err()
            .to_string()
            .contains("it is not signed"));
        let garbled = signed.replace("hmac-sha256:", "hmac-sha256:zz");
        assert!(read(&garbled, Some(&key))
            .unwrap_err()
            .to_string()
            .contains("hex digits"));
        // Without a key the signature is reported, not checked.
        assert!(read(&edited, None).unwrap().signed);
        assert!(!read(&unsigned, None).unwrap().signed);
    }

    #[test]
    fn saved_plan_format_unknown_fields_are_refused_at_any_depth() {
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut value: serde_json::Value = serde_json::from_str(&to_json(&sample())).unwrap();
            f(&mut value);
            from_json(&value.to_string())
        };
        let top = edit(&|v| v["allow_deletes"] = true.into())
            .unwrap_err()
            .to_string();
        assert!(top.contains("allow_deletes"), "{top}");
        let deep = edit(&|v| v["projects"][0]["desktops"][0]["force"] = true.into())
            .unwrap_err()
            .to_string();
        assert!(deep.contains("force"), "{deep}");
        let inner = edit(&|v| {
            v["projects"][0]["made_from"] = serde_json::json!({"manifests": [], "trust": true})
        })
        .unwrap_err()
        .to_string();
        assert!(inner.contains("trust"), "{inner}");
        // `null` for an optional field is the same as leaving it out.
        assert!(edit(&|v| v["projects"][0]["region"] = serde_json::Value::Null).is_ok());
    }

    #[test]
    fn saved_plan_format_future_versions_are_refused() {
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut value: serde_json::Value =
                serde_json::from_str(&all_to_json(&two_projects())).unwrap();
            f(&mut value);
            all_from_json(&value.to_string())
        };
        let future = edit(&|v| v["format_version"] = 7.into())
            .unwrap_err()
            .to_string();
        assert!(
            future.contains("format_version 7 is not supported"),
            "{future}"
        );
        let old = edit(&|v| v["format_version"] = 1.into())
            .unwrap_err()
            .to_string();
        assert!(old.contains("format_version 1 plan"), "{old}");
        let inner = edit(&|v| v["projects"][1]["format_version"] = 2.into())
            .unwrap_err()
            .to_string();
        assert!(inner.contains("format_version"), "{inner}");
        let writer = edit(&|v| v["desktag_version"] = "999.1.0".into())
            .unwrap_err()
            .to_string();
        assert!(
            writer.contains("written by desktag 999.1.0, newer than"),
            "{writer}"
        );
        let garbage = edit(&|v| v["desktag_version"] = "latest".into())
            .unwrap_err()
            .to_string();
        assert!(garbage.contains("is not a version"), "{garbage}");
        // The same or an older desktag's plan reads.
        assert!(edit(&|v| v["desktag_version"] = "0.1.0".into()).is_ok());
    }

    #[test]
    fn stale_a_desktop_whose_template_attribute_changed_is_stale() {
        let mut plan = sample();
        plan.made_from = Some(crate::plan::Provenance {
            attributes: [(
                "d1".to_string(),
                [("user_name".into(), "alice".into())].into(),
            )]
            .into(),
            ..Default::default()
        });
        let mut desktop = desktop(&[("env", "dev")]);
        desktop.user = Some("alice".into());
        assert!(stale(&plan, &Inventory::new([desktop.clone()])).is_empty());
        desktop.user = Some("bob".into());
        let found = stale(&plan, &Inventory::new([desktop]));
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].difference,
            "`${desktop.user_name}` is now \"bob\"; the plan was made when it was \"alice\", and its values use it"
        );
    }
}
