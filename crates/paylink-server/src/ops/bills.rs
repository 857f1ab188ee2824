//! Bill operations shared by every dialect: load, decide in core, apply through the writer.

use crate::ops::idempotency::Seal;
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::bill::{Bill, NewBill};
use paylink_core::decide;
use paylink_core::id::BillId;
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::plan::{Plan, Write};
use paylink_core::DomainError;
use paylink_store::StoreError;

/// Opens a bill in `shop` (as read with the caller's token; `None` when there is none); `seal`
/// adds an idempotent request's answer to the plan.
pub async fn create(
    st: &AppState,
    merchant: &Merchant,
    shop: Option<Shop>,
    new: NewBill,
    seal: &dyn Seal<Bill>,
) -> Result<Bill, OpError> {
    let shop = shop.ok_or(DomainError::ShopNotFound)?;
    let bill = new.open(
        &merchant.id,
        &shop,
        BillId::random(&mut rand::thread_rng()),
        st.now(),
    )?;
    if let Some(balance) = shop.balance_currency.filter(|c| *c != bill.currency) {
        if st.store.fx_rate(bill.currency, balance).await?.is_none() {
            return Err(DomainError::RateNotFound.into());
        }
    }
    let mut plan = Plan::one(Write::InsertBill(bill.clone()));
    plan.writes.extend(seal.answer(&bill));
    st.store.apply(plan).await?;
    Ok(bill)
}

pub async fn toggle(
    st: &AppState,
    bill: Bill,
    active: bool,
    seal: &dyn Seal<Bill>,
) -> Result<Bill, OpError> {
    let now = st.now();
    let write = decide::bill::toggle(&bill, active, now)?;
    let toggled = Bill {
        active,
        updated_at: now,
        ..bill
    };
    let mut plan = Plan::one(write);
    plan.writes.extend(seal.answer(&toggled));
    match st.store.apply(plan).await {
        Ok(()) => Ok(toggled),
        // Paid between our read and the write (or the request's claim was lost).
        Err(StoreError::GuardFailed(g)) => Err(OpError::refused(g)),
        Err(e) => Err(e.into()),
    }
}
