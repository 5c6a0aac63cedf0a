//! Rust client of the Neureus AI gateway, with the TypeScript SDK's surface: `chat`,
//! `stream` (a `futures::Stream` of events), provider keys, models, logs and usage. Errors
//! are typed; 429 and 5xx are retried with backoff that honours `Retry-After`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), neureus_client::Error> {
//! use futures_util::StreamExt;
//! use neureus_client::{Neureus, StreamEvent};
//! use neureus_types::{Message, Role};
//!
//! let client = Neureus::from_env()?;
//! let r = client.chat("claude-sonnet-4-6", vec![Message::text(Role::User, "Hello")]).await?;
//! println!("{} (${:.6})", r.content, r.cost_usd);
//! let mut s = client.stream("gpt-4o-mini", vec![Message::text(Role::User, "Write a haiku.")]).await?;
//! while let Some(ev) = s.next().await {
//!     if let StreamEvent::Content(t) = ev? { print!("{t}") }
//! }
//! # Ok(()) }
//! ```

mod sse;

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use neureus_types::{ChatRequest, Message, ToolCall};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gateway answered with an error.
    #[error("{status} {kind}: {message}")]
    Api {
        /// HTTP status (200 for an error inside a stream).
        status: u16,
        /// Contract error type.
        kind: String,
        /// Message.
        message: String,
        /// `x-request-id`.
        request_id: Option<String>,
        /// Seconds from `Retry-After`.
        retry_after: Option<f64>,
    },
    /// The gateway could not be reached or the connection failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// Missing configuration.
    #[error("{0}")]
    Config(String),
    /// An answer that is not what the contract says.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl Error {
    /// HTTP status, when the gateway answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A whole answer (contract §3).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    /// Log record id.
    pub log_id: String,
    /// Model used.
    pub model: String,
    /// Provider used.
    pub provider: String,
    /// Answer text.
    pub content: String,
    /// Tool calls.
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning, when exposed.
    pub reasoning: Option<String>,
    /// Why it stopped.
    pub finish_reason: String,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// Latency, ms.
    pub latency_ms: u64,
    /// How `auto` chose (when used).
    #[serde(default)]
    pub routing: Option<Value>,
}

/// The final stream event.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamFinal {
    /// Log record id.
    pub log_id: String,
    /// Model used.
    pub model: String,
    /// Provider used.
    pub provider: String,
    /// Why it stopped.
    pub finish_reason: Option<String>,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
    /// The error, if the stream failed midway.
    #[serde(default)]
    pub error: Option<Value>,
}

/// A tool-call fragment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ToolCallDelta {
    /// Call position.
    pub index: u32,
    /// Id (first fragment).
    #[serde(default)]
    pub id: Option<String>,
    /// Name (first fragment).
    #[serde(default)]
    pub name: Option<String>,
    /// Arguments fragment.
    #[serde(default)]
    pub arguments: String,
}

/// One event of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// Answer text.
    Content(String),
    /// Reasoning text.
    Reasoning(String),
    /// Tool-call fragments.
    ToolCalls(Vec<ToolCallDelta>),
    /// The end, with totals.
    Final(StreamFinal),
}

/// A stream of events; an in-band error ends it with `Err`.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, Error>> + Send>>;

/// A provider's credential state for this tenant.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStatus {
    /// `openai`, `anthropic`, `workers-ai`.
    pub provider: String,
    /// `tenant`, `global` or `none`.
    pub source: String,
    /// Key version (tenant keys).
    #[serde(default)]
    pub version: Option<i64>,
    /// Last four characters (tenant keys).
    #[serde(default)]
    pub last4: Option<String>,
}

/// The client.
#[derive(Debug, Clone)]
pub struct Neureus {
    http: reqwest::Client,
    base: String,
    key: String,
    max_retries: u32,
}

#[derive(Serialize)]
struct KeyBody<'a> {
    key: &'a str,
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

impl Neureus {
    /// A client for `base_url` with a tenant key.
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Neureus {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            key: api_key.to_owned(),
            max_retries: 2,
        })
    }

    /// From `NEUREUS_API_KEY` and `NEUREUS_BASE_URL` (default `http://127.0.0.1:8787`).
    pub fn from_env() -> Result<Self, Error> {
        let key = std::env::var("NEUREUS_API_KEY")
            .map_err(|_| Error::Config("set NEUREUS_API_KEY to a tenant API key (nru_…)".into()))?;
        let base =
            std::env::var("NEUREUS_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8787".into());
        Self::new(&base, &key)
    }

    /// Retries of 429 / 5xx / transport errors (default 2).
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, Error> {
        let mut attempt = 0;
        loop {
            let mut rb = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&self.key);
            if let Some(b) = body {
                rb = rb.json(b);
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) if attempt < self.max_retries => {
                    let _ = e;
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(Error::Transport(e.to_string())),
            };
            if resp.status().is_success() {
                return Ok(resp);
            }
            let status = resp.status().as_u16();
            let err = api_error(resp).await;
            let retry = status == 408 || status == 429 || status >= 500;
            if !retry || attempt >= self.max_retries {
                return Err(err);
            }
            let wait = match &err {
                Error::Api {
                    retry_after: Some(s),
                    ..
                } if *s <= 120.0 => Duration::from_secs_f64(*s),
                _ => backoff(attempt),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let resp = self.send(method, path, body).await?;
        resp.json().await.map_err(|e| Error::Decode(e.to_string()))
    }

    /// A whole answer for a full request (tools, reasoning, …).
    pub async fn chat_request(&self, req: &ChatRequest) -> Result<ChatResponse, Error> {
        let mut body = serde_json::to_value(req).map_err(|e| Error::Decode(e.to_string()))?;
        body["stream"] = Value::Bool(false);
        self.json(reqwest::Method::POST, "/ai/chat", Some(&body))
            .await
    }

    /// A whole answer.
    pub async fn chat(&self, model: &str, messages: Vec<Message>) -> Result<ChatResponse, Error> {
        self.chat_request(&request(model, messages)).await
    }

    /// A live answer for a full request.
    pub async fn stream_request(&self, req: &ChatRequest) -> Result<EventStream, Error> {
        let mut body = serde_json::to_value(req).map_err(|e| Error::Decode(e.to_string()))?;
        body["stream"] = Value::Bool(true);
        let resp = self
            .send(reqwest::Method::POST, "/ai/chat", Some(&body))
            .await?;
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp
            .bytes_stream()
            .map(|r| r.map_err(|e| Error::Transport(e.to_string())));
        Ok(Box::pin(sse::events(bytes, request_id)))
    }

    /// A live answer.
    pub async fn stream(&self, model: &str, messages: Vec<Message>) -> Result<EventStream, Error> {
        self.stream_request(&request(model, messages)).await
    }

    /// Stores this tenant's own key (Workers AI also needs `account_id`).
    pub async fn set_provider_key(
        &self,
        provider: &str,
        key: &str,
        account_id: Option<&str>,
    ) -> Result<ProviderStatus, Error> {
        let body = serde_json::to_value(KeyBody { key, account_id })
            .map_err(|e| Error::Decode(e.to_string()))?;
        self.json(
            reqwest::Method::PUT,
            &format!("/ai/providers/{provider}/key"),
            Some(&body),
        )
        .await
    }

    /// Replaces it (version + 1).
    pub async fn rotate_provider_key(
        &self,
        provider: &str,
        key: &str,
        account_id: Option<&str>,
    ) -> Result<ProviderStatus, Error> {
        let body = serde_json::to_value(KeyBody { key, account_id })
            .map_err(|e| Error::Decode(e.to_string()))?;
        self.json(
            reqwest::Method::POST,
            &format!("/ai/providers/{provider}/key/rotate"),
            Some(&body),
        )
        .await
    }

    /// Back to the operator's key.
    pub async fn delete_provider_key(&self, provider: &str) -> Result<ProviderStatus, Error> {
        self.json(
            reqwest::Method::DELETE,
            &format!("/ai/providers/{provider}/key"),
            None,
        )
        .await
    }

    /// Every provider's credential source.
    pub async fn list_providers(&self) -> Result<Vec<ProviderStatus>, Error> {
        #[derive(Deserialize)]
        struct L {
            providers: Vec<ProviderStatus>,
        }
        Ok(self
            .json::<L>(reqwest::Method::GET, "/ai/providers", None)
            .await?
            .providers)
    }

    /// The catalog (`GET /ai/models`).
    pub async fn models(&self) -> Result<Value, Error> {
        self.json(reqwest::Method::GET, "/ai/models", None).await
    }

    /// Request logs (`GET /ai/logs`), e.g. `&[("limit", "20"), ("model", "gpt-4o")]`.
    pub async fn logs(&self, query: &[(&str, &str)]) -> Result<Value, Error> {
        self.json(
            reqwest::Method::GET,
            &format!("/ai/logs{}", qs(query)),
            None,
        )
        .await
    }

    /// One log record.
    pub async fn log(&self, log_id: &str) -> Result<Value, Error> {
        self.json(reqwest::Method::GET, &format!("/ai/logs/{log_id}"), None)
            .await
    }

    /// Usage (`GET /ai/usage`), e.g. `&[("groupBy", "day")]`.
    pub async fn usage(&self, query: &[(&str, &str)]) -> Result<Value, Error> {
        self.json(
            reqwest::Method::GET,
            &format!("/ai/usage{}", qs(query)),
            None,
        )
        .await
    }
}

fn qs(q: &[(&str, &str)]) -> String {
    if q.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn request(model: &str, messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        messages,
        stream: false,
        max_tokens: None,
        temperature: None,
        top_p: None,
        stop: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        reasoning: None,
        metadata: None,
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((500u64 << attempt.min(4)).min(8_000))
}

async fn api_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let h = resp.headers();
    let retry_after = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let mut request_id = h
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let e = &body["error"];
    if let Some(r) = e["requestId"].as_str() {
        request_id = Some(r.to_owned());
    }
    Error::Api {
        status,
        kind: e["type"].as_str().unwrap_or("internal_error").to_owned(),
        message: e["message"].as_str().unwrap_or("no message").to_owned(),
        request_id,
        retry_after,
    }
}
