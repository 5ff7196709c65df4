//! The Workspace API client (design §4): endpoint and credential resolution, SDK-HMAC-SHA256 or
//! token auth, batched reads, tag writes, typed errors, retry with backoff, rate limit and a
//! concurrency bound shared by a whole run.
//!
//! Only `client` does I/O; `connection`, `sign`, `retry`, `wire` and `error` are pure.

mod client;
mod connection;
mod error;

pub mod retry;
pub mod sign;
mod wire;

pub use client::{
    Attempts, Client, ClientOptions, DesktopFilter, DesktopTags, Stats, TagAction,
    BATCH_MAX_DESKTOPS, BATCH_MAX_TAGS, IDS_PER_REQUEST, MAX_RATE, MIN_RATE, PAGE_LIMIT,
};
pub use connection::{
    is_loopback, parse_endpoint, Connection, ConnectionArgs, ConnectionError, Credentials,
};
pub use error::{ApiError, CallError};
pub use retry::{Decision, Outcome, RetryPolicy};
