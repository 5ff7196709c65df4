//! Where the commands' bytes go: stdout (a closed pipe ends output quietly, as in ripgrep and
//! cargo: `desktag plan | head -1` is not an error), stderr for diagnostics, and output files
//! written atomically. stderr follows the [`Console`] of the run: `-q` keeps errors and the last
//! line, `-qq` keeps only the last line of a failed run, `--log-format json` makes every line one
//! JSON object. A failed stderr write is dropped, never a panic: there is nowhere to report it.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::error::Error;
use desktag_core::diagnostic::Diagnostic;

/// Set once stdout's reader has gone away; later stdout writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to stdout. A closed pipe is not an error: the reader has what it wanted, so the rest
/// of the output is dropped and the command goes on (files and the exit code still tell the
/// outcome). Any other failure is an error.
pub(super) fn stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Error> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    // Stdout is line-buffered; a JSON plan of 100,000 desktops is millions of lines, so they are
    // gathered into large writes here.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            tracing::debug!("stdout was closed; dropping the rest of the output");
            Ok(())
        }
        Err(source) => Err(Error::Write {
            path: "<stdout>".into(),
            source,
        }),
    }
}

/// How stderr is written in this run: `-q` / `-qq` and `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Console {
    pub quiet: u8,
    pub json: bool,
}

static CONSOLE: OnceLock<Console> = OnceLock::new();

/// Sets the run's console, once, before anything is written (later calls change nothing).
pub(crate) fn set_console(console: Console) {
    let _ = CONSOLE.set(console);
}

fn console() -> Console {
    CONSOLE.get().copied().unwrap_or_default()
}

/// How serious a stderr line is; `-q` keeps errors, `-qq` only the last line of a failed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl Console {
    /// Whether a line at `level` is written (the last line has its own rule).
    fn shows(self, level: Level) -> bool {
        match self.quiet {
            0 => true,
            1 => level == Level::Error,
            _ => false,
        }
    }
}

/// One stderr line as a JSON object, in the shape of the JSON log lines (`timestamp`, `level`,
/// `fields.message`), plus `extra` fields beside them.
fn json_line(
    level: Level,
    message: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> String {
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut line = serde_json::Map::new();
    line.insert("timestamp".into(), timestamp.into());
    line.insert("level".into(), level.as_str().into());
    line.insert("fields".into(), serde_json::json!({ "message": message }));
    line.extend(extra);
    serde_json::Value::Object(line).to_string()
}

/// Writes `bytes` to stderr, ignoring failures: there is nowhere left to report them.
fn write_stderr(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes).and_then(|()| err.flush());
}

/// Writes a block of text to stderr at `level`: as it is, or one JSON object per non-empty line
/// with `--log-format json`.
pub(super) fn stderr(level: Level, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let console = console();
    if !console.shows(level) {
        return;
    }
    let mut text = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = f(&mut text);
    if console.json {
        let mut lines = String::new();
        for line in String::from_utf8_lossy(&text).lines() {
            if !line.trim().is_empty() {
                lines.push_str(&json_line(level, line, Default::default()));
                lines.push('\n');
            }
        }
        write_stderr(lines.as_bytes());
    } else {
        write_stderr(&text);
    }
}

/// Asks on the terminal: a prompt is written whatever `-q` says.
pub(super) fn prompt(text: &str) {
    write_stderr(text.as_bytes());
}

/// The one line a run ends with on stderr (`error: …`, `warning: …`, `note: …`). `-q` keeps it;
/// `-qq` keeps it only when the run failed or blocked something.
pub(crate) fn last_line(level: Level, line: &str) {
    let console = console();
    if console.quiet >= 2 && level == Level::Info {
        return;
    }
    if console.json {
        write_stderr(format!("{}\n", json_line(level, line, Default::default())).as_bytes());
    } else {
        write_stderr(format!("{line}\n").as_bytes());
    }
}

/// Prints diagnostics on stderr, one block each (one JSON object each with
/// `--log-format json`, the diagnostic's fields under `diagnostic`).
pub(super) fn diagnostics(diagnostics: &[Diagnostic]) {
    let console = console();
    let diagnostics: Vec<Diagnostic> = diagnostics
        .iter()
        .filter(|d| {
            console.shows(if d.is_error() {
                Level::Error
            } else {
                Level::Warn
            })
        })
        .cloned()
        .collect();
    let diagnostics = diagnostics.as_slice();
    if diagnostics.is_empty() {
        return;
    }
    if console.json {
        let mut lines = String::new();
        for d in diagnostics {
            let level = if d.is_error() {
                Level::Error
            } else {
                Level::Warn
            };
            let mut extra = serde_json::Map::new();
            extra.insert(
                "diagnostic".into(),
                serde_json::to_value(d).unwrap_or_default(),
            );
            lines.push_str(&json_line(level, &d.message, extra));
            lines.push('\n');
        }
        write_stderr(lines.as_bytes());
        return;
    }
    let stderr = |f: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        let mut text = Vec::new();
        let _ = f(&mut text);
        write_stderr(&text);
    };
    if super::github::annotating() {
        // In a GitHub Actions job, as annotations: shown in the log and on the manifest lines.
        stderr(&|w| crate::render::validation::annotations(w, diagnostics));
        return;
    }
    stderr(&|w| crate::render::validation::diagnostics(w, diagnostics));
}

/// Writes an output file (plan, report) atomically.
pub(super) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), Error> {
    desktag_core::atomic_file::write(path, contents, ".desktag-").map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Replaces `path` atomically with what `fill` writes, streamed.
pub(super) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    desktag_core::atomic_file::write_with(path, ".desktag-", fill).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Fails early, before any request, when `path` cannot be written the way `write_atomic` will
/// write it, so a long apply does not end with its report lost.
pub(super) fn check_writable(path: &Path) -> Result<(), Error> {
    desktag_core::atomic_file::check_writable(path).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
