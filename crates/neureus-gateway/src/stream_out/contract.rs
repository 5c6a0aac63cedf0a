//! The contract's stream (§3): `{"delta": …, "done": false}` chunks and a final
//! `{"done": true, …}` event with usage, cost and any error.

use axum::response::sse::Event;
use neureus_types::{FinishReason, StreamEvent, ToolCallDelta};
use serde::Serialize;

use super::{json_event, Ending, Format};

#[derive(Serialize)]
struct DeltaChunk<'a> {
    delta: Delta<'a>,
    done: bool,
}

#[derive(Serialize)]
enum Delta<'a> {
    #[serde(rename = "content")]
    Content(&'a str),
    #[serde(rename = "reasoning")]
    Reasoning(&'a str),
    #[serde(rename = "toolCalls")]
    ToolCalls([ToolCallChunk<'a>; 1]),
}

#[derive(Serialize)]
struct ToolCallChunk<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Final<'a> {
    done: bool,
    log_id: &'a str,
    model: &'a str,
    provider: &'a str,
    finish_reason: Option<FinishReason>,
    input_tokens: u64,
    output_tokens: u64,
    cached_input_tokens: u64,
    cost_usd: f64,
    latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FinalError<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing: Option<&'a crate::routing::RoutingInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preprocessing: Option<&'a crate::preprocess::Report>,
}

#[derive(Serialize)]
struct FinalError<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

/// The contract's own format.
#[derive(Debug, Default)]
pub struct ContractFormat;

impl Format for ContractFormat {
    fn delta(&mut self, ev: &StreamEvent) -> Vec<Event> {
        let delta = match ev {
            StreamEvent::Content(t) => Delta::Content(t),
            StreamEvent::Reasoning(t) => Delta::Reasoning(t),
            StreamEvent::ToolCall(ToolCallDelta {
                index,
                id,
                name,
                arguments,
            }) => Delta::ToolCalls([ToolCallChunk {
                index: *index,
                id: id.as_deref(),
                name: name.as_deref(),
                arguments,
            }]),
            StreamEvent::Usage(_) | StreamEvent::Finish(_) => return Vec::new(),
        };
        json_event(&DeltaChunk { delta, done: false })
            .into_iter()
            .collect()
    }

    fn end(&mut self, e: &Ending<'_>) -> Vec<Event> {
        let m = &e.prep.model;
        json_event(&Final {
            done: true,
            log_id: &e.prep.log_id,
            model: &m.entry.id,
            provider: m.entry.provider.as_str(),
            finish_reason: e.finish,
            input_tokens: e.usage.input_tokens,
            output_tokens: e.usage.output_tokens,
            cached_input_tokens: e.usage.cache_read_tokens,
            cost_usd: e.cost_usd,
            latency_ms: u64::try_from(e.prep.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            error: e.error.map(|x| FinalError {
                kind: x.kind.as_str(),
                message: &x.message,
            }),
            routing: e.prep.routing.as_ref(),
            preprocessing: e.prep.preprocessing.as_ref(),
        })
        .into_iter()
        .collect()
    }
}
