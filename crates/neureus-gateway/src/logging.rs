//! Request logs that never block the hot path and never silently lose a record.
//!
//! Handlers hand a finished [`LogRecord`] to [`LogWriter::submit`], which puts it on a
//! bounded queue (no database work on the request path). One background task drains the
//! queue in batches (one transaction per batch), retrying a failed batch before counting it
//! as failed. When the queue is full a request waits briefly for room rather than lose its
//! record; what still cannot be queued is counted as dropped and reported (logs, `/admin/stats`).
//! Shutdown flushes the queue after in-flight requests have finished.
//!
//! Every request that reached the gateway with a valid key gets a [`Pending`] record; it is
//! submitted on every exit path, including a handler dropped because the client went away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neureus_store::logs::LogRecord;
use neureus_store::Store;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::auth::Tenant;
use crate::error::ApiError;

/// How long a request waits for room in a full queue before its record counts as dropped.
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(250);

/// Writer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// Queue capacity (records).
    pub queue_capacity: usize,
    /// Records per insert transaction, at most.
    pub batch_size: usize,
    /// Store request and response bodies for every tenant.
    pub store_bodies: bool,
    /// Cap on each stored body, bytes.
    pub body_cap_bytes: usize,
    /// Delete records older than this many days (0: keep forever).
    pub retention_days: u32,
    /// How long the writer waits for a batch to fill before writing what it has. Larger
    /// batches cost far less per record (one transaction, one statement); a flush request
    /// writes at once.
    pub linger: Duration,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            queue_capacity: 10_000,
            batch_size: 500,
            store_bodies: false,
            body_cap_bytes: 64 * 1024,
            retention_days: 30,
            linger: Duration::from_millis(50),
        }
    }
}

/// Counters, reported by `/admin/stats`.
#[derive(Debug, Default)]
pub struct LogCounters {
    /// Records written.
    pub written: AtomicU64,
    /// Records that could not be queued (queue full past the wait, or after shutdown).
    pub dropped: AtomicU64,
    /// Records whose batch failed every retry.
    pub failed: AtomicU64,
    /// Batches written.
    pub batches: AtomicU64,
}

/// A snapshot of [`LogCounters`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogCountersView {
    /// Records written.
    pub written: u64,
    /// Records dropped.
    pub dropped: u64,
    /// Records failed.
    pub failed: u64,
    /// Batches.
    pub batches: u64,
    /// Records waiting in the queue.
    pub queued: u64,
}

enum Msg {
    Record(Box<LogRecord>),
    Flush(oneshot::Sender<()>),
}

/// The queue and its writer task.
pub struct LogWriter {
    tx: mpsc::Sender<Msg>,
    counters: Arc<LogCounters>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    settings: LogSettings,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl LogWriter {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn start(store: Arc<dyn Store>, settings: LogSettings) -> Self {
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let counters = Arc::new(LogCounters::default());
        let task = tokio::spawn(run(
            store,
            rx,
            counters.clone(),
            settings.batch_size.max(1),
            settings.linger,
        ));
        LogWriter {
            tx,
            counters,
            task: Mutex::new(Some(task)),
            settings,
        }
    }

    /// The settings.
    pub fn settings(&self) -> LogSettings {
        self.settings
    }

    /// Queues a record; waits briefly when the queue is full.
    pub async fn submit(&self, rec: LogRecord) {
        match self.tx.try_send(Msg::Record(Box::new(rec))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                if tokio::time::timeout(FULL_QUEUE_WAIT, self.tx.send(msg))
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    self.dropped(1);
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.dropped(1),
        }
    }

    /// Queues a record without waiting (from `Drop`, where nothing can be awaited).
    pub fn submit_now(&self, rec: LogRecord) {
        if self.tx.try_send(Msg::Record(Box::new(rec))).is_err() {
            self.dropped(1);
        }
    }

    fn dropped(&self, n: u64) {
        let total = self.counters.dropped.fetch_add(n, Ordering::Relaxed) + n;
        tracing::error!(
            dropped_total = total,
            "request log record dropped: the log queue is full or closed"
        );
    }

    /// Waits until everything queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Flushes and stops the writer. Records submitted afterwards count as dropped.
    pub async fn shutdown(&self) {
        self.flush().await;
        if let Some(task) = self.task.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
        let c = self.counters();
        tracing::info!(
            written = c.written,
            dropped = c.dropped,
            failed = c.failed,
            "request logs flushed"
        );
    }

    /// Current counters.
    pub fn counters(&self) -> LogCountersView {
        LogCountersView {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
            queued: (self.tx.max_capacity() - self.tx.capacity()) as u64,
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Msg>,
    counters: Arc<LogCounters>,
    batch: usize,
    linger: Duration,
) {
    let mut msgs = Vec::with_capacity(batch);
    let mut records = Vec::with_capacity(batch);
    let mut flushes = Vec::new();
    loop {
        if rx.recv_many(&mut msgs, batch).await == 0 {
            return;
        }
        // One timer for the whole window rather than a new one for each arrival.
        let window = tokio::time::sleep(linger);
        tokio::pin!(window);
        loop {
            for m in msgs.drain(..) {
                match m {
                    Msg::Record(r) => records.push(*r),
                    Msg::Flush(tx) => flushes.push(tx),
                }
            }
            // Fill the batch until it is full, someone waits for a flush, or time is up.
            if records.len() >= batch || !flushes.is_empty() {
                break;
            }
            let room = batch - records.len();
            tokio::select! {
                n = rx.recv_many(&mut msgs, room) => {
                    if n == 0 {
                        break;
                    }
                }
                () = &mut window => break,
            }
        }
        if !records.is_empty() {
            let background = background(rx.len(), batch, !flushes.is_empty());
            // Shared with the store (its writer may run on a thread of its own), not copied;
            // `drain` keeps this buffer's capacity for the next batch.
            let batch: Arc<[LogRecord]> = records.drain(..).collect();
            write_batch(store.as_ref(), batch, &counters, background).await;
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
}

/// Whether a batch may be written at low priority ([`Store::insert_logs_background`]):
/// when fewer than a full batch of records wait behind it and nobody waits for a flush, so a
/// request arriving while the batch is written gets the CPU first. A backlog means the writer
/// is behind: those batches go at normal priority, as every batch did before, so the queue
/// does not fill (a writer always at low priority did, under load) and saturated throughput
/// is as it was.
///
/// A batch that filled its window is not a backlog by itself (until stop 23 it went at normal
/// priority too): at ~11,000 requests a second on one core, 550 records arrive in a 50 ms
/// window, and each such batch, written at the requests' priority, held woken request
/// threads behind it. Measured (BENCHMARKS.md, stop 23), this rule against the one before,
/// builds taking turns: at c=1, every request timed, four rounds, p99 135-160 µs against
/// 174-207, p99.9 284-477 µs against 463-1,264; at c=64 (the queue full, so every batch at
/// normal priority either way) 26,593 against 25,515 req/s over six rounds; at c=4 22,919
/// against 23,073 over four.
fn background(queued: usize, batch: usize, flush_waiting: bool) -> bool {
    !flush_waiting && queued < batch
}

async fn write_batch(
    store: &dyn Store,
    records: Arc<[LogRecord]>,
    counters: &LogCounters,
    background: bool,
) {
    let n = records.len() as u64;
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=4 {
        let written = if background {
            store.insert_logs_background(records.clone()).await
        } else {
            store.insert_logs(records.clone()).await
        };
        match written {
            Ok(()) => {
                counters.written.fetch_add(n, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) if attempt < 4 => {
                tracing::warn!(error = %e, attempt, records = n, "log batch failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            Err(e) => {
                let total = counters.failed.fetch_add(n, Ordering::Relaxed) + n;
                tracing::error!(error = %e, records = n, failed_total = total, "log batch could not be written");
            }
        }
    }
}

/// A record being filled in while a request runs. Submitted by [`Pending::finish`], or by
/// `Drop` if the request is abandoned.
pub struct Pending {
    /// The record.
    pub rec: LogRecord,
    started: Instant,
    writer: Arc<LogWriter>,
    /// Body cap when bodies are stored for this request.
    pub bodies: Option<usize>,
    done: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("id", &self.rec.id)
            .finish_non_exhaustive()
    }
}

/// Caps a body to `cap` bytes on a character boundary.
pub fn cap_body(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_owned();
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated {} bytes]", &text[..end], text.len() - end)
}

impl Pending {
    /// Starts a record for an authenticated request.
    pub fn new(
        writer: Arc<LogWriter>,
        tenant: &Tenant,
        endpoint: &str,
        bodies: Option<usize>,
    ) -> Self {
        Pending {
            rec: LogRecord {
                id: neureus_store::new_id("log"),
                tenant_id: tenant.tenant_id.clone(),
                api_key_id: tenant.key_id.clone(),
                created_at_ms: neureus_store::now_ms(),
                endpoint: endpoint.to_owned(),
                status: 200,
                ..LogRecord::default()
            },
            started: Instant::now(),
            writer,
            bodies,
            done: false,
        }
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Records a failure.
    pub fn fail(&mut self, e: &ApiError) {
        self.rec.status = e.kind.parts().0.as_u16();
        self.rec.error_type = Some(e.kind.as_str().to_owned());
        self.rec.error_message = Some(e.message.clone());
    }

    /// Stores a body if body logging is on for this request.
    pub fn body(&self, text: &str) -> Option<String> {
        self.bodies.map(|cap| cap_body(text, cap))
    }

    fn stamp(&mut self) {
        self.rec.latency_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.done = true;
    }

    /// Submits the record.
    pub async fn finish(mut self) {
        self.stamp();
        let rec = std::mem::take(&mut self.rec);
        self.writer.submit(rec).await;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.stamp();
        if self.rec.error_type.is_none() {
            self.rec.error_type = Some("client_disconnected".into());
            self.rec.error_message =
                Some("the client went away before the answer was complete".into());
        }
        let rec = std::mem::take(&mut self.rec);
        self.writer.submit_now(rec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neureus_store::SqliteStore;

    /// A migrated in-memory store and a writer on it.
    async fn writer(settings: LogSettings) -> (Arc<SqliteStore>, Arc<LogWriter>) {
        let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
        store.migrate().await.unwrap();
        let w = Arc::new(LogWriter::start(store.clone(), settings));
        (store, w)
    }

    fn tenant() -> Tenant {
        Tenant {
            tenant_id: "t".into(),
            key_id: "key_k".into(),
        }
    }

    /// A batch goes to the background writer unless a full batch or more waits behind it
    /// (a backlog) or someone waits for a flush; a batch that filled is not a backlog.
    #[test]
    fn batches_go_to_the_background_writer_unless_the_writer_is_behind() {
        assert!(background(0, 500, false));
        assert!(background(499, 500, false));
        assert!(!background(500, 500, false), "a backlog");
        assert!(!background(9_000, 500, false), "a backlog");
        assert!(!background(0, 500, true), "a flush waits");
        assert!(background(0, 1, false), "batches of one, none behind");
        assert!(!background(1, 1, false), "batches of one, one behind");
    }

    /// Records that arrive within the linger window go out as one batch, without a flush.
    #[tokio::test]
    async fn records_within_the_linger_window_share_one_batch() {
        let (_store, w) = writer(LogSettings {
            // Long enough that a slow CI machine still submits all 25 inside it.
            linger: Duration::from_secs(1),
            ..LogSettings::default()
        })
        .await;
        let tenant = tenant();
        for _ in 0..25 {
            Pending::new(w.clone(), &tenant, "/ai/chat", None)
                .finish()
                .await;
        }
        // Nothing is written before the window closes, everything is after it.
        assert_eq!(w.counters().written, 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while w.counters().written < 25 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let c = w.counters();
        assert_eq!((c.written, c.batches), (25, 1));
    }

    #[tokio::test]
    async fn counts_written_and_dropped_and_flushes_on_shutdown() {
        let (store, w) = writer(LogSettings {
            queue_capacity: 64,
            batch_size: 10,
            ..LogSettings::default()
        })
        .await;
        let tenant = tenant();
        for _ in 0..200 {
            let p = Pending::new(w.clone(), &tenant, "/ai/chat", None);
            p.finish().await;
        }
        // Dropped without finish: still recorded, as a disconnect.
        drop(Pending::new(w.clone(), &tenant, "/ai/chat", None));
        w.shutdown().await;
        let c = w.counters();
        assert_eq!((c.written, c.dropped, c.failed), (201, 0, 0));
        assert!(c.batches >= 20, "batched: {} batches", c.batches);
        // After shutdown nothing is silently lost: it is counted.
        Pending::new(w.clone(), &tenant, "/ai/chat", None)
            .finish()
            .await;
        assert_eq!(w.counters().dropped, 1);
        let (total, _) = store
            .usage("t", 0, i64::MAX, neureus_store::logs::GroupBy::Model)
            .await
            .unwrap();
        assert_eq!((total.requests, total.errors), (201, 0));
    }

    #[tokio::test]
    async fn a_failing_store_is_counted_not_hidden() {
        // No migration: every insert fails (four attempts, about one second of backoff).
        let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
        let w = LogWriter::start(store, LogSettings::default());
        w.submit(LogRecord::default()).await;
        let flushed = tokio::spawn(async move {
            w.flush().await;
            w.counters()
        });
        let c = flushed.await.unwrap();
        assert_eq!((c.written, c.failed), (0, 1));
    }

    #[test]
    fn bodies_are_capped_on_char_boundaries() {
        assert_eq!(cap_body("héllo", 10), "héllo");
        let capped = cap_body("ééééé", 3);
        assert!(capped.starts_with('é') && capped.contains("truncated"));
    }
}
