//! paylink's storage: the only crate with SQL. One SQL text and one migrations folder serve
//! SQLite (in-process, through rusqlite) and PostgreSQL (through sqlx). Writes go through the
//! group-commit [`writer`]; reads use a separate pool.

#[macro_use]
mod sql;
mod ledger;
mod migrate;
mod money;
mod outbox;
mod postgres;
mod reads;
mod rows;
mod sqlite;
mod writer;
mod writes;

#[cfg(feature = "test-support")]
pub mod testing;

use paylink_core::plan::Plan;
use sql::{Decode, Exec, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

pub use ledger::LedgerReport;
pub use money::{MoneyFilter, PayoutState, SbpBank};
pub use outbox::{Claimed, NoticeRecord};
pub use reads::{
    BillFilter, Checkout, Direction, Keyset, Page, PageRequest, PaymentFilter, RememberedRequest,
    SealedToken, TokenOwner,
};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Read connections kept open.
    pub read_connections: u32,
    /// Writers (each with its own connection) on PostgreSQL. SQLite always has one.
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
enum Reads {
    Sqlite(Arc<sqlite::ReadPool>),
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Store {
    reads: Reads,
    writer: writer::Writer,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Connects, creates a missing SQLite file, applies migrations and starts the writer.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let max_batch = options.max_batch.max(1);
        if url.starts_with("sqlite:") {
            let path = sqlite::path_of(url)?;
            let mut conn = sqlite::SqliteConn::open(&path, true)?;
            migrate::run(&mut conn, now_ms()).await?;
            let writer_path = path.clone();
            let mut conn = Some(conn);
            let writer = writer::Writer::start(1, max_batch, |queue, done| {
                let conn = conn.take().ok_or(StoreError::WriterGone)?;
                let path = writer_path.clone();
                // SQLite's single writer gets a thread of its own: its batches block on fsync.
                std::thread::Builder::new()
                    .name("paylink-sqlite-writer".into())
                    .spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        if let Ok(rt) = rt {
                            rt.block_on(writer::run(
                                conn,
                                || async { sqlite::SqliteConn::open(&path, true) },
                                queue,
                                max_batch,
                            ));
                        }
                        let _ = done.send(());
                    })
                    .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
                Ok(())
            })?;
            let reads = Reads::Sqlite(sqlite::ReadPool::new(
                path,
                options.read_connections.max(1) as usize,
            ));
            Ok(Store { reads, writer })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?;
            let mut conn = postgres::connect_writer(&connect).await?;
            migrate::run(&mut conn, now_ms()).await?;
            let writers = options.writers.max(1);
            let mut first = Some(conn);
            let mut conns = Vec::with_capacity(writers);
            for _ in 0..writers {
                conns.push(match first.take() {
                    Some(c) => c,
                    None => postgres::connect_writer(&connect).await?,
                });
            }
            let writer = writer::Writer::start(writers, max_batch, |queue, done| {
                let conn = conns.pop().ok_or(StoreError::WriterGone)?;
                let connect = connect.clone();
                tokio::spawn(async move {
                    writer::run(
                        conn,
                        || postgres::connect_writer(&connect),
                        queue,
                        max_batch,
                    )
                    .await;
                    let _ = done.send(());
                });
                Ok(())
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(options.read_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            Ok(Store {
                reads: Reads::Postgres(pool),
                writer,
            })
        } else {
            // The URL is not echoed: it may carry a password.
            let scheme = url.split(':').next().unwrap_or("");
            Err(StoreError::Database(format!(
                "unsupported database URL scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB"
            )))
        }
    }

    pub fn backend(&self) -> Backend {
        match self.reads {
            Reads::Sqlite(_) => Backend::Sqlite,
            Reads::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies `plan` atomically through the group-commit writer; returns once it is durable.
    pub async fn apply(&self, plan: Plan) -> Result<(), StoreError> {
        // The last line of the double entry: an entry that does not balance never reaches SQL.
        if plan
            .writes
            .iter()
            .any(|w| matches!(w, paylink_core::plan::Write::Post(e) if !e.is_balanced()))
        {
            return Err(StoreError::GuardFailed("unbalanced_entry"));
        }
        self.writer
            .apply(writes::locks(&plan), writes::statements(&plan))
            .await
    }

    pub(crate) async fn fetch<T: Send>(
        &self,
        sql: &str,
        args: &[Value],
        decode: Decode<T>,
    ) -> Result<Vec<T>, StoreError> {
        match &self.reads {
            Reads::Sqlite(pool) => pool.take()?.query(sql, args, decode).await,
            Reads::Postgres(pool) => pool.acquire().await?.query(sql, args, decode).await,
        }
    }

    /// The first row decoded, if any.
    pub(crate) async fn fetch_one<T: Send>(
        &self,
        sql: &str,
        args: &[Value],
        decode: Decode<T>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.fetch(sql, args, decode).await?.into_iter().next())
    }

    /// A per-instance random secret (created on first use), e.g. the card fingerprint key.
    /// Written outside the writer: it is idempotent setup, not domain state.
    pub async fn instance_secret(&self, name: &str) -> Result<String, StoreError> {
        let fresh = paylink_core::id::random_base62(&mut rand::thread_rng(), 48);
        let insert = "INSERT INTO instance_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
        let args = [Value::from(name), Value::from(fresh)];
        match &self.reads {
            Reads::Sqlite(pool) => pool.take()?.exec(insert, &args).await?,
            Reads::Postgres(pool) => pool.acquire().await?.exec(insert, &args).await?,
        };
        self.fetch_one(
            "SELECT value FROM instance_secrets WHERE name = $1",
            &[Value::from(name)],
            |r| r.text("value"),
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("instance secret {name} missing")))
    }

    /// Lets queued writes commit, stops the writers and closes the connections.
    pub async fn close(&self) {
        self.writer.close().await;
        if let Reads::Postgres(pool) = &self.reads {
            pool.close().await;
        }
    }
}
