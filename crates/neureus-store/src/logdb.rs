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

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Statement, ToSql};
use tokio::sync::oneshot;

use crate::logs::LogRecord;
use crate::sqlite::{log_values, rollup, usage_values, Bind};
use crate::StoreError;

/// One batch and where its outcome goes.
struct Job {
    records: Arc<[LogRecord]>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle: batches go to the thread, which ends when every handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct LogDb {
    jobs: mpsc::Sender<Job>,
}

impl LogDb {
    /// Opens `path` (created by the pool beside it) with the pool's settings and starts the
    /// thread `thread_name`.
    pub(crate) fn open(
        path: &Path,
        busy_timeout: Duration,
        thread_name: &str,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(busy_timeout)?;
        // WAL is a property of the file (the pool set it); synchronous is per connection.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || run(conn, &rx))
            .map_err(|e| StoreError::Database(format!("cannot start the log writer: {e}")))?;
        Ok(LogDb { jobs })
    }

    /// Writes `records` in one transaction with their hourly usage sums.
    pub(crate) async fn insert(&self, records: Arc<[LogRecord]>) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        self.jobs
            .send(Job { records, done })
            .map_err(|_| StoreError::Database("the log writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::Database("the log writer has stopped".into()))?
    }
}

fn run(conn: Connection, rx: &mpsc::Receiver<Job>) {
    let mut stmts = Statements::default();
    while let Ok(job) = rx.recv() {
        let outcome = insert(&conn, &mut stmts, &job.records);
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
        prepared(&mut self.usage, conn, crate::sqlite::USAGE_UPSERT)
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
    let mut rest = records;
    while !rest.is_empty() {
        let n = crate::sqlite::insert_rows(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let stmt = stmts.insert(conn, n)?;
        let values = chunk.iter().flat_map(log_values);
        for (i, v) in values.enumerate() {
            stmt.raw_bind_parameter(i + 1, v)?;
        }
        stmt.raw_execute()?;
    }
    let usage = stmts.usage(conn)?;
    for (k, v) in rollup(records) {
        usage.execute(usage_values(&k, &v))?;
    }
    Ok(())
}
