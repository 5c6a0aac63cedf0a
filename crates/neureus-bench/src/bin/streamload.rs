//! Runs `--streams` streaming requests against `--url` (POST `--body`, optional `--auth`
//! bearer), `--concurrency` at a time (default: all at once), and reports JSON: time to first
//! byte, gaps between chunks, completed and stalled streams (no byte for `--stall-ms`, or not
//! finished within `--timeout-s`). `--ramp-ms` spreads the first requests' starts evenly over
//! that time, so a thousand streams are open together without a thousand simultaneous
//! connects (a SYN burst measures the kernel's accept queue, not the server).
//! `--concurrency 1` measures unloaded time to first byte, stream after stream.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use neureus_bench::{arg, num, percentile};

#[derive(Default)]
struct One {
    ttfb_ms: Option<f64>,
    max_gap_ms: f64,
    gaps_ms: Vec<f64>,
    completed: bool,
    stalled: bool,
    error: bool,
}

async fn one(
    client: Client<HttpConnector, Full<Bytes>>,
    url: String,
    body: String,
    auth: Option<String>,
    stall: Duration,
) -> One {
    let mut out = One::default();
    let mut rb = Request::post(url).header("content-type", "application/json");
    if let Some(a) = &auth {
        rb = rb.header("authorization", format!("Bearer {a}"));
    }
    let Ok(req) = rb.body(Full::new(Bytes::from(body))) else {
        out.error = true;
        return out;
    };
    let t0 = Instant::now();
    let Ok(resp) = client.request(req).await else {
        out.error = true;
        return out;
    };
    if !resp.status().is_success() {
        out.error = true;
        return out;
    }
    let mut body = resp.into_body();
    let mut last = t0;
    loop {
        match tokio::time::timeout(stall, body.frame()).await {
            Err(_) => {
                out.stalled = true;
                return out;
            }
            Ok(None) => {
                out.completed = true;
                return out;
            }
            Ok(Some(Err(_))) => {
                out.error = true;
                return out;
            }
            Ok(Some(Ok(frame))) => {
                if frame.data_ref().is_some_and(|d| !d.is_empty()) {
                    let now = Instant::now();
                    if out.ttfb_ms.is_none() {
                        out.ttfb_ms = Some((now - t0).as_secs_f64() * 1e3);
                    } else {
                        let g = (now - last).as_secs_f64() * 1e3;
                        out.gaps_ms.push(g);
                        out.max_gap_ms = out.max_gap_ms.max(g);
                    }
                    last = now;
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:8787/ai/chat".into());
    let body = arg("--body").unwrap_or_default();
    let auth = arg("--auth");
    let n = num("--streams", 1000) as usize;
    let stall = Duration::from_millis(num("--stall-ms", 2000));
    let timeout = Duration::from_secs(num("--timeout-s", 60));
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        // `--keepalive 1` reuses connections (as a client streaming one answer after
        // another would); by default every stream opens its own.
        .pool_max_idle_per_host(if num("--keepalive", 0) == 1 { 64 } else { 0 })
        .build(connector);
    let concurrency = (num("--concurrency", n as u64) as usize).clamp(1, n.max(1));
    let ramp = Duration::from_millis(num("--ramp-ms", 0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let (c, u, b, a) = (client.clone(), url.clone(), body.clone(), auth.clone());
        // Worker w runs streams w, w + concurrency, … one after another.
        let count = (n - w).div_ceil(concurrency);
        let delay = ramp.mul_f64(w as f64 / concurrency as f64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let r = tokio::time::timeout(
                    timeout,
                    one(c.clone(), u.clone(), b.clone(), a.clone(), stall),
                )
                .await
                .unwrap_or(One {
                    stalled: true,
                    ..One::default()
                });
                out.push(r);
            }
            out
        }));
    }
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        match t.await {
            Ok(rs) => results.extend(rs),
            Err(_) => results.push(One {
                error: true,
                ..One::default()
            }),
        }
    }
    let mut ttfb: Vec<f64> = results.iter().filter_map(|r| r.ttfb_ms).collect();
    let mut gaps: Vec<f64> = results
        .iter()
        .flat_map(|r| r.gaps_ms.iter().copied())
        .collect();
    ttfb.sort_by(f64::total_cmp);
    gaps.sort_by(f64::total_cmp);
    let max_gap = results.iter().map(|r| r.max_gap_ms).fold(0.0, f64::max);
    let report = serde_json::json!({
        "streams": n,
        "completed": results.iter().filter(|r| r.completed).count(),
        "stalled": results.iter().filter(|r| r.stalled).count(),
        "errors": results.iter().filter(|r| r.error).count(),
        "ttfb_ms": {"p50": percentile(&ttfb, 50.0), "p99": percentile(&ttfb, 99.0), "max": ttfb.last().copied().unwrap_or(0.0)},
        "gap_ms": {"p50": percentile(&gaps, 50.0), "p99": percentile(&gaps, 99.0), "max": max_gap},
        "duration_s": started.elapsed().as_secs_f64(),
    });
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{report}");
}
