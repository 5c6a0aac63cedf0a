//! Sealing tenant provider keys: AES-256-GCM with a fresh random 96-bit nonce per seal and
//! associated data binding tenant, provider and version, so a ciphertext copied to another
//! row does not open. Each ciphertext names the master key that sealed it; a [`Keyring`]
//! holds the current master key plus previous ones, so a rotation can proceed while the
//! gateway serves.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use neureus_types::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A sealing failure. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A master key is not base64 of 32 bytes.
    #[error("a master key must be base64 of exactly 32 bytes")]
    BadMasterKey,
    /// The ciphertext names a master key this keyring does not hold.
    #[error("sealed with master key {0}, which is not loaded")]
    UnknownMasterKey(String),
    /// Authentication failed: wrong key, tampered data, or copied to another row.
    #[error("cannot open the sealed value: wrong master key, or the data was altered")]
    Open,
    /// The stored fields are malformed.
    #[error("malformed sealed value")]
    Malformed,
}

/// One 256-bit master key and its public id (derived, one-way).
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    /// From raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::BadMasterKey);
        }
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| CryptoError::BadMasterKey)?;
        let mut h = Sha256::new();
        h.update(b"neureus master key id v1\0");
        h.update(bytes);
        let digest = h.finalize();
        let id = format!("mk_{}", hex(&digest[..8]));
        Ok(MasterKey { id, cipher })
    }

    /// From base64 text (`NEUREUS_MASTER_KEY`).
    pub fn from_base64(text: &Secret) -> Result<Self, CryptoError> {
        let bytes = B64
            .decode(text.expose().trim())
            .map_err(|_| CryptoError::BadMasterKey)?;
        Self::from_bytes(&bytes)
    }

    /// A fresh random key and its base64 text.
    pub fn generate() -> Result<(Self, Secret), CryptoError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = Self::from_bytes(&bytes)?;
        Ok((key, Secret::new(B64.encode(bytes))))
    }

    /// The public id recorded beside each ciphertext.
    pub fn id(&self) -> &str {
        &self.id
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sealed value as stored: master key id, nonce and ciphertext (base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Which master key sealed it.
    pub master_key_id: String,
    /// 96-bit nonce, base64.
    pub nonce: String,
    /// Ciphertext with its tag, base64.
    pub ciphertext: String,
}

/// What a sealed value is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// Owner.
    pub tenant_id: &'a str,
    /// Provider name.
    pub provider: &'a str,
    /// Key version.
    pub version: i64,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "neureus/provider-key/v1\0{}\0{}\0{}",
            self.tenant_id, self.provider, self.version
        )
        .into_bytes()
    }
}

/// The current master key and the previous ones still accepted for opening.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring.
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        let previous = previous
            .into_iter()
            .filter(|k| k.id != current.id)
            .collect();
        Keyring { current, previous }
    }

    /// The key new seals use.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// Ids of every key held.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(self.current.id())
            .chain(self.previous.iter().map(MasterKey::id))
            .collect()
    }

    /// Whether a key id is held.
    pub fn holds(&self, id: &str) -> bool {
        self.ids().contains(&id)
    }

    fn by_id(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == id)
    }

    /// Seals a secret under the current key.
    pub fn seal(&self, secret: &Secret, binding: Binding<'_>) -> Result<Sealed, CryptoError> {
        seal_with(&self.current, secret.expose().as_bytes(), binding)
    }

    /// Seals raw bytes under the current key (the start-up canary).
    pub fn seal_bytes(&self, bytes: &[u8], binding: Binding<'_>) -> Result<Sealed, CryptoError> {
        seal_with(&self.current, bytes, binding)
    }

    /// Opens a sealed secret.
    pub fn open(&self, sealed: &Sealed, binding: Binding<'_>) -> Result<Secret, CryptoError> {
        let bytes = self.open_bytes(sealed, binding)?;
        String::from_utf8(bytes)
            .map(Secret::new)
            .map_err(|_| CryptoError::Malformed)
    }

    /// Opens sealed bytes.
    pub fn open_bytes(
        &self,
        sealed: &Sealed,
        binding: Binding<'_>,
    ) -> Result<Vec<u8>, CryptoError> {
        let key = self
            .by_id(&sealed.master_key_id)
            .ok_or_else(|| CryptoError::UnknownMasterKey(sealed.master_key_id.clone()))?;
        let nonce = B64
            .decode(&sealed.nonce)
            .map_err(|_| CryptoError::Malformed)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Malformed);
        }
        let ct = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| CryptoError::Malformed)?;
        key.cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: &binding.aad(),
                },
            )
            .map_err(|_| CryptoError::Open)
    }
}

fn seal_with(key: &MasterKey, plain: &[u8], binding: Binding<'_>) -> Result<Sealed, CryptoError> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = key
        .cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &binding.aad(),
            },
        )
        .map_err(|_| CryptoError::Malformed)?;
    Ok(Sealed {
        master_key_id: key.id.clone(),
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ct),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> Keyring {
        Keyring::new(MasterKey::generate().unwrap().0, Vec::new())
    }

    #[test]
    fn nonces_are_fresh_and_ids_name_the_key() {
        let r = ring();
        let b = Binding {
            tenant_id: "ten_a",
            provider: "openai",
            version: 1,
        };
        let s = Secret::new("sk-secret");
        let a1 = r.seal(&s, b).unwrap();
        let a2 = r.seal(&s, b).unwrap();
        assert_ne!(a1.nonce, a2.nonce);
        assert_ne!(a1.ciphertext, a2.ciphertext);
        assert_eq!(a1.master_key_id, r.current().id());
        assert!(!a1.ciphertext.contains("sk-secret"));
        assert!(!format!("{r:?}").contains("sk-"));
    }

    #[test]
    fn previous_keys_still_open_and_unknown_keys_are_named() {
        let old = MasterKey::generate().unwrap().0;
        let sealed = Keyring::new(old.clone(), vec![])
            .seal(
                &Secret::new("k"),
                Binding {
                    tenant_id: "t",
                    provider: "p",
                    version: 1,
                },
            )
            .unwrap();
        let new = MasterKey::generate().unwrap().0;
        let rotated = Keyring::new(new.clone(), vec![old]);
        assert_eq!(
            rotated
                .open(
                    &sealed,
                    Binding {
                        tenant_id: "t",
                        provider: "p",
                        version: 1
                    }
                )
                .unwrap()
                .expose(),
            "k"
        );
        let only_new = Keyring::new(new, vec![]);
        assert!(matches!(
            only_new.open(
                &sealed,
                Binding {
                    tenant_id: "t",
                    provider: "p",
                    version: 1
                }
            ),
            Err(CryptoError::UnknownMasterKey(_))
        ));
    }

    #[test]
    fn bad_master_keys() {
        assert_eq!(
            MasterKey::from_base64(&Secret::new("c2hvcnQ=")).unwrap_err(),
            CryptoError::BadMasterKey
        );
        assert_eq!(
            MasterKey::from_base64(&Secret::new("not base64!")).unwrap_err(),
            CryptoError::BadMasterKey
        );
        let (k, text) = MasterKey::generate().unwrap();
        assert_eq!(MasterKey::from_base64(&text).unwrap().id(), k.id());
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(secret in "\\PC{1,100}", tenant in "[a-z0-9_]{1,20}", provider in "[a-z-]{1,12}", version in 1i64..1000) {
            let r = ring();
            let b = Binding { tenant_id: &tenant, provider: &provider, version };
            let sealed = r.seal(&Secret::new(secret.clone()), b).unwrap();
            let opened = r.open(&sealed, b).unwrap();
            prop_assert_eq!(opened.expose(), secret.as_str());
        }

        #[test]
        fn any_other_binding_fails(tenant in "[a-z]{1,8}", other in "[a-z]{1,8}", which in 0u8..3, flip in 0usize..64) {
            let r = ring();
            let b = Binding { tenant_id: &tenant, provider: "openai", version: 1 };
            let sealed = r.seal(&Secret::new("sk-abc"), b).unwrap();
            let moved = match which {
                0 => Binding { tenant_id: &other, ..b },
                1 => Binding { provider: "anthropic", ..b },
                _ => Binding { version: 2, ..b },
            };
            if moved != b {
                prop_assert_eq!(r.open(&sealed, moved).unwrap_err(), CryptoError::Open);
            }
            // Flipping any ciphertext bit fails too.
            let mut ct = B64.decode(&sealed.ciphertext).unwrap();
            let i = flip % ct.len();
            ct[i] ^= 1;
            let tampered = Sealed { ciphertext: B64.encode(ct), ..sealed };
            prop_assert_eq!(r.open(&tampered, b).unwrap_err(), CryptoError::Open);
        }
    }
}
