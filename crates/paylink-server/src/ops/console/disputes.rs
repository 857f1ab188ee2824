//! The console's reads: disputes, each with the charge it is about.

use crate::ops::OpError;
use paylink_core::dispute::{Dispute, DisputeStatus};
use paylink_store::{FoundCharge, Keyset, Page, Store};

/// A page of `limit` disputes of the queue (open and answered ones, or every one of
/// `status`), oldest first (the deadline nearest), after `after` if given, each with its
/// charge if it names one.
pub async fn queue(
    store: &Store,
    status: Option<DisputeStatus>,
    after: Option<&Keyset>,
    limit: i64,
) -> Result<Page<(Dispute, Option<FoundCharge>)>, OpError> {
    let read = store
        .console_disputes(status, after.map(Keyset::key), limit + 1)
        .await?;
    Ok(Page::of(read, limit as usize))
}

/// A dispute's charge as an operator decides on it: the payment and what of it has been
/// refunded already (minor units of its currency).
pub struct Charge {
    pub found: FoundCharge,
    pub refunded: i64,
}

/// The charge `dispute` is about, if it names one.
pub async fn charge(store: &Store, dispute: &Dispute) -> Result<Option<Charge>, OpError> {
    let Some(id) = &dispute.payment_id else {
        return Ok(None);
    };
    let (Some(found), Some(payment)) = (store.console_charge(id).await?, store.payment(id).await?)
    else {
        return Ok(None);
    };
    Ok(Some(Charge {
        found,
        refunded: payment.refunded_amount,
    }))
}
