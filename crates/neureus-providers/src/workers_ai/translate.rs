//! Pure canonical ↔ Workers AI translation.

use neureus_types::{parse_arguments, ChatRequest, ChatResponse, FinishReason, ToolCall, Usage};
use serde_json::Value;

use super::wire::*;
use crate::openai::wire::{OpenaiFunction, OpenaiTool};
use crate::{ProviderError, ReasoningStyle, ThinkSplitter, UpstreamModel};

/// Builds the upstream request body.
pub(crate) fn to_wire<'a>(
    req: &'a ChatRequest,
    model: &'a UpstreamModel,
    stream: bool,
) -> WorkersRequest<'a> {
    let openai = crate::openai::wire_messages(req);
    WorkersRequest {
        messages: openai,
        stream,
        max_tokens: req.max_tokens.unwrap_or(model.default_max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
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
        tool_choice: req.tool_choice.as_ref().map(crate::openai::tool_choice),
    }
}

/// Usage of a legacy result.
pub(crate) fn usage(u: &WorkersUsage) -> Usage {
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cache_read_tokens: u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_write_tokens: 0,
    }
}

/// A legacy tool call: no id (synthesised from the position), arguments as an object.
pub(crate) fn tool_call(i: usize, c: WorkersToolCall) -> ToolCall {
    let (name, args) = match c.function {
        Some(f) => (f.name.or(c.name), f.arguments.or(c.arguments)),
        None => (c.name, c.arguments),
    };
    ToolCall {
        id: c.id.unwrap_or_else(|| format!("call_{i}")),
        name: name.unwrap_or_default(),
        arguments: match args {
            Some(Value::String(s)) => parse_arguments(&s),
            Some(Value::Null) | None => serde_json::json!({}),
            Some(v) => v,
        },
    }
}

/// The text of a legacy `response` value.
pub(crate) fn response_text(v: Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

/// Legacy results carry no finish reason: infer it.
pub(crate) fn infer_finish(has_tools: bool, usage: &Usage, max_tokens: u32) -> FinishReason {
    if has_tools {
        FinishReason::ToolCalls
    } else if usage.output_tokens > 0 && usage.output_tokens >= u64::from(max_tokens) {
        FinishReason::Length
    } else {
        FinishReason::Stop
    }
}

/// Maps a non-streamed envelope.
pub(crate) fn from_wire(
    mut env: WorkersEnvelope,
    model: &UpstreamModel,
    max_tokens: u32,
) -> Result<ChatResponse, ProviderError> {
    if env.success == Some(false) || !env.errors.is_empty() {
        return Err(envelope_error(200, &env.errors));
    }
    let result = env
        .result()
        .map_err(|e| ProviderError::Protocol(format!("Workers AI result: {e}")))?;
    let mut resp = match result {
        None => {
            return Err(ProviderError::Protocol(
                "Workers AI envelope has no result".into(),
            ))
        }
        Some(WorkersResult::Openai(r)) => crate::openai::from_wire(r)?,
        Some(WorkersResult::Legacy(l)) => {
            let tool_calls: Vec<ToolCall> = l
                .tool_calls
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, c)| tool_call(i, c))
                .collect();
            let usage = l.usage.as_ref().map(usage).unwrap_or_default();
            ChatResponse {
                content: response_text(l.response),
                finish_reason: Some(infer_finish(!tool_calls.is_empty(), &usage, max_tokens)),
                tool_calls,
                reasoning: None,
                usage,
            }
        }
    };
    if model.reasoning == ReasoningStyle::InlineThink && resp.reasoning.is_none() {
        let split = ThinkSplitter::split_all(&resp.content);
        resp.content = split.answer;
        resp.reasoning = (!split.reasoning.is_empty()).then_some(split.reasoning);
    }
    Ok(resp)
}

/// The HTTP status a Workers AI error code implies (for errors inside a 200 or a stream).
pub(crate) fn status_of_code(code: i64) -> u16 {
    match code {
        3036 | 3040 => 429,
        3007 | 3008 => 504,
        3006 => 413,
        10000 => 401,
        5018 | 3041 | 5016 | 3023 | 5035 => 403,
        3042 => 404,
        5007 | 5004 | 3003 | 3039 => 400,
        _ => 500,
    }
}

/// An error from the envelope's `errors`.
pub(crate) fn envelope_error(http_status: u16, errors: &[WorkersError]) -> ProviderError {
    let first = errors.first();
    let code = first.and_then(|e| e.code);
    let status = match (http_status, code) {
        (s, _) if s >= 400 => s,
        (_, Some(c)) => status_of_code(c),
        (_, None) => 500,
    };
    ProviderError::Upstream {
        status,
        message: describe(errors),
        retry_after: None,
    }
}

fn describe(errors: &[WorkersError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| match e.code {
            Some(c) => format!("{} (code {c})", e.message.as_deref().unwrap_or("error")),
            None => e.message.clone().unwrap_or_else(|| "error".into()),
        })
        .collect();
    if parts.is_empty() {
        "Workers AI reported failure without details".into()
    } else {
        parts.join("; ")
    }
}

/// Reads a Workers AI error body into a message.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<WorkersEnvelope>(body) {
        Ok(env) if !env.errors.is_empty() => describe(&env.errors),
        _ => crate::http_error_text(status, body),
    }
}
