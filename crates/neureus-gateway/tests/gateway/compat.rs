//! The OpenAI- and Anthropic-compatible surfaces, over HTTP: shapes the official SDKs parse,
//! the same pipeline behind them (logs, cost, routing).

use neureus_mock::{MockProvider, Script};
use serde_json::{json, Value};

use crate::harness::TestGateway;

fn sse_data(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn openai_chat_completions_json_stream_and_tools() {
    let gw = TestGateway::start().await;
    let resp = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&gw.key)
        .json(&json!({"model": "claude-haiku-4-5", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}], "max_tokens": 50}))
        .send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-neureus-log-id").is_some());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("hi there"));
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let sent = gw.mock.requests_for(MockProvider::Anthropic).pop().unwrap();
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(sent.body["max_tokens"], 50);

    // Streaming with include_usage.
    let text = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&gw.key)
        .json(&json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "count"}]}))
        .send().await.unwrap().text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    let text_out: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text_out.contains("count"));

    // Tools, streamed: arguments arrive by index.
    gw.mock.push(
        MockProvider::WorkersAi,
        Script::tool_calls(vec![("get_weather", json!({"city": "Oslo"}))]),
    );
    let text = gw.http.post(gw.url("/v1/chat/completions")).bearer_auth(&gw.key)
        .json(&json!({"model": "meta/llama-3.3-70b", "stream": true, "messages": [{"role": "user", "content": "weather?"}],
                      "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]}))
        .send().await.unwrap().text().await.unwrap();
    let chunks: Vec<Value> = sse_data(&text)
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Oslo"})
    );
    assert_eq!(
        chunks
            .iter()
            .rev()
            .find_map(|c| c["choices"][0]["finish_reason"].as_str()),
        Some("tool_calls")
    );

    // Models, and errors in a shape SDKs read (error.message).
    let v: Value = gw
        .http
        .get(gw.url("/v1/models"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 12);
    let resp = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&gw.key)
        .json(&json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown model"));
    // Logged like /ai/chat.
    gw.state.logs.flush().await;
    let logs: Value = gw
        .http
        .get(gw.url("/ai/logs"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["endpoint"] == "/v1/chat/completions"));
}

#[tokio::test]
async fn anthropic_messages_json_stream_tools_and_x_api_key() {
    let gw = TestGateway::start().await;
    let resp = gw.http.post(gw.url("/v1/messages")).header("x-api-key", &gw.key).header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 64, "system": "Be brief.", "messages": [{"role": "user", "content": "hello"}]}))
        .send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["type"], "text");
    assert!(v["content"][0]["text"].as_str().unwrap().contains("hello"));
    assert_eq!(v["stop_reason"], "end_turn");
    let sent = gw.mock.requests_for(MockProvider::Openai).pop().unwrap();
    let mock_host = gw.mock.addr().to_string();
    assert_eq!(sent.header("host"), Some(mock_host.as_str()));
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );

    gw.mock.push(
        MockProvider::Anthropic,
        Script::thinking("Think first.", "Then answer."),
    );
    let text = gw.http.post(gw.url("/v1/messages")).header("x-api-key", &gw.key)
        .json(&json!({"model": "claude-sonnet-4-6", "max_tokens": 2048, "stream": true, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [{"role": "user", "content": "why?"}]}))
        .send().await.unwrap().text().await.unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"message_delta"));
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "content_block_start")
            .count(),
        2,
        "{names:?}"
    );
    assert!(text.contains("thinking_delta") && text.contains("text_delta"));

    gw.mock.push(
        MockProvider::Openai,
        Script::tool_calls(vec![("lookup", json!({"q": "x"}))]),
    );
    let v: Value = gw.http.post(gw.url("/v1/messages")).header("x-api-key", &gw.key)
        .json(&json!({"model": "gpt-4o", "max_tokens": 64, "messages": [{"role": "user", "content": "look it up"}],
                      "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]}))
        .send().await.unwrap().json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let tool = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap()
        .clone();
    assert_eq!(tool["input"], json!({"q": "x"}));
    // A bad key over x-api-key is a 401.
    let resp = gw
        .http
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "nru_bad")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
