//! `desktag apply`: plan (or read a saved plan and refuse it if stale), show it, confirm, apply,
//! verify, report.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{self, ApplyOptions, Progress};
use crate::cli::{ApplyArgs, PlanFormat, ReportFormat};
use crate::error::{Error, Status};
use crate::inventory::Inventory;
use crate::plan::{saved, Plan};
use crate::render;
use crate::report::Report;

use super::session::{self, Session, EMULATOR_ENDPOINT};

pub async fn run(args: &ApplyArgs, color: bool) -> Result<Status, Error> {
    if let Some(path) = &args.report {
        super::check_writable(path)?;
    }
    let Some((session, plan)) = (match &args.plan {
        Some(path) => Some(from_saved(args, path).await?),
        None => session::plan_from(&args.options).await?,
    }) else {
        return Ok(Status::Failed);
    };

    // With a JSON report, stdout carries only the report.
    let json_stdout = args.report_format == ReportFormat::Json;
    if json_stdout {
        let mut err = std::io::stderr().lock();
        let _ = super::plan::show(&mut err, &plan, PlanFormat::Text, false);
    } else {
        super::stdout_write(|out| super::plan::show(out, &plan, PlanFormat::Text, color))?;
    }

    if plan.has_changes && !args.auto_approve {
        confirm(&plan).await?;
    }
    let progress = if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Heartbeat(Duration::from_secs(10))
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let signals = stop_on_signal(interrupted.clone());
    let options = ApplyOptions {
        interrupted,
        concurrency: args.options.connection.concurrency as usize,
        progress,
        write_mode: args.write_mode,
    };
    let report = apply::apply(&plan, &session.client, &options).await;
    signals.abort();

    super::stdout_write(|out| show_report(out, &report, args.report_format, color))?;
    if let Some(path) = &args.report {
        let mut bytes = Vec::new();
        let format = if args.report_format == ReportFormat::Markdown {
            ReportFormat::Markdown
        } else {
            ReportFormat::Json
        };
        show_report(&mut bytes, &report, format, false).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        super::write_atomic(path, &bytes)?;
    }
    Ok(if report.is_success() {
        Status::Success
    } else {
        Status::Failed
    })
}

fn show_report(
    mut out: &mut dyn std::io::Write,
    report: &Report,
    format: ReportFormat,
    color: bool,
) -> std::io::Result<()> {
    match format {
        ReportFormat::Text => {
            render::text::report(&mut out, report, &render::text::TextStyle { color })
        }
        ReportFormat::Json => render::json::report(&mut out, report),
        ReportFormat::Markdown => render::markdown::report(&mut out, report),
    }
}

/// Reads a saved plan, connects to where it was made, and refuses it when any desktop it changes
/// no longer carries the tags the plan saw. Nothing is written before this check passes.
async fn from_saved(args: &ApplyArgs, path: &std::path::Path) -> Result<(Session, Plan), Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let plan = saved::from_json(&text).map_err(|message| Error::BadPlan {
        path: path.to_path_buf(),
        message,
    })?;
    let flags = &args.options.connection;
    if (plan.endpoint == EMULATOR_ENDPOINT) != flags.emulator {
        return Err(Error::Refused(if flags.emulator {
            format!(
                "{} was made against {}, not the built-in emulator; drop --emulator",
                path.display(),
                plan.endpoint
            )
        } else {
            format!(
                "{} was made with --emulator; apply it with --emulator",
                path.display()
            )
        }));
    }
    let session = Session::open(flags, Some(&plan.project_id)).await?;
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
        let mut message = format!(
            "the plan in {} is stale: {} desktop{} changed since it was made; nothing was written",
            path.display(),
            stale.len(),
            super::validate::plural(stale.len())
        );
        for s in stale.iter().take(20) {
            message.push_str(&format!(
                "\n  {} ({}): {}",
                s.name, s.desktop_id, s.difference
            ));
        }
        if stale.len() > 20 {
            message.push_str(&format!("\n  … and {} more", stale.len() - 20));
        }
        message.push_str("\nhelp: run `desktag plan --out FILE` again and apply the new plan");
        return Err(Error::Refused(message));
    }
    Ok((session, plan))
}

/// Asks on the terminal; without one, `--auto-approve` is required.
async fn confirm(plan: &Plan) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::Refused(
            "apply needs confirmation but there is no terminal to ask on; pass --auto-approve to apply without asking"
                .to_string(),
        ));
    }
    let changes = plan.summary.create + plan.summary.overwrite + plan.summary.delete;
    eprint!(
        "\nApply {changes} change{} to {} desktop{}? Only 'yes' will be accepted: ",
        super::validate::plural(changes),
        plan.summary.changed,
        super::validate::plural(plan.summary.changed)
    );
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| Error::Usage(format!("cannot read the answer: {e}")))?
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
                eprintln!("error: interrupted twice; exiting without a report");
                std::process::exit(130);
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
