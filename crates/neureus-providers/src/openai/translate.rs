//! Pure canonical ↔ OpenAI translation.

use std::borrow::Cow;

use neureus_types::{
    parse_arguments, ChatRequest, ChatResponse, Content, ContentPart, FinishReason, Message, Role,
    ToolCall, ToolChoice, ToolChoiceMode, Usage,
};
use serde_json::{json, Value};

use super::wire::*;
use crate::{ReasoningStyle, UpstreamModel};

/// Builds the upstream request body.
pub(crate) fn to_wire<'a>(
    req: &'a ChatRequest,
    model: &'a UpstreamModel,
    stream: bool,
) -> OpenaiRequest<'a> {
    let reasoning_effort = match (model.reasoning, &req.reasoning) {
        (ReasoningStyle::OpenaiEffort, Some(r)) => Some(
            r.effort
                .or_else(|| r.budget_tokens.map(effort_for_budget))
                .unwrap_or(neureus_types::Effort::Medium)
                .as_str(),
        ),
        _ => None,
    };
    OpenaiRequest {
        model: &model.id,
        messages: wire_messages(req),
        max_completion_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
        stream,
        stream_options: stream.then_some(OpenaiStreamOptions {
            include_usage: true,
        }),
        tools: req
            .tools
            .iter()
            .map(|t| OpenaiTool {
                kind: "function",
                function: OpenaiFunction {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: t.parameters.as_ref(),
                },
            })
            .collect(),
        tool_choice: req.tool_choice.as_ref().map(tool_choice),
        reasoning_effort,
        user: user_of(req),
    }
}

/// The conversation in OpenAI's message shape (also what Workers AI's `/ai/run` takes).
pub(crate) fn wire_messages(req: &ChatRequest) -> Vec<OpenaiMessage<'_>> {
    req.messages.iter().map(message).collect()
}

/// The caller's `metadata.user`, forwarded as the provider's end-user id.
pub(crate) fn user_of(req: &ChatRequest) -> Option<&str> {
    req.metadata.as_ref()?.get("user")?.as_str()
}

fn effort_for_budget(budget: u32) -> neureus_types::Effort {
    match budget {
        0..=2048 => neureus_types::Effort::Low,
        2049..=8192 => neureus_types::Effort::Medium,
        _ => neureus_types::Effort::High,
    }
}

pub(crate) fn tool_choice(tc: &ToolChoice) -> Value {
    match tc {
        ToolChoice::Mode(ToolChoiceMode::Auto) => json!("auto"),
        ToolChoice::Mode(ToolChoiceMode::None) => json!("none"),
        ToolChoice::Mode(ToolChoiceMode::Required) => json!("required"),
        ToolChoice::Named { name } => json!({"type": "function", "function": {"name": name}}),
    }
}

fn message(m: &Message) -> OpenaiMessage<'_> {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    OpenaiMessage {
        role,
        content: content(m),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| OpenaiToolCall {
                id: &c.id,
                kind: "function",
                function: OpenaiFunctionCall {
                    name: &c.name,
                    arguments: arguments_text(&c.arguments),
                },
            })
            .collect(),
        tool_call_id: m.tool_call_id.as_deref(),
        name: m.name.as_deref(),
    }
}

/// Tool-call arguments as the JSON text OpenAI expects (a raw string stays as it is).
pub(crate) fn arguments_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "{}".to_owned(),
        other => other.to_string(),
    }
}

fn content(m: &Message) -> OpenaiContent<'_> {
    match &m.content {
        None if m.role == Role::Assistant && !m.tool_calls.is_empty() => OpenaiContent::Null,
        None => OpenaiContent::Text(Cow::Borrowed("")),
        Some(Content::Text(t)) => OpenaiContent::Text(Cow::Borrowed(t)),
        // Only user messages take image parts; elsewhere send the text.
        Some(Content::Parts(_)) if m.role != Role::User => {
            OpenaiContent::Text(Cow::Owned(m.text_content()))
        }
        Some(Content::Parts(parts)) => OpenaiContent::Parts(
            parts
                .iter()
                .map(|p| match p {
                    ContentPart::Text { text } => OpenaiPart::Text { text },
                    ContentPart::Image { url } => OpenaiPart::ImageUrl {
                        image_url: OpenaiImageUrl { url },
                    },
                })
                .collect(),
        ),
    }
}

/// Maps OpenAI's `finish_reason`.
pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Maps usage: `prompt_tokens` already includes cached tokens.
pub(crate) fn usage(u: &OpenaiUsage) -> Usage {
    let details = u.prompt_tokens_details.unwrap_or_default();
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cache_read_tokens: details.cached_tokens.unwrap_or(0),
        cache_write_tokens: details.cache_write_tokens.unwrap_or(0),
    }
}

/// Maps a non-streamed response. `synth_id` names calls that arrive without an id.
pub(crate) fn from_wire(resp: OpenaiResponse) -> Result<ChatResponse, crate::ProviderError> {
    let mut choices = resp.choices.unwrap_or_default();
    choices.sort_by_key(|c| c.index);
    let Some(choice) = choices.into_iter().next() else {
        return Err(crate::ProviderError::Protocol(
            "response has no choices".into(),
        ));
    };
    let msg = choice.message;
    let tool_calls = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| ToolCall {
            id: c.id.unwrap_or_else(|| format!("call_{i}")),
            name: c.function.name.unwrap_or_default(),
            arguments: match c.function.arguments {
                Some(Value::String(s)) => parse_arguments(&s),
                Some(Value::Null) | None => json!({}),
                Some(v) => v,
            },
        })
        .collect::<Vec<_>>();
    let mut finish = choice.finish_reason.as_deref().map(finish_reason);
    if finish.is_none() && !tool_calls.is_empty() {
        finish = Some(FinishReason::ToolCalls);
    }
    let content = match (msg.content, msg.refusal) {
        (Some(c), _) if !c.is_empty() => c,
        (_, Some(r)) => r,
        (c, None) => c.unwrap_or_default(),
    };
    Ok(ChatResponse {
        content,
        tool_calls,
        reasoning: msg.reasoning_content.filter(|r| !r.is_empty()),
        finish_reason: finish,
        usage: resp.usage.as_ref().map(usage).unwrap_or_default(),
    })
}

/// Reads an OpenAI error body into a message.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<OpenaiErrorBody>(body) {
        Ok(b) => {
            let mut msg = b.error.message.unwrap_or_default();
            if let Some(code) = b.error.code.as_ref().and_then(Value::as_str) {
                msg = format!("{msg} ({code})");
            } else if let Some(kind) = b.error.kind {
                msg = format!("{msg} ({kind})");
            }
            msg
        }
        Err(_) => crate::http_error_text(status, body),
    }
}
