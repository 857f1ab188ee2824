//! The group-commit writer. Each writer task owns one connection, takes every plan queued at
//! the moment, applies each inside a SAVEPOINT of one transaction, commits the batch with one
//! fsync and only then answers every caller. A failed plan rolls back to its savepoint and fails
//! alone. SQLite has exactly one writer; PostgreSQL may run several, kept apart by guarded SQL.

use crate::{Backend, StoreError};
use paylink_core::bill::Bill;
use paylink_core::merchant::Shop;
use paylink_core::payment::{BillTransition, Payment};
use paylink_core::plan::{Plan, Write};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Connection, Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};

struct Job {
    plan: Plan,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

/// Statements that must run on every writer connection before its first batch.
fn session_setup(backend: Backend) -> &'static [&'static str] {
    match backend {
        // WAL + FULL: every COMMIT is fsynced; the WAL makes it one sequential write.
        Backend::Sqlite => &["PRAGMA synchronous = FULL", "PRAGMA busy_timeout = 5000"],
        Backend::Postgres => &["SET synchronous_commit = on"],
    }
}

async fn connect(
    options: &AnyConnectOptions,
    backend: Backend,
) -> Result<AnyConnection, StoreError> {
    let mut conn = AnyConnection::connect_with(options).await?;
    for sql in session_setup(backend) {
        conn.execute(*sql).await?;
    }
    Ok(conn)
}

impl Writer {
    pub(crate) async fn start(
        options: AnyConnectOptions,
        backend: Backend,
        writers: usize,
        max_batch: usize,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>(max_batch * 8);
        let rx = Arc::new(Mutex::new(rx));
        let mut tasks = Vec::with_capacity(writers);
        for _ in 0..writers {
            let conn = connect(&options, backend).await?;
            let task = WriterTask {
                conn,
                options: options.clone(),
                backend,
                max_batch,
            };
            tasks.push(tokio::spawn(task.run(rx.clone())));
        }
        Ok(Writer {
            tx,
            tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    pub(crate) async fn apply(&self, plan: Plan) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { plan, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Stops the writer tasks. A batch not yet committed is rolled back by the database and its
    /// callers get `WriterGone`; nothing is half-written.
    pub(crate) async fn close(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().await);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

struct WriterTask {
    conn: AnyConnection,
    options: AnyConnectOptions,
    backend: Backend,
    max_batch: usize,
}

impl WriterTask {
    async fn run(mut self, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
        loop {
            let batch = {
                let mut rx = rx.lock().await;
                let Some(first) = rx.recv().await else { return };
                let mut batch = vec![first];
                while batch.len() < self.max_batch {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                batch
            };
            self.commit(batch).await;
        }
    }

    async fn commit(&mut self, batch: Vec<Job>) {
        let (results, outcome) = self.apply_batch(&batch).await;
        match outcome {
            Ok(()) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, size = batch.len(), "batch commit failed");
                let message = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Database(message.clone())));
                }
                self.reconnect().await;
            }
        }
    }

    /// Per-plan results, and the fate of the whole transaction.
    async fn apply_batch(
        &mut self,
        batch: &[Job],
    ) -> (Vec<Result<(), StoreError>>, Result<(), StoreError>) {
        let begin = match self.backend {
            // IMMEDIATE takes the write lock up front instead of failing on upgrade.
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        if let Err(e) = self.conn.execute(begin).await {
            return (Vec::new(), Err(e.into()));
        }
        let single = batch.len() == 1;
        let mut results = Vec::with_capacity(batch.len());
        for job in batch {
            if !single {
                if let Err(e) = self.conn.execute("SAVEPOINT plan").await {
                    let _ = self.conn.execute("ROLLBACK").await;
                    return (Vec::new(), Err(e.into()));
                }
            }
            let result = apply_plan(&mut self.conn, &job.plan).await;
            let close = match (&result, single) {
                (_, true) => Ok(()),
                (Ok(()), false) => self
                    .conn
                    .execute("RELEASE SAVEPOINT plan")
                    .await
                    .map(|_| ()),
                (Err(_), false) => match self.conn.execute("ROLLBACK TO SAVEPOINT plan").await {
                    Ok(_) => self
                        .conn
                        .execute("RELEASE SAVEPOINT plan")
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = close {
                let _ = self.conn.execute("ROLLBACK").await;
                return (Vec::new(), Err(e.into()));
            }
            results.push(result);
        }
        if single && results[0].is_err() {
            let _ = self.conn.execute("ROLLBACK").await;
            return (results, Ok(()));
        }
        match self.conn.execute("COMMIT").await {
            Ok(_) => (results, Ok(())),
            Err(e) => {
                let _ = self.conn.execute("ROLLBACK").await;
                (Vec::new(), Err(e.into()))
            }
        }
    }

    async fn reconnect(&mut self) {
        let mut delay = Duration::from_millis(50);
        loop {
            match connect(&self.options, self.backend).await {
                Ok(conn) => {
                    self.conn = conn;
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "writer cannot reconnect; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

async fn apply_plan(conn: &mut AnyConnection, plan: &Plan) -> Result<(), StoreError> {
    for write in &plan.writes {
        apply_write(conn, write).await?;
    }
    Ok(())
}

async fn expect_rows<'q>(
    conn: &mut AnyConnection,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    guard: &'static str,
) -> Result<(), StoreError> {
    if query.execute(&mut *conn).await?.rows_affected() == 0 {
        return Err(StoreError::GuardFailed(guard));
    }
    Ok(())
}

async fn apply_write(conn: &mut AnyConnection, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::InsertMerchant(m) => {
            sqlx::query(
                "INSERT INTO merchants (id, name, email, verified, banned, subscription, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(m.id.as_str())
            .bind(&m.name)
            .bind(&m.email)
            .bind(flag(m.verified))
            .bind(flag(m.banned))
            .bind(m.subscription.as_str())
            .bind(m.created_at)
            .execute(&mut *conn)
            .await?;
        }
        Write::SetMerchantBanned {
            merchant_id,
            banned,
        } => {
            let q = sqlx::query("UPDATE merchants SET banned = $2 WHERE id = $1")
                .bind(merchant_id.as_str())
                .bind(flag(*banned));
            expect_rows(conn, q, "merchant_not_found").await?;
        }
        Write::SetSubscription {
            merchant_id,
            subscription,
        } => {
            let q = sqlx::query("UPDATE merchants SET subscription = $2 WHERE id = $1")
                .bind(merchant_id.as_str())
                .bind(subscription.as_str());
            expect_rows(conn, q, "merchant_not_found").await?;
        }
        Write::InsertShop(s) => {
            shop_query(
                "INSERT INTO shops (id, merchant_id, name, currency, enabled, commission_bps,
                     result_url, success_url, fail_url, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                s,
            )
            .execute(&mut *conn)
            .await?;
        }
        Write::UpdateShop(s) => {
            let q = shop_query(
                "UPDATE shops SET merchant_id = $2, name = $3, currency = $4, enabled = $5,
                     commission_bps = $6, result_url = $7, success_url = $8, fail_url = $9,
                     created_at = $10
                 WHERE id = $1",
                s,
            );
            expect_rows(conn, q, "shop_not_found").await?;
        }
        Write::ReplaceToken {
            merchant_id,
            token_id,
            digest,
            now,
        } => {
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE merchant_id = $1 AND revoked_at IS NULL",
            )
            .bind(merchant_id.as_str())
            .bind(*now)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO api_tokens (id, merchant_id, secret_sha256, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(*token_id)
            .bind(merchant_id.as_str())
            .bind(digest)
            .bind(*now)
            .execute(&mut *conn)
            .await?;
        }
        Write::InsertBill(b) => insert_bill(conn, b).await?,
        Write::SetBillActive {
            bill_id,
            active,
            now,
        } => {
            let q = sqlx::query(
                "UPDATE bills SET active = $2, updated_at = $3
                 WHERE id = $1 AND NOT (bill_type = 'NORMAL' AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID'))",
            )
            .bind(bill_id.as_str())
            .bind(flag(*active))
            .bind(*now);
            expect_rows(conn, q, "bill_is_finished").await?;
        }
        Write::RecordPayment {
            payment,
            transition,
        } => {
            match transition {
                BillTransition::Receive { status, now } => {
                    // The double-payment guard: a NORMAL bill takes money once, whatever races.
                    let q = sqlx::query(
                        "UPDATE bills SET status = $2, updated_at = $3
                         WHERE id = $1 AND active = 1
                           AND (expires_at IS NULL OR expires_at > $3)
                           AND NOT (bill_type = 'NORMAL' AND status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID'))",
                    )
                    .bind(payment.bill_id.as_str())
                    .bind(status.as_str())
                    .bind(*now);
                    expect_rows(conn, q, "bill_not_payable").await?;
                }
                BillTransition::Fail { now } => {
                    sqlx::query(
                        "UPDATE bills SET status = 'FAIL', updated_at = $2
                         WHERE id = $1 AND status IN ('NEW', 'PROCESS', 'FAIL')",
                    )
                    .bind(payment.bill_id.as_str())
                    .bind(*now)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            insert_payment(conn, payment).await?;
        }
    }
    Ok(())
}

fn shop_query<'q>(
    sql: &'q str,
    s: &'q Shop,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(s.id.as_str())
        .bind(s.merchant_id.as_str())
        .bind(&s.name)
        .bind(s.currency.code())
        .bind(flag(s.enabled))
        .bind(s.commission.map(|r| r.bps()))
        .bind(&s.result_url)
        .bind(&s.success_url)
        .bind(&s.fail_url)
        .bind(s.created_at)
}

async fn insert_bill(conn: &mut AnyConnection, b: &Bill) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO bills (id, merchant_id, shop_id, order_id, description, name, custom,
             bill_type, currency, amount, active, status, payment_method, payer_pays_commission,
             ttl_secs, expires_at, success_url, fail_url, return_url, locale, payer_email, extra,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24)",
    )
    .bind(b.id.as_str())
    .bind(b.merchant_id.as_str())
    .bind(b.shop_id.as_str())
    .bind(&b.order_id)
    .bind(&b.description)
    .bind(&b.name)
    .bind(&b.custom)
    .bind(b.bill_type.as_str())
    .bind(b.currency.code())
    .bind(b.amount.minor())
    .bind(flag(b.active))
    .bind(b.status.as_str())
    .bind(b.payment_method.map(|m| m.as_str()))
    .bind(flag(b.payer_pays_commission))
    .bind(b.ttl_secs)
    .bind(b.expires_at)
    .bind(&b.success_url)
    .bind(&b.fail_url)
    .bind(&b.return_url)
    .bind(b.locale.map(|l| l.as_str()))
    .bind(&b.payer_email)
    .bind(&b.extra)
    .bind(b.created_at)
    .bind(b.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_payment(conn: &mut AnyConnection, p: &Payment) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payments (id, bill_id, merchant_id, shop_id, method, status, amount,
             amount_received, commission, account_amount, account_currency, refunded_amount,
             currency, from_card, card_fingerprint, error_code, error_message, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(p.id.as_str())
    .bind(p.bill_id.as_str())
    .bind(p.merchant_id.as_str())
    .bind(p.shop_id.as_str())
    .bind(p.method.as_str())
    .bind(p.status.as_str())
    .bind(p.amount)
    .bind(p.amount_received)
    .bind(p.commission)
    .bind(p.account_amount)
    .bind(p.account_currency.code())
    .bind(p.refunded_amount)
    .bind(p.currency.code())
    .bind(&p.from_card)
    .bind(&p.card_fingerprint)
    .bind(&p.error_code)
    .bind(&p.error_message)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
