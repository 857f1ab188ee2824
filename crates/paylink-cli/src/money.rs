//! Operator commands for merchant money: the ledger check, FX rates, payout accounts, payout
//! moderation, the SBP banks dictionary and merchants' payout settings.

use crate::{now, report, Failure};
use clap::{Args, Subcommand};
use paylink_core::card::{self, CardNumber};
use paylink_core::id::{MerchantId, PayoutAccountId, PayoutId};
use paylink_core::ledger::FxRate;
use paylink_core::money::{format_fixed, parse_minor, Currency};
use paylink_core::payout::{AccountType, PayoutStatus, Phone};
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use paylink_server::ops::payouts::{self, Destination, Moderation};
use paylink_server::ops::{fx, merchants, sbp_banks, OpError};
use paylink_store::Store;
use serde_json::json;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Re-derive every balance from the postings and check every invariant; exits non-zero
    /// on any mismatch.
    Check {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum FxCommand {
    /// Set (or replace) the rate from one currency to another.
    Set {
        #[arg(long, value_name = "CURRENCY")]
        from: String,
        #[arg(long, value_name = "CURRENCY")]
        to: String,
        /// Units of `--to` per unit of `--from`, up to 8 decimals, e.g. 92.5.
        #[arg(long)]
        rate: String,
        #[arg(long)]
        json: bool,
    },
    /// List the rates.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PayoutAccountCommand {
    /// Register an account the merchant may pay out to with `payout/personal/create`.
    Add {
        #[arg(long, value_name = "ID")]
        merchant: String,
        #[arg(long = "type", value_parser = ["card", "sbp"])]
        account_type: String,
        /// The card number, or the phone number for SBP.
        #[arg(long)]
        identifier: String,
        /// SBP member id of the recipient's bank (SBP only).
        #[arg(long, value_name = "MEMBER_ID")]
        bank: Option<i64>,
        /// Cardholder name (cards only).
        #[arg(long, value_name = "NAME")]
        holder: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Refuse payouts to this account (and to its card or phone from any merchant).
    Ban(AccountRef),
    /// Allow payouts to the account again.
    Unban(AccountRef),
    /// List a merchant's payout accounts.
    List {
        #[arg(long, value_name = "ID")]
        merchant: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct AccountRef {
    #[arg(long, value_name = "ID")]
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum PayoutCommand {
    /// List payouts, newest first (e.g. `--status MODERATING`: those waiting for an operator).
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, value_name = "ID")]
        merchant: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Let a payout waiting in MODERATING go to the provider.
    Approve(PayoutRef),
    /// Refuse a payout waiting in NEW or MODERATING; its money returns to available.
    Decline {
        #[command(flatten)]
        payout: PayoutRef,
        /// Told to the merchant in `error_message` and the webhook.
        #[arg(long, default_value = "Declined by the operator")]
        reason: String,
    },
}

#[derive(Args)]
pub struct PayoutRef {
    #[arg(long, value_name = "ID")]
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum SbpBankCommand {
    /// Add a bank to the dictionary (or update and enable it).
    Add {
        #[arg(long, value_name = "MEMBER_ID")]
        member_id: i64,
        /// Russian name.
        #[arg(long)]
        name: String,
        /// English name.
        #[arg(long)]
        name_en: String,
        #[arg(long)]
        bic: i64,
        #[arg(long)]
        json: bool,
    },
    /// Hide a bank from the dictionary and refuse SBP payouts to it.
    Disable(BankRef),
    /// Offer a disabled bank again.
    Enable(BankRef),
    /// List the dictionary, disabled banks included.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct BankRef {
    #[arg(long, value_name = "MEMBER_ID")]
    member_id: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct MerchantUpdate {
    #[arg(long, value_name = "ID")]
    merchant: String,
    /// http(s) URL for payout webhooks ("" clears it).
    #[arg(long, value_name = "URL")]
    payout_webhook_url: Option<String>,
    /// Hold every payout of the merchant in MODERATING for an operator.
    #[arg(long)]
    payout_moderation: Option<bool>,
    /// Allow `payout/regular/create` (payouts to any card or phone).
    #[arg(long)]
    regular_payouts: Option<bool>,
    /// Most paid out per UTC day, e.g. 100000.00 ("none": the server's default).
    #[arg(long, value_name = "AMOUNT")]
    daily_payout_limit: Option<String>,
    /// Most paid out per UTC month ("none": the server's default).
    #[arg(long, value_name = "AMOUNT")]
    monthly_payout_limit: Option<String>,
    #[arg(long)]
    json: bool,
}

fn currency(flag: &str, text: &str) -> Result<Currency, Failure> {
    text.parse().map_err(|_| {
        Failure(format!(
            "{flag}: unknown currency {text:?}: use RUB, USD, EUR or KZT"
        ))
    })
}

/// A limit flag: `None` when absent (unchanged), `Some(None)` for "none" (the default).
fn limit(flag: &str, text: Option<String>) -> Result<Option<Option<i64>>, Failure> {
    match text.as_deref() {
        None => Ok(None),
        Some("none") | Some("") => Ok(Some(None)),
        Some(t) => parse_minor(t, 2)
            .filter(|v| *v >= 0)
            .map(|v| Some(Some(v)))
            .ok_or_else(|| Failure(format!("{flag}: {t:?} is not an amount"))),
    }
}

/// "no merchant with id X": an id of the right form as it is, anything else quoted.
fn missing(what: &str, id: &str, well_formed: bool) -> String {
    if well_formed {
        format!("no {what} with id {id}")
    } else {
        format!("no {what} with id {id:?}")
    }
}

pub async fn update_merchant(store: &Store, u: MerchantUpdate) -> Result<(), Failure> {
    let url_text = u.payout_webhook_url.clone().unwrap_or_default();
    let daily = limit("--daily-payout-limit", u.daily_payout_limit)?;
    let monthly = limit("--monthly-payout-limit", u.monthly_payout_limit)?;
    let changed = merchants::update_payout_profile(
        store,
        &crate::cli_actor(),
        &u.merchant,
        |profile: &mut paylink_core::payout::PayoutProfile| {
            if let Some(url) = u.payout_webhook_url {
                profile.webhook_url = (!url.is_empty()).then_some(url);
            }
            if let Some(m) = u.payout_moderation {
                profile.moderation = m;
            }
            if let Some(r) = u.regular_payouts {
                profile.regular_payouts = r;
            }
            if let Some(l) = daily {
                profile.daily_limit = l;
            }
            if let Some(l) = monthly {
                profile.monthly_limit = l;
            }
        },
        now(),
    )
    .await;
    let (id, profile) = match changed {
        Ok(done) => done,
        Err(OpError::Domain(DomainError::MerchantNotFound)) => {
            return Err(Failure(format!("no merchant with id {:?}", u.merchant)))
        }
        Err(OpError::Domain(_)) => {
            return Err(Failure(format!(
                "--payout-webhook-url: {url_text:?} is not an http(s) URL"
            )))
        }
        Err(e) => return Err(Failure(e.to_string())),
    };
    let fmt = |l: Option<i64>| l.map(format_fixed);
    report(
        u.json,
        json!({"merchant_id": id.to_string(), "payout_webhook_url": profile.webhook_url,
               "payout_moderation": profile.moderation, "regular_payouts": profile.regular_payouts,
               "daily_payout_limit": fmt(profile.daily_limit), "monthly_payout_limit": fmt(profile.monthly_limit)}),
        format!("merchant {id} updated"),
    );
    Ok(())
}

pub async fn ledger(store: &Store, c: LedgerCommand) -> Result<(), Failure> {
    let LedgerCommand::Check { json } = c;
    let r = store.ledger_check().await?;
    report(
        json,
        json!({"ok": r.problems.is_empty(), "transactions": r.transactions, "postings": r.postings,
               "balances": r.balances, "problems": r.problems}),
        if r.problems.is_empty() {
            format!(
                "ledger ok: {} transactions, {} postings, {} balances",
                r.transactions, r.postings, r.balances
            )
        } else {
            format!("ledger BROKEN:\n  {}", r.problems.join("\n  "))
        },
    );
    if r.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!("{} ledger problems", r.problems.len())))
    }
}

pub async fn fx(store: &Store, c: FxCommand) -> Result<(), Failure> {
    match c {
        FxCommand::Set {
            from,
            to,
            rate,
            json,
        } => {
            let (base, quote) = (currency("--from", &from)?, currency("--to", &to)?);
            if base == quote {
                return Err(Failure("--from and --to are the same currency".into()));
            }
            let parsed = FxRate::parse(&rate).ok_or_else(|| {
                Failure(format!(
                    "--rate: {rate:?} is not a positive decimal with at most 8 places"
                ))
            })?;
            fx::set_rate(store, &crate::cli_actor(), base, quote, parsed, now())
                .await
                .map_err(|e| Failure(e.to_string()))?;
            report(
                json,
                json!({"from": base.code(), "to": quote.code(), "rate": parsed.to_string()}),
                format!("1 {base} = {parsed} {quote}"),
            );
        }
        FxCommand::List { json } => {
            let rates = store.fx_rates().await?;
            let list: Vec<_> = rates
                .iter()
                .map(|(b, q, r)| json!({"from": b.code(), "to": q.code(), "rate": r.to_string()}))
                .collect();
            let human: Vec<String> = rates
                .iter()
                .map(|(b, q, r)| format!("1 {b} = {r} {q}"))
                .collect();
            report(json, json!({"rates": list}), human.join("\n"));
        }
    }
    Ok(())
}

pub async fn payout_account(
    store: &Store,
    keys: &crate::Keys,
    c: PayoutAccountCommand,
) -> Result<(), Failure> {
    match c {
        PayoutAccountCommand::Add {
            merchant,
            account_type,
            identifier,
            bank,
            holder,
            json,
        } => {
            let id = MerchantId::parse(&merchant)
                .ok_or_else(|| Failure(format!("no merchant with id {merchant:?}")))?;
            let destination = match account_type.parse::<AccountType>() {
                Ok(AccountType::Card) => Destination::Card {
                    number: CardNumber::parse(&identifier)
                        .ok_or_else(|| Failure("--identifier: not a valid card number".into()))?,
                    holder: card::holder_name(
                        &holder.ok_or_else(|| Failure("--holder is required for a card".into()))?,
                    )
                    .ok_or_else(|| Failure("--holder: The card holder is invalid.".into()))?,
                },
                _ => Destination::Sbp {
                    phone: Phone::parse(&identifier).ok_or_else(|| {
                        Failure("--identifier: not a Russian mobile phone number".into())
                    })?,
                    bank: bank.ok_or_else(|| Failure("--bank is required for SBP".into()))?,
                },
            };
            let keys = keys.open(store).await?;
            let account =
                payouts::add_account(store, &id, payouts::payee(&keys, destination), now())
                    .await
                    .map_err(crate::about(&merchant))?;
            report(
                json,
                json!({"payout_account_id": account.id.to_string(), "merchant_id": merchant,
                       "type": account.payee.account_type.as_str(), "identifier": account.payee.identifier}),
                format!(
                    "payout account {} ({} {})",
                    account.id,
                    account.payee.account_type.as_str(),
                    account.payee.identifier
                ),
            );
        }
        PayoutAccountCommand::Ban(a) => ban(store, a, true).await?,
        PayoutAccountCommand::Unban(a) => ban(store, a, false).await?,
        PayoutAccountCommand::List { merchant, json } => {
            let id = MerchantId::parse(&merchant)
                .ok_or_else(|| Failure(format!("no merchant with id {merchant:?}")))?;
            let accounts = store.payout_accounts(&id).await?;
            let list: Vec<_> = accounts
                .iter()
                .map(|a| json!({"payout_account_id": a.id.to_string(), "type": a.payee.account_type.as_str(),
                                "identifier": a.payee.identifier, "bank": a.payee.bank_member_id, "banned": a.banned}))
                .collect();
            let human: Vec<String> = accounts
                .iter()
                .map(|a| {
                    format!(
                        "{} {} {}{}",
                        a.id,
                        a.payee.account_type.as_str(),
                        a.payee.identifier,
                        if a.banned { " (banned)" } else { "" }
                    )
                })
                .collect();
            report(json, json!({"accounts": list}), human.join("\n"));
        }
    }
    Ok(())
}

async fn ban(store: &Store, a: AccountRef, banned: bool) -> Result<(), Failure> {
    let id = payouts::set_account_banned(store, &crate::cli_actor(), &a.id, banned, now())
        .await
        .map_err(|e| match e {
            OpError::Domain(_) => Failure(missing(
                "payout account",
                &a.id,
                PayoutAccountId::parse(&a.id).is_some(),
            )),
            OpError::Store(e) => Failure(e.to_string()),
        })?;
    report(
        a.json,
        json!({"payout_account_id": id.to_string(), "banned": banned}),
        format!(
            "payout account {id} {}",
            if banned { "banned" } else { "unbanned" }
        ),
    );
    Ok(())
}

pub async fn set_verified(
    store: &Store,
    merchant: &str,
    verified: bool,
    json: bool,
) -> Result<(), Failure> {
    merchants::set_verified(store, &crate::cli_actor(), merchant, verified, now())
        .await
        .map_err(|e| match e {
            OpError::Domain(_) => Failure(missing(
                "merchant",
                merchant,
                MerchantId::parse(merchant).is_some(),
            )),
            OpError::Store(e) => Failure(e.to_string()),
        })?;
    let id = merchant;
    report(
        json,
        json!({"merchant_id": id.to_string(), "verified": verified}),
        format!(
            "merchant {id} {}",
            if verified { "verified" } else { "unverified" }
        ),
    );
    Ok(())
}

async fn list_payouts(
    store: &Store,
    status: Option<String>,
    merchant: Option<String>,
    limit: i64,
    json: bool,
) -> Result<(), Failure> {
    let status = status
        .map(|s| {
            s.parse::<PayoutStatus>()
                .map_err(|_| Failure(format!("--status: unknown payout status {s:?}")))
        })
        .transpose()?;
    let merchant = merchant
        .map(|m| MerchantId::parse(&m).ok_or_else(|| Failure(format!("no merchant with id {m:?}"))))
        .transpose()?;
    let payouts = store
        .operator_payouts(status, merchant.as_ref(), limit.clamp(1, 1000))
        .await?;
    let list: Vec<_> = payouts
        .iter()
        .map(|p| {
            json!({"payout_id": p.id.to_string(), "merchant_id": p.merchant_id.to_string(),
                   "status": p.status.as_str(), "amount": format_fixed(p.amount),
                   "commission": format_fixed(p.commission), "currency": p.currency.code(),
                   "account_type": p.payee.account_type.as_str(), "account": p.payee.identifier,
                   "order_id": p.order_id, "created_at": format_datetime(p.created_at),
                   "error_message": p.error_message})
        })
        .collect();
    let human: Vec<String> = payouts
        .iter()
        .map(|p| {
            format!(
                "{} {} {:<10} {:>12} {} {} {}",
                format_datetime(p.created_at),
                p.id,
                p.status.as_str(),
                format_fixed(p.amount),
                p.currency,
                p.payee.identifier,
                p.merchant_id
            )
        })
        .collect();
    report(json, json!({"payouts": list}), human.join("\n"));
    Ok(())
}

pub async fn payout(store: &Store, c: PayoutCommand) -> Result<(), Failure> {
    let (r, outcome) = match c {
        PayoutCommand::List {
            status,
            merchant,
            limit,
            json,
        } => return list_payouts(store, status, merchant, limit, json).await,
        PayoutCommand::Approve(r) => (r, None),
        PayoutCommand::Decline { payout, reason } => (payout, Some(reason)),
    };
    let found = match PayoutId::parse(&r.id) {
        Some(id) => store.payout(&id).await?,
        None => None,
    }
    .ok_or_else(|| Failure(format!("no payout with id {:?}", r.id)))?;
    let refused = |e| match e {
        // The reason given: its own message, naming the flag.
        e @ paylink_server::ops::OpError::Domain(paylink_core::DomainError::Invalid {
            field: "reason",
            ..
        }) => Failure::from(e),
        paylink_server::ops::OpError::Domain(_) => Failure(format!(
            "payout {} is {}: it cannot be moved that way",
            found.id,
            found.status.as_str()
        )),
        paylink_server::ops::OpError::Store(e) => Failure(e.to_string()),
    };
    let done = match outcome {
        None => payouts::moderate(
            store,
            &crate::cli_actor(),
            &found,
            Moderation::Approve,
            now(),
        )
        .await
        .map_err(refused)?,
        Some(reason) => payouts::moderate(
            store,
            &crate::cli_actor(),
            &found,
            Moderation::Decline(reason),
            now(),
        )
        .await
        .map_err(refused)?,
    };
    report(
        r.json,
        json!({"payout_id": done.id.to_string(), "status": done.status.as_str()}),
        format!("payout {} {}", done.id, done.status.as_str()),
    );
    Ok(())
}

pub async fn sbp_bank(store: &Store, c: SbpBankCommand) -> Result<(), Failure> {
    match c {
        SbpBankCommand::Add {
            member_id,
            name,
            name_en,
            bic,
            json,
        } => {
            if member_id <= 0 || bic <= 0 || name.trim().is_empty() || name_en.trim().is_empty() {
                return Err(Failure(
                    "--member-id and --bic must be positive, --name and --name-en not empty".into(),
                ));
            }
            sbp_banks::add(
                store,
                &crate::cli_actor(),
                member_id,
                &name,
                &name_en,
                bic,
                now(),
            )
            .await
            .map_err(|e| Failure(e.to_string()))?;
            report(
                json,
                json!({"member_id": member_id, "enabled": true}),
                format!("SBP bank {member_id} added"),
            );
        }
        SbpBankCommand::Disable(b) => enable(store, b, false).await?,
        SbpBankCommand::Enable(b) => enable(store, b, true).await?,
        SbpBankCommand::List { json } => {
            let banks = store.sbp_banks(true).await?;
            let list: Vec<_> = banks
                .iter()
                .map(|b| json!({"member_id": b.member_id, "name": b.name, "name_en": b.name_en, "bic": b.bic, "enabled": b.enabled}))
                .collect();
            let human: Vec<String> = banks
                .iter()
                .map(|b| {
                    format!(
                        "{} {:>9} {} / {}{}",
                        b.member_id,
                        b.bic,
                        b.name,
                        b.name_en,
                        if b.enabled { "" } else { " (disabled)" }
                    )
                })
                .collect();
            report(json, json!({"banks": list}), human.join("\n"));
        }
    }
    Ok(())
}

async fn enable(store: &Store, b: BankRef, enabled: bool) -> Result<(), Failure> {
    let found = sbp_banks::set_enabled(store, &crate::cli_actor(), b.member_id, enabled, now())
        .await
        .map_err(|e| Failure(e.to_string()))?;
    if !found {
        return Err(Failure(format!(
            "no SBP bank with member id {}",
            b.member_id
        )));
    }
    report(
        b.json,
        json!({"member_id": b.member_id, "enabled": enabled}),
        format!(
            "SBP bank {} {}",
            b.member_id,
            if enabled { "enabled" } else { "disabled" }
        ),
    );
    Ok(())
}
