//! Payout operations shared by the dialect and the CLI (create, cancel, approve, decline),
//! and the worker that sends payouts to the provider and settles received money.

use crate::acquirer::{PayoutRequest, Unsure};
use crate::keys::InstanceKeys;
use crate::ops::idempotency::Seal;
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::audit::{Actor, Power};
use paylink_core::card::CardNumber;
use paylink_core::decide;
use paylink_core::error::Rule;
use paylink_core::guard::Guard;
use paylink_core::id::{MerchantId, PayoutAccountId, PayoutId};
use paylink_core::merchant::Merchant;
use paylink_core::payout::{
    self, AccountType, Outcome, Payee, Payout, PayoutAccount, PayoutContext, PayoutKind,
    PayoutOrder, PayoutStatus, Phone,
};
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::Store;
use paylink_store::StoreError;

/// Where a regular payout goes, as parsed at the edge.
pub enum Destination {
    Card { number: CardNumber, holder: String },
    Sbp { phone: Phone, bank: i64 },
}

/// The stored form of a destination: masked, fingerprinted, the card number sealed.
pub fn payee(keys: &InstanceKeys, destination: Destination) -> Payee {
    match destination {
        Destination::Card { number, holder } => {
            let fingerprint = number.fingerprint(&keys.fingerprint);
            Payee {
                account_type: AccountType::Card,
                identifier: number.masked(),
                sealed: Some(keys.seal.seal(
                    &mut rand::thread_rng(),
                    number.expose_pan(),
                    &payee_context(&fingerprint),
                )),
                fingerprint,
                bank_member_id: None,
                holder: Some(holder),
            }
        }
        Destination::Sbp { phone, bank } => Payee {
            account_type: AccountType::Sbp,
            identifier: phone.as_str().to_string(),
            fingerprint: phone.fingerprint(&keys.fingerprint),
            sealed: None,
            bank_member_id: Some(bank),
            holder: None,
        },
    }
}

/// What a sealed card number is bound to.
pub fn payee_context(fingerprint: &str) -> String {
    format!("payee:{fingerprint}")
}

/// Creates a payout for `merchant`: reads what the decision needs, decides, applies. A guard
/// that fails under a concurrent request is reported as the refusal it stands for.
pub async fn create(
    st: &AppState,
    merchant: &Merchant,
    order: PayoutOrder,
    seal: &dyn Seal<Vec<Payout>>,
) -> Result<Vec<Payout>, OpError> {
    let (currency, payee) = (order.currency, &order.payee);
    let now = st.now();
    let (day, month) = payout::periods(now);
    let state = st
        .store
        .payout_state(
            &merchant.id,
            currency,
            &day,
            &month,
            &payee.fingerprint,
            payee.bank_member_id,
        )
        .await?
        .ok_or(DomainError::MerchantNotFound)?;
    let bank_enabled = match (payee.bank_member_id, state.bank_enabled) {
        (None, _) => true,
        (Some(_), Some(enabled)) => enabled,
        (Some(_), None) => {
            return Err(DomainError::Invalid {
                field: "account_bank",
                kind: Rule::Unknown,
            }
            .into())
        }
    };
    if let Some(order_id) = &order.order_id {
        if st
            .store
            .payout_by_order(&merchant.id, order_id)
            .await?
            .is_some()
        {
            return Err(order_taken());
        }
    }
    let rules = st.money_rules().payouts;
    let cx = PayoutContext {
        merchant,
        profile: &state.profile,
        rules: &rules,
        balance: state.balance,
        usage: state.usage,
        payee_banned: state.payee_banned,
        bank_enabled,
    };
    let (payouts, mut plan) = decide::payout::create(
        &cx,
        order,
        || PayoutId::random(&mut rand::thread_rng()),
        now,
    )?;
    plan.writes.extend(seal.answer(&payouts));
    match st.store.apply(plan).await {
        Ok(()) => {
            st.payouts_due.notify_one();
            Ok(payouts)
        }
        Err(StoreError::GuardFailed(g)) => Err(OpError::refused(g)),
        Err(StoreError::Conflict(_)) => Err(order_taken()),
        Err(e) => Err(e.into()),
    }
}

/// A personal payout: to an account `merchant` registered and an operator has not banned.
pub async fn create_personal(
    st: &AppState,
    merchant: &Merchant,
    account_id: &str,
    amount: i64,
    currency: paylink_core::money::Currency,
    order_id: Option<String>,
    seal: &dyn Seal<Vec<Payout>>,
) -> Result<Vec<Payout>, OpError> {
    let account = match PayoutAccountId::parse(account_id) {
        Some(id) => st.store.payout_account(&id).await?,
        None => None,
    }
    // Another merchant's account answers as a missing one.
    .filter(|a| a.merchant_id == merchant.id)
    .ok_or(DomainError::PayoutAccountNotFound)?;
    if account.banned {
        return Err(DomainError::PayoutAccountBanned.into());
    }
    let order = PayoutOrder {
        kind: PayoutKind::Personal,
        amount,
        currency,
        payee: account.payee,
        payout_account_id: Some(account.id),
        order_id,
    };
    create(st, merchant, order, seal).await
}

fn order_taken() -> OpError {
    DomainError::Invalid {
        field: "order_id",
        kind: Rule::Taken,
    }
    .into()
}

/// The merchant cancels `payout`: with `whole_order`, every part of a split payout that shares
/// its order id; otherwise that part alone.
pub async fn cancel(
    st: &AppState,
    payout: Payout,
    whole_order: bool,
    seal: &dyn Seal<Payout>,
) -> Result<Payout, OpError> {
    let parts = match (&payout.order_id, whole_order) {
        (Some(order), true) => st.store.payout_parts(&payout.merchant_id, order).await?,
        _ => vec![payout],
    };
    decline(st, &parts, "Canceled by the merchant", seal).await
}

/// Ends the `parts` of a payout (one, or every part of a split one) that have not gone to the
/// provider (NEW or MODERATING) as DECLINED, together in one plan; answers the first declined.
/// Parts that cannot be declined any more are left as they are; none at all is a refusal.
pub async fn decline(
    st: &AppState,
    parts: &[Payout],
    reason: &str,
    seal: &dyn Seal<Payout>,
) -> Result<Payout, OpError> {
    let first = parts.first().ok_or(DomainError::PayoutNotFound)?;
    let profile = st.store.payout_profile(&first.merchant_id).await?;
    let url = profile.and_then(|p| p.webhook_url);
    let now = st.now();
    let mut plan = Plan::default();
    let mut answer = None;
    let mut refused = DomainError::PayoutNotFound;
    for part in parts {
        let outcome = Outcome::Declined(reason.to_string());
        match decide::payout::finish(part, outcome, url.as_deref(), now) {
            Ok((done, part_plan)) => {
                answer.get_or_insert(done);
                plan.writes.extend(part_plan.writes);
            }
            Err(e) => refused = e,
        }
    }
    let answer = answer.ok_or(refused)?;
    plan.writes.extend(seal.answer(&answer));
    match st.store.apply(plan).await {
        Ok(()) => Ok(answer),
        // A part moved by the worker meanwhile (or the request's claim was lost).
        Err(StoreError::GuardFailed(g)) => Err(OpError::refused(g)),
        Err(e) => Err(e.into()),
    }
}

/// The reason a decline tells the merchant, trimmed: 1 to [`MAX_DECLINE_REASON`] characters,
/// no control characters.
pub fn decline_reason(text: &str) -> Result<String, DomainError> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err(DomainError::Invalid {
            field: "reason",
            kind: Rule::Required,
        });
    }
    paylink_core::text::check_len("reason", &Some(reason.to_string()), MAX_DECLINE_REASON)?;
    Ok(reason.to_string())
}

/// The longest decline reason, in characters.
pub const MAX_DECLINE_REASON: usize = 500;

/// An operator's decision on a payout waiting for one.
#[derive(Debug, Clone)]
pub enum Moderation {
    /// Let it go: the worker sends it on its next pass.
    Approve,
    /// End it as DECLINED with the reason the merchant is told.
    Decline(String),
}

/// An operator decides on `payout` (MODERATING, or NEW for a decline), and with it on every
/// part of its request in the same status (a split request is paid whole or not at all), in
/// one plan. Of two operators deciding at once, one wins; the other is refused
/// ([`DomainError::PayoutNotCancelable`]), the payout having moved. Answers the part asked for.
pub async fn moderate(
    store: &Store,
    actor: &Actor,
    payout: &Payout,
    decision: Moderation,
    now: Millis,
) -> Result<Payout, OpError> {
    actor.require(Power::Admin)?;
    let parts: Vec<Payout> = store
        .payout_group(&payout.merchant_id, &payout.group_id, payout.created_at)
        .await?
        .into_iter()
        .filter(|p| p.id == payout.id || p.status == payout.status)
        .collect();
    // The part asked for as the operator saw it (its status guards the move).
    let parts: Vec<&Payout> = std::iter::once(payout)
        .chain(parts.iter().filter(|p| p.id != payout.id))
        .collect();
    let mut plan = Plan::default();
    let mut answer = None;
    match &decision {
        Moderation::Approve => {
            // What was true when the payout was asked for may not be now: a merchant banned
            // or unverified since, or a payee banned since, is not paid.
            let merchant = store
                .merchant(&payout.merchant_id)
                .await?
                .ok_or(DomainError::MerchantNotFound)?;
            merchant.check_access()?;
            if !merchant.verified {
                return Err(DomainError::MerchantNotVerified.into());
            }
            let state = store
                .payout_state(
                    &merchant.id,
                    payout.currency,
                    &payout.day_key,
                    &payout.month_key,
                    &payout.payee.fingerprint,
                    payout.payee.bank_member_id,
                )
                .await?
                .ok_or(DomainError::MerchantNotFound)?;
            if state.payee_banned {
                return Err(DomainError::PayoutAccountBanned.into());
            }
            for part in parts {
                let (moved, part_plan) =
                    decide::payout::advance(part, PayoutStatus::New, None, now)?;
                plan.writes.extend(part_plan.writes);
                plan.writes.push(Write::Audit(actor.record(
                    "payout.approve",
                    part.id.as_str(),
                    part.status.as_str(),
                    moved.status.as_str(),
                    now,
                )));
                answer.get_or_insert(moved);
            }
        }
        Moderation::Decline(reason) => {
            let reason = decline_reason(reason)?;
            let profile = store.payout_profile(&payout.merchant_id).await?;
            let url = profile.and_then(|p| p.webhook_url);
            for part in parts {
                let outcome = Outcome::Declined(reason.clone());
                let (moved, mut part_plan) =
                    decide::payout::finish(part, outcome, url.as_deref(), now)?;
                // Only from the status the operator saw: a payout another operator approved
                // meanwhile (MODERATING -> NEW) is not declined behind their back.
                for w in &mut part_plan.writes {
                    if let Write::MovePayout { from, .. } = w {
                        *from = match part.status {
                            PayoutStatus::Moderating => &[PayoutStatus::Moderating],
                            PayoutStatus::New => &[PayoutStatus::New],
                            _ => from,
                        };
                    }
                }
                plan.writes.extend(part_plan.writes);
                plan.writes.push(Write::Audit(actor.record(
                    "payout.decline",
                    part.id.as_str(),
                    part.status.as_str(),
                    format!("{} ({reason})", moved.status.as_str()),
                    now,
                )));
                answer.get_or_insert(moved);
            }
        }
    }
    let moved = answer.ok_or(DomainError::PayoutNotFound)?;
    apply_move(store, plan).await?;
    Ok(moved)
}

/// Ends `payout` with `outcome`, its webhook to the merchant's payout webhook URL if set.
pub async fn finish(
    store: &Store,
    payout: &Payout,
    outcome: Outcome,
    now: Millis,
) -> Result<Payout, OpError> {
    let profile = store.payout_profile(&payout.merchant_id).await?;
    let url = profile.and_then(|p| p.webhook_url);
    let (done, plan) = decide::payout::finish(payout, outcome, url.as_deref(), now)?;
    apply_move(store, plan).await?;
    Ok(done)
}

async fn apply_move(store: &Store, plan: Plan) -> Result<(), OpError> {
    match store.apply(plan).await {
        Ok(()) => Ok(()),
        // Moved by someone else meanwhile.
        Err(StoreError::GuardFailed(g)) => Err(OpError::refused(g)),
        Err(e) => Err(e.into()),
    }
}

/// Registers a payout account for `merchant`.
pub async fn add_account(
    store: &Store,
    merchant: &MerchantId,
    payee: Payee,
    now: Millis,
) -> Result<PayoutAccount, OpError> {
    if store.merchant(merchant).await?.is_none() {
        return Err(DomainError::MerchantNotFound.into());
    }
    if let Some(id) = payee.bank_member_id {
        if store.sbp_bank(id).await?.is_none() {
            return Err(DomainError::Invalid {
                field: "bank",
                kind: Rule::Unknown,
            }
            .into());
        }
    }
    let account = PayoutAccount {
        id: PayoutAccountId::random(&mut rand::thread_rng()),
        merchant_id: merchant.clone(),
        payee,
        banned: false,
        created_at: now,
    };
    store
        .apply(Plan::one(Write::InsertPayoutAccount(account.clone())))
        .await?;
    Ok(account)
}

/// Moves a payout the worker found due one step: NEW to PROCESS (the provider answers by
/// `now + delay`), PROCESS to its final status. A NEW payout whose merchant was banned, or
/// whose payee was banned, since it was asked for is declined instead: its money returns.
pub(crate) async fn step(st: &AppState, p: &Payout, now: Millis) -> Result<(), StoreError> {
    match p.status {
        PayoutStatus::New => {
            if let Some(why) = unpayable(st, p).await? {
                let profile = st.store.payout_profile(&p.merchant_id).await?;
                let url = profile.and_then(|x| x.webhook_url);
                return match decide::payout::finish(p, Outcome::Declined(why), url.as_deref(), now)
                {
                    Ok((_, plan)) => st.store.apply(plan).await,
                    // Moved meanwhile (cancelled): nothing to decline.
                    Err(_) => Ok(()),
                };
            }
            let delay = st.settings.money.sandbox_payout_delay.as_millis() as i64;
            match decide::payout::advance(p, PayoutStatus::Process, Some(now + delay), now) {
                Ok((_, plan)) => st.store.apply(plan).await,
                Err(_) => Ok(()),
            }
        }
        PayoutStatus::Process => send(st, p, now).await,
        _ => Ok(()),
    }
}

/// Why `p` may no longer be sent, if it may not: its merchant banned since it was asked for,
/// or its payee banned since. (A lapsed subscription stops new payouts, not those made: a
/// P2Pin link's transfer of a payer's money goes on.)
async fn unpayable(st: &AppState, p: &Payout) -> Result<Option<String>, StoreError> {
    let Some(merchant) = st.store.merchant(&p.merchant_id).await? else {
        return Ok(Some("The merchant is not found".into()));
    };
    if merchant.banned {
        return Ok(Some("Not sent: the merchant is banned".into()));
    }
    let state = st
        .store
        .payout_state(
            &merchant.id,
            p.currency,
            &p.day_key,
            &p.month_key,
            &p.payee.fingerprint,
            p.payee.bank_member_id,
        )
        .await?;
    Ok(state
        .filter(|s| s.payee_banned)
        .map(|_| "Not sent: the payee is banned".into()))
}

/// Leases a due PROCESS payout, asks the provider, and records its answer. A worker that dies
/// in between, or an answer that never came, leaves the lease to run out; the provider is
/// asked again with the same payout id (its idempotency key).
async fn send(st: &AppState, p: &Payout, now: i64) -> Result<(), StoreError> {
    let lease = now + 60_000;
    st.store
        .apply(Plan::one(Write::ClaimPayout {
            id: p.id.clone(),
            now,
            until: lease,
        }))
        .await?;
    let opened = match &p.payee.sealed {
        Some(sealed) => match st
            .keys
            .seal
            .open(sealed, &payee_context(&p.payee.fingerprint))
        {
            Some(pan) => Some(pan),
            None => {
                // Not sent: a payout whose card cannot be read fails, and its money returns.
                tracing::error!(payout = %p.id, "cannot open the payee's sealed card number");
                let outcome = Outcome::Error("The card number cannot be read".into());
                return record(st, p, outcome).await;
            }
        },
        None => None,
    };
    let account = opened
        .as_ref()
        .map_or(p.payee.identifier.as_str(), |pan| pan.expose().as_str());
    let outcome = st
        .payout_provider
        .send(PayoutRequest {
            reference: p.id.as_str(),
            account_type: p.payee.account_type,
            account,
            bank_member_id: p.payee.bank_member_id,
            holder: p.payee.holder.as_deref(),
            amount: p.amount,
            currency: p.currency,
        })
        .await;
    match outcome {
        Ok(outcome) => record(st, p, outcome).await,
        // The money may have gone: the payout stays PROCESS, its money locked, and is asked
        // again under the same id once the lease runs out.
        Err(Unsure(why)) => {
            tracing::warn!(payout = %p.id, why, "the payout provider's answer did not arrive: asked again in a minute");
            Ok(())
        }
    }
}

/// Records the provider's answer to `p` with its webhook.
async fn record(st: &AppState, p: &Payout, outcome: Outcome) -> Result<(), StoreError> {
    match finish(&st.store, p, outcome, st.now()).await {
        Ok(_) => Ok(()),
        Err(OpError::Store(e)) => Err(e),
        Err(OpError::Domain(_)) => Err(StoreError::GuardFailed(Guard::PayoutMoved)),
    }
}

/// A banned payee is refused for every merchant (the ban is by fingerprint).
pub async fn set_account_banned(
    store: &Store,
    actor: &Actor,
    account_id: &str,
    banned: bool,
    now: Millis,
) -> Result<PayoutAccountId, OpError> {
    actor.require(Power::Admin)?;
    let id = PayoutAccountId::parse(account_id).ok_or(DomainError::PayoutAccountNotFound)?;
    store
        .apply(Plan {
            writes: vec![
                Write::SetPayoutAccountBanned {
                    id: id.clone(),
                    banned,
                },
                Write::Audit(actor.record(
                    if banned {
                        "payout_account.ban"
                    } else {
                        "payout_account.unban"
                    },
                    id.as_str(),
                    "",
                    format!("banned={banned}"),
                    now,
                )),
            ],
        })
        .await
        .map_err(|e| {
            crate::ops::merchants::not_found_on_guard(e, DomainError::PayoutAccountNotFound)
        })?;
    Ok(id)
}
