//! Exchange rates for bills booked in another currency than the shop's balance.

use crate::ops::OpError;
use paylink_core::audit::{Actor, Power};
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::Store;

/// Sets (or replaces) the rate of one `base` in `quote`; every rate set is kept in the history.
pub async fn set_rate(
    store: &Store,
    actor: &Actor,
    base: Currency,
    quote: Currency,
    rate: FxRate,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let before = store
        .fx_rate(base, quote)
        .await?
        .map(|r| r.to_string())
        .unwrap_or_default();
    store
        .apply(Plan {
            writes: vec![
                Write::SetFxRate {
                    base,
                    quote,
                    rate,
                    now,
                },
                Write::Audit(actor.record(
                    "fx.set",
                    &format!("{}/{}", base.code(), quote.code()),
                    before,
                    rate.to_string(),
                    now,
                )),
            ],
        })
        .await?;
    Ok(())
}
