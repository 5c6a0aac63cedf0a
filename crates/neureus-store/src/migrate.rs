//! A minimal migration runner: versioned SQL files compiled in, applied in order, each in a
//! transaction, recorded in `neureus_migrations`. Hand-rolled because `sqlx::migrate!` pulls
//! in the macro stack for every driver, and ours must also run the same files on Postgres.

/// (version, SQL) for SQLite, in order.
pub(crate) const SQLITE: &[(i64, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_tenants_and_keys.sql"),
    ),
    (
        2,
        include_str!("../migrations/sqlite/0002_provider_keys.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_tenant_settings.sql"),
    ),
];

/// The bookkeeping table.
pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS neureus_migrations (
    version BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
)";
