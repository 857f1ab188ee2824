//! What an instance records about itself, the keys old versions kept in the database, and the
//! mode of a new SQLite file.

use paylink_core::plan::{Plan, SealedColumn, Write};
use paylink_store::testing::TestDatabase;
use paylink_store::{Store, StoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_recorded_setting_wins_across_racing_starts_and_reopening() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    assert_eq!(store.instance_setting("mode").await.unwrap(), None);
    // Many first starts at once agree on one value.
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .record_instance_setting("mode", &format!("value{i}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut raced = Vec::new();
    for h in handles {
        raced.push(h.await.unwrap());
    }
    assert!(raced.iter().all(|v| v == &raced[0]), "{raced:?}");
    store.close().await;
    let reopened = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    assert_eq!(
        reopened.instance_setting("mode").await.unwrap().as_deref(),
        Some(raced[0].as_str())
    );
    reopened.close().await;
}

#[tokio::test]
async fn legacy_secrets_are_read_and_forgotten() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    assert!(store.legacy_secrets().await.unwrap().is_empty());
    store.insert_legacy_secret("seal_key", "a").await.unwrap();
    store.insert_legacy_secret("form_key", "b").await.unwrap();
    assert_eq!(
        store.legacy_secrets().await.unwrap(),
        [
            ("form_key".into(), "b".into()),
            ("seal_key".into(), "a".into())
        ]
    );
    store
        .forget_legacy_secrets(&["form_key".into(), "seal_key".into()])
        .await
        .unwrap();
    assert!(store.legacy_secrets().await.unwrap().is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_reseal_replaces_only_the_value_it_read() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    let (_, shop) = crate::support::seed(&store, "Keys").await;
    let set = |sealed: &str| Write::SetWebhookKey {
        shop_id: shop.id.clone(),
        sealed: sealed.into(),
    };
    store.apply(Plan::one(set("legacy"))).await.unwrap();
    let found = store
        .sealed_values(SealedColumn::WebhookKey, "2:s1:%", "", 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].id.as_str(), found[0].sealed.as_str()),
        (shop.id.as_str(), "legacy")
    );
    let reseal = |old: &str, new: &str| Write::Reseal {
        column: SealedColumn::WebhookKey,
        id: shop.id.to_string(),
        lock: shop.id.to_string(),
        old: old.into(),
        new: new.into(),
    };
    // A value changed since it was read is not overwritten.
    assert!(store
        .apply(Plan::one(reseal("stale", "2:s1:x")))
        .await
        .is_err());
    store
        .apply(Plan::one(reseal("legacy", "2:s1:x")))
        .await
        .unwrap();
    assert!(store
        .sealed_values(SealedColumn::WebhookKey, "2:s1:%", "", 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .count_sealed(SealedColumn::WebhookKey, "2:s1:%", false)
            .await
            .unwrap(),
        1
    );
    store.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_database_and_its_wal_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let store = Store::open(
        &format!("sqlite://{}", path.display()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let (_, shop) = crate::support::seed(&store, "Keys").await;
    assert!(!shop.id.as_str().is_empty());
    for name in ["fresh.db", "fresh.db-wal", "fresh.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
    store.close().await;
}
