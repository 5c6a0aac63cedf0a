//! Anthropic Messages streaming, as the official SDKs expect: `message_start`, then one
//! content block per kind change (`thinking`, `text`, `tool_use` with `input_json_delta`),
//! each opened and closed, then `message_delta` (stop reason, usage) and `message_stop`.
//! An error after the first event is an `event: error`.

use std::collections::HashMap;

use axum::response::sse::Event;
use neureus_types::{FinishReason, StreamEvent};
use serde_json::{json, Value};

use super::{Ending, Format};
use crate::handlers::chat::Prepared;

fn event(name: &str, v: &Value) -> Option<Event> {
    serde_json::to_string(v)
        .ok()
        .map(|s| Event::default().event(name).data(s))
}

/// Anthropic's stop reason for ours.
pub fn stop_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool(u32),
}

/// Events in Anthropic's format.
#[derive(Debug)]
pub struct AnthropicFormat {
    id: String,
    model: String,
    next_index: u32,
    open: Option<(Open, u32)>,
    tool_blocks: HashMap<u32, u32>,
}

impl AnthropicFormat {
    /// For one response.
    pub fn new(prep: &Prepared) -> Self {
        AnthropicFormat {
            id: format!("msg_{}", prep.log_id.trim_start_matches("log_")),
            model: prep.model.entry.id.clone(),
            next_index: 0,
            open: None,
            tool_blocks: HashMap::new(),
        }
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some((kind, index)) = self.open.take() {
            if kind == Open::Thinking {
                out.extend(event("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": ""}})));
            }
            out.extend(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// Makes `kind` the open block; returns its index.
    fn ensure(&mut self, kind: Open, block: Value, out: &mut Vec<Event>) -> u32 {
        if let Some((k, i)) = self.open {
            if k == kind {
                return i;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.extend(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        self.open = Some((kind, index));
        index
    }
}

impl Format for AnthropicFormat {
    fn start(&mut self, _prep: &Prepared) -> Vec<Event> {
        event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        )
        .into_iter()
        .collect()
    }

    fn delta(&mut self, ev: &StreamEvent) -> Vec<Event> {
        let mut out = Vec::new();
        match ev {
            StreamEvent::Content(t) => {
                let i = self.ensure(Open::Text, json!({"type": "text", "text": ""}), &mut out);
                out.extend(event("content_block_delta", &json!({"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": t}})));
            }
            StreamEvent::Reasoning(t) => {
                let i = self.ensure(
                    Open::Thinking,
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    &mut out,
                );
                out.extend(event("content_block_delta", &json!({"type": "content_block_delta", "index": i, "delta": {"type": "thinking_delta", "thinking": t}})));
            }
            StreamEvent::ToolCall(d) => {
                let i = if let Some(&i) = self.tool_blocks.get(&d.index) {
                    i
                } else {
                    let block = json!({"type": "tool_use", "id": d.id.clone().unwrap_or_else(|| format!("toolu_{}", d.index)),
                                       "name": d.name.clone().unwrap_or_default(), "input": {}});
                    let i = self.ensure(Open::Tool(d.index), block, &mut out);
                    self.tool_blocks.insert(d.index, i);
                    i
                };
                if !d.arguments.is_empty() {
                    out.extend(event("content_block_delta", &json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": d.arguments}})));
                }
            }
            StreamEvent::Usage(_) | StreamEvent::Finish(_) => {}
        }
        out
    }

    fn end(&mut self, e: &Ending<'_>) -> Vec<Event> {
        let mut out = Vec::new();
        self.close(&mut out);
        if let Some(err) = e.error {
            out.extend(event(
                "error",
                &json!({"type": "error", "error": {"type": "api_error", "message": err.message}}),
            ));
            return out;
        }
        let u = &e.usage;
        out.extend(event("message_delta", &json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(e.finish.unwrap_or(FinishReason::Stop)), "stop_sequence": null},
            "usage": {"input_tokens": u.input_tokens.saturating_sub(u.cache_read_tokens + u.cache_write_tokens),
                      "output_tokens": u.output_tokens, "cache_read_input_tokens": u.cache_read_tokens,
                      "cache_creation_input_tokens": u.cache_write_tokens}})));
        out.extend(event("message_stop", &json!({"type": "message_stop"})));
        out
    }
}
