//! The console's reads: money (FX rates and their history, the SBP banks dictionary, the
//! ledger check).

use crate::ops::OpError;
use paylink_core::audit::{Actor, Power};
use paylink_core::money::Currency;
use paylink_store::{LedgerReport, SbpBank, Store};

/// A rate of `base` in `quote` as set at `at`.
pub use paylink_store::FxRateAt as RateAt;

/// How many past rates of one pair the history shows.
pub const HISTORY: i64 = 200;

/// Every current rate with when it was set.
pub async fn fx_rates(store: &Store) -> Result<Vec<RateAt>, OpError> {
    Ok(store.fx_rates_at().await?)
}

/// The rates set for `base` in `quote`, newest first.
pub async fn fx_history(
    store: &Store,
    base: Currency,
    quote: Currency,
) -> Result<Vec<RateAt>, OpError> {
    Ok(store.fx_rate_history(base, quote, HISTORY).await?)
}

/// The whole dictionary, disabled banks too.
pub async fn sbp_banks(store: &Store) -> Result<Vec<SbpBank>, OpError> {
    Ok(store.sbp_banks(true).await?)
}

/// `paylink ledger check` from the console. Only admins run it: it reads every posting, a
/// load support has no reason to put on the database.
pub async fn ledger_check(store: &Store, actor: &Actor) -> Result<LedgerReport, OpError> {
    actor.require(Power::Admin)?;
    Ok(store.ledger_check().await?)
}
