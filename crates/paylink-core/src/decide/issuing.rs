//! The Card API's money, as ledger entries. Every card and partner balance is an account in the
//! one ledger ([`crate::ledger`]):
//!
//! | what | postings |
//! |---|---|
//! | partner funded | platform partner_funding −x, partner available +x |
//! | card credit, gift card issued | partner available −x, card available +x |
//! | card debit | card available −x, platform card_clearing +x |
//! | authorization | card available −x, card hold +x |
//! | settling it | card hold −(c+r), platform card_clearing +c, card available +r |
//! | refund | platform card_clearing −x, card available +x |
//! | refund, the card closed | platform card_clearing −x, partner available +x |
//! | card closed | card available −x, partner available +x |
//!
//! The balance rows' guards (never negative) make "a debit never takes a card below zero" and
//! "a card is funded only from what the partner has" hold under any concurrency.

use crate::id::{CardId, PartnerId};
use crate::issuing::Clearing;
use crate::ledger::{Bucket, Entry, EntryKind, Owner};
use crate::money::{Amount, Currency};
use crate::time::Millis;

/// The partner's prepaid balance topped up; `reference` names the top-up (unique).
pub fn fund_partner(
    partner: &PartnerId,
    currency: Currency,
    amount: Amount,
    reference: &str,
    now: Millis,
) -> Entry {
    Entry::new(
        EntryKind::PartnerTopUp,
        format!("ptop_{reference}"),
        partner.as_str(),
        now,
    )
    .leg(
        Bucket::PartnerFunding,
        &Owner::PLATFORM,
        currency,
        -amount.minor(),
    )
    .leg(
        Bucket::Available,
        &Owner::partner(partner),
        currency,
        amount.minor(),
    )
}

/// Money from the partner's prepaid balance onto its card (a credit, a gift card's face value).
pub fn credit_card(
    partner: &PartnerId,
    card: &CardId,
    currency: Currency,
    amount: Amount,
    transaction: &str,
    now: Millis,
) -> Entry {
    Entry::new(
        EntryKind::CardFunding,
        format!("ctx_{transaction}"),
        transaction,
        now,
    )
    .leg(
        Bucket::Available,
        &Owner::partner(partner),
        currency,
        -amount.minor(),
    )
    .leg(
        Bucket::Available,
        &Owner::card(card),
        currency,
        amount.minor(),
    )
}

/// Money off the card, owed to the card scheme.
pub fn debit_card(
    card: &CardId,
    currency: Currency,
    amount: Amount,
    transaction: &str,
    now: Millis,
) -> Entry {
    Entry::new(
        EntryKind::CardDebit,
        format!("ctx_{transaction}"),
        transaction,
        now,
    )
    .leg(
        Bucket::Available,
        &Owner::card(card),
        currency,
        -amount.minor(),
    )
    .leg(
        Bucket::CardClearing,
        &Owner::PLATFORM,
        currency,
        amount.minor(),
    )
}

/// An authorization: money on the card moves to its hold.
pub fn authorize(
    card: &CardId,
    currency: Currency,
    amount: Amount,
    transaction: &str,
    now: Millis,
) -> Entry {
    Entry::new(
        EntryKind::CardHold,
        format!("ctx_{transaction}"),
        transaction,
        now,
    )
    .transfer(
        Bucket::Available,
        Bucket::Hold,
        &Owner::card(card),
        currency,
        amount.minor(),
    )
}

/// Settling (part of) an authorization; `settlement` names this settlement (unique). The
/// authorization's guarded sums, not the entry's id, keep settlements within the hold, so two
/// partial reversals at once both go through when the hold covers both.
pub fn settle(
    card: &CardId,
    currency: Currency,
    clearing: Clearing,
    authorization: &str,
    settlement: &str,
    now: Millis,
) -> Entry {
    let owner = Owner::card(card);
    Entry::new(
        EntryKind::CardSettle,
        format!("cset_{authorization}_{settlement}"),
        authorization,
        now,
    )
    .leg(
        Bucket::Hold,
        &owner,
        currency,
        -(clearing.capture + clearing.release),
    )
    .leg(
        Bucket::CardClearing,
        &Owner::PLATFORM,
        currency,
        clearing.capture,
    )
    .leg(Bucket::Available, &owner, currency, clearing.release)
}

/// A refund of what a debit or capture took, to `to`'s available money: the card's
/// ([`Owner::card`]), or, for a card closed since, its partner's prepaid balance
/// ([`Owner::partner`]), where the close returned the card's money.
pub fn refund(
    to: &Owner,
    currency: Currency,
    amount: Amount,
    refund_transaction: &str,
    now: Millis,
) -> Entry {
    Entry::new(
        EntryKind::CardRefund,
        format!("ctx_{refund_transaction}"),
        refund_transaction,
        now,
    )
    .leg(
        Bucket::CardClearing,
        &Owner::PLATFORM,
        currency,
        -amount.minor(),
    )
    .leg(Bucket::Available, to, currency, amount.minor())
}

/// A closed card's remaining money back to its partner's prepaid balance.
pub fn return_to_partner(
    partner: &PartnerId,
    card: &CardId,
    currency: Currency,
    amount: i64,
    now: Millis,
) -> Entry {
    Entry::new(
        EntryKind::CardReturn,
        format!("cret_{card}"),
        card.as_str(),
        now,
    )
    .leg(Bucket::Available, &Owner::card(card), currency, -amount)
    .leg(
        Bucket::Available,
        &Owner::partner(partner),
        currency,
        amount,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(minor: i64) -> Amount {
        Amount::from_minor(minor).unwrap()
    }

    #[test]
    fn every_entry_balances_and_touches_only_its_owners_buckets() {
        let p = PartnerId::from_trusted("P000000001".into());
        let c = CardId::from_trusted("C000000001".into());
        let kzt = Currency::Kzt;
        let entries = [
            fund_partner(&p, kzt, amount(100_000), "r1", 1),
            credit_card(&p, &c, kzt, amount(5_000), "t1", 1),
            debit_card(&c, kzt, amount(700), "t2", 1),
            authorize(&c, kzt, amount(900), "t3", 1),
            settle(
                &c,
                kzt,
                Clearing {
                    capture: 600,
                    release: 300,
                },
                "t3",
                "s1",
                1,
            ),
            refund(&Owner::card(&c), kzt, amount(700), "t4", 1),
            refund(&Owner::partner(&p), kzt, amount(300), "t5", 1),
            return_to_partner(&p, &c, kzt, 4_400, 1),
        ];
        for e in &entries {
            assert!(e.is_balanced(), "{e:?}");
        }
    }

    #[test]
    fn a_partial_capture_takes_the_whole_hold_and_returns_the_rest() {
        let c = CardId::from_trusted("C000000001".into());
        let e = settle(
            &c,
            Currency::Usd,
            Clearing {
                capture: 600,
                release: 300,
            },
            "t3",
            "s1",
            1,
        );
        let d = e.deltas();
        let card = d.get(&(Owner::card(&c), Currency::Usd)).unwrap();
        assert_eq!((card.hold, card.available), (-900, 300));
        assert_eq!(e.id, "cset_t3_s1");
    }
}
