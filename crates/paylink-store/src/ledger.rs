//! The ledger in SQL: posting an entry (its transaction, its legs, and the guarded update of
//! its owners' cached balances), and `ledger check`, which re-derives everything.
//!
//! `ledger_postings` holds one row per leg on an account (owner_kind, owner_id, bucket,
//! currency; the platform's owner_id is ''). `balances` holds one row per (owner_kind,
//! owner_id, currency) with the owner's balance buckets (available, locked, hold): the same
//! rows, guards and checks for merchants, partners and cards.

use crate::sql::{values_sql, BalanceDelta, Columns, Exec, Statement, Value};
use crate::{Reads, Store, StoreError};
use paylink_core::guard::Guard;
use paylink_core::ledger::{Entry, Owner, OwnerKind};
use std::borrow::Cow;
use std::sync::LazyLock;

const TX_HEAD: &str = "INSERT INTO ledger_transactions (id, kind, subject_id, created_at)";
static TX_ROW: LazyLock<String> = LazyLock::new(|| values_sql(TX_HEAD, 4, 1));
const POSTINGS_HEAD: &str =
    "INSERT INTO ledger_postings (tx_id, seq, owner_kind, owner_id, bucket, currency, amount)";
const POSTING_COLUMNS: usize = 7;
/// The postings insert for 1..=8 legs: few texts, each prepared once.
static POSTINGS_SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
    (1..=8)
        .map(|n| values_sql(POSTINGS_HEAD, POSTING_COLUMNS, n))
        .collect()
});

/// A balance row's lock key: owner kind, owner id, currency.
pub(crate) fn balance_key(owner: &Owner, currency: paylink_core::money::Currency) -> String {
    // The writer splits the key back into its parts: ids are base62.
    debug_assert!(!owner.id().contains(':'), "{}", owner.id());
    format!(
        "{}:{}:{}",
        owner.kind().as_str(),
        owner.id(),
        currency.code()
    )
}

pub(crate) fn post(out: &mut Vec<Statement>, entry: &Entry) {
    out.push(Statement::insert(
        TX_HEAD,
        TX_ROW.as_str(),
        vec![
            entry.id.as_str().into(),
            entry.kind.as_str().into(),
            entry.subject_id.as_str().into(),
            entry.created_at.into(),
        ],
    ));
    let mut args = Vec::with_capacity(entry.postings.len() * POSTING_COLUMNS);
    for (seq, p) in entry.postings.iter().enumerate() {
        args.extend([
            Value::from(entry.id.as_str()),
            Value::Int(seq as i64 + 1),
            p.owner.kind().as_str().into(),
            p.owner.id().into(),
            p.bucket.as_str().into(),
            p.currency.code().into(),
            p.amount.into(),
        ]);
    }
    let n = entry.postings.len();
    let sql = match POSTINGS_SQL.get(n.wrapping_sub(1)) {
        Some(sql) => Cow::Borrowed(sql.as_str()),
        None => Cow::Owned(values_sql(POSTINGS_HEAD, POSTING_COLUMNS, n)),
    };
    if n > 0 {
        out.push(Statement::insert_rows(
            POSTINGS_HEAD,
            sql,
            args,
            POSTING_COLUMNS,
        ));
    }
    for ((owner, currency), d) in entry.deltas() {
        let args = vec![
            owner.kind().as_str().into(),
            owner.id().into(),
            currency.code().into(),
            d.available.into(),
            d.locked.into(),
            d.hold.into(),
            entry.created_at.into(),
        ];
        let delta = BalanceDelta {
            key: balance_key(&owner, currency),
            available: d.available,
            locked: d.locked,
            hold: d.hold,
            at: entry.created_at,
        };
        // A debit needs the row (a balance never read as positive is not spent); a credit
        // creates it on first use.
        let statement = if d.debits() {
            Statement::guarded(
                "UPDATE balances SET available = available + $4, locked = locked + $5,
                     hold = hold + $6, updated_at = $7
                 WHERE owner_kind = $1 AND owner_id = $2 AND currency = $3
                   AND available + $4 >= 0 AND locked + $5 >= 0 AND hold + $6 >= 0",
                args,
                Guard::BalanceNotEnough,
            )
        } else {
            Statement::new(
                "INSERT INTO balances (owner_kind, owner_id, currency, available, locked, hold,
                     updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (owner_kind, owner_id, currency) DO UPDATE
                 SET available = balances.available + excluded.available,
                     locked = balances.locked + excluded.locked,
                     hold = balances.hold + excluded.hold,
                     updated_at = excluded.updated_at",
                args,
            )
        };
        out.push(Statement {
            delta: Some(delta),
            ..statement
        });
    }
}

/// What `paylink ledger check` found: counts, and every broken invariant in words.
#[derive(Debug, Clone, Default)]
pub struct LedgerReport {
    pub transactions: i64,
    pub postings: i64,
    pub balances: i64,
    pub problems: Vec<String>,
}

impl Store {
    /// Re-derives every balance from the postings and checks every invariant of the ledger,
    /// all in one read transaction: a consistent snapshot, even of a busy database.
    pub async fn ledger_check(&self) -> Result<LedgerReport, StoreError> {
        match &self.reads {
            Reads::Sqlite(pool) => {
                let mut conn = pool.take()?;
                conn.batch("BEGIN").await?;
                let report = check(&mut *conn).await;
                conn.batch("ROLLBACK").await?;
                report
            }
            Reads::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                conn.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                let report = check(&mut *conn).await;
                conn.batch("ROLLBACK").await?;
                report
            }
        }
    }
}

/// A balance row: owner kind, owner id, currency, available, locked, hold.
type Row = (String, String, String, i64, i64, i64);

fn balance_row(r: &dyn Columns) -> Result<Row, StoreError> {
    Ok((
        r.text("owner_kind")?,
        r.text("owner_id")?,
        r.text("currency")?,
        r.i64("available")?,
        r.i64("locked")?,
        r.i64("hold")?,
    ))
}

/// A merchant's balance column (`own`) against what the books say it must match (`total`).
fn against(r: &dyn Columns) -> Result<(String, String, i64, i64), StoreError> {
    Ok((
        r.text("owner_id")?,
        r.text("currency")?,
        r.i64("own")?,
        r.i64("total")?,
    ))
}

/// Counts postings on a bucket their owner kind does not have, or whose owner id is missing
/// (or, for the platform, present): spelled from core's table of buckets per owner kind, so a
/// new kind is checked without a change here.
static MISPLACED: LazyLock<String> = LazyLock::new(|| {
    let owned: Vec<String> = OwnerKind::ALL
        .iter()
        .map(|k| {
            let buckets: Vec<String> = k
                .buckets()
                .iter()
                .map(|b| format!("'{}'", b.as_str()))
                .collect();
            format!(
                "(owner_kind = '{}' AND bucket IN ({}))",
                k.as_str(),
                buckets.join(", ")
            )
        })
        .collect();
    format!(
        "SELECT COUNT(*) AS n FROM ledger_postings
         WHERE NOT ({}) OR (owner_kind = '{}') <> (owner_id = '')",
        owned.join(" OR "),
        OwnerKind::Platform.as_str()
    )
});

/// The name of an owner in a problem: "merchant X", "card Y", "platform".
fn owner_name(kind: &str, id: &str) -> String {
    if id.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} {id}")
    }
}

async fn count<C: Exec>(conn: &mut C, sql: &str) -> Result<i64, StoreError> {
    Ok(conn
        .query(sql, &[], |r| r.i64("n"))
        .await?
        .into_iter()
        .next()
        .unwrap_or_default())
}

async fn check<C: Exec>(conn: &mut C) -> Result<LedgerReport, StoreError> {
    let mut report = LedgerReport {
        transactions: count(conn, "SELECT COUNT(*) AS n FROM ledger_transactions").await?,
        postings: count(conn, "SELECT COUNT(*) AS n FROM ledger_postings").await?,
        balances: count(conn, "SELECT COUNT(*) AS n FROM balances").await?,
        problems: Vec::new(),
    };
    let p = &mut report.problems;
    for (tx, currency, sum) in conn
        .query(
            "SELECT tx_id, currency, CAST(SUM(amount) AS BIGINT) AS s FROM ledger_postings
                 GROUP BY tx_id, currency HAVING SUM(amount) <> 0",
            &[],
            |r| Ok((r.text("tx_id")?, r.text("currency")?, r.i64("s")?)),
        )
        .await?
    {
        p.push(format!(
            "transaction {tx} does not balance in {currency}: {sum}"
        ));
    }
    for tx in conn
        .query(
            "SELECT t.id FROM ledger_transactions t
                 LEFT JOIN ledger_postings l ON l.tx_id = t.id
                 GROUP BY t.id HAVING COUNT(l.tx_id) < 2",
            &[],
            |r| r.text("id"),
        )
        .await?
    {
        p.push(format!("transaction {tx} has fewer than two postings"));
    }
    let misplaced = count(conn, &MISPLACED).await?;
    if misplaced > 0 {
        p.push(format!(
            "{misplaced} postings are on a bucket their owner does not have, or name no owner where one is needed"
        ));
    }
    // Cached rows against the fold of the postings on balance buckets, both ways round, for
    // every owner alike.
    let derived: Vec<Row> = conn
            .query(
                "SELECT owner_kind, owner_id, currency,
                     CAST(SUM(CASE WHEN bucket = 'available' THEN amount ELSE 0 END) AS BIGINT) AS available,
                     CAST(SUM(CASE WHEN bucket = 'locked' THEN amount ELSE 0 END) AS BIGINT) AS locked,
                     CAST(SUM(CASE WHEN bucket = 'hold' THEN amount ELSE 0 END) AS BIGINT) AS hold
                 FROM ledger_postings WHERE bucket IN ('available', 'locked', 'hold')
                 GROUP BY owner_kind, owner_id, currency ORDER BY owner_kind, owner_id, currency",
                &[],
                balance_row,
            )
            .await?;
    let cached: Vec<Row> = conn
        .query(
            "SELECT owner_kind, owner_id, currency, available, locked, hold FROM balances
                 ORDER BY owner_kind, owner_id, currency",
            &[],
            balance_row,
        )
        .await?;
    let key = |r: &Row| (r.0.clone(), r.1.clone(), r.2.clone());
    let cached_map: std::collections::BTreeMap<_, _> = cached.iter().map(|r| (key(r), r)).collect();
    let derived_map: std::collections::BTreeMap<_, _> =
        derived.iter().map(|r| (key(r), r)).collect();
    for (k, d) in &derived_map {
        let (o, c) = (owner_name(&k.0, &k.1), &k.2);
        if d.3 < 0 || d.4 < 0 || d.5 < 0 {
            p.push(format!(
                "{o} {c}: a balance is negative (available {}, locked {}, hold {})",
                d.3, d.4, d.5
            ));
        }
        match cached_map.get(k) {
                Some(c_row) if (c_row.3, c_row.4, c_row.5) == (d.3, d.4, d.5) => {}
                Some(c_row) => p.push(format!(
                    "{o} {c}: cached balance (available {}, locked {}, hold {}) differs from its postings (available {}, locked {}, hold {})",
                    c_row.3, c_row.4, c_row.5, d.3, d.4, d.5
                )),
                None => p.push(format!("{o} {c}: postings but no balance row")),
            }
    }
    for (k, c_row) in &cached_map {
        if !derived_map.contains_key(k) && (c_row.3, c_row.4, c_row.5) != (0, 0, 0) {
            p.push(format!(
                "{} {}: a balance row without postings",
                owner_name(&k.0, &k.1),
                k.2
            ));
        }
    }
    // The merchants' balances against their payouts and settlements (the domain behind their
    // locked and hold buckets). Locked money is exactly what payouts in flight hold.
    for (m, c, locked, in_flight) in conn
            .query(
                "SELECT b.owner_id, b.currency, b.locked AS own, COALESCE(f.total, 0) AS total
                 FROM balances b LEFT JOIN (
                     SELECT merchant_id, currency, CAST(SUM(amount + commission) AS BIGINT) AS total FROM payouts
                     WHERE status IN ('NEW', 'MODERATING', 'PROCESS')
                     GROUP BY merchant_id, currency) f
                   ON f.merchant_id = b.owner_id AND f.currency = b.currency
                 WHERE b.owner_kind = 'merchant' AND b.locked <> COALESCE(f.total, 0)",
                &[],
                against,
            )
            .await?
        {
            p.push(format!(
                "merchant {m} {c}: locked {locked} but payouts in flight hold {in_flight}"
            ));
        }
    // Hold never exceeds what waits to settle (refunds may have taken some of it).
    for (m, c, hold, pending) in conn
            .query(
                "SELECT b.owner_id, b.currency, b.hold AS own, COALESCE(s.total, 0) AS total
                 FROM balances b LEFT JOIN (
                     SELECT merchant_id, currency, CAST(SUM(amount) AS BIGINT) AS total FROM settlements
                     WHERE settled_at IS NULL GROUP BY merchant_id, currency) s
                   ON s.merchant_id = b.owner_id AND s.currency = b.currency
                 WHERE b.owner_kind = 'merchant' AND b.hold > COALESCE(s.total, 0)",
                &[],
                against,
            )
            .await?
        {
            p.push(format!(
                "merchant {m} {c}: hold {hold} exceeds the {pending} waiting to settle"
            ));
        }
    // Every payment that brought money is booked once; refunds add up to refunded_amount.
    for id in conn
        .query(
            "SELECT p.id FROM payments p LEFT JOIN ledger_transactions t ON t.id = 'pay_' || p.id
                 WHERE p.status IN ('SUCCESS', 'UNDERPAID', 'OVERPAID') AND t.id IS NULL",
            &[],
            |r| r.text("id"),
        )
        .await?
    {
        p.push(format!(
            "payment {id} received money but has no ledger entry"
        ));
    }
    for (id, refunded, sum) in conn
        .query(
            "SELECT p.id, p.refunded_amount, COALESCE(r.total, 0) AS total FROM payments p
                 LEFT JOIN (SELECT payment_id, CAST(SUM(amount) AS BIGINT) AS total FROM refunds
                            WHERE status <> 'FAIL' GROUP BY payment_id) r ON r.payment_id = p.id
                 WHERE p.refunded_amount <> COALESCE(r.total, 0) OR p.refunded_amount > p.amount",
            &[],
            |r| Ok((r.text("id")?, r.i64("refunded_amount")?, r.i64("total")?)),
        )
        .await?
    {
        p.push(format!(
            "payment {id}: refunded_amount {refunded} but its refunds total {sum}"
        ));
    }
    Ok(report)
}
