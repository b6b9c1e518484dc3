//! Tokens at rest: AES-256-GCM under `ENCRYPTION_KEY` (64 hex characters), a fresh random nonce
//! per sealing. A wrong key fails authentication: a clear error, never garbage.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::ledger::Sealed;
use crate::secret::Secret;

/// Binds the ciphertext to its purpose: a sealed token set cannot be passed off as other data.
const AAD: &[u8] = b"schwad broker tokens v1";

/// Nonce length of AES-GCM.
const NONCE_LEN: usize = 12;

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    /// `ENCRYPTION_KEY` is not 64 hex characters.
    #[error("ENCRYPTION_KEY must be 64 hex characters (32 bytes)")]
    KeyFormat,
    /// The stored tokens do not decrypt under `ENCRYPTION_KEY`.
    #[error(
        "the stored broker tokens do not decrypt with ENCRYPTION_KEY (wrong key?); use the key they were stored with, or run `schwad auth` again"
    )]
    WrongKey,
    /// Encryption failed.
    #[error("encrypting the broker tokens failed")]
    Seal,
}

/// The AES-256-GCM key.
pub struct TokenCipher(Aes256Gcm);

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher(<redacted>)")
    }
}

impl TokenCipher {
    /// The key from 64 hex characters.
    pub fn from_hex(key: &Secret) -> Result<Self, CipherError> {
        let mut bytes = [0_u8; 32];
        hex::decode_to_slice(key.expose().trim(), &mut bytes)
            .map_err(|_| CipherError::KeyFormat)?;
        Ok(Self(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes))))
    }

    /// Encrypts `plain` under a fresh nonce.
    pub fn seal(&self, plain: &[u8]) -> Result<Sealed, CipherError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: AAD,
                },
            )
            .map_err(|_| CipherError::Seal)?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Decrypts and authenticates; any mismatch (wrong key, tampering) is [`CipherError::WrongKey`].
    pub fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, CipherError> {
        if sealed.nonce.len() != NONCE_LEN {
            return Err(CipherError::WrongKey);
        }
        self.0
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: AAD,
                },
            )
            .map_err(|_| CipherError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: char) -> Secret {
        Secret::new(byte.to_string().repeat(64))
    }

    #[test]
    fn sealed_tokens_open_with_the_same_key_only() {
        let cipher = TokenCipher::from_hex(&key('a')).unwrap();
        let sealed = cipher.seal(b"I0.token@").unwrap();
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"I0.token@"));
        assert_eq!(cipher.open(&sealed).unwrap(), b"I0.token@");
        let other = TokenCipher::from_hex(&key('b')).unwrap();
        assert!(matches!(other.open(&sealed), Err(CipherError::WrongKey)));
    }

    #[test]
    fn each_sealing_uses_a_fresh_nonce() {
        let cipher = TokenCipher::from_hex(&key('c')).unwrap();
        assert_ne!(cipher.seal(b"x").unwrap(), cipher.seal(b"x").unwrap());
    }

    #[test]
    fn keys_must_be_64_hex_characters() {
        for bad in ["abc", &"g".repeat(64), &"a".repeat(66)] {
            assert!(matches!(
                TokenCipher::from_hex(&Secret::new(bad)),
                Err(CipherError::KeyFormat)
            ));
        }
    }
}
