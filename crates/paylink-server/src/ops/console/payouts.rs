//! The console's reads: payouts, the moderation queue first.

use crate::ops::OpError;
use paylink_core::payout::{periods, PayoutStatus};
use paylink_core::time::Millis;
use paylink_store::{Keyset, Page, Store};

/// A payout as the queue shows it, with what an operator weighs it against.
pub use paylink_store::QueuedPayout as Queued;

/// How many payouts one page of the queue shows.
pub const PAGE: i64 = 100;

/// One page of payouts in `status`, oldest first, after `after`; each with its merchant's
/// context today (`now`).
pub async fn queue(
    store: &Store,
    status: PayoutStatus,
    after: Option<&Keyset>,
    now: Millis,
) -> Result<Page<Queued>, OpError> {
    let (day, _) = periods(now);
    let read = store
        .console_payouts(status.as_str(), &day, after.map(Keyset::key), PAGE + 1)
        .await?;
    Ok(Page::of(read, PAGE as usize))
}

/// One payout with its merchant's context today (`now`).
pub async fn payout(store: &Store, id: &str, now: Millis) -> Result<Option<Queued>, OpError> {
    let (day, _) = periods(now);
    Ok(store.console_payout(id, &day).await?)
}
