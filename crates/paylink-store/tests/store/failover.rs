//! Following the PostgreSQL primary (a multi-host URL, as a replication manager gives it): a
//! host that is down is skipped, a node that takes no writes is never used, and writes come back
//! by themselves when a node takes them again. The whole failover, with pg_auto_failover and
//! SIGKILL under load, is `bench/failover.py` (run by CI).

use crate::support::{insert_bill, open_bill, seed, stored_bill, NOW};
use paylink_core::bill::BillType;
use paylink_core::plan::{Plan, Write};
use paylink_store::testing::TestDatabase;
use paylink_store::{Store, StoreError, StoreOptions};
use sqlx::{Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The test database's URL with a host where nothing listens put first.
fn behind_a_dead_host(url: &str) -> String {
    let (user, rest) = url.split_once('@').expect("a URL with a user");
    format!("{user}@127.0.0.1:1,{rest}?target_session_attrs=read-write")
}

/// Makes the database refuse writes to new sessions (as a standby does) or take them again, and
/// ends its other sessions (as a primary's death does).
async fn read_only(admin: &str, name: &str, on: bool) {
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("connect as admin");
    conn.execute(
        format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = {}",
            if on { "on" } else { "off" }
        )
        .as_str(),
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

fn postgres() -> Option<String> {
    let admin = std::env::var(paylink_store::testing::ENV)
        .ok()
        .filter(|u| !u.is_empty());
    if admin.is_none() {
        eprintln!("skipped: following a PostgreSQL primary needs PAYLINK_TEST_DATABASE_URL");
    }
    admin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_down_is_skipped_and_a_read_only_node_is_never_written() {
    let Some(admin) = postgres() else { return };
    let db = TestDatabase::new().await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let url = behind_a_dead_host(&db.url);

    let store = Store::open(&url, StoreOptions::default())
        .await
        .expect("the live host is found behind the dead one");
    let (_, shop) = seed(&store, "follow").await;
    let bill = open_bill(&shop, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &bill).await;
    assert_eq!(stored_bill(&store, &bill.id).await.id, bill.id);
    store.close().await;

    read_only(&admin, &name, true).await;
    let refused = Store::open(&url, StoreOptions::default()).await.err();
    match refused {
        Some(StoreError::Unavailable(why)) => {
            assert!(why.contains("no PostgreSQL host accepts writes"), "{why}");
            assert!(why.contains("read-only"), "{why}");
            assert!(
                !why.contains("postgres@"),
                "the URL's user is not echoed: {why}"
            );
        }
        other => panic!("a read-only node must not be used: {other:?}"),
    }
    read_only(&admin, &name, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_out_a_node_that_refuses_them_and_go_through_when_one_takes_them() {
    let Some(admin) = postgres() else { return };
    let db = TestDatabase::new().await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    // One writer: both writes below queue behind its one connection.
    let options = StoreOptions {
        writers: 1,
        ..StoreOptions::default()
    };
    let store = Store::open(&behind_a_dead_host(&db.url), options)
        .await
        .expect("open");
    let (_, shop) = seed(&store, "wait").await;

    // The primary goes away and what answers takes no writes: the write that finds its
    // connection lost waits, and so does the next one; neither lands on the read-only node.
    read_only(&admin, &name, true).await;
    let first = open_bill(&shop, BillType::Normal, 10_000, NOW);
    let second = open_bill(&shop, BillType::Normal, 20_000, NOW);
    let spawn = |bill: paylink_core::bill::Bill| {
        let store = store.clone();
        tokio::spawn(async move { store.apply(Plan::one(Write::InsertBill(bill))).await })
    };
    let waiting = [spawn(first.clone()), spawn(second.clone())];
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "no write may land on, or be failed by, a read-only node"
    );

    // A node takes writes again (the promoted standby): the waiting writes land, each once,
    // and reads follow, with no restart.
    read_only(&admin, &name, false).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !waiting.iter().all(|w| w.is_finished()) {
        assert!(Instant::now() < deadline, "the writes never went through");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in waiting {
        w.await.unwrap().expect("the waiting write lands");
    }
    assert_eq!(stored_bill(&store, &first.id).await.amount, first.amount);
    assert_eq!(stored_bill(&store, &second.id).await.amount, second.amount);
    store.close().await;
}

/// A TCP relay to PostgreSQL that can freeze: it keeps every connection open and passes no more
/// bytes, as a host that vanished (powered off, cut off) does.
struct Relay {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl Relay {
    async fn to(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let target = target.to_string();
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, frozen) = (target.clone(), flag.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::join!(pump(ri, wo, frozen.clone()), pump(ro, wi, frozen.clone()));
                });
            }
        });
        Relay { port, frozen }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.load(Ordering::SeqCst) {
            // Hold both ends open and answer nothing, ever.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_answering_is_given_up_and_the_next_one_takes_the_writes() {
    let Some(_admin) = postgres() else { return };
    let db = TestDatabase::new().await;
    let (user, rest) = db.url.split_once('@').unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let relay = Relay::to(host).await;
    // The relay first: the store starts on it. Then the same server directly.
    let url = format!("{user}@127.0.0.1:{},{host}/{path}", relay.port);
    let options = StoreOptions {
        writers: 1,
        batch_timeout: Duration::from_secs(2),
        ..StoreOptions::default()
    };
    let store = Store::open(&url, options)
        .await
        .expect("open through the relay");
    let (_, shop) = seed(&store, "vanish").await;

    relay.frozen.store(true, Ordering::SeqCst);
    let lost = open_bill(&shop, BillType::Normal, 10_000, NOW);
    let started = Instant::now();
    let answered = store
        .apply(Plan::one(Write::InsertBill(lost.clone())))
        .await;
    assert!(
        matches!(answered, Err(StoreError::CommitUnknown(_))),
        "a batch without an answer is given up, its outcome unknown: {answered:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "given up in time"
    );

    // The writer moves to the host that answers; so do the reads, within the watcher's rounds.
    let next = open_bill(&shop, BillType::Normal, 20_000, NOW);
    insert_bill(&store, &next).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match store.bill(&next.id).await {
            Ok(Some(b)) => {
                assert_eq!(b.amount, next.amount);
                break;
            }
            other => assert!(
                Instant::now() < deadline,
                "reads never left the frozen host: {other:?}"
            ),
        }
    }
    store.close().await;
}
