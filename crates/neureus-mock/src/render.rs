//! Shared helpers: splitting text into stream pieces, usage defaults, and the streamed body
//! (delays, byte splitting, cuts, and noticing a client that went away).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use serde_json::Value;

use crate::script::{MockUsage, Reply, Script};
use crate::Call;

/// Splits text into word pieces that keep their leading space ("Hello", " world").
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch == ' ' && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Splits a JSON text into 3 roughly equal fragments (cutting mid-token, as real streams do).
pub(crate) fn fragments(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len().div_ceil(3).max(1);
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// The usage the script reports, or one derived from the request and reply sizes.
pub(crate) fn usage(script: &Script, body: &Value) -> MockUsage {
    if let Some(u) = script.usage {
        return u;
    }
    let input = (body
        .get("messages")
        .map(|m| m.to_string().len())
        .unwrap_or(0) as u64
        / 4)
    .max(1);
    let output = match &script.reply {
        Reply::Text(t) => pieces(t).len() as u64,
        Reply::ToolCalls { text, calls } => {
            pieces(text).len() as u64
                + calls
                    .iter()
                    .map(|(_, a)| a.to_string().len() as u64 / 4 + 5)
                    .sum::<u64>()
        }
        Reply::Thinking { thinking, text } => (pieces(thinking).len() + pieces(text).len()) as u64,
        Reply::Error { .. } => 0,
    };
    MockUsage {
        input,
        output: output.max(1),
        cached: 0,
    }
}

/// Marks a recorded request aborted if the body is dropped before its end.
struct Guard {
    aborted: Arc<AtomicBool>,
    completed: Arc<AtomicBool>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.completed.load(Ordering::SeqCst) {
            self.aborted.store(true, Ordering::SeqCst);
        }
    }
}

/// A `text/event-stream` response from whole events. `events` are complete SSE events
/// (with their blank line); `error_event` is sent instead of the rest when the script says
/// `error_after`; `cut_after` ends the body early without the terminator.
pub(crate) fn sse_response(call: &Call, events: Vec<String>, error_event: String) -> Response {
    let script = &call.script;
    let mut items: Vec<String> = Vec::new();
    for (i, ev) in events.into_iter().enumerate() {
        if script.cut_after == Some(i) {
            break;
        }
        if script.error_after == Some(i) {
            items.push(error_event);
            break;
        }
        items.push(ev);
    }
    let mut frames: Vec<Bytes> = Vec::new();
    for ev in items {
        match script.split_bytes {
            None => frames.push(Bytes::from(ev)),
            Some(n) => {
                let b = Bytes::from(ev);
                let mut at = 0;
                while at < b.len() {
                    let end = (at + n).min(b.len());
                    frames.push(b.slice(at..end));
                    at = end;
                }
            }
        }
    }
    let delay = script.chunk_delay;
    let guard = Guard {
        aborted: call.aborted.clone(),
        completed: call.completed.clone(),
    };
    let stream = futures_util::stream::unfold(
        (frames.into_iter(), guard, true),
        move |(mut it, guard, first)| async move {
            let Some(frame) = it.next() else {
                guard.completed.store(true, Ordering::SeqCst);
                return None;
            };
            if !first && delay > Duration::ZERO {
                tokio::time::sleep(delay).await;
            }
            Some((Ok::<Bytes, std::io::Error>(frame), (it, guard, false)))
        },
    );
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// `data: {json}\n\n`
pub(crate) fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

/// Waits the first-byte delay; a client that hangs up meanwhile is recorded as aborted.
pub(crate) async fn before_answer(call: &Call) {
    if call.script.first_byte_delay > Duration::ZERO {
        let guard = Guard {
            aborted: call.aborted.clone(),
            completed: Arc::new(AtomicBool::new(false)),
        };
        tokio::time::sleep(call.script.first_byte_delay).await;
        guard.completed.store(true, Ordering::SeqCst);
    }
}

/// Marks a non-streamed call complete.
pub(crate) fn complete(call: &Call) {
    call.completed.store(true, Ordering::SeqCst);
}

/// OpenAI's usage object (Workers AI's OpenAI-shaped models use it too).
pub(crate) fn json_usage_openai(u: &MockUsage) -> Value {
    serde_json::json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}
