//! The desktag binary: parse the command line, set up logging, run, and map the outcome to an
//! exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match desktag::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's usage errors exit 2, which desktag reserves for "plan has changes".
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let serving = matches!(cli.command, desktag::cli::Command::Emulator(_));
    desktag::logging::init(&cli.global, serving);
    match desktag::commands::run(cli) {
        Ok(status) => status.exit_code(),
        Err(error) => {
            tracing::debug!(?error, "command failed");
            eprintln!("error: {}", desktag::error::chain(&error));
            error.exit_code()
        }
    }
}
