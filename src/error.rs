//! The crate error and the one place where exit codes are decided (design §5): 0 success or
//! nothing to do, 1 any error, 2 only for `plan --detailed-exitcode` with changes.

use std::path::PathBuf;
use std::process::ExitCode;

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, or nothing to do.
    Success,
    /// `plan --detailed-exitcode` found changes.
    Changes,
    /// The command ran to the end but something it reports failed (invalid manifests, blocked or
    /// failed desktops). The details were already printed.
    Failed,
}

impl Status {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::Success => ExitCode::SUCCESS,
            Status::Changes => ExitCode::from(2),
            Status::Failed => ExitCode::from(1),
        }
    }
}

/// Everything that stops a command. Messages are lowercase and name what the user typed; the
/// cause is kept as `#[source]` and `main` prints the whole chain. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    #[error("{} is not a usable desktag plan: {message}", path.display())]
    BadPlan { path: PathBuf, message: String },
    /// A refusal with its reason: stale plan, missing confirmation, invalid manifests…
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Connection(#[from] crate::api::ConnectionError),
    #[error(transparent)]
    Api(#[from] crate::api::ApiError),
    /// `desktag emulator` or `--emulator` could not start or stopped; the emulator keeps its own
    /// error type, converted at the command edge, so this module does not depend on it.
    #[error(transparent)]
    Emulator(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The process exit code for this error: every error is 1, so that 2 keeps its one meaning.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }
}

pub use crate::error_chain::chain;
