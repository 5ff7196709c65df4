//! desktag: reconcile the tags of Huawei Cloud Workspace desktops with YAML manifests kept in git.
//!
//! The pipeline is a chain of values — manifests → desired state, + inventory → plan → render →
//! apply → report — with I/O only at the edges: `manifest::load` reads files, `api::Client` speaks
//! HTTP, `apply` schedules writes, and the binary owns stdout, stderr and the exit code.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod logging;
pub mod render;
pub mod repo_config;
pub mod report;
