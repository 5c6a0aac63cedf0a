//! Request-log costs. `insert_throughput`: records per second written by batched inserts into
//! an on-disk SQLite database (WAL), the writer task's work. `request_path`: what a request
//! pays — building its record and queueing it (no database work).

#![expect(
    clippy::expect_used,
    reason = "a benchmark may stop loudly when its setup fails"
)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use neureus_gateway::auth::Tenant;
use neureus_gateway::logging::{LogSettings, LogWriter, Pending};
use neureus_store::logs::LogRecord;
use neureus_store::{SqliteStore, Store};

fn record(i: usize) -> LogRecord {
    LogRecord {
        id: neureus_store::new_id("log"),
        tenant_id: format!("ten_{}", i % 10),
        api_key_id: "key_abc".into(),
        created_at_ms: neureus_store::now_ms(),
        endpoint: "/ai/chat".into(),
        model_requested: Some("gpt-4o-mini".into()),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        status: 200,
        input_tokens: 812,
        output_tokens: 120,
        cached_tokens: 0,
        cost_usd: 0.000_193_8,
        latency_ms: 412,
        ttft_ms: Some(180),
        streamed: true,
        preprocessing: Some(r#"{"passes":[{"name":"normalize","changed":false}]}"#.into()),
        metadata: Some(r#"{"user":"u_42"}"#.into()),
        ..LogRecord::default()
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("benchmark setup");
    let dir = std::env::temp_dir().join(format!("neureus-bench-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("benchmark setup");
    let store = rt.block_on(async {
        let s = SqliteStore::open_file(&dir.join("bench.db"))
            .await
            .expect("benchmark setup");
        s.migrate().await.expect("benchmark setup");
        Arc::new(s)
    });

    let mut g = c.benchmark_group("logs");
    for batch in [1usize, 100, 500] {
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("insert_throughput_batch_{batch}"), |b| {
            b.iter_batched(
                || (0..batch).map(record).collect::<Arc<[_]>>(),
                |recs| {
                    rt.block_on(store.insert_logs(recs))
                        .expect("benchmark setup")
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.throughput(Throughput::Elements(1));
    let writer = rt.block_on(async {
        Arc::new(LogWriter::start(
            store.clone(),
            LogSettings {
                queue_capacity: 1 << 20,
                ..LogSettings::default()
            },
        ))
    });
    let tenant = Tenant {
        tenant_id: "ten_1".into(),
        key_id: "key_abc".into(),
    };
    g.bench_function("request_path_build_and_queue", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut p = Pending::new(writer.clone(), &tenant, "/ai/chat", None);
                p.rec.model = Some("gpt-4o-mini".into());
                p.rec.input_tokens = 812;
                p.finish().await;
            })
        })
    });
    g.finish();
    rt.block_on(writer.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
