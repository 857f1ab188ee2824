//! The `paylink` binary: `serve`, `migrate` and the operator commands.

mod backup;
mod config;
mod disputes;
mod doctor;
mod issuing;
mod money;
mod operators;
mod outbox;
mod progress;

/// A request allocates dozens of small objects; mimalloc serves them at a fraction of glibc's
/// cost (measured: see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Args, Parser, Subcommand};
use config::{FileConfig, Overrides};
use paylink_core::error::Rule;
use paylink_core::event::NoticeState;
use paylink_core::merchant::Subscription;
use paylink_core::money::{Currency, Rate};
use paylink_core::time::format_datetime;
use paylink_core::DomainError;
use paylink_server::dialects::cardlink;
use paylink_server::keys::{self, InstanceKeys, KeyFile, KeySource};
use paylink_server::ops::merchants::{self, ShopChanges};
use paylink_server::ops::permanent_links;
use paylink_server::ops::OpError;
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
    /// Log lines as `text` (for people) or `json` (one object a line, for collectors)
    /// [default: the file's log_format, else text].
    #[arg(
        long,
        global = true,
        env = "PAYLINK_LOG_FORMAT",
        value_name = "FORMAT",
        help_heading = "Global options"
    )]
    log_format: Option<config::LogFormat>,
    /// Key file holding the instance keys [default: paylink.key beside a SQLite database;
    /// required with PostgreSQL unless PAYLINK_KEYS holds the keys].
    #[arg(
        long,
        global = true,
        env = "PAYLINK_KEY_FILE",
        value_name = "FILE",
        help_heading = "Global options"
    )]
    key_file: Option<PathBuf>,
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
    /// Procard permanent links: a merchant's credentials for `/permanent-links/...`.
    #[command(subcommand)]
    Procard(ProcardCommand),
    /// Card API partners: credentials, prepaid balances.
    #[command(subcommand)]
    Partner(issuing::PartnerCommand),
    /// Text messages sent to cardholders (gift-card OTPs).
    #[command(subcommand)]
    Sms(issuing::SmsCommand),
    /// Emails the web pages sent (password resets, invitations).
    #[command(subcommand)]
    Mail(MailCommand),
    /// Disputes payers opened ("didn't buy anything?"): the queue, one, an operator's reply.
    #[command(subcommand)]
    Dispute(disputes::DisputeCommand),
    /// The console's operators (roles admin and support).
    #[command(subcommand)]
    Operator(operators::OperatorCommand),
    /// The audit log: every operator action, in the console and with this CLI.
    #[command(subcommand)]
    Audit(operators::AuditCommand),
    /// Inspect, replay and purge postbacks.
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
    /// Copy the SQLite database to a new file while the server runs.
    Backup(backup::BackupArgs),
    /// Replace the SQLite database with a backup (stop the server first).
    Restore(backup::RestoreArgs),
    /// Print a shell completion script to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
    /// Check the configuration, key file, database, public URL and clock; say what to fix.
    Doctor {
        #[command(flatten)]
        settings: ServerSettingsArgs,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI document of the Cardlink API (what `GET /openapi/cardlink.json`
    /// serves; docs/openapi/cardlink.json is a copy).
    Openapi,
    /// The instance keys: create, move out of an old database, rotate, retire.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new key file (mode 0600) with fresh keys; refuses to overwrite a file.
    Generate {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Move the keys a database made before key files kept in its `instance_secrets` table into
    /// a new key file, then delete them from the database.
    Migrate {
        /// The new key file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Add a new active seal key to the key file and re-seal every sealed value under it, row
    /// by row (servers keep running and pick the new key up). The fingerprint key is not
    /// rotated: ban lists and payout limits match on fingerprints.
    Rotate {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Re-seal every value not under the active seal key (e.g. after editing PAYLINK_KEYS).
    Reseal {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove an old seal key from the key file; refused while it is active or any value
    /// still needs it.
    Retire {
        /// The seal key's id (as `paylink keys status` prints it).
        #[arg(long, value_name = "ID")]
        id: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The seal keys, the active one, and how many sealed values each one seals.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
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
    /// Run a pass of the outbox's retention now: postbacks (and SMS, emails) finished longer
    /// ago than the retention are added to the daily summary and removed with their attempts.
    Purge(outbox::PurgeArgs),
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    settings: ServerSettingsArgs,
    /// Create a demo merchant and print its token, shop id and a curl command to try.
    #[arg(long)]
    demo: bool,
}

/// The server's settings that flags and `PAYLINK_*` variables give: `serve` runs with them,
/// `doctor` checks them.
#[derive(Args)]
struct ServerSettingsArgs {
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
    /// Where Prometheus scrapes /metrics, IP:PORT, or `off` [default: 127.0.0.1:9464].
    #[arg(long, env = "PAYLINK_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// `sandbox` (test money, the /sandbox routes) or `live` [default: sandbox].
    #[arg(long, env = "PAYLINK_MODE", value_name = "MODE")]
    mode: Option<String>,
}

impl ServerSettingsArgs {
    fn overrides(self, database_url: Option<String>, key_file: Option<PathBuf>) -> Overrides {
        Overrides {
            database_url,
            listen: self.listen,
            public_url: self.public_url,
            default_commission: self.default_commission,
            writers: self.writers,
            metrics_listen: self.metrics_listen,
            key_file,
            mode: self.mode,
        }
    }
}

#[derive(Subcommand)]
enum MailCommand {
    /// The newest emails, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
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
    /// Print a one-time link (valid 7 days) with which the merchant's owner chooses a password
    /// and signs in to the merchant app; it is also emailed (see `mail list`).
    Invite {
        #[arg(long, value_name = "ID")]
        merchant: String,
        /// The owner's email, when the merchant has none yet (its contact email otherwise).
        #[arg(long)]
        email: Option<String>,
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

#[derive(Subcommand)]
enum ProcardCommand {
    /// Turn on Procard access for a merchant (or change its login, callback URL or shop) and
    /// print the credentials its Procard client uses: `merchant_id` (the login) and
    /// `secret_key`. Running it again keeps the key.
    Enable {
        /// paylink merchant id (as printed by `merchant create`).
        #[arg(long, value_name = "ID")]
        merchant: String,
        /// The login Procard clients send as `merchant_id` (letters, digits, `_`, `-`, `.`);
        /// default: the current one, or a generated `PL_...`.
        #[arg(long, value_name = "LOGIN")]
        login: Option<String>,
        /// Where the callbacks of links without their own `callback_url` go.
        #[arg(long, value_name = "URL")]
        callback_url: Option<String>,
        /// The shop the merchant's links are opened in; default: its first shop.
        #[arg(long, value_name = "ID")]
        shop: Option<String>,
        /// Print one JSON object {merchant_id, secret_key} instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A new secret key; the old one stops working at once.
    RotateKey {
        #[arg(long, value_name = "ID")]
        merchant: String,
        /// Print one JSON object {merchant_id, secret_key} instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A failure the operator can act on, printed without a backtrace.
pub(crate) struct Failure(String);

impl From<OpError> for Failure {
    fn from(e: OpError) -> Self {
        match e {
            // Name the flag the operator typed, not the domain's field; word the rule as the
            // Cardlink API does (the sentences operators have always seen).
            OpError::Domain(DomainError::Invalid { field, kind }) => {
                let text = match (field, &kind) {
                    ("bank", Rule::Unknown) => "No such SBP bank in the dictionary.".to_string(),
                    _ => cardlink::field_message(field, &kind),
                };
                Failure(format!("--{}: {text}", field.replace('_', "-")))
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
    let file = match FileConfig::load(cli.config.as_ref()) {
        Ok(file) => file,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format.or(file.log_format).unwrap_or_default() {
        // Colour codes only for a person at a terminal, not in log files or journald.
        config::LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // Each line one JSON object, with the fields of every span it is in (the request id).
        config::LogFormat::Json => logs.json().with_current_span(false).init(),
    }
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
    match runtime.block_on(run(cli, file)) {
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
                Rate::parse_percent(c).map(Some).ok_or_else(|| {
                    Failure(format!(
                        "--commission: {c:?} must be a percentage from 0 to 100 (at most two decimals)"
                    ))
                })
            })
            .transpose()?,
        enabled,
    })
}

async fn run(cli: Cli, file: FileConfig) -> Result<(), Failure> {
    if let Command::Openapi = cli.command {
        print!("{}", paylink_server::openapi_json());
        return Ok(());
    }
    if let Command::Keys(KeysCommand::Generate { out }) = &cli.command {
        KeyFile::generate()
            .write_new(out)
            .map_err(|e| Failure(format!("{}: {e}", out.display())))?;
        println!(
            "key file {} written (mode 0600). Name it with key_file in the config file or \
             PAYLINK_KEY_FILE, and back it up apart from the database.",
            out.display()
        );
        return Ok(());
    }
    if let Command::Serve(args) = cli.command {
        return serve(cli.database_url, cli.key_file, args, file).await;
    }
    let url = config::database_url(cli.database_url.as_ref(), &file).map_err(Failure)?;
    match cli.command {
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "paylink", &mut std::io::stdout());
            return Ok(());
        }
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            return page
                .render(&mut std::io::stdout())
                .map_err(|e| Failure(format!("cannot write the man page: {e}")));
        }
        Command::Doctor { settings, json } => {
            let overrides = settings.overrides(cli.database_url, cli.key_file);
            return doctor::doctor(overrides, file, json).await;
        }
        Command::Backup(args) => return backup::backup(&url, args).await,
        Command::Restore(args) => return backup::restore(&url, args).await,
        _ => {}
    }
    let keys = Keys {
        source: config::key_source(cli.key_file, &file).map_err(Failure)?,
        url: url.clone(),
    };
    let migrate = matches!(cli.command, Command::Migrate);
    let mut options = StoreOptions::for_command();
    options.observer = Some(paylink_store::Observer(Arc::new(
        progress::MigrationBar::new(),
    )));
    let store = Store::open(&url, options).await?;
    if migrate {
        println!("database {} is up to date", config::redact(&url));
    }
    let postbacks = config::postbacks(&file).map_err(Failure)?;
    let mail = config::mail_context(&file);
    let result = admin_command(&store, &keys, cli.command, &postbacks, &mail).await;
    store.close().await;
    result
}

/// Where the instance keys come from, opened only by the commands that seal.
pub(crate) struct Keys {
    source: KeySource,
    url: String,
}

impl Keys {
    pub(crate) async fn open(&self, store: &Store) -> Result<InstanceKeys, Failure> {
        InstanceKeys::open(&self.source, &self.url, store)
            .await
            .map_err(|e| Failure(e.to_string()))
    }

    /// The key file itself, for the commands that rewrite it.
    fn file(&self) -> Result<PathBuf, Failure> {
        match &self.source {
            KeySource::File(path) => Ok(path.clone()),
            KeySource::Default => Store::sqlite_path(&self.url)
                .map(|db| db.with_file_name(keys::DEFAULT_KEY_FILE))
                .ok_or_else(|| {
                    Failure(
                        "name the key file with --key-file, key_file or PAYLINK_KEY_FILE".into(),
                    )
                }),
            KeySource::Text(_) => Err(Failure(
                "the keys come from PAYLINK_KEYS, which paylink cannot rewrite: add a key to \
                 [seal.keys] and make it seal.active by hand (see docs/operations.md, Keys), \
                 restart the servers, then run `paylink keys reseal`"
                    .into(),
            )),
        }
    }
}

fn key_failure(e: keys::KeyError) -> Failure {
    Failure(e.to_string())
}

async fn keys_command(store: &Store, k: &Keys, command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Generate { .. } => {}
        KeysCommand::Migrate { out } => {
            if store.legacy_secrets().await?.is_empty() {
                return Err(Failure(
                    "this database holds no keys of its own: nothing to migrate (name its key \
                     file with key_file / PAYLINK_KEY_FILE)"
                        .into(),
                ));
            }
            InstanceKeys::open(&KeySource::File(out.clone()), &k.url, store)
                .await
                .map_err(key_failure)?;
            println!(
                "the database's keys are now in {} and no longer in the database. Name it with \
                 key_file or PAYLINK_KEY_FILE, and back it up apart from the database.",
                out.display()
            );
        }
        KeysCommand::Rotate { json } => {
            let path = k.file()?;
            // Refuses a key file that is not this database's before changing anything.
            k.open(store).await?;
            let bar = progress::counter("re-sealing");
            let shown = |n| bar.set_position(n);
            let (id, done) = keys::rotate(store, &k.url, &path, &shown)
                .await
                .map_err(key_failure)?;
            bar.finish_and_clear();
            report(
                json,
                json!({"active": id, "resealed": done.resealed, "changed": done.changed, "unopenable": done.unopenable}),
                format!(
                    "seal key {id} is active; {} sealed value(s) re-sealed under it. Retire the \
                     old key(s) with `paylink keys retire --id ID` once `paylink keys status` \
                     shows 0 for them (wait for payers' open 3-D Secure pages, an hour, first).",
                    done.resealed + done.changed
                ),
            );
            if done.unopenable > 0 {
                return Err(Failure(format!(
                    "{} sealed value(s) open with no key of the file: see the log",
                    done.unopenable
                )));
            }
        }
        KeysCommand::Reseal { json } => {
            let keys = k.open(store).await?;
            let bar = progress::counter("re-sealing");
            let done = keys::reseal(store, &keys, &|n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            report(
                json,
                json!({"active": keys.seal.active_id(), "resealed": done.resealed, "changed": done.changed, "unopenable": done.unopenable}),
                format!(
                    "{} sealed value(s) re-sealed under {}",
                    done.resealed,
                    keys.seal.active_id()
                ),
            );
        }
        KeysCommand::Retire { id, json } => {
            let path = k.file()?;
            k.open(store).await?;
            keys::retire(store, &path, &id).await.map_err(key_failure)?;
            report(
                json,
                json!({"retired": id}),
                format!("seal key {id} removed from {}", path.display()),
            );
        }
        KeysCommand::Status { json } => {
            let keys = k.open(store).await?;
            let usage = keys::usage(store, &keys).await?;
            report(
                json,
                json!({
                    "active": usage.active,
                    "keys": usage.by_key.iter().map(|(id, n)| json!({"id": id, "sealed": n})).collect::<Vec<_>>(),
                    "missing": usage.missing,
                }),
                usage
                    .by_key
                    .iter()
                    .map(|(id, n)| {
                        let active = if *id == usage.active { " (active)" } else { "" };
                        format!("seal key {id}{active}: {n} sealed value(s)")
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    }
    Ok(())
}

async fn admin_command(
    store: &Store,
    keys: &Keys,
    command: Command,
    postbacks: &paylink_server::config::PostbackSettings,
    (public_url, mail_url): &(String, Option<String>),
) -> Result<(), Failure> {
    let allow_private = postbacks.allow_private;
    // Emails seal their text: the commands that send one open the keys.
    let mailer = |seal| paylink_server::ops::accounts::Mailer {
        gateway: mail_url.as_deref(),
        public_url,
        seal,
    };
    match command {
        Command::Keys(c) => keys_command(store, keys, c).await?,
        // `run` starts the server before opening an admin store; `Store::open` migrates.
        Command::Serve(_)
        | Command::Migrate
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Completions { .. }
        | Command::Man
        | Command::Doctor { .. }
        | Command::Openapi => {}
        Command::Merchant(MerchantCommand::Create {
            name,
            email,
            verified,
            json,
        }) => {
            let keys = keys.open(store).await?;
            let m = merchants::create_merchant(
                store,
                &keys,
                &cli_actor(),
                &name,
                email,
                verified,
                now(),
            )
            .await?;
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
            merchants::set_banned(store, &cli_actor(), &r.merchant, true, now())
                .await
                .map_err(about(&r.merchant))?;
            report(
                r.json,
                json!({"merchant_id": r.merchant, "banned": true}),
                format!("merchant {} banned", r.merchant),
            );
        }
        Command::Merchant(MerchantCommand::Unban(r)) => {
            merchants::set_banned(store, &cli_actor(), &r.merchant, false, now())
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
            merchants::set_subscription(store, &cli_actor(), &merchant, subscription, now())
                .await
                .map_err(about(&merchant))?;
            report(
                json,
                json!({"merchant_id": merchant, "subscription": state}),
                format!("merchant {merchant} subscription {state}"),
            );
        }
        Command::Shop(ShopCommand::Create { merchant, options }) => {
            let keys = keys.open(store).await?;
            let created = merchants::create_shop(
                store,
                &keys,
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
            let shop = merchants::update_shop(
                store,
                Some(&cli_actor()),
                &shop,
                shop_changes(&options, enabled)?,
                allow_private,
                now(),
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
        Command::Partner(c) => issuing::partner(store, keys, c).await?,
        Command::Sms(c) => issuing::sms(store, keys, c).await?,
        Command::Dispute(c) => {
            let keys = keys.open(store).await?;
            disputes::dispute(store, &mailer(&keys.seal), c).await?
        }
        Command::Operator(c) => {
            let keys = keys.open(store).await?;
            operators::operator(store, &keys, &mailer(&keys.seal), c).await?
        }
        Command::Audit(c) => operators::audit(store, c).await?,
        Command::Mail(MailCommand::List { limit, json }) => {
            let keys = keys.open(store).await?;
            let list =
                paylink_server::ops::accounts::mail_messages(store, &keys, limit.clamp(1, 10_000))
                    .await?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|m| {
                        json!({"id": m.id, "to": m.to, "subject": m.subject, "text": m.text,
                               "state": m.state, "created_at": format_datetime(m.created_at)})
                    })
                    .collect();
                println!("{}", json!(items));
            } else if list.is_empty() {
                println!("no emails");
            } else {
                for m in &list {
                    println!(
                        "{}  {}  {}  [{}]\n{}\n",
                        format_datetime(m.created_at),
                        m.to,
                        m.subject,
                        m.state,
                        m.text
                    );
                }
            }
        }
        Command::Merchant(MerchantCommand::Invite {
            merchant,
            email,
            json,
        }) => {
            let keys = keys.open(store).await?;
            let url = paylink_server::ops::accounts::invite(
                store,
                &mailer(&keys.seal),
                &cli_actor(),
                &merchant,
                email.as_deref(),
                now(),
            )
            .await
            .map_err(about(&merchant))?;
            report(
                json,
                json!({"merchant_id": merchant, "sign_in_link": url}),
                format!("sign-in link (one-time, valid 7 days):\n{url}"),
            );
        }
        Command::Fx(c) => money::fx(store, c).await?,
        Command::PayoutAccount(c) => money::payout_account(store, keys, c).await?,
        Command::Payout(c) => money::payout(store, c).await?,
        Command::SbpBank(c) => money::sbp_bank(store, c).await?,
        Command::Token(TokenCommand::Refresh { merchant, json }) => {
            let keys = keys.open(store).await?;
            let token =
                merchants::refresh_token(store, &keys, Some(&cli_actor()), &merchant, now())
                    .await
                    .map_err(about(&merchant))?;
            report(
                json,
                json!({"api_token": token}),
                format!("token {token}\n(the old token no longer works)"),
            );
        }
        Command::Procard(ProcardCommand::Enable {
            merchant,
            login,
            callback_url,
            shop,
            json,
        }) => {
            let keys = keys.open(store).await?;
            let c = permanent_links::enable(
                store,
                &keys,
                &merchant,
                login,
                callback_url,
                shop.as_deref(),
                allow_private,
                now(),
            )
            .await
            .map_err(about(&merchant))?;
            let key = c.secret_key.expose();
            report(
                json,
                json!({"merchant_id": c.login, "secret_key": key}),
                format!("merchant_id {}\nsecret_key {key}", c.login),
            );
        }
        Command::Procard(ProcardCommand::RotateKey { merchant, json }) => {
            let keys = keys.open(store).await?;
            let c = permanent_links::rotate_key(store, &keys, Some(&cli_actor()), &merchant, now())
                .await
                .map_err(about(&merchant))?;
            let key = c.secret_key.expose();
            report(
                json,
                json!({"merchant_id": c.login, "secret_key": key}),
                format!(
                    "merchant_id {}\nsecret_key {key}\n(the old key no longer works)",
                    c.login
                ),
            );
        }
        Command::Shop(ShopCommand::WebhookSecret { shop, json }) => {
            let keys = keys.open(store).await?;
            let secret =
                merchants::rotate_webhook_key(store, &keys, Some(&cli_actor()), &shop, now())
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
                    merchants::postbacks(store, &bill)
                        .await
                        .map_err(about(&bill))?,
                    format!("bill {bill}"),
                ),
                (None, Some(payout)) => (
                    merchants::payout_postbacks(store, &payout).await?,
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
        Command::Postback(PostbackCommand::Purge(args)) => {
            outbox::purge(store, args, postbacks.retention_days).await?
        }
        Command::Postback(PostbackCommand::Redeliver { id, json }) => {
            merchants::redeliver(store, Some(&cli_actor()), &id, now())
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

fn postback_json(p: &merchants::PostbackHistory) -> serde_json::Value {
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
            paylink_server::dialects::fields(&r.notice).into_iter().map(|(k, v)| (k, json!(v))).collect()
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

fn postback_text(p: &merchants::PostbackHistory) -> String {
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
    key_file: Option<PathBuf>,
    args: ServeArgs,
    file: FileConfig,
) -> Result<(), Failure> {
    let settings =
        config::settings(args.settings.overrides(database_url, key_file), file).map_err(Failure)?;
    let database = config::redact(&settings.database_url);
    let listen = settings.listen;
    let mail_url = settings.web.mail_url.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = Application::build(settings, clock)
        .await
        .map_err(|e| Failure(e.to_string()))?;
    let store = app.store().clone();
    let keys = app.keys();
    let bound = SocketAddr::new(listen.ip(), app.port());
    let public_url = app.public_url().to_string();
    if args.demo {
        let m = merchants::create_merchant(
            &store,
            &keys,
            &cli_actor(),
            "Demo merchant",
            None,
            true,
            now(),
        )
        .await?;
        println!("demo merchant {} with shop {}", m.merchant_id, m.shop_id);
        println!("API token: {}", m.api_token);
        println!("webhook secret: {}", m.webhook_secret);
        println!("try:\n  curl -s {public_url}/api/v1/bill/create -H 'Authorization: Bearer {}' -d amount=100 -d shop_id={}", m.api_token, m.shop_id);
        let mailer = paylink_server::ops::accounts::Mailer {
            gateway: mail_url.as_deref(),
            public_url: &public_url,
            seal: &keys.seal,
        };
        let email = format!(
            "demo-{}@paylink.test",
            m.merchant_id.as_str().to_lowercase()
        );
        let link = paylink_server::ops::accounts::invite(
            &store,
            &mailer,
            &cli_actor(),
            m.merchant_id.as_str(),
            Some(&email),
            now(),
        )
        .await?;
        println!("merchant app: open {link} to choose a password (then sign in as {email})");
    } else if store.merchant_count().await? == 0 {
        println!("no merchants yet: run `paylink merchant create --name \"My shop\"` with the same --database-url or --config as this server, or start with --demo");
    }
    println!("paylink listening on http://{bound} (public URL {public_url}, database {database})");
    if let Some(metrics) = app.metrics_address() {
        println!("metrics on http://{metrics}/metrics");
    }
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

/// Who the CLI acts as in the audit log: `cli@<the host user>` (from `USER`, else the
/// account of the process's user id, else `uid<N>`).
pub fn cli_actor() -> paylink_core::audit::Actor {
    let plausible = |u: &String| !u.is_empty() && u.len() <= 64 && !u.chars().any(char::is_control);
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(plausible)
        .or_else(|| system_user().filter(plausible))
        .unwrap_or_else(|| "unknown".into());
    paylink_core::audit::Actor::cli(&user)
}

/// The name of the process's user id in `/etc/passwd` (Linux), else `uid<N>`.
fn system_user() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Some(
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[2] == uid)
            .map_or_else(|| format!("uid{uid}"), |f| f[0].to_string()),
    )
}
