//! What the SQLite and Postgres backends share: the SQL both accept, the request-log and
//! usage helpers, and [`store_impl!`], which writes every [`crate::Store`] method whose SQL is
//! the same for both once, for either backend's pool.
//!
//! A macro rather than generic functions over `sqlx::Database`: each query would need a
//! bound per bound and decoded type, per database, and the text of the queries is what is
//! shared. A backend supplies, as inherent items: `pool` (its sqlx pool),
//! `run_migrations`, `write_logs(records, background)` and `RETENTION_DELETE` (deletes up
//! to `$2` records created before `$1`); and, as the macro's third argument, what makes a
//! text parameter storable.

use std::collections::BTreeMap;

use crate::crypto::Sealed;
use crate::logs::{cost_from_e10, cost_to_e10, LogRecord, UsageRow};

/// Columns of a request-log row, each bound once per row.
pub(crate) const LOG_COLUMNS: usize = 24;

/// A value bound to a log or usage statement, as both writers (the pool's for databases in
/// memory, the log thread's for files) bind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bind<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

/// The columns of `request_logs`, in [`log_values`]' order: the one list of them, which every
/// backend's INSERT and the SELECT are built from.
pub(crate) const LOG_COLUMN_NAMES: [&str; LOG_COLUMNS] = [
    "id",
    "tenant_id",
    "api_key_id",
    "created_at",
    "endpoint",
    "model_requested",
    "model",
    "provider",
    "category",
    "status",
    "error_type",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cost_e10",
    "latency_ms",
    "ttft_ms",
    "streamed",
    "routing",
    "preprocessing",
    "metadata",
    "request_body",
    "response_body",
];

/// A record's values in [`LOG_COLUMN_NAMES`]' order. Text borrows from the record.
pub(crate) fn log_values(r: &LogRecord) -> [Bind<'_>; LOG_COLUMNS] {
    use Bind::{Int, Text};
    [
        Text(Some(&r.id)),
        Text(Some(&r.tenant_id)),
        Text(Some(&r.api_key_id)),
        Int(Some(r.created_at_ms)),
        Text(Some(&r.endpoint)),
        Text(r.model_requested.as_deref()),
        Text(r.model.as_deref()),
        Text(r.provider.as_deref()),
        Text(r.category.as_deref()),
        Int(Some(i64::from(r.status))),
        Text(r.error_type.as_deref()),
        Text(r.error_message.as_deref()),
        Int(Some(clamp(r.input_tokens))),
        Int(Some(clamp(r.output_tokens))),
        Int(Some(clamp(r.cached_tokens))),
        Int(Some(cost_to_e10(r.cost_usd))),
        Int(Some(clamp(r.latency_ms))),
        Int(r.ttft_ms.map(clamp)),
        Int(Some(i64::from(r.streamed))),
        Text(r.routing.as_deref()),
        Text(r.preprocessing.as_deref()),
        Text(r.metadata.as_deref()),
        Text(r.request_body.as_deref()),
        Text(r.response_body.as_deref()),
    ]
}

/// An hourly usage row's values in [`USAGE_UPSERT`]'s order.
pub(crate) fn usage_values<'a>(k: &HourKey<'a>, v: &Sums) -> [Bind<'a>; 11] {
    use Bind::{Int, Text};
    [
        Text(Some(k.tenant_id)),
        Int(Some(k.hour)),
        Text(Some(k.model)),
        Text(Some(k.provider)),
        Text(Some(k.api_key_id)),
        Int(Some(v.requests)),
        Int(Some(v.errors)),
        Int(Some(v.input_tokens)),
        Int(Some(v.output_tokens)),
        Int(Some(v.cached_tokens)),
        Int(Some(v.cost_e10)),
    ]
}

/// `SELECT` of every `request_logs` column ([`LOG_COLUMN_NAMES`]), built once.
pub(crate) fn log_select() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {} FROM request_logs", LOG_COLUMN_NAMES.join(", ")))
}

pub(crate) const PK_SELECT: &str = "SELECT tenant_id, provider, version, master_key_id, nonce, ciphertext, account_id, last4, updated_at FROM provider_keys";

pub(crate) fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn unclamp(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The start of the hour holding `ms` (saturating: callers' bounds may be extreme).
pub(crate) fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS).saturating_mul(HOUR_MS)
}

pub(crate) const USAGE_UPSERT: &str =
    "INSERT INTO usage_hourly (tenant_id, hour, model, provider, api_key_id, \
     requests, errors, input_tokens, output_tokens, cached_tokens, cost_e10) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (tenant_id, hour, model, provider, api_key_id) DO UPDATE SET \
     requests = usage_hourly.requests + excluded.requests, \
     errors = usage_hourly.errors + excluded.errors, \
     input_tokens = usage_hourly.input_tokens + excluded.input_tokens, \
     output_tokens = usage_hourly.output_tokens + excluded.output_tokens, \
     cached_tokens = usage_hourly.cached_tokens + excluded.cached_tokens, \
     cost_e10 = usage_hourly.cost_e10 + excluded.cost_e10";

/// Where usage is summed from: the records, or the hourly sums beside them.
pub(crate) struct UsageSource {
    pub(crate) table: &'static str,
    /// The time column the window applies to.
    pub(crate) time: &'static str,
    /// The day-bucket expression (an integer, named in Rust: portable SQL).
    pub(crate) day: &'static str,
    /// The summed columns, named as `usage_part` reads them. Postgres sums BIGINTs as
    /// NUMERIC, hence the casts back (a no-op for SQLite's integers).
    pub(crate) sums: &'static str,
}

pub(crate) const RECORDS: UsageSource = UsageSource {
    table: "request_logs",
    time: "created_at",
    day: "CAST(created_at / 86400000 AS TEXT)",
    sums: "COUNT(*) AS requests, \
           CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS BIGINT) AS errors, \
           CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS i, \
           CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS o, \
           CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS c, \
           CAST(COALESCE(SUM(cost_e10), 0) AS BIGINT) AS cost",
};

pub(crate) const HOURLY: UsageSource = UsageSource {
    table: "usage_hourly",
    time: "hour",
    day: "CAST(hour / 86400000 AS TEXT)",
    sums: "CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests, \
           CAST(COALESCE(SUM(errors), 0) AS BIGINT) AS errors, \
           CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS i, \
           CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS o, \
           CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS c, \
           CAST(COALESCE(SUM(cost_e10), 0) AS BIGINT) AS cost",
};

/// One hourly usage row's key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HourKey<'a> {
    pub(crate) tenant_id: &'a str,
    pub(crate) hour: i64,
    pub(crate) model: &'a str,
    pub(crate) provider: &'a str,
    pub(crate) api_key_id: &'a str,
}

/// Sums, in the database's integer units.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sums {
    pub(crate) requests: i64,
    pub(crate) errors: i64,
    pub(crate) input_tokens: i64,
    pub(crate) output_tokens: i64,
    pub(crate) cached_tokens: i64,
    pub(crate) cost_e10: i64,
}

impl Sums {
    /// One record's contribution.
    pub(crate) fn of(r: &LogRecord) -> Sums {
        Sums {
            requests: 1,
            errors: i64::from(r.status >= 400),
            input_tokens: clamp(r.input_tokens),
            output_tokens: clamp(r.output_tokens),
            cached_tokens: clamp(r.cached_tokens),
            cost_e10: cost_to_e10(r.cost_usd),
        }
    }

    pub(crate) fn add(&mut self, o: &Sums) {
        self.requests = self.requests.saturating_add(o.requests);
        self.errors = self.errors.saturating_add(o.errors);
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(o.cached_tokens);
        self.cost_e10 = self.cost_e10.saturating_add(o.cost_e10);
    }

    pub(crate) fn row(&self, key: String) -> UsageRow {
        UsageRow {
            key,
            requests: unclamp(self.requests),
            errors: unclamp(self.errors),
            input_tokens: unclamp(self.input_tokens),
            output_tokens: unclamp(self.output_tokens),
            cached_tokens: unclamp(self.cached_tokens),
            cost_usd: cost_from_e10(self.cost_e10),
        }
    }
}

/// A batch of records summed per tenant, hour, model, provider and key.
pub(crate) fn rollup(records: &[LogRecord]) -> BTreeMap<HourKey<'_>, Sums> {
    let mut out: BTreeMap<HourKey<'_>, Sums> = BTreeMap::new();
    for r in records {
        let key = HourKey {
            tenant_id: &r.tenant_id,
            hour: hour_of(r.created_at_ms),
            model: r.model.as_deref().unwrap_or(""),
            provider: r.provider.as_deref().unwrap_or(""),
            api_key_id: &r.api_key_id,
        };
        out.entry(key).or_default().add(&Sums::of(r));
    }
    out
}

/// Day number since the epoch → `YYYY-MM-DD`.
pub(crate) fn day_name(day: i64) -> String {
    crate::rfc3339(day * 86_400_000)
        .get(..10)
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn sealed_parts(s: Option<&Sealed>) -> (Option<&str>, Option<&str>, Option<&str>) {
    match s {
        Some(s) => (Some(&s.master_key_id), Some(&s.nonce), Some(&s.ciphertext)),
        None => (None, None, None),
    }
}

/// The [`crate::Store`] methods both backends share, for `$store` on database `$db`; every
/// text parameter goes through `$text` (`fn(&str) -> Cow<str>`), which makes it storable.
macro_rules! store_impl {
    ($store:ty, $db:ty, $text:path) => {
        const _: () = {
            /// A text parameter as the backend stores it (`$text`: see the backends).
            fn t(s: &str) -> std::borrow::Cow<'_, str> {
                $text(s)
            }

            fn o(s: Option<&str>) -> Option<std::borrow::Cow<'_, str>> {
                s.map(t)
            }

            use std::collections::BTreeMap;
            use std::sync::Arc;

            use sqlx::{QueryBuilder, Row};

            use $crate::crypto::Sealed;
            use $crate::keys::{generate_api_key, hash_secret};
            use $crate::logs::{cost_from_e10, GroupBy, LogFilter, LogRecord, UsageRow};
            use $crate::portable::{
                day_name, hour_of, sealed_parts, unclamp, Sums, UsageSource, HOURLY, HOUR_MS,
                log_select, PK_SELECT, RECORDS,
            };
            use $crate::{
                new_id, now_ms, ApiKeyListing, ApiKeyRecord, NewApiKey, ProviderKeyRecord,
                StoreError, Tenant,
            };

            impl $store {
                /// Runs one migration's statements in `tx` and records its version there.
                async fn apply_migration(
                    tx: &mut sqlx::Transaction<'_, $db>,
                    version: i64,
                    sql: &str,
                ) -> Result<(), StoreError> {
                    for stmt in $crate::migrate::statements(sql) {
                        sqlx::query(&stmt)
                            .execute(&mut **tx)
                            .await
                            .map_err(|e| StoreError::Migration {
                                version,
                                message: e.to_string(),
                            })?;
                    }
                    sqlx::query(
                        "INSERT INTO neureus_migrations (version, applied_at) VALUES ($1, $2)",
                    )
                    .bind(version)
                    .bind(now_ms())
                    .execute(&mut **tx)
                    .await?;
                    Ok(())
                }

                    async fn insert_key(&self, tenant_id: &str) -> Result<NewApiKey, StoreError> {
                        let (parts, text) = generate_api_key();
                        let key_id = format!("key_{}", parts.public_id);
                        sqlx::query(
                            "INSERT INTO api_keys (id, public_id, tenant_id, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(t(&key_id))
                        .bind(t(&parts.public_id))
                        .bind(t(tenant_id))
                        .bind(hash_secret(&parts.secret))
                        .bind(now_ms())
                        .execute(&self.pool)
                        .await?;
                        Ok(NewApiKey {
                            key_id,
                            api_key: neureus_types::Secret::new(text),
                        })
                    }

                /// Adds usage over [from_ms, to_ms) from `src` to `sums` (for [`HOURLY`] the window must
                /// be whole hours).
                async fn usage_part(
                    &self,
                    sums: &mut BTreeMap<String, Sums>,
                    src: &UsageSource,
                    tenant_id: &str,
                    from_ms: i64,
                    to_ms: i64,
                    group_by: GroupBy,
                ) -> Result<(), StoreError> {
                    if from_ms >= to_ms {
                        return Ok(());
                    }
                    // COALESCE: the records' model and provider may be NULL; the hourly sums hold ''.
                    let key = match group_by {
                        GroupBy::Model => "COALESCE(model, '')",
                        GroupBy::Provider => "COALESCE(provider, '')",
                        GroupBy::Day => src.day,
                        GroupBy::ApiKey => "api_key_id",
                    };
                    let mut qb = QueryBuilder::<$db>::new("SELECT ");
                    qb.push(key)
                        .push(" AS k, ")
                        .push(src.sums)
                        .push(" FROM ")
                        .push(src.table)
                        .push(" WHERE tenant_id = ")
                        .push_bind(t(tenant_id))
                        .push(" AND ")
                        .push(src.time)
                        .push(" >= ")
                        .push_bind(from_ms)
                        .push(" AND ")
                        .push(src.time)
                        .push(" < ")
                        .push_bind(to_ms)
                        .push(" GROUP BY k");
                    for r in qb.build().fetch_all(&self.pool).await? {
                        let k: String = r.try_get("k")?;
                        sums.entry(k).or_default().add(&Sums {
                            requests: r.try_get("requests")?,
                            errors: r.try_get("errors")?,
                            input_tokens: r.try_get("i")?,
                            output_tokens: r.try_get("o")?,
                            cached_tokens: r.try_get("c")?,
                            cost_e10: r.try_get("cost")?,
                        });
                    }
                    Ok(())
                }
            }

            fn log_row(r: &<$db as sqlx::Database>::Row) -> Result<LogRecord, StoreError> {
                Ok(LogRecord {
                    id: r.try_get("id")?,
                    tenant_id: r.try_get("tenant_id")?,
                    api_key_id: r.try_get("api_key_id")?,
                    created_at_ms: r.try_get("created_at")?,
                    endpoint: r.try_get("endpoint")?,
                    model_requested: r.try_get("model_requested")?,
                    model: r.try_get("model")?,
                    provider: r.try_get("provider")?,
                    category: r.try_get("category")?,
                    status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
                    error_type: r.try_get("error_type")?,
                    error_message: r.try_get("error_message")?,
                    input_tokens: unclamp(r.try_get("input_tokens")?),
                    output_tokens: unclamp(r.try_get("output_tokens")?),
                    cached_tokens: unclamp(r.try_get("cached_tokens")?),
                    cost_usd: cost_from_e10(r.try_get("cost_e10")?),
                    latency_ms: unclamp(r.try_get("latency_ms")?),
                    ttft_ms: r.try_get::<Option<i64>, _>("ttft_ms")?.map(unclamp),
                    streamed: r.try_get::<i64, _>("streamed")? != 0,
                    routing: r.try_get("routing")?,
                    preprocessing: r.try_get("preprocessing")?,
                    metadata: r.try_get("metadata")?,
                    request_body: r.try_get("request_body")?,
                    response_body: r.try_get("response_body")?,
                })
            }

            fn provider_key_row(r: &<$db as sqlx::Database>::Row) -> Result<ProviderKeyRecord, StoreError> {
                let mk: Option<String> = r.try_get("master_key_id")?;
                let nonce: Option<String> = r.try_get("nonce")?;
                let ct: Option<String> = r.try_get("ciphertext")?;
                let sealed = match (mk, nonce, ct) {
                    (Some(master_key_id), Some(nonce), Some(ciphertext)) => Some(Sealed {
                        master_key_id,
                        nonce,
                        ciphertext,
                    }),
                    _ => None,
                };
                Ok(ProviderKeyRecord {
                    tenant_id: r.try_get("tenant_id")?,
                    provider: r.try_get("provider")?,
                    version: r.try_get("version")?,
                    sealed,
                    account_id: r.try_get("account_id")?,
                    last4: r.try_get("last4")?,
                    updated_at_ms: r.try_get("updated_at")?,
                })
            }

            #[async_trait::async_trait]
            impl $crate::Store for $store {
                async fn migrate(&self) -> Result<(), StoreError> {
                    self.run_migrations().await
                }

                async fn insert_logs(&self, records: Arc<[LogRecord]>) -> Result<(), StoreError> {
                    self.write_logs(records, false).await
                }

                async fn insert_logs_background(&self, records: Arc<[LogRecord]>) -> Result<(), StoreError> {
                    self.write_logs(records, true).await
                }

                async fn create_tenant(&self, name: &str) -> Result<(Tenant, NewApiKey), StoreError> {
                    let tenant = Tenant {
                        id: new_id("ten"),
                        name: name.to_owned(),
                        created_at_ms: now_ms(),
                    };
                    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                        .bind(t(&tenant.id))
                        .bind(t(&tenant.name))
                        .bind(tenant.created_at_ms)
                        .execute(&self.pool)
                        .await?;
                    let key = self.insert_key(&tenant.id).await?;
                    Ok((tenant, key))
                }

                async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
                    let rows = sqlx::query("SELECT id, name, created_at FROM tenants ORDER BY created_at, id")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Tenant {
                                id: r.try_get("id")?,
                                name: r.try_get("name")?,
                                created_at_ms: r.try_get("created_at")?,
                            })
                        })
                        .collect()
                }

                async fn create_api_key(&self, tenant_id: &str) -> Result<NewApiKey, StoreError> {
                    let exists = sqlx::query("SELECT 1 FROM tenants WHERE id = $1")
                        .bind(t(tenant_id))
                        .fetch_optional(&self.pool)
                        .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("tenant {tenant_id}")));
                    }
                    self.insert_key(tenant_id).await
                }

                async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError> {
                    let r =
                        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                            .bind(now_ms())
                            .bind(t(key_id))
                            .execute(&self.pool)
                            .await?;
                    if r.rows_affected() > 0 {
                        return Ok(true);
                    }
                    let exists = sqlx::query("SELECT 1 FROM api_keys WHERE id = $1")
                        .bind(t(key_id))
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(exists.is_some())
                }

                async fn find_api_key(&self, public_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
                    let row = sqlx::query(
                        "SELECT id, public_id, tenant_id, secret_hash, revoked_at FROM api_keys WHERE public_id = $1",
                    )
                    .bind(t(public_id))
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|r| {
                        Ok(ApiKeyRecord {
                            id: r.try_get("id")?,
                            public_id: r.try_get("public_id")?,
                            tenant_id: r.try_get("tenant_id")?,
                            secret_hash: r.try_get("secret_hash")?,
                            revoked_at_ms: r.try_get("revoked_at")?,
                        })
                    })
                    .transpose()
                }

                async fn revoked_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError> {
                    let rows = sqlx::query("SELECT public_id FROM api_keys WHERE revoked_at >= $1")
                        .bind(since_ms)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(|r| Ok(r.try_get("public_id")?)).collect()
                }

                async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError> {
                    let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = $1")
                        .bind(t(tenant_id))
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|r| {
                        Ok(Tenant {
                            id: r.try_get("id")?,
                            name: r.try_get("name")?,
                            created_at_ms: r.try_get("created_at")?,
                        })
                    })
                    .transpose()
                }

                async fn list_api_keys(&self, tenant_id: &str) -> Result<Vec<ApiKeyListing>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT id, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
                    )
                    .bind(t(tenant_id))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(ApiKeyListing {
                                id: r.try_get("id")?,
                                created_at_ms: r.try_get("created_at")?,
                                revoked_at_ms: r.try_get("revoked_at")?,
                            })
                        })
                        .collect()
                }

                async fn get_provider_key(
                    &self,
                    tenant_id: &str,
                    provider: &str,
                ) -> Result<Option<ProviderKeyRecord>, StoreError> {
                    let row = sqlx::query(&format!(
                        "{PK_SELECT} WHERE tenant_id = $1 AND provider = $2"
                    ))
                    .bind(t(tenant_id))
                    .bind(t(provider))
                    .fetch_optional(&self.pool)
                    .await?;
                    row.as_ref().map(provider_key_row).transpose()
                }

                async fn list_provider_keys(
                    &self,
                    tenant_id: &str,
                ) -> Result<Vec<ProviderKeyRecord>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "{PK_SELECT} WHERE tenant_id = $1 ORDER BY provider"
                    ))
                    .bind(t(tenant_id))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(provider_key_row).collect()
                }

                async fn write_provider_key(
                    &self,
                    rec: &ProviderKeyRecord,
                    expected_version: Option<i64>,
                ) -> Result<bool, StoreError> {
                    let (mk, nonce, ct) = sealed_parts(rec.sealed.as_ref());
                    let result = match expected_version {
                        None => {
                            sqlx::query(
                                "INSERT INTO provider_keys (tenant_id, provider, version, master_key_id, nonce, ciphertext, account_id, last4, updated_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, provider) DO NOTHING",
                            )
                            .bind(t(&rec.tenant_id))
                            .bind(t(&rec.provider))
                            .bind(rec.version)
                            .bind(o(mk))
                            .bind(o(nonce))
                            .bind(o(ct))
                            .bind(o(rec.account_id.as_deref()))
                            .bind(o(rec.last4.as_deref()))
                            .bind(rec.updated_at_ms)
                            .execute(&self.pool)
                            .await?
                        }
                        Some(expected) => {
                            sqlx::query(
                                "UPDATE provider_keys SET version = $1, master_key_id = $2, nonce = $3, ciphertext = $4,
                                 account_id = $5, last4 = $6, updated_at = $7
                                 WHERE tenant_id = $8 AND provider = $9 AND version = $10",
                            )
                            .bind(rec.version)
                            .bind(o(mk))
                            .bind(o(nonce))
                            .bind(o(ct))
                            .bind(o(rec.account_id.as_deref()))
                            .bind(o(rec.last4.as_deref()))
                            .bind(rec.updated_at_ms)
                            .bind(t(&rec.tenant_id))
                            .bind(t(&rec.provider))
                            .bind(expected)
                            .execute(&self.pool)
                            .await?
                        }
                    };
                    Ok(result.rows_affected() == 1)
                }

                async fn provider_keys_changed_since(
                    &self,
                    since_ms: i64,
                ) -> Result<Vec<(String, String)>, StoreError> {
                    let rows =
                        sqlx::query("SELECT tenant_id, provider FROM provider_keys WHERE updated_at >= $1")
                            .bind(since_ms)
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("tenant_id")?, r.try_get("provider")?)))
                        .collect()
                }

                async fn sealed_provider_keys(&self) -> Result<Vec<ProviderKeyRecord>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "{PK_SELECT} WHERE ciphertext IS NOT NULL ORDER BY tenant_id, provider"
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(provider_key_row).collect()
                }

                async fn reseal_provider_key(
                    &self,
                    rec: &ProviderKeyRecord,
                    old_master_key_id: &str,
                    new: &Sealed,
                ) -> Result<bool, StoreError> {
                    // updated_at is left alone: the key itself did not change, caches stay valid.
                    let r = sqlx::query(
                        "UPDATE provider_keys SET master_key_id = $1, nonce = $2, ciphertext = $3
                         WHERE tenant_id = $4 AND provider = $5 AND version = $6 AND master_key_id = $7",
                    )
                    .bind(t(&new.master_key_id))
                    .bind(t(&new.nonce))
                    .bind(t(&new.ciphertext))
                    .bind(t(&rec.tenant_id))
                    .bind(t(&rec.provider))
                    .bind(rec.version)
                    .bind(t(old_master_key_id))
                    .execute(&self.pool)
                    .await?;
                    Ok(r.rows_affected() == 1)
                }

                async fn tenant_settings(&self, tenant_id: &str) -> Result<Option<String>, StoreError> {
                    let row = sqlx::query("SELECT settings FROM tenants WHERE id = $1")
                        .bind(t(tenant_id))
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|r| Ok(r.try_get("settings")?)).transpose()
                }

                async fn set_tenant_settings(&self, tenant_id: &str, json: &str) -> Result<bool, StoreError> {
                    let r = sqlx::query("UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3")
                        .bind(t(json))
                        .bind(now_ms())
                        .bind(t(tenant_id))
                        .execute(&self.pool)
                        .await?;
                    Ok(r.rows_affected() == 1)
                }

                async fn tenants_changed_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError> {
                    let rows = sqlx::query("SELECT id FROM tenants WHERE updated_at >= $1")
                        .bind(since_ms)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
                }


                async fn list_logs(
                    &self,
                    tenant_id: &str,
                    f: &LogFilter,
                    limit: u32,
                ) -> Result<Vec<LogRecord>, StoreError> {
                    let mut qb = QueryBuilder::<$db>::new(log_select());
                    qb.push(" WHERE tenant_id = ").push_bind(t(tenant_id));
                    if let Some(m) = &f.model {
                        qb.push(" AND model = ").push_bind(t(m));
                    }
                    if let Some(p) = &f.provider {
                        qb.push(" AND provider = ").push_bind(t(p));
                    }
                    if let Some(s) = f.status {
                        qb.push(" AND status = ").push_bind(i64::from(s));
                        if s != 200 {
                            // Implies request_logs_tenant_failed_idx's `WHERE status <> 200` in words
                            // the planner can see (neither SQLite's nor Postgres's infers it from a bound value).
                            qb.push(" AND status <> 200");
                        }
                    }
                    if let Some(t) = f.from_ms {
                        qb.push(" AND created_at >= ").push_bind(t);
                    }
                    if let Some(t) = f.to_ms {
                        qb.push(" AND created_at < ").push_bind(t);
                    }
                    if let Some(b) = &f.before {
                        qb.push(" AND id < ").push_bind(t(b));
                    }
                    qb.push(" ORDER BY id DESC LIMIT ")
                        .push_bind(i64::from(limit));
                    let rows = qb.build().fetch_all(&self.pool).await?;
                    rows.iter().map(log_row).collect()
                }

                async fn get_log(
                    &self,
                    tenant_id: &str,
                    log_id: &str,
                ) -> Result<Option<LogRecord>, StoreError> {
                    let row = sqlx::query(&format!("{} WHERE tenant_id = $1 AND id = $2", log_select()))
                        .bind(t(tenant_id))
                        .bind(t(log_id))
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(log_row).transpose()
                }

                async fn usage(
                    &self,
                    tenant_id: &str,
                    from_ms: i64,
                    to_ms: i64,
                    group_by: GroupBy,
                ) -> Result<(UsageRow, Vec<UsageRow>), StoreError> {
                    // Whole hours come from usage_hourly; the partial hours at either edge from the
                    // records themselves, so any range is exact.
                    // Saturating (here and in `hour_of`): `from` and `to` come from the caller.
                    let first_hour = if from_ms.rem_euclid(HOUR_MS) == 0 {
                        from_ms
                    } else {
                        hour_of(from_ms).saturating_add(HOUR_MS)
                    };
                    let last_hour = hour_of(to_ms);
                    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
                    if first_hour < last_hour {
                        self.usage_part(
                            &mut sums, &HOURLY, tenant_id, first_hour, last_hour, group_by,
                        )
                        .await?;
                        self.usage_part(
                            &mut sums, &RECORDS, tenant_id, from_ms, first_hour, group_by,
                        )
                        .await?;
                        self.usage_part(&mut sums, &RECORDS, tenant_id, last_hour, to_ms, group_by)
                            .await?;
                    } else {
                        self.usage_part(&mut sums, &RECORDS, tenant_id, from_ms, to_ms, group_by)
                            .await?;
                    }
                    let mut total = Sums::default();
                    let mut groups = Vec::with_capacity(sums.len());
                    for (k, v) in sums {
                        total.add(&v);
                        let key = match group_by {
                            GroupBy::Day => day_name(k.parse().unwrap_or(0)),
                            _ => k,
                        };
                        groups.push(v.row(key));
                    }
                    Ok((total.row(String::new()), groups))
                }

                async fn delete_logs_before(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
                    let r = sqlx::query(Self::RETENTION_DELETE)
                        .bind(before_ms)
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    if r.rows_affected() < u64::from(limit) {
                        // The last batch of this pass: usage rows of hours wholly before the cutoff go
                        // too, so usage and records cover the same period.
                        // `hour <= cutoff - 1 h` rather than `hour + 1 h <= cutoff`: a bare column, so
                        // usage_hourly_hour_idx serves it.
                        sqlx::query("DELETE FROM usage_hourly WHERE hour <= $1")
                            .bind(before_ms.saturating_sub(HOUR_MS))
                            .execute(&self.pool)
                            .await?;
                    }
                    Ok(r.rows_affected())
                }

                async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
                    let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
                        .bind(t(name))
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|r| Ok(r.try_get("value")?)).transpose()
                }

                async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    )
                    .bind(t(name))
                    .bind(t(value))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}

pub(crate) use store_impl;
