//! Timeouts, cancellation, authentication and revocation.

use std::time::{Duration, Instant};

use neureus_mock::{MockProvider, Script};
use neureus_store::Store;
use serde_json::{json, Value};

use crate::harness::{eventually, TestGateway};

fn req(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

async fn short_timeouts() -> TestGateway {
    TestGateway::start_with(|c| {
        c.timeouts.first_byte = Duration::from_millis(300);
        c.timeouts.idle = Duration::from_millis(300);
        c.timeouts.total = Duration::from_secs(3);
    })
    .await
}

#[tokio::test]
async fn first_byte_timeout_is_504_for_chat_and_stream() {
    let gw = short_timeouts().await;
    for stream in [false, true] {
        gw.mock.push(
            MockProvider::Openai,
            Script::text("late").first_byte_delay(Duration::from_secs(3)),
        );
        let started = Instant::now();
        let resp = gw.post_chat(&req("gpt-4o", stream)).await;
        assert_eq!(resp.status(), 504);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], "timeout_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("first byte"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn idle_timeout_ends_a_stream_with_an_error_event() {
    let gw = short_timeouts().await;
    gw.mock.push(
        MockProvider::Anthropic,
        Script::text("a b c d").chunk_delay(Duration::from_secs(2)),
    );
    let started = Instant::now();
    let events = gw.stream(&req("claude-haiku-4-5", true)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let last = events.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["error"]["type"], "timeout_error", "{last}");
    assert!(last["error"]["message"].as_str().unwrap().contains("idle"));
}

#[tokio::test]
async fn total_timeout_bounds_a_slow_but_steady_stream() {
    let gw = TestGateway::start_with(|c| {
        c.timeouts.idle = Duration::from_secs(2);
        c.timeouts.total = Duration::from_millis(800);
    })
    .await;
    let words = vec!["w"; 40].join(" ");
    gw.mock.push(
        MockProvider::WorkersAi,
        Script::text(words).chunk_delay(Duration::from_millis(100)),
    );
    let started = Instant::now();
    let events = gw.stream(&req("meta/llama-3.1-8b", true)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(events.last().unwrap()["error"]["type"], "timeout_error");
}

#[tokio::test]
async fn unreachable_provider_is_a_clean_error() {
    let gw = TestGateway::start_with(|c| {
        // A port nobody listens on.
        c.openai.base_url = "http://127.0.0.1:9/v1".into();
    })
    .await;
    let (status, _, body) = gw.chat(&req("gpt-4o", false)).await;
    assert!(status == 502 || status == 504, "{status} {body}");
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_the_upstream_request() {
    let gw = TestGateway::start().await;
    let words = vec!["word"; 200].join(" ");
    gw.mock.push(
        MockProvider::Openai,
        Script::text(words).chunk_delay(Duration::from_millis(50)),
    );
    let mut resp = gw.post_chat(&req("gpt-4o-mini", true)).await;
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("data:"));
    drop(resp);
    let aborted = eventually(Duration::from_secs(5), || {
        gw.mock
            .requests_for(MockProvider::Openai)
            .last()
            .is_some_and(|r| r.aborted)
    })
    .await;
    assert!(
        aborted,
        "the upstream stream kept running after the client left"
    );
    assert!(
        !gw.mock
            .requests_for(MockProvider::Openai)
            .last()
            .unwrap()
            .completed
    );
}

#[tokio::test]
async fn authentication_errors() {
    let gw = TestGateway::start().await;
    let body = req("gpt-4o", false);
    let cases: [(Option<&str>, &str); 5] = [
        (None, "missing API key"),
        (Some("Basic abc"), "Bearer"),
        (Some("Bearer sk-not-ours"), "start with nru_"),
        (
            Some("Bearer nru_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"),
            "unknown API key",
        ),
        (Some("Bearer nru_short_x"), "malformed"),
    ];
    for (header, says) in cases {
        let mut rb = gw.http.post(gw.url("/ai/chat")).json(&body);
        if let Some(h) = header {
            rb = rb.header("authorization", h);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let json: Value = resp.json().await.unwrap();
        assert_eq!(json["error"]["type"], "authentication_error");
        assert!(
            json["error"]["message"].as_str().unwrap().contains(says),
            "{json}"
        );
    }
    // A right public id with a wrong secret is refused too. The last character is changed
    // to one it is not (a fixed 'X' left the key as it was when the key ended in 'X').
    let last = if gw.key.ends_with('X') { 'Y' } else { 'X' };
    let wrong = format!("{}{last}", &gw.key[..gw.key.len() - 1]);
    assert_ne!(wrong, gw.key);
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .bearer_auth(wrong)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The models list needs a key as well.
    assert_eq!(
        gw.http
            .get(gw.url("/ai/models"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn revocation_elsewhere_takes_effect_within_seconds() {
    let gw = TestGateway::start().await;
    let body = req("gpt-4o", false);
    assert_eq!(gw.chat(&body).await.0, 200);
    // A second key, created by "another process" after the gateway cached the first.
    let other = gw.store.create_api_key(&gw.tenant_id).await.unwrap();
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .bearer_auth(other.api_key.expose())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a new key works at once");
    // Revoked in the store directly, as `neureus keys revoke` does.
    assert!(gw.store.revoke_api_key(&gw.key_id).await.unwrap());
    let started = Instant::now();
    loop {
        let status = gw.chat(&body).await.0;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, _, json) = gw.chat(&body).await;
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

#[tokio::test]
async fn models_list_every_contract_model() {
    let gw = TestGateway::start().await;
    let resp = gw
        .http
        .get(gw.url("/ai/models"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 12);
    assert_eq!(models[0]["id"], "auto");
    let r1 = models
        .iter()
        .find(|m| m["id"] == "deepseek/r1-32b")
        .unwrap();
    assert_eq!(r1["provider"], "workers-ai");
    assert_eq!(
        r1["upstreamId"],
        "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b"
    );
    assert_eq!(r1["contextWindow"], 80000);
    assert_eq!(r1["pricing"]["inputPerMTok"], 0.497);
    assert_eq!(r1["available"], true);
}

#[tokio::test]
async fn a_provider_without_credentials_is_503() {
    let gw = TestGateway::start_with(|c| c.anthropic.api_key = None).await;
    let (status, _, body) = gw.chat(&req("claude-opus-4-8", false)).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["type"], "provider_unavailable");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("NEUREUS_ANTHROPIC_API_KEY"));
    // Its models show as unavailable; the others still work.
    let resp = gw
        .http
        .get(gw.url("/ai/models"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    let opus = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "claude-opus-4-8")
        .unwrap()
        .clone();
    assert_eq!(opus["available"], false);
    assert_eq!(gw.chat(&req("gpt-4o", false)).await.0, 200);
}

/// The gateway keeps its upstream connections alive and shares them: the three providers
/// here are one origin (the mock), so chats one after another, to each of them, streamed or
/// not, go over one connection; two chats at once open a second one, and later chats reuse
/// the two.
#[tokio::test]
async fn upstream_connections_are_kept_alive_and_reused() {
    let gw = TestGateway::start().await;
    let models = ["gpt-4o-mini", "claude-haiku-4-5", "meta/llama-3.3-70b"];
    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        for model in models {
            let (status, _, body) = gw.chat(&chat(model)).await;
            assert_eq!(status, 200, "{model}: {body}");
        }
    }
    assert_eq!(gw.mock.requests().len(), 6);
    assert_eq!(gw.mock.connections(), 1);

    for model in models {
        let mut body = chat(model);
        body["stream"] = json!(true);
        let events = gw.stream(&body).await;
        assert!(!events.is_empty(), "{model}");
        let (status, _, body) = gw.chat(&chat(model)).await;
        assert_eq!(status, 200, "{model}: {body}");
    }
    assert_eq!(gw.mock.connections(), 1, "streams reuse the connection too");

    gw.mock.set_default_delay(Duration::from_millis(200));
    let (first, second) = (chat(models[0]), chat(models[1]));
    let (a, b) = tokio::join!(gw.chat(&first), gw.chat(&second));
    assert_eq!((a.0, b.0), (200, 200));
    assert_eq!(gw.mock.connections(), 2);
    gw.mock.set_default_delay(Duration::ZERO);
    for model in models {
        assert_eq!(gw.chat(&chat(model)).await.0, 200);
    }
    assert_eq!(gw.mock.connections(), 2);
}
