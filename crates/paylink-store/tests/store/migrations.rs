//! Opening a store migrates its database: idempotently, and creating a missing SQLite file.

use crate::support::{self, open_bill, seed, stored_bill, NOW};
use paylink_core::bill::BillType;
use paylink_store::testing::TestDatabase;
use paylink_store::{Backend, Store, StoreOptions};
use std::path::PathBuf;

#[tokio::test]
async fn opening_twice_on_one_database_keeps_schema_and_data() {
    let db = TestDatabase::new().await;
    let first = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("first open migrates");
    let expected = if db.is_postgres() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(first.backend(), expected);
    let (merchant, shop) = seed(&first, "twice").await;
    let bill = open_bill(&shop, BillType::Normal, 1_000, NOW);
    support::insert_bill(&first, &bill).await;

    // A second store on the same database while the first is still open: the migrations are
    // already applied, nothing is re-created and both see the same rows.
    let second = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("second open finds the migrations applied");
    assert_eq!(
        second.merchant(&merchant.id).await.unwrap(),
        Some(merchant.clone())
    );
    assert_eq!(stored_bill(&second, &bill.id).await, bill);
    assert_eq!(second.merchant_count().await.unwrap(), 1);

    // Writes through the second store are seen through the first.
    let (other, _) = seed(&second, "second").await;
    assert_eq!(first.merchant(&other.id).await.unwrap(), Some(other));
    first.close().await;
    second.close().await;

    // And once more after both are closed.
    let third = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("third open");
    assert_eq!(third.merchant_count().await.unwrap(), 2);
    assert_eq!(stored_bill(&third, &bill.id).await, bill);
    third.close().await;
}

/// A SQLite file path in a fresh temp directory, removed afterwards.
struct TempSqlite {
    dir: tempfile::TempDir,
}

impl TempSqlite {
    fn new() -> TempSqlite {
        TempSqlite {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[tokio::test]
async fn a_missing_sqlite_file_is_created_and_reopened() {
    // SQLite always, whatever PAYLINK_TEST_DATABASE_URL says.
    let tmp = TempSqlite::new();
    let path = tmp.path("new.db");
    assert!(!path.exists());
    let url = format!("sqlite://{}", path.display());

    let store = Store::open(&url, StoreOptions::default())
        .await
        .expect("open creates the file");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(path.is_file(), "{} was not created", path.display());
    let (merchant, _) = seed(&store, "created").await;
    store.close().await;

    let again = Store::open(&url, StoreOptions::default())
        .await
        .expect("reopen the created file");
    assert_eq!(again.merchant(&merchant.id).await.unwrap(), Some(merchant));
    again.close().await;
}

#[tokio::test]
async fn a_sqlite_url_with_other_parameters_still_creates_the_file() {
    let tmp = TempSqlite::new();
    let path = tmp.path("params.db");
    let url = format!("sqlite://{}?cache=private", path.display());
    let store = Store::open(&url, StoreOptions::default())
        .await
        .expect("open creates the file");
    assert!(path.is_file());
    let (merchant, _) = seed(&store, "params").await;
    assert_eq!(store.merchant(&merchant.id).await.unwrap(), Some(merchant));
    store.close().await;
}

#[tokio::test]
async fn an_unsupported_url_is_refused() {
    let result = Store::open("mysql://localhost/paylink", StoreOptions::default()).await;
    assert!(
        matches!(result, Err(paylink_store::StoreError::Database(_))),
        "{:?}",
        result.err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_stores_opening_a_fresh_database_at_once_all_succeed() {
    // Several processes started together on a new database: each migrates or finds it done.
    let db = TestDatabase::new().await;
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { Store::open(&url, StoreOptions::default()).await })
        })
        .collect();
    let mut stores = Vec::new();
    for h in handles {
        stores.push(h.await.unwrap().expect("a concurrent first open"));
    }
    let (merchant, _) = seed(&stores[0], "together").await;
    for s in &stores {
        assert_eq!(
            s.merchant(&merchant.id).await.unwrap(),
            Some(merchant.clone())
        );
        assert_eq!(s.merchant_count().await.unwrap(), 1);
    }
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_commits_what_it_answered_and_refuses_what_comes_after() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    let (_, shop) = seed(&store, "closing").await;
    let bills: Vec<_> = (0..200)
        .map(|i| open_bill(&shop, BillType::Normal, 100 + i, NOW + i))
        .collect();
    let handles: Vec<_> = bills
        .iter()
        .map(|b| {
            let store = store.clone();
            let b = b.clone();
            tokio::spawn(async move {
                store
                    .apply(paylink_core::plan::Plan::one(
                        paylink_core::plan::Write::InsertBill(b),
                    ))
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await;
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap());
    }
    // After close, a write is refused rather than left waiting.
    let late = open_bill(&shop, BillType::Normal, 99, NOW);
    let r = store
        .apply(paylink_core::plan::Plan::one(
            paylink_core::plan::Write::InsertBill(late.clone()),
        ))
        .await;
    assert!(
        matches!(r, Err(paylink_store::StoreError::WriterGone)),
        "{r:?}"
    );

    // Every write answered Ok is there after reopening; every refused one is not.
    let reopened = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    for (b, r) in bills.iter().zip(&results) {
        let stored = reopened.bill(&b.id).await.unwrap();
        match r {
            Ok(()) => assert_eq!(stored.as_ref(), Some(b)),
            Err(paylink_store::StoreError::WriterGone) => assert_eq!(stored, None),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(reopened.bill(&late.id).await.unwrap(), None);
    reopened.close().await;
}

/// Records what a store tells of its migrations.
#[derive(Default)]
struct Told(std::sync::Mutex<Vec<(usize, usize)>>);

impl paylink_store::StoreObserver for Told {
    fn committed(&self, _: usize, _: usize, _: std::time::Duration) {}

    fn migrated(&self, done: usize, total: usize) {
        self.0.lock().unwrap().push((done, total));
    }
}

#[tokio::test]
async fn opening_tells_the_migrations_as_they_go_for_a_progress_bar() {
    let db = TestDatabase::new().await;
    let told = std::sync::Arc::new(Told::default());
    let options = StoreOptions {
        observer: Some(paylink_store::Observer(told.clone())),
        ..StoreOptions::default()
    };
    let store = Store::open(&db.url, options).await.expect("opens");
    store.close().await;
    let seen = told.0.lock().unwrap().clone();
    let total = seen.last().expect("told at least once").1;
    assert!(total >= 9, "every migration counts: {seen:?}");
    let done: Vec<usize> = seen.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        done,
        (0..=total).collect::<Vec<_>>(),
        "one step a migration"
    );
    assert!(seen.iter().all(|(_, t)| *t == total));
}
