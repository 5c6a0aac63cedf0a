//! Pre-processing seen from outside: what the provider actually received, the debug stats,
//! options, per-tenant thresholds and compression through the Workers AI mock.

use std::time::Duration;

use neureus_gateway::catalog::Catalog;
use neureus_mock::{MockProvider, Script};
use neureus_types::Usage;
use serde_json::{json, Value};

use crate::harness::TestGateway;

impl TestGateway {
    async fn chat_with(&self, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
        let mut rb = self
            .http
            .post(self.url("/ai/chat"))
            .bearer_auth(&self.key)
            .json(body);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

/// A long conversation: `turns` user/assistant pairs of ~`words` words each, with a tool
/// round trip in the middle.
fn long_conversation(model: &str, turns: usize, words: usize) -> Value {
    let mut messages = vec![json!({"role": "system", "content": "You are a careful assistant."})];
    for i in 0..turns {
        messages.push(json!({"role": "user", "content": format!("Question {i}: {}", "lorem ipsum dolor ".repeat(words / 3))}));
        if i == turns / 2 {
            messages.push(json!({"role": "assistant", "content": null, "toolCalls": [{"id": format!("call_{i}"), "name": "lookup", "arguments": {"q": i}}]}));
            messages.push(
                json!({"role": "tool", "toolCallId": format!("call_{i}"), "content": "found it"}),
            );
        }
        messages.push(json!({"role": "assistant", "content": format!("Answer {i}: {}", "sit amet consectetur ".repeat(words / 3))}));
    }
    messages.push(json!({"role": "user", "content": "Final question: what did we decide?"}));
    json!({"model": model, "messages": messages, "tools": [{"name": "lookup", "parameters": {"type": "object"}}]})
}

#[tokio::test]
async fn normalize_and_structure_reach_the_provider() {
    let gw = TestGateway::start().await;
    let body = json!({"model": "claude-haiku-4-5", "messages": [
        {"role": "system", "content": "  Be terse.  "},
        {"role": "user", "content": "Hi\n\n\n\nthere  "},
        {"role": "system", "content": "Second rule.\n\n\n\n```\ncode\n\n\n\nkept\n```"},
        {"role": "user", "content": [{"type": "text", "text": "\n\npart\n\n\n"}, {"type": "image", "url": "https://x.test/a.png"}]}
    ]});
    let (s, v) = gw.chat_with(&[], &body).await;
    assert_eq!(s, 200, "{v}");
    let sent = gw
        .mock
        .requests_for(MockProvider::Anthropic)
        .pop()
        .unwrap()
        .body;
    assert_eq!(
        sent["system"],
        "Be terse.\n\nSecond rule.\n\n```\ncode\n\n\n\nkept\n```"
    );
    assert_eq!(sent["messages"][0]["content"][0]["text"], "Hi\n\nthere");
    assert_eq!(sent["messages"][0]["content"][1]["text"], "part");
    assert_eq!(
        sent["messages"][0]["content"][2]["source"]["url"],
        "https://x.test/a.png"
    );
    assert!(
        v.get("preprocessing").is_none(),
        "stats only with x-neureus-debug"
    );

    // OpenAI: one system message, first; everything else in order.
    let mut b = body.clone();
    b["model"] = json!("gpt-4o");
    assert_eq!(gw.chat_with(&[], &b).await.0, 200);
    let sent = gw
        .mock
        .requests_for(MockProvider::Openai)
        .pop()
        .unwrap()
        .body;
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "user"]);
}

#[tokio::test]
async fn trim_keeps_the_system_message_and_the_last_four_turns() {
    let gw = TestGateway::start().await;
    let body = long_conversation("gpt-4o", 12, 600);
    let (s, v) = gw.chat_with(&[("x-neureus-debug", "true")], &body).await;
    assert_eq!(s, 200, "{v}");
    let sent = gw
        .mock
        .requests_for(MockProvider::Openai)
        .pop()
        .unwrap()
        .body;
    let msgs = sent["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs.len(), 1 + 4, "{msgs:?}");
    assert_eq!(
        msgs.last().unwrap()["content"],
        "Final question: what did we decide?"
    );
    let trim = &v["preprocessing"]["passes"][2];
    assert_eq!(trim["name"], "trim");
    assert_eq!(trim["changed"], true);
    assert!(trim["tokensBefore"].as_u64().unwrap() > 6000);
    assert!(trim["tokensAfter"].as_u64().unwrap() < trim["tokensBefore"].as_u64().unwrap());
    assert_eq!(trim["messagesAfter"], 5);

    // trim=false sends everything.
    let (s, _) = gw
        .chat_with(&[("x-neureus-options", "trim=false")], &body)
        .await;
    assert_eq!(s, 200);
    let sent = gw
        .mock
        .requests_for(MockProvider::Openai)
        .pop()
        .unwrap()
        .body;
    assert_eq!(
        sent["messages"].as_array().unwrap().len(),
        body["messages"].as_array().unwrap().len()
    );

    // Anthropic needs a user message first: the kept window starts with one.
    let mut b = body.clone();
    b["model"] = json!("claude-sonnet-4-6");
    assert_eq!(gw.chat_with(&[], &b).await.0, 200);
    let sent = gw
        .mock
        .requests_for(MockProvider::Anthropic)
        .pop()
        .unwrap()
        .body;
    assert_eq!(sent["messages"][0]["role"], "user");
    assert_eq!(sent["system"], "You are a careful assistant.");
}

#[tokio::test]
async fn a_tool_round_trip_is_never_split_by_trimming() {
    let gw = TestGateway::start().await;
    // The tool round trip is the 4th-newest turn: it is orphaned without its prompt, so the
    // window starts after it.
    let mut body = long_conversation("gpt-4o", 4, 2000);
    let msgs = body["messages"].as_array_mut().unwrap();
    msgs.truncate(msgs.len() - 1);
    msgs.push(json!({"role": "user", "content": "next"}));
    let (s, v) = gw.chat_with(&[], &body).await;
    assert_eq!(s, 200, "{v}");
    let sent = gw
        .mock
        .requests_for(MockProvider::Openai)
        .pop()
        .unwrap()
        .body;
    let sent = sent["messages"].as_array().unwrap();
    for (i, m) in sent.iter().enumerate() {
        if m["role"] == "tool" {
            let id = m["tool_call_id"].as_str().unwrap();
            assert!(sent[..i].iter().any(|p| p["tool_calls"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["id"] == id))));
        }
    }
    assert_ne!(sent[1]["role"], "tool");
}

#[tokio::test]
async fn debug_stats_in_json_and_in_the_final_stream_event() {
    let gw = TestGateway::start().await;
    let body = json!({"model": "meta/llama-3.3-70b", "messages": [{"role": "user", "content": "  hello  "}]});
    let (s, v) = gw.chat_with(&[("x-neureus-debug", "true")], &body).await;
    assert_eq!(s, 200, "{v}");
    let p = &v["preprocessing"];
    let names: Vec<&str> = p["passes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["normalize", "structure", "trim", "compress"]);
    for pass in p["passes"].as_array().unwrap() {
        for field in [
            "changed",
            "tokensBefore",
            "tokensAfter",
            "messagesBefore",
            "messagesAfter",
            "durationUs",
        ] {
            assert!(!pass[field].is_null(), "{field} missing in {pass}");
        }
    }
    assert_eq!(p["passes"][0]["changed"], true);
    assert_eq!(p["passes"][3]["note"], "not requested");
    assert_eq!(p["totals"]["changed"], true);
    assert_eq!(p["totals"]["messagesBefore"], 1);
    assert!(p["totals"]["durationUs"].is_u64());
    // The log record stores the report in a compact form; the logs API shows it as the
    // response did, field for field.
    gw.state.logs.flush().await;
    let id = v["logId"].as_str().unwrap();
    let (s, logged) = gw.get_json(&gw.key, &format!("/ai/logs/{id}")).await;
    assert_eq!(s, 200, "{logged}");
    assert_eq!(&logged["preprocessing"], p);
    assert_eq!(p["totals"]["costUsd"].to_string(), "0.0");

    let mut b = body.clone();
    b["stream"] = json!(true);
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .bearer_auth(&gw.key)
        .header("x-neureus-debug", "true")
        .json(&b)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let last: Value = serde_json::from_str(
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .next_back()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["preprocessing"]["passes"].as_array().unwrap().len(), 4);

    let (s, v) = gw
        .chat_with(&[("x-neureus-options", "compress=true,fast=yes")], &body)
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("\"fast\""),
        "{v}"
    );
    assert!(
        gw.mock.requests().len() == 2,
        "a rejected request reaches no provider"
    );
}

#[tokio::test]
async fn per_tenant_threshold_set_by_the_operator() {
    let gw = TestGateway::start().await;
    let admin = gw.state.admin_token.expose().to_owned();
    let body = long_conversation("gpt-4o-mini", 6, 30);
    assert_eq!(gw.chat_with(&[], &body).await.0, 200);
    let full = body["messages"].as_array().unwrap().len();
    assert_eq!(
        gw.mock
            .requests_for(MockProvider::Openai)
            .pop()
            .unwrap()
            .body["messages"]
            .as_array()
            .unwrap()
            .len(),
        full
    );
    let resp = gw
        .http
        .patch(gw.url(&format!("/admin/tenants/{}", gw.tenant_id)))
        .bearer_auth(&admin)
        .json(&json!({"settings": {"trimThresholdTokens": 100}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(gw.chat_with(&[], &body).await.0, 200);
    assert_eq!(
        gw.mock
            .requests_for(MockProvider::Openai)
            .pop()
            .unwrap()
            .body["messages"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let resp = gw
        .http
        .patch(gw.url(&format!("/admin/tenants/{}", gw.tenant_id)))
        .bearer_auth(&admin)
        .json(&json!({"settings": {"trimThreshold": 100}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn compression_calls_the_compressor_once_before_the_main_call() {
    let gw = TestGateway::start().await;
    let body = long_conversation("gpt-4o", 5, 300);
    gw.mock.push(
        MockProvider::WorkersAi,
        Script::text("SUMMARY: we decided on plan B; budget 42k.").usage(900, 30, 0),
    );
    gw.mock.push(
        MockProvider::Openai,
        Script::text("Plan B.").usage(200, 3, 0),
    );
    let (s, v) = gw
        .chat_with(
            &[
                ("x-neureus-options", "compress=true"),
                ("x-neureus-debug", "true"),
            ],
            &body,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let all = gw.mock.requests();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].provider, MockProvider::WorkersAi, "compressor first");
    assert!(
        all[0]
            .path
            .ends_with("/ai/run/@cf/meta/llama-3.1-8b-instruct-fp8"),
        "{}",
        all[0].path
    );
    let prompt = all[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(prompt.contains("verbatim"));
    assert!(all[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("Question 0"));
    assert_eq!(all[1].provider, MockProvider::Openai);
    let sent = &all[1].body["messages"];
    assert_eq!(sent.as_array().unwrap().len(), 2, "{sent}");
    assert_eq!(sent[0]["content"], "You are a careful assistant.\n\nSummary of the earlier conversation:\nSUMMARY: we decided on plan B; budget 42k.");
    assert_eq!(sent[1]["content"], "Final question: what did we decide?");
    // The compressor's cost is part of the request's cost.
    let c = Catalog::load(&[]).unwrap();
    let want = c.get("gpt-4o").unwrap().cost_usd(&Usage {
        input_tokens: 200,
        output_tokens: 3,
        ..Usage::default()
    }) + c.get("meta/llama-3.1-8b").unwrap().cost_usd(&Usage {
        input_tokens: 900,
        output_tokens: 30,
        ..Usage::default()
    });
    assert!(
        (v["costUsd"].as_f64().unwrap() - want).abs() < 1e-9,
        "{} vs {want}",
        v["costUsd"]
    );
    let pass = &v["preprocessing"]["passes"][3];
    assert_eq!(pass["changed"], true);
    assert_eq!(pass["compressor"]["inputTokens"], 900);
    assert!(pass["tokensAfter"].as_u64().unwrap() < pass["tokensBefore"].as_u64().unwrap());
}

#[tokio::test]
async fn compression_skips_small_context_and_survives_compressor_failure() {
    let gw =
        TestGateway::start_with(|c| c.preprocess.compress_timeout = Duration::from_millis(300))
            .await;
    let small = json!({"model": "gpt-4o", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}]});
    let (s, v) = gw
        .chat_with(
            &[
                ("x-neureus-options", "compress=true"),
                ("x-neureus-debug", "true"),
            ],
            &small,
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        v["preprocessing"]["passes"][3]["note"]
            .as_str()
            .unwrap()
            .contains("below the minimum"),
        "{v}"
    );
    assert!(gw.mock.requests_for(MockProvider::WorkersAi).is_empty());

    let body = long_conversation("gpt-4o", 5, 300);
    let n = body["messages"].as_array().unwrap().len();
    gw.mock.push(
        MockProvider::WorkersAi,
        Script::error(500, "compressor down"),
    );
    let (s, v) = gw
        .chat_with(
            &[
                ("x-neureus-options", "compress=true"),
                ("x-neureus-debug", "true"),
            ],
            &body,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let note = v["preprocessing"]["passes"][3]["note"].as_str().unwrap();
    assert!(
        note.starts_with("failed, sent uncompressed") && note.contains("compressor down"),
        "{note}"
    );
    assert_eq!(
        gw.mock
            .requests_for(MockProvider::Openai)
            .pop()
            .unwrap()
            .body["messages"]
            .as_array()
            .unwrap()
            .len(),
        n
    );

    gw.mock.push(
        MockProvider::WorkersAi,
        Script::text("late").first_byte_delay(Duration::from_secs(2)),
    );
    let mut b = body.clone();
    b["stream"] = json!(true);
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .bearer_auth(&gw.key)
        .header("x-neureus-options", "compress=true")
        .header("x-neureus-debug", "true")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    // The main call went ahead uncompressed (the mock answers a tools request with a call).
    assert!(
        events.len() > 1 && events.last().unwrap()["error"].is_null(),
        "{events:?}"
    );
    assert!(!crate::harness::assembled_tool_calls(&events).is_empty());
    let note = events.last().unwrap()["preprocessing"]["passes"][3]["note"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(note.contains("did not answer within 300 ms"), "{note}");
}
