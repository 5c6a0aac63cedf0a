//! The request-log writer's own connection to a database file, on a thread of its own.
//!
//! Through rusqlite rather than sqlx because this one path runs for every request: sqlx hands
//! each statement to its connection thread with every argument copied into an owned value,
//! and clears and redoes the bindings. Here the same multi-row INSERTs, prepared once for
//! the thread's life, are bound straight from the records, one transaction per batch, on
//! the thread that owns the connection; the batch is shared with the caller, not copied.
//! Measured with `bench/instructions.py`: 3.1% fewer instructions per request.
//!
//! What is left of the binding cost (~6k instructions per record) is SQLite copying every
//! text value (rusqlite binds with `SQLITE_TRANSIENT`); binding with `SQLITE_STATIC` would
//! need `unsafe` calls into the C API, which this workspace forbids.
//!
//! Databases in memory have no file to open a second connection on; [`crate::sqlite`] writes
//! their records through its pool instead.
//!
//! Two writer threads, each with its connection and statements: one at the request threads'
//! priority, one [`BACKGROUND_NICE`] nice levels below it for batches that are not urgent
//! (the caller says which; the gateway's writer sends a batch there unless the writer is
//! behind: a full batch or more waiting, or a flush asked for). On a busy
//! core the scheduler gives a woken request thread the CPU before a background batch, where
//! with equal priority a request that arrived while a batch was being written waited behind
//! it. Measured at concurrency 1 on one core (BENCHMARKS.md): the gateway's own p99
//! ~1,000-1,300 µs with one writer at normal priority, ~150-200 µs with the batch niced. A
//! writer that is only ever niced starves under load (nice 19 for every batch was tried in
//! stops 10-11: requests waited in bursts on a full queue); here a backlog goes to the
//! normal thread, and at nice 10 the background thread still gets ~10% of a contended core,
//! so its batch finishes while the queue has room.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Statement, ToSql};
use tokio::sync::oneshot;

use crate::checkpoint::{self, Checkpoints};
use crate::logs::LogRecord;
use crate::portable::{log_values, rollup, usage_values, Bind};
use crate::sqlite::{insert_chunks, insert_order};
use crate::StoreError;

/// One batch and where its outcome goes.
struct Job {
    records: Arc<[LogRecord]>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// How many nice levels below the request threads the background writer runs (at most 19).
pub(crate) const BACKGROUND_NICE: i32 = 10;

/// The handle: batches go to the writer threads, which end when every handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct LogDb {
    jobs: mpsc::Sender<Job>,
    background: mpsc::Sender<Job>,
}

impl LogDb {
    /// Opens two connections to `path` (created by the pool beside it) with the pool's
    /// settings and starts the writer threads `thread_name` and `background_name`.
    /// The writers' WAL checkpoints run on a third connection, `checkpoint_name`, also
    /// [`BACKGROUND_NICE`] levels below (see [`crate::checkpoint`]).
    pub(crate) fn open(
        path: &Path,
        busy_timeout: Duration,
        thread_name: &str,
        background_name: &str,
        checkpoint_name: &str,
    ) -> Result<Self, StoreError> {
        let ckpt = checkpointer(path, busy_timeout, checkpoint_name)?;
        Ok(LogDb {
            jobs: spawn(path, busy_timeout, thread_name, None, ckpt.clone())?,
            background: spawn(
                path,
                busy_timeout,
                background_name,
                Some(BACKGROUND_NICE),
                ckpt,
            )?,
        })
    }

    /// Writes `records` in one transaction with their hourly usage sums, on the background
    /// thread if `background`.
    pub(crate) async fn insert(
        &self,
        records: Arc<[LogRecord]>,
        background: bool,
    ) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        let jobs = if background {
            &self.background
        } else {
            &self.jobs
        };
        jobs.send(Job { records, done })
            .map_err(|_| StoreError::Database("the log writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::Database("the log writer has stopped".into()))?
    }
}

#[cfg(test)]
impl LogDb {
    /// A handle with only one of the two writers running (the background one if
    /// `background`); batches for the other fail as a stopped writer's do. For tests that a
    /// batch reaches the writer it was meant for.
    pub(crate) fn with_one_writer(
        path: &Path,
        busy_timeout: Duration,
        background: bool,
    ) -> Result<Self, StoreError> {
        let ckpt = checkpointer(path, busy_timeout, "nru-test-ckpt")?;
        let running = spawn(path, busy_timeout, "nru-test-one", None, ckpt)?;
        let stopped = mpsc::channel::<Job>().0;
        Ok(if background {
            LogDb {
                jobs: stopped,
                background: running,
            }
        } else {
            LogDb {
                jobs: running,
                background: stopped,
            }
        })
    }
}

/// The writers' checkpointer: thread `name`, at the background writer's priority, with
/// [`checkpoint::POLICY`].
fn checkpointer(
    path: &Path,
    busy_timeout: Duration,
    name: &str,
) -> Result<Checkpoints, StoreError> {
    checkpoint::start(
        path,
        busy_timeout,
        name,
        BACKGROUND_NICE,
        checkpoint::POLICY,
    )
}

/// Opens a connection and starts a writer thread on it, at `nice` if given.
fn spawn(
    path: &Path,
    busy_timeout: Duration,
    name: &str,
    nice: Option<i32>,
    ckpt: Checkpoints,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // WAL is a property of the file (the pool set it); synchronous is per connection.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    checkpoint::hand_over(&conn)?;
    let (jobs, rx) = mpsc::channel::<Job>();
    // Returns once the thread runs under its name and at its priority (a new thread takes
    // both when it first runs, which on a busy machine can be well after `spawn`), so that
    // what `ps -L` shows after startup is what the writers are.
    let (ready, started) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Some(nice) = nice {
                lower_priority(nice);
            }
            let _ = ready.send(());
            run(conn, &rx, &ckpt);
        })
        .map_err(|e| StoreError::Database(format!("cannot start the log writer: {e}")))?;
    started
        .recv()
        .map_err(|_| StoreError::Database("the log writer ended as it started".into()))?;
    Ok(jobs)
}

/// Lowers the calling thread's priority by `by` nice levels (to at most 19). Linux keeps a
/// nice value per thread, so `setpriority(PRIO_PROCESS, 0)` changes only this one; elsewhere
/// it would change the whole process, so there the thread keeps its priority. Relative to
/// the thread's own value (inherited from the one that started it) so that a gateway run at
/// a nice value of its own still gets a lower one here. A refusal (a sandbox, say) leaves the
/// thread at normal priority: slower tails at light load, nothing lost.
pub(crate) fn lower_priority(by: i32) {
    #[cfg(target_os = "linux")]
    {
        let target = rustix::process::getpriority_process(None).map(|now| (now + by).min(19));
        if let Err(e) = target.and_then(|n| rustix::process::setpriority_process(None, n)) {
            tracing::warn!(error = %e, by, "cannot lower the background log writer's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = by;
}

fn run(conn: Connection, rx: &mpsc::Receiver<Job>, ckpt: &Checkpoints) {
    let mut stmts = Statements::default();
    while let Ok(job) = rx.recv() {
        ckpt.before_batch(&conn);
        let outcome = insert(&conn, &mut stmts, &job.records);
        if outcome.is_ok() {
            ckpt.committed(job.records.len() as u64);
        }
        // The caller may have given up waiting (shutdown); the batch's outcome stands.
        let _ = job.done.send(outcome);
    }
}

/// The statements, prepared on first use and kept for the thread's life. Not rusqlite's
/// statement cache: it clears every binding (freeing each text copy) whenever a statement
/// goes back to it, where the next use binds every parameter anew anyway.
#[derive(Default)]
struct Statements<'c> {
    /// By size: `inserts[k]` holds 2^k rows.
    inserts: Vec<Option<Statement<'c>>>,
    usage: Option<Statement<'c>>,
}

impl<'c> Statements<'c> {
    fn insert(
        &mut self,
        conn: &'c Connection,
        rows: usize,
    ) -> rusqlite::Result<&mut Statement<'c>> {
        let k = rows.ilog2() as usize;
        if self.inserts.len() <= k {
            self.inserts.resize_with(k + 1, || None);
        }
        prepared(
            &mut self.inserts[k],
            conn,
            crate::sqlite::log_insert_sql(rows),
        )
    }

    fn usage(&mut self, conn: &'c Connection) -> rusqlite::Result<&mut Statement<'c>> {
        prepared(&mut self.usage, conn, crate::portable::USAGE_UPSERT)
    }
}

fn prepared<'s, 'c>(
    slot: &'s mut Option<Statement<'c>>,
    conn: &'c Connection,
    sql: &str,
) -> rusqlite::Result<&'s mut Statement<'c>> {
    let stmt = match slot.take() {
        Some(stmt) => stmt,
        None => conn.prepare(sql)?,
    };
    Ok(slot.insert(stmt))
}

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Bind::Text(t) => t.to_sql(),
            Bind::Int(n) => n.to_sql(),
        }
    }
}

/// Writes one batch in one transaction, or nothing of it.
fn insert<'c>(
    conn: &'c Connection,
    stmts: &mut Statements<'c>,
    records: &[LogRecord],
) -> Result<(), StoreError> {
    // IMMEDIATE: take the write lock at BEGIN, so a busy database is waited for there (the
    // busy timeout) rather than failing the first INSERT of a deferred transaction. Plain
    // statements rather than rusqlite's `Transaction`, which would borrow the connection
    // mutably while the kept statements borrow it.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match write(conn, stmts, records).and_then(|()| conn.execute_batch("COMMIT")) {
        Ok(()) => Ok(()),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(e.into())
        }
    }
}

fn write<'c>(
    conn: &'c Connection,
    stmts: &mut Statements<'c>,
    records: &[LogRecord],
) -> rusqlite::Result<()> {
    // The pool's multi-row statements, in the same power-of-two sizes: a single-row INSERT
    // stepped per record opened the table's and its seven indexes' cursors anew for each,
    // and cost SQLite half as much again per record (callgrind).
    let order = insert_order(records);
    for chunk in insert_chunks(&order) {
        let stmt = stmts.insert(conn, chunk.len())?;
        let values = chunk.iter().flat_map(|r| log_values(r));
        for (i, v) in values.enumerate() {
            stmt.raw_bind_parameter(i + 1, v)?;
        }
        stmt.raw_execute()?;
        // Give the core to a request thread woken while this chunk was written (its
        // upstream's answer came in, say), if there is one; otherwise this returns at once.
        // Without it the scheduler (EEVDF, Linux 6.6 on) lets a writer that has just woken
        // run out its slice: on a core shared with the request threads a batch of 500
        // records held them for up to ~5 ms (`perf sched timehist`), which was the gateway's
        // p99 at concurrency 1. With it a request waits for one chunk of 32 rows (or the
        // usage rollup and the COMMIT after the last one), not the whole batch
        // (BENCHMARKS.md, stop 19). Costs one syscall a chunk.
        std::thread::yield_now();
    }
    let usage = stmts.usage(conn)?;
    for (k, v) in rollup(records) {
        usage.execute(usage_values(&k, &v))?;
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
pub(crate) mod tests {
    use super::*;

    /// The nice value in a `/proc/.../stat` line: field 19, counting `(comm)` as field 2.
    fn nice_in(stat: &str) -> Option<i32> {
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(16)?.parse().ok()
    }

    /// This process's threads named `name` (their `/proc/self/task/<tid>` directories).
    pub(crate) fn tasks_named(name: &str) -> Vec<std::path::PathBuf> {
        std::fs::read_dir("/proc/self/task")
            .map(|dir| {
                dir.flatten()
                    .map(|t| t.path())
                    .filter(|t| {
                        std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.trim_end() == name)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The nice value of this process's thread named `name`, once it has one (threads set
    /// their own when they start).
    fn nice_of(name: &str) -> Option<i32> {
        tasks_named(name)
            .iter()
            .find_map(|t| nice_in(&std::fs::read_to_string(t.join("stat")).ok()?))
    }

    #[test]
    fn the_background_writer_runs_niced_and_the_other_does_not() {
        let dir = std::env::temp_dir().join(format!("neureus-logbg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.db");
        // The threads start at this thread's value.
        let base = nice_in(&std::fs::read_to_string("/proc/thread-self/stat").unwrap()).unwrap();
        let ckpt = checkpointer(&path, Duration::from_secs(1), "nru-test-ck").unwrap();
        let normal = spawn(
            &path,
            Duration::from_secs(1),
            "nru-test-fg",
            None,
            ckpt.clone(),
        )
        .unwrap();
        let background = spawn(
            &path,
            Duration::from_secs(1),
            "nru-test-bg",
            Some(BACKGROUND_NICE),
            ckpt,
        )
        .unwrap();
        // `spawn` returns once each thread has its name and nice value.
        let want = (base + BACKGROUND_NICE).min(19);
        assert_eq!(nice_of("nru-test-bg"), Some(want));
        assert_eq!(nice_of("nru-test-fg"), Some(base));
        drop((normal, background));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
