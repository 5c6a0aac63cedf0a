//! OpenAI adapter tests: translation, golden fixtures, chunking invariance.

use neureus_types::StreamEvent;
use proptest::prelude::*;

use super::translate::{from_wire, to_wire};
use super::OpenaiStream;
use crate::testutil::{coalesce, fixture, full_request, run, split_at};
use crate::{ReasoningStyle, UpstreamModel};

fn model() -> UpstreamModel {
    UpstreamModel {
        id: "gpt-4o".into(),
        default_max_tokens: 4096,
        reasoning: ReasoningStyle::None,
    }
}

#[test]
fn request_translation() {
    let req = full_request();
    let m = model();
    let body = serde_json::to_value(to_wire(&req, &m, true)).unwrap();
    insta::assert_json_snapshot!(body);
}

#[test]
fn reasoning_effort_only_for_reasoning_models() {
    let req = full_request();
    let plain = serde_json::to_value(to_wire(&req, &model(), false)).unwrap();
    assert!(plain.get("reasoning_effort").is_none());
    assert!(plain.get("stream_options").is_none());
    let m = UpstreamModel {
        reasoning: ReasoningStyle::OpenaiEffort,
        ..model()
    };
    let body = serde_json::to_value(to_wire(&req, &m, false)).unwrap();
    assert_eq!(body["reasoning_effort"], "low");
}

#[test]
fn golden_non_streaming_tools() {
    let resp =
        from_wire(serde_json::from_str(&fixture("openai/chat_tools.json")).unwrap()).unwrap();
    insta::assert_debug_snapshot!(resp);
}

#[test]
fn golden_stream_text() {
    let text = fixture("openai/stream_text.sse");
    insta::assert_debug_snapshot!(run(OpenaiStream::new(), &[text.as_bytes()]));
}

#[test]
fn golden_stream_interleaved_tools_and_usage_with_null_choices() {
    let text = fixture("openai/stream_tools.sse");
    insta::assert_debug_snapshot!(run(OpenaiStream::new(), &[text.as_bytes()]));
}

#[test]
fn golden_stream_error_mid_stream() {
    let text = fixture("openai/stream_error.sse");
    let out = run(OpenaiStream::new(), &[text.as_bytes()]);
    assert_eq!(out[0], Ok(StreamEvent::Content("Par".into())));
    assert!(out[1].as_ref().unwrap_err().contains("500"), "{out:?}");
}

#[test]
fn a_stream_without_done_is_cut() {
    let text = fixture("openai/stream_text.sse").replace("data: [DONE]", "");
    let out = run(OpenaiStream::new(), &[text.as_bytes()]);
    assert_eq!(
        out.last().unwrap().as_ref().unwrap_err(),
        "the provider's stream ended before it finished"
    );
}

#[test]
fn error_bodies() {
    let msg = super::error_message(429, br#"{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#);
    assert_eq!(msg, "Rate limit reached (rate_limit_exceeded)");
    assert_eq!(
        super::error_message(502, b"<html>bad gateway</html>"),
        "<html>bad gateway</html>"
    );
    assert_eq!(
        super::error_message(500, b""),
        "HTTP 500 with an empty body"
    );
}

#[test]
fn base_urls_are_parsed_once_at_start_and_bad_ones_refused() {
    let http = crate::HttpClient::new(crate::Timeouts::default()).unwrap();
    let p = super::OpenaiProvider::new("http://127.0.0.1:9/v1/", http.clone()).unwrap();
    assert_eq!(
        p.url.uri().to_string(),
        "http://127.0.0.1:9/v1/chat/completions"
    );
    let err = super::OpenaiProvider::new("not a url", http).unwrap_err();
    assert!(err.to_string().contains("invalid upstream URL"), "{err}");
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0usize..5000, 0..12)) {
        for name in ["openai/stream_text.sse", "openai/stream_tools.sse"] {
            let text = fixture(name);
            let whole = coalesce(run(OpenaiStream::new(), &[text.as_bytes()]));
            let parts = split_at(text.as_bytes(), &cuts);
            prop_assert_eq!(coalesce(run(OpenaiStream::new(), &parts)), whole);
        }
    }
}
