//! Anthropic Messages request → canonical, and canonical answer → `message`.

use neureus_types::{
    ChatRequest, ChatResponse, Content, ContentPart, FinishReason, Message, Reasoning, Role, Tool,
    ToolCall, ToolChoice, ToolChoiceMode,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::bad;
use crate::error::ApiError;
use crate::stream_out::anthropic::stop_reason;

/// The parts of a Messages request we read; other fields are accepted and ignored.
#[derive(Debug, Deserialize)]
pub struct AnthropicRequest {
    model: String,
    max_tokens: u32,
    messages: Vec<AnthropicMessage>,
    #[serde(default)]
    system: Option<Value>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    tools: Option<Vec<AnthropicTool>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    thinking: Option<Value>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
struct AnthropicMessage {
    role: String,
    content: Value,
}

#[derive(Debug, Deserialize)]
struct AnthropicTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Value>,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn image_url(i: usize, j: usize, b: &Value) -> Result<String, ApiError> {
    let src = b
        .get("source")
        .ok_or_else(|| bad(format!("messages[{i}].content[{j}].source is required")))?;
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(format!(
            "data:{};base64,{}",
            src.get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/png"),
            src.get("data").and_then(Value::as_str).unwrap_or_default()
        )),
        Some("url") => Ok(src
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()),
        _ => Err(bad(format!(
            "messages[{i}].content[{j}].source.type must be base64 or url"
        ))),
    }
}

impl AnthropicRequest {
    /// Into our canonical request.
    pub fn into_canonical(self) -> Result<ChatRequest, ApiError> {
        let mut messages = Vec::with_capacity(self.messages.len() + 1);
        if let Some(sys) = &self.system {
            let t = text_of(sys);
            if !t.is_empty() {
                messages.push(Message::text(Role::System, t));
            }
        }
        for (i, m) in self.messages.into_iter().enumerate() {
            let assistant = match m.role.as_str() {
                "user" => false,
                "assistant" => true,
                other => {
                    return Err(bad(format!(
                        "messages[{i}].role {other:?} must be user or assistant"
                    )))
                }
            };
            let blocks = match m.content {
                Value::String(s) => vec![json!({"type": "text", "text": s})],
                Value::Array(b) => b,
                _ => {
                    return Err(bad(format!(
                        "messages[{i}].content must be a string or a list of blocks"
                    )))
                }
            };
            let mut parts = Vec::new();
            let mut calls = Vec::new();
            for (j, b) in blocks.iter().enumerate() {
                match b.get("type").and_then(Value::as_str).unwrap_or_default() {
                    "text" => parts.push(ContentPart::Text {
                        text: b
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    }),
                    "image" => parts.push(ContentPart::Image {
                        url: image_url(i, j, b)?,
                    }),
                    "tool_use" if assistant => calls.push(ToolCall {
                        id: b
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        name: b
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        arguments: b.get("input").cloned().unwrap_or_else(|| json!({})),
                    }),
                    "tool_result" if !assistant => {
                        let mut t = Message::text(
                            Role::Tool,
                            text_of(b.get("content").unwrap_or(&Value::Null)),
                        );
                        t.tool_call_id = b
                            .get("tool_use_id")
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        messages.push(t);
                    }
                    // Thinking blocks passed back by multi-turn clients are not needed by other providers.
                    "thinking" | "redacted_thinking" if assistant => {}
                    other => {
                        return Err(bad(format!(
                        "messages[{i}].content[{j}]: block type {other:?} is not supported here"
                    )))
                    }
                }
            }
            if parts.is_empty() && calls.is_empty() {
                continue;
            }
            let only_text = parts.iter().all(|p| matches!(p, ContentPart::Text { .. }));
            let content = if parts.is_empty() {
                None
            } else if only_text {
                Some(Content::Text(
                    parts
                        .iter()
                        .map(|p| {
                            if let ContentPart::Text { text } = p {
                                text.as_str()
                            } else {
                                ""
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n"),
                ))
            } else {
                Some(Content::Parts(parts))
            };
            messages.push(Message {
                role: if assistant {
                    Role::Assistant
                } else {
                    Role::User
                },
                content,
                tool_calls: calls,
                tool_call_id: None,
                name: None,
            });
        }
        let tool_choice = match self.tool_choice {
            None => None,
            Some(v) => Some(match v.get("type").and_then(Value::as_str) {
                Some("auto") => ToolChoice::Mode(ToolChoiceMode::Auto),
                Some("any") => ToolChoice::Mode(ToolChoiceMode::Required),
                Some("none") => ToolChoice::Mode(ToolChoiceMode::None),
                Some("tool") => ToolChoice::Named {
                    name: v
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                },
                _ => return Err(bad("tool_choice.type must be auto, any, tool or none")),
            }),
        };
        let reasoning =
            self.thinking
                .as_ref()
                .and_then(|t| match t.get("type").and_then(Value::as_str) {
                    Some("enabled") => Some(Reasoning {
                        effort: None,
                        budget_tokens: t
                            .get("budget_tokens")
                            .and_then(Value::as_u64)
                            .map(|b| u32::try_from(b).unwrap_or(u32::MAX)),
                    }),
                    Some("adaptive") => Some(Reasoning {
                        effort: Some(neureus_types::Effort::Medium),
                        budget_tokens: None,
                    }),
                    _ => None,
                });
        let mut metadata = Map::new();
        if let Some(u) = self
            .metadata
            .as_ref()
            .and_then(|m| m.get("user_id"))
            .cloned()
        {
            metadata.insert("user".into(), u);
        }
        Ok(ChatRequest {
            model: self.model,
            messages,
            stream: self.stream.unwrap_or(false),
            max_tokens: Some(self.max_tokens.max(1)),
            temperature: self.temperature,
            top_p: self.top_p,
            stop: self.stop_sequences.unwrap_or_default(),
            tools: self
                .tools
                .unwrap_or_default()
                .into_iter()
                .map(|t| Tool {
                    name: t.name,
                    description: t.description,
                    parameters: t.input_schema,
                })
                .collect(),
            tool_choice,
            reasoning,
            metadata: (!metadata.is_empty()).then_some(metadata),
        })
    }
}

/// A `message` for a whole answer.
pub fn message(resp: &ChatResponse, id: &str, model: &str) -> Value {
    let mut content = Vec::new();
    if let Some(r) = &resp.reasoning {
        content.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
    }
    if !resp.content.is_empty() || resp.tool_calls.is_empty() {
        content.push(json!({"type": "text", "text": resp.content}));
    }
    for c in &resp.tool_calls {
        let input = match &c.arguments {
            Value::Object(_) => c.arguments.clone(),
            other => json!({"input": other}),
        };
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}));
    }
    let finish = resp.finish_reason.unwrap_or(if resp.tool_calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    });
    let u = &resp.usage;
    json!({
        "id": format!("msg_{}", id.trim_start_matches("log_")),
        "type": "message", "role": "assistant", "model": model,
        "content": content,
        "stop_reason": stop_reason(finish), "stop_sequence": null,
        "usage": {"input_tokens": u.input_tokens.saturating_sub(u.cache_read_tokens + u.cache_write_tokens),
                  "output_tokens": u.output_tokens, "cache_read_input_tokens": u.cache_read_tokens,
                  "cache_creation_input_tokens": u.cache_write_tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_an_sdk_request() {
        let r: AnthropicRequest = serde_json::from_value(json!({
            "model": "claude-sonnet-4-6", "max_tokens": 100,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "Oslo"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "3C"}, {"type": "text", "text": "thanks"}]}
            ],
            "tools": [{"name": "w", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"}, "thinking": {"type": "enabled", "budget_tokens": 2048},
            "metadata": {"user_id": "u9"}
        })).unwrap();
        let c = r.into_canonical().unwrap();
        let roles: Vec<Role> = c.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(c.messages[2].tool_calls[0].arguments, json!({"c": "Oslo"}));
        assert_eq!(c.messages[3].tool_call_id.as_deref(), Some("t1"));
        assert_eq!(
            c.tool_choice,
            Some(ToolChoice::Mode(ToolChoiceMode::Required))
        );
        assert_eq!(c.reasoning.unwrap().budget_tokens, Some(2048));
        assert_eq!(c.max_tokens, Some(100));
    }
}
