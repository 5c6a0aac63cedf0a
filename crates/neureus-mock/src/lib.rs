//! A loopback mock of the OpenAI, Anthropic and Workers AI wire formats, for tests and
//! `neureus serve --demo`.
//!
//! One server answers all three providers on their real paths:
//! `POST /v1/chat/completions` (OpenAI, base `http://ADDR/v1`), `POST /v1/messages`
//! (Anthropic, base `http://ADDR`) and `POST /client/v4/accounts/{id}/ai/run/{model}`
//! (Workers AI, base `http://ADDR/client/v4`). Each request takes the next [`Script`] queued
//! for its provider, or answers a default echo. Every request is recorded (path, headers,
//! body, and whether the client hung up before the answer ended).
//!
//! It deliberately does not import `neureus-providers`: the wire JSON here is written from
//! the vendors' documentation on its own, so a wrong field name in an adapter cannot be
//! matched by the same mistake here.

mod anthropic;
mod openai;
mod render;
mod script;
mod workers;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::Value;

pub use script::{MockUsage, Reply, Script};

/// Which provider a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MockProvider {
    /// OpenAI Chat Completions.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Workers AI native run.
    WorkersAi,
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Addressed provider.
    pub provider: MockProvider,
    /// Request path.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: HashMap<String, String>,
    /// Body as JSON (`Value::String` of the raw text when it was not JSON).
    pub body: Value,
    /// The client went away before the whole answer was sent.
    pub aborted: bool,
    /// The whole answer was sent.
    pub completed: bool,
}

impl RecordedRequest {
    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

struct Entry {
    req: RecordedRequest,
    aborted: Arc<AtomicBool>,
    completed: Arc<AtomicBool>,
}

#[derive(Default)]
struct Inner {
    scripts: HashMap<MockProvider, VecDeque<Script>>,
    recorded: Vec<Entry>,
    /// Added before every default (unscripted) answer: simulated provider latency.
    default_delay: std::time::Duration,
    /// Do not keep request records (long benchmarks).
    no_record: bool,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking test thread must not wedge the mock for the others.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running mock server. Dropping it stops the server.
pub struct MockServer {
    addr: SocketAddr,
    shared: Shared,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl MockServer {
    /// Binds `127.0.0.1:0` and serves in the background.
    pub async fn start() -> std::io::Result<MockServer> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Binds `addr` and serves in the background.
    pub async fn start_on(addr: &str) -> std::io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        let listener = listener.tap_io(move |_| {
            accepted.fetch_add(1, Ordering::SeqCst);
        });
        let shared = Shared::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(openai_handler))
            .route("/v1/messages", post(anthropic_handler))
            .route(
                "/client/v4/accounts/{account}/ai/run/{*model}",
                post(workers_handler),
            )
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "mock server stopped");
            }
        });
        Ok(MockServer {
            addr,
            shared,
            connections,
            shutdown: Some(tx),
        })
    }

    /// TCP connections accepted so far (a client that keeps its connections alive opens
    /// one per concurrent request, not one per request).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `NEUREUS_OPENAI_BASE_URL` for this mock.
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `NEUREUS_ANTHROPIC_BASE_URL` for this mock.
    pub fn anthropic_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `NEUREUS_WORKERS_AI_BASE_URL` for this mock.
    pub fn workers_ai_base(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// Queues a script: the next request to `provider` plays it.
    pub fn push(&self, provider: MockProvider, script: Script) {
        self.shared
            .lock()
            .scripts
            .entry(provider)
            .or_default()
            .push_back(script);
    }

    /// Simulated latency before every unscripted answer (demo, benchmarks).
    pub fn set_default_delay(&self, d: std::time::Duration) {
        self.shared.lock().default_delay = d;
    }

    /// Stops keeping request records (memory stays flat under long load tests).
    pub fn set_recording(&self, on: bool) {
        self.shared.lock().no_record = !on;
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .recorded
            .iter()
            .map(|e| RecordedRequest {
                aborted: e.aborted.load(Ordering::SeqCst),
                completed: e.completed.load(Ordering::SeqCst),
                ..e.req.clone()
            })
            .collect()
    }

    /// The requests addressed to one provider.
    pub fn requests_for(&self, provider: MockProvider) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.provider == provider)
            .collect()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// What a handler needs to answer one request.
pub(crate) struct Call {
    pub body: Value,
    pub model: String,
    pub script: Script,
    pub aborted: Arc<AtomicBool>,
    pub completed: Arc<AtomicBool>,
}

fn record(
    shared: &Shared,
    provider: MockProvider,
    path: String,
    headers: &HeaderMap,
    bytes: &Bytes,
    model: String,
) -> Call {
    let body = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()));
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let model = if model.is_empty() {
        body.get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    } else {
        model
    };
    let aborted = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicBool::new(false));
    let mut inner = shared.lock();
    let delay = inner.default_delay;
    let script = inner
        .scripts
        .get_mut(&provider)
        .and_then(VecDeque::pop_front)
        .unwrap_or_else(|| Script::echo(&body, &model).first_byte_delay(delay));
    if inner.no_record {
        return Call {
            body,
            model,
            script,
            aborted,
            completed,
        };
    }
    inner.recorded.push(Entry {
        req: RecordedRequest {
            provider,
            path,
            headers,
            body: body.clone(),
            aborted: false,
            completed: false,
        },
        aborted: aborted.clone(),
        completed: completed.clone(),
    });
    Call {
        body,
        model,
        script,
        aborted,
        completed,
    }
}

async fn openai_handler(State(s): State<Shared>, headers: HeaderMap, bytes: Bytes) -> Response {
    let call = record(
        &s,
        MockProvider::Openai,
        "/v1/chat/completions".into(),
        &headers,
        &bytes,
        String::new(),
    );
    openai::answer(call, &headers).await
}

async fn anthropic_handler(State(s): State<Shared>, headers: HeaderMap, bytes: Bytes) -> Response {
    let call = record(
        &s,
        MockProvider::Anthropic,
        "/v1/messages".into(),
        &headers,
        &bytes,
        String::new(),
    );
    anthropic::answer(call, &headers).await
}

async fn workers_handler(
    State(s): State<Shared>,
    Path((account, model)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let path = format!("/client/v4/accounts/{account}/ai/run/{model}");
    let call = record(&s, MockProvider::WorkersAi, path, &headers, &bytes, model);
    workers::answer(call, &headers).await
}

/// A JSON response.
pub(crate) fn json_response(status: u16, extra: &[(&str, String)], body: &Value) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (k, v) in extra {
        b = b.header(*k, v);
    }
    b.body(axum::body::Body::from(body.to_string()))
        .unwrap_or_default()
}
