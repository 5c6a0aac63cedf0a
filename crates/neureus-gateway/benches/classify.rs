//! Classification for `model: "auto"`. Targets (issue 5): a typical 1K-token request p50
//! ≤ 20 µs; a 100K-token request ≤ 1 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use neureus_gateway::routing::classify;
use neureus_types::{ChatRequest, Message, Role};

fn req(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "auto".into(),
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

const PROSE: &str =
    "We reviewed the quarterly plan with the team and agreed to move the launch to March, \
because the supplier needs more time and the marketing budget is not final yet. ";

fn bench(c: &mut Criterion) {
    // ~1K tokens: system prompt, a multi-turn exchange, and a question with a code block.
    let typical = req(vec![
        Message::text(Role::System, "You are a helpful assistant for a software company. Answer precisely."),
        Message::text(Role::User, PROSE.repeat(8)),
        Message::text(Role::Assistant, PROSE.repeat(8)),
        Message::text(Role::User, format!("{}\n```python\ndef total(items):\n    return sum(i.price for i in items)\n```\nWhy is this slow for large lists?", PROSE.repeat(6))),
    ]);
    // A general 1K-token request with no code at all (every rule is evaluated).
    let general = req(vec![Message::text(
        Role::User,
        format!("{} Please write a summary for the board.", PROSE.repeat(26)),
    )]);
    // ~100K tokens over 200 messages.
    let long = req((0..200)
        .map(|i| {
            Message::text(
                if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                PROSE.repeat(14),
            )
        })
        .collect());
    let mut g = c.benchmark_group("classify");
    g.bench_function("typical_1k_multiturn_code", |b| {
        b.iter(|| classify(std::hint::black_box(&typical)))
    });
    g.bench_function("typical_1k_general", |b| {
        b.iter(|| classify(std::hint::black_box(&general)))
    });
    g.bench_function("long_100k_200msg", |b| {
        b.iter(|| classify(std::hint::black_box(&long)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
