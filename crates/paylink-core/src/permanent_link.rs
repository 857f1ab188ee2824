//! Permanent links (the Procard dialect's): a reusable payment link whose payer picks one of its
//! fixed amounts, or any amount, optionally times a quantity, and which may show how much it
//! has accumulated against a target. A permanent link is a MULTI bill (so its payments go
//! through the same checkout, acquirer, ledger and outbox as every bill) plus these terms; its
//! payments are also kept as numbered operations, the way Procard lists them.

use crate::bill::Locale;
use crate::error::{DomainError, Rule};
use crate::id::{BillId, MerchantId, PaymentId};
use crate::money::{Amount, Currency};
use crate::payment::Payment;
use crate::text::{check_len, check_url, MAX_NAME};
use crate::time::Millis;

/// At most this many fixed amounts per link.
pub const MAX_AMOUNTS: usize = 20;
/// A quantity control goes from 1 to this.
pub const MAX_QUANTITY: i64 = 1000;
/// Longest link description, in characters.
pub const MAX_LINK_DESCRIPTION: usize = 1024;
/// Longest Procard login, in characters.
pub const MAX_LOGIN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// The payer picks one of the link's amounts.
    Fixed,
    /// The payer types any amount.
    Arbitrary,
}

impl LinkKind {
    pub fn code(self) -> i64 {
        match self {
            LinkKind::Fixed => 0,
            LinkKind::Arbitrary => 1,
        }
    }

    pub fn from_code(code: i64) -> Option<LinkKind> {
        match code {
            0 => Some(LinkKind::Fixed),
            1 => Some(LinkKind::Arbitrary),
            _ => None,
        }
    }
}

/// Where a link's money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFlow {
    /// To the merchant, as any bill's payment.
    Purchase,
    /// To a recipient card, through the payout provider.
    P2pIn,
}

impl LinkFlow {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkFlow::Purchase => "Purchase",
            LinkFlow::P2pIn => "P2Pin",
        }
    }

    pub fn parse(text: &str) -> Option<LinkFlow> {
        [LinkFlow::Purchase, LinkFlow::P2pIn]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// The payment page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ukr,
    En,
    Ru,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ukr => "ukr",
            Language::En => "en",
            Language::Ru => "ru",
        }
    }

    pub fn parse(text: &str) -> Option<Language> {
        [Language::Ukr, Language::En, Language::Ru]
            .into_iter()
            .find(|l| l.as_str() == text)
    }

    pub fn locale(self) -> Locale {
        match self {
            Language::Ukr => Locale::Uk,
            Language::En => Locale::En,
            Language::Ru => Locale::Ru,
        }
    }
}

/// What a merchant sets on a link (everything but its name and description, which are the
/// bill's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTerms {
    pub kind: LinkKind,
    /// The choices of a fixed link, in the merchant's order; for an arbitrary link, suggestions
    /// (possibly none).
    pub amounts: Vec<Amount>,
    pub enable_counter: bool,
    /// Added to what the link has accumulated (minor units, >= 0).
    pub custom_amount: i64,
    /// 0: no target.
    pub target_amount: i64,
    pub show_total: bool,
    pub language: Language,
}

impl LinkTerms {
    /// A fixed link needs at least one amount; no link has more than [`MAX_AMOUNTS`].
    pub fn check(&self) -> Result<(), DomainError> {
        if self.kind == LinkKind::Fixed && self.amounts.is_empty() {
            // Given, but empty: a fixed link needs an amount.
            return Err(DomainError::Invalid {
                field: "amount",
                kind: Rule::NotValid,
            });
        }
        if self.amounts.len() > MAX_AMOUNTS {
            return Err(DomainError::Invalid {
                field: "amount",
                kind: Rule::TooMany { max: MAX_AMOUNTS },
            });
        }
        for (field, value) in [
            ("custom_amount", self.custom_amount),
            ("target_amount", self.target_amount),
        ] {
            if !(0..=Amount::MAX).contains(&value) {
                return Err(DomainError::Invalid {
                    field,
                    kind: Rule::NotValid,
                });
            }
        }
        Ok(())
    }

    /// The amount the bill behind the link shows: the first choice, or 0.01 for an arbitrary
    /// link without suggestions (a bill always has an amount; each payment is priced anew).
    pub fn headline(&self) -> Amount {
        self.amounts
            .first()
            .copied()
            .unwrap_or(Amount::from_minor(1).expect("1 is a positive amount"))
    }

    /// What a payer pays for `unit` (one of the choices, or any amount for an arbitrary link;
    /// `None` takes a fixed link's only choice) times `quantity`.
    pub fn price(&self, unit: Option<Amount>, quantity: i64) -> Result<Amount, DomainError> {
        let unit = match (self.kind, unit) {
            (LinkKind::Fixed, Some(u)) if self.amounts.contains(&u) => u,
            (LinkKind::Fixed, Some(_)) => {
                return Err(DomainError::Invalid {
                    field: "amount",
                    kind: Rule::Unknown,
                })
            }
            (LinkKind::Fixed, None) if self.amounts.len() == 1 => self.amounts[0],
            (LinkKind::Arbitrary, Some(u)) => u,
            (_, None) => {
                return Err(DomainError::Invalid {
                    field: "amount",
                    kind: Rule::Required,
                })
            }
        };
        let range = if self.enable_counter {
            1..=MAX_QUANTITY
        } else {
            1..=1
        };
        if !range.contains(&quantity) {
            return Err(DomainError::Invalid {
                field: "quantity",
                kind: Rule::Between {
                    min: *range.start(),
                    max: *range.end(),
                },
            });
        }
        unit.minor()
            .checked_mul(quantity)
            .and_then(Amount::from_minor)
            .ok_or(DomainError::InvalidAmount)
    }
}

/// A permanent link's own row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermanentLink {
    /// The bill's id.
    pub id: BillId,
    pub merchant_id: MerchantId,
    pub flow: LinkFlow,
    pub terms: LinkTerms,
    /// P2Pin: the recipient card sealed (bound to the link id) and masked.
    pub recipient_sealed: Option<String>,
    pub recipient_mask: Option<String>,
    /// Where its callbacks go; `None`: the merchant's default.
    pub callback_url: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A link's name and description: required texts with limits.
pub fn check_texts(name: &str, description: &str) -> Result<(), DomainError> {
    for (field, value, max) in [
        ("name", name, MAX_NAME),
        ("description", description, MAX_LINK_DESCRIPTION),
    ] {
        if value.trim().is_empty() {
            return Err(DomainError::Invalid {
                field,
                kind: Rule::Required,
            });
        }
        check_len(field, &Some(value.to_string()), max)?;
    }
    Ok(())
}

/// A callback URL's rules.
pub fn check_callback(url: &Option<String>) -> Result<(), DomainError> {
    check_url("callback_url", url)
}

/// A Procard login: 1–64 characters of letters, digits, `_`, `-` and `.`.
pub fn check_login(login: &str) -> Result<(), DomainError> {
    if login.is_empty()
        || login.chars().count() > MAX_LOGIN
        || !login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(DomainError::Invalid {
            field: "login",
            kind: Rule::NotValid,
        });
    }
    Ok(())
}

/// A link payment's status as Procard names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    /// Its 3-D Secure challenge is open.
    WaitingAuth,
    Approved,
    Declined,
    /// All of its payment is asked back; some of it is still with the acquirer.
    RefundInProc,
    /// All of its payment is refunded.
    Refunded,
}

impl OperationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::WaitingAuth => "WAITING-AUTH",
            OperationStatus::Approved => "APPROVED",
            OperationStatus::Declined => "DECLINED",
            OperationStatus::RefundInProc => "REFUNDINPROC",
            OperationStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(text: &str) -> Option<OperationStatus> {
        [
            OperationStatus::WaitingAuth,
            OperationStatus::Approved,
            OperationStatus::Declined,
            OperationStatus::RefundInProc,
            OperationStatus::Refunded,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// How a finished payment shows.
    pub fn of(payment: &Payment) -> OperationStatus {
        if payment.status.brings_money() {
            OperationStatus::Approved
        } else {
            OperationStatus::Declined
        }
    }
}

/// A payment of a link, as Procard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Numbered by the database, unique per instance; 0 before it is stored.
    pub id: i64,
    pub payment_id: PaymentId,
    pub link_id: BillId,
    pub merchant_id: MerchantId,
    /// What the payer paid: the chosen amount times the quantity.
    pub amount: i64,
    pub quantity: i64,
    pub fee: i64,
    pub currency: Currency,
    pub status: OperationStatus,
    pub card_mask: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Operation {
    /// The transaction number Procard calls STAN: the operation's number, 7 digits or more.
    pub fn stan(&self) -> String {
        format!("{:07}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(kind: LinkKind, amounts: &[i64], counter: bool) -> LinkTerms {
        LinkTerms {
            kind,
            amounts: amounts
                .iter()
                .map(|m| Amount::from_minor(*m).unwrap())
                .collect(),
            enable_counter: counter,
            custom_amount: 0,
            target_amount: 0,
            show_total: false,
            language: Language::Ukr,
        }
    }

    fn a(minor: i64) -> Option<Amount> {
        Amount::from_minor(minor)
    }

    #[test]
    fn a_fixed_link_takes_its_choices_times_the_quantity() {
        let t = terms(LinkKind::Fixed, &[10_000, 20_000], true);
        assert_eq!(t.price(a(20_000), 3).unwrap().minor(), 60_000);
        assert!(t.price(a(15_000), 1).is_err());
        assert!(t.price(None, 1).is_err(), "two choices: one must be named");
        assert!(t.price(a(10_000), 0).is_err());
        assert!(t.price(a(10_000), MAX_QUANTITY + 1).is_err());
        let single = terms(LinkKind::Fixed, &[1_034], false);
        assert_eq!(single.price(None, 1).unwrap().minor(), 1_034);
        assert!(single.price(None, 2).is_err(), "no counter: quantity 1");
    }

    #[test]
    fn an_arbitrary_link_takes_any_positive_amount_within_the_maximum() {
        let t = terms(LinkKind::Arbitrary, &[], true);
        assert_eq!(t.price(a(1), 1).unwrap().minor(), 1);
        assert!(t.price(None, 1).is_err());
        assert_eq!(
            t.price(a(Amount::MAX), 2),
            Err(DomainError::InvalidAmount),
            "the total may not overflow the maximum"
        );
        assert_eq!(t.headline().minor(), 1);
    }

    #[test]
    fn terms_are_checked() {
        assert!(terms(LinkKind::Fixed, &[], false).check().is_err());
        assert!(terms(LinkKind::Arbitrary, &[], false).check().is_ok());
        let many: Vec<i64> = (1..=(MAX_AMOUNTS as i64 + 1)).collect();
        assert!(terms(LinkKind::Fixed, &many, false).check().is_err());
        assert!(check_login("TEST_TRADER_2").is_ok());
        assert!(check_login("a b").is_err());
        assert!(check_login("").is_err());
        assert!(check_texts("n", " ").is_err());
        assert!(check_texts("n\u{7}", "d").is_err());
    }

    #[test]
    fn names_read_back() {
        for l in [Language::Ukr, Language::En, Language::Ru] {
            assert_eq!(Language::parse(l.as_str()), Some(l));
        }
        assert_eq!(LinkFlow::parse("P2Pin"), Some(LinkFlow::P2pIn));
        assert_eq!(LinkFlow::parse("p2pin"), None);
        for s in [
            OperationStatus::WaitingAuth,
            OperationStatus::Approved,
            OperationStatus::Declined,
        ] {
            assert_eq!(OperationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(LinkKind::from_code(2), None);
    }
}
