//! Finding and reading manifest files: the only file-system access of `manifest`. Paths in
//! diagnostics are shown as the user gave them (joined with what a directory walk found);
//! problems are diagnostics located at the path, never panics.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use walkdir::{DirEntry, WalkDir};

use super::Scope;
use crate::diagnostic::{Code, Diagnostic, Location};

/// The manifest files named by `paths`, in order: explicit files as given (any extension),
/// directories walked recursively in file-name order for `*.yaml`/`*.yml`, skipping hidden
/// entries. A file reached twice (named twice, or also inside a named directory) is read once.
/// With a `scope`, files outside it are skipped, named or walked, and excluded directories are
/// not entered.
pub(crate) fn collect(
    paths: &[PathBuf],
    scope: Option<&Scope>,
    diagnostics: &mut Vec<Diagnostic>,
    skipped_total: &mut usize,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |path: PathBuf, files: &mut Vec<PathBuf>| {
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if seen.insert(identity) {
            files.push(path);
        }
    };
    for path in paths {
        let metadata = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                diagnostics.push(path_error(path, &e));
                continue;
            }
        };
        if metadata.is_file() {
            if scope.is_none_or(|s| s.includes(path)) {
                add(path.clone(), &mut files);
            } else {
                *skipped_total += 1;
            }
            continue;
        }
        if !metadata.is_dir() {
            diagnostics.push(
                Diagnostic::error(
                    Code::Io,
                    format!("`{}` is neither a file nor a directory", path.display()),
                )
                .at(at_path(path))
                .with_help("name manifest files or directories that contain them"),
            );
            continue;
        }
        let mut found = 0;
        let walk = WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0 || !(is_hidden(e) || scope.is_some_and(|s| s.is_excluded(e.path())))
            });
        let mut skipped = 0;
        for entry in walk {
            match entry {
                Ok(entry) if entry.file_type().is_file() && is_manifest_name(entry.path()) => {
                    if scope.is_some_and(|s| !s.includes(entry.path())) {
                        skipped += 1;
                        continue;
                    }
                    found += 1;
                    add(entry.into_path(), &mut files);
                }
                Ok(_) => {}
                Err(e) => {
                    let at = e.path().unwrap_or(path).to_path_buf();
                    let message = match e.io_error() {
                        Some(io) => format!("cannot read `{}`: {io}", at.display()),
                        None => format!("cannot walk `{}`: {e}", at.display()),
                    };
                    diagnostics.push(
                        Diagnostic::error(Code::Io, message)
                            .at(at_path(&at))
                            .with_help("check the permissions, or remove the broken link or loop"),
                    );
                }
            }
        }
        *skipped_total += skipped;
        if found == 0 && skipped == 0 {
            diagnostics.push(
                Diagnostic::error(
                    Code::NoManifests,
                    format!(
                        "directory `{}` holds no manifest files (`*.yaml` or `*.yml`)",
                        path.display()
                    ),
                )
                .at(at_path(path))
                .with_help(
                    "point at a directory with manifests, or name the files; hidden files and folders are skipped",
                ),
            );
        }
    }
    files
}

/// The largest manifest file read. Far above any real manifest (100,000 desktops selected by id
/// take about 12 MiB), far below what would exhaust memory: a huge or endless file is an error,
/// not a long wait.
pub(crate) const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads one file as UTF-8 text; `name` is how diagnostics show it.
pub(crate) fn read(path: &Path, name: &Arc<str>) -> Result<String, Box<Diagnostic>> {
    read_limited(path, name, MAX_FILE_BYTES)
}

fn read_limited(path: &Path, name: &Arc<str>, limit: u64) -> Result<String, Box<Diagnostic>> {
    let too_large = || {
        Box::new(
            Diagnostic::error(
                Code::FileSize,
                format!("`{name}` is larger than {} MiB", limit >> 20),
            )
            .at(Location::whole_file(name.to_string()))
            .with_help("split the manifests into several files; is this really a manifest?"),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| Box::new(path_error(path, &e)))?;
    // The length is only a hint (the file may grow, or be a pipe): the read itself is bounded.
    let hint = file.metadata().map(|m| m.len()).unwrap_or(0);
    if hint > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    io::Read::read_to_end(&mut io::Read::take(file, limit + 1), &mut bytes)
        .map_err(|e| Box::new(path_error(path, &e)))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The text before the first bad byte is valid, so its lines and characters can be counted.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let byte = e.as_bytes()[valid.len()];
        Box::new(
            Diagnostic::error(
                Code::Encoding,
                format!("`{name}` is not valid UTF-8 (invalid byte 0x{byte:02x})"),
            )
            .at(Location::new(
                name.clone(),
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(column).unwrap_or(u32::MAX),
            ))
            .with_help("save the file as UTF-8"),
        )
    })
}

fn is_hidden(entry: &DirEntry) -> bool {
    entry.file_name().to_string_lossy().starts_with('.')
}

fn is_manifest_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Errors about a whole path name the path alone, without a line and column.
fn at_path(path: &Path) -> Location {
    Location::whole_file(path.display().to_string())
}

fn path_error(path: &Path, e: &io::Error) -> Diagnostic {
    let shown = path.display();
    let (message, help) = match e.kind() {
        io::ErrorKind::NotFound => (
            format!("`{shown}` does not exist"),
            "check the path; give manifest files or directories that contain them",
        ),
        io::ErrorKind::PermissionDenied => (
            format!("cannot read `{shown}`: permission denied"),
            "make the file readable by the user running desktag",
        ),
        _ => (
            format!("cannot read `{shown}`: {e}"),
            "check that the path is a readable file or directory",
        ),
    };
    Diagnostic::error(Code::Io, message)
        .at(at_path(path))
        .with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yaml_and_yml_names_are_manifests() {
        assert!(is_manifest_name(Path::new("a/b.yaml")));
        assert!(is_manifest_name(Path::new("b.YML")));
        assert!(!is_manifest_name(Path::new("b.json")));
        assert!(!is_manifest_name(Path::new("yaml")));
    }

    #[test]
    fn invalid_utf8_is_located_at_the_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, b"version: 1\nname: caf\xe9\n").unwrap();
        let name: Arc<str> = Arc::from("bad.yaml");
        let d = read(&path, &name).unwrap_err();
        assert_eq!(d.location, Some(Location::new("bad.yaml", 2, 10)));
        assert!(d.message.contains("0xe9"), "{}", d.message);
    }

    #[test]
    fn files_over_the_limit_are_refused_without_reading_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        // Sparse: 2 MiB of zeros that take no disk.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        let name: Arc<str> = Arc::from("huge.yaml");
        let d = read_limited(&path, &name, 1 << 20).unwrap_err();
        assert_eq!(d.code, "file-size");
        assert_eq!(d.location, Some(Location::whole_file("huge.yaml")));
        assert_eq!(d.message, "`huge.yaml` is larger than 1 MiB");
        // A file whose length says nothing (here endless) is cut at the limit.
        if Path::new("/dev/zero").exists() {
            let d = read_limited(Path::new("/dev/zero"), &name, 1 << 20).unwrap_err();
            assert_eq!(d.code, "file-size");
        }
        std::fs::write(&path, "version: 1\n").unwrap();
        assert_eq!(read_limited(&path, &name, 1 << 20).unwrap(), "version: 1\n");
    }

    #[test]
    fn missing_path_is_an_error_at_the_path() {
        let mut diags = Vec::new();
        let files = collect(&[PathBuf::from("no/such/dir")], None, &mut diags, &mut 0);
        assert!(files.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(
            diags[0].to_string(),
            "no/such/dir: error[io]: `no/such/dir` does not exist\n  help: check the path; give manifest files or directories that contain them"
        );
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let mut diags = Vec::new();
        assert!(collect(&[dir.path().to_path_buf()], None, &mut diags, &mut 0).is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, "no-manifests");
    }

    #[test]
    fn a_file_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "version: 1\n").unwrap();
        let mut diags = Vec::new();
        let files = collect(
            &[file.clone(), dir.path().to_path_buf()],
            None,
            &mut diags,
            &mut 0,
        );
        assert_eq!(files, vec![file]);
        assert!(diags.is_empty());
    }
}
