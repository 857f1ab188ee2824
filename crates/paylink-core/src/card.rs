//! Card numbers: parsed with a Luhn check, shown only masked, remembered only by a keyed
//! fingerprint. The full number never leaves this type except through `expose_pan`.

use crate::time::{format_datetime, Millis};
use crate::token::hex;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Accepts 12–19 digits with optional spaces or dashes, and a valid Luhn check digit.
    pub fn parse(text: &str) -> Option<CardNumber> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        luhn_ok(&digits).then_some(CardNumber(digits))
    }

    /// `first6******last4`, the only form shown anywhere.
    pub fn masked(&self) -> String {
        let n = &self.0;
        format!("{}******{}", &n[..6], &n[n.len() - 4..])
    }

    /// A keyed HMAC-SHA256 of the number: lets two payments with one card be linked without
    /// storing the card.
    pub fn fingerprint(&self, key: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(self.0.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// The full number, for the acquirer only.
    pub fn expose_pan(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The digit that makes `body` followed by it pass the Luhn check, for numbers paylink issues;
/// `None` unless `body` is all digits.
pub fn luhn_check_digit(body: &str) -> Option<u8> {
    if !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (0..10).find(|d| luhn_ok(&format!("{body}{d}")))
}

/// `MM/YY`, `MMYY`, `MM/YYYY`: valid through the end of that month, which must not be past.
pub fn expiry_ok(text: &str, now: Millis) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let (month, year) = match digits.len() {
        4 => (&digits[..2], format!("20{}", &digits[2..])),
        6 => (&digits[..2], digits[2..].to_string()),
        _ => return false,
    };
    let (Ok(month), Ok(year)) = (month.parse::<u32>(), year.parse::<u32>()) else {
        return false;
    };
    let today = format_datetime(now);
    let this_year: u32 = today[..4].parse().unwrap_or(0);
    let this_month: u32 = today[5..7].parse().unwrap_or(0);
    (1..=12).contains(&month) && (year, month) >= (this_year, this_month) && year <= this_year + 20
}

/// The name on a payout card as the provider gets it, trimmed and in upper case; `None` when
/// the text as typed is longer than 64 characters or holds a control character.
pub fn holder_name(text: &str) -> Option<String> {
    // Checked as typed: a control character or overlong text is refused, not trimmed away.
    (text.chars().count() <= 64 && !text.chars().any(char::is_control))
        .then(|| text.trim().to_uppercase())
}

/// Three or four digits.
pub fn cvc_ok(text: &str) -> bool {
    (3..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_masking() {
        let c = CardNumber::parse("4242 4242 4242 4242").unwrap();
        assert_eq!(c.masked(), "424242******4242");
        assert!(!format!("{c:?}").contains("4242424242424242"));
        assert!(CardNumber::parse("4242424242424241").is_none());
        assert!(CardNumber::parse("42424242").is_none());
        assert!(CardNumber::parse("4242a24242424242").is_none());
        assert!(CardNumber::parse("5555555555554444").is_some());
    }

    #[test]
    fn check_digits_complete_known_numbers() {
        assert_eq!(luhn_check_digit("424242424242424"), Some(2));
        assert_eq!(luhn_check_digit("555555555555444"), Some(4));
        assert_eq!(luhn_check_digit("42424x"), None);
    }

    #[test]
    fn fingerprints_depend_on_the_key() {
        let c = CardNumber::parse("4242424242424242").unwrap();
        assert_eq!(c.fingerprint(b"k1"), c.fingerprint(b"k1"));
        assert_ne!(c.fingerprint(b"k1"), c.fingerprint(b"k2"));
        assert!(!c.fingerprint(b"k1").contains("4242424242"));
    }

    #[test]
    fn expiry_dates_are_checked_against_this_month() {
        // 2024-05-14.
        let now = 1_715_680_800_000;
        assert!(expiry_ok("05/24", now));
        assert!(expiry_ok("12 / 2030", now));
        assert!(expiry_ok("0125", now));
        assert!(!expiry_ok("04/24", now));
        assert!(!expiry_ok("13/30", now));
        assert!(!expiry_ok("00/30", now));
        assert!(!expiry_ok("1/30", now));
        assert!(!expiry_ok("12/99", now));
    }

    #[test]
    fn holder_names_are_checked_as_typed_then_trimmed() {
        assert_eq!(holder_name("  ivan ivanov "), Some("IVAN IVANOV".into()));
        assert_eq!(holder_name("IVAN IVANOV\n"), None);
        assert_eq!(holder_name(&format!(" {} ", "A".repeat(64))), None);
        assert_eq!(holder_name(&"a".repeat(64)), Some("A".repeat(64)));
    }
}
