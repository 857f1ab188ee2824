//! Operator commands for disputes (what payers wrote through the customer pages): the queue,
//! one dispute with its messages, and an operator's reply (emailed to the payer).

use crate::{now, report, Failure};
use clap::Subcommand;
use paylink_core::dispute::{Dispute, DisputeStatus};
use paylink_core::id::DisputeId;
use paylink_core::time::format_datetime;
use paylink_server::ops::accounts::Mailer;
use paylink_server::ops::console::disputes::queue;
use paylink_server::ops::disputes;
use paylink_store::{Keyset, Store};
use serde_json::json;

#[derive(Subcommand)]
pub enum DisputeCommand {
    /// Disputes in a status, oldest first (the queue; default: open).
    List {
        #[arg(long, value_parser = ["open", "answered", "closed"], default_value = "open")]
        status: String,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// The next page: the `cursor` of the last dispute shown (`<created_at>.<id>`).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One dispute with its messages.
    Show {
        #[arg(long, value_name = "ID")]
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Answer a dispute as the operator; the payer gets the text by email.
    Reply {
        #[arg(long, value_name = "ID")]
        id: String,
        #[arg(long)]
        text: String,
        /// Close the dispute with this answer (closed is final).
        #[arg(long)]
        close: bool,
        #[arg(long)]
        json: bool,
    },
}

async fn load(store: &Store, id: &str) -> Result<paylink_core::dispute::Dispute, Failure> {
    let parsed =
        DisputeId::parse(id).ok_or_else(|| Failure(format!("no dispute with id {id:?}")))?;
    store
        .dispute(&parsed)
        .await?
        .ok_or_else(|| Failure(format!("no dispute with id {id:?}")))
}

pub async fn dispute(store: &Store, mailer: &Mailer<'_>, c: DisputeCommand) -> Result<(), Failure> {
    match c {
        DisputeCommand::List {
            status,
            limit,
            after,
            json,
        } => {
            let status = DisputeStatus::parse(&status).unwrap_or(DisputeStatus::Open);
            let after = match after {
                Some(text) => Some(Keyset::parse(&text).ok_or_else(|| {
                    Failure(format!(
                        "--after takes a dispute's cursor (<created_at>.<id>), not {text:?}"
                    ))
                })?),
                None => None,
            };
            let limit = limit.clamp(1, 10_000);
            let page = queue(store, Some(status), after.as_ref(), limit).await?;
            let cursor = |d: &Dispute| Keyset::of(d.created_at, d.id.as_str());
            let next = page.next(|(d, _)| cursor(d));
            let list: Vec<_> = page.items.into_iter().map(|(d, _)| d).collect();
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|d| {
                        json!({
                            "cursor": cursor(d).to_string(),
                            "id": d.id.as_str(),
                            "merchant_id": d.merchant_id.as_ref().map(|m| m.as_str()),
                            "payment_id": d.payment_id.as_ref().map(|p| p.as_str()),
                            "email": d.email,
                            "status": d.status.as_str(),
                            "created_at": format_datetime(d.created_at),
                            "answer_due": format_datetime(d.answer_due()),
                        })
                    })
                    .collect();
                println!("{}", json!(items));
            } else if list.is_empty() {
                println!("no {} disputes", status.as_str());
            } else {
                for d in &list {
                    println!(
                        "{}  {}  due {}  {}  merchant {}",
                        d.id,
                        format_datetime(d.created_at),
                        format_datetime(d.answer_due()),
                        d.email,
                        d.merchant_id.as_ref().map_or("-", |m| m.as_str())
                    );
                }
                if let Some(next) = next {
                    println!(
                        "more: paylink dispute list --status {} --limit {limit} --after {next}",
                        status.as_str()
                    );
                }
            }
        }
        DisputeCommand::Show { id, json } => {
            let d = load(store, &id).await?;
            let messages = store.dispute_messages(&d.id).await?;
            let value = json!({
                "id": d.id.as_str(),
                "merchant_id": d.merchant_id.as_ref().map(|m| m.as_str()),
                "payment_id": d.payment_id.as_ref().map(|p| p.as_str()),
                "email": d.email,
                "status": d.status.as_str(),
                "created_at": format_datetime(d.created_at),
                "messages": messages.iter().map(|m| json!({
                    "author": m.author.as_str(),
                    "text": m.text,
                    "created_at": format_datetime(m.created_at),
                })).collect::<Vec<_>>(),
            });
            let mut human = format!("dispute {} ({}), {}\n", d.id, d.status.as_str(), d.email);
            for m in &messages {
                human.push_str(&format!(
                    "\n{} {}:\n{}\n",
                    format_datetime(m.created_at),
                    m.author.as_str(),
                    m.text
                ));
            }
            report(json, value, human);
        }
        DisputeCommand::Reply {
            id,
            text,
            close,
            json,
        } => {
            let d = load(store, &id).await?;
            let status = if close {
                disputes::close(store, mailer, &crate::cli_actor(), &d, &text, now())
                    .await
                    .map_err(|e| Failure(e.to_string()))?;
                DisputeStatus::Closed
            } else {
                disputes::reply(store, mailer, &d, Some(&crate::cli_actor()), &text, now())
                    .await
                    .map_err(|e| Failure(e.to_string()))?
            };
            report(
                json,
                json!({"id": d.id.as_str(), "status": status.as_str()}),
                format!(
                    "dispute {} is {}; the payer is emailed",
                    d.id,
                    status.as_str()
                ),
            );
        }
    }
    Ok(())
}
