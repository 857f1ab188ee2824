//! The money worker: settles due money, asks the acquirer again about refunds left in
//! PROCESS and charges left unrecorded, and moves payouts through the provider; every minute it also declines link
//! payments whose 3-D Secure challenge was left unanswered. Each pass handles what is due at once,
//! concurrently, so that it keeps up with the rate payouts are created at.

use crate::ops::checkout;
use crate::ops::payouts;
use crate::ops::refunds;
use crate::ops::settlements;
use crate::state::AppState;
use paylink_store::StoreError;
use tokio::task::JoinSet;

/// Most of each kind of work taken in one pass.
const PASS: i64 = 256;

/// One pass; how many things it moved (the loop goes again at once while there are some).
pub async fn work_once(st: &AppState) -> Result<usize, StoreError> {
    let now = st.now();
    let mut tasks = JoinSet::new();
    for s in st.store.due_settlements(now, PASS).await? {
        let st = st.clone();
        tasks.spawn(async move { settlements::settle(&st, &s, now).await });
    }
    for p in st.store.due_payouts(now, PASS).await? {
        let st = st.clone();
        tasks.spawn(async move { payouts::step(&st, &p, now).await });
    }
    let mut moved = refunds::retry_stuck(st).await? + checkout::recover(st).await?;
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => moved += 1,
            // Moved by another worker, or a refund took from the hold meanwhile: next pass.
            Ok(Err(StoreError::GuardFailed(_))) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(e) => tracing::error!(error = %e, "a money worker task failed"),
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(moved),
    }
}

/// How often idempotency keys past their retention are purged (a claim already ignores them),
/// and link payments whose 3-D Secure challenge was left unanswered are declined.
const PURGE_EVERY_MS: i64 = 60_000;

/// The worker loop: a pass whenever woken (a payout was created) or every poll interval.
pub async fn run(st: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut next_purge = 0;
    loop {
        if st.now() >= next_purge {
            next_purge = st.now() + PURGE_EVERY_MS;
            if let Err(e) = crate::ops::idempotency::purge(&st).await {
                tracing::error!(error = %e, "purging idempotency keys failed");
            }
            match crate::ops::permanent_links::decline_abandoned(&st.store, st.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(declined = n, "unanswered 3-D Secure challenges declined"),
                Err(e) => tracing::error!(error = %e, "declining unanswered challenges failed"),
            }
        }
        match work_once(&st).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "money worker pass failed"),
        }
        tokio::select! {
            _ = st.payouts_due.notified() => {}
            _ = tokio::time::sleep(st.settings.money.poll) => {}
            _ = stop.changed() => return,
        }
    }
}
