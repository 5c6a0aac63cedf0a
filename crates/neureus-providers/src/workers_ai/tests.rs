//! Workers AI adapter tests: translation, both result shapes, R1 think splitting, errors.

use neureus_types::StreamEvent;
use proptest::prelude::*;

use super::translate::{error_message, from_wire, to_wire};
use super::WorkersStream;
use crate::testutil::{coalesce, fixture, full_request, run, split_at};
use crate::{ProviderError, ReasoningStyle, UpstreamModel};

fn model(reasoning: ReasoningStyle) -> UpstreamModel {
    UpstreamModel {
        id: "@cf/meta/llama-3.3-70b-instruct-fp8-fast".into(),
        default_max_tokens: 256,
        reasoning,
    }
}

#[test]
fn request_translation() {
    let mut req = full_request();
    let body = serde_json::to_value(to_wire(&req, &model(ReasoningStyle::None), true)).unwrap();
    insta::assert_json_snapshot!(body);
    // max_tokens is always sent (legacy models default to 256).
    req.max_tokens = None;
    let body = serde_json::to_value(to_wire(&req, &model(ReasoningStyle::None), false)).unwrap();
    assert_eq!(body["max_tokens"], 256);
}

#[test]
fn golden_legacy_tool_calls_get_ids_and_finish_reason() {
    let env = serde_json::from_str(&fixture("workers_ai/chat_tools_legacy.json")).unwrap();
    let resp = from_wire(env, &model(ReasoningStyle::None), 256).unwrap();
    insta::assert_debug_snapshot!(resp);
}

#[test]
fn golden_r1_non_streaming_splits_think() {
    let env = serde_json::from_str(&fixture("workers_ai/chat_r1.json")).unwrap();
    let resp = from_wire(env, &model(ReasoningStyle::InlineThink), 256).unwrap();
    assert_eq!(resp.content, "Three.");
    assert_eq!(resp.reasoning.as_deref(), Some("\nCount the letters.\n"));
}

#[test]
fn envelope_errors_inside_a_200() {
    let env = serde_json::from_str(&fixture("workers_ai/error_capacity.json")).unwrap();
    match from_wire(env, &model(ReasoningStyle::None), 256) {
        Err(ProviderError::Upstream {
            status, message, ..
        }) => {
            assert_eq!(status, 429);
            assert!(message.contains("3040"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let msg = error_message(429, fixture("workers_ai/error_capacity.json").as_bytes());
    assert_eq!(
        msg,
        "Capacity temporarily exceeded, please try again. (code 3040)"
    );
}

#[test]
fn golden_stream_legacy() {
    let text = fixture("workers_ai/stream_legacy.sse");
    insta::assert_debug_snapshot!(run(WorkersStream::new(false, 256), &[text.as_bytes()]));
}

#[test]
fn golden_stream_r1_without_opening_tag_across_chunks() {
    let text = fixture("workers_ai/stream_r1_missing_open_tag.sse");
    let out = coalesce(run(WorkersStream::new(true, 256), &[text.as_bytes()]));
    insta::assert_debug_snapshot!(out);
    assert_eq!(
        out[0],
        Ok(StreamEvent::Reasoning("The user asks why.".into()))
    );
    assert_eq!(out[1], Ok(StreamEvent::Content("Because it is.".into())));
}

#[test]
fn golden_stream_openai_shaped_with_trailing_legacy_usage() {
    let text = fixture("workers_ai/stream_openai_shaped.sse");
    insta::assert_debug_snapshot!(run(WorkersStream::new(false, 256), &[text.as_bytes()]));
}

#[test]
fn error_chunk_mid_stream() {
    let text = "data: {\"response\":\"Hi\"}\n\ndata: {\"errors\":[{\"code\":3040,\"message\":\"Capacity temporarily exceeded\"}]}\n\n";
    let out = run(WorkersStream::new(false, 256), &[text.as_bytes()]);
    assert_eq!(out[0], Ok(StreamEvent::Content("Hi".into())));
    assert!(out[1].as_ref().unwrap_err().contains("429"), "{out:?}");
}

proptest! {
    #[test]
    fn any_split_gives_the_same_events(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        for (name, think) in [("workers_ai/stream_legacy.sse", false), ("workers_ai/stream_r1_missing_open_tag.sse", true), ("workers_ai/stream_openai_shaped.sse", false)] {
            let text = fixture(name);
            let whole = coalesce(run(WorkersStream::new(think, 256), &[text.as_bytes()]));
            let parts = split_at(text.as_bytes(), &cuts);
            prop_assert_eq!(coalesce(run(WorkersStream::new(think, 256), &parts)), whole);
        }
    }
}
