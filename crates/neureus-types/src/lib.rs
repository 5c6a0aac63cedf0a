//! Canonical types owned by Neureus: the chat request and response of the public contract
//! (`shared/spec/api.md` §3), the provider-neutral stream events, usage, and the error body.
//!
//! Providers translate to and from these types; nothing here knows any vendor's wire format.

mod chat;
mod error;
mod secret;
mod stream;

pub use chat::{
    parse_arguments, ChatRequest, ChatResponse, Content, ContentPart, Effort, FinishReason,
    Message, Reasoning, Role, Tool, ToolCall, ToolChoice, ToolChoiceMode, Usage,
};
pub use error::{ErrorBody, ErrorDetail};
pub use secret::Secret;
pub use stream::{StreamEvent, ToolCallDelta};

/// Which upstream API a model is served by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderId {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions.
    Openai,
    /// Cloudflare Workers AI (native `/ai/run/{model}`).
    WorkersAi,
}

impl ProviderId {
    /// Every provider, in a stable order.
    pub const ALL: [ProviderId; 3] = [
        ProviderId::Anthropic,
        ProviderId::Openai,
        ProviderId::WorkersAi,
    ];

    /// The contract's name for this provider (`anthropic`, `openai`, `workers-ai`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::Anthropic => "anthropic",
            ProviderId::Openai => "openai",
            ProviderId::WorkersAi => "workers-ai",
        }
    }

    /// Parses the contract's name of a provider.
    pub fn parse(s: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
