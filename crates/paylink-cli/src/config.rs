//! Settings from, in order of precedence: flags, `PAYLINK_*` environment variables (both via
//! clap), the TOML file (`--config`, else `./paylink.toml` when present), built-in defaults.

use paylink_core::money::Rate;
use paylink_core::secret::Secret;
use paylink_server::config::{
    parse_duration, CheckoutSettings, IdempotencySettings, Mode, MoneySettings, PostbackSettings,
};
use paylink_server::keys::KeySource;
use paylink_server::Settings;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Every key of `config/paylink.example.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub metrics_listen: Option<String>,
    /// Text ("3.5") or a TOML number (3.5): both are what an operator means.
    #[serde(default, deserialize_with = "percent")]
    pub default_commission: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub header_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub writers: Option<usize>,
    pub read_connections: Option<u32>,
    pub max_batch: Option<usize>,
    /// The key file (see docs/operations.md, Keys).
    pub key_file: Option<PathBuf>,
    /// `sandbox` or `live`.
    pub mode: Option<String>,
    #[serde(default)]
    pub postbacks: PostbackFile,
    #[serde(default)]
    pub money: MoneyFile,
    #[serde(default)]
    pub checkout: CheckoutFile,
    #[serde(default)]
    pub idempotency: IdempotencyFile,
    #[serde(default)]
    pub card_api: CardApiFile,
    #[serde(default)]
    pub web: WebFile,
}

/// The `[web]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebFile {
    /// The mail gateway's URL (emails are POSTed there as JSON).
    pub mail_url: Option<String>,
}

/// The `[card_api]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardApiFile {
    /// The SMS gateway's URL (gift-card OTPs are POSTed there as JSON).
    pub sms_url: Option<String>,
}

/// The `[checkout]` table: limits against card testing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutFile {
    pub max_failed_per_bill: Option<i64>,
    pub max_failed_per_ip: Option<i64>,
    pub window: Option<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Option<Vec<String>>,
}

/// The `[idempotency]` table: `Idempotency-Key` on the API's writes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyFile {
    /// How long keys and their answers are kept ("24h"; at least "1h").
    pub keep: Option<String>,
}

/// The `[money]` table: settlement and payouts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyFile {
    pub settle_after: Option<String>,
    pub poll_interval: Option<String>,
    pub sandbox_payout_delay: Option<String>,
    /// Whole currency units, as amounts are written everywhere else ("500000.00").
    pub moderation_threshold: Option<String>,
    pub daily_payout_limit: Option<String>,
    pub monthly_payout_limit: Option<String>,
    pub card_payouts: Option<bool>,
    pub sbp_payouts: Option<bool>,
    pub work: Option<bool>,
}

/// The `[postbacks]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostbackFile {
    /// Delays between attempts, e.g. ["10s", "1m", "5m"]; attempts = delays + 1.
    pub retry_schedule: Option<Vec<String>>,
    pub jitter_percent: Option<u32>,
    pub timeout: Option<String>,
    pub lease: Option<String>,
    pub poll_interval: Option<String>,
    pub batch: Option<usize>,
    pub allow_private_receivers: Option<bool>,
    pub dispatch: Option<bool>,
    /// Days finished postbacks are kept before retention sums and removes them (0: forever).
    pub retention_days: Option<u32>,
}

/// A percentage given as text or as a number, kept as text for `Rate::parse_percent`.
fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Percent;
    impl Visitor<'_> for Percent {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a percentage such as \"3.5\" or 3.5")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    d.deserialize_any(Percent).map(Some)
}

impl FileConfig {
    pub fn load(path: Option<&PathBuf>) -> Result<FileConfig, String> {
        let (path, required) = match path {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("paylink.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            // Only a missing default file is skipped; an unreadable one is an error.
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(FileConfig::default())
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Values given on the command line or in the environment.
#[derive(Debug, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub default_commission: Option<String>,
    pub writers: Option<usize>,
    pub metrics_listen: Option<String>,
    pub key_file: Option<PathBuf>,
    pub mode: Option<String>,
}

/// The keys' source: `PAYLINK_KEYS` (the key file's text), else the key file named by the flag
/// or `PAYLINK_KEY_FILE` (`flag`), else by `key_file` in the file; else the default (see
/// [`KeySource::Default`]). `PAYLINK_KEYS` wins over the file's `key_file`, as every variable
/// wins over the file; with the flag or `PAYLINK_KEY_FILE` it is refused: which one seals
/// would be a guess.
pub fn key_source(flag: Option<PathBuf>, file: &FileConfig) -> Result<KeySource, String> {
    match (env("PAYLINK_KEYS"), flag) {
        (Some(_), Some(path)) => Err(format!(
            "both PAYLINK_KEYS and a key file ({}) are set: keep one",
            path.display()
        )),
        (Some(text), None) => Ok(KeySource::Text(Secret::new(text))),
        (None, Some(path)) => Ok(KeySource::File(path)),
        (None, None) => Ok(file
            .key_file
            .clone()
            .map_or(KeySource::Default, KeySource::File)),
    }
}

/// The database URL to use, refused early (and without echoing a password) when it is not
/// one paylink speaks.
pub fn database_url(cli: Option<&String>, file: &FileConfig) -> Result<String, String> {
    let url = cli
        .cloned()
        .or_else(|| file.database_url.clone())
        .unwrap_or_else(|| Settings::DEFAULT_DATABASE_URL.to_string());
    if ["sqlite:", "postgres:", "postgresql:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        Ok(url)
    } else {
        Err(format!(
            "database_url: {:?} is neither sqlite://PATH nor postgres://USER@HOST:PORT/DB",
            redact(&url)
        ))
    }
}

/// `url` with its password, if any, replaced by `***`: fit to print.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

fn duration(key: &str, text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .filter(|ms| *ms > 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| {
            format!("{key}: {text:?} is not a duration such as 250ms, 10s, 5m, 2h or 1d")
        })
}

/// Where emails of admin commands point and go: the public URL (links in them start with it)
/// and the mail gateway, as `serve` would take them from the file and the environment.
pub fn mail_context(file: &FileConfig) -> (String, Option<String>) {
    let public_url = env("PAYLINK_PUBLIC_URL")
        .or(file.public_url.clone())
        .unwrap_or_else(|| {
            let listen = env("PAYLINK_LISTEN")
                .or(file.listen.clone())
                .unwrap_or_else(|| Settings::DEFAULT_LISTEN.to_string());
            format!("http://{listen}")
        });
    let mail_url = env("PAYLINK_MAIL_URL").or(file.web.mail_url.clone());
    (public_url.trim_end_matches('/').to_string(), mail_url)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn boolean(key: &str, text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{key}: {text:?} is not true or false")),
    }
}

/// Postback delivery settings: `PAYLINK_POSTBACKS_*` variables over the `[postbacks]` table.
pub fn postbacks(file: &FileConfig) -> Result<PostbackSettings, String> {
    let f = &file.postbacks;
    let mut p = PostbackSettings::default();
    let schedule = env("PAYLINK_POSTBACKS_RETRY_SCHEDULE")
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .or_else(|| f.retry_schedule.clone());
    if let Some(delays) = schedule {
        p.retry.delays = delays
            .iter()
            .map(|d| duration("postbacks.retry_schedule", d).map(|d| d.as_millis() as i64))
            .collect::<Result<_, _>>()?;
    }
    if let Some(j) = env("PAYLINK_POSTBACKS_JITTER_PERCENT")
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| format!("postbacks.jitter_percent: {v:?} is not a whole number"))
        })
        .transpose()?
        .or(f.jitter_percent)
    {
        if j > 100 {
            return Err(format!("postbacks.jitter_percent: {j} is more than 100"));
        }
        p.retry.jitter_percent = j;
    }
    if let Some(t) = env("PAYLINK_POSTBACKS_TIMEOUT").or_else(|| f.timeout.clone()) {
        p.timeout = duration("postbacks.timeout", &t)?;
    }
    if let Some(t) = env("PAYLINK_POSTBACKS_LEASE").or_else(|| f.lease.clone()) {
        p.lease = duration("postbacks.lease", &t)?;
    }
    if let Some(t) = env("PAYLINK_POSTBACKS_POLL_INTERVAL").or_else(|| f.poll_interval.clone()) {
        p.poll = duration("postbacks.poll_interval", &t)?;
    }
    let batch = match env("PAYLINK_POSTBACKS_BATCH") {
        Some(b) => Some(
            b.trim()
                .parse::<usize>()
                .map_err(|_| format!("postbacks.batch: {b:?} is not a whole number"))?,
        ),
        None => f.batch,
    };
    if let Some(b) = batch {
        p.batch = b.clamp(1, 4096);
    }
    if let Some(a) = env("PAYLINK_POSTBACKS_ALLOW_PRIVATE_RECEIVERS") {
        p.allow_private = boolean("postbacks.allow_private_receivers", &a)?;
    } else if let Some(a) = f.allow_private_receivers {
        p.allow_private = a;
    }
    if let Some(d) = env("PAYLINK_POSTBACKS_DISPATCH") {
        p.dispatch = boolean("postbacks.dispatch", &d)?;
    } else if let Some(d) = f.dispatch {
        p.dispatch = d;
    }
    if let Some(d) = env("PAYLINK_POSTBACKS_RETENTION_DAYS") {
        p.retention_days = d.trim().parse().map_err(|_| {
            format!("postbacks.retention_days: {d:?} is not a whole number of days")
        })?;
    } else if let Some(d) = f.retention_days {
        p.retention_days = d;
    }
    if p.lease <= p.timeout {
        return Err(format!(
            "postbacks.lease ({:?}) must be longer than postbacks.timeout ({:?})",
            p.lease, p.timeout
        ));
    }
    Ok(p)
}

/// Money settings: `PAYLINK_MONEY_*` variables over the `[money]` table.
pub fn money(file: &FileConfig) -> Result<MoneySettings, String> {
    let f = &file.money;
    let mut m = MoneySettings::default();
    let text = |name: &str, value: &Option<String>| env(name).or_else(|| value.clone());
    if let Some(t) = text("PAYLINK_MONEY_SETTLE_AFTER", &f.settle_after) {
        m.settle_after = if t.trim() == "0" {
            Duration::ZERO
        } else {
            duration("money.settle_after", &t)?
        };
    }
    if let Some(t) = text("PAYLINK_MONEY_POLL_INTERVAL", &f.poll_interval) {
        m.poll = duration("money.poll_interval", &t)?;
    }
    if let Some(t) = text(
        "PAYLINK_MONEY_SANDBOX_PAYOUT_DELAY",
        &f.sandbox_payout_delay,
    ) {
        m.sandbox_payout_delay = if t.trim() == "0" {
            Duration::ZERO
        } else {
            duration("money.sandbox_payout_delay", &t)?
        };
    }
    let amount = |key: &str, t: &str| {
        paylink_core::money::parse_minor(t, 2)
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("{key}: {t:?} is not a positive amount"))
    };
    if let Some(t) = text(
        "PAYLINK_MONEY_MODERATION_THRESHOLD",
        &f.moderation_threshold,
    ) {
        m.payouts.moderation_threshold = amount("money.moderation_threshold", &t)?;
    }
    let limit = |key: &str, t: &str| match t.trim() {
        "none" => Ok(None),
        t => amount(key, t).map(Some),
    };
    if let Some(t) = text("PAYLINK_MONEY_DAILY_PAYOUT_LIMIT", &f.daily_payout_limit) {
        m.payouts.daily_limit = limit("money.daily_payout_limit", &t)?;
    }
    if let Some(t) = text(
        "PAYLINK_MONEY_MONTHLY_PAYOUT_LIMIT",
        &f.monthly_payout_limit,
    ) {
        m.payouts.monthly_limit = limit("money.monthly_payout_limit", &t)?;
    }
    let flag = |name: &str, key: &str, value: Option<bool>| -> Result<Option<bool>, String> {
        match env(name) {
            Some(t) => boolean(key, &t).map(Some),
            None => Ok(value),
        }
    };
    if let Some(b) = flag(
        "PAYLINK_MONEY_CARD_PAYOUTS",
        "money.card_payouts",
        f.card_payouts,
    )? {
        m.payouts.card.enabled = b;
    }
    if let Some(b) = flag(
        "PAYLINK_MONEY_SBP_PAYOUTS",
        "money.sbp_payouts",
        f.sbp_payouts,
    )? {
        m.payouts.sbp.enabled = b;
    }
    if let Some(b) = flag("PAYLINK_MONEY_WORK", "money.work", f.work)? {
        m.work = b;
    }
    Ok(m)
}

/// Checkout settings: `PAYLINK_CHECKOUT_*` variables over the `[checkout]` table.
pub fn checkout(file: &FileConfig) -> Result<CheckoutSettings, String> {
    let f = &file.checkout;
    let mut c = CheckoutSettings::default();
    let count = |name: &str, key: &str, value: Option<i64>| -> Result<Option<i64>, String> {
        match env(name) {
            Some(t) => t
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| format!("{key}: {t:?} is not a whole number (0: no limit)")),
            None => match value {
                Some(n) if n < 0 => Err(format!("{key}: {n} is negative (0: no limit)")),
                v => Ok(v),
            },
        }
    };
    if let Some(n) = count(
        "PAYLINK_CHECKOUT_MAX_FAILED_PER_BILL",
        "checkout.max_failed_per_bill",
        f.max_failed_per_bill,
    )? {
        c.card_attempts.per_bill = n;
    }
    if let Some(n) = count(
        "PAYLINK_CHECKOUT_MAX_FAILED_PER_IP",
        "checkout.max_failed_per_ip",
        f.max_failed_per_ip,
    )? {
        c.card_attempts.per_client = n;
    }
    if let Some(t) = env("PAYLINK_CHECKOUT_WINDOW").or_else(|| f.window.clone()) {
        c.card_attempts.window = duration("checkout.window", &t)?.as_millis() as i64;
    }
    let proxies = env("PAYLINK_CHECKOUT_TRUSTED_PROXIES")
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .or_else(|| f.trusted_proxies.clone());
    if let Some(list) = proxies {
        c.trusted_proxies = list
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpAddr>()
                    .map_err(|_| format!("checkout.trusted_proxies: {p:?} is not an IP address"))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(c)
}

/// Idempotency settings: `PAYLINK_IDEMPOTENCY_KEEP` over the `[idempotency]` table.
pub fn idempotency(file: &FileConfig) -> Result<IdempotencySettings, String> {
    let mut i = IdempotencySettings::default();
    if let Some(t) = env("PAYLINK_IDEMPOTENCY_KEEP").or_else(|| file.idempotency.keep.clone()) {
        i.keep = duration("idempotency.keep", &t)?;
        if i.keep < IdempotencySettings::MIN_KEEP {
            return Err(format!(
                "idempotency.keep: {t:?} is shorter than an hour: a client's retries must find \
                 their key"
            ));
        }
    }
    Ok(i)
}

pub fn settings(o: Overrides, file: FileConfig) -> Result<Settings, String> {
    let listen_text = o
        .listen
        .or(file.listen.clone())
        .unwrap_or_else(|| Settings::DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text
        .parse()
        .map_err(|_| format!("listen: {listen_text:?} is not an address like 127.0.0.1:8080"))?;
    let mut s = Settings::new(database_url(o.database_url.as_ref(), &file)?, listen);
    s.keys = key_source(o.key_file, &file)?;
    if let Some(m) = o.mode.or_else(|| file.mode.clone()) {
        s.mode = Mode::parse(&m)
            .ok_or_else(|| format!("mode: {m:?} is neither \"sandbox\" nor \"live\""))?;
    }
    s.postbacks = postbacks(&file)?;
    s.money = money(&file)?;
    s.checkout = checkout(&file)?;
    let metrics = o
        .metrics_listen
        .or(file.metrics_listen.clone())
        .unwrap_or_else(|| Settings::DEFAULT_METRICS_LISTEN.to_string());
    s.metrics_listen = match metrics.as_str() {
        "off" => None,
        text => Some(text.parse().map_err(|_| {
            format!("metrics_listen: {text:?} is not an address like 127.0.0.1:9464, or off")
        })?),
    };
    s.idempotency = idempotency(&file)?;
    if let Some(url) = env("PAYLINK_SMS_URL").or_else(|| file.card_api.sms_url.clone()) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "card_api.sms_url: {url:?} must start with http:// or https://"
            ));
        }
        s.card_api.sms_url = Some(url);
    }
    if let Some(url) = env("PAYLINK_MAIL_URL").or_else(|| file.web.mail_url.clone()) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "web.mail_url: {url:?} must start with http:// or https://"
            ));
        }
        s.web.mail_url = Some(url);
    }
    if let Some(url) = o.public_url.or(file.public_url) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "public_url: {url:?} must start with http:// or https://"
            ));
        }
        s.public_url = url.trim_end_matches('/').to_string();
    }
    if let Some(c) = o.default_commission.or(file.default_commission) {
        s.default_commission = Rate::parse_percent(&c).ok_or_else(|| {
            format!("default_commission: {c:?} is not a percentage from 0 to 100")
        })?;
    }
    if let Some(b) = file.body_limit_bytes {
        s.body_limit = b;
    }
    if let Some(t) = file.request_timeout_secs {
        s.request_timeout = Duration::from_secs(t.max(1));
    }
    if let Some(t) = file.header_timeout_secs {
        s.header_timeout = Duration::from_secs(t.max(1));
    }
    if let Some(c) = file.max_connections {
        s.max_connections = c.max(1);
    }
    if let Some(w) = o.writers.or(file.writers) {
        s.store.writers = w.max(1);
    }
    if let Some(r) = file.read_connections {
        s.store.read_connections = r.max(1);
    }
    if let Some(m) = file.max_batch {
        s.store.max_batch = m.max(1);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_documents_every_key_and_parses() {
        let text = include_str!("../../../config/paylink.example.toml");
        let file: FileConfig = toml::from_str(text).expect("example parses");
        assert!(file.database_url.is_some() && file.listen.is_some());
        // Shown, not set: unset, it follows `listen`.
        assert!(file.public_url.is_none() && text.contains("\n# public_url = "));
        assert!(file.default_commission.is_some() && file.body_limit_bytes.is_some());
        assert!(file.request_timeout_secs.is_some() && file.writers.is_some());
        assert!(file.header_timeout_secs.is_some() && file.max_connections.is_some());
        assert_eq!(file.log_format, Some(LogFormat::Text));
        assert!(file.metrics_listen.is_some());
        assert!(file.read_connections.is_some() && file.max_batch.is_some());
        assert!(file.key_file.is_some() && file.mode.is_some());
        assert!(file.idempotency.keep.is_some());
        assert!(file.postbacks.retention_days.is_some());
    }

    #[test]
    fn finished_postbacks_are_kept_thirty_days_unless_configured() {
        let days = |text: &str| {
            let file: FileConfig = toml::from_str(text).expect(text);
            postbacks(&file).map(|p| p.retention_days)
        };
        assert_eq!(days(""), Ok(30));
        assert_eq!(days("[postbacks]\nretention_days = 7"), Ok(7));
        assert_eq!(days("[postbacks]\nretention_days = 0"), Ok(0));
        assert!(toml::from_str::<FileConfig>("[postbacks]\nretention_days = -1").is_err());
    }

    #[test]
    fn idempotency_keys_are_kept_a_day_unless_configured_and_at_least_an_hour() {
        let keep = |text: &str| {
            let file: FileConfig = toml::from_str(text).expect(text);
            settings(Overrides::default(), file).map(|s| s.idempotency.keep)
        };
        assert_eq!(keep(""), Ok(Duration::from_secs(86_400)));
        assert_eq!(
            keep("[idempotency]\nkeep = \"48h\""),
            Ok(Duration::from_secs(2 * 86_400))
        );
        let err = keep("[idempotency]\nkeep = \"10m\"").unwrap_err();
        assert!(err.contains("idempotency.keep"), "{err}");
        let err = keep("[idempotency]\nkeep = \"soon\"").unwrap_err();
        assert!(err.contains("idempotency.keep"), "{err}");
    }

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\npublic_url = \"https://pay.example.com/\"",
        )
        .unwrap();
        let s = settings(
            Overrides {
                listen: Some("127.0.0.1:9100".into()),
                ..Overrides::default()
            },
            file,
        )
        .unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.public_url, "https://pay.example.com");
        let s = settings(Overrides::default(), FileConfig::default()).unwrap();
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.default_commission.bps(), 350);
    }

    #[test]
    fn a_commission_may_be_written_as_text_or_as_a_number() {
        for (text, bps) in [
            ("default_commission = \"2.9\"", 290),
            ("default_commission = 2.9", 290),
            ("default_commission = 5", 500),
        ] {
            let file: FileConfig = toml::from_str(text).expect(text);
            let s = settings(Overrides::default(), file).expect(text);
            assert_eq!(s.default_commission.bps(), bps, "{text}");
        }
        let err = toml::from_str::<FileConfig>("default_commission = [3]").unwrap_err();
        assert!(err.to_string().contains("percentage"), "{err}");
    }

    #[test]
    fn printed_database_urls_hide_the_password() {
        assert_eq!(
            redact("postgres://app:s3cr%40t@db.internal:5432/paylink"),
            "postgres://app:***@db.internal:5432/paylink"
        );
        assert_eq!(
            redact("postgres://app@db/paylink"),
            "postgres://app@db/paylink"
        );
        assert_eq!(redact("sqlite://paylink.db"), "sqlite://paylink.db");
        assert_eq!(
            redact("sqlite:///var/lib/pay@link/paylink.db"),
            "sqlite:///var/lib/pay@link/paylink.db"
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let err = settings(
            Overrides {
                listen: Some("nowhere".into()),
                ..Overrides::default()
            },
            FileConfig::default(),
        )
        .unwrap_err();
        assert!(err.starts_with("listen:"));
        let err = settings(
            Overrides {
                listen: Some("127.0.0.1:0".into()),
                database_url: Some("postgress://app:hunter2@db/paylink".into()),
                ..Overrides::default()
            },
            FileConfig::default(),
        )
        .unwrap_err();
        assert!(
            err.starts_with("database_url:") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(toml::from_str::<FileConfig>("colour = 1").is_err());
    }

    #[test]
    fn the_checkout_table_sets_the_card_testing_limits() {
        let file: FileConfig = toml::from_str(
            "[checkout]\nmax_failed_per_bill = 3\nmax_failed_per_ip = 0\nwindow = \"30m\"\n\
             trusted_proxies = [\"127.0.0.1\", \"::1\"]",
        )
        .unwrap();
        let c = checkout(&file).unwrap();
        assert_eq!(
            (
                c.card_attempts.per_bill,
                c.card_attempts.per_client,
                c.card_attempts.window
            ),
            (3, 0, 30 * 60_000)
        );
        assert_eq!(c.trusted_proxies.len(), 2);
        let d = checkout(&FileConfig::default()).unwrap();
        assert_eq!(
            (d.card_attempts.per_bill, d.card_attempts.per_client),
            (5, 20)
        );
        assert!(d.trusted_proxies.is_empty());
        for bad in [
            "[checkout]\nmax_failed_per_bill = -1",
            "[checkout]\nwindow = \"soon\"",
            "[checkout]\ntrusted_proxies = [\"proxy.local\"]",
        ] {
            let file: FileConfig = toml::from_str(bad).unwrap();
            let err = checkout(&file).unwrap_err();
            assert!(err.starts_with("checkout."), "{err}");
        }
    }
}
