//! Exchange rates for bills booked in another currency than the shop's balance.

use crate::ops::OpError;
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::Store;

/// Sets (or replaces) the rate of one `base` in `quote`.
pub async fn set_rate(
    store: &Store,
    base: Currency,
    quote: Currency,
    rate: FxRate,
    now: Millis,
) -> Result<(), OpError> {
    store
        .apply(Plan::one(Write::SetFxRate {
            base,
            quote,
            rate,
            now,
        }))
        .await?;
    Ok(())
}
