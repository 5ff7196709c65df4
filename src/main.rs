//! The desktag binary: parse the command line, resolve it into a configuration, set up logging,
//! run, and map the outcome to an exit code and, for a non-zero exit, one last stderr line
//! saying why. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use desktag::config::{Config, Environment};
use desktag::render::messages::terminal_line;

fn main() -> ExitCode {
    let cli = match desktag::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's usage errors exit 2, which desktag reserves for "changes".
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let outcome = desktag::repo_config::for_command(&cli)
        .and_then(|repo| Config::from_cli(cli, &Environment::detect(), repo.as_ref()))
        .and_then(|config| {
            desktag::logging::init(&config.logging);
            desktag::commands::run(config)
        });
    match outcome {
        Ok(status) => {
            if let Some(line) = status.last_line() {
                eprintln!("{}", terminal_line(&line));
            }
            status.exit_code()
        }
        Err(error) => {
            tracing::debug!(?error, "command failed");
            if let desktag::error::Error::Config { diagnostics, .. } = &error {
                for d in diagnostics {
                    eprintln!("{}", terminal_line(&d.to_string()));
                }
            }
            eprintln!("error: {}", terminal_line(&desktag::error::chain(&error)));
            error.exit_code()
        }
    }
}
