//! Where to connect and as whom: the endpoint, the project id and the credentials,
//! resolved from CLI flags, the manifest and environment variables. Pure: the environment and
//! the token file reader are passed in, so tests need no real environment. No network here.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;
use url::{Host, Url};

use super::credentials::chain::{self, list_tried, Chosen, Tried};
use super::credentials::fetch::FetchError;
use desktag_core::secret::Secret;

/// The connection flags the CLI fills in; `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionArgs {
    /// `--endpoint URL`.
    pub endpoint: Option<String>,
    /// `--region REGION`.
    pub region: Option<String>,
    /// `--project-id ID`.
    pub project_id: Option<String>,
    /// `--token-file FILE`.
    pub token_file: Option<PathBuf>,
}

/// Everything needed to talk to one project of the Workspace API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Base URL, e.g. `https://workspace.cn-north-4.myhuaweicloud.com`; may carry a path prefix.
    pub endpoint: Url,
    pub project_id: String,
    pub credentials: Credentials,
}

/// How requests are authenticated. `Debug` never shows a secret (see [`Secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// SDK-HMAC-SHA256 signing with an access key pair; `security_token` for temporary keys.
    AkSk {
        ak: Secret,
        sk: Secret,
        security_token: Option<Secret>,
        /// Where the pair came from, e.g. `HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK`.
        origin: &'static str,
    },
    /// An IAM token sent as `X-Auth-Token`.
    Token { token: Secret, origin: String },
}

impl Credentials {
    /// Authenticates a request whose other `headers` are final (they must include `Host` and
    /// `X-Sdk-Date`): temporary keys add their `X-Security-Token` to `headers` (it is signed
    /// too), and the header that proves who sends it is returned for the caller to mark
    /// sensitive: `Authorization` with the SDK-HMAC-SHA256 signature, or `X-Auth-Token`.
    pub(crate) fn authenticate(
        &self,
        headers: &mut Vec<(String, String)>,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
    ) -> (&'static str, String) {
        match self {
            Credentials::AkSk {
                ak,
                sk,
                security_token,
                ..
            } => {
                if let Some(token) = security_token {
                    headers.push(("X-Security-Token".into(), token.expose().to_string()));
                }
                let signable = crate::sign::Signable {
                    method,
                    path,
                    query,
                    headers,
                    body,
                };
                let authorization = crate::sign::authorization(ak.expose(), sk.expose(), &signable);
                ("Authorization", authorization)
            }
            Credentials::Token { token, .. } => ("X-Auth-Token", token.expose().to_string()),
        }
    }

    /// A short description for logs, without any secret: `AK/SK from HW_ACCESS_KEY/HW_SECRET_KEY`.
    pub fn describe(&self) -> String {
        match self {
            Credentials::AkSk {
                origin,
                security_token,
                ..
            } => {
                let temp = if security_token.is_some() {
                    " (temporary, with security token)"
                } else {
                    ""
                };
                format!("AK/SK from {origin}{temp}")
            }
            Credentials::Token { origin, .. } => format!("token from {origin}"),
        }
    }

    /// Every secret value these credentials hold, so error texts can be scrubbed of them.
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        match self {
            Credentials::AkSk {
                sk, security_token, ..
            } => std::iter::once(sk).chain(security_token.iter()).collect(),
            Credentials::Token { token, .. } => vec![token],
        }
    }
}

/// Why a connection could not be resolved. Each message says which flag or variable fixes it and
/// never contains a secret.
#[derive(Debug, Error)]
pub enum ConnectionError {
    #[error(
        "no project id: set `project_id` in the manifest, pass --project-id, \
         or set HUAWEICLOUD_SDK_PROJECT_ID or HW_PROJECT_ID (or give a region: \
         `region` in the manifest, --region or HW_REGION_NAME, and desktag looks the project up)"
    )]
    NoProjectId,
    #[error(
        "project id `{value}` from {origin} is not valid: use the 32-character project id \
         shown in the console under My Credentials (letters, digits, `-` and `_` only)"
    )]
    InvalidProjectId { value: String, origin: String },
    #[error(
        "no credentials: tried, in order: {}; set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK \
         (or HW_ACCESS_KEY and HW_SECRET_KEY), set HUAWEICLOUD_SDK_IDP_ID for OIDC, \
         or pass --token-file FILE, or set HW_AUTH_TOKEN",
        list_tried(tried)
    )]
    NoCredentials { tried: Vec<Tried> },
    #[error(
        "HUAWEICLOUD_SDK_IDP_ID is set but there is no ID token: set HUAWEICLOUD_SDK_ID_TOKEN_FILE, \
         or, in GitHub Actions, give the job `permissions: id-token: write` so that \
         ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set"
    )]
    IncompleteOidc,
    #[error("the SDK profile file {} is not usable: {message}", path.display())]
    ProfileFile { path: PathBuf, message: String },
    /// The chosen source gave no credentials.
    #[error("no credentials from {error}{}", tried_suffix(tried))]
    Fetch {
        error: FetchError,
        tried: Vec<Tried>,
    },
    #[error("cannot find the project of region `{region}` ({origin}): {message}")]
    ProjectLookup {
        region: String,
        origin: String,
        message: String,
    },
    #[error("{present} is set but {missing} is not: set both, or unset {present}")]
    IncompleteKeyPair {
        present: &'static str,
        missing: &'static str,
    },
    #[error("cannot read the token file {}: {source}; check --token-file", path.display())]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is empty: put the IAM token (the X-Subject-Token of an IAM login) there")]
    EmptySecret { origin: String },
    #[error(
        "{origin} contains characters that cannot be sent in an HTTP header \
         (only visible ASCII is allowed); check its value"
    )]
    InvalidSecret { origin: String },
    #[error(
        "no endpoint: pass --endpoint URL or --region REGION, \
         or set DESKTAG_ENDPOINT or HW_REGION_NAME"
    )]
    NoEndpoint,
    #[error(
        "region `{value}` from {origin} is not valid: use a region id such as cn-north-4 \
         (lowercase letters, digits and `-`)"
    )]
    InvalidRegion { value: String, origin: String },
    #[error("endpoint `{value}` from {origin} is not a valid URL: {reason}; use a URL such as https://workspace.cn-north-4.myhuaweicloud.com")]
    InvalidEndpoint {
        value: String,
        origin: String,
        reason: String,
    },
    #[error(
        "endpoint `{value}` from {origin} uses plain http to `{host}`, which is not loopback: \
         use https://, or http:// only with 127.0.0.1, ::1 or localhost"
    )]
    InsecureEndpoint {
        value: String,
        origin: String,
        host: String,
    },
}

/// What the manifests say about where a project lives: its `project_id`, which wins over every
/// other source, and its `region`, which wins over `--region` and `HW_REGION_NAME` (an explicit
/// `--endpoint` or `DESKTAG_ENDPOINT` still wins over it). Empty when the manifests name neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManifestScope<'a> {
    pub project_id: Option<&'a str>,
    pub region: Option<&'a str>,
}

/// Where the project id comes from: given, or to be looked up from the region's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    Given {
        id: String,
        origin: &'static str,
    },
    /// `GET {iam}/v3/projects?name={region}` once credentials are in hand.
    FromRegion {
        region: String,
        origin: &'static str,
    },
}

/// Everything a connection needs that can be decided without the network: the endpoint, the
/// project (or the region to look it up by), the credential source the chain chose, and the IAM
/// endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub endpoint: Url,
    /// Where the endpoint came from: `--endpoint`, `DESKTAG_ENDPOINT`, a region and its origin, …
    pub endpoint_origin: String,
    pub project: ProjectRef,
    pub chosen: Chosen,
    /// `HUAWEICLOUD_SDK_IAM_ENDPOINT`, the profile's `iam_endpoint`, the region's, or the
    /// global default.
    pub iam_endpoint: Url,
    /// The region, when one was given (for the STS endpoint and the project lookup).
    pub region: Option<String>,
    /// Where refusals are decoded: `HUAWEICLOUD_SDK_STS_ENDPOINT`, else the region's STS.
    pub sts_endpoint: Url,
}

impl Connection {
    /// Resolves a connection with credentials given outright (flags, environment, the profile
    /// file) and a known project id, reading files from disk when needed. Sources that need the
    /// network go through [`Connection::plan`] and `credentials::connect`.
    pub fn resolve(
        args: &ConnectionArgs,
        scope: ManifestScope<'_>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Connection, ConnectionError> {
        Self::resolve_with(args, scope, env, |path| std::fs::read_to_string(path))
    }

    /// Like [`Connection::resolve`], with the file reader passed in (pure).
    pub fn resolve_with(
        args: &ConnectionArgs,
        scope: ManifestScope<'_>,
        env: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Connection, ConnectionError> {
        let resolved = Self::plan_with(args, scope, env, read_file)?;
        let project_id = match resolved.project {
            ProjectRef::Given { id, .. } => id,
            ProjectRef::FromRegion { .. } => return Err(ConnectionError::NoProjectId),
        };
        let credentials = match resolved.chosen.choice {
            chain::Choice::Static(credentials) => credentials,
            chain::Choice::Fetch(_) => {
                return Err(ConnectionError::NoCredentials {
                    tried: resolved.chosen.tried,
                })
            }
        };
        Ok(Connection {
            endpoint: resolved.endpoint,
            project_id,
            credentials,
        })
    }

    /// Decides the endpoint, the project and the credential source (pure: the environment and the
    /// file reader are arguments; nothing is fetched).
    pub fn plan_with(
        args: &ConnectionArgs,
        scope: ManifestScope<'_>,
        env: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Resolved, ConnectionError> {
        // Empty and blank variables count as unset: `export HW_REGION_NAME=` is common in CI.
        let env = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let region = resolve_region(args, scope.region, &env)?;
        let (endpoint, endpoint_origin) = resolve_endpoint(args, region.as_ref(), &env)?;
        let region_iam = region
            .as_ref()
            .and_then(|(r, _)| Url::parse(&format!("https://iam.{r}.myhuaweicloud.com")).ok());
        let chosen = chain::choose(&chain::Inputs {
            token_file: args.token_file.as_deref(),
            env: &env,
            read_file: &read_file,
            region_iam_endpoint: region_iam.clone(),
        })?;
        let iam_endpoint = match (
            env("HUAWEICLOUD_SDK_IAM_ENDPOINT"),
            &chosen.profile_iam_endpoint,
        ) {
            (Some(value), _) => chain::parse_service_url(&value, "HUAWEICLOUD_SDK_IAM_ENDPOINT")?,
            (None, Some(value)) => {
                chain::parse_service_url(value, "iam_endpoint of the SDK profile file")?
            }
            (None, None) => region_iam
                .unwrap_or_else(|| Url::parse(chain::DEFAULT_IAM_ENDPOINT).expect("a valid URL")),
        };
        let sts_endpoint = match env("HUAWEICLOUD_SDK_STS_ENDPOINT") {
            Some(value) => chain::parse_service_url(&value, "HUAWEICLOUD_SDK_STS_ENDPOINT")?,
            None => {
                let host = match &region {
                    Some((r, _)) => format!("https://sts.{r}.myhuaweicloud.com"),
                    None => "https://sts.myhuaweicloud.com".to_string(),
                };
                Url::parse(&host).expect("a valid URL")
            }
        };
        let project = resolve_project_id(
            args,
            scope.project_id,
            chosen.profile_project_id.as_deref(),
            region.as_ref(),
            &env,
        )?;
        Ok(Resolved {
            endpoint,
            endpoint_origin,
            project,
            chosen,
            iam_endpoint,
            region: region.map(|(r, _)| r),
            sts_endpoint,
        })
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The variable that points every call at one URL, as `--endpoint` does.
pub(crate) const ENDPOINT_VARIABLE: &str = "DESKTAG_ENDPOINT";

/// What points every project of a run at one URL, if anything: `--endpoint`, else
/// `DESKTAG_ENDPOINT` (blank values count as unset, as in [`Connection::resolve`]).
pub fn pinned_endpoint(
    args: &ConnectionArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Option<&'static str> {
    if non_empty(&args.endpoint).is_some() {
        Some("--endpoint")
    } else if env(ENDPOINT_VARIABLE).is_some_and(|v| !v.trim().is_empty()) {
        Some(ENDPOINT_VARIABLE)
    } else {
        None
    }
}

/// The region, from the manifest, `--region`, `HW_REGION_NAME` or the auth action's
/// `HUAWEI_CLOUD_REGION`, checked.
fn resolve_region(
    args: &ConnectionArgs,
    manifest_region: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, &'static str)>, ConnectionError> {
    let candidates = [
        (manifest_region.map(str::to_string), "the manifest's region"),
        (non_empty(&args.region), "--region"),
        (env("HW_REGION_NAME"), "HW_REGION_NAME"),
        (env("HUAWEI_CLOUD_REGION"), "HUAWEI_CLOUD_REGION"),
    ];
    for (value, origin) in candidates {
        if let Some(region) = value {
            if !desktag_core::tags::is_region_id(&region) {
                return Err(ConnectionError::InvalidRegion {
                    value: region,
                    origin: origin.to_string(),
                });
            }
            return Ok(Some((region, origin)));
        }
    }
    Ok(None)
}

fn resolve_endpoint(
    args: &ConnectionArgs,
    region: Option<&(String, &'static str)>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(Url, String), ConnectionError> {
    if let Some(value) = non_empty(&args.endpoint) {
        return Ok((parse_endpoint(&value, "--endpoint")?, "--endpoint".into()));
    }
    if let Some(value) = env(ENDPOINT_VARIABLE) {
        return Ok((
            parse_endpoint(&value, ENDPOINT_VARIABLE)?,
            ENDPOINT_VARIABLE.into(),
        ));
    }
    let Some((region, origin)) = region else {
        return Err(ConnectionError::NoEndpoint);
    };
    let variable = region_variable(region);
    let origin = if env(&variable).is_some() {
        variable
    } else {
        format!("region `{region}` ({origin})")
    };
    Ok((region_endpoint(region, env)?, origin))
}

/// The endpoint of a region: the official SDKs' override variable
/// `HUAWEICLOUD_SDK_REGION_WORKSPACE_<REGION>` (`-` as `_`, upper case; the first of a
/// comma-separated list) when set, else `https://workspace.<region>.myhuaweicloud.com`.
pub fn region_endpoint(
    region: &str,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Url, ConnectionError> {
    let variable = region_variable(region);
    if let Some(value) = env(&variable) {
        let first = value.split(',').next().unwrap_or_default().trim();
        return parse_endpoint(first, &variable);
    }
    parse_endpoint(
        &format!("https://workspace.{region}.myhuaweicloud.com"),
        &format!("region `{region}`"),
    )
}

/// `cn-north-4` → `HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4`.
pub fn region_variable(region: &str) -> String {
    format!(
        "HUAWEICLOUD_SDK_REGION_WORKSPACE_{}",
        region.to_ascii_uppercase().replace('-', "_")
    )
}

/// Parses and checks an endpoint URL: http(s), a host, no credentials, query or fragment, and
/// plain http only to loopback.
pub fn parse_endpoint(value: &str, origin: &str) -> Result<Url, ConnectionError> {
    let invalid = |shown: &str, reason: &str| ConnectionError::InvalidEndpoint {
        value: shown.to_string(),
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(value).map_err(|e| invalid(&redact_userinfo(value), &e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(invalid(
            shown.as_str(),
            "it contains a user name or password; pass credentials through the environment instead",
        ));
    }
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(value, "the scheme must be https or http"));
    }
    let Some(host) = url.host() else {
        return Err(invalid(value, "it has no host"));
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(value, "it must not have a query or fragment"));
    }
    if url.scheme() == "http" && !is_loopback(&host) {
        return Err(ConnectionError::InsecureEndpoint {
            value: value.to_string(),
            origin: origin.to_string(),
            host: host.to_string(),
        });
    }
    Ok(url)
}

/// Loopback: 127.0.0.0/8, ::1, or `localhost`.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// `https://user:pw@host` → `https://***@host`, for a URL that did not even parse.
fn redact_userinfo(value: &str) -> String {
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &value[..scheme_end + 3], &value[at..])
        }
        _ => value.to_string(),
    }
}

fn check_project_id(value: &str, origin: &str) -> Result<(), ConnectionError> {
    if desktag_core::tags::check_project_id(value).is_ok() {
        Ok(())
    } else {
        Err(ConnectionError::InvalidProjectId {
            value: value.to_string(),
            origin: origin.to_string(),
        })
    }
}

fn resolve_project_id(
    args: &ConnectionArgs,
    manifest_project_id: Option<&str>,
    profile_project_id: Option<&str>,
    region: Option<&(String, &'static str)>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ProjectRef, ConnectionError> {
    let candidates = [
        (
            manifest_project_id
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string),
            "the manifest's project_id",
        ),
        (non_empty(&args.project_id), "--project-id"),
        (
            env("HUAWEICLOUD_SDK_PROJECT_ID"),
            "HUAWEICLOUD_SDK_PROJECT_ID",
        ),
        (env("HW_PROJECT_ID"), "HW_PROJECT_ID"),
        (env("HUAWEI_CLOUD_PROJECT_ID"), "HUAWEI_CLOUD_PROJECT_ID"),
        (
            profile_project_id.map(str::to_string),
            "project_id of the SDK profile file",
        ),
    ];
    for (value, origin) in candidates {
        if let Some(value) = value {
            check_project_id(&value, origin)?;
            return Ok(ProjectRef::Given { id: value, origin });
        }
    }
    match region {
        Some((region, origin)) => Ok(ProjectRef::FromRegion {
            region: region.clone(),
            origin,
        }),
        None => Err(ConnectionError::NoProjectId),
    }
}

fn tried_suffix(tried: &[Tried]) -> String {
    if tried.is_empty() {
        String::new()
    } else {
        format!(" (passed over before it: {})", list_tried(tried))
    }
}

impl fmt::Display for Connection {
    /// `project 0123… at https://… (AK/SK from …)`; never a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "project {} at {} ({})",
            self.project_id,
            self.endpoint,
            self.credentials.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const PID: &str = "0123456789abcdef0123456789abcdef";

    fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        move |name| map.get(name).map(|v| v.to_string())
    }

    fn no_file(_: &Path) -> std::io::Result<String> {
        panic!("the token file must not be read here")
    }

    fn base_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("HW_REGION_NAME", "cn-north-4"),
            ("HW_PROJECT_ID", PID),
            ("HW_ACCESS_KEY", "AKHW"),
            ("HW_SECRET_KEY", "SKHW-secret"),
        ]
    }

    fn resolve(args: &ConnectionArgs, env: &[(&str, &str)]) -> Result<Connection, ConnectionError> {
        Connection::resolve_with(args, ManifestScope::default(), env_of(env), no_file)
    }

    fn with(
        mut env: Vec<(&'static str, &'static str)>,
        extra: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        for (k, v) in extra {
            env.retain(|(n, _)| n != k);
            env.push((k, v));
        }
        env
    }

    fn without(
        mut env: Vec<(&'static str, &'static str)>,
        names: &[&str],
    ) -> Vec<(&'static str, &'static str)> {
        env.retain(|(n, _)| !names.contains(n));
        env
    }

    #[test]
    fn the_endpoint_is_pinned_by_the_flag_then_the_variable_and_blank_is_unset() {
        let none = |_: &str| None;
        let variable = |name: &str| (name == "DESKTAG_ENDPOINT").then(|| "https://x".to_string());
        let blank = |name: &str| (name == "DESKTAG_ENDPOINT").then(|| "  ".to_string());
        let flag = ConnectionArgs {
            endpoint: Some("https://y".into()),
            ..ConnectionArgs::default()
        };
        let plain = ConnectionArgs::default();
        assert_eq!(pinned_endpoint(&flag, variable), Some("--endpoint"));
        assert_eq!(pinned_endpoint(&plain, variable), Some("DESKTAG_ENDPOINT"));
        assert_eq!(pinned_endpoint(&plain, blank), None);
        assert_eq!(pinned_endpoint(&plain, none), None);
    }

    #[test]
    fn region_builds_the_public_endpoint() {
        let c = resolve(&ConnectionArgs::default(), &base_env()).unwrap();
        assert_eq!(
            c.endpoint.as_str(),
            "https://workspace.cn-north-4.myhuaweicloud.com/"
        );
        assert_eq!(c.project_id, PID);
    }

    #[test]
    fn region_flag_beats_region_variable() {
        let args = ConnectionArgs {
            region: Some("ap-southeast-1".into()),
            ..Default::default()
        };
        let c = resolve(&args, &base_env()).unwrap();
        assert_eq!(
            c.endpoint.host_str(),
            Some("workspace.ap-southeast-1.myhuaweicloud.com")
        );
    }

    fn scope<'a>(project_id: Option<&'a str>, region: Option<&'a str>) -> ManifestScope<'a> {
        ManifestScope { project_id, region }
    }

    #[test]
    fn the_manifest_region_beats_the_region_flag_and_variable() {
        let endpoint_in_cn_east_3 = |args: ConnectionArgs| {
            Connection::resolve_with(
                &args,
                scope(None, Some("cn-east-3")),
                env_of(&base_env()),
                no_file,
            )
            .unwrap()
            .endpoint
            .to_string()
        };
        let region_flag = ConnectionArgs {
            region: Some("ap-southeast-1".into()),
            ..Default::default()
        };
        assert_eq!(
            endpoint_in_cn_east_3(region_flag),
            "https://workspace.cn-east-3.myhuaweicloud.com/"
        );
        // An explicit endpoint still wins: it is how a run is pointed at a proxy or an emulator.
        let endpoint_flag = ConnectionArgs {
            endpoint: Some("http://127.0.0.1:8080".into()),
            ..Default::default()
        };
        assert_eq!(
            endpoint_in_cn_east_3(endpoint_flag),
            "http://127.0.0.1:8080/"
        );
    }

    #[test]
    fn a_region_endpoint_honours_the_sdk_override_variable() {
        assert_eq!(
            region_variable("cn-north-4"),
            "HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4"
        );
        let env = with(
            base_env(),
            &[(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_EU_WEST_101",
                "https://workspace.eu-west-101.myhuaweicloud.eu, https://second.example.com",
            )],
        );
        let c = Connection::resolve_with(
            &ConnectionArgs::default(),
            scope(None, Some("eu-west-101")),
            env_of(&env),
            no_file,
        )
        .unwrap();
        assert_eq!(
            c.endpoint.host_str(),
            Some("workspace.eu-west-101.myhuaweicloud.eu")
        );
        // The override applies to a region from --region or HW_REGION_NAME as well.
        let env = with(
            base_env(),
            &[(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4",
                "http://127.0.0.1:9/",
            )],
        );
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9/");
        // And it is checked like any endpoint.
        let env = with(
            base_env(),
            &[(
                "HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4",
                "http://example.com",
            )],
        );
        let err = resolve(&ConnectionArgs::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HUAWEICLOUD_SDK_REGION_WORKSPACE_CN_NORTH_4"),
            "{err}"
        );
        assert!(err.contains("plain http"), "{err}");
    }

    #[test]
    fn endpoint_flag_beats_endpoint_variable_which_beats_region() {
        let env = with(
            base_env(),
            &[("DESKTAG_ENDPOINT", "https://env.example.com")],
        );
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        assert_eq!(c.endpoint.host_str(), Some("env.example.com"));
        let args = ConnectionArgs {
            endpoint: Some("http://127.0.0.1:8080".into()),
            region: Some("cn-east-3".into()),
            ..Default::default()
        };
        let c = resolve(&args, &env).unwrap();
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn missing_endpoint_and_region_names_the_fixes() {
        let err = resolve(
            &ConnectionArgs::default(),
            &without(base_env(), &["HW_REGION_NAME"]),
        )
        .unwrap_err();
        assert!(matches!(err, ConnectionError::NoEndpoint));
        let msg = err.to_string();
        for fix in [
            "--endpoint",
            "--region",
            "DESKTAG_ENDPOINT",
            "HW_REGION_NAME",
        ] {
            assert!(msg.contains(fix), "{msg}");
        }
    }

    #[test]
    fn blank_variables_count_as_unset() {
        let env = with(
            base_env(),
            &[("DESKTAG_ENDPOINT", "  "), ("HW_PROJECT_ID", "")],
        );
        let env = with(env, &[("HUAWEICLOUD_SDK_PROJECT_ID", "abc")]);
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        assert_eq!(
            c.endpoint.host_str(),
            Some("workspace.cn-north-4.myhuaweicloud.com")
        );
        assert_eq!(c.project_id, "abc");
    }

    #[test]
    fn malformed_region_is_refused() {
        let args = ConnectionArgs {
            region: Some("cn north/4".into()),
            ..Default::default()
        };
        let err = resolve(&args, &base_env()).unwrap_err();
        assert!(
            matches!(err, ConnectionError::InvalidRegion { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--region"));
    }

    #[test]
    fn plain_http_is_refused_unless_loopback() {
        for ok in [
            "http://127.0.0.1:1",
            "http://127.3.4.5",
            "http://[::1]:9000",
            "http://localhost:8080/prefix",
            "https://example.com",
        ] {
            parse_endpoint(ok, "--endpoint").unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["http://example.com", "http://10.0.0.1:80", "http://[::2]"] {
            let err = parse_endpoint(bad, "--endpoint").unwrap_err();
            assert!(
                matches!(err, ConnectionError::InsecureEndpoint { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("https://"));
        }
    }

    #[test]
    fn malformed_urls_are_refused_with_the_source() {
        for bad in [
            "workspace.cn-north-4.myhuaweicloud.com",
            "ftp://example.com",
            "https://",
            "https://example.com/?a=b",
            "https://exa mple.com",
        ] {
            let err = parse_endpoint(bad, "DESKTAG_ENDPOINT").unwrap_err();
            assert!(
                matches!(err, ConnectionError::InvalidEndpoint { .. }),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("DESKTAG_ENDPOINT"), "{err}");
        }
    }

    #[test]
    fn credentials_in_the_endpoint_url_are_refused_and_not_echoed() {
        let err = parse_endpoint("https://user:hunter2@example.com", "--endpoint").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = parse_endpoint("https://user:hunter2@exa mple.com", "--endpoint").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn project_id_precedence_is_manifest_flag_sdk_hw() {
        let env = with(base_env(), &[("HUAWEICLOUD_SDK_PROJECT_ID", "sdkpid")]);
        let args = ConnectionArgs {
            project_id: Some("flagpid".into()),
            ..Default::default()
        };
        let c = Connection::resolve_with(
            &args,
            scope(Some("manifestpid"), None),
            env_of(&env),
            no_file,
        )
        .unwrap();
        assert_eq!(c.project_id, "manifestpid");
        let c = Connection::resolve_with(&args, ManifestScope::default(), env_of(&env), no_file)
            .unwrap();
        assert_eq!(c.project_id, "flagpid");
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        assert_eq!(c.project_id, "sdkpid");
        let c = resolve(&ConnectionArgs::default(), &base_env()).unwrap();
        assert_eq!(c.project_id, PID);
    }

    #[test]
    fn missing_project_id_names_every_source() {
        let err = resolve(
            &ConnectionArgs::default(),
            &without(base_env(), &["HW_PROJECT_ID"]),
        )
        .unwrap_err();
        assert!(matches!(err, ConnectionError::NoProjectId));
        let msg = err.to_string();
        for fix in [
            "project_id",
            "--project-id",
            "HUAWEICLOUD_SDK_PROJECT_ID",
            "HW_PROJECT_ID",
        ] {
            assert!(msg.contains(fix), "{msg}");
        }
    }

    #[test]
    fn project_id_with_a_slash_is_refused() {
        let args = ConnectionArgs {
            project_id: Some("abc/../x".into()),
            ..Default::default()
        };
        let err = resolve(&args, &base_env()).unwrap_err();
        assert!(matches!(err, ConnectionError::InvalidProjectId { .. }));
        assert!(err.to_string().contains("--project-id"));
    }

    #[test]
    fn sdk_key_pair_beats_hw_key_pair() {
        let env = with(
            base_env(),
            &[
                ("HUAWEICLOUD_SDK_AK", "AKSDK"),
                ("HUAWEICLOUD_SDK_SK", "SKSDK"),
            ],
        );
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        match c.credentials {
            Credentials::AkSk {
                ak,
                sk,
                security_token,
                origin,
            } => {
                assert_eq!(ak.expose(), "AKSDK");
                assert_eq!(sk.expose(), "SKSDK");
                assert!(security_token.is_none());
                assert_eq!(origin, "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK");
            }
            other => panic!("{other:?}"),
        }
        let c = resolve(&ConnectionArgs::default(), &base_env()).unwrap();
        assert!(matches!(
            c.credentials,
            Credentials::AkSk {
                origin: "HW_ACCESS_KEY/HW_SECRET_KEY",
                ..
            }
        ));
    }

    #[test]
    fn security_token_comes_from_either_variable() {
        for name in ["HUAWEICLOUD_SDK_SECURITY_TOKEN", "HW_SECURITY_TOKEN"] {
            let env = with(base_env(), &[(name, "STS-TOKEN")]);
            let c = resolve(&ConnectionArgs::default(), &env).unwrap();
            match &c.credentials {
                Credentials::AkSk { security_token, .. } => {
                    assert_eq!(security_token.as_ref().unwrap().expose(), "STS-TOKEN")
                }
                other => panic!("{other:?}"),
            }
            assert!(c.credentials.describe().contains("security token"));
        }
    }

    #[test]
    fn half_a_key_pair_is_an_error_naming_the_missing_half() {
        let env = with(without(base_env(), &["HW_SECRET_KEY"]), &[]);
        let err = resolve(&ConnectionArgs::default(), &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HW_ACCESS_KEY is set but HW_SECRET_KEY is not: set both, or unset HW_ACCESS_KEY"
        );
        let env = with(base_env(), &[("HUAWEICLOUD_SDK_SK", "x")]);
        let err = resolve(&ConnectionArgs::default(), &env).unwrap_err();
        assert!(matches!(
            err,
            ConnectionError::IncompleteKeyPair {
                present: "HUAWEICLOUD_SDK_SK",
                missing: "HUAWEICLOUD_SDK_AK"
            }
        ));
    }

    #[test]
    fn key_pair_beats_the_token_variable_but_not_an_explicit_token_file() {
        let env = with(base_env(), &[("HW_AUTH_TOKEN", "tok")]);
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        assert!(matches!(c.credentials, Credentials::AkSk { .. }));
        let args = ConnectionArgs {
            token_file: Some("/t".into()),
            ..Default::default()
        };
        let c = Connection::resolve_with(&args, ManifestScope::default(), env_of(&env), |_| {
            Ok("file-token".into())
        })
        .unwrap();
        assert!(
            matches!(&c.credentials, Credentials::Token { token, .. } if token.expose() == "file-token")
        );
    }

    #[test]
    fn token_file_is_read_trimmed_and_beats_the_token_variable() {
        let env = with(
            without(base_env(), &["HW_ACCESS_KEY", "HW_SECRET_KEY"]),
            &[("HW_AUTH_TOKEN", "from-env")],
        );
        let args = ConnectionArgs {
            token_file: Some("/run/token".into()),
            ..Default::default()
        };
        let c = Connection::resolve_with(&args, ManifestScope::default(), env_of(&env), |p| {
            assert_eq!(p, Path::new("/run/token"));
            Ok("  MIIfile-token\n".to_string())
        })
        .unwrap();
        match &c.credentials {
            Credentials::Token { token, origin } => {
                assert_eq!(token.expose(), "MIIfile-token");
                assert!(origin.contains("--token-file"));
            }
            other => panic!("{other:?}"),
        }
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        assert!(
            matches!(&c.credentials, Credentials::Token { token, .. } if token.expose() == "from-env")
        );
    }

    #[test]
    fn unreadable_or_empty_token_file_is_an_error() {
        let env = without(base_env(), &["HW_ACCESS_KEY", "HW_SECRET_KEY"]);
        let args = ConnectionArgs {
            token_file: Some("/missing/token".into()),
            ..Default::default()
        };
        let err = Connection::resolve_with(&args, ManifestScope::default(), env_of(&env), |_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not found",
            ))
        })
        .unwrap_err();
        assert!(matches!(err, ConnectionError::TokenFile { .. }));
        assert!(err.to_string().contains("/missing/token"), "{err}");
        assert!(err.to_string().contains("--token-file"), "{err}");
        let err = Connection::resolve_with(&args, ManifestScope::default(), env_of(&env), |_| {
            Ok("\n \n".into())
        })
        .unwrap_err();
        assert!(matches!(err, ConnectionError::EmptySecret { .. }), "{err}");
    }

    #[test]
    fn no_credentials_names_every_source() {
        let env = without(base_env(), &["HW_ACCESS_KEY", "HW_SECRET_KEY"]);
        let err = resolve(&ConnectionArgs::default(), &env).unwrap_err();
        assert!(matches!(err, ConnectionError::NoCredentials { .. }));
        let msg = err.to_string();
        for fix in [
            "HUAWEICLOUD_SDK_AK",
            "HW_ACCESS_KEY",
            "--token-file",
            "HW_AUTH_TOKEN",
        ] {
            assert!(msg.contains(fix), "{msg}");
        }
    }

    #[test]
    fn secrets_that_cannot_be_headers_are_refused_without_echo() {
        let env = with(
            without(base_env(), &["HW_ACCESS_KEY", "HW_SECRET_KEY"]),
            &[("HW_AUTH_TOKEN", "bad token\u{7f}value")],
        );
        let err = resolve(&ConnectionArgs::default(), &env).unwrap_err();
        assert!(matches!(err, ConnectionError::InvalidSecret { .. }));
        assert!(!err.to_string().contains("bad token"), "{err}");
        assert!(err.to_string().contains("HW_AUTH_TOKEN"));
    }

    #[test]
    fn debug_and_display_never_show_secrets() {
        let env = with(base_env(), &[("HW_SECURITY_TOKEN", "STS-SECRET-TOKEN")]);
        let c = resolve(&ConnectionArgs::default(), &env).unwrap();
        let shown = format!("{c:?} {c}");
        for secret in ["AKHW", "SKHW-secret", "STS-SECRET-TOKEN"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains(PID));
    }
}
