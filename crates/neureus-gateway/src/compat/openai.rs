//! OpenAI Chat Completions request → canonical, and canonical answer → `chat.completion`.

use neureus_types::{
    parse_arguments, ChatRequest, ChatResponse, Content, ContentPart, Effort, FinishReason,
    Message, Reasoning, Role, Tool, ToolCall, ToolChoice, ToolChoiceMode,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::bad;
use crate::error::ApiError;

/// The parts of an OpenAI request we read; other fields are accepted and ignored, as the
/// SDKs send many optional ones.
#[derive(Debug, Deserialize)]
pub struct OpenaiRequest {
    model: String,
    messages: Vec<OpenaiMessage>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stop: Option<Value>,
    #[serde(default)]
    tools: Option<Vec<OpenaiTool>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    reasoning_effort: Option<String>,
    #[serde(default)]
    n: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct OpenaiMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<OpenaiToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OpenaiToolCall {
    id: String,
    function: OpenaiFunctionCall,
}

#[derive(Debug, Deserialize)]
struct OpenaiFunctionCall {
    name: String,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OpenaiTool {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    function: OpenaiFunction,
}

#[derive(Debug, Deserialize)]
struct OpenaiFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

fn content(i: usize, v: Option<Value>) -> Result<Option<Content>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Content::Text(s))),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.into_iter().enumerate() {
                let kind = p.get("type").and_then(Value::as_str).unwrap_or_default();
                match kind {
                    "text" | "input_text" => out.push(ContentPart::Text {
                        text: p.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    }),
                    "image_url" => {
                        let url = p.get("image_url").and_then(|u| u.get("url").or(Some(u))).and_then(Value::as_str);
                        let Some(url) = url else {
                            return Err(bad(format!("messages[{i}].content[{j}].image_url.url is required")));
                        };
                        out.push(ContentPart::Image { url: url.to_owned() });
                    }
                    other => {
                        return Err(bad(format!(
                            "messages[{i}].content[{j}]: content part type {other:?} is not supported (text, image_url)"
                        )))
                    }
                }
            }
            Ok(Some(Content::Parts(out)))
        }
        Some(_) => Err(bad(format!(
            "messages[{i}].content must be a string or a list of parts"
        ))),
    }
}

fn tool_choice(v: Value) -> Result<ToolChoice, ApiError> {
    match &v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Mode(ToolChoiceMode::Auto)),
            "none" => Ok(ToolChoice::Mode(ToolChoiceMode::None)),
            "required" => Ok(ToolChoice::Mode(ToolChoiceMode::Required)),
            other => Err(bad(format!("tool_choice {other:?} must be auto, none, required or a function"))),
        },
        _ => match v.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) {
            Some(name) => Ok(ToolChoice::Named { name: name.to_owned() }),
            None => Err(bad("tool_choice must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":…}}")),
        },
    }
}

impl OpenaiRequest {
    /// Whether the client asked for a usage chunk at the end of a stream.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// Into our canonical request.
    pub fn into_canonical(self) -> Result<ChatRequest, ApiError> {
        if self.n.is_some_and(|n| n != 1) {
            return Err(bad("n must be 1: the gateway returns one choice"));
        }
        let mut messages = Vec::with_capacity(self.messages.len());
        for (i, m) in self.messages.into_iter().enumerate() {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "tool" => Role::Tool,
                other => return Err(bad(format!("messages[{i}].role {other:?} must be system, developer, user, assistant or tool"))),
            };
            let tool_calls = m
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .map(|c| ToolCall {
                    id: c.id,
                    name: c.function.name,
                    arguments: parse_arguments(c.function.arguments.as_deref().unwrap_or("")),
                })
                .collect();
            messages.push(Message {
                role,
                content: content(i, m.content)?,
                tool_calls,
                tool_call_id: m.tool_call_id,
                name: m.name,
            });
        }
        let tools = self
            .tools
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, t)| match t.kind.as_deref() {
                None | Some("function") => Ok(Tool {
                    name: t.function.name,
                    description: t.function.description,
                    parameters: t.function.parameters,
                }),
                Some(other) => Err(bad(format!(
                    "tools[{i}].type {other:?} is not supported (function)"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stop = match self.stop {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => return Err(bad("stop must be a string or a list of strings")),
        };
        let reasoning = match self.reasoning_effort.as_deref() {
            None => None,
            Some("low" | "minimal") => Some(Reasoning {
                effort: Some(Effort::Low),
                budget_tokens: None,
            }),
            Some("medium") => Some(Reasoning {
                effort: Some(Effort::Medium),
                budget_tokens: None,
            }),
            Some("high") => Some(Reasoning {
                effort: Some(Effort::High),
                budget_tokens: None,
            }),
            Some(other) => {
                return Err(bad(format!(
                    "reasoning_effort {other:?} must be low, medium or high"
                )))
            }
        };
        let mut metadata = self.metadata.unwrap_or_default();
        if let Some(u) = self.user {
            metadata.insert("user".into(), Value::String(u));
        }
        Ok(ChatRequest {
            model: self.model,
            messages,
            stream: self.stream.unwrap_or(false),
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            stop,
            tools,
            tool_choice: self.tool_choice.map(tool_choice).transpose()?,
            reasoning,
            metadata: (!metadata.is_empty()).then_some(metadata),
        })
    }
}

/// `chat.completion` for a whole answer.
pub fn completion(resp: &ChatResponse, id: &str, model: &str) -> Value {
    let finish = resp.finish_reason.unwrap_or(if resp.tool_calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    });
    let mut message = json!({
        "role": "assistant",
        "content": if resp.content.is_empty() && !resp.tool_calls.is_empty() { Value::Null } else { json!(resp.content) },
        "refusal": null,
    });
    if !resp.tool_calls.is_empty() {
        message["tool_calls"] = json!(resp.tool_calls.iter().map(|c| json!({
            "id": c.id, "type": "function",
            "function": {"name": c.name, "arguments": match &c.arguments { Value::String(s) => s.clone(), v => v.to_string() }},
        })).collect::<Vec<_>>());
    }
    if let Some(r) = &resp.reasoning {
        message["reasoning_content"] = json!(r);
    }
    json!({
        "id": format!("chatcmpl-{}", id.trim_start_matches("log_")),
        "object": "chat.completion",
        "created": (neureus_store::now_ms() / 1000).max(0),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish.as_str()}],
        "usage": crate::stream_out::openai::usage_json(&resp.usage),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_an_sdk_request() {
        let r: OpenaiRequest = serde_json::from_value(json!({
            "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "max_completion_tokens": 99, "stop": "END", "user": "u1", "frequency_penalty": 0, "seed": 7
        })).unwrap();
        assert!(r.include_usage());
        let c = r.into_canonical().unwrap();
        assert_eq!(c.messages[0].role, Role::System);
        assert_eq!(c.messages[2].tool_calls[0].arguments, json!({"a": 1}));
        assert_eq!(c.tool_choice, Some(ToolChoice::Named { name: "f".into() }));
        assert_eq!(
            (c.max_tokens, c.stop.clone()),
            (Some(99), vec!["END".to_owned()])
        );
        assert_eq!(c.metadata.unwrap()["user"], "u1");
        let bad: OpenaiRequest =
            serde_json::from_value(json!({"model": "x", "messages": [], "n": 2})).unwrap();
        assert!(bad
            .into_canonical()
            .unwrap_err()
            .message
            .contains("n must be 1"));
    }
}
