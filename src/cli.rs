//! Command-line syntax: clap derive structs only. They check syntax; `config::Config::from_cli`
//! resolves them, once, into the plain configuration the commands run on.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::Format;
use desktag_emulator::EmulatorArgs;

/// Manage the tags of Huawei Cloud Workspace desktops declaratively, from YAML manifests.
#[derive(Debug, Parser)]
#[command(
    name = "desktag",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes (plan and apply): 0 done or nothing to do; 1 an error (invalid input, usage, \
auth, stale plan, a failed or unverified change, a run stopped by a signal or --deadline); 2 changes, with --detailed-exitcode; 3 desktops \
blocked, everything else planned or applied. 1 beats 3 beats 2. A second Ctrl-C during apply exits \
130 at once, without a report."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// More log output on stderr (on a terminal -v progress, -vv requests; elsewhere -v requests, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less log output on stderr (-q errors only, -qq nothing).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// When to colour output; NO_COLOR in the environment turns `auto` off.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Format of the log lines on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Use this repository config instead of the nearest desktag.toml (from the working
    /// directory up).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Read no desktag.toml.
    #[arg(long, global = true)]
    pub no_config: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether a command line clap could not parse still asks for `--log-format json`, so that its
/// usage error is written as a JSON line like every other stderr line.
pub(crate) fn asks_for_json_logs<I, S>(args: I) -> bool
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    args.iter().any(|a| a == "--log-format=json")
        || args
            .windows(2)
            .any(|w| w[0] == "--log-format" && w[1] == "json")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check manifests offline; exit 0 when valid, 1 otherwise.
    Validate(ValidateArgs),
    /// Read the desktops' current tags and show what apply would change.
    Plan(PlanArgs),
    /// Plan and apply, or apply a saved plan (`--plan FILE`).
    Apply(ApplyArgs),
    /// Print the current tags of desktops as a version-1 manifest.
    Export(ExportArgs),
    /// Audit every desktop of the project against the manifests' `policy:` (writes nothing);
    /// exit 1 when a desktop breaks a rule.
    Check(CheckArgs),
    /// Check what a plan needs, per project: endpoint, credential source and expiry, proxy,
    /// clock, one signed read; exit 0 when a plan would work, 1 with the first fix.
    Doctor(DoctorArgs),
    /// Serve a local emulator of the Workspace tag API (for tests and demos).
    Emulator(EmulatorArgs),
    /// Print a JSON Schema: of manifests (the default, for editors and linters), of the repository
    /// config desktag.toml, of the plan document or of the apply report.
    Schema(SchemaArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a directory.
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DoctorArgs {
    /// Manifest files or directories: one check per project they name [default: the project of
    /// the flags and environment].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionFlags,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct SchemaArgs {
    /// Which document.
    #[arg(value_enum, default_value_t = SchemaKind::Manifest)]
    pub kind: SchemaKind,
}

/// The documents desktag publishes a JSON Schema for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemaKind {
    /// Manifests (`docs/manifest.schema.json`).
    Manifest,
    /// The repository config `desktag.toml` (`docs/config.schema.json`).
    Config,
    /// `plan --format json` and saved plans (`docs/plan.schema.json`).
    Plan,
    /// `apply --report-format json` and `--report` (`docs/report.schema.json`).
    Report,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ManArgs {
    /// Write `desktag.1` and `desktag-COMMAND.1` into this directory instead of printing
    /// `desktag.1` on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ValidateArgs {
    /// Manifest files or directories (walked recursively) [default: desktag.toml's `paths`, or .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format of the diagnostics.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
    /// Tag cap per desktop used for the defaults + tags check.
    #[arg(long, value_name = "N", default_value_t = desktag_core::tags::DEFAULT_MAX_TAGS, value_parser = clap::value_parser!(usize))]
    pub max_tags: usize,
    /// Turn every warning (an unacknowledged override, a stale `override: true`, …) into an
    /// error.
    #[arg(long, overrides_with = "no_strict")]
    pub strict: bool,
    /// Warnings stay warnings, whatever desktag.toml's `[flags]` say.
    #[arg(long, overrides_with = "strict")]
    pub no_strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ValidateFormat {
    Text,
    Json,
    /// GitHub Actions annotations on the manifest lines, then the verdict.
    Github,
}

/// Where to find the service and who we are. Secrets are never flags.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectionFlags {
    /// Service endpoint URL [env: DESKTAG_ENDPOINT]; default https://workspace.{region}.myhuaweicloud.com.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region id, e.g. cn-north-4, when the manifests give none [env: HW_REGION_NAME]; HUAWEICLOUD_SDK_REGION_WORKSPACE_<REGION> overrides a region's endpoint.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The project: one of those the manifests name (default: all of them), or the one to use when they name none [env: HUAWEICLOUD_SDK_PROJECT_ID, HW_PROJECT_ID].
    #[arg(long, value_name = "ID")]
    pub project_id: Option<String>,
    /// File holding an IAM token, sent as X-Auth-Token; beats AK/SK variables. Without it, HW_AUTH_TOKEN is used when no AK/SK is set.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM file of certificates to trust besides the built-in roots (the root of a
    /// TLS-inspecting proxy). HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured.
    #[arg(
        long,
        value_name = "FILE",
        env = "SSL_CERT_FILE",
        hide_env_values = true
    )]
    pub ca_file: Option<PathBuf>,
    /// On a refusal (403), ask STS which policy and action denied it
    /// (HUAWEICLOUD_SDK_STS_ENDPOINT, else the region's STS); the credentials need
    /// sts:decodeAuthorizationMessage.
    #[arg(long)]
    pub decode_denials: bool,
    /// Run against an in-process emulator seeded with the built-in demo inventory.
    #[arg(long, conflicts_with_all = ["endpoint", "region", "token_file"])]
    pub emulator: bool,
    /// Attempts per request, retries included.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,
    /// Requests in flight at once, across all desktops.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Client-side rate limit in requests per second (off by default).
    #[arg(long, value_name = "PER_SECOND", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Timeout of each HTTP request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout: u64,
}

/// Requests per second, within the client's `MIN_RATE..=MAX_RATE`.
fn parse_rate(text: &str) -> Result<f64, String> {
    use desktag_api::{MAX_RATE, MIN_RATE};
    match text.parse::<f64>() {
        Ok(r) if (MIN_RATE..=MAX_RATE).contains(&r) => Ok(r),
        _ => Err(format!(
            "`{text}` is not a rate between {MIN_RATE} and {MAX_RATE} requests per second"
        )),
    }
}

/// Options shared by `plan` and `apply`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PlanOptions {
    /// Manifest files or directories (walked recursively) [default: desktag.toml's `paths`, or .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Delete current keys that no manifest wants (except ignored and system keys).
    #[arg(long, overrides_with = "no_prune")]
    pub prune: bool,
    /// Do not prune, whatever desktag.toml's `[flags]` say.
    #[arg(long, overrides_with = "prune")]
    pub no_prune: bool,
    /// Never change or prune keys matching this glob (repeatable).
    #[arg(long = "ignore-key", value_name = "GLOB")]
    pub ignore_keys: Vec<String>,
    /// Tag cap per desktop (raise it only if your account allows more).
    #[arg(long, value_name = "N", default_value_t = desktag_core::tags::DEFAULT_MAX_TAGS, value_parser = clap::value_parser!(usize))]
    pub max_tags: usize,
    /// Limit the run to this desktop: an id, a computer name or a name glob (repeatable).
    #[arg(long = "target", value_name = "ID|NAME|GLOB")]
    pub targets: Vec<String>,
    /// Treat selectors that match no desktop as errors.
    #[arg(long, overrides_with = "no_strict")]
    pub strict: bool,
    /// Unmatched selectors stay warnings, whatever desktag.toml's `[flags]` say.
    #[arg(long, overrides_with = "strict")]
    pub no_strict: bool,
    /// Refuse a plan that deletes more than N tags, before anything is written or saved. With
    /// --prune the default is half of the tags the planned desktops carry (at least 10).
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<usize>,
    /// Refuse a plan with more than N changes (creates, overwrites and deletes together).
    #[arg(long, value_name = "N")]
    pub max_changes: Option<usize>,
    /// Over several projects, stop at the first that cannot be reached or read (by default it is
    /// reported failed, the others are planned and applied, and the run exits 1).
    #[arg(long)]
    pub fail_fast: bool,
    /// Write the run's metrics to FILE in the Prometheus text format, atomically (for the
    /// node-exporter textfile collector), also when the run fails.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// POST a JSON summary (with a `text` field, for Slack or Teams incoming webhooks) to URL
    /// when the run changed, blocked or failed something; nothing when in sync. A failed
    /// notification is a warning, never a failed run.
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionFlags,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PlanArgs {
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Save the plan for `apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 none, 1 error, 3 blocked desktops).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Under each desktop, say which manifest line (and which kind of entry) each change comes
    /// from; with `--target NAME` for one desktop.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub options: PlanOptions,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ApplyArgs {
    /// Apply this saved plan instead of planning; the reviewed plan is the approval, so no
    /// confirmation is asked. It is re-planned from its manifests (the PATHs given, else those it
    /// records) with this command's options and environment, and refused when anything differs,
    /// when the desktops changed since, or when it records no manifests that are here.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// With --plan: apply a plan whose manifests are not here (or that records none), checking
    /// only that it is well formed, not stale and within this command's limits. Say it only of a
    /// plan file nobody but you could have edited.
    #[arg(long, requires = "plan")]
    pub trust_plan: bool,
    /// Apply without asking for confirmation (required without a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Also write the report to this file (JSON, or markdown with `--report-format markdown`).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Format of the report on stdout. With `json` or `markdown`, the plan is shown on stderr so
    /// stdout carries the report alone.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub report_format: Format,
    /// Exit 2 when changes were applied (drift was repaired).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How changes are written: `batch` (up to 100 desktops per call, read back to confirm),
    /// `desktop` (one call per desktop for its deletes, one for its creates) or `tag` (one call
    /// per tag). What a mode cannot confirm or gets rejected is redone in the next one
    /// [default: desktag.toml's `write_mode`, or batch].
    #[arg(long, value_enum, value_name = "MODE")]
    pub write_mode: Option<crate::apply::WriteMode>,
    /// Stop the run after this long (e.g. 90s, 30m, 2h, 1h30m; `none` for no limit), as the first
    /// SIGINT or SIGTERM does: no new request, and the report says what was applied.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_deadline)]
    pub deadline: Deadline,
    #[command(flatten)]
    pub options: PlanOptions,
}

/// `--deadline`: a duration, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(pub Option<std::time::Duration>);

/// `90s`, `30m`, `2h`, `1h30m`, `1d`; `none` (or `0`) for no deadline.
pub(crate) fn parse_deadline(text: &str) -> Result<Deadline, String> {
    let usage = || {
        format!("`{text}` is not a duration; write e.g. 90s, 30m, 2h or 1h30m, or `none` for no deadline")
    };
    if text == "none" || text == "0" {
        return Ok(Deadline(None));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(usage()),
        };
        let n: u64 = number.parse().map_err(|_| usage())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(usage)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(usage());
    }
    Ok(Deadline(Some(std::time::Duration::from_secs(total))))
}

#[derive(Debug, Clone, Args)]
pub(crate) struct CheckArgs {
    /// Manifest files or directories (walked recursively) [default: desktag.toml's `paths`, or .].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write the audit as JUnit XML to this file (one test case per desktop).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionFlags,
}

/// `export` reads no manifests: its connection flags say so.
#[derive(Debug, Clone, Args)]
#[command(mut_arg("region", |a| a.help(
    "Region id, e.g. cn-north-4 [env: HW_REGION_NAME]; HUAWEICLOUD_SDK_REGION_WORKSPACE_<REGION> overrides a region's endpoint."
)))]
#[command(mut_arg("project_id", |a| a.help(
    "The project to export [env: HUAWEICLOUD_SDK_PROJECT_ID, HW_PROJECT_ID]."
)))]
pub(crate) struct ExportArgs {
    /// Only desktops whose computer name matches this glob (repeatable).
    #[arg(long = "name", value_name = "GLOB")]
    pub names: Vec<String>,
    /// Only this desktop id (repeatable).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Select desktops by `id`, or by `name` where the computer name is unique in the project.
    #[arg(long, value_enum, default_value_t = Selection::Id)]
    pub by: Selection,
    /// One document per value of this tag key, with the tags all its desktops share in
    /// `defaults`.
    #[arg(long, value_name = "KEY")]
    pub group_by: Option<String>,
    /// Write `KEY: "${desktop.ATTR}"` where a desktop's KEY equals its ATTR (`user_name`, `name`,
    /// `id`, `enterprise_project_id`), e.g. `--template owner=user_name` (repeatable).
    #[arg(long = "template", value_name = "KEY=ATTR")]
    pub templates: Vec<String>,
    /// Write one file per project, `DIR/PROJECT_ID.yaml`, instead of stdout: every project
    /// desktag.toml names (or the one --project-id or the environment gives).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionFlags,
}

/// How `export` selects desktops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Selection {
    Id,
    Name,
}
