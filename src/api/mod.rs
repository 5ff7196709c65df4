//! The Workspace API client (design §4): endpoint and credential resolution, SDK-HMAC-SHA256 or
//! token auth, batched reads, tag writes, typed errors, retry with backoff, rate limit and a
//! concurrency bound shared by a whole run.

pub mod sign;
