//! Passes 1–3 (normalize, structure, trim) on a typical 1K-token request and on a
//! 100K-token, 200-message conversation. Targets (issue 4): ≤ 20 µs and ≤ 2 ms.
//! The request is cloned outside the timed section.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use neureus_gateway::preprocess::{run_sync, tokens::Counter};
use neureus_types::{ChatRequest, Message, Role};

const WORDS: &[&str] = &[
    "gateway", "latency", "provider", "the", "a", "request", "stream", "token", "budget", "of",
    "Oslo", "42", "compute", "and", "we", "should", "config", "error", "retry", "cache",
];

fn prose(seed: usize, words: usize) -> String {
    let mut out = String::with_capacity(words * 7);
    for i in 0..words {
        if i > 0 {
            out.push(if i % 17 == 0 { '\n' } else { ' ' });
        }
        out.push_str(WORDS[(seed * 31 + i * 7) % WORDS.len()]);
    }
    out
}

/// ~1K tokens: a system prompt, a short exchange, a code block with blank lines, and a
/// question with stray whitespace.
fn typical() -> ChatRequest {
    let code = "Here is my handler:\n\n\n```rust\nfn main() {\n\n\n    println!(\"hi\");\n}\n```\n\n\n\nWhy is it slow?  ";
    let messages = vec![
        Message::text(
            Role::System,
            format!("You are a helpful assistant. {}", prose(1, 60)),
        ),
        Message::text(Role::User, prose(2, 200)),
        Message::text(Role::Assistant, prose(3, 250)),
        Message::text(Role::User, format!("{}\n\n\n{code}", prose(4, 200))),
    ];
    ChatRequest {
        model: "gpt-4o".into(),
        messages,
        stream: false,
        max_tokens: None,
        temperature: None,
        top_p: None,
        stop: Vec::new(),
        tools: Vec::new(),
        tool_choice: None,
        reasoning: None,
        metadata: None,
    }
}

/// ~100K tokens over 200 messages.
fn long() -> ChatRequest {
    let mut r = typical();
    r.messages.truncate(1);
    for i in 0..200 {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        r.messages.push(Message::text(
            role,
            format!("{}\n\n\n\n{}", prose(i, 240), prose(i + 7, 240)),
        ));
    }
    r
}

fn bench(c: &mut Criterion) {
    let openai = Counter::new(1.0);
    let claude = Counter::new(1.15);
    let (t, l) = (typical(), long());
    eprintln!(
        "typical: {} tokens, {} messages; long: {} tokens, {} messages",
        openai.messages(&t.messages),
        t.messages.len(),
        openai.messages(&l.messages),
        l.messages.len()
    );
    let mut g = c.benchmark_group("preprocess_passes_1_3");
    for (name, req, counter) in [
        ("typical_1k_gpt4o", &t, openai),
        ("typical_1k_claude", &t, claude),
        ("long_100k_200msg_gpt4o", &l, openai),
        ("long_100k_200msg_claude", &l, claude),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || req.clone(),
                |mut r| run_sync(&mut r, &counter, Some(6_000), true, false),
                BatchSize::LargeInput,
            )
        });
    }
    // With x-neureus-debug (exact token counts before and after each pass), for reference.
    g.bench_function("typical_1k_debug_stats", |b| {
        b.iter_batched(
            || t.clone(),
            |mut r| run_sync(&mut r, &openai, Some(6_000), true, true),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
