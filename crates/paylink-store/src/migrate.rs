//! Schema migrations: the portable SQL files in `migrations/`, applied in order and recorded in
//! `schema_migrations`. Safe when several processes start at once: the version row is claimed
//! in the same transaction as the migration, so a second claimant waits, then skips it.

use crate::sql::{Exec, Value};
use crate::{Backend, StoreError};

/// A migration: its version, the portable SQL, and what one backend needs beyond it (triggers,
/// what SQLite's `ALTER TABLE` cannot do).
struct Migration {
    version: i64,
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../migrations/0001_init.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 2,
        sql: include_str!("../migrations/0002_outbox.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 3,
        sql: include_str!("../migrations/0003_money.sql"),
        sqlite: include_str!("../migrations/0003_money.sqlite.sql"),
        postgres: include_str!("../migrations/0003_money.postgres.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../migrations/0004_sbp_banks.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 5,
        sql: include_str!("../migrations/0005_refund_outcomes.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 6,
        sql: include_str!("../migrations/0006_sbp_banks_more.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 7,
        sql: include_str!("../migrations/0007_idempotency.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 8,
        sql: include_str!("../migrations/0008_instance_settings.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 9,
        sql: include_str!("../migrations/0009_money_rules.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 10,
        sql: include_str!("../migrations/0010_outbox_events.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 11,
        sql: include_str!("../migrations/0011_ledger_owners.sql"),
        sqlite: include_str!("../migrations/0011_ledger_owners.sqlite.sql"),
        postgres: include_str!("../migrations/0011_ledger_owners.postgres.sql"),
    },
    Migration {
        version: 12,
        sql: include_str!("../migrations/0012_procard.sql"),
        sqlite: include_str!("../migrations/0012_procard.sqlite.sql"),
        postgres: include_str!("../migrations/0012_procard.postgres.sql"),
    },
    Migration {
        version: 13,
        sql: include_str!("../migrations/0013_card_api.sql"),
        sqlite: include_str!("../migrations/0013_card_api.sqlite.sql"),
        postgres: include_str!("../migrations/0013_card_api.postgres.sql"),
    },
    Migration {
        version: 14,
        sql: include_str!("../migrations/0014_web.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 15,
        sql: include_str!("../migrations/0015_bills_by_order.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 16,
        sql: include_str!("../migrations/0016_console.sql"),
        sqlite: include_str!("../migrations/0016_console.sqlite.sql"),
        postgres: include_str!("../migrations/0016_console.postgres.sql"),
    },
    Migration {
        version: 17,
        sql: include_str!("../migrations/0017_outbox_retention.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 18,
        sql: include_str!("../migrations/0018_search_indexes.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 19,
        sql: include_str!("../migrations/0019_money_search_indexes.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 20,
        sql: include_str!("../migrations/0020_dispute_refunds.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 21,
        sql: include_str!("../migrations/0021_bill_charges.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 22,
        sql: include_str!("../migrations/0022_links_by_account.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 23,
        sql: include_str!("../migrations/0023_waiting_operations.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 24,
        sql: include_str!("../migrations/0024_card_secrets_by_card.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 25,
        sql: include_str!("../migrations/0025_card_client_versions.sql"),
        sqlite: "",
        postgres: "",
    },
    Migration {
        version: 26,
        sql: include_str!("../migrations/0026_charge_intents.sql"),
        sqlite: "",
        postgres: "",
    },
];

/// The first migration this binary knows that is not among `applied`, if any.
pub(crate) fn first_missing(applied: &[i64]) -> Option<i64> {
    MIGRATIONS
        .iter()
        .map(|m| m.version)
        .find(|v| !applied.contains(v))
}

/// Applies what is missing; `observer` is told after each migration this binary knows how
/// many of them are done (applied now or before).
pub(crate) async fn run<C: Exec>(
    conn: &mut C,
    now: i64,
    observer: Option<&crate::Observer>,
) -> Result<(), StoreError> {
    run_to(conn, now, observer, i64::MAX).await
}

/// [`run`], stopping after migration `last`: the schema an older paylink left (upgrade tests).
pub(crate) async fn run_to<C: Exec>(
    conn: &mut C,
    now: i64,
    observer: Option<&crate::Observer>,
    last: i64,
) -> Result<(), StoreError> {
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
    // A database a newer paylink upgraded holds rows this binary does not expect: refused
    // before anything reads or writes them.
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let newest = conn
        .query(
            "SELECT version FROM schema_migrations WHERE version > $1 ORDER BY version DESC LIMIT 1",
            &[Value::Int(known)],
            |r| r.i64("version"),
        )
        .await?;
    if let Some(newer) = newest.first() {
        return Err(StoreError::Migrate(format!(
            "the database was upgraded by a newer paylink (migration {newer}; this binary knows \
             up to {known}): run that version, or restore a backup taken before the upgrade"
        )));
    }
    let total = MIGRATIONS.len();
    let told = |done: usize| {
        if let Some(o) = observer {
            o.0.migrated(done, total);
        }
    };
    for (i, m) in MIGRATIONS.iter().enumerate() {
        if m.version > last {
            return Ok(());
        }
        told(i);
        let version = &m.version;
        let own = match conn.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
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
        let mut applied = conn.batch(m.sql).await;
        if applied.is_ok() && !own.is_empty() {
            applied = conn.batch(own).await;
        }
        if let Err(e) = applied {
            let _ = conn.batch("ROLLBACK").await;
            return Err(StoreError::Migrate(format!("migration {version}: {e}")));
        }
        conn.batch("COMMIT").await?;
    }
    told(total);
    Ok(())
}
