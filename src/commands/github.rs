//! GitHub Actions integration: when `GITHUB_STEP_SUMMARY` / `GITHUB_OUTPUT` name files, `plan` and
//! `apply` append their markdown and their counts there; in a job (`GITHUB_ACTIONS=true`) their
//! diagnostics are annotations.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::error::Error;

/// Whether this runs as a GitHub Actions step (`GITHUB_ACTIONS=true`): diagnostics of `plan` and
/// `apply` are then written as workflow-command annotations.
pub(super) fn annotating() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// The counts `GITHUB_OUTPUT` receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Outputs {
    pub has_changes: bool,
    pub blocked: usize,
    pub failed: usize,
}

impl Outputs {
    /// `has_changes=…`, `blocked=…`, `failed=…`, one per line.
    fn lines(&self) -> String {
        format!(
            "has_changes={}\nblocked={}\nfailed={}\n",
            self.has_changes, self.blocked, self.failed
        )
    }
}

/// Appends the markdown to the step summary and the counts to the outputs, when set.
pub(super) fn publish(markdown: impl FnOnce() -> String, outputs: Outputs) -> Result<(), Error> {
    publish_each(markdown, outputs).into_iter().collect()
}

/// Like [`publish`], but one failing file does not keep the other from being written: the result
/// of each, step summary first.
pub(super) fn publish_each(
    markdown: impl FnOnce() -> String,
    outputs: Outputs,
) -> Vec<Result<(), Error>> {
    let mut results = Vec::new();
    if env_file("GITHUB_STEP_SUMMARY").is_some() {
        results.push(append("GITHUB_STEP_SUMMARY", &markdown()));
    }
    results.push(append("GITHUB_OUTPUT", &outputs.lines()));
    results
}

/// Fails early, before any request, when `GITHUB_STEP_SUMMARY` or `GITHUB_OUTPUT` names a file
/// that cannot be appended to (a directory, a file in a missing or read-only directory).
pub(super) fn check() -> Result<(), Error> {
    for variable in ["GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"] {
        let Some(path) = env_file(variable) else {
            continue;
        };
        let unusable = |source| Error::Write {
            path: path.clone(),
            source,
        };
        if path.is_dir() {
            return Err(unusable(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                format!("{variable} names a directory"),
            )));
        }
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            // A device or FIFO: written through; opening it here could block.
            continue;
        }
        if path.exists() {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(unusable)?;
        } else {
            desktag_core::atomic_file::check_writable(&path).map_err(unusable)?;
        }
    }
    Ok(())
}

fn env_file(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Appends to the file an environment variable names, starting on a new line when the file does
/// not end in one (so `x` + `has_changes=true` never becomes `xhas_changes=true`).
fn append(variable: &str, contents: &str) -> Result<(), Error> {
    match env_file(variable) {
        Some(path) => append_to(path, contents),
        None => Ok(()),
    }
}

fn append_to(path: PathBuf, contents: &str) -> Result<(), Error> {
    let write_error = |source| Error::Write {
        path: path.clone(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(write_error)?;
    let len = file.seek(SeekFrom::End(0)).map_err(write_error)?;
    let mut text = String::with_capacity(contents.len() + 1);
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1))
            .and_then(|_| file.read_exact(&mut last))
            .map_err(write_error)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    text.push_str(contents);
    file.write_all(text.as_bytes()).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_one_line_each() {
        let outputs = Outputs {
            has_changes: true,
            blocked: 1,
            failed: 0,
        };
        assert_eq!(outputs.lines(), "has_changes=true\nblocked=1\nfailed=0\n");
    }

    #[test]
    fn appending_starts_on_a_new_line() {
        let path = std::env::temp_dir().join(format!("desktag-gh-out-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        append_to(path.clone(), "a=1\n").unwrap();
        std::fs::write(&path, "x").unwrap();
        append_to(path.clone(), "a=1\n").unwrap();
        append_to(path.clone(), "b=2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\na=1\nb=2\n");
        let _ = std::fs::remove_file(&path);
    }
}
