//! The emulator's seed and state file format: a project id and its desktops (id, computer name,
//! user, status) with their tags. YAML goes through the one YAML helper (`desktag_core::yaml`).
//! Pure: reading and writing the files is the caller's job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use desktag_core::tags::{self, Tags, MAX_KEY_CHARS, SYSTEM_PREFIX};

/// The compiled-in demo inventory (`examples/emulator-seed.yaml`).
const DEMO: &str = include_str!("../../../examples/emulator-seed.yaml");

/// One emulated desktop: what the list API reports about it, and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmulatedDesktop {
    pub id: String,
    /// `computer_name`.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_project_id: Option<String>,
    pub status: String,
    pub tags: Tags,
}

impl EmulatedDesktop {
    /// An ACTIVE desktop with no user.
    pub fn new(id: &str, name: &str, tags: &[(&str, &str)]) -> EmulatedDesktop {
        EmulatedDesktop {
            id: id.into(),
            name: name.into(),
            user: None,
            enterprise_project_id: None,
            status: "ACTIVE".to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }
}

/// The desktops an emulator starts with; also the format of its `--state` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seed {
    pub project_id: String,
    pub desktops: Vec<EmulatedDesktop>,
}

/// Why a seed or state file was rejected. `Display` names the place (`line:col` or the desktop)
/// and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SeedError {
    pub message: String,
}

/// The raw YAML shape; unknown fields are errors so that typos are not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    project_id: String,
    #[serde(default)]
    desktops: Vec<RawDesktop>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDesktop {
    id: String,
    name: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    enterprise_project_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

impl Seed {
    /// The built-in demo inventory.
    pub fn demo() -> Seed {
        Seed::from_yaml(DEMO).expect("the compiled-in demo seed is valid")
    }

    /// Parses and validates a seed (or state) document.
    pub fn from_yaml(text: &str) -> Result<Seed, SeedError> {
        let raw: RawSeed = desktag_core::yaml::from_str(text).map_err(|e| {
            let at = match (e.line, e.column) {
                (Some(l), Some(c)) => format!("line {l}, column {c}: "),
                _ => String::new(),
            };
            SeedError {
                message: format!(
                    "{at}{}; a seed has `project_id` and `desktops` (each with `id`, `name`, \
                     optional `user`, `enterprise_project_id`, `status`, and a `tags` mapping of quoted strings)",
                    e.message
                ),
            }
        })?;
        let seed = Seed {
            project_id: raw.project_id,
            desktops: raw
                .desktops
                .into_iter()
                .map(|d| EmulatedDesktop {
                    id: d.id,
                    name: d.name,
                    user: d.user,
                    enterprise_project_id: d.enterprise_project_id,
                    status: d.status.unwrap_or_else(|| "ACTIVE".to_string()),
                    tags: d
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                })
                .collect(),
        };
        seed.validate()?;
        Ok(seed)
    }

    /// Renders the seed as YAML (the `--state` file format).
    pub(crate) fn to_yaml(&self) -> Result<String, SeedError> {
        desktag_core::yaml::to_string(self).map_err(|e| SeedError {
            message: format!("cannot render the state as YAML: {}", e.message),
        })
    }

    /// Checks what serde cannot: a non-empty project id, unique non-empty desktop ids, and tags
    /// that follow the service's rules (system `_sys_` tags are allowed in a seed).
    pub(crate) fn validate(&self) -> Result<(), SeedError> {
        let fail = |message: String| Err(SeedError { message });
        if self.project_id.trim().is_empty() || self.project_id.contains('/') {
            return fail(format!(
                "project_id `{}` is not usable in a URL path; give the 32-character project id",
                self.project_id
            ));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, desktop) in self.desktops.iter().enumerate() {
            if desktop.id.trim().is_empty() || desktop.id.contains('/') {
                return fail(format!(
                    "desktops[{i}] has the id `{}`; give each desktop a non-empty id without `/`",
                    desktop.id
                ));
            }
            if let Some(first) = seen.insert(&desktop.id, i) {
                return fail(format!(
                    "desktops[{first}] and desktops[{i}] both have the id `{}`; desktop ids must \
                     be unique",
                    desktop.id
                ));
            }
            check_seed_tags(&desktop.id, &desktop.tags)?;
        }
        Ok(())
    }
}

fn check_seed_tags(desktop_id: &str, tags: &Tags) -> Result<(), SeedError> {
    for (key, value) in tags {
        let key_check = match key.strip_prefix(SYSTEM_PREFIX) {
            // System tags are written by the service, not by users: only their shape is checked.
            Some(_) if key.chars().count() > MAX_KEY_CHARS => Err(tags::TagError::KeyTooLong {
                chars: key.chars().count(),
            }),
            Some(rest) => tags::check_key(rest),
            None => tags::check_key(key),
        };
        if let Err(e) = key_check.and_then(|()| tags::check_value(value)) {
            return Err(SeedError {
                message: format!("desktop `{desktop_id}`, tag `{key}`: {e}; {}", e.help()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_seed_parses() {
        let seed = Seed::demo();
        assert_eq!(seed.project_id, "0123456789abcdef0123456789abcdef");
        assert_eq!(seed.desktops.len(), 20);
        assert!(seed.desktops.iter().any(|d| d.status == "ACTIVE"));
    }

    #[test]
    fn status_defaults_to_active_and_tags_to_empty() {
        let seed = Seed::from_yaml("project_id: p\ndesktops:\n  - {id: a, name: A}\n").unwrap();
        assert_eq!(seed.desktops[0].status, "ACTIVE");
        assert!(seed.desktops[0].tags.is_empty());
        assert_eq!(seed.desktops[0].user, None);
    }

    #[test]
    fn duplicate_ids_are_rejected_naming_both_entries() {
        let err = Seed::from_yaml(
            "project_id: p\ndesktops:\n  - {id: a, name: A}\n  - {id: b, name: B}\n  - {id: a, name: C}\n",
        )
        .unwrap_err();
        assert!(
            err.message.contains("desktops[0] and desktops[2]") && err.message.contains("`a`"),
            "{err}"
        );
    }

    #[test]
    fn invalid_tags_are_rejected_naming_desktop_and_key() {
        let err =
            Seed::from_yaml("project_id: p\ndesktops:\n  - {id: a, name: A, tags: {\"a/b\": x}}\n")
                .unwrap_err();
        assert!(
            err.message.contains("desktop `a`, tag `a/b`") && err.message.contains("`/`"),
            "{err}"
        );
        let err =
            Seed::from_yaml("project_id: p\ndesktops:\n  - {id: a, name: A, tags: {_sys_: x}}\n")
                .unwrap_err();
        assert!(err.message.contains("tag `_sys_`"), "{err}");
    }

    #[test]
    fn system_tags_are_allowed_in_a_seed() {
        let seed = Seed::from_yaml(
            "project_id: p\ndesktops:\n  - {id: a, name: A, tags: {_sys_enterprise_project_id: \"0\"}}\n",
        )
        .unwrap();
        assert_eq!(seed.desktops[0].tags.len(), 1);
    }

    #[test]
    fn unknown_fields_and_bad_yaml_name_the_position() {
        let err = Seed::from_yaml("project_id: p\ndesktops:\n  - {id: a, name: A, colour: red}\n")
            .unwrap_err();
        assert!(
            err.message.contains("colour") && err.message.contains("line 3"),
            "{err}"
        );
        let err = Seed::from_yaml("desktops: []\n").unwrap_err();
        assert!(err.message.contains("project_id"), "{err}");
    }

    #[test]
    fn a_seed_round_trips_through_yaml() {
        let seed = Seed::demo();
        let again = Seed::from_yaml(&seed.to_yaml().unwrap()).unwrap();
        assert_eq!(again, seed);
    }
}
