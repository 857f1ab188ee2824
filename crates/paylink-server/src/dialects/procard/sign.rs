//! Procard's signatures: lowercase hex HMAC-SHA512 of fields joined by `;` under the merchant's
//! key (`../shared/compat/procard.md`). Amounts are signed as clients write them or in their
//! shortest form; paylink signs what it sends in the shortest form.

use hmac::{Hmac, Mac};
use paylink_core::money::{format_short, parse_minor};
use sha2::Sha512;
use subtle::ConstantTimeEq;

/// `lowercase_hex(HMAC-SHA512(key, fields joined by ";"))`.
pub fn sign(key: &str, fields: &[&str]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(fields.join(";").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An amount list in its shortest form: each `;`-separated amount as `100.5`, `200`; `None`
/// when a part is not an amount (then only the text as received can be signed).
pub fn shortest(amounts: &str) -> Option<String> {
    if amounts.trim().is_empty() {
        return Some(String::new());
    }
    amounts
        .split(';')
        .map(|part| parse_minor(part, 2).map(format_short))
        .collect::<Option<Vec<_>>>()
        .map(|parts| parts.join(";"))
}

/// Whether `signature` signs `fields` under `key`; the field named by `amount` (an index) may
/// also be signed in its shortest form. Compared in constant time, case-insensitively.
pub fn verify(key: &str, fields: &[&str], amount: Option<usize>, signature: &str) -> bool {
    let given = signature.trim().to_ascii_lowercase();
    let matches = |fields: &[&str]| -> bool {
        let ours = sign(key, fields);
        // Length is public (128 hex characters); the bytes are compared in constant time.
        ours.len() == given.len() && bool::from(ours.as_bytes().ct_eq(given.as_bytes()))
    };
    let as_received = matches(fields);
    let short = amount.and_then(|i| {
        let text = shortest(fields.get(i)?)?;
        (text != fields[i]).then(|| {
            let mut alt = fields.to_vec();
            alt[i] = &text;
            matches(&alt)
        })
    });
    as_received | short.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compat note's vectors, computed independently in Python, OpenSSL and Node.
    #[test]
    fn the_compat_vectors() {
        assert_eq!(
            sign("secret_key_value", &["MERCH-TEST", "ORDER-1", "100", "EUR", "Test order"]),
            "e1f5f1446ff5575f8f59e5cc1e866b763115fc1d4342e6a6001ea9b72b093c4b13a607ff70651636affd6f417f2758f78094a130a4ad56694d297089d84158a9"
        );
        assert_eq!(
            sign("secret", &["TEST_TRADER_2"]),
            "48b703683479549e99c01ade60dc6b8d5207bd6001acab081e639dbed54a3c765982694008a3bcd025abff600e0cfc2c140f5461c322e0786db273e5e0d0d471"
        );
        assert_eq!(
            sign("secret", &["TEST_TRADER_2", "Фіксована с кількістю"]),
            "00c9a046e99163f8149aa17d423ecd942183f7f7d7cf8f9377adc4afdbc6a415083a465a2c1f6009f3e57570fd01550385f42baa9235cf20a2804e3728799ea4"
        );
    }

    #[test]
    fn amounts_verify_as_received_or_in_their_shortest_form() {
        let fields = ["M", "Purchase", "100.50;200.00", "ukr"];
        let as_received = sign("k", &fields);
        let short = sign("k", &["M", "Purchase", "100.5;200", "ukr"]);
        assert!(verify("k", &fields, Some(2), &as_received));
        assert!(verify("k", &fields, Some(2), &short));
        assert!(verify("k", &fields, Some(2), &short.to_ascii_uppercase()));
        assert!(
            !verify("k", &fields, None, &short),
            "no amount, no second form"
        );
        assert!(!verify("other", &fields, Some(2), &as_received));
        assert!(!verify("k", &fields, Some(2), &as_received[..64]));
        assert_eq!(shortest("100; 200.10").as_deref(), Some("100;200.1"));
        assert_eq!(shortest("").as_deref(), Some(""));
        assert_eq!(shortest("abc"), None);
    }
}
