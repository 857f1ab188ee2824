//! Settlement: received money waits in hold for the configured delay, then becomes available.
//! A payment's money settles under the payment's id; what a refused refund returned to hold
//! settles under its own id ([`returned_id`]), as the payment's money would have.

use crate::id::{MerchantId, PaymentId, RefundId};
use crate::ledger::{Bucket, Entry, EntryKind, Owner};
use crate::money::Currency;
use crate::plan::{Plan, Write};
use crate::time::Millis;

/// Money waiting in hold: a payment's, or what a refused refund of it returned to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The payment's id, or [`returned_id`] of the refund.
    pub id: String,
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    pub currency: Currency,
    pub amount: i64,
    pub due_at: Millis,
}

/// Settles `s` when the merchant's hold is `hold`: moves what of it is still held (refunds may
/// have taken part of the hold) and marks it settled, guarded against settling twice.
pub fn settle(s: &Settlement, hold: i64, now: Millis) -> Plan {
    let amount = s.amount.min(hold).max(0);
    let mut plan = Plan::one(Write::MarkSettled {
        id: s.id.clone(),
        now,
    });
    if amount > 0 {
        plan.writes.push(Write::Post(transfer(s, amount, now)));
    }
    plan
}

/// The ledger entry of settling `amount` of `s`.
pub fn transfer(s: &Settlement, amount: i64, now: Millis) -> Entry {
    Entry::new(
        EntryKind::Settlement,
        format!("settle_{}", s.id),
        s.payment_id.as_str(),
        now,
    )
    .transfer(
        Bucket::Hold,
        Bucket::Available,
        &Owner::merchant(&s.merchant_id),
        s.currency,
        amount,
    )
}

/// The settlement id of what refund `refund` returned to hold when the acquirer refused it.
/// Longer than any object id, so it never names a payment's settlement.
pub fn returned_id(refund: &RefundId) -> String {
    format!("returned_{refund}")
}
