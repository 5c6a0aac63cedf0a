//! Canonical types owned by Neureus: the chat request and response of the public contract
//! (`shared/spec/api.md` §3), the provider-neutral stream events, usage, and the error body.
//!
//! Providers translate to and from these types; nothing here knows any vendor's wire format.

mod chat;
mod error;
pub mod json_out;
mod secret;
mod stream;

pub use chat::{
    parse_arguments, ChatRequest, ChatResponse, Content, ContentPart, Effort, FinishReason,
    Message, Reasoning, Role, Tool, ToolCall, ToolChoice, ToolChoiceMode, Usage,
};
pub use error::{ErrorBody, ErrorDetail};
pub use secret::Secret;
pub use stream::{StreamEvent, ToolCallDelta};

/// Parses JSON from bytes as text checked once for UTF-8. From bytes, serde_json checks
/// every string value's UTF-8 on its own (~100 instructions each, ~27 per gateway request,
/// callgrind); from a `str` it checks none. Invalid UTF-8 is parsed from the bytes, so the
/// error is serde_json's own, with its position. Used for request bodies, upstream answers.
pub fn from_json_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

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

#[cfg(test)]
mod json_tests {
    use super::from_json_bytes;

    #[test]
    fn json_from_bytes_is_the_same_value_as_from_slice_and_keeps_its_errors() {
        for text in [
            r#"{"a":"\u00e9 é","b":[1,2.5,null,true]}"#,
            r#"{"a":"\ud83d\ude00 😀"}"#,
            "[]",
        ] {
            let fast: serde_json::Value = from_json_bytes(text.as_bytes()).unwrap();
            let slow: serde_json::Value = serde_json::from_slice(text.as_bytes()).unwrap();
            assert_eq!(fast, slow, "{text}");
        }
        for bad in [&b"{\"a\":\"\xff\"}"[..], b"{\"a\":", b"{\"a\" 1}"] {
            let fast = from_json_bytes::<serde_json::Value>(bad).unwrap_err();
            let slow = serde_json::from_slice::<serde_json::Value>(bad).unwrap_err();
            assert_eq!(fast.to_string(), slow.to_string());
        }
    }
}
