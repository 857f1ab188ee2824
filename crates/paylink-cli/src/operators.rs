//! Operator commands: the console's operators (`paylink operator`) and the audit log
//! (`paylink audit list`). The CLI acts as `cli@<host user>`, and what it does is audited too.

use crate::{cli_actor, now, report, Failure};
use clap::Subcommand;
use paylink_core::audit::Role;
use paylink_core::time::{format_datetime, parse_filter_date, DayEdge};
use paylink_server::ops::accounts::Mailer;
use paylink_server::ops::{operators, OpError};
use paylink_store::{AuditFilter, Store};
use serde_json::json;

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// A new console operator; prints a one-time link (7 days) to choose a password.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "support"], default_value = "support")]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// Every operator with role, second factor and access.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Changes an operator's role, or takes their access away or gives it back.
    Set {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "support"])]
        role: Option<String>,
        /// `true`: every session ends and sign-in is refused.
        #[arg(long)]
        disabled: Option<bool>,
        #[arg(long)]
        json: bool,
    },
    /// A new one-time link (1 hour) for an operator who lost their password.
    ResetLink {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Turns an operator's second factor off (a lost phone); they can turn it on again.
    ResetTotp {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// The newest audit entries, newest first.
    List {
        /// Exactly this operator (`cli@root` for the CLI run as root).
        #[arg(long)]
        actor: Option<String>,
        /// Actions starting with this (`payout.` for every payout action).
        #[arg(long)]
        action: Option<String>,
        /// Exactly this object (a merchant, payout, dispute id, ...).
        #[arg(long)]
        target: Option<String>,
        /// From this UTC day (YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// To this UTC day, inclusive.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

fn role(text: &str) -> Result<Role, Failure> {
    Role::parse(text).ok_or_else(|| Failure(format!("unknown role {text:?}")))
}

async fn by_email(store: &Store, email: &str) -> Result<paylink_core::account::Account, Failure> {
    let normal = paylink_core::account::normalize_email(email)
        .map_err(|_| Failure(format!("{email:?} is not an email address")))?;
    store
        .account_by_email(paylink_core::account::AccountKind::Operator, &normal)
        .await?
        .ok_or_else(|| Failure(format!("no operator with email {email:?}")))
}

fn refused(e: OpError) -> Failure {
    match e {
        OpError::Domain(paylink_core::DomainError::Invalid {
            kind: paylink_core::error::Rule::Taken,
            ..
        }) => Failure("an operator with this email exists".into()),
        OpError::Domain(paylink_core::DomainError::Invalid {
            kind: paylink_core::error::Rule::Refused { reason },
            ..
        }) => Failure(reason),
        e => e.into(),
    }
}

pub async fn operator(
    store: &Store,
    keys: &paylink_server::keys::InstanceKeys,
    mailer: &Mailer<'_>,
    c: OperatorCommand,
) -> Result<(), Failure> {
    let actor = cli_actor();
    match c {
        OperatorCommand::Create {
            email,
            role: r,
            json,
        } => {
            let made = operators::create(store, mailer, &actor, &email, role(&r)?, now())
                .await
                .map_err(refused)?;
            report(
                json,
                json!({"email": made.account.email, "role": r, "sign_in_link": made.link}),
                format!(
                    "operator {} ({r}); sign-in link (one-time, valid 7 days):\n{}",
                    made.account.email, made.link
                ),
            );
        }
        OperatorCommand::List { json } => {
            let list = operators::list(store).await?;
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|a| {
                        json!({
                            "email": a.email,
                            "role": a.role,
                            "totp": a.totp_sealed.is_some(),
                            "password_set": a.password_hash.is_some(),
                            "disabled": a.disabled_at.is_some(),
                            "created_at": format_datetime(a.created_at),
                        })
                    })
                    .collect();
                println!("{}", json!({ "operators": rows }));
            } else if list.is_empty() {
                println!("no operators (paylink operator create --email E --role admin)");
            } else {
                for a in &list {
                    println!(
                        "{}  {}{}{}{}",
                        a.email,
                        a.role.as_deref().unwrap_or("-"),
                        if a.totp_sealed.is_some() {
                            "  totp"
                        } else {
                            ""
                        },
                        if a.password_hash.is_none() {
                            "  (invited)"
                        } else {
                            ""
                        },
                        if a.disabled_at.is_some() {
                            "  DISABLED"
                        } else {
                            ""
                        },
                    );
                }
            }
        }
        OperatorCommand::Set {
            email,
            role: r,
            disabled,
            json,
        } => {
            let a = by_email(store, &email).await?;
            let new_role = match r {
                Some(r) => role(&r)?,
                None => a
                    .role
                    .as_deref()
                    .and_then(Role::parse)
                    .unwrap_or(Role::Support),
            };
            let disabled = disabled.unwrap_or(a.disabled_at.is_some());
            let done =
                operators::set_access(store, &actor, a.id.as_str(), new_role, disabled, now())
                    .await
                    .map_err(refused)?;
            report(
                json,
                json!({"email": done.email, "role": done.role, "disabled": done.disabled_at.is_some()}),
                format!(
                    "operator {}: {}{}",
                    done.email,
                    done.role.as_deref().unwrap_or("-"),
                    if done.disabled_at.is_some() {
                        ", disabled"
                    } else {
                        ""
                    }
                ),
            );
        }
        OperatorCommand::ResetLink { email, json } => {
            let a = by_email(store, &email).await?;
            let url = operators::reset_link(store, mailer, &actor, a.id.as_str(), now())
                .await
                .map_err(refused)?;
            report(
                json,
                json!({"email": a.email, "sign_in_link": url}),
                format!("one-time link (valid 1 hour):\n{url}"),
            );
        }
        OperatorCommand::ResetTotp { email, json } => {
            let a = by_email(store, &email).await?;
            operators::disable_totp(store, keys, &actor, &a, None, now())
                .await
                .map_err(refused)?;
            report(
                json,
                json!({"email": a.email, "totp": false}),
                format!("operator {}: second factor off", a.email),
            );
        }
    }
    Ok(())
}

fn day(flag: &str, text: Option<String>, edge: DayEdge) -> Result<Option<i64>, Failure> {
    text.map(|t| {
        parse_filter_date(&t, edge)
            .ok_or_else(|| Failure(format!("{flag}: {t:?} is not a date (YYYY-MM-DD)")))
    })
    .transpose()
}

pub async fn audit(store: &Store, c: AuditCommand) -> Result<(), Failure> {
    let AuditCommand::List {
        actor,
        action,
        target,
        from,
        to,
        limit,
        json,
    } = c;
    let filter = AuditFilter {
        actor,
        action,
        target,
        from: day("--from", from, DayEdge::Start)?,
        to: day("--to", to, DayEdge::End)?,
        before: None,
    };
    let list = store.audit_entries(&filter, limit.clamp(1, 10_000)).await?;
    if json {
        let rows: Vec<_> = list
            .iter()
            .map(|e| {
                json!({
                    "at": format_datetime(e.at),
                    "actor": e.actor,
                    "role": e.role,
                    "address": e.address,
                    "action": e.action,
                    "target": e.target,
                    "before": e.before,
                    "after": e.after,
                })
            })
            .collect();
        println!("{}", json!({ "entries": rows }));
    } else {
        for e in &list {
            println!(
                "{}  {} ({}{})  {}  {}  {} -> {}",
                format_datetime(e.at),
                e.actor,
                e.role,
                if e.address.is_empty() {
                    String::new()
                } else {
                    format!(", {}", e.address)
                },
                e.action,
                e.target,
                if e.before.is_empty() { "-" } else { &e.before },
                if e.after.is_empty() { "-" } else { &e.after },
            );
        }
    }
    Ok(())
}
