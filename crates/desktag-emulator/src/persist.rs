//! The `--state` file: loaded at start, and saved atomically (a temp file in the same directory,
//! synced, then renamed over the old one) after each write that changed something. Saves are
//! group-committed: whoever holds the save lock writes the latest snapshot, which covers every
//! write queued behind it, so a burst of writes costs a few saves, not one each. One emulator per
//! state file: an exclusive lock on `<state>.lock`, held while the emulator lives, keeps a second
//! one from starting and silently losing the first one's writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::seed::{Seed, SeedError};
use super::store::Store;

/// What can go wrong with the state file. Each message names the file and how to fix it; the
/// I/O error is part of the message (the emulator prints one line).
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot resolve the state file {}: {error}", path.display())]
    Resolve {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the state file {} is not a regular file; choose a file path for --state",
        path.display()
    )]
    NotAFile { path: PathBuf },
    #[error(
        "the directory of the state file {} does not exist; create {} first or choose another \
         --state path",
        path.display(),
        dir.display()
    )]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot open the lock file {}: {error}", lock.display())]
    OpenLock {
        lock: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the state file {} is in use by another emulator (it holds {}); stop that one or choose \
         another --state path",
        path.display(),
        lock.display()
    )]
    InUse { path: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {error}", lock.display())]
    Lock {
        lock: PathBuf,
        error: std::io::Error,
    },
    #[error("{}", .0.message)]
    Render(SeedError),
    #[error("cannot write the state file {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot read the state file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("state file {}: {error}", path.display())]
    Invalid { path: PathBuf, error: SeedError },
    #[error(
        "state file {}: it is incomplete (it holds {holds} desktops, its header says {header}, and \
         its end marker is {marker}): it was cut short; restore it from a backup, or delete it to \
         start from the seed",
        path.display()
    )]
    Incomplete {
        path: PathBuf,
        holds: usize,
        header: String,
        marker: &'static str,
    },
    #[error(
        "state file {}: it holds {}, but this emulator serves {}; pass the --seed it was made \
         from, or choose another --state path",
        path.display(),
        name_projects(holds),
        name_projects(serves)
    )]
    OtherProject {
        path: PathBuf,
        /// The state file's project ids, sorted.
        holds: Vec<String>,
        /// The seed's project ids, sorted.
        serves: Vec<String>,
    },
    #[error(
        "state file {}: desktop `{}` carries {counted} tags, over --max-tags {max_tags}; start \
         the emulator with the cap the file was written under",
        path.display(),
        desktop.escape_debug()
    )]
    OverCap {
        path: PathBuf,
        desktop: String,
        counted: usize,
        max_tags: usize,
    },
    #[error("the state writer stopped: {0}")]
    WriterStopped(tokio::task::JoinError),
}

/// "project `a`" or "projects `a`, `b`", escaped: the ids come from files.
fn name_projects(ids: &[String]) -> String {
    let quoted: Vec<String> = ids
        .iter()
        .map(|id| format!("`{}`", id.escape_debug()))
        .collect();
    match quoted.as_slice() {
        [one] => format!("project {one}"),
        _ => format!("projects {}", quoted.join(", ")),
    }
}

#[derive(Debug)]
pub(crate) struct Persister {
    path: PathBuf,
    /// The highest store version known to be on disk.
    durable: tokio::sync::Mutex<u64>,
    /// Holds the exclusive lock until the emulator is dropped.
    _lock: std::fs::File,
}

impl Persister {
    /// Takes the state file's lock. Refused if the file's directory does not exist (every save
    /// would fail) or another emulator holds the lock.
    pub(crate) fn open(path: PathBuf) -> Result<Self, StateFileError> {
        // Locked, read and written as the file it stands for: a symlink is followed, so two
        // names of one file share one lock.
        let path =
            desktag_core::atomic_file::resolve(&path).map_err(|error| StateFileError::Resolve {
                path: path.clone(),
                error,
            })?;
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(StateFileError::NotAFile { path });
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(StateFileError::NoDirectory {
                dir: dir.to_path_buf(),
                path,
            });
        }
        let mut lock_name = path.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock_path = PathBuf::from(lock_name);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| StateFileError::OpenLock {
                lock: lock_path.clone(),
                error,
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateFileError::InUse {
                    path,
                    lock: lock_path,
                })
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(StateFileError::Lock {
                    lock: lock_path,
                    error,
                })
            }
        }
        remove_stale_temporaries(&path);
        Ok(Persister {
            path,
            durable: tokio::sync::Mutex::new(0),
            _lock: lock,
        })
    }

    /// Returns once the state file holds a snapshot with at least `version`.
    pub(crate) async fn wait_durable(
        &self,
        store: &Arc<Store>,
        version: u64,
    ) -> Result<(), StateFileError> {
        let mut durable = self.durable.lock().await;
        if *durable >= version {
            return Ok(());
        }
        let store = Arc::clone(store);
        let path = self.path.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let (v, seed) = store.snapshot();
            save(&path, &seed).map(|()| v)
        })
        .await
        .map_err(StateFileError::WriterStopped)??;
        *durable = saved;
        Ok(())
    }
}

/// The prefix of a state file's temporary files: its own name in it, so an emulator holding the
/// lock removes only its file's leftovers (from a save cut short by `kill -9`).
fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.desktag-state-")
}

/// Removes the temporary files a killed emulator left beside `path` (called with the lock held).
fn remove_stale_temporaries(path: &Path) {
    let prefix = temporary_prefix(path);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The first line of a state file: how many desktops it holds.
const HEADER: &str = "# desktag emulator state:";
/// The last line: the file was written to the end.
const TRAILER: &str = "# end of desktag emulator state\n";

/// Writes `seed` to `path` atomically: readers see the old file or the new one, never a mix. The
/// file starts with the number of desktops and ends with a marker, so a file cut short (which may
/// still be valid YAML) is refused when read back.
pub(crate) fn save(path: &Path, seed: &Seed) -> Result<(), StateFileError> {
    let text = seed.to_yaml().map_err(StateFileError::Render)?;
    let text = format!(
        "{HEADER} {} desktops\n{text}{}{TRAILER}",
        seed.desktop_count(),
        if text.ends_with('\n') { "" } else { "\n" }
    );
    desktag_core::atomic_file::write(path, text.as_bytes(), &temporary_prefix(path)).map_err(
        |error| StateFileError::Write {
            path: path.to_path_buf(),
            error,
        },
    )
}

/// Checks a state file's header and trailer against what it holds: `Err` for a file cut short.
/// A file without a header (hand-made, or from an older desktag) is read as it is.
fn check_complete(path: &Path, text: &str, seed: &Seed) -> Result<(), StateFileError> {
    let Some(header) = text.lines().next().and_then(|l| l.strip_prefix(HEADER)) else {
        return Ok(());
    };
    let expected: Option<usize> = header
        .trim()
        .strip_suffix("desktops")
        .and_then(|n| n.trim().parse().ok());
    if !text.ends_with(TRAILER) || expected != Some(seed.desktop_count()) {
        return Err(StateFileError::Incomplete {
            path: path.to_path_buf(),
            holds: seed.desktop_count(),
            header: expected.map_or_else(|| "nothing readable".to_string(), |n| n.to_string()),
            marker: if text.ends_with(TRAILER) {
                "there"
            } else {
                "missing"
            },
        });
    }
    Ok(())
}

/// Reads a state file if it exists; `Ok(None)` if it does not.
pub(crate) fn load(path: &Path) -> Result<Option<Seed>, StateFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(StateFileError::Read {
                path: path.to_path_buf(),
                error,
            })
        }
    };
    let seed = Seed::from_yaml(&text).map_err(|error| StateFileError::Invalid {
        path: path.to_path_buf(),
        error,
    })?;
    check_complete(path, &text, &seed)?;
    Ok(Some(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        assert_eq!(load(&path).unwrap(), None);
        let seed = Seed::demo();
        save(&path, &seed).unwrap();
        save(&path, &seed).unwrap();
        assert_eq!(load(&path).unwrap(), Some(seed));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.yaml")]);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        std::fs::write(&path, "project_id: [").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.to_string().contains("state.yaml"), "{err}");
    }

    #[test]
    fn state_file_a_file_cut_short_is_refused_even_when_it_is_still_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        let seed = Seed::demo();
        save(&path, &seed).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // Cut after the first desktop's block: still a valid seed, with fewer desktops.
        let second = text.match_indices("\n- id:").nth(1).unwrap().0;
        std::fs::write(&path, &text[..second + 1]).unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.to_string().contains("it was cut short"), "{err}");
        // A file without the header (hand-made) is read as it is.
        std::fs::write(&path, seed.to_yaml().unwrap()).unwrap();
        assert_eq!(load(&path).unwrap(), Some(seed));
    }

    #[test]
    fn state_file_temporaries_left_by_a_killed_emulator_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.yaml");
        let stale = dir.path().join(".state.yaml.desktag-state-abc123");
        let other = dir.path().join(".other.yaml.desktag-state-abc123");
        std::fs::write(&stale, "half").unwrap();
        std::fs::write(&other, "another emulator's").unwrap();
        let _persister = Persister::open(path).unwrap();
        assert!(!stale.exists());
        assert!(other.exists(), "only this state file's leftovers go");
    }

    #[cfg(unix)]
    #[test]
    fn state_file_the_lock_is_taken_on_the_file_a_symlink_names() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("state.yaml");
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let _first = Persister::open(real.clone()).unwrap();
        let err = Persister::open(link).unwrap_err();
        assert!(
            err.to_string().contains("in use by another emulator"),
            "{err}"
        );
        assert!(Persister::open(dir.path().to_path_buf())
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
    }
}
