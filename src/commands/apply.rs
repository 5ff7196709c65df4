//! `desktag apply`: check every output, plan (or read a saved plan, which vouches for nothing:
//! re-plan it from its manifests with this command's options and refuse any difference or
//! staleness), show it, confirm and re-read, apply under one stop switch (signals, `--deadline`),
//! verify, and write every output, collecting failures.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::apply::{self, ApplyOptions, Progress};
use crate::config::{self, Service, Source, Target};
use crate::error::{Error, RunTally, Status};
use crate::render::metrics::ProjectMetrics;
use crate::render::{self, messages, Format, Printer};
use crate::report::{DesktopResult, Report};
use desktag_api::{ManifestScope, Stop};
use desktag_core::inventory::Inventory;
use desktag_core::manifest::{self, LoadOptions};
use desktag_core::plan::saved::{self, ManifestMismatch};
use desktag_core::plan::{Plan, ProjectFailure, Provenance};

use super::session::{self, Planned, Session, EMULATOR_ENDPOINT};
use super::{github, output};

pub(super) async fn run(config: &config::Apply) -> Result<Status, Error> {
    let mut projects = Vec::new();
    let outcome = execute(config, &mut projects).await;
    super::observe::finish("apply", &config.observe, projects, &outcome).await;
    outcome
}

async fn execute(
    config: &config::Apply,
    projects: &mut Vec<ProjectMetrics>,
) -> Result<Status, Error> {
    // Every output is checked before anything is read or written, so a long apply never ends
    // with its report lost to a path that could not take it.
    if let Some(path) = &config.report {
        output::check_writable(path)?;
    }
    github::check()?;
    // One switch for the whole run: the first SIGINT or SIGTERM, or the deadline, throws it.
    // From then on no new request, rate wait or retry; what is known is settled and reported.
    let stop = Stop::default();
    let interrupted = Arc::new(AtomicBool::new(false));
    let prompting = Arc::new(AtomicBool::new(false));
    let watch = stop_on_signal_or_deadline(
        stop.clone(),
        interrupted.clone(),
        prompting.clone(),
        config.deadline,
    );
    let outcome = run_stoppable(config, &stop, interrupted, &prompting, projects).await;
    watch.abort();
    outcome
}

async fn run_stoppable(
    config: &config::Apply,
    stop: &Stop,
    interrupted: Arc<AtomicBool>,
    prompting: &AtomicBool,
    projects: &mut Vec<ProjectMetrics>,
) -> Result<Status, Error> {
    let Runs {
        planned: runs,
        failed,
        saved_plan,
    } = match planned_runs(config, stop).await? {
        Ok(runs) => runs,
        Err(status) => return Ok(status),
    };
    let (sessions, mut plans): (Vec<Session>, Vec<Plan>) =
        runs.into_iter().map(|r| (r.session, r.plan)).unzip();

    show_plans(config, &plans, &failed)?;
    if let Source::Manifests(planning) = &config.source {
        if let Some(why) = super::plan::over_limits(&plans, &planning.limits) {
            return Err(Error::Refused(why));
        }
    }

    // A saved plan was reviewed when it was made: applying it is the approval.
    if plans.iter().any(|p| p.has_changes) && !config.auto_approve && !saved_plan {
        prompting.store(true, Ordering::SeqCst);
        let answer = confirm(&plans).await;
        prompting.store(false, Ordering::SeqCst);
        answer?;
        // The prompt may have been open for a while: a desktop someone changed meanwhile is
        // not overwritten with what the plan saw.
        refuse_changed_since_shown(&plans, &sessions).await?;
    }
    // Shown and approved: what only explains the plans is not needed to apply them.
    plans.iter_mut().for_each(Plan::drop_explanations);
    let options = apply_options(config, interrupted, &plans);
    // What the plans found, for the metrics, before their changes move into the reports.
    let found: Vec<ProjectMetrics> = plans
        .iter()
        .map(|plan| super::plan::plan_metrics(plan, 0))
        .collect();
    let several = plans.len() > 1;
    // Each project with its own client, side by side; projects in one region under one
    // credential draw from one request rate (the clients share `ClientOptions::budgets`).
    let mut reports =
        futures::future::join_all(plans.into_iter().zip(&sessions).map(|(plan, session)| {
            let span = session::project_span(Some(&plan.project_id), several);
            apply::apply(plan, &session.client, &options).instrument(span)
        }))
        .await;
    record_metrics(projects, found, &reports, &sessions, &failed);
    for report in &mut reports {
        // As the plan: by name, then id, as a reviewer reads them.
        report
            .desktops
            .sort_by(|a, b| (&a.name, &a.desktop_id).cmp(&(&b.name, &b.desktop_id)));
    }
    let mut tally = tally(&reports, config.detailed_exitcode);
    tally.failed_projects = failed.iter().map(|f| f.project_id.clone()).collect();
    let status = Status::of_run(&tally);
    let failed_outputs = write_outputs(config, &reports, &failed, &tally);
    if stop.is_stopped() {
        tracing::warn!(
            reason = stop.reason(),
            "the run was stopped; the report says what was done"
        );
    }
    if failed_outputs.is_empty() {
        return Ok(status);
    }
    Ok(Status::Failed(messages::outputs_failed(
        tally.changes,
        &failed_outputs,
    )))
}

/// What an apply applies: the planned projects, the projects that could not be planned, and
/// whether they come from a saved plan.
struct Runs {
    planned: Vec<Planned>,
    failed: Vec<ProjectFailure>,
    saved_plan: bool,
}

/// Plans the run (or reads and checks the saved plan), every client under `stop`. `Ok(Err(_))`
/// is the status of a run whose manifests are not valid.
async fn planned_runs(config: &config::Apply, stop: &Stop) -> Result<Result<Runs, Status>, Error> {
    let with_stop = |service: &Service| Service {
        client: desktag_api::ClientOptions {
            stop: Some(stop.clone()),
            ..service.client.clone()
        },
        ..service.clone()
    };
    Ok(Ok(match &config.source {
        Source::Saved(saved) => {
            let saved = config::Saved {
                planning: config::Planning {
                    service: with_stop(&saved.planning.service),
                    ..saved.planning.clone()
                },
                ..saved.clone()
            };
            Runs {
                planned: from_saved(&saved).await?,
                failed: Vec::new(),
                saved_plan: true,
            }
        }
        Source::Manifests(planning) => {
            let planning = config::Planning {
                service: with_stop(&planning.service),
                ..planning.clone()
            };
            match session::plan_from(&planning).await? {
                Ok(run) => Runs {
                    planned: run.planned,
                    failed: run.failed,
                    saved_plan: false,
                },
                Err(errors) => return Ok(Err(Status::Failed(messages::invalid_input(errors)))),
            }
        }
    }))
}

/// Shows the plans of a run, as `config` says.
fn show_plans(
    config: &config::Apply,
    plans: &[Plan],
    failed: &[ProjectFailure],
) -> Result<(), Error> {
    // The plan is shown as text (with -q only its summary line); with a JSON or markdown report
    // on stdout it goes to stderr, so stdout carries the report alone and can be redirected into
    // a file or a step summary.
    let show = |w: &mut dyn Write, printer: Printer| {
        if config.plan_summary_only {
            writeln!(w, "{}", render::plans_summary_line(plans))
        } else {
            printer.plans_of_run(w, plans, failed)
        }
    };
    if config.silent {
        // -qq: the report file and the exit code tell.
    } else if config.printer.format == Format::Text {
        output::stdout(|out| show(out, config.printer))?;
    } else {
        output::stderr(output::Level::Info, |err| {
            show(err, Printer::new(Format::Text, config.stderr_color))
        });
    }
    Ok(())
}

/// How the plans are applied; logs what is about to be.
fn apply_options(
    config: &config::Apply,
    interrupted: Arc<AtomicBool>,
    plans: &[Plan],
) -> ApplyOptions {
    // One bar per run: projects applied side by side report by heartbeat.
    let progress = if std::io::stderr().is_terminal() && plans.len() == 1 {
        Progress::Bar
    } else {
        Progress::Heartbeat(Duration::from_secs(10))
    };
    tracing::info!(
        changes = plans
            .iter()
            .map(|p| p.summary.create + p.summary.overwrite + p.summary.delete)
            .sum::<usize>(),
        deadline = ?config.deadline,
        "applying; SIGINT or SIGTERM stops it and the report is still written"
    );
    ApplyOptions {
        interrupted,
        concurrency: config.concurrency,
        progress,
        write_mode: config.write_mode,
    }
}

/// The metrics of every project of the run: those applied (`found`: what their plans found),
/// then those that failed to plan.
fn record_metrics(
    projects: &mut Vec<ProjectMetrics>,
    found: Vec<ProjectMetrics>,
    reports: &[Report],
    sessions: &[Session],
    failed: &[ProjectFailure],
) {
    for ((found, report), session) in found.into_iter().zip(reports).zip(sessions) {
        let t = &report.totals;
        projects.push(ProjectMetrics {
            applied: t.applied,
            failed: t.failed,
            blocked: t.blocked,
            throttled: t.throttled,
            rebatched: t.rebatched,
            bisected: t.bisected,
            fallbacks: t.fallbacks.total(),
            duration_seconds: t.duration_ms as f64 / 1000.0,
            requests: session.client.stats().requests,
            ..found
        });
    }
    projects.extend(failed.iter().map(super::plan::failed_metrics));
}

/// Writes every output of an apply (the report on stdout, `--report`, the step summary and the
/// step outputs): a channel that fails does not keep the others from being written. Returns the
/// failures, each naming its channel.
fn write_outputs(
    config: &config::Apply,
    reports: &[Report],
    failed_projects: &[ProjectFailure],
    tally: &RunTally,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut note = |result: Result<(), Error>| {
        if let Err(error) = result {
            let line = crate::error::chain(&error);
            tracing::error!("{line}");
            failed.push(line);
        }
    };
    if !config.silent {
        note(output::stdout(|out| {
            config.printer.reports_of_run(out, reports, failed_projects)
        }));
    }
    if let Some(path) = &config.report {
        let format = report_file_format(path, config.printer.format);
        // Straight to the file: the report of 100,000 desktops is hundreds of megabytes of JSON.
        note(output::write_atomic_with(path, |w| {
            Printer::new(format, false).reports_of_run(w, reports, failed_projects)
        }));
    }
    for result in github::publish_each(
        || {
            String::from_utf8_lossy(&rendered(reports, failed_projects, Format::Markdown))
                .into_owned()
        },
        github::Outputs {
            has_changes: tally.changes > 0,
            blocked: tally.blocked.len(),
            failed: tally.failed + tally.failed_projects.len(),
        },
    ) {
        note(result);
    }
    failed
}

/// After the confirmation: re-reads the desktops the plans change and refuses, writing nothing,
/// when any no longer carries the tags the plan was made from.
async fn refuse_changed_since_shown(plans: &[Plan], sessions: &[Session]) -> Result<(), Error> {
    let mut stale = Vec::new();
    for (plan, session) in plans.iter().zip(sessions) {
        let ids = saved::desktops_to_check(plan);
        if ids.is_empty() {
            continue;
        }
        let now = Inventory::new(session.client.read_desktops(&ids).await?);
        stale.extend(saved::stale(plan, &now));
    }
    if stale.is_empty() {
        return Ok(());
    }
    let details = messages::stale_desktops(&stale);
    output::stderr(output::Level::Error, |err| {
        err.write_all(details.as_bytes())
    });
    Err(Error::Refused(messages::changed_while_asking(stale.len())))
}

/// The format of the `--report` file: named by its extension (`.json`; `.md`, `.markdown`), else
/// markdown with `--report-format markdown` and JSON otherwise.
fn report_file_format(path: &std::path::Path, stdout: Format) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        Some("md" | "markdown") => Format::Markdown,
        _ if stdout == Format::Markdown => Format::Markdown,
        _ => Format::Json,
    }
}

fn rendered(reports: &[Report], failed: &[ProjectFailure], format: Format) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = Printer::new(format, false).reports_of_run(&mut bytes, reports, failed);
    bytes
}

/// What the reports count towards the exit code.
fn tally(reports: &[Report], detailed_exitcode: bool) -> RunTally {
    let named = |d: &&crate::report::DesktopReport| {
        if d.name.is_empty() {
            d.desktop_id.clone()
        } else {
            d.name.clone()
        }
    };
    let desktops = || reports.iter().flat_map(|r| &r.desktops);
    RunTally {
        applied: true,
        failed_projects: Vec::new(),
        failed: desktops()
            .filter(|d| matches!(d.status, DesktopResult::Failed | DesktopResult::Unverified))
            .count(),
        blocked: desktops()
            .filter(|d| d.status == DesktopResult::Blocked)
            .map(|d| named(&d))
            .collect(),
        changes: reports.iter().map(|r| r.totals.applied).sum(),
        detailed_exitcode,
    }
}

/// The largest saved plan `apply --plan` reads: far above a plan of 100,000 desktops, far below
/// what would exhaust memory.
const MAX_PLAN_BYTES: u64 = 1 << 30;

/// Reads a saved plan file: a regular file (a FIFO or a device would block or never end) of at
/// most [`MAX_PLAN_BYTES`].
fn read_plan_file(path: &std::path::Path) -> Result<String, Error> {
    use std::io::Read;
    let err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let not_regular = || {
        err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file; a saved plan is a file written by `desktag plan --out`",
        ))
    };
    if !std::fs::metadata(path).map_err(err)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(err)?;
    // Checked again on the open file: the path may have been swapped in between.
    if !file.metadata().map_err(err)?.is_file() {
        return Err(not_regular());
    }
    let mut text = String::new();
    file.take(MAX_PLAN_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(err)?;
    if text.len() as u64 > MAX_PLAN_BYTES {
        return Err(Error::BadPlan {
            path: path.to_path_buf(),
            message: format!("it is larger than {} MiB", MAX_PLAN_BYTES >> 20),
        });
    }
    Ok(text)
}

/// `DESKTAG_PLAN_KEY`, when set and not empty.
pub(super) fn plan_key() -> Option<desktag_core::secret::Secret> {
    std::env::var(saved::KEY_VARIABLE)
        .ok()
        .filter(|k| !k.is_empty())
        .map(desktag_core::secret::Secret::new)
}

/// Reads a saved plan (one project's, or several projects' together) and checks it before
/// anything is written: its signature when `DESKTAG_PLAN_KEY` is set, this command's limits,
/// then per project (connected to where it was made) that no desktop it changes changed since,
/// and that re-planning from its manifests with this command's options and environment gives
/// exactly its changes. Nothing the file says about itself is trusted.
async fn from_saved(config: &config::Saved) -> Result<Vec<Planned>, Error> {
    let path = &config.path;
    let service = &config.planning.service;
    let text = read_plan_file(path)?;
    let key = plan_key();
    let bad = |message| Error::BadPlan {
        path: path.to_path_buf(),
        message,
    };
    let read = saved::read(&text, key.as_ref()).map_err(|e| bad(e.to_string()))?;
    if read.signed && key.is_none() {
        tracing::warn!(
            plan = %path.display(),
            "the plan is signed, but {} is not set: its signature is not checked",
            saved::KEY_VARIABLE
        );
    }
    let mut plans = read.plans;
    if plans.len() > 1 {
        // --project-id narrows a plan of several projects to one of them.
        if let Some(flag) = service.project_flag() {
            let listed: Vec<String> = plans
                .iter()
                .map(|p| format!("`{}`", p.project_id))
                .collect();
            plans.retain(|p| p.project_id == flag);
            if plans.is_empty() {
                return Err(Error::Usage(format!(
                    "--project-id `{flag}` is not one of the projects of {} ({}); \
                     drop --project-id to apply them all",
                    path.display(),
                    listed.join(", ")
                )));
            }
        }
    }
    for plan in &plans {
        check_options(path, plan, &config.planning.policy)?;
    }
    // The limits of this command, never the plan's: `--max-deletes`, `--max-changes` and the
    // `--prune` default.
    if let Some(why) = super::plan::over_limits(&plans, &config.planning.limits) {
        return Err(Error::Refused(why));
    }
    let manifest = manifests_of(config, &plans)?;
    let checked = futures::future::join_all(
        plans
            .into_iter()
            .map(|plan| saved_project(config, manifest.as_ref(), plan)),
    )
    .await;
    checked.into_iter().collect()
}

/// The options a plan was made with that decide its changes on their own (`--prune`,
/// `--max-tags`) must be this command's too: a saved plan is applied with the options it was made
/// with, given again, never read from the file.
fn check_options(
    path: &std::path::Path,
    plan: &Plan,
    policy: &desktag_core::plan::Policy,
) -> Result<(), Error> {
    let mut differ = Vec::new();
    if plan.prune != policy.prune {
        differ.push(if plan.prune {
            "it prunes and this command has no --prune".to_string()
        } else {
            "this command has --prune and the plan does not prune".to_string()
        });
    }
    if plan.max_tags != policy.max_tags {
        differ.push(format!(
            "it was made with --max-tags {} and this command has {}",
            plan.max_tags, policy.max_tags
        ));
    }
    if differ.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} does not fit this command's options: {}; nothing was written; apply a saved plan \
         with the options it was made with ({})",
        path.display(),
        differ.join("; "),
        recorded_options(plan)
    )))
}

/// The options a plan says it was made with, as flags: a hint only, never trusted.
fn recorded_options(plan: &Plan) -> String {
    let mut flags = Vec::new();
    if plan.prune {
        flags.push("--prune".to_string());
    }
    if plan.max_tags != desktag_core::tags::DEFAULT_MAX_TAGS {
        flags.push(format!("--max-tags {}", plan.max_tags));
    }
    if let Some(made_from) = &plan.made_from {
        for glob in &made_from.ignore_keys {
            flags.push(format!("--ignore-key {:?}", glob));
        }
        for target in &made_from.targets {
            flags.push(format!("--target {:?}", target));
        }
    }
    if flags.is_empty() {
        "it records none".to_string()
    } else {
        format!("it records {}", flags.join(" "))
    }
}

/// The manifests a saved plan is re-planned from: the PATHs given to this command (which must
/// read exactly the files the plan records, unchanged), else the files the plan records, each
/// unchanged. `None` only with `--trust-plan`, when the plan records none or they are not here;
/// without it, such a plan is refused.
fn manifests_of(
    config: &config::Saved,
    plans: &[Plan],
) -> Result<Option<manifest::Manifest>, Error> {
    let path = &config.path;
    let unchecked = |why: String| -> Result<Option<manifest::Manifest>, Error> {
        if config.trust {
            tracing::warn!(
                plan = %path.display(),
                "{why}: applying it unchecked against them (--trust-plan)"
            );
            Ok(None)
        } else {
            Err(Error::Refused(messages::plan_unverifiable(path, &why)))
        }
    };
    // Every project of a run records the same files.
    let made_from = saved::shared_provenance(plans).map_err(|e| Error::BadPlan {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let given = !config.planning.paths.is_empty();
    let Some(made_from) = made_from.filter(|m| !m.manifests.is_empty()) else {
        // Nothing recorded to compare with; the manifests given here are still the truth the
        // plan is re-planned from.
        if given {
            return load_given(config).map(Some);
        }
        return unchecked("it records no manifests it was made from".to_string());
    };
    let paths = if given {
        config.planning.paths.clone()
    } else {
        match recorded_paths(made_from) {
            Ok(paths) => paths,
            Err(why) => return unchecked(why),
        }
    };
    // One read of each file: the loader hashes what it reads, so the digests come with it.
    let loaded = manifest::load(
        &paths,
        &LoadOptions {
            max_tags: config.planning.policy.max_tags,
            scope: config.planning.scope.clone(),
            env_allow: config.planning.env_allow.clone(),
        },
    );
    check_against_recorded(path, made_from, &loaded, given)?;
    if let Some(error) = loaded.diagnostics.iter().find(|d| d.is_error()) {
        return Err(Error::Refused(format!(
            "{} cannot be checked: its manifests are not valid: {error}",
            path.display()
        )));
    }
    Ok(Some(loaded.manifest))
}

/// The manifests a plan records, to be read where it records them; `Err` says why they cannot
/// be (some are not here).
fn recorded_paths(made_from: &Provenance) -> Result<Vec<std::path::PathBuf>, String> {
    let missing: Vec<&str> = made_from
        .manifests
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    if let Some(first) = missing.first() {
        return Err(format!(
            "{} of the manifests it records {} not here ({})",
            missing.len(),
            if missing.len() == 1 { "is" } else { "are" },
            messages::display(first)
        ));
    }
    // The list is the file's say, not the manifests': a FIFO or a device named there would
    // block the read or never end, so only regular files are read as manifests.
    if let Some(odd) = made_from
        .manifests
        .iter()
        .find(|f| !std::path::Path::new(&f.path).is_file())
    {
        return Err(format!(
            "it records {} as a manifest, which is not a regular file",
            messages::display(&odd.path)
        ));
    }
    Ok(made_from
        .manifests
        .iter()
        .map(|f| f.path.clone().into())
        .collect())
}

/// Refuses the plan at `path` unless the manifests `loaded` are exactly those it records, each
/// unchanged (two paths naming the same file are the same manifest).
fn check_against_recorded(
    path: &std::path::Path,
    made_from: &Provenance,
    loaded: &manifest::LoadOutcome,
    given: bool,
) -> Result<(), Error> {
    fn keyed(files: &[manifest::ManifestFile]) -> Vec<(std::path::PathBuf, &str, &str)> {
        let identity = |p: &str| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
        files
            .iter()
            .map(|f| (identity(&f.path), f.path.as_str(), f.sha256.as_str()))
            .collect()
    }
    let mismatch = match saved::compare_manifests(keyed(&made_from.manifests), keyed(&loaded.files))
    {
        Ok(()) => return Ok(()),
        Err(mismatch) => mismatch,
    };
    Err(Error::Refused(match mismatch {
        ManifestMismatch::Changed(file) => messages::plan_manifest_changed(path, file),
        ManifestMismatch::NotRead(file) if given => format!(
            "{} was made from {}, which the manifests given to this command do not \
             include; nothing was written; give the manifests it was made from",
            path.display(),
            messages::display(file)
        ),
        // Not read: the loader says why (permissions, a directory in its place, …).
        ManifestMismatch::NotRead(file) => {
            let why = loaded
                .diagnostics
                .iter()
                .find(|d| d.is_error())
                .map_or_else(|| "it could not be read".to_string(), ToString::to_string);
            format!(
                "{} cannot be checked against {}: {why}",
                path.display(),
                messages::display(file)
            )
        }
        ManifestMismatch::Extra(extra) => format!(
            "the manifests given to this command include {}, which {} was not made from; \
             nothing was written; run `desktag plan --out FILE` again with the same manifests",
            messages::display(extra),
            path.display()
        ),
    }))
}

/// The manifests given to `apply --plan FILE PATH…`, valid, for a plan that records none.
fn load_given(config: &config::Saved) -> Result<manifest::Manifest, Error> {
    let loaded = manifest::load(
        &config.planning.paths,
        &LoadOptions {
            max_tags: config.planning.policy.max_tags,
            scope: config.planning.scope.clone(),
            env_allow: config.planning.env_allow.clone(),
        },
    );
    if let Some(error) = loaded.diagnostics.iter().find(|d| d.is_error()) {
        return Err(Error::Refused(format!(
            "{} cannot be checked: the manifests given are not valid: {error}",
            config.path.display()
        )));
    }
    Ok(loaded.manifest)
}

/// One project of a saved plan: connects where it was made, refuses it when a desktop it changes
/// changed since, and re-plans it from `manifest` (when there is one) with this command's options.
async fn saved_project(
    config: &config::Saved,
    manifest: Option<&manifest::Manifest>,
    mut plan: Plan,
) -> Result<Planned, Error> {
    let path = &config.path;
    let service = &config.planning.service;
    // The plan knows where it was made: one made with --emulator runs on the built-in emulator
    // without the flag; flags that point elsewhere are refused.
    let made_on_emulator = plan.endpoint == EMULATOR_ENDPOINT;
    let service = match (&service.target, made_on_emulator) {
        (Target::Emulator { .. }, true) => service.clone(),
        (Target::Service(args), true) if args.endpoint.is_none() && args.region.is_none() => {
            Service {
                target: Target::Emulator {
                    project_id: args.project_id.clone(),
                },
                ..service.clone()
            }
        }
        (Target::Service(_), true) => {
            return Err(Error::Usage(format!(
                "{} was made with the built-in emulator; drop --endpoint and --region",
                path.display()
            )))
        }
        (Target::Emulator { .. }, false) => {
            return Err(Error::Usage(format!(
                "{} was made against {}, not the built-in emulator; drop --emulator",
                path.display(),
                plan.endpoint
            )))
        }
        (Target::Service(_), false) => service.clone(),
    };
    let service = &service;
    if let Some(flag) = service.project_flag().filter(|p| *p != plan.project_id) {
        return Err(Error::Usage(format!(
            "--project-id `{flag}` conflicts with {}, which was made for project `{}`; \
             a saved plan applies to its own project: drop --project-id",
            path.display(),
            plan.project_id
        )));
    }
    let scope = ManifestScope {
        project_id: Some(&plan.project_id),
        region: plan.region.as_deref(),
    };
    let session = Session::open(service, scope).await?;
    if session.endpoint != plan.endpoint || session.project_id != plan.project_id {
        return Err(Error::Refused(format!(
            "{} was made for project `{}` at {}, but this run targets project `{}` at {}",
            path.display(),
            plan.project_id,
            plan.endpoint,
            session.project_id,
            session.endpoint
        )));
    }
    let ids = saved::desktops_to_check(&plan);
    let now = Inventory::new(session.client.read_desktops(&ids).await?);
    let stale = saved::stale(&plan, &now);
    if !stale.is_empty() {
        let details = messages::stale_desktops(&stale);
        output::stderr(output::Level::Error, |err| {
            err.write_all(details.as_bytes())
        });
        return Err(Error::Refused(messages::stale_plan(path, stale.len())));
    }
    if let Some(manifest) = manifest {
        replan(config, manifest, &plan, &now)?;
    }
    session::sort_for_review(&mut plan);
    Ok(Planned { session, plan })
}

/// Re-plans a saved plan's project from its manifests with this command's options and the
/// environment now (`protect`, `create_only`, `policy`, the ignore globs and the cap with them)
/// and refuses it unless that gives exactly its changes.
fn replan(
    config: &config::Saved,
    manifest: &manifest::Manifest,
    plan: &Plan,
    now: &Inventory,
) -> Result<(), Error> {
    let path = &config.path;
    let mut manifest = manifest.clone();
    manifest.retain_project(Some(&plan.project_id));
    let policy = desktag_core::plan::Policy {
        env: session::environment(manifest.env_names(), &config.planning.env_allow),
        // Only the desktops the plan changes were read: selectors that match others are not
        // unmatched.
        strict: false,
        ..config.planning.policy.clone()
    };
    let differs = saved::not_produced(plan, &policy, &manifest, now)
        .map_err(|why| Error::Refused(format!("{} cannot be checked: {why}", path.display())))?;
    if differs.is_empty() {
        return Ok(());
    }
    let details = messages::stale_desktops(&differs);
    output::stderr(output::Level::Error, |err| {
        err.write_all(details.as_bytes())
    });
    let changed_env: Vec<&str> = plan
        .made_from
        .iter()
        .flat_map(|m| &m.env)
        .filter(|(name, value)| policy.env.get(*name) != Some(value))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut hint = format!(
        "this command re-plans with its own options ({})",
        recorded_options(plan)
    );
    if !changed_env.is_empty() {
        hint.push_str(&format!(
            "; the environment differs from when it was made: {}",
            changed_env
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Err(Error::Refused(format!(
        "{}; {hint}",
        messages::plan_not_produced(path, differs.len())
    )))
}

/// Asks on the terminal; without one, `--auto-approve` is required.
async fn confirm(plans: &[Plan]) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Refused(
            "apply needs confirmation but there is no terminal to ask on; pass --auto-approve to apply without asking"
                .to_string(),
        ));
    }
    let prompt = messages::confirm_prompt(plans);
    output::prompt(&prompt);
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(Error::Prompt)?
    .map_err(|source| Error::Read {
        path: "<stdin>".into(),
        source,
    })?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Refused(
            "apply cancelled; nothing was written".to_string(),
        ))
    }
}

/// The first Ctrl-C or SIGTERM (or the deadline) throws `stop`: no new request, rate wait or
/// retry, requests in flight get a short grace, and the run settles what it knows and writes
/// every output. A second signal exits at once. At the confirmation prompt, nothing has been
/// written, so a signal there ends the run at once. The handlers are installed before this
/// returns, so a signal that arrives as soon as apply starts is never lost to the default
/// handler.
fn stop_on_signal_or_deadline(
    stop: Stop,
    interrupted: Arc<AtomicBool>,
    prompting: Arc<AtomicBool>,
    deadline: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{signal, SignalKind};
        [
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        ]
    };
    tokio::spawn(async move {
        let deadline = async {
            match deadline {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let mut signalled = false;
        loop {
            let by_signal = {
                #[cfg(unix)]
                {
                    let [interrupt, terminate] = &mut signals;
                    tokio::select! {
                        _ = recv(interrupt) => true,
                        _ = recv(terminate) => true,
                        _ = &mut deadline, if !stop.is_stopped() => false,
                    }
                }
                #[cfg(not(unix))]
                {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => true,
                        _ = &mut deadline, if !stop.is_stopped() => false,
                    }
                }
            };
            if by_signal && prompting.load(Ordering::SeqCst) {
                output::last_line(
                    output::Level::Error,
                    "error: interrupted at the confirmation prompt; nothing was written",
                );
                crate::error::exit_interrupted();
            }
            if by_signal && signalled {
                output::last_line(
                    output::Level::Error,
                    "error: interrupted twice; exiting without a report",
                );
                crate::error::exit_interrupted();
            }
            signalled |= by_signal;
            if stop.is_stopped() {
                continue;
            }
            interrupted.store(true, Ordering::SeqCst);
            if by_signal {
                stop.stop("interrupted");
                tracing::warn!(
                    "interrupted: no new requests; settling what is known and writing the report; interrupt again to exit at once"
                );
            } else {
                stop.stop("its --deadline passed");
                tracing::warn!(
                    "the run's --deadline passed: no new requests; settling what is known and writing the report"
                );
            }
        }
    })
}

#[cfg(unix)]
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_file_format_follows_its_extension_then_the_report_format() {
        let f = |p: &str, stdout| report_file_format(std::path::Path::new(p), stdout);
        assert_eq!(f("r.json", Format::Markdown), Format::Json);
        assert_eq!(f("r.md", Format::Json), Format::Markdown);
        assert_eq!(f("r.markdown", Format::Text), Format::Markdown);
        assert_eq!(f("report", Format::Markdown), Format::Markdown);
        assert_eq!(f("report", Format::Text), Format::Json);
    }
}
