//! `paylink postback purge`: one pass of the outbox's retention by hand (the dispatching
//! servers run one every ten minutes), and what the daily summary holds afterwards.

use crate::{now, report, Failure};
use clap::Args;
use paylink_core::time::format_datetime;
use paylink_server::workers::retention;
use paylink_store::Store;
use serde_json::json;

#[derive(Args)]
pub struct PurgeArgs {
    /// Remove postbacks, SMS and emails finished (delivered, failed, kept) more than N days
    /// ago [default: `[postbacks] retention_days`, 30]. Pending ones always stay.
    #[arg(long, value_name = "N")]
    older_than_days: Option<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn purge(store: &Store, args: PurgeArgs, retention_days: u32) -> Result<(), Failure> {
    let days = args.older_than_days.unwrap_or(retention_days);
    let Some(before) = retention::cutoff(now(), days) else {
        return Err(Failure(
            "retention is off (retention_days = 0 keeps every postback): give \
             --older-than-days N (at least 1) to remove finished ones older than N days"
                .into(),
        ));
    };
    let purged = retention::purge(store, before, || true).await?;
    let totals = store.outbox_history_totals().await?;
    let day = |ms: i64| format_datetime(ms)[..10].to_string();
    let mut human = vec![format!(
        "removed {} finished notice(s) older than {days} day(s) (before {}) and {} attempt(s)",
        purged.notices,
        format_datetime(before),
        purged.attempts
    )];
    if totals.is_empty() {
        human.push("the summary (outbox_history) is empty".into());
    } else {
        human.push("the summary (outbox_history) holds:".into());
    }
    for t in &totals {
        human.push(format!(
            "  {} {}: {} notice(s), {} attempt(s), days {} to {}",
            t.kind.as_str(),
            t.state.as_str(),
            t.notices,
            t.attempts,
            day(t.first_day),
            day(t.last_day)
        ));
    }
    report(
        args.json,
        json!({
            "older_than_days": days,
            "before": format_datetime(before),
            "removed": {"notices": purged.notices, "attempts": purged.attempts},
            "summary": totals.iter().map(|t| json!({
                "kind": t.kind.as_str(),
                "state": t.state.as_str(),
                "notices": t.notices,
                "attempts": t.attempts,
                "first_day": day(t.first_day),
                "last_day": day(t.last_day),
            })).collect::<Vec<_>>(),
        }),
        human.join("\n"),
    );
    Ok(())
}
