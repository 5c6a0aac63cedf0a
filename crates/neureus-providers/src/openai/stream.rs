//! OpenAI chunk stream → canonical events. Also used by Workers AI for its OpenAI-shaped
//! models.

use neureus_types::{StreamEvent, ToolCallDelta};

use super::translate::{finish_reason, usage};
use super::wire::{OpenaiChunk, OpenaiErrorObject};
use crate::sse::SseEvent;
use crate::{ProviderError, StreamMachine};

/// State of one OpenAI stream.
#[derive(Debug, Default)]
pub struct OpenaiStream {
    done: bool,
}

impl OpenaiStream {
    /// A new stream.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Maps one parsed chunk (shared with Workers AI).
pub(crate) fn chunk_events(chunk: OpenaiChunk) -> Result<Vec<StreamEvent>, ProviderError> {
    if let Some(err) = chunk.error {
        return Err(in_stream_error(&err));
    }
    let mut out = Vec::new();
    for choice in chunk.choices.unwrap_or_default() {
        if choice.index != 0 {
            continue;
        }
        if let Some(delta) = choice.delta {
            if let Some(r) = delta.reasoning_content.filter(|s| !s.is_empty()) {
                out.push(StreamEvent::Reasoning(r));
            }
            if let Some(c) = delta.content.filter(|s| !s.is_empty()) {
                out.push(StreamEvent::Content(c));
            }
            if let Some(c) = delta.refusal.filter(|s| !s.is_empty()) {
                out.push(StreamEvent::Content(c));
            }
            for tc in delta.tool_calls.unwrap_or_default() {
                let (name, arguments) = match tc.function {
                    Some(f) => (f.name, f.arguments.unwrap_or_default()),
                    None => (None, String::new()),
                };
                out.push(StreamEvent::ToolCall(ToolCallDelta {
                    index: tc.index,
                    id: tc.id,
                    name,
                    arguments,
                }));
            }
        }
        if let Some(fr) = choice.finish_reason {
            out.push(StreamEvent::Finish(finish_reason(&fr)));
        }
    }
    if let Some(u) = chunk.usage {
        out.push(StreamEvent::Usage(usage(&u)));
    }
    Ok(out)
}

/// An `{"error": …}` chunk after the 200.
pub(crate) fn in_stream_error(err: &OpenaiErrorObject) -> ProviderError {
    let kind = err.kind.as_deref().unwrap_or("server_error");
    let status = match kind {
        "rate_limit_exceeded" | "tokens" | "requests" => 429,
        "invalid_request_error" => 400,
        _ => 500,
    };
    ProviderError::Upstream {
        status,
        message: err.message.clone().unwrap_or_else(|| kind.to_owned()),
        retry_after: None,
    }
}

impl StreamMachine for OpenaiStream {
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, ProviderError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        let chunk: OpenaiChunk = crate::http::parse_json_str("OpenAI stream chunk", data)?;
        chunk_events(chunk)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn on_eof(&mut self) -> Result<Vec<StreamEvent>, ProviderError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(ProviderError::StreamCut)
        }
    }
}
