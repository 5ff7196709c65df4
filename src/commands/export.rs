//! `desktag export`: the current tags of the selected desktops as a version-1 manifest on stdout.

use std::collections::BTreeSet;

use crate::cli::ExportArgs;
use crate::error::{Error, Status};

use super::session::Session;

pub async fn run(args: &ExportArgs) -> Result<Status, Error> {
    let mut globs = globset::GlobSetBuilder::new();
    for name in &args.names {
        // The same matching as manifest name globs: only `*` and `?` are special.
        let glob =
            crate::glob::name_glob(name).map_err(|e| Error::Usage(format!("--name: {e}")))?;
        globs.add(glob);
    }
    let globs = globs
        .build()
        .map_err(|e| Error::Usage(format!("--name globs: {e}")))?;
    let session = Session::open(&args.connection, None).await?;
    let ids: BTreeSet<&String> = args.ids.iter().collect();
    let desktops = if args.names.is_empty() && !ids.is_empty() {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        session.client.read_desktops(&ids).await?
    } else {
        let all = session.client.list_desktops().await?;
        let select_all = args.names.is_empty() && ids.is_empty();
        all.into_iter()
            .filter(|d| select_all || ids.contains(&d.id) || globs.is_match(&d.name))
            .collect()
    };
    let found: BTreeSet<&String> = desktops.iter().map(|d| &d.id).collect();
    let missing: Vec<&&String> = ids.iter().filter(|id| !found.contains(**id)).collect();
    super::stdout_write(|out| {
        out.write_all(crate::export::manifest(&session.project_id, &desktops).as_bytes())
    })?;
    if !missing.is_empty() {
        eprintln!(
            "error: {} desktop id(s) not found in project `{}`: {}",
            missing.len(),
            session.project_id,
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(Status::Failed);
    }
    Ok(Status::Success)
}
