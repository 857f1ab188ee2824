//! `paylink backup` and `paylink restore`: online copies of the SQLite database, with a
//! progress bar at a terminal; and the counter other long commands show.

use crate::Failure;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use paylink_store::backup;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct BackupArgs {
    /// The new file to write (it must not exist).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup to restore.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Replace an existing database.
    #[arg(long)]
    force: bool,
    /// One JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// A bar on stderr at a terminal (hidden otherwise), in pages copied.
fn bar(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% ({pos}/{len} pages)")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

/// A spinner with a running count on stderr at a terminal (hidden otherwise), for work whose
/// total is not known up front (re-sealing).
pub fn counter(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {pos} values ({elapsed})")
            .expect("a valid template"),
    );
    bar.set_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Migrations applied as a command opens the database, shown as a bar at a terminal (a
/// migration that rewrites a big table takes a while).
pub struct MigrationBar(ProgressBar);

impl MigrationBar {
    pub fn new() -> MigrationBar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("migrating [{bar:40}] {pos}/{len} ({elapsed})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        MigrationBar(bar)
    }
}

impl paylink_store::BatchObserver for MigrationBar {
    fn committed(&self, _plans: usize, _failed: usize, _took: std::time::Duration) {}

    fn migrated(&self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        if done == total {
            self.0.finish_and_clear();
        }
    }
}

/// Runs a copy on a blocking thread (SQLite's backup API blocks), with a bar.
async fn copy_with_bar(
    what: &'static str,
    copy: impl FnOnce(&mut dyn FnMut(u64, u64)) -> Result<(), paylink_store::StoreError>
        + Send
        + 'static,
) -> Result<u64, Failure> {
    let progress = bar(what);
    let shown = progress.clone();
    let pages = tokio::task::spawn_blocking(move || {
        let mut pages = 0;
        copy(&mut |done, total| {
            shown.set_length(total);
            shown.set_position(done);
            pages = total;
        })
        .map(|()| pages)
    })
    .await
    .map_err(|e| Failure(format!("the copy stopped: {e}")))?;
    progress.finish_and_clear();
    Ok(pages?)
}

pub async fn backup(url: &str, args: BackupArgs) -> Result<(), Failure> {
    let from = backup::sqlite_file(url)?;
    let to = args.to.clone();
    let pages = copy_with_bar("backing up", move |p| backup::backup(&from, &to, p)).await?;
    crate::report(
        args.json,
        json!({"backup": args.to, "pages": pages, "integrity": "ok"}),
        format!(
            "backed up to {} ({pages} pages, integrity ok)",
            args.to.display()
        ),
    );
    Ok(())
}

pub async fn restore(url: &str, args: RestoreArgs) -> Result<(), Failure> {
    let to = backup::sqlite_file(url)?;
    if to.exists() && !args.force {
        return Err(Failure(format!(
            "{} exists: stop the server, then run restore again with --force to replace it",
            to.display()
        )));
    }
    let (from, target) = (args.from.clone(), to.clone());
    let pages = copy_with_bar("restoring", move |p| backup::restore(&from, &target, p)).await?;
    crate::report(
        args.json,
        json!({"restored": to, "from": args.from, "pages": pages}),
        format!(
            "restored {} from {} ({pages} pages); start the server to serve it",
            to.display(),
            args.from.display()
        ),
    );
    Ok(())
}
