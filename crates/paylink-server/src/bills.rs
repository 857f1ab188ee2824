//! Bill operations shared by every dialect: load, decide in core, apply through the writer.

use crate::state::AppState;
use paylink_core::bill::{Bill, NewBill};
use paylink_core::id::{BillId, ShopId};
use paylink_core::merchant::Merchant;
use paylink_core::plan::{Plan, Write};
use paylink_core::DomainError;
use paylink_store::StoreError;
use thiserror::Error;

/// What an operation can fail with: the domain's refusal, or storage trouble (a 500).
#[derive(Debug, Error)]
pub enum OpError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create(
    st: &AppState,
    merchant: &Merchant,
    shop_id: &str,
    new: NewBill,
) -> Result<Bill, OpError> {
    let shop = match ShopId::parse(shop_id) {
        Some(id) => st.store.shop(&id).await?,
        None => None,
    }
    .ok_or(DomainError::ShopNotFound)?;
    let bill = new.open(
        &merchant.id,
        &shop,
        BillId::random(&mut rand::thread_rng()),
        st.now(),
    )?;
    st.store
        .apply(Plan::one(Write::InsertBill(bill.clone())))
        .await?;
    Ok(bill)
}

/// The merchant's bill `id`; a malformed, missing or foreign id is `BillNotFound`.
pub async fn find(st: &AppState, merchant: &Merchant, id: &str) -> Result<Bill, OpError> {
    let id = BillId::parse(id).ok_or(DomainError::BillNotFound)?;
    Ok(st
        .store
        .merchant_bill(&merchant.id, &id)
        .await?
        .ok_or(DomainError::BillNotFound)?)
}

pub async fn toggle(
    st: &AppState,
    merchant: &Merchant,
    id: &str,
    active: bool,
) -> Result<Bill, OpError> {
    let mut bill = find(st, merchant, id).await?;
    let now = st.now();
    let write = bill.toggle(active, now)?;
    match st.store.apply(Plan::one(write)).await {
        Ok(()) => {
            bill.active = active;
            bill.updated_at = now;
            Ok(bill)
        }
        // Paid between our read and the write.
        Err(StoreError::GuardFailed(_)) => Err(DomainError::BillIsFinished.into()),
        Err(e) => Err(e.into()),
    }
}
