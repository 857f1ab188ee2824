//! Server settings. The CLI fills them from flags, `PAYLINK_*` variables and the TOML file.

use crate::keys::KeySource;
use crate::workers::dispatcher::RetrySchedule;
use paylink_core::money::{Currency, Rate};
use paylink_core::payment::CardAttemptLimits;
use paylink_core::payout::{DirectionRules, PayoutRules};
use paylink_core::time::Millis;
use paylink_store::StoreOptions;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Base of `link_url`/`link_page_url`, without a trailing slash.
    pub public_url: String,
    /// Commission for shops that have none of their own.
    pub default_commission: Rate,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Longest wait for a request's headers, counted from when the server starts waiting for
    /// them: a new connection, or the previous answer sent. It cuts off clients that trickle
    /// headers, and closes keep-alive connections left idle that long.
    pub header_timeout: Duration,
    /// Most client connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Where `/metrics` (Prometheus) is served: its own listener, off the public one. `None`:
    /// not served.
    pub metrics_listen: Option<SocketAddr>,
    pub store: StoreOptions,
    pub postbacks: PostbackSettings,
    pub money: MoneySettings,
    pub checkout: CheckoutSettings,
    /// Where the instance keys come from (see [`crate::keys`]).
    pub keys: KeySource,
    pub mode: Mode,
    pub idempotency: IdempotencySettings,
    pub card_api: CardApiSettings,
    pub web: WebSettings,
}

/// The web pages' settings.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// The mail gateway emails (password resets, invitations) are POSTed to, with the
    /// postbacks' retries. `None`: emails are kept for `paylink mail list` only.
    pub mail_url: Option<String>,
}

/// The Card API's settings.
#[derive(Debug, Clone, Default)]
pub struct CardApiSettings {
    /// The SMS gateway text messages (gift-card OTPs) are POSTed to, with the postbacks'
    /// retries. `None`: messages are kept for `paylink sms list` only (the sandbox's default).
    pub sms_url: Option<String>,
}

/// Whether money is real. Recorded in the database at its first start: a database made in one
/// mode refuses to start in the other, so test and live money never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The sandbox acquirer, payout provider, bank pages and `/sandbox` routes; payer pages
    /// say "Test mode".
    #[default]
    Sandbox,
    /// Real acquirers only; nothing of the sandbox is mounted.
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Live => "live",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        match text.trim() {
            "sandbox" => Some(Mode::Sandbox),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// Paying bills: the limits against card testing, and who the payer is.
#[derive(Debug, Clone, Default)]
pub struct CheckoutSettings {
    pub card_attempts: CardAttemptLimits,
    /// Proxies whose `X-Forwarded-For` names the client. From any other peer the header is
    /// ignored: the peer is the client.
    pub trusted_proxies: Vec<IpAddr>,
}

/// `Idempotency-Key` on the writes of the merchant APIs.
#[derive(Debug, Clone)]
pub struct IdempotencySettings {
    /// How long a key and its answer are kept (at least an hour; then forgotten and purged).
    pub keep: Duration,
}

impl IdempotencySettings {
    pub const MIN_KEEP: Duration = Duration::from_secs(3600);
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        IdempotencySettings {
            keep: Duration::from_secs(24 * 3600),
        }
    }
}

/// Settlement and payouts.
#[derive(Debug, Clone)]
pub struct MoneySettings {
    /// How long received money stays in hold before it becomes available (0: at once).
    pub settle_after: Duration,
    pub payouts: PayoutRules,
    /// How long the sandbox payout provider takes to answer a payout in PROCESS.
    pub sandbox_payout_delay: Duration,
    /// How often settlements and payouts are looked for when nothing wakes the workers.
    pub poll: Duration,
    /// Whether this process runs the settlement and payout workers.
    pub work: bool,
}

impl MoneySettings {
    /// The money rules the configuration gives (an operator may save others in the console).
    pub fn rules(&self) -> paylink_core::rules::MoneyRules {
        paylink_core::rules::MoneyRules {
            settle_after_ms: i64::try_from(self.settle_after.as_millis()).unwrap_or(i64::MAX),
            payouts: self.payouts.clone(),
        }
    }
}

impl Default for MoneySettings {
    fn default() -> Self {
        let direction = |min, max, bps, fixed| DirectionRules {
            enabled: true,
            currencies: vec![Currency::Rub],
            min,
            max,
            fee_rate: Rate::from_bps(bps).expect("a valid fee"),
            fee_fixed: fixed,
        };
        MoneySettings {
            settle_after: Duration::from_secs(24 * 3600),
            payouts: PayoutRules {
                // Cards: 100 to 150 000 RUB a payout, 2% + 50 RUB. SBP: 10 to 1 000 000 RUB, 1%.
                card: direction(10_000, 15_000_000, 200, 5_000),
                sbp: direction(1_000, 100_000_000, 100, 0),
                moderation_threshold: 50_000_000,
                daily_limit: Some(300_000_000),
                monthly_limit: Some(3_000_000_000),
            },
            sandbox_payout_delay: Duration::ZERO,
            poll: Duration::from_secs(1),
            work: true,
        }
    }
}

/// How postbacks are delivered.
#[derive(Debug, Clone)]
pub struct PostbackSettings {
    pub retry: RetrySchedule,
    /// Longest wait for a receiver's answer.
    pub timeout: Duration,
    /// How long a dispatcher owns the notices it claimed; a dispatcher that dies mid-delivery
    /// gives them up when the lease runs out. Longer than `timeout`.
    pub lease: Duration,
    /// How often due notices are looked for when nothing wakes the dispatcher (retries come
    /// due on the clock; other processes write notices too).
    pub poll: Duration,
    /// Most notices claimed (and delivered concurrently) at once.
    pub batch: usize,
    /// Receivers on loopback and private addresses are allowed (tests, local development).
    pub allow_private: bool,
    /// Whether this process runs a dispatcher at all.
    pub dispatch: bool,
    /// Days a notice is kept once delivered, failed or kept (0: forever); then the retention
    /// worker beside the dispatcher adds it to the daily summary and removes it with its
    /// attempts (see [`crate::workers::retention`]).
    pub retention_days: u32,
}

impl Default for PostbackSettings {
    fn default() -> Self {
        PostbackSettings {
            retry: RetrySchedule::default(),
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            batch: 256,
            allow_private: false,
            dispatch: true,
            retention_days: 30,
        }
    }
}

impl Settings {
    pub const DEFAULT_DATABASE_URL: &'static str = "sqlite://paylink.db";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_COMMISSION: &'static str = "3.5";
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
    pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
    pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 15;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    /// The CLI's default for `metrics_listen` (a registered Prometheus exporter port).
    pub const DEFAULT_METRICS_LISTEN: &'static str = "127.0.0.1:9464";

    /// Defaults everywhere but the database; `public_url` follows the listen address.
    pub fn new(database_url: impl Into<String>, listen: SocketAddr) -> Settings {
        Settings {
            database_url: database_url.into(),
            listen,
            public_url: format!("http://{listen}"),
            default_commission: Rate::parse_percent(Settings::DEFAULT_COMMISSION)
                .expect("the default commission parses"),
            body_limit: Settings::DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(Settings::DEFAULT_TIMEOUT_SECS),
            header_timeout: Duration::from_secs(Settings::DEFAULT_HEADER_TIMEOUT_SECS),
            max_connections: Settings::DEFAULT_MAX_CONNECTIONS,
            metrics_listen: None,
            store: StoreOptions::default(),
            postbacks: PostbackSettings::default(),
            money: MoneySettings::default(),
            checkout: CheckoutSettings::default(),
            keys: KeySource::Default,
            mode: Mode::Sandbox,
            idempotency: IdempotencySettings::default(),
            card_api: CardApiSettings::default(),
            web: WebSettings::default(),
        }
    }
}

/// `250ms`, `10s`, `5m`, `2h`, `1d` as milliseconds: how durations are configured.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: Millis = n.parse().ok()?;
    let unit_ms = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("10s"), Some(10_000));
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("3w"), None);
    }

    proptest! {
        #[test]
        fn any_text_parses_as_a_duration_or_not_without_panicking(text in "[0-9 .,:+smhdé€]{0,32}|\\PC{0,48}") {
            let _ = parse_duration(&text);
        }
    }
}
