//! OpenAI Chat Completions streaming, as the official SDKs expect: `chat.completion.chunk`
//! objects, the role in the first delta, tool-call deltas by index, `finish_reason` on the
//! last choice chunk, a usage chunk with empty `choices` when `stream_options.include_usage`
//! is set, then `data: [DONE]`. An error after the first chunk is a `data: {"error": …}`.

use axum::response::sse::Event;
use neureus_types::{FinishReason, StreamEvent};
use serde_json::{json, Value};

use super::{json_event, Ending, Format};
use crate::handlers::chat::Prepared;

/// OpenAI's finish reason names.
pub fn finish_name(f: FinishReason) -> &'static str {
    f.as_str()
}

/// Chunks in OpenAI's format.
#[derive(Debug)]
pub struct OpenaiFormat {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
}

impl OpenaiFormat {
    /// For one response; `include_usage` from `stream_options`.
    pub fn new(prep: &Prepared, include_usage: bool) -> Self {
        OpenaiFormat {
            id: format!("chatcmpl-{}", prep.log_id.trim_start_matches("log_")),
            model: prep.model.entry.id.clone(),
            created: (neureus_store::now_ms() / 1000).max(0) as u64,
            include_usage,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Option<Event> {
        let mut c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        json_event(&c)
    }
}

impl Format for OpenaiFormat {
    fn start(&mut self, _prep: &Prepared) -> Vec<Event> {
        self.chunk(json!({"role": "assistant", "content": ""}), None)
            .into_iter()
            .collect()
    }

    fn delta(&mut self, ev: &StreamEvent) -> Vec<Event> {
        let delta = match ev {
            StreamEvent::Content(t) => json!({"content": t}),
            StreamEvent::Reasoning(t) => json!({"reasoning_content": t}),
            StreamEvent::ToolCall(d) => {
                let mut call = json!({"index": d.index, "function": {"arguments": d.arguments}});
                if let Some(id) = &d.id {
                    call["id"] = json!(id);
                    call["type"] = json!("function");
                }
                if let Some(name) = &d.name {
                    call["function"]["name"] = json!(name);
                }
                json!({"tool_calls": [call]})
            }
            StreamEvent::Usage(_) | StreamEvent::Finish(_) => return Vec::new(),
        };
        self.chunk(delta, None).into_iter().collect()
    }

    fn end(&mut self, e: &Ending<'_>) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(err) = e.error {
            out.extend(json_event(&json!({"error": {"message": err.message, "type": err.kind.as_str(), "param": null, "code": null}})));
            return out;
        }
        out.extend(self.chunk(
            json!({}),
            Some(finish_name(e.finish.unwrap_or(FinishReason::Stop))),
        ));
        if self.include_usage {
            out.extend(json_event(&json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [], "usage": usage_json(&e.usage),
            })));
        }
        out.push(Event::default().data("[DONE]"));
        out
    }
}

/// OpenAI's usage object.
pub fn usage_json(u: &neureus_types::Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    })
}
