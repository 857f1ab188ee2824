//! `paylink doctor`: reads the configuration as `serve` would and checks what an operator gets
//! wrong: the key file's permissions and match with the database, the database itself, the
//! public URL, the receiver policy, where metrics are served, the clock. Prints a line per
//! check with what to fix; exits non-zero when one fails.

use crate::config::{self, FileConfig, Overrides};
use crate::Failure;
use paylink_server::config::Mode;
use paylink_server::keys::{InstanceKeys, KeySource, DEFAULT_KEY_FILE};
use paylink_server::{Clock, SystemClock};
use paylink_store::{Store, StoreOptions};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

struct Check {
    name: &'static str,
    verdict: Verdict,
    message: String,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, name: &'static str, verdict: Verdict, message: impl Into<String>) {
        self.0.push(Check {
            name,
            verdict,
            message: message.into(),
        });
    }
}

/// Clock skew between this machine and the database beyond which leases and schedules go wrong.
const MAX_SKEW_MS: i64 = 2_000;

pub async fn doctor(overrides: Overrides, file: FileConfig, as_json: bool) -> Result<(), Failure> {
    let mut r = Report::default();
    let settings = match config::settings(overrides, file) {
        Ok(s) => {
            r.add("configuration", Verdict::Ok, "read and valid");
            Some(s)
        }
        Err(e) => {
            r.add("configuration", Verdict::Fail, e);
            None
        }
    };
    if let Some(s) = &settings {
        settings_checks(&mut r, s);
        database_checks(&mut r, s).await;
    }
    let failed = r.0.iter().filter(|c| c.verdict == Verdict::Fail).count();
    let warned = r.0.iter().filter(|c| c.verdict == Verdict::Warn).count();
    if as_json {
        let checks: Vec<_> =
            r.0.iter()
                .map(|c| json!({"check": c.name, "verdict": word(c.verdict), "message": c.message}))
                .collect();
        println!("{}", json!({"ok": failed == 0, "checks": checks}));
    } else {
        for c in &r.0 {
            println!("{:<5} {}: {}", word(c.verdict), c.name, c.message);
        }
        println!("{failed} failed, {warned} warnings");
    }
    if failed > 0 {
        return Err(Failure(format!(
            "{failed} check(s) failed: fix them and run paylink doctor again"
        )));
    }
    Ok(())
}

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Warn => "warn",
        Verdict::Fail => "FAIL",
    }
}

fn is_loopback_host(url: &str) -> bool {
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn settings_checks(r: &mut Report, s: &paylink_server::Settings) {
    match s.mode {
        Mode::Sandbox => r.add(
            "mode",
            Verdict::Warn,
            "sandbox: test money only; set mode = \"live\" once a live acquirer is configured",
        ),
        Mode::Live => r.add("mode", Verdict::Ok, "live"),
    }
    let url = &s.public_url;
    if url.starts_with("https://") {
        r.add("public_url", Verdict::Ok, url.clone());
    } else if is_loopback_host(url) {
        r.add(
            "public_url",
            Verdict::Ok,
            format!("{url} (local only: payers elsewhere cannot reach it)"),
        );
    } else {
        r.add(
            "public_url",
            Verdict::Fail,
            format!(
                "{url} is plain http on a public host: payers would send card numbers in the \
                 clear; terminate TLS at a reverse proxy and set public_url = \"https://...\""
            ),
        );
    }
    if s.listen.ip().is_loopback() {
        r.add("listen", Verdict::Ok, s.listen.to_string());
    } else {
        r.add(
            "listen",
            Verdict::Warn,
            format!(
                "{} takes connections from other machines: keep a TLS proxy in front and a \
                 firewall around it",
                s.listen
            ),
        );
    }
    match s.metrics_listen {
        None => r.add("metrics", Verdict::Ok, "off"),
        Some(a) if a.ip().is_loopback() => r.add("metrics", Verdict::Ok, format!("{a}")),
        Some(a) => r.add(
            "metrics",
            Verdict::Warn,
            format!("{a} serves /metrics beyond this machine: restrict it with a firewall"),
        ),
    }
    match (s.postbacks.allow_private, s.mode) {
        (false, _) => r.add(
            "receivers",
            Verdict::Ok,
            "postbacks go to public addresses only",
        ),
        (true, Mode::Sandbox) => r.add(
            "receivers",
            Verdict::Warn,
            "allow_private_receivers: postbacks may reach this machine's and the LAN's services",
        ),
        (true, Mode::Live) => r.add(
            "receivers",
            Verdict::Fail,
            "allow_private_receivers is on in live mode: a merchant could make paylink post to \
             internal services; turn it off",
        ),
    }
    let now = SystemClock.now();
    // 2024-01-01 to 2100-01-01: a clock outside is unset or broken.
    if !(1_704_067_200_000..4_102_444_800_000).contains(&now) {
        r.add(
            "clock",
            Verdict::Fail,
            "this machine's clock is not set: enable NTP (systemd-timesyncd, chrony)",
        );
    }
}

/// The key file the settings name, if the keys come from a file.
fn key_path(s: &paylink_server::Settings) -> Option<PathBuf> {
    match &s.keys {
        KeySource::File(p) => Some(p.clone()),
        KeySource::Default => {
            Store::sqlite_path(&s.database_url).map(|db| db.with_file_name(DEFAULT_KEY_FILE))
        }
        KeySource::Text(_) => None,
    }
}

#[cfg(unix)]
fn private(path: &Path) -> Option<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    Some(mode & 0o077 == 0)
}

#[cfg(not(unix))]
fn private(_: &Path) -> Option<bool> {
    Some(true)
}

async fn database_checks(r: &mut Report, s: &paylink_server::Settings) {
    let db = config::redact(&s.database_url);
    if let Some(path) = Store::sqlite_path(&s.database_url) {
        if !path.exists() {
            r.add(
                "database",
                Verdict::Warn,
                format!("{db} does not exist yet: `paylink serve` creates it (and its key file)"),
            );
            return;
        }
        if private(&path) == Some(false) {
            r.add(
                "database file",
                Verdict::Fail,
                format!(
                    "{} is readable by other users: chmod 600 it (and its -wal, -shm)",
                    path.display()
                ),
            );
        }
    }
    let key_file = key_path(s);
    match &key_file {
        None => r.add("key file", Verdict::Ok, "keys from PAYLINK_KEYS"),
        Some(p) if !p.exists() => {
            r.add(
                "key file",
                Verdict::Fail,
                format!(
                    "{} is missing: restore it from its backup (without it sealed tokens and \
                     secrets cannot be opened), or for a new PostgreSQL database run \
                     `paylink keys generate --out {}`",
                    p.display(),
                    p.display()
                ),
            );
            return;
        }
        Some(p) => match private(p) {
            Some(true) => r.add(
                "key file",
                Verdict::Ok,
                format!("{} (mode 0600)", p.display()),
            ),
            _ => r.add(
                "key file",
                Verdict::Fail,
                format!(
                    "{} is readable by other users: chmod 600 {}",
                    p.display(),
                    p.display()
                ),
            ),
        },
    }
    let store = match Store::open(&s.database_url, StoreOptions::for_command()).await {
        Ok(store) => store,
        Err(e) => {
            r.add("database", Verdict::Fail, format!("{db}: {e}"));
            return;
        }
    };
    match store.check_ready().await {
        Ok(()) => r.add(
            "database",
            Verdict::Ok,
            format!("{db}: answers, schema current, writes commit"),
        ),
        Err(e) => r.add("database", Verdict::Fail, format!("{db}: {e}")),
    }
    match store.instance_setting("mode").await {
        Ok(Some(recorded)) if recorded != s.mode.as_str() => r.add(
            "mode",
            Verdict::Fail,
            format!(
                "the database was made in {recorded} mode and the configuration says {}: test \
                 and live money never mix",
                s.mode.as_str()
            ),
        ),
        Ok(_) => {}
        Err(e) => r.add("mode", Verdict::Fail, e.to_string()),
    }
    match InstanceKeys::open(&s.keys, &s.database_url, &store).await {
        Ok(_) => r.add(
            "keys",
            Verdict::Ok,
            "the keys belong to this database and open every sealed value",
        ),
        Err(e) => r.add("keys", Verdict::Fail, e.to_string()),
    }
    match store.database_clock().await {
        Ok(db_now) => {
            let skew = SystemClock.now() - db_now;
            if skew.abs() <= MAX_SKEW_MS {
                r.add(
                    "clock",
                    Verdict::Ok,
                    format!("agrees with the database ({skew} ms)"),
                );
            } else {
                r.add(
                    "clock",
                    Verdict::Fail,
                    format!(
                        "this machine and the database disagree by {} s: enable NTP on both",
                        skew.abs() / 1000
                    ),
                );
            }
        }
        Err(e) => r.add("clock", Verdict::Fail, e.to_string()),
    }
    store.close().await;
}
