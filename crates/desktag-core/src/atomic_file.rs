//! Atomic file replacement, the one implementation of it: write a temporary file in the target's
//! directory, sync it, rename it over the target. Readers see the old file or the new one, never
//! a mix, and a failed write leaves the old file intact. A symlink is followed (its target is
//! replaced, the link stays) and a path that is not a regular file (`/dev/null`, a FIFO, a
//! terminal) is written through, never replaced. Plain `std::io` errors; callers name the file in
//! their own error type. No crate imports.

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
    let path = &resolve(path)?;
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        // A device, FIFO or socket: written through, as a shell redirection would; renaming a
        // file over it would replace `/dev/null` for everyone.
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        let mut buffered = std::io::BufWriter::new(file);
        fill(&mut buffered)?;
        return buffered.flush();
    }
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
    let path = &resolve(path)?;
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        // Written through (see `write_with`): its permissions decide.
        return if std::fs::metadata(path)?.permissions().readonly() {
            Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "it is not writable",
            ))
        } else {
            Ok(())
        };
    }
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

/// The file `path` stands for: a symlink's final target (followed through chains, also when the
/// target does not exist yet), else `path` itself. Writing replaces the target and keeps the link,
/// and anything keyed on the file (a lock) is keyed on the same file whatever link names it.
pub fn resolve(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut current = path.to_path_buf();
    // As the kernel does: a chain longer than this is a loop.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = if target.is_absolute() {
                    target
                } else {
                    parent_dir(&current).join(target)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
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

    #[cfg(unix)]
    #[test]
    fn output_files_a_symlink_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write(&link, b"new", ".t-").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        // A dangling link: its target is created.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("later.json", &dangling).unwrap();
        write(&dangling, b"x", ".t-").unwrap();
        assert_eq!(std::fs::read(dir.path().join("later.json")).unwrap(), b"x");
        assert!(std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn output_files_a_device_is_written_through_not_replaced() {
        let null = Path::new("/dev/null");
        check_writable(null).unwrap();
        write(null, b"discarded", ".t-").unwrap();
        let meta = std::fs::metadata(null).unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
        // Through a symlink too.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("out");
        std::os::unix::fs::symlink(null, &link).unwrap();
        write(&link, b"discarded", ".t-").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
