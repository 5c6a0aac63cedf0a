//! Cloudflare Workers AI native wire structs (providers.md §3). The request uses the
//! OpenAI-style message and tool shapes that `/ai/run` accepts; responses come in an envelope
//! whose `result` is either legacy (`response`) or OpenAI-shaped (`choices`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::openai::wire::{OpenaiChunk, OpenaiMessage, OpenaiResponse, OpenaiTool};

#[derive(Debug, Serialize)]
pub(crate) struct WorkersRequest<'a> {
    pub messages: Vec<OpenaiMessage<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Always sent: legacy models default to 256.
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OpenaiTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WorkersEnvelope {
    /// Legacy or OpenAI-shaped; told apart by [`WorkersEnvelope::result`].
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: Vec<WorkersError>,
}

/// `result`: OpenAI-shaped when it has `choices`, legacy otherwise.
#[derive(Debug)]
pub(crate) enum WorkersResult {
    Openai(OpenaiResponse),
    Legacy(WorkersLegacy),
}

impl WorkersEnvelope {
    /// The result, by shape (not by model name: Workers AI serves both shapes).
    pub fn result(&mut self) -> Result<Option<WorkersResult>, serde_json::Error> {
        let Some(v) = self.result.take().filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        Ok(Some(if v.get("choices").is_some() {
            WorkersResult::Openai(serde_json::from_value(v)?)
        } else {
            WorkersResult::Legacy(serde_json::from_value(v)?)
        }))
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct WorkersLegacy {
    /// Usually a string; JSON-mode answers may be objects.
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<WorkersToolCall>>,
    #[serde(default)]
    pub usage: Option<WorkersUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WorkersToolCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// An object on legacy models; some send a JSON string.
    #[serde(default)]
    pub arguments: Option<Value>,
    /// Some models nest OpenAI-style.
    #[serde(default)]
    pub function: Option<WorkersFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WorkersFunction {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub(crate) struct WorkersUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<crate::openai::wire::OpenaiPromptDetails>,
}

#[derive(Debug, Deserialize, Clone)]
pub(crate) struct WorkersError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

/// One `data:` line of a stream: an OpenAI chunk, a legacy chunk, or an error.
#[derive(Debug, Deserialize)]
pub(crate) struct WorkersChunk {
    #[serde(default)]
    pub errors: Option<Vec<WorkersError>>,
    #[serde(default)]
    pub choices: Option<Value>,
    #[serde(default)]
    pub response: Option<Value>,
    #[serde(default)]
    pub tool_calls: Option<Vec<WorkersToolCall>>,
    #[serde(default)]
    pub usage: Option<WorkersUsage>,
}

/// The OpenAI chunk view of a line that has `choices`.
pub(crate) fn as_openai_chunk(data: &str) -> Result<OpenaiChunk, serde_json::Error> {
    serde_json::from_str(data)
}
