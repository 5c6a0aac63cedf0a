//! The accept loop: HTTP/1.1 connections served by hyper, with graceful shutdown.
//!
//! Written here rather than with `axum::serve` for three reasons, each measured in
//! BENCHMARKS.md: accepted sockets get `TCP_NODELAY` (without it the kernel holds an SSE
//! chunk back until the previous one is acknowledged), connections are served by hyper's
//! HTTP/1 connection directly (`axum::serve` goes through hyper-util's version-sniffing
//! `auto` builder, which buffers the first bytes of every connection), and every connection
//! shares one route table (a clone of the router is a reference count).

use std::future::Future;
use std::time::Duration;

use std::convert::Infallible;

use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;

/// How long a client may take to send a request's headers (slow-loris protection). hyper
/// starts this clock whenever a connection waits for a request, so it is also how long an
/// idle keep-alive connection stays open; clients' pools expire theirs sooner (Node's 4 s,
/// httpx's 5 s).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` (`routes::service`, or any router) on `listener` until `shutdown` resolves, then waits for every open
/// connection to finish its in-flight request (idle keep-alive connections are closed).
pub async fn run<S>(
    listener: TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    run_with(listener, app, shutdown, HEADER_READ_TIMEOUT).await
}

async fn run_with<S>(
    listener: TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_read_timeout: Duration,
) -> std::io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    on_accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(app.clone());
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A failed accept never stops the server. Errors about one connection (reset before it was
/// accepted) are skipped; others (out of file descriptors) are logged and retried after a
/// pause, so a burst does not spin the loop.
async fn on_accept_error(e: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(timeout: Duration) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(run_with(
            listener,
            app,
            async {
                let _ = rx.await;
            },
            timeout,
        ));
        (addr, tx)
    }

    async fn read_all(s: &mut tokio::net::TcpStream) -> String {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_keep_alive_requests_and_drops_a_client_that_never_finishes_its_headers() {
        let (addr, _stop) = start(Duration::from_millis(300)).await;
        // Two requests on one connection.
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let text = read_all(&mut s).await;
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
        // Half a request line, then silence: the connection is closed after the timeout.
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HT").await.unwrap();
        let started = std::time::Instant::now();
        let text = read_all(&mut slow).await;
        let waited = started.elapsed();
        assert!(!text.contains("200 OK"), "{text}");
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(4),
            "closed after {waited:?}"
        );
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_returns_once_connections_are_done() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(listener, app, async {
            let _ = rx.await;
        }));
        // An idle keep-alive connection does not hold shutdown up.
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200 OK"));
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("serve returned")
            .unwrap()
            .unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
