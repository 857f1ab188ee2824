//! Merchant API tokens in the Laravel Sanctum form `<id>|<secret>`. Only a SHA-256 digest of
//! the secret is stored; comparison is constant-time.

use crate::id::random_base62;
use crate::secret::Secret;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SECRET_LEN: usize = 40;

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub secret: Secret<String>,
}

impl ApiToken {
    pub fn generate(id: i64, rng: &mut impl Rng) -> ApiToken {
        ApiToken {
            id,
            secret: Secret::new(random_base62(rng, SECRET_LEN)),
        }
    }

    /// `None` for anything not shaped like `<digits>|<secret>`.
    pub fn parse(text: &str) -> Option<ApiToken> {
        let (id, secret) = text.split_once('|')?;
        if id.is_empty() || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if secret.is_empty() || secret.len() > 200 {
            return None;
        }
        Some(ApiToken {
            id: id.parse().ok()?,
            secret: Secret::new(secret.to_string()),
        })
    }

    /// The token as the merchant holds it.
    pub fn reveal(&self) -> String {
        format!("{}|{}", self.id, self.secret.expose())
    }

    /// Hex SHA-256 of the secret: the only form stored.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.secret.expose().as_bytes()))
    }

    /// Constant-time comparison of this token's digest with a stored hex digest.
    pub fn matches(&self, stored_digest: &str) -> bool {
        let ours: [u8; 32] = Sha256::digest(self.secret.expose().as_bytes()).into();
        match unhex(stored_digest) {
            Some(stored) => ours.ct_eq(&stored).into(),
            None => false,
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| {
            [
                DIGITS[usize::from(b >> 4)] as char,
                DIGITS[usize::from(b & 15)] as char,
            ]
        })
        .collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match_only_their_digest() {
        let mut rng = rand::thread_rng();
        let t = ApiToken::generate(69, &mut rng);
        let text = t.reveal();
        assert!(text.starts_with("69|"));
        let parsed = ApiToken::parse(&text).unwrap();
        assert!(parsed.matches(&t.digest()));
        let other = ApiToken::generate(69, &mut rng);
        assert!(!other.matches(&t.digest()));
        assert!(!format!("{t:?}").contains(t.secret.expose()));
    }

    #[test]
    fn rejects_malformed_tokens() {
        for bad in [
            "",
            "abc",
            "|x",
            "12|",
            "x1|abc",
            "-1|abc",
            "1234567890123456789|a",
        ] {
            assert!(ApiToken::parse(bad).is_none(), "{bad}");
        }
    }
}
