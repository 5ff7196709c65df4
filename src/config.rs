//! The resolved run configuration: the clap structs of `cli` turned, once, into plain comparable
//! values the commands run on. Colour, output formats, `--ignore-key` globs, `--name` globs and
//! the connection flags are decided and checked here, before any file is read or request sent.
//! Pure: the few facts about the process (terminals, `NO_COLOR`) come in as [`Environment`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{self, ApplyArgs, ColorChoice, ConnectionFlags, ExportArgs, LogFormat, PlanArgs};
use crate::cli::{PlanOptions, ValidateArgs, ValidateFormat};
use crate::error::Error;
use crate::render::validation::Style;
use crate::render::{Format, Printer};
use crate::repo_config::RepoConfig;
use desktag_api::{ClientOptions, ConnectionArgs};
use desktag_core::manifest::Scope;
use desktag_core::plan::{KeyIgnore, Limits, Policy};

/// What the configuration needs to know about the process it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Environment {
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// `NO_COLOR` is set to a non-empty value.
    pub no_color: bool,
}

impl Environment {
    /// The environment of this process.
    pub(crate) fn detect() -> Environment {
        use std::io::IsTerminal;
        Environment {
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }

    /// Whether to colour a stream: `always`, `never`, or on a terminal when NO_COLOR is unset.
    pub(crate) fn color(&self, choice: ColorChoice, is_terminal: bool) -> bool {
        match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !self.no_color,
        }
    }
}

/// Everything a run needs, decided once from the command line.
#[derive(Debug)]
pub(crate) struct Config {
    pub logging: Logging,
    pub command: Command,
}

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Logging {
    pub verbose: u8,
    pub quiet: u8,
    pub format: LogFormat,
    /// ANSI colour in text log lines.
    pub color: bool,
    /// `desktag emulator`, whose one-line-per-request log is its output.
    pub serving: bool,
    /// stderr is a terminal: short lines, warnings only by default.
    pub interactive: bool,
}

#[derive(Debug)]
pub(crate) enum Command {
    Validate(Validate),
    Plan(Plan),
    Apply(Apply),
    Export(Export),
    Check(Check),
    Doctor(Doctor),
    /// The emulator keeps its own arguments; it is wired in by `commands`.
    Emulator(Box<desktag_emulator::EmulatorArgs>),
    Schema(Schema),
    Completions(clap_complete::Shell),
    /// `None`: `desktag.1` on stdout.
    Man(Option<PathBuf>),
}

/// Which JSON Schema `desktag schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    Manifest,
    /// Of `desktag.toml`.
    Config,
    Plan,
    Report,
}

/// `desktag validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validate {
    pub paths: Vec<PathBuf>,
    pub max_tags: usize,
    pub format: crate::render::validation::Style,
    /// `-qq` with the text style: no verdict on stdout (the exit code and errors tell).
    pub silent: bool,
    /// The repository config's say over which files are manifests and their projects.
    pub scope: Option<Arc<Scope>>,
    /// `--strict` (or desktag.toml's `strict`): warnings are errors.
    pub strict: bool,
    /// desktag.toml's `env`: variables `${env.NAME}` may read besides the `DESKTAG_VAR_` ones.
    pub env_allow: Vec<String>,
}

/// Where the desktops are: the built-in emulator, or the service the flags and environment name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `--emulator`; `project_id` is `--project-id`, used only to choose among the manifests.
    Emulator {
        project_id: Option<String>,
    },
    Service(ConnectionArgs),
}

/// A connection: where, and the client's knobs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Service {
    pub target: Target,
    pub client: ClientOptions,
}

impl Service {
    /// `--project-id`, if given.
    pub(crate) fn project_flag(&self) -> Option<&str> {
        match &self.target {
            Target::Emulator { project_id } => project_id.as_deref(),
            Target::Service(args) => args.project_id.as_deref(),
        }
    }
}

/// Manifests to plan from, with the policy and the connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planning {
    pub paths: Vec<PathBuf>,
    /// The repository config's say over which files are manifests and their projects.
    pub scope: Option<Arc<Scope>>,
    /// desktag.toml's `env`: variables `${env.NAME}` may read besides the `DESKTAG_VAR_` ones.
    pub env_allow: Vec<String>,
    pub policy: Policy,
    /// `--max-deletes`, `--max-changes`: a larger plan is refused.
    pub limits: Limits,
    pub service: Service,
    /// `--fail-fast`: a project that cannot be reached or read stops the whole run.
    pub fail_fast: bool,
}

/// `desktag plan`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub planning: Planning,
    pub printer: Printer,
    pub out: Option<PathBuf>,
    pub detailed_exitcode: bool,
    /// `-qq` with the text format: nothing on stdout (files and the exit code still tell).
    pub silent: bool,
    pub observe: Observe,
}

/// `--metrics FILE` and `--notify URL`: what a scheduled run tells its monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observe {
    pub metrics: Option<PathBuf>,
    pub notify: Option<url::Url>,
}

fn observe(options: &PlanOptions) -> Result<Observe, Error> {
    let notify = match &options.notify {
        None => None,
        Some(text) => {
            let url = url::Url::parse(text).map_err(|e| {
                Error::Usage(format!(
                    "--notify: not a URL ({e}); give an http(s) webhook URL"
                ))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Error::Usage(format!(
                    "--notify: `{}` URLs cannot be posted to; give an http(s) webhook URL",
                    url.scheme()
                )));
            }
            Some(url)
        }
    };
    Ok(Observe {
        metrics: options.metrics.clone(),
        notify,
    })
}

/// What `apply` applies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// Plan from manifests now.
    Manifests(Planning),
    /// A saved plan; the service it was made against is checked when it is read.
    Saved(Saved),
}

/// `apply --plan FILE`: the file, and this command's own options, which the plan is re-planned
/// with (a saved plan's recorded settings are never trusted).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Saved {
    pub path: PathBuf,
    /// The manifests given on the command line (empty: those the plan records), this command's
    /// policy, limits and connection.
    pub planning: Planning,
    /// `--trust-plan`: a plan without manifests here may be applied unchecked against them.
    pub trust: bool,
}

/// `desktag apply`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Apply {
    pub source: Source,
    /// How the report goes to stdout. The plan is always shown as text (on stderr with a JSON
    /// or markdown report, so stdout carries the report alone).
    pub printer: Printer,
    /// Colour of the plan shown on stderr.
    pub stderr_color: bool,
    /// `-q`: show only the plan's summary line before applying.
    pub plan_summary_only: bool,
    /// `-qq` with a text report: neither the plan nor the report on stdout (the report file and
    /// the exit code still tell).
    pub silent: bool,
    pub auto_approve: bool,
    /// Also write the report here: markdown with `--report-format markdown`, else JSON.
    pub report: Option<PathBuf>,
    pub detailed_exitcode: bool,
    pub observe: Observe,
    /// Desktops worked on at once.
    pub concurrency: usize,
    /// How changes are written: batch, per desktop or per tag.
    pub write_mode: crate::apply::WriteMode,
    /// `--deadline`: the run stops (as on SIGTERM) after this long; `None`: never.
    pub deadline: Option<Duration>,
}

/// `desktag check`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    /// Manifests to load; `policy` in `planning` is the default (no flags shape an audit).
    pub planning: Planning,
    pub printer: Printer,
    pub junit: Option<PathBuf>,
}

/// `desktag doctor`: the manifests only name the projects to check; no paths means the project
/// of the flags and environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doctor {
    pub planning: Planning,
}

/// `desktag export`.
#[derive(Debug, Clone)]
pub(crate) struct Export {
    pub names: NameFilter,
    pub ids: BTreeSet<String>,
    /// `--by`, `--group-by`.
    pub shape: crate::render::manifest::Shape,
    pub service: Service,
    /// The projects desktag.toml names, with their regions, in file order without repeats.
    pub projects: Vec<(String, Option<String>)>,
    /// `--out-dir`: one file per project instead of stdout.
    pub out_dir: Option<PathBuf>,
}

/// `--name` globs, compiled once with the manifests' name matching.
#[derive(Debug, Clone)]
pub(crate) struct NameFilter {
    pub patterns: Vec<String>,
    set: globset::GlobSet,
}

impl PartialEq for NameFilter {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl NameFilter {
    pub(crate) fn new(patterns: &[String]) -> Result<NameFilter, Error> {
        let mut globs = globset::GlobSetBuilder::new();
        for name in patterns {
            // The same matching as manifest name globs: only `*` and `?` are special.
            let glob = desktag_core::glob::name_glob(name)
                .map_err(|e| Error::Usage(format!("--name `{name}` is not a valid glob: {e}")))?;
            globs.add(glob);
        }
        let set = globs
            .build()
            .map_err(|e| Error::Usage(format!("--name globs: {e}")))?;
        Ok(NameFilter {
            patterns: patterns.to_vec(),
            set,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub(crate) fn is_match(&self, name: &str) -> bool {
        self.set.is_match(name)
    }
}

impl Config {
    /// Resolves a parsed command line with the repository config (`desktag.toml`, read by
    /// `repo_config::load`), whose `paths` and `[flags]` are the defaults the command line
    /// beats. Fails with a usage error for what clap cannot check (globs, flags that cannot
    /// apply to a saved plan).
    pub(crate) fn from_cli(
        cli: cli::Cli,
        env: &Environment,
        repo: Option<&RepoConfig>,
    ) -> Result<Config, Error> {
        let global = &cli.global;
        let logging = Logging {
            verbose: global.verbose,
            quiet: global.quiet,
            format: global.log_format,
            color: env.color(global.color, env.stderr_is_terminal),
            serving: matches!(cli.command, cli::Command::Emulator(_)),
            interactive: env.stderr_is_terminal,
        };
        let stdout_color = env.color(global.color, env.stdout_is_terminal);
        let command = match cli.command {
            cli::Command::Validate(args) => Command::Validate(Validate {
                silent: global.quiet >= 2,
                ..validate(&args, repo)
            }),
            cli::Command::Plan(args) => {
                let mut plan = plan(&args, stdout_color, repo)?;
                plan.silent = global.quiet >= 2 && plan.printer.format == Format::Text;
                Command::Plan(plan)
            }
            cli::Command::Apply(args) => {
                let mut apply = apply(&args, stdout_color, logging.color, repo)?;
                apply.plan_summary_only = global.quiet > 0;
                apply.silent = global.quiet >= 2 && apply.printer.format == Format::Text;
                Command::Apply(apply)
            }
            cli::Command::Export(args) => Command::Export(export(&args, repo)?),
            cli::Command::Check(args) => Command::Check(Check {
                planning: audit(paths(&args.paths, repo), &args.connection, repo, true),
                printer: Printer::new(args.format, stdout_color),
                junit: args.junit.clone(),
            }),
            cli::Command::Doctor(args) => Command::Doctor(Doctor {
                // No PATH and no desktag.toml: the project of the flags and environment.
                planning: audit(
                    match repo {
                        None => args.paths.clone(),
                        Some(_) => paths(&args.paths, repo),
                    },
                    &args.connection,
                    repo,
                    false,
                ),
            }),
            cli::Command::Emulator(args) => Command::Emulator(Box::new(args)),
            cli::Command::Schema(args) => Command::Schema(match args.kind {
                cli::SchemaKind::Manifest => Schema::Manifest,
                cli::SchemaKind::Config => Schema::Config,
                cli::SchemaKind::Plan => Schema::Plan,
                cli::SchemaKind::Report => Schema::Report,
            }),
            cli::Command::Completions(args) => Command::Completions(args.shell),
            cli::Command::Man(args) => Command::Man(args.dir),
        };
        Ok(Config { logging, command })
    }
}

/// The command line's paths; without any, the config's `paths`, else the current directory.
fn paths(given: &[PathBuf], repo: Option<&RepoConfig>) -> Vec<PathBuf> {
    match repo {
        _ if !given.is_empty() => given.to_vec(),
        Some(repo) => repo.paths.clone(),
        None => vec![PathBuf::from(".")],
    }
}

/// The planning of a command that reads and never writes (`check`, `doctor`): the manifests
/// and connection only, no planning flags.
fn audit(
    paths: Vec<PathBuf>,
    connection: &ConnectionFlags,
    repo: Option<&RepoConfig>,
    fail_fast: bool,
) -> Planning {
    Planning {
        paths,
        scope: repo.map(|r| r.scope.clone()),
        env_allow: env_allow(repo),
        policy: Policy::default(),
        limits: Limits::default(),
        service: service(connection),
        fail_fast,
    }
}

fn env_allow(repo: Option<&RepoConfig>) -> Vec<String> {
    repo.map(|r| r.env.clone()).unwrap_or_default()
}

/// A boolean flag with its `--no-` twin over the config's default: the command line wins.
fn switch(on: bool, off: bool, configured: Option<bool>) -> bool {
    on || (!off && configured.unwrap_or(false))
}

fn validate(args: &ValidateArgs, repo: Option<&RepoConfig>) -> Validate {
    Validate {
        paths: paths(&args.paths, repo),
        scope: repo.map(|r| r.scope.clone()),
        strict: switch(
            args.strict,
            args.no_strict,
            repo.and_then(|r| r.flags.strict),
        ),
        env_allow: env_allow(repo),
        max_tags: args.max_tags,
        format: match args.format {
            ValidateFormat::Text => Style::Text,
            ValidateFormat::Json => Style::Json,
            ValidateFormat::Github => Style::Github,
        },
        silent: false,
    }
}

fn service(flags: &ConnectionFlags) -> Service {
    let target = if flags.emulator {
        Target::Emulator {
            project_id: flags.project_id.clone(),
        }
    } else {
        Target::Service(ConnectionArgs {
            endpoint: flags.endpoint.clone(),
            region: flags.region.clone(),
            project_id: flags.project_id.clone(),
            token_file: flags.token_file.clone(),
        })
    };
    Service {
        target,
        client: ClientOptions {
            max_attempts: flags.max_attempts,
            rate: flags.rate,
            concurrency: flags.concurrency as usize,
            timeout: Duration::from_secs(flags.timeout),
            ca_file: flags.ca_file.clone(),
            decode_denials: flags.decode_denials,
            ..ClientOptions::default()
        },
    }
}

fn planning(options: &PlanOptions, repo: Option<&RepoConfig>) -> Result<Planning, Error> {
    // The planner's own matcher, so "valid" means the same here as during planning.
    KeyIgnore::new(&options.ignore_keys).map_err(|e| Error::Usage(format!("--ignore-key: {e}")))?;
    let flags = repo.map(|r| r.flags).unwrap_or_default();
    let prune = switch(options.prune, options.no_prune, flags.prune);
    Ok(Planning {
        paths: paths(&options.paths, repo),
        scope: repo.map(|r| r.scope.clone()),
        env_allow: env_allow(repo),
        policy: Policy {
            max_tags: options.max_tags,
            prune,
            ignore_keys: options.ignore_keys.clone(),
            targets: options.targets.iter().cloned().collect(),
            strict: switch(options.strict, options.no_strict, flags.strict),
            env: Default::default(),
        },
        limits: Limits {
            max_deletes: options.max_deletes.or(flags.max_deletes),
            max_changes: options.max_changes,
            prune,
        },
        service: service(&options.connection),
        fail_fast: options.fail_fast,
    })
}

fn plan(args: &PlanArgs, color: bool, repo: Option<&RepoConfig>) -> Result<Plan, Error> {
    Ok(Plan {
        planning: planning(&args.options, repo)?,
        printer: Printer {
            explain: args.explain,
            ..Printer::new(args.format, color)
        },
        out: args.out.clone(),
        detailed_exitcode: args.detailed_exitcode,
        silent: false,
        observe: observe(&args.options)?,
    })
}

fn apply(
    args: &ApplyArgs,
    stdout_color: bool,
    stderr_color: bool,
    repo: Option<&RepoConfig>,
) -> Result<Apply, Error> {
    let source = match &args.plan {
        Some(path) => Source::Saved(Saved {
            path: path.clone(),
            // Only the PATHs given: a saved plan is re-planned from exactly its manifests.
            planning: Planning {
                paths: args.options.paths.clone(),
                ..planning(&args.options, repo)?
            },
            trust: args.trust_plan,
        }),
        None => Source::Manifests(planning(&args.options, repo)?),
    };
    Ok(Apply {
        source,
        printer: Printer::new(args.report_format, stdout_color),
        stderr_color,
        plan_summary_only: false,
        silent: false,
        auto_approve: args.auto_approve,
        report: args.report.clone(),
        detailed_exitcode: args.detailed_exitcode,
        observe: observe(&args.options)?,
        concurrency: args.options.connection.concurrency as usize,
        write_mode: args
            .write_mode
            .or(repo.and_then(|r| r.flags.write_mode))
            .unwrap_or_default(),
        deadline: args.deadline.0,
    })
}

fn export(args: &ExportArgs, repo: Option<&RepoConfig>) -> Result<Export, Error> {
    let mut projects: Vec<(String, Option<String>)> = Vec::new();
    for (project, region) in repo.map(|r| r.projects.as_slice()).unwrap_or_default() {
        if !projects.iter().any(|(p, _)| p == project) {
            projects.push((project.clone(), region.clone()));
        }
    }
    Ok(Export {
        projects,
        out_dir: args.out_dir.clone(),
        names: NameFilter::new(&args.names)?,
        ids: args.ids.iter().cloned().collect(),
        shape: crate::render::manifest::Shape {
            by_name: args.by == cli::Selection::Name,
            group_by: args.group_by.clone(),
            templates: args
                .templates
                .iter()
                .map(|t| export_template(t))
                .collect::<Result<_, _>>()?,
            region: None,
        },
        service: service(&args.connection),
    })
}

/// `--template KEY=ATTR`.
fn export_template(text: &str) -> Result<(String, desktag_core::template::Attr), Error> {
    let usage = || {
        Error::Usage(format!(
            "--template `{text}`: write KEY=ATTR with ATTR one of user_name, name, id, enterprise_project_id (e.g. owner=user_name)"
        ))
    };
    let (key, attr) = text.split_once('=').ok_or_else(usage)?;
    let attr = desktag_core::template::Attr::from_name(attr).ok_or_else(usage)?;
    desktag_core::tags::check_key(key)
        .map_err(|e| Error::Usage(format!("--template `{text}`: {e}")))?;
    Ok((key.to_string(), attr))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn config(args: &[&str], env: Environment) -> Result<Config, Error> {
        let cli = cli::Cli::try_parse_from(std::iter::once("desktag").chain(args.iter().copied()))
            .expect("the command line parses");
        Config::from_cli(cli, &env, None)
    }

    fn terminal() -> Environment {
        Environment {
            stdout_is_terminal: true,
            stderr_is_terminal: true,
            no_color: false,
        }
    }

    #[test]
    fn colour_follows_the_terminal_unless_forced_or_no_color() {
        let env = terminal();
        assert!(env.color(ColorChoice::Auto, true));
        assert!(!env.color(ColorChoice::Auto, false));
        assert!(env.color(ColorChoice::Always, false));
        assert!(!env.color(ColorChoice::Never, true));
        let no_color = Environment {
            no_color: true,
            ..env
        };
        assert!(!no_color.color(ColorChoice::Auto, true));
        assert!(no_color.color(ColorChoice::Always, true));
    }

    #[test]
    fn plan_flags_become_one_plain_config() {
        let Command::Plan(plan) = config(
            &[
                "plan",
                "--format",
                "markdown",
                "--prune",
                "--ignore-key",
                "ops-*",
                "--target",
                "d1",
                "--region",
                "r1",
                "--rate",
                "5",
                "m.yaml",
            ],
            terminal(),
        )
        .unwrap()
        .command
        else {
            panic!("a plan config")
        };
        assert_eq!(plan.printer, Printer::new(Format::Markdown, true));
        assert_eq!(plan.planning.paths, vec![PathBuf::from("m.yaml")]);
        assert_eq!(
            plan.planning.policy,
            Policy {
                prune: true,
                ignore_keys: vec!["ops-*".into()],
                targets: ["d1".to_string()].into(),
                ..Policy::default()
            }
        );
        assert_eq!(
            plan.planning.service.target,
            Target::Service(ConnectionArgs {
                region: Some("r1".into()),
                ..ConnectionArgs::default()
            })
        );
        assert_eq!(plan.planning.service.client.rate, Some(5.0));
    }

    #[test]
    fn no_paths_means_the_current_directory() {
        let Command::Plan(plan) = config(&["plan", "--emulator"], terminal()).unwrap().command
        else {
            panic!("a plan config")
        };
        assert_eq!(plan.planning.paths, vec![PathBuf::from(".")]);
        assert_eq!(
            plan.planning.service.target,
            Target::Emulator { project_id: None }
        );
    }

    #[test]
    fn bad_globs_are_usage_errors_before_anything_runs() {
        let err = config(&["plan", "--ignore-key", "ops-[a"], terminal()).unwrap_err();
        assert!(matches!(err, Error::Usage(m) if m.starts_with("--ignore-key")));
        assert!(config(&["export", "--name", "FIN-*"], terminal()).is_ok());
    }

    fn repo(text: &str) -> RepoConfig {
        crate::repo_config::parse(
            std::path::Path::new("desktag.toml"),
            text,
            std::path::Path::new("/repo"),
            std::path::Path::new("/repo"),
        )
        .expect("a valid config")
    }

    fn with_repo(args: &[&str], repo: &RepoConfig) -> Command {
        let cli = cli::Cli::try_parse_from(std::iter::once("desktag").chain(args.iter().copied()))
            .expect("the command line parses");
        Config::from_cli(cli, &terminal(), Some(repo))
            .expect("a config")
            .command
    }

    #[test]
    fn the_config_file_gives_defaults_the_command_line_beats() {
        let team = repo(
            "paths = [\"desktops\"]\n[flags]\nwrite_mode = \"tag\"\nmax_deletes = 7\nprune = true\nstrict = true\n",
        );
        let Command::Apply(apply) = with_repo(&["apply"], &team) else {
            panic!("an apply config")
        };
        let Source::Manifests(planning) = &apply.source else {
            panic!("planning from manifests")
        };
        assert_eq!(apply.write_mode, crate::apply::WriteMode::Tag);
        assert_eq!(planning.paths, vec![PathBuf::from("desktops")]);
        assert!(planning.policy.prune && planning.policy.strict);
        assert_eq!(planning.limits.max_deletes, Some(7));
        assert!(planning.scope.is_some());

        let Command::Apply(apply) = with_repo(
            &[
                "apply",
                "--write-mode",
                "desktop",
                "--max-deletes",
                "2",
                "--no-prune",
                "--no-strict",
                "other",
            ],
            &team,
        ) else {
            panic!("an apply config")
        };
        let Source::Manifests(planning) = &apply.source else {
            panic!("planning from manifests")
        };
        assert_eq!(apply.write_mode, crate::apply::WriteMode::Desktop);
        assert_eq!(planning.paths, vec![PathBuf::from("other")]);
        assert!(!planning.policy.prune && !planning.policy.strict);
        assert_eq!(planning.limits.max_deletes, Some(2));

        // The last of --prune and --no-prune wins, as with any flag pair.
        let Command::Plan(plan) = with_repo(&["plan", "--no-prune", "--prune"], &team) else {
            panic!("a plan config")
        };
        assert!(plan.planning.policy.prune);
    }

    #[test]
    fn without_a_config_file_nothing_changes() {
        let Command::Apply(apply) = config(&["apply"], terminal()).unwrap().command else {
            panic!("an apply config")
        };
        assert_eq!(apply.write_mode, crate::apply::WriteMode::Batch);
        let Command::Validate(validate) = config(&["validate"], terminal()).unwrap().command else {
            panic!("a validate config")
        };
        assert_eq!(validate.paths, vec![PathBuf::from(".")]);
        assert_eq!(validate.scope, None);
        let Command::Validate(validate) = with_repo(&["validate"], &repo("env = [\"BUILD_ID\"]\n"))
        else {
            panic!("a validate config")
        };
        assert_eq!(validate.paths, vec![PathBuf::from(".")]);
        assert!(validate.scope.is_some());
        let Command::Check(check) = with_repo(&["check"], &repo("env = [\"BUILD_ID\"]\n")) else {
            panic!("a check config")
        };
        assert_eq!(check.planning.env_allow, vec!["BUILD_ID".to_string()]);
    }

    #[test]
    fn export_names_match_like_manifest_globs() {
        let names = NameFilter::new(&["FIN-*".to_string()]).unwrap();
        assert!(names.is_match("FIN-LAP-001"));
        assert!(!names.is_match("ENG-LAP-001"));
        assert!(NameFilter::new(&[]).unwrap().is_empty());
    }

    #[test]
    fn apply_has_a_deadline_by_default_and_takes_durations() {
        let deadline = |args: &[&str]| {
            let mut all = vec!["apply", "--emulator"];
            all.extend_from_slice(args);
            let Command::Apply(apply) = config(&all, terminal()).unwrap().command else {
                panic!("an apply config");
            };
            apply.deadline
        };
        assert_eq!(deadline(&[]), Some(Duration::from_secs(3600)));
        assert_eq!(
            deadline(&["--deadline", "1h30m"]),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(
            deadline(&["--deadline", "90s"]),
            Some(Duration::from_secs(90))
        );
        assert_eq!(deadline(&["--deadline", "none"]), None);
        for bad in ["", "5", "5x", "m", "1h5", "0s", "99999999999999999999d"] {
            assert!(cli::parse_deadline(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_saved_plan_takes_this_commands_planning_options() {
        let Command::Apply(apply) = config(
            &[
                "apply",
                "--plan",
                "p.json",
                "--prune",
                "--max-deletes",
                "3",
                "--trust-plan",
                "m/",
            ],
            terminal(),
        )
        .unwrap()
        .command
        else {
            panic!("an apply config");
        };
        let Source::Saved(saved) = apply.source else {
            panic!("a saved plan");
        };
        assert!(saved.trust);
        assert!(saved.planning.policy.prune);
        assert!(saved.planning.limits.prune);
        assert_eq!(saved.planning.limits.max_deletes, Some(3));
        assert_eq!(saved.planning.paths, vec![PathBuf::from("m/")]);
    }
}
