//! What a repository config (`desktag.toml`) tells the loader: which files are manifests (under
//! its `paths`, matching no `exclude` glob) and which `project_id` / `region` a document that
//! names none takes from its file's path prefix. Paths are compared lexically, as absolute,
//! normalised paths; no file-system access here (the shell reads the config, `files` walks).

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::model::{Document, Sourced};
use crate::glob::InvalidGlob;

/// The repository's say over the manifests. Built by the shell from `desktag.toml`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The working directory, absolute: relative manifest paths are placed against it.
    cwd: PathBuf,
    /// The directory of the config file, absolute and normalised: `exclude` globs and project
    /// prefixes are relative to it.
    root: PathBuf,
    /// Manifest roots (absolute, normalised). A file outside all of them is not a manifest.
    roots: Vec<PathBuf>,
    exclude_patterns: Vec<String>,
    exclude: GlobSet,
    /// Longest prefix first.
    projects: Vec<ProjectDefault>,
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.cwd == other.cwd
            && self.root == other.root
            && self.roots == other.roots
            && self.exclude_patterns == other.exclude_patterns
            && self.projects == other.projects
    }
}

impl Eq for Scope {}

/// The project (and region) of the documents under one path prefix that name none themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectDefault {
    /// Relative to the config file's directory, as written (`.` for all of it).
    pub prefix: PathBuf,
    /// Where the config file gives the project: documents that take it point there.
    pub project_id: Sourced<String>,
    pub region: Option<Sourced<String>>,
}

impl Scope {
    /// A scope rooted at `root` (the config file's directory) for a process running in `cwd`
    /// (both made absolute by the caller). `roots` are relative to `root`; `exclude` globs
    /// match paths relative to `root`, `/`-separated (`**` crosses directories, `*` does not).
    pub fn new(
        cwd: &Path,
        root: &Path,
        roots: &[PathBuf],
        exclude: &[String],
        mut projects: Vec<ProjectDefault>,
    ) -> Result<Scope, InvalidGlob> {
        let root = normalise(root);
        let mut set = GlobSetBuilder::new();
        for pattern in exclude {
            set.add(path_glob(pattern)?);
        }
        let exclude_set = set.build().map_err(|e| InvalidGlob {
            glob: exclude.join(", "),
            reason: e.to_string(),
        })?;
        projects.sort_by_key(|p| std::cmp::Reverse(normalise(&root.join(&p.prefix))));
        Ok(Scope {
            cwd: normalise(cwd),
            roots: roots.iter().map(|r| normalise(&root.join(r))).collect(),
            root,
            exclude_patterns: exclude.to_vec(),
            exclude: exclude_set,
            projects,
        })
    }

    fn absolute(&self, path: &Path) -> PathBuf {
        normalise(&self.cwd.join(path))
    }

    /// Whether an `exclude` glob matches `path` (a file or a directory, as found or given).
    pub fn is_excluded(&self, path: &Path) -> bool {
        let absolute = self.absolute(path);
        match absolute.strip_prefix(&self.root) {
            Ok(relative) if !relative.as_os_str().is_empty() => {
                self.exclude.is_match(slashed(relative))
            }
            _ => false,
        }
    }

    /// Whether `file` is a manifest of the repository: under one of its `paths`, not excluded.
    pub fn includes(&self, file: &Path) -> bool {
        let absolute = self.absolute(file);
        self.roots.iter().any(|r| absolute.starts_with(r)) && !self.is_excluded(file)
    }

    /// Fills in the `project_id` (and `region`) of documents from `file` that name no project,
    /// from the longest configured prefix `file` lies under; a document naming the prefix's
    /// project without a region takes the prefix's region.
    pub fn apply_defaults(&self, file: &Path, documents: &mut [Document]) {
        let absolute = self.absolute(file);
        let Some(default) = self
            .projects
            .iter()
            .find(|p| absolute.starts_with(normalise(&self.root.join(&p.prefix))))
        else {
            return;
        };
        for doc in documents {
            match &doc.project_id {
                None => {
                    doc.project_id = Some(default.project_id.clone());
                    if doc.region.is_none() {
                        doc.region.clone_from(&default.region);
                    }
                }
                Some(p) if p.value == default.project_id.value && doc.region.is_none() => {
                    doc.region.clone_from(&default.region);
                }
                Some(_) => {}
            }
        }
    }
}

/// A glob over `/`-separated relative paths: `*` and `?` stay within one directory, `**`
/// crosses them, `[abc]` and `{a,b}` as usual. A pattern naming a directory also excludes
/// everything under it.
pub fn path_glob(pattern: &str) -> Result<globset::Glob, InvalidGlob> {
    let trimmed = pattern.trim_end_matches('/');
    let syntax = format!("{{{trimmed},{trimmed}/**}}");
    GlobBuilder::new(&syntax)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| InvalidGlob {
            glob: pattern.to_string(),
            reason: e.kind().to_string(),
        })
}

fn slashed(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// `path` with `.` removed and `..` applied, without touching the file system.
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Location;

    fn scope(exclude: &[&str], projects: Vec<ProjectDefault>) -> Scope {
        Scope::new(
            Path::new("/repo/sub"),
            Path::new("/repo"),
            &[PathBuf::from("desktops")],
            &exclude.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            projects,
        )
        .unwrap()
    }

    fn project(prefix: &str, id: &str, region: Option<&str>) -> ProjectDefault {
        let at = |line| Location::new("desktag.toml", line, 1);
        ProjectDefault {
            prefix: prefix.into(),
            project_id: Sourced {
                value: id.into(),
                location: at(1),
            },
            region: region.map(|r| Sourced {
                value: r.into(),
                location: at(2),
            }),
        }
    }

    #[test]
    fn files_count_only_under_the_roots_and_outside_the_excludes() {
        let s = scope(&["desktops/drafts", "**/*.tmpl.yaml"], vec![]);
        assert!(s.includes(Path::new("../desktops/a.yaml")));
        assert!(s.includes(Path::new("/repo/desktops/x/b.yml")));
        assert!(!s.includes(Path::new("../k8s/cronjob.yaml")));
        assert!(!s.includes(Path::new("../desktops/drafts/new.yaml")));
        assert!(!s.includes(Path::new("/repo/desktops/x/y.tmpl.yaml")));
        assert!(s.is_excluded(Path::new("/repo/desktops/drafts")));
        // `*` stays within one directory.
        let s = scope(&["desktops/*.yaml"], vec![]);
        assert!(!s.includes(Path::new("/repo/desktops/a.yaml")));
        assert!(s.includes(Path::new("/repo/desktops/x/a.yaml")));
    }

    #[test]
    fn bad_exclude_globs_are_refused() {
        let err = Scope::new(
            Path::new("/"),
            Path::new("/"),
            &[],
            &["a/[b".to_string()],
            vec![],
        )
        .unwrap_err();
        assert_eq!(err.glob, "a/[b");
    }

    #[test]
    fn the_longest_prefix_gives_the_project_of_documents_naming_none() {
        let s = scope(
            &[],
            vec![
                project("desktops", "p-all", Some("r-1")),
                project("desktops/fin", "p-fin", None),
            ],
        );
        let text = "version: 1\ndesktops: [{id: d1, tags: {a: b}}]\n---\nversion: 1\nproject_id: p-all\ndesktops: [{id: d1, tags: {a: b}}]\n---\nversion: 1\nproject_id: other\ndesktops: [{id: d1, tags: {a: b}}]\n";
        let loaded = crate::manifest::load_str("m.yaml", text, &Default::default());
        let mut docs = loaded.manifest.documents;
        let mut fin = docs.clone();
        s.apply_defaults(Path::new("/repo/desktops/team.yaml"), &mut docs);
        let ids: Vec<_> = docs
            .iter()
            .map(|d| {
                (
                    d.project_id.as_ref().map(|p| p.value.as_str()),
                    d.region.as_ref().map(|r| r.value.as_str()),
                )
            })
            .collect();
        assert_eq!(
            ids,
            vec![
                (Some("p-all"), Some("r-1")),
                (Some("p-all"), Some("r-1")),
                (Some("other"), None)
            ]
        );
        assert_eq!(
            docs[0].project_id.as_ref().unwrap().location,
            Location::new("desktag.toml", 1, 1)
        );
        s.apply_defaults(Path::new("../desktops/fin/x.yaml"), &mut fin);
        assert_eq!(fin[0].project_id.as_ref().unwrap().value, "p-fin");
        assert_eq!(fin[0].region, None);
        let mut outside = loaded_first(text);
        s.apply_defaults(Path::new("/elsewhere/x.yaml"), &mut outside);
        assert_eq!(outside[0].project_id, None);
    }

    fn loaded_first(text: &str) -> Vec<Document> {
        crate::manifest::load_str("m.yaml", text, &Default::default())
            .manifest
            .documents
    }

    #[test]
    fn normalising_is_lexical() {
        assert_eq!(normalise(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalise(Path::new("../x")), PathBuf::from("../x"));
        assert_eq!(normalise(Path::new("../../x")), PathBuf::from("../../x"));
        assert_eq!(normalise(Path::new("a/../../x")), PathBuf::from("../x"));
        assert_eq!(normalise(Path::new("/../x")), PathBuf::from("/x"));
    }
}
