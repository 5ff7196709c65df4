//! The crate error and the one place where exit codes are decided. Each code has one meaning
//! for `plan` and `apply` alike: 0 done or nothing to do; 1 an error (invalid input, auth, a stale
//! plan, a failed or unverified change, a run stopped by a signal or `--deadline`); 2 changes,
//! with `--detailed-exitcode`; 3 blocked desktops, everything else planned or applied. When
//! several hold, 1 beats 3 beats 2 beats 0. A second Ctrl-C (or SIGTERM) during `apply`, or one
//! at its confirmation prompt, exits at once with [`EXIT_INTERRUPTED`] (130).

use std::path::PathBuf;
use std::process::ExitCode;

/// The exit code of an `apply` stopped by a second interrupt, without a report: 128 + SIGINT, as
/// shells report a process killed by Ctrl-C.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Exits at once with [`EXIT_INTERRUPTED`], after the caller printed why as the last stderr
/// line: a second interrupt, or one at the confirmation prompt (nothing was written).
pub(crate) fn exit_interrupted() -> ! {
    std::process::exit(i32::from(EXIT_INTERRUPTED))
}

/// How a command ended when it did not fail outright, with the reason a non-zero exit gives on
/// its last stderr line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// Done, or nothing to do.
    Success,
    /// Changes were planned or applied and `--detailed-exitcode` asked to be told (exit 2).
    Changes(String),
    /// Desktops were blocked; everything else went through (exit 3).
    Blocked(String),
    /// The command ran to the end but something it reports failed: invalid manifests, failed
    /// or unverified changes, desktops `export` did not find (exit 1).
    Failed(String),
}

/// What a plan or apply run ended with, counted for [`Status::of_run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunTally {
    /// `apply` (changes were written) rather than `plan`.
    pub applied: bool,
    /// Desktops whose changes failed or could not be verified.
    pub failed: usize,
    /// Projects of a run over several that could not be planned or applied.
    pub failed_projects: Vec<String>,
    /// Names of the blocked desktops.
    pub blocked: Vec<String>,
    /// Changes planned (plan) or applied (apply).
    pub changes: usize,
    pub detailed_exitcode: bool,
}

impl Status {
    /// Decides how a plan or apply run ends: failed beats blocked beats changes beats success.
    pub(crate) fn of_run(tally: &RunTally) -> Status {
        use crate::render::messages;
        if !tally.failed_projects.is_empty() {
            Status::Failed(messages::failed_projects(
                &tally.failed_projects,
                tally.failed,
                tally.applied,
            ))
        } else if tally.failed > 0 {
            Status::Failed(messages::failed_desktops(tally.failed))
        } else if !tally.blocked.is_empty() {
            Status::Blocked(messages::blocked_desktops(&tally.blocked, tally.applied))
        } else if tally.changes > 0 && tally.detailed_exitcode {
            Status::Changes(messages::changes(tally.changes, tally.applied))
        } else {
            Status::Success
        }
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Status::Success => ExitCode::SUCCESS,
            Status::Failed(_) => ExitCode::from(1),
            Status::Changes(_) => ExitCode::from(2),
            Status::Blocked(_) => ExitCode::from(3),
        }
    }

    /// The line a non-zero exit ends with on stderr.
    pub(crate) fn last_line(&self) -> Option<String> {
        match self {
            Status::Success => None,
            Status::Changes(why) => Some(format!("note: {why}")),
            Status::Blocked(why) => Some(format!("warning: {why}")),
            Status::Failed(why) => Some(format!("error: {why}")),
        }
    }
}

/// Everything that stops a command. Messages are lowercase and name what the user typed; the
/// cause is kept as `#[source]` and `main` prints the whole chain. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An invalid `desktag.toml`; `main` prints the diagnostics before the last line.
    #[error("{} is not a valid desktag config ({} {})", path.display(), diagnostics.len(), crate::render::plural(diagnostics.len(), "problem", "problems"))]
    Config {
        path: PathBuf,
        diagnostics: Vec<desktag_core::diagnostic::Diagnostic>,
    },
    #[error("{} is not a usable desktag plan: {message}", path.display())]
    BadPlan { path: PathBuf, message: String },
    /// A refusal with its reason: stale plan, missing confirmation, invalid manifests…
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Connection(#[from] desktag_api::ConnectionError),
    #[error(transparent)]
    Api(#[from] desktag_api::ApiError),
    /// `desktag emulator` or `--emulator` could not start or stopped; the emulator keeps its own
    /// error type, converted at the command edge, so this module does not depend on it.
    #[error(transparent)]
    Emulator(Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The confirmation prompt's reader stopped before it read an answer.
    #[error("cannot read the answer")]
    Prompt(#[source] tokio::task::JoinError),
}

impl Error {
    /// The process exit code for this error: every error is 1, so that 2 and 3 keep their one
    /// meaning.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }
}

pub(crate) use desktag_core::error_chain::chain;
