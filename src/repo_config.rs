//! The repository config, `desktag.toml`: found by walking up from the working directory (like
//! `rustfmt.toml`), or named with `--config FILE`, or turned off with `--no-config`. It says
//! where the manifests are (`paths`, `exclude`), which project and region the documents under a
//! path prefix belong to (`[[projects]]`), the flags a team always passes (`[flags]`, which the
//! command line beats) and the extra variables `${env.NAME}` may read (`env`).
//!
//! [`load`] is the one entry point (it reads the file); [`parse`] is pure and reports every
//! problem as a located diagnostic. The format is documented in docs/config.md and
//! docs/config.schema.json.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use desktag_core::diagnostic::{Code, Diagnostic, Location};
use desktag_core::manifest::{normalise, ProjectDefault, Scope, Sourced};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Error;
use crate::report::WriteMode;

/// The name looked for in the working directory and each of its parents.
pub(crate) const FILE_NAME: &str = "desktag.toml";

/// The largest config file read: far above any real one.
const MAX_BYTES: u64 = 1 << 20;

/// Which config a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// The nearest `desktag.toml`, from the working directory up.
    Discover,
    /// `--config FILE`.
    File(PathBuf),
    /// `--no-config`.
    Off,
}

/// A loaded, valid `desktag.toml`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RepoConfig {
    /// The file, as messages show it (relative to the working directory when below it or above).
    pub path: PathBuf,
    /// The manifest roots, as the commands pass them when the command line names none
    /// (relative to the working directory where possible).
    pub paths: Vec<PathBuf>,
    /// What the manifest loader applies: `paths`, `exclude` and the per-prefix projects.
    pub scope: Arc<Scope>,
    /// `[[projects]]`, in file order: every project the repository names, with its region.
    pub projects: Vec<(String, Option<String>)>,
    /// `[flags]`: defaults for flags; a flag on the command line wins.
    pub flags: FlagDefaults,
    /// `env = [...]`: variables `${env.NAME}` may read besides the `DESKTAG_VAR_` ones.
    pub env: Vec<String>,
}

/// `[flags]` of `desktag.toml`. `None`: not written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlagDefaults {
    pub write_mode: Option<WriteMode>,
    pub max_deletes: Option<usize>,
    pub prune: Option<bool>,
    pub strict: Option<bool>,
}

/// The nearest `desktag.toml` in `cwd` or one of its parents.
pub(crate) fn discover(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

/// Loads the config a run uses: `None` with `--no-config` or when none is found. A config that
/// cannot be read or is invalid is an error carrying every diagnostic.
pub(crate) fn load(choice: &Choice, cwd: &Path) -> Result<Option<RepoConfig>, Error> {
    let file = match choice {
        Choice::Off => return Ok(None),
        Choice::File(path) => cwd.join(path),
        Choice::Discover => match discover(cwd) {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let file = normalise(&file);
    let shown = relative(cwd, &file);
    let text = read(&file).map_err(|source| Error::Read {
        path: shown.clone(),
        source,
    })?;
    let dir = file.parent().unwrap_or(Path::new("/"));
    tracing::debug!(config = %shown.display(), "using the repository config");
    parse(&shown, &text, dir, cwd)
        .map(Some)
        .map_err(|diagnostics| Error::Config {
            path: shown,
            diagnostics,
        })
}

/// The config of a parsed command line: `--config FILE`, none with `--no-config`, else the
/// nearest `desktag.toml`; only for the commands that read manifests or a project (validate,
/// plan, apply, check, export), `None` for the others.
pub(crate) fn for_command(cli: &crate::cli::Cli) -> Result<Option<RepoConfig>, Error> {
    use crate::cli::Command;
    let uses_config = matches!(
        cli.command,
        Command::Validate(_)
            | Command::Plan(_)
            | Command::Apply(_)
            | Command::Check(_)
            | Command::Export(_)
            | Command::Doctor(_)
    );
    if !uses_config {
        return Ok(None);
    }
    let choice = match (&cli.global.config, cli.global.no_config) {
        (_, true) => Choice::Off,
        (Some(file), false) => Choice::File(file.clone()),
        (None, false) => Choice::Discover,
    };
    let cwd = std::env::current_dir().map_err(|source| Error::Read {
        path: PathBuf::from("."),
        source,
    })?;
    load(&choice, &cwd)
}

fn read(file: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(file)?
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} KiB", MAX_BYTES >> 10),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// `target` as seen from `cwd`: relative when one holds the other, else absolute.
fn relative(cwd: &Path, target: &Path) -> PathBuf {
    let cwd = normalise(cwd);
    if let Ok(below) = target.strip_prefix(&cwd) {
        return if below.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            below.to_path_buf()
        };
    }
    for (up, ancestor) in cwd.ancestors().enumerate().skip(1) {
        if let Ok(below) = target.strip_prefix(ancestor) {
            let mut path: PathBuf = std::iter::repeat_n("..", up).collect();
            path.push(below);
            return path;
        }
    }
    target.to_path_buf()
}

const TOP: &[&str] = &["paths", "exclude", "env", "projects", "flags"];
const PROJECT: &[&str] = &["prefix", "project_id", "region"];
const FLAGS: &[&str] = &["write_mode", "max_deletes", "prune", "strict"];

/// Parses and checks a config's text. `shown` names the file in diagnostics, `dir` is its
/// directory (absolute), `cwd` the working directory (absolute). Every problem is reported.
pub(crate) fn parse(
    shown: &Path,
    text: &str,
    dir: &Path,
    cwd: &Path,
) -> Result<RepoConfig, Vec<Diagnostic>> {
    let mut check = Checker {
        file: Arc::from(shown.display().to_string()),
        text,
        diagnostics: Vec::new(),
    };
    let (root, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        let at = e.span().map_or(0, |s| s.start);
        check.error(
            at,
            format!("invalid TOML: {}", e.message().trim_end()),
            "fix the syntax at the position shown",
        );
    }
    if !errors.is_empty() {
        return Err(check.diagnostics);
    }
    let root = root.into_inner();
    check.known_keys(&root, TOP, "");

    let mut paths = Vec::new();
    if let Some(value) = root.get("paths") {
        paths = check.strings(
            value,
            "paths",
            "manifest files or directories, relative to this file, e.g. `paths = [\"desktops\"]`",
        );
        if paths.is_empty() && value.get_ref().as_array().is_some() {
            check.error(
                value.span().start,
                "`paths` is empty",
                "name at least one directory or file, or remove `paths` for `.`",
            );
        }
    }
    let valid_exclude = root
        .get("exclude")
        .map_or_else(Vec::new, |v| check.exclude(v));
    let env = root.get("env").map_or_else(Vec::new, |v| check.env(v));
    let projects = root
        .get("projects")
        .map_or_else(Vec::new, |v| check.projects(v));
    let flags = root
        .get("flags")
        .map_or_else(FlagDefaults::default, |v| check.flags(v));

    if check.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(check.diagnostics);
    }
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.iter().map(|(p, _)| PathBuf::from(p)).collect()
    };
    let listed = projects
        .iter()
        .map(|p| {
            (
                p.project_id.value.clone(),
                p.region.as_ref().map(|r| r.value.clone()),
            )
        })
        .collect();
    let scope = Scope::new(cwd, dir, &roots, &valid_exclude, projects).map_err(|e| {
        vec![Diagnostic::error(Code::Config, format!("`exclude`: {e}"))
            .at(Location::whole_file(check.file.clone()))]
    })?;
    let from_cwd = relative(cwd, &normalise(dir));
    Ok(RepoConfig {
        path: shown.to_path_buf(),
        paths: roots
            .iter()
            .map(|r| {
                let joined = normalise(&from_cwd.join(r));
                if joined.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    joined
                }
            })
            .collect(),
        scope: Arc::new(scope),
        projects: listed,
        flags,
        env,
    })
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Checker<'t> {
    file: Arc<str>,
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Checker<'_> {
    /// The 1-based line and column (in characters) of a byte offset.
    fn location(&self, offset: usize) -> Location {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Location::new(
            self.file.clone(),
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(column).unwrap_or(u32::MAX),
        )
    }

    fn error(&mut self, offset: usize, message: impl Into<String>, help: impl Into<String>) {
        let location = self.location(offset);
        self.diagnostics.push(
            Diagnostic::error(Code::Config, message)
                .at(location)
                .with_help(help),
        );
    }

    fn known_keys(&mut self, table: &DeTable<'_>, known: &[&str], within: &str) {
        for key in table.keys() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let help = match desktag_core::suggest::closest(name, known) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("known keys here: {}", known.join(", ")),
            };
            self.error(
                key.span().start,
                format!("unknown key `{within}{name}`"),
                help,
            );
        }
    }

    fn string(&mut self, value: &Value<'_>, what: &str, help: &str) -> Option<String> {
        match value.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    value.span().start,
                    format!(
                        "`{what}` must be a string, not {}",
                        value.get_ref().type_str()
                    ),
                    help,
                );
                None
            }
        }
    }

    /// A list of strings, each with its offset.
    fn strings(&mut self, value: &Value<'_>, what: &str, help: &str) -> Vec<(String, usize)> {
        let Some(items) = value.get_ref().as_array() else {
            self.error(
                value.span().start,
                format!(
                    "`{what}` must be a list of strings, not {}",
                    value.get_ref().type_str()
                ),
                help,
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            if let Some(s) = self.string(item, &format!("{what}` item `"), help) {
                if s.is_empty() {
                    self.error(item.span().start, format!("an empty `{what}` item"), help);
                } else {
                    out.push((s, item.span().start));
                }
            }
        }
        out
    }

    fn projects(&mut self, value: &Value<'_>) -> Vec<ProjectDefault> {
        const HELP: &str =
            "write `[[projects]]` tables with `prefix`, `project_id` and an optional `region`";
        let Some(items) = value.get_ref().as_array() else {
            self.error(
                value.span().start,
                "`projects` must be a list of tables (`[[projects]]`)",
                HELP,
            );
            return Vec::new();
        };
        let mut out: Vec<ProjectDefault> = Vec::new();
        for item in items {
            let Some(table) = item.get_ref().as_table() else {
                self.error(item.span().start, "a `projects` item must be a table", HELP);
                continue;
            };
            self.known_keys(table, PROJECT, "projects.");
            let at = item.span().start;
            let prefix = table
                .get("prefix")
                .and_then(|v| self.string(v, "prefix", HELP));
            let project_id = table
                .get("project_id")
                .and_then(|v| self.project_id(v, HELP));
            let region = table.get("region").and_then(|v| self.region(v, HELP));
            if table.get("prefix").is_none() {
                self.error(
                    at,
                    "a `[[projects]]` table without `prefix`",
                    "add `prefix = \"desktops/team\"` (relative to this file; `.` for all)",
                );
            }
            if table.get("project_id").is_none() {
                self.error(
                    at,
                    "a `[[projects]]` table without `project_id`",
                    "add the project id the documents under `prefix` belong to",
                );
            }
            let (Some(prefix), Some(project_id)) = (prefix, project_id) else {
                continue;
            };
            let prefix = normalise(Path::new(&prefix));
            if out.iter().any(|p| p.prefix == prefix) {
                self.error(
                    at,
                    format!("prefix `{}` is given twice", prefix.display()),
                    "keep one `[[projects]]` table per prefix",
                );
                continue;
            }
            // A project lives in one region.
            if let (Some(region), Some(other)) = (
                &region,
                out.iter()
                    .filter(|p| p.project_id.value == project_id.value)
                    .find_map(|p| p.region.as_ref()),
            ) {
                if other.value != region.value {
                    self.error(
                        at,
                        format!(
                            "project `{}` is given region `{}` here and `{}` at {}",
                            project_id.value, region.value, other.value, other.location
                        ),
                        "a project lives in one region: write the same `region` for it",
                    );
                    continue;
                }
            }
            out.push(ProjectDefault {
                prefix,
                project_id,
                region,
            });
        }
        out
    }

    /// `exclude`: the globs that compile (the others reported).
    fn exclude(&mut self, value: &Value<'_>) -> Vec<String> {
        let exclude = self.strings(
            value,
            "exclude",
            "globs over paths relative to this file, e.g. `exclude = [\"k8s/**\"]`",
        );
        let mut valid = Vec::new();
        for (pattern, at) in &exclude {
            match desktag_core::manifest::path_glob(pattern) {
                Ok(_) => valid.push(pattern.clone()),
                Err(e) => self.error(*at, format!("`exclude`: {e}"), "close every `[` and `{`"),
            }
        }
        valid
    }

    /// `env`: the allow-list of variable names (each checked to be one).
    fn env(&mut self, value: &Value<'_>) -> Vec<String> {
        let env = self.strings(
            value,
            "env",
            "names of environment variables, e.g. `env = [\"BUILD_ID\"]`",
        );
        for (name, at) in &env {
            if !is_env_name(name) {
                self.error(
                    *at,
                    format!("`{name}` is not an environment variable name"),
                    "use letters, digits and `_`, not starting with a digit",
                );
            }
        }
        env.into_iter().map(|(n, _)| n).collect()
    }

    /// A `[[projects]]` table's `project_id`, checked.
    fn project_id(&mut self, v: &Value<'_>, help: &str) -> Option<Sourced<String>> {
        let id = self.string(v, "project_id", help)?;
        if let Err(e) = desktag_core::tags::check_project_id(&id) {
            self.error(
                v.span().start,
                format!("`{id}` is not a project id: {e}"),
                "copy the project id from the console",
            );
            return None;
        }
        Some(Sourced {
            value: id,
            location: self.location(v.span().start),
        })
    }

    /// A `[[projects]]` table's `region`, checked.
    fn region(&mut self, v: &Value<'_>, help: &str) -> Option<Sourced<String>> {
        let region = self.string(v, "region", help)?;
        if !desktag_core::tags::is_region_id(&region) {
            self.error(
                v.span().start,
                format!("`{region}` is not a region id"),
                "write a region id, e.g. `region = \"cn-north-4\"`",
            );
            return None;
        }
        Some(Sourced {
            value: region,
            location: self.location(v.span().start),
        })
    }

    fn flags(&mut self, value: &Value<'_>) -> FlagDefaults {
        let Some(table) = value.get_ref().as_table() else {
            self.error(
                value.span().start,
                "`flags` must be a table (`[flags]`)",
                "write `[flags]` with write_mode, max_deletes, prune, strict",
            );
            return FlagDefaults::default();
        };
        self.known_keys(table, FLAGS, "flags.");
        let mut flags = FlagDefaults::default();
        if let Some(v) = table.get("write_mode") {
            const HELP: &str = "write `batch`, `desktop` or `tag`";
            if let Some(text) = self.string(v, "write_mode", HELP) {
                match <WriteMode as clap::ValueEnum>::from_str(&text, false) {
                    Ok(mode) => flags.write_mode = Some(mode),
                    Err(_) => self.error(
                        v.span().start,
                        format!("`{text}` is not a write mode"),
                        HELP,
                    ),
                }
            }
        }
        if let Some(v) = table.get("max_deletes") {
            let n = v
                .get_ref()
                .as_integer()
                .and_then(|i| u64::from_str_radix(i.as_str(), i.radix()).ok())
                .and_then(|n| usize::try_from(n).ok());
            match n {
                Some(n) => flags.max_deletes = Some(n),
                None => self.error(
                    v.span().start,
                    "`max_deletes` must be a whole number, 0 or more",
                    "e.g. `max_deletes = 20`",
                ),
            }
        }
        for (name, slot) in [("prune", &mut flags.prune), ("strict", &mut flags.strict)] {
            if let Some(v) = table.get(name) {
                match v.get_ref().as_bool() {
                    Some(b) => *slot = Some(b),
                    None => self.error(
                        v.span().start,
                        format!(
                            "`{name}` must be true or false, not {}",
                            v.get_ref().type_str()
                        ),
                        format!("e.g. `{name} = true`"),
                    ),
                }
            }
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_at(text: &str) -> Result<RepoConfig, Vec<Diagnostic>> {
        parse(
            Path::new("desktag.toml"),
            text,
            Path::new("/repo"),
            Path::new("/repo/desktops/fin"),
        )
    }

    fn errors(text: &str) -> Vec<String> {
        parse_at(text)
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn a_full_config_resolves_paths_against_its_directory() {
        let config = parse_at(
            r#"
paths = ["desktops", "more"]
exclude = ["desktops/drafts/**"]
env = ["BUILD_ID"]

[[projects]]
prefix = "desktops"
project_id = "p-1"
region = "cn-north-4"

[flags]
write_mode = "desktop"
max_deletes = 20
prune = true
strict = false
"#,
        )
        .unwrap();
        assert_eq!(
            config.paths,
            vec![PathBuf::from("../../desktops"), PathBuf::from("../../more")]
        );
        assert_eq!(
            config.flags,
            FlagDefaults {
                write_mode: Some(WriteMode::Desktop),
                max_deletes: Some(20),
                prune: Some(true),
                strict: Some(false),
            }
        );
        assert_eq!(config.env, vec!["BUILD_ID".to_string()]);
        assert_eq!(
            config.projects,
            vec![("p-1".to_string(), Some("cn-north-4".to_string()))]
        );
        assert!(config.scope.includes(Path::new("a.yaml")));
        assert!(!config.scope.includes(Path::new("../drafts/a.yaml")));
    }

    #[test]
    fn the_paths_default_to_the_config_directory() {
        let config = parse(
            "desktag.toml".as_ref(),
            "",
            "/repo".as_ref(),
            "/repo".as_ref(),
        );
        assert_eq!(config.unwrap().paths, vec![PathBuf::from(".")]);
    }

    #[test]
    fn unknown_keys_are_errors_at_their_line_with_a_suggestion() {
        assert_eq!(
            errors("pahts = [\"a\"]\n\n[flags]\nprnue = true\n"),
            vec![
                "desktag.toml:1:1: error[config]: unknown key `pahts`\n  help: did you mean `paths`?",
                "desktag.toml:4:1: error[config]: unknown key `flags.prnue`\n  help: did you mean `prune`?",
            ]
        );
        assert_eq!(
            errors("[[projects]]\nprefix = \".\"\nproject_id = \"p\"\nzone = \"x\"\n"),
            vec!["desktag.toml:4:1: error[config]: unknown key `projects.zone`\n  help: known keys here: prefix, project_id, region"]
        );
    }

    #[test]
    fn wrong_kinds_and_values_are_located() {
        let found = errors(
            "paths = \"desktops\"\nexclude = [\"a/[b\"]\nenv = [\"1X\"]\n[flags]\nwrite_mode = \"fast\"\nmax_deletes = -1\nprune = \"yes\"\n",
        );
        let lines: Vec<&str> = found
            .iter()
            .map(|d| d.split(": error").next().unwrap())
            .collect();
        assert_eq!(
            lines,
            vec![
                "desktag.toml:1:9",
                "desktag.toml:2:12",
                "desktag.toml:3:8",
                "desktag.toml:5:14",
                "desktag.toml:6:15",
                "desktag.toml:7:9"
            ],
            "{found:#?}"
        );
        assert!(found[0].contains("`paths` must be a list of strings, not string"));
        assert!(found[3].contains("`fast` is not a write mode"));
    }

    #[test]
    fn projects_need_a_prefix_and_a_valid_id_once_per_prefix() {
        let found = errors(
            "[[projects]]\nproject_id = \"p/1\"\n[[projects]]\nprefix = \"a\"\nproject_id = \"p\"\n[[projects]]\nprefix = \"a/\"\nproject_id = \"q\"\n",
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].contains("`p/1` is not a project id"));
        assert!(found[1].contains("without `prefix`"));
        assert!(found[2].contains("prefix `a` is given twice"));
    }

    #[test]
    fn toml_syntax_errors_are_located() {
        let found = errors("paths = [\"a\"\n");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("desktag.toml:1:") && found[0].contains("invalid TOML"),
            "{found:?}"
        );
    }

    #[test]
    fn the_nearest_config_up_the_tree_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(discover(&deep), None);
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        assert_eq!(discover(&deep), Some(dir.path().join(FILE_NAME)));
        std::fs::write(deep.join(FILE_NAME), "").unwrap();
        assert_eq!(discover(&deep), Some(deep.join(FILE_NAME)));
        let loaded = load(&Choice::Discover, &dir.path().join("a"))
            .unwrap()
            .unwrap();
        assert_eq!(loaded.path, PathBuf::from("../desktag.toml"));
        assert_eq!(loaded.paths, vec![PathBuf::from("..")]);
        assert_eq!(load(&Choice::Off, &deep).unwrap(), None);
    }

    #[test]
    fn relative_paths_go_up_and_down() {
        assert_eq!(
            relative("/a/b".as_ref(), "/a/x.toml".as_ref()),
            PathBuf::from("../x.toml")
        );
        assert_eq!(
            relative("/a".as_ref(), "/a/b/x".as_ref()),
            PathBuf::from("b/x")
        );
        assert_eq!(relative("/a".as_ref(), "/a".as_ref()), PathBuf::from("."));
    }
}
