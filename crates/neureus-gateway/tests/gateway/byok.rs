//! Bring your own key: which key each tenant's request carried upstream, rotation, delete,
//! isolation, tampering, validation, the admin API, and master-key rotation under load.

use std::sync::Arc;
use std::time::Duration;

use neureus_gateway::state::Keys;
use neureus_mock::{MockProvider, Script};
use neureus_store::crypto::Keyring;
use neureus_store::Store;
use neureus_types::Secret;
use serde_json::{json, Value};

use crate::harness::{joined, TestGateway};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

impl TestGateway {
    async fn call(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self.http.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn new_tenant(&self, name: &str) -> String {
        let (_, key) = self.store.create_tenant(name).await.unwrap();
        key.api_key.expose().to_owned()
    }

    fn last_auth(&self, p: MockProvider) -> String {
        let r = self.mock.requests_for(p).pop().unwrap();
        r.header("authorization")
            .or(r.header("x-api-key"))
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn tenant_keys_overlay_the_global_key_for_that_tenant_only() {
    let gw = TestGateway::start().await;
    let a = gw.key.clone();
    let b = gw.new_tenant("b").await;
    use reqwest::Method;

    let (s, v) = gw
        .call(
            &a,
            Method::PUT,
            "/ai/providers/openai/key",
            Some(json!({"key": "sk-tenant-a-1111"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"provider": "openai", "source": "tenant", "version": 1, "last4": "1111", "updatedAt": v["updatedAt"]})
    );
    assert!(!v.to_string().contains("sk-tenant-a"));

    assert_eq!(
        gw.call(&a, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    assert_eq!(
        gw.last_auth(MockProvider::Openai),
        "Bearer sk-tenant-a-1111"
    );
    assert_eq!(
        gw.call(&b, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    assert_eq!(gw.last_auth(MockProvider::Openai), "Bearer sk-test-openai");

    // An in-flight stream keeps the key it started with while the key rotates.
    gw.mock.push(
        MockProvider::Openai,
        Script::text("a b c d e f").chunk_delay(Duration::from_millis(60)),
    );
    let mut streaming = chat("gpt-4o");
    streaming["stream"] = json!(true);
    let gw2 = &gw;
    let (events, rotated) = tokio::join!(gw2.stream_as(&a, &streaming), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        gw2.call(
            &a,
            Method::POST,
            "/ai/providers/openai/key/rotate",
            Some(json!({"key": "sk-tenant-a-2222"})),
        )
        .await
    });
    assert_eq!(rotated.0, 200, "{}", rotated.1);
    assert_eq!(rotated.1["version"], 2);
    assert_eq!(joined(&events, "content"), "a b c d e f");
    assert!(events.last().unwrap()["error"].is_null());

    assert_eq!(
        gw.call(&a, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    assert_eq!(
        gw.last_auth(MockProvider::Openai),
        "Bearer sk-tenant-a-2222",
        "the next request uses the rotated key"
    );

    let (s, v) = gw.call(&a, Method::GET, "/ai/providers", None).await;
    assert_eq!(s, 200);
    let openai = v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap()
        .clone();
    assert_eq!(
        (
            openai["source"].as_str(),
            openai["version"].as_i64(),
            openai["last4"].as_str()
        ),
        (Some("tenant"), Some(2), Some("2222"))
    );
    let (_, vb) = gw.call(&b, Method::GET, "/ai/providers", None).await;
    assert!(
        vb["providers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["source"] == "global"),
        "{vb}"
    );

    let (s, v) = gw
        .call(&a, Method::DELETE, "/ai/providers/openai/key", None)
        .await;
    assert_eq!((s, v["source"].as_str()), (200, Some("global")));
    assert_eq!(
        gw.call(&a, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    assert_eq!(
        gw.last_auth(MockProvider::Openai),
        "Bearer sk-test-openai",
        "back to the global key after DELETE"
    );
    assert_eq!(
        gw.call(&a, Method::DELETE, "/ai/providers/openai/key", None)
            .await
            .0,
        404
    );
    assert_eq!(
        gw.call(
            &a,
            Method::POST,
            "/ai/providers/openai/key/rotate",
            Some(json!({"key": "sk-x"}))
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn anthropic_and_workers_ai_tenant_keys() {
    let gw = TestGateway::start_with(|c| c.anthropic.api_key = None).await;
    let a = gw.key.clone();
    let b = gw.new_tenant("b").await;
    use reqwest::Method;
    // Without any key: 503 that names the provider and how to add one.
    let (s, v) = gw
        .call(&a, Method::POST, "/ai/chat", Some(chat("claude-haiku-4-5")))
        .await;
    assert_eq!(s, 503);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("anthropic") && msg.contains("PUT /ai/providers/anthropic/key"),
        "{msg}"
    );
    assert_eq!(
        gw.call(
            &a,
            Method::PUT,
            "/ai/providers/anthropic/key",
            Some(json!({"key": "sk-ant-tenant-a"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        gw.call(&a, Method::POST, "/ai/chat", Some(chat("claude-haiku-4-5")))
            .await
            .0,
        200
    );
    let r = gw.mock.requests_for(MockProvider::Anthropic).pop().unwrap();
    assert_eq!(r.header("x-api-key"), Some("sk-ant-tenant-a"));
    // The gateway sets Host itself (worked out once per upstream URL).
    let mock_host = gw.mock.addr().to_string();
    assert_eq!(r.header("host"), Some(mock_host.as_str()));
    assert_eq!(
        gw.call(&b, Method::POST, "/ai/chat", Some(chat("claude-haiku-4-5")))
            .await
            .0,
        503,
        "B does not get A's key"
    );
    // /ai/models reflects it per tenant.
    let (_, models) = gw.call(&a, Method::GET, "/ai/models", None).await;
    let haiku = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "claude-haiku-4-5")
        .unwrap()
        .clone();
    assert_eq!(haiku["available"], true);
    let (_, models) = gw.call(&b, Method::GET, "/ai/models", None).await;
    let haiku = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "claude-haiku-4-5")
        .unwrap()
        .clone();
    assert_eq!(haiku["available"], false);

    // Workers AI: the key needs the account id, which addresses the upstream URL.
    let (s, v) = gw
        .call(
            &a,
            Method::PUT,
            "/ai/providers/workers-ai/key",
            Some(json!({"key": "cf-tenant-token"})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("accountId"));
    let (s, v) = gw
        .call(
            &a,
            Method::PUT,
            "/ai/providers/workers-ai/key",
            Some(json!({"key": "cf-tenant-token", "accountId": "tenantacct9"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accountId"], "tenantacct9");
    assert_eq!(
        gw.call(
            &a,
            Method::POST,
            "/ai/chat",
            Some(chat("meta/llama-3.3-70b"))
        )
        .await
        .0,
        200
    );
    let r = gw.mock.requests_for(MockProvider::WorkersAi).pop().unwrap();
    assert_eq!(r.header("authorization"), Some("Bearer cf-tenant-token"));
    let mock_host = gw.mock.addr().to_string();
    assert_eq!(r.header("host"), Some(mock_host.as_str()));
    assert!(
        r.path
            .starts_with("/client/v4/accounts/tenantacct9/ai/run/"),
        "{}",
        r.path
    );
    // Workers AI models work with no tenant key (the operator's account).
    assert_eq!(
        gw.call(
            &b,
            Method::POST,
            "/ai/chat",
            Some(chat("meta/llama-3.3-70b"))
        )
        .await
        .0,
        200
    );
    let r = gw.mock.requests_for(MockProvider::WorkersAi).pop().unwrap();
    assert!(r.path.starts_with("/client/v4/accounts/acct123/"));
}

#[tokio::test]
async fn bad_keys_and_unknown_providers() {
    let gw = TestGateway::start().await;
    use reqwest::Method;
    let (s, v) = gw
        .call(
            &gw.key,
            Method::PUT,
            "/ai/providers/azure/key",
            Some(json!({"key": "x"})),
        )
        .await;
    assert_eq!(s, 404);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anthropic, openai, workers-ai"),
        "{v}"
    );
    for (body, says) in [
        (json!({"key": ""}), "empty"),
        (json!({"key": "sk has space"}), "whitespace"),
        (json!({"key": "sk-\u{1}"}), "control"),
        (json!({"key": "k".repeat(513)}), "512"),
        (json!({"kee": "x"}), "kee"),
        (json!({"key": "sk-x", "accountId": "a"}), "workers-ai only"),
    ] {
        let (s, v) = gw
            .call(
                &gw.key,
                Method::PUT,
                "/ai/providers/openai/key",
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, 400, "{body}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{msg}");
        if let Some(k) = body["key"].as_str().filter(|k| k.len() > 3) {
            assert!(!msg.contains(k), "a rejected key must not be echoed");
        }
    }
    let (s, _) = gw
        .call(
            &gw.key,
            Method::PUT,
            "/ai/providers/workers-ai/key",
            Some(json!({"key": "t", "accountId": "../../etc"})),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn a_tampered_key_fails_only_its_provider() {
    let gw = TestGateway::start().await;
    use reqwest::Method;
    for (p, k) in [
        ("openai", "sk-tenant-openai"),
        ("anthropic", "sk-ant-tenant"),
    ] {
        assert_eq!(
            gw.call(
                &gw.key,
                Method::PUT,
                &format!("/ai/providers/{p}/key"),
                Some(json!({"key": k}))
            )
            .await
            .0,
            200
        );
    }
    let mut rec = gw
        .store
        .get_provider_key(&gw.tenant_id, "openai")
        .await
        .unwrap()
        .unwrap();
    let sealed = rec.sealed.as_mut().unwrap();
    let mut ct: Vec<char> = sealed.ciphertext.chars().collect();
    ct[2] = if ct[2] == 'A' { 'B' } else { 'A' };
    sealed.ciphertext = ct.into_iter().collect();
    assert!(gw
        .store
        .write_provider_key(&rec, Some(rec.version))
        .await
        .unwrap());
    gw.state.tenant_keys.invalidate_all();
    let (s, v) = gw
        .call(&gw.key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
        .await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"]["type"], "provider_unavailable");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot be decrypted"));
    assert!(
        gw.mock.requests_for(MockProvider::Openai).is_empty(),
        "garbage must never be sent upstream"
    );
    assert_eq!(
        gw.call(
            &gw.key,
            Method::POST,
            "/ai/chat",
            Some(chat("claude-haiku-4-5"))
        )
        .await
        .0,
        200
    );
    assert_eq!(gw.last_auth(MockProvider::Anthropic), "sk-ant-tenant");
    // Setting the key again repairs it.
    assert_eq!(
        gw.call(
            &gw.key,
            Method::PUT,
            "/ai/providers/openai/key",
            Some(json!({"key": "sk-fixed"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        gw.call(&gw.key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn changes_by_another_process_reach_the_cache() {
    let gw = TestGateway::start().await;
    use reqwest::Method;
    assert_eq!(
        gw.call(&gw.key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    // Another replica writes the tenant's key straight into the shared store.
    let ring = gw.state.tenant_keys.keyring();
    neureus_store::byok::set_key(
        gw.store.as_ref(),
        &ring,
        &gw.tenant_id,
        "openai",
        &Secret::new("sk-from-replica"),
        None,
        false,
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    loop {
        assert_eq!(
            gw.call(&gw.key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
                .await
                .0,
            200
        );
        if gw.last_auth(MockProvider::Openai) == "Bearer sk-from-replica" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "cache never picked up the change"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn admin_api_mirrors_the_cli() {
    let gw = TestGateway::start().await;
    let admin = gw.state.admin_token.expose().to_owned();
    use reqwest::Method;
    assert_eq!(
        gw.call("nope", Method::GET, "/admin/tenants", None).await.0,
        401
    );
    assert_eq!(
        gw.call(&gw.key, Method::GET, "/admin/tenants", None)
            .await
            .0,
        401,
        "a tenant key is not an admin token"
    );
    let (s, t) = gw
        .call(
            &admin,
            Method::POST,
            "/admin/tenants",
            Some(json!({"name": "globex"})),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let tenant_id = t["tenantId"].as_str().unwrap().to_owned();
    let first_key = t["apiKey"].as_str().unwrap().to_owned();
    for bad in ["", "  ", "glo\u{0}bex", "glo\nbex", "\u{1b}[31mred"] {
        let (s, body) = gw
            .call(
                &admin,
                Method::POST,
                "/admin/tenants",
                Some(json!({"name": bad})),
            )
            .await;
        assert_eq!(s, 400, "{bad:?}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    }
    assert_eq!(
        gw.call(&first_key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    let (_, list) = gw.call(&admin, Method::GET, "/admin/tenants", None).await;
    assert!(list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["tenantId"] == tenant_id.as_str()));
    let (s, k) = gw
        .call(
            &admin,
            Method::POST,
            &format!("/admin/tenants/{tenant_id}/keys"),
            None,
        )
        .await;
    assert_eq!(s, 201);
    let key_id = k["keyId"].as_str().unwrap().to_owned();
    let key = k["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(
        gw.call(&key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    let (_, keys) = gw
        .call(
            &admin,
            Method::GET,
            &format!("/admin/tenants/{tenant_id}/keys"),
            None,
        )
        .await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    assert!(
        !keys.to_string().contains(&key[10..]),
        "listing never shows secrets"
    );
    let (s, _) = gw
        .call(
            &admin,
            Method::DELETE,
            &format!("/admin/keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        gw.call(&key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        401,
        "admin revocation is immediate"
    );
    assert_eq!(
        gw.call(&first_key, Method::POST, "/ai/chat", Some(chat("gpt-4o")))
            .await
            .0,
        200
    );
    assert_eq!(
        gw.call(&admin, Method::DELETE, "/admin/keys/key_missing", None)
            .await
            .0,
        404
    );
    assert_eq!(
        gw.call(&admin, Method::GET, "/admin/tenants/ten_missing/keys", None)
            .await
            .0,
        404
    );
    assert_eq!(
        gw.call(
            &admin,
            Method::POST,
            "/admin/tenants/ten_missing/keys",
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn master_key_rotation_under_concurrent_requests_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("neureus-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ring, source, _) = neureus_store::load_keyring(&dir, None, None).unwrap();
    let old_id = ring.current().id().to_owned();
    let keys = Keys {
        keyring: ring,
        source,
        admin_token: Secret::new("admin"),
    };
    let gw = Arc::new(TestGateway::start_with_keys(|c| c.data_dir = dir.clone(), keys).await);
    neureus_store::byok::check_canary(gw.store.as_ref(), &gw.state.tenant_keys.keyring())
        .await
        .unwrap();
    use reqwest::Method;
    // Ten tenants, each with its own OpenAI key.
    let mut tenants = Vec::new();
    for i in 0..10 {
        let key = gw.new_tenant(&format!("t{i}")).await;
        let secret = format!("sk-tenant-{i:02}");
        assert_eq!(
            gw.call(
                &key,
                Method::PUT,
                "/ai/providers/openai/key",
                Some(json!({"key": secret}))
            )
            .await
            .0,
            200
        );
        tenants.push((key, secret));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for (key, secret) in tenants.clone() {
        let (gw, stop) = (gw.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": secret.clone()}]});
                let (s, v) = gw.call(&key, Method::POST, "/ai/chat", Some(body)).await;
                assert_eq!(s, 200, "{v}");
                n += 1;
            }
            n
        }));
    }
    let config = gw.state.config.clone();
    let rotated =
        neureus_gateway::rotation::rotate(&config, gw.store.as_ref(), Duration::from_millis(1500))
            .await
            .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert!(total > 20, "too little traffic during rotation: {total}");
    assert_eq!(rotated.resealed, 10);
    assert_ne!(rotated.master_key_id, old_id);
    // Every request carried its own tenant's key, before, during and after.
    for r in gw.mock.requests_for(MockProvider::Openai) {
        let said = r.body["messages"][0]["content"].as_str().unwrap();
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {said}").as_str())
        );
    }
    // Everything is sealed under the new key only, which alone now opens it.
    let only_new = Keyring::new(
        neureus_store::keyfile::read_file(&dir.join("master.keys"))
            .unwrap()
            .unwrap()
            .current()
            .clone(),
        vec![],
    );
    assert_eq!(only_new.ids(), vec![rotated.master_key_id.as_str()]);
    for rec in gw.store.sealed_provider_keys().await.unwrap() {
        assert!(neureus_store::byok::open_key(&only_new, &rec)
            .unwrap()
            .is_some());
    }
    neureus_store::byok::check_canary(gw.store.as_ref(), &only_new)
        .await
        .unwrap();
    // And a tenant writing after the rotation seals with the new key the gateway reloaded.
    let (key, _) = &tenants[0];
    assert_eq!(
        gw.call(
            key,
            Method::POST,
            "/ai/providers/openai/key/rotate",
            Some(json!({"key": "sk-after"}))
        )
        .await
        .0,
        200
    );
    let rec = gw
        .store
        .get_provider_key(&gw.store.list_tenants().await.unwrap()[1].id, "openai")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.sealed.unwrap().master_key_id, rotated.master_key_id);
    let _ = std::fs::remove_dir_all(&dir);
}
