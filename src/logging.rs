//! Logging setup: tracing to stderr, text or JSON, level from -v/-q (or `DESKTAG_LOG`, an
//! EnvFilter directive). stdout is never used for logs.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;
use crate::config::Logging;

/// The default filter for a verbosity: -qq off, -q error, default warn+info for desktag, -v debug,
/// -vv trace.
pub fn filter_for(verbose: u8, quiet: u8) -> &'static str {
    match (verbose, quiet) {
        (_, q) if q >= 2 => "off",
        (_, 1) => "error",
        (0, _) => "warn,desktag=info",
        (1, _) => "warn,desktag=debug",
        _ => "info,desktag=trace",
    }
}

/// Installs the global subscriber. Safe to call once per process. An in-process emulator
/// (`--emulator`) logs requests only at -v; `desktag emulator` (`serving`) logs every request.
pub fn init(logging: &Logging) {
    let (verbose, quiet, serving) = (logging.verbose, logging.quiet, logging.serving);
    let filter = std::env::var("DESKTAG_LOG")
        .ok()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| {
            let mut directives = filter_for(verbose, quiet).to_string();
            if !serving && verbose == 0 && quiet == 0 {
                directives.push_str(",desktag::emulator=warn");
            }
            EnvFilter::new(directives)
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match logging.format {
        LogFormat::Text => builder.with_ansi(logging.color).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
}
