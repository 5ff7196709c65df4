//! Atomic file replacement, the one implementation of it: write a temporary file in the target's
//! directory, sync it, rename it over the target. Readers see the old file or the new one, never
//! a mix, and a failed write leaves the old file intact. Plain `std::io` errors; callers name the
//! file in their own error type. No crate imports.

use std::io::Write;
use std::path::Path;

/// The directory a file at `path` lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `contents` atomically. The temporary file's name starts with `prefix`
/// (hidden, so a directory listing during the write does not show a half-written manifest).
pub fn write(path: &Path, contents: &[u8], prefix: &str) -> std::io::Result<()> {
    write_with(path, prefix, |w| w.write_all(contents))
}

/// Like [`write`], with the contents streamed by `fill` (through a buffer), so a large document
/// is never held in memory whole.
pub fn write_with(
    path: &Path,
    prefix: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempfile_in(parent_dir(path))?;
    let mut buffered = std::io::BufWriter::new(tmp);
    fill(&mut buffered)?;
    let tmp = buffered.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Fails when `path` cannot be written the way [`write`] will write it: a directory in its place,
/// or a directory where no file can be created. Checked before long work, so its result is not
/// lost at the end.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let dir = parent_dir(path);
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot create files in `{}` ({})", dir.display(), e.kind()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_the_file_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write(&path, b"one", ".t-").unwrap();
        write(&path, b"two", ".t-").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.json")]);
    }

    #[test]
    fn a_directory_in_the_way_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            check_writable(dir.path()).unwrap_err().kind(),
            std::io::ErrorKind::IsADirectory
        );
        assert!(check_writable(&dir.path().join("new.json")).is_ok());
        let missing = dir.path().join("no/such/dir/out.json");
        assert!(check_writable(&missing).is_err());
        assert!(write(&missing, b"x", ".t-").is_err());
    }
}
