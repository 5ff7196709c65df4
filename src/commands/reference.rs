//! `desktag completions SHELL` and `desktag man`: generated from the clap definitions, so they
//! always list the flags the binary has.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Status};

use super::output;

/// The completion script for `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Status, Error> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "desktag", &mut script);
    output::stdout(|out| out.write_all(&script))?;
    Ok(Status::Success)
}

/// `desktag.1` on stdout, or every page (`desktag.1`, `desktag-plan.1`, …) written into `dir`.
pub(crate) fn man(dir: Option<&Path>) -> Result<Status, Error> {
    let command = Cli::command();
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .expect("rendering into memory does not fail");
            output::stdout(|out| out.write_all(&page))?;
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::Usage(format!(
                    "--dir {}: not a directory (create it first)",
                    dir.display()
                )));
            }
            clap_mangen::generate_to(command, dir).map_err(|e| Error::Write {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
    }
    Ok(Status::Success)
}
