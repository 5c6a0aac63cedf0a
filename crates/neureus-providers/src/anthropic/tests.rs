//! Anthropic adapter tests: translation, golden fixtures, chunking invariance.

use neureus_types::{StreamEvent, Usage};
use proptest::prelude::*;

use super::translate::{from_wire, to_wire};
use super::AnthropicStream;
use crate::testutil::{coalesce, fixture, full_request, run, split_at};
use crate::{ReasoningStyle, UpstreamModel};

fn model(reasoning: ReasoningStyle) -> UpstreamModel {
    UpstreamModel {
        id: "claude-sonnet-4-6".into(),
        default_max_tokens: 4096,
        reasoning,
    }
}

#[test]
fn request_translation() {
    let req = full_request();
    let m = model(ReasoningStyle::AnthropicBudget);
    let body = serde_json::to_value(to_wire(&req, &m, true)).unwrap();
    // Budget 2048 >= maxTokens 300: the budget is added on top, sampling is dropped.
    assert_eq!(body["max_tokens"], 2348);
    assert!(body.get("temperature").is_none());
    insta::assert_json_snapshot!(body);
}

#[test]
fn adaptive_thinking_and_no_reasoning() {
    let mut req = full_request();
    let m = model(ReasoningStyle::AnthropicAdaptive);
    let body = serde_json::to_value(to_wire(&req, &m, false)).unwrap();
    assert_eq!(body["thinking"]["type"], "adaptive");
    assert_eq!(body["output_config"]["effort"], "low");
    req.reasoning = None;
    let body = serde_json::to_value(to_wire(&req, &m, false)).unwrap();
    assert!(body.get("thinking").is_none());
    assert_eq!(body["temperature"], 0.2);
    assert_eq!(body["max_tokens"], 300);
}

#[test]
fn golden_non_streaming_thinking_and_tools() {
    let resp =
        from_wire(serde_json::from_str(&fixture("anthropic/chat_thinking_tools.json")).unwrap());
    assert_eq!(
        resp.usage,
        Usage {
            input_tokens: 2212,
            output_tokens: 96,
            cache_read_tokens: 1800,
            cache_write_tokens: 0
        }
    );
    insta::assert_debug_snapshot!(resp);
}

#[test]
fn golden_stream_thinking_text_tools() {
    let text = fixture("anthropic/stream_thinking_tools.sse");
    insta::assert_debug_snapshot!(run(AnthropicStream::new(), &[text.as_bytes()]));
}

#[test]
fn golden_stream_overloaded_mid_stream() {
    let text = fixture("anthropic/stream_overloaded.sse");
    let out = run(AnthropicStream::new(), &[text.as_bytes()]);
    assert_eq!(out[1], Ok(StreamEvent::Content("Once upon".into())));
    let err = out.last().unwrap().as_ref().unwrap_err();
    assert!(
        err.contains("529") && err.contains("overloaded_error"),
        "{err}"
    );
}

#[test]
fn crlf_framing_is_accepted() {
    let text = fixture("anthropic/stream_thinking_tools.sse").replace('\n', "\r\n");
    let lf = run(
        AnthropicStream::new(),
        &[fixture("anthropic/stream_thinking_tools.sse").as_bytes()],
    );
    assert_eq!(run(AnthropicStream::new(), &[text.as_bytes()]), lf);
}

#[test]
fn error_bodies() {
    let msg = super::error_message(529, br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#);
    assert_eq!(msg, "Overloaded (overloaded_error)");
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0usize..5000, 0..12)) {
        let text = fixture("anthropic/stream_thinking_tools.sse");
        let whole = coalesce(run(AnthropicStream::new(), &[text.as_bytes()]));
        let parts = split_at(text.as_bytes(), &cuts);
        prop_assert_eq!(coalesce(run(AnthropicStream::new(), &parts)), whole);
    }
}
