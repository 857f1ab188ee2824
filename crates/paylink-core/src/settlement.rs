//! Settlement: received money waits in hold for the configured delay, then becomes available.

use crate::id::{MerchantId, PaymentId};
use crate::ledger::{Account, Entry, EntryKind};
use crate::money::Currency;
use crate::plan::{Plan, Write};
use crate::time::Millis;

/// A payment's money waiting in hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
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
        payment_id: s.payment_id.clone(),
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
        format!("settle_{}", s.payment_id),
        s.payment_id.as_str(),
        now,
    )
    .transfer(
        Account::Hold,
        Account::Available,
        &s.merchant_id,
        s.currency,
        amount,
    )
}
