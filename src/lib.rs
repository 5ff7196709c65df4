//! desktag: reconcile the tags of Huawei Cloud Workspace desktops with YAML manifests kept in git.
//!
//! The pipeline is a chain of values — manifests → desired state, + inventory → plan → render →
//! apply → report — with I/O only at the edges: `manifest::load` reads files, `api::Client` speaks
//! HTTP, `apply` schedules writes, and the binary owns stdout, stderr and the exit code.

// `pub` is for what another crate uses; everything else is `pub(crate)`, so dead code warns.
#![warn(unreachable_pub)]

pub mod apply;
mod cli;
mod commands;
mod config;
mod error;
mod logging;
mod render;
mod repo_config;
pub mod report;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::LogFormat;
use crate::commands::Console;
use crate::config::{Config, Environment};

/// The whole binary: parse the command line, resolve it into a configuration, set up logging,
/// run, and map the outcome to an exit code and, for a non-zero exit, one last stderr line
/// saying why.
pub fn main() -> ExitCode {
    let cli = match crate::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // A usage error with `--log-format json` is one JSON line too.
            if e.use_stderr() && crate::cli::asks_for_json_logs(std::env::args_os()) {
                crate::commands::set_console(Console {
                    quiet: 0,
                    json: true,
                });
                let text = e.render().to_string();
                crate::commands::last_line(crate::commands::Level::Error, text.trim_end());
            } else {
                let _ = e.print();
            }
            // clap's usage errors exit 2, which desktag reserves for "changes".
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let outcome = crate::repo_config::for_command(&cli)
        .and_then(|repo| Config::from_cli(cli, &Environment::detect(), repo.as_ref()))
        .and_then(|config| {
            crate::commands::set_console(Console {
                quiet: config.logging.quiet,
                json: config.logging.format == LogFormat::Json,
            });
            crate::logging::init(&config.logging);
            crate::commands::run(config)
        });
    match outcome {
        Ok(status) => {
            crate::commands::finish(&status);
            status.exit_code()
        }
        Err(error) => {
            tracing::debug!(?error, "command failed");
            crate::commands::fail(&error);
            error.exit_code()
        }
    }
}
