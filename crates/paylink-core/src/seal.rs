//! Sealing the few secrets paylink must read back (a merchant's API token, to sign postbacks;
//! a shop's webhook key; a payee's card number): AES-256-GCM under an instance key kept outside
//! the database. Each sealed value is bound to what it belongs to (`context`), so it cannot be
//! moved to another row and still open.
//!
//! Format 2, `2:<key id>:<base64 of nonce and ciphertext>`, names the key that sealed it, so a
//! key ring can hold an active key and older ones while values are re-sealed. Format 1 (plain
//! base64, written before keys left the database) has no id: it was sealed by the database's own
//! key, which the upgrade exports under the id [`LEGACY_KEY_ID`].

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
    /// The key derived from an instance secret (random text from the key file).
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

/// The key id of sealed values that carry none (format 1): the key exported from the database.
pub const LEGACY_KEY_ID: &str = "s0";

/// Whether `id` may name a sealing key: 1 to 16 lowercase ASCII letters and digits (no `_` or
/// `%`, so an id is also a literal SQL `LIKE` prefix).
pub fn valid_key_id(id: &str) -> bool {
    (1..=16).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The id of the key that sealed `sealed`, and its body (base64).
pub fn split_sealed(sealed: &str) -> (&str, &str) {
    match sealed
        .strip_prefix("2:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((id, body)) => (id, body),
        None => (LEGACY_KEY_ID, sealed),
    }
}

/// The SQL `LIKE` pattern of values sealed by key `id` in format 2.
pub fn sealed_prefix_pattern(id: &str) -> String {
    format!("2:{id}:%")
}

/// A key ring: the active key seals, every key opens what it sealed.
pub struct SealKeys {
    active: String,
    keys: Vec<(String, SealKey)>,
}

impl SealKeys {
    /// `None` when `active` is not among `keys` or an id is not valid.
    pub fn new(active: &str, keys: Vec<(String, SealKey)>) -> Option<SealKeys> {
        if !keys.iter().all(|(id, _)| valid_key_id(id)) || !keys.iter().any(|(id, _)| id == active)
        {
            return None;
        }
        Some(SealKeys {
            active: active.to_string(),
            keys,
        })
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    pub fn has(&self, id: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == id)
    }

    fn key(&self, id: &str) -> Option<&SealKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    /// `plaintext` sealed under the active key, in format 2.
    pub fn seal(&self, rng: &mut impl RngCore, plaintext: &str, context: &str) -> String {
        let key = self
            .key(&self.active)
            .expect("the active key is in the ring");
        format!("2:{}:{}", self.active, key.seal(rng, plaintext, context))
    }

    /// `None` when no key of the ring sealed `sealed` for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Secret<String>> {
        let (id, body) = split_sealed(sealed);
        self.key(id)?.open(body, context)
    }
}

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKeys(active {}, ***)", self.active)
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

    #[test]
    fn a_ring_seals_under_its_active_key_and_opens_with_any_of_its_keys() {
        let rng = &mut rand::thread_rng();
        let legacy = SealKey::derive("from-the-database").seal(rng, "old", "c");
        let ring = |active: &str| {
            SealKeys::new(
                active,
                vec![
                    ("s0".into(), SealKey::derive("from-the-database")),
                    ("s1".into(), SealKey::derive("one")),
                ],
            )
            .unwrap()
        };
        let old = ring("s0");
        let sealed = ring("s1").seal(rng, "new", "c");
        assert!(sealed.starts_with("2:s1:"), "{sealed}");
        assert_eq!(split_sealed(&sealed).0, "s1");
        assert_eq!(split_sealed(&legacy), ("s0", legacy.as_str()));
        // Format 1 opens with the exported key; format 2 with the key it names.
        assert_eq!(old.open(&legacy, "c").unwrap().expose(), "old");
        assert_eq!(old.open(&sealed, "c").unwrap().expose(), "new");
        let without_s1 = SealKeys::new(
            "s0",
            vec![("s0".into(), SealKey::derive("from-the-database"))],
        )
        .unwrap();
        assert!(without_s1.open(&sealed, "c").is_none());
        // Another key under the same id does not open it.
        let impostor = SealKeys::new("s1", vec![("s1".into(), SealKey::derive("two"))]).unwrap();
        assert!(impostor.open(&sealed, "c").is_none());
        assert!(SealKeys::new("s9", vec![("s1".into(), SealKey::derive("one"))]).is_none());
        assert!(SealKeys::new("s_1", vec![("s_1".into(), SealKey::derive("one"))]).is_none());
    }
}
