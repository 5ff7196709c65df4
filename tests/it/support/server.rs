//! The one small HTTP server for tests of the client: started on 127.0.0.1:0, it records every
//! request as received (bytes included), counts those in flight, waits `latency`, then answers
//! with the test's responder. Stopped when dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use percent_encoding::percent_decode_str;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Decoded query pairs, in wire order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Some(q) = &self.query else {
            return Vec::new();
        };
        q.split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let d = |s: &str| percent_decode_str(s).decode_utf8().unwrap().into_owned();
                (d(k), d(v))
            })
            .collect()
    }

    pub fn query_values(&self, name: &str) -> Vec<String> {
        self.query_pairs()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect()
    }
}

/// Answers the `index`-th request (0-based, in arrival order).
type Responder = Box<dyn Fn(&Recorded, usize) -> Response + Send + Sync>;

pub struct ServerState {
    latency: Duration,
    respond: Responder,
    log: Mutex<Vec<Recorded>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

pub struct Server {
    pub base: String,
    pub state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub async fn start(
        latency: Duration,
        respond: impl Fn(&Recorded, usize) -> Response + Send + Sync + 'static,
    ) -> Server {
        let state = Arc::new(ServerState {
            latency,
            respond: Box::new(respond),
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { base, state, task }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect(),
        body,
        at: Instant::now(),
    };
    let index = {
        let mut log = state.log.lock().unwrap();
        log.push(recorded.clone());
        log.len() - 1
    };
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    let response = (state.respond)(&recorded, index);
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}
