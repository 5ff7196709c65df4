//! The desktag binary: parse the command line, resolve it into a configuration, set up logging,
//! run, and map the outcome to an exit code and, for a non-zero exit, one last stderr line
//! saying why. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use desktag::cli::LogFormat;
use desktag::commands::Console;
use desktag::config::{Config, Environment};

fn main() -> ExitCode {
    let cli = match desktag::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // A usage error with `--log-format json` is one JSON line too.
            if e.use_stderr() && desktag::cli::asks_for_json_logs(std::env::args_os()) {
                desktag::commands::set_console(Console {
                    quiet: 0,
                    json: true,
                });
                let text = e.render().to_string();
                desktag::commands::last_line(desktag::commands::Level::Error, text.trim_end());
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
    let outcome = Config::from_cli(cli, &Environment::detect()).and_then(|config| {
        desktag::commands::set_console(Console {
            quiet: config.logging.quiet,
            json: config.logging.format == LogFormat::Json,
        });
        desktag::logging::init(&config.logging);
        desktag::commands::run(config)
    });
    match outcome {
        Ok(status) => {
            desktag::commands::finish(&status);
            status.exit_code()
        }
        Err(error) => {
            tracing::debug!(?error, "command failed");
            desktag::commands::fail(&error);
            error.exit_code()
        }
    }
}
