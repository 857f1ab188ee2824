//! One-time codes for the operator console's second factor: RFC 4226 HOTP and RFC 6238 TOTP.
//! Authenticator apps speak HMAC-SHA1, 6 digits, 30-second steps; SHA-256 and SHA-512 are here
//! so the RFC's vectors for all three can be checked. Time is a parameter, never the clock.

use crate::time::Millis;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;

/// Digits of the codes the console accepts.
pub const DIGITS: u32 = 6;
/// Seconds per time step (RFC 6238's X), counted from the unix epoch (T0 = 0).
pub const PERIOD_SECS: u64 = 30;
/// Bytes of a generated secret: 160 bits, the HMAC-SHA1 block the RFC recommends.
pub const SECRET_LEN: usize = 20;
/// Steps either side of the current one that still count, for clocks that drift.
const DRIFT_STEPS: u64 = 1;

/// The HMAC hash behind the codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// A fresh random secret to enrol an authenticator with.
pub fn generate_secret(rng: &mut (impl RngCore + CryptoRng)) -> Vec<u8> {
    let mut secret = vec![0; SECRET_LEN];
    rng.fill_bytes(&mut secret);
    secret
}

/// RFC 4226's HOTP value for `counter`: `digits` decimal digits (at most 9), zero-padded.
pub fn hotp(algorithm: Algorithm, secret: &[u8], counter: u64, digits: u32) -> String {
    assert!((1..=9).contains(&digits), "HOTP takes 1 to 9 digits");
    let message = counter.to_be_bytes();
    let digest = match algorithm {
        Algorithm::Sha1 => mac::<Hmac<sha1::Sha1>>(secret, &message),
        Algorithm::Sha256 => mac::<Hmac<sha2::Sha256>>(secret, &message),
        Algorithm::Sha512 => mac::<Hmac<sha2::Sha512>>(secret, &message),
    };
    // Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte picks 4 bytes.
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let bytes: [u8; 4] = digest[offset..offset + 4]
        .try_into()
        .expect("four bytes fit in every HMAC output");
    let binary = u32::from_be_bytes(bytes) & 0x7fff_ffff;
    let code = binary % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

fn mac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The time step `now` falls in; none before the epoch.
pub fn step(now: Millis) -> Option<u64> {
    u64::try_from(now.div_euclid(1000 * PERIOD_SECS as i64)).ok()
}

/// RFC 6238's TOTP value at `now` (T0 = 0, X = 30 seconds).
pub fn totp(algorithm: Algorithm, secret: &[u8], now: Millis, digits: u32) -> Option<String> {
    Some(hotp(algorithm, secret, step(now)?, digits))
}

/// Checks a 6-digit SHA-1 code typed at `now` against the current step and one step either
/// side. Returns the step it matched, which the caller stores and hands back as
/// `last_used_step`: that step and every earlier one are refused from then on, so a code seen
/// over a shoulder or in a log cannot be used again.
pub fn verify(secret: &[u8], code: &str, now: Millis, last_used_step: Option<u64>) -> Option<u64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step(now)?;
    let mut matched = None;
    // Every candidate is computed and compared, so the time taken does not tell which matched.
    for candidate in current.saturating_sub(DRIFT_STEPS)..=current.saturating_add(DRIFT_STEPS) {
        let expected = hotp(Algorithm::Sha1, secret, candidate, DIGITS);
        let equal = bool::from(expected.as_bytes().ct_eq(code.as_bytes()));
        let fresh = last_used_step.is_none_or(|used| candidate > used);
        if equal && fresh {
            matched = Some(candidate);
        }
    }
    matched
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, upper case, without padding: the secret as authenticator apps take it.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[usize::from((buffer >> bits) & 0x1f)],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)],
        ));
    }
    out
}

/// Reads [`base32_encode`]'s form back; lower case is accepted too, since people retype it.
/// Padding, other characters, impossible lengths and stray trailing bits are refused.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero, so each byte string has exactly one spelling.
    (buffer == 0).then_some(out)
}

/// The `otpauth://` URI an authenticator app scans (as a QR code) to enrol `secret`, listed
/// under `issuer` and `account`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        account = percent_encode(account),
        secret = base32_encode(secret),
    )
}

/// Every byte but RFC 3986's unreserved characters as `%XX`; a space is `%20`, as the apps
/// expect, and a colon inside a name cannot split the label.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const SHA1_SECRET: &[u8] = b"12345678901234567890";
    const SHA256_SECRET: &[u8] = b"12345678901234567890123456789012";
    const SHA512_SECRET: &[u8] =
        b"1234567890123456789012345678901234567890123456789012345678901234";

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(
                hotp(Algorithm::Sha1, SHA1_SECRET, counter as u64, 6),
                *code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b() {
        use Algorithm::*;
        let vectors: [(i64, &str, Algorithm); 18] = [
            (59, "94287082", Sha1),
            (59, "46119246", Sha256),
            (59, "90693936", Sha512),
            (1111111109, "07081804", Sha1),
            (1111111109, "68084774", Sha256),
            (1111111109, "25091201", Sha512),
            (1111111111, "14050471", Sha1),
            (1111111111, "67062674", Sha256),
            (1111111111, "99943326", Sha512),
            (1234567890, "89005924", Sha1),
            (1234567890, "91819424", Sha256),
            (1234567890, "93441116", Sha512),
            (2000000000, "69279037", Sha1),
            (2000000000, "90698825", Sha256),
            (2000000000, "38618901", Sha512),
            (20000000000, "65353130", Sha1),
            (20000000000, "77737706", Sha256),
            (20000000000, "47863826", Sha512),
        ];
        for (secs, code, algorithm) in vectors {
            let secret = match algorithm {
                Sha1 => SHA1_SECRET,
                Sha256 => SHA256_SECRET,
                Sha512 => SHA512_SECRET,
            };
            assert_eq!(
                totp(algorithm, secret, secs * 1000, 8).as_deref(),
                Some(code),
                "{algorithm:?} at {secs}"
            );
        }
    }

    #[test]
    fn steps_start_at_the_epoch_and_last_thirty_seconds() {
        assert_eq!(step(0), Some(0));
        assert_eq!(step(29_999), Some(0));
        assert_eq!(step(30_000), Some(1));
        assert_eq!(step(59_000), Some(1));
        assert_eq!(step(-1), None);
        assert_eq!(totp(Algorithm::Sha1, SHA1_SECRET, -1, 6), None);
    }

    /// The 6-digit code an authenticator app shows at `secs`.
    fn app_code(secs: i64) -> String {
        totp(Algorithm::Sha1, SHA1_SECRET, secs * 1000, 6).unwrap()
    }

    #[test]
    fn verify_accepts_the_current_code_and_returns_its_step() {
        let now = 1_111_111_111_000;
        let code = app_code(1_111_111_111);
        // The RFC's 8-digit SHA1 code ends in the 6 digits an app shows.
        assert_eq!(code, "050471");
        assert_eq!(verify(SHA1_SECRET, &code, now, None), step(now));
    }

    #[test]
    fn verify_tolerates_one_step_of_drift_either_way() {
        let now_secs = 1_234_567_890;
        let now = now_secs * 1000;
        let current = step(now).unwrap();
        let behind = app_code(now_secs - 30);
        let ahead = app_code(now_secs + 30);
        assert_eq!(verify(SHA1_SECRET, &behind, now, None), Some(current - 1));
        assert_eq!(verify(SHA1_SECRET, &ahead, now, None), Some(current + 1));
        assert_eq!(
            verify(SHA1_SECRET, &app_code(now_secs - 60), now, None),
            None
        );
        assert_eq!(
            verify(SHA1_SECRET, &app_code(now_secs + 60), now, None),
            None
        );
    }

    #[test]
    fn verify_refuses_a_replayed_or_older_step() {
        let now_secs = 2_000_000_000;
        let now = now_secs * 1000;
        let code = app_code(now_secs);
        let used = verify(SHA1_SECRET, &code, now, None).unwrap();
        // The same code again, even ten seconds later within its window.
        assert_eq!(verify(SHA1_SECRET, &code, now + 10_000, Some(used)), None);
        // The previous step's code, still within drift, is older than the one used.
        let previous = app_code(now_secs - 30);
        assert_eq!(verify(SHA1_SECRET, &previous, now, Some(used)), None);
        // The next step's code is new and passes.
        let next = app_code(now_secs + 30);
        assert_eq!(
            verify(SHA1_SECRET, &next, now + 30_000, Some(used)),
            Some(used + 1)
        );
    }

    #[test]
    fn verify_refuses_wrong_and_malformed_codes() {
        let now_secs = 1_111_111_109;
        let now = now_secs * 1000;
        let good = app_code(now_secs);
        assert_eq!(verify(SHA1_SECRET, &good, now, None), step(now));
        let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(verify(SHA1_SECRET, &wrong, now, None), None);
        assert_eq!(verify(b"another secret", &good, now, None), None);
        let eight = totp(Algorithm::Sha1, SHA1_SECRET, now, 8).unwrap();
        for bad in [
            "",
            &good[..5],
            &eight,
            &format!(" {good}"),
            &format!("{good} "),
            &format!("+{}", &good[1..]),
            "12345a",
            "１２３４５６",
        ] {
            assert_eq!(verify(SHA1_SECRET, bad, now, None), None, "{bad:?}");
        }
        assert_eq!(verify(SHA1_SECRET, &good, -1, None), None);
    }

    #[test]
    fn base32_matches_rfc_4648_section_10() {
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(
                base32_decode(encoded).as_deref(),
                Some(plain.as_bytes()),
                "{encoded}"
            );
        }
        assert_eq!(
            base32_encode(SHA1_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn base32_decode_takes_lower_case_and_refuses_the_rest() {
        assert_eq!(base32_decode("mzxw6ytboi").as_deref(), Some(&b"foobar"[..]));
        for bad in [
            "MZXW6YTBOI======",
            "MZXW 6YTB",
            "MZXW1",
            "M",
            "MZX",
            "MZXW6Y",
            "MZ",
            "MZXR",
        ] {
            assert_eq!(base32_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn generated_secrets_are_twenty_random_bytes_that_survive_base32() {
        let mut rng = StdRng::seed_from_u64(6238);
        let a = generate_secret(&mut rng);
        let b = generate_secret(&mut rng);
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        let shown = base32_encode(&a);
        assert_eq!(shown.len(), 32);
        assert_eq!(base32_decode(&shown), Some(a));
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_parameters() {
        assert_eq!(
            otpauth_uri("paylink", "ops@example.com", SHA1_SECRET),
            "otpauth://totp/paylink:ops%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=paylink\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri("Pay Link: ops", "Zoë&co", b"f"),
            "otpauth://totp/Pay%20Link%3A%20ops:Zo%C3%AB%26co\
             ?secret=MY&issuer=Pay%20Link%3A%20ops&algorithm=SHA1&digits=6&period=30"
        );
    }
}
