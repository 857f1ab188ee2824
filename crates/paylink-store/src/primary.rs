//! Following the PostgreSQL primary across a failover.
//!
//! A replicated PostgreSQL (pg_auto_failover, Patroni) names its nodes in a libpq multi-host
//! URL, `postgres://user@h1:p1,h2:p2/db?target_session_attrs=read-write`, and libpq clients
//! connect to whichever node accepts writes. sqlx connects to one host, so the store does what
//! libpq does: it keeps the URL's hosts, and every new connection (a writer's, after a failed
//! commit; the read pool's, through its options) goes to the node whose
//! `transaction_read_only` is off, the same test as libpq's `read-write`. That needs nothing
//! between paylink and the database (no proxy to run, watch and make redundant in turn), and
//! follows the promotion as soon as the promoted node accepts connections.
//!
//! A standby is never used, not even for reads: it may lag behind what a client was just told.

use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How long one host may take to answer a connection attempt: a host that is gone (a dead
/// machine, not a refused port) must not hold up trying the next one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a multi-host store checks that its read pool still points at the primary.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Primary {
    hosts: Vec<(String, PgConnectOptions)>,
    /// The host the read pool connects to (and the first one tried). Changed together with the
    /// pool's options, so that two connections finding two primaries in turn cannot leave them
    /// apart.
    current: Mutex<usize>,
    pool: OnceLock<PgPool>,
}

/// libpq's default `sslmode=prefer` encrypts a connection whenever the server offers TLS; over
/// loopback (or a Unix socket) that protects nothing (the traffic never leaves the machine) and
/// costs about a tenth of the payment rate on a small machine, so a loopback host is plain
/// unless the URL (or `PGSSLMODE`) chooses a mode.
fn plain_on_loopback(options: PgConnectOptions, chose_tls: bool) -> PgConnectOptions {
    let host = options.get_host();
    let loopback = host == "localhost"
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback && !chose_tls {
        options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    } else {
        options
    }
}

impl Primary {
    /// The hosts of a `postgres://` URL with one host or a comma-separated list of them.
    pub(crate) fn parse(url: &str) -> Result<Primary, StoreError> {
        let bad = |why: &str| {
            // The URL is not echoed: it may carry a password.
            StoreError::Database(format!("invalid PostgreSQL URL: {why}"))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (user, hosts) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                // Every connection the store makes must accept writes whatever this says;
                // sqlx does not know the key, so it is taken out here.
                Some(("target_session_attrs", value)) => match value {
                    "read-write" | "primary" | "any" => {}
                    _ => return Err(bad("target_session_attrs must be read-write")),
                },
                _ => kept.push(pair),
            }
        }
        let chose_tls = kept.iter().any(|p| p.starts_with("sslmode="))
            || std::env::var_os("PGSSLMODE").is_some();
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        // No host (a Unix socket named by `?host=/run/postgresql`, or the default host): one
        // node, read by sqlx as it is.
        if hosts.is_empty() {
            let options = PgConnectOptions::from_str(&format!("{scheme}://{user}{path}{query}"))
                .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
            let options = plain_on_loopback(options, chose_tls);
            return Ok(Primary {
                hosts: vec![("the default host".into(), options)],
                current: Mutex::new(0),
                pool: OnceLock::new(),
            });
        }
        let hosts = hosts
            .split(',')
            .map(|host| {
                if host.is_empty() {
                    return Err(bad("an empty host in the host list"));
                }
                let one = format!("{scheme}://{user}{host}{path}{query}");
                let options = PgConnectOptions::from_str(&one)
                    .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
                Ok((host.to_string(), plain_on_loopback(options, chose_tls)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Primary {
            hosts,
            current: Mutex::new(0),
            pool: OnceLock::new(),
        })
    }

    pub(crate) fn is_replicated(&self) -> bool {
        self.hosts.len() > 1
    }

    /// The options of the host taken as the primary now (the read pool's first).
    pub(crate) fn options(&self) -> PgConnectOptions {
        self.hosts[self.current()].1.clone()
    }

    fn current(&self) -> usize {
        *self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The read pool, whose new connections are sent to the primary as it moves.
    pub(crate) fn follow(&self, pool: PgPool) {
        let _ = self.pool.set(pool);
    }

    /// A connection that accepts writes: the current host first, then the others in order.
    pub(crate) async fn connect(&self) -> Result<PgConnection, StoreError> {
        let start = self.current();
        let mut refusals = Vec::new();
        for k in 0..self.hosts.len() {
            let i = (start + k) % self.hosts.len();
            let (name, options) = &self.hosts[i];
            let attempt = async {
                // A writer's batch goes as one script with its values written in: sqlx must not
                // log it (it logs any statement slower than a second).
                let options = options.clone().disable_statement_logging();
                let mut conn = PgConnection::connect_with(&options).await?;
                Ok::<_, StoreError>(accepts_writes(&mut conn).await?.then_some(conn))
            };
            match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
                Ok(Ok(Some(conn))) => {
                    if i != start {
                        self.moved_to(i);
                    }
                    return Ok(conn);
                }
                Ok(Ok(None)) => refusals.push(format!("{name}: read-only")),
                Ok(Err(e)) => refusals.push(format!("{name}: {e}")),
                Err(_) => refusals.push(format!("{name}: no answer in {CONNECT_TIMEOUT:?}")),
            }
        }
        Err(StoreError::Unavailable(format!(
            "no PostgreSQL host accepts writes ({})",
            refusals.join("; ")
        )))
    }

    fn moved_to(&self, i: usize) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if *current == i {
            return;
        }
        tracing::warn!(
            primary = %self.hosts[i].0,
            before = %self.hosts[*current].0,
            "the PostgreSQL primary has moved; new connections go to it"
        );
        *current = i;
        if let Some(pool) = self.pool.get() {
            pool.set_connect_options(self.hosts[i].1.clone());
        }
    }

    /// Checks once a [`WATCH_EVERY`] that the current host still accepts writes, and finds the
    /// new primary when it does not, so that reads follow a failover even when nothing is
    /// written. Ends with the store: when its writers (which own the `Primary`) have stopped, or
    /// its read pool is closed.
    pub(crate) async fn watch(primary: std::sync::Weak<Primary>) {
        let mut conn: Option<PgConnection> = None;
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let Some(primary) = primary.upgrade() else {
                return;
            };
            if primary.pool.get().is_some_and(|p| p.is_closed()) {
                return;
            }
            let fine = match conn.as_mut() {
                Some(c) => matches!(
                    tokio::time::timeout(CONNECT_TIMEOUT, accepts_writes(c)).await,
                    Ok(Ok(true))
                ),
                None => false,
            };
            if !fine {
                conn = primary.connect().await.ok();
            }
        }
    }
}

/// libpq's `target_session_attrs=read-write` test: a standby (or a node set read-only) says on.
pub(crate) async fn accepts_writes(conn: &mut PgConnection) -> Result<bool, StoreError> {
    let read_only: String = sqlx::query_scalar("SELECT current_setting('transaction_read_only')")
        .fetch_one(&mut *conn)
        .await?;
    Ok(read_only == "off")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(url: &str) -> Vec<(String, u16, String)> {
        Primary::parse(url)
            .unwrap()
            .hosts
            .iter()
            .map(|(_, o)| {
                (
                    o.get_host().to_string(),
                    o.get_port(),
                    o.get_database().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn a_loopback_host_is_plain_unless_the_url_chooses_a_tls_mode() {
        use sqlx::postgres::PgSslMode;
        let mode = |url: &str| {
            let options = PgConnectOptions::from_str(url)
                .unwrap()
                .ssl_mode(PgSslMode::Prefer);
            plain_on_loopback(options, false).get_ssl_mode()
        };
        for url in [
            "postgres://u@127.0.0.1:5432/db",
            "postgres://u@localhost/db",
            "postgres://u@[::1]:5432/db",
        ] {
            assert!(matches!(mode(url), PgSslMode::Disable), "{url}");
        }
        assert!(matches!(
            mode("postgres://u@db.example.com:5432/db"),
            PgSslMode::Prefer
        ));
        // A mode the URL names stands, on loopback too.
        let url = "postgres://u@127.0.0.1:5432/db?sslmode=require";
        assert!(matches!(
            Primary::parse(url).unwrap().hosts[0].1.get_ssl_mode(),
            PgSslMode::Require
        ));
    }

    #[test]
    fn a_multi_host_url_names_each_node_with_the_same_user_database_and_options() {
        let url = "postgres://pay:se%40cret@10.0.0.1:6001,10.0.0.2:6002/paylink?target_session_attrs=read-write&sslmode=disable";
        assert_eq!(
            hosts(url),
            vec![
                ("10.0.0.1".into(), 6001, "paylink".into()),
                ("10.0.0.2".into(), 6002, "paylink".into())
            ]
        );
        let p = Primary::parse(url).unwrap();
        assert!(p.is_replicated());
        assert_eq!(p.hosts[1].1.get_username(), "pay");
    }

    #[test]
    fn a_single_host_url_is_read_as_before() {
        assert_eq!(
            hosts("postgres://postgres@127.0.0.1:5432/postgres"),
            vec![("127.0.0.1".into(), 5432, "postgres".into())]
        );
        assert!(!Primary::parse("postgresql://h/db").unwrap().is_replicated());
    }

    #[test]
    fn a_url_without_a_host_is_left_to_sqlx_as_before() {
        let p = Primary::parse("postgres:///paylink?host=/run/postgresql&user=paylink").unwrap();
        assert!(!p.is_replicated());
        assert_eq!(
            p.hosts[0].1.get_socket().map(|s| s.to_str()),
            Some(Some("/run/postgresql"))
        );
        assert_eq!(p.hosts[0].1.get_database(), Some("paylink"));
    }

    #[test]
    fn a_session_kind_paylink_cannot_honour_and_an_empty_host_are_refused() {
        for url in [
            "postgres://a:1,b:2/db?target_session_attrs=read-only",
            "postgres://a:1,,b:2/db",
        ] {
            let e = Primary::parse(url).err().expect("refused");
            assert!(e.to_string().contains("invalid PostgreSQL URL"), "{e}");
        }
    }
}
