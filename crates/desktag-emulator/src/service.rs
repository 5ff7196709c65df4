//! The HTTP face of the emulator: one handler that matches a request to a Workspace tag API,
//! checks what the headers alone can prove (token, signature date and key) before reading any of
//! the body, reads the body under a size cap and a deadline, verifies the signature over it,
//! applies injected faults, runs it against the store, and answers with the service's JSON shapes.
//! Every answer — rejections included — has an `X-Request-Id` and is recorded and logged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::auth::{self, Auth, Received};
use super::errors::{ServiceError, GW_BAD_REQUEST};
use super::faults::{Fault, Injector, Verdict};
use super::identity::{Identity, IdentityOp, IdentityReply, IdentityRequest, Issued};
use super::persist::{Persister, StateFileError};
use super::routes::{decode_query, route, Op};
use super::store::{BatchCap, ListFilter, Project, Store, WriteOutcome};
use super::wire::{
    BatchIn, CreateTagIn, DesktopOut, DesktopsTagsIn, ListOut, TagIn, TagOut, TagsOut,
};
use super::{EmulatedDesktop, EmulatorConfig, EmulatorError, Limits, RequestRecord, Seed};

/// Largest request body accepted: the largest valid call (a batch of 100 desktops × 20 tags of
/// 128 + 43 four-byte characters) is under 1.5 MB, so 2 MiB refuses nothing the API takes while
/// bounding what a connection can make the emulator hold.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Most `desktop_id` filters one list request may carry.
pub const MAX_DESKTOP_ID_FILTERS: usize = 100;
/// Largest (and default) `limit` of a list request.
pub const MAX_LIST_LIMIT: usize = 1000;
/// How many request records are kept (the oldest are dropped first).
pub const REQUEST_LOG_CAPACITY: usize = 100_000;
/// How many bytes of paths, queries and codes the request log keeps at most (the oldest records
/// are dropped first): a read of 100 ids has a 5 KB query, so the count alone would not bound it.
pub const REQUEST_LOG_MAX_BYTES: usize = 32 * 1024 * 1024;

/// Everything one emulator instance holds. Build it with `EmulatorState::new`, serve it with
/// `app`.
#[derive(Debug)]
pub struct EmulatorState {
    pub(crate) store: Arc<Store>,
    auth: Auth,
    faults: Injector,
    batch_cap: BatchCap,
    limits: Limits,
    identity: Identity,
    issued: Issued,
    clock_offset: time::Duration,
    persister: Option<Persister>,
    log: Mutex<RequestLog>,
    total_writes: AtomicU64,
    ids: AtomicU64,
    id_prefix: u32,
    /// Set when the emulator stops, releasing held answers.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// A state file is this emulator's: the projects it serves (from the seed) and within its cap.
fn check_state(
    path: &std::path::Path,
    state: &Seed,
    seed: &Seed,
    max_tags: usize,
) -> Result<(), StateFileError> {
    let ids = |s: &Seed| {
        let mut ids: Vec<String> = s.projects().map(|(id, _)| id.to_string()).collect();
        ids.sort();
        ids
    };
    if ids(state) != ids(seed) {
        return Err(StateFileError::OtherProject {
            path: path.to_path_buf(),
            holds: ids(state),
            serves: ids(seed),
        });
    }
    for desktop in state.projects().flat_map(|(_, desktops)| desktops) {
        let counted = desktop
            .tags
            .keys()
            .filter(|k| !desktag_core::tags::is_system_key(k))
            .count();
        if counted > max_tags {
            return Err(StateFileError::OverCap {
                path: path.to_path_buf(),
                desktop: desktop.id.clone(),
                counted,
                max_tags,
            });
        }
    }
    Ok(())
}

impl EmulatorState {
    /// Loads the state file (if configured and present; else the seed) and validates the config.
    pub fn new(config: EmulatorConfig) -> Result<Arc<EmulatorState>, EmulatorError> {
        config.faults.validate()?;
        config.limits.validate()?;
        if config.max_tags == 0 {
            return Err(EmulatorError::Config(
                "--max-tags must be at least 1".to_string(),
            ));
        }
        // Locked before it is read, so no other emulator is writing it meanwhile.
        let persister = config
            .state_file
            .clone()
            .map(Persister::open)
            .transpose()
            .map_err(EmulatorError::StateFile)?;
        let (seed, from_state) = match &config.state_file {
            Some(path) => match super::persist::load(path).map_err(EmulatorError::StateFile)? {
                Some(state) => (state, Some(path)),
                None => (config.seed.clone(), None),
            },
            None => (config.seed.clone(), None),
        };
        seed.validate().map_err(|e| EmulatorError::Seed {
            origin: "the seed".to_string(),
            message: e.message,
        })?;
        if let Some(path) = from_state {
            check_state(path, &seed, &config.seed, config.max_tags)?;
        }
        Ok(Arc::new(EmulatorState {
            store: Arc::new(Store::new(seed, config.max_tags)),
            auth: config.auth,
            faults: Injector::new(config.faults),
            batch_cap: config.batch_cap,
            limits: config.limits,
            identity: config.identity,
            issued: Issued::default(),
            clock_offset: config.clock_offset,
            persister,
            log: Mutex::new(RequestLog::default()),
            total_writes: AtomicU64::new(0),
            ids: AtomicU64::new(0),
            id_prefix: rand::random(),
            stopping: tokio::sync::watch::channel(false).0,
        }))
    }

    /// The service's time: this machine's, moved by `EmulatorConfig::clock_offset`.
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + self.clock_offset
    }

    /// The most recent requests (see `REQUEST_LOG_CAPACITY`, `REQUEST_LOG_MAX_BYTES`), oldest
    /// first.
    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .records
            .iter()
            .cloned()
            .collect()
    }

    /// How many write requests (tag create, delete, batch) succeeded since start.
    pub(crate) fn writes(&self) -> u64 {
        self.total_writes.load(Ordering::Relaxed)
    }

    /// Every desktop of the first project as it is now, sorted by id.
    pub fn desktops(&self) -> Vec<EmulatedDesktop> {
        self.store
            .desktops(self.store.project_id())
            .expect("the first project exists")
    }

    /// Every desktop of `project_id` as it is now, sorted by id; `None` for a project the
    /// emulator does not serve.
    pub fn project_desktops(&self, project_id: &str) -> Option<Vec<EmulatedDesktop>> {
        self.store.desktops(project_id)
    }

    /// The first project's id (a single-project seed's only one).
    pub(crate) fn project_id(&self) -> &str {
        self.store.project_id()
    }

    /// Every project the emulator serves, in the seed's order.
    pub(crate) fn project_ids(&self) -> Vec<String> {
        self.store.project_ids().map(str::to_string).collect()
    }

    /// Every temporary secret the identity side issued (secret keys, security tokens), so tests
    /// can check that no output holds one.
    pub(crate) fn issued_secrets(&self) -> Vec<desktag_core::secret::Secret> {
        self.issued.secrets()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Waits `hold` (a lost answer), or until the emulator stops: a held answer must not keep
    /// the server from shutting down.
    async fn hold(&self, hold: std::time::Duration) {
        let mut stopping = self.stopping.subscribe();
        tokio::select! {
            () = tokio::time::sleep(hold) => {}
            _ = stopping.wait_for(|stopping| *stopping) => {}
        }
    }

    /// Releases every held answer (and any held later): the emulator is stopping.
    pub(crate) fn stop_holding(&self) {
        self.stopping.send_replace(true);
    }

    fn next_request_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}{:024x}", self.id_prefix, n)
    }

    fn record(&self, record: RequestRecord) {
        if record.write && (200..300).contains(&record.status) {
            self.total_writes.fetch_add(1, Ordering::Relaxed);
        }
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
    }
}

/// The most recent request records, within `REQUEST_LOG_CAPACITY` records and
/// `REQUEST_LOG_MAX_BYTES` bytes.
#[derive(Debug, Default)]
struct RequestLog {
    records: VecDeque<RequestRecord>,
    /// `weight` summed over `records`.
    bytes: usize,
}

impl RequestLog {
    fn push(&mut self, record: RequestRecord) {
        self.bytes += weight(&record);
        self.records.push_back(record);
        while self.records.len() > REQUEST_LOG_CAPACITY || self.bytes > REQUEST_LOG_MAX_BYTES {
            match self.records.pop_front() {
                Some(old) => self.bytes -= weight(&old),
                None => break,
            }
        }
    }
}

/// What a record holds on the heap, roughly: its strings and its own size.
fn weight(r: &RequestRecord) -> usize {
    std::mem::size_of::<RequestRecord>()
        + r.method.len()
        + r.path.len()
        + r.query.len()
        + r.request_id.len()
        + r.desktop_id.as_ref().map_or(0, String::len)
        + r.error_code.as_ref().map_or(0, String::len)
}

/// The emulator's router. Every path goes to one handler: answers for unknown paths, wrong
/// methods, bad bodies and failed auth must all have the service's or gateway's JSON shape, and
/// signature checks need the raw request, so axum's typed routing and extractors are not used.
pub fn app(state: Arc<EmulatorState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn read_body(
    body: Body,
    declared: Option<&HeaderValue>,
    deadline: std::time::Duration,
) -> Result<Bytes, ServiceError> {
    match tokio::time::timeout(deadline, read_capped(body, declared)).await {
        Ok(result) => result,
        Err(_) => Err(ServiceError::gateway(
            StatusCode::REQUEST_TIMEOUT,
            GW_BAD_REQUEST,
            format!(
                "the request body did not arrive within {} ms",
                deadline.as_millis()
            ),
        )),
    }
}

async fn read_capped(body: Body, declared: Option<&HeaderValue>) -> Result<Bytes, ServiceError> {
    let declared = declared
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ServiceError::too_large(MAX_BODY_BYTES));
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ServiceError::gateway(
                StatusCode::BAD_REQUEST,
                GW_BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ServiceError::too_large(MAX_BODY_BYTES));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// A successful answer.
enum Reply {
    Json(Vec<u8>),
    NoContent,
    Identity(IdentityReply),
}

/// What the record of a request needs to know about it.
#[derive(Default)]
struct Seen {
    desktop_id: Option<String>,
    write: bool,
    /// How long its answer is held (`--lost-answer-rate`).
    hold: Option<std::time::Duration>,
}

async fn handle(State(state): State<Arc<EmulatorState>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = state.next_request_id();
    let (parts, body) = req.into_parts();
    let latency = state.faults.faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(gate) = &state.faults.faults.gate {
        if parts.method != axum::http::Method::GET {
            gate.pass().await;
        }
    }
    let mut seen = Seen::default();
    let result = process(&state, &parts, body, &mut seen).await;
    let (mut response, error_code) = respond(result, &request_id);
    if !state.clock_offset.is_zero() {
        // The service's clock, as its `Date` header tells it.
        let date = std::time::SystemTime::from(state.now());
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(date)) {
            response.headers_mut().insert(header::DATE, value);
        }
    }
    let status = response.status().as_u16();
    let held_ms = seen
        .hold
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    tracing::info!(
        target: "desktag::emulator",
        method = %parts.method,
        path,
        query,
        status,
        latency_ms = %format_args!("{:.3}", started.elapsed().as_secs_f64() * 1000.0),
        request_id = %request_id,
        error_code = error_code.unwrap_or(""),
        // Only on held answers (`--lost-answer-rate`).
        held_ms,
        "request"
    );
    state.record(RequestRecord {
        method: parts.method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        status,
        desktop_id: seen.desktop_id,
        write: seen.write,
        error_code: error_code.map(str::to_string),
        request_id,
        held_ms,
    });
    if let Some(hold) = seen.hold {
        state.hold(hold).await;
    }
    response
}

fn respond(
    result: Result<Reply, ServiceError>,
    request_id: &str,
) -> (Response, Option<&'static str>) {
    let id = HeaderValue::from_str(request_id).expect("request ids are hex");
    let json = HeaderValue::from_static("application/json");
    let mut code = None;
    let mut builder = Response::builder().header("X-Request-Id", id);
    let response = match result {
        Ok(Reply::NoContent) => builder.status(StatusCode::NO_CONTENT).body(Body::empty()),
        Ok(Reply::Json(bytes)) => builder
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, json)
            .body(Body::from(bytes)),
        Ok(Reply::Identity(reply)) => {
            for (name, value) in reply.headers {
                builder = builder.header(name, value);
            }
            builder
                .status(reply.status)
                .header(header::CONTENT_TYPE, reply.content_type)
                .body(Body::from(reply.body))
        }
        Err(e) => {
            code = Some(e.code);
            if let Some(secs) = e.retry_after {
                builder = builder.header(header::RETRY_AFTER, secs);
            }
            builder
                .status(e.status)
                .header(header::CONTENT_TYPE, json)
                .body(Body::from(e.body(request_id).to_string()))
        }
    };
    (response.expect("static headers are valid"), code)
}

async fn process(
    state: &Arc<EmulatorState>,
    parts: &axum::http::request::Parts,
    body: Body,
    seen: &mut Seen,
) -> Result<Reply, ServiceError> {
    let identity_op = IdentityOp::route(&parts.method, parts.uri.path());
    let (pid, op) = match identity_op {
        Some(_) => (String::new(), Op::List),
        None => route(&parts.method, parts.uri.path())?,
    };
    if identity_op.is_none() {
        seen.desktop_id = op.desktop_id().map(str::to_string);
        seen.write = op.is_write();
    }
    let query = decode_query(parts.uri.query());
    let (headers, body) = admit(state, parts, body, &query, identity_op).await?;
    if identity_op.is_none() && state.identity.deny.iter().any(|a| a == op.action()) {
        return Err(super::identity::denied(op.action(), &pid));
    }
    if let Some(op) = identity_op {
        return state
            .issued
            .answer(
                op,
                &state.identity,
                state.store.project_id(),
                &IdentityRequest {
                    headers: &headers,
                    query: &query,
                    body: &body,
                },
                state.now(),
            )
            .map(Reply::Identity);
    }
    match state.faults.decide(
        state.faults.faults.clock.now(),
        op.is_write(),
        &auth::credential_key(&headers),
    ) {
        Verdict::Serve => {}
        Verdict::Refuse(fault) => return Err(fault_error(state, fault)),
        Verdict::LoseAnswer => seen.hold = Some(state.faults.faults.lost_answer),
    }
    let project = state.store.project(&pid)?;
    let version = match op {
        Op::List => return list(project, &query),
        Op::ShowTags { id } => {
            let tags = project.tags(&id)?;
            return Ok(json_reply(&TagsOut {
                tags: tags.iter().map(TagOut::from).collect(),
            }));
        }
        write => write_op(state, project, write, &body)?,
    };
    // A no-op write must wait too: it may be the retry of a write whose change was made but whose
    // save failed, and its success must not be reported while the file lacks that change.
    if let Some(persister) = &state.persister {
        let version = version.unwrap_or_else(|| state.store.version());
        persister
            .wait_durable(&state.store, version)
            .await
            .map_err(|e| {
                tracing::error!(target: "desktag::emulator", "{e}");
                ServiceError::internal(format!("the change was made but not saved: {e}"))
            })?;
    }
    Ok(Reply::NoContent)
}

/// What the gateway does before the service sees a request: authentication, the headers first
/// (before a byte of the body is read), then the signature over the body. Returns the headers
/// and the body.
async fn admit(
    state: &EmulatorState,
    parts: &axum::http::request::Parts,
    body: Body,
    query: &[(String, String)],
    identity_op: Option<IdentityOp>,
) -> Result<(Vec<(String, String)>, Bytes), ServiceError> {
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let now = state.now();
    // Unsigned identity calls (the OIDC exchange, Pod Identity, metadata) authenticate with
    // what they carry; signed ones and the tag API with the configured auth, or with temporary
    // keys the identity side issued (refused once expired).
    let unsigned_identity = identity_op.is_some_and(|op| !op.signed());
    let auth = if unsigned_identity {
        Auth::None
    } else {
        match state.issued.auth_for(&headers, now)? {
            Some(temporary) => temporary,
            None => state.auth.clone(),
        }
    };
    // Refuse what the headers alone refuse before reading a byte of the body.
    auth::check_head(&auth, &headers, now)?;
    let body = read_body(
        body,
        parts.headers.get(header::CONTENT_LENGTH),
        state.limits.body_timeout,
    )
    .await?;
    if !matches!(auth, Auth::None) {
        let received = Received {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &headers,
            body: &body,
        };
        auth::check(&auth, &received, state.now())?;
    }
    Ok((headers, body))
}

/// Refuses tags whose value `--reject-value` names, as the service refuses an invalid tag: the
/// whole call, before anything is changed.
fn refuse_values<'a>(
    state: &EmulatorState,
    tags: impl IntoIterator<Item = &'a (String, String)>,
) -> Result<(), ServiceError> {
    match tags
        .into_iter()
        .find(|(_, value)| state.faults.rejects(value))
    {
        Some((key, _)) => Err(ServiceError::rejected_value(key)),
        None => Ok(()),
    }
}

/// Runs a write against a project; the store's version after it, if it changed anything.
fn write_op(state: &EmulatorState, store: Project<'_>, op: Op, body: &[u8]) -> WriteOutcome {
    match op {
        Op::List | Op::ShowTags { .. } => unreachable!("reads are answered by process"),
        Op::CreateTag { id } => {
            let req: CreateTagIn = parse_body(body)?;
            let pair = [req.tag.into_pair()];
            refuse_values(state, &pair)?;
            store.create(&id, &pair)
        }
        Op::BatchTags { id } => {
            let req: BatchIn = parse_body(body)?;
            let tags = req.tags.ok_or_else(|| {
                ServiceError::bad_request("invalid request body: missing field `tags`")
            })?;
            match req.action.as_deref() {
                Some("create") => {
                    let pairs: Vec<_> = tags.into_iter().map(TagIn::into_pair).collect();
                    refuse_values(state, &pairs)?;
                    store.create(&id, &pairs)
                }
                // Deletes match by key only; a `value` in the entry is ignored.
                Some("delete") => {
                    let keys: Vec<_> = tags.into_iter().map(|t| t.key).collect();
                    store.delete(&id, &keys)
                }
                Some(other) => Err(ServiceError::bad_request(format!(
                    "invalid action `{other}`: use `create` or `delete`"
                ))),
                None => Err(ServiceError::bad_request(
                    "invalid request body: missing field `action` (`create` or `delete`)",
                )),
            }
        }
        Op::DeleteTag { id, key } => store.delete(&id, &[key]),
        Op::BatchAdd => {
            let req: DesktopsTagsIn = parse_body(body)?;
            let entries: Vec<_> = req
                .desktops
                .into_iter()
                .map(|d| {
                    (
                        d.desktop_id,
                        d.tags.into_iter().map(TagIn::into_pair).collect(),
                    )
                })
                .collect();
            refuse_values(state, entries.iter().flat_map(|(_, tags)| tags))?;
            store.batch_create(&entries, state.batch_cap)
        }
        // Deletes match by key only; a `value` in an entry is ignored.
        Op::BatchDelete => {
            let req: DesktopsTagsIn = parse_body(body)?;
            let entries: Vec<_> = req
                .desktops
                .into_iter()
                .map(|d| (d.desktop_id, d.tags.into_iter().map(|t| t.key).collect()))
                .collect();
            store.batch_delete(&entries)
        }
    }
}

fn fault_error(state: &EmulatorState, fault: Fault) -> ServiceError {
    let faults = &state.faults.faults;
    match fault {
        Fault::RateLimited => ServiceError::throttled(
            faults.rate_limit.unwrap_or_default().to_string(),
            faults.retry_after,
        ),
        // 200 requests/s is the gateway's documented default per API.
        Fault::Throttled => ServiceError::throttled("200".to_string(), faults.retry_after),
        Fault::Failed => ServiceError::internal("internal server error (injected by --fail-rate)"),
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ServiceError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ServiceError::empty_body());
    }
    serde_json::from_slice(body)
        .map_err(|e| ServiceError::bad_request(format!("invalid request body: {e}")))
}

fn list(store: Project<'_>, query: &[(String, String)]) -> Result<Reply, ServiceError> {
    let mut filter = ListFilter::default();
    let (mut offset, mut limit) = (0usize, MAX_LIST_LIMIT);
    for (key, value) in query {
        match key.as_str() {
            "offset" => offset = parse_number(key, value, usize::MAX)?,
            "limit" => limit = parse_number(key, value, MAX_LIST_LIMIT)?,
            "desktop_id" => filter.desktop_ids.push(value.clone()),
            "computer_name" => filter.computer_names.push(value.clone()),
            "user_name" => filter.user_names.push(value.clone()),
            "status" => filter.statuses.push(value.clone()),
            other => {
                return Err(ServiceError::bad_request(format!(
                    "query parameter `{other}` is not supported by the emulator; it supports \
                     offset, limit, desktop_id, computer_name, user_name and status"
                )))
            }
        }
    }
    if filter.desktop_ids.len() > MAX_DESKTOP_ID_FILTERS {
        return Err(ServiceError::bad_request(format!(
            "{} desktop_id values given; at most {MAX_DESKTOP_ID_FILTERS} are allowed per request",
            filter.desktop_ids.len()
        )));
    }
    let (total, page) = store.list(&filter, offset, limit);
    Ok(json_reply(&ListOut {
        total_count: total,
        desktops: page.iter().map(DesktopOut::from).collect(),
    }))
}

fn parse_number(key: &str, value: &str, max: usize) -> Result<usize, ServiceError> {
    match value.parse::<usize>() {
        Ok(n) if n <= max => Ok(n),
        _ if max == usize::MAX => Err(ServiceError::bad_request(format!(
            "query parameter `{key}={value}` must be a non-negative integer"
        ))),
        _ => Err(ServiceError::bad_request(format!(
            "query parameter `{key}={value}` must be an integer from 0 to {max}"
        ))),
    }
}

fn json_reply<T: Serialize>(value: &T) -> Reply {
    Reply::Json(serde_json::to_vec(value).expect("response types serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(query_len: usize) -> RequestRecord {
        RequestRecord {
            method: "GET".to_string(),
            path: "/v2/p/desktops".to_string(),
            query: "q".repeat(query_len),
            status: 200,
            desktop_id: None,
            write: false,
            error_code: None,
            request_id: "0".repeat(32),
            held_ms: None,
        }
    }

    #[test]
    fn the_request_log_is_bounded_in_records_and_in_bytes() {
        let mut log = RequestLog::default();
        for _ in 0..REQUEST_LOG_CAPACITY + 10 {
            log.push(record(0));
        }
        assert_eq!(log.records.len(), REQUEST_LOG_CAPACITY);
        let mut log = RequestLog::default();
        let big = 1024 * 1024;
        for _ in 0..100 {
            log.push(record(big));
        }
        assert!(log.bytes <= REQUEST_LOG_MAX_BYTES, "{}", log.bytes);
        assert_eq!(
            log.records.len(),
            REQUEST_LOG_MAX_BYTES / weight(&record(big))
        );
        assert_eq!(log.bytes, log.records.iter().map(weight).sum::<usize>());
    }
}
