//! Payouts: money leaving a merchant's available balance for a card or an SBP account. A
//! payout locks its amount plus commission when created; success debits the lock, any other
//! end returns it. Limits and the balance are guarded again in SQL by the plan's writes.

use crate::id::{MerchantId, PayoutAccountId, PayoutId};
use crate::ledger::Balance;
use crate::merchant::Merchant;
use crate::money::{Currency, Rate};
use crate::time::{format_datetime, Millis};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayoutStatus {
    New,
    Moderating,
    Process,
    Success,
    Fail,
    Error,
    Declined,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 7] = [
        PayoutStatus::New,
        PayoutStatus::Moderating,
        PayoutStatus::Process,
        PayoutStatus::Success,
        PayoutStatus::Fail,
        PayoutStatus::Error,
        PayoutStatus::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::New => "NEW",
            PayoutStatus::Moderating => "MODERATING",
            PayoutStatus::Process => "PROCESS",
            PayoutStatus::Success => "SUCCESS",
            PayoutStatus::Fail => "FAIL",
            PayoutStatus::Error => "ERROR",
            PayoutStatus::Declined => "DECLINED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            PayoutStatus::Success
                | PayoutStatus::Fail
                | PayoutStatus::Error
                | PayoutStatus::Declined
        )
    }
}

impl FromStr for PayoutStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        PayoutStatus::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or(())
    }
}

/// Where a payout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountType {
    Card,
    Sbp,
}

impl AccountType {
    /// As stored and as `paylink payout-account add --type` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Card => "card",
            AccountType::Sbp => "sbp",
        }
    }
}

impl FromStr for AccountType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "card" | "credit_card" | "bank_card" => Ok(AccountType::Card),
            "sbp" => Ok(AccountType::Sbp),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutKind {
    /// To an account the merchant registered (`payout/personal/create`).
    Personal,
    /// To any card or SBP account given in the request (`payout/regular/create`).
    Regular,
}

impl PayoutKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutKind::Personal => "personal",
            PayoutKind::Regular => "regular",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutKind> {
        match s {
            "personal" => Some(PayoutKind::Personal),
            "regular" => Some(PayoutKind::Regular),
            _ => None,
        }
    }
}

/// A Russian mobile number as SBP takes it, normalized to `+7XXXXXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// `+7 999 123-45-67`, `79991234567`, `8 (999) 123 45 67`, `9991234567`.
    pub fn parse(text: &str) -> Option<Phone> {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        if text
            .chars()
            .any(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')')))
        {
            return None;
        }
        let national = match digits.len() {
            10 => digits.as_str(),
            11 if digits.starts_with('7') || digits.starts_with('8') => &digits[1..],
            _ => return None,
        };
        national
            .starts_with('9')
            .then(|| Phone(format!("+7{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A keyed HMAC-SHA256 of the number, as cards have.
    pub fn fingerprint(&self, key: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(b"sbp:");
        mac.update(self.0.as_bytes());
        crate::token::hex(&mac.finalize().into_bytes())
    }
}

/// The recipient of a payout as stored: what may be shown, how it is recognized, and (for
/// cards) the number sealed for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    pub account_type: AccountType,
    /// `first6******last4` for a card, `+7XXXXXXXXXX` for SBP.
    pub identifier: String,
    /// Keyed fingerprint of the full identifier: bans and lookups without the number.
    pub fingerprint: String,
    /// The card number sealed (AES-256-GCM) for the payout provider; `None` for SBP.
    pub sealed: Option<String>,
    pub bank_member_id: Option<i64>,
    pub holder: Option<String>,
}

/// An account registered for personal payouts (`paylink payout-account add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutAccount {
    pub id: PayoutAccountId,
    pub merchant_id: MerchantId,
    pub payee: Payee,
    pub banned: bool,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: PayoutId,
    pub merchant_id: MerchantId,
    pub order_id: Option<String>,
    /// The first part's id: parts of one split request share it.
    pub group_id: String,
    /// 1-based position among the parts of a split request.
    pub part: i64,
    pub kind: PayoutKind,
    pub payout_account_id: Option<PayoutAccountId>,
    pub payee: Payee,
    pub status: PayoutStatus,
    /// What the recipient gets.
    pub amount: i64,
    /// Charged on top of `amount` to the merchant's balance.
    pub commission: i64,
    pub currency: Currency,
    /// The limit periods (UTC day and month) the amount counts towards.
    pub day_key: String,
    pub month_key: String,
    pub error_message: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Payout {
    /// What the payout takes from the balance.
    pub fn total(&self) -> i64 {
        self.amount + self.commission
    }
}

/// The rules of one direction (cards or SBP), from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectionRules {
    pub enabled: bool,
    pub currencies: Vec<Currency>,
    /// Smallest and largest single payout; a larger request is split into parts.
    pub min: i64,
    pub max: i64,
    pub fee_rate: Rate,
    pub fee_fixed: i64,
}

impl DirectionRules {
    pub fn commission(&self, amount: i64) -> i64 {
        self.fee_rate.fee_on(amount) + self.fee_fixed
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRules {
    pub card: DirectionRules,
    pub sbp: DirectionRules,
    /// A request of at least this amount (all its parts together) waits in MODERATING for an
    /// operator.
    pub moderation_threshold: i64,
    /// Defaults for merchants without their own limits (`None`: unlimited).
    pub daily_limit: Option<i64>,
    pub monthly_limit: Option<i64>,
}

impl PayoutRules {
    pub fn direction(&self, t: AccountType) -> &DirectionRules {
        match t {
            AccountType::Card => &self.card,
            AccountType::Sbp => &self.sbp,
        }
    }
}

/// A merchant's payout settings, kept on the merchant (`paylink merchant update`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PayoutProfile {
    pub webhook_url: Option<String>,
    /// Every payout of the merchant waits for an operator.
    pub moderation: bool,
    /// May use `payout/regular/create`.
    pub regular_payouts: bool,
    pub daily_limit: Option<i64>,
    pub monthly_limit: Option<i64>,
}

/// What a merchant has paid out in the current day and month (payout currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub day: i64,
    pub month: i64,
}

/// A payout request as parsed at the edge.
#[derive(Debug, Clone)]
pub struct PayoutOrder {
    pub kind: PayoutKind,
    pub amount: i64,
    pub currency: Currency,
    pub payee: Payee,
    pub payout_account_id: Option<PayoutAccountId>,
    pub order_id: Option<String>,
}

/// Everything `create` decides on.
pub struct PayoutContext<'a> {
    pub merchant: &'a Merchant,
    pub profile: &'a PayoutProfile,
    pub rules: &'a PayoutRules,
    pub balance: Balance,
    pub usage: Usage,
    /// Whether the payee is banned (a banned registered account, or one with its fingerprint).
    pub payee_banned: bool,
    /// For SBP: whether the bank is in the dictionary and enabled.
    pub bank_enabled: bool,
}

/// UTC `YYYY-MM-DD` and `YYYY-MM` of `now`: the limit periods.
pub fn periods(now: Millis) -> (String, String) {
    let text = format_datetime(now);
    (text[..10].to_string(), text[..7].to_string())
}

/// How a payout ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Fail(String),
    Error(String),
    /// By an operator (`paylink payout decline`) or the merchant (`payout/cancel`).
    Declined(String),
}

impl Outcome {
    pub fn status(&self) -> PayoutStatus {
        match self {
            Outcome::Success => PayoutStatus::Success,
            Outcome::Fail(_) => PayoutStatus::Fail,
            Outcome::Error(_) => PayoutStatus::Error,
            Outcome::Declined(_) => PayoutStatus::Declined,
        }
    }
}

/// The statuses from which each move is allowed; the store checks them in SQL.
pub fn allowed_from(to: PayoutStatus) -> &'static [PayoutStatus] {
    use PayoutStatus as S;
    match to {
        S::New => &[S::Moderating],
        S::Process => &[S::New],
        S::Success | S::Fail | S::Error => &[S::Process],
        S::Declined => &[S::New, S::Moderating],
        S::Moderating => &[],
    }
}
