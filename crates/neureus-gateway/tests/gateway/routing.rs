//! `model: "auto"` end to end: the category, the model chosen and why, what was skipped,
//! session pinning, and what the provider actually received.

use neureus_mock::MockProvider;
use serde_json::{json, Value};

use crate::harness::TestGateway;

fn auto(messages: Value) -> Value {
    json!({"model": "auto", "messages": messages})
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// (messages, tools, category, model, provider, upstream id)
type Case = (
    Value,
    Option<Value>,
    &'static str,
    &'static str,
    MockProvider,
    &'static str,
);

#[tokio::test]
async fn each_category_goes_to_its_default_model() {
    let gw = TestGateway::start().await;
    let image = json!([{"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "image", "url": "https://x.test/cat.png"}]}]);
    let cases: Vec<Case> = vec![
        (
            user("Fix this:\n```python\nprint(x[0]\n```"),
            None,
            "code",
            "qwen/coder-32b",
            MockProvider::WorkersAi,
            "@cf/qwen/qwen2.5-coder-32b-instruct",
        ),
        (
            user("Prove that the square root of 2 is irrational."),
            None,
            "reasoning",
            "deepseek/r1-32b",
            MockProvider::WorkersAi,
            "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
        ),
        (
            user(&"The parties agree as follows. ".repeat(900)),
            None,
            "long_document",
            "claude-opus-4-8",
            MockProvider::Anthropic,
            "claude-opus-4-8",
        ),
        (
            image,
            None,
            "vision",
            "gpt-4o",
            MockProvider::Openai,
            "gpt-4o",
        ),
        (
            user("What's the weather in Oslo?"),
            Some(json!([{"name": "get_weather", "parameters": {"type": "object"}}])),
            "tools",
            "claude-sonnet-4-6",
            MockProvider::Anthropic,
            "claude-sonnet-4-6",
        ),
        (
            user("hello!"),
            None,
            "simple",
            "claude-haiku-4-5",
            MockProvider::Anthropic,
            "claude-haiku-4-5",
        ),
        (
            user("Write a warm speech for my sister's wedding."),
            None,
            "general",
            "claude-sonnet-4-6",
            MockProvider::Anthropic,
            "claude-sonnet-4-6",
        ),
    ];
    for (messages, tools, category, model, provider, upstream) in cases {
        let mut body = auto(messages);
        if let Some(t) = tools {
            body["tools"] = t;
        }
        let (s, _, v) = gw.chat(&body).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["routing"]["category"], category, "{v}");
        assert_eq!(v["routing"]["model"], model);
        assert_eq!(v["model"], model);
        assert!(!v["routing"]["reason"].as_str().unwrap().is_empty());
        let sent = gw.mock.requests_for(provider).pop().unwrap();
        let got = sent.body["model"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| sent.path.clone());
        assert!(got.ends_with(upstream), "{got} vs {upstream}");
    }
}

#[tokio::test]
async fn candidates_without_credentials_or_room_are_skipped_with_reasons() {
    let gw = TestGateway::start_with(|c| {
        c.anthropic.api_key = None;
        c.routing.insert(
            "long_document".into(),
            vec!["meta/llama-3.3-70b".into(), "moonshot/kimi-k2".into()],
        );
    })
    .await;
    let mut body = auto(user("Look up the weather in Paris"));
    body["tools"] = json!([{"name": "get_weather", "parameters": {"type": "object"}}]);
    let (s, _, v) = gw.chat(&body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["routing"]["model"], "gpt-4o");
    assert_eq!(
        v["routing"]["skipped"],
        json!([{"model": "claude-sonnet-4-6", "reason": "no usable anthropic credentials"}])
    );

    // ~40K tokens: too big for Llama 3.3's 24K window, fine for Kimi.
    let (s, _, v) = gw
        .chat(&auto(user(&"alpha beta gamma delta ".repeat(10_000))))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["routing"]["category"], "long_document");
    assert_eq!(v["routing"]["model"], "moonshot/kimi-k2");
    let skipped = &v["routing"]["skipped"][0];
    assert_eq!(skipped["model"], "meta/llama-3.3-70b");
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .contains("24000-token context window"),
        "{skipped}"
    );

    // Simple prefers Haiku (no Anthropic key here) then Llama 3.1 8B.
    let (s, _, v) = gw.chat(&auto(user("hi"))).await;
    assert_eq!(s, 200);
    assert_eq!(v["routing"]["model"], "meta/llama-3.1-8b");
}

#[tokio::test]
async fn no_usable_model_is_a_clear_503() {
    let gw = TestGateway::start_with(|c| {
        c.anthropic.api_key = None;
        c.workers_ai.api_key = None;
        c.openai.api_key = None;
    })
    .await;
    let (s, _, v) = gw.chat(&auto(user("hello"))).await;
    assert_eq!(s, 503);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("no model can serve this simple request") && msg.contains("claude-haiku-4-5"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_session_keeps_its_model_while_it_can_serve() {
    let gw = TestGateway::start_with(|c| {
        c.routing
            .insert("simple".into(), vec!["meta/llama-3.1-8b".into()]);
    })
    .await;
    let with_session = |mut b: Value, id: &str| {
        b["metadata"] = json!({"sessionId": id});
        b
    };
    let (_, _, v) = gw
        .chat(&with_session(
            auto(user("Write a short essay about the sea.")),
            "s1",
        ))
        .await;
    assert_eq!(
        (
            v["routing"]["model"].as_str(),
            v["routing"]["pinned"].as_bool()
        ),
        (Some("claude-sonnet-4-6"), Some(false))
    );
    // A code question in the same session stays on the session's model (prompt caches).
    let (_, _, v) = gw
        .chat(&with_session(
            auto(user("```rust\nfn main() {}\n```\nwhy does this compile?")),
            "s1",
        ))
        .await;
    assert_eq!(
        (
            v["routing"]["model"].as_str(),
            v["routing"]["pinned"].as_bool()
        ),
        (Some("claude-sonnet-4-6"), Some(true)),
        "{v}"
    );
    assert_eq!(v["routing"]["category"], "code");
    // Another session is routed on its own.
    let (_, _, v) = gw
        .chat(&with_session(
            auto(user("```rust\nfn main() {}\n```\nwhy does this compile?")),
            "s2",
        ))
        .await;
    assert_eq!(v["routing"]["model"], "qwen/coder-32b");

    // A pinned model that cannot serve the new request is replaced.
    let (_, _, v) = gw.chat(&with_session(auto(user("hi")), "s3")).await;
    assert_eq!(v["routing"]["model"], "meta/llama-3.1-8b");
    let mut tools = with_session(auto(user("weather in Rome?")), "s3");
    tools["tools"] = json!([{"name": "get_weather", "parameters": {"type": "object"}}]);
    let (_, _, v) = gw.chat(&tools).await;
    assert_eq!(v["routing"]["model"], "claude-sonnet-4-6");
    assert_eq!(v["routing"]["pinned"], false);
    assert_eq!(
        v["routing"]["skipped"][0]["reason"],
        "session model does not support tools"
    );
}

#[tokio::test]
async fn routing_is_in_the_final_stream_event_and_models_lists_auto() {
    let gw = TestGateway::start().await;
    let mut body = auto(user("hello there"));
    body["stream"] = json!(true);
    let events = gw.stream(&body).await;
    let last = events.last().unwrap();
    assert_eq!(last["routing"]["category"], "simple", "{last}");
    assert_eq!(last["model"], "claude-haiku-4-5");
    let resp = gw
        .http
        .get(gw.url("/ai/models"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    let models: Value = resp.json().await.unwrap();
    assert_eq!(models["models"][0]["id"], "auto");
    assert_eq!(models["models"][0]["available"], true);
}

#[tokio::test]
async fn routing_config_is_validated_at_start() {
    use neureus_gateway::config::Config;
    let mut c = Config::for_tests(
        "http://127.0.0.1:1/v1",
        "http://127.0.0.1:1",
        "http://127.0.0.1:1/client/v4",
    );
    c.routing.insert("code".into(), vec!["gpt-9".into()]);
    let store = std::sync::Arc::new(
        neureus_store::SqliteStore::connect("sqlite::memory:")
            .await
            .unwrap(),
    );
    let err = neureus_gateway::AppState::new(
        c.clone(),
        store.clone(),
        neureus_gateway::state::Keys::ephemeral().unwrap(),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("\"gpt-9\" is not in the catalog"),
        "{err}"
    );
    c.routing.clear();
    c.routing.insert("poetry".into(), vec!["gpt-4o".into()]);
    let err = neureus_gateway::AppState::new(
        c,
        store,
        neureus_gateway::state::Keys::ephemeral().unwrap(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("unknown category"), "{err}");
}
