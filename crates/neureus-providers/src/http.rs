//! The I/O every adapter shares: one pooled HTTP client, the four timeouts, reading an error
//! body, and turning an SSE response into a canonical event stream through a
//! [`StreamMachine`], peeking the first event before the caller commits to a 200.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use neureus_types::StreamEvent;
use tokio::time::Instant;

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

/// A pooled HTTP client plus the timeouts every call obeys.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeouts: Timeouts,
}

/// Reads a provider's error body into a message.
pub(crate) type ErrorParser = fn(status: u16, body: &[u8]) -> String;

impl HttpClient {
    /// Builds the client.
    pub fn new(timeouts: Timeouts) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            // Provider APIs never redirect a POST, and retries are ours to decide (a retried
            // chat costs tokens twice): both layers off, which also keeps them off the hot path.
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .build()
            .map_err(|e| ProviderError::Connect(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient { client, timeouts })
    }

    /// Parses an upstream URL once, so requests do not parse (and IDNA-map) it again.
    pub(crate) fn parse_url(url: &str) -> Result<reqwest::Url, ProviderError> {
        reqwest::Url::parse(url)
            .map_err(|e| ProviderError::Connect(format!("invalid upstream URL {url:?}: {e}")))
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Sends a JSON POST and waits for the headers (first-byte timeout). A non-2xx answer
    /// becomes [`ProviderError::Upstream`] with the message `parse_error` reads from the body.
    pub(crate) async fn post(
        &self,
        url: reqwest::Url,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
        parse_error: ErrorParser,
    ) -> Result<(reqwest::Response, Instant), ProviderError> {
        let started = Instant::now();
        let mut rb = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        let resp = match tokio::time::timeout(self.timeouts.first_byte, rb.send()).await {
            Err(_) => return Err(ProviderError::Timeout(TimeoutKind::FirstByte)),
            Ok(Err(e)) => return Err(map_reqwest(&e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok((resp, started));
        }
        let retry_after = retry_after(resp.headers());
        let deadline = started + self.timeouts.total;
        let body = read_capped(resp, deadline, self.timeouts.idle)
            .await
            .unwrap_or_default();
        Err(ProviderError::Upstream {
            status: status.as_u16(),
            message: parse_error(status.as_u16(), &body),
            retry_after,
        })
    }

    /// Reads a whole non-streamed body within the total deadline.
    pub(crate) async fn read_body(
        &self,
        resp: reqwest::Response,
        started: Instant,
    ) -> Result<Bytes, ProviderError> {
        let deadline = started + self.timeouts.total;
        match tokio::time::timeout_at(deadline, resp.bytes()).await {
            Err(_) => Err(ProviderError::Timeout(TimeoutKind::Total)),
            Ok(Err(e)) => Err(map_reqwest(&e)),
            Ok(Ok(b)) => Ok(b),
        }
    }

    /// Turns an SSE response into canonical events through `machine`, and waits for the first
    /// event (within the first-byte timeout) so early failures surface as plain errors.
    pub(crate) async fn event_stream<M: StreamMachine>(
        &self,
        resp: reqwest::Response,
        started: Instant,
        machine: M,
    ) -> Result<EventStream, ProviderError> {
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
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
            body: Box::pin(resp.bytes_stream()),
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
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// State of one streamed response: bytes → SSE events → canonical events.
struct Driver<M> {
    body: ByteStream,
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
                Ok(Some(Err(e))) => Err(map_reqwest(&e)),
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

/// Maps a transport error.
fn map_reqwest(e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout(if e.is_connect() {
            TimeoutKind::Connect
        } else {
            TimeoutKind::Total
        })
    } else if e.is_connect() {
        ProviderError::Connect(without_url(e))
    } else {
        ProviderError::Protocol(without_url(e))
    }
}

/// A transport error's text without the URL (which could carry an account id).
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "upstream");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error body.
async fn read_capped(
    resp: reqwest::Response,
    deadline: Instant,
    idle: Duration,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while out.len() < MAX_ERROR_BODY {
        let d = (Instant::now() + idle).min(deadline);
        match tokio::time::timeout_at(d, body.next()).await {
            Ok(Some(Ok(chunk))) => out.extend_from_slice(&chunk),
            Ok(None) => break,
            Ok(Some(Err(_))) | Err(_) => break,
        }
    }
    out.truncate(MAX_ERROR_BODY);
    Some(out)
}

/// `retry-after-ms` (float ms), then `retry-after` (seconds or HTTP date), rounded up to whole
/// seconds; values over 24 h are ignored.
pub(crate) fn retry_after(h: &reqwest::header::HeaderMap) -> Option<u64> {
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
    serde_json::from_slice(bytes).map_err(|e| ProviderError::Protocol(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(2));
        h.insert("retry-after-ms", "1500.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(2));
        let mut h = reqwest::header::HeaderMap::new();
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
