//! Disputes and the payers' charge search in SQL.

use crate::rows;
use crate::sql::{Columns, Statement};
use crate::{Store, StoreError};
use paylink_core::dispute::{Author, Dispute, DisputeDecision, DisputeMessage, DisputeStatus};
use paylink_core::guard::Guard;
use paylink_core::id::{DisputeId, MerchantId, PaymentId, RefundId};
use paylink_core::money::Currency;
use paylink_core::plan::Write;
use paylink_core::time::Millis;

/// The row a dispute write updates, if any, as table and key (see `writes::locks`).
pub(crate) fn lock(write: &Write) -> Option<(&'static str, String)> {
    match write {
        Write::AddDisputeMessage { message, .. } => {
            Some(("disputes", message.dispute_id.to_string()))
        }
        Write::DecideDispute { dispute_id, .. } | Write::AnswerDisputeRefund { dispute_id, .. } => {
            Some(("disputes", dispute_id.to_string()))
        }
        _ => None,
    }
}

pub(crate) fn push(out: &mut Vec<Statement>, write: &Write) {
    match write {
        Write::InsertDispute(d) => out.push(Statement::new(
            "INSERT INTO disputes (id, merchant_id, payment_id, email, status, created_at,
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                d.id.as_str().into(),
                d.merchant_id.as_ref().map(|m| m.as_str()).into(),
                d.payment_id.as_ref().map(|p| p.as_str()).into(),
                d.email.as_str().into(),
                d.status.as_str().into(),
                d.created_at.into(),
                d.updated_at.into(),
            ],
        )),
        Write::AddDisputeMessage { message, from, to } => {
            // The dispute first: its row lock orders concurrent messages, so each one's
            // number below sees the one before it.
            out.push(Statement::guarded(
                "UPDATE disputes SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2",
                vec![
                    message.dispute_id.as_str().into(),
                    from.as_str().into(),
                    to.as_str().into(),
                    message.created_at.into(),
                ],
                Guard::DisputeMoved,
            ));
            out.push(Statement::new(
                "INSERT INTO dispute_messages (dispute_id, seq, author, text, created_at)
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM dispute_messages
                 WHERE dispute_id = $1",
                vec![
                    message.dispute_id.as_str().into(),
                    message.author.as_str().into(),
                    message.text.as_str().into(),
                    message.created_at.into(),
                ],
            ));
        }
        Write::DecideDispute {
            dispute_id,
            decision,
            refund_id,
            now,
        } => out.push(Statement::guarded(
            "UPDATE disputes SET decision = $2, refund_id = $4, updated_at = $3
             WHERE id = $1 AND decision IS NULL",
            vec![
                dispute_id.as_str().into(),
                decision.as_str().into(),
                (*now).into(),
                refund_id.as_ref().map(|r| r.as_str()).into(),
            ],
            Guard::DisputeMoved,
        )),
        Write::AnswerDisputeRefund {
            dispute_id,
            refund_id,
            refused,
            now,
        } => out.push(Statement::guarded(
            "UPDATE disputes SET refund_id = NULL, updated_at = $3,
                 status = CASE WHEN $4 = 0 THEN status ELSE 'answered' END,
                 decision = CASE WHEN $4 = 0 THEN decision ELSE NULL END
             WHERE id = $1 AND refund_id = $2",
            vec![
                dispute_id.as_str().into(),
                refund_id.as_str().into(),
                (*now).into(),
                (*refused).into(),
            ],
            Guard::DisputeMoved,
        )),
        other => unreachable!("not a dispute write: {other:?}"),
    }
}

pub(crate) const DISPUTE_COLUMNS: &str =
    "d.id, d.merchant_id, d.payment_id, d.email, d.status, d.decision, d.created_at, d.updated_at";

pub(crate) fn dispute(r: &dyn Columns) -> Result<Dispute, StoreError> {
    let status = r.text("status")?;
    let decision = match r.opt_text("decision")? {
        Some(d) => Some(
            DisputeDecision::parse(&d)
                .ok_or_else(|| StoreError::Corrupt(format!("disputes.decision = {d:?}")))?,
        ),
        None => None,
    };
    Ok(Dispute {
        id: DisputeId::from_trusted(r.text("id")?),
        merchant_id: r.opt_text("merchant_id")?.map(MerchantId::from_trusted),
        payment_id: r.opt_text("payment_id")?.map(PaymentId::from_trusted),
        email: r.text("email")?,
        status: DisputeStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("disputes.status = {status:?}")))?,
        decision,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

/// A charge as the payers' search shows it: nothing more than they need to recognise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCharge {
    pub payment_id: PaymentId,
    pub merchant_id: MerchantId,
    pub shop_name: String,
    pub created_at: Millis,
    pub amount: i64,
    pub currency: Currency,
    /// The payment's status (`SUCCESS`, `FAIL`, ...).
    pub status: String,
    pub card_mask: String,
}

const FOUND_COLUMNS: &str = "p.id, p.merchant_id, s.name AS shop_name, p.created_at, p.amount, \
     p.currency, p.status, p.from_card";

fn found(r: &dyn Columns) -> Result<FoundCharge, StoreError> {
    Ok(FoundCharge {
        payment_id: PaymentId::from_trusted(r.text("id")?),
        merchant_id: MerchantId::from_trusted(r.text("merchant_id")?),
        shop_name: r.text("shop_name")?,
        created_at: r.i64("created_at")?,
        amount: r.i64("amount")?,
        currency: rows::currency(r, "currency")?,
        status: r.text("status")?,
        card_mask: r.text("from_card")?,
    })
}

impl Store {
    /// Dispute `id`, whoever's (operators, and the payer by reference).
    pub async fn dispute(&self, id: &DisputeId) -> Result<Option<Dispute>, StoreError> {
        let sql = sql_once!("SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.id = $1");
        self.fetch_one(sql, &[id.as_str().into()], dispute).await
    }

    /// The dispute whose refund decision made `refund`, while its answer is not recorded.
    pub async fn dispute_awaiting(&self, refund: &RefundId) -> Result<Option<Dispute>, StoreError> {
        let sql = sql_once!("SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.refund_id = $1");
        self.fetch_one(sql, &[refund.as_str().into()], dispute)
            .await
    }

    /// A dispute of `merchant`'s; another merchant's reads as missing.
    pub async fn merchant_dispute(
        &self,
        merchant: &MerchantId,
        id: &DisputeId,
    ) -> Result<Option<Dispute>, StoreError> {
        let sql = sql_once!(
            "SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.id = $1 AND d.merchant_id = $2"
        );
        self.fetch_one(
            sql,
            &[id.as_str().into(), merchant.as_str().into()],
            dispute,
        )
        .await
    }

    /// The merchant's disputes, newest first: a page of `limit` after `offset`.
    pub async fn disputes_of(
        &self,
        merchant: &MerchantId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Dispute>, StoreError> {
        let sql = sql_once!(
            "SELECT {DISPUTE_COLUMNS} FROM disputes d WHERE d.merchant_id = $1
             ORDER BY d.created_at DESC, d.id DESC LIMIT $2 OFFSET $3"
        );
        self.fetch(
            sql,
            &[merchant.as_str().into(), limit.into(), offset.into()],
            dispute,
        )
        .await
    }

    /// A dispute's messages in order.
    pub async fn dispute_messages(
        &self,
        id: &DisputeId,
    ) -> Result<Vec<DisputeMessage>, StoreError> {
        self.fetch(
            "SELECT dispute_id, author, text, created_at FROM dispute_messages
             WHERE dispute_id = $1 ORDER BY seq",
            &[id.as_str().into()],
            |r| {
                let author = r.text("author")?;
                Ok(DisputeMessage {
                    dispute_id: DisputeId::from_trusted(r.text("dispute_id")?),
                    author: Author::parse(&author).ok_or_else(|| {
                        StoreError::Corrupt(format!("dispute_messages.author = {author:?}"))
                    })?,
                    text: r.text("text")?,
                    created_at: r.i64("created_at")?,
                })
            },
        )
        .await
    }

    /// Card payments with exactly this mask and amount made in `[from, to]` (at most 20).
    pub async fn find_charges(
        &self,
        card_mask: &str,
        amount: i64,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<FoundCharge>, StoreError> {
        let sql = sql_once!(
            "SELECT {FOUND_COLUMNS} FROM payments p JOIN shops s ON s.id = p.shop_id
             WHERE p.from_card = $1 AND p.created_at >= $2 AND p.created_at <= $3
               AND p.amount = $4
             ORDER BY p.created_at LIMIT 20"
        );
        self.fetch(
            sql,
            &[card_mask.into(), from.into(), to.into(), amount.into()],
            found,
        )
        .await
    }

    /// SBP payments whose payer's phone has this keyed fingerprint, with exactly this amount,
    /// made in `[from, to]` (at most 20).
    pub async fn find_sbp_charges(
        &self,
        phone_fingerprint: &str,
        amount: i64,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<FoundCharge>, StoreError> {
        let sql = sql_once!(
            "SELECT {FOUND_COLUMNS} FROM payments p JOIN shops s ON s.id = p.shop_id
             WHERE p.card_fingerprint = $1 AND p.method = 'SBP' AND p.created_at >= $2
               AND p.created_at <= $3 AND p.amount = $4
             ORDER BY p.created_at LIMIT 20"
        );
        self.fetch(
            sql,
            &[
                phone_fingerprint.into(),
                from.into(),
                to.into(),
                amount.into(),
            ],
            found,
        )
        .await
    }
}
