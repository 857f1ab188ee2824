//! The console's SQL reads: the overview's figures across every merchant. Payments and payouts
//! are reached through each merchant's `(merchant_id, created_at, id)` index, a range per
//! merchant (`CROSS JOIN` keeps SQLite's join order: merchants outside, without it SQLite scans
//! the whole table), so a window costs what lies in it rather than the whole history; the
//! backlog reads only the partial index of pending outbox rows.

use crate::sql::Columns;
use crate::{Store, StoreError};
use paylink_core::money::Currency;
use paylink_core::time::Millis;

/// Payments made in one time bucket in one currency (see [`Store::payments_by_bucket`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentBucket {
    /// The bucket's start divided by its width (hours or days since the epoch).
    pub bucket: i64,
    pub currency: Currency,
    /// Minor units of the payments that brought money.
    pub turnover: i64,
    pub made: i64,
    /// Payments that brought money (SUCCESS, UNDERPAID, OVERPAID).
    pub paid: i64,
    /// Payments that came to an end (every status but NEW and PROCESS).
    pub finished: i64,
}

/// Payouts created in a window with one status in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutTotal {
    pub status: String,
    pub currency: Currency,
    pub count: i64,
    /// Minor units.
    pub amount: i64,
}

/// Outbox messages not delivered yet (waiting for their first or next attempt).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Postbacks to merchants' servers (payments, payouts, refunds).
    pub postbacks: i64,
    /// When the oldest of them was written.
    pub oldest_postback_at: Option<Millis>,
    /// Emails and SMS.
    pub messages: i64,
}

impl Store {
    /// Every merchant's payments created since `since`, per bucket of `width` milliseconds
    /// (`created_at / width`) and currency, oldest first.
    pub async fn payments_by_bucket(
        &self,
        since: Millis,
        width: Millis,
    ) -> Result<Vec<PaymentBucket>, StoreError> {
        // PostgreSQL sums BIGINT as NUMERIC: cast back, as the ledger's sums do. Positional
        // GROUP BY: the bucket's expression holds a parameter.
        self.fetch(
            "SELECT p.created_at / $2 AS bucket, p.currency AS currency,
                    CAST(SUM(CASE WHEN p.status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')
                             THEN p.amount ELSE 0 END) AS BIGINT) AS turnover,
                    COUNT(*) AS made,
                    CAST(SUM(CASE WHEN p.status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID')
                             THEN 1 ELSE 0 END) AS BIGINT) AS paid,
                    CAST(SUM(CASE WHEN p.status IN ('NEW', 'PROCESS')
                             THEN 0 ELSE 1 END) AS BIGINT) AS finished
             FROM merchants m CROSS JOIN payments p
             WHERE p.merchant_id = m.id AND p.created_at >= $1
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[since.into(), width.into()],
            |r: &dyn Columns| {
                Ok(PaymentBucket {
                    bucket: r.i64("bucket")?,
                    currency: crate::rows::currency(r, "currency")?,
                    turnover: r.i64("turnover")?,
                    made: r.i64("made")?,
                    paid: r.i64("paid")?,
                    finished: r.i64("finished")?,
                })
            },
        )
        .await
    }

    /// Every merchant's payouts created since `since`, per status and currency.
    pub async fn payout_totals(&self, since: Millis) -> Result<Vec<PayoutTotal>, StoreError> {
        self.fetch(
            "SELECT p.status AS status, p.currency AS currency, COUNT(*) AS n,
                    CAST(SUM(p.amount) AS BIGINT) AS amount
             FROM merchants m CROSS JOIN payouts p
             WHERE p.merchant_id = m.id AND p.created_at >= $1
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[since.into()],
            |r: &dyn Columns| {
                Ok(PayoutTotal {
                    status: r.text("status")?,
                    currency: crate::rows::currency(r, "currency")?,
                    count: r.i64("n")?,
                    amount: r.i64("amount")?,
                })
            },
        )
        .await
    }

    /// The outbox's messages not delivered yet. One row without grouping, so that the
    /// planner reads the partial index of pending rows (grouping by kind would walk the kind
    /// index over every row ever written).
    pub async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        Ok(self
            .fetch_one(
                "SELECT CAST(COALESCE(SUM(CASE WHEN kind IN ('payment', 'payout', 'refund')
                             THEN 1 ELSE 0 END), 0) AS BIGINT) AS postbacks,
                        MIN(CASE WHEN kind IN ('payment', 'payout', 'refund')
                            THEN created_at END) AS oldest,
                        COUNT(*) AS n
                 FROM outbox WHERE state = 'pending'",
                &[],
                |r: &dyn Columns| {
                    let postbacks = r.i64("postbacks")?;
                    Ok(OutboxBacklog {
                        postbacks,
                        oldest_postback_at: r.opt_i64("oldest")?,
                        messages: r.i64("n")? - postbacks,
                    })
                },
            )
            .await?
            .unwrap_or_default())
    }
}
