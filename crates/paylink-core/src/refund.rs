//! Refunds of received payments: never more than what remains refundable, taken from the
//! merchant's balance (available first, then hold), converted back at the payment's own rate.

use crate::error::DomainError;
use crate::id::{BillId, MerchantId, PaymentId, RefundId, ShopId};
use crate::ledger::{Account, Balance, Entry, EntryKind};
use crate::money::Currency;
use crate::notice::Notice;
use crate::payment::Payment;
use crate::plan::{Plan, Write};
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Success,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Success => "SUCCESS",
        }
    }

    pub fn parse(s: &str) -> Option<RefundStatus> {
        (s == "SUCCESS").then_some(RefundStatus::Success)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub bill_id: BillId,
    pub merchant_id: MerchantId,
    pub shop_id: ShopId,
    pub status: RefundStatus,
    /// In the payment's currency.
    pub amount: i64,
    pub currency: Currency,
    /// What left the merchant's balance, in its currency.
    pub account_amount: i64,
    pub account_currency: Currency,
    pub full: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Decides a refund of `amount` (`None`: all that remains) of `payment`, whose merchant has
/// `balance` in the payment's account currency. With a `postback_url`, the refund postback
/// (compat item 19) goes to the outbox in the same plan.
pub fn create(
    payment: &Payment,
    amount: Option<i64>,
    balance: Balance,
    id: RefundId,
    postback_url: Option<&str>,
    custom: Option<&str>,
    now: Millis,
) -> Result<(Refund, Plan), DomainError> {
    if !payment.status.brings_money() {
        return Err(DomainError::TransactionRejected);
    }
    let remaining = payment.amount - payment.refunded_amount;
    let amount = amount.unwrap_or(remaining);
    if amount <= 0 || amount > remaining {
        return Err(DomainError::InvalidAmount);
    }
    let fx_rate = payment.fx_rate;
    let account_amount = match fx_rate {
        Some(rate) => rate.convert(amount).ok_or(DomainError::InvalidAmount)?,
        None => amount,
    };
    let from_available = balance.available.min(account_amount);
    let from_hold = account_amount - from_available;
    if from_hold > balance.hold {
        return Err(DomainError::BalanceNotEnough);
    }
    let refund = Refund {
        id,
        payment_id: payment.id.clone(),
        bill_id: payment.bill_id.clone(),
        merchant_id: payment.merchant_id.clone(),
        shop_id: payment.shop_id.clone(),
        status: RefundStatus::Success,
        amount,
        currency: payment.currency,
        account_amount,
        account_currency: payment.account_currency,
        full: amount == payment.amount,
        created_at: now,
        updated_at: now,
    };
    let m = &payment.merchant_id;
    let mut entry = Entry::new(
        EntryKind::Refund,
        format!("refund_{}", refund.id),
        refund.id.as_str(),
        now,
    )
    .leg(
        Account::Available,
        Some(m),
        refund.account_currency,
        -from_available,
    )
    .leg(Account::Hold, Some(m), refund.account_currency, -from_hold);
    if fx_rate.is_some() {
        entry = entry
            .leg(Account::Fx, None, refund.account_currency, account_amount)
            .leg(Account::Fx, None, refund.currency, -amount);
    }
    entry = entry.leg(Account::AcquirerClearing, None, refund.currency, amount);
    let mut plan = Plan::one(Write::InsertRefund(refund.clone()));
    plan.writes.push(Write::AddRefunded {
        payment_id: payment.id.clone(),
        amount,
        now,
    });
    plan.writes.push(Write::Post(entry));
    if let Some(url) = postback_url {
        plan.writes.push(Write::EnqueueNotice(Notice::for_refund(
            &refund, custom, url, now,
        )));
    }
    Ok((refund, plan))
}
