//! The `paylink` binary: `serve`, `migrate` and the operator commands.

mod config;
mod money;

/// A request allocates dozens of small objects; mimalloc serves them at a fraction of glibc's
/// cost (measured: see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Args, Parser, Subcommand};
use config::{FileConfig, Overrides};
use paylink_core::merchant::Subscription;
use paylink_core::money::{Currency, Rate};
use paylink_core::notice::NoticeState;
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use paylink_server::admin::{self, ShopChanges};
use paylink_server::bills::OpError;
use paylink_server::{Application, Clock, SystemClock};
use paylink_store::{Store, StoreOptions};
use serde_json::json;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "paylink",
    version,
    about = "A self-hosted payment gateway",
    after_help = "Try it: `paylink serve --demo` creates a demo merchant and prints a curl command.\n\
                  Settings come from flags, then PAYLINK_* variables, then the --config file."
)]
struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://paylink.db].
    // The value may hold a password: never echo it in --help.
    #[arg(
        long,
        global = true,
        env = "PAYLINK_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    database_url: Option<String>,
    /// TOML configuration file [default: ./paylink.toml when present].
    #[arg(
        long,
        global = true,
        env = "PAYLINK_CONFIG",
        value_name = "FILE",
        help_heading = "Global options"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServeArgs),
    /// Create or upgrade the database schema and exit.
    Migrate,
    /// Manage merchants.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// Manage shops.
    #[command(subcommand)]
    Shop(ShopCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect and replay postbacks.
    #[command(subcommand)]
    Postback(PostbackCommand),
    /// Verify the ledger.
    #[command(subcommand)]
    Ledger(money::LedgerCommand),
    /// Exchange rates for payments in another currency than the shop's balance.
    #[command(subcommand)]
    Fx(money::FxCommand),
    /// Accounts merchants registered for personal payouts.
    #[command(subcommand)]
    PayoutAccount(money::PayoutAccountCommand),
    /// Moderate payouts.
    #[command(subcommand)]
    Payout(money::PayoutCommand),
    /// The SBP banks dictionary.
    #[command(subcommand)]
    SbpBank(money::SbpBankCommand),
    /// Print the OpenAPI document of the Cardlink API (what `GET /openapi/cardlink.json`
    /// serves; docs/openapi/cardlink.json is a copy).
    Openapi,
}

#[derive(Subcommand)]
enum PostbackCommand {
    /// The postbacks about a bill (its payments' and refunds'), or the webhook of a payout,
    /// each with every delivery attempt.
    #[command(group(clap::ArgGroup::new("about").required(true).args(["bill", "payout"])))]
    List {
        /// Bill id.
        #[arg(long, value_name = "ID")]
        bill: Option<String>,
        /// Payout id.
        #[arg(long, value_name = "ID")]
        payout: Option<String>,
        /// Print one JSON object {postbacks: [...]} instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send a postback again now, starting a fresh round of the retry schedule (same id, same
    /// fields; signed with the merchant's current token).
    Redeliver {
        /// Postback id (`msg_...`, as `postback list` prints it).
        #[arg(long, value_name = "ID")]
        id: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on, IP:PORT (port 0 picks a free one) [default: 127.0.0.1:8080].
    #[arg(long, env = "PAYLINK_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Public base URL for payment links [default: http://<listen>].
    #[arg(long, env = "PAYLINK_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Commission percent for shops without their own [default: 3.5].
    #[arg(long, env = "PAYLINK_DEFAULT_COMMISSION", value_name = "PERCENT")]
    default_commission: Option<String>,
    /// Group-commit writers on PostgreSQL [default: 4].
    #[arg(long, env = "PAYLINK_WRITERS", value_name = "N")]
    writers: Option<usize>,
    /// Create a demo merchant and print its token, shop id and a curl command to try.
    #[arg(long)]
    demo: bool,
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Create a merchant with one enabled RUB shop and an API token.
    Create {
        /// Merchant name (also the name of its first shop).
        #[arg(long)]
        name: String,
        /// Contact e-mail of the merchant.
        #[arg(long)]
        email: Option<String>,
        /// Mark the merchant verified (needed for payouts).
        #[arg(long)]
        verified: bool,
        /// Print one JSON object {merchant_id, shop_id, api_token, webhook_secret} instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Block the merchant's API access (from its next request on).
    Ban(MerchantRef),
    /// Restore the merchant's API access.
    Unban(MerchantRef),
    /// Allow the merchant to pay out (payouts need a verified merchant).
    Verify(MerchantRef),
    /// Stop the merchant's new payouts.
    Unverify(MerchantRef),
    /// Change the merchant's payout settings; options not given keep their value.
    Update(money::MerchantUpdate),
    /// Set the merchant's subscription state; only `active` may use the API.
    Subscription {
        /// Merchant id (as printed by `merchant create`).
        #[arg(long, value_name = "ID")]
        merchant: String,
        /// New subscription state.
        #[arg(long, value_parser = ["active", "inactive", "none"])]
        state: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct MerchantRef {
    /// Merchant id (as printed by `merchant create`).
    #[arg(long, value_name = "ID")]
    merchant: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Default)]
struct ShopOptions {
    /// Shop name, shown to payers.
    #[arg(long)]
    name: Option<String>,
    /// Default currency of the shop's bills: RUB, USD, EUR or KZT (a new shop: RUB).
    #[arg(long)]
    currency: Option<String>,
    /// Currency of the merchant balance the shop's payments are booked to; bills in another
    /// currency convert at the rate set by `paylink fx set` (unset: each bill's own currency).
    #[arg(long)]
    balance_currency: Option<String>,
    /// http(s) URL where payment postbacks are sent ("" clears it).
    #[arg(long, value_name = "URL")]
    result_url: Option<String>,
    /// http(s) URL the payer returns to after paying ("" clears it).
    #[arg(long, value_name = "URL")]
    success_url: Option<String>,
    /// http(s) URL the payer returns to after a failed payment ("" clears it).
    #[arg(long, value_name = "URL")]
    fail_url: Option<String>,
    /// Commission percent for this shop, e.g. 2.9 (without one: the server's --default-commission).
    #[arg(long, value_name = "PERCENT")]
    commission: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ShopCommand {
    /// Add a shop to a merchant.
    Create {
        /// Merchant id (as printed by `merchant create`).
        #[arg(long, value_name = "ID")]
        merchant: String,
        #[command(flatten)]
        options: ShopOptions,
    },
    /// Change a shop; options not given keep their value.
    Update {
        /// Shop id.
        #[arg(long, value_name = "ID")]
        shop: String,
        #[command(flatten)]
        options: ShopOptions,
        /// `false` makes the shop refuse new bills; `true` opens it again.
        #[arg(long)]
        enabled: Option<bool>,
    },
    /// Replace the shop's Standard Webhooks key (`whsec_...`) and print the new one.
    WebhookSecret {
        /// Shop id.
        #[arg(long, value_name = "ID")]
        shop: String,
        /// Print one JSON object {shop_id, webhook_secret} instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a new API token; the old one stops working at once.
    Refresh {
        /// Merchant id (as printed by `merchant create`).
        #[arg(long, value_name = "ID")]
        merchant: String,
        /// Print one JSON object {api_token} instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A failure the operator can act on, printed without a backtrace.
pub(crate) struct Failure(String);

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        match e {
            // Name the flag the operator typed, not the domain's field.
            OpError::Domain(DomainError::Invalid { field, message }) => {
                Failure(format!("--{}: {message}", field.replace('_', "-")))
            }
            e => Failure(e.to_string()),
        }
    }
}

/// `OpError` for a command about `id`: a missing merchant or shop names the id looked for.
pub(crate) fn about(id: &str) -> impl Fn(OpError) -> Failure + '_ {
    move |e| match e {
        OpError::Domain(DomainError::MerchantNotFound) => {
            Failure(format!("no merchant with id {id:?}"))
        }
        OpError::Domain(DomainError::ShopNotFound) => Failure(format!("no shop with id {id:?}")),
        OpError::Domain(DomainError::BillNotFound) => Failure(format!("no bill with id {id:?}")),
        e => e.into(),
    }
}

impl From<paylink_store::StoreError> for Failure {
    fn from(e: paylink_store::StoreError) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files or journald.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn now() -> i64 {
    SystemClock.now()
}

/// `--json`: exactly one JSON object on stdout; otherwise readable lines.
pub(crate) fn report(as_json: bool, value: serde_json::Value, human: String) {
    if as_json {
        println!("{value}");
    } else {
        println!("{human}");
    }
}

fn shop_changes(o: &ShopOptions, enabled: Option<bool>) -> Result<ShopChanges, Failure> {
    Ok(ShopChanges {
        name: o.name.clone(),
        currency: o
            .currency
            .as_deref()
            .map(|c| {
                c.parse::<Currency>().map_err(|_| {
                    Failure(format!(
                        "--currency: unknown currency {c:?}: use RUB, USD, EUR or KZT"
                    ))
                })
            })
            .transpose()?,
        balance_currency: o
            .balance_currency
            .as_deref()
            .map(|c| {
                c.parse::<Currency>().map_err(|_| {
                    Failure(format!(
                        "--balance-currency: unknown currency {c:?}: use RUB, USD, EUR or KZT"
                    ))
                })
            })
            .transpose()?,
        result_url: o.result_url.clone(),
        success_url: o.success_url.clone(),
        fail_url: o.fail_url.clone(),
        commission: o
            .commission
            .as_deref()
            .map(|c| {
                Rate::parse_percent(c).ok_or_else(|| {
                    Failure(format!(
                        "--commission: {c:?} must be a percentage from 0 to 100 (at most two decimals)"
                    ))
                })
            })
            .transpose()?,
        enabled,
    })
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Openapi = cli.command {
        print!("{}", paylink_server::openapi_json());
        return Ok(());
    }
    let file = FileConfig::load(cli.config.as_ref()).map_err(Failure)?;
    if let Command::Serve(args) = cli.command {
        return serve(cli.database_url, args, file).await;
    }
    let url = config::database_url(cli.database_url.as_ref(), &file).map_err(Failure)?;
    let migrate = matches!(cli.command, Command::Migrate);
    let store = Store::open(
        &url,
        StoreOptions {
            read_connections: 2,
            writers: 1,
            max_batch: 16,
        },
    )
    .await?;
    if migrate {
        println!("database {} is up to date", config::redact(&url));
    }
    let allow_private = config::postbacks(&file).map_err(Failure)?.allow_private;
    let result = admin_command(&store, cli.command, allow_private).await;
    store.close().await;
    result
}

async fn admin_command(
    store: &Store,
    command: Command,
    allow_private: bool,
) -> Result<(), Failure> {
    match command {
        // `run` starts the server before opening an admin store; `Store::open` migrates.
        Command::Serve(_) | Command::Migrate | Command::Openapi => {}
        Command::Merchant(MerchantCommand::Create {
            name,
            email,
            verified,
            json,
        }) => {
            let m = admin::create_merchant(store, &name, email, verified, now()).await?;
            report(
                json,
                json!({"merchant_id": m.merchant_id.to_string(), "shop_id": m.shop_id.to_string(), "api_token": m.api_token, "webhook_secret": m.webhook_secret}),
                format!(
                    "merchant {}\nshop     {}\ntoken    {}\nwebhook  {}\n(the token is shown once; keep it)",
                    m.merchant_id, m.shop_id, m.api_token, m.webhook_secret
                ),
            );
        }
        Command::Merchant(MerchantCommand::Ban(r)) => {
            admin::set_banned(store, &r.merchant, true)
                .await
                .map_err(about(&r.merchant))?;
            report(
                r.json,
                json!({"merchant_id": r.merchant, "banned": true}),
                format!("merchant {} banned", r.merchant),
            );
        }
        Command::Merchant(MerchantCommand::Unban(r)) => {
            admin::set_banned(store, &r.merchant, false)
                .await
                .map_err(about(&r.merchant))?;
            report(
                r.json,
                json!({"merchant_id": r.merchant, "banned": false}),
                format!("merchant {} unbanned", r.merchant),
            );
        }
        Command::Merchant(MerchantCommand::Subscription {
            merchant,
            state,
            json,
        }) => {
            let subscription: Subscription = state
                .parse()
                .map_err(|_| Failure(format!("unknown state {state:?}")))?;
            admin::set_subscription(store, &merchant, subscription)
                .await
                .map_err(about(&merchant))?;
            report(
                json,
                json!({"merchant_id": merchant, "subscription": state}),
                format!("merchant {merchant} subscription {state}"),
            );
        }
        Command::Shop(ShopCommand::Create { merchant, options }) => {
            let created = admin::create_shop(
                store,
                &merchant,
                shop_changes(&options, None)?,
                allow_private,
                now(),
            )
            .await
            .map_err(about(&merchant))?;
            report(
                options.json,
                json!({"shop_id": created.shop.id.to_string(), "webhook_secret": created.webhook_secret}),
                format!(
                    "shop    {}\nwebhook {}",
                    created.shop.id, created.webhook_secret
                ),
            );
        }
        Command::Shop(ShopCommand::Update {
            shop,
            options,
            enabled,
        }) => {
            let shop = admin::update_shop(
                store,
                &shop,
                shop_changes(&options, enabled)?,
                allow_private,
            )
            .await
            .map_err(about(&shop))?;
            report(
                options.json,
                json!({"shop_id": shop.id.to_string(), "enabled": shop.enabled}),
                format!("shop {} updated", shop.id),
            );
        }
        Command::Merchant(MerchantCommand::Verify(r)) => {
            money::set_verified(store, &r.merchant, true, r.json).await?;
        }
        Command::Merchant(MerchantCommand::Unverify(r)) => {
            money::set_verified(store, &r.merchant, false, r.json).await?;
        }
        Command::Merchant(MerchantCommand::Update(update)) => {
            money::update_merchant(store, update).await?;
        }
        Command::Ledger(c) => money::ledger(store, c).await?,
        Command::Fx(c) => money::fx(store, c).await?,
        Command::PayoutAccount(c) => money::payout_account(store, c).await?,
        Command::Payout(c) => money::payout(store, c).await?,
        Command::SbpBank(c) => money::sbp_bank(store, c).await?,
        Command::Token(TokenCommand::Refresh { merchant, json }) => {
            let token = admin::refresh_token(store, &merchant, now())
                .await
                .map_err(about(&merchant))?;
            report(
                json,
                json!({"api_token": token}),
                format!("token {token}\n(the old token no longer works)"),
            );
        }
        Command::Shop(ShopCommand::WebhookSecret { shop, json }) => {
            let secret = admin::rotate_webhook_key(store, &shop)
                .await
                .map_err(about(&shop))?;
            report(
                json,
                json!({"shop_id": shop, "webhook_secret": secret}),
                format!("webhook {secret}\n(postbacks are signed with it from now on)"),
            );
        }
        Command::Postback(PostbackCommand::List { bill, payout, json }) => {
            let (list, bill) = match (bill, payout) {
                (Some(bill), _) => (
                    admin::postbacks(store, &bill).await.map_err(about(&bill))?,
                    format!("bill {bill}"),
                ),
                (None, Some(payout)) => (
                    admin::payout_postbacks(store, &payout).await?,
                    format!("payout {payout}"),
                ),
                (None, None) => return Err(Failure("--bill or --payout is required".into())),
            };
            let human: Vec<String> = list.iter().map(postback_text).collect();
            report(
                json,
                json!({"postbacks": list.iter().map(postback_json).collect::<Vec<_>>()}),
                if human.is_empty() {
                    format!("no postbacks for {bill}")
                } else {
                    human.join("\n")
                },
            );
        }
        Command::Postback(PostbackCommand::Redeliver { id, json }) => {
            admin::redeliver(store, &id, now())
                .await
                .map_err(|e| match e {
                    OpError::Store(paylink_store::StoreError::GuardFailed(_)) => {
                        Failure(format!("no postback with id {id:?}"))
                    }
                    e => e.into(),
                })?;
            report(
                json,
                json!({"id": id, "state": "pending"}),
                format!("postback {id} queued for delivery now"),
            );
        }
    }
    Ok(())
}

fn postback_json(p: &admin::PostbackHistory) -> serde_json::Value {
    let r = &p.record;
    json!({
        "id": r.notice.id,
        "kind": r.notice.kind.as_str(),
        "subject_id": r.notice.subject_id,
        "url": r.notice.url,
        "state": r.state.as_str(),
        "attempts": r.total_attempts,
        "next_at": (r.state == NoticeState::Pending).then(|| format_datetime(r.next_at)),
        "delivered_at": r.delivered_at.map(format_datetime),
        "created_at": format_datetime(r.notice.created_at),
        "fields": serde_json::Value::Object(
            r.notice.fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
        ),
        "history": p.attempts.iter().map(|a| json!({
            "number": a.number,
            "at": format_datetime(a.at),
            "http_status": a.http_status,
            "latency_ms": a.latency_ms,
            "error": a.error,
            "response": a.excerpt,
        })).collect::<Vec<_>>(),
    })
}

fn postback_text(p: &admin::PostbackHistory) -> String {
    let r = &p.record;
    let mut out = format!(
        "{} {} {} -> {} ({} attempts)",
        r.notice.id,
        r.notice.kind.as_str(),
        r.state.as_str(),
        r.notice.url,
        r.total_attempts
    );
    if r.state == NoticeState::Pending {
        out.push_str(&format!(", next at {}", format_datetime(r.next_at)));
    }
    for a in &p.attempts {
        let result = match (a.http_status, &a.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        };
        out.push_str(&format!(
            "\n  #{} {} {} in {} ms",
            a.number,
            format_datetime(a.at),
            result,
            a.latency_ms
        ));
    }
    out
}

async fn serve(
    database_url: Option<String>,
    args: ServeArgs,
    file: FileConfig,
) -> Result<(), Failure> {
    let settings = config::settings(
        Overrides {
            database_url,
            listen: args.listen,
            public_url: args.public_url,
            default_commission: args.default_commission,
            writers: args.writers,
        },
        file,
    )
    .map_err(Failure)?;
    let database = config::redact(&settings.database_url);
    let listen = settings.listen;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = Application::build(settings, clock)
        .await
        .map_err(|e| Failure(e.to_string()))?;
    let store = app.store().clone();
    let bound = SocketAddr::new(listen.ip(), app.port());
    let public_url = app.public_url().to_string();
    if args.demo {
        let m = admin::create_merchant(&store, "Demo merchant", None, true, now()).await?;
        println!("demo merchant {} with shop {}", m.merchant_id, m.shop_id);
        println!("API token: {}", m.api_token);
        println!("webhook secret: {}", m.webhook_secret);
        println!("try:\n  curl -s {public_url}/api/v1/bill/create -H 'Authorization: Bearer {}' -d amount=100 -d shop_id={}", m.api_token, m.shop_id);
    } else if store.merchant_count().await? == 0 {
        println!("no merchants yet: run `paylink merchant create --name \"My shop\"` with the same --database-url or --config as this server, or start with --demo");
    }
    println!("paylink listening on http://{bound} (public URL {public_url}, database {database})");
    app.run_until(shutdown_signal())
        .await
        .map_err(|e| Failure(format!("server: {e}")))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
