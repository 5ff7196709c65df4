//! The commands, joining the pure core to the edges: files, the API client, the terminal. Each
//! runs on its part of the resolved [`Config`] and returns a `Status` or an `Error`; `main` turns
//! either into the exit code and the last stderr line.

mod apply;
mod check;
mod export;
mod github;
mod output;
mod plan;
mod reference;
mod session;
mod validate;

use crate::config::{Command, Config};
use crate::error::{Error, Status};

/// The JSON Schema of manifests, as documented in `docs/manifest.schema.json`.
pub(crate) const MANIFEST_SCHEMA: &str = include_str!("../../docs/manifest.schema.json");

/// Runs one resolved command line.
pub(crate) fn run(config: Config) -> Result<Status, Error> {
    match config.command {
        Command::Validate(validate) => validate::run(&validate),
        Command::Plan(plan) => runtime()?.block_on(plan::run(&plan)),
        Command::Apply(apply) => runtime()?.block_on(apply::run(&apply)),
        Command::Export(export) => runtime()?.block_on(export::run(&export)),
        Command::Check(check) => runtime()?.block_on(check::run(&check)),
        Command::Schema => {
            output::stdout(|out| out.write_all(MANIFEST_SCHEMA.as_bytes()))?;
            Ok(Status::Success)
        }
        Command::Completions(shell) => reference::completions(shell),
        Command::Man(dir) => reference::man(dir.as_deref()),
        Command::Emulator(args) => {
            runtime()?
                .block_on(desktag_emulator::run(*args))
                .map_err(|e| Error::Emulator(e.into()))?;
            Ok(Status::Success)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}
