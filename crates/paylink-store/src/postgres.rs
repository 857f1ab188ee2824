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
            // Connection exceptions, a server shutting down or starting, a read-only node; and
            // a deadlock or serialization failure, which the writer also answers by running the
            // whole batch again (PostgreSQL aborted it for no fault of its plans).
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    (c.starts_with("08") && c != "08P01")
                        || c.starts_with("57P")
                        || c == "25006"
                        || c == "40P01"
                        || c == "40001"
                }) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            // The network, or no connection to the primary in time. A pool closed by this
            // process's own shutdown is not an outage to retry.
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => {
                StoreError::Unavailable(e.to_string())
            }
            // A connection cut while TLS is negotiated: the handshake fails, or (sqlx reads an
            // EOF as the byte 0) the answer to the TLS request makes no sense.
            sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Protocol(m) if m.starts_with("unexpected response from SSLRequest") => {
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
    // The server logs the text of a failed statement, which for a batch's script holds its
    // values. Only a superuser may turn that off here; otherwise see docs/operations.md.
    let _ = conn.execute("SET log_min_error_statement = panic").await;
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

    async fn exec_all(&mut self, statements: &[(&str, &[Value])]) -> Result<Vec<u64>, StoreError> {
        let mut script = String::new();
        for (sql, args) in statements {
            if !inline(sql, args, &mut script) {
                return crate::sql::exec_each(self, statements).await;
            }
            script.push_str(";\n");
        }
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        use futures_util::StreamExt;
        let mut results = sqlx::raw_sql(&script).execute_many(&mut *self);
        let mut changed = Vec::with_capacity(statements.len());
        while let Some(result) = results.next().await {
            changed.push(result?.rows_affected());
        }
        if changed.len() != statements.len() {
            return Err(StoreError::Database(format!(
                "a script of {} statements answered {}",
                statements.len(),
                changed.len()
            )));
        }
        Ok(changed)
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

/// Appends `sql` with its `$n` placeholders replaced by `args` written as literals of the types
/// they are bound with (`int8`, `text`), quoted as libpq's `PQescapeLiteral` quotes: the
/// statements of a script (the simple protocol) take no parameters. False, with `out` to be
/// dropped, for what cannot be written so: a placeholder without a value, a NUL (it would end
/// the protocol's query string), or SQL the scan does not follow; the caller then binds.
fn inline(sql: &str, args: &[Value], out: &mut String) -> bool {
    let mut copied = 0;
    let mut quote = None;
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                return false;
            }
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            // What the scan does not follow (comments, backslash escapes, dollar quoting) is
            // left to binding.
            '\\' => return false,
            '-' | '/' if matches!(chars.peek(), Some((_, '-' | '*'))) => return false,
            '$' => {
                let mut end = i + 1;
                while let Some((j, d)) = chars.peek().copied() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    end = j + 1;
                    chars.next();
                }
                if end == i + 1 {
                    return false;
                }
                let Some(value) = sql[i + 1..end]
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| args.get(n.checked_sub(1)?))
                else {
                    return false;
                };
                out.push_str(&sql[copied..i]);
                match value {
                    Value::Int(v) => {
                        out.push('\'');
                        out.push_str(&v.to_string());
                        out.push_str("'::int8");
                    }
                    Value::NullInt => out.push_str("NULL::int8"),
                    Value::NullText => out.push_str("NULL::text"),
                    Value::Text(t) => {
                        if t.contains('\0') {
                            return false;
                        }
                        // E'' takes backslash escapes whatever standard_conforming_strings is.
                        out.push_str("E'");
                        for ch in t.chars() {
                            match ch {
                                '\'' => out.push_str("''"),
                                '\\' => out.push_str("\\\\"),
                                ch => out.push(ch),
                            }
                        }
                        out.push_str("'::text");
                    }
                }
                copied = end;
            }
            _ => {}
        }
    }
    out.push_str(&sql[copied..]);
    true
}

#[cfg(test)]
mod tests {
    use super::inline;
    use crate::sql::Value;

    fn inlined(sql: &str, args: &[Value]) -> Option<String> {
        let mut out = String::new();
        inline(sql, args, &mut out).then_some(out)
    }

    #[test]
    fn placeholders_become_typed_literals_and_quoted_text_is_left_alone() {
        let args = [
            Value::Int(-9_223_372_036_854_775_808),
            Value::Text("o'clock \\ $1 ' OR 1=1 --".into()),
            Value::NullInt,
            Value::NullText,
        ];
        assert_eq!(
            inlined(
                "UPDATE t SET a = a - $1, b = $2 WHERE c = '$3' AND d IS $3 AND \"$4\" = $4 AND e = $10",
                &[args.to_vec(), vec![Value::Int(0); 5], vec![Value::Int(7)]].concat()
            )
            .as_deref(),
            Some(
                "UPDATE t SET a = a - '-9223372036854775808'::int8, \
                 b = E'o''clock \\\\ $1 '' OR 1=1 --'::text WHERE c = '$3' AND d IS NULL::int8 \
                 AND \"$4\" = NULL::text AND e = '7'::int8"
            )
        );
    }

    /// On a real PostgreSQL (the suite's PostgreSQL run): a script of inserts and updates
    /// stores every value exactly as bound, and counts each statement's rows.
    #[tokio::test]
    async fn a_script_stores_values_exactly_as_sent() {
        use crate::sql::Exec;
        use sqlx::Connection;
        let Ok(url) = std::env::var("PAYLINK_TEST_DATABASE_URL") else {
            return;
        };
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        conn.batch("CREATE TEMP TABLE script_values (n BIGINT PRIMARY KEY, s TEXT)")
            .await
            .unwrap();
        let texts = [
            "it's",
            "'); DROP TABLE script_values; --",
            "back\\slash \\' E'\\x41' \\",
            "$1 $2 $$ $tag$ ::int8 -- /* ",
            "line\nbreak\ttab; COMMIT",
            "Ёлка 🎄 \"double\" ''",
            "",
        ];
        let mut rows: Vec<Vec<Value>> = texts
            .iter()
            .zip(1i64..)
            .map(|(t, n)| vec![Value::Int(n), Value::Text(t.to_string())])
            .collect();
        rows.push(vec![Value::Int(i64::MIN), Value::NullText]);
        let mut script: Vec<(&str, &[Value])> = rows
            .iter()
            .map(|r| {
                (
                    "INSERT INTO script_values (n, s) VALUES ($1, $2)",
                    r.as_slice(),
                )
            })
            .collect();
        let update = [Value::Int(-1), Value::Int(i64::MIN)];
        script.push(("UPDATE script_values SET n = n - $1 WHERE n = $2", &update));
        let none = [Value::NullInt];
        script.push(("UPDATE script_values SET s = 'x' WHERE n = $1", &none));
        let changed = conn.exec_all(&script).await.unwrap();
        assert_eq!(changed, [vec![1; rows.len() + 1], vec![0]].concat());
        let stored = conn
            .query("SELECT n, s FROM script_values ORDER BY n", &[], |r| {
                Ok((r.i64("n")?, r.opt_text("s")?))
            })
            .await
            .unwrap();
        let mut expected: Vec<(i64, Option<String>)> = texts
            .iter()
            .zip(1i64..)
            .map(|(t, n)| (n, Some(t.to_string())))
            .collect();
        expected.insert(0, (i64::MIN + 1, None));
        assert_eq!(stored, expected);
    }

    #[test]
    fn what_cannot_be_inlined_is_refused() {
        assert_eq!(inlined("SELECT $2", &[Value::Int(1)]), None);
        assert_eq!(inlined("SELECT $0", &[Value::Int(1)]), None);
        assert_eq!(inlined("SELECT $1", &[Value::Text("a\0b".into())]), None);
        assert_eq!(inlined("SELECT 1", &[]).as_deref(), Some("SELECT 1"));
        // Comments, escapes and dollar quoting in the statement itself.
        for sql in [
            "SELECT $1 -- $1",
            "SELECT $1 /* $1 */",
            "SELECT E'\\'', $1",
            "SELECT $$ $1 $$",
            "SELECT $a$ x $a$, $1",
        ] {
            assert_eq!(inlined(sql, &[Value::Int(1)]), None, "{sql}");
        }
        assert_eq!(
            inlined("SELECT 4-$1, 4/$1", &[Value::Int(-1)]).as_deref(),
            Some("SELECT 4-'-1'::int8, 4/'-1'::int8")
        );
        assert_eq!(
            inlined("SELECT 'é', $1", &[Value::Text("ж".into())]).as_deref(),
            Some("SELECT 'é', E'ж'::text")
        );
    }
}
