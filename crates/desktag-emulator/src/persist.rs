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
    #[error("the state writer stopped: {0}")]
    WriterStopped(tokio::task::JoinError),
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

/// Writes `seed` to `path` atomically: readers see the old file or the new one, never a mix.
pub(crate) fn save(path: &Path, seed: &Seed) -> Result<(), StateFileError> {
    let text = seed.to_yaml().map_err(StateFileError::Render)?;
    desktag_core::atomic_file::write(path, text.as_bytes(), ".desktag-state-").map_err(|error| {
        StateFileError::Write {
            path: path.to_path_buf(),
            error,
        }
    })
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
    Seed::from_yaml(&text)
        .map(Some)
        .map_err(|error| StateFileError::Invalid {
            path: path.to_path_buf(),
            error,
        })
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
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("state.yaml"), "{err}");
    }
}
