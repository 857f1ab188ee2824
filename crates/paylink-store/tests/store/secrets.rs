//! Instance secrets: created once, then the same value forever, whoever asks first.

use paylink_store::testing::TestDatabase;
use paylink_store::{Store, StoreOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instance_secrets_are_stable_across_calls_and_reopening() {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default()).await.unwrap();
    let key = store.instance_secret("card_fingerprint_key").await.unwrap();
    assert!(key.len() >= 32, "a weak secret: {} chars", key.len());
    assert_eq!(
        store.instance_secret("card_fingerprint_key").await.unwrap(),
        key
    );
    let other = store.instance_secret("jws_key").await.unwrap();
    assert_ne!(other, key, "two secrets share a value");

    // Many first calls at once agree on one value.
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.instance_secret("raced").await.unwrap() })
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
        reopened
            .instance_secret("card_fingerprint_key")
            .await
            .unwrap(),
        key
    );
    assert_eq!(reopened.instance_secret("jws_key").await.unwrap(), other);
    assert_eq!(reopened.instance_secret("raced").await.unwrap(), raced[0]);
    reopened.close().await;
}
