//! The Workspace API client: endpoint and credential resolution, SDK-HMAC-SHA256 or token auth,
//! desktop reads, tag writes, typed errors, retry with backoff, an adaptive request rate and a
//! concurrency bound shared by a whole run.
//!
//! Layers, bottom up: `connection`, `sign`, `wire`, `retry`, `rate` and `error` are pure;
//! `transport` makes one HTTP attempt; `budget` is the adaptive rate a run's clients of one
//! endpoint host and credentials share; `executor` runs a call to completion (permits, budget,
//! retries, statistics); `reads` and `writes` are the endpoint groups, methods of `Client`.

// `pub` is for what another crate uses; everything else is `pub(crate)`, so dead code warns.
#![warn(unreachable_pub)]

mod budget;
mod client;
mod connection;
pub mod credentials;
mod error;
mod executor;
pub mod proxy;
pub mod rate;
mod reads;
pub(crate) mod retry;
pub mod sign;
mod stop;
pub mod token_bucket;
mod transport;
mod wire;
mod writes;

pub use budget::Budgets;
pub use client::{http_builder, Client, ClientOptions, MAX_RATE, MIN_RATE};
pub use connection::{
    is_loopback, parse_endpoint, pinned_endpoint, region_endpoint, region_variable, Connection,
    ConnectionArgs, ConnectionError, Credentials, ManifestScope, ProjectRef, Resolved,
};
pub use error::{ApiError, CallError, ServiceDetail};
pub use stop::{Stop, IN_FLIGHT_GRACE};
pub use writes::{DesktopTags, TagAction, BATCH_MAX_DESKTOPS, BATCH_MAX_TAGS};
