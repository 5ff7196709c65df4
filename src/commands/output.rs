//! Where the commands' bytes go: stdout (a closed pipe ends output quietly, as in ripgrep and
//! cargo: `desktag plan | head -1` is not an error), stderr for diagnostics, and output files
//! written atomically.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Writes to stderr, ignoring failures: there is nowhere left to report them.
pub(super) fn stderr(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let mut err = std::io::stderr().lock();
    let _ = f(&mut err).and_then(|()| err.flush());
}

/// Prints diagnostics on stderr, one block each.
pub(super) fn diagnostics(diagnostics: &[Diagnostic]) {
    if super::github::annotating() {
        // In a GitHub Actions job, as annotations: shown in the log and on the manifest lines.
        stderr(|w| crate::render::validation::annotations(w, diagnostics));
        return;
    }
    stderr(|w| crate::render::validation::diagnostics(w, diagnostics));
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
