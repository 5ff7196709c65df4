//! What plan, apply and export share: choosing the project, connecting (to the service or to an
//! in-process emulator), reading the inventory with batched list calls, and planning.

use std::collections::BTreeSet;

use crate::api::{Client, ClientOptions, Connection, ConnectionArgs, Credentials};
use crate::cli::{ConnectionFlags, PlanOptions};
use crate::emulator::{self, EmulatorHandle};
use crate::error::Error;
use crate::inventory::Inventory;
use crate::manifest::{self, LoadOptions, Manifest, Selector};
use crate::plan::{self, Plan, Policy};
use crate::secret::Secret;

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
    /// Resolves the connection (design §4) or starts the built-in emulator. `manifest_project` is
    /// the project the manifests name, which wins over flags and environment.
    pub async fn open(
        flags: &ConnectionFlags,
        manifest_project: Option<&str>,
    ) -> Result<Session, Error> {
        let options = ClientOptions {
            max_attempts: flags.max_attempts,
            rate: flags.rate,
            concurrency: flags.concurrency as usize,
            timeout: std::time::Duration::from_secs(flags.timeout),
            ..ClientOptions::default()
        };
        if flags.emulator {
            return Self::open_emulator(options, manifest_project).await;
        }
        let args = ConnectionArgs {
            endpoint: flags.endpoint.clone(),
            region: flags.region.clone(),
            project_id: flags.project_id.clone(),
            token_file: flags.token_file.clone(),
        };
        let connection =
            Connection::resolve(&args, manifest_project, |name| std::env::var(name).ok())?;
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
pub(crate) struct Loaded {
    pub manifest: Manifest,
    /// The project the manifests name, if any.
    pub project_id: Option<String>,
}

/// Loads manifests, prints their diagnostics, and keeps the documents of one project: the one
/// `--project-id` names, else the only one the manifests name. `Ok(None)` means invalid input whose
/// diagnostics were printed.
pub(crate) fn load(options: &PlanOptions) -> Result<Option<Loaded>, Error> {
    let paths = super::paths_or_cwd(&options.paths);
    let loaded = manifest::load(
        &paths,
        &LoadOptions {
            max_tags: options.max_tags,
        },
    );
    super::print_diagnostics(&loaded.diagnostics);
    if loaded.has_errors() {
        return Ok(None);
    }
    let mut manifest = loaded.manifest;
    let named: BTreeSet<String> = manifest
        .documents
        .iter()
        .filter_map(|d| d.project_id.as_ref().map(|p| p.value.clone()))
        .collect();
    let listed = || {
        named
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match (&options.connection.project_id, named.len()) {
        (Some(flag), _) => Some(flag.clone()),
        (None, 0) => None,
        (None, 1) => named.iter().next().cloned(),
        (None, _) => {
            return Err(Error::Usage(format!(
                "the manifests name {} projects ({}); desktag plans one project per run: pass --project-id to choose one",
                named.len(),
                listed()
            )))
        }
    };
    if let Some(project) = &chosen {
        let before = manifest.documents.len();
        manifest
            .documents
            .retain(|d| d.project_id.as_ref().is_none_or(|p| &p.value == project));
        let skipped = before - manifest.documents.len();
        if before > 0 && manifest.documents.is_empty() {
            return Err(Error::Usage(format!(
                "--project-id `{project}` matches none of the manifests, which name {}; \
                 drop --project-id to use the manifests' project",
                listed()
            )));
        }
        if skipped > 0 {
            tracing::warn!(
                skipped,
                project = %project,
                "skipping manifest documents that name another project"
            );
        }
    }
    // Passed on as "the manifests' project", which wins over flags and environment (design §4);
    // a --project-id the manifests do not name is left to the connection's own resolution.
    let project_id = chosen.filter(|p| named.contains(p));
    Ok(Some(Loaded {
        manifest,
        project_id,
    }))
}

/// The policy of a plan/apply run.
pub(crate) fn policy(options: &PlanOptions) -> Policy {
    Policy {
        max_tags: options.max_tags,
        prune: options.prune,
        ignore_keys: options.ignore_keys.clone(),
        targets: options.targets.iter().cloned().collect(),
        strict: options.strict,
    }
}

/// Checks `--ignore-key` globs before any request.
pub(crate) fn check_ignore_globs(options: &PlanOptions) -> Result<(), Error> {
    // The planner's own matcher, so "valid" means the same here as during planning.
    plan::KeyIgnore::new(&options.ignore_keys)
        .map(drop)
        .map_err(|e| Error::Usage(format!("--ignore-key: {e}")))
}

/// Loads the manifests, connects, reads the inventory and plans, printing every diagnostic on
/// stderr. `Ok(None)` means the manifests or the resolution had errors (already printed).
pub(crate) async fn plan_from(options: &PlanOptions) -> Result<Option<(Session, Plan)>, Error> {
    check_ignore_globs(options)?;
    let Some(loaded) = load(options)? else {
        return Ok(None);
    };
    let session = Session::open(&options.connection, loaded.project_id.as_deref()).await?;
    let inventory = session.inventory(&loaded.manifest).await?;
    let policy = policy(options);
    let resolution = plan::resolve(&loaded.manifest, &inventory, &policy);
    // The manifest is not needed past resolution; freeing it first lowers the peak on large runs.
    drop(loaded);
    // Resolution returns its diagnostics sorted.
    super::print_diagnostics(&resolution.diagnostics);
    if resolution.has_errors() {
        return Ok(None);
    }
    let plan = plan::plan(
        &resolution.wanted,
        &inventory,
        &policy,
        &resolution.ignore,
        &session.project_id,
        &session.endpoint,
    )
    .with_warnings(&resolution.diagnostics);
    Ok(Some((session, plan)))
}
