//! Keys outside the database: a dump alone opens nothing; rotation while serving; an old
//! database's keys moved out on upgrade, its tokens still working.

use crate::harness::*;
use crate::postbacks::assert_signed;
use paylink_core::card::CardNumber;
use paylink_core::id::{MerchantId, ShopId};
use paylink_core::merchant::{Merchant, Shop, Subscription};
use paylink_core::plan::{Plan, SealedColumn, Write};
use paylink_core::seal::{SealKey, SealKeys};
use paylink_core::token::ApiToken;
use paylink_sdk::testing::Receiver;
use paylink_server::keys::{self, token_context, webhook_context, KeyError, KeyFile, KeySource};
use paylink_server::ops::merchants::{self, ShopChanges};
use paylink_server::ops::payouts::{self, Destination};
use paylink_server::{md5_signature, WebhookKey};
use paylink_server::{Application, ManualClock, Settings, StartError};
use paylink_store::testing::TestDatabase;
use paylink_store::{SealedValue, Store, StoreOptions};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every sealed value in the database.
async fn sealed_values(store: &Store) -> Vec<SealedValue> {
    let mut all = Vec::new();
    for column in SealedColumn::ALL {
        all.extend(store.sealed_values(column, "", "", 10_000).await.unwrap());
    }
    all
}

/// A payout account of the default merchant: a card number sealed.
async fn add_card_account(app: &TestApp) {
    let card = Destination::Card {
        number: CardNumber::parse(CARD_OK).unwrap(),
        holder: "IVAN PETROV".into(),
    };
    payouts::add_account(
        &app.store,
        &app.merchant.merchant_id,
        payouts::payee(&app.keys, card),
        app.now(),
    )
    .await
    .expect("a payout account");
}

/// Procard access for the default merchant and a P2Pin link: a Procard key and a recipient
/// card sealed.
async fn add_p2p_link(app: &TestApp) {
    let access = paylink_server::ops::permanent_links::enable(
        &app.store,
        &app.keys,
        app.merchant.merchant_id.as_str(),
        Some("KEYS_TEST".into()),
        None,
        None,
        true,
        app.now(),
    )
    .await
    .expect("Procard access");
    let sign = paylink_server::dialects::procard::sign::sign;
    let signature = sign(
        access.secret_key.expose(),
        &["KEYS_TEST", "P2Pin", "10.00", "en"],
    );
    let a = app
        .send(
            reqwest::Method::POST,
            "/permanent-links/create",
            None,
            Body::Json(json!({
                "merchant_id": "KEYS_TEST", "operation": "P2Pin", "amount": "10.00",
                "card_number2": CARD_OK, "name": "p2p", "description": "d",
                "language": "en", "signature": signature,
            })),
        )
        .await;
    assert_eq!(a.json["result"], json!(0), "{}", a.text);
}

/// A Card API partner (its key sealed) with an issued card (PAN, expiry and CVV sealed).
async fn add_issued_card(app: &TestApp) {
    use paylink_server::ops::issuing;
    let c = issuing::create_partner(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        "Keys test",
        issuing::IssuingSettings::default(),
        app.now(),
    )
    .await
    .expect("a partner");
    let client =
        paylink_sdk::cardapi::CardApiClient::new(&app.address, &c.auth_id, c.secret_key.expose());
    let added = client
        .add_client(
            1000,
            json!({"phone": "77011234567", "type": 1, "resident": 1,
                   "first_name": "Ivan", "last_name": "Petrov"}),
        )
        .await
        .unwrap();
    let issued = client
        .issue_card(1000, added.str("client_id").unwrap(), "KZT")
        .await
        .unwrap();
    assert!(issued.is_ok(), "{:?}", issued.body);
}

/// The key texts of a key file (every quoted value long enough to be a key).
fn key_texts(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once(" = \"")
                .map(|(_, v)| v.trim_end_matches('"').to_string())
        })
        .filter(|v| v.len() >= 32)
        .collect()
}

fn context(v: &SealedValue) -> String {
    match v.column {
        SealedColumn::ApiToken => token_context(v.bound_to.parse().unwrap()),
        SealedColumn::WebhookKey => webhook_context(&v.bound_to),
        SealedColumn::PayoutAccount | SealedColumn::Payout => payouts::payee_context(&v.bound_to),
        SealedColumn::ProcardKey => paylink_server::keys::procard_context(&v.bound_to),
        SealedColumn::LinkRecipient => paylink_server::keys::recipient_context(&v.bound_to),
        SealedColumn::PartnerKey => paylink_server::keys::partner_context(&v.bound_to),
        SealedColumn::CardData => paylink_server::keys::card_data_context(&v.bound_to),
        SealedColumn::TotpSecret => paylink_server::keys::totp_context(&v.bound_to),
    }
}

/// A server build on `db_url` with these keys, expected to be refused.
async fn refused(db_url: &str, keys: KeySource) -> StartError {
    let mut settings = Settings::new(db_url, "127.0.0.1:0".parse().unwrap());
    settings.keys = keys;
    match Application::build(settings, Arc::new(ManualClock::new(START))).await {
        Ok(_) => panic!("the server started"),
        Err(e) => e,
    }
}

/// Waits (generously) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_database_dump_alone_opens_no_sealed_value() {
    let app = spawn_app().await;
    add_card_account(&app).await;
    add_p2p_link(&app).await;
    add_issued_card(&app).await;
    let values = sealed_values(&app.store).await;
    let columns: Vec<_> = values.iter().map(|v| v.column).collect();
    for column in [
        SealedColumn::ApiToken,
        SealedColumn::WebhookKey,
        SealedColumn::PayoutAccount,
        SealedColumn::ProcardKey,
        SealedColumn::LinkRecipient,
        SealedColumn::PartnerKey,
        SealedColumn::CardData,
    ] {
        assert!(columns.contains(&column), "nothing sealed in {column:?}");
    }
    // With the key file, every value opens; the token is the merchant's.
    for v in &values {
        assert!(
            app.keys.seal.open(&v.sealed, &context(v)).is_some(),
            "{v:?}"
        );
    }
    let token = values
        .iter()
        .find(|v| v.column == SealedColumn::ApiToken)
        .unwrap();
    assert_eq!(
        app.keys
            .seal
            .open(&token.sealed, &context(token))
            .unwrap()
            .expose(),
        app.token()
    );
    // The database holds no key: none of its own any more, and none of the key file's.
    assert!(app.store.legacy_secrets().await.unwrap().is_empty());
    let keys_in_file = key_texts(&app.key_file);
    assert_eq!(
        keys_in_file.len(),
        4,
        "fingerprint, forms, sandbox, one seal key"
    );
    let recorded: Vec<String> = [
        app.store.instance_setting("key_check").await.unwrap(),
        app.store.instance_setting("mode").await.unwrap(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for key in &keys_in_file {
        assert!(!recorded.contains(key));
        assert!(values.iter().all(|v| !v.sealed.contains(key.as_str())));
    }
    if let Some(path) = Store::sqlite_path(&app.db.url) {
        // The whole dump, byte for byte (the file and its WAL).
        let mut dump = std::fs::read(&path).unwrap();
        dump.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
        for key in &keys_in_file {
            assert!(
                !dump.windows(key.len()).any(|w| w == key.as_bytes()),
                "a key is in the database file"
            );
        }
    }
    // Nothing the database holds opens a sealed value, nor does a fresh key.
    let fresh = KeyFile::generate();
    let (_dir, fresh_path) = key_file();
    let candidates: Vec<String> = recorded.into_iter().chain([fresh.to_text()]).collect();
    for v in &values {
        for text in &candidates {
            for id in ["s0", "s1"] {
                let ring =
                    SealKeys::new(id, vec![(id.to_string(), SealKey::derive(text))]).unwrap();
                assert!(ring.open(&v.sealed, &context(v)).is_none());
            }
        }
    }
    // A server given another key file for this database refuses to start.
    let e = refused(&app.db.url, KeySource::File(fresh_path)).await;
    assert!(matches!(e, StartError::Keys(KeyError::WrongFile(_))), "{e}");
    assert!(
        e.to_string().contains("does not belong to this database"),
        "{e}"
    );
}

#[tokio::test]
async fn rotation_while_serving_keeps_every_request_and_postback_working() {
    let app = Arc::new(spawn_app().await);
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    add_card_account(&app).await;
    add_issued_card(&app).await;
    for i in 0..5 {
        app.new_merchant(&format!("Other {i}")).await;
    }
    let before = keys::usage(&app.store, &app.keys).await.unwrap();
    assert_eq!(before.active, "s1");
    assert!(before.by_key[0].1 >= 15, "{before:?}");

    // Payments (each a postback signed with the sealed token) go on during the rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        async move {
            let mut paid = 0;
            while !stop.load(Ordering::SeqCst) || paid < 3 {
                let bill = app.bill(json!({"amount": 10})).await;
                assert_eq!(
                    app.pay_sbp(&bill, None).await.ok()["status"],
                    json!("SUCCESS")
                );
                paid += 1;
            }
            paid
        }
    });
    let (id, done) = keys::rotate(&app.store, &app.db.url, &app.key_file, &|_| {})
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let paid = load.await.unwrap();
    assert_eq!(id, "s2");
    assert_eq!(done.unopenable, 0);
    assert!(done.resealed >= 15, "{done:?}");
    // The issued card's data opens under the new key.
    let cards: Vec<_> = sealed_values(&app.store)
        .await
        .into_iter()
        .filter(|v| v.column == SealedColumn::CardData)
        .collect();
    assert_eq!(cards.len(), 1);
    assert!(app
        .keys
        .seal
        .open(&cards[0].sealed, &context(&cards[0]))
        .is_some());
    // The running server took the new key up, and nothing is left under the old one.
    eventually("the server seals under s2", || {
        app.keys.seal.active_id() == "s2"
    })
    .await;
    let after = keys::usage(&app.store, &app.keys).await.unwrap();
    assert_eq!(after.active, "s2");
    assert_eq!(after.missing, 0);
    assert_eq!(
        after.by_key,
        [("s1".to_string(), 0), ("s2".to_string(), after.by_key[1].1)]
    );
    for v in sealed_values(&app.store).await {
        assert!(v.sealed.starts_with("2:s2:"), "{v:?}");
    }

    // The old key is retired; the active one cannot be.
    let e = keys::retire(&app.store, &app.key_file, "s2")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("active"), "{e}");
    keys::retire(&app.store, &app.key_file, "s1").await.unwrap();
    assert_eq!(key_texts(&app.key_file).len(), 4);

    // Postbacks sent during and after the rotation are all signed right, new merchants are
    // sealed under the new key, and a refreshed token signs too.
    let bill = app.bill(json!({"amount": 12})).await;
    app.pay_sbp(&bill, None).await.ok();
    let got = r.wait_for("/postback", paid + 1).await;
    for p in &got {
        assert_signed(&app, p);
    }
    let other = app.new_merchant("After rotation").await;
    assert!(app
        .store
        .sealed_values(SealedColumn::ApiToken, "2:s2:%", "", 100)
        .await
        .unwrap()
        .is_empty());
    assert!(other.api_token.contains('|'));
    let token = app.refresh_token().await;
    let bill = app.bill_as(&token, json!({"amount": 13})).await;
    app.send(
        reqwest::Method::POST,
        "/sandbox/pay",
        Some(&token),
        Body::Json(json!({"bill_id": bill, "method": "SBP"})),
    )
    .await
    .ok();
    let last = r.wait_for("/postback", paid + 2).await;
    let p = last.last().unwrap();
    assert_eq!(
        p.field("SignatureValue"),
        md5_signature(&[p.field("OutSum"), p.field("InvId")], &token)
    );
}

#[tokio::test]
async fn an_old_database_moves_its_keys_out_and_its_tokens_keep_working() {
    let db = TestDatabase::new().await;
    let secret = |_| paylink_core::id::random_base62(&mut rand::thread_rng(), 48);
    let legacy: Vec<(&str, String)> = [
        "seal_key",
        "card_fingerprint_key",
        "form_key",
        "sandbox_acs_key",
    ]
    .into_iter()
    .map(|name| (name, secret(name)))
    .collect();
    // A merchant as the version before key files made it: its keys in instance_secrets, its
    // token and webhook key sealed without a key id.
    let rng = &mut rand::thread_rng();
    let merchant = Merchant {
        id: MerchantId::random(rng),
        name: "Old merchant".into(),
        email: None,
        verified: true,
        banned: false,
        subscription: Subscription::Active,
        created_at: START,
    };
    let shop = Shop::new(
        ShopId::random(rng),
        merchant.id.clone(),
        "Old shop".into(),
        START,
    );
    let token = ApiToken::generate(777, rng);
    let webhook = WebhookKey::generate(rng);
    {
        let store = Store::open(&db.url, StoreOptions::default()).await.unwrap();
        for (name, value) in &legacy {
            store.insert_legacy_secret(name, value).await.unwrap();
        }
        let old = SealKey::derive(&legacy[0].1);
        let sealed_token = old.seal(rng, &token.reveal(), &token_context(token.id));
        assert!(!sealed_token.contains(':'), "format 1 has no key id");
        store
            .apply(Plan {
                writes: vec![
                    Write::InsertMerchant(merchant.clone()),
                    Write::InsertShop(shop.clone()),
                    Write::SetWebhookKey {
                        shop_id: shop.id.clone(),
                        sealed: old.seal(rng, &webhook, &webhook_context(shop.id.as_str())),
                    },
                    Write::ReplaceToken {
                        merchant_id: merchant.id.clone(),
                        token_id: token.id,
                        digest: token.digest(),
                        sealed: sealed_token,
                        now: START,
                    },
                ],
            })
            .await
            .unwrap();
        store.close().await;
    }
    // Upgrade: the server is given a key file path where none exists yet.
    let key_dir = tempfile::tempdir().unwrap();
    let key_path = key_dir.path().join("paylink.key");
    let app = spawn_app_on(db, key_dir, key_path.clone(), |_| {}).await;
    assert!(app.store.legacy_secrets().await.unwrap().is_empty());
    let moved = key_texts(&key_path);
    for (name, value) in &legacy {
        assert!(moved.contains(value), "{name} is not in the key file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The old token still authenticates, and its postbacks are signed with it (opened from
    // its format-1 seal), both ways.
    let r = Receiver::start();
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        shop.id.as_str(),
        ShopChanges {
            result_url: Some(r.url("/postback")),
            ..ShopChanges::default()
        },
        true,
        0,
    )
    .await
    .unwrap();
    let old_token = token.reveal();
    let pay = |n: i64| {
        let (app, old_token, shop) = (&app, old_token.clone(), shop.id.to_string());
        async move {
            let bill = app
                .bill_as(&old_token, json!({"amount": n, "shop_id": shop}))
                .await;
            app.send(
                reqwest::Method::POST,
                "/sandbox/pay",
                Some(&old_token),
                Body::Json(json!({"bill_id": bill, "method": "SBP"})),
            )
            .await
            .ok();
        }
    };
    let signed = |p: &paylink_sdk::testing::Received| {
        assert_eq!(
            p.field("SignatureValue"),
            md5_signature(&[p.field("OutSum"), p.field("InvId")], &old_token)
        );
        let ts: i64 = p.header("webhook-timestamp").parse().unwrap();
        assert_eq!(
            p.header("webhook-signature"),
            WebhookKey::parse(&webhook)
                .unwrap()
                .sign(p.header("webhook-id"), ts, &p.body)
        );
    };
    pay(10).await;
    signed(&r.wait_for("/postback", 1).await[0]);

    // Rotation re-seals the format-1 values too; the exported key can then be retired.
    keys::rotate(&app.store, &app.db.url, &key_path, &|_| {})
        .await
        .unwrap();
    keys::retire(&app.store, &key_path, "s0").await.unwrap();
    pay(11).await;
    let got = r.wait_for("/postback", 2).await;
    signed(&got[1]);

    // A missing key file for a database that was used with one is refused, never replaced.
    let again = refused(
        &app.db.url,
        KeySource::File(tempfile::tempdir().unwrap().path().join("none.key")),
    )
    .await;
    assert!(
        matches!(again, StartError::Keys(KeyError::Lost(_))),
        "{again}"
    );
}

#[tokio::test]
async fn the_default_key_file_sits_beside_sqlite_and_postgresql_needs_one_named() {
    let db = TestDatabase::new().await;
    let mut settings = Settings::new(db.url.clone(), "127.0.0.1:0".parse().unwrap());
    settings.keys = KeySource::Default;
    let built = Application::build(settings, Arc::new(ManualClock::new(START))).await;
    match Store::sqlite_path(&db.url) {
        Some(path) => {
            let app = built.unwrap_or_else(|e| panic!("SQLite starts without a key: {e}"));
            let key_file = path.with_file_name("paylink.key");
            assert_eq!(key_texts(&key_file).len(), 4);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                for file in [&key_file, &path] {
                    let mode = std::fs::metadata(file).unwrap().permissions().mode();
                    assert_eq!(mode & 0o777, 0o600, "{}", file.display());
                }
            }
            app.store().close().await;
        }
        None => {
            let Err(e) = built else {
                panic!("PostgreSQL started without a key");
            };
            assert!(
                matches!(e, StartError::Keys(KeyError::Missing { .. })),
                "{e}"
            );
            let text = e.to_string();
            for word in [
                "paylink keys generate --out",
                "key_file",
                "PAYLINK_KEY_FILE",
            ] {
                assert!(text.contains(word), "{word:?} not in {text}");
            }
        }
    }
}

#[tokio::test]
async fn a_key_file_missing_a_key_that_values_need_is_refused_naming_it() {
    let app = spawn_app().await;
    // The operator adds a key and deletes the one everything is sealed under.
    let mut file = KeyFile::read(&app.key_file).unwrap();
    file.add_seal_key();
    let text: String = file
        .to_text()
        .lines()
        .filter(|l| !l.starts_with("s1 = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let (_dir, edited) = key_file();
    std::fs::write(&edited, text).unwrap();
    let e = refused(&app.db.url, KeySource::File(edited)).await;
    assert!(
        matches!(e, StartError::Keys(KeyError::KeysMissing { .. })),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("s1") && text.contains("Put the key(s) back"),
        "{text}"
    );
}
