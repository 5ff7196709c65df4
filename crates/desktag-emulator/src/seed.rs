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

/// The desktops an emulator starts with; also the format of its `--state` file. A seed holds one
/// project or several, each with its own desktops: the first in `project_id` and `desktops` (all
/// a single-project seed has), the others in `more_projects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The first (or only) project.
    pub project_id: String,
    /// The first project's desktops.
    pub desktops: Vec<EmulatedDesktop>,
    /// The projects after the first (a `projects:` list); empty for a single-project seed.
    pub more_projects: Vec<ProjectSeed>,
}

/// One project of a seed and its desktops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectSeed {
    pub project_id: String,
    pub desktops: Vec<EmulatedDesktop>,
}

/// Why a seed or state file was rejected. `Display` names the place (`line:col`, the project or
/// the desktop) and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SeedError {
    pub message: String,
}

/// What a seed looks like, for the messages that reject one.
const SHAPE: &str = "a seed has `project_id` and `desktops`, or a `projects` list of them (each \
                     desktop with `id`, `name`, optional `user`, `enterprise_project_id`, \
                     `status`, and a `tags` mapping of quoted strings)";

/// The raw YAML shape: one project (`project_id`, `desktops`) or a `projects` list. Unknown
/// fields are errors so that typos are not silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    desktops: Option<Vec<RawDesktop>>,
    #[serde(default)]
    projects: Option<Vec<RawProject>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
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

impl RawProject {
    fn into_project(self) -> ProjectSeed {
        ProjectSeed {
            project_id: self.project_id,
            desktops: self
                .desktops
                .into_iter()
                .map(RawDesktop::into_desktop)
                .collect(),
        }
    }
}

impl RawDesktop {
    fn into_desktop(self) -> EmulatedDesktop {
        EmulatedDesktop {
            id: self.id,
            name: self.name,
            user: self.user,
            enterprise_project_id: self.enterprise_project_id,
            status: self.status.unwrap_or_else(|| "ACTIVE".to_string()),
            tags: self
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl RawSeed {
    /// One form or the other: both, or neither, is an error naming the keys.
    fn into_projects(self) -> Result<Vec<ProjectSeed>, SeedError> {
        let fail = |message: String| Err(SeedError { message });
        let top = if self.project_id.is_some() {
            "project_id"
        } else {
            "desktops"
        };
        match (self.project_id, self.desktops, self.projects) {
            (Some(project_id), desktops, None) => Ok(vec![RawProject {
                project_id,
                desktops: desktops.unwrap_or_default(),
            }
            .into_project()]),
            (None, None, Some(projects)) if projects.is_empty() => fail(format!(
                "`projects` is empty; list at least one project; {SHAPE}"
            )),
            (None, None, Some(projects)) => {
                Ok(projects.into_iter().map(RawProject::into_project).collect())
            }
            (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => fail(format!(
                "the seed has both a top-level `{top}` and a `projects` list; give one or the other: \
                 move the top-level project into `projects` as `- project_id: …` with its \
                 `desktops`"
            )),
            (None, Some(_), None) => fail(format!(
                "the seed has `desktops` but no `project_id`; {SHAPE}"
            )),
            (None, None, None) => fail(format!(
                "the seed has neither `project_id` nor `projects`; {SHAPE}"
            )),
        }
    }
}

impl Seed {
    /// The built-in demo inventory.
    pub fn demo() -> Seed {
        Seed::from_yaml(DEMO).expect("the compiled-in demo seed is valid")
    }

    /// A seed of one project.
    pub fn single(project_id: &str, desktops: Vec<EmulatedDesktop>) -> Seed {
        Seed {
            project_id: project_id.to_string(),
            desktops,
            more_projects: Vec::new(),
        }
    }

    /// A seed of several projects, in order, checked as a seed file is.
    pub fn from_projects(projects: Vec<ProjectSeed>) -> Result<Seed, SeedError> {
        let mut projects = projects.into_iter();
        let first = projects.next().ok_or_else(|| SeedError {
            message: "a seed needs at least one project".to_string(),
        })?;
        let seed = Seed {
            project_id: first.project_id,
            desktops: first.desktops,
            more_projects: projects.collect(),
        };
        seed.validate()?;
        Ok(seed)
    }

    /// Parses and validates a seed (or state) document.
    pub fn from_yaml(text: &str) -> Result<Seed, SeedError> {
        let raw: RawSeed = desktag_core::yaml::from_str(text).map_err(|e| {
            let at = match (e.line, e.column) {
                (Some(l), Some(c)) => format!("line {l}, column {c}: "),
                _ => String::new(),
            };
            SeedError {
                message: format!("{at}{}; {SHAPE}", e.message),
            }
        })?;
        Seed::from_projects(raw.into_projects()?)
    }

    /// Every project in order, the first one first.
    pub fn projects(&self) -> impl Iterator<Item = (&str, &[EmulatedDesktop])> {
        std::iter::once((self.project_id.as_str(), self.desktops.as_slice())).chain(
            self.more_projects
                .iter()
                .map(|p| (p.project_id.as_str(), p.desktops.as_slice())),
        )
    }

    /// How many desktops all projects hold together.
    pub fn desktop_count(&self) -> usize {
        self.projects().map(|(_, d)| d.len()).sum()
    }

    /// Renders the seed as YAML (the `--state` file format): today's single-project form for one
    /// project, a `projects` list for several.
    pub(crate) fn to_yaml(&self) -> Result<String, SeedError> {
        desktag_core::yaml::to_string(self).map_err(|e| SeedError {
            message: format!("cannot render the state as YAML: {}", e.message),
        })
    }

    /// Checks what serde cannot: non-empty, unique project ids, unique non-empty desktop ids
    /// within each project, and tags that follow the service's rules (system `_sys_` tags are
    /// allowed in a seed). A message names `projects[i]` only for a seed of several projects.
    pub(crate) fn validate(&self) -> Result<(), SeedError> {
        let several = !self.more_projects.is_empty();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, (project_id, desktops)) in self.projects().enumerate() {
            let at = if several {
                format!("projects[{i}]: ")
            } else {
                String::new()
            };
            if project_id.trim().is_empty() || project_id.contains('/') {
                return Err(SeedError {
                    message: format!(
                        "{at}project_id `{project_id}` is not usable in a URL path; give the \
                         32-character project id"
                    ),
                });
            }
            if let Some(first) = seen.insert(project_id, i) {
                return Err(SeedError {
                    message: format!(
                        "projects[{first}] and projects[{i}] both have the project id \
                         `{project_id}`; list each project once, with all its desktops"
                    ),
                });
            }
            check_desktops(&at, desktops)?;
        }
        Ok(())
    }
}

impl Serialize for Seed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if self.more_projects.is_empty() {
            map.serialize_entry("project_id", &self.project_id)?;
            map.serialize_entry("desktops", &self.desktops)?;
        } else {
            let projects: Vec<ProjectOut<'_>> = self
                .projects()
                .map(|(project_id, desktops)| ProjectOut {
                    project_id,
                    desktops,
                })
                .collect();
            map.serialize_entry("projects", &projects)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct ProjectOut<'a> {
    project_id: &'a str,
    desktops: &'a [EmulatedDesktop],
}

/// Unique non-empty desktop ids and valid tags; `at` names the project in a seed of several.
fn check_desktops(at: &str, desktops: &[EmulatedDesktop]) -> Result<(), SeedError> {
    let fail = |message: String| Err(SeedError { message });
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, desktop) in desktops.iter().enumerate() {
        if desktop.id.trim().is_empty() || desktop.id.contains('/') {
            return fail(format!(
                "{at}desktops[{i}] has the id `{}`; give each desktop a non-empty id without `/`",
                desktop.id
            ));
        }
        if let Some(first) = seen.insert(&desktop.id, i) {
            return fail(format!(
                "{at}desktops[{first}] and desktops[{i}] both have the id `{}`; desktop ids must \
                 be unique",
                desktop.id
            ));
        }
        check_seed_tags(&desktop.id, &desktop.tags).map_err(|e| SeedError {
            message: format!("{at}{}", e.message),
        })?;
    }
    Ok(())
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

    const TWO: &str = "projects:\n  - project_id: p1\n    desktops:\n      - {id: a, name: A}\n  - project_id: p2\n    desktops:\n      - {id: a, name: A2, tags: {env: prod}}\n      - {id: b, name: B}\n";

    #[test]
    fn a_projects_list_gives_each_project_its_own_desktops() {
        let seed = Seed::from_yaml(TWO).unwrap();
        let projects: Vec<(&str, usize)> = seed.projects().map(|(p, d)| (p, d.len())).collect();
        assert_eq!(projects, vec![("p1", 1), ("p2", 2)]);
        assert_eq!(seed.project_id, "p1");
        assert_eq!(seed.desktop_count(), 3);
        assert_eq!(seed.more_projects[0].desktops[0].name, "A2");
    }

    #[test]
    fn a_seed_of_several_projects_round_trips_and_one_project_keeps_todays_form() {
        let seed = Seed::from_yaml(TWO).unwrap();
        let text = seed.to_yaml().unwrap();
        assert!(text.starts_with("projects:"), "{text}");
        assert_eq!(Seed::from_yaml(&text).unwrap(), seed);
        let one = Seed::demo().to_yaml().unwrap();
        assert!(
            one.starts_with("project_id:") && !one.contains("projects"),
            "{one}"
        );
    }

    #[test]
    fn both_forms_neither_or_an_empty_list_are_rejected_naming_the_keys() {
        let both = Seed::from_yaml(&format!("project_id: p0\n{TWO}")).unwrap_err();
        assert!(
            both.message
                .contains("both a top-level `project_id` and a `projects` list"),
            "{both}"
        );
        let both = Seed::from_yaml(&format!("desktops: []\n{TWO}")).unwrap_err();
        assert!(both.message.contains("top-level `desktops`"), "{both}");
        let neither = Seed::from_yaml("{}\n").unwrap_err();
        assert!(
            neither
                .message
                .contains("neither `project_id` nor `projects`"),
            "{neither}"
        );
        let empty = Seed::from_yaml("projects: []\n").unwrap_err();
        assert!(empty.message.contains("`projects` is empty"), "{empty}");
    }

    #[test]
    fn duplicate_project_ids_and_bad_desktops_name_the_project_entry() {
        let err = Seed::from_yaml(
            "projects:\n  - {project_id: p1}\n  - {project_id: p2}\n  - {project_id: p1}\n",
        )
        .unwrap_err();
        assert!(
            err.message.contains("projects[0] and projects[2]") && err.message.contains("`p1`"),
            "{err}"
        );
        let err = Seed::from_yaml(
            "projects:\n  - {project_id: p1}\n  - project_id: p2\n    desktops: [{id: a, name: A}, {id: a, name: B}]\n",
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("projects[1]: desktops[0] and desktops[1] both have the id `a`"),
            "{err}"
        );
        let err = Seed::from_yaml("projects:\n  - {project_id: 'a/b'}\n  - {project_id: p2}\n")
            .unwrap_err();
        assert!(
            err.message.starts_with("projects[0]: project_id `a/b`"),
            "{err}"
        );
        let err = Seed::from_yaml("projects:\n  - {project_id: p1, colour: red}\n").unwrap_err();
        assert!(
            err.message.contains("colour") && err.message.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn seeds_built_in_code_are_checked_as_files_are() {
        let one = Seed::single("p", vec![EmulatedDesktop::new("a", "A", &[])]);
        assert_eq!(one.projects().count(), 1);
        let two = Seed::from_projects(vec![
            ProjectSeed {
                project_id: "p".into(),
                desktops: one.desktops.clone(),
            },
            ProjectSeed {
                project_id: "p".into(),
                desktops: Vec::new(),
            },
        ])
        .unwrap_err();
        assert!(two.message.contains("projects[0] and projects[1]"), "{two}");
        assert!(Seed::from_projects(Vec::new()).is_err());
    }
}
