//! The Postgres backend (`NEUREUS_DATABASE_URL=postgres://…`), for several gateway replicas
//! sharing one database. Every replica stays stateless: what one writes (a revoked key, a
//! rotated provider key, tenant settings) the others see through the same `*_since` polls as
//! with SQLite.
//!
//! The queries both backends accept are written once ([`crate::portable`]); this file holds
//! what differs: the schema (one migration, as SQLite's seven leave it), migrations under an
//! advisory lock so replicas starting together do not race, request-log batches as one
//! statement (`INSERT … SELECT FROM UNNEST(…)` with their usage sums: one round trip a batch,
//! whatever its size, where per-row parameters would hit Postgres's 65,535-parameter limit
//! at 2,730 records; a batch written twice is stored once) and retention by `ctid`.

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::logs::LogRecord;
use crate::portable::{log_values, Bind, HOUR_MS, LOG_COLUMN_NAMES, USAGE_UPSERT};
use crate::{migrate, StoreError};

/// Postgres-backed store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Connections per replica. Request paths read through caches; the pool serves the log
/// writer's batches, cache refreshes and admin calls.
const MAX_CONNECTIONS: u32 = 8;

/// How long a caller waits for a free connection (or a new one) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock key migrations hold (any constant; "neureus" in ASCII).
const MIGRATION_LOCK: i64 = 0x006e_6575_7265_7573;

impl PgStore {
    /// Connects to `postgres://…` (or `postgresql://…`). The schema is not touched until
    /// [`crate::Store::migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("{}: {e}", crate::redact_url(url))))?
            // Postgres's notices ("relation … already exists, skipping" from the migrations'
            // `IF NOT EXISTS`) would be logged at info on every start.
            .options([("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        Ok(PgStore { pool })
    }

    /// Deletes up to $2 records created before $1, oldest index first (`request_logs_created_idx`).
    const RETENTION_DELETE: &'static str = "DELETE FROM request_logs WHERE ctid = ANY(ARRAY(\
         SELECT ctid FROM request_logs WHERE created_at < $1 LIMIT $2))";

    /// Applies pending migrations in one transaction holding an advisory lock: a replica
    /// that starts while another migrates waits, then finds the work done.
    async fn run_migrations(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query(migrate::CREATE_TABLE).execute(&mut *tx).await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM neureus_migrations")
            .fetch_all(&mut *tx)
            .await?;
        for &(version, sql) in migrate::POSTGRES {
            if applied.contains(&version) {
                continue;
            }
            if !applied.is_empty() {
                tracing::info!(version, "applying a database migration");
            }
            Self::apply_migration(&mut tx, version, sql).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A batch and the hourly usage it adds to, in one statement ([`log_batch_sql`]).
    /// `background` makes no difference here: the database does the work on its own machine.
    async fn write_logs(
        &self,
        records: Arc<[LogRecord]>,
        _background: bool,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        // Records made storable before anything is derived from them: two models that differ
        // only by a NUL and a U+FFFD would otherwise be two usage rows with one key once
        // stored, and the upsert would refuse the batch.
        let cleaned: Option<Vec<LogRecord>> = records
            .iter()
            .any(has_nul)
            .then(|| records.iter().map(storable_record).collect());
        let records: &[LogRecord] = cleaned.as_deref().unwrap_or(&records);
        let mut q = sqlx::query(log_batch_sql());
        for col in columns(records.iter().map(log_values)) {
            q = col.bind_to(q);
        }
        // One statement: atomic on its own.
        q.execute(&self.pool).await?;
        Ok(())
    }
}

// Every text parameter through `storable`: a NUL in one (a log id or filter from a URL) would
// otherwise fail the query, a 500 for bad input; as stored, it matches what it should.
crate::portable::store_impl!(PgStore, sqlx::Postgres, storable);

/// Whether any text of `r` holds a NUL.
fn has_nul(r: &LogRecord) -> bool {
    log_values(r)
        .iter()
        .any(|b| matches!(b, Bind::Text(Some(s)) if s.contains('\0')))
}

/// `r` with every text [`storable`].
fn storable_record(r: &LogRecord) -> LogRecord {
    let text = |s: &String| storable(s).into_owned();
    let opt = |s: &Option<String>| s.as_deref().map(|s| storable(s).into_owned());
    LogRecord {
        id: text(&r.id),
        tenant_id: text(&r.tenant_id),
        api_key_id: text(&r.api_key_id),
        endpoint: text(&r.endpoint),
        model_requested: opt(&r.model_requested),
        model: opt(&r.model),
        provider: opt(&r.provider),
        category: opt(&r.category),
        error_type: opt(&r.error_type),
        error_message: opt(&r.error_message),
        routing: opt(&r.routing),
        preprocessing: opt(&r.preprocessing),
        metadata: opt(&r.metadata),
        request_body: opt(&r.request_body),
        response_body: opt(&r.response_body),
        ..r.clone()
    }
}

/// One column of a batch, as the array `UNNEST` reads.
enum Column<'a> {
    Text(Vec<Option<&'a str>>),
    Int(Vec<Option<i64>>),
}

/// `text` as Postgres can store it. A `text` value cannot hold a NUL character; one in a
/// record (a model name or body a client sent, an error message quoting it) would fail the
/// whole batch, every tenant's records in it. NULs become U+FFFD, the rest is unchanged.
pub(crate) fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl<'a> Column<'a> {
    fn bind_to<'q>(self, q: PgQuery<'q>) -> PgQuery<'q>
    where
        'a: 'q,
    {
        match self {
            Column::Text(v) => q.bind(v),
            Column::Int(v) => q.bind(v),
        }
    }
}

/// Rows of values turned into columns. A column's kind is its first row's (every row of a
/// statement binds the same kinds in the same places).
fn columns<'a, const N: usize>(rows: impl Iterator<Item = [Bind<'a>; N]>) -> Vec<Column<'a>> {
    let mut cols: Vec<Column<'a>> = Vec::with_capacity(N);
    for row in rows {
        if cols.is_empty() {
            cols = row
                .iter()
                .map(|b| match b {
                    Bind::Text(_) => Column::Text(Vec::new()),
                    Bind::Int(_) => Column::Int(Vec::new()),
                })
                .collect();
        }
        for (col, b) in cols.iter_mut().zip(row) {
            match (col, b) {
                (Column::Text(v), Bind::Text(t)) => v.push(t),
                (Column::Int(v), Bind::Int(n)) => v.push(n),
                // Not reached (see above); a mismatch would bind arrays of unequal lengths,
                // which Postgres's UNNEST pads with NULLs and the NOT NULL columns refuse.
                _ => {}
            }
        }
    }
    cols
}

/// `INSERT INTO table (names) SELECT * FROM UNNEST($1::type[], …)` for the kinds in `kinds`.
fn unnest_insert(table: &str, names: &[&str], kinds: &[Bind<'_>]) -> String {
    let arrays: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| match k {
            Bind::Text(_) => format!("${}::text[]", i + 1),
            Bind::Int(_) => format!("${}::int8[]", i + 1),
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
        names.join(", "),
        arrays.join(", ")
    )
}

/// The request-log batch, built once: the records inserted from `UNNEST`ed arrays, and the
/// hourly usage sums of the records actually inserted added in the same statement.
///
/// A record already stored (same tenant and id) is skipped, and so is its usage: a batch
/// written again, because the connection broke after Postgres committed it but before the
/// gateway heard so and the writer retried, changes nothing. (SQLite, written on the
/// gateway's own machine, has no such lost acknowledgement and refuses a repeated id.) The
/// usage rows are upserted in key order, so replicas writing the same rows lock them in the
/// same order and cannot deadlock; they are summed after the text is stored, so two keys
/// that are one key once stored (see [`storable`]) are one row.
fn log_batch_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let sample = LogRecord::default();
        let insert = unnest_insert("request_logs", &LOG_COLUMN_NAMES, &log_values(&sample));
        let conflict = USAGE_UPSERT
            .find(" ON CONFLICT")
            .map_or("", |i| &USAGE_UPSERT[i..]);
        format!(
            "WITH ins AS ({insert} ON CONFLICT (tenant_id, id) DO NOTHING \
             RETURNING tenant_id, created_at, model, provider, api_key_id, status, \
             input_tokens, output_tokens, cached_tokens, cost_e10) \
             INSERT INTO usage_hourly (tenant_id, hour, model, provider, api_key_id, requests, \
             errors, input_tokens, output_tokens, cached_tokens, cost_e10) \
             SELECT tenant_id, (created_at / {HOUR_MS}) * {HOUR_MS}, COALESCE(model, ''), \
             COALESCE(provider, ''), api_key_id, COUNT(*), \
             CAST(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT), \
             CAST(SUM(cached_tokens) AS BIGINT), CAST(SUM(cost_e10) AS BIGINT) \
             FROM ins GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5{conflict}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_statements_name_every_column_with_its_array_type() {
        let sql = log_batch_sql();
        assert!(
            sql.starts_with(
                "WITH ins AS (INSERT INTO request_logs (id, tenant_id, api_key_id, created_at,"
            ),
            "{sql}"
        );
        assert!(sql.contains("$1::text[]"), "{sql}");
        assert!(sql.contains("$4::int8[]"), "{sql}");
        assert!(sql.contains("$24::text[]"), "{sql}");
        assert!(!sql.contains("$25"), "{sql}");
        assert!(
            sql.contains("ON CONFLICT (tenant_id, id) DO NOTHING RETURNING"),
            "{sql}"
        );
        assert!(
            sql.contains("ON CONFLICT (tenant_id, hour, model, provider, api_key_id) DO UPDATE"),
            "{sql}"
        );
    }

    #[test]
    fn nul_characters_become_replacement_characters() {
        assert!(matches!(storable("plain ü"), Cow::Borrowed("plain ü")));
        assert_eq!(storable("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        let mut r = LogRecord {
            id: "log_1".into(),
            response_body: Some("x\0".into()),
            ..LogRecord::default()
        };
        assert!(has_nul(&r));
        let clean = storable_record(&r);
        assert!(!has_nul(&clean));
        r.response_body = Some("x\u{FFFD}".into());
        assert_eq!(clean, r, "every other field as it was");
    }

    #[test]
    fn columns_transpose_rows() {
        let rows = vec![
            [Bind::Text(Some("a")), Bind::Int(Some(1))],
            [Bind::Text(None), Bind::Int(Some(2))],
        ];
        let cols = columns(rows.into_iter());
        match (&cols[0], &cols[1]) {
            (Column::Text(t), Column::Int(n)) => {
                assert_eq!(t, &vec![Some("a"), None]);
                assert_eq!(n, &vec![Some(1), Some(2)]);
            }
            _ => panic!("column kinds"),
        }
    }
}
