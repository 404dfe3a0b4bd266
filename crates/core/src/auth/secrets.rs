//! Secrets at rest: AES-256-GCM with a fresh random nonce per value; the key's id (the
//! first 8 hex digits of the key's SHA-256) is stored beside the ciphertext, so a key can
//! be rotated later.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use sha2::{Digest, Sha256};
use switchboard_store::SealedSecret;

const NONCE_LEN: usize = 12;

/// The key secrets are sealed with. Its `Debug` shows only its id.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    key: [u8; 32],
}

/// Why a key or a sealed value is refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the key must be 64 hexadecimal digits (32 bytes)")]
    BadKey,
    #[error("this value was sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("the sealed value is corrupt or was sealed with another key")]
    Corrupt,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({}, …)", self.id)
    }
}

impl SecretKey {
    #[must_use]
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, key }
    }

    /// A key written as 64 hexadecimal digits (surrounding white space ignored).
    pub fn from_hex(raw: &str) -> Result<Self, SecretError> {
        let raw = raw.trim();
        if raw.len() != 64 || !raw.is_ascii() {
            return Err(SecretError::BadKey);
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).map_err(|_| SecretError::BadKey)?;
        }
        Ok(Self::from_bytes(key))
    }

    /// A new random key, as 64 hexadecimal digits (to write to a key file).
    #[must_use]
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        key.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plain`; `context` (e.g. the agent's id) is authenticated with it, so a value
    /// copied to another row does not open.
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Result<SealedSecret, SecretError> {
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.key));
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let ct =
            cipher.encrypt(&nonce.into(), Payload { msg: plain, aad: context }).map_err(|_| SecretError::Corrupt)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ct.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ct);
        Ok(SealedSecret { key_id: self.id.clone(), sealed })
    }

    /// Opens what [`seal`](Self::seal) sealed with the same `context`.
    pub fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.key_id != self.id {
            return Err(SecretError::UnknownKey(sealed.key_id.clone()));
        }
        if sealed.sealed.len() < NONCE_LEN {
            return Err(SecretError::Corrupt);
        }
        let (nonce, ct) = sealed.sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Corrupt)?;
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.key));
        cipher.decrypt(&nonce.into(), Payload { msg: ct, aad: context }).map_err(|_| SecretError::Corrupt)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_and_context_only() {
        let key = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        let a = key.seal(b"secret", b"agent-1").unwrap();
        let b = key.seal(b"secret", b"agent-1").unwrap();
        assert_ne!(a.sealed, b.sealed, "a nonce per value");
        assert!(!a.sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open(&a, b"agent-1").unwrap(), b"secret");
        assert!(key.open(&a, b"agent-2").is_err());
        let other = SecretKey::from_hex(&SecretKey::generate_hex()).unwrap();
        assert!(matches!(other.open(&a, b"agent-1"), Err(SecretError::UnknownKey(_))));
        assert!(SecretKey::from_hex("abc").is_err());
        assert_eq!(format!("{key:?}"), format!("SecretKey({}, …)", key.id()));
    }
}
