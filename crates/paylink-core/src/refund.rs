//! Refunds of received payments: never more than what remains refundable, taken from the
//! merchant's balance (available first, then hold), converted back at the payment's own rate.
//! The money is taken first (PROCESS); then the acquirer is asked, and its answer either
//! completes the refund (SUCCESS) or gives the money back where it came from (FAIL): what it
//! took from available to available, what it took from hold to hold, to settle as held money
//! does.

use crate::id::{BillId, MerchantId, PaymentId, RefundId, ShopId};
use crate::money::Currency;
use crate::time::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Process,
    Success,
    Fail,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Process => "PROCESS",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Fail => "FAIL",
        }
    }

    pub fn parse(s: &str) -> Option<RefundStatus> {
        [
            RefundStatus::Process,
            RefundStatus::Success,
            RefundStatus::Fail,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
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
    /// The part of `account_amount` taken from hold (the rest came from available).
    pub from_hold: i64,
    pub full: bool,
    /// Why the acquirer refused it (FAIL only).
    pub error_message: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}
