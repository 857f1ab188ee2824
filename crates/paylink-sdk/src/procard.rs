//! Procard's request signatures, as a merchant's client makes them: lowercase hex
//! HMAC-SHA512 of the documented fields joined by `;`, under the merchant's secret key
//! (`docs/procard-api.md`). For example, `list` signs `[merchant_id]` and `create` signs
//! `[merchant_id, operation, amount, language]`.

use hmac::{Hmac, Mac};
use sha2::Sha512;

/// `lowercase_hex(HMAC-SHA512(key, fields joined by ";"))`: 128 hex characters.
pub fn sign(key: &str, fields: &[&str]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(fields.join(";").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An amount list in the shortest form Procard's clients sign: each `;`-separated amount
/// without leading zeros, trailing fractional zeros or a bare point (`100.50;200.00` →
/// `100.5;200`). A part that is not a plain decimal is kept as it is.
pub fn shortest_amount(text: &str) -> String {
    text.split(';')
        .map(|part| shortest_one(part.trim()))
        .collect::<Vec<_>>()
        .join(";")
}

fn shortest_one(part: &str) -> String {
    let (whole, frac) = part.split_once('.').unwrap_or((part, ""));
    let plain = !(whole.is_empty() && frac.is_empty())
        && whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit());
    if !plain {
        return part.to_string();
    }
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        w => w,
    };
    match frac.trim_end_matches('0') {
        "" => whole.to_string(),
        f => format!("{whole}.{f}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compat note's vectors, computed independently in Python, OpenSSL and Node.
    #[test]
    fn signs_the_compat_vectors() {
        assert_eq!(
            sign(
                "secret_key_value",
                &["MERCH-TEST", "ORDER-1", "100", "EUR", "Test order"]
            ),
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
    fn shortest_amounts_drop_the_zeros_clients_leave_out() {
        assert_eq!(shortest_amount("100.50;200.00"), "100.5;200");
        assert_eq!(shortest_amount("100"), "100");
        assert_eq!(shortest_amount("25.50"), "25.5");
        assert_eq!(shortest_amount("0.10"), "0.1");
        assert_eq!(shortest_amount("007.00"), "7");
        assert_eq!(shortest_amount("100; 200.10"), "100;200.1");
        assert_eq!(shortest_amount(""), "");
        assert_eq!(shortest_amount("abc;1.0"), "abc;1");
    }
}
