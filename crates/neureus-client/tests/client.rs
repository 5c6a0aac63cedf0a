//! The Rust client against the real gateway (in-process, on an ephemeral port) and the mock
//! providers.

#![expect(clippy::unwrap_used, reason = "test setup may fail loudly")]

use std::sync::Arc;

use futures_util::StreamExt;
use neureus_client::{Error, Neureus, StreamEvent};
use neureus_gateway::config::Config;
use neureus_gateway::state::Keys;
use neureus_gateway::AppState;
use neureus_mock::{MockProvider, MockServer, Script};
use neureus_store::{SqliteStore, Store};
use neureus_types::{ChatRequest, Message, Role, Tool};

struct Env {
    client: Neureus,
    mock: MockServer,
    base: String,
}

async fn start() -> Env {
    let mock = MockServer::start().await.unwrap();
    let config = Config::for_tests(
        &mock.openai_base(),
        &mock.anthropic_base(),
        &mock.workers_ai_base(),
    );
    let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
    store.migrate().await.unwrap();
    let (_, key) = store.create_tenant("rust-client").await.unwrap();
    let state = AppState::new(config, store, Keys::ephemeral().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(neureus_gateway::serve(
        listener,
        state,
        std::future::pending(),
    ));
    Env {
        client: Neureus::new(&base, key.api_key.expose()).unwrap(),
        mock,
        base,
    }
}

#[tokio::test]
async fn chat_and_stream() {
    let env = start().await;
    let r = env
        .client
        .chat(
            "claude-sonnet-4-6",
            vec![Message::text(Role::User, "Summarize the GDPR")],
        )
        .await
        .unwrap();
    assert!(r.content.contains("GDPR"));
    assert_eq!(r.provider, "anthropic");
    assert!(r.cost_usd > 0.0);

    let mut s = env
        .client
        .stream(
            "gpt-4o-mini",
            vec![Message::text(Role::User, "Write a haiku.")],
        )
        .await
        .unwrap();
    let (mut text, mut fin) = (String::new(), None);
    while let Some(ev) = s.next().await {
        match ev.unwrap() {
            StreamEvent::Content(t) => text.push_str(&t),
            StreamEvent::Final(f) => fin = Some(f),
            _ => {}
        }
    }
    assert!(text.contains("haiku"));
    let f = fin.unwrap();
    assert_eq!(f.model, "gpt-4o-mini");
    assert!(f.output_tokens > 0);

    // Reasoning and tool-call deltas.
    let mut s = env
        .client
        .stream("deepseek/r1-32b", vec![Message::text(Role::User, "why?")])
        .await
        .unwrap();
    let mut reasoning = String::new();
    while let Some(ev) = s.next().await {
        if let StreamEvent::Reasoning(t) = ev.unwrap() {
            reasoning.push_str(&t);
        }
    }
    assert!(!reasoning.is_empty());
    let mut req = ChatRequest { tools: vec![Tool { name: "lookup".into(), description: None, parameters: Some(serde_json::json!({"type": "object"})) }], ..serde_json::from_value(serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "find it"}]})).unwrap() };
    let r = env.client.chat_request(&req).await.unwrap();
    assert_eq!(r.tool_calls[0].name, "lookup");
    req.stream = true;
    let mut s = env.client.stream_request(&req).await.unwrap();
    let mut args = String::new();
    while let Some(ev) = s.next().await {
        if let StreamEvent::ToolCalls(d) = ev.unwrap() {
            args.extend(d.into_iter().map(|x| x.arguments));
        }
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&args).unwrap(),
        serde_json::json!({"query": "find it"})
    );
}

#[tokio::test]
async fn keys_models_logs_usage_and_errors() {
    let env = start().await;
    let c = &env.client;
    let set = c
        .set_provider_key("openai", "sk-rust-client-1234", None)
        .await
        .unwrap();
    assert_eq!(
        (set.source.as_str(), set.last4.as_deref()),
        ("tenant", Some("1234"))
    );
    let rot = c
        .rotate_provider_key("openai", "sk-rust-client-5678", None)
        .await
        .unwrap();
    assert_eq!(rot.version, Some(2));
    c.chat("gpt-4o", vec![Message::text(Role::User, "hi")])
        .await
        .unwrap();
    let sent = env.mock.requests_for(MockProvider::Openai).pop().unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sk-rust-client-5678")
    );
    assert!(c
        .list_providers()
        .await
        .unwrap()
        .iter()
        .any(|p| p.provider == "openai" && p.source == "tenant"));
    assert_eq!(
        c.delete_provider_key("openai").await.unwrap().source,
        "global"
    );
    assert_eq!(
        c.models().await.unwrap()["models"]
            .as_array()
            .unwrap()
            .len(),
        12
    );
    let mut logs = serde_json::Value::Null;
    for _ in 0..40 {
        logs = c.logs(&[("limit", "5")]).await.unwrap();
        if !logs["logs"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = logs["logs"][0]["logId"].as_str().unwrap().to_owned();
    assert_eq!(c.log(&id).await.unwrap()["logId"], id.as_str());
    assert!(
        c.usage(&[("groupBy", "provider")]).await.unwrap()["totals"]["requests"]
            .as_u64()
            .unwrap()
            > 0
    );

    match c
        .chat("no-such-model", vec![Message::text(Role::User, "x")])
        .await
    {
        Err(Error::Api {
            status: 400,
            kind,
            request_id,
            ..
        }) => {
            assert_eq!(kind, "invalid_request_error");
            assert!(request_id.unwrap().starts_with("req_"));
        }
        other => panic!("{other:?}"),
    }
    // 429 is retried and Retry-After honoured; a stream error after the first chunk ends the stream with Err.
    env.mock.push(
        MockProvider::Openai,
        Script::error(429, "slow down").retry_after(1),
    );
    let t0 = std::time::Instant::now();
    c.chat("gpt-4o", vec![Message::text(Role::User, "again")])
        .await
        .unwrap();
    assert!(t0.elapsed() >= std::time::Duration::from_secs(1));
    env.mock
        .push(MockProvider::Openai, Script::text("a b c d").error_after(2));
    let mut s = c
        .stream("gpt-4o", vec![Message::text(Role::User, "x")])
        .await
        .unwrap();
    let mut last = None;
    while let Some(ev) = s.next().await {
        last = Some(ev);
    }
    assert!(
        matches!(last, Some(Err(Error::Api { status: 200, .. }))),
        "{last:?}"
    );
    let bad = Neureus::new(
        &env.base,
        "nru_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    )
    .unwrap()
    .with_max_retries(0);
    assert_eq!(bad.models().await.unwrap_err().status(), Some(401));
}
