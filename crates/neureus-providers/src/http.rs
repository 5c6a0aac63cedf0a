//! The I/O every adapter shares: one pooled HTTP client, the four timeouts, reading an error
//! body, and turning an SSE response into a canonical event stream through a
//! [`StreamMachine`], peeking the first event before the caller commits to a 200.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use neureus_types::StreamEvent;
use tokio::time::Instant;

use crate::pool::{error_chain, Lease, Pools};
use crate::sse::SseDecoder;
use crate::{EventStream, ProviderError, StreamMachine, TimeoutKind};

/// Upstream timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// From sending the request to the response headers and the first stream event.
    pub first_byte: Duration,
    /// Between two reads of a streamed body.
    pub idle: Duration,
    /// The whole call.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// Error bodies larger than this are cut before parsing (they only feed a message).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A whole (non-streamed) answer larger than this is refused rather than held in memory.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// An upstream URL, parsed once, with the `Host` header it implies.
///
/// hyper's client connection sends the headers it is given and no `Host` of its own, so the
/// header is worked out here, once per URL (hyper-util's client, which the gateway used
/// before its own pool, built it with `format!` and validated it on every request: ~2k
/// instructions, callgrind). Its value is the one hyper-util sent: the host, and the port
/// unless it is the scheme's default.
#[derive(Debug, Clone)]
pub(crate) struct Url {
    uri: http::Uri,
    host: HeaderValue,
    /// `scheme://authority`: the connection pool's key.
    origin: Arc<str>,
    /// The path and query: what an HTTP/1.1 request line carries.
    path: http::Uri,
}

impl Url {
    /// The URL.
    #[cfg(test)]
    pub(crate) fn uri(&self) -> &http::Uri {
        &self.uri
    }
}

/// `Host` for `uri` as hyper-util's client sets it.
fn host_header(uri: &http::Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let default_port = match uri.scheme_str() {
        Some("https" | "wss") => 443,
        _ => 80,
    };
    match uri.port_u16() {
        Some(port) if port != default_port => HeaderValue::from_str(&format!("{host}:{port}")).ok(),
        _ => HeaderValue::from_str(host).ok(),
    }
}

/// An upstream response, read as it arrives, and the connection it arrives on (returned to
/// the pool when the response is dropped).
pub(crate) struct Response {
    inner: http::Response<Incoming>,
    lease: Lease,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.inner.status())
            .finish_non_exhaustive()
    }
}

/// A pooled HTTP/1.1 client (TLS by rustls with the webpki roots) plus the timeouts every call
/// obeys.
///
/// hyper's client connections in a pool of our own ([`crate::pool`]) rather than reqwest:
/// reqwest's per-request layers (URL re-parsing with IDNA mapping, proxy matching, connector
/// cloning, boxed futures) were ~5 µs of CPU per request in the gateway's profile, more than
/// all of our own translation. Everything the adapters need (POST, headers, a streamed body,
/// timeouts) is a few lines here.
#[derive(Clone)]
pub struct HttpClient {
    pools: Arc<Pools>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

/// Reads a provider's error body into a message.
pub(crate) type ErrorParser = fn(status: u16, body: &[u8]) -> String;

impl HttpClient {
    /// Builds the client. TLS servers must present a certificate that chains to a root of
    /// the webpki (Mozilla) set and names the URL's host.
    pub fn new(timeouts: Timeouts) -> Result<Self, ProviderError> {
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| ProviderError::Connect(format!("cannot set up TLS: {e}")))?;
        Ok(Self::with_tls(timeouts, tls))
    }

    /// The client trusting only `roots` (tests: a CA of their own).
    #[cfg(test)]
    fn with_roots(timeouts: Timeouts, roots: rustls::RootCertStore) -> Self {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self::with_tls(
            timeouts,
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config),
        )
    }

    fn with_tls(
        timeouts: Timeouts,
        tls: hyper_rustls::HttpsConnectorBuilder<hyper_rustls::builderstates::WantsSchemes>,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeouts.connect));
        let https = tls.https_or_http().enable_http1().wrap_connector(http);
        // Provider APIs never redirect a POST, and retries are ours to decide (a retried chat
        // costs tokens twice): this client does neither.
        HttpClient {
            pools: Arc::new(Pools::new(https)),
            timeouts,
        }
    }

    /// Parses an upstream URL once, so requests do not parse it again.
    pub(crate) fn parse_url(url: &str) -> Result<Url, ProviderError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| ProviderError::Connect(format!("invalid upstream URL {url:?}: {e}")))?;
        match (uri.scheme_str(), uri.authority(), host_header(&uri)) {
            (Some(scheme @ ("http" | "https")), Some(authority), Some(host)) => {
                let origin = Arc::from(format!("{scheme}://{authority}"));
                let path = match uri.path_and_query() {
                    Some(pq) => http::Uri::from(pq.clone()),
                    None => http::Uri::from_static("/"),
                };
                Ok(Url {
                    uri,
                    host,
                    origin,
                    path,
                })
            }
            _ => Err(ProviderError::Connect(format!(
                "invalid upstream URL {url:?}: it must be an absolute http:// or https:// URL"
            ))),
        }
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Sends a JSON POST and waits for the headers (first-byte timeout). A non-2xx answer
    /// becomes [`ProviderError::Upstream`] with the message `parse_error` reads from the body.
    pub(crate) async fn post(
        &self,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: Vec<u8>,
        parse_error: ErrorParser,
    ) -> Result<(Response, Instant), ProviderError> {
        let started = Instant::now();
        let mut req = http::Request::new(Full::new(Bytes::from(body)));
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = url.path.clone();
        let h = req.headers_mut();
        h.reserve(2 + headers.len());
        h.insert(HOST, url.host.clone());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            // The value may be a credential: never echo it.
            let mut v = HeaderValue::from_str(value).map_err(|_| {
                ProviderError::Credentials(format!(
                    "the {name} header cannot be sent: the credential holds characters not allowed in a header"
                ))
            })?;
            v.set_sensitive(true);
            h.insert(name.clone(), v);
        }
        let send = self.pools.send(&url.origin, &url.uri, req, started);
        let (inner, lease) = match tokio::time::timeout(self.timeouts.first_byte, send).await {
            Err(_) => return Err(ProviderError::Timeout(TimeoutKind::FirstByte)),
            Ok(result) => result?,
        };
        let resp = Response { inner, lease };
        let status = resp.inner.status();
        if status.is_success() {
            return Ok((resp, started));
        }
        let retry_after = retry_after(resp.inner.headers());
        let deadline = started + self.timeouts.total;
        let body = read_capped(resp, deadline, self.timeouts.idle).await;
        Err(ProviderError::Upstream {
            status: status.as_u16(),
            message: parse_error(status.as_u16(), &body),
            retry_after,
        })
    }

    /// Reads a whole non-streamed body within the total deadline.
    pub(crate) async fn read_body(
        &self,
        resp: Response,
        started: Instant,
    ) -> Result<Bytes, ProviderError> {
        let deadline = started + self.timeouts.total;
        let Response { inner, lease } = resp;
        let body = http_body_util::Limited::new(inner.into_body(), MAX_BODY);
        let read = tokio::time::timeout_at(deadline, body.collect()).await;
        drop(lease); // the body is read (or dropped, and its connection closed by hyper)
        match read {
            Err(_) => Err(ProviderError::Timeout(TimeoutKind::Total)),
            Ok(Err(e)) => Err(if e.is::<http_body_util::LengthLimitError>() {
                ProviderError::Protocol(format!("the answer is larger than {MAX_BODY} bytes"))
            } else {
                ProviderError::Protocol(error_chain(e.as_ref()))
            }),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
        }
    }

    /// Turns an SSE response into canonical events through `machine`, and waits for the first
    /// event (within the first-byte timeout) so early failures surface as plain errors.
    pub(crate) async fn event_stream<M: StreamMachine>(
        &self,
        resp: Response,
        started: Instant,
        machine: M,
    ) -> Result<EventStream, ProviderError> {
        let ct = resp
            .inner
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !ct.starts_with("text/event-stream") {
            return Err(ProviderError::Protocol(format!(
                "expected text/event-stream, got {:?}",
                if ct.is_empty() {
                    "no content-type"
                } else {
                    ct.as_str()
                }
            )));
        }
        let state = Driver {
            body: Box::pin(resp.inner.into_body().into_data_stream()),
            _lease: resp.lease,
            decoder: SseDecoder::new(),
            machine,
            queue: VecDeque::new(),
            finished: false,
            deadline: started + self.timeouts.total,
            idle: self.timeouts.idle,
        };
        let mut stream: EventStream = Box::pin(futures_util::stream::unfold(state, Driver::next));
        let first_deadline = started + self.timeouts.first_byte;
        let first = match tokio::time::timeout_at(first_deadline, stream.next()).await {
            Err(_) => return Err(ProviderError::Timeout(TimeoutKind::FirstByte)),
            Ok(None) => return Err(ProviderError::StreamCut),
            Ok(Some(Err(e))) => return Err(e),
            Ok(Some(Ok(ev))) => ev,
        };
        Ok(Box::pin(
            futures_util::stream::once(async move { Ok(first) }).chain(stream),
        ))
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, hyper::Error>> + Send>>;

/// State of one streamed response: bytes → SSE events → canonical events.
struct Driver<M> {
    body: ByteStream,
    /// The body's connection; declared after it, so it goes back to the pool after the body
    /// is dropped.
    _lease: Lease,
    decoder: SseDecoder,
    machine: M,
    /// Decoded items not yet handed out; an error is always the last item.
    queue: VecDeque<Result<StreamEvent, ProviderError>>,
    finished: bool,
    deadline: Instant,
    idle: Duration,
}

impl<M: StreamMachine> Driver<M> {
    async fn next(mut self) -> Option<(Result<StreamEvent, ProviderError>, Self)> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some((item, self));
            }
            if self.finished {
                return None;
            }
            let idle_deadline = (Instant::now() + self.idle).min(self.deadline);
            let step = match tokio::time::timeout_at(idle_deadline, self.body.next()).await {
                Err(_) => Err(ProviderError::Timeout(if Instant::now() >= self.deadline {
                    TimeoutKind::Total
                } else {
                    TimeoutKind::Idle
                })),
                Ok(Some(Err(e))) => Err(ProviderError::Protocol(error_chain(&e))),
                Ok(Some(Ok(bytes))) => self.on_bytes(&bytes),
                Ok(None) => self.on_eof(),
            };
            if let Err(e) = step {
                // Events decoded before the failure go out first, then the error, then the end.
                self.queue.push_back(Err(e));
                self.finished = true;
            }
        }
    }

    fn on_bytes(&mut self, bytes: &[u8]) -> Result<(), ProviderError> {
        for ev in self.decoder.feed(bytes) {
            if self.machine.is_done() {
                break;
            }
            self.queue
                .extend(self.machine.on_event(ev)?.into_iter().map(Ok));
        }
        if self.machine.is_done() {
            // Terminator seen: stop reading even if the upstream keeps the socket open.
            self.finished = true;
        }
        Ok(())
    }

    fn on_eof(&mut self) -> Result<(), ProviderError> {
        self.finished = true;
        for ev in self.decoder.finish() {
            if self.machine.is_done() {
                break;
            }
            self.queue
                .extend(self.machine.on_event(ev)?.into_iter().map(Ok));
        }
        self.queue
            .extend(self.machine.on_eof()?.into_iter().map(Ok));
        Ok(())
    }
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error body; a failed or slow read keeps what
/// arrived.
async fn read_capped(resp: Response, deadline: Instant, idle: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    // Dropped after the body: the connection goes back to the pool then.
    let Response {
        inner,
        lease: _lease,
    } = resp;
    let mut body = inner.into_body();
    while out.len() < MAX_ERROR_BODY {
        let d = (Instant::now() + idle).min(deadline);
        match tokio::time::timeout_at(d, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Some(chunk) = frame.data_ref() {
                    out.extend_from_slice(chunk);
                }
            }
            Ok(None) | Ok(Some(Err(_))) | Err(_) => break,
        }
    }
    out.truncate(MAX_ERROR_BODY);
    out
}

/// `retry-after-ms` (float ms), then `retry-after` (seconds or HTTP date), rounded up to whole
/// seconds; values over 24 h are ignored.
pub(crate) fn retry_after(h: &http::HeaderMap) -> Option<u64> {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let secs = if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        ms / 1000.0
    } else {
        let v = get("retry-after")?;
        v.parse::<f64>().ok().or_else(|| {
            let when = httpdate_to_unix(v)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs_f64();
            Some((when - now).max(0.0))
        })?
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return None;
    }
    Some(secs.ceil() as u64)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to unix seconds.
fn httpdate_to_unix(s: &str) -> Option<f64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, hms, "GMT"] = parts.as_slice() else {
        return None;
    };
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| x == month)? as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let t: Vec<i64> = hms.split(':').filter_map(|x| x.parse().ok()).collect();
    let [hh, mm, ss] = t.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) as f64)
}

/// Parses JSON, naming what failed to parse.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, ProviderError> {
    neureus_types::from_json_bytes(bytes)
        .map_err(|e| ProviderError::Protocol(format!("{what}: {e}")))
}

/// [`parse_json`] of text.
pub(crate) fn parse_json_str<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, ProviderError> {
    serde_json::from_str(text).map_err(|e| ProviderError::Protocol(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_json_parses_from_text_and_invalid_utf8_is_a_protocol_error() {
        let v: std::collections::BTreeMap<String, String> =
            parse_json("answer", r#"{"a":"\u00e9 é"}"#.as_bytes()).unwrap();
        assert_eq!(v["a"], "\u{e9} é");
        match parse_json::<serde_json::Value>("OpenAI response", b"{\"a\":\"\xff\"}") {
            Err(ProviderError::Protocol(m)) => {
                assert!(m.starts_with("OpenAI response: "), "{m}");
                assert!(m.contains("line 1 column"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_json_str::<serde_json::Value>("chunk", "{\"a\":"),
            Err(ProviderError::Protocol(m)) if m.starts_with("chunk: ")
        ));
    }

    #[test]
    fn the_host_header_is_what_hyper_util_would_send() {
        for (url, host) in [
            (
                "https://api.openai.com/v1/chat/completions",
                "api.openai.com",
            ),
            ("https://api.openai.com:443/v1", "api.openai.com"),
            ("https://api.openai.com:8443/v1", "api.openai.com:8443"),
            ("http://127.0.0.1:8080/v1", "127.0.0.1:8080"),
            ("http://localhost:80/v1", "localhost"),
            ("http://localhost:443/v1", "localhost:443"),
            ("http://[::1]:9/v1", "[::1]:9"),
            ("http://user@example.com/v1", "example.com"),
        ] {
            let u = HttpClient::parse_url(url).unwrap();
            assert_eq!(u.host, host, "{url}");
        }
    }

    #[test]
    fn upstream_urls_must_be_absolute_http() {
        let ok = HttpClient::parse_url("https://api.openai.com/v1/chat/completions").unwrap();
        assert_eq!(ok.uri().host(), Some("api.openai.com"));
        assert!(HttpClient::parse_url("http://127.0.0.1:9/v1").is_ok());
        for bad in ["/v1/chat", "ftp://example.com/x", "not a url", ""] {
            assert!(
                matches!(HttpClient::parse_url(bad), Err(ProviderError::Connect(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[tokio::test]
    async fn a_credential_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url("http://127.0.0.1:9/v1").unwrap();
        let headers = [(
            http::header::AUTHORIZATION,
            "Bearer sk-secret\nx".to_owned(),
        )];
        let err = client
            .post(&url, &headers, Vec::new(), |_, _| String::new())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ProviderError::Credentials(_)), "{text}");
        assert!(!text.contains("sk-secret"), "{text}");
    }

    /// An `https://` upstream is spoken to in TLS (with SNI), never in plain text: what the
    /// server receives first is a TLS ClientHello naming the host. Real providers are all
    /// HTTPS and cannot be reached from the tests, so this is the check that the TLS
    /// connector is wired in.
    #[tokio::test]
    async fn https_upstreams_get_a_tls_client_hello_with_the_host_name() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap();
            buf.truncate(n);
            buf // dropping the socket ends the handshake
        });
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url(&format!("https://localhost:{port}/v1/chat")).unwrap();
        let err = client
            .post(&url, &[], b"{}".to_vec(), |_, _| String::new())
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Connect(_)), "{err}");
        let hello = server.await.unwrap();
        // A TLS handshake record (0x16), version 3.x, carrying a ClientHello (type 1).
        assert!(hello.len() > 6, "{hello:?}");
        assert_eq!(
            (hello[0], hello[1], hello[5]),
            (0x16, 0x03, 0x01),
            "{hello:?}"
        );
        assert!(hello.windows(9).any(|w| w == b"localhost"), "no SNI");
        assert!(!hello.windows(4).any(|w| w == b"POST"), "plain text sent");
    }

    /// A TLS server on loopback presenting `localhost.cert.pem` (signed by the test CA);
    /// answers one request with `{"ok":true}`. Reports what each connection's handshake did:
    /// `Ok(request head)` or `Err(why it failed)`.
    fn tls_upstream() -> (
        u16,
        tokio::sync::mpsc::UnboundedReceiver<Result<String, String>>,
    ) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/tls/");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(format!("{dir}localhost.cert.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(format!("{dir}localhost.key.pem")).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let mut tls = match acceptor.accept(sock).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        continue;
                    }
                };
                let mut buf = vec![0u8; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let body = r#"{"ok":true}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.flush().await;
                let _ = tx.send(Ok(head));
            }
        });
        (port, rx)
    }

    fn test_ca() -> rustls::RootCertStore {
        use rustls::pki_types::pem::PemObject;
        let ca = rustls::pki_types::CertificateDer::from_pem_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/tls/ca.cert.pem"
        ))
        .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        roots
    }

    /// The TLS checks a provider connection relies on, against a server of our own: a
    /// certificate from a CA the client trusts, for the host in the URL, is accepted and
    /// the request goes through; the same certificate is refused by the gateway's own client
    /// (its CA is not a webpki root) and by a client that trusts the CA but reached the
    /// server by a name the certificate does not hold. Refused means refused before the
    /// request is sent: the server's handshake fails and no request (nor its key) arrives.
    #[tokio::test]
    async fn upstream_certificates_must_chain_to_a_trusted_root_and_name_the_host() {
        let (port, mut seen) = tls_upstream();
        let secret = (
            http::header::AUTHORIZATION,
            "Bearer sk-must-not-leak".to_owned(),
        );
        let call = |client: HttpClient, url: String| {
            let secret = secret.clone();
            async move {
                let url = HttpClient::parse_url(&url).unwrap();
                client
                    .post(&url, &[secret], b"{}".to_vec(), |_, _| String::new())
                    .await
            }
        };

        // Trusted CA, the certificate's own name: accepted.
        let trusting = HttpClient::with_roots(Timeouts::default(), test_ca());
        let (resp, _) = call(
            trusting.clone(),
            format!("https://localhost:{port}/v1/chat"),
        )
        .await
        .unwrap();
        assert_eq!(resp.inner.status(), 200);
        let head = seen.recv().await.unwrap().unwrap();
        assert!(head.starts_with("POST /v1/chat HTTP/1.1"), "{head}");

        // The gateway's client: the test CA is no webpki root.
        let err = call(
            HttpClient::new(Timeouts::default()).unwrap(),
            format!("https://localhost:{port}/v1/chat"),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ProviderError::Connect(_)), "{err}");
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");
        let server = seen.recv().await.unwrap().unwrap_err();
        assert!(server.to_lowercase().contains("alert"), "{server}");
        assert!(!err.to_string().contains("sk-must-not-leak"), "{err}");

        // Trusted CA, but 127.0.0.1 is not a name the certificate holds.
        let err = call(trusting, format!("https://127.0.0.1:{port}/v1/chat"))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::Connect(_)), "{err}");
        assert!(err.to_string().contains("not valid for name"), "{err}");
        assert!(seen.recv().await.unwrap().is_err(), "the request was sent");
    }

    /// A whole answer over [`MAX_BODY`] is refused once that much has arrived, not held.
    #[tokio::test]
    async fn an_answer_larger_than_the_cap_is_refused() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let len = MAX_BODY + 1;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
            );
            sock.write_all(head.as_bytes()).await.unwrap();
            let chunk = vec![b' '; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                if sock.write_all(&chunk[..n]).await.is_err() {
                    return; // the client stopped reading
                }
                left -= n;
            }
        });
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url(&format!("http://127.0.0.1:{port}/v1")).unwrap();
        let (resp, started) = client
            .post(&url, &[], b"{}".to_vec(), |_, _| String::new())
            .await
            .unwrap();
        let err = client.read_body(resp, started).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Protocol(m) if m.contains("larger than")),
            "{err}"
        );
    }

    /// A connect that does not complete within the connect timeout is a connect timeout.
    /// The listener's accept queue is filled and never drained, so the kernel drops further
    /// SYNs and the next connect hangs.
    #[tokio::test]
    async fn a_connect_that_hangs_is_a_connect_timeout() {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(0).unwrap();
        let addr = listener.local_addr().unwrap();
        // Fill the queue (Linux admits backlog + 1); keep them open, never accept.
        let mut held = Vec::new();
        for _ in 0..4 {
            if let Ok(Ok(s)) = tokio::time::timeout(
                Duration::from_millis(200),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                held.push(s);
            }
        }
        let client = HttpClient::new(Timeouts {
            connect: Duration::from_millis(300),
            ..Timeouts::default()
        })
        .unwrap();
        let url = HttpClient::parse_url(&format!("http://{addr}/v1")).unwrap();
        let started = std::time::Instant::now();
        let err = client
            .post(&url, &[], b"{}".to_vec(), |_, _| String::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Timeout(TimeoutKind::Connect)),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop((held, listener));
    }

    /// How a [`test_upstream`] answers each request.
    #[derive(Clone, Copy)]
    enum Answer {
        /// `{}` with a content length; the connection stays open.
        KeepAlive,
        /// `{}`, then the socket is closed (no `Connection: close`, as a server whose
        /// keep-alive timeout ran out).
        ThenClose,
        /// A chunked SSE head and one event, then nothing more while the connection stays open
        /// (a stream in progress); on later connections, `KeepAlive`.
        OpenStreamFirst,
        /// `{}` to the first request, then that connection closed 100 ms later (while a test
        /// holds the runtime's thread); on later connections, `KeepAlive`.
        FirstClosesSoon,
    }

    /// A plain-socket HTTP/1.1 upstream that answers per `answer`, on threads of its own (so
    /// that it goes on while a test blocks the runtime's thread; they end with the process or
    /// their connection); returns its address and the count of connections accepted.
    fn test_upstream(
        answer: Answer,
    ) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for sock in listener.incoming() {
                let Ok(sock) = sock else {
                    return;
                };
                let first = count.fetch_add(1, Ordering::SeqCst) == 0;
                std::thread::spawn(move || serve(sock, answer, first));
            }
        });
        (addr, accepted)
    }

    /// One connection of a [`test_upstream`] (`first`: the first it accepted).
    fn serve(mut sock: std::net::TcpStream, answer: Answer, first: bool) {
        use std::io::{Read, Write};
        const OK: &[u8] =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let mut buf = Vec::new();
        while read_request(&mut sock, &mut buf) {
            match answer {
                Answer::OpenStreamFirst if first => {
                    let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata: \r\n");
                    // Hold the stream open until the client goes away.
                    let mut rest = [0u8; 64];
                    while matches!(sock.read(&mut rest), Ok(n) if n > 0) {}
                    return;
                }
                Answer::ThenClose => {
                    let _ = sock.write_all(OK);
                    return;
                }
                Answer::FirstClosesSoon if first => {
                    let _ = sock.write_all(OK);
                    std::thread::sleep(Duration::from_millis(100));
                    return;
                }
                _ => {
                    if sock.write_all(OK).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Reads one request (its head, then content-length bytes of body) from `sock` into
    /// `buf` and takes it off; false when the client closed the connection or it failed.
    fn read_request(sock: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> bool {
        use std::io::Read;
        let mut more = |buf: &mut Vec<u8>| {
            let mut chunk = [0u8; 4096];
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => false,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    true
                }
            }
        };
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !more(buf) {
                return false;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < head_end + len {
            if !more(buf) {
                return false;
            }
        }
        buf.drain(..head_end + len);
        true
    }

    /// One POST of `{}`, its body read whole.
    async fn post_and_read(client: &HttpClient, url: &Url) -> Result<Bytes, ProviderError> {
        let (resp, started) = client
            .post(url, &[], b"{}".to_vec(), |_, _| String::new())
            .await?;
        client.read_body(resp, started).await
    }

    fn accepted(count: &std::sync::atomic::AtomicUsize) -> usize {
        count.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection() {
        let (addr, count) = test_upstream(Answer::KeepAlive);
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url(&format!("http://{addr}/v1/chat")).unwrap();
        for _ in 0..5 {
            assert_eq!(post_and_read(&client, &url).await.unwrap(), &b"{}"[..]);
        }
        assert_eq!(accepted(&count), 1);
        // Another path on the same origin uses the same pool.
        let other = HttpClient::parse_url(&format!("http://{addr}/v1/other?x=1")).unwrap();
        assert_eq!(post_and_read(&client, &other).await.unwrap(), &b"{}"[..]);
        assert_eq!(accepted(&count), 1);
        assert_eq!(client.pools.origin(&url.origin).idle(), 1);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_not_reused() {
        let (addr, count) = test_upstream(Answer::ThenClose);
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url(&format!("http://{addr}/v1")).unwrap();
        for n in 1..=3 {
            assert_eq!(post_and_read(&client, &url).await.unwrap(), &b"{}"[..]);
            // Let the connection's task see the close.
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(accepted(&count), n);
        }
        // The last connection may have gone back to the pool before its close was seen (the
        // upstream's FIN can come after the answer); a checkout must not hand it out, and
        // drops it.
        let pool = client.pools.origin(&url.origin);
        assert!(pool.idle() <= 1);
        assert!(pool.checkout(Instant::now()).is_none());
        assert_eq!(pool.idle(), 0);
    }

    /// A connection whose answer is still streaming is not handed to another request, and
    /// one whose answer was dropped half-read is not used again.
    #[tokio::test]
    async fn a_connection_busy_or_left_half_read_is_not_used_for_another_request() {
        let (addr, count) = test_upstream(Answer::OpenStreamFirst);
        let client = HttpClient::new(Timeouts {
            first_byte: Duration::from_secs(5),
            ..Timeouts::default()
        })
        .unwrap();
        let url = HttpClient::parse_url(&format!("http://{addr}/v1")).unwrap();
        let (streaming, _) = client
            .post(&url, &[], b"{}".to_vec(), |_, _| String::new())
            .await
            .unwrap();
        assert_eq!(post_and_read(&client, &url).await.unwrap(), &b"{}"[..]);
        assert_eq!(accepted(&count), 2);
        drop(streaming); // half-read: hyper closes that connection
        for _ in 0..3 {
            assert_eq!(post_and_read(&client, &url).await.unwrap(), &b"{}"[..]);
        }
        assert_eq!(
            accepted(&count),
            2,
            "the kept-alive connection serves the rest"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The kept-alive connection is the one checked out; the half-read one, found closed
        // behind it, is dropped.
        let pool = client.pools.origin(&url.origin);
        assert_eq!(pool.idle(), 2);
        assert!(pool.checkout(Instant::now()).is_some());
        assert!(pool.checkout(Instant::now()).is_none());
        assert_eq!(pool.idle(), 0, "the half-read connection was dropped");
    }

    /// Against a [`test_upstream`] whose first connection closes soon: one POST, then the runtime's thread blocked for
    /// `blocked` while the upstream closes that connection, then two more POSTs; their results.
    async fn posts_around_a_close(
        blocked: Duration,
    ) -> (Result<Bytes, ProviderError>, Result<Bytes, ProviderError>) {
        let (addr, _) = test_upstream(Answer::FirstClosesSoon);
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url(&format!("http://{addr}/v1")).unwrap();
        assert_eq!(post_and_read(&client, &url).await.unwrap(), &b"{}"[..]);
        std::thread::sleep(blocked);
        let second = post_and_read(&client, &url).await;
        let third = post_and_read(&client, &url).await;
        (second, third)
    }

    /// An upstream closes a pooled connection while the runtime's thread is busy (here:
    /// blocked), so the connection's task has not seen the close and the connection looks
    /// ready. After [`crate::pool::RECHECK_IDLE`] of idleness the pool lets the runtime poll
    /// its I/O before using it, sees the close, and opens a new connection.
    #[tokio::test]
    async fn a_close_that_arrived_while_the_runtime_was_busy_is_seen_before_reuse() {
        let (second, third) =
            posts_around_a_close(crate::pool::RECHECK_IDLE + Duration::from_millis(200)).await;
        assert_eq!(second.unwrap(), &b"{}"[..]);
        assert_eq!(third.unwrap(), &b"{}"[..]);
    }

    /// The same within [`crate::pool::RECHECK_IDLE`] (no upstream closes a connection that
    /// soon for idleness; one that closes it for another reason says so in its last answer
    /// with `Connection: close`, which hyper obeys): the request written into it fails with
    /// a protocol error, not a hang, and is not sent again by itself (the upstream may have
    /// taken it; a chat sent twice costs twice), as with hyper-util's pool. The next request
    /// opens a new connection.
    #[tokio::test]
    async fn a_request_written_into_a_connection_the_upstream_just_closed_fails_cleanly() {
        // Past the upstream's close (100 ms after its answer), within RECHECK_IDLE.
        let (second, third) = posts_around_a_close(Duration::from_millis(300)).await;
        let err = second.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Protocol(m) if m.contains("closed")),
            "{err}"
        );
        assert_eq!(third.unwrap(), &b"{}"[..]);
    }

    #[tokio::test]
    async fn an_idle_connection_is_closed_after_the_idle_timeout() {
        let (addr, count) = test_upstream(Answer::KeepAlive);
        let client = HttpClient::new(Timeouts::default()).unwrap();
        let url = HttpClient::parse_url(&format!("http://{addr}/v1")).unwrap();
        post_and_read(&client, &url).await.unwrap();
        let pool = client.pools.origin(&url.origin);
        assert_eq!(pool.idle(), 1);
        let almost = Instant::now() + crate::pool::IDLE_TIMEOUT - Duration::from_secs(1);
        let (sender, _) = pool
            .checkout(almost)
            .expect("still within the idle timeout");
        drop(sender);
        post_and_read(&client, &url).await.unwrap();
        assert_eq!(
            accepted(&count),
            2,
            "the checked-out sender was dropped, not returned"
        );
        let later = Instant::now() + crate::pool::IDLE_TIMEOUT;
        assert!(pool.checkout(later).is_none());
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn retry_after_forms() {
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(2));
        h.insert("retry-after-ms", "1500.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(2));
        let mut h = http::HeaderMap::new();
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777.0)
        );
        assert_eq!(retry_after(&h), Some(0));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
