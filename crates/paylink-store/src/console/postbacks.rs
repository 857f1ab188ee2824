//! The console's SQL reads: postbacks and webhooks across merchants.

use crate::sql::Value;
use crate::{NoticeRecord, Store, StoreError};
use paylink_core::event::NoticeState;
use paylink_core::time::Millis;

/// Appends `text` with each `?` as the number of `value` (one value may appear several times).
fn arg(sql: &mut String, args: &mut Vec<Value>, text: &str, value: Value) {
    args.push(value);
    sql.push_str(&text.replace('?', &format!("${}", args.len())));
}

impl Store {
    /// The newest `limit` postbacks and webhooks (never emails or SMS: their texts are the
    /// recipients') newest first, narrowed by each filter given: exactly this `merchant`'s,
    /// about this `bill` (its payments' and refunds' postbacks, a link's callbacks), about
    /// this `payment` (its own postback and its refunds'), in this `state`, and older than
    /// `before` (created_at, id: the next page).
    pub async fn console_postbacks(
        &self,
        merchant: Option<&str>,
        bill: Option<&str>,
        payment: Option<&str>,
        state: Option<NoticeState>,
        before: Option<(Millis, &str)>,
        limit: i64,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let mut sql = String::from(
            "SELECT o.id FROM outbox o WHERE o.kind IN ('payment', 'payout', 'refund')",
        );
        let mut args: Vec<Value> = Vec::new();
        if let Some(m) = merchant {
            arg(&mut sql, &mut args, " AND o.merchant_id = ?", m.into());
        }
        if let Some(b) = bill {
            arg(&mut sql, &mut args, " AND o.bill_id = ?", b.into());
        }
        if let Some(p) = payment {
            // A payment's notices are its bill's (the bill index finds them) whose subject is
            // the payment or one of its refunds.
            arg(
                &mut sql,
                &mut args,
                " AND o.bill_id IN (SELECT p.bill_id FROM payments p WHERE p.id = ?)
                  AND (o.subject_id = ? OR o.subject_id IN
                      (SELECT r.id FROM refunds r WHERE r.payment_id = ?))",
                p.into(),
            );
        }
        if let Some(s) = state {
            arg(&mut sql, &mut args, " AND o.state = ?", s.as_str().into());
        }
        if let Some((at, id)) = before {
            args.push(at.into());
            args.push(id.into());
            let (a, i) = (args.len() - 1, args.len());
            sql.push_str(&format!(
                " AND (o.created_at < ${a} OR (o.created_at = ${a} AND o.id < ${i}))"
            ));
        }
        arg(
            &mut sql,
            &mut args,
            " ORDER BY o.created_at DESC, o.id DESC LIMIT ?",
            limit.into(),
        );
        let ids = self.fetch(&sql, &args, |r| r.text("id")).await?;
        // A page is a few dozen rows: each read by its key, decoded as every notice is.
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(n) = self.notice(&id).await? {
                out.push(n);
            }
        }
        Ok(out)
    }
}
