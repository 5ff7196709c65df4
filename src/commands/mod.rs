//! The commands of design §5, joining the pure core to the edges: files, the API client, the
//! terminal. Each command returns a `Status` or an `Error`; `main` turns either into the exit code.

mod apply;
mod export;
mod plan;
mod session;
mod validate;

use crate::cli::{Cli, ColorChoice, Command};
use crate::error::{Error, Status};

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<Status, Error> {
    let color = use_color(
        cli.global.color,
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
    );
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => runtime()?.block_on(plan::run(&args, color)),
        Command::Apply(args) => runtime()?.block_on(apply::run(&args, color)),
        Command::Export(args) => runtime()?.block_on(export::run(&args)),
        Command::Emulator(args) => {
            runtime()?
                .block_on(crate::emulator::run(args))
                .map_err(|e| Error::Emulator(e.into()))?;
            Ok(Status::Success)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

/// Whether to colour a stream: `always`, `never`, or on a terminal when NO_COLOR is unset.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// `.` when no path was given.
fn paths_or_cwd(paths: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    if paths.is_empty() {
        vec![std::path::PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// Prints diagnostics on stderr, one block each.
fn print_diagnostics(diagnostics: &[crate::diagnostic::Diagnostic]) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(err, "{d}");
    }
}

/// Writes an output file (plan, report) atomically.
fn write_atomic(path: &std::path::Path, contents: &[u8]) -> Result<(), Error> {
    crate::atomic_file::write(path, contents, ".desktag-").map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Fails early, before any request, when `path` cannot be written the way `write_atomic` will
/// write it, so a long apply does not end with its report lost.
fn check_writable(path: &std::path::Path) -> Result<(), Error> {
    crate::atomic_file::check_writable(path).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Appends to a file named by an environment variable (GitHub's step summary and outputs).
fn append_to_env_file(variable: &str, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    let Some(path) = std::env::var_os(variable).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    let path = std::path::PathBuf::from(path);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    file.write_all(contents.as_bytes())
        .map_err(|source| Error::Write { path, source })
}

/// Writes to stdout, mapping a failure (e.g. a closed pipe) to an error.
fn stdout_write(
    f: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    f(&mut out)
        .and_then(|()| std::io::Write::flush(&mut out))
        .map_err(|source| Error::Write {
            path: "<stdout>".into(),
            source,
        })
}
