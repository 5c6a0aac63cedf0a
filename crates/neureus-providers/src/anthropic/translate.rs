//! Pure canonical ↔ Anthropic translation.

use neureus_types::{
    ChatRequest, ChatResponse, Content, ContentPart, Effort, FinishReason, Message, Role, ToolCall,
    ToolChoice, ToolChoiceMode, Usage,
};
use serde_json::{json, Value};

use super::wire::*;
use crate::{ReasoningStyle, UpstreamModel};

/// Builds the upstream request body.
pub(crate) fn to_wire<'a>(
    req: &'a ChatRequest,
    model: &'a UpstreamModel,
    stream: bool,
) -> AnthropicRequest<'a> {
    let mut max_tokens = req.max_tokens.unwrap_or(model.default_max_tokens).max(1);
    let (mut thinking, mut output_config) = (None, None);
    if let Some(r) = &req.reasoning {
        match model.reasoning {
            ReasoningStyle::AnthropicBudget => {
                let budget = r
                    .budget_tokens
                    .unwrap_or_else(|| r.effort.unwrap_or(Effort::Medium).budget_tokens())
                    .max(1024);
                // Thinking counts toward max_tokens, which must exceed the budget: the budget
                // is added on top so the answer keeps the room the caller asked for.
                if max_tokens <= budget {
                    max_tokens = max_tokens.saturating_add(budget);
                }
                thinking = Some(json!({"type": "enabled", "budget_tokens": budget}));
            }
            ReasoningStyle::AnthropicAdaptive => {
                thinking = Some(json!({"type": "adaptive"}));
                let effort = r.effort.or(r.budget_tokens.map(|b| match b {
                    0..=2048 => Effort::Low,
                    2049..=8192 => Effort::Medium,
                    _ => Effort::High,
                }));
                output_config = effort.map(|e| json!({"effort": e.as_str()}));
            }
            _ => {}
        }
    }
    // Extended thinking rejects sampling changes; drop them rather than fail the call.
    let sampling_allowed = thinking.is_none();
    AnthropicRequest {
        model: &model.id,
        max_tokens,
        system: system_text(&req.messages),
        messages: messages(&req.messages),
        temperature: req.temperature.filter(|_| sampling_allowed),
        top_p: req.top_p.filter(|_| sampling_allowed),
        stop_sequences: &req.stop,
        stream,
        tools: req
            .tools
            .iter()
            .map(|t| AnthropicTool {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: t
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object"})),
            })
            .collect(),
        tool_choice: req.tool_choice.as_ref().map(|tc| match tc {
            ToolChoice::Mode(ToolChoiceMode::Auto) => json!({"type": "auto"}),
            ToolChoice::Mode(ToolChoiceMode::None) => json!({"type": "none"}),
            ToolChoice::Mode(ToolChoiceMode::Required) => json!({"type": "any"}),
            ToolChoice::Named { name } => json!({"type": "tool", "name": name}),
        }),
        thinking,
        output_config,
        metadata: crate::openai::user_of(req).map(|user_id| AnthropicMetadata { user_id }),
    }
}

/// All system messages, in order, as the top-level `system`.
fn system_text(msgs: &[Message]) -> Option<String> {
    let parts: Vec<String> = msgs
        .iter()
        .filter(|m| m.role == Role::System)
        .map(Message::text_content)
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Conversation turns: tool results become `tool_result` blocks of a user turn, and
/// consecutive turns of one role are merged (results must follow their `tool_use` turn).
fn messages(msgs: &[Message]) -> Vec<AnthropicMessage<'_>> {
    let mut out: Vec<AnthropicMessage<'_>> = Vec::new();
    for m in msgs {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", content_blocks(m)),
            Role::Tool => (
                "user",
                vec![AnthropicBlock::ToolResult {
                    tool_use_id: m.tool_call_id.as_deref().unwrap_or_default(),
                    content: m.text_content(),
                }],
            ),
            Role::Assistant => {
                let mut b = content_blocks(m);
                b.extend(m.tool_calls.iter().map(|c| AnthropicBlock::ToolUse {
                    id: &c.id,
                    name: &c.name,
                    input: tool_input(&c.arguments),
                }));
                ("assistant", b)
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.push(AnthropicMessage {
                role,
                content: blocks,
            }),
        }
    }
    out
}

/// `tool_use.input` must be an object.
fn tool_input(v: &Value) -> Value {
    match v {
        Value::Object(_) => v.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed @ Value::Object(_)) => parsed,
            _ => json!({ "input": s }),
        },
        Value::Null => json!({}),
        other => json!({ "input": other }),
    }
}

fn content_blocks(m: &Message) -> Vec<AnthropicBlock<'_>> {
    match &m.content {
        None => Vec::new(),
        Some(Content::Text(t)) if t.is_empty() => Vec::new(),
        Some(Content::Text(t)) => vec![AnthropicBlock::Text { text: t }],
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } if text.is_empty() => None,
                ContentPart::Text { text } => Some(AnthropicBlock::Text { text }),
                ContentPart::Image { url } => Some(AnthropicBlock::Image { source: image(url) }),
            })
            .collect(),
    }
}

/// A `data:` URI becomes a base64 source; anything else a URL source.
fn image(url: &str) -> AnthropicImageSource<'_> {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            if let Some(media_type) = meta.strip_suffix(";base64") {
                return AnthropicImageSource::Base64 { media_type, data };
            }
        }
    }
    AnthropicImageSource::Url { url }
}

/// Maps `stop_reason`.
pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Folds an Anthropic usage object into `into`: fields present replace earlier values.
/// Anthropic's `input_tokens` excludes cache tokens; ours includes them.
pub(crate) fn merge_usage(raw: &mut AnthropicUsage, u: &AnthropicUsage) -> Usage {
    if u.input_tokens.is_some() {
        raw.input_tokens = u.input_tokens;
    }
    if u.output_tokens.is_some() {
        raw.output_tokens = u.output_tokens;
    }
    if u.cache_creation_input_tokens.is_some() {
        raw.cache_creation_input_tokens = u.cache_creation_input_tokens;
    }
    if u.cache_read_input_tokens.is_some() {
        raw.cache_read_input_tokens = u.cache_read_input_tokens;
    }
    let write = raw.cache_creation_input_tokens.unwrap_or(0);
    let read = raw.cache_read_input_tokens.unwrap_or(0);
    Usage {
        input_tokens: raw.input_tokens.unwrap_or(0) + write + read,
        output_tokens: raw.output_tokens.unwrap_or(0),
        cache_read_tokens: read,
        cache_write_tokens: write,
    }
}

/// Maps a non-streamed response.
pub(crate) fn from_wire(resp: AnthropicResponse) -> ChatResponse {
    let mut out = ChatResponse::default();
    let mut reasoning = String::new();
    for block in resp.content {
        match block {
            AnthropicRespBlock::Text { text } => out.content.push_str(&text),
            AnthropicRespBlock::Thinking { thinking } => reasoning.push_str(&thinking),
            AnthropicRespBlock::ToolUse { id, name, input } => out.tool_calls.push(ToolCall {
                id,
                name,
                arguments: input,
            }),
            AnthropicRespBlock::Other => {}
        }
    }
    out.reasoning = (!reasoning.is_empty()).then_some(reasoning);
    out.finish_reason = resp.stop_reason.as_deref().map(finish_reason);
    if let Some(u) = resp.usage {
        out.usage = merge_usage(&mut AnthropicUsage::default(), &u);
    }
    out
}

/// Reads an Anthropic error body into a message.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<AnthropicErrorBody>(body) {
        Ok(b) => {
            let msg = b.error.message.unwrap_or_default();
            match b.error.kind {
                Some(kind) => format!("{msg} ({kind})"),
                None => msg,
            }
        }
        Err(_) => crate::http_error_text(status, body),
    }
}

/// The HTTP status an in-stream error type implies.
pub(crate) fn status_of_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        "timeout_error" => 504,
        _ => 500,
    }
}
