//! Every bad input gets the contract's JSON error with a message that says what to fix; no
//! input yields a 500, a panic or a hang.

use axum::body::Body;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::harness::TestGateway;

async fn expect_error(gw: &TestGateway, body: &str, status: u16, kind: &str, says: &str) {
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .bearer_auth(&gw.key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), status, "body {body}");
    let rid = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["type"], kind, "{json}");
    assert_eq!(json["error"]["requestId"], rid.as_str());
    let msg = json["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(says),
        "message {msg:?} should mention {says:?}"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_400s() {
    let gw = TestGateway::start().await;
    let cases: &[(&str, &str)] = &[
        ("{\"model\": \"gpt-4o\", \"messages\": [", "not valid JSON"),
        ("", "empty"),
        ("[1,2]", "must be a JSON object"),
        (r#"{"model":"gpt-4o"}"#, "messages"),
        (
            r#"{"model":"gpt-4o","messages":[]}"#,
            "messages must not be empty",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"robot","content":"hi"}]}"#,
            "messages[0].role: unknown variant `robot`",
        ),
        (
            r#"{"model":"gpt-5-ultra","messages":[{"role":"user","content":"hi"}]}"#,
            "unknown model \"gpt-5-ultra\"",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"},{"role":"tool","toolCallId":"call_9","content":"x"}]}"#,
            "does not match a tool call",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"maxTokenz":5}"#,
            "maxTokenz",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#,
            "temperature",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"video","url":"x"}]}]}"#,
            "messages[0].content",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image","url":"file:///etc/passwd"}]}]}"#,
            "http(s) URL",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":null}]}"#,
            "must not be null",
        ),
        (
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"toolChoice":"sometimes"}"#,
            "toolChoice",
        ),
    ];
    for (body, says) in cases {
        expect_error(&gw, body, 400, "invalid_request_error", says).await;
    }
    assert!(
        gw.mock.requests().is_empty(),
        "nothing invalid may reach a provider"
    );
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let gw = TestGateway::start_with(|c| c.max_body_bytes = 2048).await;
    let big =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    expect_error(
        &gw,
        &big.to_string(),
        413,
        "request_too_large",
        "2048 bytes",
    )
    .await;
    // Under the limit it works.
    let (status, _, _) = gw
        .chat(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(status, 200);
}

/// The compatible surfaces are served before the router (`routes::service`), like
/// `/ai/chat`: the same body limit, request id and 405 for another method.
#[tokio::test]
async fn the_compatible_routes_keep_the_body_limit_and_their_methods() {
    let gw = TestGateway::start_with(|c| c.max_body_bytes = 2048).await;
    let big = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(4096)}], "max_tokens": 10});
    for path in ["/v1/chat/completions", "/v1/messages"] {
        let resp = gw
            .http
            .post(gw.url(path))
            .bearer_auth(&gw.key)
            .header("content-type", "application/json")
            .body(big.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413, "{path}");
        assert!(resp.headers().contains_key("x-request-id"), "{path}");
        let text = resp.text().await.unwrap();
        assert!(text.contains("2048 bytes"), "{path}: {text}");
        let resp = gw
            .http
            .get(gw.url(path))
            .bearer_auth(&gw.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{path}");
        assert_eq!(resp.headers()["allow"], "POST", "{path}");
    }
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn the_default_limit_is_ten_mib() {
    let gw = TestGateway::start().await;
    let big = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(10 * 1024 * 1024 + 1)}]});
    expect_error(&gw, &big.to_string(), 413, "request_too_large", "10485760").await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let gw = TestGateway::start().await;
    let resp = gw.http.get(gw.url("/ai/nothing")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let json: Value = resp.json().await.unwrap();
    assert_eq!(json["error"]["type"], "not_found_error");
    let resp = gw
        .http
        .get(gw.url("/ai/chat"))
        .bearer_auth(&gw.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let json: Value = resp.json().await.unwrap();
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("GET is not allowed"));
}

fn arbitrary_body() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        // Structurally plausible requests with random pieces.
        ("\\PC{0,20}", "[a-z]{0,8}", "\\PC{0,30}", any::<bool>(), -5.0f64..5.0).prop_map(|(model, role, content, stream, t)| {
            json!({"model": model, "messages": [{"role": role, "content": content}], "stream": stream, "temperature": t}).to_string()
        }),
        Just(r#"{"model":"gpt-4o","messages":[{"role":"assistant","content":null}]}"#.to_owned()),
        Just(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"tools":[{"name":""}]}"#.to_owned()),
    ]
}

#[test]
fn no_input_yields_a_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(TestGateway::start());
    let app = neureus_gateway::app(gw.state.clone());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(200));
    runner
        .run(&arbitrary_body(), |body| {
            let req = Request::post("/ai/chat")
                .header("authorization", format!("Bearer {}", gw.key))
                .body(Body::from(body.clone()))
                .unwrap();
            let resp = rt.block_on(app.clone().oneshot(req)).unwrap();
            let status = resp.status().as_u16();
            // A valid request reaches the mock and succeeds; anything else is a 4xx.
            prop_assert!(
                status == 200 || (400..500).contains(&status),
                "{status} for {body}"
            );
            Ok(())
        })
        .unwrap();
}
