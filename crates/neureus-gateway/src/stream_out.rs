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
use crate::logging::Pending;
use crate::preprocess::tokens::Counter;

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
    /// The request's log record; submitted at the end, or on drop if the client leaves.
    log: Option<Pending>,
    /// Text sent so far (answer, reasoning, tool arguments): the response body when bodies
    /// are logged, and the output-token count when the upstream never reported usage.
    sent: String,
    first_sent: bool,
}

impl State {
    fn event_for(&mut self, ev: StreamEvent) -> Option<Event> {
        match &ev {
            StreamEvent::Content(t) | StreamEvent::Reasoning(t) => self.sent.push_str(t),
            StreamEvent::ToolCall(d) => self.sent.push_str(&d.arguments),
            _ => {}
        }
        if !self.first_sent && !matches!(ev, StreamEvent::Usage(_) | StreamEvent::Finish(_)) {
            self.first_sent = true;
            if let Some(l) = self.log.as_mut() {
                l.rec.ttft_ms = Some(
                    u64::try_from(self.prep.started.elapsed().as_millis()).unwrap_or(u64::MAX),
                );
            }
        }
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

    /// Usage to record: as reported, with output tokens counted from what was sent when
    /// the upstream reported fewer (a stream cut short, or no usage at all).
    fn recorded_usage(&self) -> Usage {
        let mut u = self.usage;
        if !self.sent.is_empty() {
            let counted = Counter::new(self.prep.model.tokenizer_factor()).text(&self.sent);
            u.output_tokens = u.output_tokens.max(counted);
        }
        u
    }

    /// The usage reported to the client and recorded: the upstream's, unless the stream
    /// failed or never reported output.
    fn effective_usage(&self, failed: bool) -> Usage {
        if failed || self.usage.output_tokens == 0 {
            self.recorded_usage()
        } else {
            self.usage
        }
    }

    fn fill_log(&mut self, usage: Usage, error: Option<&ApiError>) {
        let cost = self.prep.cost_usd(&usage);
        let body = self.log.as_ref().and_then(|l| l.body(&self.sent));
        if let Some(l) = self.log.as_mut() {
            l.rec.input_tokens = usage.input_tokens;
            l.rec.output_tokens = usage.output_tokens;
            l.rec.cached_tokens = usage.cache_read_tokens;
            l.rec.cost_usd = cost;
            l.rec.response_body = body;
            if let Some(e) = error {
                // The client got a 200 and then an in-band error.
                l.rec.error_type = Some(e.kind.as_str().to_owned());
                l.rec.error_message = Some(e.message.clone());
            }
        }
    }

    /// The closing event: with usage and cost, and the error if there was one.
    fn final_event(&mut self, error: Option<&ApiError>) -> Option<Event> {
        self.ended = true;
        let usage = self.effective_usage(error.is_some());
        self.fill_log(usage, error);
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
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cached_input_tokens: usage.cache_read_tokens,
            cost_usd: self.prep.cost_usd(&usage),
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

impl Drop for State {
    fn drop(&mut self) {
        if !self.ended && self.log.is_some() {
            // The client went away mid-stream: record the usage seen so far (the Pending's
            // own Drop submits it as `client_disconnected`).
            let usage = self.effective_usage(true);
            self.fill_log(usage, None);
        }
    }
}

/// Streams the upstream events to the client.
pub fn respond(upstream: EventStream, prep: Prepared, log: Option<Pending>) -> Response {
    let state = State {
        upstream,
        prep,
        usage: Usage::default(),
        finish: None,
        saw_tool_call: false,
        ended: false,
        log,
        sent: String::new(),
        first_sent: false,
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
            if st.ended {
                if let Some(l) = st.log.take() {
                    l.finish().await;
                }
            }
            if let Some(ev) = ev {
                return Some((Ok::<Event, Infallible>(ev), st));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
