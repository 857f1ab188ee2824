//! Fresh databases for test suites: a temp SQLite file, or, when `PAYLINK_TEST_DATABASE_URL`
//! names a PostgreSQL server, a new database on it that is dropped afterwards.

use sqlx::{Connection, Executor, PgConnection};

pub const ENV: &str = "PAYLINK_TEST_DATABASE_URL";

pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn new() -> TestDatabase {
        match std::env::var(ENV).ok().filter(|u| !u.is_empty()) {
            Some(admin) => {
                let name = format!(
                    "paylink_test_{}",
                    paylink_core::id::random_base62(&mut rand::thread_rng(), 12).to_lowercase()
                );
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .expect("connect to the test PostgreSQL");
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create a test database");
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDatabase {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("paylink.db").display());
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// PostgreSQL only: makes the database take no writes in new sessions, as a standby does
    /// (or take them again), and ends its other sessions, as a primary's death does.
    pub async fn set_read_only(&self, on: bool) {
        let (admin, name) = self.postgres.as_ref().expect("a PostgreSQL test database");
        let mut conn = PgConnection::connect(admin)
            .await
            .expect("connect as admin");
        conn.execute(
            format!("ALTER DATABASE {name} SET default_transaction_read_only = {on}").as_str(),
        )
        .await
        .expect("alter the database");
        conn.execute(
            format!(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            .as_str(),
        )
        .await
        .expect("end the sessions");
        let _ = conn.close().await;
    }
}

/// Migrates the database at `url` up to migration `version` only, then runs `sql` on it: a
/// database as an older paylink left it, for upgrade tests.
pub async fn older_database(url: &str, version: i64, sql: &str) -> Result<(), crate::StoreError> {
    use crate::sql::Exec;
    if url.starts_with("sqlite:") {
        let path = crate::sqlite::path_of(url)?;
        let mut conn = crate::sqlite::SqliteConn::open(&path, true)?;
        crate::migrate::run_to(&mut conn, 0, None, version).await?;
        conn.batch(sql).await
    } else {
        let primary = crate::primary::Primary::parse(url)?;
        let mut conn = crate::postgres::connect_writer(&primary).await?;
        crate::migrate::run_to(&mut conn, 0, None, version).await?;
        conn.batch(sql).await?;
        let _ = sqlx::Connection::close(conn).await;
        Ok(())
    }
}

impl crate::Store {
    /// Runs `sql` outside the writer, as an operator at a SQL prompt would: for tests of what
    /// the schema itself refuses.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), crate::StoreError> {
        use crate::sql::Exec;
        match &self.reads {
            crate::Reads::Sqlite(pool) => pool.take()?.batch(sql).await,
            crate::Reads::Postgres(pool) => pool.acquire().await?.batch(sql).await,
        }
    }

    /// Writes a key as versions before key files kept it (`instance_secrets`): for upgrade tests.
    pub async fn insert_legacy_secret(
        &self,
        name: &str,
        value: &str,
    ) -> Result<(), crate::StoreError> {
        use crate::sql::Exec;
        let sql = "INSERT INTO instance_secrets (name, value) VALUES ($1, $2)";
        let args = [
            crate::sql::Value::from(name),
            crate::sql::Value::from(value),
        ];
        match &self.reads {
            crate::Reads::Sqlite(pool) => pool.take()?.exec(sql, &args).await?,
            crate::Reads::Postgres(pool) => pool.acquire().await?.exec(sql, &args).await?,
        };
        Ok(())
    }

    /// Writes a pending notice as versions before events wrote them, with the form fields of
    /// `n.content` and no event: for upgrade tests.
    pub async fn insert_legacy_notice(
        &self,
        n: &crate::StoredNotice,
    ) -> Result<(), crate::StoreError> {
        use crate::sql::{Exec, Value};
        let crate::NoticeContent::Fields(fields) = &n.content else {
            panic!("a legacy notice holds fields");
        };
        let fields = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let sql = "INSERT INTO outbox (id, kind, merchant_id, shop_id, bill_id, subject_id, url, \
                   fields, state, next_at, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)";
        let args = [
            Value::from(n.id.as_str()),
            n.kind.as_str().into(),
            n.merchant_id.as_ref().map(|m| m.as_str()).into(),
            n.shop_id.as_ref().map(|s| s.as_str()).into(),
            n.bill_id.as_ref().map(|b| b.as_str()).into(),
            n.subject_id.as_str().into(),
            n.url.as_str().into(),
            fields.into(),
            n.created_at.into(),
        ];
        match &self.reads {
            crate::Reads::Sqlite(pool) => pool.take()?.exec(sql, &args).await?,
            crate::Reads::Postgres(pool) => pool.acquire().await?.exec(sql, &args).await?,
        };
        Ok(())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime we may block: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

/// How a [`Relay`] passes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// Connections stay open and pass nothing more: a host powered off or cut off.
    Frozen,
    /// Every connection closed, new ones closed at once: a killed postmaster, a restart.
    Down,
}

/// A TCP relay to a database server that fails as a host does, for tests of what paylink does
/// when its database goes away and comes back.
pub struct Relay {
    pub port: u16,
    link: tokio::sync::watch::Sender<Link>,
}

impl Relay {
    /// A relay on a free loopback port to `target` (`host:port`).
    pub async fn to(target: &str) -> Relay {
        use tokio::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a relay");
        let port = listener.local_addr().expect("the relay's address").port();
        let (link, watch) = tokio::sync::watch::channel(Link::Up);
        let target = target.to_string();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if *watch.borrow() == Link::Down {
                    continue; // dropped: closed at once
                }
                let (target, mut watch) = (target.clone(), watch.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    let (a, b) = (watch.clone(), watch.clone());
                    let both = async { tokio::join!(pump(ri, wo, a), pump(ro, wi, b)) };
                    // Down drops both sockets, whatever either side is doing.
                    tokio::select! {
                        _ = both => {}
                        _ = watch.wait_for(|l| *l == Link::Down) => {}
                    }
                });
            }
        });
        Relay { port, link }
    }

    /// `url` (a PostgreSQL URL with one host) through this relay.
    pub fn url_for(&self, url: &str) -> String {
        let (user, rest) = url.split_once('@').expect("a URL with a user");
        let (_, path) = rest.split_once('/').expect("a URL with a database");
        format!("{user}@127.0.0.1:{}/{path}", self.port)
    }

    /// Every connection keeps still, open, from now on.
    pub fn freeze(&self) {
        self.link.send_replace(Link::Frozen);
    }

    /// Every connection is closed, and new ones are, until [`Relay::up`].
    pub fn down(&self) {
        self.link.send_replace(Link::Down);
    }

    /// New connections pass again.
    pub fn up(&self) {
        self.link.send_replace(Link::Up);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: tokio::sync::watch::Receiver<Link>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if *link.borrow() == Link::Frozen {
            // Hold both ends open and answer nothing, ever.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
