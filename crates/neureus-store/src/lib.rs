//! Storage: the [`Store`] trait the gateway depends on, tenant API keys (format, hashing,
//! constant-time checks), and its two backends: SQLite (embedded, the default) and Postgres
//! (several replicas). [`open`] picks one by the URL's scheme.

pub mod byok;
mod checkpoint;
pub mod crypto;
pub mod keyfile;
mod keys;
mod logdb;
pub mod logs;
mod migrate;
mod portable;
mod postgres;
mod sqlite;

use async_trait::async_trait;

pub use keyfile::{load_keyring, KeyringError, KeyringSource};
pub use keys::{
    generate_api_key, hash_secret, parse_api_key, split_api_key, verify_secret, ApiKeyParts,
    KeyFormatError,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A migration failed.
    #[error("migration {version} failed: {message}")]
    Migration {
        /// Migration version.
        version: i64,
        /// What failed.
        message: String,
    },
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The database URL cannot be used.
    #[error("unsupported database url: {0}")]
    Url(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// `ten_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time, unix milliseconds.
    pub created_at_ms: i64,
}

/// A stored API key (only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// `key_…`
    pub id: String,
    /// The public part of the key, used for look-up.
    pub public_id: String,
    /// Owner.
    pub tenant_id: String,
    /// Lowercase hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// Revocation time, unix milliseconds.
    pub revoked_at_ms: Option<i64>,
}

/// A newly created key: the only moment its plain text exists.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// `key_…`
    pub key_id: String,
    /// `nru_…`
    pub api_key: neureus_types::Secret,
}

/// A tenant's own key for one provider. `sealed` is `None` once deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderKeyRecord {
    /// Owner.
    pub tenant_id: String,
    /// Provider name (`openai`, `anthropic`, `workers-ai`).
    pub provider: String,
    /// Bumped by every PUT, rotate and DELETE.
    pub version: i64,
    /// The sealed key, absent after DELETE.
    pub sealed: Option<crypto::Sealed>,
    /// Workers AI account id (not secret).
    pub account_id: Option<String>,
    /// Last four characters of the key, the only part ever shown.
    pub last4: Option<String>,
    /// Last change, unix milliseconds.
    pub updated_at_ms: i64,
}

/// Everything the gateway persists. Every tenant-owned query takes the tenant id.
#[async_trait]
pub trait Store: Send + Sync {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Creates a tenant and its first API key.
    async fn create_tenant(&self, name: &str) -> Result<(Tenant, NewApiKey), StoreError>;
    /// All tenants, oldest first.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Creates an API key for an existing tenant.
    async fn create_api_key(&self, tenant_id: &str) -> Result<NewApiKey, StoreError>;
    /// Revokes a key by id; `false` if no such key.
    async fn revoke_api_key(&self, key_id: &str) -> Result<bool, StoreError>;
    /// Looks a key up by its public id.
    async fn find_api_key(&self, public_id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Public ids of keys revoked at or after `since_ms`.
    async fn revoked_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError>;
    /// A tenant by id.
    async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, StoreError>;
    /// A tenant's API keys (hashes only), oldest first.
    async fn list_api_keys(&self, tenant_id: &str) -> Result<Vec<ApiKeyListing>, StoreError>;

    /// A tenant's key for one provider (deleted rows included).
    async fn get_provider_key(
        &self,
        tenant_id: &str,
        provider: &str,
    ) -> Result<Option<ProviderKeyRecord>, StoreError>;
    /// All of a tenant's provider key rows.
    async fn list_provider_keys(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<ProviderKeyRecord>, StoreError>;
    /// Writes a row if the stored version is still `expected_version` (`None`: no row yet).
    /// Returns whether it was written.
    async fn write_provider_key(
        &self,
        rec: &ProviderKeyRecord,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Rows changed at or after `since_ms`: (tenant id, provider).
    async fn provider_keys_changed_since(
        &self,
        since_ms: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Every row that holds a sealed key (for master-key rotation).
    async fn sealed_provider_keys(&self) -> Result<Vec<ProviderKeyRecord>, StoreError>;
    /// Replaces a row's sealed fields if its version and master key id are unchanged.
    async fn reseal_provider_key(
        &self,
        rec: &ProviderKeyRecord,
        old_master_key_id: &str,
        new: &crypto::Sealed,
    ) -> Result<bool, StoreError>;

    /// A tenant's settings (a JSON object; `{}` when none).
    async fn tenant_settings(&self, tenant_id: &str) -> Result<Option<String>, StoreError>;
    /// Replaces a tenant's settings; `false` if no such tenant.
    async fn set_tenant_settings(&self, tenant_id: &str, json: &str) -> Result<bool, StoreError>;
    /// Tenants whose settings changed at or after `since_ms`.
    async fn tenants_changed_since(&self, since_ms: i64) -> Result<Vec<String>, StoreError>;

    /// Inserts log records in one transaction.
    async fn insert_logs(
        &self,
        records: std::sync::Arc<[logs::LogRecord]>,
    ) -> Result<(), StoreError>;
    /// [`Store::insert_logs`] for a batch that is not urgent: a backend that can write it at a
    /// lower CPU priority does (SQLite files: a second writer thread, 10 nice levels lower),
    /// so requests arriving meanwhile are not kept waiting behind it. The same records end up
    /// written.
    async fn insert_logs_background(
        &self,
        records: std::sync::Arc<[logs::LogRecord]>,
    ) -> Result<(), StoreError> {
        self.insert_logs(records).await
    }
    /// A tenant's records, newest first, at most `limit`.
    async fn list_logs(
        &self,
        tenant_id: &str,
        filter: &logs::LogFilter,
        limit: u32,
    ) -> Result<Vec<logs::LogRecord>, StoreError>;
    /// One of a tenant's records.
    async fn get_log(
        &self,
        tenant_id: &str,
        log_id: &str,
    ) -> Result<Option<logs::LogRecord>, StoreError>;
    /// Usage of a tenant between `from_ms` (inclusive) and `to_ms` (exclusive): totals, then
    /// one row per group.
    async fn usage(
        &self,
        tenant_id: &str,
        from_ms: i64,
        to_ms: i64,
        group_by: logs::GroupBy,
    ) -> Result<(logs::UsageRow, Vec<logs::UsageRow>), StoreError>;
    /// Deletes up to `limit` records older than `before_ms`; returns how many.
    async fn delete_logs_before(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError>;

    /// A named setting.
    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Sets a named setting.
    async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;
}

/// An API key as listed to its owner's admin: never the secret or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyListing {
    /// `key_…`
    pub id: String,
    /// Creation, unix milliseconds.
    pub created_at_ms: i64,
    /// Revocation, unix milliseconds.
    pub revoked_at_ms: Option<i64>,
}

/// Opens the store a database URL names: `sqlite://PATH` or `sqlite::memory:` (embedded),
/// `postgres://…` or `postgresql://…`. Migrations are not applied ([`Store::migrate`]).
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    match Backend::of(url) {
        Some(Backend::Sqlite) => Ok(std::sync::Arc::new(SqliteStore::connect(url).await?)),
        Some(Backend::Postgres) => Ok(std::sync::Arc::new(PgStore::connect(url).await?)),
        None => Err(StoreError::Url(format!(
            "{}: expected sqlite:// or postgres://",
            redact_url(url)
        ))),
    }
}

/// The backends a database URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:…`
    Sqlite,
    /// `postgres://…`, `postgresql://…`
    Postgres,
}

impl Backend {
    /// The backend of `url`, by its scheme.
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// `url` with any password replaced by `***`, for messages and logs: a Postgres URL may hold
/// one (`postgres://user:secret@host/db`).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    // The authority ends at the first '/', '?' or '#'; its user info at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let user_info = &authority[..at];
    let Some(colon) = user_info.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end],
        &user_info[..colon],
        &url[scheme_end + at..]
    )
}

/// A tenant name as given to the admin API or the CLI, trimmed; `Err` says why it cannot be
/// one. Control characters are refused: they would garble `tenants list` on a terminal, and
/// Postgres cannot store a NUL.
pub fn tenant_name(raw: &str) -> Result<&str, &'static str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err("name must be 1-200 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters");
    }
    Ok(name)
}

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Unix milliseconds as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A fresh time-ordered id with a prefix, e.g. `ten_0192…`.
///
/// Written into one allocation of the exact size: every request takes two of these (its
/// request id and its log id), and `format!` with the uuid's `Display` took ~800
/// instructions each (callgrind), this ~a fifth of that.
pub fn new_id(prefix: &str) -> String {
    let mut hex = [0_u8; uuid::fmt::Simple::LENGTH];
    let hex = uuid::Uuid::now_v7().simple().encode_lower(&mut hex);
    let mut id = String::with_capacity(prefix.len() + 1 + hex.len());
    id.push_str(prefix);
    id.push('_');
    id.push_str(hex);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_trimmed_and_checked() {
        assert_eq!(tenant_name("  Acme Ünï 🚀 "), Ok("Acme Ünï 🚀"));
        assert_eq!(tenant_name(&"é".repeat(200)).map(str::len), Ok(400));
        for bad in ["", "   ", "a\0b", "a\nb", "a\u{1b}[31mb"] {
            assert!(tenant_name(bad).is_err(), "{bad:?}");
        }
        assert!(tenant_name(&"a".repeat(201)).is_err());
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        for (url, want) in [
            (
                "postgres://u:s3cret@db:5432/n",
                "postgres://u:***@db:5432/n",
            ),
            (
                "postgresql://u:a@b@db/n?sslmode=require",
                "postgresql://u:***@db/n?sslmode=require",
            ),
            ("postgres://u@db/n", "postgres://u@db/n"),
            ("postgres://db/n?user=u", "postgres://db/n?user=u"),
            ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
            ("sqlite::memory:", "sqlite::memory:"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
        assert_eq!(Backend::of("postgresql://x"), Some(Backend::Postgres));
        assert_eq!(Backend::of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("mysql://x"), None);
    }

    #[test]
    fn new_ids_are_the_prefix_and_a_v7_uuid_in_lowercase_hex() {
        let id = new_id("log");
        let hex = id.strip_prefix("log_").expect(&id);
        assert_eq!(hex.len(), 32, "{id}");
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        let uuid = uuid::Uuid::parse_str(hex).unwrap();
        assert_eq!(uuid.get_version_num(), 7, "{id}");
        assert_eq!(uuid.simple().to_string(), hex);
        assert_ne!(new_id("log"), id);
        assert!(new_id("").starts_with('_'));
    }
}
