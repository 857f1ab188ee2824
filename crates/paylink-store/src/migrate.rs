//! Schema migrations: the portable SQL files in `migrations/`, applied in order and recorded in
//! `schema_migrations`. Safe when several processes start at once: the version row is claimed
//! in the same transaction as the migration, so a second claimant waits, then skips it.

use crate::sql::{Exec, Value};
use crate::StoreError;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_outbox.sql")),
];

pub(crate) async fn run<C: Exec>(conn: &mut C, now: i64) -> Result<(), StoreError> {
    // On PostgreSQL two concurrent `CREATE TABLE IF NOT EXISTS` can both pass the check; the
    // loser fails ("duplicate key ... pg_type_typname_nsp_index" or "type ... already exists")
    // once the winner commits. The table exists then: the statement is idempotent, run it again.
    let mut attempts = 0;
    loop {
        match conn
            .batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .await
        {
            Ok(()) => break,
            Err(_) if attempts < 3 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
    for (version, sql) in MIGRATIONS {
        let done = conn
            .query(
                "SELECT version FROM schema_migrations WHERE version = $1",
                &[Value::Int(*version)],
                |r| r.i64("version"),
            )
            .await?;
        if !done.is_empty() {
            continue;
        }
        let begin = conn.begin_sql();
        conn.batch(begin).await?;
        match conn
            .exec(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[Value::Int(*version), Value::Int(now)],
            )
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                conn.batch("ROLLBACK").await?;
                continue;
            }
            Err(e) => {
                let _ = conn.batch("ROLLBACK").await;
                return Err(e);
            }
        }
        if let Err(e) = conn.batch(sql).await {
            let _ = conn.batch("ROLLBACK").await;
            return Err(StoreError::Migrate(format!("migration {version}: {e}")));
        }
        conn.batch("COMMIT").await?;
    }
    Ok(())
}
