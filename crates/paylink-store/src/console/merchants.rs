//! The console's SQL reads: merchants (the search box and the detail page's extras).

use super::like_prefix;
use crate::rows::{self, MERCHANT_COLUMNS};
use crate::{Store, StoreError};
use paylink_core::id::MerchantId;
use paylink_core::merchant::Merchant;
use paylink_core::time::Millis;

/// `LIKE` text matching `text` literally anywhere.
fn like_within(text: &str) -> String {
    format!("%{}", like_prefix(text))
}

impl Store {
    /// Up to `limit` merchants, newest first, matching `text` (every merchant when it is
    /// empty): its id exactly, the merchant's or an owner's email from its start, or its name
    /// anywhere, letter case aside. `after` (a row's `created_at` and id) starts after that row.
    /// Each with the email of its owner's web account (the first made), if it has one.
    pub async fn console_merchants(
        &self,
        text: &str,
        after: Option<(Millis, &str)>,
        limit: i64,
    ) -> Result<Vec<(Merchant, Option<String>)>, StoreError> {
        let lower = text.to_lowercase();
        // SQLite's LOWER folds ASCII only: the name as typed also matches, so a Cyrillic
        // name is found at least in its own letter case on either backend.
        let sql = sql_once!(
            "SELECT {MERCHANT_COLUMNS},
                 (SELECT a.email FROM web_accounts a WHERE a.kind = 'merchant'
                     AND a.merchant_id = m.id ORDER BY a.created_at, a.id LIMIT 1) AS owner_email
             FROM merchants m
             WHERE ($1 = '' OR m.id = $1
                 OR LOWER(m.email) LIKE $2 ESCAPE '\\'
                 OR EXISTS (SELECT 1 FROM web_accounts a WHERE a.kind = 'merchant'
                     AND a.merchant_id = m.id AND LOWER(a.email) LIKE $2 ESCAPE '\\')
                 OR LOWER(m.name) LIKE $3 ESCAPE '\\' OR m.name LIKE $4 ESCAPE '\\')
               AND (m.created_at < $5 OR (m.created_at = $5 AND m.id < $6))
             ORDER BY m.created_at DESC, m.id DESC LIMIT $7"
        );
        // No cursor: after a row later than any, so every row qualifies.
        let (at, id) = after.unwrap_or((Millis::MAX, "~"));
        self.fetch(
            sql,
            &[
                text.into(),
                like_prefix(&lower).into(),
                like_within(&lower).into(),
                like_within(text).into(),
                at.into(),
                id.into(),
                limit.into(),
            ],
            |r| Ok((rows::merchant(r)?, r.opt_text("owner_email")?)),
        )
        .await
    }

    /// The emails of the merchant's web accounts, oldest first.
    pub async fn merchant_account_emails(
        &self,
        merchant: &MerchantId,
    ) -> Result<Vec<String>, StoreError> {
        self.fetch(
            "SELECT email FROM web_accounts WHERE kind = 'merchant' AND merchant_id = $1
             ORDER BY created_at, id",
            &[merchant.as_str().into()],
            |r| r.text("email"),
        )
        .await
    }

    /// What the merchant paid out in the limit periods `day` and `month`, per currency:
    /// `(currency code, day, month)`, by currency.
    pub async fn payout_usage_all(
        &self,
        merchant: &MerchantId,
        day: &str,
        month: &str,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        // PostgreSQL sums BIGINT as NUMERIC: cast back, as the ledger's sums do.
        self.fetch(
            "SELECT currency,
                 CAST(SUM(CASE WHEN period = $2 THEN used ELSE 0 END) AS BIGINT) AS day_used,
                 CAST(SUM(CASE WHEN period = $3 THEN used ELSE 0 END) AS BIGINT) AS month_used
             FROM payout_usage WHERE merchant_id = $1 AND period IN ($2, $3)
             GROUP BY currency ORDER BY currency",
            &[merchant.as_str().into(), day.into(), month.into()],
            |r| {
                Ok((
                    r.text("currency")?,
                    r.i64("day_used")?,
                    r.i64("month_used")?,
                ))
            },
        )
        .await
    }
}
