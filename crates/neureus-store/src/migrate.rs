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
    (
        4,
        include_str!("../migrations/sqlite/0004_request_logs.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_usage_hourly_and_log_filters.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_leaner_log_indexes.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_log_id_unique_per_tenant.sql"),
    ),
];

/// (version, SQL) for Postgres, in order. A Postgres database starts from the schema SQLite's
/// migrations lead to; later changes are added to both lists.
pub(crate) const POSTGRES: &[(i64, &str)] =
    &[(1, include_str!("../migrations/postgres/0001_schema.sql"))];

/// A migration's statements, comment lines removed (migrations hold no `;` in literals).
pub(crate) fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The bookkeeping table.
pub(crate) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS neureus_migrations (
    version BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
)";

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_registered_in_order() {
        for (backend, list) in [("sqlite", super::SQLITE), ("postgres", super::POSTGRES)] {
            registered_in_order(backend, list);
        }
    }

    #[test]
    fn statements_are_split_without_comments() {
        let got =
            super::statements("-- a; comment\nCREATE TABLE a (x INT);\n\n  -- b\nDROP TABLE b;\n");
        assert_eq!(got, ["CREATE TABLE a (x INT)", "DROP TABLE b"]);
    }

    fn registered_in_order(backend: &str, list: &[(i64, &str)]) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(
            files.len(),
            list.len(),
            "a {backend} migration file is not listed"
        );
        for (i, (v, _)) in list.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
            assert!(files[i].starts_with(&format!("{:04}_", v)));
        }
    }
}
