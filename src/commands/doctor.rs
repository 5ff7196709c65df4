//! `desktag doctor [PATH]…`: for each project the manifests name (or the one of the flags and
//! environment), checks what a plan needs — the endpoint and where it came from, the credential
//! source and its expiry, the proxy, the clock against the service's `Date`, one cheap signed
//! read and the batch permission (an empty batch, which changes nothing) — and prints one screen.
//! Exit 0 when a plan would work, 1 with the first fix otherwise. Refusals are decoded through
//! STS. Never prints a secret; never changes a tag.

use crate::config::{self, Target};
use crate::error::{Error, Status};
use crate::render::doctor::{self, Check, Outcome, ProjectChecks};
use crate::render::messages;
use desktag_api::credentials::{self, lease::format_expiry, Choice};
use desktag_api::{proxy, ApiError, Client, Connection, ManifestScope};

use super::{output, session};

/// Signatures are refused beyond this skew (the gateway's window).
const MAX_SKEW_SECONDS: i64 = 15 * 60;

pub(super) async fn run(config: &config::Doctor) -> Result<Status, Error> {
    let scopes: Vec<(Option<String>, Option<String>)> = if config.planning.paths.is_empty() {
        vec![(None, None)]
    } else {
        match session::load(&config.planning)? {
            Ok(loaded) => loaded
                .projects
                .into_iter()
                .map(|p| (p.project_id, p.region))
                .collect(),
            Err(errors) => return Ok(Status::Failed(messages::invalid_input(errors))),
        }
    };
    let checks = futures::future::join_all(scopes.iter().map(|(project, region)| {
        project_checks(
            config,
            ManifestScope {
                project_id: project.as_deref(),
                region: region.as_deref(),
            },
        )
    }))
    .await;
    output::stdout(|out| doctor::text(out, &checks))?;
    Ok(match checks.iter().find_map(ProjectChecks::first_fix) {
        Some(fix) => Status::Failed(format!("doctor: {fix}")),
        None => Status::Success,
    })
}

fn fail(name: &'static str, detail: String, fix: String) -> Check {
    Check {
        name,
        detail,
        outcome: Outcome::Fail { fix },
    }
}

fn ok(name: &'static str, detail: String) -> Check {
    Check {
        name,
        detail,
        outcome: Outcome::Ok,
    }
}

async fn project_checks(config: &config::Doctor, scope: ManifestScope<'_>) -> ProjectChecks {
    let mut checks = Vec::new();
    let title = match scope.project_id {
        Some(p) => format!("project {p}"),
        None => "the project of the flags and environment".to_string(),
    };
    let service = &config.planning.service;
    let args = match &service.target {
        Target::Service(args) => args,
        Target::Emulator { .. } => {
            checks.push(Check {
                name: "endpoint",
                detail: "the built-in emulator (--emulator): nothing to check".into(),
                outcome: Outcome::Note,
            });
            return ProjectChecks { title, checks };
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let resolved = match Connection::plan_with(args, scope, env, |p| std::fs::read_to_string(p)) {
        Ok(resolved) => resolved,
        Err(e) => {
            let message = desktag_core::error_chain::chain(&e);
            checks.push(fail(
                "connection",
                "the flags, manifests and environment give no usable connection".into(),
                message,
            ));
            return ProjectChecks { title, checks };
        }
    };
    checks.extend(endpoint_checks(&resolved, service, &env));
    let source = match &resolved.chosen.choice {
        Choice::Static(c) => c.describe(),
        Choice::Fetch(f) => format!("{} ({})", f.origin(), f.location()),
    };
    let fetcher = match credentials::Fetcher::new(&service.client) {
        Ok(f) => f,
        Err(e) => {
            checks.push(fail("network", e.to_string(), e.to_string()));
            return ProjectChecks { title, checks };
        }
    };
    let connected = match credentials::connect(resolved, &fetcher).await {
        Ok(c) => c,
        Err(e) => {
            let message = desktag_core::error_chain::chain(&e);
            checks.push(fail("credentials", source, message));
            return ProjectChecks { title, checks };
        }
    };
    let lease = connected.keys.current();
    let expiry = match lease.expires_at {
        Some(at) => format!(", temporary, expires {}", format_expiry(at)),
        None => String::new(),
    };
    checks.push(ok("credentials", format!("{source}{expiry}")));
    checks.push(ok(
        "project",
        format!(
            "{} ({})",
            connected.connection.project_id, connected.project_origin
        ),
    ));
    let client = match doctor_client(connected, service) {
        Ok(c) => c,
        Err(e) => {
            checks.push(fail("client", e.to_string(), e.to_string()));
            return ProjectChecks { title, checks };
        }
    };
    let read = client.count_desktops().await;
    checks.push(clock_check(client.clock_skew()));
    checks.push(read_check(&client, read));
    if checks
        .iter()
        .all(|c| !matches!(c.outcome, Outcome::Fail { .. }))
    {
        checks.push(batch_check(&client).await);
    }
    ProjectChecks { title, checks }
}

/// Where the requests go: the endpoint, the proxy on the way, the CA file trusted.
fn endpoint_checks(
    resolved: &desktag_api::Resolved,
    service: &config::Service,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Check> {
    let mut checks = vec![ok(
        "endpoint",
        format!("{} ({})", resolved.endpoint, resolved.endpoint_origin),
    )];
    checks.push(Check {
        name: "proxy",
        detail: proxy::route(&resolved.endpoint, env).to_string(),
        outcome: Outcome::Note,
    });
    if let Some(ca) = &service.client.ca_file {
        checks.push(Check {
            name: "CA file",
            detail: format!("{} (trusted besides the built-in roots)", ca.display()),
            outcome: Outcome::Note,
        });
    }
    checks
}

/// The client doctor checks with: two attempts, denials decoded.
fn doctor_client(
    connected: credentials::Connected,
    service: &config::Service,
) -> Result<Client, ApiError> {
    Client::with_keys(
        connected.connection,
        connected.keys,
        desktag_api::ClientOptions {
            max_attempts: 2,
            decode_denials: true,
            sts_endpoint: Some(connected.sts_endpoint.clone()),
            ..service.client.clone()
        },
    )
}

/// This machine's clock against the service's `Date` (`skew` in seconds, if it sent one).
fn clock_check(skew: Option<i64>) -> Check {
    match skew {
        Some(skew) if skew.abs() > MAX_SKEW_SECONDS => fail(
            "clock",
            format!("{} s off the service's clock", skew),
            "set this machine's clock right (NTP): signatures are refused beyond 15 minutes".into(),
        ),
        Some(skew) => ok(
            "clock",
            format!("{skew:+} s against the service's Date (signatures fail beyond 15 minutes)"),
        ),
        None => Check {
            name: "clock",
            detail: "the service sent no Date header".into(),
            outcome: Outcome::Note,
        },
    }
}

/// The signed read of one desktop page.
fn read_check(client: &Client, read: Result<u64, ApiError>) -> Check {
    match read {
        Ok(total) => ok(
            "signed read",
            format!(
                "GET /v2/{}/desktops?limit=1: {total} desktop{} in the project",
                client.connection().project_id,
                if total == 1 { "" } else { "s" }
            ),
        ),
        Err(e) => {
            let fix = read_fix(&e);
            fail("signed read", e.to_string(), fix)
        }
    }
}

/// The batch permission, probed with an empty batch (which changes nothing). A refusal is a
/// note, not a failure: apply then writes per desktop.
async fn batch_check(client: &Client) -> Check {
    match client.probe_batch_permission().await {
        Ok(()) => ok(
            "batch writes",
            "allowed (probed with an empty batch, which changes nothing)".into(),
        ),
        Err(e) => Check {
            name: "batch writes",
            detail: format!(
                "{e}; apply will write per desktop (slower); grant \
                 workspace:desktops:batchTag and batchUntag for batch calls"
            ),
            outcome: Outcome::Note,
        },
    }
}

/// The fix for a failed read, by what failed.
fn read_fix(error: &ApiError) -> String {
    match error {
        ApiError::Service { status: 401, .. } => "the credentials were rejected: check that the \
            keys are current and belong to this account, and the clock"
            .into(),
        ApiError::Service { status: 403, .. } => "grant the identity the workspace:desktops:list \
            action for this project (and tag/untag for apply)"
            .into(),
        ApiError::Service { status: 404, .. } => {
            "check the project id and the endpoint's region".into()
        }
        ApiError::Connect { .. } | ApiError::Timeout { .. } => {
            "check the endpoint, the proxy (HTTPS_PROXY, NO_PROXY) and --ca-file".into()
        }
        other => other.to_string(),
    }
}
