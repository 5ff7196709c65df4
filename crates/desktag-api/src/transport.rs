//! The transport: ONE HTTP attempt. Builds the URL and headers of a [`Call`], signs exactly the
//! bytes that go on the wire (or sends the token), sends it, reads the body within its limit and
//! maps what happened to an [`ApiError`] plus an [`AttemptOutcome`] for the retry policy. It knows
//! nothing of permits, rates, retries or endpoints; those live in `executor` and the endpoint
//! groups.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use std::sync::Arc;

use super::connection::{is_loopback, Connection, Credentials};
use super::credentials::Fetcher;
use super::credentials::{Keys, Lease};
use super::error::{http_reason, ApiError, ServiceDetail};
use super::retry::AttemptOutcome;
use super::sign;
use super::wire;

/// Largest 2xx body read; above it the call fails. A full page of 1,000 desktops is far smaller.
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// How much of an error body is read and kept; the rest is dropped unread.
pub(crate) const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// One request before signing: method, path segments after `/v2/{project_id}/`, query, body.
pub(crate) struct Call {
    pub method: Method,
    /// Decoded segments; each is percent-encoded with `sign::encode`.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    pub(crate) fn new(method: Method, segments: &[&str]) -> Call {
        Call {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// A 2xx answer.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub request_id: Option<String>,
}

/// A failed attempt: the error to report and what the retry policy should know about it.
pub(crate) type Failure = (ApiError, AttemptOutcome);

pub(crate) struct Transport {
    pub connection: Connection,
    /// The credentials requests are signed with now (renewed when temporary).
    pub keys: Arc<Keys>,
    http: reqwest::Client,
    pub timeout: Duration,
    user_agent: String,
    /// Where refusals are decoded (`--decode-denials`): the STS endpoint and a fetcher.
    pub denials: Option<(Url, Fetcher)>,
    /// The `Date` of the last answer and the local time it arrived, for the clock-skew check.
    pub last_date: std::sync::Mutex<Option<(SystemTime, SystemTime)>>,
}

impl Transport {
    /// A transport to `connection`; `idle_per_host` bounds the idle connections kept.
    pub(crate) fn new(
        connection: Connection,
        keys: Arc<Keys>,
        builder: reqwest::ClientBuilder,
        timeout: Duration,
        user_agent: String,
        idle_per_host: usize,
    ) -> Result<Transport, ApiError> {
        let mut builder = builder
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(idle_per_host);
        // A proxy from the environment must not intercept the local emulator.
        if connection.endpoint.host().is_some_and(|h| is_loopback(&h)) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        Ok(Transport {
            connection,
            keys,
            http,
            timeout,
            user_agent,
            denials: None,
            last_date: std::sync::Mutex::new(None),
        })
    }

    /// Sends `call` once, signed at the current time with fresh credentials. A 401 that says the
    /// credentials expired renews temporary credentials (once for every worker) and sends the
    /// call again: the service refused it before running it, so nothing is written twice.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer, Failure> {
        let lease = self.lease(None).await?;
        match self.send_with(call, &lease).await {
            Err((error, _)) if self.keys.renewable() && says_expired(&error) => {
                tracing::info!(source = %self.keys.origin(), "the service says the credentials expired; renewing them");
                let lease = self.lease(Some(lease.generation)).await?;
                self.send_with(call, &lease).await
            }
            other => other,
        }
    }

    /// The lease to sign with: the current one (renewed when due), or a renewal of `stale`.
    async fn lease(&self, stale: Option<u64>) -> Result<Arc<Lease>, Failure> {
        let result = match stale {
            Some(generation) => self.keys.renew(generation).await,
            None => self.keys.fresh().await,
        };
        result.map_err(|e| (ApiError::Credentials(e.to_string()), AttemptOutcome::Fatal))
    }

    async fn send_with(&self, call: &Call, lease: &Lease) -> Result<Answer, Failure> {
        let (url, headers) = self
            .prepare_with(call, SystemTime::now(), &lease.credentials)
            .map_err(|e| (e, AttemptOutcome::Fatal))?;
        let path = url.path().to_string();
        let started = Instant::now();
        let mut request = self.http.request(call.method.clone(), url);
        request = request.headers(headers);
        if !call.body.is_empty() {
            request = request.body(call.body.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(call, &path, e))?;
        let status = response.status().as_u16();
        if let Some(date) = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
        {
            *self.last_date.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((date, SystemTime::now()));
        }
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let success = (200..300).contains(&status);
        let body = self.read_body(call, &path, response, success).await?;
        tracing::debug!(
            method = %call.method,
            %path,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            request_id = request_id.as_deref().unwrap_or(""),
            "workspace api request"
        );
        if success {
            return Ok(Answer {
                status,
                body,
                request_id,
            });
        }
        let decoded = wire::decode_error(status, http_reason(status), &body);
        let scrub = |text: String| scrub_with(self.scrub(text), &lease.credentials);
        let detail = if decoded.detail.is_some() || decoded.encoded.is_some() {
            let mut detail = ServiceDetail {
                error_detail: decoded.detail.map(scrub),
                encoded_authorization_message: decoded.encoded.map(scrub),
                decoded: None,
            };
            if let (Some((sts, fetcher)), Some(encoded)) =
                (&self.denials, &detail.encoded_authorization_message)
            {
                let said = fetcher
                    .decode_denial(sts, encoded, &lease.credentials)
                    .await
                    .unwrap_or_else(|e| format!("STS could not decode the reason: {e}"));
                detail.decoded = Some(scrub(said));
            }
            Some(Box::new(detail))
        } else {
            None
        };
        let error = ApiError::Service {
            status,
            error_code: scrub(decoded.code),
            error_msg: scrub(decoded.message),
            request_id: request_id.map(scrub),
            detail,
        };
        Err((
            error,
            AttemptOutcome::Status {
                status,
                retry_after,
            },
        ))
    }

    /// Reads a response body in chunks: a 2xx body above `MAX_BODY_BYTES` fails the call (a
    /// resend would get the same), an error body is cut at `MAX_ERROR_BODY_BYTES`.
    async fn read_body(
        &self,
        call: &Call,
        path: &str,
        mut response: reqwest::Response,
        success: bool,
    ) -> Result<Vec<u8>, Failure> {
        let limit = if success {
            MAX_BODY_BYTES
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let too_large = || {
            (
                ApiError::TooLarge {
                    method: call.method.to_string(),
                    path: path.to_string(),
                    limit,
                },
                AttemptOutcome::Fatal,
            )
        };
        if success && response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(call, path, e))?
        {
            let room = limit - body.len();
            if chunk.len() > room {
                if success {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The URL and headers of one attempt, signed at `now` for AK/SK. The signature covers the
    /// SHA-256 of the very body that is sent; no `X-Sdk-Content-Sha256` header is ever sent, so
    /// the server has nothing unsigned to trust in place of hashing the body.
    #[cfg(test)]
    pub(crate) fn prepare(
        &self,
        call: &Call,
        now: SystemTime,
    ) -> Result<(Url, HeaderMap), ApiError> {
        self.prepare_with(call, now, &self.keys.current().credentials)
    }

    /// [`Transport::prepare`] with the credentials to sign with.
    pub(crate) fn prepare_with(
        &self,
        call: &Call,
        now: SystemTime,
        credentials: &Credentials,
    ) -> Result<(Url, HeaderMap), ApiError> {
        let conn = &self.connection;
        let mut url = conn.endpoint.clone();
        let mut path = conn.endpoint.path().trim_end_matches('/').to_string();
        path.push_str("/v2/");
        path.push_str(&sign::encode(&conn.project_id));
        for segment in &call.segments {
            path.push('/');
            path.push_str(&sign::encode(segment));
        }
        url.set_path(&path);
        // The wire query is the canonical query, so the signature covers exactly what is sent.
        let query = sign::canonical_query(&call.query);
        url.set_query((!query.is_empty()).then_some(query.as_str()));

        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".into(), "application/json".into()),
            ("Host".into(), host_header(&url)),
            ("X-Project-Id".into(), conn.project_id.clone()),
            (
                "X-Sdk-Date".into(),
                sign::sdk_date(time::OffsetDateTime::from(now)),
            ),
        ];
        if !self.user_agent.is_empty() {
            headers.push(("User-Agent".into(), self.user_agent.clone()));
        }
        let proof = credentials.authenticate(
            &mut headers,
            call.method.as_str(),
            url.path(),
            &call.query,
            &call.body,
        );
        let mut map = HeaderMap::new();
        let plain = headers.iter().map(|(n, v)| (n.as_str(), v.clone(), false));
        let secret = std::iter::once((proof.0, proof.1, true));
        for (name, value, is_secret) in plain.chain(secret) {
            let is_secret = is_secret || name == "X-Security-Token";
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ApiError::Setup(format!("invalid header name {name}")))?;
            let mut header_value = HeaderValue::from_str(&value).map_err(|_| {
                ApiError::Setup(format!(
                    "the {name} header would contain characters not allowed in HTTP headers"
                ))
            })?;
            header_value.set_sensitive(is_secret);
            map.insert(header_name, header_value);
        }
        Ok((url, map))
    }

    fn transport_error(&self, call: &Call, path: &str, error: reqwest::Error) -> Failure {
        let method = call.method.to_string();
        if error.is_timeout() {
            return (
                ApiError::Timeout {
                    method,
                    path: path.to_string(),
                    timeout: self.timeout,
                },
                AttemptOutcome::Timeout,
            );
        }
        let is_connect = error.is_connect();
        let detail = self.scrub(desktag_core::error_chain::chain(&error.without_url()));
        if is_connect {
            (
                ApiError::Connect {
                    endpoint: self.connection.endpoint.origin().ascii_serialization(),
                    detail,
                },
                AttemptOutcome::Connect,
            )
        } else {
            (
                ApiError::Transport {
                    method,
                    path: path.to_string(),
                    detail,
                },
                AttemptOutcome::Transport,
            )
        }
    }

    /// Decodes a 2xx body as `T`; `what` names it in the error.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        call: &Call,
        answer: &Answer,
        what: &'static str,
    ) -> Result<T, ApiError> {
        serde_json::from_slice(&answer.body)
            .map_err(|e| self.decode_error(call, answer, what, e.to_string()))
    }

    /// A 2xx answer that is not what the API promises.
    pub(crate) fn decode_error(
        &self,
        call: &Call,
        answer: &Answer,
        what: &'static str,
        detail: String,
    ) -> ApiError {
        ApiError::Decode {
            status: answer.status,
            method: call.method.to_string(),
            path: self.display_path(call),
            what,
            detail,
            request_id: answer.request_id.clone(),
        }
    }

    /// `/v2/{project_id}/…` as errors and logs show it.
    pub(crate) fn display_path(&self, call: &Call) -> String {
        let mut path = format!("/v2/{}", self.connection.project_id);
        for s in &call.segments {
            path.push('/');
            path.push_str(&sign::encode(s));
        }
        path
    }

    /// Replaces any secret the server may have echoed back with `[redacted]`: those of the
    /// connection and those of the lease in use.
    pub(crate) fn scrub(&self, text: String) -> String {
        let text = scrub_with(text, &self.connection.credentials);
        scrub_with(text, &self.keys.current().credentials)
    }
}

fn scrub_with(mut text: String, credentials: &Credentials) -> String {
    for secret in credentials.secrets() {
        let s = secret.expose();
        if s.len() >= 4 && text.contains(s) {
            text = text.replace(s, "[redacted]");
        }
    }
    text
}

/// A 401 that says the credentials (the security token) expired: renewing them may help. The
/// gateway's "signature expired" (a clock skew) is not one of them.
pub(crate) fn says_expired(error: &ApiError) -> bool {
    match error {
        ApiError::Service {
            status: 401,
            error_code,
            error_msg,
            ..
        } => {
            let msg = error_msg.to_ascii_lowercase();
            error_code == "APIGW.0307"
                || (msg.contains("expired")
                    && (msg.contains("token") || msg.contains("credential")))
        }
        _ => false,
    }
}

/// `Host` as the SDK computes it: the URL's host, with `:port` when the URL names one.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use desktag_core::secret::Secret;

    fn transport(endpoint: &str, credentials: Credentials) -> Transport {
        let connection = Connection {
            endpoint: Url::parse(endpoint).unwrap(),
            project_id: "pid".into(),
            credentials,
        };
        let keys = Arc::new(Keys::fixed(connection.credentials.clone()));
        Transport::new(
            connection,
            keys,
            reqwest::Client::builder(),
            Duration::from_secs(30),
            "desktag-test".into(),
            8,
        )
        .unwrap()
    }

    fn aksk() -> Credentials {
        Credentials::AkSk {
            ak: Secret::new("AKID"),
            sk: Secret::new("SECRET-KEY"),
            security_token: Some(Secret::new("STS-TOKEN")),
            origin: "test",
        }
    }

    fn date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645) // 2024-01-02T03:04:05Z
    }

    #[test]
    fn host_keeps_an_explicit_port_only() {
        let h = |u: &str| host_header(&Url::parse(u).unwrap());
        assert_eq!(h("http://127.0.0.1:18080/"), "127.0.0.1:18080");
        assert_eq!(
            h("https://workspace.cn-north-4.myhuaweicloud.com"),
            "workspace.cn-north-4.myhuaweicloud.com"
        );
        assert_eq!(h("http://[::1]:9/"), "[::1]:9");
    }

    #[test]
    fn prepare_encodes_the_path_keeps_a_prefix_and_sorts_the_query() {
        let c = transport("http://127.0.0.1:8080/prefix/", aksk());
        let mut call = Call::new(Method::DELETE, &["desktops", "d1", "tags", "cost center:a"]);
        call.query = vec![
            ("offset".into(), "0".into()),
            ("desktop_id".into(), "b".into()),
            ("desktop_id".into(), "a".into()),
        ];
        let (url, headers) = c.prepare(&call, date()).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/prefix/v2/pid/desktops/d1/tags/cost%20center%3Aa?desktop_id=a&desktop_id=b&offset=0"
        );
        assert_eq!(headers["host"], "127.0.0.1:8080");
        assert_eq!(headers["x-sdk-date"], "20240102T030405Z");
        assert_eq!(headers["x-project-id"], "pid");
        assert_eq!(headers["x-security-token"], "STS-TOKEN");
        assert!(headers["x-security-token"].is_sensitive());
        let auth = headers["authorization"].to_str().unwrap();
        assert!(headers["authorization"].is_sensitive());
        assert!(auth.contains(
            "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token,"
        ), "{auth}");
        assert!(!headers.contains_key("x-auth-token"));
    }

    #[test]
    fn the_signature_covers_the_real_body_and_no_content_hash_header_is_sent() {
        let c = transport("http://127.0.0.1:8080/", aksk());
        let mut call = Call::new(Method::POST, &["desktops", "batch-tags"]);
        call.body = br#"{"desktops":[]}"#.to_vec();
        let (url, headers) = c.prepare(&call, date()).unwrap();
        assert!(!headers.contains_key("x-sdk-content-sha256"));
        let plain: Vec<(String, String)> = headers
            .iter()
            .filter(|(n, _)| *n != "authorization")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let parsed = sign::parse_authorization(headers["authorization"].to_str().unwrap()).unwrap();
        let signable = |body: &[u8]| {
            sign::verify(
                "SECRET-KEY",
                &parsed,
                &sign::Signable {
                    method: "POST",
                    path: url.path(),
                    query: &[],
                    headers: &plain,
                    body,
                },
            )
        };
        assert!(signable(&call.body));
        assert!(!signable(br#"{"desktops":[{"desktop_id":"x"}]}"#));
    }

    #[test]
    fn prepare_with_a_token_sends_no_authorization() {
        let c = transport(
            "https://example.com",
            Credentials::Token {
                token: Secret::new("TOKEN-VALUE"),
                origin: "test".into(),
            },
        );
        let (_, headers) = c
            .prepare(&Call::new(Method::GET, &["desktops"]), date())
            .unwrap();
        assert_eq!(headers["x-auth-token"], "TOKEN-VALUE");
        assert!(headers["x-auth-token"].is_sensitive());
        assert!(!headers.contains_key("authorization"));
    }

    #[test]
    fn only_a_401_saying_the_credentials_expired_asks_for_a_renewal() {
        let service = |status: u16, code: &str, msg: &str| ApiError::Service {
            status,
            error_code: code.into(),
            error_msg: msg.into(),
            request_id: None,
            detail: None,
        };
        assert!(says_expired(&service(
            401,
            "APIGW.0307",
            "The token must be updated"
        )));
        assert!(says_expired(&service(
            401,
            "X",
            "the security token has expired"
        )));
        // A skewed clock is not cured by new keys.
        assert!(!says_expired(&service(
            401,
            "APIGW.0303",
            "Incorrect app authentication information: signature expired"
        )));
        assert!(!says_expired(&service(403, "APIGW.0307", "expired token")));
        assert!(!says_expired(&service(
            401,
            "APIGW.0301",
            "verify aksk signature fail"
        )));
    }

    #[test]
    fn scrub_removes_echoed_secrets() {
        let c = transport("https://example.com", aksk());
        assert_eq!(
            c.scrub("bad signature for SECRET-KEY and STS-TOKEN".into()),
            "bad signature for [redacted] and [redacted]"
        );
    }
}
