//! The contract's SSE stream (§3 "Streaming"): one `data:` JSON chunk per upstream event,
//! forwarded as it arrives, and a final `done` event with usage and cost — or with the error
//! when the upstream fails after the first chunk. Dropping the response (client gone) drops
//! the upstream stream, which closes the upstream connection.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use neureus_providers::EventStream;
use neureus_types::{FinishReason, StreamEvent, ToolCallDelta, Usage};
use serde::Serialize;

use crate::error::ApiError;
use crate::handlers::chat::Prepared;

#[derive(Serialize)]
struct DeltaChunk<'a> {
    delta: Delta<'a>,
    done: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
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

struct State {
    upstream: EventStream,
    prep: Prepared,
    usage: Usage,
    finish: Option<FinishReason>,
    saw_tool_call: bool,
    ended: bool,
}

impl State {
    fn event_for(&mut self, ev: StreamEvent) -> Option<Event> {
        let delta = match &ev {
            StreamEvent::Content(t) => Delta::Content(t),
            StreamEvent::Reasoning(t) => Delta::Reasoning(t),
            StreamEvent::ToolCall(ToolCallDelta {
                index,
                id,
                name,
                arguments,
            }) => {
                self.saw_tool_call = true;
                Delta::ToolCalls([ToolCallChunk {
                    index: *index,
                    id: id.as_deref(),
                    name: name.as_deref(),
                    arguments,
                }])
            }
            StreamEvent::Usage(u) => {
                self.usage = *u;
                return None;
            }
            StreamEvent::Finish(f) => {
                self.finish = Some(*f);
                return None;
            }
        };
        json_event(&DeltaChunk { delta, done: false })
    }

    /// The closing event: with usage and cost, and the error if there was one.
    fn final_event(&mut self, error: Option<&ApiError>) -> Option<Event> {
        self.ended = true;
        let m = &self.prep.model;
        let finish = self.finish.or(if error.is_some() {
            None
        } else if self.saw_tool_call {
            Some(FinishReason::ToolCalls)
        } else {
            Some(FinishReason::Stop)
        });
        json_event(&Final {
            done: true,
            log_id: &self.prep.log_id,
            model: &m.entry.id,
            provider: m.entry.provider.as_str(),
            finish_reason: finish,
            input_tokens: self.usage.input_tokens,
            output_tokens: self.usage.output_tokens,
            cached_input_tokens: self.usage.cache_read_tokens,
            cost_usd: self.prep.cost_usd(&self.usage),
            latency_ms: u64::try_from(self.prep.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            error: error.map(|e| FinalError {
                kind: e.kind.as_str(),
                message: &e.message,
            }),
            routing: self.prep.routing.as_ref(),
            preprocessing: self.prep.preprocessing.as_ref(),
        })
    }
}

fn json_event<T: Serialize>(v: &T) -> Option<Event> {
    match serde_json::to_string(v) {
        Ok(s) => Some(Event::default().data(s)),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a stream chunk");
            None
        }
    }
}

/// Streams the upstream events to the client.
pub fn respond(upstream: EventStream, prep: Prepared) -> Response {
    let state = State {
        upstream,
        prep,
        usage: Usage::default(),
        finish: None,
        saw_tool_call: false,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if st.ended {
                return None;
            }
            let ev = match st.upstream.next().await {
                Some(Ok(ev)) => st.event_for(ev),
                None => st.final_event(None),
                Some(Err(e)) => {
                    let err = ApiError::from(e);
                    tracing::warn!(kind = err.kind.as_str(), message = %err.message, "stream failed after the first chunk");
                    st.final_event(Some(&err))
                }
            };
            if let Some(ev) = ev {
                return Some((Ok::<Event, Infallible>(ev), st));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
