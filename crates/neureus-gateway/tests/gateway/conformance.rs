//! One conformance suite, run against every provider through the mock: chat, stream, tools,
//! reasoning, usage and cost, errors — asserting both what the client got and what the
//! gateway actually sent upstream.

use std::time::Duration;

use neureus_gateway::catalog::Catalog;
use neureus_mock::{MockProvider, RecordedRequest, Script};
use neureus_types::Usage;
use serde_json::{json, Value};

use crate::harness::{assembled_tool_calls, joined, TestGateway};

struct Case {
    provider: MockProvider,
    /// Contract name of the provider.
    name: &'static str,
    model: &'static str,
    /// Whether this provider's wire format reports cached input tokens.
    reports_cache: bool,
    /// A model of this provider that reasons, if any.
    reasoning_model: Option<&'static str>,
    /// The contract type of the provider's mid-stream error (the mock sends Anthropic's
    /// `overloaded_error`, OpenAI's `server_error`, Workers AI's capacity error 3040).
    mid_stream_error: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        provider: MockProvider::Anthropic,
        name: "anthropic",
        model: "claude-sonnet-4-6",
        reports_cache: true,
        reasoning_model: Some("claude-sonnet-4-6"),
        mid_stream_error: "provider_error",
    },
    Case {
        provider: MockProvider::Openai,
        name: "openai",
        model: "gpt-4o-mini",
        reports_cache: true,
        reasoning_model: None,
        mid_stream_error: "provider_error",
    },
    Case {
        provider: MockProvider::WorkersAi,
        name: "workers-ai",
        model: "meta/llama-3.3-70b",
        reports_cache: false,
        reasoning_model: Some("deepseek/r1-32b"),
        mid_stream_error: "rate_limit_error",
    },
];

fn user(text: &str, model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn expected_cost(model: &str, usage: Usage) -> f64 {
    Catalog::load(&[])
        .unwrap()
        .get(model)
        .unwrap()
        .cost_usd(&usage)
}

/// The credentials and addressing the gateway used upstream.
fn assert_upstream_auth(case: &Case, r: &RecordedRequest, upstream: &str) {
    match case.provider {
        MockProvider::Openai => {
            assert_eq!(r.header("authorization"), Some("Bearer sk-test-openai"));
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(r.body["model"], upstream);
        }
        MockProvider::Anthropic => {
            assert_eq!(r.header("x-api-key"), Some("sk-ant-test"));
            assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(r.path, "/v1/messages");
            assert_eq!(r.body["model"], upstream);
            assert!(r.body["max_tokens"].as_u64().unwrap() > 0);
        }
        MockProvider::WorkersAi => {
            assert_eq!(r.header("authorization"), Some("Bearer cf-test-token"));
            assert_eq!(
                r.path,
                format!("/client/v4/accounts/acct123/ai/run/{upstream}")
            );
            assert!(r.body.get("model").is_none());
        }
    }
}

fn upstream_id(model: &str) -> String {
    Catalog::load(&[])
        .unwrap()
        .get(model)
        .unwrap()
        .entry
        .upstream
        .clone()
}

async fn chat_text(gw: &TestGateway, case: &Case) {
    gw.mock.push(
        case.provider,
        Script::text("Hello there, friend.").usage(100, 5, 60),
    );
    let (status, headers, body) = gw.chat(&json!({
        "model": case.model,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "maxTokens": 50, "temperature": 0.3, "stop": ["\n\n"], "metadata": {"user": "u_42"}
    })).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    assert_eq!(body["content"], "Hello there, friend.");
    assert_eq!(body["model"], case.model);
    assert_eq!(body["provider"], case.name);
    assert_eq!(body["finishReason"], "stop");
    assert_eq!(body["toolCalls"], json!([]));
    assert_eq!(body["reasoning"], Value::Null);
    assert!(body["logId"].as_str().unwrap().starts_with("log_"));
    assert!(body["latencyMs"].is_u64());
    let cached = if case.reports_cache { 60 } else { 0 };
    assert_eq!(
        (body["inputTokens"].as_u64(), body["outputTokens"].as_u64()),
        (Some(100), Some(5))
    );
    assert_eq!(body["cachedInputTokens"].as_u64(), Some(cached));
    let want = expected_cost(
        case.model,
        Usage {
            input_tokens: 100,
            output_tokens: 5,
            cache_read_tokens: cached,
            cache_write_tokens: 0,
        },
    );
    assert!(
        (body["costUsd"].as_f64().unwrap() - want).abs() < 1e-12,
        "{} vs {want}",
        body["costUsd"]
    );
    assert!(want > 0.0);

    let sent = gw.mock.requests_for(case.provider).pop().unwrap();
    assert_upstream_auth(case, &sent, &upstream_id(case.model));
    match case.provider {
        MockProvider::Anthropic => {
            assert_eq!(sent.body["system"], "Be brief.");
            assert_eq!(
                sent.body["messages"],
                json!([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
            );
            assert_eq!(sent.body["max_tokens"], 50);
            assert_eq!(sent.body["stop_sequences"], json!(["\n\n"]));
            assert_eq!(sent.body["metadata"]["user_id"], "u_42");
        }
        MockProvider::Openai => {
            assert_eq!(
                sent.body["messages"][0],
                json!({"role": "system", "content": "Be brief."})
            );
            assert_eq!(sent.body["max_completion_tokens"], 50);
            assert_eq!(sent.body["stop"], json!(["\n\n"]));
            assert_eq!(sent.body["user"], "u_42");
        }
        MockProvider::WorkersAi => {
            assert_eq!(
                sent.body["messages"][1],
                json!({"role": "user", "content": "Hi"})
            );
            assert_eq!(sent.body["max_tokens"], 50);
        }
    }
    assert_eq!(sent.body["temperature"], 0.3);
}

async fn stream_text(gw: &TestGateway, case: &Case) {
    let words = "one two three four five six";
    gw.mock.push(
        case.provider,
        Script::text(words)
            .usage(40, 6, 0)
            .chunk_delay(Duration::from_millis(80)),
    );
    let mut req = user("Count", case.model);
    req["stream"] = json!(true);
    let events = gw.stream_timed(&req).await;
    let (last, deltas) = events.split_last().unwrap();
    let json: Vec<Value> = deltas.iter().map(|t| t.json.clone()).collect();
    assert_eq!(joined(&json, "content"), words);
    assert!(
        deltas.len() >= 6,
        "expected one chunk per word, got {}",
        deltas.len()
    );
    assert!(deltas.iter().all(|d| d.json["done"] == false));
    // Forwarded as they arrive: the first word reaches the client long before the last.
    let first = deltas.first().unwrap().at;
    assert!(
        last.at >= first + Duration::from_millis(300),
        "first {first:?}, last {:?}",
        last.at
    );
    let f = &last.json;
    assert_eq!(f["done"], true, "{f}");
    assert_eq!(f["finishReason"], "stop");
    assert_eq!(
        (f["inputTokens"].as_u64(), f["outputTokens"].as_u64()),
        (Some(40), Some(6))
    );
    assert_eq!(f["model"], case.model);
    assert_eq!(f["provider"], case.name);
    assert!(f["logId"].as_str().unwrap().starts_with("log_"));
    let want = expected_cost(
        case.model,
        Usage {
            input_tokens: 40,
            output_tokens: 6,
            ..Usage::default()
        },
    );
    assert!((f["costUsd"].as_f64().unwrap() - want).abs() < 1e-12);
    let sent = gw.mock.requests_for(case.provider).pop().unwrap();
    assert_eq!(sent.body["stream"], true);
    if case.provider == MockProvider::Openai {
        assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
    }
    assert!(sent.completed);
}

fn tools_request(model: &str, stream: bool) -> Value {
    json!({
        "model": model, "stream": stream,
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [{"name": "get_weather", "description": "Current weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "toolChoice": "auto"
    })
}

async fn tools(gw: &TestGateway, case: &Case) {
    let args = json!({"city": "Oslo", "days": [1, 2]});
    gw.mock.push(
        case.provider,
        Script::tool_calls(vec![("get_weather", args.clone())]),
    );
    let (status, _, body) = gw.chat(&tools_request(case.model, false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["finishReason"], "tool_calls");
    let call = &body["toolCalls"][0];
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["arguments"], args);
    assert!(!call["id"].as_str().unwrap().is_empty());
    let sent = gw.mock.requests_for(case.provider).pop().unwrap();
    match case.provider {
        MockProvider::Anthropic => {
            assert_eq!(sent.body["tools"][0]["name"], "get_weather");
            assert_eq!(
                sent.body["tools"][0]["input_schema"]["properties"]["city"]["type"],
                "string"
            );
            assert_eq!(sent.body["tool_choice"], json!({"type": "auto"}));
        }
        MockProvider::Openai | MockProvider::WorkersAi => {
            assert_eq!(sent.body["tools"][0]["type"], "function");
            assert_eq!(sent.body["tools"][0]["function"]["name"], "get_weather");
            assert_eq!(sent.body["tool_choice"], "auto");
        }
    }

    // Streamed: arguments arrive in pieces per index and assemble to the same value.
    gw.mock.push(
        case.provider,
        Script::tool_calls(vec![
            ("get_weather", args.clone()),
            ("get_time", json!({"tz": "CET"})),
        ]),
    );
    let events = gw.stream(&tools_request(case.model, true)).await;
    let calls = assembled_tool_calls(&events);
    assert_eq!(calls.len(), 2, "{events:?}");
    assert_eq!(calls[0].1, "get_weather");
    assert_eq!(serde_json::from_str::<Value>(&calls[0].2).unwrap(), args);
    assert_eq!(calls[1].1, "get_time");
    assert!(!calls[0].0.is_empty() && calls[0].0 != calls[1].0);
    assert_eq!(events.last().unwrap()["finishReason"], "tool_calls");

    // The tool round trip is translated back upstream.
    gw.mock.push(case.provider, Script::text("It is 3C."));
    let (status, _, body) = gw.chat(&json!({
        "model": case.model,
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null, "toolCalls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]},
            {"role": "tool", "toolCallId": "call_1", "content": "{\"tempC\": 3}"}
        ],
        "tools": [{"name": "get_weather", "parameters": {"type": "object"}}]
    })).await;
    assert_eq!(status, 200, "{body}");
    let sent = gw.mock.requests_for(case.provider).pop().unwrap();
    match case.provider {
        MockProvider::Anthropic => {
            assert_eq!(
                sent.body["messages"][1]["content"][0],
                json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}})
            );
            assert_eq!(
                sent.body["messages"][2]["content"][0],
                json!({"type": "tool_result", "tool_use_id": "call_1", "content": "{\"tempC\": 3}"})
            );
        }
        MockProvider::Openai | MockProvider::WorkersAi => {
            assert_eq!(
                sent.body["messages"][1]["tool_calls"][0]["function"]["arguments"],
                "{\"city\":\"Oslo\"}"
            );
            assert_eq!(
                sent.body["messages"][2],
                json!({"role": "tool", "content": "{\"tempC\": 3}", "tool_call_id": "call_1"})
            );
        }
    }
}

async fn reasoning(gw: &TestGateway, case: &Case) {
    let Some(model) = case.reasoning_model else {
        return;
    };
    let mut req = user("Why is the sky blue?", model);
    req["reasoning"] = json!({"effort": "low"});
    gw.mock.push(
        case.provider,
        Script::thinking("Rayleigh scattering.", "Because of scattering."),
    );
    let (status, _, body) = gw.chat(&req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"], "Because of scattering.");
    assert_eq!(
        body["reasoning"].as_str().unwrap().trim(),
        "Rayleigh scattering."
    );
    if case.provider == MockProvider::Anthropic {
        let sent = gw.mock.requests_for(case.provider).pop().unwrap();
        assert_eq!(
            sent.body["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
    }
    gw.mock.push(
        case.provider,
        Script::thinking("Rayleigh scattering.", "Because of scattering.").split_bytes(5),
    );
    req["stream"] = json!(true);
    let events = gw.stream(&req).await;
    assert_eq!(joined(&events, "reasoning").trim(), "Rayleigh scattering.");
    assert_eq!(joined(&events, "content"), "Because of scattering.");
    let first_reasoning = events
        .iter()
        .position(|e| e["delta"]["reasoning"].is_string())
        .unwrap();
    let first_content = events
        .iter()
        .position(|e| e["delta"]["content"].is_string())
        .unwrap();
    assert!(first_reasoning < first_content);
}

async fn errors(gw: &TestGateway, case: &Case) {
    // 429 stays 429 with Retry-After.
    gw.mock.push(
        case.provider,
        Script::error(429, "Rate limit reached").retry_after(7),
    );
    let (status, headers, body) = gw.chat(&user("hi", case.model)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(body["error"]["requestId"]
        .as_str()
        .unwrap()
        .starts_with("req_"));

    // 5xx becomes 502 with the upstream status and message kept.
    gw.mock
        .push(case.provider, Script::error(500, "upstream exploded"));
    let (status, _, body) = gw.chat(&user("hi", case.model)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["type"], "provider_error");
    assert_eq!(body["error"]["upstreamStatus"], 500);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("upstream exploded"),
        "{body}"
    );

    // An error before the first chunk of a stream is a plain HTTP error, never a 200.
    gw.mock
        .push(case.provider, Script::error(503, "overloaded right now"));
    let mut req = user("hi", case.model);
    req["stream"] = json!(true);
    let resp = gw.post_chat(&req).await;
    assert_eq!(resp.status(), 502);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    // An error after the first chunk ends the stream with an in-band error event.
    gw.mock.push(
        case.provider,
        Script::text("a b c d e f g h").error_after(3),
    );
    let events = gw.stream(&req).await;
    let last = events.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["error"]["type"], case.mid_stream_error, "{last}");
    assert!(last["logId"].is_string());
    assert!(events.len() >= 2, "{events:?}");

    // A stream cut before its end marker is an error too, never a silent success.
    gw.mock
        .push(case.provider, Script::text("a b c d e f g h").cut_after(4));
    let events = gw.stream(&req).await;
    let last = events.last().unwrap();
    assert_eq!(last["error"]["type"], "provider_error", "{last}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ended before"),
        "{last}"
    );

    // Byte-level splitting (inside lines and UTF-8 sequences) changes nothing.
    let text = "Grüße aus Zürich — 東京 🚀 fine";
    gw.mock
        .push(case.provider, Script::text(text).split_bytes(3));
    let events = gw.stream(&req).await;
    assert_eq!(joined(&events, "content"), text);
    assert!(events.last().unwrap()["error"].is_null());
}

async fn run_suite(case: &Case) {
    let gw = TestGateway::start().await;
    chat_text(&gw, case).await;
    stream_text(&gw, case).await;
    tools(&gw, case).await;
    reasoning(&gw, case).await;
    errors(&gw, case).await;
}

#[tokio::test]
async fn conformance_anthropic() {
    run_suite(&CASES[0]).await;
}

#[tokio::test]
async fn conformance_openai() {
    run_suite(&CASES[1]).await;
}

#[tokio::test]
async fn conformance_workers_ai() {
    run_suite(&CASES[2]).await;
}

#[tokio::test]
async fn anthropic_529_becomes_502() {
    let gw = TestGateway::start().await;
    gw.mock
        .push(MockProvider::Anthropic, Script::error(529, "Overloaded"));
    let (status, _, body) = gw.chat(&user("hi", "claude-haiku-4-5")).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["upstreamStatus"], 529);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded_error"),
        "{body}"
    );
}

#[tokio::test]
async fn workers_ai_openai_shaped_models_and_every_catalog_model_answers() {
    let gw = TestGateway::start().await;
    gw.mock.push(
        MockProvider::WorkersAi,
        Script::text("Kimi here.")
            .openai_shape(true)
            .usage(10, 2, 4),
    );
    let (status, _, body) = gw.chat(&user("hi", "moonshot/kimi-k2")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"], "Kimi here.");
    assert_eq!(body["cachedInputTokens"], 4);
    // Every model of the contract answers through its provider's real wire format.
    let catalog = Catalog::load(&[]).unwrap();
    for m in catalog.models() {
        let (status, _, body) = gw.chat(&user("ping", &m.entry.id)).await;
        assert_eq!(status, 200, "{}: {body}", m.entry.id);
        assert_eq!(body["model"], m.entry.id.as_str());
        assert!(body["content"].as_str().unwrap().contains("ping"), "{body}");
    }
}
