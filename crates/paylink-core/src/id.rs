//! Public object ids: 10 random base62 characters (about 59 bits), as the Cardlink API uses.

use rand::Rng;
use std::fmt;

pub const ID_LEN: usize = 10;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fresh random base62 text of `len` characters.
pub fn random_base62(rng: &mut impl Rng, len: usize) -> String {
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn derive_base62(key: &[u8], parts: &[&str]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(b"\0");
    }
    // 32 bytes of MAC for 10 characters; the modulo bias (256 mod 62) does not matter for ids.
    mac.finalize()
        .into_bytes()
        .iter()
        .take(ID_LEN)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn is_id(text: &str) -> bool {
    text.len() == ID_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn random(rng: &mut impl Rng) -> Self {
                $name(random_base62(rng, ID_LEN))
            }
            /// The id keyed by `key` over `parts`: the same inputs always name the same object
            /// (a payment form submitted twice makes one payment), and nobody without the key
            /// can predict it.
            pub fn derive(key: &[u8], parts: &[&str]) -> Self {
                $name(derive_base62(key, parts))
            }
            /// `None` unless `text` has the shape of an id; such text can never name an object.
            pub fn parse(text: &str) -> Option<Self> {
                is_id(text).then(|| $name(text.to_string()))
            }
            /// For ids read back from our own storage.
            pub fn from_trusted(text: String) -> Self {
                $name(text)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

public_id!(MerchantId);
public_id!(ShopId);
public_id!(BillId);
public_id!(PaymentId);
public_id!(PayoutId);
public_id!(PayoutAccountId);
public_id!(RefundId);
// The Card API: partners and cards own ledger accounts.
public_id!(PartnerId);
public_id!(CardId);
// The Card API's clients (cardholders) and card transactions.
public_id!(ClientId);
public_id!(CardTransactionId);
// Web accounts (merchant app, operator console).
public_id!(AccountId);
public_id!(DisputeId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_ten_base62_chars_and_parse_back() {
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let id = BillId::random(&mut rng);
            assert_eq!(id.as_str().len(), 10);
            assert_eq!(BillId::parse(id.as_str()), Some(id));
        }
    }

    #[test]
    fn rejects_text_that_is_not_an_id() {
        for bad in [
            "",
            "short",
            "elevenchars",
            "with space",
            "ünicode123",
            "abc'--;xyz",
        ] {
            assert_eq!(BillId::parse(bad), None, "{bad}");
        }
    }
}
