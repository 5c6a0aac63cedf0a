//! What an upstream sends on a stream, any bytes: through the SSE decoder into each
//! provider's stream machine, then its end. Errors are expected; a panic is a bug. The
//! `<think>` splitter (Workers AI's reasoning models) fed in pieces gives what it gives for
//! the whole text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neureus_providers::anthropic::AnthropicStream;
use neureus_providers::openai::OpenaiStream;
use neureus_providers::sse::SseDecoder;
use neureus_providers::workers_ai::WorkersStream;
use neureus_providers::{StreamMachine, ThinkSplitter};

fn run(machine: &mut dyn StreamMachine, bytes: &[u8]) {
    let mut d = SseDecoder::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(7) {
        events.extend(d.feed(piece));
    }
    events.extend(d.finish());
    // A machine stops at its first error, as the gateway does.
    for ev in events {
        if machine.on_event(ev).is_err() {
            return;
        }
    }
    let _ = machine.on_eof();
}

fuzz_target!(|data: &[u8]| {
    run(&mut OpenaiStream::new(), data);
    run(&mut AnthropicStream::new(), data);
    run(&mut WorkersStream::new(false, 1024), data);
    run(&mut WorkersStream::new(true, 1024), data);

    let text = String::from_utf8_lossy(data);
    let whole = ThinkSplitter::split_all(&text);
    let mut s = ThinkSplitter::new();
    let (mut reasoning, mut answer) = (String::new(), String::new());
    let mut rest: &str = &text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(5);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let part = s.push(&rest[..cut]);
        reasoning.push_str(&part.reasoning);
        answer.push_str(&part.answer);
        rest = &rest[cut..];
    }
    let end = s.finish();
    reasoning.push_str(&end.reasoning);
    answer.push_str(&end.answer);
    assert_eq!(reasoning, whole.reasoning, "reasoning, in pieces and whole");
    assert_eq!(answer, whole.answer, "answer, in pieces and whole");
});
