//! The console's reads: money (FX rates and their history, the SBP banks dictionary, the
//! ledger check).

use crate::ops::OpError;
use paylink_core::audit::{Actor, Power};
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_core::time::Millis;
use paylink_store::{LedgerReport, SbpBank, Store};

/// A rate of `base` in `quote` as set at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateAt {
    pub base: Currency,
    pub quote: Currency,
    pub rate: FxRate,
    pub at: Millis,
}

/// How many past rates of one pair the history shows.
pub const HISTORY: i64 = 200;

/// Every current rate with when it was set.
pub async fn fx_rates(store: &Store) -> Result<Vec<RateAt>, OpError> {
    let rows = store.fx_rates_at().await?;
    Ok(rows
        .into_iter()
        .map(|r| RateAt {
            base: r.base,
            quote: r.quote,
            rate: r.rate,
            at: r.at,
        })
        .collect())
}

/// The rates set for `base` in `quote`, newest first.
pub async fn fx_history(
    store: &Store,
    base: Currency,
    quote: Currency,
) -> Result<Vec<RateAt>, OpError> {
    let rows = store.fx_rate_history(base, quote, HISTORY).await?;
    Ok(rows
        .into_iter()
        .map(|r| RateAt {
            base: r.base,
            quote: r.quote,
            rate: r.rate,
            at: r.at,
        })
        .collect())
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
