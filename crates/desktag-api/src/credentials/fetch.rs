//! The HTTP side of the credential chain: the OIDC exchange with IAM (and the GitHub Actions ID
//! token), CCE Pod Identity, the ECS metadata service, and the signed IAM project lookup. Every
//! answer is parsed by the pure `lease` module; errors name the source and never carry a secret.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;

use super::chain::{Fetch, IdToken, OIDC_DURATION_SECONDS};
use super::lease::{parse_actions_token, parse_temporary, Lease};
use crate::client::{http_builder, ClientOptions};
use crate::connection::Credentials;
use crate::error::ApiError;
use crate::sign;
use desktag_core::secret::Secret;

/// How long the metadata service may take: it answers at once on an ECS, and off one the
/// address does not answer at all, so the wait must be short (the SDKs use 3 s).
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(2);
/// Pod Identity and IAM calls: the SDKs use 5 s for Pod Identity.
pub const IDENTITY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest identity answer read (a security token is a few KB).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a source gave no credentials. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct FetchError {
    pub source_name: &'static str,
    pub message: String,
}

/// Asks identity services for credentials, through the run's HTTP settings.
#[derive(Debug, Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    /// For loopback URLs (a local emulator): never through a proxy from the environment.
    direct_http: reqwest::Client,
    metadata_http: reqwest::Client,
    user_agent: String,
}

/// One answer: status, headers, body (bounded).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Fetcher {
    /// `builder` carries the run's proxy and CA settings; the metadata client gets the short
    /// timeouts and never a proxy (the address is inside the host).
    pub fn new(options: &ClientOptions) -> Result<Fetcher, ApiError> {
        let setup = |e: reqwest::Error| ApiError::Setup(e.to_string());
        let http = http_builder(options)?
            .timeout(IDENTITY_TIMEOUT)
            .build()
            .map_err(setup)?;
        let direct_http = http_builder(options)?
            .no_proxy()
            .timeout(IDENTITY_TIMEOUT)
            .build()
            .map_err(setup)?;
        let metadata_http = http_builder(options)?
            .no_proxy()
            .timeout(METADATA_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .build()
            .map_err(setup)?;
        Ok(Fetcher {
            http,
            direct_http,
            metadata_http,
            user_agent: options.user_agent.clone(),
        })
    }

    /// Fetches fresh credentials from `source`.
    pub async fn fetch(&self, source: &Fetch) -> Result<Lease, FetchError> {
        let origin = source.origin();
        let fail = |message: String| FetchError {
            source_name: origin,
            message,
        };
        let body = match source {
            Fetch::Oidc {
                idp_id,
                id_token,
                iam_endpoint,
                ..
            } => self
                .oidc(idp_id, id_token, iam_endpoint)
                .await
                .map_err(fail)?,
            Fetch::PodIdentity { uri, token_file } => {
                let token = read_token_file(token_file).map_err(fail)?;
                let answer = self
                    .send(
                        &self.http,
                        Method::POST,
                        uri.clone(),
                        &[("Authorization", token.expose())],
                        Some(b"{}".to_vec()),
                    )
                    .await
                    .map_err(|e| fail(format!("{uri}: {e}")))?;
                expect_success(&answer, uri, &[token.expose()]).map_err(fail)?;
                answer.body
            }
            Fetch::Metadata { base } => self.metadata(base).await.map_err(fail)?,
        };
        parse_temporary(&body, origin, OffsetDateTime::now_utc()).map_err(fail)
    }

    async fn oidc(&self, idp_id: &str, id_token: &IdToken, iam: &Url) -> Result<Vec<u8>, String> {
        let token = match id_token {
            IdToken::File(path) => read_token_file(path)?,
            IdToken::Actions {
                url,
                request_token,
                audience,
            } => {
                self.actions_token(url, request_token, audience.as_deref())
                    .await?
            }
        };
        let url = join(iam, "/v3.0/OS-AUTH/id-token/tokens")?;
        let body = serde_json::json!({"auth": {"id_token": {"id": token.expose()}}});
        let answer = self
            .send(
                &self.http,
                Method::POST,
                url.clone(),
                &[
                    ("X-Idp-Id", idp_id),
                    ("Content-Type", "application/json;charset=UTF-8"),
                ],
                Some(body.to_string().into_bytes()),
            )
            .await
            .map_err(|e| format!("exchanging the ID token at {url}: {e}"))?;
        expect_success(&answer, &url, &[token.expose()])
            .map_err(|e| format!("exchanging the ID token: {e}"))?;
        let subject = answer
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(|v| Secret::new(v.to_string()))
            .ok_or_else(|| format!("{url} answered without an X-Subject-Token header"))?;
        let url = join(iam, "/v3.0/OS-CREDENTIAL/securitytokens")?;
        let body = serde_json::json!({"auth": {"identity": {
            "methods": ["token"],
            "token": {"id": subject.expose(), "duration_seconds": OIDC_DURATION_SECONDS}
        }}});
        let answer = self
            .send(
                &self.http,
                Method::POST,
                url.clone(),
                &[("Content-Type", "application/json;charset=UTF-8")],
                Some(body.to_string().into_bytes()),
            )
            .await
            .map_err(|e| format!("asking {url} for temporary keys: {e}"))?;
        expect_success(&answer, &url, &[subject.expose(), token.expose()])
            .map_err(|e| format!("asking for temporary keys: {e}"))?;
        Ok(answer.body)
    }

    async fn actions_token(
        &self,
        url: &str,
        request_token: &Secret,
        audience: Option<&str>,
    ) -> Result<Secret, String> {
        let mut url = Url::parse(url)
            .map_err(|e| format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {e}"))?;
        if let Some(audience) = audience {
            url.query_pairs_mut().append_pair("audience", audience);
        }
        let shown = {
            let mut shown = url.clone();
            shown.set_query(None);
            shown
        };
        let bearer = format!("Bearer {}", request_token.expose());
        let answer = self
            .send(
                &self.http,
                Method::GET,
                url,
                &[("Authorization", &bearer), ("Accept", "application/json")],
                None,
            )
            .await
            .map_err(|e| format!("requesting the Actions ID token from {shown}: {e}"))?;
        expect_success(&answer, &shown, &[request_token.expose()])
            .map_err(|e| format!("requesting the Actions ID token: {e} (does the job have `permissions: id-token: write`?)"))?;
        parse_actions_token(&answer.body).map_err(|e| format!("the Actions ID token: {e}"))
    }

    async fn metadata(&self, base: &Url) -> Result<Vec<u8>, String> {
        let token_url = join(base, "/meta-data/latest/api/token")?;
        let unreachable = |e: String| {
            format!("no answer from {base} ({e}); desktag is not on an ECS with an agency, or the metadata service is blocked")
        };
        // The session token is optional: older metadata services answer 404, 405 or 503.
        let answer = self
            .send(
                &self.metadata_http,
                Method::PUT,
                token_url.clone(),
                &[("X-Metadata-Token-Ttl-Seconds", "21600")],
                None,
            )
            .await
            .map_err(unreachable)?;
        let session = match answer.status {
            200..=299 => Some(Secret::new(
                String::from_utf8_lossy(&answer.body).trim().to_string(),
            )),
            404 | 405 | 503 => None,
            status => return Err(format!("{token_url} answered {status}")),
        };
        let key_url = join(base, "/openstack/latest/securitykey")?;
        let mut headers = Vec::new();
        if let Some(session) = &session {
            headers.push(("X-Metadata-Token", session.expose()));
        }
        let answer = self
            .send(
                &self.metadata_http,
                Method::GET,
                key_url.clone(),
                &headers,
                None,
            )
            .await
            .map_err(unreachable)?;
        if answer.status == 404 || (answer.status == 401 && body_text(&answer).contains("Agency")) {
            return Err(format!(
                "{key_url} answered {}: the ECS has no agency; attach one in the ECS console (Management → Agency)",
                answer.status
            ));
        }
        let secrets: Vec<&str> = session.iter().map(Secret::expose).collect();
        expect_success(&answer, &key_url, &secrets)?;
        Ok(answer.body)
    }

    /// Signed `GET {iam}/v3/projects?name={region}`: the id of the project named after the
    /// region. Zero or several matches is an error.
    pub async fn project_of_region(
        &self,
        iam: &Url,
        region: &str,
        credentials: &Credentials,
    ) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Projects {
            projects: Vec<Project>,
        }
        #[derive(Deserialize)]
        struct Project {
            id: String,
            #[serde(default)]
            name: Option<String>,
        }
        let query = vec![("name".to_string(), region.to_string())];
        let answer = self
            .signed(Method::GET, iam, "/v3/projects", &query, b"", credentials)
            .await?;
        let url = join(iam, "/v3/projects")?;
        expect_success(&answer, &url, &secrets_of(credentials))?;
        let projects: Projects = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{url} answered with a body that is not a project list: {e}"))?;
        let matching: Vec<&Project> = projects
            .projects
            .iter()
            .filter(|p| p.name.as_deref().is_none_or(|n| n == region))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(format!(
                "IAM knows no project named `{region}` for these credentials; check the region, \
                 or pass --project-id"
            )),
            many => Err(format!(
                "IAM lists {} projects named `{region}` ({}); pass --project-id to choose one",
                many.len(),
                many.iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// `POST {sts}/v5/decode-authorization-message` with `{"encoded_message": …}`: why a call
    /// was refused. Shows the action and policy when the answer names them.
    pub async fn decode_denial(
        &self,
        sts: &Url,
        encoded: &str,
        credentials: &Credentials,
    ) -> Result<String, String> {
        let body = serde_json::json!({ "encoded_message": encoded }).to_string();
        let answer = self
            .signed(
                Method::POST,
                sts,
                "/v5/decode-authorization-message",
                &[],
                body.as_bytes(),
                credentials,
            )
            .await?;
        let url = join(sts, "/v5/decode-authorization-message")?;
        expect_success(&answer, &url, &secrets_of(credentials))?;
        let value: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{url} answered with a body that is not JSON: {e}"))?;
        let decoded = value["decoded_message"]
            .as_str()
            .ok_or_else(|| format!("{url} answered without `decoded_message`"))?;
        Ok(describe_denial(decoded))
    }

    /// A request to an IAM or STS endpoint, signed as the SDK signs (SDK-HMAC-SHA256, with the
    /// security token), or with `X-Auth-Token`.
    async fn signed(
        &self,
        method: Method,
        base: &Url,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
        credentials: &Credentials,
    ) -> Result<Answer, String> {
        let mut url = join(base, path)?;
        let canonical = sign::canonical_query(query);
        url.set_query((!canonical.is_empty()).then_some(canonical.as_str()));
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".into(), "application/json".into()),
            ("Host".into(), host),
            (
                "X-Sdk-Date".into(),
                sign::sdk_date(OffsetDateTime::now_utc()),
            ),
        ];
        let (name, proof) =
            credentials.authenticate(&mut headers, method.as_str(), url.path(), query, body);
        headers.push((name.into(), proof));
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(n, _)| n != "Host")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let shown = join(base, path)?;
        self.send(
            &self.http,
            method,
            url,
            &pairs,
            (!body.is_empty()).then(|| body.to_vec()),
        )
        .await
        .map_err(|e| format!("{shown}: {e}"))
    }

    /// Sends one request; headers are marked sensitive so no secret reaches a log.
    async fn send(
        &self,
        http: &reqwest::Client,
        method: Method,
        url: Url,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("the {name} header would not be a valid header"))?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        if !self.user_agent.is_empty() {
            if let Ok(agent) = HeaderValue::from_str(&self.user_agent) {
                map.insert(reqwest::header::USER_AGENT, agent);
            }
        }
        let loopback = url
            .host()
            .is_some_and(|h| crate::connection::is_loopback(&h));
        let http = if loopback { &self.direct_http } else { http };
        let mut request = http.request(method, url).headers(map);
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| desktag_core::error_chain::chain(&e.without_url()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| desktag_core::error_chain::chain(&e.without_url()))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!(
                    "the answer is larger than {MAX_ANSWER_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// `action X denied by policy Y (…)` when the decoded message is JSON naming them, else the
/// message itself (cut at 500 characters).
pub fn describe_denial(decoded: &str) -> String {
    let field = |value: &serde_json::Value, names: &[&str]| {
        names
            .iter()
            .find_map(|n| value.get(*n).and_then(|v| v.as_str()).map(str::to_string))
    };
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(decoded) {
        let action = field(&value, &["action", "Action"]);
        let policy = field(
            &value,
            &["policy", "Policy", "policy_name", "matched_statement"],
        );
        if let (Some(action), Some(policy)) = (action, policy) {
            return format!("action {action} denied by policy {policy}");
        }
    }
    decoded.chars().take(500).collect()
}

fn body_text(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

fn secrets_of(credentials: &Credentials) -> Vec<&str> {
    credentials
        .secrets()
        .into_iter()
        .map(Secret::expose)
        .collect()
}

/// A 2xx, or an error with the status and what the service said (secrets scrubbed).
fn expect_success(answer: &Answer, url: &Url, secrets: &[&str]) -> Result<(), String> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let decoded = crate::wire::decode_error(
        answer.status,
        crate::error::http_reason(answer.status),
        &answer.body,
    );
    let mut said = format!("{}: {}", decoded.code, decoded.message);
    for secret in secrets {
        if secret.len() >= 4 {
            said = said.replace(secret, "[redacted]");
        }
    }
    Err(format!("{url} answered {} ({said})", answer.status))
}

/// `base` with `path` appended to its own path.
fn join(base: &Url, path: &str) -> Result<Url, String> {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    Ok(url)
}

/// Reads a token file (trimmed); never echoes it.
fn read_token_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("the token file {} is empty", path.display()));
    }
    if !token.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(format!(
            "the token file {} holds characters that cannot be sent in an HTTP header",
            path.display()
        ));
    }
    Ok(Secret::new(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_a_path_prefix_and_drops_a_query() {
        let base = Url::parse("http://127.0.0.1:9/prefix/?x=1").unwrap();
        assert_eq!(
            join(&base, "/v3/projects").unwrap().as_str(),
            "http://127.0.0.1:9/prefix/v3/projects"
        );
    }

    #[test]
    fn a_decoded_denial_names_the_action_and_policy_when_it_can() {
        assert_eq!(
            describe_denial(r#"{"action":"workspace:desktops:tag","policy":"deny-tags"}"#),
            "action workspace:desktops:tag denied by policy deny-tags"
        );
        assert_eq!(describe_denial("plain words"), "plain words");
        assert_eq!(describe_denial(&"x".repeat(900)).len(), 500);
    }

    #[test]
    fn errors_scrub_echoed_secrets() {
        let answer = Answer {
            status: 401,
            headers: HeaderMap::new(),
            body: br#"{"error_code":"IAM.0001","error_msg":"bad token eyJsecretjwt"}"#.to_vec(),
        };
        let url = Url::parse("https://iam.example").unwrap();
        let err = expect_success(&answer, &url, &["eyJsecretjwt"]).unwrap_err();
        assert!(err.contains("401"), "{err}");
        assert!(!err.contains("eyJsecretjwt"), "{err}");
    }
}
