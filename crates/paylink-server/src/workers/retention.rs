//! Retention of the outbox, so that it and `outbox_attempts` do not grow without bound: notices
//! delivered, failed or kept for longer than `[postbacks] retention_days` are added to the
//! daily summary `outbox_history` and removed with their attempts, in the same transaction.
//! Pending notices stay whatever their age.
//!
//! Every dispatching process runs it beside its dispatcher; passes may overlap, in one process
//! or several on one database. Each batch is one plan of at most [`BATCH`] notices, found by a
//! read and taken again in SQL only while still final and old enough, so a batch holds its row
//! locks briefly and a row is summed by the one plan that removed it.

use crate::state::AppState;
use paylink_core::id::random_base62;
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::{Store, StoreError};
use tokio::sync::watch;

/// Most notices one plan removes.
pub const BATCH: i64 = 1000;

/// How often (on the server's clock) a process runs a pass.
const EVERY_MS: Millis = 10 * 60_000;

const DAY_MS: Millis = 86_400_000;

/// What a pass removed. Counted from the rows found gone after each batch: a pass racing
/// another may count rows the other removed (the summary itself counts each row once).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub notices: i64,
    pub attempts: i64,
}

/// Notices finished before this are removed at `now` with a retention of `days`; `None` when
/// `days` is 0 (kept forever).
pub fn cutoff(now: Millis, days: u32) -> Option<Millis> {
    (days > 0).then(|| now.saturating_sub(i64::from(days) * DAY_MS))
}

/// One pass: batches of notices finished before `before`, until none is left (or a batch
/// removed nothing: another pass holds them) or `go_on` says stop.
pub async fn purge(
    store: &Store,
    before: Millis,
    go_on: impl Fn() -> bool,
) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    while go_on() {
        let found = store.finished_notices(before, BATCH).await?;
        if found.is_empty() {
            break;
        }
        let ids: Vec<String> = found.iter().map(|f| f.id.clone()).collect();
        let token = format!("retention:{}", random_base62(&mut rand::thread_rng(), 16));
        store
            .apply(Plan::one(Write::PurgeNotices {
                token,
                ids: ids.clone(),
                before,
            }))
            .await?;
        let left = store.notices_present(&ids).await?;
        let gone: Vec<_> = found
            .iter()
            .filter(|f| left.binary_search(&f.id).is_err())
            .collect();
        purged.notices += gone.len() as i64;
        purged.attempts += gone.iter().map(|f| f.attempts).sum::<i64>();
        if gone.is_empty() || (found.len() as i64) < BATCH {
            break;
        }
    }
    Ok(purged)
}

/// The worker loop, started beside the dispatcher: a pass at start and every [`EVERY_MS`] of the
/// server's clock, until `stop`.
pub async fn run(st: AppState, mut stop: watch::Receiver<bool>) {
    let days = st.settings.postbacks.retention_days;
    let mut next = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        let now = st.now();
        if let (true, Some(before)) = (now >= next, cutoff(now, days)) {
            next = now + EVERY_MS;
            let stopping = stop.clone();
            match purge(&st.store, before, || !*stopping.borrow()).await {
                Ok(p) if p.notices > 0 => tracing::info!(
                    notices = p.notices,
                    attempts = p.attempts,
                    "outbox retention removed finished notices"
                ),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox retention failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(st.settings.postbacks.poll) => {}
            _ = stop.changed() => return,
        }
    }
}
