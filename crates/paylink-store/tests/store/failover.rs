//! Following the PostgreSQL primary (a multi-host URL, as a replication manager gives it): a
//! host that is down is skipped, a node that takes no writes is never used, and writes come back
//! by themselves when a node takes them again. The whole failover, with pg_auto_failover and
//! SIGKILL under load, is `bench/failover.py` (run by CI).

use crate::support::{insert_bill, open_bill, seed, stored_bill, NOW};
use paylink_core::bill::BillType;
use paylink_core::plan::{Plan, Write};
use paylink_store::testing::{Relay, TestDatabase};
use paylink_store::{Store, StoreError, StoreOptions};
use std::time::{Duration, Instant};

/// The test database's URL with a host where nothing listens put first.
fn behind_a_dead_host(url: &str) -> String {
    let (user, rest) = url.split_once('@').expect("a URL with a user");
    format!("{user}@127.0.0.1:1,{rest}?target_session_attrs=read-write")
}

fn postgres() -> bool {
    let set = std::env::var(paylink_store::testing::ENV).is_ok_and(|u| !u.is_empty());
    if !set {
        eprintln!("skipped: following a PostgreSQL primary needs PAYLINK_TEST_DATABASE_URL");
    }
    set
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_down_is_skipped_and_a_read_only_node_is_never_written() {
    if !postgres() {
        return;
    }
    let db = TestDatabase::new().await;
    let url = behind_a_dead_host(&db.url);

    let store = Store::open(&url, StoreOptions::default())
        .await
        .expect("the live host is found behind the dead one");
    let (_, shop) = seed(&store, "follow").await;
    let bill = open_bill(&shop, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &bill).await;
    assert_eq!(stored_bill(&store, &bill.id).await.id, bill.id);
    store.close().await;

    db.set_read_only(true).await;
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
    db.set_read_only(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_out_a_node_that_refuses_them_and_go_through_when_one_takes_them() {
    if !postgres() {
        return;
    }
    let db = TestDatabase::new().await;
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
    db.set_read_only(true).await;
    let first = open_bill(&shop, BillType::Normal, 10_000, NOW);
    let second = open_bill(&shop, BillType::Normal, 20_000, NOW);
    let spawn = |bill: paylink_core::bill::Bill| {
        let store = store.clone();
        tokio::spawn(async move { store.apply(Plan::one(Write::InsertBill(bill))).await })
    };
    let waiting = [spawn(first.clone()), spawn(second.clone())];
    // A third whose caller stops waiting (a request past its deadline, told it took too
    // long): it must not be carried out later behind the caller's back.
    let third = open_bill(&shop, BillType::Normal, 30_000, NOW);
    let abandoned = spawn(third.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "no write may land on, or be failed by, a read-only node"
    );
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());

    // A node takes writes again (the promoted standby): the waiting writes land, each once,
    // and reads follow, with no restart.
    db.set_read_only(false).await;
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
    assert_eq!(store.bill(&third.id).await.unwrap(), None);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stops_answering_is_given_up_and_the_next_one_takes_the_writes() {
    if !postgres() {
        return;
    }
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

    relay.freeze();
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
