//! The embedded SQLite backend (WAL, so the CLI can write beside a running `serve`).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::crypto::Sealed;
use crate::keys::{generate_api_key, hash_secret};
use crate::{
    migrate, new_id, now_ms, ApiKeyListing, ApiKeyRecord, NewApiKey, ProviderKeyRecord, Store,
    StoreError, Tenant,
};

/// SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) `sqlite://PATH` or `sqlite::memory:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:");
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { pool })
    }

    /// Opens the database file `path`.
    pub async fn open_file(path: &std::path::Path) -> Result<Self, StoreError> {
        Self::connect(&format!("sqlite://{}", path.display())).await
    }

    /// Applies one migration in a transaction unless already recorded.
    fn apply(
        &self,
        version: i64,
        sql: &'static str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + '_>>
    {
        // Boxed: async-trait's Send check cannot see through `&mut *tx` in a loop.
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query("SELECT 1 FROM neureus_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                return Ok(());
            }
            // Statement by statement: migrations hold no `;` inside literals.
            for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(stmt)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::Migration {
                        version,
                        message: e.to_string(),
                    })?;
            }
            sqlx::query("INSERT INTO neureus_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn insert_key(&self, tenant_id: &str) -> Result<NewApiKey, StoreError> {
        let (parts, text) = generate_api_key();
        let key_id = format!("key_{}", parts.public_id);
        sqlx::query(
            "INSERT INTO api_keys (id, public_id, tenant_id, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key_id)
        .bind(&parts.public_id)
        .bind(tenant_id)
        .bind(hash_secret(&parts.secret))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(NewApiKey {
            key_id,
            api_key: neureus_types::Secret::new(text),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query(migrate::CREATE_TABLE)
            .execute(&self.pool)
            .await?;
        for &(version, sql) in migrate::SQLITE {
            self.apply(version, sql).await?;
        }
        Ok(())
    }

    async fn create_tenant(&self, name: &str) -> Result<(Tenant, NewApiKey), StoreError> {
        let tenant = Tenant {
            id: new_id("ten"),
            name: name.to_owned(),
            created_at_ms: now_ms(),
        };
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&tenant.id)
            .bind(&tenant.name)
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
            .bind(tenant_id)
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
                .bind(key_id)
                .execute(&self.pool)
                .await?;
        if r.rows_affected() > 0 {
            return Ok(true);
        }
        let exists = sqlx::query("SELECT 1 FROM api_keys WHERE id = $1")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(exists.is_some())
    }

    async fn find_api_key(&self, public_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, public_id, tenant_id, secret_hash, revoked_at FROM api_keys WHERE public_id = $1",
        )
        .bind(public_id)
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
            .bind(tenant_id)
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
        .bind(tenant_id)
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
        .bind(tenant_id)
        .bind(provider)
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
        .bind(tenant_id)
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
                .bind(&rec.tenant_id)
                .bind(&rec.provider)
                .bind(rec.version)
                .bind(mk)
                .bind(nonce)
                .bind(ct)
                .bind(&rec.account_id)
                .bind(&rec.last4)
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
                .bind(mk)
                .bind(nonce)
                .bind(ct)
                .bind(&rec.account_id)
                .bind(&rec.last4)
                .bind(rec.updated_at_ms)
                .bind(&rec.tenant_id)
                .bind(&rec.provider)
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
        .bind(&new.master_key_id)
        .bind(&new.nonce)
        .bind(&new.ciphertext)
        .bind(&rec.tenant_id)
        .bind(&rec.provider)
        .bind(rec.version)
        .bind(old_master_key_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn tenant_settings(&self, tenant_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT settings FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("settings")?)).transpose()
    }

    async fn set_tenant_settings(&self, tenant_id: &str, json: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3")
            .bind(json)
            .bind(now_ms())
            .bind(tenant_id)
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

    async fn get_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get("value")?)).transpose()
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

const PK_SELECT: &str = "SELECT tenant_id, provider, version, master_key_id, nonce, ciphertext, account_id, last4, updated_at FROM provider_keys";

fn provider_key_row(r: &sqlx::sqlite::SqliteRow) -> Result<ProviderKeyRecord, StoreError> {
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

fn sealed_parts(s: Option<&Sealed>) -> (Option<&str>, Option<&str>, Option<&str>) {
    match s {
        Some(s) => (Some(&s.master_key_id), Some(&s.nonce), Some(&s.ciphertext)),
        None => (None, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_api_key;

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
