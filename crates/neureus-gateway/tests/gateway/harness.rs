//! Test harness: the mock upstream plus the real gateway on an ephemeral port.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use neureus_gateway::config::Config;
use neureus_gateway::state::Keys;
use neureus_gateway::AppState;
use neureus_mock::MockServer;
use neureus_providers::sse::SseDecoder;
use neureus_store::{SqliteStore, Store};
use serde_json::Value;

pub struct TestGateway {
    pub mock: MockServer,
    pub addr: SocketAddr,
    pub key: String,
    pub key_id: String,
    pub tenant_id: String,
    pub store: Arc<SqliteStore>,
    pub state: AppState,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The database's directory, removed on drop.
    data_dir: std::path::PathBuf,
}

/// One streamed chunk and when it arrived.
pub struct Timed {
    pub at: Duration,
    pub json: Value,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_keys(configure, Keys::ephemeral().unwrap()).await
    }

    pub async fn start_with_keys(configure: impl FnOnce(&mut Config), keys: Keys) -> Self {
        let mock = MockServer::start().await.unwrap();
        let mut config = Config::for_tests(
            &mock.openai_base(),
            &mock.anthropic_base(),
            &mock.workers_ai_base(),
        );
        configure(&mut config);
        // A database file, as `neureus serve` has: WAL, and request logs written by the
        // store's own log writer thread (in memory they would take the pool's path).
        let data_dir =
            std::env::temp_dir().join(format!("neureus-gw-test-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let store = Arc::new(
            SqliteStore::open_file(&data_dir.join("neureus.db"))
                .await
                .unwrap(),
        );
        store.migrate().await.unwrap();
        let (tenant, key) = store.create_tenant("test").await.unwrap();
        let state = AppState::new(config, store.clone(), keys).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(neureus_gateway::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestGateway {
            mock,
            addr,
            key: key.api_key.expose().to_owned(),
            key_id: key.key_id,
            tenant_id: tenant.id,
            store,
            state,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            data_dir,
        }
    }

    /// Triggers a graceful shutdown (as SIGTERM does) and waits for it to finish.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A GET with `key`: (status, JSON body).
    pub async fn get_json(&self, key: &str, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn post_chat(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/ai/chat"))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A non-streamed call: (status, headers, body).
    pub async fn chat(&self, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self.post_chat(body).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        (status, headers, json)
    }

    /// A streamed call: every `data:` chunk with its arrival time.
    pub async fn stream_timed(&self, body: &Value) -> Vec<Timed> {
        self.stream_timed_as(&self.key, body).await
    }

    /// A streamed call with another tenant's key.
    pub async fn stream_as(&self, key: &str, body: &Value) -> Vec<Value> {
        self.stream_timed_as(key, body)
            .await
            .into_iter()
            .map(|t| t.json)
            .collect()
    }

    async fn stream_timed_as(&self, key: &str, body: &Value) -> Vec<Timed> {
        let started = Instant::now();
        let resp = self
            .http
            .post(self.url("/ai/chat"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "stream did not start: {:?}",
            resp.text().await
        );
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let mut bytes = resp.bytes_stream();
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        while let Some(chunk) = bytes.next().await {
            for ev in decoder.feed(&chunk.unwrap()) {
                out.push(Timed {
                    at: started.elapsed(),
                    json: serde_json::from_str(&ev.data).unwrap(),
                });
            }
        }
        for ev in decoder.finish() {
            out.push(Timed {
                at: started.elapsed(),
                json: serde_json::from_str(&ev.data).unwrap(),
            });
        }
        out
    }

    pub async fn stream(&self, body: &Value) -> Vec<Value> {
        self.stream_timed(body)
            .await
            .into_iter()
            .map(|t| t.json)
            .collect()
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open files stay readable to the server until it stops (unlinked, not gone).
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Concatenates the `delta.<field>` strings of a stream.
pub fn joined(events: &[Value], field: &str) -> String {
    events
        .iter()
        .filter_map(|e| e["delta"][field].as_str())
        .collect()
}

/// The tool calls of a stream, assembled by index: (id, name, arguments text).
pub fn assembled_tool_calls(events: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for e in events {
        for d in e["delta"]["toolCalls"].as_array().into_iter().flatten() {
            let i = d["index"].as_u64().unwrap() as usize;
            if calls.len() <= i {
                calls.resize(i + 1, Default::default());
            }
            if let Some(id) = d["id"].as_str() {
                calls[i].0 = id.to_owned();
            }
            if let Some(n) = d["name"].as_str() {
                calls[i].1 = n.to_owned();
            }
            calls[i].2.push_str(d["arguments"].as_str().unwrap_or(""));
        }
    }
    calls
}

/// Polls `f` until it is true or `limit` passes.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    f()
}
