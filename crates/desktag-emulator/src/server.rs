//! Serving the router on a socket with bounds a client cannot stretch: a cap on open connections
//! (further clients wait in the listen backlog), a deadline for each request's headers that also
//! closes a keep-alive connection left idle, and (in `service`) a deadline for each body and a
//! body size cap. HTTP/1.1 only, as the real gateway's clients use it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use crate::EmulatorError;

/// How long and how many: the emulator's defences against slow or greedy clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// From the moment a connection waits for a request until its headers are complete. This is
    /// also the keep-alive idle timeout: the clock starts as soon as the previous answer is sent.
    pub header_timeout: Duration,
    /// From the end of the headers until the whole body has arrived.
    pub body_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s for headers (and idle keep-alive), 10 s for a body, 128 connections: with bodies
    /// capped at `MAX_BODY_BYTES`, at most 256 MiB of request bodies are ever held at once.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 128,
        }
    }
}

impl Limits {
    pub(crate) fn validate(&self) -> Result<(), EmulatorError> {
        if self.max_connections == 0 {
            return Err(EmulatorError::Config(
                "the connection cap must be at least 1".to_string(),
            ));
        }
        if self.header_timeout.is_zero() || self.body_timeout.is_zero() {
            return Err(EmulatorError::Config(
                "the header and body timeouts must be longer than zero".to_string(),
            ));
        }
        Ok(())
    }
}

/// Accepts connections until `stop` fires, then lets open requests finish and returns once every
/// connection has closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let tcp = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Per-connection failures (reset before accept, out of descriptors): back off
                // briefly instead of spinning, and keep serving.
                Err(e) => {
                    tracing::warn!(target: "desktag::emulator", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small request/response pairs: do not wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut closed = closed.clone();
        let header_timeout = limits.header_timeout;
        connections.spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closed.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections so the set does not grow with the emulator's uptime.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}
