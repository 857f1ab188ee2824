//! The console's SQL reads: the payout queue with each merchant's context, and the money
//! settings' FX rates with their history.

use crate::rows::{currency, flag};
use crate::sql::{Columns, Value};
use crate::{Store, StoreError};
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_core::time::Millis;

/// A payout as the moderation queue shows it: with what an operator weighs it against (the
/// merchant's verification, balance and today's usage in the payout currency).
#[derive(Debug, Clone)]
pub struct QueuedPayout {
    pub id: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub verified: bool,
    pub status: String,
    pub amount: i64,
    pub commission: i64,
    pub currency: Currency,
    pub account_type: String,
    /// What may be shown of the destination (a masked card, a phone); never the number.
    pub destination: String,
    pub bank_member_id: Option<i64>,
    pub error_message: Option<String>,
    pub created_at: Millis,
    /// The merchant's available balance in the payout currency.
    pub available: i64,
    /// Paid out today in the payout currency (the limit's usage).
    pub day_used: i64,
    /// The merchant's own daily limit, if it has one.
    pub daily_limit: Option<i64>,
}

/// One FX rate as set at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRateAt {
    pub base: Currency,
    pub quote: Currency,
    pub rate: FxRate,
    pub at: Millis,
}

/// The queue's columns and joins; `$2` is today's limit period.
const QUEUED_COLUMNS: &str = "o.id, o.merchant_id, m.name AS merchant_name, m.verified,
     o.status, o.amount, o.commission, o.currency, o.account_type, o.account_identifier,
     o.bank_member_id, o.error_message, o.created_at,
     COALESCE(b.available, 0) AS available,
     COALESCE((SELECT u.used FROM payout_usage u WHERE u.merchant_id = o.merchant_id
         AND u.currency = o.currency AND u.period = $2), 0) AS day_used,
     m.daily_payout_limit
     FROM payouts o
     JOIN merchants m ON m.id = o.merchant_id
     LEFT JOIN balances b ON b.owner_kind = 'merchant' AND b.owner_id = o.merchant_id
         AND b.currency = o.currency";

fn queued(r: &dyn Columns) -> Result<QueuedPayout, StoreError> {
    Ok(QueuedPayout {
        id: r.text("id")?,
        merchant_id: r.text("merchant_id")?,
        merchant_name: r.text("merchant_name")?,
        verified: flag(r, "verified")?,
        status: r.text("status")?,
        amount: r.i64("amount")?,
        commission: r.i64("commission")?,
        currency: currency(r, "currency")?,
        account_type: r.text("account_type")?,
        destination: r.text("account_identifier")?,
        bank_member_id: r.opt_i64("bank_member_id")?,
        error_message: r.opt_text("error_message")?,
        created_at: r.i64("created_at")?,
        available: r.i64("available")?,
        day_used: r.i64("day_used")?,
        daily_limit: r.opt_i64("daily_payout_limit")?,
    })
}

fn rate_at(r: &dyn Columns) -> Result<FxRateAt, StoreError> {
    let e8 = r.i64("rate_e8")?;
    Ok(FxRateAt {
        base: currency(r, "base")?,
        quote: currency(r, "quote")?,
        rate: FxRate::from_e8(e8)
            .ok_or_else(|| StoreError::Corrupt(format!("rate_e8 = {e8} is not a rate")))?,
        at: r.i64("at")?,
    })
}

impl Store {
    /// Up to `limit` payouts in `status`, oldest first, after `(created_at, id)` if given;
    /// `day` is today's limit period (`payout::periods`).
    pub async fn console_payouts(
        &self,
        status: &str,
        day: &str,
        after: Option<(Millis, &str)>,
        limit: i64,
    ) -> Result<Vec<QueuedPayout>, StoreError> {
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        let sql = sql_once!(
            "SELECT {QUEUED_COLUMNS} WHERE o.status = $1
                 AND (o.created_at > $3 OR (o.created_at = $3 AND o.id > $4))
             ORDER BY o.created_at, o.id LIMIT $5"
        );
        self.fetch(
            sql,
            &[
                Value::from(status),
                Value::from(day),
                Value::from(at),
                Value::from(id),
                Value::from(limit),
            ],
            queued,
        )
        .await
    }

    /// One payout with its merchant's context on `day`, whatever its status.
    pub async fn console_payout(
        &self,
        id: &str,
        day: &str,
    ) -> Result<Option<QueuedPayout>, StoreError> {
        let sql = sql_once!("SELECT {QUEUED_COLUMNS} WHERE o.id = $1");
        self.fetch_one(sql, &[Value::from(id), Value::from(day)], queued)
            .await
    }

    /// Every current FX rate with when it was set, by pair.
    pub async fn fx_rates_at(&self) -> Result<Vec<FxRateAt>, StoreError> {
        self.fetch(
            "SELECT base, quote, rate_e8, updated_at AS at FROM fx_rates ORDER BY base, quote",
            &[],
            rate_at,
        )
        .await
    }

    /// The newest `limit` rates ever set for `base` in `quote`, newest first.
    pub async fn fx_rate_history(
        &self,
        base: Currency,
        quote: Currency,
        limit: i64,
    ) -> Result<Vec<FxRateAt>, StoreError> {
        self.fetch(
            "SELECT base, quote, rate_e8, set_at AS at FROM fx_rate_history
             WHERE base = $1 AND quote = $2 ORDER BY set_at DESC LIMIT $3",
            &[base.code().into(), quote.code().into(), limit.into()],
            rate_at,
        )
        .await
    }
}
