//! PostgreSQL through sqlx: values bound with their types, rows read into owned values.

use crate::sql::{Decode, Exec, Row, Value};
use crate::StoreError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Column, Executor, PgConnection, Row as _, TypeInfo};
use std::sync::Arc;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            // Connection exceptions, a server shutting down or starting, a read-only node.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    (c.starts_with("08") && c != "08P01") || c.starts_with("57P") || c == "25006"
                }) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            // The network, or no connection to the primary in time. A pool closed by this
            // process's own shutdown is not an outage to retry.
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// A writer's connection, to the node that accepts writes.
pub(crate) async fn connect_writer(
    primary: &crate::primary::Primary,
) -> Result<PgConnection, StoreError> {
    let mut conn = primary.connect().await?;
    conn.execute("SET synchronous_commit = on").await?;
    Ok(conn)
}

fn bound<'q>(sql: &'q str, args: &[Value]) -> sqlx::query::Query<'q, sqlx::Postgres, PgArguments> {
    let mut q = sqlx::query(sql);
    for arg in args {
        q = match arg {
            Value::Int(v) => q.bind(*v),
            Value::Text(t) => q.bind(t.clone()),
            Value::NullInt => q.bind(None::<i64>),
            Value::NullText => q.bind(None::<String>),
        };
    }
    q
}

fn owned(rows: Vec<PgRow>) -> Result<Vec<Row>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let names: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let integer: Vec<bool> = first
        .columns()
        .iter()
        .map(|c| matches!(c.type_info().name(), "INT8" | "INT4" | "INT2"))
        .collect();
    rows.iter()
        .map(|r| {
            let values = (0..names.len())
                .map(|i| {
                    Ok(if integer[i] {
                        match r.try_get::<Option<i64>, _>(i) {
                            Ok(v) => v.map_or(Value::NullInt, Value::Int),
                            Err(_) => r
                                .try_get::<Option<i32>, _>(i)?
                                .map_or(Value::NullInt, |v| Value::Int(v.into())),
                        }
                    } else {
                        r.try_get::<Option<String>, _>(i)?
                            .map_or(Value::NullText, Value::Text)
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            Ok(Row {
                names: names.clone(),
                values,
            })
        })
        .collect()
}

impl Exec for PgConnection {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }

    fn begin_sql(&self) -> &'static str {
        "BEGIN"
    }

    fn coalesces_inserts(&self) -> bool {
        true
    }

    async fn exec(&mut self, sql: &str, args: &[Value]) -> Result<u64, StoreError> {
        Ok(bound(sql, args).execute(&mut *self).await?.rows_affected())
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        // Without arguments sqlx uses the simple protocol, which takes several statements.
        Executor::execute(&mut *self, sql).await?;
        Ok(())
    }

    async fn query<T: Send>(
        &mut self,
        sql: &str,
        args: &[Value],
        decode: Decode<T>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = owned(bound(sql, args).fetch_all(&mut *self).await?)?;
        rows.iter().map(|r| decode(r)).collect()
    }
}
