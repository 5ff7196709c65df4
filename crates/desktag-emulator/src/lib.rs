//! The local emulator of the Workspace tag API: the real paths, bodies, status codes and error
//! shapes, the tag rules and cap, AK/SK or token auth, one or several projects (each with its own
//! desktops, under one rate limit per credential), injected faults, a bounded request log, and an
//! optional state file. `app` is the router (for `oneshot` tests), `spawn` serves it on a socket,
//! `command::run` is `desktag emulator`. Never talks to anything but its own clients.
//!
//! Fenced: it uses only the shared tag rules (`desktag_core::tags`), the pure signer
//! (`desktag_api::sign`), `desktag_core::secret`, `desktag_api::token_bucket`,
//! `desktag_core::atomic_file`, `desktag_core::yaml` and its own wire types. Only the `desktag
//! emulator` command (flags embedded by `cli`, carried by `config`, started by `commands`) and
//! `--emulator` (`commands::session`) use it; `tests/it/layers.rs` checks both directions
//! (docs/ARCHITECTURE.md, "Crates and layers").
//!
//! Emulated APIs: `GET /v2/{pid}/desktops` (`offset`, `limit` 0..=1000, repeated `desktop_id` ≤100,
//! `computer_name` exact match, `user_name` substring, `status` exact; desktops sorted by id),
//! `GET|POST /v2/{pid}/desktops/{id}/tags`, `DELETE …/tags/{key}`, `POST …/tags/action`,
//! `POST|DELETE /v2/{pid}/desktops/batch-tags` (≤100 desktops, ≤20 tags each, unknown ids left
//! out, all or nothing; `BatchCap` chooses what a desktop pushed past the cap does).
//!
//! Identity APIs (`identity`): `POST /v3.0/OS-AUTH/id-token/tokens` and
//! `POST /v3.0/OS-CREDENTIAL/securitytokens` (OIDC), `POST /v1/pod-identity/credentials` (CCE Pod
//! Identity), `PUT /meta-data/latest/api/token` and `GET /openstack/latest/securitykey` (ECS
//! metadata), `GET /actions/id-token` (a stand-in for the GitHub Actions runner), the signed
//! `GET /v3/projects?name=` and STS `POST /v5/decode-authorization-message`. Temporary keys are
//! accepted by the tag API until they expire; actions in `Identity::deny` are refused with a 403
//! carrying `error_detail` and an `encoded_authorization_message` that the STS endpoint decodes.

// `pub` is for what another crate uses; everything else is `pub(crate)`, so dead code warns.
#![warn(unreachable_pub)]

mod auth;
pub(crate) mod command;
mod errors;
mod faults;
mod identity;
mod persist;
mod routes;
mod seed;
mod server;
mod service;
mod store;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

pub use auth::{Auth, MAX_CLOCK_SKEW};
pub use command::{run, BatchCapArg, EmulatorArgs};
pub use errors::{
    BAD_REQUEST, DESKTOP_NOT_FOUND, EMPTY_BODY, GW_AUTH, GW_BAD_REQUEST, GW_EXPIRED, GW_NO_API,
    GW_THROTTLED, INTERNAL, INVALID_TAG, PROJECT_NOT_FOUND, TAG_CAP,
};
pub use faults::{Clock, Faults, Gate, ManualClock, DEFAULT_LOST_ANSWER};
pub use identity::{Identity, DENY_POLICY, GW_TOKEN_EXPIRED, IAM_REFUSED, SECURITY_TOKEN_CHARS};
pub use persist::StateFileError;

pub use seed::{EmulatedDesktop, ProjectSeed, Seed, SeedError};
pub use server::Limits;
pub use service::{
    app, EmulatorState, MAX_BODY_BYTES, MAX_DESKTOP_ID_FILTERS, MAX_LIST_LIMIT,
    REQUEST_LOG_CAPACITY, REQUEST_LOG_MAX_BYTES,
};
pub use store::{BatchCap, MAX_BATCH_DESKTOPS, MAX_BATCH_TAGS};

use desktag_core::tags::DEFAULT_MAX_TAGS;

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen; tests use `127.0.0.1:0`.
    pub listen: SocketAddr,
    pub seed: Seed,
    pub auth: Auth,
    /// Tags per desktop (system `_sys_` tags not counted).
    pub max_tags: usize,
    pub faults: Faults,
    /// What a cross-desktop batch create does to a desktop it would push past the cap.
    pub batch_cap: BatchCap,
    /// Timeouts and the connection cap.
    pub limits: Limits,
    /// Loaded at start if it exists (instead of `seed`), saved atomically after every change.
    pub state_file: Option<PathBuf>,
    /// The identity side: temporary keys and their lifetime, the OIDC exchange, Pod Identity,
    /// metadata and the project lookup.
    pub identity: Identity,
    /// How far the emulated service's clock is ahead of this machine's (negative: behind): it
    /// checks signature dates and key expiry, and sends its `Date`, on that clock.
    pub clock_offset: time::Duration,
}

impl Default for EmulatorConfig {
    /// Loopback on a free port, the demo seed, no auth, the default cap, no faults, no state file.
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: Seed::demo(),
            auth: Auth::None,
            max_tags: DEFAULT_MAX_TAGS,
            faults: Faults::default(),
            batch_cap: BatchCap::Reject,
            limits: Limits::default(),
            state_file: None,
            identity: Identity::default(),
            clock_offset: time::Duration::ZERO,
        }
    }
}

/// One request the emulator answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    /// The raw (percent-encoded) path.
    pub path: String,
    /// The raw query string, `""` if none.
    pub query: String,
    pub status: u16,
    /// The desktop the request addressed, if any.
    pub desktop_id: Option<String>,
    /// Whether it was a tag write (create, delete, batch), whatever its outcome.
    pub write: bool,
    /// The `error_code` of an error answer.
    pub error_code: Option<String>,
    /// The `X-Request-Id` sent back.
    pub request_id: String,
    /// How long the answer was held after the request ran (`--lost-answer-rate`), in ms.
    pub held_ms: Option<u64>,
}

/// Why the emulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator option: {0}")]
    Config(String),
    #[error("invalid seed {origin}: {message}")]
    Seed { origin: String, message: String },
    #[error(transparent)]
    StateFile(#[from] StateFileError),
    #[error("cannot read {what} {}", path.display())]
    ReadFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}; pick another address with --listen")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the emulator's server failed")]
    Serve(#[source] std::io::Error),
    #[error("cannot write the base URL to stdout")]
    Stdout(#[source] std::io::Error),
}

/// A running emulator. Dropping it starts a graceful shutdown; `shutdown().await` also waits
/// for it to finish.
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    state: Arc<EmulatorState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts an emulator on `config.listen`.
pub async fn spawn(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
    let addr = config.listen;
    let state = EmulatorState::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app(Arc::clone(&state));
    let limits = state.limits().clone();
    let task = tokio::spawn(server::serve(listener, router, limits, stopped));
    Ok(EmulatorHandle {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first project's id (a single-project seed's only one).
    pub fn project_id(&self) -> String {
        self.state.project_id().to_string()
    }

    /// Every project the emulator serves, in the seed's order.
    pub fn project_ids(&self) -> Vec<String> {
        self.state.project_ids()
    }

    /// The most recent requests, oldest first (see `REQUEST_LOG_CAPACITY`,
    /// `REQUEST_LOG_MAX_BYTES`).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }

    /// How many tag writes succeeded (2xx) since start.
    pub fn writes(&self) -> u64 {
        self.state.writes()
    }

    /// Every temporary secret the identity side issued (secret keys, security tokens), so tests
    /// can check that no output holds one.
    pub fn issued_secrets(&self) -> Vec<desktag_core::secret::Secret> {
        self.state.issued_secrets()
    }

    /// Every desktop of the first project and its tags now, sorted by id.
    pub fn desktops(&self) -> Vec<EmulatedDesktop> {
        self.state.desktops()
    }

    /// Every desktop of `project_id` and its tags now, sorted by id; `None` for a project the
    /// emulator does not serve.
    pub fn project_desktops(&self, project_id: &str) -> Option<Vec<EmulatedDesktop>> {
        self.state.project_desktops(project_id)
    }

    /// Stops accepting connections, lets open requests finish, and waits for the server.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        self.state.stop_holding();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result.map_err(EmulatorError::Serve),
                Err(join) => Err(EmulatorError::Serve(std::io::Error::other(
                    join.to_string(),
                ))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.state.stop_holding();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
