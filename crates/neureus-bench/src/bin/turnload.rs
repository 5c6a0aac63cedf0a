//! Unloaded latency of several targets measured side by side: one request at a time (a closed
//! loop at concurrency 1, one kept-alive connection per target), the targets taking turns in
//! short blocks (`--block-ms`, default 500) for `--duration-s` seconds in all, with an idle
//! `--pause-ms` (default 100) between blocks. Prints one JSON line: per target, requests,
//! errors, p50 / p99 / p99.9 / max in microseconds over all its blocks, and each block's p99.
//!
//! Why not `wrk` runs taking turns (what `bench/run.py` also does): this VM's noise (a halted
//! vCPU, a neighbour) comes and goes over seconds, so two 4-second runs a few seconds apart
//! can see different noise and their p99s differ by more than what is measured. Blocks of
//! half a second, alternating, spread each stretch of noise over every target; and the
//! latencies of all blocks are pooled, so the p99 is over every request, not a median of
//! per-run p99s. Why blocks and not request by request: a target's deferred work (the
//! gateway's log writer runs after its requests) would then land on the other targets'
//! requests; the pause lets it finish inside the target's own turn.
//!
//! What this leaves out, so it is a diagnostic and not the measure of a target: work a
//! target does on its own clock (a timer, a batch window) lands in its own turn only part of
//! the time, and the pause after a turn hides the work its last requests left behind. The
//! gateway's background work therefore delays fewer of its requests here than in a
//! continuous run, and its tail here is its request path's more than its own. `bench/run.py`
//! takes the targets from continuous `wrk` runs and reports this beside them.
//!
//!   turnload --target http://127.0.0.1:8081/v1/chat/completions \
//!            --target 'http://127.0.0.1:8082/ai/chat#nru_key' --body '{...}' [--duration-s 20]
//!
//! A `#…` suffix on a target is its bearer token. Bounded: stops after `--duration-s`.
//!
//! `--connections N` (one target only): N such closed loops at once, each on its own
//! connection, for the whole duration, their latencies pooled: every request timed at
//! concurrency N, where `wrk`'s tails are corrected (below).
//!
//! With one target, `--block-ms` the whole duration and `--pause-ms 0` it is a plain closed
//! loop at concurrency 1 that keeps every request's latency: `bench/run.py` takes the c=1
//! targets from such runs. `wrk` cannot give them: after a run it corrects its latency
//! histogram for coordinated omission (`wrk.c` calls `stats_correct` with the run's mean
//! interval between a connection's requests; every sample of at least twice that interval
//! is added again at itself minus one interval, minus two, and so on down to one interval),
//! so one 10 ms stall at ~85 µs a request adds ~115 samples that no request had, and a
//! closed loop's p99 becomes a question about an open loop at the same rate. Seen in stop 23: the gateway's c=1 mean latency by `wrk` was
//! 130 µs at 11,700 requests a second (85 µs a request), its p99 1.0-2.0 ms; the same
//! gateway's requests, timed one by one, had a p99 of ~165 µs.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use neureus_bench::{arg, num, percentile};
use serde_json::json;

struct Target {
    url: String,
    uri: hyper::Uri,
    host: String,
    auth: Option<String>,
    sender: SendRequest<Full<Bytes>>,
    latencies_us: Vec<f64>,
    block_p99_us: Vec<f64>,
    errors: u64,
}

impl Target {
    async fn connect(spec: &str) -> Result<Self, String> {
        let (url, auth) = match spec.split_once('#') {
            Some((u, a)) => (u.to_owned(), Some(format!("Bearer {a}"))),
            None => (spec.to_owned(), None),
        };
        let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let host = uri
            .authority()
            .map(ToString::to_string)
            .ok_or_else(|| format!("{url}: no host"))?;
        let stream = tokio::net::TcpStream::connect(&host)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("{url}: {e}"))?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        tokio::spawn(conn);
        Ok(Self {
            url,
            uri,
            host,
            auth,
            sender,
            latencies_us: Vec::new(),
            block_p99_us: Vec::new(),
            errors: 0,
        })
    }

    /// One request; its latency in microseconds, or `None` on an error or a non-2xx answer.
    async fn once(&mut self, body: &Bytes) -> Option<f64> {
        let mut rb = Request::post(self.uri.path())
            .header("host", &self.host)
            .header("content-type", "application/json");
        if let Some(a) = &self.auth {
            rb = rb.header("authorization", a);
        }
        let req = rb.body(Full::new(body.clone())).ok()?;
        let t0 = Instant::now();
        self.sender.ready().await.ok()?;
        let resp = self.sender.send_request(req).await.ok()?;
        let ok = resp.status().is_success();
        let whole = resp.into_body().collect().await.ok();
        let us = t0.elapsed().as_secs_f64() * 1e6;
        (ok && whole.is_some()).then_some(us)
    }

    /// `n` requests not counted (connection, caches, allocator), each of which must succeed.
    async fn warm_up(&mut self, body: &Bytes, n: u64) -> Result<(), String> {
        for _ in 0..n {
            if self.once(body).await.is_none() {
                return Err(format!("{}: the warm-up request failed", self.url));
            }
        }
        Ok(())
    }

    /// Requests one after another until `until`; their latencies join the target's.
    async fn block(&mut self, body: &Bytes, until: Instant) {
        let mut block = Vec::new();
        while Instant::now() < until {
            match self.once(body).await {
                Some(us) => block.push(us),
                None => {
                    self.errors += 1;
                    if self.sender.is_closed() {
                        return;
                    }
                }
            }
        }
        block.sort_by(f64::total_cmp);
        if !block.is_empty() {
            self.block_p99_us.push(round1(percentile(&block, 99.0)));
        }
        self.latencies_us.extend(block);
    }
}

/// `n` closed loops on `n` connections to one target for `total`, after `warmup` requests
/// each; one report over all their requests.
async fn concurrent(
    spec: &str,
    n: usize,
    body: Bytes,
    warmup: u64,
    total: Duration,
) -> Result<serde_json::Value, String> {
    let mut loops = Vec::with_capacity(n);
    for _ in 0..n {
        let mut t = Target::connect(spec).await?;
        t.warm_up(&body, warmup).await?;
        loops.push(t);
    }
    let end = Instant::now() + total;
    let tasks: Vec<_> = loops
        .into_iter()
        .map(|mut t| {
            let body = body.clone();
            tokio::spawn(async move {
                t.block(&body, end).await;
                t
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let t = task.await.map_err(|e| format!("a loop failed: {e}"))?;
        all.extend(t.latencies_us);
        errors += t.errors;
    }
    let mut report = summary(&mut all);
    report["url"] = json!(spec.split('#').next().unwrap_or(spec));
    report["errors"] = json!(errors);
    Ok(json!({ "connections": n, "targets": [report] }))
}

/// Requests, p50 / p99 / p99.9 and max in microseconds of `latencies` (sorted here).
fn summary(latencies: &mut [f64]) -> serde_json::Value {
    latencies.sort_by(f64::total_cmp);
    let l = &*latencies;
    json!({
        "requests": l.len(),
        "p50_us": round1(percentile(l, 50.0)),
        "p99_us": round1(percentile(l, 99.0)),
        "p999_us": round1(percentile(l, 99.9)),
        "max_us": round1(l.last().copied().unwrap_or(0.0)),
    })
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn main() -> ExitCode {
    let specs: Vec<String> = std::env::args()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "--target")
        .map(|w| w[1].clone())
        .collect();
    let Some(body) = arg("--body") else {
        eprintln!("--body is required");
        return ExitCode::from(2);
    };
    if specs.is_empty() {
        eprintln!("at least one --target is required");
        return ExitCode::from(2);
    }
    let total = Duration::from_secs(num("--duration-s", 20));
    let block = Duration::from_millis(num("--block-ms", 500).max(1));
    let pause = Duration::from_millis(num("--pause-ms", 100));
    let warmup = num("--warmup", 200);
    let connections = usize::try_from(num("--connections", 1).max(1)).unwrap_or(1);
    if connections > 1 && specs.len() != 1 {
        eprintln!("--connections takes one --target");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = rt.block_on(async move {
        let body = Bytes::from(body);
        if connections > 1 {
            return concurrent(&specs[0], connections, body, warmup, total).await;
        }
        let mut targets = Vec::new();
        for s in &specs {
            targets.push(Target::connect(s).await?);
        }
        for t in &mut targets {
            t.warm_up(&body, warmup).await?;
        }
        let end = Instant::now() + total;
        // Each round of turns starts one target later (A B C, B C A, C A B, ...), so no
        // target always follows the same one.
        let n = targets.len();
        let mut turn = 0usize;
        while Instant::now() < end {
            let t = &mut targets[(turn % n + turn / n) % n];
            t.block(&body, Instant::now() + block).await;
            turn += 1;
            tokio::time::sleep(pause).await;
        }
        let report: Vec<_> = targets
            .iter_mut()
            .map(|t| {
                let mut report = summary(&mut t.latencies_us);
                report["url"] = json!(t.url);
                report["errors"] = json!(t.errors);
                report["blocks"] = json!(t.block_p99_us.len());
                report["block_p99_us"] = json!(t.block_p99_us);
                report
            })
            .collect();
        Ok::<_, String>(json!({
            "block_ms": block.as_millis() as u64,
            "pause_ms": pause.as_millis() as u64,
            "targets": report,
        }))
    });
    match out {
        Ok(v) => {
            let _ = writeln!(std::io::stdout().lock(), "{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("turnload: {e}");
            ExitCode::FAILURE
        }
    }
}
