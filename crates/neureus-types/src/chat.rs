//! The chat request of contract §3 and the provider-neutral answer.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `POST /ai/chat` body. Unknown fields are rejected so a typo (`maxToken`) is a clear 400
/// instead of a silently ignored setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatRequest {
    /// A catalog model id, or `auto`.
    pub model: String,
    /// The conversation; at least one message.
    pub messages: Vec<Message>,
    /// Answer as `text/event-stream`.
    #[serde(default)]
    pub stream: bool,
    /// Upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences; a single string is accepted as a list of one.
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub stop: Vec<String>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// How the model may use tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Reasoning effort or budget, for models that reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Caller's metadata (`user` is forwarded where a provider accepts it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// Text or parts; `null` only on an assistant message that carries tool calls.
    #[serde(default)]
    pub content: Option<Content>,
    /// Tool calls made by an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Optional speaker name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    /// A plain text message.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(Content::Text(text.into())),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// All text of this message joined (image parts skipped).
    pub fn text_content(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => {
                let mut out = String::new();
                for p in parts {
                    if let ContentPart::Text { text } = p {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        out.push_str(text);
                    }
                }
                out
            }
        }
    }
}

/// Message role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

/// Message content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts.
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image by `https://` URL or `data:` URI.
    Image {
        /// The image location.
        url: String,
    },
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Call id (tool results refer to it).
    pub id: String,
    /// Function name.
    pub name: String,
    /// Parsed JSON arguments; the raw string when the model produced invalid JSON.
    #[serde(default)]
    pub arguments: Value,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Function name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// `toolChoice`: `"auto" | "none" | "required" | {"name": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// A mode.
    Mode(ToolChoiceMode),
    /// Force one named tool.
    Named {
        /// The tool's name.
        name: String,
    },
}

/// Tool choice modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
}

/// `reasoning`: an effort level or a token budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reasoning {
    /// Effort level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Effort>,
    /// Token budget for thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

/// Reasoning effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effort {
    /// Little thinking.
    Low,
    /// Some thinking.
    Medium,
    /// Much thinking.
    High,
}

impl Effort {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
        }
    }

    /// A thinking budget for providers that take tokens rather than levels.
    pub fn budget_tokens(self) -> u32 {
        match self {
            Effort::Low => 1024,
            Effort::Medium => 4096,
            Effort::High => 16384,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end or stop sequence.
    Stop,
    /// Token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Refused or filtered.
    ContentFilter,
}

impl FinishReason {
    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }
}

/// Token usage of one upstream call, normalised across providers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache (part of `input_tokens`).
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's prompt cache (part of `input_tokens`).
    pub cache_write_tokens: u64,
}

/// The provider-neutral answer of a non-streaming call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    /// Answer text.
    pub content: String,
    /// Tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Reasoning text, when the model exposed it.
    pub reasoning: Option<String>,
    /// Why it stopped.
    pub finish_reason: Option<FinishReason>,
    /// Usage.
    pub usage: Usage,
}

/// Parses the accumulated text of a tool call's arguments: the JSON value, or the raw string
/// when it is not valid JSON (contract §3). Empty text means no arguments: `{}`.
pub fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrList {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StringOrList>::deserialize(d)? {
        None => Vec::new(),
        Some(StringOrList::One(s)) => vec![s],
        Some(StringOrList::Many(v)) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_example() {
        let body = r#"{
          "model": "claude-sonnet-4-6",
          "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type":"text","text":"hi"},{"type":"image","url":"https://x/y.png"}]},
            {"role": "assistant", "content": null, "toolCalls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]},
            {"role": "tool", "toolCallId": "call_1", "content": "{\"tempC\": 3}"}
          ],
          "stream": false, "maxTokens": 1024, "temperature": 0.2, "topP": 1, "stop": "\n\n",
          "tools": [{"name": "get_weather", "description": "d", "parameters": {"type":"object"}}],
          "toolChoice": {"name": "get_weather"},
          "reasoning": {"effort": "medium"},
          "metadata": {"user": "u_42"}
        }"#;
        let req: ChatRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.messages.len(), 4);
        assert_eq!(req.stop, vec!["\n\n".to_owned()]);
        assert_eq!(
            req.tool_choice,
            Some(ToolChoice::Named {
                name: "get_weather".into()
            })
        );
        assert_eq!(req.messages[2].tool_calls[0].arguments["city"], "Oslo");
        assert_eq!(req.reasoning.unwrap().effort, Some(Effort::Medium));
        let mode: ToolChoice = serde_json::from_str("\"required\"").unwrap();
        assert_eq!(mode, ToolChoice::Mode(ToolChoiceMode::Required));
    }

    #[test]
    fn rejects_unknown_fields_and_roles() {
        let e = serde_json::from_str::<ChatRequest>(r#"{"model":"x","messages":[],"maxToken":3}"#)
            .unwrap_err();
        assert!(e.to_string().contains("maxToken"), "{e}");
        let e = serde_json::from_str::<ChatRequest>(
            r#"{"model":"x","messages":[{"role":"robot","content":"hi"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("robot"), "{e}");
    }

    #[test]
    fn arguments_fall_back_to_the_raw_string() {
        assert_eq!(parse_arguments(r#"{"a":1}"#)["a"], 1);
        assert_eq!(parse_arguments("{\"a\":"), Value::String("{\"a\":".into()));
        assert_eq!(parse_arguments(""), serde_json::json!({}));
    }
}
