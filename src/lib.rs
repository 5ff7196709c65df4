//! desktag: reconcile the tags of Huawei Cloud Workspace desktops with YAML manifests kept in git.
//!
//! The pipeline is a chain of values — manifests → desired state, + inventory → plan → render →
//! apply → report — with I/O only at the edges: `manifest::load` reads files, `api::Client` speaks
//! HTTP, `apply` schedules writes, and the binary owns stdout, stderr and the exit code.

pub mod api;
pub mod apply;
pub mod atomic_file;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod emulator;
pub mod error;
pub mod error_chain;
pub mod glob;
pub mod inventory;
pub mod logging;
pub mod manifest;
pub mod plan;
pub mod render;
pub mod report;
pub mod secret;
pub mod suggest;
pub mod tags;
pub mod template;
pub mod token_bucket;
pub mod yaml;
