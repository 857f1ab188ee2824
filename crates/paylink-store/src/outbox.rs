//! The outbox: notices written in the same plan as the change they report, each an event (as
//! JSON, see [`crate::events`]) for one URL with the dialect that renders it; the notices a
//! dispatcher has leased (with the secrets their dialect signs with); and the delivery
//! history that operators look at. Rows from before migration 10 hold the Cardlink form
//! fields they were written with instead of an event, and are read as such.

use crate::rows::{self, SealedToken};
use crate::sql::{padded_ids, placeholders, Columns, Value};
use crate::{events, Store, StoreError};
use paylink_core::event::{Dialect, Event, EventKind, NoticeState};
use paylink_core::id::{BillId, MerchantId, PartnerId, ShopId};
use paylink_core::plan::{DeliveryAttempt, Plan, Write};
use paylink_core::time::Millis;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A notice as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotice {
    pub id: String,
    pub kind: EventKind,
    pub dialect: Dialect,
    /// A merchant's notice, or (Card API messages) a partner's.
    pub merchant_id: Option<MerchantId>,
    pub partner_id: Option<PartnerId>,
    pub shop_id: Option<ShopId>,
    pub bill_id: Option<BillId>,
    /// The payment, payout or refund it reports.
    pub subject_id: String,
    pub url: String,
    pub content: NoticeContent,
    pub created_at: Millis,
}

/// What a notice tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeContent {
    Event(Event),
    /// A row written before notices held events: the Cardlink form fields in order, without
    /// `SignatureValue`, exactly as they are to be sent.
    Fields(Vec<(String, String)>),
}

/// A notice with its delivery state.
#[derive(Debug, Clone)]
pub struct NoticeRecord {
    pub notice: StoredNotice,
    pub state: NoticeState,
    /// Attempts in the current round of the schedule.
    pub attempts: i64,
    pub total_attempts: i64,
    pub next_at: Millis,
    pub last_status: Option<i64>,
    pub delivered_at: Option<Millis>,
}

/// A leased notice and the sealed secrets it is signed with.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub record: NoticeRecord,
    pub token: Option<SealedToken>,
    pub webhook_key_sealed: Option<String>,
    /// The merchant's Procard login and sealed key (Procard callbacks are signed with it).
    pub procard: Option<(String, String)>,
    /// The number of the link operation the notice is about (Procard callbacks).
    pub operation_id: Option<i64>,
}

/// What the store tells the dispatcher of its own process once a plan has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// New notices, written already leased to the dispatcher: deliver them, no claim needed.
    Leased(Vec<String>),
    /// A notice was made due without a lease (a redelivery): claim what is due.
    Due,
}

/// The dispatcher that takes this process's new notices, and the lease it takes them with.
#[derive(Debug)]
pub(crate) struct Handoff {
    owner: String,
    lease: Millis,
    to: mpsc::UnboundedSender<Handover>,
}

impl Handoff {
    /// The owner and length of the lease new notices are written with.
    pub(crate) fn lease(&self) -> (&str, Millis) {
        (&self.owner, self.lease)
    }

    /// What to tell the dispatcher once `plan` is durable, if it writes or redelivers notices.
    /// The writer tells it, so that a caller that stops waiting (a client gone mid-request)
    /// still hands its notices over. A dispatcher gone by then leaves them to lapse and be
    /// claimed by another.
    pub(crate) fn after(&self, plan: &Plan) -> Option<Box<dyn FnOnce() + Send>> {
        let mut leased = Vec::new();
        let mut due = false;
        for w in &plan.writes {
            match w {
                Write::EnqueueNotice(n) if !n.url.is_empty() => leased.push(n.id.clone()),
                Write::Redeliver { .. } => due = true,
                _ => {}
            }
        }
        if leased.is_empty() && !due {
            return None;
        }
        let to = self.to.clone();
        Some(Box::new(move || {
            if !leased.is_empty() {
                let _ = to.send(Handover::Leased(leased));
            }
            if due {
                let _ = to.send(Handover::Due);
            }
        }))
    }
}

/// The store's slot for a [`Handoff`], shared by its clones.
#[derive(Debug, Default, Clone)]
pub(crate) struct Handoffs(Arc<Mutex<Option<Arc<Handoff>>>>);

impl Handoffs {
    /// The live handoff, if a dispatcher still listens.
    pub(crate) fn current(&self) -> Option<Arc<Handoff>> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|h| h.to.is_closed()) {
            *slot = None;
        }
        slot.clone()
    }
}

const NOTICE_COLUMNS: &str =
    "o.id, o.kind, o.dialect, o.merchant_id, o.partner_id, o.shop_id, o.bill_id, \
     o.subject_id, o.url, o.event, o.fields, o.state, o.attempts, o.total_attempts, o.next_at, \
     o.last_status, o.delivered_at, o.created_at";

fn record(r: &dyn Columns) -> Result<NoticeRecord, StoreError> {
    let corrupt = |c: &str, v: &str| StoreError::Corrupt(format!("outbox {c} = {v:?}"));
    let kind = r.text("kind")?;
    let dialect = r.text("dialect")?;
    let state = r.text("state")?;
    let content = match r.opt_text("event")? {
        Some(event) => NoticeContent::Event(events::decode(&event)?),
        None => NoticeContent::Fields(
            form_urlencoded::parse(r.text("fields")?.as_bytes())
                .into_owned()
                .collect(),
        ),
    };
    Ok(NoticeRecord {
        notice: StoredNotice {
            id: r.text("id")?,
            kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
            dialect: Dialect::parse(&dialect).ok_or_else(|| corrupt("dialect", &dialect))?,
            merchant_id: r.opt_text("merchant_id")?.map(MerchantId::from_trusted),
            partner_id: r.opt_text("partner_id")?.map(PartnerId::from_trusted),
            shop_id: r.opt_text("shop_id")?.map(ShopId::from_trusted),
            bill_id: r.opt_text("bill_id")?.map(BillId::from_trusted),
            subject_id: r.text("subject_id")?,
            url: r.text("url")?,
            content,
            created_at: r.i64("created_at")?,
        },
        state: NoticeState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        attempts: r.i64("attempts")?,
        total_attempts: r.i64("total_attempts")?,
        next_at: r.i64("next_at")?,
        last_status: r.opt_i64("last_status")?,
        delivered_at: r.opt_i64("delivered_at")?,
    })
}

impl Store {
    /// Hands this process's new notices to its dispatcher, which then claims none of them:
    /// from now on each notice a plan writes for a URL is written leased to `owner` for
    /// `lease`, and its id is sent on the returned channel once the plan has committed (a
    /// redelivery sends [`Handover::Due`]). A process that dies before delivering leaves the
    /// notices to lapse and be claimed by any dispatcher, as a lease taken by a claim does.
    /// Replaces an earlier handoff; ends when the receiver is dropped.
    pub fn hand_over_notices(
        &self,
        owner: &str,
        lease: Millis,
    ) -> mpsc::UnboundedReceiver<Handover> {
        let (to, from) = mpsc::unbounded_channel();
        *self.handoff.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(Handoff {
            owner: owner.to_string(),
            lease,
            to,
        }));
        from
    }

    /// Which of `ids` are leased to `owner` until after `live_until` and still pending, with
    /// the merchant's live token and the shop's webhook key. Looked up by id: the lease owner
    /// is not indexed, so taking and giving back a lease touches no index.
    pub async fn claimed_notices(
        &self,
        owner: &str,
        ids: &[String],
        live_until: Millis,
    ) -> Result<Vec<Claimed>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(128) {
            let mut args = vec![Value::from(owner), Value::Int(live_until)];
            let n = padded_ids(&mut args, chunk);
            let sql = format!(
                "SELECT {NOTICE_COLUMNS}, t.id AS token_id, t.sealed AS token_sealed,
                        s.webhook_key_sealed, pm.login AS pm_login, pm.key_sealed AS pm_key,
                        lo.id AS operation_id
                 FROM outbox o
                 LEFT JOIN shops s ON s.id = o.shop_id
                 LEFT JOIN api_tokens t ON t.merchant_id = o.merchant_id AND t.revoked_at IS NULL
                 LEFT JOIN procard_merchants pm ON pm.id = o.merchant_id AND o.dialect = 'procard'
                 LEFT JOIN link_operations lo ON lo.payment_id = o.subject_id AND o.dialect = 'procard'
                 WHERE o.id IN ({}) AND o.lease_owner = $1 AND o.leased_until > $2",
                placeholders(3, n)
            );
            // The state is checked here, not in SQL: given `state = 'pending'`, PostgreSQL
            // intersects the ids with the whole partial index of pending notices, which under
            // load is mostly entries of rows delivered since (measured: 13,000 entries read for
            // 32 ids, 1.3 ms instead of a few primary-key probes).
            out.extend(
                self.fetch(&sql, &args, |r| {
                    Ok(Claimed {
                        record: record(r)?,
                        token: rows::sealed_token(r)?,
                        webhook_key_sealed: r.opt_text("webhook_key_sealed")?,
                        procard: match (r.opt_text("pm_login")?, r.opt_text("pm_key")?) {
                            (Some(login), Some(key)) => Some((login, key)),
                            _ => None,
                        },
                        operation_id: r.opt_i64("operation_id")?,
                    })
                })
                .await?
                .into_iter()
                .filter(|c| c.record.state == NoticeState::Pending),
            );
        }
        Ok(out)
    }

    /// Up to `limit` notices due at `now` and not leased, the longest waiting first.
    pub async fn due_notices(&self, now: Millis, limit: i64) -> Result<Vec<String>, StoreError> {
        self.fetch(
            "SELECT id FROM outbox
             WHERE state = 'pending' AND next_at <= $1
               AND (leased_until IS NULL OR leased_until <= $1)
             ORDER BY next_at LIMIT $2",
            &[Value::Int(now), Value::Int(limit)],
            |r| r.text("id"),
        )
        .await
    }

    /// The notices about bill `bill_id`, oldest first.
    pub async fn notices_for_bill(
        &self,
        bill_id: &BillId,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let sql = sql_once!(
            "SELECT {NOTICE_COLUMNS} FROM outbox o WHERE o.bill_id = $1 ORDER BY o.created_at, o.id"
        );
        self.fetch(sql, &[bill_id.as_str().into()], record).await
    }

    /// The merchant's notices, newest first: `limit` after the keyset `before` (created_at, id).
    pub async fn notices_of_merchant(
        &self,
        merchant: &MerchantId,
        before: Option<(Millis, String)>,
        limit: i64,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        let sql = sql_once!(
            "SELECT {NOTICE_COLUMNS} FROM outbox o WHERE o.merchant_id = $1
               AND (o.created_at < $2 OR (o.created_at = $2 AND o.id < $3))
             ORDER BY o.created_at DESC, o.id DESC LIMIT $4"
        );
        self.fetch(
            sql,
            &[
                merchant.as_str().into(),
                at.into(),
                id.as_str().into(),
                limit.into(),
            ],
            record,
        )
        .await
    }

    /// What a postback of `shop`'s is signed with: its merchant's live token and the shop's
    /// webhook key, both sealed (a test postback is signed as real ones are).
    pub async fn shop_signing(
        &self,
        shop: &ShopId,
    ) -> Result<Option<(Option<SealedToken>, Option<String>)>, StoreError> {
        self.fetch_one(
            "SELECT s.webhook_key_sealed, t.id AS token_id, t.sealed AS token_sealed
             FROM shops s
             LEFT JOIN api_tokens t ON t.merchant_id = s.merchant_id AND t.revoked_at IS NULL
             WHERE s.id = $1",
            &[shop.as_str().into()],
            |r| Ok((rows::sealed_token(r)?, r.opt_text("webhook_key_sealed")?)),
        )
        .await
    }

    pub async fn notice(&self, id: &str) -> Result<Option<NoticeRecord>, StoreError> {
        let sql = sql_once!("SELECT {NOTICE_COLUMNS} FROM outbox o WHERE o.id = $1");
        self.fetch_one(sql, &[id.into()], record).await
    }

    /// Every attempt at delivering notice `id`, in order.
    pub async fn notice_attempts(&self, id: &str) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.fetch(
            "SELECT outbox_id, number, attempted_at, http_status, latency_ms, error, response_excerpt
             FROM outbox_attempts WHERE outbox_id = $1 ORDER BY number",
            &[id.into()],
            |r| {
                Ok(DeliveryAttempt {
                    notice_id: r.text("outbox_id")?,
                    number: r.i64("number")?,
                    at: r.i64("attempted_at")?,
                    http_status: r.opt_i64("http_status")?,
                    latency_ms: r.i64("latency_ms")?,
                    error: r.opt_text("error")?,
                    excerpt: r.text("response_excerpt")?,
                })
            },
        )
        .await
    }
}

/// A finished notice retention may remove: its id and how many attempts it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedNotice {
    pub id: String,
    pub attempts: i64,
}

/// One line of the outbox's daily summary (see migration 17): the notices of one UTC day,
/// owner, kind and final state that retention removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryDay {
    /// 00:00 UTC of the day the notices were made, in ms since the epoch.
    pub day: Millis,
    /// `None` where the notices had no merchant (a partner's SMS, an email).
    pub merchant_id: Option<MerchantId>,
    pub partner_id: Option<PartnerId>,
    pub kind: EventKind,
    pub state: NoticeState,
    pub notices: i64,
    pub attempts: i64,
    /// Summed time from creation to delivery of the delivered notices.
    pub delay_ms: i64,
}

impl Store {
    /// Up to `limit` notices in a final state since before `before`, the longest finished
    /// first (retention; pending notices are never among them).
    pub async fn finished_notices(
        &self,
        before: Millis,
        limit: i64,
    ) -> Result<Vec<FinishedNotice>, StoreError> {
        self.fetch(
            "SELECT id, total_attempts FROM outbox
             WHERE state <> 'pending' AND next_at < $1 ORDER BY next_at LIMIT $2",
            &[before.into(), limit.into()],
            |r| {
                Ok(FinishedNotice {
                    id: r.text("id")?,
                    attempts: r.i64("total_attempts")?,
                })
            },
        )
        .await
    }

    /// Which of `ids` are still in the outbox.
    pub async fn notices_present(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(128) {
            let mut args = Vec::with_capacity(chunk.len().next_power_of_two());
            let n = padded_ids(&mut args, chunk);
            let sql = format!("SELECT id FROM outbox WHERE id IN ({})", placeholders(1, n));
            out.extend(self.fetch(&sql, &args, |r| r.text("id")).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The outbox's daily summary, oldest day first.
    pub async fn outbox_history(&self) -> Result<Vec<HistoryDay>, StoreError> {
        self.fetch(
            "SELECT day, merchant_id, partner_id, kind, state, notices, attempts, delay_ms
             FROM outbox_history ORDER BY day, merchant_id, partner_id, kind, state",
            &[],
            |r| {
                let corrupt =
                    |c: &str, v: &str| StoreError::Corrupt(format!("outbox_history {c} = {v:?}"));
                let kind = r.text("kind")?;
                let state = r.text("state")?;
                let owner = |c: &str| -> Result<Option<String>, StoreError> {
                    Ok(Some(r.text(c)?).filter(|s| !s.is_empty()))
                };
                Ok(HistoryDay {
                    day: r.i64("day")?,
                    merchant_id: owner("merchant_id")?.map(MerchantId::from_trusted),
                    partner_id: owner("partner_id")?.map(PartnerId::from_trusted),
                    kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                    state: NoticeState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
                    notices: r.i64("notices")?,
                    attempts: r.i64("attempts")?,
                    delay_ms: r.i64("delay_ms")?,
                })
            },
        )
        .await
    }
}

/// The whole summary per kind and state: what retention removed since the instance began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTotal {
    pub kind: EventKind,
    pub state: NoticeState,
    pub notices: i64,
    pub attempts: i64,
    /// The first and last day summed (00:00 UTC, ms since the epoch).
    pub first_day: Millis,
    pub last_day: Millis,
}

impl Store {
    /// The summary's totals per kind and state.
    pub async fn outbox_history_totals(&self) -> Result<Vec<HistoryTotal>, StoreError> {
        self.fetch(
            "SELECT kind, state, CAST(SUM(notices) AS BIGINT) AS notices,
                 CAST(SUM(attempts) AS BIGINT) AS attempts,
                 MIN(day) AS first_day, MAX(day) AS last_day
             FROM outbox_history GROUP BY kind, state ORDER BY kind, state",
            &[],
            |r| {
                let corrupt =
                    |c: &str, v: &str| StoreError::Corrupt(format!("outbox_history {c} = {v:?}"));
                let kind = r.text("kind")?;
                let state = r.text("state")?;
                Ok(HistoryTotal {
                    kind: EventKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                    state: NoticeState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
                    notices: r.i64("notices")?,
                    attempts: r.i64("attempts")?,
                    first_day: r.i64("first_day")?,
                    last_day: r.i64("last_day")?,
                })
            },
        )
        .await
    }
}
