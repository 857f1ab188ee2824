//! The group-commit writer. Each writer owns one connection, takes every plan queued at the
//! moment, applies them in one transaction, commits the batch with one fsync and only then
//! answers every caller. A failed plan fails alone: the batch is first tried whole (the common
//! case, no savepoints); if a plan fails, it is rolled back and replayed with a SAVEPOINT per
//! plan. SQLite has exactly one writer (a thread of its own); PostgreSQL may run several,
//! kept apart by guarded SQL, each applying a batch's plans in one global order of the rows
//! they lock (so that writers never deadlock). Each writer has its own queue: the plans that
//! move one owner's money all go to the same writer, where they batch together.
//!
//! On PostgreSQL every statement would be a round trip, so the first try sends the whole batch
//! as one script (`Exec::exec_all`): the plans' statements in order, their plain inserts as
//! multi-row statements at the end, and their balance changes added up in memory against the
//! rows the batch locked and read, each row written once. A batch then takes BEGIN, one round
//! trip that locks its balance rows, the script and COMMIT, whatever its size. The replay runs
//! every statement as written, so the script only has to agree with it when nothing fails.

use crate::sql::{Exec, Statement, Value};
use crate::writes::Lock;
use crate::StoreError;
use paylink_core::guard::Guard;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

pub(crate) enum Job {
    Plan {
        /// The rows the plan updates, sorted (see [`crate::writes::locks`]).
        locks: Vec<Lock>,
        statements: Vec<Statement>,
        /// Run once the plan has committed, whether or not its caller still waits.
        then: Option<Committed>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Stop,
}

/// What a plan does once it is durable.
pub(crate) type Committed = Box<dyn FnOnce() + Send>;

pub(crate) type Queue = Arc<Mutex<mpsc::Receiver<Job>>>;

#[derive(Clone)]
pub(crate) struct Writer {
    /// One queue per writer.
    queues: Arc<[mpsc::Sender<Job>]>,
    /// Where the next plan without a balance row goes.
    next: Arc<std::sync::atomic::AtomicUsize>,
    stopped: Arc<Mutex<Vec<oneshot::Receiver<()>>>>,
}

impl Writer {
    /// A queue for each of `writers` writer loops; `spawn` starts each (given its queue and a
    /// signal to fire when it ends).
    pub(crate) fn start(
        writers: usize,
        max_batch: usize,
        mut spawn: impl FnMut(Queue, oneshot::Sender<()>) -> Result<(), StoreError>,
    ) -> Result<Writer, StoreError> {
        let mut queues = Vec::with_capacity(writers);
        let mut stopped = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (tx, rx) = mpsc::channel(max_batch * 8);
            let (done, wait) = oneshot::channel();
            spawn(Arc::new(Mutex::new(rx)), done)?;
            queues.push(tx);
            stopped.push(wait);
        }
        Ok(Writer {
            queues: queues.into(),
            next: Arc::default(),
            stopped: Arc::new(Mutex::new(stopped)),
        })
    }

    pub(crate) async fn apply(
        &self,
        locks: Vec<Lock>,
        statements: Vec<Statement>,
        then: Option<Committed>,
    ) -> Result<(), StoreError> {
        // Plans that move one owner's money all go to one writer, chosen by the owner's balance
        // row: they batch together there instead of taking turns on the row from every writer
        // (each holds it from its BEGIN to its COMMIT). Other plans are spread round-robin.
        let n = self.queues.len();
        let writer = match locks.iter().find(|l| l.0 == HOT) {
            Some(hot) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                hot.1.hash(&mut h);
                (h.finish() % n as u64) as usize
            }
            None => self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n,
        };
        let (reply, answer) = oneshot::channel();
        self.queues[writer]
            .send(Job::Plan {
                locks,
                statements,
                then,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Plans waiting in the queues.
    pub(crate) fn queued(&self) -> usize {
        self.queues
            .iter()
            .map(|q| q.max_capacity() - q.capacity())
            .sum()
    }

    /// Lets the writers finish what is queued before the stop, then waits for them.
    pub(crate) async fn close(&self) {
        for q in self.queues.iter() {
            let _ = q.send(Job::Stop).await;
        }
        let waits = std::mem::take(&mut *self.stopped.lock().await);
        for w in waits {
            let _ = w.await;
        }
    }
}

/// One writer: batches from the queue until told to stop. `connect` makes a fresh connection
/// after a failed commit.
pub(crate) async fn run<C, F, Fut>(
    mut conn: C,
    connect: F,
    queue: Queue,
    max_batch: usize,
    batch_timeout: std::time::Duration,
    observer: Option<crate::Observer>,
) where
    C: Exec,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<C, StoreError>>,
{
    loop {
        let (batch, stop) = {
            let mut rx = queue.lock().await;
            let mut batch = Vec::new();
            let mut stop = false;
            match rx.recv().await {
                None | Some(Job::Stop) => stop = true,
                Some(job) => batch.push(job),
            }
            while !stop && batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(Job::Stop) => stop = true,
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            (batch, stop)
        };
        let mut plans: Vec<(Vec<Lock>, Vec<Statement>, _)> = batch
            .into_iter()
            .filter_map(|job| match job {
                // Its caller stopped waiting (a request past its deadline, answered that it
                // took too long; a client gone): it is not carried out later behind its back.
                Job::Plan { reply, .. } if reply.is_closed() => {
                    tracing::warn!("a write whose caller stopped waiting was dropped unwritten");
                    None
                }
                Job::Plan {
                    locks,
                    statements,
                    then,
                    reply,
                } => Some((locks, statements, (then, reply))),
                Job::Stop => None,
            })
            .collect();
        // One global order of row locks across writers: no deadlocks between batches. Plans
        // queued together were submitted concurrently, so any order among them is valid; the
        // sort is stable and puts plans that lock nothing first.
        //
        // A plan that moves money also locks its owners' balance rows, shared by many plans:
        // those rows are locked first, all of the batch's at once in their sorted order, and
        // the plans are ordered by their other (single-row) locks. Every writer then waits
        // only up the one order, balances before everything else.
        let hot: std::collections::BTreeSet<Lock> = plans
            .iter()
            .flat_map(|p| p.0.iter().filter(|l| l.0 == HOT).cloned())
            .collect();
        plans.sort_by(|a, b| {
            let cold = |l: &&Lock| l.0 != HOT;
            a.0.iter().filter(cold).cmp(b.0.iter().filter(cold))
        });
        let mut statements = Vec::with_capacity(plans.len());
        let mut replies = Vec::with_capacity(plans.len());
        for (_, s, reply) in plans {
            statements.push(s);
            replies.push(reply);
        }
        if !statements.is_empty() {
            let started = std::time::Instant::now();
            let plans = replies.len();
            let failed = loop {
                let attempt =
                    tokio::time::timeout(batch_timeout, commit(&mut conn, &hot, &statements))
                        .await
                        .unwrap_or_else(|_| {
                            // A host that vanished without closing the connection answers nothing:
                            // the batch may be waiting on its COMMIT.
                            Err(StoreError::CommitUnknown(format!(
                                "no answer from the database in {batch_timeout:?}"
                            )))
                        });
                match attempt {
                    Ok(results) => {
                        let failed = results.iter().filter(|r| r.is_err()).count();
                        for ((then, reply), result) in replies.into_iter().zip(results) {
                            if let (Ok(()), Some(then)) = (&result, then) {
                                then();
                            }
                            let _ = reply.send(result);
                        }
                        break failed;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, size = replies.len(), "batch commit failed");
                        conn = reconnect(&connect).await;
                        // Lost before its COMMIT was sent, the batch left nothing: it is run
                        // again on the new connection (the primary after a failover), and its
                        // callers only wait. One past its request deadline was answered 503
                        // there, as a request still queued would be.
                        if matches!(e, StoreError::Unavailable(_)) {
                            // Whose caller stopped waiting meanwhile is dropped, as above.
                            let keep: Vec<bool> =
                                replies.iter().map(|(_, r)| !r.is_closed()).collect();
                            let dropped = keep.iter().filter(|k| !**k).count();
                            if dropped > 0 {
                                tracing::warn!(
                                    dropped,
                                    "writes whose callers stopped waiting were dropped unwritten"
                                );
                            }
                            let mut kept = keep.iter();
                            statements.retain(|_| *kept.next().unwrap_or(&true));
                            let mut kept = keep.iter();
                            replies.retain(|_| *kept.next().unwrap_or(&true));
                            if statements.is_empty() {
                                break 0;
                            }
                            continue;
                        }
                        for (_, reply) in replies {
                            let _ = reply.send(Err(match &e {
                                StoreError::CommitUnknown(m) => {
                                    StoreError::CommitUnknown(m.clone())
                                }
                                other => StoreError::Database(other.to_string()),
                            }));
                        }
                        break plans;
                    }
                }
            };
            if let Some(o) = &observer {
                o.0.committed(plans, failed, started.elapsed());
            }
        }
        if stop {
            return;
        }
    }
}

async fn reconnect<C, F, Fut>(connect: &F) -> C
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<C, StoreError>>,
{
    let mut delay = std::time::Duration::from_millis(50);
    loop {
        match connect().await {
            Ok(c) => return c,
            Err(e) => {
                tracing::error!(error = %e, "writer cannot reconnect; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

async fn apply_plan<C: Exec>(conn: &mut C, plan: &[Statement]) -> Result<(), StoreError> {
    for s in plan {
        let changed = conn.exec(&s.sql, &s.args).await?;
        if let (Some(guard), 0) = (s.guard, changed) {
            return Err(StoreError::GuardFailed(guard));
        }
    }
    Ok(())
}

/// Most rows in one multi-row insert (PostgreSQL takes at most 65,535 parameters).
const MAX_INSERT_ROWS: usize = 256;

/// The plain inserts of a batch, put off to its end and sent table by table as multi-row
/// statements.
#[derive(Default)]
struct Deferred {
    /// Per insert head, in order of first appearance (parents before children): arity, rows.
    tables: Vec<(&'static str, usize, Vec<Value>)>,
}

impl Deferred {
    fn take(&mut self, s: &Statement) -> bool {
        let (Some(head), None) = (s.insert_head, s.guard) else {
            return false;
        };
        if s.arity == 0 || !s.args.len().is_multiple_of(s.arity) {
            return false;
        }
        match self.tables.iter_mut().find(|t| t.0 == head) {
            Some(t) if t.1 == s.arity => t.2.extend(s.args.iter().cloned()),
            Some(_) => return false,
            None => self.tables.push((head, s.arity, s.args.clone())),
        }
        true
    }

    /// The inserts, in chunks of a power of two rows (few distinct texts).
    fn statements(self) -> Vec<(String, Vec<Value>)> {
        let mut out = Vec::new();
        for (head, arity, args) in self.tables {
            let mut rest = args.as_slice();
            while !rest.is_empty() {
                let rows = (rest.len() / arity).min(MAX_INSERT_ROWS);
                let rows = 1 << rows.ilog2();
                let (chunk, tail) = rest.split_at(rows * arity);
                out.push((crate::sql::values_sql(head, arity, rows), chunk.to_vec()));
                rest = tail;
            }
        }
        out
    }
}

/// The batch's balance rows as locked, with the changes of the plans applied so far: each plan's
/// change to a row is added here, its guard checked against the sum, and every changed row is
/// written once at the end of the batch. Many plans change one merchant's row; this spares the
/// database an update per plan.
#[derive(Default)]
struct Balances(std::collections::BTreeMap<String, Held>);

struct Held {
    available: i64,
    locked: i64,
    hold: i64,
    updated_at: i64,
    changed: bool,
}

impl Balances {
    /// Adds the change of `s` to its row, if the batch holds it; false if not (the statement
    /// is then run as it is written). A guarded change that would take a bucket below zero
    /// fails as the statement would; so does one that would overflow (the replay then meets
    /// the database's own error).
    fn take(&mut self, s: &Statement) -> Result<bool, StoreError> {
        let Some(d) = &s.delta else { return Ok(false) };
        let Some(row) = self.0.get_mut(&d.key) else {
            return Ok(false);
        };
        let sum = |a: i64, b: i64| {
            a.checked_add(b)
                .ok_or(StoreError::GuardFailed(Guard::BalanceNotEnough))
        };
        let (available, locked, hold) = (
            sum(row.available, d.available)?,
            sum(row.locked, d.locked)?,
            sum(row.hold, d.hold)?,
        );
        if let Some(guard) = s.guard {
            if available < 0 || locked < 0 || hold < 0 {
                return Err(StoreError::GuardFailed(guard));
            }
        }
        *row = Held {
            available,
            locked,
            hold,
            updated_at: d.at,
            changed: true,
        };
        Ok(true)
    }

    /// An update per changed row.
    fn statements(self) -> Vec<(String, Vec<Value>)> {
        self.0
            .into_iter()
            .filter(|(_, row)| row.changed)
            .map(|(key, row)| {
                let mut args: Vec<Value> = key.splitn(3, ':').map(Value::from).collect();
                args.extend([row.available, row.locked, row.hold, row.updated_at].map(Value::Int));
                (
                    "UPDATE balances SET available = $4, locked = $5, hold = $6, updated_at = $7
                     WHERE owner_kind = $1 AND owner_id = $2 AND currency = $3"
                        .to_string(),
                    args,
                )
            })
            .collect()
    }
}

/// The whole batch in one script (PostgreSQL: one round trip instead of one per statement):
/// every plan's statements in turn, the plain inserts put off to the end and sent as
/// multi-row statements, the balance changes added up and written once. Any failure (a guard,
/// a unique key, an insert whose parent was not there yet) fails the pass; the caller then
/// rolls back and replays the batch statement by statement.
async fn apply_as_script<C: Exec>(
    conn: &mut C,
    plans: &[Vec<Statement>],
    mut balances: Balances,
) -> Result<(), StoreError> {
    let mut deferred = Deferred::default();
    let mut guarded = Vec::new();
    for plan in plans {
        for s in plan {
            if !(deferred.take(s) || balances.take(s)?) {
                guarded.push(s);
            }
        }
    }
    let tail: Vec<(String, Vec<Value>)> = deferred
        .statements()
        .into_iter()
        .chain(balances.statements())
        .collect();
    let script: Vec<(&str, &[Value])> = guarded
        .iter()
        .map(|s| (&*s.sql, s.args.as_slice()))
        .chain(
            tail.iter()
                .map(|(sql, args)| (sql.as_str(), args.as_slice())),
        )
        .collect();
    let changed = conn.exec_all(&script).await?;
    for (s, changed) in guarded.iter().zip(changed) {
        if let (Some(guard), 0) = (s.guard, changed) {
            return Err(StoreError::GuardFailed(guard));
        }
    }
    Ok(())
}

/// The table whose rows many plans share; see `run`.
const HOT: &str = "balances";

/// Locks the batch's balance rows in order of (owner kind, owner id, currency) and reads them
/// (PostgreSQL; SQLite's one writer needs no order, and its statements cost no round trip), in
/// one statement: PostgreSQL's executor inserts (or, on conflict, locks) the rows of a
/// multi-row `VALUES` one after another in their order. That is how the executor has worked
/// since `ON CONFLICT` came (9.5), not a documented promise; a change to it would show as
/// deadlocks between writers, which the concurrency tests would catch.
async fn lock_hot<C: Exec>(
    conn: &mut C,
    hot: &std::collections::BTreeSet<Lock>,
) -> Result<Balances, StoreError> {
    let mut balances = Balances::default();
    if conn.backend() == crate::Backend::Sqlite || hot.is_empty() {
        return Ok(balances);
    }
    let mut args: Vec<Value> = Vec::with_capacity(hot.len() * 3);
    for (_, key) in hot {
        let parts: Vec<&str> = key.splitn(3, ':').collect();
        if parts.len() != 3 {
            return Err(StoreError::Corrupt(format!("balance key {key}")));
        }
        args.extend(parts.into_iter().map(Value::from));
    }
    let mut values = String::new();
    for i in 0..hot.len() {
        let n = i * 3;
        values.push_str(&format!(
            "{}(${}, ${}, ${}, 0, 0, 0, 0)",
            if i == 0 { "" } else { ", " },
            n + 1,
            n + 2,
            n + 3
        ));
    }
    // Creates a missing row too: two writers creating one row would otherwise wait on each
    // other's insert outside the order.
    let sql = format!(
        "INSERT INTO balances (owner_kind, owner_id, currency, available, locked, hold,
             updated_at)
         VALUES {values}
         ON CONFLICT (owner_kind, owner_id, currency)
         DO UPDATE SET updated_at = balances.updated_at
         RETURNING owner_kind, owner_id, currency, available, locked, hold, updated_at"
    );
    let rows = conn
        .query(&sql, &args, |r| {
            Ok((
                format!(
                    "{}:{}:{}",
                    r.text("owner_kind")?,
                    r.text("owner_id")?,
                    r.text("currency")?
                ),
                Held {
                    available: r.i64("available")?,
                    locked: r.i64("locked")?,
                    hold: r.i64("hold")?,
                    updated_at: r.i64("updated_at")?,
                    changed: false,
                },
            ))
        })
        .await?;
    balances.0.extend(rows);
    if let Some((_, key)) = hot.iter().find(|(_, k)| !balances.0.contains_key(k)) {
        return Err(StoreError::Corrupt(format!("balance {key} not locked")));
    }
    Ok(balances)
}

async fn commit<C: Exec>(
    conn: &mut C,
    hot: &std::collections::BTreeSet<Lock>,
    plans: &[Vec<Statement>],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let begin = conn.begin_sql();
    conn.batch(begin).await?;
    let balances = lock_hot(conn, hot).await?;
    // First, optimistically: the batch whole (SQLite runs it statement by statement, each
    // costing no round trip).
    let first_failure = if conn.coalesces_inserts() {
        apply_as_script(conn, plans, balances).await.err()
    } else {
        let mut failure = None;
        for plan in plans {
            if let Err(e) = apply_plan(conn, plan).await {
                failure = Some(e);
                break;
            }
        }
        failure
    };
    let Some(error) = first_failure else {
        conn.batch("COMMIT").await.map_err(unknown)?;
        return Ok(plans.iter().map(|_| Ok(())).collect());
    };
    conn.batch("ROLLBACK").await?;
    // The node stopped taking writes (a failover): no plan failed for itself, and the writer
    // must find the primary again.
    if matches!(error, StoreError::Unavailable(_)) {
        return Err(error);
    }
    // A lone plan failed for itself, unless it ran as a script (a plan may update a row it
    // inserts, which the script puts off): then it is replayed as it is written.
    if plans.len() == 1 && !conn.coalesces_inserts() {
        return Ok(vec![Err(error)]);
    }
    // Replay with a savepoint per plan so that the failing ones fail alone.
    conn.batch(begin).await?;
    lock_hot(conn, hot).await?;
    let mut results = Vec::with_capacity(plans.len());
    for plan in plans {
        conn.batch("SAVEPOINT plan").await?;
        let result = apply_plan(conn, plan).await;
        // Not the plan's fault (a deadlock, the node going away): the batch runs again.
        if let Err(e @ StoreError::Unavailable(_)) = result {
            let _ = conn.batch("ROLLBACK").await;
            return Err(e);
        }
        if result.is_ok() {
            conn.batch("RELEASE SAVEPOINT plan").await?;
        } else {
            conn.batch("ROLLBACK TO SAVEPOINT plan; RELEASE SAVEPOINT plan")
                .await?;
        }
        results.push(result);
    }
    conn.batch("COMMIT").await.map_err(unknown)?;
    Ok(results)
}

/// The connection was lost once COMMIT was sent: the batch may or may not have committed.
fn unknown(e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::CommitUnknown(m),
        other => other,
    }
}
