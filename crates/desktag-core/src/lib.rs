//! desktag's pure core: the tag rules, manifests and their diagnostics, and the planner
//! (manifest → desired state, desired + observed → plan). No network, no async runtime.

// `pub` is for what another crate uses; everything else is `pub(crate)`, so dead code warns.
#![warn(unreachable_pub)]

pub mod atomic_file;
pub mod diagnostic;
pub mod error_chain;
pub mod glob;
pub mod inventory;
pub mod manifest;
pub mod plan;
pub mod secret;
pub mod suggest;
pub mod tags;
pub mod template;
pub mod yaml;
