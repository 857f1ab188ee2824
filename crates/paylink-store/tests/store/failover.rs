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
use std::time::{Duration, Instant};

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
    // One writer, so that one lost connection is all there is to lose.
    let options = StoreOptions {
        writers: 1,
        ..StoreOptions::default()
    };
    let store = Store::open(&behind_a_dead_host(&db.url), options)
        .await
        .expect("open");
    let (_, shop) = seed(&store, "wait").await;

    // The primary goes away and what answers takes no writes: the write in flight on the lost
    // connection is refused as unavailable (retry), the next one waits for a primary.
    read_only(&admin, &name, true).await;
    let first = open_bill(&shop, BillType::Normal, 10_000, NOW);
    let answered = store
        .apply(Plan::one(Write::InsertBill(first.clone())))
        .await;
    assert!(
        matches!(answered, Err(StoreError::Unavailable(_))),
        "a write on a lost connection is unavailable, not a failure of its own: {answered:?}"
    );
    let second = open_bill(&shop, BillType::Normal, 20_000, NOW);
    let waiting = {
        let store = store.clone();
        let plan = Plan::one(Write::InsertBill(second.clone()));
        tokio::spawn(async move { store.apply(plan).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !waiting.is_finished(),
        "no write may land on a read-only node"
    );

    // A node takes writes again (the promoted standby): the waiting write lands, and reads
    // follow, with no restart.
    read_only(&admin, &name, false).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !waiting.is_finished() {
        assert!(Instant::now() < deadline, "the write never went through");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    waiting.await.unwrap().expect("the waiting write lands");
    assert_eq!(stored_bill(&store, &second.id).await.amount, second.amount);
    assert!(
        store.bill(&first.id).await.unwrap().is_none(),
        "the refused write left nothing"
    );
    // And a write retried after its refusal goes through once.
    insert_bill(&store, &first).await;
    assert_eq!(stored_bill(&store, &first.id).await.id, first.id);
    store.close().await;
}
