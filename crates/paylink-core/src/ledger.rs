//! The double-entry ledger. Every movement of money is an [`Entry`] whose postings sum to zero
//! in each currency; a merchant's balances (hold, available, locked) are the sums of their
//! postings, cached in balance rows that the store updates in the same transaction.

use crate::id::MerchantId;
use crate::money::Currency;
use crate::time::Millis;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Whose money a posting moves. Merchant accounts carry the merchant; platform accounts do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    /// Received from payers, not yet settled.
    Hold,
    /// Settled: the merchant may pay it out.
    Available,
    /// Reserved for payouts in flight.
    Locked,
    /// What the acquirer owes the platform for captured payments (and is owed for refunds).
    AcquirerClearing,
    /// The platform's commissions.
    FeeRevenue,
    /// What left through the payout provider.
    PayoutClearing,
    /// The platform's currency position: one leg in each currency of a conversion.
    Fx,
}

impl Account {
    pub const ALL: [Account; 7] = [
        Account::Hold,
        Account::Available,
        Account::Locked,
        Account::AcquirerClearing,
        Account::FeeRevenue,
        Account::PayoutClearing,
        Account::Fx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Account::Hold => "hold",
            Account::Available => "available",
            Account::Locked => "locked",
            Account::AcquirerClearing => "acquirer_clearing",
            Account::FeeRevenue => "fee_revenue",
            Account::PayoutClearing => "payout_clearing",
            Account::Fx => "fx",
        }
    }

    pub fn is_merchant(self) -> bool {
        matches!(self, Account::Hold | Account::Available | Account::Locked)
    }
}

impl FromStr for Account {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Account::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

/// One leg: a signed amount of minor units on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    /// Set exactly for merchant accounts.
    pub merchant_id: Option<MerchantId>,
    pub currency: Currency,
    pub amount: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Payment,
    Settlement,
    PayoutLock,
    PayoutSent,
    PayoutReleased,
    Refund,
    RefundFailed,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Payment => "payment",
            EntryKind::Settlement => "settlement",
            EntryKind::PayoutLock => "payout_lock",
            EntryKind::PayoutSent => "payout_sent",
            EntryKind::PayoutReleased => "payout_released",
            EntryKind::Refund => "refund",
            EntryKind::RefundFailed => "refund_failed",
        }
    }
}

/// A ledger transaction. Its id is derived from what it records (`pay_<payment>`, ...), so
/// that recording the same event twice is refused by the primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub kind: EntryKind,
    pub subject_id: String,
    pub postings: Vec<Posting>,
    pub created_at: Millis,
}

/// How one entry changes one merchant balance row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    pub available: i64,
    pub locked: i64,
    pub hold: i64,
}

impl Entry {
    pub fn new(kind: EntryKind, id: String, subject_id: &str, now: Millis) -> Entry {
        Entry {
            id,
            kind,
            subject_id: subject_id.to_string(),
            postings: Vec::new(),
            created_at: now,
        }
    }

    /// Adds a leg; zero amounts are left out.
    pub fn leg(
        mut self,
        account: Account,
        merchant: Option<&MerchantId>,
        currency: Currency,
        amount: i64,
    ) -> Entry {
        if amount != 0 {
            self.postings.push(Posting {
                account,
                merchant_id: merchant.filter(|_| account.is_merchant()).cloned(),
                currency,
                amount,
            });
        }
        self
    }

    /// Moves `amount` from one account to another (both of `merchant` where they are its).
    pub fn transfer(
        self,
        from: Account,
        to: Account,
        merchant: &MerchantId,
        currency: Currency,
        amount: i64,
    ) -> Entry {
        self.leg(from, Some(merchant), currency, -amount)
            .leg(to, Some(merchant), currency, amount)
    }

    /// Every currency's legs sum to zero (without overflow), and every merchant leg names its
    /// merchant.
    pub fn is_balanced(&self) -> bool {
        let mut sums: BTreeMap<Currency, i64> = BTreeMap::new();
        for p in &self.postings {
            if p.account.is_merchant() != p.merchant_id.is_some() {
                return false;
            }
            let sum = sums.entry(p.currency).or_default();
            match sum.checked_add(p.amount) {
                Some(s) => *sum = s,
                None => return false,
            }
        }
        sums.values().all(|s| *s == 0)
    }

    /// The entry's effect on merchant balance rows, by merchant and currency.
    pub fn deltas(&self) -> BTreeMap<(MerchantId, Currency), Delta> {
        let mut out: BTreeMap<(MerchantId, Currency), Delta> = BTreeMap::new();
        for p in &self.postings {
            let Some(m) = &p.merchant_id else { continue };
            let d = out.entry((m.clone(), p.currency)).or_default();
            match p.account {
                Account::Available => d.available += p.amount,
                Account::Locked => d.locked += p.amount,
                Account::Hold => d.hold += p.amount,
                _ => {}
            }
        }
        out
    }
}

/// A merchant's balance in one currency, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub currency: Currency,
    pub available: i64,
    pub locked: i64,
    pub hold: i64,
}

impl Balance {
    pub fn zero(currency: Currency) -> Balance {
        Balance {
            currency,
            available: 0,
            locked: 0,
            hold: 0,
        }
    }
}

/// An exchange rate `base -> quote` in units of 1e-8 (92.5 is 9_250_000_000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FxRate(i64);

const FX_SCALE: i128 = 100_000_000;

impl FxRate {
    pub fn from_e8(e8: i64) -> Option<FxRate> {
        (e8 > 0).then_some(FxRate(e8))
    }

    /// A positive decimal with at most 8 fraction digits, e.g. `92.5` or `0.01081081`.
    pub fn parse(text: &str) -> Option<FxRate> {
        crate::money::parse_minor(text.trim(), 8).and_then(FxRate::from_e8)
    }

    pub fn e8(self) -> i64 {
        self.0
    }

    /// `minor` converted, rounded half away from zero. Both sides have exponent 2, so no
    /// rescaling; `None` on overflow.
    pub fn convert(self, minor: i64) -> Option<i64> {
        let scaled = i128::from(minor) * i128::from(self.0);
        let half = FX_SCALE / 2;
        let rounded = if scaled >= 0 {
            (scaled + half) / FX_SCALE
        } else {
            (scaled - half) / FX_SCALE
        };
        i64::try_from(rounded).ok()
    }

    /// `minor` (positive) converted, rounded up: what a merchant pays back is never less than
    /// what it took, however small the amount.
    pub fn convert_up(self, minor: i64) -> Option<i64> {
        let scaled = i128::from(minor) * i128::from(self.0);
        i64::try_from((scaled + FX_SCALE - 1).div_euclid(FX_SCALE)).ok()
    }
}

impl std::fmt::Display for FxRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let whole = self.0 / FX_SCALE as i64;
        let frac = self.0 % FX_SCALE as i64;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:08}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Posts `received` (in `paid_in`) to `to` of `merchant` in the balance currency: directly
/// when the currencies match, else through the FX account with one leg in each currency.
/// The amount landed in the balance currency, or `None` on overflow.
pub fn credit_converted(
    entry: Entry,
    merchant: &MerchantId,
    to: Account,
    received: i64,
    paid_in: Currency,
    balance_in: Currency,
    rate: Option<FxRate>,
) -> Option<(Entry, i64)> {
    match rate {
        None => Some((entry.leg(to, Some(merchant), paid_in, received), received)),
        Some(rate) => {
            let landed = rate.convert(received)?;
            let entry = entry
                .leg(Account::Fx, None, paid_in, received)
                .leg(Account::Fx, None, balance_in, -landed)
                .leg(to, Some(merchant), balance_in, landed);
            Some((entry, landed))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> MerchantId {
        MerchantId::from_trusted("MMMMMMMMMM".into())
    }

    #[test]
    fn rates_parse_print_and_convert_exactly() {
        let r = FxRate::parse("92.5").unwrap();
        assert_eq!(r.e8(), 9_250_000_000);
        assert_eq!(r.to_string(), "92.5");
        assert_eq!(r.convert(965), Some(89_263)); // 9.65 USD -> 892.625 -> 892.63 RUB
        let back = FxRate::parse("0.01081081").unwrap();
        assert_eq!(back.convert(46), Some(0));
        assert_eq!(
            back.convert_up(46),
            Some(1),
            "a refund never converts to nothing"
        );
        assert_eq!(back.convert_up(9_250), Some(100)); // 92.50 RUB -> 0.99999...99 -> 1.00 USD
        assert_eq!(r.convert_up(100), Some(9_250));
        assert_eq!(
            FxRate::parse("0.01081081").unwrap().to_string(),
            "0.01081081"
        );
        assert_eq!(FxRate::parse("0"), None);
        assert_eq!(FxRate::parse("-1"), None);
        assert_eq!(FxRate::parse("1.123456789"), None);
        assert_eq!(FxRate::parse("abc"), None);
        assert_eq!(
            FxRate::parse("1e9").map(|r| r.e8()),
            Some(100_000_000_000_000_000)
        );
        assert_eq!(FxRate::parse("1e9").unwrap().convert(i64::MAX), None);
    }

    #[test]
    fn a_conversion_balances_in_each_currency() {
        let e = Entry::new(EntryKind::Payment, "pay_x".into(), "x", 0)
            .leg(Account::AcquirerClearing, None, Currency::Usd, -1_000)
            .leg(Account::FeeRevenue, None, Currency::Usd, 35);
        let (e, landed) = credit_converted(
            e,
            &m(),
            Account::Hold,
            965,
            Currency::Usd,
            Currency::Rub,
            FxRate::parse("92.5"),
        )
        .unwrap();
        assert_eq!(landed, 89_263);
        assert!(e.is_balanced());
        let d = e.deltas();
        assert_eq!(d[&(m(), Currency::Rub)].hold, 89_263);
        assert!(!d.contains_key(&(m(), Currency::Usd)));
    }

    #[test]
    fn unbalanced_or_unowned_entries_are_caught() {
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0)
            .leg(Account::Hold, Some(&m()), Currency::Rub, -5)
            .leg(Account::Available, Some(&m()), Currency::Rub, 4);
        assert!(!e.is_balanced());
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0)
            .leg(Account::Hold, None, Currency::Rub, -5)
            .leg(Account::Fx, None, Currency::Rub, 5);
        assert!(!e.is_balanced());
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0).transfer(
            Account::Hold,
            Account::Available,
            &m(),
            Currency::Rub,
            5,
        );
        assert!(e.is_balanced());
        assert_eq!(
            e.deltas()[&(m(), Currency::Rub)],
            Delta {
                available: 5,
                locked: 0,
                hold: -5
            }
        );
    }
}
