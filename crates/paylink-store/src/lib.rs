//! paylink's storage: the only crate with SQL. One SQL text and one migrations folder serve
//! SQLite (in-process, through rusqlite) and PostgreSQL (through sqlx). Writes go through the
//! group-commit [`writer`]; reads use a separate pool.

#[macro_use]
mod sql;
mod accounts;
pub mod backup;
mod console;
mod disputes;
mod events;
mod instance;
mod issuing;
mod ledger;
mod links;
mod migrate;
mod money;
mod outbox;
mod postgres;
mod primary;
mod reads;
mod rows;
mod sqlite;
mod writer;
mod writes;

#[cfg(feature = "test-support")]
pub mod testing;

use paylink_core::guard::Guard;
use paylink_core::plan::Plan;
use sql::{Decode, Exec, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

pub use accounts::MailRecord;
pub use console::{AuditFilter, FxRateAt, QueuedPayout};
pub use disputes::FoundCharge;
pub use instance::SealedValue;
pub use issuing::{CardSecretLink, SmsRecord};
pub use ledger::LedgerReport;
pub use links::{LinkWithBill, ProcardAccess};
pub use money::{MoneyFilter, PayoutState, SbpBank};
pub use outbox::{
    Claimed, FinishedNotice, Handover, HistoryDay, HistoryTotal, NoticeContent, NoticeRecord,
    StoredNotice,
};
pub use reads::{
    BillFilter, Checkout, DailyPayments, Direction, Keyset, Page, PageRequest, PaymentFilter,
    RememberedRequest,
};
pub use rows::{SealedToken, TokenOwner};

#[derive(Debug, Error)]
pub enum StoreError {
    /// A guarded write found the state changed under it (a finished bill, a spent balance).
    #[error("guard failed: {0}")]
    GuardFailed(Guard),
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
    /// The database cannot be reached, or the node reached no longer accepts writes (a
    /// failover in progress): the same request may succeed when retried.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The connection was lost after a batch's COMMIT was sent (or the batch got no answer):
    /// the write may have been made. A retry must be one the database can recognise (an
    /// idempotency key, an order id) or it may be made twice.
    #[error("database lost during a commit: {0}")]
    CommitUnknown(String),
}

impl StoreError {
    /// The database was out of reach (a failover, a restart), not the request at fault: each
    /// surface asks its client to retry (HTTP 503) rather than reporting a failure of its own.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::CommitUnknown(_)
        )
    }
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
    /// Told of every batch the writers commit (metrics).
    pub observer: Option<Observer>,
    /// How long a batch may wait for the database's answer before it is given up (with its
    /// outcome unknown) and the writer reconnects: a host that vanished without closing its
    /// connections answers nothing.
    pub batch_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            read_connections: 8,
            writers: 4,
            max_batch: 512,
            observer: None,
            batch_timeout: Duration::from_secs(60),
        }
    }
}

impl StoreOptions {
    /// A few connections: what a command needs, not a server.
    pub fn for_command() -> StoreOptions {
        StoreOptions {
            read_connections: 2,
            writers: 1,
            max_batch: 16,
            observer: None,
            batch_timeout: Duration::from_secs(60),
        }
    }
}

/// What a writer reports after each batch.
pub trait StoreObserver: Send + Sync {
    /// `plans` were in the batch, `failed` of them were refused (a guard, a conflict) or lost
    /// with a failed commit; the transaction took `took` from its first statement to commit.
    fn committed(&self, plans: usize, failed: usize, took: Duration);

    /// `plan` is durable: told once per plan, by the writer right after its batch committed
    /// (also when the caller no longer waits for the answer). Keep it quick: the writer waits.
    fn applied(&self, _plan: &Plan) {}

    /// A plan was refused by `guard` (a race lost, a double spend stopped).
    fn refused(&self, _guard: Guard) {}

    /// Opening the store: `done` of the `total` migrations this binary knows are applied.
    fn migrated(&self, _done: usize, _total: usize) {}
}

#[derive(Clone)]
pub struct Observer(pub Arc<dyn StoreObserver>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// The store's state for monitoring, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    /// Plans queued for the writers, not yet taken into a batch.
    pub writer_queue: usize,
    /// Messages due for delivery now (pending, next attempt not in the future).
    pub outbox_due: i64,
    /// Messages a dispatcher holds a live lease on: being delivered.
    pub outbox_in_flight: i64,
    /// When the longest-waiting due message came due.
    pub outbox_oldest_due_at: Option<i64>,
    /// Received money waiting in hold, and the part of it whose settlement time has passed.
    pub settlements_waiting: i64,
    pub settlements_due: i64,
    /// Read connections open, and of them idle.
    pub reads_open: u32,
    pub reads_idle: u32,
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
    observer: Option<Observer>,
    /// This process's dispatcher, when it takes new notices straight from the writes.
    handoff: outbox::Handoffs,
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
        let batch_timeout = options.batch_timeout;
        if url.starts_with("sqlite:") {
            let path = sqlite::path_of(url)?;
            let mut conn = sqlite::SqliteConn::open(&path, true)?;
            // Processes started together take turns with the migrations, each of which holds
            // the write lock: a loaded machine makes a turn longer than a request should wait.
            conn.set_busy_timeout(std::time::Duration::from_secs(120))?;
            migrate::run(&mut conn, now_ms(), options.observer.as_ref()).await?;
            conn.set_busy_timeout(sqlite::BUSY_TIMEOUT)?;
            let writer_path = path.clone();
            let observer = options.observer.clone();
            let mut conn = Some(conn);
            let writer = writer::Writer::start(1, max_batch, |queue, done| {
                let conn = conn.take().ok_or(StoreError::WriterGone)?;
                let path = writer_path.clone();
                let observer = observer.clone();
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
                                batch_timeout,
                                observer,
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
            Ok(Store {
                reads,
                writer,
                observer: options.observer,
                handoff: Default::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let primary = Arc::new(primary::Primary::parse(url)?);
            let mut conn = postgres::connect_writer(&primary).await?;
            migrate::run(&mut conn, now_ms(), options.observer.as_ref()).await?;
            let writers = options.writers.max(1);
            let mut first = Some(conn);
            let mut conns = Vec::with_capacity(writers);
            for _ in 0..writers {
                conns.push(match first.take() {
                    Some(c) => c,
                    None => postgres::connect_writer(&primary).await?,
                });
            }
            let writer = writer::Writer::start(writers, max_batch, |queue, done| {
                let conn = conns.pop().ok_or(StoreError::WriterGone)?;
                let primary = primary.clone();
                let observer = options.observer.clone();
                tokio::spawn(async move {
                    writer::run(
                        conn,
                        || postgres::connect_writer(&primary),
                        queue,
                        max_batch,
                        batch_timeout,
                        observer,
                    )
                    .await;
                    let _ = done.send(());
                });
                Ok(())
            })?;
            let pool = PgPoolOptions::new()
                .max_connections(options.read_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                // A standby's data may lag behind what a client was just told.
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        match primary::accepts_writes(conn).await {
                            Ok(true) => Ok(()),
                            Ok(false) => Err(sqlx::Error::Protocol(
                                "the host is a standby (read-only)".into(),
                            )),
                            Err(e) => Err(sqlx::Error::Protocol(e.to_string())),
                        }
                    })
                })
                .connect_with(primary.options())
                .await?;
            primary.follow(pool.clone());
            if primary.is_replicated() {
                tokio::spawn(primary::Primary::watch(Arc::downgrade(&primary)));
            }
            Ok(Store {
                reads: Reads::Postgres(pool),
                writer,
                observer: options.observer,
                handoff: Default::default(),
            })
        } else {
            // The URL is not echoed: it may carry a password.
            let scheme = url.split(':').next().unwrap_or("");
            Err(StoreError::Database(format!(
                "unsupported database URL scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB"
            )))
        }
    }

    /// The database file of a `sqlite:` URL (`None` for PostgreSQL).
    pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
        url.starts_with("sqlite:")
            .then(|| sqlite::path_of(url).ok())
            .flatten()
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
            return Err(StoreError::GuardFailed(Guard::UnbalancedEntry));
        }
        let handoff = self.handoff.current();
        let lease = handoff.as_deref().map(outbox::Handoff::lease);
        let statements = writes::statements(&plan, lease);
        let locks = writes::locks(&plan);
        let handed = handoff.and_then(|h| h.after(&plan));
        // Run by the writer once the plan is durable, whether or not its caller still waits (a
        // client that hung up drops the request, not what it committed).
        let then: Option<writer::Committed> = match &self.observer {
            None => handed,
            Some(o) => {
                let o = o.clone();
                Some(Box::new(move || {
                    if let Some(hand_over) = handed {
                        hand_over();
                    }
                    o.0.applied(&plan);
                }))
            }
        };
        let applied = self.writer.apply(locks, statements, then).await;
        if let (Some(o), Err(StoreError::GuardFailed(guard))) = (&self.observer, &applied) {
            o.0.refused(*guard);
        }
        applied
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
    /// Whether this store can serve: the database answers a read, every migration this binary
    /// knows is applied, and a writer takes and commits a batch (an empty one, which writes
    /// nothing to disk).
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        let applied = self
            .fetch("SELECT version FROM schema_migrations", &[], |r| {
                r.i64("version")
            })
            .await?;
        if let Some(version) = migrate::first_missing(&applied) {
            return Err(StoreError::Migrate(format!(
                "migration {version} is not applied"
            )));
        }
        self.apply(Plan::default()).await
    }

    /// Monitoring figures; every count comes from a partial index of what is waiting, so the
    /// cost does not grow with history.
    pub async fn telemetry(&self, now: i64) -> Result<Telemetry, StoreError> {
        let at = [Value::Int(now)];
        let (due, oldest) = self
            .fetch_one(
                "SELECT COUNT(*) AS n, MIN(next_at) AS oldest FROM outbox \
                 WHERE state = 'pending' AND next_at <= $1",
                &at,
                |r| Ok((r.i64("n")?, r.opt_i64("oldest")?)),
            )
            .await?
            .unwrap_or_default();
        let in_flight = self.count(
            "SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND leased_until > $1",
            &at,
        );
        let waiting = self.count(
            "SELECT COUNT(*) AS n FROM settlements WHERE settled_at IS NULL",
            &[],
        );
        let settle_due = self.count(
            "SELECT COUNT(*) AS n FROM settlements WHERE settled_at IS NULL AND due_at <= $1",
            &at,
        );
        let (reads_open, reads_idle) = match &self.reads {
            Reads::Sqlite(pool) => {
                let idle = pool.idle_count() as u32;
                (idle, idle)
            }
            Reads::Postgres(pool) => (pool.size(), pool.num_idle() as u32),
        };
        Ok(Telemetry {
            writer_queue: self.writer.queued(),
            outbox_due: due,
            outbox_in_flight: in_flight.await?,
            outbox_oldest_due_at: oldest,
            settlements_waiting: waiting.await?,
            settlements_due: settle_due.await?,
            reads_open,
            reads_idle,
        })
    }

    /// The database server's clock, in unix milliseconds (`paylink doctor` compares it with
    /// this machine's: leases and schedules assume they agree).
    pub async fn database_clock(&self) -> Result<i64, StoreError> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT) AS n"
            }
            Backend::Postgres => {
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) AS n"
            }
        };
        self.count(sql, &[]).await
    }

    async fn count(&self, sql: &str, args: &[Value]) -> Result<i64, StoreError> {
        Ok(self
            .fetch_one(sql, args, |r| r.i64("n"))
            .await?
            .unwrap_or_default())
    }

    /// Lets queued writes commit, stops the writers and closes the connections.
    pub async fn close(&self) {
        self.writer.close().await;
        if let Reads::Postgres(pool) = &self.reads {
            pool.close().await;
        }
    }
}
