//! The embedded SQLite backend (WAL, so the CLI can write beside a running `serve`).

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::logdb::LogDb;
use crate::logs::LogRecord;
use crate::portable::{
    log_values, rollup, usage_values, Bind, LOG_COLUMNS, LOG_COLUMN_NAMES, USAGE_UPSERT,
};
use crate::{migrate, StoreError};

/// SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The request-log batches of a database file, on a connection and thread of their own
    /// (see [`LOG_THREAD`]); `None` in memory, where they go through `pool`.
    log_db: Option<LogDb>,
}

/// The name of the log writer's thread (at most 15 bytes: Linux keeps no more).
///
/// Log batches are written on connections of their own, so a batch never holds up the
/// connections that serve requests' reads. This thread runs at the same priority as the
/// request threads; batches that are not urgent go to [`LOG_BACKGROUND_THREAD`] instead (see
/// `logdb`). One writer at nice 19 for every batch was tried in stops 10-11 and starved under
/// load: request tasks waited on the full log queue in bursts (p99 at c=16 94 and 46 ms -> 9
/// ms without it).
pub const LOG_THREAD: &str = "neureus-logdb";

/// The name of the background log writer's thread, at a lower priority (see `logdb`).
pub const LOG_BACKGROUND_THREAD: &str = "neureus-logbg";

/// The name of the thread that checkpoints the log writers' WAL, at the background writer's
/// priority (see `checkpoint`).
pub const LOG_CHECKPOINT_THREAD: &str = "neureus-logckpt";

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows per multi-row INSERT statement, at most (a power of two).
const INSERT_ROWS: usize = 32;

/// The page size of a database file this store creates (SQLite's default is 4 KiB). A file's
/// page size is fixed when its first table is made, and a WAL file cannot change it, so an
/// existing database keeps its own.
///
/// 16 KiB for the request log: every record goes into the table and four indexes, each
/// appended at its right edge, and an index page that fills is split (`balance_nonroot`,
/// ~5k instructions a record at 4 KiB). Larger pages split a quarter as often, and a WAL
/// checkpoint copies them in a quarter of the reads and writes. Measured (BENCHMARKS.md,
/// stop 23): `bench/instructions.py` 103.4k -> 101.3k instructions a request (8 KiB:
/// 102.0k); at c=16 the log writer's CPU 4.6 -> 3.8 µs a request (three rounds each), its
/// write calls -16% and reads -75% a record, for 17% more bytes written (whole 16 KiB pages
/// to the WAL at each commit).
const PAGE_SIZE: u32 = 16_384;

impl SqliteStore {
    /// Opens (creating if missing) `sqlite://PATH` or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .page_size(PAGE_SIZE)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(opts.clone())
            .await?;
        let log_db = if in_memory {
            None
        } else {
            // The pool has created the file; the writer opens it beside the pool.
            Some(LogDb::open(
                opts.get_filename(),
                BUSY_TIMEOUT,
                LOG_THREAD,
                LOG_BACKGROUND_THREAD,
                LOG_CHECKPOINT_THREAD,
            )?)
        };
        Ok(SqliteStore { pool, log_db })
    }

    /// Opens the database file `path`.
    pub async fn open_file(path: &std::path::Path) -> Result<Self, StoreError> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    /// Applies one migration in a transaction unless already recorded.
    async fn apply(&self, version: i64, sql: &'static str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("SELECT 1 FROM neureus_migrations WHERE version = $1")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_some() {
            return Ok(());
        }
        Self::apply_migration(&mut tx, version, sql).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes up to $2 records created before $1 (see `delete_logs_before`), found by rowid:
    /// `id` alone has no index since migration 7. Tenant by tenant through
    /// request_logs_tenant_created_idx (there is no index on created_at alone, migration 6):
    /// `ids` lists the distinct tenant ids of the records, one index seek each (a skip scan),
    /// then each one's expired range.
    const RETENTION_DELETE: &'static str = "WITH RECURSIVE ids(id) AS (\
         SELECT MIN(tenant_id) FROM request_logs \
         UNION ALL SELECT (SELECT MIN(tenant_id) FROM request_logs WHERE tenant_id > ids.id) \
         FROM ids WHERE ids.id IS NOT NULL) \
         DELETE FROM request_logs WHERE rowid IN (SELECT r.rowid FROM ids t CROSS JOIN request_logs r \
         ON r.tenant_id = t.id AND r.created_at < $1 LIMIT $2)";

    /// Applies pending migrations (`Store::migrate`).
    async fn run_migrations(&self) -> Result<(), StoreError> {
        sqlx::query(migrate::CREATE_TABLE)
            .execute(&self.pool)
            .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM neureus_migrations")
            .fetch_all(&self.pool)
            .await?;
        let mut changed = false;
        for &(version, sql) in migrate::SQLITE {
            if applied.contains(&version) {
                continue;
            }
            // Upgrading a database in use: say so before a migration that may take a while
            // (7 rebuilds request_logs: ~8 s for a million records here, 0.6 GB). A new
            // database is migrated without a word.
            if !applied.is_empty() {
                let options = self.pool.connect_options();
                let database = options.get_filename().display();
                tracing::info!(version, %database, "applying a database migration");
            }
            self.apply(version, sql).await?;
            changed = true;
        }
        if changed {
            // A migration is one transaction, and the WAL keeps every page it wrote (~0.5 GB
            // for migration 7 over a million records) at its size until the last connection
            // closes: give that disk back now.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}

crate::portable::store_impl!(SqliteStore, sqlx::Sqlite, std::borrow::Cow::Borrowed);

// `OR FAIL`: with the default (ABORT) a multi-row INSERT inside a transaction keeps a
// statement journal, a copy of every page the statement changes, so that a failing row can
// undo only its statement; a failed batch is rolled back whole anyway. Measured with strace
// at c=16: 0.9 journal page writes (and as many 4-byte writes) per record, gone with FAIL.
const LOG_INSERT: &str = "INSERT OR FAIL INTO request_logs";

/// The order a batch's records are inserted in: by tenant, then id. Every index of
/// `request_logs` starts with the tenant, and log ids are time-ordered (UUIDv7, made when the
/// request starts), so within a tenant each index key then follows the one inserted before
/// it. A batch arrives in the order its requests *finished*, which under concurrency is not
/// the order they started in; inserted that way, nearly every index insert searched its
/// B-tree from the root (~6 key comparisons, ~2k instructions a search, callgrind). In key
/// order, a key that lands after the cursor's last one on the tree's last page (one tenant,
/// or the last in the batch) is placed without a search (SQLite's append fast path); other
/// tenants' keys are still searched for, along the path of the key before. Measured with
/// `bench/instructions.py`: SQLite's work per record -23%, the gateway's -3.8%; the sort
/// itself does not show. Row ids follow the new order (retention deletes by rowid; no read depends on its order).
pub(crate) fn insert_order(records: &[LogRecord]) -> Vec<&LogRecord> {
    let mut order: Vec<&LogRecord> = records.iter().collect();
    order.sort_unstable_by_key(|&r| (r.tenant_id.as_str(), r.id.as_str()));
    order
}

/// `order` cut into the rows of each multi-row INSERT (sizes from [`insert_rows`]), for both
/// writers: the log writer's own connection and the pool.
pub(crate) fn insert_chunks<'s, 'r>(
    order: &'s [&'r LogRecord],
) -> impl Iterator<Item = &'s [&'r LogRecord]> {
    let mut rest = order;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (chunk, tail) = rest.split_at(insert_rows(rest.len()));
        rest = tail;
        Some(chunk)
    })
}

/// Rows for the next multi-row INSERT when `left` records remain (at least one): a power of
/// two, at most [`INSERT_ROWS`].
fn insert_rows(left: usize) -> usize {
    if left >= INSERT_ROWS {
        INSERT_ROWS
    } else {
        1 << left.max(1).ilog2()
    }
}

/// The INSERT for `rows` records (a power of two up to [`INSERT_ROWS`]), its text built once:
/// `QueryBuilder` formatted every placeholder and separator anew for each batch, about a
/// third of the request-log path's own CPU per record (callgrind, stop 12).
pub(crate) fn log_insert_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let row = format!("({})", vec!["?"; LOG_COLUMNS].join(", "));
        let columns = LOG_COLUMN_NAMES.join(", ");
        (0..=INSERT_ROWS.ilog2())
            .map(|k| {
                format!(
                    "{LOG_INSERT} ({columns}) VALUES {}",
                    vec![row.as_str(); 1 << k].join(", ")
                )
            })
            .collect()
    });
    // `rows` is a power of two no larger than INSERT_ROWS (see insert_logs); anything else,
    // 0 included, gets an empty statement, which SQLite rejects as an error, not a panic.
    rows.is_power_of_two()
        .then(|| all.get(rows.ilog2() as usize))
        .flatten()
        .map_or("", String::as_str)
}

impl SqliteStore {
    /// A batch in one transaction: on a database file through the log writer (its background
    /// thread if `background`), in memory through the pool.
    async fn write_logs(
        &self,
        records: Arc<[LogRecord]>,
        background: bool,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(db) = &self.log_db {
            return db.insert(records, background).await;
        }
        let order = insert_order(&records);
        let mut tx = self.pool.begin().await?;
        // Multi-row inserts in power-of-two sizes up to INSERT_ROWS: at most six distinct
        // statements, each prepared once and then served from the connection's statement
        // cache, where a statement per batch length would be parsed and planned anew for
        // almost every batch. Larger statements save little CPU but cost memory: a 256-row
        // INSERT compiles to a VDBE program of several hundred KB, kept per connection.
        for chunk in insert_chunks(&order) {
            // Text binds borrow from `records` (`&str`); binding `&String` copied every field.
            let mut q = sqlx::query(log_insert_sql(chunk.len()));
            for r in chunk {
                for v in log_values(r) {
                    q = match v {
                        Bind::Text(t) => q.bind(t),
                        Bind::Int(n) => q.bind(n),
                    };
                }
            }
            q.execute(&mut *tx).await?;
        }
        // The hourly usage rows these records add to, in the same transaction.
        for (k, v) in rollup(&records) {
            let mut q = sqlx::query(USAGE_UPSERT);
            for b in usage_values(&k, &v) {
                q = match b {
                    Bind::Text(t) => q.bind(t),
                    Bind::Int(n) => q.bind(n),
                };
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::UsageRow;
    use crate::logs::{cost_from_e10, cost_to_e10, GroupBy, LogFilter};
    use crate::portable::{day_name, log_select, Sums};
    use crate::{now_ms, parse_api_key, Store};
    use sqlx::Row;
    use std::collections::BTreeMap;

    fn rec(id: &str, tenant: &str, at: i64) -> LogRecord {
        LogRecord {
            id: id.into(),
            tenant_id: tenant.into(),
            api_key_id: "key_x".into(),
            created_at_ms: at,
            endpoint: "/ai/chat".into(),
            status: 200,
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.000_123_4,
            ..LogRecord::default()
        }
    }

    /// The status filter through the index of failures (any status but 200) and through the
    /// newest-first walk (200) returns exactly the matching records, newest first; retention
    /// finds every tenant's expired records through the per-tenant index, in batches.
    #[tokio::test]
    async fn status_filter_and_retention_across_tenants() {
        for url in ["sqlite::memory:", "file"] {
            let dir = std::env::temp_dir().join(format!("neureus-ret-{}", uuid::Uuid::now_v7()));
            let store = if url == "file" {
                std::fs::create_dir_all(&dir).unwrap();
                SqliteStore::open_file(&dir.join("n.db")).await.unwrap()
            } else {
                SqliteStore::connect(url).await.unwrap()
            };
            store.migrate().await.unwrap();
            let statuses = [200_u16, 502, 200, 429, 200, 200, 502, 499];
            let tenants = ["a", "t1", "t10", "t2", "z"];
            let mut recs = Vec::new();
            for (i, t) in tenants.iter().enumerate() {
                for j in 0..40_usize {
                    let mut r = rec(&format!("log_{t}_{j:03}"), t, 1_000 + (j as i64) * 100);
                    r.status = statuses[(i + j) % statuses.len()];
                    recs.push(r);
                }
            }
            store.insert_logs(recs.clone().into()).await.unwrap();
            for t in tenants {
                for status in [200_u16, 502, 429, 499, 404] {
                    let filter = LogFilter {
                        status: Some(status),
                        ..LogFilter::default()
                    };
                    let got = store.list_logs(t, &filter, 1_000).await.unwrap();
                    let mut want: Vec<LogRecord> = recs
                        .iter()
                        .filter(|r| r.tenant_id == t && r.status == status)
                        .cloned()
                        .collect();
                    want.reverse();
                    assert_eq!(got, want, "{t} status {status}");
                }
            }
            // 25 of each tenant's 40 records are older than 3,500 ms: 125 in all, deleted
            // in batches of 30 that cross from one tenant to the next.
            let mut deleted = Vec::new();
            loop {
                let n = store.delete_logs_before(3_500, 30).await.unwrap();
                assert!(n <= 30);
                if n == 0 {
                    break;
                }
                deleted.push(n);
            }
            assert_eq!(deleted.iter().sum::<u64>(), 125, "{deleted:?}");
            for t in tenants {
                let left = store
                    .list_logs(t, &LogFilter::default(), 1_000)
                    .await
                    .unwrap();
                assert_eq!(left.len(), 15, "{t}");
                assert!(left.iter().all(|r| r.created_at_ms >= 3_500), "{t}");
            }
            drop(store);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn log_insert_text_has_a_row_of_placeholders_per_record() {
        for k in 0..=INSERT_ROWS.ilog2() {
            let n = 1_usize << k;
            let sql = log_insert_sql(n);
            assert_eq!(sql.matches('?').count(), n * LOG_COLUMNS, "{n} rows");
            assert_eq!(sql.matches("), (").count(), n - 1, "{n} rows");
        }
        assert_eq!(log_insert_sql(0), "");
        assert_eq!(log_insert_sql(3), "");
        assert_eq!(log_insert_sql(INSERT_ROWS * 2), "");
    }

    /// A file database, its directory removed on drop.
    struct TempDb {
        store: SqliteStore,
        dir: std::path::PathBuf,
    }

    impl TempDb {
        async fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("neureus-store-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            let store = SqliteStore::open_file(&dir.join("n.db")).await.unwrap();
            store.migrate().await.unwrap();
            TempDb { store, dir }
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// On a file database (the log writer's own connection) and in memory (the pool's
    /// multi-row INSERTs, where 63 records take every statement size: 32 + 16 + 8 + 4 + 2 + 1)
    /// every column of every record is written where it belongs: each differs between
    /// records, so a bind in the wrong place shows.
    #[tokio::test]
    async fn every_statement_size_writes_every_column() {
        let file = TempDb::new().await;
        assert!(file.store.log_db.is_some());
        let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
        memory.migrate().await.unwrap();
        assert!(memory.log_db.is_none());
        for store in [&file.store, &memory] {
            every_column_round_trips(store).await;
        }
    }

    /// A batch arrives in the order its requests finished; its rows go in by tenant, then id
    /// (`insert_order`), on the writer's own connection and through the pool alike, and
    /// none is lost or doubled on the way.
    #[tokio::test]
    async fn a_batch_is_inserted_by_tenant_then_id() {
        let file = TempDb::new().await;
        let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
        memory.migrate().await.unwrap();
        // 3 tenants x 30 records, dealt in a scrambled order (7 is coprime to 90).
        let all: Vec<LogRecord> = (0..90_usize)
            .map(|i| {
                rec(
                    &format!("log_{:04}", (i * 7) % 90),
                    ["t2", "t1", "t3"][i % 3],
                    1_000,
                )
            })
            .collect();
        let mut want: Vec<(String, String)> = all
            .iter()
            .map(|r| (r.tenant_id.clone(), r.id.clone()))
            .collect();
        want.sort();
        assert_ne!(
            all.iter()
                .map(|r| (r.tenant_id.clone(), r.id.clone()))
                .collect::<Vec<_>>(),
            want,
            "the batch must start out of order"
        );
        for store in [&file.store, &memory] {
            store.insert_logs(all.clone().into()).await.unwrap();
            let got: Vec<(String, String)> =
                sqlx::query_as("SELECT tenant_id, id FROM request_logs ORDER BY rowid")
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            assert_eq!(got, want);
        }
    }

    /// Record `i` of a tenant with every column set, each to a value of its own.
    fn full_rec(i: i64, tenant: &str) -> LogRecord {
        let u = u64::try_from(i).unwrap();
        let t = |what: &str| Some(format!("{what}-{i}"));
        LogRecord {
            id: format!("log_{i:03}"),
            tenant_id: tenant.into(),
            api_key_id: format!("key_{i}"),
            created_at_ms: 1_000 + i,
            endpoint: format!("/ep/{i}"),
            model_requested: t("requested"),
            model: t("model"),
            provider: t("provider"),
            category: t("category"),
            status: 200 + u16::try_from(i).unwrap(),
            error_type: t("error-type"),
            error_message: t("error-message"),
            input_tokens: 10 + u,
            output_tokens: 20 + u,
            cached_tokens: 30 + u,
            cost_usd: cost_from_e10(40 + i),
            latency_ms: 50 + u,
            ttft_ms: Some(60 + u),
            streamed: i % 2 == 0,
            routing: t("routing"),
            preprocessing: t("preprocessing"),
            metadata: t("metadata"),
            request_body: t("request"),
            response_body: t("response"),
        }
    }

    async fn every_column_round_trips(store: &SqliteStore) {
        let recs: Vec<LogRecord> = (0..63_i64).map(|i| full_rec(i, "t1")).collect();
        store.insert_logs(recs.clone().into()).await.unwrap();
        for r in &recs {
            let got = store.get_log("t1", &r.id).await.unwrap();
            assert_eq!(got.as_ref(), Some(r));
        }
    }

    /// A database file the store creates gets [`PAGE_SIZE`] pages; one made before (4 KiB,
    /// WAL) keeps its page size and takes records as before.
    #[tokio::test]
    async fn new_database_files_get_the_page_size_and_old_ones_keep_theirs() {
        async fn page_size(store: &SqliteStore) -> i64 {
            sqlx::query_scalar("PRAGMA page_size")
                .fetch_one(&store.pool)
                .await
                .unwrap()
        }
        let dir = std::env::temp_dir().join(format!("neureus-page-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = SqliteStore::open_file(&dir.join("new.db")).await.unwrap();
        fresh.migrate().await.unwrap();
        assert_eq!(page_size(&fresh).await, i64::from(PAGE_SIZE));
        drop(fresh);

        let old_path = dir.join("old.db");
        let old = rusqlite::Connection::open(&old_path).unwrap();
        old.pragma_update(None, "page_size", 4096).unwrap();
        old.pragma_update(None, "journal_mode", "WAL").unwrap();
        old.execute_batch("CREATE TABLE before_the_store (x INTEGER)")
            .unwrap();
        drop(old);
        let store = SqliteStore::open_file(&old_path).await.unwrap();
        store.migrate().await.unwrap();
        assert_eq!(page_size(&store).await, 4096);
        let recs: Vec<LogRecord> = (0..300_i64).map(|i| full_rec(i, "t1")).collect();
        store.insert_logs(recs.clone().into()).await.unwrap();
        assert_eq!(
            store.get_log("t1", "log_299").await.unwrap().as_ref(),
            recs.last()
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The names of `request_logs`' indexes, SQLite's own included.
    async fn log_indexes(store: &SqliteStore) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'request_logs' ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap()
    }

    /// Migration 7 rebuilds request_logs without the primary key on `id`: a database written
    /// at version 6 keeps every record, column for column, and every index but the key's own;
    /// an id is unique per tenant, as the reads need.
    #[tokio::test]
    async fn migration_7_keeps_every_record_and_drops_only_the_id_index() {
        let dir = std::env::temp_dir().join(format!("neureus-mig7-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open_file(&dir.join("n.db")).await.unwrap();
        sqlx::query(migrate::CREATE_TABLE)
            .execute(&store.pool)
            .await
            .unwrap();
        for &(version, sql) in &migrate::SQLITE[..6] {
            assert!(version <= 6);
            store.apply(version, sql).await.unwrap();
        }
        assert!(log_indexes(&store)
            .await
            .contains(&"sqlite_autoindex_request_logs_1".to_owned()));
        // Two tenants, every column set, and records with the optional columns empty.
        let mut recs: Vec<LogRecord> = (0..40_i64)
            .map(|i| full_rec(i, ["t2", "t1"][usize::try_from(i % 2).unwrap()]))
            .collect();
        recs.extend((40..50).map(|i| rec(&format!("log_{i:03}"), "t1", 5_000 + i)));
        store.insert_logs(recs.clone().into()).await.unwrap();

        store.migrate().await.unwrap();
        assert_eq!(
            log_indexes(&store).await,
            [
                "request_logs_tenant_created_idx",
                "request_logs_tenant_failed_idx",
                "request_logs_tenant_id_idx",
                "request_logs_tenant_model_idx",
                "request_logs_tenant_provider_idx",
            ]
        );
        for r in &recs {
            assert_eq!(
                store.get_log(&r.tenant_id, &r.id).await.unwrap().as_ref(),
                Some(r)
            );
        }
        for tenant in ["t1", "t2"] {
            let mut want: Vec<&LogRecord> = recs.iter().filter(|r| r.tenant_id == tenant).collect();
            want.sort_by(|a, b| b.id.cmp(&a.id));
            let got = store
                .list_logs(tenant, &LogFilter::default(), 100)
                .await
                .unwrap();
            assert_eq!(got.iter().collect::<Vec<_>>(), want);
        }
        // The hourly sums are untouched: 50 records in all.
        let usage: (i64,) = sqlx::query_as("SELECT SUM(requests) FROM usage_hourly")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(usage.0, 50);
        // A repeated id within a tenant is refused, as by the primary key before.
        assert!(store
            .insert_logs(Arc::new([rec("log_041", "t1", 9_000)]))
            .await
            .is_err());
        store
            .insert_logs(Arc::new([rec("log_041", "t3", 9_000)]))
            .await
            .unwrap();
        assert_eq!(
            store.get_log("t1", "log_041").await.unwrap(),
            Some(recs[41].clone())
        );
        // Migrating again changes nothing.
        store.migrate().await.unwrap();
        assert_eq!(log_indexes(&store).await.len(), 5);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Everything this test binary logs at `info` and above, from every thread.
    ///
    /// A subscriber set for the test's own thread (`set_default`) missed the events
    /// whenever another test emitted from the same call site at the same time (every run of
    /// this test beside the migration test above), so one global subscriber collects all
    /// lines, and a test picks out its own by the database path they name.
    fn captured_log() -> String {
        static BUF: OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = OnceLock::new();
        #[derive(Clone)]
        struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = BUF.get_or_init(|| {
            let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
            let writer = Captured(buf.clone());
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            buf
        });
        String::from_utf8(buf.lock().unwrap().clone()).unwrap()
    }

    /// Upgrading a database logs each migration, with the database, before it runs (a new
    /// one is migrated quietly), and the WAL a migration filled is truncated afterwards
    /// rather than kept at its size while the gateway runs.
    #[tokio::test]
    async fn an_upgrade_is_logged_and_its_wal_given_back() {
        captured_log();
        let dir = std::env::temp_dir().join(format!("neureus-upg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let ours = |name: &str| {
            let path = dir.join(name).display().to_string();
            captured_log()
                .lines()
                .filter(|l| l.contains(&path))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let fresh = SqliteStore::open_file(&dir.join("new.db")).await.unwrap();
        fresh.migrate().await.unwrap();
        assert_eq!(ours("new.db"), Vec::<String>::new());
        drop(fresh);

        let path = dir.join("old.db");
        let store = SqliteStore::open_file(&path).await.unwrap();
        sqlx::query(migrate::CREATE_TABLE)
            .execute(&store.pool)
            .await
            .unwrap();
        for &(version, sql) in &migrate::SQLITE[..6] {
            store.apply(version, sql).await.unwrap();
        }
        let recs: Vec<LogRecord> = (0..2_000_i64).map(|i| full_rec(i, "t1")).collect();
        store.insert_logs(recs.into()).await.unwrap();
        store.migrate().await.unwrap();
        let log = ours("old.db");
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(
            log[0].contains("applying a database migration version=7"),
            "{log:?}"
        );
        let wal = std::fs::metadata(dir.join("old.db-wal")).unwrap().len();
        assert_eq!(wal, 0, "the migration's WAL was kept");
        assert_eq!(
            store.get_log("t1", "log_1999").await.unwrap().map(|r| r.id),
            Some("log_1999".to_owned())
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    async fn plan(store: &SqliteStore, sql: &str) -> String {
        let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(&store.pool)
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Usage read from the hourly sums plus the partial hours at the edges equals usage
    /// summed straight from the records, for any window, grouping and batching.
    #[tokio::test]
    async fn usage_from_hourly_sums_equals_usage_from_records() {
        use rand::{Rng, SeedableRng};
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let start = 1_764_000_000_000_i64 + 1_234_567; // not hour-aligned
        let span = 3 * 86_400_000_i64;
        let models = [Some("gpt-4o"), Some("claude-haiku-4-5"), None];
        let recs: Vec<LogRecord> = (0..3_000)
            .map(|i| {
                let m = models[rng.gen_range(0..models.len())];
                LogRecord {
                    id: format!("log_{i:06}"),
                    tenant_id: if rng.gen_bool(0.8) { "t1" } else { "t2" }.into(),
                    api_key_id: if rng.gen_bool(0.5) { "key_a" } else { "key_b" }.into(),
                    created_at_ms: start + rng.gen_range(0..span),
                    endpoint: "/ai/chat".into(),
                    model: m.map(str::to_owned),
                    provider: m.map(|m| {
                        if m.starts_with("gpt") {
                            "openai"
                        } else {
                            "anthropic"
                        }
                        .to_owned()
                    }),
                    status: if rng.gen_bool(0.1) { 502 } else { 200 },
                    input_tokens: rng.gen_range(0..5_000),
                    output_tokens: rng.gen_range(0..2_000),
                    cached_tokens: rng.gen_range(0..100),
                    cost_usd: f64::from(rng.gen_range(0..100_000_u32)) * 1e-9,
                    ..LogRecord::default()
                }
            })
            .collect();
        // Several batches, so hourly rows are added to across transactions.
        for chunk in recs.chunks(700) {
            store.insert_logs(chunk.into()).await.unwrap();
        }
        let mut windows = vec![
            (0, i64::MAX),
            (i64::MIN, i64::MAX),
            (i64::MAX - 1, i64::MAX),
            (start, start + span),
            (start + 1, start + 2),
        ];
        let hour = 3_600_000;
        let aligned = (start / hour + 1) * hour;
        windows.push((aligned, aligned + 5 * hour));
        windows.push((aligned - 1, aligned + 5 * hour + 1));
        for _ in 0..40 {
            let a = start + rng.gen_range(-hour..span);
            windows.push((a, a + rng.gen_range(0..span)));
        }
        for (from, to) in windows {
            for g in [
                GroupBy::Model,
                GroupBy::Provider,
                GroupBy::Day,
                GroupBy::ApiKey,
            ] {
                let (total, groups) = store.usage("t1", from, to, g).await.unwrap();
                let mut want: BTreeMap<String, Sums> = BTreeMap::new();
                let mut want_total = Sums::default();
                for r in recs.iter().filter(|r| {
                    r.tenant_id == "t1" && r.created_at_ms >= from && r.created_at_ms < to
                }) {
                    let key = match g {
                        GroupBy::Model => r.model.clone().unwrap_or_default(),
                        GroupBy::Provider => r.provider.clone().unwrap_or_default(),
                        GroupBy::Day => day_name(r.created_at_ms / 86_400_000),
                        GroupBy::ApiKey => r.api_key_id.clone(),
                    };
                    let one = Sums::of(r);
                    want.entry(key).or_default().add(&one);
                    want_total.add(&one);
                }
                let want_groups: Vec<UsageRow> = want.into_iter().map(|(k, v)| v.row(k)).collect();
                assert_eq!(total, want_total.row(String::new()), "{from}..{to} {g:?}");
                assert_eq!(groups, want_groups, "{from}..{to} {g:?}");
            }
        }
        // Retention removes the hourly rows of the hours it emptied.
        while store
            .delete_logs_before(start + span / 2, 1_000)
            .await
            .unwrap()
            > 0
        {}
        let (total, _) = store
            .usage("t1", 0, i64::MAX, GroupBy::Model)
            .await
            .unwrap();
        let left = recs
            .iter()
            .filter(|r| r.tenant_id == "t1" && r.created_at_ms >= start + span / 2)
            .count() as u64;
        // The hour holding the cutoff may keep sums of records deleted from it.
        let in_cut_hour = recs
            .iter()
            .filter(|r| {
                r.tenant_id == "t1"
                    && r.created_at_ms < start + span / 2
                    && r.created_at_ms.div_euclid(hour) == (start + span / 2).div_euclid(hour)
            })
            .count() as u64;
        assert!(
            total.requests >= left && total.requests <= left + in_cut_hour,
            "{} vs {left}",
            total.requests
        );
    }

    /// The queries behind /ai/logs, /ai/usage and retention are served by indexes, so they
    /// stay fast at millions of rows (a full scan would show as `SCAN request_logs`).
    #[tokio::test]
    async fn log_queries_use_their_indexes() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let newest = plan(
            &store,
            &format!(
                "{} WHERE tenant_id = 't' AND id < 'log_x' ORDER BY id DESC LIMIT 50",
                log_select()
            ),
        )
        .await;
        assert!(
            newest.contains("request_logs_tenant_id_idx") && !newest.contains("TEMP B-TREE"),
            "{newest}"
        );
        // A filter that matches few records must not walk all of the tenant's others.
        for (col, value, index) in [
            ("model", "'m'", "request_logs_tenant_model_idx"),
            (
                "status",
                "502 AND status <> 200",
                "request_logs_tenant_failed_idx",
            ),
            ("provider", "'p'", "request_logs_tenant_provider_idx"),
        ] {
            let filtered = plan(&store, &format!("{} WHERE tenant_id = 't' AND {col} = {value} AND id < 'log_x' ORDER BY id DESC LIMIT 50", log_select())).await;
            assert!(
                filtered.contains(index) && !filtered.contains("TEMP B-TREE"),
                "{filtered}"
            );
        }
        let rollup = plan(&store, "SELECT model, SUM(requests) FROM usage_hourly WHERE tenant_id = 't' AND hour >= 0 AND hour < 10 GROUP BY model").await;
        assert!(rollup.contains("sqlite_autoindex_usage_hourly"), "{rollup}");
        let expired = plan(&store, "DELETE FROM usage_hourly WHERE hour <= 5").await;
        assert!(expired.contains("usage_hourly_hour_idx"), "{expired}");
        let usage = plan(&store, "SELECT model, COUNT(*) FROM request_logs WHERE tenant_id = 't' AND created_at >= 0 AND created_at < 10 GROUP BY model").await;
        assert!(usage.contains("request_logs_tenant_created_idx"), "{usage}");
        // Successes are not in the status index; their filter walks the newest records.
        let ok = plan(&store, &format!("{} WHERE tenant_id = 't' AND status = 200 AND id < 'log_x' ORDER BY id DESC LIMIT 50", log_select())).await;
        assert!(
            ok.contains("request_logs_tenant_id_idx") && !ok.contains("TEMP B-TREE"),
            "{ok}"
        );
        let retention = plan(
            &store,
            &SqliteStore::RETENTION_DELETE
                .replace("$1", "5")
                .replace("$2", "1000"),
        )
        .await;
        assert!(
            retention.contains("request_logs_tenant_created_idx")
                && !retention.contains("SCAN r")
                && !retention.contains("SCAN request_logs"),
            "{retention}"
        );
        let one = plan(
            &store,
            &format!("{} WHERE tenant_id = 't' AND id = 'log_1'", log_select()),
        )
        .await;
        assert!(
            one.contains("request_logs_tenant_id_idx") && !one.contains("SCAN request_logs"),
            "{one}"
        );
    }

    /// How many threads of this process are named `name`.
    #[cfg(target_os = "linux")]
    fn threads_named(name: &str) -> usize {
        crate::logdb::tests::tasks_named(name).len()
    }

    /// The log writers leave checkpoints to the checkpointer and wake it: after
    /// `checkpoint::POLICY.records` records through `insert_logs` a pass copies them from the
    /// WAL into the database file, which the writers themselves never do (their connections
    /// do not checkpoint; the file's length is read, not asked of SQLite, which would
    /// checkpoint).
    #[tokio::test]
    async fn log_batches_wake_the_checkpointer_which_copies_them_into_the_database() {
        let dir = std::env::temp_dir().join(format!("neureus-ckptwire-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.db");
        let store = SqliteStore::open_file(&path).await.unwrap();
        store.migrate().await.unwrap();
        let bytes = || std::fs::metadata(&path).unwrap().len();
        let before = bytes();
        let batches = crate::checkpoint::POLICY.records / 500;
        for b in 0..batches {
            let batch: Arc<[LogRecord]> = (0..500)
                .map(|i| rec(&format!("log_{b}_{i}"), "t1", 1_000))
                .collect();
            store.insert_logs(batch).await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while bytes() < before + 1_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint copied the log: {} bytes, {before} before",
                bytes()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn log_writes_run_on_their_own_connection() {
        let dir = std::env::temp_dir().join(format!("neureus-logdb-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open_file(&dir.join("n.db")).await.unwrap();
        store.migrate().await.unwrap();
        // This store has its own writer; the thread count is process-wide (other tests'
        // stores may have theirs open too), so it only shows the thread is named.
        assert!(store.log_db.is_some());
        assert!(threads_named(LOG_THREAD) >= 1);
        // And its WAL checkpoints on a thread of their own (`checkpoint`).
        assert!(threads_named(LOG_CHECKPOINT_THREAD) >= 1);
        // With every connection of the request pool held, a batch is still written: it needs
        // none of them.
        let mut held = Vec::new();
        for _ in 0..store.pool.options().get_max_connections() {
            held.push(store.pool.acquire().await.unwrap());
        }
        tokio::time::timeout(
            Duration::from_secs(5),
            store.insert_logs(Arc::new([
                rec("log_a", "t1", 1_000),
                rec("log_b", "t1", 2_000),
            ])),
        )
        .await
        .expect("the batch waited for a request connection")
        .unwrap();
        // So is a batch for the background writer, on its own connection too.
        assert!(threads_named(LOG_BACKGROUND_THREAD) >= 1);
        tokio::time::timeout(
            Duration::from_secs(5),
            store.insert_logs_background(Arc::new([rec("log_c", "t1", 3_000)])),
        )
        .await
        .expect("the background batch waited for a request connection")
        .unwrap();
        drop(held);
        // Read on the others.
        let page = store
            .list_logs("t1", &LogFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(page.len(), 3);
        assert_eq!(page[0], rec("log_c", "t1", 3_000));
        assert_eq!(store.delete_logs_before(1_500, 10).await.unwrap(), 1);
        assert_eq!(
            store
                .list_logs("t1", &LogFilter::default(), 10)
                .await
                .unwrap()
                .len(),
            2
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `insert_logs_background` hands its batch to the background writer and `insert_logs` to
    /// the normal one: with only one of them running, only its method writes.
    #[tokio::test]
    async fn each_insert_method_reaches_its_own_writer() {
        let dir = std::env::temp_dir().join(format!("neureus-route-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.db");
        let mut store = SqliteStore::open_file(&path).await.unwrap();
        store.migrate().await.unwrap();
        for background in [true, false] {
            store.log_db = Some(LogDb::with_one_writer(&path, BUSY_TIMEOUT, background).unwrap());
            let id = format!("log_{background}");
            let one = || Arc::new([rec(&id, "t1", 1_000)]) as Arc<[LogRecord]>;
            let (reached, stopped) = if background {
                (
                    store.insert_logs_background(one()).await,
                    store.insert_logs(one()).await,
                )
            } else {
                (
                    store.insert_logs(one()).await,
                    store.insert_logs_background(one()).await,
                )
            };
            reached.unwrap();
            assert!(
                matches!(&stopped, Err(StoreError::Database(m)) if m.contains("stopped")),
                "{stopped:?}"
            );
            assert_eq!(
                store.get_log("t1", &id).await.unwrap(),
                Some(rec(&id, "t1", 1_000))
            );
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `INSERT OR FAIL` keeps the rows before a failing one within its statement; the batch's
    /// transaction must still leave nothing of a failed batch behind, on a file database
    /// (the log connection) as in memory.
    #[tokio::test]
    async fn a_batch_with_a_failing_row_leaves_nothing_and_the_next_batch_is_written() {
        let dir = std::env::temp_dir().join(format!("neureus-logfail-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = SqliteStore::open_file(&dir.join("n.db")).await.unwrap();
        let memory = SqliteStore::connect("sqlite::memory:").await.unwrap();
        for store in [&file, &memory] {
            store.migrate().await.unwrap();
            store
                .insert_logs(Arc::new([rec("log_old", "t1", 1_000)]))
                .await
                .unwrap();
            // 40 rows: a full 32-row statement then an 8-row one; the repeat is the 35th.
            let mut batch: Vec<LogRecord> = (0..40)
                .map(|i| rec(&format!("log_{i:03}"), "t1", 2_000 + i))
                .collect();
            batch[34].id = "log_003".into();
            assert!(store.insert_logs(batch.clone().into()).await.is_err());
            let page = store
                .list_logs("t1", &LogFilter::default(), 100)
                .await
                .unwrap();
            assert_eq!(page.len(), 1, "rows of the failed batch were kept");
            let usage: (i64,) = sqlx::query_as("SELECT SUM(requests) FROM usage_hourly")
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(usage.0, 1);
            // A failing row in the first statement, the one the journal change concerns.
            batch[34].id = "log_034".into();
            batch[5].id = "log_old".into();
            assert!(store.insert_logs(batch.clone().into()).await.is_err());
            batch[5].id = "log_005".into();
            store.insert_logs(batch.clone().into()).await.unwrap();
            let page = store
                .list_logs("t1", &LogFilter::default(), 100)
                .await
                .unwrap();
            assert_eq!(page.len(), 41);
        }
        drop(file);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn logs_insert_query_usage_and_retention() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let now = now_ms();
        let old = now - 40 * 86_400_000;
        let mut recs: Vec<LogRecord> = (0..2500)
            .map(|i| {
                rec(
                    &format!("log_{i:06}"),
                    "t1",
                    if i < 1200 { old } else { now },
                )
            })
            .collect();
        recs.push(rec("log_other", "t2", now));
        store.insert_logs(recs.clone().into()).await.unwrap();
        let (total, groups) = store.usage("t1", 0, now + 1, GroupBy::Day).await.unwrap();
        assert_eq!(total.requests, 2500);
        assert_eq!(groups.len(), 2);
        // Exact cost sums: 2500 x 0.0001234.
        assert_eq!(cost_to_e10(total.cost_usd), 2500 * 1_234_000);
        assert!(
            store.get_log("t1", "log_other").await.unwrap().is_none(),
            "scoped by tenant"
        );
        let page = store
            .list_logs(
                "t1",
                &LogFilter {
                    before: Some("log_000010".into()),
                    ..LogFilter::default()
                },
                5,
            )
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            [
                "log_000009",
                "log_000008",
                "log_000007",
                "log_000006",
                "log_000005"
            ]
        );
        // Retention deletes in batches until nothing old is left.
        let cutoff = now - 30 * 86_400_000;
        let mut deleted = 0;
        loop {
            let n = store.delete_logs_before(cutoff, 500).await.unwrap();
            assert!(n <= 500);
            if n == 0 {
                break;
            }
            deleted += n;
        }
        assert_eq!(deleted, 1200);
        assert_eq!(
            store
                .usage("t1", 0, now + 1, GroupBy::Model)
                .await
                .unwrap()
                .0
                .requests,
            1300
        );
    }

    #[tokio::test]
    async fn tenants_keys_and_revocation() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap(); // idempotent
        let (tenant, key) = store.create_tenant("acme").await.unwrap();
        assert_eq!(store.list_tenants().await.unwrap(), vec![tenant.clone()]);
        let parts = parse_api_key(key.api_key.expose()).unwrap();
        let rec = store.find_api_key(&parts.public_id).await.unwrap().unwrap();
        assert_eq!(rec.tenant_id, tenant.id);
        assert_eq!(rec.id, key.key_id);
        assert!(crate::verify_secret(&parts.secret, &rec.secret_hash));
        // The plain secret is not what is stored.
        assert_ne!(rec.secret_hash, parts.secret);

        let second = store.create_api_key(&tenant.id).await.unwrap();
        assert_ne!(second.key_id, key.key_id);
        assert!(matches!(
            store.create_api_key("ten_nope").await,
            Err(StoreError::NotFound(_))
        ));

        let before = now_ms();
        assert!(store.revoke_api_key(&key.key_id).await.unwrap());
        assert!(
            store.revoke_api_key(&key.key_id).await.unwrap(),
            "revoking twice still finds it"
        );
        assert!(!store.revoke_api_key("key_missing").await.unwrap());
        let revoked = store.revoked_since(before).await.unwrap();
        assert_eq!(revoked, vec![parts.public_id.clone()]);
        assert!(store
            .find_api_key(&parts.public_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at_ms
            .is_some());
    }
}
