//! Operator commands of the Card API: partners (create, fund, rotate their key, list) and the
//! text messages sent to cardholders (`sms list`: where the sandbox's OTPs are read).

use crate::{now, report, Failure};
use clap::Subcommand;
use paylink_core::issuing::{BinRange, IssuingError};
use paylink_core::money::{format_fixed, parse_minor, Amount, Currency};
use paylink_core::time::format_datetime;
use paylink_server::ops::issuing::{self, CardError, IssuingSettings};
use paylink_store::Store;
use serde_json::json;

#[derive(Subcommand)]
pub enum PartnerCommand {
    /// Create a partner and print its credentials: `auth_id` and `secret_key` (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Currencies it may issue cards in, comma-separated (default KZT,USD,EUR,RUB).
        #[arg(long, value_name = "LIST")]
        currencies: Option<String>,
        /// A BIN prefix (6-8 digits) or range `FROM-TO` its PANs are drawn from; repeatable
        /// (default 400000).
        #[arg(long = "bin", value_name = "BIN")]
        bins: Vec<String>,
        /// Client products it may issue, comma-separated (default 1000,2000,3000).
        #[arg(long, value_name = "LIST")]
        products: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Book money into the partner's prepaid balance (cards are funded from it).
    Fund {
        #[arg(long, value_name = "ID")]
        auth_id: String,
        /// In major units, e.g. 1000.00.
        #[arg(long)]
        amount: String,
        #[arg(long, value_name = "CURRENCY")]
        currency: String,
        #[arg(long)]
        json: bool,
    },
    /// A new secret key; the old one stops working at once.
    RotateKey {
        #[arg(long, value_name = "ID")]
        auth_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Every partner with its settings and prepaid balances.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum SmsCommand {
    /// The newest text messages (gift-card OTPs), newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

impl From<CardError> for Failure {
    fn from(e: CardError) -> Failure {
        match e {
            CardError::Refused(IssuingError::PartnerNotFound) => {
                Failure("no partner with this auth_id".into())
            }
            CardError::Refused(IssuingError::ProductNotAvailable) => {
                Failure("the partner does not issue in this currency or product".into())
            }
            other => Failure(other.to_string()),
        }
    }
}

fn currency(text: &str) -> Result<Currency, Failure> {
    text.parse()
        .map_err(|_| Failure(format!("unknown currency {text:?} (KZT, USD, EUR or RUB)")))
}

fn settings(
    currencies: Option<String>,
    bins: Vec<String>,
    products: Option<String>,
) -> Result<IssuingSettings, Failure> {
    let currencies = currencies
        .map(|list| list.split(',').map(|c| currency(c.trim())).collect())
        .transpose()?;
    let bin_ranges = bins
        .iter()
        .map(|b| {
            BinRange::parse(b).ok_or_else(|| {
                Failure(format!(
                    "--bin {b:?} is not a BIN prefix of 6-8 digits or a range FROM-TO"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let products = products
        .map(|list| {
            list.split(',')
                .map(|p| {
                    p.trim()
                        .parse::<u32>()
                        .map_err(|_| Failure(format!("--products: {p:?} is not a product id")))
                })
                .collect()
        })
        .transpose()?;
    Ok(IssuingSettings {
        currencies,
        bin_ranges: (!bin_ranges.is_empty()).then_some(bin_ranges),
        products,
    })
}

pub async fn partner(store: &Store, keys: &crate::Keys, c: PartnerCommand) -> Result<(), Failure> {
    match c {
        PartnerCommand::Create {
            name,
            currencies,
            bins,
            products,
            json,
        } => {
            let settings = settings(currencies, bins, products)?;
            let keys = keys.open(store).await?;
            let c =
                issuing::create_partner(store, &keys, &crate::cli_actor(), &name, settings, now())
                    .await?;
            let key = c.secret_key.expose();
            report(
                json,
                json!({"auth_id": c.auth_id, "secret_key": key}),
                format!(
                    "auth_id    {}\nsecret_key {key}\n(the key is shown once; keep it)",
                    c.auth_id
                ),
            );
        }
        PartnerCommand::Fund {
            auth_id,
            amount,
            currency: code,
            json,
        } => {
            let currency = currency(&code)?;
            let amount = parse_minor(&amount, currency.exponent())
                .and_then(Amount::from_minor)
                .ok_or_else(|| {
                    Failure(format!(
                        "--amount {amount:?} is not a positive amount with at most 2 decimals"
                    ))
                })?;
            let b = issuing::fund_partner(
                store,
                &crate::cli_actor(),
                &auth_id,
                amount,
                currency,
                now(),
            )
            .await?;
            report(
                json,
                json!({
                    "auth_id": auth_id,
                    "currency": currency.code(),
                    "funded": format_fixed(amount.minor()),
                    "available": format_fixed(b.available),
                }),
                format!(
                    "partner {auth_id}: +{} {currency}, available {} {currency}",
                    format_fixed(amount.minor()),
                    format_fixed(b.available)
                ),
            );
        }
        PartnerCommand::RotateKey { auth_id, json } => {
            let keys = keys.open(store).await?;
            let c = issuing::rotate_partner_key(store, &keys, &crate::cli_actor(), &auth_id, now())
                .await?;
            let key = c.secret_key.expose();
            report(
                json,
                json!({"auth_id": c.auth_id, "secret_key": key}),
                format!(
                    "auth_id    {}\nsecret_key {key}\n(the old key no longer works)",
                    c.auth_id
                ),
            );
        }
        PartnerCommand::List { json } => {
            let partners = issuing::partners(store).await?;
            if json {
                let list: Vec<_> = partners
                    .iter()
                    .map(|(p, balances)| {
                        json!({
                            "auth_id": p.id.as_str(),
                            "name": p.name,
                            "currencies": p.currencies.iter().map(|c| c.code()).collect::<Vec<_>>(),
                            "products": p.products,
                            "bin_ranges": p.bin_ranges.iter().map(BinRange::text).collect::<Vec<_>>(),
                            "balances": balances.iter().map(|b| json!({
                                "currency": b.currency.code(),
                                "available": format_fixed(b.available),
                            })).collect::<Vec<_>>(),
                            "created_at": format_datetime(p.created_at),
                        })
                    })
                    .collect();
                println!("{}", json!(list));
            } else if partners.is_empty() {
                println!("no partners");
            } else {
                for (p, balances) in &partners {
                    let money: Vec<_> = balances
                        .iter()
                        .map(|b| format!("{} {}", format_fixed(b.available), b.currency))
                        .collect();
                    println!(
                        "{}  {}  [{}]  {}",
                        p.id,
                        p.name,
                        p.currencies
                            .iter()
                            .map(|c| c.code())
                            .collect::<Vec<_>>()
                            .join(","),
                        if money.is_empty() {
                            "no balance".to_string()
                        } else {
                            money.join(", ")
                        }
                    );
                }
            }
        }
    }
    Ok(())
}

pub async fn sms(store: &Store, keys: &crate::Keys, c: SmsCommand) -> Result<(), Failure> {
    match c {
        SmsCommand::List { limit, json } => {
            let keys = keys.open(store).await?;
            let list = issuing::sms_messages(store, &keys, limit.clamp(1, 10_000)).await?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|m| {
                        json!({
                            "id": m.id,
                            "auth_id": m.partner_id.as_ref().map(|p| p.as_str()),
                            "phone": m.phone,
                            "text": m.text,
                            "state": m.state,
                            "created_at": format_datetime(m.created_at),
                        })
                    })
                    .collect();
                println!("{}", json!(items));
            } else if list.is_empty() {
                println!("no messages");
            } else {
                for m in &list {
                    println!(
                        "{}  +{}  {}  [{}]",
                        format_datetime(m.created_at),
                        m.phone,
                        m.text,
                        m.state
                    );
                }
            }
        }
    }
    Ok(())
}
