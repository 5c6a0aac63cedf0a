//! The `Provider` trait and the three upstream adapters (Anthropic Messages, OpenAI Chat
//! Completions, Workers AI native). Each adapter is pure translation (`translate.rs`) plus a
//! pure SSE state machine (`stream.rs`); the I/O they share (timeouts, error reading, SSE
//! decoding) lives in `http.rs` and `sse.rs`.

pub mod anthropic;
mod error;
mod http;
pub mod openai;
mod pool;
pub mod sse;
#[cfg(test)]
mod testutil;
mod think;
pub mod workers_ai;

use std::pin::Pin;

use async_trait::async_trait;
use futures_util::Stream;
use neureus_types::{ChatRequest, ChatResponse, ProviderId, Secret, StreamEvent};

pub use error::{ProviderError, TimeoutKind};
pub use http::{HttpClient, Timeouts};
pub use think::ThinkSplitter;

/// A stream of canonical events. Ends after `Finish`/`Usage`, or with an `Err` item.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// The credentials one upstream call uses.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// API key or token.
    pub api_key: Secret,
    /// Workers AI account id.
    pub account_id: Option<String>,
}

/// How a model exposes reasoning, which decides how `reasoning` is sent and parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningStyle {
    /// The model does not reason; a `reasoning` request field is not sent.
    #[default]
    None,
    /// Anthropic `thinking: {type: enabled, budget_tokens}`.
    AnthropicBudget,
    /// Anthropic `thinking: {type: adaptive}` with `output_config.effort`.
    AnthropicAdaptive,
    /// OpenAI `reasoning_effort`.
    OpenaiEffort,
    /// Reasoning inline in the text as `<think>…</think>` (DeepSeek R1); the opening tag may
    /// be missing.
    InlineThink,
}

/// What an adapter needs to know about the model it calls.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamModel {
    /// The provider's model id, e.g. `@cf/meta/llama-3.3-70b-instruct-fp8-fast`.
    pub id: String,
    /// Default `max_tokens` when the request sets none.
    pub default_max_tokens: u32,
    /// How reasoning works for this model.
    pub reasoning: ReasoningStyle,
}

/// One upstream API.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Which provider this is.
    fn id(&self) -> ProviderId;

    /// A non-streaming call.
    async fn chat(
        &self,
        req: &ChatRequest,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<ChatResponse, ProviderError>;

    /// A streaming call. Resolves only after the first upstream event, so early errors are
    /// plain HTTP errors; the returned stream starts with that event.
    async fn chat_stream(
        &self,
        req: &ChatRequest,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<EventStream, ProviderError>;
}

/// A pure state machine from decoded SSE events to canonical stream events.
pub trait StreamMachine: Send + 'static {
    /// One SSE event in; zero or more canonical events out.
    fn on_event(&mut self, ev: sse::SseEvent) -> Result<Vec<StreamEvent>, ProviderError>;
    /// Whether the provider's end-of-stream marker has been seen.
    fn is_done(&self) -> bool;
    /// The upstream closed the connection. Flushes anything held back; an error if the
    /// stream ended before its terminator.
    fn on_eof(&mut self) -> Result<Vec<StreamEvent>, ProviderError>;
}

/// A readable message from an error body that is not in the provider's documented shape.
pub(crate) fn http_error_text(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        text.chars().take(300).collect()
    }
}
