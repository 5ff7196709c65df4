//! `desktag export`: the current tags of the selected desktops as a version-1 manifest, on stdout
//! or (`--out-dir`) one file per project. The projects and their regions come from
//! `--project-id` or the environment, else from desktag.toml's `[[projects]]`.

use std::collections::BTreeSet;

use crate::config;
use crate::error::{Error, Status};
use crate::render::{manifest, messages};
use desktag_api::ManifestScope;
use desktag_core::inventory::Desktop;

use super::output;
use super::session::Session;

pub(crate) async fn run(config: &config::Export) -> Result<Status, Error> {
    let targets = targets(config)?;
    if let Some(dir) = &config.out_dir {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
    }
    let mut found = BTreeSet::new();
    let mut last_project = String::new();
    for (project, region) in &targets {
        let scope = ManifestScope {
            project_id: project.as_deref(),
            region: region.as_deref(),
        };
        let session = Session::open(&config.service, scope).await?;
        let (desktops, ambiguous) = read(config, &session).await?;
        found.extend(desktops.iter().map(|d| d.id.clone()));
        let shape = manifest::Shape {
            region: region.clone(),
            ..config.shape.clone()
        };
        let text = manifest::manifest(&session.project_id, &desktops, &shape, &ambiguous);
        match &config.out_dir {
            Some(dir) => {
                let path = dir.join(format!("{}.yaml", session.project_id));
                output::write_atomic(&path, text.as_bytes())?;
                tracing::info!(path = %path.display(), desktops = desktops.len(), "exported");
            }
            None => output::stdout(|out| out.write_all(text.as_bytes()))?,
        }
        last_project = session.project_id;
    }
    let missing: Vec<&str> = config
        .ids
        .iter()
        .map(String::as_str)
        .filter(|id| !found.contains(*id))
        .collect();
    if !missing.is_empty() {
        let project = match targets.len() {
            1 => last_project,
            n => format!("any of the {n} projects"),
        };
        return Ok(Status::Failed(messages::missing_desktops(
            &project, &missing,
        )));
    }
    Ok(Status::Success)
}

/// The projects to export, each with its region: `None` for the one the flags or environment
/// give. `--project-id` (or the environment, when desktag.toml names none) is one project;
/// otherwise every project desktag.toml names, which takes `--out-dir` when they are several.
type Targets = Vec<(Option<String>, Option<String>)>;

fn targets(config: &config::Export) -> Result<Targets, Error> {
    let region_of = |project: &str| {
        config
            .projects
            .iter()
            .find(|(p, _)| p == project)
            .and_then(|(_, r)| r.clone())
    };
    if let Some(project) = config.service.project_flag() {
        return Ok(vec![(Some(project.to_string()), region_of(project))]);
    }
    match config.projects.len() {
        0 => Ok(vec![(None, None)]),
        1 => Ok(vec![(
            Some(config.projects[0].0.clone()),
            config.projects[0].1.clone(),
        )]),
        _ if config.out_dir.is_some() => Ok(config
            .projects
            .iter()
            .map(|(p, r)| (Some(p.clone()), r.clone()))
            .collect()),
        n => Err(Error::Usage(format!(
            "desktag.toml names {n} projects ({}): pass --out-dir DIR for one file per project, \
             or --project-id ID for one on stdout",
            config
                .projects
                .iter()
                .map(|(p, _)| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The selected desktops of the session's project, and the names that are not unique in it.
async fn read(
    config: &config::Export,
    session: &Session,
) -> Result<(Vec<Desktop>, BTreeSet<String>), Error> {
    let ids = &config.ids;
    // Selecting by name needs every name of the project, to tell the unique ones.
    if config.names.is_empty() && !ids.is_empty() && !config.shape.by_name {
        let ids: Vec<String> = ids.iter().cloned().collect();
        let desktops = session.client.read_desktops(&ids).await;
        return Ok((desktops?, BTreeSet::new()));
    }
    let all = session.client.list_desktops().await?;
    let ambiguous = manifest::ambiguous_names(&all);
    let select_all = config.names.is_empty() && ids.is_empty();
    let desktops = all
        .into_iter()
        .filter(|d| select_all || ids.contains(&d.id) || config.names.is_match(&d.name))
        .collect();
    Ok((desktops, ambiguous))
}
