//! What plan, apply and export share: choosing the project, connecting (to the service or to an
//! in-process emulator), reading the inventory with batched list calls, and planning.

use std::collections::BTreeSet;

use tracing::Instrument;

use crate::config::{Planning, Service, Target};
use crate::error::Error;
use desktag_api::{
    credentials, Client, ClientOptions, Connection, ConnectionArgs, Credentials, ManifestScope,
};
use desktag_core::diagnostic::Diagnostic;
use desktag_core::inventory::Inventory;
use desktag_core::manifest::{self, LoadOptions, Manifest, ManifestFile, Selector};
use desktag_core::plan::{self, Plan, ProjectFailure, Provenance};
use desktag_core::secret::Secret;
use desktag_emulator::{self as emulator, EmulatorHandle};

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
    /// `scope` is where the manifests say the project lives; its project id wins over flags and
    /// environment.
    pub(crate) async fn open(
        service: &Service,
        scope: ManifestScope<'_>,
    ) -> Result<Session, Error> {
        // A clone shares the run's rate budgets: every project of the run in this region under
        // these credentials draws from one rate, as the service limits per user.
        let options = service.client.clone();
        let args = match &service.target {
            Target::Emulator { .. } => return Self::open_emulator(options, scope.project_id).await,
            Target::Service(args) => args,
        };
        let connected = connect(args, scope, &options).await?;
        let mut options = options;
        if options.decode_denials {
            options.sts_endpoint = Some(connected.sts_endpoint.clone());
        }
        let connection = connected.connection;
        tracing::info!(endpoint = %connection.endpoint, project = %connection.project_id, auth = %connection.credentials.describe(), "connecting");
        let endpoint = connection.endpoint.to_string();
        let project_id = connection.project_id.clone();
        let client = Client::with_keys(connection, connected.keys, options)?;
        Ok(Session {
            client,
            project_id,
            endpoint,
            _emulator: None,
        })
    }

    /// The built-in emulator's session, for `--emulator`.
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
            url::Url::parse(&handle.base_url()).map_err(|e| Error::Emulator(e.into()))?;
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
    pub(crate) async fn inventory(&self, manifest: &Manifest) -> Result<Inventory, Error> {
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

/// Resolves the connection from the flags, the manifests' scope and the environment, runs the
/// credential chain (fetching temporary credentials when the chosen source is one) and looks the
/// project up from the region when no id is given. Logs the source chosen and those passed over.
pub(crate) async fn connect(
    args: &ConnectionArgs,
    scope: ManifestScope<'_>,
    options: &ClientOptions,
) -> Result<credentials::Connected, Error> {
    let resolved = Connection::plan_with(
        args,
        scope,
        |name| std::env::var(name).ok(),
        |path| std::fs::read_to_string(path),
    )?;
    if !resolved.chosen.tried.is_empty() {
        tracing::info!(
            "credential sources passed over: {}",
            credentials::chain::list_tried(&resolved.chosen.tried)
        );
    }
    match &resolved.chosen.choice {
        credentials::Choice::Static(c) => {
            tracing::info!(source = %c.describe(), "credential source")
        }
        credentials::Choice::Fetch(f) => {
            tracing::info!(source = f.origin(), at = %f.location(), "credential source")
        }
    }
    let env = |name: &str| std::env::var(name).ok();
    tracing::info!(proxy = %desktag_api::proxy::route(&resolved.endpoint, &env), "network");
    let fetcher = credentials::Fetcher::new(options)?;
    Ok(credentials::connect(resolved, &fetcher).await?)
}

/// The documents of one project of a run, and where the manifests say it lives.
pub(crate) struct ProjectManifests {
    pub manifest: Manifest,
    /// The project the manifests name, if any (else the connection's: flag or environment).
    pub project_id: Option<String>,
    /// The region the manifests give the project, if any.
    pub region: Option<String>,
}

impl ProjectManifests {
    pub(crate) fn scope(&self) -> ManifestScope<'_> {
        ManifestScope {
            project_id: self.project_id.as_deref(),
            region: self.region.as_deref(),
        }
    }
}

/// Manifests loaded for a run: one or more projects, in project-id order.
pub(crate) struct Loaded {
    pub projects: Vec<ProjectManifests>,
    /// Every file read, with its digest.
    pub files: Vec<ManifestFile>,
}

/// Which projects a run plans, from `--project-id` and the projects the manifests name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProjectChoice {
    /// Neither the flag nor the manifests name one: the connection decides (environment).
    Unnamed,
    /// This project; `named` says whether the manifests name it (then it wins over the
    /// environment), and documents of other projects are skipped.
    Chosen { project: String, named: bool },
    /// Every project the manifests name (two or more, each document naming its own).
    All,
}

/// Chooses the projects: `--project-id` when given and named by a manifest (or when the
/// manifests name none), else every project the manifests name. Documents that name no project
/// beside several that do, or a flag no manifest names when they all name one, are usage errors.
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
                     drop --project-id to use the manifests' projects",
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
        (None, n) if unnamed_documents => Err(Error::Usage(format!(
            "the manifests name {n} projects ({}) and also hold documents that name none, \
             which would belong to no one project: write `project_id` in every document, \
             or pass --project-id to plan one project",
            listed()
        ))),
        (None, _) => Ok(ProjectChoice::All),
    }
}

/// Says how many files desktag.toml left out (outside its `paths`, or excluded).
pub(crate) fn log_skipped(skipped: usize) {
    if skipped > 0 {
        tracing::info!(
            skipped,
            "files outside desktag.toml's `paths` or matching its `exclude` were not read"
        );
    }
}

/// Loads manifests, prints their diagnostics, and splits the documents by project.
/// `Ok(Err(errors))` means invalid input whose diagnostics were printed.
pub(crate) fn load(planning: &Planning) -> Result<Result<Loaded, usize>, Error> {
    let loaded = manifest::load(
        &planning.paths,
        &LoadOptions {
            max_tags: planning.policy.max_tags,
            scope: planning.scope.clone(),
            env_allow: planning.env_allow.clone(),
        },
    );
    log_skipped(loaded.skipped);
    output::diagnostics(&loaded.diagnostics);
    if loaded.has_errors() {
        return Ok(Err(loaded
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .count()));
    }
    let manifest = loaded.manifest;
    let files = loaded.files;
    let named: BTreeSet<String> = manifest
        .projects()
        .into_iter()
        .map(str::to_string)
        .collect();
    let unnamed_documents = manifest.documents.iter().any(|d| d.project_id.is_none());
    let choice = choose_project(planning.service.project_flag(), &named, unnamed_documents)?;
    let total = manifest.documents.len();
    // Each project the run plans with its documents; `None`: the connection's project (flag or
    // environment), with the documents that name no project.
    let one = |mut manifest: Manifest, project: Option<String>| {
        manifest.retain_project(project.as_deref());
        vec![(project, manifest)]
    };
    let split = match choice {
        ProjectChoice::Unnamed | ProjectChoice::Chosen { named: false, .. } => one(manifest, None),
        ProjectChoice::Chosen {
            project,
            named: true,
        } => one(manifest, Some(project)),
        ProjectChoice::All => manifest.by_project(),
    };
    let projects: Vec<ProjectManifests> = split
        .into_iter()
        .map(|(project_id, manifest)| ProjectManifests {
            region: project_id
                .as_deref()
                .and_then(|p| manifest.region_of(p))
                .map(str::to_string),
            manifest,
            project_id,
        })
        .collect();
    if let [only] = projects.as_slice() {
        let skipped = total - only.manifest.documents.len();
        if skipped > 0 {
            let project = only
                .project_id
                .as_deref()
                .or(planning.service.project_flag())
                .unwrap_or_default();
            tracing::warn!(
                skipped,
                project = %project,
                "skipping manifest documents that name another project"
            );
        }
    }
    check_one_endpoint_for_many_regions(planning, &projects)?;
    Ok(Ok(Loaded { projects, files }))
}

/// `--endpoint` (or `DESKTAG_ENDPOINT`) sends every project to one URL; when the manifests place
/// the run's projects in different regions, that is a mistake, not a choice.
fn check_one_endpoint_for_many_regions(
    planning: &Planning,
    projects: &[ProjectManifests],
) -> Result<(), Error> {
    let regions: BTreeSet<&str> = projects
        .iter()
        .filter_map(|p| p.region.as_deref())
        .collect();
    if regions.len() < 2 {
        return Ok(());
    }
    let Target::Service(args) = &planning.service.target else {
        return Ok(());
    };
    let Some(from) = desktag_api::pinned_endpoint(args, |name| std::env::var(name).ok()) else {
        return Ok(());
    };
    let listed: Vec<String> = regions.iter().map(|r| format!("`{r}`")).collect();
    Err(Error::Usage(format!(
        "{from} points every project at one URL, but the manifests place the projects in regions {}; \
         drop {from} to use each region's endpoint, set HUAWEICLOUD_SDK_REGION_WORKSPACE_<REGION> \
         per region, or pass --project-id to run one project",
        listed.join(", ")
    )))
}

/// The span that names the project on every log line of its part of a run over several
/// projects; none for a run over one, whose log lines stay as they were.
pub(crate) fn project_span(project_id: Option<&str>, several: bool) -> tracing::Span {
    match project_id {
        Some(id) if several => tracing::info_span!("project", id = %id),
        _ => tracing::Span::none(),
    }
}

/// One project planned: its connection and its plan.
pub(crate) struct Planned {
    pub session: Session,
    pub plan: Plan,
}

/// The projects a run planned, and those it could not (a run over several projects goes on
/// without a project that cannot be reached or read, unless `--fail-fast`).
pub(crate) struct Run {
    pub planned: Vec<Planned>,
    pub failed: Vec<ProjectFailure>,
}

/// Loads the manifests and plans every project they name, concurrently (each project with its
/// own connection and request rate), printing every diagnostic on stderr in project order.
/// `Ok(Err(errors))` means the manifests or a resolution had that many errors (already printed).
/// In a run over several projects, one that cannot be reached or read is a [`ProjectFailure`]
/// and the others are planned; with `--fail-fast` (and in a run over one project) it is the
/// error. Desktops in each plan are sorted by name, then id, as a reviewer reads them.
pub(crate) async fn plan_from(planning: &Planning) -> Result<Result<Run, usize>, Error> {
    let loaded = match load(planning)? {
        Ok(loaded) => loaded,
        Err(errors) => return Ok(Err(errors)),
    };
    // The environment the templates read, captured once: planning itself stays pure.
    let mut policy = planning.policy.clone();
    let mut names = BTreeSet::new();
    for project in &loaded.projects {
        names.extend(project.manifest.env_names());
    }
    policy.env = environment(names, &planning.env_allow);
    let made_from = Provenance {
        manifests: loaded.files,
        ignore_keys: policy.ignore_keys.clone(),
        targets: policy.targets.iter().cloned().collect(),
        env: policy.env.clone(),
        attributes: Default::default(),
    };
    let several = loaded.projects.len() > 1;
    let ids: Vec<String> = loaded
        .projects
        .iter()
        .map(|p| p.project_id.clone().unwrap_or_default())
        .collect();
    let runs = futures::future::join_all(loaded.projects.into_iter().map(|project| {
        let span = project_span(project.project_id.as_deref(), several);
        plan_project(planning, &policy, &made_from, project).instrument(span)
    }))
    .await;
    let mut failed = Vec::new();
    let mut ok = Vec::with_capacity(runs.len());
    for (project_id, run) in ids.into_iter().zip(runs) {
        match run {
            Ok(run) => ok.push(run),
            Err(failure) if several && !planning.fail_fast => {
                let error = crate::error::chain(&failure.error);
                tracing::error!(
                    project = %project_id,
                    endpoint = failure.endpoint.as_deref().unwrap_or("-"),
                    %error,
                    "the project cannot be planned; the others go on"
                );
                failed.push(ProjectFailure {
                    project_id,
                    endpoint: failure.endpoint,
                    error,
                });
            }
            Err(failure) => return Err(failure.error),
        }
    }
    let mut runs = ok;
    let mut diagnostics: Vec<Vec<Diagnostic>> =
        runs.iter_mut().map(|(d, _)| std::mem::take(d)).collect();
    drop_targets_matched_elsewhere(&mut diagnostics);
    let mut planned = Vec::with_capacity(runs.len());
    let mut errors = 0;
    for ((_, outcome), diagnostics) in runs.into_iter().zip(diagnostics) {
        // Resolution returns its diagnostics sorted.
        output::diagnostics(&diagnostics);
        match outcome {
            Some(mut p) => {
                p.plan = p.plan.with_warnings(&diagnostics);
                annotate_policy_warnings(&p.plan);
                planned.push(p);
            }
            None => errors += diagnostics.iter().filter(|d| d.is_error()).count(),
        }
    }
    Ok(if errors > 0 {
        Err(errors)
    } else {
        Ok(Run { planned, failed })
    })
}

/// In a GitHub Actions job, what breaks an `enforce: warn` policy is a warning annotation too
/// (one per desktop), as the manifests' own violations of it are: the plan lists them either way.
fn annotate_policy_warnings(plan: &Plan) {
    if !super::github::annotating() {
        return;
    }
    let warnings: Vec<Diagnostic> = plan
        .desktops
        .iter()
        .filter(|d| !d.policy_warnings.is_empty())
        .map(|d| {
            let name = if d.name.is_empty() {
                &d.desktop_id
            } else {
                &d.name
            };
            Diagnostic::warning(
                desktag_core::diagnostic::Code::Policy,
                format!(
                    "desktop `{}` ({}) breaks the policy (enforce: warn): {}",
                    name.escape_debug(),
                    d.desktop_id.escape_debug(),
                    d.policy_warnings.join("; ")
                ),
            )
        })
        .collect();
    output::diagnostics(&warnings);
}

/// Why one project of a run could not be planned, and where it was tried.
struct ProjectError {
    endpoint: Option<String>,
    error: Error,
}

/// The values of the environment variables `names` that templates may read (`DESKTAG_VAR_*` and
/// desktag.toml's `env`, `allow`: the loader refuses other names, and this is the second line),
/// captured once so planning stays pure. A name that is not set is absent.
pub(crate) fn environment(
    names: impl IntoIterator<Item = String>,
    allow: &[String],
) -> std::collections::BTreeMap<String, String> {
    names
        .into_iter()
        .filter(|name| desktag_core::template::may_read_env(name, allow))
        .filter_map(|name| std::env::var(&name).ok().map(|v| (name, v)))
        .collect()
}

/// In a run over several projects, a `--target` is unmatched only when no project matches it:
/// its warning is kept once (in the first project) when every project gives it, and dropped
/// when some project matched it.
fn drop_targets_matched_elsewhere(runs: &mut [Vec<Diagnostic>]) {
    if runs.len() < 2 {
        return;
    }
    let unmatched = |d: &Diagnostic| d.code == desktag_core::diagnostic::Code::UnmatchedTarget;
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for run in runs.iter() {
        for d in run.iter().filter(|d| unmatched(d)) {
            *counts.entry(d.message.clone()).or_default() += 1;
        }
    }
    let everywhere = runs.len();
    for (i, run) in runs.iter_mut().enumerate() {
        run.retain(|d| !unmatched(d) || (i == 0 && counts[&d.message] == everywhere));
    }
}

/// Connects, reads the inventory and plans one project. The plan is `None` when resolution had
/// errors (in the diagnostics returned); otherwise it has no warnings yet.
async fn plan_project(
    planning: &Planning,
    policy: &plan::Policy,
    made_from: &Provenance,
    project: ProjectManifests,
) -> Result<(Vec<Diagnostic>, Option<Planned>), ProjectError> {
    let session = Session::open(&planning.service, project.scope())
        .await
        .map_err(|error| ProjectError {
            endpoint: None,
            error,
        })?;
    let inventory = match session.inventory(&project.manifest).await {
        Ok(inventory) => inventory,
        Err(error) => {
            return Err(ProjectError {
                endpoint: Some(session.endpoint.clone()),
                error,
            })
        }
    };
    let resolution = plan::resolve(&project.manifest, &inventory, policy);
    let region = project.region;
    // The manifest is not needed past resolution; freeing it first lowers the peak on large runs.
    drop(project.manifest);
    if resolution.has_errors() {
        return Ok((resolution.diagnostics, None));
    }
    // Its warnings are added by the caller, which sees every project's. Planning takes the
    // wanted states and the inventory: the desktops' tags move into the plan.
    let place = plan::Place {
        project_id: &session.project_id,
        endpoint: &session.endpoint,
    };
    let (mut plan, uses) = plan::plan_all(
        resolution.wanted,
        inventory,
        policy,
        &resolution.keys,
        place,
    );
    let mut made_from = made_from.clone();
    // Only values some desktop of this project takes: a value no tag takes stays out of the file.
    made_from.env.retain(|name, _| uses.env.contains(name));
    made_from.attributes = uses.attributes;
    plan.made_from = Some(made_from);
    plan.region = region;
    sort_for_review(&mut plan);
    Ok((resolution.diagnostics, Some(Planned { session, plan })))
}

/// Orders a plan's desktops by name, then id.
pub(crate) fn sort_for_review(plan: &mut Plan) {
    desktag_core::inventory::sort_by_name(&mut plan.desktops);
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
    fn a_target_is_unmatched_only_when_no_project_matches_it() {
        let warning = |t: &str| {
            Diagnostic::warning(
                desktag_core::diagnostic::Code::UnmatchedTarget,
                format!("--target `{t}` matches no desktop a manifest entry selects"),
            )
        };
        let other = Diagnostic::warning(desktag_core::diagnostic::Code::NoDesktops, "x");
        let mut runs = vec![
            vec![warning("a"), warning("b"), other.clone()],
            vec![warning("b"), other.clone()],
        ];
        drop_targets_matched_elsewhere(&mut runs);
        assert_eq!(runs[0], vec![warning("b"), other.clone()]);
        assert_eq!(runs[1], vec![other.clone()]);
        // One project: untouched.
        let mut one = vec![vec![warning("a")]];
        drop_targets_matched_elsewhere(&mut one);
        assert_eq!(one, vec![vec![warning("a")]]);
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
    fn several_named_projects_are_all_planned_unless_the_flag_picks_one() {
        let projects = named(&["p1", "p2"]);
        assert_eq!(
            choose_project(Some("p2"), &projects, false).unwrap(),
            chosen("p2", true)
        );
        assert_eq!(
            choose_project(None, &projects, false).unwrap(),
            ProjectChoice::All
        );
        let err = choose_project(None, &projects, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("name 2 projects (`p1`, `p2`) and also hold documents that name none"),
            "{err}"
        );
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
