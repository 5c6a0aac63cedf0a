//! Request logs: one record per request, sums that match /ai/usage, abandoned streams,
//! failures, isolation, filters, bodies, and shutdown under load.

use std::sync::Arc;
use std::time::Duration;

use neureus_mock::{MockProvider, Script};
use neureus_store::{now_ms, Store};
use serde_json::{json, Value};

use crate::harness::{eventually, TestGateway};

impl TestGateway {
    /// Every record of the calling tenant, following cursors.
    async fn all_logs(&self, key: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/ai/logs?limit=7&before={c}"),
                None => "/ai/logs?limit=7".into(),
            };
            let (s, v) = self.get_json(key, &path).await;
            assert_eq!(s, 200, "{v}");
            out.extend(v["logs"].as_array().unwrap().iter().cloned());
            match v["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }
}

#[tokio::test]
async fn n_concurrent_requests_give_n_records_that_sum_to_usage() {
    let gw = Arc::new(TestGateway::start().await);
    let models = [
        "claude-haiku-4-5",
        "gpt-4o-mini",
        "meta/llama-3.3-70b",
        "claude-sonnet-4-6",
        "deepseek/r1-32b",
    ];
    let n = 40;
    let mut tasks = Vec::new();
    for i in 0..n {
        let gw = gw.clone();
        let model = models[i % models.len()];
        tasks.push(tokio::spawn(async move {
            let body = json!({"model": model, "stream": i % 3 == 0, "messages": [{"role": "user", "content": format!("request {i}")}]});
            let resp = gw.post_chat(&body).await;
            assert_eq!(resp.status(), 200);
            let log_id = resp.headers()["x-neureus-log-id"].to_str().unwrap().to_owned();
            let text = resp.text().await.unwrap();
            let last: Value = if i % 3 == 0 {
                serde_json::from_str(text.lines().filter_map(|l| l.strip_prefix("data: ")).next_back().unwrap()).unwrap()
            } else {
                serde_json::from_str(&text).unwrap()
            };
            assert_eq!(last["logId"], log_id.as_str());
            (log_id, last["inputTokens"].as_u64().unwrap(), last["outputTokens"].as_u64().unwrap(), last["costUsd"].as_f64().unwrap())
        }));
    }
    let mut answered = Vec::new();
    for t in tasks {
        answered.push(t.await.unwrap());
    }
    gw.state.logs.flush().await;
    let logs = gw.all_logs(&gw.key).await;
    assert_eq!(logs.len(), n, "exactly one record per request");
    let ids: std::collections::HashSet<&str> =
        logs.iter().map(|l| l["logId"].as_str().unwrap()).collect();
    for (id, input, output, cost) in &answered {
        assert!(ids.contains(id.as_str()), "no record for {id}");
        let rec = logs.iter().find(|l| l["logId"] == id.as_str()).unwrap();
        assert_eq!(
            (rec["inputTokens"].as_u64(), rec["outputTokens"].as_u64()),
            (Some(*input), Some(*output))
        );
        assert!((rec["costUsd"].as_f64().unwrap() - cost).abs() < 1e-12);
        assert_eq!(rec["status"], 200);
    }
    // Newest first, time-ordered ids.
    let order: Vec<&str> = logs.iter().map(|l| l["logId"].as_str().unwrap()).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(order, sorted);

    let (s, usage) = gw.get_json(&gw.key, "/ai/usage?groupBy=provider").await;
    assert_eq!(s, 200, "{usage}");
    let t = &usage["totals"];
    assert_eq!(t["requests"], n);
    let sum = |f: &str| logs.iter().map(|l| l[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!(t["inputTokens"].as_u64().unwrap(), sum("inputTokens"));
    assert_eq!(t["outputTokens"].as_u64().unwrap(), sum("outputTokens"));
    let cost: f64 = logs.iter().map(|l| l["costUsd"].as_f64().unwrap()).sum();
    assert!((t["costUsd"].as_f64().unwrap() - cost).abs() < 1e-9);
    let groups = usage["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(
        groups
            .iter()
            .map(|g| g["requests"].as_u64().unwrap())
            .sum::<u64>(),
        n as u64
    );
    for by in ["model", "day", "apiKey"] {
        let (s, u) = gw
            .get_json(&gw.key, &format!("/ai/usage?groupBy={by}"))
            .await;
        assert_eq!(s, 200);
        assert_eq!(u["totals"]["requests"], n);
    }
    // A window whose whole hours include this one: the totals come from the hourly sums
    // written with the records, not from the records, and agree with them.
    let (from, to) = (now_ms() - 86_400_000, now_ms() + 3 * 3_600_000);
    let (s, u) = gw
        .get_json(
            &gw.key,
            &format!("/ai/usage?groupBy=provider&from={from}&to={to}"),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["totals"]["requests"], n);
    assert_eq!(
        u["totals"]["inputTokens"].as_u64().unwrap(),
        sum("inputTokens")
    );
    assert!((u["totals"]["costUsd"].as_f64().unwrap() - cost).abs() < 1e-9);
    let (_, u) = gw.get_json(&gw.key, "/ai/usage?groupBy=day").await;
    assert!(u["groups"][0]["day"].as_str().unwrap().starts_with("20"));
    assert_eq!(gw.state.logs.counters().dropped, 0);
}

#[tokio::test]
async fn failures_and_abandoned_streams_have_records() {
    let gw = TestGateway::start().await;
    // A 400 with a valid key.
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .bearer_auth(&gw.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let bad_id = resp.headers()["x-neureus-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // An upstream failure.
    gw.mock
        .push(MockProvider::Openai, Script::error(500, "boom"));
    let (s, h, _) = gw
        .chat(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(s, 502);
    let failed_id = h["x-neureus-log-id"].to_str().unwrap().to_owned();
    // A stream the client abandons after the first chunk.
    gw.mock.push(
        MockProvider::Anthropic,
        Script::text(vec!["word"; 100].join(" "))
            .usage(50, 100, 0)
            .chunk_delay(Duration::from_millis(30)),
    );
    let mut resp = gw.post_chat(&json!({"model": "claude-haiku-4-5", "stream": true, "messages": [{"role": "user", "content": "tell me"}]})).await;
    let abandoned_id = resp.headers()["x-neureus-log-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut got = String::new();
    while got.matches("\"content\"").count() < 5 {
        got.push_str(&String::from_utf8_lossy(
            &resp.chunk().await.unwrap().unwrap(),
        ));
    }
    drop(resp);
    // Unauthenticated requests are not logged (no tenant to own them).
    let resp = gw
        .http
        .post(gw.url("/ai/chat"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let seen = eventually(Duration::from_secs(5), || {
        gw.mock
            .requests_for(MockProvider::Anthropic)
            .last()
            .is_some_and(|r| r.aborted)
    })
    .await;
    assert!(seen);
    gw.state.logs.flush().await;
    // The abandoned stream's record is submitted when its response is dropped: wait for it.
    let mut rec = Value::Null;
    for _ in 0..50 {
        gw.state.logs.flush().await;
        let (s, v) = gw
            .get_json(&gw.key, &format!("/ai/logs/{abandoned_id}"))
            .await;
        if s == 200 {
            rec = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rec["error"]["type"], "client_disconnected", "{rec}");
    assert_eq!(
        rec["inputTokens"], 50,
        "usage seen so far (message_start) is kept"
    );
    let out = rec["outputTokens"].as_u64().unwrap();
    assert!(
        (5..100).contains(&out),
        "output tokens counted from what was sent: {out}"
    );
    assert!(rec["costUsd"].as_f64().unwrap() > 0.0);
    assert!(rec["ttftMs"].is_u64());
    assert_eq!(rec["streamed"], true);

    let (s, v) = gw.get_json(&gw.key, &format!("/ai/logs/{bad_id}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["status"].as_u64(), v["error"]["type"].as_str()),
        (Some(400), Some("invalid_request_error"))
    );
    let (_, v) = gw.get_json(&gw.key, &format!("/ai/logs/{failed_id}")).await;
    assert_eq!(
        (v["status"].as_u64(), v["error"]["type"].as_str()),
        (Some(502), Some("provider_error"))
    );
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(gw.all_logs(&gw.key).await.len(), 3);

    let (_, v) = gw.get_json(&gw.key, "/ai/logs?status=502").await;
    assert_eq!(v["logs"].as_array().unwrap().len(), 1);
    let (_, v) = gw.get_json(&gw.key, "/ai/logs?provider=anthropic").await;
    assert_eq!(v["logs"][0]["logId"], abandoned_id.as_str());
    let (_, v) = gw
        .get_json(&gw.key, "/ai/logs?model=gpt-4o&from=2020-01-01")
        .await;
    assert_eq!(v["logs"].as_array().unwrap().len(), 1);
    let (_, v) = gw
        .get_json(&gw.key, "/ai/logs?to=2020-01-01T00:00:00Z")
        .await;
    assert!(v["logs"].as_array().unwrap().is_empty());
    let (_, usage) = gw.get_json(&gw.key, "/ai/usage").await;
    assert_eq!(
        (
            usage["totals"]["requests"].as_u64(),
            usage["totals"]["errors"].as_u64()
        ),
        (Some(3), Some(2))
    );
    for bad in [
        "/ai/logs?limit=0",
        "/ai/logs?limit=9999",
        "/ai/logs?status=abc",
        "/ai/logs?from=yesterday",
        "/ai/logs?sort=asc",
        "/ai/usage?groupBy=color",
        "/ai/usage?from=2030-01-01&to=2020-01-01",
    ] {
        let (s, v) = gw.get_json(&gw.key, bad).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
}

#[tokio::test]
async fn another_tenants_log_is_a_404_and_bodies_are_opt_in() {
    let gw = TestGateway::start().await;
    let (s, h, _) = gw.chat(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "secret question"}]})).await;
    assert_eq!(s, 200);
    let id = h["x-neureus-log-id"].to_str().unwrap().to_owned();
    gw.state.logs.flush().await;
    let (_, other) = gw.store.create_tenant("other").await.unwrap();
    let other = other.api_key.expose().to_owned();
    let (s, v) = gw.get_json(&other, &format!("/ai/logs/{id}")).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"]["type"], "not_found_error");
    assert!(gw.all_logs(&other).await.is_empty());
    let (_, u) = gw.get_json(&other, "/ai/usage").await;
    assert_eq!(u["totals"]["requests"], 0);

    // Off by default.
    let (s, v) = gw.get_json(&gw.key, &format!("/ai/logs/{id}")).await;
    assert_eq!(s, 200);
    assert!(v["requestBody"].is_null() && v["responseBody"].is_null());
    // The operator turns bodies on for this tenant.
    let admin = gw.state.admin_token.expose().to_owned();
    let r = gw
        .http
        .patch(gw.url(&format!("/admin/tenants/{}", gw.tenant_id)))
        .bearer_auth(&admin)
        .json(&json!({"settings": {"logBodies": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, h, _) = gw
        .chat(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "keep me"}]}))
        .await;
    let id = h["x-neureus-log-id"].to_str().unwrap().to_owned();
    gw.state.logs.flush().await;
    let (_, v) = gw.get_json(&gw.key, &format!("/ai/logs/{id}")).await;
    assert!(v["requestBody"].as_str().unwrap().contains("keep me"));
    assert!(v["responseBody"].as_str().unwrap().contains("\"content\""));
    assert!(v["preprocessing"]["passes"].is_array());
}

#[tokio::test]
async fn shutdown_during_load_keeps_a_record_for_every_answer() {
    let mut gw = TestGateway::start().await;
    for _ in 0..30 {
        gw.mock.push(
            MockProvider::Openai,
            Script::text("slow answer").first_byte_delay(Duration::from_millis(400)),
        );
    }
    let http = gw.http.clone();
    let (url, key) = (gw.url("/ai/chat"), gw.key.clone());
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"model": "gpt-4o", "stream": i % 2 == 0, "messages": [{"role": "user", "content": "hi"}]});
            let resp = http.post(url).bearer_auth(key).json(&body).send().await.ok()?;
            let id = resp.headers().get("x-neureus-log-id")?.to_str().ok()?.to_owned();
            let status = resp.status().as_u16();
            resp.text().await.ok()?;
            Some((id, status))
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    gw.shutdown().await; // as SIGTERM: drains in-flight requests, then the log queue
    let mut answered = Vec::new();
    for t in tasks {
        if let Some(x) = t.await.unwrap() {
            answered.push(x);
        }
    }
    assert_eq!(
        answered.len(),
        30,
        "in-flight requests finish during a graceful shutdown"
    );
    for (id, status) in answered {
        assert_eq!(status, 200);
        let rec = gw.store.get_log(&gw.tenant_id, &id).await.unwrap();
        assert!(rec.is_some(), "answered request {id} has no record");
    }
    let c = gw.state.logs.counters();
    assert_eq!((c.written, c.dropped, c.failed), (30, 0, 0));
}

#[tokio::test]
async fn retention_deletes_old_records_in_the_background() {
    let gw = TestGateway::start_with(|c| c.logs.retention_days = 7).await;
    let now = neureus_store::now_ms();
    let rec = |id: &str, at: i64| neureus_store::logs::LogRecord {
        id: id.into(),
        tenant_id: gw.tenant_id.clone(),
        api_key_id: gw.key_id.clone(),
        created_at_ms: at,
        endpoint: "/ai/chat".into(),
        status: 200,
        ..Default::default()
    };
    let old: Vec<_> = (0..2_500)
        .map(|i| rec(&format!("log_old_{i:05}"), now - 8 * 86_400_000))
        .collect();
    gw.store.insert_logs(old.into()).await.unwrap();
    gw.store
        .insert_logs(Arc::new([rec("log_recent", now - 86_400_000)]))
        .await
        .unwrap();
    // The task the server runs, on a short interval (the server's is hourly).
    let task = tokio::spawn(neureus_gateway::tasks::retention(
        gw.state.clone(),
        Duration::from_millis(50),
    ));
    let store = gw.store.clone();
    let tenant = gw.tenant_id.clone();
    let mut gone = false;
    for _ in 0..200 {
        if store
            .get_log(&tenant, "log_old_02499")
            .await
            .unwrap()
            .is_none()
            && store
                .get_log(&tenant, "log_old_00000")
                .await
                .unwrap()
                .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    task.abort();
    assert!(gone, "records older than the retention period are deleted");
    assert!(
        store
            .get_log(&tenant, "log_recent")
            .await
            .unwrap()
            .is_some(),
        "newer records stay"
    );
}

/// Under light load a record goes out when the batch window closes, through the store's
/// background writer, with no flush asked for: it shows in /ai/logs with what the answer said.
#[tokio::test]
async fn a_record_is_written_when_the_batch_window_closes_without_a_flush() {
    let gw = TestGateway::start().await;
    let (status, headers, answer) = gw
        .chat(
            &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "no flush"}]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let id = headers["x-neureus-log-id"].to_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let (s, v) = gw.get_json(&gw.key, &format!("/ai/logs/{id}")).await;
        if s == 200 {
            break v;
        }
        assert_eq!(s, 404, "{v}");
        assert!(
            std::time::Instant::now() < deadline,
            "{id} was never written"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(record["logId"], id.as_str());
    assert_eq!(record["inputTokens"], answer["inputTokens"]);
    assert_eq!(record["outputTokens"], answer["outputTokens"]);
    assert_eq!(record["costUsd"], answer["costUsd"]);
    let counters = gw.state.logs.counters();
    assert_eq!(
        (counters.written, counters.dropped, counters.failed),
        (1, 0, 0)
    );
}
