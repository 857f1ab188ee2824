//! Sealing the few secrets paylink must read back (a merchant's API token, to sign postbacks;
//! a shop's webhook key): AES-256-GCM under a per-instance key. Each sealed value is bound to
//! what it belongs to (`context`), so it cannot be moved to another row and still open.

use crate::secret::Secret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

pub struct SealKey(Aes256Gcm);

impl SealKey {
    /// The key derived from an instance secret (random text kept in the database).
    pub fn derive(instance_secret: &str) -> SealKey {
        let mut h = Sha256::new();
        h.update(b"paylink seal v1\0");
        h.update(instance_secret.as_bytes());
        SealKey(Aes256Gcm::new(&h.finalize()))
    }

    /// base64 of nonce and ciphertext.
    pub fn seal(&self, rng: &mut impl RngCore, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message under 64 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    /// `None` when `sealed` was not sealed by this key for this context.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Secret<String>> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok().map(Secret::new)
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_its_key_and_context() {
        let key = SealKey::derive("instance-a");
        let sealed = key.seal(&mut rand::thread_rng(), "42|secret", "api_token:42");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            key.open(&sealed, "api_token:42").unwrap().expose(),
            "42|secret"
        );
        assert!(key.open(&sealed, "api_token:43").is_none());
        assert!(SealKey::derive("instance-b")
            .open(&sealed, "api_token:42")
            .is_none());
        assert!(key.open("not base64!", "api_token:42").is_none());
        let mut tampered = B64.decode(&sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&B64.encode(tampered), "api_token:42").is_none());
    }
}
