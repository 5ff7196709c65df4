//! Logging setup: tracing to stderr, text or JSON, level from -v/-q (or `DESKTAG_LOG`, an
//! EnvFilter directive). stdout is never used for logs. On a terminal (text format) lines carry
//! no timestamp and only warnings show by default; elsewhere (CI, cron, `--log-format json`)
//! every line is timestamped and progress is logged at info.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;
use crate::config::Logging;

/// The default filter for a verbosity: -qq off, -q error. Interactive: warnings by default, -v
/// progress (info), -vv requests (debug), -vvv trace. Otherwise: progress by default, -v debug,
/// -vv trace.
pub(crate) fn filter_for(verbose: u8, quiet: u8, interactive: bool) -> &'static str {
    let verbose = if interactive {
        verbose
    } else {
        verbose.saturating_add(1)
    };
    match (verbose, quiet) {
        (_, q) if q >= 2 => "off",
        (_, 1) => "error",
        (0, _) => "warn",
        (1, _) => "warn,desktag=info",
        (2, _) => "warn,desktag=debug",
        _ => "info,desktag=trace",
    }
}

/// Installs the global subscriber. Safe to call once per process. An in-process emulator
/// (`--emulator`) logs requests only at -v; `desktag emulator` (`serving`) logs every request.
pub(crate) fn init(logging: &Logging) {
    let (verbose, quiet, serving) = (logging.verbose, logging.quiet, logging.serving);
    // `desktag emulator` logs each request as its output, so it never hides info lines.
    let interactive = logging.interactive && !serving && logging.format == LogFormat::Text;
    let filter = std::env::var("DESKTAG_LOG")
        .ok()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| {
            let mut directives = filter_for(verbose, quiet, interactive).to_string();
            if !serving && verbose == 0 && quiet == 0 {
                directives.push_str(",desktag::emulator=warn");
            }
            EnvFilter::new(directives)
        });
    // A closed stderr drops log lines: reporting that on stderr again would panic.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_target(false);
    let _ = match logging.format {
        LogFormat::Text if interactive => {
            builder.with_ansi(logging.color).without_time().try_init()
        }
        LogFormat::Text => builder.with_ansi(logging.color).try_init(),
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::filter_for;

    #[test]
    fn terminals_see_warnings_and_each_v_adds_a_level() {
        assert_eq!(filter_for(0, 0, true), "warn");
        assert_eq!(filter_for(1, 0, true), "warn,desktag=info");
        assert_eq!(filter_for(2, 0, true), "warn,desktag=debug");
        assert_eq!(filter_for(3, 0, true), "info,desktag=trace");
    }

    #[test]
    fn non_interactive_runs_log_progress_by_default() {
        assert_eq!(filter_for(0, 0, false), "warn,desktag=info");
        assert_eq!(filter_for(1, 0, false), "warn,desktag=debug");
        assert_eq!(filter_for(2, 0, false), "info,desktag=trace");
        assert_eq!(filter_for(0, 1, false), "error");
        assert_eq!(filter_for(3, 2, true), "off");
    }
}
