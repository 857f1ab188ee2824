//! The console's SQL reads: disputes with the charge each is about.

use crate::disputes::{dispute, DISPUTE_COLUMNS};
use crate::rows;
use crate::sql::{Columns, Value};
use crate::{FoundCharge, Store, StoreError};
use paylink_core::dispute::{Dispute, DisputeStatus};
use paylink_core::id::{MerchantId, PaymentId};
use paylink_core::time::Millis;

/// The charge columns of a dispute's payment, `NULL` when it names none.
const CHARGE_COLUMNS: &str = "p.id AS p_id, p.merchant_id AS p_merchant_id, \
     s.name AS p_shop_name, p.created_at AS p_created_at, p.amount AS p_amount, \
     p.currency AS p_currency, p.status AS p_status, p.from_card AS p_from_card";

fn queued(r: &dyn Columns) -> Result<(Dispute, Option<FoundCharge>), StoreError> {
    Ok((dispute(r)?, charge(r)?))
}

fn charge(r: &dyn Columns) -> Result<Option<FoundCharge>, StoreError> {
    let Some(id) = r.opt_text("p_id")? else {
        return Ok(None);
    };
    Ok(Some(FoundCharge {
        payment_id: PaymentId::from_trusted(id),
        merchant_id: MerchantId::from_trusted(r.text("p_merchant_id")?),
        shop_name: r.text("p_shop_name")?,
        created_at: r.i64("p_created_at")?,
        amount: r.i64("p_amount")?,
        currency: rows::currency(r, "p_currency")?,
        status: r.text("p_status")?,
        card_mask: r.text("p_from_card")?,
    }))
}

impl Store {
    /// The operators' queue: with `status`, that status's disputes; without, every open and
    /// answered one. Oldest first (the nearest deadline on top), after `(created_at, id)` if
    /// given, each dispute with its charge (shop, amount, day) in the same query.
    pub async fn console_disputes(
        &self,
        status: Option<DisputeStatus>,
        after: Option<(Millis, &str)>,
        limit: i64,
    ) -> Result<Vec<(Dispute, Option<FoundCharge>)>, StoreError> {
        let (at, id) = after.unwrap_or((i64::MIN, ""));
        let args: [Value; 3] = [at.into(), id.into(), limit.into()];
        match status {
            Some(s) => {
                let sql = sql_once!(
                    "SELECT {DISPUTE_COLUMNS}, {CHARGE_COLUMNS} FROM disputes d
                     LEFT JOIN payments p ON p.id = d.payment_id
                     LEFT JOIN shops s ON s.id = p.shop_id
                     WHERE d.status = $4
                       AND (d.created_at > $1 OR (d.created_at = $1 AND d.id > $2))
                     ORDER BY d.created_at, d.id LIMIT $3"
                );
                let args = [args.as_slice(), &[s.as_str().into()]].concat();
                self.fetch(sql, &args, queued).await
            }
            None => {
                let sql = sql_once!(
                    "SELECT {DISPUTE_COLUMNS}, {CHARGE_COLUMNS} FROM disputes d
                     LEFT JOIN payments p ON p.id = d.payment_id
                     LEFT JOIN shops s ON s.id = p.shop_id
                     WHERE d.status IN ('open', 'answered')
                       AND (d.created_at > $1 OR (d.created_at = $1 AND d.id > $2))
                     ORDER BY d.created_at, d.id LIMIT $3"
                );
                self.fetch(sql, &args, queued).await
            }
        }
    }

    /// Payment `id` as a dispute shows it (its shop's name with it), if it exists.
    pub async fn console_charge(&self, id: &PaymentId) -> Result<Option<FoundCharge>, StoreError> {
        let sql = sql_once!(
            "SELECT {CHARGE_COLUMNS} FROM payments p JOIN shops s ON s.id = p.shop_id
             WHERE p.id = $1"
        );
        Ok(self
            .fetch_one(sql, &[id.as_str().into()], charge)
            .await?
            .flatten())
    }
}
