//! The console's reads: payouts, the moderation queue first.

use crate::ops::OpError;
use paylink_core::money::Currency;
use paylink_core::payout::{periods, PayoutStatus};
use paylink_core::time::Millis;
use paylink_store::Store;

/// A payout as the queue shows it, with what an operator weighs it against.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub verified: bool,
    pub status: String,
    pub amount: i64,
    pub commission: i64,
    pub currency: Currency,
    pub account_type: String,
    /// The masked card or the phone; the store never has a full number in the clear.
    pub destination: String,
    pub bank_member_id: Option<i64>,
    pub error_message: Option<String>,
    pub created_at: Millis,
    /// The merchant's available balance in the payout currency.
    pub available: i64,
    /// Paid out today in the payout currency.
    pub day_used: i64,
    /// The merchant's own daily limit, if set (else the instance's applies).
    pub daily_limit: Option<i64>,
}

/// The store's row as [`Queued`] (its type is the store's own, unnamed here).
macro_rules! queued {
    ($q:expr) => {{
        let q = $q;
        Queued {
            id: q.id,
            merchant_id: q.merchant_id,
            merchant_name: q.merchant_name,
            verified: q.verified,
            status: q.status,
            amount: q.amount,
            commission: q.commission,
            currency: q.currency,
            account_type: q.account_type,
            destination: q.destination,
            bank_member_id: q.bank_member_id,
            error_message: q.error_message,
            created_at: q.created_at,
            available: q.available,
            day_used: q.day_used,
            daily_limit: q.daily_limit,
        }
    }};
}

/// How many payouts one page of the queue shows.
pub const PAGE: i64 = 100;

/// One page of payouts in `status`, oldest first, after `(created_at, id)`; each with its
/// merchant's context today (`now`).
pub async fn queue(
    store: &Store,
    status: PayoutStatus,
    after: Option<(Millis, &str)>,
    now: Millis,
) -> Result<Vec<Queued>, OpError> {
    let (day, _) = periods(now);
    let rows = store
        .console_payouts(status.as_str(), &day, after, PAGE)
        .await?;
    Ok(rows.into_iter().map(|q| queued!(q)).collect())
}

/// One payout with its merchant's context today (`now`).
pub async fn payout(store: &Store, id: &str, now: Millis) -> Result<Option<Queued>, OpError> {
    let (day, _) = periods(now);
    Ok(store.console_payout(id, &day).await?.map(|q| queued!(q)))
}
