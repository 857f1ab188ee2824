//! Received money waiting in hold until it is due, then available to the merchant.

use crate::state::AppState;
use paylink_core::decide;
use paylink_core::settlement::Settlement;
use paylink_core::time::Millis;
use paylink_store::StoreError;

/// Moves one due settlement from hold to available. Refused (a guard) when a refund took from
/// the hold meanwhile; the worker tries again on its next pass.
pub async fn settle(st: &AppState, s: &Settlement, now: Millis) -> Result<(), StoreError> {
    let hold = st.store.balance(&s.merchant_id, s.currency).await?.hold;
    st.store
        .apply(decide::settlement::settle(s, hold, now))
        .await
}
