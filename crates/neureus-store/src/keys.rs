//! Tenant API keys: `nru_<public_id>_<secret>`. The public id finds the row; only the
//! SHA-256 of the secret is stored, and it is compared in constant time.

use rand::Rng;
use sha2::{Digest, Sha256};

const PREFIX: &str = "nru_";
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PUBLIC_LEN: usize = 12;
const SECRET_LEN: usize = 40;

/// The two parts of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyParts {
    /// Looked up in the store.
    pub public_id: String,
    /// Hashed and compared.
    pub secret: String,
}

/// Why a presented key is malformed (never echoes the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// Does not start with `nru_`.
    #[error("API keys start with nru_")]
    Prefix,
    /// Wrong shape.
    #[error("malformed API key")]
    Shape,
}

fn random_string(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new key: (parts, full text).
pub fn generate_api_key() -> (ApiKeyParts, String) {
    let parts = ApiKeyParts {
        public_id: random_string(PUBLIC_LEN),
        secret: random_string(SECRET_LEN),
    };
    let text = format!("{PREFIX}{}_{}", parts.public_id, parts.secret);
    (parts, text)
}

/// Parses `nru_<public>_<secret>`.
pub fn parse_api_key(key: &str) -> Result<ApiKeyParts, KeyFormatError> {
    let (public_id, secret) = split_api_key(key)?;
    Ok(ApiKeyParts {
        public_id: public_id.to_owned(),
        secret: secret.to_owned(),
    })
}

/// `nru_<public>_<secret>` as (public id, secret), borrowed: what every request's
/// authentication needs, without the two copies [`parse_api_key`] makes.
pub fn split_api_key(key: &str) -> Result<(&str, &str), KeyFormatError> {
    let Some(rest) = key.strip_prefix(PREFIX) else {
        return Err(KeyFormatError::Prefix);
    };
    // A third `_` is left in the secret, which then fails the alphanumeric check.
    let Some((public_id, secret)) = rest.split_once('_') else {
        return Err(KeyFormatError::Shape);
    };
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok(public_id, PUBLIC_LEN) || !ok(secret, SECRET_LEN) {
        return Err(KeyFormatError::Shape);
    }
    Ok((public_id, secret))
}

/// Lowercase hex SHA-256, into a buffer on the stack.
fn hex_sha256(secret: &str) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = [0_u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
    out
}

/// Lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex_sha256(secret).iter().copied().map(char::from).collect()
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    use subtle::ConstantTimeEq;
    hex_sha256(secret)
        .as_slice()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let (parts, text) = generate_api_key();
        assert!(text.starts_with("nru_"));
        assert_eq!(parse_api_key(&text).unwrap(), parts);
        assert!(verify_secret(&parts.secret, &hash_secret(&parts.secret)));
        assert!(!verify_secret("other", &hash_secret(&parts.secret)));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert_eq!(parse_api_key("sk-abc"), Err(KeyFormatError::Prefix));
        assert_eq!(parse_api_key("nru_abc"), Err(KeyFormatError::Shape));
        assert_eq!(parse_api_key("nru_a_b_c"), Err(KeyFormatError::Shape));
        // Right lengths, but a third part: the extra `_` lands in the secret.
        let (p, s) = ("A".repeat(PUBLIC_LEN), "b".repeat(SECRET_LEN / 2));
        assert_eq!(
            parse_api_key(&format!("nru_{p}_{s}_{s}")),
            Err(KeyFormatError::Shape)
        );
        assert_eq!(
            split_api_key(&format!("nru_{p}__{s}")),
            Err(KeyFormatError::Shape)
        );
        let full = format!("nru_{p}_{s}{s}");
        assert_eq!(
            split_api_key(&full),
            Ok((p.as_str(), format!("{s}{s}").as_str()))
        );
    }

    #[test]
    fn the_hash_is_lowercase_hex_sha256_and_only_it_verifies() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hash_secret("abc"), abc);
        assert!(verify_secret("abc", abc));
        assert!(!verify_secret("abc", &abc.to_uppercase()));
        assert!(!verify_secret("abc", &abc[..63]));
        assert!(!verify_secret("abc", &format!("{abc}0")));
        assert!(!verify_secret("abd", abc));
    }

    proptest! {
        #[test]
        fn parse_of_format_is_identity(p in "[A-Za-z0-9]{12}", s in "[A-Za-z0-9]{40}") {
            let text = format!("nru_{p}_{s}");
            prop_assert_eq!(parse_api_key(&text).unwrap(), ApiKeyParts { public_id: p, secret: s });
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = parse_api_key(&s);
        }
    }
}
