//! `desktag emulator`, the emulator's own entry point: its clap flags (embedded by the binary's
//! `cli`), their resolution into an `EmulatorConfig` (secrets come from files or the
//! environment, never from the command line), and the serve-until-signal loop. Errors stay
//! `EmulatorError`; the shell converts them at the command edge.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use desktag_core::secret::Secret;
use desktag_core::tags::DEFAULT_MAX_TAGS;

use super::{
    spawn, Auth, BatchCap, Clock, EmulatorConfig, EmulatorError, Faults, Identity, Limits, Seed,
};

/// Environment variable holding the secret key for `--ak`.
pub(crate) const SK_ENV: &str = "DESKTAG_EMULATOR_SK";
/// Environment variable holding the token for token auth.
pub(crate) const TOKEN_ENV: &str = "DESKTAG_EMULATOR_TOKEN";

/// Serve a local emulator of the Workspace tag API.
///
/// Prints its base URL as the first line on stdout and logs one line per request on stderr.
/// Without `--ak` or a token it accepts every request, so it then listens on loopback only.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Seed file (YAML: project_id and desktops, or a projects list of them; desktops with id,
    /// name, user, status, tags) [default: the built-in demo inventory].
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,

    /// State file: loaded if it exists (else the seed is used), saved atomically after every
    /// change, so separate runs see each other's writes.
    #[arg(long = "state", value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Require SDK-HMAC-SHA256 signatures with this access key; the secret key comes from
    /// --sk-file or DESKTAG_EMULATOR_SK. Without --ak or a token, every request is accepted
    /// (unsafe: for local tests only), and only a loopback --listen address is allowed.
    #[arg(long, value_name = "AK")]
    pub ak: Option<String>,

    /// File holding the secret key for --ak (else DESKTAG_EMULATOR_SK).
    #[arg(long, value_name = "FILE", requires = "ak")]
    pub sk_file: Option<PathBuf>,

    /// Require X-Auth-Token equal to the token in this file (else DESKTAG_EMULATOR_TOKEN). With
    /// --ak as well, either credential is accepted: a signed request must have a valid
    /// signature, any other one the token.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Tags allowed per desktop (system `_sys_` tags not counted).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TAGS)]
    pub max_tags: usize,

    /// Probability (0–1) of answering a request with a 500 service error instead of running it.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,

    /// Probability (0–1) of answering a request with 429 APIG.0308 instead of running it.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub throttle_rate: f64,

    /// Inject --fail-rate and --throttle-rate faults into tag writes only; reads always answer.
    #[arg(long)]
    pub faults_writes_only: bool,

    /// Send `Retry-After: S` with every 429.
    #[arg(long, value_name = "S")]
    pub retry_after: Option<u64>,

    /// Accept at most N requests per second per credential, 429 APIG.0308 beyond: one token
    /// bucket (burst N) for each access key (signed requests) or token, shared by every project
    /// that credential calls; requests without a credential share one bucket.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<f64>,

    /// Refuse any tag write carrying this value with 400 WKS.0003 (invalid tag), changing
    /// nothing (a batch call included): a service rule desktag cannot know. Repeatable.
    #[arg(long, value_name = "VALUE")]
    pub reject_value: Vec<String>,

    /// Probability (0–1) that a tag write is applied and its answer then held for
    /// --lost-answer-ms, so a client with a shorter timeout sees an applied call time out (with
    /// --fail-rate and --throttle-rate, at most 1 in all).
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub lost_answer_rate: f64,

    /// How long a lost answer is held (until the emulator stops, at most).
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub lost_answer_ms: u64,

    /// Milliseconds added to every response.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,

    /// What a `batch-tags` create does when it would push one desktop past --max-tags: `reject`
    /// fails the whole call (400), `skip` leaves that desktop unchanged and applies the rest.
    #[arg(long, value_name = "MODE", value_enum, default_value_t = BatchCapArg::Reject)]
    pub batch_cap: BatchCapArg,

    /// Seed of the fault RNG (--fail-rate, --throttle-rate, --lost-answer-rate), for a repeatable
    /// fault sequence [default: random].
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,

    /// Lifetime of the temporary keys the identity side issues (OIDC, Pod Identity, metadata);
    /// the tag API refuses them afterwards with 401 APIGW.0307.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub credential_lifetime: u64,

    /// The identity provider id the OIDC exchange accepts (`X-Idp-Id`).
    #[arg(long, value_name = "ID", default_value = "desktag-emulator")]
    pub idp_id: String,

    /// The region whose name `GET /v3/projects?name=` maps to the seed's (first) project.
    #[arg(long, value_name = "REGION", default_value = "cn-north-4")]
    pub region: String,
}

/// `--batch-cap` values.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchCapArg {
    Reject,
    Skip,
}

impl EmulatorArgs {
    /// Resolves the flags: reads the seed and secret files, and the secrets' environment
    /// variables through `env`. Refuses to serve without auth on a non-loopback address.
    pub(crate) fn into_config(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<EmulatorConfig, EmulatorError> {
        let seed = match &self.seed {
            Some(path) => {
                let text = read("seed file", path)?;
                Seed::from_yaml(&text).map_err(|e| EmulatorError::Seed {
                    origin: format!("file {}", path.display()),
                    message: e.message,
                })?
            }
            None => Seed::demo(),
        };
        let env_sk = env(SK_ENV).filter(|s| !s.is_empty());
        let env_token = env(TOKEN_ENV).filter(|s| !s.is_empty());
        let token = match (&self.token_file, env_token) {
            (Some(path), _) => Some(read_secret("token file", path)?),
            (None, Some(token)) => Some(Secret::new(token)),
            (None, None) => None,
        };
        let auth = match self.ak {
            Some(ak) => {
                if ak.trim().is_empty() {
                    return Err(EmulatorError::Config("--ak is empty".to_string()));
                }
                let sk = match (&self.sk_file, env_sk) {
                    (Some(path), _) => read_secret("secret key file", path)?,
                    (None, Some(sk)) => Secret::new(sk),
                    (None, None) => {
                        return Err(EmulatorError::Config(format!(
                            "--ak needs a secret key: give --sk-file FILE or set {SK_ENV}"
                        )))
                    }
                };
                match token {
                    Some(token) => Auth::AkSkOrToken { ak, sk, token },
                    None => Auth::AkSk { ak, sk },
                }
            }
            None => {
                if env_sk.is_some() {
                    return Err(EmulatorError::Config(format!(
                        "{SK_ENV} is set but --ak is not; give --ak AK to require signatures"
                    )));
                }
                match token {
                    Some(token) => Auth::Token(token),
                    None => Auth::None,
                }
            }
        };
        if matches!(auth, Auth::None) && !self.listen.ip().is_loopback() {
            return Err(EmulatorError::Config(format!(
                "--listen {} is not a loopback address, and without authentication anyone who can \
                 reach it could change tags: add --ak AK with --sk-file FILE (or {SK_ENV}), or \
                 --token-file FILE (or {TOKEN_ENV}), or listen on 127.0.0.1",
                self.listen
            )));
        }
        Ok(EmulatorConfig {
            listen: self.listen,
            seed,
            auth,
            max_tags: self.max_tags,
            faults: Faults {
                fail_rate: self.fail_rate,
                throttle_rate: self.throttle_rate,
                retry_after: self.retry_after,
                rate_limit: self.rate_limit,
                latency: Duration::from_millis(self.latency),
                seed: self.fault_seed.unwrap_or_else(rand::random),
                clock: Clock::System,
                gate: None,
                writes_only: self.faults_writes_only,
                reject_values: self.reject_value,
                lost_answer_rate: self.lost_answer_rate,
                lost_answer: Duration::from_millis(self.lost_answer_ms),
            },
            batch_cap: match self.batch_cap {
                BatchCapArg::Reject => BatchCap::Reject,
                BatchCapArg::Skip => BatchCap::Skip,
            },
            limits: Limits::default(),
            state_file: self.state,
            identity: Identity {
                lifetime: Duration::from_secs(self.credential_lifetime),
                idp_id: self.idp_id,
                region: self.region,
                ..Identity::default()
            },
            clock_offset: time::Duration::ZERO,
        })
    }
}

fn read(what: &'static str, path: &Path) -> Result<String, EmulatorError> {
    std::fs::read_to_string(path).map_err(|source| EmulatorError::ReadFile {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a secret file; the trailing newline editors add is not part of the secret.
fn read_secret(what: &'static str, path: &Path) -> Result<Secret, EmulatorError> {
    let text = read(what, path)?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(EmulatorError::Config(format!(
            "the {what} {} is empty",
            path.display()
        )));
    }
    Ok(Secret::new(secret))
}

/// Runs `desktag emulator` until Ctrl-C or SIGTERM.
pub async fn run(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let config = args.into_config(|name| std::env::var(name).ok())?;
    if matches!(config.auth, Auth::None) {
        tracing::warn!(
            target: "desktag::emulator",
            "no authentication configured: every request is accepted (use --ak or a token outside loopback tests)"
        );
    }
    let handle = spawn(config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handle.base_url())
            .and_then(|()| out.flush())
            .map_err(EmulatorError::Stdout)?;
    }
    tracing::info!(target: "desktag::emulator", "listening on {}", handle.base_url());
    shutdown_signal().await;
    tracing::info!(target: "desktag::emulator", "stopping");
    handle.shutdown().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn parse(argv: &[&str]) -> Result<EmulatorArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied())).map(|c| c.args)
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_loopback_demo_no_auth() {
        let config = parse(&[]).unwrap().into_config(no_env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.seed, Seed::demo());
        assert!(matches!(config.auth, Auth::None));
        assert_eq!(config.max_tags, 10);
        assert_eq!(config.batch_cap, BatchCap::Reject);
        let skip = parse(&["--batch-cap", "skip"])
            .unwrap()
            .into_config(no_env)
            .unwrap();
        assert_eq!(skip.batch_cap, BatchCap::Skip);
        assert!(parse(&["--batch-cap", "maybe"]).is_err());
    }

    #[test]
    fn the_identity_flags_set_the_lifetime_provider_and_region() {
        let config = parse(&[
            "--credential-lifetime",
            "2",
            "--idp-id",
            "github",
            "--region",
            "eu-west-101",
        ])
        .unwrap()
        .into_config(no_env)
        .unwrap();
        assert_eq!(config.identity.lifetime, Duration::from_secs(2));
        assert_eq!(config.identity.idp_id, "github");
        assert_eq!(config.identity.region, "eu-west-101");
        let defaults = parse(&[]).unwrap().into_config(no_env).unwrap();
        assert_eq!(defaults.identity.lifetime, Duration::from_secs(3600));
        assert!(parse(&["--credential-lifetime", "0"]).is_err());
    }

    #[test]
    fn the_secret_key_comes_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sk");
        std::fs::write(&file, "file-secret\n").unwrap();
        let config = parse(&["--ak", "AK1", "--sk-file", file.to_str().unwrap()])
            .unwrap()
            .into_config(no_env)
            .unwrap();
        assert!(
            matches!(&config.auth, Auth::AkSk { ak, sk } if ak == "AK1" && sk.expose() == "file-secret")
        );
        let config = parse(&["--ak", "AK1"])
            .unwrap()
            .into_config(|n| (n == SK_ENV).then(|| "env-secret".to_string()))
            .unwrap();
        assert!(matches!(&config.auth, Auth::AkSk { sk, .. } if sk.expose() == "env-secret"));
        let err = parse(&["--ak", "AK1"])
            .unwrap()
            .into_config(no_env)
            .unwrap_err();
        assert!(err.to_string().contains(SK_ENV), "{err}");
    }

    #[test]
    fn there_is_no_flag_for_a_plain_secret() {
        assert!(parse(&["--sk", "x"]).is_err());
        assert!(parse(&["--token", "x"]).is_err());
        assert!(
            parse(&["--sk-file", "f"]).is_err(),
            "--sk-file requires --ak"
        );
    }

    #[test]
    fn token_auth_from_the_environment_and_conflicts_are_errors() {
        let config = parse(&[])
            .unwrap()
            .into_config(|n| (n == TOKEN_ENV).then(|| "tok".to_string()))
            .unwrap();
        assert!(matches!(&config.auth, Auth::Token(t) if t.expose() == "tok"));
        let err = parse(&[])
            .unwrap()
            .into_config(|n| (n == SK_ENV).then(|| "sk".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("--ak"), "{err}");
    }

    #[test]
    fn ak_and_a_token_together_accept_either() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "tok\n").unwrap();
        let config = parse(&["--ak", "AK1", "--token-file", file.to_str().unwrap()])
            .unwrap()
            .into_config(|n| (n == SK_ENV).then(|| "sk".to_string()))
            .unwrap();
        assert!(matches!(&config.auth,
            Auth::AkSkOrToken { ak, sk, token }
                if ak == "AK1" && sk.expose() == "sk" && token.expose() == "tok"));
        let config = parse(&["--ak", "AK1"])
            .unwrap()
            .into_config(|n| match n {
                SK_ENV => Some("sk".to_string()),
                TOKEN_ENV => Some("tok".to_string()),
                _ => None,
            })
            .unwrap();
        assert!(matches!(config.auth, Auth::AkSkOrToken { .. }));
    }

    #[test]
    fn a_bad_seed_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seed.yaml");
        std::fs::write(&file, "project_id: p\ndesktops: [{id: a}]\n").unwrap();
        let err = parse(&["--seed", file.to_str().unwrap()])
            .unwrap()
            .into_config(no_env)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("seed.yaml") && text.contains("name"),
            "{text}"
        );
        let missing = parse(&["--seed", "/nonexistent/seed.yaml"])
            .unwrap()
            .into_config(no_env)
            .unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/seed.yaml"));
    }

    #[test]
    fn no_auth_is_refused_outside_loopback() {
        for listen in ["0.0.0.0:8080", "192.0.2.1:8080", "[::]:8080"] {
            let err = parse(&["--listen", listen])
                .unwrap()
                .into_config(no_env)
                .unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(listen) && text.contains("--ak") && text.contains("--token-file"),
                "{text}"
            );
        }
        for listen in ["127.0.0.1:0", "[::1]:0"] {
            assert!(parse(&["--listen", listen])
                .unwrap()
                .into_config(no_env)
                .is_ok());
        }
        let with_token = parse(&["--listen", "0.0.0.0:8080"])
            .unwrap()
            .into_config(|n| (n == TOKEN_ENV).then(|| "tok".to_string()))
            .unwrap();
        assert!(matches!(with_token.auth, Auth::Token(_)));
    }

    #[test]
    fn the_new_faults_reach_the_config() {
        let config = parse(&[
            "--reject-value",
            "bad",
            "--reject-value",
            "worse",
            "--lost-answer-rate",
            "0.25",
            "--lost-answer-ms",
            "1500",
            "--rate-limit",
            "50",
        ])
        .unwrap()
        .into_config(no_env)
        .unwrap();
        assert_eq!(config.faults.reject_values, vec!["bad", "worse"]);
        assert_eq!(config.faults.lost_answer_rate, 0.25);
        assert_eq!(config.faults.lost_answer, Duration::from_millis(1500));
        assert_eq!(config.faults.rate_limit, Some(50.0));
        let defaults = parse(&[]).unwrap().into_config(no_env).unwrap();
        assert!(defaults.faults.reject_values.is_empty());
        assert_eq!(defaults.faults.lost_answer_rate, 0.0);
        assert_eq!(defaults.faults.lost_answer, crate::DEFAULT_LOST_ANSWER);
    }
}
