//! `desktag apply`: plan (or read a saved plan and refuse it if stale), show it, confirm, apply,
//! verify, report.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use crate::apply::{self, ApplyOptions, Progress};
use crate::config::{self, Service, Source, Target};
use crate::error::{Error, RunTally, Status};
use crate::render::{self, messages, Format, Printer};
use crate::report::{DesktopResult, Report};
use desktag_api::ManifestScope;
use desktag_core::inventory::Inventory;
use desktag_core::inventory::Named;
use desktag_core::manifest;
use desktag_core::plan::saved::{self, MadeFrom};
use desktag_core::plan::Plan;

use super::session::{self, Planned, Session, EMULATOR_ENDPOINT};
use super::{github, output};

pub(crate) async fn run(config: &config::Apply) -> Result<Status, Error> {
    if let Some(path) = &config.report {
        output::check_writable(path)?;
    }
    let (runs, saved_plan) = match &config.source {
        Source::Saved { path, service } => (from_saved(path, service).await?, true),
        Source::Manifests(planning) => match session::plan_from(planning).await? {
            Ok(planned) => (planned, false),
            Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
        },
    };
    let (sessions, plans): (Vec<Session>, Vec<Plan>) =
        runs.into_iter().map(|r| (r.session, r.plan)).unzip();

    // The plan is shown as text (with -q only its summary line); with a JSON or markdown report
    // on stdout it goes to stderr, so stdout carries the report alone and can be redirected into
    // a file or a step summary.
    let show = |w: &mut dyn Write, printer: Printer| {
        if config.plan_summary_only {
            writeln!(w, "{}", render::plans_summary_line(&plans))
        } else {
            printer.plans(w, &plans)
        }
    };
    if config.printer.format == Format::Text {
        output::stdout(|out| show(out, config.printer))?;
    } else {
        output::stderr(|err| show(err, Printer::new(Format::Text, config.stderr_color)));
    }
    if let Source::Manifests(planning) = &config.source {
        if let Some(why) = super::plan::over_limits(&plans, &planning.limits) {
            return Err(Error::Refused(why));
        }
    }

    // A saved plan was reviewed when it was made: applying it is the approval.
    if plans.iter().any(|p| p.has_changes) && !config.auto_approve && !saved_plan {
        confirm(&plans).await?;
    }
    // One bar per run: projects applied side by side report by heartbeat.
    let progress = if std::io::stderr().is_terminal() && plans.len() == 1 {
        Progress::Bar
    } else {
        Progress::Heartbeat(Duration::from_secs(10))
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = stop_on_signal(interrupted.clone());
    let options = ApplyOptions {
        interrupted,
        concurrency: config.concurrency,
        progress,
        write_mode: config.write_mode,
    };
    // Each project with its own client, so its own request rate, side by side.
    let mut reports =
        futures::future::join_all(plans.iter().zip(&sessions).map(|(plan, session)| {
            let span = session::project_span(Some(&plan.project_id), plans.len() > 1);
            apply::apply(plan, &session.client, &options).instrument(span)
        }))
        .await;
    signals.abort();
    for report in &mut reports {
        // As the plan: by name, then id, as a reviewer reads them.
        desktag_core::inventory::sort_by_name(&mut report.desktops);
    }

    output::stdout(|out| config.printer.reports(out, &reports))?;
    if let Some(path) = &config.report {
        let format = if config.printer.format == Format::Markdown {
            Format::Markdown
        } else {
            Format::Json
        };
        output::write_atomic(path, &rendered(&reports, format))?;
    }
    let tally = tally(&reports, config.detailed_exitcode);
    github::publish(
        || String::from_utf8_lossy(&rendered(&reports, Format::Markdown)).into_owned(),
        github::Outputs {
            has_changes: tally.changes > 0,
            blocked: tally.blocked.len(),
            failed: tally.failed,
        },
    )?;
    Ok(Status::of_run(&tally))
}

fn rendered(reports: &[Report], format: Format) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = Printer::new(format, false).reports(&mut bytes, reports);
    bytes
}

/// What the reports count towards the exit code.
fn tally(reports: &[Report], detailed_exitcode: bool) -> RunTally {
    let desktops = || reports.iter().flat_map(|r| &r.desktops);
    RunTally {
        applied: true,
        failed: desktops()
            .filter(|d| matches!(d.status, DesktopResult::Failed | DesktopResult::Unverified))
            .count(),
        blocked: desktops()
            .filter(|d| d.status == DesktopResult::Blocked)
            .map(|d| d.label().to_string())
            .collect(),
        changes: reports.iter().map(|r| r.totals.applied).sum(),
        detailed_exitcode,
    }
}

/// Reads a saved plan (one project's, or several projects' together), connects to where each
/// was made, and refuses it when any desktop it changes no longer carries the tags the plan saw.
/// Nothing is written before every project's check passes.
async fn from_saved(path: &std::path::Path, service: &Service) -> Result<Vec<Planned>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut plans = saved::all_from_json(&text).map_err(|source| Error::BadPlan {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
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
    let checked = futures::future::join_all(
        plans
            .into_iter()
            .map(|plan| saved_project(path, service, plan)),
    )
    .await;
    checked.into_iter().collect()
}

/// One project of a saved plan: connects where it was made and checks it.
async fn saved_project(
    path: &std::path::Path,
    service: &Service,
    mut plan: Plan,
) -> Result<Planned, Error> {
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
        output::stderr(|err| err.write_all(details.as_bytes()));
        return Err(Error::Refused(messages::stale_plan(path, stale.len())));
    }
    check_made_from(path, &plan, &now)?;
    session::sort_for_review(&mut plan);
    Ok(Planned { session, plan })
}

/// Refuses a saved plan that is not what its manifests produce ([`saved::check_made_from`]).
/// Manifests that are not there (apply runs elsewhere) are a warning, since the plan file may
/// be all that reached this job.
fn check_made_from(path: &std::path::Path, plan: &Plan, now: &Inventory) -> Result<(), Error> {
    let exists = |p: &str| std::path::Path::new(p).exists();
    let checked = saved::check_made_from(plan, now, exists, manifest::load)
        .map_err(|why| Error::Refused(format!("{} cannot be checked: {why}", path.display())))?;
    match checked {
        MadeFrom::Verified => Ok(()),
        MadeFrom::NotRecorded => {
            tracing::warn!(
                plan = %path.display(),
                "the plan records no manifests (made by desktag 0.1): applying it without checking it against them"
            );
            Ok(())
        }
        MadeFrom::Missing { count, first } => {
            tracing::warn!(
                missing = count,
                first,
                "manifests the plan was made from are not here: applying it without checking it against them"
            );
            Ok(())
        }
        MadeFrom::Changed { manifest } => Err(Error::Refused(messages::plan_manifest_changed(
            path, &manifest,
        ))),
        MadeFrom::Unreadable { manifest, why } => Err(Error::Refused(format!(
            "{} cannot be checked against {manifest}: {why}",
            path.display()
        ))),
        MadeFrom::NotProduced(differs) => {
            let details = messages::stale_desktops(&differs);
            output::stderr(|err| err.write_all(details.as_bytes()));
            Err(Error::Refused(messages::plan_not_produced(
                path,
                differs.len(),
            )))
        }
    }
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
    output::stderr(|err| err.write_all(prompt.as_bytes()));
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

/// The first Ctrl-C or SIGTERM stops new changes from starting (in-flight ones finish and the
/// report says what was skipped); a second one exits at once. The handlers are installed before
/// this returns, so a signal that arrives as soon as apply starts is never lost to the default
/// handler.
fn stop_on_signal(interrupted: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{signal, SignalKind};
        [
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        ]
    };
    tokio::spawn(async move {
        for first in [true, false] {
            #[cfg(unix)]
            {
                let [interrupt, terminate] = &mut signals;
                tokio::select! {
                    _ = recv(interrupt) => {}
                    _ = recv(terminate) => {}
                }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
            if first {
                interrupted.store(true, Ordering::Relaxed);
                tracing::warn!(
                    "interrupted: finishing the requests in flight and skipping the rest; interrupt again to exit at once"
                );
            } else {
                crate::error::exit_interrupted_twice();
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
