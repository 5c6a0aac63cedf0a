//! A request body from a client, any bytes, as each chat API parses and checks it: `/ai/chat`
//! (the canonical request), `/v1/chat/completions` (OpenAI's shape) and `/v1/messages`
//! (Anthropic's), each translated to the canonical request and validated. Every bad body must
//! come back as an error (a 4xx), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neureus_gateway::compat::{anthropic::AnthropicRequest, openai::OpenaiRequest};
use neureus_gateway::{extract::parse_json, validate};
use neureus_types::ChatRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_json::<ChatRequest>(data) {
        let _ = validate::chat_request(&req);
        // What parsed serializes and parses back to the same request.
        let again = serde_json::to_vec(&req).expect("a parsed request serializes");
        let back: ChatRequest = serde_json::from_slice(&again).expect("and parses back");
        assert_eq!(back, req);
    }
    if let Ok(req) = parse_json::<OpenaiRequest>(data) {
        let _ = req.include_usage();
        if let Ok(canonical) = req.into_canonical() {
            let _ = validate::chat_request(&canonical);
        }
    }
    if let Ok(req) = parse_json::<AnthropicRequest>(data) {
        if let Ok(canonical) = req.into_canonical() {
            let _ = validate::chat_request(&canonical);
        }
    }
});
