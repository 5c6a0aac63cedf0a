//! End to end through the real binary: the README's flow. `tenants create --json`, then
//! `serve --demo` on the same data dir, a chat answer and a live stream for one model of
//! each provider, then `keys revoke` from a second process while the gateway runs.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration-test helpers outside #[test] functions may fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_neureus"));
    // Isolate from the developer's environment: no real keys, no stray config.
    for (k, _) in std::env::vars() {
        if k.starts_with("NEUREUS_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neureus-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Creates tenant `acme` in `data_dir` by the CLI; returns its API key and tenant id.
fn create_acme(data_dir: &Path) -> (String, String) {
    let created = run_json(data_dir, &["tenants", "create", "acme", "--json"]);
    let field = |name: &str| created[name].as_str().unwrap().to_owned();
    (field("apiKey"), field("tenantId"))
}

fn run_json(data_dir: &Path, args: &[&str]) -> Value {
    run_json_env(data_dir, &[], args)
}

/// [`run_json`] with environment variables set.
fn run_json_env(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Value {
    let mut cmd = bin();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// The gateway child process; killed (by its PID, which we started) on drop.
struct Server {
    child: Child,
    base: String,
    /// Every stderr line so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo(data_dir: &Path) -> Server {
    try_start(data_dir, &[]).expect("the gateway did not start")
}

/// Starts `serve --demo`; `Err(stderr)` if it exits before listening.
fn try_start(data_dir: &Path, env: &[(&str, &str)]) -> Result<Server, String> {
    let mut cmd = bin();
    cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("neureus listening on ") {
                let _ = tx.send(addr.to_owned());
            }
            sink.lock().unwrap().push(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(base) => Ok(Server { child, base, log }),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            Err(log.lock().unwrap().join("\n"))
        }
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map_while(Result::ok) {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn provider_keys_are_never_stored_or_logged_in_plain_text() {
    let dir = temp_dir("byok");
    let (key, _) = create_acme(&dir);
    let first = "sk-plaintext-canary-AAAA1111";
    let second = "sk-plaintext-canary-BBBB2222";
    let server = try_start(&dir, &[("RUST_LOG", "debug")]).unwrap();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut rb = http
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(&key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send()
    };
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let r = call(
        reqwest::Method::PUT,
        "/ai/providers/openai/key",
        Some(json!({"key": first})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains(first));
    assert_eq!(
        call(reqwest::Method::POST, "/ai/chat", Some(chat.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    let r = call(
        reqwest::Method::POST,
        "/ai/providers/openai/key/rotate",
        Some(json!({"key": second})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        call(reqwest::Method::POST, "/ai/chat", Some(chat.clone()))
            .await
            .unwrap()
            .status(),
        200
    );
    let listing = call(reqwest::Method::GET, "/ai/providers", None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listing.contains("\"last4\":\"2222\"") && !listing.contains(second),
        "{listing}"
    );
    let log = server.log.clone();
    drop(server); // SIGKILL: whatever is on disk (WAL included) stays there to be scanned.

    let all_files = files(&dir);
    assert!(all_files
        .iter()
        .any(|f| f.to_string_lossy().contains("neureus.db")));
    for f in &all_files {
        let bytes = std::fs::read(f).unwrap();
        for secret in [first, second] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} holds a provider key in plain text",
                f.display()
            );
        }
    }
    let text = log.lock().unwrap().join("\n");
    assert!(text.contains("DEBUG"), "the scan must cover debug output");
    assert!(
        !text.contains('\u{1b}'),
        "colour escape codes in output that is not a terminal"
    );
    for secret in [first, second] {
        assert!(
            !text.contains(secret),
            "the server output holds a provider key"
        );
    }

    // Restart on the same data dir: the stored key still opens.
    let server = start_demo(&dir);
    let r = http
        .get(format!("{}/ai/providers", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let openai = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap()
        .clone();
    assert_eq!(
        (openai["source"].as_str(), openai["version"].as_i64()),
        (Some("tenant"), Some(2))
    );
    let r = http
        .post(format!("{}/ai/chat", server.base))
        .bearer_auth(&key)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(server);

    // A wrong master key fails at start, clearly, before serving anything.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let err = try_start(&dir, &[("NEUREUS_MASTER_KEY", wrong)])
        .err()
        .expect("started with a wrong master key");
    assert!(err.contains("master key does not match"), "{err}");
    assert!(!err.contains(wrong));
    let err = try_start(&dir, &[("NEUREUS_MASTER_KEY", "short")])
        .err()
        .expect("started with a malformed master key");
    assert!(err.contains("NEUREUS_MASTER_KEY"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn readme_flow_cli_and_demo_server() {
    let dir = temp_dir("flow");
    let created = run_json(&dir, &["tenants", "create", "acme", "--json"]);
    let key = created["apiKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("nru_"));
    assert!(created["tenantId"].as_str().unwrap().starts_with("ten_"));
    let key_id = created["keyId"].as_str().unwrap().to_owned();
    let second = run_json(
        &dir,
        &[
            "keys",
            "create",
            "--tenant",
            created["tenantId"].as_str().unwrap(),
            "--json",
        ],
    );
    assert_ne!(second["apiKey"], created["apiKey"]);
    let listed = run_json(&dir, &["tenants", "list", "--json"]);
    assert_eq!(listed[0]["name"], "acme");

    let server = start_demo(&dir);
    let demo_key = std::fs::read_to_string(dir.join("demo-api-key"))
        .unwrap()
        .trim()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("demo-api-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let http = reqwest::Client::new();
    for model in ["claude-sonnet-4-6", "gpt-4o-mini", "meta/llama-3.3-70b"] {
        for k in [&key, &demo_key] {
            let resp = http
                .post(format!("{}/ai/chat", server.base))
                .bearer_auth(k)
                .json(&json!({"model": model, "messages": [{"role": "user", "content": "Summarize the GDPR in one paragraph."}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{model}");
            let body: Value = resp.json().await.unwrap();
            assert!(body["content"].as_str().unwrap().contains("GDPR"), "{body}");
        }
        let resp = http
            .post(format!("{}/ai/chat", server.base))
            .bearer_auth(&key)
            .json(&json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "Write a haiku."}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        let chunks: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert!(chunks.len() > 3, "{text}");
        assert_eq!(chunks.last().unwrap()["done"], true);
    }

    // Revoked by the CLI beside the running gateway: refused within 5 seconds.
    let revoked = run_json(&dir, &["keys", "revoke", &key_id, "--json"]);
    assert_eq!(revoked["revoked"], true);
    let started = Instant::now();
    loop {
        let status = http
            .post(format!("{}/ai/chat", server.base))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "revoked key still accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_cli_input_fails_clearly() {
    let dir = temp_dir("bad");
    let out = bin()
        .arg("--data-dir")
        .arg(&dir)
        .args(["keys", "revoke", "key_nothing"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no API key with id key_nothing"));
    let out = bin()
        .arg("--data-dir")
        .arg(&dir)
        .args(["keys", "create", "--tenant", "ten_nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant ten_nope not found"));
    let out = bin()
        .arg("--data-dir")
        .arg(&dir)
        .args(["tenants", "create", "evil\u{1b}[2Jname"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("invalid tenant name must not contain control characters"));
    let out = bin()
        .env("NEUREUS_LISTEN", "not-an-address")
        .args(["serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NEUREUS_LISTEN"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The names of a process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map_while(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect()
}

/// Starts the gateway allowed on one CPU only, as `taskset -c N` would: the child inherits
/// the affinity of the thread that spawns it, which is set for the spawn and put back.
fn start_on_one_cpu(data_dir: &Path, env: &[(&str, &str)]) -> Server {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let all = sched_getaffinity(None).unwrap();
    let first = (0..CpuSet::MAX_CPU).find(|&c| all.is_set(c)).unwrap();
    let mut one = CpuSet::new();
    one.set(first);
    sched_setaffinity(None, &one).unwrap();
    let server = try_start(data_dir, env);
    sched_setaffinity(None, &all).unwrap();
    server.unwrap()
}

#[tokio::test]
async fn sigterm_drains_requests_and_flushes_their_records() {
    drains_and_flushes("sigterm", false).await;
}

/// With one CPU the gateway runs on a current-thread runtime (`main.rs`); the whole
/// request path, streams and the drain on shutdown included, works the same there.
#[tokio::test]
async fn on_one_cpu_the_gateway_runs_without_worker_threads_and_drains_alike() {
    drains_and_flushes("sigterm-one-cpu", true).await;
}

async fn drains_and_flushes(name: &str, one_cpu: bool) {
    let dir = temp_dir(name);
    let (key, _) = create_acme(&dir);
    let env = [("NEUREUS_DEMO_LATENCY_MS", "500")];
    let server = if one_cpu {
        start_on_one_cpu(&dir, &env)
    } else {
        try_start(&dir, &env).unwrap()
    };
    let workers = thread_names(server.child.id())
        .iter()
        .filter(|n| n.starts_with("tokio-r"))
        .count();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if one_cpu {
        assert_eq!(workers, 0, "{:?}", thread_names(server.child.id()));
    } else if cpus > 1 {
        assert!(workers > 0, "{:?}", thread_names(server.child.id()));
    }
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"model": "gpt-4o-mini", "stream": i % 2 == 0, "messages": [{"role": "user", "content": "hi"}]});
            let resp = http.post(format!("{base}/ai/chat")).bearer_auth(key).json(&body).send().await.ok()?;
            let id = resp.headers().get("x-neureus-log-id")?.to_str().ok()?.to_owned();
            let ok = resp.status() == 200;
            resp.text().await.ok()?;
            ok.then_some(id)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut ids = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.unwrap() {
            ids.push(id);
        }
    }
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status:?}");
    assert_eq!(ids.len(), 20, "every in-flight request was answered");
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("neureus stopped"), "{log}");
    let store = neureus_store::SqliteStore::open_file(&dir.join("neureus.db"))
        .await
        .unwrap();
    use neureus_store::Store;
    let tenant = store.list_tenants().await.unwrap()[0].id.clone();
    for id in &ids {
        assert!(
            store.get_log(&tenant, id).await.unwrap().is_some(),
            "no record for answered request {id}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The process's log lines at the default level, through its own field formatter: a failed
/// request's line carries the request span (id, tenant) and the error as `detail`, and what
/// a client sent in it (a message role with a newline and an ESC, which serde's error names
/// as it came) is escaped, so it neither starts a line of its own nor reaches a terminal. A
/// successful chat through a demo provider writes no line.
#[tokio::test]
async fn log_lines_carry_the_request_span_and_escape_what_a_client_sent() {
    let dir = temp_dir("loglines");
    let (key, tenant) = create_acme(&dir);
    let server = try_start(&dir, &[("RUST_LOG", "info")]).unwrap();
    let http = reqwest::Client::new();
    let chat = |role: &str| {
        http.post(format!("{}/ai/chat", server.base))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": role, "content": "hi"}]}))
            .send()
    };
    let ok = chat("user").await.unwrap();
    assert_eq!(ok.status(), 200);
    let bad = chat("us\nINFO forged line\u{1b}[31m").await.unwrap();
    assert_eq!(bad.status(), 400);
    let request_id = bad.headers()["x-request-id"].to_str().unwrap().to_owned();

    let line = first_line_with(&server, "request failed").await;
    assert!(
        line.contains(&format!(
            " INFO request{{request_id={request_id} tenant_id={tenant}}}: "
        )),
        "{line}"
    );
    assert!(
        line.contains(r#"method=POST path="/ai/chat" status=400 kind="invalid_request_error" detail=messages[0].role: unknown variant `us\nINFO forged line\x1b[31m`, expected one of"#),
        "{line}"
    );
    let log = server.log.lock().unwrap();
    assert_eq!(
        log.iter().filter(|l| l.contains("request failed")).count(),
        1,
        "{log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("INFO forged")), "{log:?}");
    assert!(!log.iter().any(|l| l.contains('\u{1b}')), "{log:?}");
    drop(log);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The request span carries the provider and model the request was routed to: a chat whose
/// upstream cannot be reached (OpenAI pointed at a closed port, the other providers at the
/// demo mock) logs its failure with the span's request id, tenant, provider and model.
#[tokio::test]
async fn a_failed_upstream_call_is_logged_with_the_provider_and_model() {
    let dir = temp_dir("spanroute");
    let (key, tenant) = create_acme(&dir);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let server = try_start(
        &dir,
        &[
            ("RUST_LOG", "info"),
            ("NEUREUS_OPENAI_API_KEY", "sk-unreachable"),
            ("NEUREUS_OPENAI_BASE_URL", &base),
        ],
    )
    .unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/ai/chat", server.base))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_server_error(), "{}", resp.status());
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();

    let line = first_line_with(&server, "request failed").await;
    assert!(
        line.contains(&format!(
            "request{{request_id={request_id} tenant_id={tenant} provider=openai model=gpt-4o-mini}}: "
        )),
        "{line}"
    );
    assert!(!line.contains("sk-unreachable"), "{line}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first line of `server`'s log holding `text`, waited for up to 10 s.
async fn first_line_with(server: &Server, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server
            .log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(text))
            .cloned();
        match found {
            Some(line) => return line,
            None if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None => panic!("no {text:?} line: {:?}", server.log.lock().unwrap()),
        }
    }
}

/// A Postgres schema of its own for a test (in the database `NEUREUS_TEST_DATABASE_URL`
/// names), and a database URL that works in it. `None` (said on stderr) without the variable;
/// `.ci/run` sets it.
async fn pg_schema(name: &str) -> Option<(sqlx::PgPool, String, String)> {
    let Ok(base) = std::env::var("NEUREUS_TEST_DATABASE_URL") else {
        eprintln!("NEUREUS_TEST_DATABASE_URL is not set: Postgres replicas not tested");
        return None;
    };
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    let schema = format!("neureus_cli_{name}_{}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some((admin, schema, url))
}

/// Several replicas on one Postgres database, each with a data dir of its own: a tenant
/// made by the CLI works through both, a record written by one is read through the other,
/// a tenant's own provider key stored through one is in use through the other, and a key
/// revoked by the CLI is refused by both within 5 seconds. A replica started with another
/// master key refuses to start; a password in the URL never reaches a message.
#[tokio::test]
async fn replicas_share_one_postgres_database() {
    let Some((admin, schema, url)) = pg_schema("replicas").await else {
        return;
    };
    let dir = temp_dir("replicas");
    let master = "BwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSY=";
    let env = [
        ("NEUREUS_DATABASE_URL", url.as_str()),
        ("NEUREUS_MASTER_KEY", master),
        ("NEUREUS_ADMIN_TOKEN", "nra_test_admin_token"),
    ];
    let created = run_json_env(
        &dir.join("cli"),
        &env,
        &["tenants", "create", "acme", "--json"],
    );
    let key = created["apiKey"].as_str().unwrap().to_owned();
    let key_id = created["keyId"].as_str().unwrap().to_owned();
    assert!(
        !dir.join("cli").join("neureus.db").exists(),
        "the CLI wrote a SQLite file"
    );
    let a = try_start(&dir.join("a"), &env).unwrap();
    let b = try_start(&dir.join("b"), &env).unwrap();
    let http = reqwest::Client::new();
    let chat = |base: &str, stream: bool| {
        http.post(format!("{base}/ai/chat"))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "Summarize the GDPR."}]}))
            .send()
    };
    let resp = chat(&a.base, false).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let log_id = body["logId"].as_str().unwrap().to_owned();
    let resp = chat(&b.base, true).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("\"done\":true"));

    // A's record, read through B once A's writer has flushed it.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let resp = http
            .get(format!("{}/ai/logs/{log_id}", b.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        if resp.status() == 200 {
            let rec: Value = resp.json().await.unwrap();
            assert_eq!(rec["model"], "gpt-4o-mini", "{rec}");
            assert_eq!(rec["status"], 200, "{rec}");
            break;
        }
        assert_eq!(resp.status(), 404);
        assert!(Instant::now() < deadline, "A's record never reached B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The tenant's own OpenAI key, stored through A, is what B reports in use.
    let resp = http
        .put(format!("{}/ai/providers/openai/key", a.base))
        .bearer_auth(&key)
        .json(&json!({"key": "sk-tenant-own-key-9876"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed: Value = http
            .get(format!("{}/ai/providers", b.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let openai = listed["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == "openai")
            .cloned()
            .unwrap();
        if openai["source"] == "tenant" {
            assert_eq!(openai["last4"], "9876", "{openai}");
            break;
        }
        assert!(Instant::now() < deadline, "B never saw the key: {listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sealed: String = sqlx::query_scalar(&format!(
        "SELECT ciphertext FROM {schema}.provider_keys WHERE provider = 'openai'"
    ))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(
        !sealed.contains("sk-tenant-own-key"),
        "stored in plain text"
    );

    // What Postgres cannot store is refused as bad input, or found as nothing: not a 500.
    let resp = http
        .get(format!("{}/ai/logs/log_%00", b.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = http
        .get(format!("{}/ai/logs?model=gpt%00&before=log_%00", a.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .post(format!("{}/admin/tenants", b.base))
        .bearer_auth("nra_test_admin_token")
        .json(&json!({"name": "nul\u{0}name"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Revoked by the CLI: refused by both replicas within 5 seconds.
    let revoked = run_json_env(
        &dir.join("cli"),
        &env,
        &["keys", "revoke", &key_id, "--json"],
    );
    assert_eq!(revoked["revoked"], true);
    let started = Instant::now();
    for server in [&a, &b] {
        loop {
            let status = chat(&server.base, false).await.unwrap().status();
            if status == 401 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "revoked key still accepted by {}",
                server.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Another master key does not fit the database's canary.
    let other = [
        ("NEUREUS_DATABASE_URL", url.as_str()),
        (
            "NEUREUS_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
    ];
    let err = try_start(&dir.join("c"), &other).err().expect("started");
    assert!(err.contains("does not match this database"), "{err}");

    // A password in the URL is not shown when the database cannot be reached.
    let out = bin()
        .env(
            "NEUREUS_DATABASE_URL",
            "postgres://neureus:hunter2-secret@127.0.0.1:1/x",
        )
        .arg("--data-dir")
        .arg(dir.join("d"))
        .args(["tenants", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("postgres://neureus:***@127.0.0.1:1/x"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");

    drop((a, b));
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
