//! `Client`: the one place desktag speaks HTTP. It builds each request, signs exactly the bytes
//! that go on the wire (or sends the token), and runs the retry loop under a client-wide rate
//! limit and concurrency bound. Decisions (signing, retry, error decoding) live in pure modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use super::connection::{is_loopback, Connection, ConnectionError, Credentials};
use super::error::{http_reason, ApiError, CallError};
use super::retry::{Decision, Outcome, RetryPolicy};
use super::sign;
use super::wire;
use crate::inventory::Desktop;
use crate::tags::Tags;
use crate::token_bucket::TokenBucket;

/// Page size of `GET /v2/{project_id}/desktops` (the API's maximum).
pub const PAGE_LIMIT: u64 = 1000;
/// Most `desktop_id` filters one list request may carry.
pub const IDS_PER_REQUEST: usize = 100;
/// Largest 2xx body read; above it the call fails. A full page of 1,000 desktops is far smaller.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// How much of an error body is read and kept; the rest is dropped unread.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Most pages one listing follows, and most desktops it collects: far above any real project, so
/// only a service that pages forever (new ids, a huge `total_count`) reaches them.
pub const MAX_PAGES: u32 = 1000;
pub const MAX_LISTED_DESKTOPS: u64 = 1_000_000;
/// The range `--rate` accepts, in requests per second.
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 100_000.0;

/// HTTP attempts a call made (1 when the first attempt succeeded).
pub type Attempts = u32;

/// Knobs of a run; `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// Attempts per call, the first included (`--max-attempts`, default 5).
    pub max_attempts: u32,
    /// Requests per second across the whole client (`--rate`); `None` means unlimited.
    pub rate: Option<f64>,
    /// Requests in flight at once across the whole client (`--concurrency`, default 8).
    pub concurrency: usize,
    /// Per-request timeout, connect to last body byte (default 30 s).
    pub timeout: Duration,
    /// Sent (and signed) as `User-Agent`; empty to send none.
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            max_attempts: 5,
            rate: None,
            concurrency: 8,
            timeout: Duration::from_secs(30),
            user_agent: concat!("desktag/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Requests sent and, of those, retries — across the whole client and every clone of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub retries: u64,
}

/// Optional filters of the project-wide desktop listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesktopFilter {
    /// `computer_name=` (matched by the service).
    pub computer_name: Option<String>,
}

/// Most desktops one `batch-tags` call may carry; larger calls are refused unsent.
pub const BATCH_MAX_DESKTOPS: usize = 100;
/// Most tags per desktop in one `batch-tags` call; larger calls are refused unsent.
pub const BATCH_MAX_TAGS: usize = 20;

/// The tags of one desktop in a cross-desktop `batch-tags` call (values are ignored on delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesktopTags {
    pub desktop_id: String,
    pub tags: Tags,
}

/// The action of `POST …/tags/action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagAction {
    /// Create or overwrite every given tag.
    Create,
    /// Delete every given key (sent key-only; values are ignored).
    Delete,
}

impl TagAction {
    fn as_str(self) -> &'static str {
        match self {
            TagAction::Create => "create",
            TagAction::Delete => "delete",
        }
    }
}

/// A Workspace API client for one project. Cheap to clone; clones (and [`Client::with_project`])
/// share the connection pool, rate limit, concurrency bound and statistics.
#[derive(Clone)]
pub struct Client {
    connection: Arc<Connection>,
    shared: Arc<Shared>,
}

struct Shared {
    http: reqwest::Client,
    policy: RetryPolicy,
    timeout: Duration,
    user_agent: String,
    bucket: Option<Mutex<TokenBucket>>,
    permits: Semaphore,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.connection.endpoint.as_str())
            .field("project_id", &self.connection.project_id)
            .field("auth", &self.connection.credentials.describe())
            .field("policy", &self.shared.policy)
            .field("timeout", &self.shared.timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One request before signing: method, path segments after `/v2/{project_id}/`, query, body.
struct Call {
    method: Method,
    /// Decoded segments; each is percent-encoded with `sign::encode`.
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Call {
    fn new(method: Method, segments: &[&str]) -> Call {
        Call {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// A 2xx answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
    request_id: Option<String>,
}

impl Client {
    /// Builds a client. Fails on invalid options (zero attempts, zero concurrency, a rate outside
    /// `MIN_RATE..=MAX_RATE`, a zero timeout, a user agent that is not a valid header).
    pub fn new(connection: Connection, options: ClientOptions) -> Result<Client, ApiError> {
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
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(options.concurrency);
        // A proxy from the environment must not intercept the local emulator.
        if connection.endpoint.host().is_some_and(|h| is_loopback(&h)) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        Ok(Client {
            connection: Arc::new(connection),
            shared: Arc::new(Shared {
                http,
                policy: RetryPolicy {
                    max_attempts: options.max_attempts,
                    ..RetryPolicy::default()
                },
                timeout: options.timeout,
                user_agent: options.user_agent,
                bucket: options.rate.map(|r| Mutex::new(TokenBucket::new(r))),
                permits: Semaphore::new(options.concurrency),
                requests: AtomicU64::new(0),
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// A client for another project on the same endpoint with the same credentials, sharing this
    /// client's limits and statistics (one run may plan several projects).
    pub fn with_project(&self, project_id: &str) -> Result<Client, ConnectionError> {
        Ok(Client {
            connection: Arc::new(self.connection.for_project(project_id)?),
            shared: Arc::clone(&self.shared),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Requests sent and retries made so far, by this client and every client sharing its limits.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.shared.requests.load(Ordering::Relaxed),
            retries: self.shared.retries.load(Ordering::Relaxed),
        }
    }

    // ----- reads -------------------------------------------------------------------------

    /// Every desktop of the project (paged with `limit=1000`), sorted by id.
    pub async fn list_desktops(&self, filter: &DesktopFilter) -> Result<Vec<Desktop>, ApiError> {
        let mut query = Vec::new();
        if let Some(name) = &filter.computer_name {
            query.push(("computer_name".to_string(), name.clone()));
        }
        let found = self.list_pages(query).await?;
        Ok(found.into_values().collect())
    }

    /// The desktops with these ids that exist, sorted by id. Ids go ≤100 per request as repeated
    /// `desktop_id=` parameters, the requests running concurrently within the client's bound.
    pub async fn list_desktops_by_id(&self, ids: &[String]) -> Result<Vec<Desktop>, ApiError> {
        let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let wanted_list: Vec<&str> = wanted.iter().copied().collect();
        let reads = wanted_list.chunks(IDS_PER_REQUEST).map(|chunk| {
            let query = chunk
                .iter()
                .map(|id| ("desktop_id".to_string(), id.to_string()))
                .collect();
            self.list_pages(query)
        });
        let pages = futures::future::try_join_all(reads).await?;
        let mut found = BTreeMap::new();
        for page in pages {
            found.extend(page);
        }
        // A service that ignored the filter must not make other desktops look selected.
        found.retain(|id, _| wanted.contains(id.as_str()));
        Ok(found.into_values().collect())
    }

    /// The tags of one desktop (`GET …/desktops/{id}/tags`).
    pub async fn show_tags(&self, desktop_id: &str) -> Result<Tags, ApiError> {
        check_arg("desktop id", desktop_id)?;
        let call = Call::new(Method::GET, &["desktops", desktop_id, "tags"]);
        let (answer, _) = self.execute(&call).await.map_err(|e| e.error)?;
        let body: wire::ShowTagsResponse = self.decode(&call, &answer, "list of tags")?;
        Ok(wire::tags_from_wire(body.tags))
    }

    /// Pages `GET /v2/{project_id}/desktops` with `extra` filters until `offset >= total_count`
    /// or an empty page. A service that repeats a page, sends more desktops than its own
    /// `total_count`, or pages past `MAX_PAGES` / `MAX_LISTED_DESKTOPS` is an error, not a loop.
    async fn list_pages(
        &self,
        extra: Vec<(String, String)>,
    ) -> Result<BTreeMap<String, Desktop>, ApiError> {
        let mut found = BTreeMap::new();
        let mut offset: u64 = 0;
        let mut pages: u32 = 0;
        loop {
            let mut call = Call::new(Method::GET, &["desktops"]);
            if pages == MAX_PAGES {
                return Err(self.paging_error(
                    &call,
                    format!("the service was still sending desktops after {MAX_PAGES} pages"),
                ));
            }
            pages += 1;
            call.query = extra.clone();
            call.query
                .push(("limit".to_string(), PAGE_LIMIT.to_string()));
            call.query.push(("offset".to_string(), offset.to_string()));
            let (answer, _) = self.execute(&call).await.map_err(|e| e.error)?;
            let page: wire::ListDesktopsResponse =
                self.decode(&call, &answer, "list of desktops")?;
            let desktops = page.desktops.unwrap_or_default();
            if desktops.is_empty() {
                break;
            }
            let count = desktops.len() as u64;
            let before = found.len();
            for d in desktops {
                let d = Desktop::from(d);
                found.insert(d.id.clone(), d);
            }
            if found.len() == before {
                // Nothing new: the service is not honouring `offset`; stop rather than loop.
                return Err(self.paging_error(
                    &call,
                    format!("the page at offset {offset} repeated desktops already listed"),
                ));
            }
            offset = offset.saturating_add(count);
            if offset > MAX_LISTED_DESKTOPS {
                return Err(self.paging_error(
                    &call,
                    format!("the service sent more than {MAX_LISTED_DESKTOPS} desktops"),
                ));
            }
            match page.total_count {
                Some(total) if offset > total => {
                    return Err(self.paging_error(
                        &call,
                        format!(
                            "the service sent {offset} desktops but its total_count is {total}"
                        ),
                    ))
                }
                Some(total) if offset == total => break,
                None if count < PAGE_LIMIT => break,
                _ => {}
            }
        }
        Ok(found)
    }

    fn paging_error(&self, call: &Call, detail: String) -> ApiError {
        ApiError::Paging {
            path: self.display_path(call),
            detail,
        }
    }

    // ----- writes ------------------------------------------------------------------------

    /// Creates or overwrites one tag (`POST …/desktops/{id}/tags`).
    pub async fn create_tag(
        &self,
        desktop_id: &str,
        key: &str,
        value: &str,
    ) -> Result<Attempts, CallError> {
        check_arg("desktop id", desktop_id).map_err(not_sent)?;
        check_arg("tag key", key).map_err(not_sent)?;
        let body = wire::CreateTagRequest {
            tag: wire::TagRef {
                key,
                value: Some(value),
            },
        };
        let mut call = Call::new(Method::POST, &["desktops", desktop_id, "tags"]);
        call.body = to_json(&body);
        self.execute(&call).await.map(|(_, attempts)| attempts)
    }

    /// Deletes one tag (`DELETE …/desktops/{id}/tags/{key}`, the key percent-encoded). Deleting a
    /// key that does not exist succeeds.
    pub async fn delete_tag(&self, desktop_id: &str, key: &str) -> Result<Attempts, CallError> {
        check_arg("desktop id", desktop_id).map_err(not_sent)?;
        check_arg("tag key", key).map_err(not_sent)?;
        let call = Call::new(Method::DELETE, &["desktops", desktop_id, "tags", key]);
        self.execute(&call).await.map(|(_, attempts)| attempts)
    }

    /// Creates or deletes several tags of one desktop in one call (`POST …/tags/action`).
    /// For [`TagAction::Delete`] only the keys are sent.
    pub async fn change_tags(
        &self,
        desktop_id: &str,
        action: TagAction,
        tags: &Tags,
    ) -> Result<Attempts, CallError> {
        check_arg("desktop id", desktop_id).map_err(not_sent)?;
        let tags = wire::tag_refs(tags, action == TagAction::Create);
        let body = wire::ChangeTagsRequest {
            action: action.as_str(),
            tags,
        };
        let mut call = Call::new(Method::POST, &["desktops", desktop_id, "tags", "action"]);
        call.body = to_json(&body);
        self.execute(&call).await.map(|(_, attempts)| attempts)
    }

    /// Creates or overwrites tags on up to [`BATCH_MAX_DESKTOPS`] desktops in one call
    /// (`POST /v2/{project_id}/desktops/batch-tags`). The service silently skips unknown desktop
    /// ids and reports nothing per desktop: read back to verify.
    pub async fn batch_create_tags(&self, items: &[DesktopTags]) -> Result<Attempts, CallError> {
        self.send_batch(Method::POST, TagAction::Create, items)
            .await
    }

    /// Deletes keys on up to [`BATCH_MAX_DESKTOPS`] desktops in one call
    /// (`DELETE /v2/{project_id}/desktops/batch-tags` with a JSON body; keys only).
    pub async fn batch_delete_tags(&self, items: &[DesktopTags]) -> Result<Attempts, CallError> {
        self.send_batch(Method::DELETE, TagAction::Delete, items)
            .await
    }

    async fn send_batch(
        &self,
        method: Method,
        action: TagAction,
        items: &[DesktopTags],
    ) -> Result<Attempts, CallError> {
        if items.is_empty() {
            return Err(not_sent(ApiError::InvalidArgument(
                "a batch needs at least one desktop".to_string(),
            )));
        }
        if items.len() > BATCH_MAX_DESKTOPS {
            return Err(not_sent(ApiError::InvalidArgument(format!(
                "a batch carries at most {BATCH_MAX_DESKTOPS} desktops, not {}",
                items.len()
            ))));
        }
        for item in items {
            check_arg("desktop id", &item.desktop_id).map_err(not_sent)?;
            if item.tags.is_empty() || item.tags.len() > BATCH_MAX_TAGS {
                return Err(not_sent(ApiError::InvalidArgument(format!(
                    "a batch carries 1 to {BATCH_MAX_TAGS} tags per desktop, not {} for {}",
                    item.tags.len(),
                    item.desktop_id
                ))));
            }
        }
        let body = wire::BatchTagsRequest {
            desktops: items
                .iter()
                .map(|item| wire::DesktopTagsInfo {
                    desktop_id: &item.desktop_id,
                    tags: wire::tag_refs(&item.tags, action == TagAction::Create),
                })
                .collect(),
        };
        let mut call = Call::new(method, &["desktops", "batch-tags"]);
        call.body = to_json(&body);
        self.execute(&call).await.map(|(_, attempts)| attempts)
    }

    // ----- the request loop --------------------------------------------------------------

    /// Sends `call` until it succeeds or the retry policy gives up.
    async fn execute(&self, call: &Call) -> Result<(Answer, Attempts), CallError> {
        let mut attempt: u32 = 1;
        loop {
            let (error, outcome) = match self.attempt(call).await {
                Ok(answer) => return Ok((answer, attempt)),
                Err(failure) => failure,
            };
            let decision = self.shared.policy.decide(
                attempt,
                &outcome,
                SystemTime::now(),
                &mut rand::thread_rng(),
            );
            match decision {
                Decision::GiveUp => {
                    return Err(CallError {
                        error,
                        attempts: attempt,
                    })
                }
                Decision::Retry(delay) => {
                    self.shared.retries.fetch_add(1, Ordering::Relaxed);
                    let path = self.display_path(call);
                    let delay_ms = delay.as_millis() as u64;
                    if matches!(outcome, Outcome::Status { status: 429, .. }) {
                        tracing::debug!(method = %call.method, %path, attempt, delay_ms, %error, "throttled; retrying");
                    } else {
                        tracing::warn!(method = %call.method, %path, attempt, delay_ms, %error, "request failed; retrying");
                    }
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One HTTP attempt under the concurrency bound and the rate limit.
    async fn attempt(&self, call: &Call) -> Result<Answer, (ApiError, Outcome)> {
        let _permit = self.shared.permits.acquire().await.map_err(|_| {
            (
                ApiError::Setup("the client was shut down".to_string()),
                Outcome::Fatal,
            )
        })?;
        if let Some(bucket) = &self.shared.bucket {
            let wait = bucket
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .reserve(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let (url, headers) = self
            .prepare(call, SystemTime::now())
            .map_err(|e| (e, Outcome::Fatal))?;
        let path = url.path().to_string();
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let mut request = self.shared.http.request(call.method.clone(), url);
        request = request.headers(headers);
        if !call.body.is_empty() {
            request = request.body(call.body.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(call, &path, e))?;
        let status = response.status().as_u16();
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
        let error = ApiError::Service {
            status,
            error_code: self.scrub(decoded.code),
            error_msg: self.scrub(decoded.message),
            request_id: request_id.map(|id| self.scrub(id)),
        };
        Err((
            error,
            Outcome::Status {
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
    ) -> Result<Vec<u8>, (ApiError, Outcome)> {
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
                Outcome::Fatal,
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

    /// The URL and headers of one attempt, signed at `now` for AK/SK.
    fn prepare(&self, call: &Call, now: SystemTime) -> Result<(Url, HeaderMap), ApiError> {
        let conn = &*self.connection;
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
        if !self.shared.user_agent.is_empty() {
            headers.push(("User-Agent".into(), self.shared.user_agent.clone()));
        }
        let mut sensitive: Vec<(&str, String)> = Vec::new();
        match &conn.credentials {
            Credentials::AkSk {
                ak,
                sk,
                security_token,
                ..
            } => {
                if let Some(token) = security_token {
                    headers.push(("X-Security-Token".into(), token.expose().to_string()));
                }
                let authorization = sign::authorization(
                    ak.expose(),
                    sk.expose(),
                    &sign::Signable {
                        method: call.method.as_str(),
                        path: url.path(),
                        query: &call.query,
                        headers: &headers,
                        body: &call.body,
                    },
                );
                sensitive.push(("Authorization", authorization));
            }
            Credentials::Token { token, .. } => {
                sensitive.push(("X-Auth-Token", token.expose().to_string()));
            }
        }
        let mut map = HeaderMap::new();
        let plain = headers.iter().map(|(n, v)| (n.as_str(), v.clone(), false));
        let secret = sensitive.into_iter().map(|(n, v)| (n, v, true));
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

    fn transport_error(
        &self,
        call: &Call,
        path: &str,
        error: reqwest::Error,
    ) -> (ApiError, Outcome) {
        let method = call.method.to_string();
        if error.is_timeout() {
            return (
                ApiError::Timeout {
                    method,
                    path: path.to_string(),
                    timeout: self.shared.timeout,
                },
                Outcome::Timeout,
            );
        }
        let is_connect = error.is_connect();
        let detail = self.scrub(error_chain(error));
        if is_connect {
            (
                ApiError::Connect {
                    endpoint: self.connection.endpoint.origin().ascii_serialization(),
                    detail,
                },
                Outcome::Connect,
            )
        } else {
            (
                ApiError::Transport {
                    method,
                    path: path.to_string(),
                    detail,
                },
                Outcome::Transport,
            )
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        call: &Call,
        answer: &Answer,
        what: &'static str,
    ) -> Result<T, ApiError> {
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Decode {
            status: answer.status,
            method: call.method.to_string(),
            path: self.display_path(call),
            what,
            detail: e.to_string(),
            request_id: answer.request_id.clone(),
        })
    }

    fn display_path(&self, call: &Call) -> String {
        let mut path = format!("/v2/{}", self.connection.project_id);
        for s in &call.segments {
            path.push('/');
            path.push_str(&sign::encode(s));
        }
        path
    }

    /// Replaces any secret the server may have echoed back with `[redacted]`.
    fn scrub(&self, mut text: String) -> String {
        for secret in self.connection.credentials.secrets() {
            let s = secret.expose();
            if s.len() >= 4 && text.contains(s) {
                text = text.replace(s, "[redacted]");
            }
        }
        text
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

fn error_chain(error: reqwest::Error) -> String {
    crate::error::chain(&error.without_url())
}

fn check_arg(what: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        Err(ApiError::InvalidArgument(format!("the {what} is empty")))
    } else {
        Ok(())
    }
}

fn not_sent(error: ApiError) -> CallError {
    CallError { error, attempts: 0 }
}

fn to_json(body: &impl serde::Serialize) -> Vec<u8> {
    // Serialising these plain structs of strings cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn client(endpoint: &str, credentials: Credentials) -> Client {
        let connection = Connection {
            endpoint: Url::parse(endpoint).unwrap(),
            project_id: "pid".into(),
            credentials,
        };
        Client::new(connection, ClientOptions::default()).unwrap()
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
        let c = client("http://127.0.0.1:8080/prefix/", aksk());
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
    fn prepare_with_a_token_sends_no_authorization() {
        let c = client(
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
    fn invalid_options_are_refused() {
        let conn = || Connection {
            endpoint: Url::parse("https://example.com").unwrap(),
            project_id: "pid".into(),
            credentials: aksk(),
        };
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
            let connection = Connection {
                endpoint: Url::parse("https://example.com").unwrap(),
                project_id: "pid".into(),
                credentials: aksk(),
            };
            let options = ClientOptions {
                rate: Some(rate),
                ..Default::default()
            };
            assert!(Client::new(connection, options).is_ok(), "{rate}");
        }
    }

    #[test]
    fn scrub_removes_echoed_secrets() {
        let c = client("https://example.com", aksk());
        assert_eq!(
            c.scrub("bad signature for SECRET-KEY and STS-TOKEN".into()),
            "bad signature for [redacted] and [redacted]"
        );
    }

    #[test]
    fn call_futures_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send + 'static>(_: T) {}
        let c = client("https://example.com", aksk());
        let (a, b, d) = (c.clone(), c.clone(), c.clone());
        assert_send(async move { a.create_tag("d", "k", "v").await });
        assert_send(async move { b.list_desktops_by_id(&["d".into()]).await });
        assert_send(async move { d.list_desktops(&DesktopFilter::default()).await });
    }

    #[test]
    fn clients_for_other_projects_share_statistics() {
        let c = client("https://example.com", aksk());
        let other = c.with_project("other").unwrap();
        c.shared.requests.fetch_add(3, Ordering::Relaxed);
        assert_eq!(other.stats().requests, 3);
        assert_eq!(other.connection().project_id, "other");
    }
}
