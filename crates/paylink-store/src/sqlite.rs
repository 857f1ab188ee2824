//! SQLite through rusqlite, in-process: a point read costs microseconds, with no thread hop.
//! The file is in WAL mode; the writer connection commits with `synchronous=FULL`.

use crate::sql::{Columns, Decode, Exec, Value};
use crate::StoreError;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            // Only a taken key is a Conflict (callers draw a new id on it), as on PostgreSQL; a
            // broken reference or a failed CHECK is not.
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == ErrorCode::ConstraintViolation
                    && matches!(
                        f.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
            {
                StoreError::Conflict(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// `sqlite://PATH`, `sqlite:PATH` or `sqlite:///ABS/PATH`, any `?query` ignored.
pub(crate) fn path_of(url: &str) -> Result<PathBuf, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::Database(format!(
            "{url:?}: name a database file, e.g. sqlite://paylink.db (in-memory SQLite is not supported)"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Creates a missing database file readable by its owner only. SQLite gives the WAL and
/// shared-memory files it creates beside it the mode of the database file, so those are 0600 too.
/// An existing file keeps the mode its operator gave it.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// How long a statement waits for the write lock another connection holds.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn open(path: &Path, writer: bool) -> Result<Connection, StoreError> {
    if writer {
        create_private(path)?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    // Plans must not depend on bound values: without this, binding a new value re-prepares
    // the statement on every execution (measured: half of all instructions of a point read).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    if writer {
        // WAL is a property of the file; FULL makes every COMMIT durable. Checkpoints every
        // 10,000 pages (about 40 MiB) instead of 1,000: a page dirtied again and again between
        // checkpoints is copied back once (measured: payments 5,200/s -> 6,300/s).
        // Processes opening a new file together race to make it WAL; the switch can answer
        // "database is locked" at once (SQLite calls no busy handler there): try again.
        let pragmas = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;";
        let started = std::time::Instant::now();
        loop {
            match conn.execute_batch(pragmas) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                done => break done?,
            }
        }
    }
    Ok(conn)
}

const PARAMETER_NAMES: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

fn run(
    conn: &Connection,
    sql: &str,
    args: &[Value],
    mut each: impl FnMut(&rusqlite::Row<'_>),
) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    for (i, arg) in args.iter().enumerate() {
        // SQLite numbers `$n` parameters by first appearance, not by n: use position n when
        // it holds `$n` (our SQL introduces them in order), else look the name up.
        let spelled;
        let name = match PARAMETER_NAMES.get(i) {
            Some(name) => *name,
            None => {
                spelled = format!("${}", i + 1);
                spelled.as_str()
            }
        };
        let index = if stmt.parameter_name(i + 1) == Some(name) {
            i + 1
        } else {
            match stmt.parameter_index(name)? {
                Some(index) => index,
                None => continue,
            }
        };
        match arg {
            Value::Int(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Text(t) => stmt.raw_bind_parameter(index, t.as_str())?,
            Value::NullInt | Value::NullText => {
                stmt.raw_bind_parameter(index, rusqlite::types::Null)?
            }
        }
    }
    if stmt.column_count() == 0 {
        return Ok(stmt.raw_execute()?);
    }
    let mut rows = stmt.raw_query();
    let mut n = 0;
    while let Some(row) = rows.next()? {
        each(row);
        n += 1;
    }
    Ok(n)
}

/// A connection and the column names of each statement it has run.
pub(crate) struct SqliteConn {
    conn: Connection,
    names: HashMap<String, Arc<[Box<str>]>, BuildHasherDefault<SqlHasher>>,
    /// The last statement's text and names: a connection mostly runs one query again.
    last: Option<(String, Arc<[Box<str>]>)>,
}

/// A multiplicative hash for SQL texts: they are our own constants, so no flooding defence is
/// needed, and SipHash over a 600-byte SELECT costs more than the point read it serves.
#[derive(Default)]
pub(crate) struct SqlHasher(u64);

impl Hasher for SqlHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl SqliteConn {
    pub fn open(path: &Path, writer: bool) -> Result<SqliteConn, StoreError> {
        Ok(SqliteConn {
            conn: open(path, writer)?,
            names: HashMap::default(),
            last: None,
        })
    }

    /// How long a statement waits for another connection's write lock before it fails.
    pub fn set_busy_timeout(&self, wait: Duration) -> Result<(), StoreError> {
        Ok(self.conn.busy_timeout(wait)?)
    }

    fn names_of(&mut self, sql: &str) -> Result<Arc<[Box<str>]>, StoreError> {
        if let Some((last, names)) = &self.last {
            if *last == sql {
                return Ok(names.clone());
            }
        }
        if let Some(names) = self.names.get(sql) {
            let names = names.clone();
            self.last = Some((sql.to_string(), names.clone()));
            return Ok(names);
        }
        let stmt = self.conn.prepare_cached(sql)?;
        let names: Arc<[Box<str>]> = stmt.column_names().map(Box::from).collect();
        drop(stmt);
        self.names.insert(sql.to_string(), names.clone());
        Ok(names)
    }
}

impl Exec for SqliteConn {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Sqlite
    }

    fn begin_sql(&self) -> &'static str {
        // IMMEDIATE takes the write lock up front instead of failing on upgrade.
        "BEGIN IMMEDIATE"
    }

    async fn exec(&mut self, sql: &str, args: &[Value]) -> Result<u64, StoreError> {
        let changed = run(&self.conn, sql, args, |_| {})?;
        Ok(changed as u64)
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    async fn query<T: Send>(
        &mut self,
        sql: &str,
        args: &[Value],
        decode: Decode<T>,
    ) -> Result<Vec<T>, StoreError> {
        let names = self.names_of(sql)?;
        let mut out = Vec::new();
        let mut failure = None;
        run(&self.conn, sql, args, |row| {
            if failure.is_some() {
                return;
            }
            match decode(&SqliteRow {
                row,
                names: &names,
                next: Cell::new(0),
            }) {
                Ok(v) => out.push(v),
                Err(e) => failure = Some(e),
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

/// A row being read. Decoders read columns in about the order the SELECT lists them, so the
/// column after the last one read is tried first.
struct SqliteRow<'a, 'r> {
    row: &'a rusqlite::Row<'r>,
    names: &'a [Box<str>],
    next: Cell<usize>,
}

impl SqliteRow<'_, '_> {
    fn value(&self, column: &str) -> Result<ValueRef<'_>, StoreError> {
        let hint = self.next.get();
        let i = if self.names.get(hint).is_some_and(|n| &**n == column) {
            hint
        } else {
            self.names
                .iter()
                .position(|n| &**n == column)
                .ok_or_else(|| StoreError::Corrupt(format!("no column {column}")))?
        };
        self.next.set(i + 1);
        Ok(self.row.get_ref(i)?)
    }
}

impl Columns for SqliteRow<'_, '_> {
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            ValueRef::Integer(v) => Ok(Some(v)),
            ValueRef::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "{column}: {:?} is not an integer",
                other.data_type()
            ))),
        }
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            ValueRef::Text(t) => Ok(Some(match std::str::from_utf8(t) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(t).into_owned(),
            })),
            ValueRef::Null => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "{column}: {:?} is not text",
                other.data_type()
            ))),
        }
    }
}

/// Read connections, opened on demand and kept for reuse. Reads are point queries of
/// microseconds, so they run inline on the calling task.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<SqliteConn>>,
    keep: usize,
}

impl ReadPool {
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    pub fn new(path: PathBuf, keep: usize) -> Arc<ReadPool> {
        Arc::new(ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
            keep,
        })
    }

    pub fn take(self: &Arc<Self>) -> Result<Pooled, StoreError> {
        let taken = self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None);
        let conn = match taken {
            Some(c) => c,
            None => SqliteConn::open(&self.path, false)?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.clone(),
        })
    }
}

/// A read connection that goes back to its pool when dropped.
pub(crate) struct Pooled {
    conn: Option<SqliteConn>,
    pool: Arc<ReadPool>,
}

impl std::ops::Deref for Pooled {
    type Target = SqliteConn;
    fn deref(&self) -> &SqliteConn {
        self.conn.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut SqliteConn {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.pool.idle.lock()) {
            if idle.len() < self.pool.keep {
                idle.push(conn);
            }
        }
    }
}
