//! Which credentials a request uses: the tenant's own key for the provider (BYOK), else the
//! operator's global key, else a 503 that says how to add one.
//!
//! Tenant keys are cached in memory (decrypted once, held in [`Secret`]s) so resolution
//! costs no database round trip on the hot path. A PUT, rotate or DELETE in this process
//! invalidates the entry at once; changes made by other processes are picked up by
//! [`crate::tasks`] polling `provider_keys.updated_at`. A request resolves its credentials
//! once, at its start, so requests in flight finish with the key they started with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use neureus_providers::Credentials;
use neureus_store::byok;
use neureus_store::crypto::{CryptoError, Keyring};
use neureus_store::keyfile::read_file;
use neureus_store::KeyringSource;
use neureus_types::ProviderId;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;
use crate::FastMap;

/// Where a request's credentials came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The tenant's own key.
    Tenant,
    /// The operator's key.
    Global,
}

impl Source {
    /// Contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Tenant => "tenant",
            Source::Global => "global",
        }
    }
}

/// One cached provider slot of a tenant.
#[derive(Debug, Clone)]
enum Slot {
    /// Not read from the store yet.
    Unloaded,
    /// The tenant has no key for this provider.
    NoKey,
    /// The tenant's key.
    Key(Arc<Credentials>),
    /// The stored key cannot be opened.
    Broken,
}

fn slot_index(p: ProviderId) -> usize {
    match p {
        ProviderId::Anthropic => 0,
        ProviderId::Openai => 1,
        ProviderId::WorkersAi => 2,
    }
}

/// The keyring and the cache of opened tenant keys.
#[derive(Debug)]
pub struct TenantKeys {
    keyring: RwLock<Arc<Keyring>>,
    source: KeyringSource,
    slots: RwLock<FastMap<String, [Slot; 3]>>,
    /// Bumped by every invalidation, so a load that raced one is not cached.
    epoch: AtomicU64,
}

impl TenantKeys {
    /// A cache over `keyring`.
    pub fn new(keyring: Keyring, source: KeyringSource) -> Self {
        TenantKeys {
            keyring: RwLock::new(Arc::new(keyring)),
            source,
            slots: RwLock::new(FastMap::default()),
            epoch: AtomicU64::new(0),
        }
    }

    /// The keyring in force.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the key file (file mode only). Returns whether the keyring changed.
    pub fn reload_keyring(&self) -> bool {
        let KeyringSource::File(path) = &self.source else {
            return false;
        };
        match read_file(path) {
            Ok(Some(ring)) => {
                let mut guard = self
                    .keyring
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if guard.ids() == ring.ids() {
                    return false;
                }
                tracing::info!(current = ring.current().id(), "master keyring reloaded");
                *guard = Arc::new(ring);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload the master keyring");
                false
            }
        }
    }

    fn get(&self, tenant_id: &str, p: ProviderId) -> Slot {
        let map = self
            .slots
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(tenant_id)
            .map_or(Slot::Unloaded, |s| s[slot_index(p)].clone())
    }

    fn put(&self, tenant_id: &str, p: ProviderId, slot: Slot, epoch: u64) {
        let mut map = self
            .slots
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        let entry = map
            .entry(tenant_id.to_owned())
            .or_insert_with(|| [Slot::Unloaded, Slot::Unloaded, Slot::Unloaded]);
        entry[slot_index(p)] = slot;
    }

    /// Forgets a tenant's cached key for a provider.
    pub fn invalidate(&self, tenant_id: &str, p: ProviderId) {
        let mut map = self
            .slots
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(entry) = map.get_mut(tenant_id) {
            entry[slot_index(p)] = Slot::Unloaded;
        }
    }

    /// Forgets everything (after a keyring change).
    pub fn invalidate_all(&self) {
        let mut map = self
            .slots
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }
}

/// Reads and opens a tenant's key. An unknown master key id triggers one keyring reload
/// (a rotation in progress sealed it with the new key).
async fn load(state: &AppState, tenant_id: &str, p: ProviderId) -> Result<Slot, ApiError> {
    let keys = &state.tenant_keys;
    let epoch = keys.epoch.load(Ordering::SeqCst);
    let rec = state.store.get_provider_key(tenant_id, p.as_str()).await?;
    let slot = match rec {
        None => Slot::NoKey,
        Some(rec) => {
            let mut opened = byok::open_key(&keys.keyring(), &rec);
            if matches!(opened, Err(CryptoError::UnknownMasterKey(_))) && keys.reload_keyring() {
                opened = byok::open_key(&keys.keyring(), &rec);
            }
            match opened {
                Ok(None) => Slot::NoKey,
                Ok(Some(api_key)) => Slot::Key(Arc::new(Credentials {
                    api_key,
                    account_id: rec.account_id,
                })),
                Err(e) => {
                    tracing::error!(tenant_id, provider = p.as_str(), error = %e, "stored provider key cannot be opened");
                    Slot::Broken
                }
            }
        }
    };
    keys.put(tenant_id, p, slot.clone(), epoch);
    Ok(slot)
}

async fn tenant_slot(state: &AppState, tenant_id: &str, p: ProviderId) -> Result<Slot, ApiError> {
    match state.tenant_keys.get(tenant_id, p) {
        Slot::Unloaded => load(state, tenant_id, p).await,
        other => Ok(other),
    }
}

/// The credentials a tenant's request to `p` uses.
pub async fn resolve(
    state: &AppState,
    tenant_id: &str,
    p: ProviderId,
) -> Result<(Credentials, Source), ApiError> {
    match tenant_slot(state, tenant_id, p).await? {
        Slot::Key(c) => Ok(((*c).clone(), Source::Tenant)),
        Slot::Broken => Err(ApiError::new(
            ErrorKind::ProviderUnavailable,
            format!(
                "your stored {p} key cannot be decrypted (it was altered or sealed with another master key); \
                 set it again with PUT /ai/providers/{p}/key"
            ),
        )),
        Slot::NoKey | Slot::Unloaded => match state.global_credentials(p) {
            Some(c) => Ok((c, Source::Global)),
            None => Err(ApiError::new(
                ErrorKind::ProviderUnavailable,
                format!(
                    "no credentials for provider {p}: add your own key with PUT /ai/providers/{p}/key, \
                     or ask the operator to {}",
                    AppState::credentials_hint(p)
                ),
            )),
        },
    }
}

/// Whether a tenant can use `p` now, without an error.
pub async fn usable(state: &AppState, tenant_id: &str, p: ProviderId) -> bool {
    resolve(state, tenant_id, p).await.is_ok()
}
