//! paylink's storage: the only crate with SQL. One SQL text and one migrations folder serve
//! SQLite and PostgreSQL through sqlx's Any driver. Writes go through the group-commit
//! [`writer`]; reads use a separate pool.

mod reads;
mod rows;
mod writer;

#[cfg(feature = "test-support")]
pub mod testing;

use paylink_core::plan::Plan;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Connection, Executor};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

pub use reads::{BillFilter, Direction, Keyset, Page, PageRequest, PaymentFilter, TokenOwner};

#[derive(Debug, Error)]
pub enum StoreError {
    /// A guarded write found the state changed under it (a finished bill, a spent balance).
    #[error("guard failed: {0}")]
    GuardFailed(&'static str),
    /// A unique constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row that does not decode into the domain: the database was edited by hand.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(String),
    #[error("migration: {0}")]
    Migrate(String),
    #[error("the writer has stopped")]
    WriterGone,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Read pool size.
    pub read_connections: u32,
    /// Writer tasks (each with its own connection). SQLite always uses one.
    pub writers: usize,
    /// Most plans committed in one transaction.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            read_connections: 8,
            writers: 4,
            max_batch: 512,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    read: AnyPool,
    writer: writer::Writer,
    backend: Backend,
}

/// Adds `mode=rwc` to a SQLite URL that names no mode, so a first run creates the file.
fn normalize_url(url: &str) -> (Backend, String) {
    if url.starts_with("sqlite:") {
        let url = if url.contains("mode=") || url.contains(":memory:") {
            url.to_string()
        } else if url.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        (Backend::Sqlite, url)
    } else {
        (Backend::Postgres, url.to_string())
    }
}

pub fn migrator() -> Migrator {
    Migrator {
        migrations: Cow::Owned(vec![Migration::new(
            1,
            Cow::Borrowed("init"),
            MigrationType::Simple,
            Cow::Borrowed(include_str!("../migrations/0001_init.sql")),
            false,
        )]),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

impl Store {
    /// Connects, creates a missing SQLite file, applies migrations and starts the writer.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_url(url);
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(StoreError::Database(format!(
                "unsupported database URL {url:?}: use sqlite://PATH or postgres://..."
            )));
        }
        let connect = AnyConnectOptions::from_str(&url)?;

        // Migrate (and switch SQLite to WAL, which is a property of the file) on one connection
        // before anything else uses the database.
        {
            let mut conn = sqlx::AnyConnection::connect_with(&connect).await?;
            if backend == Backend::Sqlite {
                conn.execute("PRAGMA journal_mode = WAL").await?;
            }
            migrator()
                .run_direct(&mut conn)
                .await
                .map_err(|e| StoreError::Migrate(e.to_string()))?;
            conn.close().await?;
        }

        let read = AnyPoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect.clone())
            .await?;

        let writers = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => options.writers.max(1),
        };
        let writer =
            writer::Writer::start(connect, backend, writers, options.max_batch.max(1)).await?;
        let store = Store {
            read,
            writer,
            backend,
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies `plan` atomically through the group-commit writer; returns once it is durable.
    pub async fn apply(&self, plan: Plan) -> Result<(), StoreError> {
        self.writer.apply(plan).await
    }

    /// A per-instance random secret (created on first use), e.g. the card fingerprint key.
    /// Written directly rather than through the writer: it is idempotent setup, not domain state.
    pub async fn instance_secret(&self, name: &str) -> Result<String, StoreError> {
        let fresh = paylink_core::id::random_base62(&mut rand::thread_rng(), 48);
        sqlx::query(
            "INSERT INTO instance_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.read)
        .await?;
        let value: String =
            sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.read)
                .await?;
        Ok(value)
    }

    /// Waits for queued writes and closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.read.close().await;
    }
}
