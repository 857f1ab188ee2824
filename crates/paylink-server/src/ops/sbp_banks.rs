//! The dictionary of SBP banks that payouts may go to (`payout/dictionaries/sbp_banks`).

use crate::ops::OpError;
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::{Store, StoreError};

/// Adds a bank, or replaces its names and BIC; it is enabled.
pub async fn add(
    store: &Store,
    member_id: i64,
    name: &str,
    name_en: &str,
    bic: i64,
    now: Millis,
) -> Result<(), OpError> {
    store
        .apply(Plan::one(Write::UpsertSbpBank {
            member_id,
            name: name.trim().to_string(),
            name_en: name_en.trim().to_string(),
            bic,
            now,
        }))
        .await?;
    Ok(())
}

/// Whether the bank was in the dictionary.
pub async fn set_enabled(
    store: &Store,
    member_id: i64,
    enabled: bool,
    now: Millis,
) -> Result<bool, OpError> {
    match store
        .apply(Plan::one(Write::SetSbpBankEnabled {
            member_id,
            enabled,
            now,
        }))
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::GuardFailed(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
