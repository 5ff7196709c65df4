//! `Client`: the public face of the API layer. It builds the transport and the executor from a
//! [`Connection`] and [`ClientOptions`], and is what callers clone and share. The endpoints are
//! methods of `Client` defined in their groups: `reads` (desktops) and `writes` (tags).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use super::budget::{BudgetKey, Budgets};
use super::connection::Connection;
use super::credentials::{Fetcher, Keys};
use super::error::ApiError;
use super::executor::{Executor, Stats};
use super::rate::RatePolicy;
use super::retry::RetryPolicy;
use super::transport::Transport;

/// The range `--rate` accepts, in requests per second.
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 100_000.0;

/// Knobs of a run; `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// Attempts per call, the first included (`--max-attempts`, default 5).
    pub max_attempts: u32,
    /// The ceiling of the adaptive request rate, in requests per second across the whole client
    /// (`--rate`); `None` means no ceiling but the service's own throttling. The rate starts at
    /// `rate::START_RATE` (or the ceiling when lower), grows while calls succeed and is cut on
    /// each 429.
    pub rate: Option<f64>,
    /// Requests in flight at once across the whole client (`--concurrency`, default 8).
    pub concurrency: usize,
    /// Per-request timeout, connect to last body byte (default 30 s).
    pub timeout: Duration,
    /// Sent (and signed) as `User-Agent`; empty to send none.
    pub user_agent: String,
    /// PEM certificates trusted besides the built-in roots (`--ca-file`, `SSL_CERT_FILE`): the
    /// root of a TLS-inspecting proxy.
    pub ca_file: Option<PathBuf>,
    /// `--decode-denials`: ask STS why a call was refused (its encoded authorization message).
    pub decode_denials: bool,
    /// The STS endpoint refusals are decoded at; set from the connection when `decode_denials`.
    pub sts_endpoint: Option<url::Url>,
    /// The switch that stops the client's work (a signal, the run's deadline); `None`: a switch
    /// of its own, never thrown but through [`Client::stop`].
    pub stop: Option<super::Stop>,
    /// The rate budgets of the run. Clients built from clones of these options to the same
    /// endpoint host under the same credentials share one adaptive rate (the service limits
    /// requests per user, not per project); `Default` starts a registry of its own.
    pub budgets: Budgets,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_attempts: 5,
            rate: None,
            concurrency: 8,
            timeout: Duration::from_secs(30),
            user_agent: concat!("desktag/", env!("CARGO_PKG_VERSION")).to_string(),
            ca_file: None,
            decode_denials: false,
            sts_endpoint: None,
            stop: None,
            budgets: Budgets::default(),
        }
    }
}

/// A Workspace API client for one project. Cheap to clone; clones share the connection pool,
/// the concurrency bound and the statistics, and draw from the run's budget for their endpoint
/// host and credentials (shared with other clients built from the same options).
#[derive(Clone)]
pub struct Client {
    pub(super) exec: Arc<Executor>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let connection = self.connection();
        f.debug_struct("Client")
            .field("endpoint", &connection.endpoint.as_str())
            .field("project_id", &connection.project_id)
            .field("auth", &connection.credentials.describe())
            .field("policy", &self.exec.policy)
            .field("timeout", &self.exec.transport.timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client. Fails on invalid options (zero attempts, zero concurrency, a rate outside
    /// `MIN_RATE..=MAX_RATE`, a zero timeout, a user agent that is not a valid header).
    pub fn new(connection: Connection, options: ClientOptions) -> Result<Client, ApiError> {
        let keys = Arc::new(Keys::fixed(connection.credentials.clone()));
        Client::with_keys(connection, keys, options)
    }

    /// Builds a client that signs with `keys`, which renew themselves when temporary.
    pub fn with_keys(
        connection: Connection,
        keys: Arc<Keys>,
        options: ClientOptions,
    ) -> Result<Client, ApiError> {
        if options.max_attempts == 0 {
            return Err(ApiError::Setup(
                "--max-attempts must be at least 1".to_string(),
            ));
        }
        if options.concurrency == 0 {
            return Err(ApiError::Setup(
                "--concurrency must be at least 1".to_string(),
            ));
        }
        if let Some(rate) = options.rate {
            if !(MIN_RATE..=MAX_RATE).contains(&rate) {
                return Err(ApiError::Setup(format!(
                    "--rate must be from {MIN_RATE} to {MAX_RATE} requests per second, not {rate}"
                )));
            }
        }
        if options.timeout.is_zero() {
            return Err(ApiError::Setup(
                "the timeout must be above zero".to_string(),
            ));
        }
        if HeaderValue::from_str(&options.user_agent).is_err() {
            return Err(ApiError::Setup(
                "the user agent must be visible ASCII".to_string(),
            ));
        }
        let mut transport = Transport::new(
            connection,
            keys,
            http_builder(&options)?,
            options.timeout,
            options.user_agent.clone(),
            options.concurrency,
        )?;
        if let (true, Some(sts)) = (options.decode_denials, &options.sts_endpoint) {
            transport.denials = Some((sts.clone(), Fetcher::new(&options)?));
        }
        let retry = RetryPolicy {
            max_attempts: options.max_attempts,
            ..RetryPolicy::default()
        };
        let rate = RatePolicy::new(options.rate.unwrap_or(MAX_RATE), super::rate::FLOOR);
        let key = BudgetKey::of(&transport.connection);
        tracing::debug!(budget = ?key, start = rate.start().rate, ceiling = rate.ceiling, "adaptive request rate");
        let budget = options.budgets.get(key, rate);
        let stop = options.stop.unwrap_or_default();
        Ok(Client {
            exec: Arc::new(Executor::new(
                transport,
                retry,
                options.concurrency,
                budget,
                stop,
            )),
        })
    }

    /// The switch that stops this client (and every clone of it): no new request, rate wait or
    /// retry after it is thrown.
    pub fn stop(&self) -> &super::Stop {
        &self.exec.stop
    }

    pub fn connection(&self) -> &Connection {
        &self.exec.transport.connection
    }

    /// How far the service's clock is ahead of this machine's (negative: behind), from the
    /// `Date` header of the last answer, in whole seconds. `None` before any answer with one.
    pub fn clock_skew(&self) -> Option<i64> {
        let last = *self
            .exec
            .transport
            .last_date
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (server, local) = last?;
        let secs = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        };
        Some(secs(server) - secs(local))
    }

    /// The credentials this client signs with, and their renewals.
    pub fn keys(&self) -> &Arc<Keys> {
        &self.exec.transport.keys
    }

    /// What this client and every clone of it did so far: requests, retries, 429s, the rate.
    pub fn stats(&self) -> Stats {
        self.exec.stats()
    }
}

/// The HTTP client settings every desktag connection shares: rustls with the built-in roots
/// plus `options.ca_file`, no redirects, and the proxy from `HTTPS_PROXY` / `HTTP_PROXY` /
/// `NO_PROXY` (reqwest reads them).
pub fn http_builder(options: &ClientOptions) -> Result<reqwest::ClientBuilder, ApiError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            ApiError::Setup(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            ApiError::Setup(format!(
                "the CA file {} holds no PEM certificate: {e}",
                path.display()
            ))
        })?;
        if certificates.is_empty() {
            return Err(ApiError::Setup(format!(
                "the CA file {} holds no PEM certificate",
                path.display()
            )));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Credentials;
    use desktag_core::secret::Secret;
    use url::Url;

    fn aksk() -> Credentials {
        Credentials::AkSk {
            ak: Secret::new("AKID"),
            sk: Secret::new("SECRET-KEY"),
            security_token: Some(Secret::new("STS-TOKEN")),
            origin: "test",
        }
    }

    fn conn() -> Connection {
        Connection {
            endpoint: Url::parse("https://example.com").unwrap(),
            project_id: "pid".into(),
            credentials: aksk(),
        }
    }

    #[test]
    fn invalid_options_are_refused() {
        for options in [
            ClientOptions {
                max_attempts: 0,
                ..Default::default()
            },
            ClientOptions {
                concurrency: 0,
                ..Default::default()
            },
            ClientOptions {
                rate: Some(0.0),
                ..Default::default()
            },
            ClientOptions {
                rate: Some(f64::NAN),
                ..Default::default()
            },
            ClientOptions {
                rate: Some(1e-20),
                ..Default::default()
            },
            ClientOptions {
                rate: Some(0.000_999),
                ..Default::default()
            },
            ClientOptions {
                rate: Some(100_000.5),
                ..Default::default()
            },
            ClientOptions {
                rate: Some(f64::INFINITY),
                ..Default::default()
            },
            ClientOptions {
                timeout: Duration::ZERO,
                ..Default::default()
            },
            ClientOptions {
                user_agent: "bad\nagent".into(),
                ..Default::default()
            },
        ] {
            assert!(matches!(
                Client::new(conn(), options),
                Err(ApiError::Setup(_))
            ));
        }
    }

    #[test]
    fn rates_at_the_bounds_are_accepted() {
        for rate in [MIN_RATE, 1.0, MAX_RATE] {
            let options = ClientOptions {
                rate: Some(rate),
                ..Default::default()
            };
            assert!(Client::new(conn(), options).is_ok(), "{rate}");
        }
    }

    #[test]
    fn the_rate_starts_safe_and_a_lower_ceiling_wins() {
        let c = Client::new(conn(), ClientOptions::default()).unwrap();
        assert_eq!(c.stats().rate, crate::rate::START_RATE);
        assert_eq!(c.stats().settled_rate, None);
        let slow = ClientOptions {
            rate: Some(2.0),
            ..Default::default()
        };
        assert_eq!(Client::new(conn(), slow).unwrap().stats().rate, 2.0);
    }

    #[test]
    fn call_futures_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send + 'static>(_: T) {}
        let c = Client::new(conn(), ClientOptions::default()).unwrap();
        let (a, b, d, e) = (c.clone(), c.clone(), c.clone(), c.clone());
        assert_send(async move { a.create_tag("d", "k", "v").await });
        assert_send(async move { b.read_desktops(&["d".into()]).await });
        assert_send(async move { d.list_desktops().await });
        assert_send(async move { e.batch_create_tags(&[]).await });
    }
}
