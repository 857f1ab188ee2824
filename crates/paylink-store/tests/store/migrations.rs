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

/// A database with money in it, as version 0009 kept it: postings named their merchant (or none,
/// for the platform's accounts) and balance rows were a merchant's.
const MONEY_AT_0009: &str = "
    INSERT INTO merchants (id, name, created_at) VALUES ('OLDMERCHNT', 'old', 1);
    INSERT INTO ledger_transactions (id, kind, subject_id, created_at) VALUES
        ('pay_OLDPAYMENT', 'payment', 'OLDPAYMENT', 1),
        ('settle_OLDPAYMENT', 'settlement', 'OLDPAYMENT', 2);
    INSERT INTO ledger_postings (tx_id, seq, account, merchant_id, currency, amount) VALUES
        ('pay_OLDPAYMENT', 1, 'acquirer_clearing', NULL, 'USD', -1000),
        ('pay_OLDPAYMENT', 2, 'fee_revenue', NULL, 'USD', 35),
        ('pay_OLDPAYMENT', 3, 'fx', NULL, 'USD', 965),
        ('pay_OLDPAYMENT', 4, 'fx', NULL, 'RUB', -89263),
        ('pay_OLDPAYMENT', 5, 'hold', 'OLDMERCHNT', 'RUB', 89263),
        ('settle_OLDPAYMENT', 1, 'hold', 'OLDMERCHNT', 'RUB', -89263),
        ('settle_OLDPAYMENT', 2, 'available', 'OLDMERCHNT', 'RUB', 89263);
    INSERT INTO balances (merchant_id, currency, available, locked, hold, updated_at) VALUES
        ('OLDMERCHNT', 'RUB', 89263, 0, 0, 2),
        ('OLDMERCHNT', 'USD', 0, 0, 0, 1);
";

#[tokio::test]
async fn an_upgraded_database_reads_the_same_balances_under_owned_accounts() {
    use paylink_core::id::MerchantId;
    use paylink_core::ledger::{Balance, Bucket, Entry, EntryKind, Owner};
    use paylink_core::money::Currency;
    use paylink_core::plan::{Plan, Write};

    let db = TestDatabase::new().await;
    paylink_store::testing::older_database(&db.url, 9, MONEY_AT_0009)
        .await
        .expect("a database at 0009 with money in it");
    let store = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("the upgrade");
    let merchant = MerchantId::from_trusted("OLDMERCHNT".into());
    let rub = Balance {
        available: 89_263,
        ..Balance::zero(Currency::Rub)
    };
    assert_eq!(
        store.balances(&merchant).await.unwrap(),
        vec![rub, Balance::zero(Currency::Usd)]
    );
    assert_eq!(store.balance(&merchant, Currency::Rub).await.unwrap(), rub);
    let report = store.ledger_check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        (report.transactions, report.postings, report.balances),
        (2, 7, 2)
    );

    // The migrated row is guarded as before, and credited in place.
    let owner = Owner::merchant(&merchant);
    let over = Entry::new(EntryKind::Settlement, "over".into(), "over", NOW)
        .leg(Bucket::Available, &owner, Currency::Rub, -89_264)
        .leg(Bucket::Fx, &Owner::PLATFORM, Currency::Rub, 89_264);
    let r = store.apply(Plan::one(Write::Post(over))).await;
    assert!(
        matches!(r, Err(paylink_store::StoreError::GuardFailed(_))),
        "{r:?}"
    );
    let more = Entry::new(EntryKind::Settlement, "more".into(), "more", NOW)
        .leg(Bucket::Fx, &Owner::PLATFORM, Currency::Rub, -1)
        .leg(Bucket::Available, &owner, Currency::Rub, 1);
    store.apply(Plan::one(Write::Post(more))).await.unwrap();
    assert_eq!(
        store
            .balance(&merchant, Currency::Rub)
            .await
            .unwrap()
            .available,
        89_264
    );
    let report = store.ledger_check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.balances, 2, "no second row for the same owner");

    // The rebuilt postings are append-only still.
    for edit in [
        "UPDATE ledger_postings SET amount = 0",
        "DELETE FROM ledger_postings",
    ] {
        assert!(
            store.execute_raw(edit).await.is_err(),
            "{edit} went through"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn a_database_a_newer_paylink_upgraded_is_refused() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("opens");
    store
        .execute_raw("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)")
        .await
        .unwrap();
    store.close().await;
    let refused = Store::open(&db.url, StoreOptions::default())
        .await
        .err()
        .expect("an older binary refuses the newer schema")
        .to_string();
    assert!(
        refused.contains("newer paylink") && refused.contains("9999"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_postgres_url_asking_for_tls_gets_an_encrypted_connection() {
    let db = TestDatabase::new().await;
    if !db.is_postgres() {
        return; // SQLite is a file: there is no connection to encrypt.
    }
    let plain = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("opens");
    // Whether the server offers TLS (Debian's clusters do, with a self-signed certificate).
    let offers = plain
        .execute_raw(
            "DO $$ BEGIN IF current_setting('ssl') = 'on' THEN RAISE EXCEPTION 'ssl'; END IF; END $$",
        )
        .await
        .is_err();
    plain.close().await;
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}sslmode=require", db.url);
    let opened = Store::open(&url, StoreOptions::default()).await;
    if !offers {
        assert!(opened.is_err(), "sslmode=require on a server without TLS");
        return;
    }
    let store = opened.expect("sslmode=require opens on a server with TLS");
    store
        .execute_raw(
            "DO $$ BEGIN IF NOT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) THEN
                 RAISE EXCEPTION 'not encrypted'; END IF; END $$",
        )
        .await
        .expect("the connection is encrypted");
    let (merchant, _) = seed(&store, "tls").await;
    assert_eq!(store.merchant(&merchant.id).await.unwrap(), Some(merchant));
    store.close().await;
}
