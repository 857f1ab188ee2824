//! Deciding a settlement: what is still held moves to available, once.

use crate::plan::{Plan, Write};
use crate::settlement::{transfer, Settlement};
use crate::time::Millis;

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
