//! PostgreSQL through sqlx: values bound with their types, rows read into owned values.

use crate::sql::{Decode, Exec, Row, Value};
use crate::StoreError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Column, Executor, PgConnection, Row as _, TypeInfo};
use std::collections::HashSet;
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
) -> Result<PgWriter, StoreError> {
    let mut conn = primary.connect().await?;
    conn.execute("SET synchronous_commit = on").await?;
    // The server logs the text of a failed statement, which for a batch's script holds its
    // values. Only a superuser may turn that off here; otherwise see docs/operations.md.
    let _ = conn.execute("SET log_min_error_statement = panic").await;
    Ok(PgWriter {
        conn,
        prepared: HashSet::new(),
        unsure: Vec::new(),
    })
}

/// A writer's connection. A batch's script names its statements: each shape is prepared once on
/// the connection (`PREPARE`, with the types the values are bound with) and run with its
/// values written in (`EXECUTE`), so that PostgreSQL parses, analyses and plans it once per
/// connection rather than once per batch (a quarter of its CPU in a payment run, by perf).
pub(crate) struct PgWriter {
    conn: PgConnection,
    /// The statements prepared on this connection, by name.
    prepared: HashSet<String>,
    /// Prepared by a script that then failed (`PREPARE` is not undone by a rollback, and the
    /// failure may have come first): looked up before the next script.
    unsure: Vec<String>,
}

/// Most statement shapes a writer's connection keeps prepared; past it, new shapes are sent
/// with their values written in, as before. The shapes are the code's statements and the
/// chunk sizes of multi-row inserts: a few hundred at most.
const MAX_PREPARED: usize = 2_000;

impl PgWriter {
    #[cfg(feature = "test-support")]
    pub(crate) async fn close(self) {
        let _ = sqlx::Connection::close(self.conn).await;
    }

    /// The statement's name on this connection and its `PREPARE`, if it is not prepared yet.
    fn name_of(&self, sql: &str, args: &[Value]) -> (String, Option<String>) {
        use std::hash::{Hash, Hasher};
        let types: Vec<&str> = args.iter().map(pg_type).collect();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (sql, &types).hash(&mut h);
        let name = format!("pl_{:016x}", h.finish());
        if self.prepared.contains(&name) {
            return (name, None);
        }
        let prepare = format!("PREPARE {name} ({}) AS {sql}", types.join(", "));
        (name, Some(prepare))
    }

    /// The statements with their values written in, as one script; one at a time, bound,
    /// where they cannot be written so.
    async fn exec_inlined(
        &mut self,
        statements: &[(&str, &[Value])],
    ) -> Result<Vec<u64>, StoreError> {
        let mut script = String::new();
        for (sql, args) in statements {
            if !inline(sql, args, &mut script) {
                return crate::sql::exec_each(&mut self.conn, statements).await;
            }
            script.push_str(";\n");
        }
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        use futures_util::StreamExt;
        let mut results = sqlx::raw_sql(&script).execute_many(&mut self.conn);
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

    /// Forgets the names of `unsure` that the server does not have.
    async fn settle_unsure(&mut self) -> Result<(), StoreError> {
        if self.unsure.is_empty() {
            return Ok(());
        }
        let there: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pg_prepared_statements WHERE name LIKE 'pl\\_%'")
                .fetch_all(&mut self.conn)
                .await?;
        for name in self.unsure.drain(..) {
            if there.contains(&name) {
                self.prepared.insert(name);
            }
        }
        Ok(())
    }
}

/// The type a value is bound with (what `bound` gives sqlx).
fn pg_type(v: &Value) -> &'static str {
    match v {
        Value::Int(_) | Value::NullInt => "int8",
        Value::Text(_) | Value::NullText => "text",
    }
}

/// Whether PostgreSQL can `PREPARE` the statement.
fn preparable(sql: &str) -> bool {
    let head = sql.trim_start();
    ["INSERT", "UPDATE", "DELETE", "SELECT", "WITH"]
        .iter()
        .any(|k| head.len() >= k.len() && head[..k.len()].eq_ignore_ascii_case(k))
}

impl Exec for PgWriter {
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
        self.conn.exec(sql, args).await
    }

    async fn exec_all(&mut self, statements: &[(&str, &[Value])]) -> Result<Vec<u64>, StoreError> {
        self.settle_unsure().await?;
        let mut script = String::new();
        // Per result of the script: the statement it answers for (`None`: a PREPARE).
        let mut answers: Vec<Option<usize>> = Vec::with_capacity(statements.len());
        let mut new = Vec::new();
        for (i, (sql, args)) in statements.iter().enumerate() {
            let (name, prepare) = self.name_of(sql, args);
            let named = preparable(sql)
                && (prepare.is_none() || self.prepared.len() + new.len() < MAX_PREPARED);
            if named {
                if let Some(prepare) = prepare.filter(|_| !new.contains(&name)) {
                    script.push_str(&prepare);
                    script.push_str(";\n");
                    answers.push(None);
                    new.push(name.clone());
                }
                script.push_str("EXECUTE ");
                script.push_str(&name);
                if !args.is_empty() {
                    script.push('(');
                    for (k, v) in args.iter().enumerate() {
                        if k > 0 {
                            script.push_str(", ");
                        }
                        if !literal(v, &mut script) {
                            return self.exec_inlined(statements).await;
                        }
                    }
                    script.push(')');
                }
            } else if !inline(sql, args, &mut script) {
                return self.exec_inlined(statements).await;
            }
            script.push_str(";\n");
            answers.push(Some(i));
        }
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        use futures_util::StreamExt;
        let mut changed = vec![0; statements.len()];
        let mut answered = 0;
        let outcome = async {
            let mut results = sqlx::raw_sql(&script).execute_many(&mut self.conn);
            while let Some(result) = results.next().await {
                let rows = result?.rows_affected();
                if let Some(Some(i)) = answers.get(answered) {
                    changed[*i] = rows;
                }
                answered += 1;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = outcome {
            self.unsure.extend(new);
            return Err(e);
        }
        self.prepared.extend(new);
        if answered != answers.len() {
            return Err(StoreError::Database(format!(
                "a script of {} statements answered {answered}",
                answers.len()
            )));
        }
        Ok(changed)
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.conn.batch(sql).await
    }

    async fn query<T: Send>(
        &mut self,
        sql: &str,
        args: &[Value],
        decode: Decode<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.conn.query(sql, args, decode).await
    }
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
                if !literal(value, out) {
                    return false;
                }
                copied = end;
            }
            _ => {}
        }
    }
    out.push_str(&sql[copied..]);
    true
}

/// Appends `value` as a literal of the type it is bound with; false for a text with a NUL (it
/// would end the protocol's query string).
fn literal(value: &Value, out: &mut String) -> bool {
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
        let Ok(url) = std::env::var("PAYLINK_TEST_DATABASE_URL") else {
            return;
        };
        let primary = crate::primary::Primary::parse(&url).unwrap();
        let mut conn = super::connect_writer(&primary).await.unwrap();
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

    /// PostgreSQL only: a writer's statements are prepared once per connection and run by name;
    /// a script that fails after preparing leaves the writer neither preparing them twice nor
    /// running what it never prepared.
    #[tokio::test]
    async fn statements_are_prepared_once_and_a_failed_script_leaves_no_doubt() {
        use crate::sql::Exec;
        use crate::testing::TestDatabase;
        use crate::StoreError;
        let db = TestDatabase::new().await;
        if !db.is_postgres() {
            eprintln!("skipped: prepared statements are PostgreSQL's (PAYLINK_TEST_DATABASE_URL)");
            return;
        }
        let primary = crate::primary::Primary::parse(&db.url).unwrap();
        let mut w = super::connect_writer(&primary).await.unwrap();
        w.batch("CREATE TEMP TABLE t (id int8 PRIMARY KEY, name text)")
            .await
            .unwrap();
        let ins = "INSERT INTO t (id, name) VALUES ($1, $2)";
        let upd = "UPDATE t SET name = $2 WHERE id = $1";
        let text = "o'clock \\ $1 ' OR 1=1 --";
        let one: [Value; 2] = [Value::Int(1), Value::Text("a".into())];
        let two: [Value; 2] = [Value::Int(2), Value::NullText];
        assert_eq!(
            w.exec_all(&[(ins, &one), (ins, &two)]).await.unwrap(),
            [1, 1]
        );
        assert_eq!(w.prepared.len(), 1, "one shape, prepared once");

        // The update's shape is prepared, then the duplicate key fails the script.
        let renamed: [Value; 2] = [Value::Int(1), Value::Text(text.into())];
        let failed = w.exec_all(&[(upd, &renamed), (ins, &two)]).await;
        assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
        assert_eq!(w.unsure.len(), 1);

        // The next script finds it on the server and runs it by name; nothing else changed.
        let missing: [Value; 2] = [Value::Int(3), Value::Text("y".into())];
        assert_eq!(
            w.exec_all(&[(upd, &renamed), (upd, &missing)])
                .await
                .unwrap(),
            [1, 0]
        );
        assert!(w.unsure.is_empty());
        assert_eq!(w.prepared.len(), 2);
        let rows = w
            .query("SELECT id, name FROM t ORDER BY id", &[], |r| {
                Ok((r.i64("id")?, r.opt_text("name")?))
            })
            .await
            .unwrap();
        assert_eq!(rows, [(1, Some(text.to_string())), (2, None)]);
        let on_server = w
            .query(
                "SELECT count(*) AS n FROM pg_prepared_statements WHERE name LIKE 'pl\\_%'",
                &[],
                |r| r.i64("n"),
            )
            .await
            .unwrap();
        assert_eq!(on_server, [2]);
        w.close().await;
    }
}
