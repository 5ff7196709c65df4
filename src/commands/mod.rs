//! The commands, joining the pure core to the edges: files, the API client, the terminal. Each
//! runs on its part of the resolved [`Config`] and returns a `Status` or an `Error`; `main` turns
//! either into the exit code and the last stderr line.

mod apply;
mod check;
mod doctor;
mod export;
mod github;
mod observe;
mod output;
mod plan;
mod reference;
mod session;
mod validate;

use crate::config::{Command, Config};
use crate::error::{Error, Status};

pub(crate) use output::{last_line, set_console, Console, Level};

/// Writes the last stderr line of a run that ended with `status` (none for a plain success).
pub(crate) fn finish(status: &Status) {
    let level = match status {
        Status::Success | Status::Changes(_) => Level::Info,
        Status::Blocked(_) => Level::Warn,
        Status::Failed(_) => Level::Error,
    };
    if let Some(line) = status.last_line() {
        last_line(level, &crate::render::messages::terminal_line(&line));
    }
}

/// Writes the last stderr line of a run that stopped with `error`, with its whole cause chain.
pub(crate) fn fail(error: &Error) {
    // A desktag.toml's problems, each with its location, before the one line that sums up.
    if let Error::Config { diagnostics, .. } = error {
        for d in diagnostics {
            last_line(
                Level::Error,
                &crate::render::messages::terminal_line(&d.to_string()),
            );
        }
    }
    let line = format!("error: {}", crate::error::chain(error));
    last_line(Level::Error, &crate::render::messages::terminal_line(&line));
}

/// The JSON Schema of manifests, as documented in `docs/manifest.schema.json`.
pub(crate) const MANIFEST_SCHEMA: &str = include_str!("../../docs/manifest.schema.json");
/// The JSON Schema of the plan document (`format_version: 2`), `docs/plan.schema.json`.
pub(crate) const PLAN_SCHEMA: &str = include_str!("../../docs/plan.schema.json");
/// The JSON Schema of the apply report (`format_version: 2`), `docs/report.schema.json`.
pub(crate) const REPORT_SCHEMA: &str = include_str!("../../docs/report.schema.json");

/// The JSON Schema of `desktag.toml`, as documented in `docs/config.schema.json`.
pub(crate) const CONFIG_SCHEMA: &str = include_str!("../../docs/config.schema.json");

/// Runs one resolved command line.
pub(crate) fn run(config: Config) -> Result<Status, Error> {
    match config.command {
        Command::Validate(validate) => validate::run(&validate),
        Command::Plan(plan) => client_runtime()?.block_on(plan::run(&plan)),
        Command::Apply(apply) => client_runtime()?.block_on(apply::run(&apply)),
        Command::Export(export) => client_runtime()?.block_on(export::run(&export)),
        Command::Check(check) => client_runtime()?.block_on(check::run(&check)),
        Command::Doctor(doctor) => client_runtime()?.block_on(doctor::run(&doctor)),
        Command::Schema(kind) => {
            let schema = match kind {
                crate::config::Schema::Manifest => MANIFEST_SCHEMA,
                crate::config::Schema::Config => CONFIG_SCHEMA,
                crate::config::Schema::Plan => PLAN_SCHEMA,
                crate::config::Schema::Report => REPORT_SCHEMA,
            };
            output::stdout(|out| out.write_all(schema.as_bytes()))?;
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

/// The emulator's runtime: a server, on every core.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

/// The client commands' runtime: one thread. Their work is waiting on the service (a few
/// requests in flight, paced to its limit) and planning, which is one thread's work anyway; and
/// with one thread the allocator keeps one heap, where worker threads each kept one of their
/// own and the memory freed in them (planning 100,000 desktops peaked at 225 MB, not 166 MB).
fn client_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}
