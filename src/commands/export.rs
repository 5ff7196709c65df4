//! `desktag export`: the current tags of the selected desktops as a version-1 manifest on stdout.

use crate::config;
use crate::error::{Error, Status};
use crate::render::{manifest, messages};
use desktag_api::ManifestScope;

use super::output;
use super::session::Session;

pub(crate) async fn run(config: &config::Export) -> Result<Status, Error> {
    let session = Session::open(&config.service, ManifestScope::default()).await?;
    let ids = &config.ids;
    // Selecting by name needs every name of the project, to tell the unique ones.
    let mut ambiguous = std::collections::BTreeSet::new();
    let desktops = if config.names.is_empty() && !ids.is_empty() && !config.shape.by_name {
        let ids: Vec<String> = ids.iter().cloned().collect();
        session.client.read_desktops(&ids).await?
    } else {
        let all = session.client.list_desktops().await?;
        ambiguous = manifest::ambiguous_names(&all);
        let select_all = config.names.is_empty() && ids.is_empty();
        all.into_iter()
            .filter(|d| select_all || ids.contains(&d.id) || config.names.is_match(&d.name))
            .collect()
    };
    let found: std::collections::BTreeSet<&str> = desktops.iter().map(|d| d.id.as_str()).collect();
    let missing: Vec<&str> = ids
        .iter()
        .map(|id| id.as_str())
        .filter(|id| !found.contains(id))
        .collect();
    output::stdout(|out| {
        let text = manifest::manifest(&session.project_id, &desktops, &config.shape, &ambiguous);
        out.write_all(text.as_bytes())
    })?;
    if !missing.is_empty() {
        return Ok(Status::Failed(messages::missing_desktops(
            &session.project_id,
            &missing,
        )));
    }
    Ok(Status::Success)
}
