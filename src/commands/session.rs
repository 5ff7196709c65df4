//! What plan, apply and export share: choosing the project, connecting (to the service or to an
//! in-process emulator), reading the inventory with batched list calls, and planning.

use std::collections::BTreeSet;

use crate::api::{Client, ClientOptions, Connection, Credentials};
use crate::config::{Planning, Service, Target};
use crate::emulator::{self, EmulatorHandle};
use crate::error::Error;
use crate::inventory::Inventory;
use crate::manifest::{self, LoadOptions, Manifest, ManifestFile, Selector};
use crate::plan::{self, Plan, Provenance};
use crate::secret::Secret;

use super::output;

/// The `endpoint` recorded in plans made with `--emulator`: each run starts a fresh emulator on a
/// new port, so the port is no identity.
pub(crate) const EMULATOR_ENDPOINT: &str = "builtin-emulator";

/// A connected run: the client, the project, and the emulator kept alive for the run's length.
pub(crate) struct Session {
    pub client: Client,
    pub project_id: String,
    /// What plans and reports record as the endpoint.
    pub endpoint: String,
    _emulator: Option<EmulatorHandle>,
}

impl Session {
    /// Resolves the connection (flags, then environment) or starts the built-in emulator.
    /// `manifest_project` is the project the manifests name, which wins over flags and
    /// environment.
    pub async fn open(service: &Service, manifest_project: Option<&str>) -> Result<Session, Error> {
        let options = service.client.clone();
        let args = match &service.target {
            Target::Emulator { .. } => return Self::open_emulator(options, manifest_project).await,
            Target::Service(args) => args,
        };
        let connection =
            Connection::resolve(args, manifest_project, |name| std::env::var(name).ok())?;
        tracing::info!(endpoint = %connection.endpoint, project = %connection.project_id, auth = %connection.credentials.describe(), "connecting");
        let endpoint = connection.endpoint.to_string();
        let project_id = connection.project_id.clone();
        let client = Client::new(connection, options)?;
        Ok(Session {
            client,
            project_id,
            endpoint,
            _emulator: None,
        })
    }

    async fn open_emulator(
        options: ClientOptions,
        manifest_project: Option<&str>,
    ) -> Result<Session, Error> {
        let seed = emulator::Seed::demo();
        let project_id = seed.project_id.clone();
        if let Some(wanted) = manifest_project.filter(|p| *p != project_id) {
            return Err(Error::Usage(format!(
                "--emulator serves the demo project `{project_id}`, but the manifests name project `{wanted}`; \
                 run the emulator with your own seed (`desktag emulator --seed FILE`) and point --endpoint at it"
            )));
        }
        // Real AK/SK signing against the emulator's verifier, with a secret made for this run.
        let ak = "DESKTAGDEMOAK0000001".to_string();
        let sk = Secret::new(format!("{:032x}", rand::random::<u128>()));
        let handle = emulator::spawn(emulator::EmulatorConfig {
            auth: emulator::Auth::AkSk {
                ak: ak.clone(),
                sk: sk.clone(),
            },
            seed,
            ..emulator::EmulatorConfig::default()
        })
        .await
        .map_err(|e| Error::Emulator(e.into()))?;
        tracing::info!(url = %handle.base_url(), "started the built-in emulator with the demo inventory");
        let endpoint =
            url::Url::parse(&handle.base_url()).map_err(|e| Error::Usage(e.to_string()))?;
        let credentials = Credentials::AkSk {
            ak: Secret::new(ak),
            sk,
            security_token: None,
            origin: "the built-in emulator",
        };
        let connection = Connection {
            endpoint,
            project_id: project_id.clone(),
            credentials,
        };
        let client = Client::new(connection, options)?;
        Ok(Session {
            client,
            project_id,
            endpoint: EMULATOR_ENDPOINT.to_string(),
            _emulator: Some(handle),
        })
    }

    /// Reads the desktops the manifest can select: by id when every selector is an id (listing
    /// the project instead when that is fewer requests), else the whole project.
    pub async fn inventory(&self, manifest: &Manifest) -> Result<Inventory, Error> {
        let mut ids = BTreeSet::new();
        let mut only_ids = true;
        for entry in manifest.documents.iter().flat_map(|d| &d.desktops) {
            match &entry.selector {
                Selector::Id(id) => {
                    ids.insert(id.clone());
                }
                Selector::Name(_) | Selector::Glob(_) => only_ids = false,
            }
        }
        let desktops = if only_ids {
            let ids: Vec<String> = ids.into_iter().collect();
            self.client.read_desktops(&ids).await?
        } else {
            self.client.list_desktops().await?
        };
        let inventory = Inventory::new(desktops);
        tracing::info!(
            desktops = inventory.len(),
            requests = self.client.stats().requests,
            "read the inventory"
        );
        Ok(inventory)
    }
}

/// Manifests loaded for one project.
pub(crate) struct ManifestsForProject {
    pub manifest: Manifest,
    /// The project the manifests name, if any.
    pub project_id: Option<String>,
    /// Every file read, with its digest.
    pub files: Vec<ManifestFile>,
}

/// Which project a run plans, from `--project-id` and the projects the manifests name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProjectChoice {
    /// Neither the flag nor the manifests name one: the connection decides (environment).
    Unnamed,
    /// This project; `named` says whether the manifests name it (then it wins over the
    /// environment), and documents of other projects are skipped.
    Chosen { project: String, named: bool },
}

/// Chooses the project: `--project-id` when given and named by a manifest (or when the manifests
/// name none), else the only project the manifests name. Several named projects without the flag,
/// or a flag no manifest names when they all name one, are usage errors.
pub(crate) fn choose_project(
    flag: Option<&str>,
    named: &BTreeSet<String>,
    unnamed_documents: bool,
) -> Result<ProjectChoice, Error> {
    let listed = || {
        named
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (flag, named.len()) {
        (Some(flag), _) => {
            if !named.is_empty() && !named.contains(flag) && !unnamed_documents {
                return Err(Error::Usage(format!(
                    "--project-id `{flag}` matches none of the manifests, which name {}; \
                     drop --project-id to use the manifests' project",
                    listed()
                )));
            }
            Ok(ProjectChoice::Chosen {
                project: flag.to_string(),
                named: named.contains(flag),
            })
        }
        (None, 0) => Ok(ProjectChoice::Unnamed),
        (None, 1) => Ok(ProjectChoice::Chosen {
            project: named.iter().next().cloned().unwrap_or_default(),
            named: true,
        }),
        (None, n) => Err(Error::Usage(format!(
            "the manifests name {n} projects ({}); desktag plans one project per run: pass --project-id to choose one",
            listed()
        ))),
    }
}

/// Loads manifests, prints their diagnostics, and keeps the documents of the chosen project.
/// `Ok(Err(errors))` means invalid input whose diagnostics were printed.
pub(crate) fn load(planning: &Planning) -> Result<Result<ManifestsForProject, usize>, Error> {
    let loaded = manifest::load(
        &planning.paths,
        &LoadOptions {
            max_tags: planning.policy.max_tags,
        },
    );
    output::diagnostics(&loaded.diagnostics);
    if loaded.has_errors() {
        return Ok(Err(loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()));
    }
    let mut manifest = loaded.manifest;
    let files = loaded.files;
    let named: BTreeSet<String> = manifest
        .documents
        .iter()
        .filter_map(|d| d.project_id.as_ref().map(|p| p.value.clone()))
        .collect();
    let unnamed_documents = manifest.documents.iter().any(|d| d.project_id.is_none());
    let choice = choose_project(planning.service.project_flag(), &named, unnamed_documents)?;
    let ProjectChoice::Chosen { project, named } = choice else {
        return Ok(Ok(ManifestsForProject {
            manifest,
            project_id: None,
            files,
        }));
    };
    let before = manifest.documents.len();
    manifest
        .documents
        .retain(|d| d.project_id.as_ref().is_none_or(|p| p.value == project));
    let skipped = before - manifest.documents.len();
    if skipped > 0 {
        tracing::warn!(
            skipped,
            project = %project,
            "skipping manifest documents that name another project"
        );
    }
    // Passed on as "the manifests' project", which wins over flags and environment; a
    // --project-id the manifests do not name is left to the connection's own resolution.
    Ok(Ok(ManifestsForProject {
        manifest,
        project_id: named.then_some(project),
        files,
    }))
}

/// Loads the manifests, connects, reads the inventory and plans, printing every diagnostic on
/// stderr. `Ok(Err(errors))` means the manifests or the resolution had that many errors (already
/// printed). Desktops in the plan are sorted by name, then id, as a reviewer reads them.
pub(crate) async fn plan_from(
    planning: &Planning,
) -> Result<Result<(Session, Plan), usize>, Error> {
    let loaded = match load(planning)? {
        Ok(loaded) => loaded,
        Err(errors) => return Ok(Err(errors)),
    };
    let session = Session::open(&planning.service, loaded.project_id.as_deref()).await?;
    let inventory = session.inventory(&loaded.manifest).await?;
    // The environment the templates read, captured once: planning itself stays pure.
    let mut with_env = planning.policy.clone();
    with_env.env = loaded
        .manifest
        .env_names()
        .into_iter()
        .filter_map(|name| std::env::var(&name).ok().map(|v| (name, v)))
        .collect();
    let policy = &with_env;
    let resolution = plan::resolve(&loaded.manifest, &inventory, policy);
    let made_from = Provenance {
        manifests: loaded.files,
        ignore_keys: policy.ignore_keys.clone(),
        targets: policy.targets.iter().cloned().collect(),
        env: policy.env.clone(),
    };
    // The manifest is not needed past resolution; freeing it first lowers the peak on large runs.
    drop(loaded.manifest);
    // Resolution returns its diagnostics sorted.
    output::diagnostics(&resolution.diagnostics);
    if resolution.has_errors() {
        return Ok(Err(resolution
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()));
    }
    let mut plan = plan::plan(
        &resolution.wanted,
        &inventory,
        policy,
        &resolution.keys,
        &session.project_id,
        &session.endpoint,
    )
    .with_warnings(&resolution.diagnostics);
    plan.made_from = Some(made_from);
    sort_for_review(&mut plan);
    Ok(Ok((session, plan)))
}

/// Orders a plan's desktops by name, then id.
pub(crate) fn sort_for_review(plan: &mut Plan) {
    plan.desktops
        .sort_by(|a, b| (&a.name, &a.desktop_id).cmp(&(&b.name, &b.desktop_id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(projects: &[&str]) -> BTreeSet<String> {
        projects.iter().map(|p| p.to_string()).collect()
    }

    fn chosen(project: &str, named: bool) -> ProjectChoice {
        ProjectChoice::Chosen {
            project: project.into(),
            named,
        }
    }

    #[test]
    fn the_only_named_project_is_chosen() {
        assert_eq!(
            choose_project(None, &named(&["p1"]), true).unwrap(),
            chosen("p1", true)
        );
        assert_eq!(
            choose_project(None, &named(&[]), true).unwrap(),
            ProjectChoice::Unnamed
        );
    }

    #[test]
    fn the_flag_picks_one_of_several_named_projects() {
        let projects = named(&["p1", "p2"]);
        assert_eq!(
            choose_project(Some("p2"), &projects, false).unwrap(),
            chosen("p2", true)
        );
        let err = choose_project(None, &projects, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("name 2 projects (`p1`, `p2`)"), "{err}");
    }

    #[test]
    fn a_flag_no_manifest_names_is_refused_unless_some_documents_name_none() {
        let err = choose_project(Some("p9"), &named(&["p1"]), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--project-id `p9` matches none of the manifests"),
            "{err}"
        );
        assert_eq!(
            choose_project(Some("p9"), &named(&["p1"]), true).unwrap(),
            chosen("p9", false)
        );
        assert_eq!(
            choose_project(Some("p9"), &named(&[]), true).unwrap(),
            chosen("p9", false)
        );
    }
}
