//! Online copies of a SQLite database: `paylink backup` while the server runs, and
//! `paylink restore` of such a copy. PostgreSQL has its own tools (pg_dump, base backups with
//! WAL archiving); see docs/operations.md.
//!
//! The copy is made with SQLite's backup API inside one read transaction on the source, so it
//! is the database as of one instant (WAL readers do not block the writer), and it proceeds in
//! steps to report progress instead of restarting whenever the server commits.

use crate::sqlite::path_of;
use crate::StoreError;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Pages copied per step (4 KiB each): progress about every megabyte.
const PAGES_PER_STEP: std::ffi::c_int = 256;

/// Progress of a copy: pages done out of all pages.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The SQLite file a `sqlite:` URL names, or the reason there is none.
pub fn sqlite_file(database_url: &str) -> Result<PathBuf, StoreError> {
    if !database_url.starts_with("sqlite:") {
        return Err(StoreError::Database(
            "backup and restore copy SQLite databases; for PostgreSQL use pg_dump or a base \
             backup with WAL archiving (see docs/operations.md)"
                .into(),
        ));
    }
    path_of(database_url)
}

/// Copies the live database at `from` to a new file `to` (mode 0600: it holds sealed secrets)
/// and checks the copy's integrity.
pub fn backup(from: &Path, to: &Path, progress: Progress<'_>) -> Result<(), StoreError> {
    if !from.exists() {
        return Err(StoreError::Database(format!(
            "{} does not exist",
            from.display()
        )));
    }
    if to.exists() {
        return Err(StoreError::Database(format!(
            "{} exists already: name a new file",
            to.display()
        )));
    }
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    source.busy_timeout(Duration::from_secs(30))?;
    // One snapshot for the whole copy: the server's commits meanwhile are not in it, and do
    // not restart it.
    source.execute_batch("BEGIN")?;
    source.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
    let copied = copy(&source, to, progress);
    let _ = source.execute_batch("COMMIT");
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// Replaces the database at `to` with the copy at `from`, which is checked first. The server
/// must be stopped. The new file is written beside the old one and renamed over it, so a
/// failure halfway leaves the old database as it was.
pub fn restore(from: &Path, to: &Path, progress: Progress<'_>) -> Result<(), StoreError> {
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    check_integrity(&source, from)?;
    let mut staged = to.as_os_str().to_owned();
    staged.push(".restoring");
    let staged = PathBuf::from(staged);
    let _ = std::fs::remove_file(&staged);
    if let Err(e) = copy(&source, &staged, progress) {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    // The old file's write-ahead log belongs to the old database: it must not be replayed
    // into the restored one.
    for suffix in ["-wal", "-shm"] {
        let mut side = to.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::Database(format!("cannot remove {suffix}: {e}"))),
        }
    }
    std::fs::rename(&staged, to)
        .map_err(|e| StoreError::Database(format!("cannot move the restored file: {e}")))
}

fn copy(source: &Connection, to: &Path, progress: Progress<'_>) -> Result<(), StoreError> {
    create_private(to)?;
    let mut target = Connection::open(to)?;
    {
        let backup = Backup::new(source, &mut target)?;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            progress(total.saturating_sub(p.remaining.max(0) as u64), total);
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                // Another connection holds a lock on the target (it is ours alone) or the
                // source: wait a moment and go on.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    check_integrity(&target, to)
}

/// Creates `path` empty, readable by its owner only, before SQLite writes into it.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", path.display())))
}

fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "{} failed its integrity check: {verdict}",
            path.display()
        )))
    }
}
