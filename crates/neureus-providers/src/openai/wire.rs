//! OpenAI Chat Completions wire structs, as the vendor documents them (providers.md §1).
//! Requests borrow from the canonical request; responses accept missing and unknown fields.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<OpenaiMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<OpenaiStreamOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OpenaiTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiStreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiMessage<'a> {
    pub role: &'static str,
    /// `null` is allowed only on an assistant message with tool calls.
    pub content: OpenaiContent<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OpenaiToolCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum OpenaiContent<'a> {
    Null,
    Text(std::borrow::Cow<'a, str>),
    Parts(Vec<OpenaiPart<'a>>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OpenaiPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: OpenaiImageUrl<'a> },
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiImageUrl<'a> {
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiToolCall<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OpenaiFunctionCall<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiFunctionCall<'a> {
    pub name: &'a str,
    /// JSON text, as the API requires.
    pub arguments: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiTool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OpenaiFunction<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OpenaiFunction<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<&'a Value>,
}

// === responses ===

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiResponse {
    #[serde(default)]
    pub choices: Option<Vec<OpenaiChoice>>,
    #[serde(default)]
    pub usage: Option<OpenaiUsage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiChoice {
    #[serde(default)]
    pub index: u32,
    pub message: OpenaiRespMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiRespMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<OpenaiRespToolCall>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiRespToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub function: OpenaiRespFunction,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiRespFunction {
    #[serde(default)]
    pub name: Option<String>,
    /// A JSON string per the docs; some compatible servers send an object.
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub(crate) struct OpenaiUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<OpenaiPromptDetails>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy)]
pub(crate) struct OpenaiPromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiChunk {
    #[serde(default)]
    pub choices: Option<Vec<OpenaiChunkChoice>>,
    #[serde(default)]
    pub usage: Option<OpenaiUsage>,
    #[serde(default)]
    pub error: Option<OpenaiErrorObject>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<OpenaiDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiDelta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<OpenaiDeltaToolCall>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiDeltaToolCall {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<OpenaiDeltaFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiDeltaFunction {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiErrorBody {
    pub error: OpenaiErrorObject,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenaiErrorObject {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<Value>,
}
