//! Procard credentials: a key that signs, rotation that retires the old key at once, enabling
//! again keeps the key, a login is one merchant's, and the key is sealed at rest.

use super::*;
use paylink_core::error::Rule;
use paylink_core::plan::SealedColumn;
use paylink_core::DomainError;
use paylink_server::ops::OpError;
use paylink_store::Store;

#[tokio::test]
async fn rotation_retires_the_old_key_at_once_and_enabling_again_keeps_the_key() {
    let app = spawn_app().await;
    let first = enable(&app).await;
    assert!(first.key.len() >= 32, "{first:?}");
    assert!(accepted(
        &first
            .call(&app, "/permanent-links/list", json!({}), Wire::Json)
            .await
    )["permanent_links"]
        .as_array()
        .is_some_and(Vec::is_empty));

    // Enabling again (no login given) keeps the login and the key.
    let again = permanent_links::enable(
        &app.store,
        &app.keys,
        app.merchant.merchant_id.as_str(),
        None,
        None,
        None,
        true,
        app.now(),
    )
    .await
    .unwrap();
    assert_eq!(again.login, LOGIN);
    assert_eq!(again.secret_key.expose(), &first.key);
    assert_eq!(enable(&app).await.key, first.key);

    let rotated = permanent_links::rotate_key(
        &app.store,
        &app.keys,
        None,
        app.merchant.merchant_id.as_str(),
        app.now(),
    )
    .await
    .unwrap();
    assert_eq!(rotated.login, LOGIN);
    let second = Creds {
        login: LOGIN.into(),
        key: rotated.secret_key.expose().clone(),
    };
    assert_ne!(second.key, first.key);
    let old = first
        .call(&app, "/permanent-links/list", json!({}), Wire::Json)
        .await;
    refused(&old, -4);
    let new = second
        .call(&app, "/permanent-links/list", json!({}), Wire::Json)
        .await;
    accepted(&new);
    // A link made with the new key, and the old key still refused on every route.
    let id = second.create(&app, json!({})).await;
    for (path, fields) in [
        (
            "/permanent-links/create",
            json!({"name": "n", "description": "d", "operation": "Purchase", "amount": "1", "language": "en"}),
        ),
        ("/permanent-links/operations", json!({"id": id})),
    ] {
        refused(&first.call(&app, path, fields, Wire::Form).await, -4);
    }
    assert_eq!(second.list(&app).await.len(), 1);
}

#[tokio::test]
async fn a_login_is_one_merchants_and_an_unknown_merchant_is_refused() {
    let app = spawn_app().await;
    let mine = enable(&app).await;
    let other = app.new_merchant("Other").await;
    let taken = permanent_links::enable(
        &app.store,
        &app.keys,
        other.merchant_id.as_str(),
        Some(LOGIN.into()),
        None,
        None,
        true,
        app.now(),
    )
    .await;
    assert!(
        matches!(
            taken,
            Err(OpError::Domain(DomainError::Invalid {
                field: "login",
                kind: Rule::Taken
            }))
        ),
        "{taken:?}"
    );
    assert!(app
        .store
        .procard_of(&other.merchant_id)
        .await
        .unwrap()
        .is_none());
    // The login still answers for its merchant, with its key.
    accepted(
        &mine
            .call(&app, "/permanent-links/list", json!({}), Wire::Json)
            .await,
    );
    // Another login works for the other merchant, with a key of its own.
    let theirs = enable_as(&app, &other, "OTHER_TRADER").await;
    assert_ne!(theirs.key, mine.key);
    accepted(
        &theirs
            .call(&app, "/permanent-links/list", json!({}), Wire::Json)
            .await,
    );

    let unknown =
        permanent_links::rotate_key(&app.store, &app.keys, None, "NoSuchOne", app.now()).await;
    assert!(unknown.is_err(), "{unknown:?}");
    let unknown = permanent_links::enable(
        &app.store,
        &app.keys,
        "NoSuchOne",
        Some("X".into()),
        None,
        None,
        true,
        app.now(),
    )
    .await;
    assert!(unknown.is_err(), "{unknown:?}");
    // A merchant without access cannot rotate a key it does not have.
    let third = app.new_merchant("Third").await;
    let none = permanent_links::rotate_key(
        &app.store,
        &app.keys,
        None,
        third.merchant_id.as_str(),
        app.now(),
    )
    .await;
    assert!(
        matches!(none, Err(OpError::Domain(DomainError::ProcardNotEnabled))),
        "{none:?}"
    );
}

#[tokio::test]
async fn the_key_is_sealed_at_rest() {
    let app = spawn_app().await;
    let creds = enable(&app).await;
    let rotated = permanent_links::rotate_key(
        &app.store,
        &app.keys,
        None,
        app.merchant.merchant_id.as_str(),
        app.now(),
    )
    .await
    .unwrap();
    let key = rotated.secret_key.expose().clone();
    let rows = app
        .store
        .sealed_values(SealedColumn::ProcardKey, "", "", 1_000)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let access = app
        .store
        .procard_of(&app.merchant.merchant_id)
        .await
        .unwrap()
        .expect("the merchant has access");
    assert_eq!(access.login, LOGIN);
    for sealed in [&rows[0].sealed, &access.key_sealed] {
        for plain in [&key, &creds.key] {
            assert!(!sealed.contains(plain.as_str()), "the key is in plain text");
        }
    }
    // It opens with the instance keys, bound to its merchant.
    let context = paylink_server::keys::procard_context(app.merchant.merchant_id.as_str());
    assert_eq!(
        app.keys
            .seal
            .open(&access.key_sealed, &context)
            .expect("the key opens")
            .expose(),
        &key
    );
    let elsewhere = paylink_server::keys::procard_context("SomeoneElse");
    assert!(app.keys.seal.open(&access.key_sealed, &elsewhere).is_none());
    if let Some(path) = Store::sqlite_path(&app.db.url) {
        // The whole database file and its WAL, byte for byte.
        let mut dump = std::fs::read(&path).unwrap();
        dump.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
        for plain in [&key, &creds.key] {
            assert!(
                !dump.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "a Procard key is in the database file"
            );
        }
    }
}
