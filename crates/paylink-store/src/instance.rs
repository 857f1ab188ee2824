//! What an instance keeps about itself: the facts recorded at its first start
//! (`instance_settings`), the keys older versions kept in the database (`instance_secrets`, read
//! once to move them out to the key file), and the sealed values, found by the key that sealed
//! them (for rotation and for the check that every value still has its key).

use crate::sql::{Exec, Value};
use crate::writes::sealed_table;
use crate::{Reads, Store, StoreError};
use paylink_core::plan::SealedColumn;

/// One sealed value and what it is bound to.
#[derive(Debug, Clone)]
pub struct SealedValue {
    pub column: SealedColumn,
    /// The row's key.
    pub id: String,
    /// The token's merchant for a token; else `id` (see `Write::Reseal`).
    pub lock: String,
    /// What the seal is bound to: the token id, the shop id, or the payee's fingerprint.
    pub bound_to: String,
    pub sealed: String,
}

impl Store {
    /// Setup writes (idempotent, not domain state) go around the writer.
    async fn exec_setup(&self, sql: &str, args: &[Value]) -> Result<u64, StoreError> {
        match &self.reads {
            Reads::Sqlite(pool) => pool.take()?.exec(sql, args).await,
            Reads::Postgres(pool) => pool.acquire().await?.exec(sql, args).await,
        }
    }

    /// The value recorded under `name`, if any.
    pub async fn instance_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.fetch_one(
            "SELECT value FROM instance_settings WHERE name = $1",
            &[Value::from(name)],
            |r| r.text("value"),
        )
        .await
    }

    /// Records `value` under `name` unless something is recorded already; returns what is
    /// recorded (the first writer wins when two processes start at once).
    pub async fn record_instance_setting(
        &self,
        name: &str,
        value: &str,
    ) -> Result<String, StoreError> {
        self.exec_setup(
            "INSERT INTO instance_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[Value::from(name), Value::from(value)],
        )
        .await?;
        self.instance_setting(name)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("instance setting {name} missing")))
    }

    /// The keys a database made before key files kept in `instance_secrets`, by name.
    pub async fn legacy_secrets(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.fetch(
            "SELECT name, value FROM instance_secrets ORDER BY name",
            &[],
            |r| Ok((r.text("name")?, r.text("value")?)),
        )
        .await
    }

    /// Deletes the legacy keys `names` (once they are safe in the key file).
    pub async fn forget_legacy_secrets(&self, names: &[String]) -> Result<(), StoreError> {
        for name in names {
            self.exec_setup(
                "DELETE FROM instance_secrets WHERE name = $1",
                &[Value::from(name.as_str())],
            )
            .await?;
        }
        Ok(())
    }

    /// Up to `limit` sealed values of `column` that do not match the SQL `LIKE` pattern
    /// `unlike`, after the row key `after` (keyset order; `""` starts).
    pub async fn sealed_values(
        &self,
        column: SealedColumn,
        unlike: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<SealedValue>, StoreError> {
        let (table, col) = sealed_table(column);
        // Token ids (and so their merchant lock) are numbers: read back as text.
        let (key, lock, bound) = match column {
            SealedColumn::ApiToken => ("CAST(id AS TEXT)", "merchant_id", "CAST(id AS TEXT)"),
            SealedColumn::WebhookKey
            | SealedColumn::ProcardKey
            | SealedColumn::LinkRecipient
            | SealedColumn::PartnerKey
            | SealedColumn::CardData
            | SealedColumn::TotpSecret => ("id", "id", "id"),
            SealedColumn::PayoutAccount | SealedColumn::Payout => ("id", "id", "fingerprint"),
        };
        let after = match column {
            SealedColumn::ApiToken if after.is_empty() => Value::Int(i64::MIN),
            SealedColumn::ApiToken => Value::Int(after.parse().unwrap_or(i64::MAX)),
            _ => Value::from(after),
        };
        let sql = format!(
            "SELECT {key} AS k, {lock} AS l, {bound} AS b, {col} AS s FROM {table} \
             WHERE {col} IS NOT NULL AND {col} NOT LIKE $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = self
            .fetch(
                &sql,
                &[Value::from(unlike), after, Value::Int(limit)],
                |r| Ok((r.text("k")?, r.text("l")?, r.text("b")?, r.text("s")?)),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, lock, bound_to, sealed)| SealedValue {
                column,
                id,
                lock,
                bound_to,
                sealed,
            })
            .collect())
    }

    /// How many sealed values of `column` match (or, with `negate`, do not match) the SQL
    /// `LIKE` pattern `like`.
    pub async fn count_sealed(
        &self,
        column: SealedColumn,
        like: &str,
        negate: bool,
    ) -> Result<i64, StoreError> {
        let (table, col) = sealed_table(column);
        let not = if negate { "NOT " } else { "" };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE {col} IS NOT NULL AND {col} {not}LIKE $1"
        );
        Ok(self
            .fetch_one(&sql, &[Value::from(like)], |r| r.i64("n"))
            .await?
            .unwrap_or(0))
    }
}
