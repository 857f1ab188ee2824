//! Card issuing (the Card API v5, issue 12): card statuses and what each allows, PAN, expiry and
//! CVV generation, card balance decisions, gift-card OTPs and the sandbox's gift products.
//!
//! Pure rules: the caller hands in the stored state and `now`. The store applies the outcome and
//! enforces the money rules again with SQL guards, because two requests may decide on the same
//! balance at once; these functions decide for one request, the guards make it hold for all.

use crate::card::{luhn_check_digit, CardNumber};
use crate::error::Rule;
use crate::money::{format_short, Amount, Currency};
use crate::time::{format_datetime, Millis};
use crate::token::hex;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// Every refusal of an issuing rule. [`IssuingError::code`] is the compat note's error string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IssuingError {
    #[error("the card is not active")]
    CardInactive,
    #[error("the card is blocked")]
    CardBlocked,
    #[error("the card is closed")]
    CardClosed,
    /// Answers `card_inactive`: the compat list has no `card_expired`, and an expired card is
    /// simply not usable; `card/info` shows the partner why (status 4).
    #[error("the card has expired")]
    CardExpired,
    #[error("not enough money on the card")]
    InsufficientFunds,
    /// A credit or a gift card's face value needs more than the partner's prepaid balance.
    #[error("not enough money on the partner's prepaid balance")]
    PartnerFundsShort,
    /// Also for a refund above what is left of the debit: the list's only code for "more than
    /// the original transaction allows".
    #[error("the amount exceeds what the transaction allows")]
    AmountExceedsAuthorized,
    #[error("the code is not valid")]
    OtpInvalid,
    #[error("the code has expired")]
    OtpExpired,
    /// Answers `otp_expired`: the code is spent, and what the partner must do is the same as
    /// for an expired one (issue a new code), not ask the user again.
    #[error("too many wrong codes; close the card (its value returns to the partner) and issue a new one")]
    OtpAttemptsExhausted,
    #[error("{field} {kind}")]
    Invalid { field: &'static str, kind: Rule },
    /// A balance that would overflow: the card cannot hold that much.
    #[error("the card cannot hold that amount")]
    LimitExceeded,
    /// Also for another partner's card: a foreign id answers like a missing one.
    #[error("card not found")]
    CardNotFound,
    #[error("client not found")]
    ClientNotFound,
    #[error("transaction not found")]
    TransactionNotFound,
    #[error("request not found")]
    RequestNotFound,
    #[error("the request_id was used before")]
    DuplicateRequestId,
    #[error("the product, currency or gift card is not available to this partner")]
    ProductNotAvailable,
    #[error("partner not found")]
    PartnerNotFound,
    /// The one-time card data link was opened before or has expired.
    #[error("the link was used or has expired")]
    SecretGone,
}

impl IssuingError {
    pub fn code(&self) -> &'static str {
        match self {
            IssuingError::CardInactive | IssuingError::CardExpired => "card_inactive",
            IssuingError::CardBlocked => "card_blocked",
            IssuingError::CardClosed => "card_closed",
            IssuingError::InsufficientFunds | IssuingError::PartnerFundsShort => {
                "insufficient_funds"
            }
            IssuingError::AmountExceedsAuthorized => "amount_exceeds_authorized",
            IssuingError::OtpInvalid => "otp_invalid",
            IssuingError::OtpExpired | IssuingError::OtpAttemptsExhausted => "otp_expired",
            IssuingError::Invalid { .. } => "validation_error",
            IssuingError::LimitExceeded => "limit_exceeded",
            IssuingError::CardNotFound | IssuingError::SecretGone => "card_not_found",
            IssuingError::ClientNotFound => "client_not_found",
            IssuingError::TransactionNotFound => "transaction_not_found",
            IssuingError::RequestNotFound => "request_not_found",
            IssuingError::DuplicateRequestId => "duplicate_request_id",
            IssuingError::ProductNotAvailable => "product_not_available",
            // Only the CLI meets it: the API authenticates partners before anything else.
            IssuingError::PartnerNotFound => "unknown_auth_id",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statuses

/// A card's status with the compat note's codes. `Closed` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardStatus {
    Inactive,
    Active,
    Blocked,
    Closed,
    Expired,
}

impl CardStatus {
    pub const ALL: [CardStatus; 5] = [
        CardStatus::Inactive,
        CardStatus::Active,
        CardStatus::Blocked,
        CardStatus::Closed,
        CardStatus::Expired,
    ];

    /// The wire `card_status`.
    pub fn code(self) -> u8 {
        match self {
            CardStatus::Inactive => 0,
            CardStatus::Active => 1,
            CardStatus::Blocked => 2,
            CardStatus::Closed => 3,
            CardStatus::Expired => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<CardStatus> {
        CardStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Why a card in this status refuses a use it does not allow.
    fn refusal(self) -> IssuingError {
        match self {
            CardStatus::Inactive | CardStatus::Active => IssuingError::CardInactive,
            CardStatus::Blocked => IssuingError::CardBlocked,
            CardStatus::Closed => IssuingError::CardClosed,
            CardStatus::Expired => IssuingError::CardExpired,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardType {
    Virtual,
    /// Issued inactive; activates only with the OTP sent to the holder's phone.
    Gift,
}

impl CardType {
    pub fn as_str(self) -> &'static str {
        match self {
            CardType::Virtual => "virtual",
            CardType::Gift => "gift",
        }
    }

    pub fn parse(text: &str) -> Option<CardType> {
        [CardType::Virtual, CardType::Gift]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// Where a refund's money goes ([`CardState::refund_to`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTo {
    /// Back onto the card.
    Card,
    /// The card is closed: to its partner's prepaid balance in the card's currency.
    PrepaidBalance,
}

impl RefundTo {
    /// The wire `refunded_to`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundTo::Card => "card",
            RefundTo::PrepaidBalance => "prepaid_balance",
        }
    }
}

/// What a request wants to do with a card's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardUse {
    /// Take money off the card.
    Debit,
    /// Put money on the card (fund, gift face value).
    Credit,
    /// Reserve money (a hold).
    Authorize,
    /// Clear, reverse or refund an earlier transaction.
    Settle,
}

/// The stored facts about a card that its rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardState {
    pub status: CardStatus,
    pub card_type: CardType,
    pub expiry: Expiry,
    /// Whether the card has a client (issued to one, or linked with `card/link`). A link is
    /// never undone, so a card read linked stays linked.
    pub linked: bool,
}

impl CardState {
    /// The status as of `now`: past its expiry month a card is expired whatever is stored,
    /// except a closed card, which stays closed (final).
    pub fn status_at(&self, now: Millis) -> CardStatus {
        match self.status {
            CardStatus::Closed => CardStatus::Closed,
            _ if self.expiry.is_past(now) => CardStatus::Expired,
            s => s,
        }
    }

    /// Whether the card allows `what` now.
    ///
    /// - Debit and authorize: active only.
    /// - Credit: inactive, active or blocked. Receiving money puts nobody at risk: a block
    ///   stops spending, not funding, and a gift card gets its face value while still inactive.
    /// - Settling an earlier transaction: anything but closed, so an authorization made before
    ///   a block or the expiry month's end still clears and a debit can still be refunded. A
    ///   closed card's balance has left it; nothing may land on it any more.
    pub fn allows(&self, what: CardUse, now: Millis) -> Result<(), IssuingError> {
        let status = self.status_at(now);
        let ok = match what {
            CardUse::Debit | CardUse::Authorize => status == CardStatus::Active,
            CardUse::Credit => matches!(
                status,
                CardStatus::Inactive | CardStatus::Active | CardStatus::Blocked
            ),
            CardUse::Settle => status != CardStatus::Closed,
        };
        if ok {
            Ok(())
        } else {
            Err(status.refusal())
        }
    }

    /// `card/activate`: inactive → active. An active card answers success (it is already where
    /// the request wants it). A gift card refuses: only its OTP activates it. A virtual card
    /// without a client (bulk-issued, not linked yet) refuses: it is linked first.
    pub fn activate(&self, now: Millis) -> Result<CardStatus, IssuingError> {
        if self.card_type == CardType::Gift {
            return Err(IssuingError::Invalid {
                field: "card_id",
                kind: Rule::Refused {
                    reason: "a gift card is activated with its OTP".into(),
                },
            });
        }
        match self.status_at(now) {
            CardStatus::Inactive | CardStatus::Active if !self.linked => {
                Err(IssuingError::Invalid {
                    field: "card_id",
                    kind: Rule::Refused {
                        reason: "the card has no client; link it to one with card/link first"
                            .into(),
                    },
                })
            }
            CardStatus::Inactive | CardStatus::Active => Ok(CardStatus::Active),
            other => Err(other.refusal()),
        }
    }

    /// Gift `activate_card`: an inactive gift card and the right OTP → active. Strict, unlike
    /// [`CardState::activate`]: the answer shows the card's mask and balance, so it is given
    /// only once, for the code.
    pub fn activate_gift(
        &self,
        now: Millis,
        otp: &StoredOtp,
        key: &[u8],
        card_id: &str,
        given: &str,
    ) -> Result<CardStatus, IssuingError> {
        match (self.card_type, self.status_at(now)) {
            (CardType::Gift, CardStatus::Inactive) => {}
            (CardType::Virtual, _) => {
                return Err(IssuingError::Invalid {
                    field: "card_id",
                    kind: Rule::Refused {
                        reason: "not a gift card".into(),
                    },
                })
            }
            (CardType::Gift, CardStatus::Active) => {
                return Err(IssuingError::Invalid {
                    field: "card_id",
                    kind: Rule::Refused {
                        reason: "the card is already active".into(),
                    },
                })
            }
            (CardType::Gift, other) => return Err(other.refusal()),
        }
        otp.check(key, card_id, given, now)?;
        Ok(CardStatus::Active)
    }

    /// `card/block`: active → blocked; a blocked card answers success.
    pub fn block(&self, now: Millis) -> Result<CardStatus, IssuingError> {
        match self.status_at(now) {
            CardStatus::Active | CardStatus::Blocked => Ok(CardStatus::Blocked),
            other => Err(other.refusal()),
        }
    }

    /// `card/unblock`: blocked → active; an active card answers success.
    pub fn unblock(&self, now: Millis) -> Result<CardStatus, IssuingError> {
        match self.status_at(now) {
            CardStatus::Blocked | CardStatus::Active => Ok(CardStatus::Active),
            other => Err(other.refusal()),
        }
    }

    /// Where a refund of an earlier debit or capture goes: onto the card while it is not
    /// closed (blocked, inactive and expired cards too, like any settling), else to the
    /// partner's prepaid balance, where closing the card sent its money.
    pub fn refund_to(&self) -> RefundTo {
        match self.status {
            CardStatus::Closed => RefundTo::PrepaidBalance,
            _ => RefundTo::Card,
        }
    }

    /// `card/close`: anything but closed → closed, expired cards too (that is how a partner
    /// retires them). Closing twice is refused: closed is final, everything on it is refused.
    pub fn close(&self) -> Result<CardStatus, IssuingError> {
        match self.status {
            CardStatus::Closed => Err(IssuingError::CardClosed),
            _ => Ok(CardStatus::Closed),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Card data

/// The PAN lengths paylink issues: those [`CardNumber::parse`] accepts.
pub const PAN_LENGTHS: std::ops::RangeInclusive<u8> = 12..=19;

/// Years a new card is valid for by default.
pub const CARD_VALIDITY_YEARS: u16 = 3;

/// Prefixes a partner's cards may start with: one prefix of 6–8 digits, or every prefix of one
/// length from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinRange {
    from: u32,
    to: u32,
    digits: u8,
}

impl BinRange {
    pub fn prefix(text: &str) -> Option<BinRange> {
        BinRange::range(text, text)
    }

    /// Both ends of one length (6–8 digits), `from <= to`.
    pub fn range(from: &str, to: &str) -> Option<BinRange> {
        let digits = from.len();
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !(6..=8).contains(&digits) || to.len() != digits || !all_digits(from) || !all_digits(to)
        {
            return None;
        }
        let (from, to) = (from.parse().ok()?, to.parse().ok()?);
        (from <= to).then_some(BinRange {
            from,
            to,
            digits: digits as u8,
        })
    }

    /// The text [`BinRange::parse`] reads back.
    pub fn text(&self) -> String {
        let width = usize::from(self.digits);
        if self.from == self.to {
            format!("{:0width$}", self.from)
        } else {
            format!("{:0width$}-{:0width$}", self.from, self.to)
        }
    }

    /// `22022000` or `22022000-22022099`: the form partner settings hold.
    pub fn parse(text: &str) -> Option<BinRange> {
        match text.split_once('-') {
            Some((from, to)) => BinRange::range(from.trim(), to.trim()),
            None => BinRange::prefix(text.trim()),
        }
    }

    /// Whether `pan` starts with one of this range's prefixes.
    pub fn contains(&self, pan: &str) -> bool {
        pan.get(..usize::from(self.digits))
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| (self.from..=self.to).contains(&p))
    }

    /// How many PANs of `length` this range holds.
    fn capacity(&self, length: u8) -> u128 {
        u128::from(self.to - self.from + 1) * 10u128.pow(self.free_digits(length))
    }

    /// Random digits between the prefix and the check digit.
    fn free_digits(&self, length: u8) -> u32 {
        u32::from(length - self.digits - 1)
    }
}

/// A fresh Luhn-valid PAN of `length` digits, drawn uniformly from every PAN the ranges allow
/// (each range weighs what it holds, so a wide range is not crowded into the share of a
/// narrow one). Uniqueness is the database's job: the card table has a unique fingerprint, and
/// the caller draws again on a conflict.
///
/// # Panics
/// With no range or a length outside [`PAN_LENGTHS`]: partner settings are checked before this.
pub fn generate_pan(rng: &mut impl Rng, bin_ranges: &[BinRange], length: u8) -> CardNumber {
    assert!(PAN_LENGTHS.contains(&length), "PAN length {length}");
    let total: u128 = bin_ranges.iter().map(|r| r.capacity(length)).sum();
    assert!(total > 0, "no BIN range");
    let mut pick = rng.gen_range(0..total);
    for range in bin_ranges {
        let capacity = range.capacity(length);
        if pick >= capacity {
            pick -= capacity;
            continue;
        }
        let free = range.free_digits(length);
        let tail = 10u128.pow(free);
        let prefix = u128::from(range.from) + pick / tail;
        let body = format!(
            "{prefix:0p$}{:0f$}",
            pick % tail,
            p = usize::from(range.digits),
            f = free as usize
        );
        let check = luhn_check_digit(&body).expect("digits");
        return CardNumber::parse(&format!("{body}{check}")).expect("Luhn-valid by construction");
    }
    unreachable!("pick < total")
}

/// Three random digits.
pub fn generate_cvv(rng: &mut impl Rng) -> String {
    format!("{:03}", rng.gen_range(0..1000))
}

/// A card's expiry month; the card is valid through that month's last day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry {
    // Year first: the derived order is chronological.
    year: u16,
    month: u8,
}

impl Expiry {
    pub fn new(month: u8, year: u16) -> Option<Expiry> {
        (1..=12).contains(&month).then_some(Expiry { year, month })
    }

    /// The month of `now`, `years` later: a card issued in May 2024 for 3 years shows 05/27.
    pub fn years_after(now: Millis, years: u16) -> Expiry {
        let this = Expiry::month_of(now);
        Expiry {
            year: this.year + years,
            ..this
        }
    }

    /// `MM/YY`, as stored and shown (years 2000–2099).
    pub fn parse(text: &str) -> Option<Expiry> {
        let (mm, yy) = text.split_once('/')?;
        let two = |s: &str| -> Option<u16> {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        Expiry::new(u8::try_from(two(mm)?).ok()?, 2000 + two(yy)?)
    }

    pub fn mm_yy(self) -> String {
        format!("{:02}/{:02}", self.month, self.year % 100)
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn year(self) -> u16 {
        self.year
    }

    /// Whether the whole month has passed by `now`.
    pub fn is_past(self, now: Millis) -> bool {
        self < Expiry::month_of(now)
    }

    fn month_of(now: Millis) -> Expiry {
        let today = format_datetime(now);
        Expiry {
            year: today[..4].parse().unwrap_or(0),
            month: today[5..7].parse().unwrap_or(1),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Balances

/// A card's money in minor units. `balance` is all it holds (the ledger's available and hold
/// buckets together), `hold` the part authorizations reserve. These methods decide one
/// request; the store's guarded balance updates enforce the same bounds again under concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CardBalance {
    pub balance: i64,
    pub hold: i64,
}

/// What settling an authorization does: `capture` leaves the card, `release` returns from the
/// hold to what is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clearing {
    pub capture: i64,
    pub release: i64,
}

impl CardBalance {
    pub fn available(&self) -> i64 {
        self.balance.saturating_sub(self.hold)
    }

    pub fn credit(self, amount: Amount) -> Result<CardBalance, IssuingError> {
        let balance = self
            .balance
            .checked_add(amount.minor())
            .ok_or(IssuingError::LimitExceeded)?;
        Ok(CardBalance { balance, ..self })
    }

    /// Takes `amount` off what is available; money on hold is not spendable.
    pub fn debit(self, amount: Amount) -> Result<CardBalance, IssuingError> {
        self.check_available(amount)?;
        Ok(CardBalance {
            balance: self.balance - amount.minor(),
            ..self
        })
    }

    /// Reserves `amount` of what is available.
    pub fn authorize(self, amount: Amount) -> Result<CardBalance, IssuingError> {
        self.check_available(amount)?;
        Ok(CardBalance {
            hold: self.hold + amount.minor(),
            ..self
        })
    }

    /// Applies a [`Clearing`]: the hold gives up capture and release, the balance the capture.
    pub fn settle(self, clearing: Clearing) -> Result<CardBalance, IssuingError> {
        let held = clearing
            .capture
            .checked_add(clearing.release)
            .filter(|h| clearing.capture >= 0 && clearing.release >= 0 && *h <= self.hold)
            // A hold smaller than its authorization means the stored state is broken: refuse
            // rather than let the card go negative.
            .ok_or(IssuingError::InsufficientFunds)?;
        Ok(CardBalance {
            balance: self.balance - clearing.capture,
            hold: self.hold - held,
        })
    }

    fn check_available(&self, amount: Amount) -> Result<(), IssuingError> {
        // A negative hold is a broken state; it must not make more money spendable.
        if self.hold >= 0 && self.available() >= amount.minor() {
            Ok(())
        } else {
            Err(IssuingError::InsufficientFunds)
        }
    }
}

/// Clearing an authorization of `authorized`: captures `amount` (all that remains when absent)
/// and releases the rest of the hold, which settles the authorization. `captured_so_far` is what
/// earlier clearings of it took (0 for the first), so the captures never add up to more than
/// was authorized.
pub fn clearing(
    authorized: Amount,
    captured_so_far: i64,
    amount: Option<Amount>,
) -> Result<Clearing, IssuingError> {
    let remaining = remaining(authorized, captured_so_far)?;
    let capture = amount.map_or(remaining, Amount::minor);
    if capture > remaining {
        return Err(IssuingError::AmountExceedsAuthorized);
    }
    Ok(Clearing {
        capture,
        release: remaining - capture,
    })
}

/// Reversing an authorization: releases whatever it still holds, captures nothing.
pub fn reversal(authorized: Amount, captured_so_far: i64) -> Result<Clearing, IssuingError> {
    Ok(Clearing {
        capture: 0,
        release: remaining(authorized, captured_so_far)?,
    })
}

/// How much to give back for a debit of `debited`: `amount` (all that is left when absent),
/// never more than the debit minus earlier refunds. The result is credited to the card.
pub fn refund(
    debited: Amount,
    refunded_so_far: i64,
    amount: Option<Amount>,
) -> Result<Amount, IssuingError> {
    let left = remaining(debited, refunded_so_far)?;
    let give = amount.map_or(left, Amount::minor);
    if give > left {
        return Err(IssuingError::AmountExceedsAuthorized);
    }
    Ok(Amount::from_minor(give).expect("0 < give <= an Amount"))
}

/// What is left of `total` after `used`; nothing left is a refusal.
fn remaining(total: Amount, used: i64) -> Result<i64, IssuingError> {
    Some(total.minor() - used.max(0))
        .filter(|left| *left > 0)
        .ok_or(IssuingError::AmountExceedsAuthorized)
}

// ---------------------------------------------------------------------------------------------
// Gift-card OTP

pub const OTP_DIGITS: usize = 6;
/// Long enough to read an SMS and type it; short enough that a leaked code soon stops working.
pub const OTP_TTL_MS: Millis = 10 * 60 * 1000;
/// Wrong codes allowed before the code is spent: a guesser gets 5 tries in 10^6.
pub const OTP_MAX_ATTEMPTS: u32 = 5;

/// An OTP as stored: a keyed digest, never the code itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOtp {
    pub digest: String,
    pub expires_at: Millis,
    /// Wrong codes given so far. The store counts each [`IssuingError::OtpInvalid`] with a
    /// guarded update, so concurrent guesses cannot exceed the bound.
    pub attempts_used: u32,
}

/// A fresh code for `card_id`: the code to send by SMS and what to store.
pub fn issue_otp(
    rng: &mut impl Rng,
    key: &[u8],
    card_id: &str,
    now: Millis,
) -> (String, StoredOtp) {
    let code = format!("{:06}", rng.gen_range(0..1_000_000));
    let stored = StoredOtp {
        digest: otp_digest(key, card_id, &code),
        expires_at: now + OTP_TTL_MS,
        attempts_used: 0,
    };
    (code, stored)
}

/// HMAC-SHA256 (hex) of the code, bound to its card: a database reader learns nothing, and one
/// card's digest says nothing about another's.
pub fn otp_digest(key: &[u8], card_id: &str, code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(card_id.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    hex(&mac.finalize().into_bytes())
}

impl StoredOtp {
    /// Whether `given` is this card's code and still usable at `now`.
    pub fn check(
        &self,
        key: &[u8],
        card_id: &str,
        given: &str,
        now: Millis,
    ) -> Result<(), IssuingError> {
        if self.attempts_used >= OTP_MAX_ATTEMPTS {
            return Err(IssuingError::OtpAttemptsExhausted);
        }
        if now >= self.expires_at {
            return Err(IssuingError::OtpExpired);
        }
        let digest = otp_digest(key, card_id, given.trim());
        // Constant time: the comparison must not tell a guesser how much of the digest matched.
        if bool::from(digest.as_bytes().ct_eq(self.digest.as_bytes())) {
            Ok(())
        } else {
            Err(IssuingError::OtpInvalid)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gift products

/// A gift card a partner can issue: its face value is drawn from the partner's prepaid balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftProduct {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub currency: Currency,
    pub face_value: Amount,
}

/// The products the sandbox offers when a partner has configured none.
pub fn sandbox_products() -> Vec<GiftProduct> {
    [
        (
            "GIFT-KZT-5000",
            "Подарочная карта 5 000 ₸",
            Currency::Kzt,
            500_000,
        ),
        (
            "GIFT-KZT-20000",
            "Подарочная карта 20 000 ₸",
            Currency::Kzt,
            2_000_000,
        ),
        ("GIFT-USD-25", "Подарочная карта 25 $", Currency::Usd, 2_500),
        (
            "GIFT-USD-100",
            "Подарочная карта 100 $",
            Currency::Usd,
            10_000,
        ),
        ("GIFT-EUR-50", "Подарочная карта 50 €", Currency::Eur, 5_000),
        (
            "GIFT-RUB-3000",
            "Подарочная карта 3 000 ₽",
            Currency::Rub,
            300_000,
        ),
    ]
    .into_iter()
    .map(|(code, name, currency, minor)| GiftProduct {
        code: code.into(),
        name: name.into(),
        name_en: format!("Gift card {} {}", format_short(minor), currency.code()),
        currency,
        face_value: Amount::from_minor(minor).expect("a positive face value"),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    // 2024-05-14 10:00 UTC.
    const NOW: Millis = 1_715_680_800_000;

    fn card(status: CardStatus, card_type: CardType) -> CardState {
        CardState {
            status,
            card_type,
            expiry: Expiry::years_after(NOW, 3),
            linked: card_type == CardType::Virtual,
        }
    }

    fn amount(minor: i64) -> Amount {
        Amount::from_minor(minor).unwrap()
    }

    #[test]
    fn status_codes_round_trip() {
        for s in CardStatus::ALL {
            assert_eq!(CardStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(CardStatus::Closed.code(), 3);
        assert_eq!(CardStatus::from_code(5), None);
    }

    #[test]
    fn virtual_cards_activate_block_unblock_and_close() {
        let inactive = card(CardStatus::Inactive, CardType::Virtual);
        assert_eq!(inactive.activate(NOW), Ok(CardStatus::Active));
        assert_eq!(inactive.block(NOW), Err(IssuingError::CardInactive));
        assert_eq!(inactive.unblock(NOW), Err(IssuingError::CardInactive));

        let active = card(CardStatus::Active, CardType::Virtual);
        assert_eq!(active.block(NOW), Ok(CardStatus::Blocked));
        assert_eq!(active.activate(NOW), Ok(CardStatus::Active));
        assert_eq!(active.unblock(NOW), Ok(CardStatus::Active));

        let blocked = card(CardStatus::Blocked, CardType::Virtual);
        assert_eq!(blocked.unblock(NOW), Ok(CardStatus::Active));
        assert_eq!(blocked.block(NOW), Ok(CardStatus::Blocked));
        assert_eq!(blocked.activate(NOW), Err(IssuingError::CardBlocked));

        for s in [
            CardStatus::Inactive,
            CardStatus::Active,
            CardStatus::Blocked,
            CardStatus::Expired,
        ] {
            assert_eq!(
                card(s, CardType::Virtual).close(),
                Ok(CardStatus::Closed),
                "{s:?}"
            );
        }
    }

    #[test]
    fn a_virtual_card_without_a_client_is_not_activated() {
        let unlinked = CardState {
            linked: false,
            ..card(CardStatus::Inactive, CardType::Virtual)
        };
        let refused = unlinked.activate(NOW).unwrap_err();
        assert_eq!(refused.code(), "validation_error");
        assert!(refused.to_string().contains("card/link"), "{refused}");
        let active = CardState {
            status: CardStatus::Active,
            ..unlinked
        };
        assert_eq!(active.activate(NOW).unwrap_err().code(), "validation_error");
        // What the status refuses comes first.
        let closed = CardState {
            status: CardStatus::Closed,
            ..unlinked
        };
        assert_eq!(closed.activate(NOW), Err(IssuingError::CardClosed));
        let linked = CardState {
            linked: true,
            ..unlinked
        };
        assert_eq!(linked.activate(NOW), Ok(CardStatus::Active));
    }

    #[test]
    fn a_refund_goes_onto_the_card_unless_it_is_closed() {
        for s in CardStatus::ALL {
            let want = match s {
                CardStatus::Closed => RefundTo::PrepaidBalance,
                _ => RefundTo::Card,
            };
            assert_eq!(card(s, CardType::Virtual).refund_to(), want, "{s:?}");
        }
    }

    #[test]
    fn a_closed_card_refuses_everything() {
        let closed = card(CardStatus::Closed, CardType::Virtual);
        assert_eq!(closed.close(), Err(IssuingError::CardClosed));
        assert_eq!(closed.activate(NOW), Err(IssuingError::CardClosed));
        assert_eq!(closed.block(NOW), Err(IssuingError::CardClosed));
        assert_eq!(closed.unblock(NOW), Err(IssuingError::CardClosed));
        for what in [
            CardUse::Debit,
            CardUse::Credit,
            CardUse::Authorize,
            CardUse::Settle,
        ] {
            assert_eq!(
                closed.allows(what, NOW),
                Err(IssuingError::CardClosed),
                "{what:?}"
            );
        }
        // Still closed after its expiry: closed wins.
        let later = NOW + 10 * 366 * 86_400_000;
        assert_eq!(closed.status_at(later), CardStatus::Closed);
        assert_eq!(IssuingError::CardClosed.code(), "card_closed");
    }

    #[test]
    fn what_each_status_allows() {
        use CardUse::*;
        let allowed = |s| {
            [Debit, Credit, Authorize, Settle]
                .map(|w| card(s, CardType::Virtual).allows(w, NOW).is_ok())
        };
        assert_eq!(allowed(CardStatus::Active), [true, true, true, true]);
        assert_eq!(allowed(CardStatus::Blocked), [false, true, false, true]);
        assert_eq!(allowed(CardStatus::Inactive), [false, true, false, true]);
        assert_eq!(allowed(CardStatus::Expired), [false, false, false, true]);
        assert_eq!(allowed(CardStatus::Closed), [false, false, false, false]);
        assert_eq!(
            card(CardStatus::Blocked, CardType::Virtual)
                .allows(Debit, NOW)
                .unwrap_err()
                .code(),
            "card_blocked"
        );
        assert_eq!(
            card(CardStatus::Inactive, CardType::Gift).allows(Authorize, NOW),
            Err(IssuingError::CardInactive)
        );
    }

    #[test]
    fn a_card_past_its_expiry_month_is_expired_for_every_use() {
        let mut active = card(CardStatus::Active, CardType::Virtual);
        active.expiry = Expiry::parse("05/24").unwrap();
        // Valid through the last day of May 2024.
        assert_eq!(active.status_at(NOW), CardStatus::Active);
        let june = NOW + 31 * 86_400_000;
        assert_eq!(active.status_at(june), CardStatus::Expired);
        assert_eq!(
            active.allows(CardUse::Debit, june),
            Err(IssuingError::CardExpired)
        );
        assert_eq!(
            active.allows(CardUse::Credit, june),
            Err(IssuingError::CardExpired)
        );
        assert_eq!(active.block(june), Err(IssuingError::CardExpired));
        assert_eq!(active.activate(june), Err(IssuingError::CardExpired));
        // No card_expired on the wire: the compat list says card_inactive.
        assert_eq!(IssuingError::CardExpired.code(), "card_inactive");
        assert_eq!(active.allows(CardUse::Settle, june), Ok(()));
    }

    #[test]
    fn a_gift_card_activates_only_with_its_otp() {
        let key = b"otp-key";
        let gift = card(CardStatus::Inactive, CardType::Gift);
        let (code, otp) = issue_otp(&mut StdRng::seed_from_u64(1), key, "card1", NOW);
        assert_eq!(
            gift.activate(NOW).unwrap_err().code(),
            "validation_error",
            "card/activate is not the way for a gift card"
        );
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(
            gift.activate_gift(NOW, &otp, key, "card1", wrong),
            Err(IssuingError::OtpInvalid)
        );
        assert_eq!(
            gift.activate_gift(NOW, &otp, key, "card1", &code),
            Ok(CardStatus::Active)
        );
        // Once active it is not activated again: the answer shows the card's data.
        let active = card(CardStatus::Active, CardType::Gift);
        assert!(matches!(
            active.activate_gift(NOW, &otp, key, "card1", &code),
            Err(IssuingError::Invalid { .. })
        ));
        let virt = card(CardStatus::Inactive, CardType::Virtual);
        assert!(virt.activate_gift(NOW, &otp, key, "card1", &code).is_err());
        let closed = card(CardStatus::Closed, CardType::Gift);
        assert_eq!(
            closed.activate_gift(NOW, &otp, key, "card1", &code),
            Err(IssuingError::CardClosed)
        );
    }

    #[test]
    fn otps_expire_and_allow_a_bounded_number_of_attempts() {
        let key = b"otp-key";
        let mut rng = StdRng::seed_from_u64(7);
        let (code, otp) = issue_otp(&mut rng, key, "card1", NOW);
        assert_eq!(code.len(), OTP_DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(!otp.digest.contains(&code), "stored as a digest");
        assert_eq!(otp.check(key, "card1", &code, NOW), Ok(()));
        assert_eq!(otp.check(key, "card1", &code, NOW + OTP_TTL_MS - 1), Ok(()));
        assert_eq!(
            otp.check(key, "card1", &code, NOW + OTP_TTL_MS),
            Err(IssuingError::OtpExpired)
        );
        // Bound to its card and its key.
        assert_eq!(
            otp.check(key, "card2", &code, NOW),
            Err(IssuingError::OtpInvalid)
        );
        assert_eq!(
            otp.check(b"other", "card1", &code, NOW),
            Err(IssuingError::OtpInvalid)
        );
        for junk in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(
                otp.check(key, "card1", junk, NOW),
                Err(IssuingError::OtpInvalid)
            );
        }
        let spent = StoredOtp {
            attempts_used: OTP_MAX_ATTEMPTS,
            ..otp.clone()
        };
        assert_eq!(
            spent.check(key, "card1", &code, NOW),
            Err(IssuingError::OtpAttemptsExhausted),
            "even the right code once the attempts are used up"
        );
        assert_eq!(IssuingError::OtpAttemptsExhausted.code(), "otp_expired");
        let last = StoredOtp {
            attempts_used: OTP_MAX_ATTEMPTS - 1,
            ..otp
        };
        assert_eq!(last.check(key, "card1", &code, NOW), Ok(()));
    }

    #[test]
    fn otp_digests_are_keyed_hmac_hex() {
        let d = otp_digest(b"k", "card1", "123456");
        assert_eq!(d.len(), 64);
        assert_eq!(d, otp_digest(b"k", "card1", "123456"));
        assert_ne!(d, otp_digest(b"k2", "card1", "123456"));
        assert_ne!(d, otp_digest(b"k", "card1", "123457"));
        // The separator keeps "card1"+"23456.." apart from "card12"+"3456..".
        assert_ne!(
            otp_digest(b"k", "card1", "234567"),
            otp_digest(b"k", "card12", "34567")
        );
    }

    #[test]
    fn bin_ranges_parse_and_refuse_bad_text() {
        assert!(BinRange::parse("220220").is_some());
        assert!(BinRange::parse("22022000-22022099").is_some());
        assert!(BinRange::parse(" 400000 - 400009 ").is_some());
        for bad in [
            "",
            "12345",
            "123456789",
            "22022a",
            "220220-2202201",
            "400009-400000",
            "-400000",
        ] {
            assert_eq!(BinRange::parse(bad), None, "{bad}");
        }
        let r = BinRange::parse("22022010-22022019").unwrap();
        assert!(r.contains("2202201512345678"));
        assert!(!r.contains("2202202012345678"));
        assert!(!r.contains("2202"));
    }

    #[test]
    fn generated_pans_are_luhn_valid_within_the_ranges_and_uniform() {
        let mut rng = StdRng::seed_from_u64(42);
        let ranges = [
            BinRange::prefix("220220").unwrap(),
            BinRange::range("51000000", "51000009").unwrap(),
        ];
        let n = 10_000;
        let (mut last_free, mut check, mut narrow) = ([0u32; 10], [0u32; 10], 0);
        for _ in 0..n {
            let pan = generate_pan(&mut rng, &ranges, 16);
            let text = pan.expose_pan();
            assert_eq!(text.len(), 16);
            assert_eq!(CardNumber::parse(text).as_ref(), Some(&pan), "Luhn-valid");
            assert!(ranges.iter().any(|r| r.contains(text)), "{text}");
            narrow += u32::from(text.starts_with("51"));
            last_free[usize::from(text.as_bytes()[14] - b'0')] += 1;
            check[usize::from(text.as_bytes()[15] - b'0')] += 1;
        }
        // Expected 1000 each; ±200 is over six standard deviations.
        for counts in [last_free, check] {
            assert!(
                counts.iter().all(|c| (800..=1200).contains(c)),
                "{counts:?}"
            );
        }
        // The 8-digit range holds 10 × 10^7 PANs against the prefix's 10^9: about 1/11.
        assert!((700..=1100).contains(&narrow), "{narrow}");
    }

    #[test]
    fn pans_of_other_lengths_and_leading_zero_prefixes() {
        let mut rng = StdRng::seed_from_u64(3);
        let ranges = [BinRange::prefix("00123456").unwrap()];
        for length in PAN_LENGTHS {
            let pan = generate_pan(&mut rng, &ranges, length);
            assert_eq!(pan.expose_pan().len(), usize::from(length));
            assert!(pan.expose_pan().starts_with("00123456"));
        }
    }

    #[test]
    fn cvvs_are_three_digits() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut seen_leading_zero = false;
        for _ in 0..1000 {
            let cvv = generate_cvv(&mut rng);
            assert_eq!(cvv.len(), 3);
            assert!(cvv.bytes().all(|b| b.is_ascii_digit()));
            seen_leading_zero |= cvv.starts_with('0');
        }
        assert!(seen_leading_zero, "zero-padded, not 2-digit");
    }

    #[test]
    fn expiry_is_years_ahead_and_shown_mm_yy() {
        let e = Expiry::years_after(NOW, CARD_VALIDITY_YEARS);
        assert_eq!(e.mm_yy(), "05/27");
        assert_eq!((e.month(), e.year()), (5, 2027));
        assert_eq!(Expiry::parse("05/27"), Some(e));
        for bad in ["13/27", "00/27", "5/27", "05/2027", "0527", "ab/cd"] {
            assert_eq!(Expiry::parse(bad), None, "{bad}");
        }
        assert!(!e.is_past(NOW));
        assert!(Expiry::parse("04/24").unwrap().is_past(NOW));
        assert!(!Expiry::parse("05/24").unwrap().is_past(NOW));
    }

    #[test]
    fn debits_and_holds_never_exceed_what_is_available() {
        let b = CardBalance {
            balance: 1_000,
            hold: 300,
        };
        assert_eq!(b.available(), 700);
        assert_eq!(
            b.debit(amount(700)),
            Ok(CardBalance {
                balance: 300,
                hold: 300
            })
        );
        assert_eq!(b.debit(amount(701)), Err(IssuingError::InsufficientFunds));
        assert_eq!(
            b.authorize(amount(700)).unwrap(),
            CardBalance {
                balance: 1_000,
                hold: 1_000
            }
        );
        assert_eq!(
            b.authorize(amount(701)),
            Err(IssuingError::InsufficientFunds)
        );
        assert_eq!(
            b.credit(amount(5)).unwrap().balance,
            1_005,
            "credit adds to the balance"
        );
        let full = CardBalance {
            balance: i64::MAX,
            hold: 0,
        };
        assert_eq!(full.credit(amount(1)), Err(IssuingError::LimitExceeded));
    }

    #[test]
    fn exactly_floor_balance_over_amount_debits_succeed() {
        let mut b = CardBalance {
            balance: 1_000,
            hold: 0,
        };
        let mut ok = 0;
        for _ in 0..256 {
            if let Ok(next) = b.debit(amount(7)) {
                b = next;
                ok += 1;
            }
        }
        assert_eq!(ok, 1_000 / 7);
        assert_eq!(b.balance, 1_000 % 7);
    }

    #[test]
    fn clearing_never_exceeds_the_authorization_and_releases_the_rest() {
        let b = CardBalance {
            balance: 1_000,
            hold: 0,
        };
        let held = b.authorize(amount(400)).unwrap();
        let c = clearing(amount(400), 0, Some(amount(250))).unwrap();
        assert_eq!(
            c,
            Clearing {
                capture: 250,
                release: 150
            }
        );
        assert_eq!(
            held.settle(c),
            Ok(CardBalance {
                balance: 750,
                hold: 0
            })
        );
        assert_eq!(
            clearing(amount(400), 0, None),
            Ok(Clearing {
                capture: 400,
                release: 0
            })
        );
        assert_eq!(
            clearing(amount(400), 0, Some(amount(401))),
            Err(IssuingError::AmountExceedsAuthorized)
        );
        assert_eq!(
            clearing(amount(400), 300, Some(amount(101))),
            Err(IssuingError::AmountExceedsAuthorized)
        );
        assert_eq!(
            clearing(amount(400), 400, None),
            Err(IssuingError::AmountExceedsAuthorized)
        );
        assert_eq!(
            reversal(amount(400), 0),
            Ok(Clearing {
                capture: 0,
                release: 400
            })
        );
        assert_eq!(held.settle(reversal(amount(400), 0).unwrap()), Ok(b));
        // A hold that does not cover the clearing is a broken state: refused.
        assert_eq!(b.settle(c), Err(IssuingError::InsufficientFunds));
    }

    #[test]
    fn refunds_never_exceed_what_was_debited() {
        assert_eq!(refund(amount(500), 0, None), Ok(amount(500)));
        assert_eq!(refund(amount(500), 200, Some(amount(300))), Ok(amount(300)));
        assert_eq!(
            refund(amount(500), 200, Some(amount(301))),
            Err(IssuingError::AmountExceedsAuthorized)
        );
        assert_eq!(
            refund(amount(500), 500, None),
            Err(IssuingError::AmountExceedsAuthorized)
        );
    }

    #[test]
    fn every_error_has_a_compat_code() {
        let listed = [
            "validation_error",
            "card_inactive",
            "card_blocked",
            "card_closed",
            "insufficient_funds",
            "limit_exceeded",
            "otp_invalid",
            "otp_expired",
            "amount_exceeds_authorized",
        ];
        for e in [
            IssuingError::CardInactive,
            IssuingError::CardBlocked,
            IssuingError::CardClosed,
            IssuingError::CardExpired,
            IssuingError::InsufficientFunds,
            IssuingError::AmountExceedsAuthorized,
            IssuingError::OtpInvalid,
            IssuingError::OtpExpired,
            IssuingError::OtpAttemptsExhausted,
            IssuingError::Invalid {
                field: "amount",
                kind: Rule::NotValid,
            },
            IssuingError::LimitExceeded,
        ] {
            assert!(listed.contains(&e.code()), "{e:?}");
        }
    }

    #[test]
    fn sandbox_products_cover_the_four_currencies() {
        let products = sandbox_products();
        for c in Currency::ALL {
            assert!(products.iter().any(|p| p.currency == c), "{c}");
        }
        let codes: std::collections::BTreeSet<_> = products.iter().map(|p| &p.code).collect();
        assert_eq!(codes.len(), products.len(), "codes are unique");
        let kzt = &products[0];
        assert_eq!(kzt.face_value.minor(), 500_000);
        assert!(kzt.name_en.contains("KZT"), "{}", kzt.name_en);
    }
}
