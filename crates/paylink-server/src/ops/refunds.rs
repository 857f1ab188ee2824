//! Refunds, shared by every dialect: take the money (PROCESS), ask the acquirer, record its
//! answer. A refund whose asker died, or whose answer never came, is asked again by the money
//! worker once its lease ends (with what a dispute's decision records with the answer, see
//! `disputes::refund_seal`).

use crate::acquirer::{RefundRequest, Unsure};
use crate::ops::idempotency::{self, NoSeal, Seal};
use crate::ops::OpError;
use crate::state::AppState;
use paylink_core::decide;
use paylink_core::id::RefundId;
use paylink_core::payment::Payment;
use paylink_core::payout::PayoutStatus;
use paylink_core::permanent_link::LinkFlow;
use paylink_core::plan::Plan;
use paylink_core::refund::{Refund, RefundStatus};
use paylink_core::DomainError;
use paylink_store::StoreError;

/// How long the creator of a refund has to record the acquirer's answer.
const LEASE_MS: i64 = 60_000;

/// Refunds `amount` of `payment` (`None`: all that remains); not a P2Pin payment whose money
/// went on to its recipient ([`passed_on`]). A balance that a concurrent
/// request spent between the read and the write is read again, a few times, before the
/// refund is refused. `seal` binds the refund to an idempotent request with the money taken,
/// and stores the answer with the acquirer's.
pub async fn create(
    st: &AppState,
    payment: &Payment,
    amount: Option<i64>,
    seal: &dyn Seal<Refund>,
) -> Result<Refund, OpError> {
    if passed_on(st, payment).await? {
        return Err(DomainError::TransactionRejected.into());
    }
    let mut attempts = 0;
    let refund = loop {
        attempts += 1;
        let current = st
            .store
            .payment(&payment.id)
            .await?
            .ok_or(DomainError::PaymentNotFound)?;
        let balance = st
            .store
            .balance(&current.merchant_id, current.account_currency)
            .await?;
        // What the payment's live refunds took (its converted refunds round up once for all).
        let taken = match current.fx_rate {
            Some(_) => st
                .store
                .refunds_of(&current.id)
                .await?
                .iter()
                .filter(|r| matches!(r.status, RefundStatus::Process | RefundStatus::Success))
                .map(|r| r.account_amount)
                .sum(),
            None => 0,
        };
        let now = st.now();
        let (refund, mut plan) = decide::refund::create(
            &current,
            amount,
            balance,
            taken,
            RefundId::random(&mut rand::thread_rng()),
            now + LEASE_MS,
            now,
        )?;
        plan.writes.extend(seal.bind(refund.id.as_str()));
        match st.store.apply(plan).await {
            Ok(()) => break refund,
            Err(StoreError::GuardFailed(g)) if idempotency::lost(g) => {
                return Err(StoreError::GuardFailed(g).into())
            }
            Err(StoreError::GuardFailed(guard)) if attempts < 5 => {
                tracing::debug!(guard = guard.as_str(), "refund raced; reading again");
            }
            Err(StoreError::GuardFailed(guard)) => return Err(OpError::refused(guard)),
            Err(e) => return Err(e.into()),
        }
    };
    Ok(ask(st, &refund, payment, seal).await?)
}

/// Whether `payment` is a P2Pin link's whose money went on to the link's recipient card, or may
/// still: the merchant never held it, so a refund would be paid from their other sales while
/// the recipient keeps the transfer. Only a transfer that ended without sending the money
/// (which then came back to the merchant's balance, and stays there: its end is final) leaves
/// the payment refundable.
async fn passed_on(st: &AppState, payment: &Payment) -> Result<bool, OpError> {
    let p2p = st
        .store
        .link(&payment.bill_id)
        .await?
        .is_some_and(|l| l.flow == LinkFlow::P2pIn);
    if !p2p {
        return Ok(false);
    }
    let transfer = st
        .store
        .payout_by_order(&payment.merchant_id, payment.id.as_str())
        .await?;
    Ok(match transfer {
        Some(t) => !t.status.is_final() || t.status == PayoutStatus::Success,
        // An approved P2Pin payment always has one; a declined one brought nothing to refund.
        None => false,
    })
}

/// Asks the acquirer for `refund` of `payment` and records the answer with its postback (and
/// the answer of the idempotent request that made it).
async fn ask(
    st: &AppState,
    refund: &Refund,
    payment: &Payment,
    seal: &dyn Seal<Refund>,
) -> Result<Refund, StoreError> {
    let answer = match st
        .acquirer
        .refund(RefundRequest {
            reference: refund.id.as_str(),
            payment: payment.id.as_str(),
            from_card: &payment.from_card,
            amount: refund.amount,
            currency: refund.currency,
        })
        .await
    {
        Ok(answer) => answer,
        // The money may have gone back: the refund stays PROCESS, its money taken, and the
        // worker asks again under the same id once its lease runs out.
        Err(Unsure(why)) => {
            tracing::warn!(refund = %refund.id, why, "the acquirer's answer to a refund did not arrive: asked again in a minute");
            return Ok(refund.clone());
        }
    };
    let bill = st.store.bill(&refund.bill_id).await?;
    let shop = st.store.shop(&refund.shop_id).await?;
    let url = shop.and_then(|s| s.result_url);
    let custom = bill.and_then(|b| b.custom);
    let now = st.now();
    // What a refusal returns to hold settles when the payment's own money does (or did: then
    // on the worker's next pass).
    let hold_due_at = st.store.settlement_due(&payment.id).await?.unwrap_or(now);
    let (done, mut plan) = decide::refund::complete(
        refund,
        answer,
        url.as_deref(),
        custom.as_deref(),
        hold_due_at,
        now,
    );
    plan.writes.extend(seal.answer_later(&done));
    // The acquirer has answered: the record is written on a task of its own, so a request that
    // stops waiting does not leave the refund to wait out its lease.
    let store = st.store.clone();
    let applied = tokio::spawn(async move { store.apply(plan).await })
        .await
        .unwrap_or_else(|e| Err(StoreError::Database(format!("recording a refund: {e}"))));
    match applied {
        Ok(()) => Ok(done),
        // Someone else recorded the answer meanwhile (a worker that took over the lease).
        Err(StoreError::GuardFailed(_)) => {
            let recorded = st
                .store
                .merchant_refund(&refund.merchant_id, refund.id.as_str())
                .await?
                .unwrap_or(done);
            let answer = seal.answer_later(&recorded);
            if !answer.is_empty() {
                match st.store.apply(Plan { writes: answer }).await {
                    // Told already, with the answer, by whoever recorded it.
                    Err(StoreError::GuardFailed(g)) if !idempotency::lost(g) => {}
                    other => other?,
                }
            }
            Ok(recorded)
        }
        Err(e) => Err(e),
    }
}

/// Takes over refunds left in PROCESS past their lease and asks the acquirer again.
pub async fn retry_stuck(st: &AppState) -> Result<usize, StoreError> {
    let now = st.now();
    let mut done = 0;
    for r in st.store.stuck_refunds(now, 64).await? {
        let claim = paylink_core::plan::Plan::one(paylink_core::plan::Write::ClaimRefund {
            id: r.id.clone(),
            now,
            until: now + LEASE_MS,
        });
        match st.store.apply(claim).await {
            Ok(()) => {}
            Err(StoreError::GuardFailed(_)) => continue,
            Err(e) => return Err(e),
        }
        if let Some(payment) = st.store.payment(&r.payment_id).await? {
            let seal = crate::ops::disputes::refund_seal(st, &r).await?;
            ask(st, &r, &payment, seal.as_deref().unwrap_or(&NoSeal)).await?;
            done += 1;
        }
    }
    Ok(done)
}
