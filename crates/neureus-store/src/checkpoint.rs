//! WAL checkpoints for the request-log writers, on a connection and thread of their own.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT of whichever connection takes the WAL
//! past 1,000 pages: for the log writers, two `fsync`s of ~16 ms each here, about every 0.33 s
//! at saturation (BENCHMARKS.md, stop 23). The batch is not done until they are, so the
//! gateway's log queue (full at saturation) does not drain, requests wait for room, and the
//! core sits idle; about one request in a thousand waited ~50 ms. Here the writers' own
//! connections never checkpoint (`wal_autocheckpoint = 0`); they count what they commit and
//! wake this thread, which checkpoints (PASSIVE) beside them while they go on writing.
//!
//! A checkpoint running beside writers copies the frames that were in the WAL when it began;
//! by the time it ends the writers have added more, and the WAL file only starts over from its
//! beginning when a writer begins with every frame copied. Under constant writes that never
//! happens by itself and the WAL would grow without bound. So when a pass leaves the WAL
//! longer than [`Policy::wal_frames`], the next writer to begin a batch first checkpoints the
//! rest itself (the frames written during that pass), and its batch starts the WAL over. That
//! holds one batch for two `fsync`s, as SQLite's own checkpoint did every time, but once in
//! five or six passes here, 64-72 ms each (c=64). Tried first: the checkpointer copying the
//! rest with the writers held at a gate. At its background priority that hold took 45-172
//! ms, depending on how much of the core the request thread left it; a writer at the
//! requests' priority takes about the same each time.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::StoreError;

/// When to checkpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// After this many records committed since the last pass (~1,200 pages of 16 KiB for
    /// gateway records without bodies: about SQLite's own 1,000-page cadence).
    pub records: u64,
    /// Or this long after the last pass, if anything was committed since (light traffic).
    pub every: Duration,
    /// A pass that leaves the WAL longer than this (pages) asks the next writer to copy the
    /// rest (64 MiB at 16 KiB pages, 16 at 4 KiB). That holds a batch for two `fsync`s, as
    /// SQLite's own checkpoint did at every one; the longer the WAL may grow, the rarer it is
    /// (one pass in five or six at saturation here).
    pub wal_frames: i64,
}

pub(crate) const POLICY: Policy = Policy {
    records: 10_000,
    every: Duration::from_secs(10),
    wal_frames: 4_000,
};

/// The writers' side: the count that wakes the checkpointer, and its request to copy the
/// rest. Dropping the last clone ends the checkpointer (after a last pass).
#[derive(Debug, Clone)]
pub(crate) struct Checkpoints {
    shared: Arc<Shared>,
    wake: mpsc::SyncSender<()>,
    records: u64,
}

#[derive(Debug, Default)]
struct Shared {
    /// Records committed since the checkpointer last looked.
    written: AtomicU64,
    /// Set when a pass left the WAL long: the next writer copies the rest before its batch.
    catch_up: AtomicBool,
}

impl Checkpoints {
    /// Called by a writer before it begins a batch on `conn`: if the checkpointer asked,
    /// copies what is left of the WAL, so that the batch starts it over.
    pub(crate) fn before_batch(&self, conn: &Connection) {
        if self.shared.catch_up.swap(false, Ordering::Relaxed) {
            let started = Instant::now();
            match checkpoint(conn) {
                Ok((pages, copied)) => {
                    tracing::debug!(
                        pages,
                        copied,
                        took = ?started.elapsed(),
                        "WAL checkpoint by a writer, the WAL to start over"
                    );
                    // Not all of it (the checkpointer's pass was running, or a reader holds
                    // an older snapshot): the next batch tries again.
                    if pages < 0 || copied < pages {
                        self.shared.catch_up.store(true, Ordering::Relaxed);
                    }
                }
                // The batch goes on; the checkpointer asks again after its next pass.
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    }

    /// Counts `records` committed, and wakes the checkpointer once there are enough.
    pub(crate) fn committed(&self, records: u64) {
        let now = self.shared.written.fetch_add(records, Ordering::Relaxed) + records;
        if now >= self.records {
            // Full: a wake is already pending, which is all this would add.
            let _ = self.wake.try_send(());
        }
    }
}

/// Prepares a writer's connection: checkpoints are the checkpointer's.
pub(crate) fn hand_over(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
}

/// Starts the checkpointer on its own connection to `path`, `nice` levels below the caller.
pub(crate) fn start(
    path: &Path,
    busy_timeout: Duration,
    name: &str,
    nice: i32,
    policy: Policy,
) -> Result<Checkpoints, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let shared = Arc::new(Shared::default());
    let (wake, woken) = mpsc::sync_channel(1);
    let theirs = Arc::clone(&shared);
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            crate::logdb::lower_priority(nice);
            run(&conn, &theirs, &woken, policy);
        })
        .map_err(|e| StoreError::Database(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok(Checkpoints {
        shared,
        wake,
        records: policy.records,
    })
}

fn run(conn: &Connection, shared: &Shared, woken: &mpsc::Receiver<()>, policy: Policy) {
    loop {
        let last = match woken.recv_timeout(policy.every) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if shared.written.swap(0, Ordering::Relaxed) > 0 {
            if let Err(e) = pass(conn, &shared.catch_up, policy.wal_frames) {
                // The writers go on; the next pass copies what this one did not.
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
        if last {
            return;
        }
    }
}

/// One checkpoint beside the writers; if it left the WAL longer than `wal_frames`, asks the
/// next writer to copy the rest (`catch_up`). Returns the WAL's length in pages and how many of
/// them are copied.
fn pass(conn: &Connection, catch_up: &AtomicBool, wal_frames: i64) -> rusqlite::Result<(i64, i64)> {
    let started = Instant::now();
    let (pages, copied) = checkpoint(conn)?;
    tracing::debug!(pages, copied, took = ?started.elapsed(), "WAL checkpoint");
    if pages > wal_frames {
        catch_up.store(true, Ordering::Relaxed);
    }
    Ok((pages, copied))
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: (pages in the WAL, pages copied to the database). While
/// another connection's checkpoint runs, this one copies nothing and says so: (-1, -1).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (std::path::PathBuf, Connection) {
        let dir = std::env::temp_dir().join(format!("neureus-ckpt-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        hand_over(&conn).unwrap();
        conn.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (path, conn)
    }

    fn write(conn: &Connection, rows: usize) {
        conn.execute_batch("BEGIN").unwrap();
        for _ in 0..rows {
            conn.execute("INSERT INTO t VALUES (zeroblob(3000))", [])
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }

    /// The database file's length: pages reach it only through a checkpoint (a write puts
    /// them in the WAL). Read without checkpointing, as asking SQLite for the WAL's length
    /// would.
    fn db_bytes(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn a_writer_handed_over_never_checkpoints() {
        let (path, conn) = db();
        // SQLite's own checkpoint would have run at 1,000 pages (4 MB here).
        for _ in 0..30 {
            write(&conn, 100);
        }
        let bytes = db_bytes(&path);
        assert!(bytes < 100_000, "pages were checkpointed: {bytes} bytes");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Under constant writes a pass beside the writer cannot copy the frames added while it
    /// runs, so without the writer's catch-up the WAL never starts over and keeps every page.
    fn longest_wal_under_constant_writes(wal_frames: i64) -> (i64, i64) {
        let (path, writer) = db();
        let checkpointer = Connection::open(&path).unwrap();
        let shared = Arc::new(Shared::default());
        let ckpt = Checkpoints {
            shared: Arc::clone(&shared),
            wake: mpsc::sync_channel(1).0,
            records: u64::MAX,
        };
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        let writes = std::thread::spawn(move || {
            for _ in 0..300 {
                ckpt.before_batch(&writer);
                write(&writer, 10);
            }
            finished.store(true, Ordering::Relaxed);
        });
        let mut longest = 0;
        while !done.load(Ordering::Relaxed) {
            let (pages, _) = pass(&checkpointer, &shared.catch_up, wal_frames).unwrap();
            longest = longest.max(pages);
            // Passes one after another, as under load (one every ~0.5 s there, ~60 ms each).
            std::thread::sleep(Duration::from_millis(2));
        }
        writes.join().unwrap();
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
        // Each batch writes about 10 pages of 4 KiB; all of them together:
        (longest, 300 * 10)
    }

    #[test]
    fn under_constant_writes_the_wal_starts_over() {
        let (longest, written) = longest_wal_under_constant_writes(100);
        assert!(
            longest < written / 5,
            "the WAL reached {longest} pages of {written}"
        );
        // What the writer's catch-up is for: with passes beside the writer only, the WAL kept
        // every page (3,681 of an estimated 3,000 when this was written).
        let (without, _) = longest_wal_under_constant_writes(i64::MAX);
        assert!(without > written / 2, "{without} of {written}");
        eprintln!("the longest WAL: {longest} pages, {without} without the catch-up");
    }

    #[test]
    fn enough_records_wake_the_checkpointer_and_its_pass_copies_the_wal_into_the_database() {
        let (path, writer) = db();
        let policy = Policy {
            records: 500,
            every: Duration::from_secs(3_600),
            wal_frames: 100,
        };
        let ckpt = start(&path, Duration::from_secs(5), "nru-test-ckpt", 0, policy).unwrap();
        ckpt.before_batch(&writer);
        write(&writer, 400);
        ckpt.committed(400);
        // Below `records`: no pass (the hour-long timer does not fire).
        std::thread::sleep(Duration::from_millis(300));
        let before = db_bytes(&path);
        assert!(before < 100_000, "{before} bytes");
        ckpt.committed(100);
        // The pass copies the 400 rows (~1.2 MB) into the database file.
        let deadline = Instant::now() + Duration::from_secs(10);
        while db_bytes(&path) < 1_000_000 {
            assert!(Instant::now() < deadline, "no pass copied the WAL");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(ckpt);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
