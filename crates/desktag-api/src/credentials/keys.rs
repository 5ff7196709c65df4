//! `Keys`: the credentials every request of a client signs with, shared by all its workers, and
//! their renewal. A temporary lease is renewed when it is due (well before it expires) or when
//! the service says it expired; renewals are single-flight: the first worker to see the need
//! renews, the others wait for it and use its result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::chain::Fetch;
use super::fetch::{FetchError, Fetcher};
use super::lease::{format_expiry, Lease};
use crate::connection::Credentials;

/// The credentials of a client, renewable when they came from a temporary source.
#[derive(Debug)]
pub struct Keys {
    lease: RwLock<Arc<Lease>>,
    source: Option<(Fetch, Fetcher)>,
    renewing: tokio::sync::Mutex<()>,
    renewals: AtomicU64,
    /// After a failed renewal that kept the old lease: no new attempt before this time, so
    /// workers do not ask the identity service once per request.
    pause_until: std::sync::Mutex<Option<OffsetDateTime>>,
}

impl Keys {
    /// Credentials that do not expire and are never renewed.
    pub fn fixed(credentials: Credentials) -> Keys {
        Keys {
            lease: RwLock::new(Arc::new(Lease {
                credentials,
                expires_at: None,
                obtained_at: OffsetDateTime::now_utc(),
                generation: 0,
            })),
            source: None,
            renewing: tokio::sync::Mutex::new(()),
            renewals: AtomicU64::new(0),
            pause_until: std::sync::Mutex::new(None),
        }
    }

    /// Fetches a first lease from `source`; later ones come from the same source.
    pub async fn fetch(source: Fetch, fetcher: Fetcher) -> Result<Keys, FetchError> {
        let lease = fetcher.fetch(&source).await?;
        tracing::info!(
            source = source.origin(),
            from = %source.location(),
            expires = %lease.expires_at.map(format_expiry).unwrap_or_default(),
            "obtained temporary credentials"
        );
        Ok(Keys {
            lease: RwLock::new(Arc::new(lease)),
            source: Some((source, fetcher)),
            renewing: tokio::sync::Mutex::new(()),
            renewals: AtomicU64::new(0),
            pause_until: std::sync::Mutex::new(None),
        })
    }

    /// The lease in use now.
    pub fn current(&self) -> Arc<Lease> {
        Arc::clone(&self.lease.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The source's name, for logs.
    pub fn origin(&self) -> String {
        match &self.source {
            Some((fetch, _)) => fetch.origin().to_string(),
            None => self.current().credentials.describe(),
        }
    }

    /// Whether the credentials can be renewed (they came from a temporary source).
    pub fn renewable(&self) -> bool {
        self.source.is_some()
    }

    /// How many times the credentials were renewed.
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// The lease to sign the next request with: the current one, renewed first when due.
    pub async fn fresh(&self) -> Result<Arc<Lease>, FetchError> {
        let lease = self.current();
        let now = OffsetDateTime::now_utc();
        let paused = self
            .pause_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|until| now < until);
        if self.source.is_some() && lease.due(now) && !paused {
            return self.renew(lease.generation).await;
        }
        Ok(lease)
    }

    /// Renews the lease whose generation is `stale`, once: a caller that finds it already
    /// renewed (by another worker while it waited) gets the newer lease without a fetch. When the
    /// renewal fails but the old lease has not expired yet, the old lease is kept (with a
    /// warning) so a run is not stopped by a passing outage of the identity service.
    pub async fn renew(&self, stale: u64) -> Result<Arc<Lease>, FetchError> {
        let Some((source, fetcher)) = &self.source else {
            return Ok(self.current());
        };
        let _turn = self.renewing.lock().await;
        let current = self.current();
        if current.generation != stale {
            return Ok(current);
        }
        match fetcher.fetch(source).await {
            Ok(mut lease) => {
                lease.generation = stale + 1;
                let lease = Arc::new(lease);
                *self.lease.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&lease);
                self.renewals.fetch_add(1, Ordering::Relaxed);
                *self.pause_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::info!(
                    source = source.origin(),
                    expires = %lease.expires_at.map(format_expiry).unwrap_or_default(),
                    "renewed the temporary credentials"
                );
                Ok(lease)
            }
            Err(error) => {
                let now = OffsetDateTime::now_utc();
                if let Some(at) = current.expires_at.filter(|at| *at > now) {
                    let pause = ((at - now) / 2i32).min(time::Duration::seconds(5));
                    *self.pause_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(now + pause);
                    tracing::warn!(%error, "cannot renew the temporary credentials yet; using the current ones until they expire");
                    Ok(current)
                } else {
                    Err(error)
                }
            }
        }
    }
}
