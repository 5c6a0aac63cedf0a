//! Master-key rotation (`neureus master-key rotate`), safe beside running gateways.
//!
//! File mode: (1) the new key becomes `current` in the key file with the old one kept as
//! `previous`; (2) running gateways reload the file within a second, so they seal new keys
//! with the new master key and can open both; (3) every stored key is re-sealed under the new
//! key (row by row, compare-and-swap); (4) the old key is dropped from the file.
//! Env mode: the operator has already set `NEUREUS_MASTER_KEY` (new) and
//! `NEUREUS_MASTER_KEY_PREVIOUS` (old) on every replica; only step 3 runs.

use std::time::Duration;

use neureus_store::byok::{self, ByokError, CanaryError};
use neureus_store::crypto::{Keyring, MasterKey};
use neureus_store::keyfile::{read_texts, write_file};
use neureus_store::{load_keyring, KeyringError, KeyringSource, Store};

use crate::config::Config;

/// How long running gateways get to pick up a new key file before re-sealing starts.
pub const RELOAD_GRACE: Duration = Duration::from_millis(2_500);

/// A rotation failed.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Keyring problem.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The master key does not fit the database.
    #[error(transparent)]
    Canary(#[from] CanaryError),
    /// Re-sealing failed.
    #[error(transparent)]
    Byok(#[from] ByokError),
    /// Key generation failed.
    #[error(transparent)]
    Crypto(#[from] neureus_store::crypto::CryptoError),
    /// Nothing to rotate yet.
    #[error("there was no master key yet; one was generated and nothing needs rotating")]
    Fresh,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// The master key now in force.
    pub master_key_id: String,
    /// Stored keys re-sealed.
    pub resealed: usize,
}

/// Rotates the master key. `grace` is how long running gateways get to reload (use
/// [`RELOAD_GRACE`]).
pub async fn rotate(
    config: &Config,
    store: &dyn Store,
    grace: Duration,
) -> Result<Rotated, RotationError> {
    let (keyring, source, created) = load_keyring(
        &config.data_dir,
        config.master_key.as_ref(),
        config.master_key_previous.as_ref(),
    )?;
    if created {
        return Err(RotationError::Fresh);
    }
    byok::check_canary(store, &keyring).await?;
    let (ring, new_file) = match &source {
        KeyringSource::Env => (keyring, None),
        KeyringSource::File(path) => {
            let (old_text, _) = read_texts(path)?;
            let (new_key, new_text) = MasterKey::generate()?;
            write_file(path, &new_text, &[old_text], false)?;
            tokio::time::sleep(grace).await;
            let old = keyring.current().clone();
            (
                Keyring::new(new_key, vec![old]),
                Some((path.clone(), new_text)),
            )
        }
    };
    let report = byok::reencrypt_all(store, &ring).await?;
    if let Some((path, new_text)) = new_file {
        write_file(&path, &new_text, &[], false)?;
    }
    Ok(Rotated {
        master_key_id: ring.current().id().to_owned(),
        resealed: report.resealed,
    })
}
