//! The one interface both backends implement: SQL text with `$n` placeholders, owned values in,
//! owned rows out. Everything above it (writes, reads, migrations, group commit) is written
//! once for SQLite and PostgreSQL.

/// SQL assembled once (from the shared column lists) and kept for the life of the process.
macro_rules! sql_once {
    ($($arg:tt)*) => {{
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!($($arg)*));
        SQL.as_str()
    }};
}

use crate::StoreError;
use paylink_core::guard::Guard;
use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

/// A bound or returned value. Nulls carry their type: PostgreSQL wants typed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::NullInt, Value::Int)
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Value::NullText, |s| Value::Text(s.to_string()))
    }
}

impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        v.as_deref().into()
    }
}

/// One statement of a plan; with a `guard`, affecting no row fails the plan with that guard.
pub(crate) struct Statement {
    pub sql: Cow<'static, str>,
    pub args: Vec<Value>,
    pub guard: Option<Guard>,
    /// For a plain `INSERT ... VALUES (...), ...`: its head (`INSERT INTO t (columns)`), so
    /// that the writer may send the rows of several alike as one multi-row statement.
    pub insert_head: Option<&'static str>,
    /// Values per row of such an insert.
    pub arity: usize,
    /// For a change to one balance row: the change, which a writer that holds the row may add
    /// up in memory and write once per batch.
    pub delta: Option<BalanceDelta>,
}

/// A change to the balance row `key` (its lock key: owner kind, owner id, currency), stamped
/// `at`. The statement it belongs to makes the same change in SQL; a guarded one (a debit)
/// fails when a bucket would go below zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BalanceDelta {
    pub key: String,
    pub available: i64,
    pub locked: i64,
    pub hold: i64,
    pub at: i64,
}

/// `$first, $first+1, ...`: `count` placeholders for an `IN (...)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ids` as `IN` arguments after `before`, padded to a power of two with the last id (harmless
/// in `IN`), so that a few SQL texts serve every length and stay prepared. The padded length.
pub(crate) fn padded_ids(before: &mut Vec<Value>, ids: &[String]) -> usize {
    let padded = ids.len().next_power_of_two();
    before.extend(ids.iter().map(|id| Value::from(id.as_str())));
    let last = ids.last().map_or("", |id| id.as_str());
    before.resize(before.len() + padded - ids.len(), Value::from(last));
    padded
}

/// `head VALUES ($1, ..), ($n+1, ..), ...`: `rows` tuples of `arity` parameters.
pub(crate) fn values_sql(head: &str, arity: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + rows * arity * 5 + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..arity {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * arity + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

impl Statement {
    pub fn new(sql: &'static str, args: Vec<Value>) -> Statement {
        Statement {
            sql: Cow::Borrowed(sql),
            args,
            guard: None,
            insert_head: None,
            arity: 0,
            delta: None,
        }
    }

    /// A statement whose text is built at run time (multi-row statements).
    pub fn owned(sql: String, args: Vec<Value>) -> Statement {
        Statement {
            sql: Cow::Owned(sql),
            args,
            guard: None,
            insert_head: None,
            arity: 0,
            delta: None,
        }
    }

    /// A one-row insert into `head` (`INSERT INTO t (columns)`), given as `sql` built by
    /// [`values_sql`] for one row.
    pub fn insert(head: &'static str, sql: &'static str, args: Vec<Value>) -> Statement {
        Statement {
            insert_head: Some(head),
            arity: args.len(),
            ..Statement::new(sql, args)
        }
    }

    /// An insert into `head` of `args.len() / arity` rows, as `sql` (built by [`values_sql`]).
    pub fn insert_rows(
        head: &'static str,
        sql: std::borrow::Cow<'static, str>,
        args: Vec<Value>,
        arity: usize,
    ) -> Statement {
        Statement {
            sql,
            args,
            guard: None,
            insert_head: Some(head),
            arity,
            delta: None,
        }
    }

    pub fn guarded(sql: &'static str, args: Vec<Value>, guard: Guard) -> Statement {
        Statement {
            guard: Some(guard),
            ..Statement::new(sql, args)
        }
    }
}

/// Typed access to the columns of one result row, by name.
pub(crate) trait Columns {
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;

    fn i64(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_i64(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
    }

    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is null")))
    }
}

/// Turns one row into a value; reads hand one to [`Exec::query`].
pub(crate) type Decode<T> = fn(&dyn Columns) -> Result<T, StoreError>;

/// An owned result row (PostgreSQL rows are read into these).
pub(crate) struct Row {
    pub names: Arc<[String]>,
    pub values: Vec<Value>,
}

impl Row {
    fn get(&self, column: &str) -> Result<&Value, StoreError> {
        self.names
            .iter()
            .position(|n| n == column)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {column}")))
    }
}

impl Columns for Row {
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.get(column)? {
            Value::Int(v) => Ok(Some(*v)),
            Value::NullInt | Value::NullText => Ok(None),
            Value::Text(t) => Err(StoreError::Corrupt(format!(
                "{column} = {t:?} is not an integer"
            ))),
        }
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.get(column)? {
            Value::Text(t) => Ok(Some(t.clone())),
            Value::NullInt | Value::NullText => Ok(None),
            Value::Int(v) => Err(StoreError::Corrupt(format!("{column} = {v} is not text"))),
        }
    }
}

/// A connection of either backend.
pub(crate) trait Exec: Send {
    fn backend(&self) -> crate::Backend;
    /// How a writing transaction starts on this backend.
    fn begin_sql(&self) -> &'static str;
    /// Whether alike one-row inserts are worth sending as one statement: yes where every
    /// statement is a network round trip.
    fn coalesces_inserts(&self) -> bool {
        false
    }
    /// Runs one statement; the number of rows it changed.
    fn exec(
        &mut self,
        sql: &str,
        args: &[Value],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Runs `statements` in order, in one round trip where the backend can; the rows each
    /// changed. An error stops the rest.
    fn exec_all(
        &mut self,
        statements: &[(&str, &[Value])],
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send {
        exec_each(self, statements)
    }
    /// Runs SQL text without parameters, possibly several statements.
    fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn query<T: Send>(
        &mut self,
        sql: &str,
        args: &[Value],
        decode: Decode<T>,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send;
}

/// Runs `statements` one at a time; the rows each changed. An error stops the rest.
pub(crate) async fn exec_each<C: Exec + ?Sized>(
    conn: &mut C,
    statements: &[(&str, &[Value])],
) -> Result<Vec<u64>, StoreError> {
    let mut changed = Vec::with_capacity(statements.len());
    for (sql, args) in statements {
        changed.push(conn.exec(sql, args).await?);
    }
    Ok(changed)
}
