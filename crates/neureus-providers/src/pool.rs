//! Kept-alive HTTP/1.1 connections to the upstreams, pooled per origin.
//!
//! Written here rather than taken from hyper-util's legacy `Client` because it is on every
//! request's path and the general pool there costs more than everything else it does for
//! us: callgrind put its checkout and return at ~3.7k instructions a request (its
//! (scheme, authority) key hashed with SipHash on both, its waiters and connecting-lock
//! bookkeeping, the `Extra` envelope, moves of its large futures), ~5k with the request
//! plumbing around them (BENCHMARKS.md, stop 20). The upstreams are a handful of fixed
//! origins and every call is one POST, so the pool is a stack of idle connections per
//! origin behind a mutex, found by a foldhash lookup of the origin. hyper's own HTTP/1.1
//! client connection (`hyper::client::conn::http1`) does the protocol, as in hyper-util.
//!
//! What it keeps of hyper-util's behaviour:
//! - A connection is reused only when hyper says it is ready (its last answer fully read)
//!   and not closed; one whose answer was dropped half-read is closed by hyper and pruned.
//! - A request that a reused connection turned out unable to take (it closed meanwhile;
//!   hyper hands the request back unsent) is sent again on another connection. A request
//!   that was sent is never sent twice: a retried chat would cost tokens twice.
//! - Idle connections are closed after [`IDLE_TIMEOUT`]; here when a later checkout finds
//!   them (oldest first), not by a timer. An upstream that closes them sooner is seen as
//!   closed at checkout and they are dropped.
//! - At most [`MAX_IDLE`] connections an origin are kept; more are closed when released.
//!
//! And one thing more: a connection idle for [`RECHECK_IDLE`] or more is looked at again
//! after the runtime has polled its I/O, so that an upstream's close that arrived while the
//! runtime was busy is seen before a request is written into the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;

use crate::ProviderError;

/// The connector: TCP (`TCP_NODELAY`, the connect timeout) and TLS by rustls for `https`.
pub(crate) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The sending half of one upstream connection.
pub(crate) type Sender = http1::SendRequest<Full<Bytes>>;

/// Idle connections are closed after this long.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections kept per origin; a released connection beyond this is closed.
pub(crate) const MAX_IDLE: usize = 1024;

/// A connection idle this long is looked at again after the runtime has taken in pending
/// I/O, before a request is written into it (see [`Pools::send`]). Servers' keep-alive
/// timeouts are seconds (nginx 75 s, Node.js 5 s); under load connections are idle for
/// microseconds and never pay the extra turn of the runtime.
pub(crate) const RECHECK_IDLE: Duration = Duration::from_millis(500);

/// Every origin's pool, and the connector that opens new connections.
pub(crate) struct Pools {
    connector: Connector,
    origins: Mutex<HashMap<Arc<str>, Arc<OriginPool>, foldhash::fast::RandomState>>,
}

/// One origin's idle connections, oldest at the front.
#[derive(Default)]
pub(crate) struct OriginPool {
    idle: Mutex<VecDeque<Idle>>,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// A connection in use. Dropping it returns the connection to its origin's pool (hold it
/// until the answer's body is read or dropped); whether it can be used again is decided at
/// the next checkout.
pub(crate) struct Lease {
    sender: Option<Sender>,
    pool: Arc<OriginPool>,
}

impl Lease {
    /// Closes the connection instead of returning it.
    fn discard(&mut self) {
        self.sender = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

impl OriginPool {
    /// A ready connection, the most recently used first, and when it was last released;
    /// closed and expired ones are dropped.
    pub(crate) fn checkout(&self, now: Instant) -> Option<(Sender, Instant)> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while idle
            .front()
            .is_some_and(|c| now.saturating_duration_since(c.since) >= IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        let mut busy = Vec::new();
        let mut found = None;
        while let Some(c) = idle.pop_back() {
            if c.sender.is_ready() {
                found = Some((c.sender, c.since));
                break;
            }
            if !c.sender.is_closed() {
                // Released, but hyper has not yet taken in the end of its last answer.
                busy.push(c);
            }
        }
        for c in busy.into_iter().rev() {
            idle.push_back(c);
        }
        found
    }

    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Pools {
    pub(crate) fn new(connector: Connector) -> Self {
        Pools {
            connector,
            origins: Mutex::default(),
        }
    }

    /// The pool of `origin`, made on first use.
    pub(crate) fn origin(&self, origin: &Arc<str>) -> Arc<OriginPool> {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = origins.get(origin) {
            return Arc::clone(pool);
        }
        let pool = Arc::new(OriginPool::default());
        origins.insert(Arc::clone(origin), Arc::clone(&pool));
        pool
    }

    /// Sends `req` (origin-form URI, `Host` set) to `uri`, whose origin is `origin`, on a
    /// pooled connection or a new one, and returns the answer's head with the connection's
    /// lease.
    pub(crate) async fn send(
        &self,
        origin: &Arc<str>,
        uri: &http::Uri,
        mut req: http::Request<Full<Bytes>>,
        now: Instant,
    ) -> Result<(http::Response<hyper::body::Incoming>, Lease), ProviderError> {
        let pool = self.origin(origin);
        loop {
            let (mut sender, reused) = match pool.checkout(now) {
                Some((sender, since)) if now.saturating_duration_since(since) >= RECHECK_IDLE => {
                    // An upstream closes a connection after its own idle timeout (seconds,
                    // typically); if that close reached this host while the runtime was busy,
                    // the connection's task has not seen it yet, the connection looks ready,
                    // and a request written into it fails. Let the runtime poll its I/O once
                    // (tokio wakes a yielded task after polling the driver), then look again.
                    tokio::task::yield_now().await;
                    if !sender.is_ready() {
                        continue; // closed meanwhile: dropped
                    }
                    (sender, true)
                }
                Some((sender, _)) => (sender, true),
                None => (self.connect(uri).await?, false),
            };
            // The request is handed to the connection here; the lease holds the connection
            // while the answer is awaited (dropped with it on a timeout).
            let sent = sender.try_send_request(req);
            let mut lease = Lease {
                sender: Some(sender),
                pool: Arc::clone(&pool),
            };
            match sent.await {
                Ok(resp) => return Ok((resp, lease)),
                Err(mut e) => {
                    lease.discard();
                    match e.take_message() {
                        // Not sent: the reused connection closed meanwhile. Another one.
                        Some(unsent) if reused => req = unsent,
                        _ => return Err(ProviderError::Protocol(error_chain(e.error()))),
                    }
                }
            }
        }
    }

    /// Opens a connection to `uri`'s origin; its I/O runs on a task of its own.
    async fn connect(&self, uri: &http::Uri) -> Result<Sender, ProviderError> {
        use tower_service::Service;
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| connect_error(e.as_ref()))?;
        let io = connector
            .call(uri.clone())
            .await
            .map_err(|e| connect_error(e.as_ref()))?;
        let (sender, conn) = http1::handshake(io)
            .await
            .map_err(|e| ProviderError::Connect(error_chain(&e)))?;
        // `map` rather than an `async` block awaiting `conn`: the block's state holds the
        // connection twice (the captured value and the awaited one; `size_of` 1,752 bytes
        // each), which every open upstream connection's task carries (BENCHMARKS.md, stop 20).
        tokio::spawn(conn.map(|ended| {
            if let Err(e) = ended {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        }));
        Ok(sender)
    }
}

/// A connect error: a timeout if any of its sources is one. Neither the connector's nor
/// hyper's messages carry the URL (which could hold an account id).
fn connect_error(e: &(dyn std::error::Error + Send + Sync + 'static)) -> ProviderError {
    let timed_out = sources(e)
        .filter_map(|s| s.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::TimedOut);
    if timed_out {
        return ProviderError::Timeout(crate::TimeoutKind::Connect);
    }
    ProviderError::Connect(error_chain(e))
}

/// An error's message followed by its sources'.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    sources(e)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// An error and its sources, outermost first.
fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sender on a live connection over an in-memory pipe (the far end is returned, held
    /// open and never read).
    async fn sender() -> (Sender, tokio::io::DuplexStream) {
        let (near, far) = tokio::io::duplex(64);
        let (sender, conn) = http1::handshake(hyper_util::rt::TokioIo::new(near))
            .await
            .unwrap();
        tokio::spawn(conn);
        (sender, far)
    }

    #[tokio::test]
    async fn at_most_max_idle_connections_are_kept_an_origin() {
        let pool = Arc::new(OriginPool::default());
        let mut ends = Vec::new();
        for _ in 0..MAX_IDLE + 3 {
            let (sender, far) = sender().await;
            ends.push(far);
            drop(Lease {
                sender: Some(sender),
                pool: Arc::clone(&pool),
            });
        }
        assert_eq!(pool.idle(), MAX_IDLE);
        // A discarded lease returns nothing.
        let (sender, _far) = sender().await;
        let mut lease = Lease {
            sender: Some(sender),
            pool: Arc::new(OriginPool::default()),
        };
        let other = Arc::clone(&lease.pool);
        lease.discard();
        drop(lease);
        assert_eq!(other.idle(), 0);
    }
}
