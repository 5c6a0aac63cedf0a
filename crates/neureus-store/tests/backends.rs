//! The same behaviour from every backend: each check runs against SQLite in memory, a SQLite
//! file (whose log batches go through its own writer thread) and Postgres.
//!
//! Postgres is the database `NEUREUS_TEST_DATABASE_URL` names (`.ci/run` sets it, so CI
//! always runs these); each test works in a schema of its own, dropped at the end. Without
//! the variable the Postgres half says so on stderr and is skipped.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the checks are functions shared by the tests, outside #[test] functions"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use neureus_store::crypto::Sealed;
use neureus_store::logs::{cost_from_e10, cost_to_e10, GroupBy, LogFilter, LogRecord};
use neureus_store::{
    open, parse_api_key, verify_secret, PgStore, ProviderKeyRecord, SqliteStore, Store, StoreError,
};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A Postgres schema of its own for one test, dropped on drop (best effort).
struct PgSchema {
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl PgSchema {
    async fn new() -> Option<PgSchema> {
        let Ok(base) = std::env::var("NEUREUS_TEST_DATABASE_URL") else {
            eprintln!("NEUREUS_TEST_DATABASE_URL is not set: the Postgres backend is not tested");
            return None;
        };
        let admin = sqlx::PgPool::connect(&base)
            .await
            .expect("NEUREUS_TEST_DATABASE_URL is set but cannot be reached");
        let name = format!("neureus_t_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Some(PgSchema { admin, name, url })
    }

    async fn store(&self) -> PgStore {
        PgStore::connect(&self.url).await.unwrap()
    }

    async fn drop_schema(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

/// Runs `check` against each backend, migrated, naming the backend in failures.
macro_rules! on_every_backend {
    ($check:ident) => {{
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        $check(&store, "sqlite in memory").await;

        let dir = std::env::temp_dir().join(format!("neureus-be-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open_file(&dir.join("n.db")).await.unwrap();
        store.migrate().await.unwrap();
        $check(&store, "sqlite file").await;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);

        if let Some(schema) = PgSchema::new().await {
            let store = schema.store().await;
            store.migrate().await.unwrap();
            store.migrate().await.unwrap(); // idempotent
            $check(&store, "postgres").await;
            drop(store);
            schema.drop_schema().await;
        }
    }};
}

fn rec(id: &str, tenant: &str, at: i64) -> LogRecord {
    LogRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        api_key_id: "key_a".into(),
        created_at_ms: at,
        endpoint: "/ai/chat".into(),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        status: 200,
        input_tokens: 10,
        output_tokens: 5,
        cost_usd: 0.000_123_4,
        latency_ms: 7,
        ..LogRecord::default()
    }
}

async fn tenants_keys_and_revocation(store: &dyn Store, backend: &str) {
    let (tenant, key) = store.create_tenant("acme").await.unwrap();
    // Lists are oldest first by the millisecond; ties go by id, which is random for keys.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let (other, _) = store.create_tenant("globex").await.unwrap();
    let listed = store.list_tenants().await.unwrap();
    assert_eq!(listed, vec![tenant.clone(), other.clone()], "{backend}");
    assert_eq!(
        store.get_tenant(&tenant.id).await.unwrap(),
        Some(tenant.clone())
    );
    assert_eq!(
        store.get_tenant("ten_nope").await.unwrap(),
        None,
        "{backend}"
    );

    let parts = parse_api_key(key.api_key.expose()).unwrap();
    let found = store.find_api_key(&parts.public_id).await.unwrap().unwrap();
    assert_eq!(found.tenant_id, tenant.id, "{backend}");
    assert_eq!(found.id, key.key_id, "{backend}");
    assert!(
        verify_secret(&parts.secret, &found.secret_hash),
        "{backend}"
    );
    assert_ne!(
        found.secret_hash, parts.secret,
        "{backend}: the secret is stored hashed"
    );
    assert!(found.revoked_at_ms.is_none(), "{backend}");

    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let second = store.create_api_key(&tenant.id).await.unwrap();
    assert_ne!(second.key_id, key.key_id, "{backend}");
    assert!(
        matches!(
            store.create_api_key("ten_nope").await,
            Err(StoreError::NotFound(_))
        ),
        "{backend}"
    );
    let keys = store.list_api_keys(&tenant.id).await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        [key.key_id.as_str(), second.key_id.as_str()],
        "{backend}"
    );

    let before = neureus_store::now_ms();
    assert!(
        store.revoke_api_key(&key.key_id).await.unwrap(),
        "{backend}"
    );
    assert!(
        store.revoke_api_key(&key.key_id).await.unwrap(),
        "{backend}: twice"
    );
    assert!(
        !store.revoke_api_key("key_missing").await.unwrap(),
        "{backend}"
    );
    assert_eq!(
        store.revoked_since(before).await.unwrap(),
        vec![parts.public_id.clone()],
        "{backend}"
    );
    let found = store.find_api_key(&parts.public_id).await.unwrap().unwrap();
    assert!(found.revoked_at_ms.is_some(), "{backend}");
    assert!(store
        .list_api_keys(&tenant.id)
        .await
        .unwrap()
        .iter()
        .any(|k| k.id == key.key_id && k.revoked_at_ms.is_some()));
}

#[tokio::test]
async fn tenants_keys_and_revocation_on_every_backend() {
    on_every_backend!(tenants_keys_and_revocation);
}

async fn provider_keys_settings_and_changes(store: &dyn Store, backend: &str) {
    let (tenant, _) = store.create_tenant("acme").await.unwrap();
    let sealed = |mk: &str, n: &str| Sealed {
        master_key_id: mk.into(),
        nonce: n.into(),
        ciphertext: format!("ct-{n}"),
    };
    let start = neureus_store::now_ms();
    let mut row = ProviderKeyRecord {
        tenant_id: tenant.id.clone(),
        provider: "openai".into(),
        version: 1,
        sealed: Some(sealed("mk1", "n1")),
        account_id: None,
        last4: Some("abcd".into()),
        updated_at_ms: start,
    };
    assert!(
        store.write_provider_key(&row, None).await.unwrap(),
        "{backend}"
    );
    assert!(
        !store.write_provider_key(&row, None).await.unwrap(),
        "{backend}: a second first write loses"
    );
    assert_eq!(
        store.get_provider_key(&tenant.id, "openai").await.unwrap(),
        Some(row.clone()),
        "{backend}"
    );
    // Compare-and-set on the version.
    let mut next = row.clone();
    next.version = 2;
    next.sealed = Some(sealed("mk1", "n2"));
    assert!(
        !store.write_provider_key(&next, Some(5)).await.unwrap(),
        "{backend}"
    );
    assert!(
        store.write_provider_key(&next, Some(1)).await.unwrap(),
        "{backend}"
    );
    row = next;
    let workers = ProviderKeyRecord {
        tenant_id: tenant.id.clone(),
        provider: "workers-ai".into(),
        version: 1,
        sealed: None,
        account_id: Some("acct".into()),
        last4: None,
        updated_at_ms: start,
    };
    assert!(store.write_provider_key(&workers, None).await.unwrap());
    assert_eq!(
        store.list_provider_keys(&tenant.id).await.unwrap(),
        vec![row.clone(), workers.clone()],
        "{backend}"
    );
    let mut changed = store.provider_keys_changed_since(start).await.unwrap();
    changed.sort();
    assert_eq!(
        changed,
        [
            (tenant.id.clone(), "openai".to_owned()),
            (tenant.id.clone(), "workers-ai".to_owned())
        ],
        "{backend}"
    );
    assert!(store
        .provider_keys_changed_since(start + 1)
        .await
        .unwrap()
        .is_empty());
    // Only rows holding a key are resealed, and only under the master key they name.
    assert_eq!(
        store.sealed_provider_keys().await.unwrap(),
        vec![row.clone()]
    );
    let resealed = sealed("mk2", "n3");
    assert!(!store
        .reseal_provider_key(&row, "mk9", &resealed)
        .await
        .unwrap());
    assert!(store
        .reseal_provider_key(&row, "mk1", &resealed)
        .await
        .unwrap());
    let now = store
        .get_provider_key(&tenant.id, "openai")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.sealed, Some(resealed), "{backend}");
    assert_eq!(
        now.updated_at_ms, row.updated_at_ms,
        "{backend}: a reseal is no change"
    );

    assert_eq!(
        store.tenant_settings(&tenant.id).await.unwrap().as_deref(),
        Some("{}")
    );
    assert_eq!(store.tenant_settings("ten_nope").await.unwrap(), None);
    let t0 = neureus_store::now_ms();
    assert!(store
        .set_tenant_settings(&tenant.id, r#"{"trimThresholdTokens":8000}"#)
        .await
        .unwrap());
    assert!(!store.set_tenant_settings("ten_nope", "{}").await.unwrap());
    assert_eq!(
        store.tenant_settings(&tenant.id).await.unwrap().as_deref(),
        Some(r#"{"trimThresholdTokens":8000}"#),
        "{backend}"
    );
    assert_eq!(
        store.tenants_changed_since(t0).await.unwrap(),
        vec![tenant.id.clone()]
    );

    assert_eq!(store.get_setting("canary").await.unwrap(), None);
    store.set_setting("canary", "one").await.unwrap();
    store.set_setting("canary", "two").await.unwrap();
    assert_eq!(
        store.get_setting("canary").await.unwrap().as_deref(),
        Some("two")
    );
}

#[tokio::test]
async fn provider_keys_settings_and_changes_on_every_backend() {
    on_every_backend!(provider_keys_settings_and_changes);
}

async fn logs_round_trip_filter_and_page(store: &dyn Store, backend: &str) {
    let full = LogRecord {
        id: "log_full".into(),
        tenant_id: "t1".into(),
        api_key_id: "key_b".into(),
        created_at_ms: 1_700_000_000_123,
        endpoint: "/v1/chat/completions".into(),
        model_requested: Some("auto".into()),
        model: Some("claude-3-5-haiku".into()),
        provider: Some("anthropic".into()),
        category: Some("code".into()),
        status: 502,
        error_type: Some("upstream_error".into()),
        error_message: Some("bad gateway — ünïcödé 🚀, 'quotes' and \"doubles\"".into()),
        input_tokens: u64::from(u32::MAX) + 7,
        output_tokens: 0,
        cached_tokens: 3,
        cost_usd: 12.345_678_9,
        latency_ms: 1_234,
        ttft_ms: Some(56),
        streamed: true,
        routing: Some(r#"{"reason":"rules"}"#.into()),
        preprocessing: Some(r#"{"passes":4}"#.into()),
        metadata: Some(r#"{"user":"u1"}"#.into()),
        request_body: Some("x".repeat(70_000)),
        response_body: Some(String::new()),
    };
    let mut recs = vec![full.clone()];
    for (i, t) in ["t1", "t2", "t10"].iter().enumerate() {
        for j in 0..30_i64 {
            let mut r = rec(&format!("log_{t}_{j:03}"), t, 1_000 + j * 100);
            r.status = [200_u16, 429, 200, 502][(i + j as usize) % 4];
            if j % 3 == 0 {
                r.model = Some("claude-3-5-haiku".into());
                r.provider = Some("anthropic".into());
            }
            if j % 5 == 0 {
                r.model = None;
                r.provider = None;
            }
            recs.push(r);
        }
    }
    store.insert_logs(recs.clone().into()).await.unwrap();
    assert_eq!(
        store.get_log("t1", "log_full").await.unwrap(),
        Some(full.clone()),
        "{backend}: every column round trips"
    );
    assert_eq!(
        store.get_log("t2", "log_full").await.unwrap(),
        None,
        "{backend}: scoped"
    );

    let filters = [
        LogFilter::default(),
        LogFilter {
            model: Some("claude-3-5-haiku".into()),
            ..LogFilter::default()
        },
        LogFilter {
            provider: Some("openai".into()),
            ..LogFilter::default()
        },
        LogFilter {
            status: Some(200),
            ..LogFilter::default()
        },
        LogFilter {
            status: Some(502),
            ..LogFilter::default()
        },
        LogFilter {
            from_ms: Some(1_500),
            to_ms: Some(2_500),
            ..LogFilter::default()
        },
        LogFilter {
            before: Some("log_t1_010".into()),
            ..LogFilter::default()
        },
    ];
    for t in ["t1", "t2", "t10"] {
        for f in &filters {
            let got = store.list_logs(t, f, 1_000).await.unwrap();
            let mut want: Vec<LogRecord> = recs
                .iter()
                .filter(|r| {
                    r.tenant_id == t
                        && f.model.as_ref().is_none_or(|m| r.model.as_ref() == Some(m))
                        && f.provider
                            .as_ref()
                            .is_none_or(|p| r.provider.as_ref() == Some(p))
                        && f.status.is_none_or(|s| r.status == s)
                        && f.from_ms.is_none_or(|from| r.created_at_ms >= from)
                        && f.to_ms.is_none_or(|to| r.created_at_ms < to)
                        && f.before.as_ref().is_none_or(|b| r.id < *b)
                })
                .cloned()
                .collect();
            want.sort_by(|a, b| b.id.cmp(&a.id));
            assert_eq!(got, want, "{backend}: {t} {f:?}");
        }
    }
    // Pages of 7, newest first, cursor to cursor, cover every record once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_logs(
                "t2",
                &LogFilter {
                    before: cursor.clone(),
                    ..LogFilter::default()
                },
                7,
            )
            .await
            .unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        cursor = Some(last.id.clone());
        seen.extend(page.into_iter().map(|r| r.id));
    }
    let mut want: Vec<String> = (0..30).map(|j| format!("log_t2_{j:03}")).collect();
    want.reverse();
    assert_eq!(seen, want, "{backend}");

    // A NUL character a client sent (here in the model it asked for and the error quoting
    // it) does not fail the batch: Postgres text cannot hold one, so it stores U+FFFD there.
    let mut nul = rec("log_nul", "t3", 4_000);
    nul.model_requested = Some("gpt\0x".into());
    nul.error_message = Some("unknown model \"gpt\0x\"".into());
    nul.request_body = Some("{\"model\":\"gpt\0x\"}".into());
    nul.model = Some("m\0x".into());
    let neighbour = rec("log_neighbour", "t3", 4_001);
    // Its model stored is the same text as this one's: one hourly usage row for both.
    let mut twin = rec("log_twin", "t3", 4_002);
    twin.model = Some("m\u{FFFD}x".into());
    store
        .insert_logs(vec![nul.clone(), neighbour.clone(), twin].into())
        .await
        .unwrap();
    assert!(store.get_log("t3", "log_twin").await.unwrap().is_some());
    let got = store.get_log("t3", "log_nul").await.unwrap().unwrap();
    let kept = if backend == "postgres" {
        "gpt\u{FFFD}x"
    } else {
        "gpt\0x"
    };
    assert_eq!(got.model_requested.as_deref(), Some(kept), "{backend}");
    assert!(got.error_message.unwrap().contains(kept), "{backend}");
    assert_eq!(
        store.get_log("t3", "log_neighbour").await.unwrap(),
        Some(neighbour),
        "{backend}"
    );
    // A NUL in what a client looks up (from a URL) finds what it names, or nothing.
    let by_model = LogFilter {
        model: Some("m\0x".into()),
        ..LogFilter::default()
    };
    let found: Vec<String> = store
        .list_logs("t3", &by_model, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    // In Postgres the twin's model is the same text as stored.
    let want: &[&str] = if backend == "postgres" {
        &["log_twin", "log_nul"]
    } else {
        &["log_nul"]
    };
    assert_eq!(found, want, "{backend}");
    assert_eq!(
        store.get_log("t3", "log_\0").await.unwrap(),
        None,
        "{backend}"
    );
    let before = LogFilter {
        before: Some("log_\0".into()),
        ..LogFilter::default()
    };
    assert!(store
        .list_logs("t\0", &before, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(
        matches!(
            store.create_api_key("ten_\0").await,
            Err(StoreError::NotFound(_))
        ),
        "{backend}"
    );
    assert!(!store.revoke_api_key("key_\0").await.unwrap(), "{backend}");
    assert_eq!(store.get_tenant("ten_\0").await.unwrap(), None, "{backend}");

    // A batch holding a record already stored (same tenant and id), as a retry after a lost
    // acknowledgement would: SQLite refuses it whole; Postgres stores the rest, the stored
    // record and its usage unchanged.
    let (before, _) = store
        .usage("t2", 0, i64::MAX, GroupBy::Model)
        .await
        .unwrap();
    let mut again = rec("log_t2_000", "t2", 5_000);
    again.input_tokens = 999;
    let batch = vec![rec("log_new", "t3", 5_000), again];
    let written = store.insert_logs(batch.into()).await;
    let (after, _) = store
        .usage("t2", 0, i64::MAX, GroupBy::Model)
        .await
        .unwrap();
    assert_eq!(after, before, "{backend}: usage counted once");
    let kept = store.get_log("t2", "log_t2_000").await.unwrap().unwrap();
    assert_eq!(
        kept.created_at_ms, 1_000,
        "{backend}: the stored record stays"
    );
    let new = store.get_log("t3", "log_new").await.unwrap();
    if backend == "postgres" {
        written.unwrap();
        assert!(new.is_some(), "{backend}");
    } else {
        assert!(written.is_err(), "{backend}");
        assert!(new.is_none(), "{backend}");
    }
    // The same id in another tenant is another record.
    store
        .insert_logs_background(vec![rec("log_t2_000", "t3", 5_000)].into())
        .await
        .unwrap();
    assert!(store.get_log("t3", "log_t2_000").await.unwrap().is_some());
}

#[tokio::test]
async fn logs_round_trip_filter_and_page_on_every_backend() {
    on_every_backend!(logs_round_trip_filter_and_page);
}

/// Usage sums for `tenant` in [from, to) grouped by `g`, from the records themselves.
fn expected_usage(
    recs: &[LogRecord],
    tenant: &str,
    from: i64,
    to: i64,
    g: GroupBy,
) -> (u64, Vec<(String, u64, u64, i64)>) {
    let mut groups: BTreeMap<String, (u64, u64, i64)> = BTreeMap::new();
    let mut total = 0;
    for r in recs
        .iter()
        .filter(|r| r.tenant_id == tenant && r.created_at_ms >= from && r.created_at_ms < to)
    {
        let key = match g {
            GroupBy::Model => r.model.clone().unwrap_or_default(),
            GroupBy::Provider => r.provider.clone().unwrap_or_default(),
            GroupBy::ApiKey => r.api_key_id.clone(),
            GroupBy::Day => neureus_store::rfc3339(r.created_at_ms)[..10].to_owned(),
        };
        let e = groups.entry(key).or_default();
        e.0 += 1;
        e.1 += u64::from(r.status >= 400);
        e.2 += cost_to_e10(r.cost_usd);
        total += 1;
    }
    (
        total,
        groups
            .into_iter()
            .map(|(k, (n, e, c))| (k, n, e, c))
            .collect(),
    )
}

async fn usage_and_retention(store: &dyn Store, backend: &str) {
    // Records over three days, some hours whole, in two batches (the hourly sums add up).
    let base = 20_000 * DAY;
    let mut recs = Vec::new();
    for i in 0..240_i64 {
        let mut r = rec(&format!("log_{i:05}"), "t1", base + i * 17 * 60_000);
        r.api_key_id = if i % 2 == 0 { "key_a" } else { "key_b" }.into();
        r.status = if i % 7 == 0 { 500 } else { 200 };
        r.input_tokens = i as u64;
        if i % 4 == 0 {
            r.model = Some("claude-3-5-haiku".into());
            r.provider = Some("anthropic".into());
        }
        if i % 11 == 0 {
            r.model = None;
            r.provider = None;
        }
        recs.push(r);
    }
    recs.push(rec("log_other", "t2", base + HOUR));
    let (first, second) = recs.split_at(100);
    store.insert_logs(first.to_vec().into()).await.unwrap();
    store.insert_logs(second.to_vec().into()).await.unwrap();
    let end = base + 240 * 17 * 60_000;
    for (from, to) in [
        (0, i64::MAX),
        (base, end),
        (base + 30 * 60_000, base + 5 * HOUR + 1),
        (base + HOUR, base + 2 * HOUR),
        (base + DAY + 123, base + DAY + 456),
    ] {
        for g in [
            GroupBy::Model,
            GroupBy::Provider,
            GroupBy::Day,
            GroupBy::ApiKey,
        ] {
            let (total, groups) = store.usage("t1", from, to, g).await.unwrap();
            let (want_total, want_groups) = expected_usage(&recs, "t1", from, to, g);
            assert_eq!(total.requests, want_total, "{backend} {from}..{to} {g:?}");
            let got: Vec<(String, u64, u64, i64)> = groups
                .iter()
                .map(|u| (u.key.clone(), u.requests, u.errors, cost_to_e10(u.cost_usd)))
                .collect();
            assert_eq!(got, want_groups, "{backend} {from}..{to} {g:?}");
        }
    }
    let (total, _) = store
        .usage("t1", 0, i64::MAX, GroupBy::Model)
        .await
        .unwrap();
    assert_eq!(total.input_tokens, (0..240).sum::<u64>(), "{backend}");
    assert_eq!(cost_to_e10(total.cost_usd), 240 * cost_to_e10(0.000_123_4));
    assert_eq!(cost_from_e10(cost_to_e10(total.cost_usd)), total.cost_usd);

    // Retention in batches: everything before the second day goes, t2's record too.
    let cutoff = base + DAY;
    let mut deleted = 0;
    loop {
        let n = store.delete_logs_before(cutoff, 25).await.unwrap();
        assert!(n <= 25, "{backend}");
        if n == 0 {
            break;
        }
        deleted += n;
    }
    let old = recs.iter().filter(|r| r.created_at_ms < cutoff).count() as u64;
    assert_eq!(deleted, old, "{backend}");
    let left: Vec<LogRecord> = recs
        .iter()
        .filter(|r| r.created_at_ms >= cutoff)
        .cloned()
        .collect();
    let (total, _) = store.usage("t1", 0, i64::MAX, GroupBy::Day).await.unwrap();
    assert_eq!(
        total.requests,
        left.len() as u64,
        "{backend}: usage follows retention"
    );
    assert_eq!(
        store
            .usage("t2", 0, i64::MAX, GroupBy::Day)
            .await
            .unwrap()
            .0
            .requests,
        0
    );
}

#[tokio::test]
async fn usage_and_retention_on_every_backend() {
    on_every_backend!(usage_and_retention);
}

/// A Postgres batch written twice (its acknowledgement lost, the writer retrying) is stored
/// once: records and usage as after the first write.
#[tokio::test]
async fn a_postgres_batch_written_twice_is_stored_once() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let store = schema.store().await;
    store.migrate().await.unwrap();
    let batch: Arc<[LogRecord]> = (0..50)
        .map(|i| {
            rec(
                &format!("log_{i:03}"),
                if i % 2 == 0 { "t1" } else { "t2" },
                1_000 + i,
            )
        })
        .collect::<Vec<_>>()
        .into();
    let stored = || async {
        let usage = store
            .usage("t1", 0, i64::MAX, GroupBy::ApiKey)
            .await
            .unwrap();
        let logs = store
            .list_logs("t1", &LogFilter::default(), 100)
            .await
            .unwrap();
        (usage, logs)
    };
    store.insert_logs(batch.clone()).await.unwrap();
    let first = stored().await;
    store.insert_logs(batch).await.unwrap();
    let second = stored().await;
    assert_eq!(first.0 .0.requests, 25);
    assert_eq!(second, first);
    drop(store);
    schema.drop_schema().await;
}

/// `open` picks the backend by the URL; replicas starting together migrate once.
#[tokio::test]
async fn open_by_url_and_concurrent_migrations() {
    let store = open("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.list_tenants().await.unwrap().is_empty());
    let err = match open("mysql://u:hunter2@db/x").await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("mysql:// opened"),
    };
    assert!(err.contains("mysql://u:***@db/x"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let stores: Vec<Arc<dyn Store>> = vec![
        open(&schema.url).await.unwrap(),
        open(&schema.url).await.unwrap(),
        open(&schema.url).await.unwrap(),
    ];
    let runs = stores.iter().map(|s| {
        let s = s.clone();
        tokio::spawn(async move { s.migrate().await })
    });
    for r in runs.collect::<Vec<_>>() {
        r.await.unwrap().unwrap();
    }
    // One replica writes, another reads it.
    let (tenant, key) = stores[0].create_tenant("acme").await.unwrap();
    let parts = parse_api_key(key.api_key.expose()).unwrap();
    let found = stores[1]
        .find_api_key(&parts.public_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.tenant_id, tenant.id);
    let versions: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT version FROM {}.neureus_migrations ORDER BY version",
        schema.name
    ))
    .fetch_all(&schema.admin)
    .await
    .unwrap();
    assert_eq!(versions, [1]);
    drop(stores);
    schema.drop_schema().await;
}

/// `base` with its host and port replaced by `host_port`.
fn with_host_port(base: &str, host_port: &str) -> String {
    let start = base.find("://").unwrap() + 3;
    let rest = &base[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..end].rfind('@').map_or(0, |i| i + 1);
    format!(
        "{}{}{host_port}{}",
        &base[..start],
        &rest[..host_start],
        &rest[end..]
    )
}

/// A loopback TCP relay to `target` on `port` (0: any), which a test cuts by aborting it:
/// listener and every relayed connection at once, as a database host that goes away.
async fn relay(port: u16, target: String) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            conns.spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (port, task)
}

/// The database going away and coming back: while it is gone a batch fails within the
/// pool's acquire timeout instead of hanging (the gateway's writer then retries and
/// counts), and once it is back the same store writes again without a restart.
#[tokio::test]
async fn postgres_going_away_fails_fast_and_the_store_recovers() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let opts: sqlx::postgres::PgConnectOptions = schema.url.parse().unwrap();
    let target = format!("{}:{}", opts.get_host(), opts.get_port());
    let (port, cut) = relay(0, target.clone()).await;
    let store = PgStore::connect(&with_host_port(&schema.url, &format!("127.0.0.1:{port}")))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .insert_logs(vec![rec("log_1", "t1", 1_000)].into())
        .await
        .unwrap();

    cut.abort();
    let _ = cut.await;
    let started = std::time::Instant::now();
    let failed = store
        .insert_logs(vec![rec("log_2", "t1", 2_000)].into())
        .await;
    assert!(failed.is_err(), "written with the database gone");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    let (_, back) = relay(port, target).await;
    store
        .insert_logs(vec![rec("log_3", "t1", 3_000)].into())
        .await
        .unwrap();
    let ids: Vec<String> = store
        .list_logs("t1", &LogFilter::default(), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["log_3", "log_1"]);
    back.abort();
    drop(store);
    schema.drop_schema().await;
}

#[test]
fn host_and_port_are_replaced_in_database_urls() {
    assert_eq!(
        with_host_port("postgres://u:p@db:5432/n?x=1", "127.0.0.1:9"),
        "postgres://u:p@127.0.0.1:9/n?x=1"
    );
    assert_eq!(
        with_host_port("postgres://db/n", "127.0.0.1:9"),
        "postgres://127.0.0.1:9/n"
    );
}
