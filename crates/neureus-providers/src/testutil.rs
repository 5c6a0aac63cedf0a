//! Test helpers: fixtures, running a state machine over SSE bytes, a canonical request.

use neureus_types::{ChatRequest, StreamEvent};

use crate::sse::SseDecoder;
use crate::StreamMachine;

/// Reads `fixtures/<path>` at the workspace root.
pub(crate) fn fixture(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Feeds `chunks` through the decoder and `m`; an error ends the run as its last item.
pub(crate) fn run<M: StreamMachine>(
    mut m: M,
    chunks: &[&[u8]],
) -> Vec<Result<StreamEvent, String>> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    let feed = |evs: Vec<crate::sse::SseEvent>, m: &mut M, out: &mut Vec<_>| -> bool {
        for ev in evs {
            if m.is_done() {
                return true;
            }
            match m.on_event(ev) {
                Ok(v) => out.extend(v.into_iter().map(Ok)),
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return false;
                }
            }
        }
        true
    };
    for c in chunks {
        if !feed(d.feed(c), &mut m, &mut out) {
            return out;
        }
    }
    if !feed(d.finish(), &mut m, &mut out) {
        return out;
    }
    match m.on_eof() {
        Ok(v) => out.extend(v.into_iter().map(Ok)),
        Err(e) => out.push(Err(e.to_string())),
    }
    out
}

/// Merges adjacent text pieces so results compare equal whatever the chunking.
pub(crate) fn coalesce(
    events: Vec<Result<StreamEvent, String>>,
) -> Vec<Result<StreamEvent, String>> {
    let mut out: Vec<Result<StreamEvent, String>> = Vec::new();
    for ev in events {
        match (out.last_mut(), &ev) {
            (Some(Ok(StreamEvent::Content(a))), Ok(StreamEvent::Content(b)))
            | (Some(Ok(StreamEvent::Reasoning(a))), Ok(StreamEvent::Reasoning(b))) => a.push_str(b),
            _ => out.push(ev),
        }
    }
    out
}

/// A request exercising every translation path.
pub(crate) fn full_request() -> ChatRequest {
    serde_json::from_str(
        r#"{
        "model": "x",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type":"text","text":"Weather here?"},{"type":"image","url":"data:image/png;base64,iVBORw0KGgo="}]},
            {"role": "assistant", "content": null, "toolCalls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]},
            {"role": "tool", "toolCallId": "call_1", "content": "{\"tempC\": 3}"},
            {"role": "system", "content": "Answer in French."}
        ],
        "maxTokens": 300, "temperature": 0.2, "topP": 0.9, "stop": ["END"],
        "tools": [{"name": "get_weather", "description": "Weather", "parameters": {"type":"object","properties":{"city":{"type":"string"}}}}],
        "toolChoice": "required",
        "reasoning": {"budgetTokens": 2048},
        "metadata": {"user": "u_42"}
    }"#,
    )
    .unwrap()
}

/// Every way to cut `bytes` at the given points.
pub(crate) fn split_at<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for b in bounds {
        out.push(&bytes[last..b]);
        last = b;
    }
    out.push(&bytes[last..]);
    out
}
