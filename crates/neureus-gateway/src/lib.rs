//! The Neureus gateway: an axum application in front of the providers.
//!
//! [`app`] builds the router from an [`AppState`]; [`serve`] runs it with the background
//! tasks (key-revocation polling) until the shutdown future resolves.

pub mod auth;
pub mod catalog;
pub mod compat;
pub mod config;
pub mod credentials;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod headers;
pub mod logging;
pub mod middleware;
pub mod preprocess;
pub mod rotation;
pub mod routes;
pub mod routing;
pub mod server;
pub mod state;
pub mod stream_out;
pub mod tasks;
pub mod tenant_settings;
pub mod validate;

/// The maps every request looks into (keys, tenant settings, credentials, the catalog), by
/// foldhash: std's SipHash took ~200 instructions per lookup of a ~36-byte id, four lookups
/// a request (callgrind). Their keys are ids the gateway issued; a caller cannot add
/// entries (a presented key is cached only once the store knows it), so the weaker
/// flooding resistance of a fast seeded hash is no exposure here.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use std::future::Future;
use std::time::Duration;

pub use routes::app;
pub use state::AppState;

/// Serves `state` on `listener` until `shutdown` resolves. In-flight requests (streams
/// included) finish first; then the request-log queue is flushed, so every request that got
/// an answer has its record written before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let poller = tokio::spawn(tasks::poll_changes(state.clone(), Duration::from_secs(1)));
    let retention = tokio::spawn(tasks::retention(state.clone(), Duration::from_secs(3_600)));
    let result = server::run(listener, routes::service(state.clone()), shutdown).await;
    poller.abort();
    retention.abort();
    state.logs.shutdown().await;
    result
}
