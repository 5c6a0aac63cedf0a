//! Streaming answers, forwarded chunk by chunk as they arrive. One driver owns what every
//! surface shares — usage, the log record, time to first byte, output counted from what was
//! sent, and the client going away (dropping the response drops the upstream stream, which
//! closes the upstream connection) — and a [`Format`] renders the wire format: the contract's
//! own events (`contract`), OpenAI chunks (`openai`) or Anthropic events (`anthropic`).

pub mod anthropic;
mod contract;
pub mod openai;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use neureus_providers::EventStream;
use neureus_types::{FinishReason, StreamEvent, Usage};
use serde::Serialize;

use crate::error::ApiError;
use crate::handlers::chat::Prepared;
use crate::logging::Pending;
use crate::preprocess::tokens::Counter;

pub use contract::ContractFormat;

/// How a stream ended, for the closing events.
pub struct Ending<'a> {
    /// Usage to report (upstream's, or counted when it failed or never said).
    pub usage: Usage,
    /// Finish reason (inferred when the upstream sent none).
    pub finish: Option<FinishReason>,
    /// The error after the first chunk, if any.
    pub error: Option<&'a ApiError>,
    /// The request.
    pub prep: &'a Prepared,
    /// Total cost, USD.
    pub cost_usd: f64,
}

/// A surface's wire format.
pub trait Format: Send + 'static {
    /// Events before the first delta (e.g. OpenAI's role chunk, Anthropic's `message_start`).
    fn start(&mut self, _prep: &Prepared) -> Vec<Event> {
        Vec::new()
    }
    /// Events for one content, reasoning or tool-call delta.
    fn delta(&mut self, ev: &StreamEvent) -> Vec<Event>;
    /// Closing events.
    fn end(&mut self, end: &Ending<'_>) -> Vec<Event>;
}

/// One SSE `data:` event holding `v` as JSON.
pub fn json_event<T: Serialize>(v: &T) -> Option<Event> {
    match serde_json::to_string(v) {
        Ok(s) => Some(Event::default().data(s)),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a stream chunk");
            None
        }
    }
}

struct State<F: Format> {
    format: F,
    queue: VecDeque<Event>,
    started: bool,
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

impl<F: Format> State<F> {
    fn on_event(&mut self, ev: StreamEvent) {
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
        match &ev {
            StreamEvent::Usage(u) => {
                self.usage = *u;
                return;
            }
            StreamEvent::Finish(f) => {
                self.finish = Some(*f);
                return;
            }
            StreamEvent::ToolCall(_) => self.saw_tool_call = true,
            _ => {}
        }
        if !self.started {
            self.started = true;
            let evs = self.format.start(&self.prep);
            self.queue.extend(evs);
        }
        let evs = self.format.delta(&ev);
        self.queue.extend(evs);
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

    /// The closing events: with usage and cost, and the error if there was one.
    fn finish(&mut self, error: Option<&ApiError>) {
        self.ended = true;
        let usage = self.effective_usage(error.is_some());
        self.fill_log(usage, error);
        let finish = self.finish.or(if error.is_some() {
            None
        } else if self.saw_tool_call {
            Some(FinishReason::ToolCalls)
        } else {
            Some(FinishReason::Stop)
        });
        if !self.started {
            self.started = true;
            let evs = self.format.start(&self.prep);
            self.queue.extend(evs);
        }
        let ending = Ending {
            usage,
            finish,
            error,
            prep: &self.prep,
            cost_usd: self.prep.cost_usd(&usage),
        };
        let evs = self.format.end(&ending);
        self.queue.extend(evs);
    }
}

impl<F: Format> Drop for State<F> {
    fn drop(&mut self) {
        if !self.ended && self.log.is_some() {
            // The client went away mid-stream: record the usage seen so far (the Pending's
            // own Drop submits it as `client_disconnected`).
            let usage = self.effective_usage(true);
            self.fill_log(usage, None);
        }
    }
}

/// Streams the upstream events to the client in `format`.
pub fn respond<F: Format>(
    upstream: EventStream,
    prep: Prepared,
    log: Option<Pending>,
    format: F,
) -> Response {
    let state = State {
        format,
        queue: VecDeque::new(),
        started: false,
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
            if let Some(ev) = st.queue.pop_front() {
                return Some((Ok::<Event, Infallible>(ev), st));
            }
            if st.ended {
                if let Some(l) = st.log.take() {
                    l.finish().await;
                }
                return None;
            }
            match st.upstream.next().await {
                Some(Ok(ev)) => st.on_event(ev),
                None => st.finish(None),
                Some(Err(e)) => {
                    let err = ApiError::from(e);
                    tracing::warn!(kind = err.kind.as_str(), message = %err.message, "stream failed after the first chunk");
                    st.finish(Some(&err));
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
