//! The double-entry ledger. Every movement of money is an [`Entry`] whose postings sum to zero
//! in each currency.
//!
//! An account is (owner kind, owner id, bucket, currency). The owner ([`Owner`]) is the
//! platform (no id), a merchant, a partner or a card; each kind has its own buckets
//! ([`OwnerKind::buckets`]):
//!
//! | owner    | buckets                                                      |
//! |----------|--------------------------------------------------------------|
//! | platform | acquirer_clearing, fee_revenue, payout_clearing, fx, partner_funding, card_clearing |
//! | merchant | hold, available, locked                                      |
//! | partner  | available (the prepaid balance)                              |
//! | card     | available, hold (authorized, not yet cleared)                |
//!
//! The balance buckets (hold, available, locked) are an owner's money: their sums are cached in
//! one balance row per (owner, currency), updated in the same transaction as the postings and
//! never negative. The platform's buckets are positions against the outside world (what the
//! acquirer owes, what left through the payout provider) and may go negative; they have no
//! balance row. The rule is per bucket, not per owner kind, so partners and cards get the same
//! no-overdraft guard and the same `ledger check` as merchants.

use crate::id::{CardId, MerchantId, PartnerId};
use crate::money::Currency;
use crate::time::Millis;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Who an account belongs to. Ordered by kind, then id: the order balance rows are locked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnerKind {
    Platform,
    Merchant,
    Partner,
    Card,
}

impl OwnerKind {
    pub const ALL: [OwnerKind; 4] = [
        OwnerKind::Platform,
        OwnerKind::Merchant,
        OwnerKind::Partner,
        OwnerKind::Card,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::Platform => "platform",
            OwnerKind::Merchant => "merchant",
            OwnerKind::Partner => "partner",
            OwnerKind::Card => "card",
        }
    }

    /// The buckets an owner of this kind has; a posting elsewhere is malformed.
    pub fn buckets(self) -> &'static [Bucket] {
        match self {
            OwnerKind::Platform => &[
                Bucket::AcquirerClearing,
                Bucket::FeeRevenue,
                Bucket::PayoutClearing,
                Bucket::Fx,
                Bucket::PartnerFunding,
                Bucket::CardClearing,
            ],
            OwnerKind::Merchant => &[Bucket::Hold, Bucket::Available, Bucket::Locked],
            OwnerKind::Partner => &[Bucket::Available],
            OwnerKind::Card => &[Bucket::Available, Bucket::Hold],
        }
    }
}

impl FromStr for OwnerKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        OwnerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// An account's owner: a kind and, except for the platform, the owner's id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    kind: OwnerKind,
    /// Empty for the platform (stored as the empty string, so every key column is NOT NULL).
    id: String,
}

impl Owner {
    pub const PLATFORM: Owner = Owner {
        kind: OwnerKind::Platform,
        id: String::new(),
    };

    pub fn merchant(id: &MerchantId) -> Owner {
        Owner {
            kind: OwnerKind::Merchant,
            id: id.to_string(),
        }
    }

    pub fn partner(id: &PartnerId) -> Owner {
        Owner {
            kind: OwnerKind::Partner,
            id: id.to_string(),
        }
    }

    pub fn card(id: &CardId) -> Owner {
        Owner {
            kind: OwnerKind::Card,
            id: id.to_string(),
        }
    }

    /// An owner read back from our own storage; `None` for a platform with an id or another
    /// owner without one.
    pub fn from_parts(kind: OwnerKind, id: String) -> Option<Owner> {
        ((kind == OwnerKind::Platform) == id.is_empty()).then_some(Owner { kind, id })
    }

    pub fn kind(&self) -> OwnerKind {
        self.kind
    }

    /// The owner's id; empty for the platform.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `bucket` is one of this owner's, and the id is there exactly when it must be.
    pub fn has(&self, bucket: Bucket) -> bool {
        (self.kind == OwnerKind::Platform) == self.id.is_empty()
            && self.kind.buckets().contains(&bucket)
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            OwnerKind::Platform => f.write_str("platform"),
            kind => write!(f, "{} {}", kind.as_str(), self.id),
        }
    }
}

/// What part of an owner's money a posting moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// Received, not yet settled (a merchant); authorized, not yet cleared (a card).
    Hold,
    /// Spendable: a merchant's settled money, a partner's prepaid balance, a card's balance.
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
    /// What partners paid in for their prepaid balances (the Card API).
    PartnerFunding,
    /// What cards spent, owed to the card scheme (the Card API).
    CardClearing,
}

impl Bucket {
    pub const ALL: [Bucket; 9] = [
        Bucket::Hold,
        Bucket::Available,
        Bucket::Locked,
        Bucket::AcquirerClearing,
        Bucket::FeeRevenue,
        Bucket::PayoutClearing,
        Bucket::Fx,
        Bucket::PartnerFunding,
        Bucket::CardClearing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Hold => "hold",
            Bucket::Available => "available",
            Bucket::Locked => "locked",
            Bucket::AcquirerClearing => "acquirer_clearing",
            Bucket::FeeRevenue => "fee_revenue",
            Bucket::PayoutClearing => "payout_clearing",
            Bucket::Fx => "fx",
            Bucket::PartnerFunding => "partner_funding",
            Bucket::CardClearing => "card_clearing",
        }
    }

    /// An owner's money: cached in its balance row and never negative. The other buckets are
    /// the platform's positions, which may be.
    pub fn is_balance(self) -> bool {
        matches!(self, Bucket::Hold | Bucket::Available | Bucket::Locked)
    }
}

impl FromStr for Bucket {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Bucket::ALL.into_iter().find(|a| a.as_str() == s).ok_or(())
    }
}

/// One leg: a signed amount of minor units on an account (owner, bucket, currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub owner: Owner,
    pub bucket: Bucket,
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
    /// A partner's prepaid balance topped up (the Card API).
    PartnerTopUp,
    /// A card funded from its partner's prepaid balance (the Card API).
    CardFunding,
    /// A card spent (the Card API).
    CardDebit,
    /// Money on a card put on hold by an authorization.
    CardHold,
    /// An authorization settled: captured to the card scheme, the rest released.
    CardSettle,
    /// A debit (or captured authorization) given back to the card.
    CardRefund,
    /// A closed card's money back to its partner.
    CardReturn,
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
            EntryKind::PartnerTopUp => "partner_top_up",
            EntryKind::CardFunding => "card_funding",
            EntryKind::CardDebit => "card_debit",
            EntryKind::CardHold => "card_hold",
            EntryKind::CardSettle => "card_settle",
            EntryKind::CardRefund => "card_refund",
            EntryKind::CardReturn => "card_return",
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

/// How one entry changes one balance row (an owner's, in one currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delta {
    pub available: i64,
    pub locked: i64,
    pub hold: i64,
}

impl Delta {
    /// Whether the entry takes money out of a bucket: then the update is guarded.
    pub fn debits(&self) -> bool {
        self.available < 0 || self.locked < 0 || self.hold < 0
    }
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

    /// Adds a leg on `owner`'s `bucket`; zero amounts are left out.
    pub fn leg(mut self, bucket: Bucket, owner: &Owner, currency: Currency, amount: i64) -> Entry {
        if amount != 0 {
            self.postings.push(Posting {
                owner: owner.clone(),
                bucket,
                currency,
                amount,
            });
        }
        self
    }

    /// Moves `amount` from one of `owner`'s buckets to another.
    pub fn transfer(
        self,
        from: Bucket,
        to: Bucket,
        owner: &Owner,
        currency: Currency,
        amount: i64,
    ) -> Entry {
        self.leg(from, owner, currency, -amount)
            .leg(to, owner, currency, amount)
    }

    /// Every currency's legs sum to zero (without overflow), and every leg is on a bucket its
    /// owner has.
    pub fn is_balanced(&self) -> bool {
        let mut sums: BTreeMap<Currency, i64> = BTreeMap::new();
        for p in &self.postings {
            if !p.owner.has(p.bucket) {
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

    /// The entry's effect on balance rows, by owner and currency: the sorted order those rows
    /// are locked in.
    pub fn deltas(&self) -> BTreeMap<(Owner, Currency), Delta> {
        let mut out: BTreeMap<(Owner, Currency), Delta> = BTreeMap::new();
        for p in self.postings.iter().filter(|p| p.bucket.is_balance()) {
            let d = out.entry((p.owner.clone(), p.currency)).or_default();
            match p.bucket {
                Bucket::Available => d.available += p.amount,
                Bucket::Locked => d.locked += p.amount,
                Bucket::Hold => d.hold += p.amount,
                _ => {}
            }
        }
        out
    }
}

/// An owner's balance in one currency, in minor units.
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

/// Posts `received` (in `paid_in`) to `to` of `owner` in the balance currency: directly
/// when the currencies match, else through the platform's FX position with one leg in each
/// currency. The amount landed in the balance currency, or `None` on overflow.
pub fn credit_converted(
    entry: Entry,
    owner: &Owner,
    to: Bucket,
    received: i64,
    paid_in: Currency,
    balance_in: Currency,
    rate: Option<FxRate>,
) -> Option<(Entry, i64)> {
    match rate {
        None => Some((entry.leg(to, owner, paid_in, received), received)),
        Some(rate) => {
            let landed = rate.convert(received)?;
            let entry = entry
                .leg(Bucket::Fx, &Owner::PLATFORM, paid_in, received)
                .leg(Bucket::Fx, &Owner::PLATFORM, balance_in, -landed)
                .leg(to, owner, balance_in, landed);
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

    fn merchant() -> Owner {
        Owner::merchant(&m())
    }

    #[test]
    fn a_conversion_balances_in_each_currency() {
        let e = Entry::new(EntryKind::Payment, "pay_x".into(), "x", 0)
            .leg(
                Bucket::AcquirerClearing,
                &Owner::PLATFORM,
                Currency::Usd,
                -1_000,
            )
            .leg(Bucket::FeeRevenue, &Owner::PLATFORM, Currency::Usd, 35);
        let (e, landed) = credit_converted(
            e,
            &merchant(),
            Bucket::Hold,
            965,
            Currency::Usd,
            Currency::Rub,
            FxRate::parse("92.5"),
        )
        .unwrap();
        assert_eq!(landed, 89_263);
        assert!(e.is_balanced());
        let d = e.deltas();
        assert_eq!(d[&(merchant(), Currency::Rub)].hold, 89_263);
        assert!(!d.contains_key(&(merchant(), Currency::Usd)));
        assert_eq!(d.len(), 1, "platform positions have no balance row");
    }

    #[test]
    fn unbalanced_or_unowned_entries_are_caught() {
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0)
            .leg(Bucket::Hold, &merchant(), Currency::Rub, -5)
            .leg(Bucket::Available, &merchant(), Currency::Rub, 4);
        assert!(!e.is_balanced());
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0)
            .leg(Bucket::Hold, &Owner::PLATFORM, Currency::Rub, -5)
            .leg(Bucket::Fx, &Owner::PLATFORM, Currency::Rub, 5);
        assert!(!e.is_balanced(), "the platform has no hold");
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0)
            .leg(Bucket::Fx, &merchant(), Currency::Rub, -5)
            .leg(Bucket::Available, &merchant(), Currency::Rub, 5);
        assert!(!e.is_balanced(), "a merchant has no FX position");
        let e = Entry::new(EntryKind::CardFunding, "f".into(), "f", 0)
            .leg(Bucket::Locked, &card(), Currency::Rub, 5)
            .leg(Bucket::Available, &partner(), Currency::Rub, -5);
        assert!(!e.is_balanced(), "a card locks nothing");
        let e = Entry::new(EntryKind::Settlement, "s".into(), "s", 0).transfer(
            Bucket::Hold,
            Bucket::Available,
            &merchant(),
            Currency::Rub,
            5,
        );
        assert!(e.is_balanced());
        assert_eq!(
            e.deltas()[&(merchant(), Currency::Rub)],
            Delta {
                available: 5,
                locked: 0,
                hold: -5
            }
        );
    }

    fn partner() -> Owner {
        Owner::partner(&PartnerId::from_trusted("PPPPPPPPPP".into()))
    }

    fn card() -> Owner {
        Owner::card(&CardId::from_trusted("CCCCCCCCCC".into()))
    }

    #[test]
    fn owners_come_back_from_their_parts_only_when_well_formed() {
        for o in [Owner::PLATFORM, merchant(), partner(), card()] {
            assert_eq!(
                Owner::from_parts(o.kind(), o.id().to_string()),
                Some(o.clone())
            );
            assert_eq!(o.kind().as_str().parse(), Ok(o.kind()));
        }
        assert_eq!(Owner::from_parts(OwnerKind::Platform, "x".into()), None);
        assert_eq!(Owner::from_parts(OwnerKind::Card, String::new()), None);
        for b in Bucket::ALL {
            assert_eq!(b.as_str().parse(), Ok(b));
        }
        // Every bucket belongs to some kind, and the platform holds no owner's money.
        for b in Bucket::ALL {
            assert!(OwnerKind::ALL.iter().any(|k| k.buckets().contains(&b)));
        }
        assert!(!OwnerKind::Platform.buckets().iter().any(|b| b.is_balance()));
    }

    #[test]
    fn balance_rows_sort_by_owner_kind_then_id_then_currency() {
        let e = Entry::new(EntryKind::CardFunding, "f".into(), "f", 0)
            .leg(Bucket::Available, &card(), Currency::Usd, 1)
            .leg(Bucket::Available, &card(), Currency::Rub, 1)
            .leg(Bucket::Available, &partner(), Currency::Usd, -1)
            .leg(Bucket::Available, &merchant(), Currency::Rub, -1);
        let keys: Vec<_> = e.deltas().into_keys().collect();
        assert_eq!(
            keys,
            vec![
                (merchant(), Currency::Rub),
                (partner(), Currency::Usd),
                (card(), Currency::Rub),
                (card(), Currency::Usd),
            ]
        );
    }

    use proptest::prelude::*;

    fn any_owner() -> impl Strategy<Value = Owner> {
        prop_oneof![
            Just(Owner::PLATFORM),
            "[A-Za-z0-9]{10}".prop_map(|id| Owner::merchant(&MerchantId::from_trusted(id))),
            "[A-Za-z0-9]{10}".prop_map(|id| Owner::partner(&PartnerId::from_trusted(id))),
            "[A-Za-z0-9]{10}".prop_map(|id| Owner::card(&CardId::from_trusted(id))),
        ]
    }

    /// Any owner's account, on a bucket the owner has.
    fn any_account() -> impl Strategy<Value = (Owner, Bucket)> {
        any_owner().prop_flat_map(|o| {
            let buckets = o.kind().buckets().to_vec();
            (Just(o), proptest::sample::select(buckets))
        })
    }

    /// A transfer between two accounts of any owners.
    fn any_transfer() -> impl Strategy<Value = (Owner, Bucket, Owner, Bucket, Currency, i64)> {
        (
            any_account(),
            any_account(),
            proptest::sample::select(vec![Currency::Rub, Currency::Usd, Currency::Eur]),
            1..1_000_000_000i64,
        )
            .prop_map(|((fo, fb), (to, tb), c, a)| (fo, fb, to, tb, c, a))
    }

    proptest! {
        /// Transfers between any owners' accounts balance per currency, and the balance rows
        /// they touch change by exactly their balance-bucket legs: what leaves one owner's row
        /// arrives in another's or in a platform position.
        #[test]
        fn postings_balance_per_currency_for_any_owner(
            transfers in proptest::collection::vec(any_transfer(), 1..8),
        ) {
            let mut e = Entry::new(EntryKind::CardFunding, "p".into(), "p", 0);
            for (fo, fb, to, tb, c, a) in &transfers {
                e = e.leg(*fb, fo, *c, -a).leg(*tb, to, *c, *a);
            }
            prop_assert!(e.is_balanced());
            let mut sums: BTreeMap<Currency, i64> = BTreeMap::new();
            for ((_, c), d) in e.deltas() {
                *sums.entry(c).or_default() += d.available + d.locked + d.hold;
            }
            for p in e.postings.iter().filter(|p| !p.bucket.is_balance()) {
                prop_assert_eq!(p.owner.kind(), OwnerKind::Platform);
                *sums.entry(p.currency).or_default() += p.amount;
            }
            prop_assert!(sums.values().all(|s| *s == 0), "{sums:?}");
            // One leg off and it no longer balances.
            let mut broken = e.clone();
            if let Some(p) = broken.postings.first_mut() {
                p.amount += 1;
                prop_assert!(!broken.is_balanced());
            }
        }
    }
}
