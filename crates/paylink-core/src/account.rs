//! Web accounts: the people who sign in to paylink's pages (merchants in the merchant app,
//! operators in the console), their sessions, one-time links (invitations, password resets)
//! and the sign-in limits.
//!
//! Session tokens and link tokens are random secrets given to the browser once; the database
//! keeps only their SHA-256, so a database reader cannot sign in. Each session carries its own
//! CSRF token, which every form of a signed-in page echoes.

use crate::error::{DomainError, Rule};
use crate::id::{random_base62, AccountId, MerchantId};
use crate::time::Millis;
use crate::token::hex;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Who an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A merchant's owner: the merchant app.
    Merchant,
    /// An operator of the instance: the console.
    Operator,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Merchant => "merchant",
            AccountKind::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<AccountKind> {
        [AccountKind::Merchant, AccountKind::Operator]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub kind: AccountKind,
    /// The merchant a merchant account belongs to.
    pub merchant_id: Option<MerchantId>,
    /// Normalised ([`normalize_email`]); unique per kind.
    pub email: String,
    /// argon2id in PHC form; `None` until the invited person sets one.
    pub password_hash: Option<String>,
    /// An operator's role (`admin`, `support`).
    pub role: Option<String>,
    /// An operator's second factor: the TOTP secret, sealed to the account.
    pub totp_sealed: Option<String>,
    /// The last TOTP time step used to sign in; it and every earlier one are spent.
    pub totp_last_step: Option<i64>,
    /// When an operator's access was taken away; such an account cannot sign in.
    pub disabled_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// An email address as accounts hold it: trimmed and lower-cased (the local part too: people
/// type their address in every case and expect one account), `local@domain.tld`.
pub fn normalize_email(text: &str) -> Result<String, DomainError> {
    let email = text.trim().to_lowercase();
    let invalid = |kind| DomainError::Invalid {
        field: "email",
        kind,
    };
    if email.is_empty() {
        return Err(invalid(Rule::Required));
    }
    if email.chars().count() > MAX_EMAIL {
        return Err(invalid(Rule::TooLong { max: MAX_EMAIL }));
    }
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && email
                    .chars()
                    .all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>')
        }
        None => false,
    };
    if ok {
        Ok(email)
    } else {
        Err(invalid(Rule::Email))
    }
}

/// SHA-256 (hex) of a session or link token: what the database keeps.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A fresh secret token (43 base62 characters, about 256 bits) and its digest.
pub fn new_token(rng: &mut impl Rng) -> (String, String) {
    let token = random_base62(rng, 43);
    let digest = token_digest(&token);
    (token, digest)
}

/// Whether `text` could be a token we made: checked before any lookup, so that hostile cookie
/// or link text never reaches SQL.
pub fn plausible_token(text: &str) -> bool {
    text.len() == 43 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// How long a session lasts from sign-in, however active.
pub const SESSION_TTL_MS: Millis = 12 * 60 * 60 * 1000;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// [`token_digest`] of the cookie's token.
    pub digest: String,
    pub account_id: AccountId,
    /// Echoed by every form of the session's pages.
    pub csrf: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
    /// The client address it was made from (for the account's session list).
    pub address: String,
}

impl Session {
    pub fn is_live(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What a one-time link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Sets the first password of an account made for someone (an invitation).
    Invite,
    /// Sets a new password (forgot password).
    Reset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invite => "invite",
            LinkPurpose::Reset => "reset",
        }
    }

    pub fn parse(text: &str) -> Option<LinkPurpose> {
        [LinkPurpose::Invite, LinkPurpose::Reset]
            .into_iter()
            .find(|p| p.as_str() == text)
    }

    /// How long a link of this purpose works: an invitation waits for its reader; a reset
    /// link is asked for by someone at their mailbox now.
    pub fn ttl(self) -> Millis {
        match self {
            LinkPurpose::Invite => 7 * 24 * 60 * 60 * 1000,
            LinkPurpose::Reset => 60 * 60 * 1000,
        }
    }
}

/// A one-time link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeLink {
    pub digest: String,
    pub account_id: AccountId,
    pub purpose: LinkPurpose,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

/// Failed sign-ins allowed in [`SIGN_IN_WINDOW_MS`] per account and per client address; the
/// next attempt is refused without checking the password until the oldest failure leaves the
/// window. Counted in the database, so the limits hold across processes and concurrent tries.
pub const SIGN_IN_FAILURES_PER_ACCOUNT: i64 = 5;
pub const SIGN_IN_FAILURES_PER_ADDRESS: i64 = 20;
pub const SIGN_IN_WINDOW_MS: Millis = 15 * 60 * 1000;

/// Sign-ups per client address within [`SIGN_UP_WINDOW_MS`], successful or not: each hashes a
/// password (19 MiB and a core for a moment) and tells whether an email has an account, so one
/// client may not ask without end.
pub const SIGN_UP_PER_ADDRESS: i64 = 10;
pub const SIGN_UP_WINDOW_MS: Millis = 60 * 60 * 1000;

/// The keys failures are counted under: the account's (of its kind: guesses at a merchant's
/// sign-in page do not lock an operator with the same email out of the console) and the
/// client's address.
pub fn failure_keys(kind: AccountKind, email: &str, address: &str) -> [String; 2] {
    [
        format!("sign-in:{}:email:{email}", kind.as_str()),
        format!("sign-in:addr:{address}"),
    ]
}

/// Whether a sign-in may be tried, given the failures counted under each key in the window.
pub fn sign_in_allowed(account_failures: i64, address_failures: i64) -> bool {
    account_failures < SIGN_IN_FAILURES_PER_ACCOUNT
        && address_failures < SIGN_IN_FAILURES_PER_ADDRESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ivan.Petrov@Example.COM ").unwrap(),
            "ivan.petrov@example.com"
        );
        for bad in [
            "",
            "ivan",
            "@example.com",
            "ivan@",
            "ivan@example",
            "ivan@.com",
            "ivan@example..com",
            "iv an@example.com",
            "ivan@exa@mple.com",
            "ivan\u{0}@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn tokens_are_random_and_only_their_digest_is_kept() {
        let mut rng = rand::thread_rng();
        let (a, da) = new_token(&mut rng);
        let (b, db) = new_token(&mut rng);
        assert_ne!(a, b);
        assert_eq!(token_digest(&a), da);
        assert_ne!(da, db);
        assert!(plausible_token(&a));
        assert!(!plausible_token("short"));
        assert!(!plausible_token(&format!("{}!", &a[..42])));
        assert_eq!(da.len(), 64);
    }

    #[test]
    fn sessions_end_when_revoked_or_expired() {
        let s = Session {
            digest: "d".into(),
            account_id: AccountId::from_trusted("A000000001".into()),
            csrf: "c".into(),
            created_at: 0,
            expires_at: 100,
            revoked_at: None,
            address: "127.0.0.1".into(),
        };
        assert!(s.is_live(99));
        assert!(!s.is_live(100));
        assert!(!Session {
            revoked_at: Some(5),
            ..s
        }
        .is_live(6));
    }
}
