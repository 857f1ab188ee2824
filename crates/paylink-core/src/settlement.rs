//! Settlement: received money waits in hold for the configured delay, then becomes available.
//! A payment's money settles under the payment's id; what a refused refund returned to hold
//! settles under its own id ([`returned_id`]), as the payment's money would have.

use crate::id::{MerchantId, PaymentId, RefundId};
use crate::ledger::{Bucket, Entry, EntryKind, Owner};
use crate::money::Currency;
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
