//! `paylink backup` and `paylink restore`: online copies of the SQLite database, with a
//! progress bar at a terminal.

use crate::progress::bar;
use crate::Failure;
use clap::Args;
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
