//! The credential chain: which source desktag takes its credentials from, decided in the official
//! SDKs' order from the flags, the environment and the SDK profile file. Pure: the environment
//! and the file reader are arguments, nothing is fetched here (sources that need the network are
//! returned as a [`Fetch`] for `fetch` to run). Every source passed over is recorded with why, so
//! "no credentials" can say what was tried.

use std::fmt;
use std::path::{Path, PathBuf};

use url::Url;

use crate::connection::{ConnectionError, Credentials};
use desktag_core::secret::Secret;

/// The OIDC exchange from a token file named in the environment.
pub const OIDC_FILE: &str = "OIDC (HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE)";
/// The OIDC exchange with the GitHub Actions runner's ID token.
pub const OIDC_ACTIONS: &str = "OIDC (HUAWEICLOUD_SDK_IDP_ID + the GitHub Actions ID token)";
/// The OIDC exchange configured in the SDK profile file.
pub const OIDC_PROFILE: &str = "OIDC (idp_id + id_token_file of the SDK profile file)";
pub const PROFILE: &str = "the SDK profile file";
pub const POD_IDENTITY: &str = "CCE Pod Identity (HC_CONTAINER_CREDENTIALS_FULL_URI)";
pub const METADATA: &str = "ECS metadata";

/// Where the ECS metadata service answers; `DESKTAG_METADATA_ENDPOINT` overrides it (tests), and
/// `DESKTAG_METADATA_ENDPOINT=off` skips the source.
pub const METADATA_ENDPOINT: &str = "http://169.254.169.254";
/// The IAM endpoint when no region and no override say otherwise (the SDKs' default).
pub const DEFAULT_IAM_ENDPOINT: &str = "https://iam.myhuaweicloud.com";
/// How long temporary keys from the OIDC exchange are asked to last (the SDKs ask for 6 h).
pub const OIDC_DURATION_SECONDS: u64 = 6 * 60 * 60;

/// A source passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tried {
    pub source: String,
    pub why: String,
}

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.why)
    }
}

/// Formats the sources tried, for an error message: `a: why; b: why`.
pub fn list_tried(tried: &[Tried]) -> String {
    tried
        .iter()
        .map(Tried::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where an OIDC ID token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdToken {
    /// Read from this file at every exchange (CI systems rotate it).
    File(PathBuf),
    /// Requested from the GitHub Actions runner: `GET {url}&audience=…` with
    /// `Authorization: Bearer {request_token}`.
    Actions {
        url: String,
        request_token: Secret,
        audience: Option<String>,
    },
}

/// A source that must be asked over the network for temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// IAM: ID token → unscoped token → temporary AK/SK/security token.
    Oidc {
        idp_id: String,
        id_token: IdToken,
        iam_endpoint: Url,
        origin: &'static str,
    },
    /// `POST {uri}` with `Authorization: <content of token_file>`.
    PodIdentity { uri: Url, token_file: PathBuf },
    /// The ECS metadata service at `base`.
    Metadata { base: Url },
}

impl Fetch {
    /// The source's name, as logs, errors and `doctor` show it.
    pub fn origin(&self) -> &'static str {
        match self {
            Fetch::Oidc { origin, .. } => origin,
            Fetch::PodIdentity { .. } => POD_IDENTITY,
            Fetch::Metadata { .. } => METADATA,
        }
    }

    /// Where the source is asked, without any secret: for logs and `doctor`.
    pub fn location(&self) -> String {
        match self {
            Fetch::Oidc {
                idp_id,
                iam_endpoint,
                id_token,
                ..
            } => {
                let token = match id_token {
                    IdToken::File(path) => format!("ID token file {}", path.display()),
                    IdToken::Actions { .. } => "the Actions ID-token endpoint".to_string(),
                };
                format!("identity provider {idp_id} at {iam_endpoint}, {token}")
            }
            Fetch::PodIdentity { uri, .. } => uri.to_string(),
            Fetch::Metadata { base } => base.to_string(),
        }
    }
}

/// What the chain chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Credentials given outright (flags, environment, profile file).
    Static(Credentials),
    /// Temporary credentials to fetch (and refresh before they expire).
    Fetch(Fetch),
}

/// The chain's decision: the source, what was passed over before it, and what the profile file
/// adds (a project id, an IAM endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub choice: Choice,
    pub tried: Vec<Tried>,
    pub profile_project_id: Option<String>,
    /// The profile file's `iam_endpoint`, when the profile was read.
    pub profile_iam_endpoint: Option<String>,
}

/// The `[basic]` section of the SDK profile file (`~/.huaweicloud/credentials`, INI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub ak: Option<String>,
    pub sk: Option<Secret>,
    pub security_token: Option<Secret>,
    pub project_id: Option<String>,
    pub idp_id: Option<String>,
    pub id_token_file: Option<String>,
    pub iam_endpoint: Option<String>,
}

/// Parses the SDK profile file: INI, `[section]` headers, `key = value` (or `key: value`) lines,
/// `#` and `;` comments; only the `[basic]` section is read (keys case-insensitive). `Err` says
/// what is wrong, with the line number, and never quotes a value.
pub fn parse_profile(text: &str) -> Result<Option<Profile>, String> {
    let mut section: Option<String> = None;
    let mut found = false;
    let mut profile = Profile::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(format!(
                    "line {}: a section header must end with `]`",
                    index + 1
                ));
            };
            let name = name.trim().to_ascii_lowercase();
            found |= name == "basic";
            section = Some(name);
            continue;
        }
        let Some((key, value)) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        else {
            return Err(format!(
                "line {}: expected `key = value` or a `[section]` header",
                index + 1
            ));
        };
        if section.as_deref() != Some("basic") || value.is_empty() {
            continue;
        }
        match key.as_str() {
            "ak" => profile.ak = Some(value),
            "sk" => profile.sk = Some(Secret::new(value)),
            "security_token" => profile.security_token = Some(Secret::new(value)),
            "project_id" => profile.project_id = Some(value),
            "idp_id" => profile.idp_id = Some(value),
            "id_token_file" => profile.id_token_file = Some(value),
            "iam_endpoint" => profile.iam_endpoint = Some(value),
            _ => {}
        }
    }
    Ok(found.then_some(profile))
}

/// The access key pairs read from the environment, in order, with their security token.
const KEY_FAMILIES: [(&str, &str, &str, &str); 3] = [
    (
        "HUAWEICLOUD_SDK_AK",
        "HUAWEICLOUD_SDK_SK",
        "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK",
    ),
    (
        "HW_ACCESS_KEY",
        "HW_SECRET_KEY",
        "HW_SECURITY_TOKEN",
        "HW_ACCESS_KEY/HW_SECRET_KEY",
    ),
    (
        "HUAWEI_CLOUD_ACCESS_KEY_ID",
        "HUAWEI_CLOUD_SECRET_ACCESS_KEY",
        "HUAWEI_CLOUD_SECURITY_TOKEN",
        "HUAWEI_CLOUD_ACCESS_KEY_ID/HUAWEI_CLOUD_SECRET_ACCESS_KEY",
    ),
];

/// What the chain reads: the `--token-file` flag, the environment (blank values count as unset)
/// and files (the token file, the profile file).
pub struct Inputs<'a> {
    pub token_file: Option<&'a Path>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<String>,
    /// The IAM endpoint the region gives, used unless overridden.
    pub region_iam_endpoint: Option<Url>,
}

/// A secret must be sendable as a header value (and is signed byte for byte). Its length is not
/// capped: STS security tokens may exceed 4 KB.
pub(crate) fn header_safe(value: String, origin: &str) -> Result<Secret, ConnectionError> {
    if !value.is_empty() && value.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(Secret::new(value))
    } else {
        Err(ConnectionError::InvalidSecret {
            origin: origin.to_string(),
        })
    }
}

/// Runs the chain: the first source configured wins; a source configured by half is an error
/// naming the missing half.
///
/// Order: `--token-file`; the key pairs `HUAWEICLOUD_SDK_AK`/`_SK`, `HW_ACCESS_KEY`/
/// `HW_SECRET_KEY`, `HUAWEI_CLOUD_ACCESS_KEY_ID`/`HUAWEI_CLOUD_SECRET_ACCESS_KEY` (each with its
/// security token); `HW_AUTH_TOKEN`; OIDC (`HUAWEICLOUD_SDK_IDP_ID` with
/// `HUAWEICLOUD_SDK_ID_TOKEN_FILE`, or inside GitHub Actions the runner's ID token); the SDK
/// profile file; CCE Pod Identity; ECS metadata.
pub fn choose(inputs: &Inputs<'_>) -> Result<Chosen, ConnectionError> {
    let mut chain = Chain {
        inputs,
        tried: Vec::new(),
    };
    if let Some(chosen) = chain.token_file()? {
        return Ok(chosen);
    }
    if let Some(chosen) = chain.key_pairs()? {
        return Ok(chosen);
    }
    if let Some(chosen) = chain.auth_token()? {
        return Ok(chosen);
    }
    if let Some(chosen) = chain.oidc()? {
        return Ok(chosen);
    }
    if let Some(chosen) = chain.profile_file()? {
        return Ok(chosen);
    }
    if let Some(chosen) = chain.pod_identity()? {
        return Ok(chosen);
    }
    chain.metadata()
}

/// The chain as it runs: what it reads, and the sources passed over so far.
struct Chain<'i, 'a> {
    inputs: &'i Inputs<'a>,
    tried: Vec<Tried>,
}

/// What one source of the chain gives: `Some` when it is chosen, `None` when it is passed over
/// (and recorded as tried).
type Step = Result<Option<Chosen>, ConnectionError>;

impl Chain<'_, '_> {
    /// An environment variable, trimmed; a blank value counts as unset.
    fn env(&self, name: &str) -> Option<String> {
        (self.inputs.env)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Records a source passed over, and why.
    fn skip(&mut self, source: &str, why: &str) {
        self.tried.push(Tried {
            source: source.to_string(),
            why: why.to_string(),
        })
    }

    /// The decision, with the sources passed over before it and what the profile file adds.
    fn chosen(&mut self, choice: Choice, profile: Option<&Profile>) -> Chosen {
        Chosen {
            choice,
            tried: std::mem::take(&mut self.tried),
            profile_project_id: profile.and_then(|p| p.project_id.clone()),
            profile_iam_endpoint: profile.and_then(|p| p.iam_endpoint.clone()),
        }
    }

    /// `--token-file`: a token read from the file the flag names.
    fn token_file(&mut self) -> Step {
        let Some(path) = self.inputs.token_file else {
            self.skip("--token-file", "not given");
            return Ok(None);
        };
        let origin = format!("the token file {}", path.display());
        let text = (self.inputs.read_file)(path).map_err(|source| ConnectionError::TokenFile {
            path: path.to_path_buf(),
            source,
        })?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(ConnectionError::EmptySecret { origin });
        }
        let credentials = Credentials::Token {
            token: header_safe(token, &origin)?,
            origin: format!("--token-file {}", path.display()),
        };
        Ok(Some(self.chosen(Choice::Static(credentials), None)))
    }

    /// The key pairs of the environment, in `KEY_FAMILIES` order, each with a security token.
    fn key_pairs(&mut self) -> Step {
        for (ak_name, sk_name, token_name, origin) in KEY_FAMILIES {
            match (self.env(ak_name), self.env(sk_name)) {
                (Some(ak), Some(sk)) => {
                    // The token of the same family first, then any other one.
                    let security_token = std::iter::once(token_name)
                        .chain(KEY_FAMILIES.iter().map(|f| f.2))
                        .find_map(|name| self.env(name).map(|v| (v, name)))
                        .map(|(v, name)| header_safe(v, name))
                        .transpose()?;
                    let credentials = Credentials::AkSk {
                        ak: header_safe(ak, ak_name)?,
                        sk: header_safe(sk, sk_name)?,
                        security_token,
                        origin,
                    };
                    return Ok(Some(self.chosen(Choice::Static(credentials), None)));
                }
                (Some(_), None) => {
                    return Err(ConnectionError::IncompleteKeyPair {
                        present: ak_name,
                        missing: sk_name,
                    })
                }
                (None, Some(_)) => {
                    return Err(ConnectionError::IncompleteKeyPair {
                        present: sk_name,
                        missing: ak_name,
                    })
                }
                (None, None) => self.skip(origin, "not set"),
            }
        }
        Ok(None)
    }

    /// `HW_AUTH_TOKEN`: an IAM token given outright.
    fn auth_token(&mut self) -> Step {
        if let Some(token) = self.env("HW_AUTH_TOKEN") {
            let credentials = Credentials::Token {
                token: header_safe(token, "HW_AUTH_TOKEN")?,
                origin: "HW_AUTH_TOKEN".to_string(),
            };
            return Ok(Some(self.chosen(Choice::Static(credentials), None)));
        }
        self.skip("HW_AUTH_TOKEN", "not set");
        Ok(None)
    }

    /// The IAM endpoint of the OIDC exchange: `HUAWEICLOUD_SDK_IAM_ENDPOINT`, else the profile
    /// file's value, else the region's, else the SDKs' default.
    fn iam_endpoint(&self, profile_value: Option<&str>) -> Result<Url, ConnectionError> {
        if let Some(value) = self.env("HUAWEICLOUD_SDK_IAM_ENDPOINT") {
            return parse_service_url(&value, "HUAWEICLOUD_SDK_IAM_ENDPOINT");
        }
        if let Some(value) = profile_value {
            return parse_service_url(value, "iam_endpoint of the SDK profile file");
        }
        Ok(self
            .inputs
            .region_iam_endpoint
            .clone()
            .unwrap_or_else(|| Url::parse(DEFAULT_IAM_ENDPOINT).expect("a valid URL")))
    }

    /// OIDC from the environment: `HUAWEICLOUD_SDK_IDP_ID` with a token file, or inside GitHub
    /// Actions with the runner's ID token.
    fn oidc(&mut self) -> Step {
        match (
            self.env("HUAWEICLOUD_SDK_IDP_ID"),
            self.env("HUAWEICLOUD_SDK_ID_TOKEN_FILE"),
        ) {
            (Some(idp_id), Some(file)) => {
                let fetch = Fetch::Oidc {
                    idp_id,
                    id_token: IdToken::File(PathBuf::from(file)),
                    iam_endpoint: self.iam_endpoint(None)?,
                    origin: OIDC_FILE,
                };
                Ok(Some(self.chosen(Choice::Fetch(fetch), None)))
            }
            (Some(idp_id), None) => self.oidc_actions(idp_id).map(Some),
            (None, Some(_)) => Err(ConnectionError::IncompleteKeyPair {
                present: "HUAWEICLOUD_SDK_ID_TOKEN_FILE",
                missing: "HUAWEICLOUD_SDK_IDP_ID",
            }),
            (None, None) => {
                self.skip("OIDC", "HUAWEICLOUD_SDK_IDP_ID is not set");
                Ok(None)
            }
        }
    }

    /// OIDC with the GitHub Actions runner's ID token, when an identity provider is set without
    /// a token file; outside Actions that is an error.
    fn oidc_actions(&mut self, idp_id: String) -> Result<Chosen, ConnectionError> {
        match (
            self.env("ACTIONS_ID_TOKEN_REQUEST_URL"),
            self.env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            (Some(url), Some(request_token)) => {
                let fetch = Fetch::Oidc {
                    idp_id,
                    id_token: IdToken::Actions {
                        url,
                        request_token: Secret::new(request_token),
                        audience: self.env("DESKTAG_OIDC_AUDIENCE"),
                    },
                    iam_endpoint: self.iam_endpoint(None)?,
                    origin: OIDC_ACTIONS,
                };
                Ok(self.chosen(Choice::Fetch(fetch), None))
            }
            _ => Err(ConnectionError::IncompleteOidc),
        }
    }

    /// The SDK profile file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else
    /// `~/.huaweicloud/credentials`; a missing file or one without `[basic]` is passed over.
    fn profile_file(&mut self) -> Step {
        let profile_path = match self.env("HUAWEICLOUD_SDK_CREDENTIALS_FILE") {
            Some(path) => Some(PathBuf::from(path)),
            None => self
                .env("HOME")
                .or_else(|| self.env("USERPROFILE"))
                .map(|home| Path::new(&home).join(".huaweicloud").join("credentials")),
        };
        let Some(path) = profile_path else {
            self.skip(PROFILE, "no home directory (HOME) to find it in");
            return Ok(None);
        };
        match (self.inputs.read_file)(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.skip(PROFILE, &format!("{} does not exist", path.display()));
                Ok(None)
            }
            Err(source) => Err(ConnectionError::ProfileFile {
                path,
                message: source.to_string(),
            }),
            Ok(text) => {
                let profile =
                    parse_profile(&text).map_err(|message| ConnectionError::ProfileFile {
                        path: path.clone(),
                        message,
                    })?;
                match profile {
                    None => {
                        self.skip(
                            PROFILE,
                            &format!("{} has no [basic] section", path.display()),
                        );
                        Ok(None)
                    }
                    Some(profile) => self.profile_source(&path, &profile).map(Some),
                }
            }
        }
    }

    /// The source a profile's `[basic]` section configures: OIDC (`idp_id` and `id_token_file`)
    /// first, then the key pair; neither is an error.
    fn profile_source(
        &mut self,
        path: &Path,
        profile: &Profile,
    ) -> Result<Chosen, ConnectionError> {
        if let (Some(idp_id), Some(file)) = (&profile.idp_id, &profile.id_token_file) {
            let fetch = Fetch::Oidc {
                idp_id: idp_id.clone(),
                id_token: IdToken::File(PathBuf::from(file)),
                iam_endpoint: self.iam_endpoint(profile.iam_endpoint.as_deref())?,
                origin: OIDC_PROFILE,
            };
            return Ok(self.chosen(Choice::Fetch(fetch), Some(profile)));
        }
        let (Some(ak), Some(sk)) = (&profile.ak, &profile.sk) else {
            return Err(ConnectionError::ProfileFile {
                path: path.to_path_buf(),
                message: "its [basic] section needs `ak` and `sk`, or `idp_id` and \
                          `id_token_file`"
                    .to_string(),
            });
        };
        let security_token = profile
            .security_token
            .as_ref()
            .map(|t| header_safe(t.expose().to_string(), "security_token"))
            .transpose()?;
        let credentials = Credentials::AkSk {
            ak: header_safe(ak.clone(), "ak of the SDK profile file")?,
            sk: header_safe(sk.expose().to_string(), "sk of the SDK profile file")?,
            security_token,
            origin: PROFILE,
        };
        Ok(self.chosen(Choice::Static(credentials), Some(profile)))
    }

    /// CCE Pod Identity: `HC_CONTAINER_CREDENTIALS_FULL_URI` with the token file's variable.
    fn pod_identity(&mut self) -> Step {
        match (
            self.env("HC_CONTAINER_CREDENTIALS_FULL_URI"),
            self.env("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        ) {
            (Some(uri), Some(file)) => {
                let fetch = Fetch::PodIdentity {
                    uri: parse_service_url(&uri, "HC_CONTAINER_CREDENTIALS_FULL_URI")?,
                    token_file: PathBuf::from(file),
                };
                Ok(Some(self.chosen(Choice::Fetch(fetch), None)))
            }
            (Some(_), None) => Err(ConnectionError::IncompleteKeyPair {
                present: "HC_CONTAINER_CREDENTIALS_FULL_URI",
                missing: "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            }),
            (None, Some(_)) => Err(ConnectionError::IncompleteKeyPair {
                present: "HC_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                missing: "HC_CONTAINER_CREDENTIALS_FULL_URI",
            }),
            (None, None) => {
                self.skip(POD_IDENTITY, "HC_CONTAINER_CREDENTIALS_FULL_URI is not set");
                Ok(None)
            }
        }
    }

    /// ECS metadata, the last source: `DESKTAG_METADATA_ENDPOINT` moves it, `=off` skips it,
    /// and then nothing was found.
    fn metadata(mut self) -> Result<Chosen, ConnectionError> {
        match self.env("DESKTAG_METADATA_ENDPOINT") {
            Some(value) if value.eq_ignore_ascii_case("off") => {
                self.skip(METADATA, "DESKTAG_METADATA_ENDPOINT=off");
                Err(ConnectionError::NoCredentials { tried: self.tried })
            }
            Some(value) => {
                let base = parse_service_url(&value, "DESKTAG_METADATA_ENDPOINT")?;
                Ok(self.chosen(Choice::Fetch(Fetch::Metadata { base }), None))
            }
            None => {
                let base = Url::parse(METADATA_ENDPOINT).expect("a valid URL");
                Ok(self.chosen(Choice::Fetch(Fetch::Metadata { base }), None))
            }
        }
    }
}

/// A URL of an identity service: https, or plain http to loopback or a link-local address (the
/// metadata and Pod Identity agents answer on 169.254.x.x, inside the host).
pub fn parse_service_url(value: &str, origin: &str) -> Result<Url, ConnectionError> {
    let url = Url::parse(value).map_err(|e| ConnectionError::InvalidEndpoint {
        value: value.to_string(),
        origin: origin.to_string(),
        reason: e.to_string(),
    })?;
    let link_local = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_link_local());
    if url.scheme() == "http" && link_local && url.username().is_empty() && url.password().is_none()
    {
        return Ok(url);
    }
    // Pod Identity and the Actions endpoint may carry a query; everything else is an endpoint.
    let mut bare = url.clone();
    bare.set_query(None);
    crate::connection::parse_endpoint(bare.as_str(), origin)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn choose_with(
        env: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Result<Chosen, ConnectionError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let files: HashMap<PathBuf, String> = files
            .iter()
            .map(|(k, v)| (PathBuf::from(k), v.to_string()))
            .collect();
        let env_fn = move |name: &str| env.get(name).cloned();
        let read = move |path: &Path| {
            files
                .get(path)
                .cloned()
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        };
        choose(&Inputs {
            token_file: None,
            env: &env_fn,
            read_file: &read,
            region_iam_endpoint: Some(
                Url::parse("https://iam.cn-north-4.myhuaweicloud.com").unwrap(),
            ),
        })
    }

    fn origin_of(chosen: &Chosen) -> String {
        match &chosen.choice {
            Choice::Static(Credentials::AkSk { origin, .. }) => origin.to_string(),
            Choice::Static(Credentials::Token { origin, .. }) => origin.clone(),
            Choice::Fetch(fetch) => fetch.origin().to_string(),
        }
    }

    #[test]
    fn each_key_family_is_read_with_its_own_security_token() {
        for (ak, sk, token, origin) in KEY_FAMILIES {
            let chosen = choose_with(
                &[(ak, "AK1"), (sk, "SK1"), (token, "TOKEN1"), ("HOME", "/h")],
                &[],
            )
            .unwrap();
            assert_eq!(origin_of(&chosen), origin);
            match chosen.choice {
                Choice::Static(Credentials::AkSk {
                    security_token: Some(t),
                    ..
                }) => assert_eq!(t.expose(), "TOKEN1"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_auth_action_variables_come_after_the_sdk_and_hw_families() {
        let chosen = choose_with(
            &[
                ("HUAWEI_CLOUD_ACCESS_KEY_ID", "A3"),
                ("HUAWEI_CLOUD_SECRET_ACCESS_KEY", "S3"),
                ("HW_ACCESS_KEY", "A2"),
                ("HW_SECRET_KEY", "S2"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(origin_of(&chosen), "HW_ACCESS_KEY/HW_SECRET_KEY");
    }

    #[test]
    fn oidc_from_a_file_beats_the_profile_and_uses_the_iam_override() {
        let chosen = choose_with(
            &[
                ("HUAWEICLOUD_SDK_IDP_ID", "github"),
                ("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "/run/id-token"),
                (
                    "HUAWEICLOUD_SDK_IAM_ENDPOINT",
                    "https://iam.eu-west-101.myhuaweicloud.eu",
                ),
                ("HOME", "/h"),
            ],
            &[("/h/.huaweicloud/credentials", "[basic]\nak = A\nsk = S\n")],
        )
        .unwrap();
        match chosen.choice {
            Choice::Fetch(Fetch::Oidc {
                idp_id,
                id_token,
                iam_endpoint,
                origin,
            }) => {
                assert_eq!(idp_id, "github");
                assert_eq!(id_token, IdToken::File("/run/id-token".into()));
                assert_eq!(
                    iam_endpoint.host_str(),
                    Some("iam.eu-west-101.myhuaweicloud.eu")
                );
                assert_eq!(origin, OIDC_FILE);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn inside_actions_the_runner_token_is_requested_and_an_idp_alone_is_an_error() {
        let chosen = choose_with(
            &[
                ("HUAWEICLOUD_SDK_IDP_ID", "github"),
                (
                    "ACTIONS_ID_TOKEN_REQUEST_URL",
                    "https://runner.example/token?x=1",
                ),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer"),
                ("DESKTAG_OIDC_AUDIENCE", "sts.example"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(origin_of(&chosen), OIDC_ACTIONS);
        let err = choose_with(&[("HUAWEICLOUD_SDK_IDP_ID", "github")], &[]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("HUAWEICLOUD_SDK_ID_TOKEN_FILE"), "{msg}");
        assert!(msg.contains("id-token: write"), "{msg}");
    }

    #[test]
    fn the_profile_file_gives_keys_a_project_and_may_be_moved() {
        let chosen = choose_with(
            &[("HUAWEICLOUD_SDK_CREDENTIALS_FILE", "/etc/hc")],
            &[(
                "/etc/hc",
                "# comment\n[other]\nak = X\n[basic]\nak = APROF\nsk = SPROF\nsecurity_token = T\nproject_id = p1\niam_endpoint = https://iam.example.eu\n",
            )],
        )
        .unwrap();
        assert_eq!(origin_of(&chosen), PROFILE);
        assert_eq!(chosen.profile_project_id.as_deref(), Some("p1"));
        assert_eq!(
            chosen.profile_iam_endpoint.as_deref(),
            Some("https://iam.example.eu")
        );
        assert!(chosen.tried.iter().any(|t| t.source == "OIDC"));
    }

    #[test]
    fn a_profile_without_keys_is_an_error_that_does_not_quote_it() {
        let err = choose_with(
            &[("HOME", "/h")],
            &[("/h/.huaweicloud/credentials", "[basic]\nak = ASECRETISH\n")],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/h/.huaweicloud/credentials"), "{msg}");
        assert!(!msg.contains("ASECRETISH"), "{msg}");
        assert!(parse_profile("[basic\n").is_err());
        assert!(parse_profile("just words\n")
            .unwrap_err()
            .contains("line 1"));
    }

    #[test]
    fn pod_identity_comes_before_metadata_and_needs_both_variables() {
        let chosen = choose_with(
            &[
                (
                    "HC_CONTAINER_CREDENTIALS_FULL_URI",
                    "http://169.254.170.2/v1/credentials",
                ),
                ("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(origin_of(&chosen), POD_IDENTITY);
        let err = choose_with(
            &[(
                "HC_CONTAINER_CREDENTIALS_FULL_URI",
                "http://169.254.170.2/v1/credentials",
            )],
            &[],
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .contains("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
        let err = choose_with(
            &[
                ("HC_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/creds"),
                ("HC_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/t"),
            ],
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
    }

    #[test]
    fn metadata_is_last_and_off_lists_everything_tried() {
        let chosen = choose_with(&[("HOME", "/h")], &[]).unwrap();
        assert_eq!(
            chosen.choice,
            Choice::Fetch(Fetch::Metadata {
                base: Url::parse(METADATA_ENDPOINT).unwrap()
            })
        );
        let err =
            choose_with(&[("DESKTAG_METADATA_ENDPOINT", "off"), ("HOME", "/h")], &[]).unwrap_err();
        let msg = err.to_string();
        for source in [
            "--token-file: not given",
            "HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK: not set",
            "HW_ACCESS_KEY/HW_SECRET_KEY: not set",
            "HUAWEI_CLOUD_ACCESS_KEY_ID/HUAWEI_CLOUD_SECRET_ACCESS_KEY: not set",
            "HW_AUTH_TOKEN: not set",
            "OIDC: HUAWEICLOUD_SDK_IDP_ID is not set",
            "the SDK profile file: /h/.huaweicloud/credentials does not exist",
            "CCE Pod Identity",
            "ECS metadata: DESKTAG_METADATA_ENDPOINT=off",
        ] {
            assert!(msg.contains(source), "{source} missing from {msg}");
        }
    }

    #[test]
    fn long_security_tokens_are_accepted() {
        let long = "t".repeat(20_000);
        let chosen = choose_with(
            &[
                ("HW_ACCESS_KEY", "A"),
                ("HW_SECRET_KEY", "S"),
                ("HW_SECURITY_TOKEN", &long),
            ],
            &[],
        )
        .unwrap();
        assert!(matches!(
            chosen.choice,
            Choice::Static(Credentials::AkSk { security_token: Some(t), .. }) if t.expose().len() == 20_000
        ));
    }
}
