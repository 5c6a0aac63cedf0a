//! Tenant provider keys over any [`Store`]: set/rotate/delete with versions bumped by
//! compare-and-swap, the master-key canary checked at start-up, and re-encryption of every
//! stored key under the current master key (rotation).

use neureus_types::Secret;

use crate::crypto::{Binding, CryptoError, Keyring, Sealed};
use crate::{now_ms, ProviderKeyRecord, Store, StoreError};

/// A BYOK operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ByokError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// No key to rotate or delete.
    #[error("no {0} key is registered for this tenant")]
    NoKey(String),
    /// Concurrent writers kept winning.
    #[error("the {0} key is being changed concurrently; try again")]
    Contended(String),
}

/// The binding of a row.
pub fn binding(rec: &ProviderKeyRecord) -> Binding<'_> {
    Binding {
        tenant_id: &rec.tenant_id,
        provider: &rec.provider,
        version: rec.version,
    }
}

/// Stores `key` as the tenant's key for `provider` (version + 1). With `must_exist`, a live
/// key must already be there (rotate).
pub async fn set_key(
    store: &dyn Store,
    keyring: &Keyring,
    tenant_id: &str,
    provider: &str,
    key: &Secret,
    account_id: Option<String>,
    must_exist: bool,
) -> Result<ProviderKeyRecord, ByokError> {
    for _ in 0..8 {
        let current = store.get_provider_key(tenant_id, provider).await?;
        let live = current.as_ref().is_some_and(|c| c.sealed.is_some());
        if must_exist && !live {
            return Err(ByokError::NoKey(provider.to_owned()));
        }
        let version = current.as_ref().map_or(1, |c| c.version + 1);
        let mut rec = ProviderKeyRecord {
            tenant_id: tenant_id.to_owned(),
            provider: provider.to_owned(),
            version,
            sealed: None,
            // A rotate without accountId keeps the account.
            account_id: account_id
                .clone()
                .or_else(|| current.as_ref().and_then(|c| c.account_id.clone())),
            last4: Some(key.last4()),
            updated_at_ms: now_ms(),
        };
        rec.sealed = Some(keyring.seal(key, binding(&rec))?);
        if store
            .write_provider_key(&rec, current.as_ref().map(|c| c.version))
            .await?
        {
            return Ok(rec);
        }
    }
    Err(ByokError::Contended(provider.to_owned()))
}

/// Deletes the tenant's key (a tombstone row with version + 1).
pub async fn delete_key(
    store: &dyn Store,
    tenant_id: &str,
    provider: &str,
) -> Result<ProviderKeyRecord, ByokError> {
    for _ in 0..8 {
        let Some(current) = store
            .get_provider_key(tenant_id, provider)
            .await?
            .filter(|c| c.sealed.is_some())
        else {
            return Err(ByokError::NoKey(provider.to_owned()));
        };
        let rec = ProviderKeyRecord {
            version: current.version + 1,
            sealed: None,
            account_id: None,
            last4: None,
            updated_at_ms: now_ms(),
            ..current.clone()
        };
        if store
            .write_provider_key(&rec, Some(current.version))
            .await?
        {
            return Ok(rec);
        }
    }
    Err(ByokError::Contended(provider.to_owned()))
}

/// Opens a row's key.
pub fn open_key(keyring: &Keyring, rec: &ProviderKeyRecord) -> Result<Option<Secret>, CryptoError> {
    rec.sealed
        .as_ref()
        .map(|s| keyring.open(s, binding(rec)))
        .transpose()
}

const CANARY: &str = "master_key_canary";
const CANARY_TEXT: &[u8] = b"neureus master key canary v1";
const CANARY_BINDING: Binding<'static> = Binding {
    tenant_id: "",
    provider: "canary",
    version: 0,
};

/// Why the master key does not fit the database.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data was sealed with another master key.
    #[error(
        "the master key does not match this database: its keys were sealed with master key {expected}, \
         but the loaded keys are {loaded}. Start with the NEUREUS_MASTER_KEY (or {file}) this data was created with"
    )]
    Mismatch {
        /// Key id the canary names.
        expected: String,
        /// Key ids loaded.
        loaded: String,
        /// The key file name.
        file: &'static str,
    },
    /// The canary cannot be read.
    #[error("the master-key canary is unreadable: {0}")]
    Corrupt(String),
}

fn canary_text(s: &Sealed) -> String {
    format!("{} {} {}", s.master_key_id, s.nonce, s.ciphertext)
}

/// Checks the stored canary opens with `keyring` (creating it on first start).
pub async fn check_canary(store: &dyn Store, keyring: &Keyring) -> Result<(), CanaryError> {
    let Some(text) = store.get_setting(CANARY).await? else {
        let sealed = keyring
            .seal_bytes(CANARY_TEXT, CANARY_BINDING)
            .map_err(|e| CanaryError::Corrupt(e.to_string()))?;
        store.set_setting(CANARY, &canary_text(&sealed)).await?;
        return Ok(());
    };
    let parts: Vec<&str> = text.split(' ').collect();
    let [mk, nonce, ct] = parts.as_slice() else {
        return Err(CanaryError::Corrupt("bad format".into()));
    };
    let sealed = Sealed {
        master_key_id: (*mk).to_owned(),
        nonce: (*nonce).to_owned(),
        ciphertext: (*ct).to_owned(),
    };
    match keyring.open_bytes(&sealed, CANARY_BINDING) {
        Ok(plain) if plain == CANARY_TEXT => Ok(()),
        Ok(_) => Err(CanaryError::Corrupt("unexpected content".into())),
        Err(CryptoError::UnknownMasterKey(_) | CryptoError::Open) => Err(CanaryError::Mismatch {
            expected: sealed.master_key_id,
            loaded: keyring.ids().join(", "),
            file: crate::keyfile::KEY_FILE,
        }),
        Err(e) => Err(CanaryError::Corrupt(e.to_string())),
    }
}

/// What a re-encryption pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reencrypted {
    /// Rows moved to the current master key.
    pub resealed: usize,
    /// Rows already under it.
    pub already_current: usize,
}

/// Re-seals every stored key (and the canary) under the keyring's current master key. Safe
/// beside running gateways: each row is swapped only if unchanged since it was read, and a
/// row changed meanwhile is read again.
pub async fn reencrypt_all(store: &dyn Store, keyring: &Keyring) -> Result<Reencrypted, ByokError> {
    let mut report = Reencrypted::default();
    let current = keyring.current().id().to_owned();
    loop {
        let mut pending = 0;
        for rec in store.sealed_provider_keys().await? {
            let Some(sealed) = rec.sealed.as_ref() else {
                continue;
            };
            if sealed.master_key_id == current {
                continue;
            }
            pending += 1;
            let secret = keyring.open(sealed, binding(&rec))?;
            let new = keyring.seal(&secret, binding(&rec))?;
            if store
                .reseal_provider_key(&rec, &sealed.master_key_id, &new)
                .await?
            {
                report.resealed += 1;
                pending -= 1;
            }
        }
        if pending == 0 {
            break;
        }
    }
    report.already_current = store
        .sealed_provider_keys()
        .await?
        .len()
        .saturating_sub(report.resealed);
    let sealed = keyring.seal_bytes(CANARY_TEXT, CANARY_BINDING)?;
    store.set_setting(CANARY, &canary_text(&sealed)).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::SqliteStore;

    async fn store() -> (SqliteStore, String, String) {
        let s = SqliteStore::connect("sqlite::memory:").await.unwrap();
        s.migrate().await.unwrap();
        let (a, _) = s.create_tenant("a").await.unwrap();
        let (b, _) = s.create_tenant("b").await.unwrap();
        (s, a.id, b.id)
    }

    #[tokio::test]
    async fn versions_rotation_delete_and_isolation() {
        let (s, a, b) = store().await;
        let ring = Keyring::new(MasterKey::generate().unwrap().0, vec![]);
        assert!(matches!(
            set_key(&s, &ring, &a, "openai", &Secret::new("sk-a2"), None, true).await,
            Err(ByokError::NoKey(_))
        ));
        let r1 = set_key(
            &s,
            &ring,
            &a,
            "openai",
            &Secret::new("sk-a1-1234"),
            None,
            false,
        )
        .await
        .unwrap();
        assert_eq!((r1.version, r1.last4.as_deref()), (1, Some("1234")));
        let r2 = set_key(
            &s,
            &ring,
            &a,
            "openai",
            &Secret::new("sk-a2-5678"),
            None,
            true,
        )
        .await
        .unwrap();
        assert_eq!(r2.version, 2);
        let stored = s.get_provider_key(&a, "openai").await.unwrap().unwrap();
        assert_eq!(
            open_key(&ring, &stored).unwrap().unwrap().expose(),
            "sk-a2-5678"
        );
        // Tenant B sees nothing of A's.
        assert!(s.get_provider_key(&b, "openai").await.unwrap().is_none());
        assert!(s.list_provider_keys(&b).await.unwrap().is_empty());
        // A's row copied onto B does not open.
        let mut copied = stored.clone();
        copied.tenant_id = b.clone();
        assert!(open_key(&ring, &copied).is_err());
        let d = delete_key(&s, &a, "openai").await.unwrap();
        assert_eq!(d.version, 3);
        assert!(open_key(
            &ring,
            &s.get_provider_key(&a, "openai").await.unwrap().unwrap()
        )
        .unwrap()
        .is_none());
        assert!(matches!(
            delete_key(&s, &a, "openai").await,
            Err(ByokError::NoKey(_))
        ));
        let again = set_key(&s, &ring, &a, "openai", &Secret::new("sk-a3"), None, false)
            .await
            .unwrap();
        assert_eq!(again.version, 4);
    }

    #[tokio::test]
    async fn canary_and_reencryption() {
        let (s, a, b) = store().await;
        let old = MasterKey::generate().unwrap().0;
        let ring = Keyring::new(old.clone(), vec![]);
        check_canary(&s, &ring).await.unwrap();
        check_canary(&s, &ring).await.unwrap();
        set_key(&s, &ring, &a, "openai", &Secret::new("sk-a"), None, false)
            .await
            .unwrap();
        set_key(
            &s,
            &ring,
            &b,
            "workers-ai",
            &Secret::new("cf-b"),
            Some("acct".into()),
            false,
        )
        .await
        .unwrap();
        let other = Keyring::new(MasterKey::generate().unwrap().0, vec![]);
        assert!(matches!(
            check_canary(&s, &other).await,
            Err(CanaryError::Mismatch { .. })
        ));
        let new = MasterKey::generate().unwrap().0;
        let rotating = Keyring::new(new.clone(), vec![old]);
        let report = reencrypt_all(&s, &rotating).await.unwrap();
        assert_eq!(report.resealed, 2);
        let only_new = Keyring::new(new, vec![]);
        check_canary(&s, &only_new).await.unwrap();
        for rec in s.sealed_provider_keys().await.unwrap() {
            assert_eq!(
                rec.sealed.as_ref().unwrap().master_key_id,
                only_new.current().id()
            );
            assert!(open_key(&only_new, &rec).unwrap().is_some());
        }
        let b_rec = s.get_provider_key(&b, "workers-ai").await.unwrap().unwrap();
        assert_eq!(b_rec.account_id.as_deref(), Some("acct"));
        assert_eq!(reencrypt_all(&s, &only_new).await.unwrap().resealed, 0);
    }
}
