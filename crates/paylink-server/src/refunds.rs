//! Refunds, shared by every dialect: read the payment and the balance, decide, apply.

use crate::bills::OpError;
use crate::payouts::guard_error;
use crate::state::AppState;
use paylink_core::id::RefundId;
use paylink_core::payment::Payment;
use paylink_core::refund::{self, Refund};
use paylink_core::DomainError;
use paylink_store::StoreError;

/// Refunds `amount` of `payment` (`None`: all that remains). A balance that a concurrent
/// request spent between the read and the write is read again, a few times, before the
/// refund is refused.
pub async fn create(
    st: &AppState,
    payment: &Payment,
    amount: Option<i64>,
) -> Result<Refund, OpError> {
    let bill = st
        .store
        .bill(&payment.bill_id)
        .await?
        .ok_or(DomainError::PaymentNotFound)?;
    let shop = st
        .store
        .shop(&payment.shop_id)
        .await?
        .ok_or(DomainError::PaymentNotFound)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = st
            .store
            .payment(&payment.id)
            .await?
            .ok_or(DomainError::PaymentNotFound)?;
        let balance = st
            .store
            .balance(&current.merchant_id, current.account_currency)
            .await?;
        let (refund, plan) = refund::create(
            &current,
            amount,
            balance,
            RefundId::random(&mut rand::thread_rng()),
            shop.result_url.as_deref(),
            bill.custom.as_deref(),
            st.now(),
        )?;
        match st.store.apply(plan).await {
            Ok(()) => {
                if shop.result_url.is_some() {
                    st.postbacks_due.notify_one();
                }
                return Ok(refund);
            }
            Err(StoreError::GuardFailed(guard)) if attempts < 5 => {
                tracing::debug!(guard, "refund raced; reading again");
            }
            Err(StoreError::GuardFailed(guard)) => return Err(guard_error(guard).into()),
            Err(e) => return Err(e.into()),
        }
    }
}
