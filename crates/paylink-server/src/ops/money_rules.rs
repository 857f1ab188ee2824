//! The money rules operators change at run time (settle delay, payout directions, fees,
//! moderation threshold, default limits): saved in the database, followed by every process
//! within seconds, audited with the lines that changed. A save names the saved rules it was
//! made from (their [`version`]): of two operators editing at once, the second is told rather
//! than silently undoing the first's change.

use crate::ops::OpError;
use crate::state::{AppState, MONEY_RULES};
use paylink_core::audit::{Actor, Power};
use paylink_core::error::Rule;
use paylink_core::plan::{Plan, Write};
use paylink_core::rules::MoneyRules;
use paylink_core::time::Millis;
use paylink_core::token::hex;
use paylink_core::DomainError;
use sha2::{Digest, Sha256};

/// Whether the rules in force are the configuration's (`false`: an operator saved them).
pub async fn configured(st: &AppState) -> Result<bool, OpError> {
    Ok(st.store.instance_setting(MONEY_RULES).await?.is_none())
}

/// Names the saved rules (`configuration` when none are saved); a form carries it.
pub async fn version(st: &AppState) -> Result<String, OpError> {
    Ok(version_of(
        st.store.instance_setting(MONEY_RULES).await?.as_deref(),
    ))
}

fn version_of(saved: Option<&str>) -> String {
    match saved {
        None => "configuration".into(),
        Some(text) => hex(&Sha256::digest(text.as_bytes()))[..16].to_string(),
    }
}

/// The lines of `after` that differ from `before`, each side joined with `; `.
fn changes(before: &MoneyRules, after: &MoneyRules) -> (String, String) {
    let (b, a) = (before.to_text(), after.to_text());
    let (mut was, mut is) = (Vec::new(), Vec::new());
    for (x, y) in b.lines().zip(a.lines()) {
        if x != y {
            was.push(x.to_string());
            is.push(y.to_string());
        }
    }
    (was.join("; "), is.join("; "))
}

/// The saved rules' text and the rules in force by it, refused when they are no longer the
/// version `based_on` (`None`: whatever is saved).
async fn current(
    st: &AppState,
    based_on: Option<&str>,
) -> Result<(Option<String>, MoneyRules), OpError> {
    let saved = st.store.instance_setting(MONEY_RULES).await?;
    if based_on.is_some_and(|v| v != version_of(saved.as_deref())) {
        return Err(DomainError::Invalid {
            field: "rules",
            kind: Rule::Refused {
                reason: "the money rules changed meanwhile".into(),
            },
        }
        .into());
    }
    let rules = saved
        .as_deref()
        .and_then(MoneyRules::from_text)
        .unwrap_or_else(|| st.settings.money.rules());
    Ok((saved, rules))
}

/// Saves `rules` for every process; this one follows at once.
pub async fn save(
    st: &AppState,
    actor: &Actor,
    rules: MoneyRules,
    based_on: Option<&str>,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    rules.check()?;
    let (saved, before) = current(st, based_on).await?;
    let (was, is) = changes(&before, &rules);
    let result = st
        .store
        .apply(Plan {
            writes: vec![
                Write::SetMoneyRules {
                    text: Some(rules.to_text()),
                    expected: saved,
                },
                Write::Audit(actor.record("money.rules", "money_rules", was, is, now)),
            ],
        })
        .await;
    st.reload_money_rules().await;
    result.map_err(OpError::of_store)
}

/// Goes back to the configuration's rules.
pub async fn reset(
    st: &AppState,
    actor: &Actor,
    based_on: Option<&str>,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let (saved, before) = current(st, based_on).await?;
    let (was, is) = changes(&before, &st.settings.money.rules());
    let result = st
        .store
        .apply(Plan {
            writes: vec![
                Write::SetMoneyRules {
                    text: None,
                    expected: saved,
                },
                Write::Audit(actor.record("money.rules_reset", "money_rules", was, is, now)),
            ],
        })
        .await;
    st.reload_money_rules().await;
    result.map_err(OpError::of_store)
}
