//! Server settings. The CLI fills them from flags, `PAYLINK_*` variables and the TOML file.

use paylink_core::money::{Currency, Rate};
use paylink_core::notice::RetrySchedule;
use paylink_core::payout::{DirectionRules, PayoutRules};
use paylink_store::StoreOptions;
use std::net::SocketAddr;
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
    pub store: StoreOptions,
    pub postbacks: PostbackSettings,
    pub money: MoneySettings,
    pub idempotency: IdempotencySettings,
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
        }
    }
}

impl Settings {
    pub const DEFAULT_DATABASE_URL: &'static str = "sqlite://paylink.db";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_COMMISSION: &'static str = "3.5";
    pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
    pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

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
            store: StoreOptions::default(),
            postbacks: PostbackSettings::default(),
            money: MoneySettings::default(),
            idempotency: IdempotencySettings::default(),
        }
    }
}
