//! Merchant passwords: the length rules and argon2id hashes in PHC string form
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which carry their own parameters so that
//! old hashes keep verifying after the parameters change.

use crate::error::{DomainError, Rule};
use argon2::password_hash::SaltString;
use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use rand::{CryptoRng, RngCore};

/// Fewest characters (Unicode scalar values) a password may have.
pub const MIN_CHARS: usize = 10;
/// Most characters a password may have; also bounds the work one sign-in attempt costs.
pub const MAX_CHARS: usize = 128;

/// Memory per hash in KiB: OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane).
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

// A stored hash asking for more than this is refused unread: a corrupted or tampered row must
// not make a sign-in attempt allocate gigabytes or spin for minutes.
const MAX_STORED_M_COST_KIB: u32 = 256 * 1024;
const MAX_STORED_T_COST: u32 = 16;
const MAX_STORED_P_COST: u32 = 16;

/// Checks the length rules; an empty password is `Required`.
pub fn validate(password: &str) -> Result<(), DomainError> {
    let chars = password.chars().count();
    let kind = if chars == 0 {
        Rule::Required
    } else if chars < MIN_CHARS {
        Rule::TooShort { min: MIN_CHARS }
    } else if chars > MAX_CHARS {
        Rule::TooLong { max: MAX_CHARS }
    } else {
        return Ok(());
    };
    Err(DomainError::Invalid {
        field: "password",
        kind,
    })
}

fn current_params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, None).expect("the consts are valid argon2 parameters")
}

/// An argon2id hash of `password` with a fresh 16-byte salt, in PHC string form.
pub fn hash(rng: &mut (impl RngCore + CryptoRng), password: &str) -> String {
    hash_with(rng, password, current_params())
}

fn hash_with(rng: &mut (impl RngCore + CryptoRng), password: &str, params: Params) -> String {
    let salt = SaltString::generate(rng);
    Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password shorter than 4 GiB")
        .to_string()
}

/// Whether `password` is the one `phc` was made from. The comparison is constant-time inside
/// argon2; a malformed, non-argon2id or absurdly expensive stored hash is `false`.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(stored) = PasswordHash::new(phc) else {
        return false;
    };
    if stored.algorithm != argon2::ARGON2ID_IDENT {
        return false;
    }
    let Ok(params) = Params::try_from(&stored) else {
        return false;
    };
    if params.m_cost() > MAX_STORED_M_COST_KIB
        || params.t_cost() > MAX_STORED_T_COST
        || params.p_cost() > MAX_STORED_P_COST
    {
        return false;
    }
    // The algorithm, version and parameters come from `stored`, not from this instance.
    Argon2::default()
        .verify_password(password.as_bytes(), &stored)
        .is_ok()
}

/// Whether `phc` was made otherwise than [`hash`] makes hashes now (algorithm, version,
/// parameters, output length), so the caller should store a fresh hash after a successful
/// sign-in, while it holds the plain password.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(stored) = PasswordHash::new(phc) else {
        return true;
    };
    let current = current_params();
    let same_params = Params::try_from(&stored).is_ok_and(|p| {
        p.m_cost() == current.m_cost()
            && p.t_cost() == current.t_cost()
            && p.p_cost() == current.p_cost()
    });
    !(stored.algorithm == argon2::ARGON2ID_IDENT
        && stored.version == Some(Version::V0x13 as u32)
        && same_params
        && stored
            .hash
            .is_some_and(|h| h.len() == Params::DEFAULT_OUTPUT_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// argon2's smallest parameters: most tests need a hash, not its cost.
    fn cheap() -> Params {
        Params::new(Params::MIN_M_COST, 1, 1, None).unwrap()
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(19_456)
    }

    fn invalid(kind: Rule) -> Result<(), DomainError> {
        Err(DomainError::Invalid {
            field: "password",
            kind,
        })
    }

    #[test]
    fn length_rules_count_characters_not_bytes() {
        assert_eq!(validate(""), invalid(Rule::Required));
        assert_eq!(validate("123456789"), invalid(Rule::TooShort { min: 10 }));
        assert_eq!(validate("1234567890"), Ok(()));
        // Nine characters, 27 bytes: still too short.
        assert_eq!(
            validate("пароль日本語"),
            invalid(Rule::TooShort { min: 10 })
        );
        assert_eq!(validate("пароль日本語!!!!"), Ok(()));
        assert_eq!(validate(&"é".repeat(128)), Ok(()));
        assert_eq!(
            validate(&"é".repeat(129)),
            invalid(Rule::TooLong { max: 128 })
        );
        assert_eq!(
            validate(&"é".repeat(5)).unwrap_err().to_string(),
            "password must be at least 10 characters"
        );
    }

    #[test]
    fn hash_uses_owasp_argon2id_parameters_and_verifies() {
        let phc = hash(&mut rng(), "correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn only_the_same_password_verifies() {
        let mut rng = rng();
        let phc = hash_with(&mut rng, "correct horse battery", cheap());
        assert!(verify("correct horse battery", &phc));
        for wrong in [
            "",
            "correct horse batter",
            "correct horse battery ",
            "Correct horse battery",
        ] {
            assert!(!verify(wrong, &phc), "{wrong:?}");
        }
    }

    #[test]
    fn unicode_passwords_verify_byte_for_byte() {
        let mut rng = rng();
        let composed = "caf\u{e9} au lait, s'il vous pla\u{ee}t";
        let decomposed = "cafe\u{301} au lait, s'il vous pla\u{ee}t";
        let phc = hash_with(&mut rng, composed, cheap());
        assert!(verify(composed, &phc));
        // Looks the same, differs in bytes: no normalisation happens behind the user's back.
        assert!(!verify(decomposed, &phc));
        let emoji = "🔐 пароль 日本語 🔑";
        assert!(verify(emoji, &hash_with(&mut rng, emoji, cheap())));
    }

    #[test]
    fn two_hashes_of_one_password_differ() {
        let mut rng = rng();
        let a = hash_with(&mut rng, "correct horse battery", cheap());
        let b = hash_with(&mut rng, "correct horse battery", cheap());
        assert_ne!(a, b);
        assert!(verify("correct horse battery", &a));
        assert!(verify("correct horse battery", &b));
    }

    #[test]
    fn malformed_or_foreign_hashes_are_false_and_need_rehash() {
        let mut rng = rng();
        let good = hash_with(&mut rng, "correct horse battery", cheap());
        let argon2i = good.replacen("$argon2id$", "$argon2i$", 1);
        let no_hash = good.rsplit_once('$').unwrap().0.to_string();
        let greedy = good.replacen("m=8,t=1,p=1", "m=4194304,t=1,p=1", 1);
        let slow = good.replacen("m=8,t=1,p=1", "m=8,t=1000000,p=1", 1);
        assert!(good.contains("m=8,t=1,p=1"), "{good}");
        for bad in [
            "",
            "correct horse battery",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=abc,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            &good[..good.len() - 5],
            &format!("{good}$"),
            &argon2i,
            &no_hash,
            &greedy,
            &slow,
        ] {
            assert!(!verify("correct horse battery", bad), "{bad:?}");
            assert!(needs_rehash(bad), "{bad:?}");
        }
    }

    #[test]
    fn weaker_parameters_need_rehash() {
        let phc = hash_with(&mut rng(), "correct horse battery", cheap());
        assert!(verify("correct horse battery", &phc));
        assert!(needs_rehash(&phc));
    }
}
