//! Hot functions of the request path: parsing a request, translating it for each provider,
//! decoding an upstream SSE chunk and re-encoding it for the client, computing cost, and
//! authenticating a cached API key.

#![expect(
    clippy::expect_used,
    reason = "a benchmark may stop loudly when its setup fails"
)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use neureus_gateway::catalog::Catalog;
use neureus_gateway::config::Config;
use neureus_gateway::state::Keys;
use neureus_gateway::stream_out::{ContractFormat, Format};
use neureus_gateway::AppState;
use neureus_providers::anthropic::AnthropicStream;
use neureus_providers::openai::OpenaiStream;
use neureus_providers::sse::SseDecoder;
use neureus_providers::{anthropic, openai, workers_ai, StreamMachine};
use neureus_store::{SqliteStore, Store};
use neureus_types::{ChatRequest, Usage};

const REQUEST: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarize the GDPR in one paragraph, in plain words, for a small shop owner."}],"maxTokens":512,"temperature":0.3,"metadata":{"user":"u_42"}}"#;
const OPENAI_CHUNK: &[u8] = br#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}],"usage":null}

"#;
const ANTHROPIC_CHUNK: &[u8] = br#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" token"}}

"#;

fn bench(c: &mut Criterion) {
    let catalog = Catalog::load(&[]).expect("catalog");
    let req: ChatRequest = serde_json::from_str(REQUEST).expect("request");
    let mut g = c.benchmark_group("hot");
    g.bench_function("parse_request", |b| {
        b.iter(|| serde_json::from_slice::<ChatRequest>(std::hint::black_box(REQUEST.as_bytes())))
    });
    for (name, model) in [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-6"),
        ("workers_ai", "meta/llama-3.3-70b"),
    ] {
        let up = catalog.get(model).expect("model").upstream.clone();
        g.bench_function(format!("translate_{name}"), |b| {
            b.iter(|| match name {
                "openai" => openai::request_body(&req, &up, true),
                "anthropic" => anthropic::request_body(&req, &up, true),
                _ => workers_ai::request_body(&req, &up, true),
            })
        });
    }
    g.bench_function("sse_chunk_openai_decode_and_reencode", |b| {
        let mut dec = SseDecoder::new();
        let mut m = OpenaiStream::new();
        let mut f = ContractFormat;
        b.iter(|| {
            for ev in dec.feed(OPENAI_CHUNK) {
                for e in m.on_event(ev).expect("chunk") {
                    std::hint::black_box(f.delta(&e));
                }
            }
        })
    });
    g.bench_function("sse_chunk_anthropic_decode_and_reencode", |b| {
        let mut dec = SseDecoder::new();
        let mut m = AnthropicStream::new();
        let mut f = ContractFormat;
        b.iter(|| {
            for ev in dec.feed(ANTHROPIC_CHUNK) {
                for e in m.on_event(ev).expect("chunk") {
                    std::hint::black_box(f.delta(&e));
                }
            }
        })
    });
    let model = catalog.get("claude-sonnet-4-6").expect("model").clone();
    let usage = Usage {
        input_tokens: 2212,
        output_tokens: 96,
        cache_read_tokens: 1800,
        cache_write_tokens: 0,
    };
    g.bench_function("cost", |b| {
        b.iter(|| model.cost_usd(std::hint::black_box(&usage)))
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (state, header) = rt.block_on(async {
        let store = Arc::new(
            SqliteStore::connect("sqlite::memory:")
                .await
                .expect("store"),
        );
        store.migrate().await.expect("migrate");
        let (_, key) = store.create_tenant("bench").await.expect("tenant");
        let cfg = Config::for_tests(
            "http://127.0.0.1:1/v1",
            "http://127.0.0.1:1",
            "http://127.0.0.1:1/client/v4",
        );
        let state = AppState::new(cfg, store, Keys::ephemeral().expect("keys")).expect("state");
        let header = format!("Bearer {}", key.api_key.expose());
        neureus_gateway::auth::authenticate(&state, Some(&header))
            .await
            .expect("warm the cache");
        (state, header)
    });
    g.bench_function("auth_cached_key", |b| {
        b.iter(|| {
            rt.block_on(neureus_gateway::auth::authenticate(
                &state,
                Some(std::hint::black_box(&header)),
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
