//! The money rules operators change at run time (settle delay, payout directions, fees,
//! moderation threshold, default limits): saved in the database, followed by every process
//! within seconds, audited with the lines that changed.

use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::audit::{Actor, Power};
use paylink_core::plan::{Plan, Write};
use paylink_core::rules::MoneyRules;
use paylink_core::time::Millis;

/// Whether the rules in force are the configuration's (`false`: an operator saved them).
pub async fn configured(st: &AppState) -> Result<bool, OpError> {
    Ok(st
        .store
        .instance_setting(crate::state::MONEY_RULES)
        .await?
        .is_none())
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

/// Saves `rules` for every process; this one follows at once.
pub async fn save(
    st: &AppState,
    actor: &Actor,
    rules: MoneyRules,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    rules.check()?;
    let (before, after) = changes(&st.money_rules(), &rules);
    st.store
        .apply(Plan {
            writes: vec![
                Write::SetMoneyRules {
                    text: Some(rules.to_text()),
                },
                Write::Audit(actor.record("money.rules", "money_rules", before, after, now)),
            ],
        })
        .await?;
    st.reload_money_rules().await;
    Ok(())
}

/// Goes back to the configuration's rules.
pub async fn reset(st: &AppState, actor: &Actor, now: Millis) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let (before, after) = changes(&st.money_rules(), &st.settings.money.rules());
    st.store
        .apply(Plan {
            writes: vec![
                Write::SetMoneyRules { text: None },
                Write::Audit(actor.record("money.rules_reset", "money_rules", before, after, now)),
            ],
        })
        .await?;
    st.reload_money_rules().await;
    Ok(())
}
