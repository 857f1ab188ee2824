//! The dictionary of SBP banks that payouts may go to (`payout/dictionaries/sbp_banks`).

use crate::ops::OpError;
use paylink_core::audit::{Actor, Power};
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::{Store, StoreError};

/// Adds a bank, or replaces its names and BIC; it is enabled.
pub async fn add(
    store: &Store,
    actor: &Actor,
    member_id: i64,
    name: &str,
    name_en: &str,
    bic: i64,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let (name, name_en) = (name.trim().to_string(), name_en.trim().to_string());
    let after = format!("{name:?} / {name_en:?}, BIC {bic}, enabled");
    store
        .apply(Plan {
            writes: vec![
                Write::UpsertSbpBank {
                    member_id,
                    name,
                    name_en,
                    bic,
                    now,
                },
                Write::Audit(actor.record("sbp_bank.add", &member_id.to_string(), "", after, now)),
            ],
        })
        .await?;
    Ok(())
}

/// Whether the bank was in the dictionary.
pub async fn set_enabled(
    store: &Store,
    actor: &Actor,
    member_id: i64,
    enabled: bool,
    now: Millis,
) -> Result<bool, OpError> {
    actor.require(Power::Admin)?;
    match store
        .apply(Plan {
            writes: vec![
                Write::SetSbpBankEnabled {
                    member_id,
                    enabled,
                    now,
                },
                Write::Audit(actor.record(
                    if enabled {
                        "sbp_bank.enable"
                    } else {
                        "sbp_bank.disable"
                    },
                    &member_id.to_string(),
                    format!("enabled={}", !enabled),
                    format!("enabled={enabled}"),
                    now,
                )),
            ],
        })
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::GuardFailed(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
