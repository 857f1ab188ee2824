//! The console's reads: postbacks and webhooks across merchants, with their delivery attempts.
//! Emails and SMS are not among them: their texts are their recipients'.

use crate::ops::OpError;
use paylink_core::audit::Actor;
use paylink_core::event::{EventKind, NoticeState};
use paylink_core::plan::DeliveryAttempt;
use paylink_core::time::Millis;
use paylink_core::DomainError;
use paylink_store::{NoticeRecord, Store};

/// What the console's search narrows by; every field given narrows.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub merchant: Option<String>,
    pub bill: Option<String>,
    /// A payment's own postback and its refunds'.
    pub payment: Option<String>,
    pub state: Option<NoticeState>,
    /// The next page: notices older than this one (created_at, id).
    pub before: Option<(Millis, String)>,
}

/// The newest `limit` postbacks matching `search`.
pub async fn search(store: &Store, s: &Search, limit: i64) -> Result<Vec<NoticeRecord>, OpError> {
    Ok(store
        .console_postbacks(
            s.merchant.as_deref(),
            s.bill.as_deref(),
            s.payment.as_deref(),
            s.state,
            s.before.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit,
        )
        .await?)
}

/// A postback with every attempt at delivering it and what it says.
pub struct Postback {
    pub record: NoticeRecord,
    pub attempts: Vec<DeliveryAttempt>,
    /// Its dialect's name and value pairs, unsigned (postbacks hold no card numbers).
    pub fields: Vec<(String, String)>,
}

fn is_postback(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Payment | EventKind::Payout | EventKind::Refund
    )
}

/// Postback `id`; an email or SMS reads as missing.
pub async fn postback(store: &Store, id: &str) -> Result<Postback, OpError> {
    let record = store
        .notice(id)
        .await?
        .filter(|r| is_postback(r.notice.kind))
        .ok_or(DomainError::PaymentNotFound)?;
    let attempts = store.notice_attempts(id).await?;
    let fields = crate::dialects::fields(&record.notice);
    Ok(Postback {
        record,
        attempts,
        fields,
    })
}

/// Sends postback `id` again in a fresh round (audited as the operator's); an email, an SMS
/// or no notice at all reads as missing.
pub async fn redeliver(store: &Store, actor: &Actor, id: &str, now: Millis) -> Result<(), OpError> {
    let found = store
        .notice(id)
        .await?
        .is_some_and(|r| is_postback(r.notice.kind));
    if !found {
        return Err(DomainError::PaymentNotFound.into());
    }
    crate::ops::merchants::redeliver(store, Some(actor), id, now).await
}
