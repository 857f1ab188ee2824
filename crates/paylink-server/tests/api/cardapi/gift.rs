//! Gift cards under `/v5/cards/`: products, issue against the partner's prepaid balance, the
//! SMS code and its bounds (wrong codes, expiry, one use), delivery to the SMS gateway with
//! retries; and no card number at rest in the database.

use super::*;
use paylink_core::id::PartnerId;
use paylink_core::ledger::Owner;
use paylink_sdk::testing::Receiver;

const PHONE: &str = "77011234567";

/// The partner's prepaid KZT (available, minor units) as the ledger holds it.
async fn prepaid(app: &TestApp, p: &Partner) -> i64 {
    app.store
        .owner_balance(
            &Owner::partner(&PartnerId::from_trusted(p.auth_id.clone())),
            Currency::Kzt,
        )
        .await
        .expect("the partner's balance reads")
        .available
}

/// A gift card of `product` for Ivan at [`PHONE`]: (card_id, card_mask).
async fn gift(p: &Partner, product: &str) -> (String, String) {
    let b = p
        .ok(
            "cards/issue",
            json!({"cardholder_name": "Ivan Petrov", "phone": PHONE, "product_code": product}),
        )
        .await;
    assert_eq!(b["status"], json!(0), "{b}");
    assert_eq!(b["card_status"], json!(0), "{b}");
    let id = b["card_id"].as_str().expect("a card id").to_string();
    let mask = b["card_mask"].as_str().expect("a mask").to_string();
    (id, mask)
}

/// The 6-digit code after "code is " in `text`.
fn code_in(text: &str) -> String {
    let (_, rest) = text
        .split_once("code is ")
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{text:?}");
    code
}

/// The code sent for the card with `mask`, from the messages the server keeps.
async fn code_for(app: &TestApp, mask: &str) -> String {
    let messages = paylink_server::ops::issuing::sms_messages(&app.store, &app.keys, 10)
        .await
        .expect("messages read");
    let m = messages
        .iter()
        .find(|m| m.text.contains(mask))
        .unwrap_or_else(|| panic!("no SMS for {mask}"));
    assert_eq!(m.phone, PHONE);
    code_in(&m.text)
}

/// A different 6-digit code.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn activate(p: &Partner, card: &str, otp: &str) -> Answer {
    p.call("cards/activate_card", json!({"card_id": card, "otp": otp}))
        .await
}

async fn card_status(p: &Partner, card: &str) -> Value {
    p.ok("card-api/card/info", json!({"card_id": card})).await["card"]["card_status"].clone()
}

#[tokio::test]
async fn gift_products_are_listed_in_the_gift_envelope() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let b = p.ok("cards/products", json!({})).await;
    assert_eq!(b["status"], json!(0), "{b}");
    let dt = b["datetime"].as_str().expect("a datetime");
    assert_eq!(dt, "2024-05-14 10:00:00");
    assert!(b.get("request_status").is_none(), "{b}");
    let products = b["products"].as_array().expect("products");
    assert!(!products.is_empty());
    for p in products {
        for k in ["code", "name", "name_en", "currency", "balance"] {
            assert!(p[k].as_str().is_some_and(|s| !s.is_empty()), "{k} of {p}");
        }
    }
    let kzt = products
        .iter()
        .find(|p| p["code"] == json!("GIFT-KZT-5000"))
        .expect("the 5 000 KZT card");
    assert_eq!(kzt["currency"], json!("KZT"));
    assert_eq!(kzt["balance"], json!("5000.00"));
    // A partner issuing only USD sees only USD products.
    let c = issuing::create_partner(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        "USD only",
        IssuingSettings {
            currencies: Some(vec![Currency::Usd]),
            ..IssuingSettings::default()
        },
        app.now(),
    )
    .await
    .unwrap();
    let usd = Partner {
        client: CardApiClient::new(&app.address, &c.auth_id, c.secret_key.expose()),
        auth_id: c.auth_id,
        key: c.secret_key.expose().clone(),
    };
    let b = usd.ok("cards/products", json!({})).await;
    let products = b["products"].as_array().unwrap();
    assert!(!products.is_empty());
    assert!(
        products.iter().all(|p| p["currency"] == json!("USD")),
        "{b}"
    );
}

#[tokio::test]
async fn issuing_a_gift_card_takes_exactly_its_face_value_from_the_partner() {
    let app = spawn_app().await;
    let p = partner(&app, 7000).await;
    let (card, _) = gift(&p, "GIFT-KZT-5000").await;
    assert_eq!(prepaid(&app, &p).await, 200_000);
    let i = p.ok("card-api/card/info", json!({"card_id": card})).await;
    assert_eq!(i["card"]["card_status"], json!(0), "{i}");
    assert_eq!(i["card"]["type"], json!("gift"), "{i}");
    assert_eq!(i["card"]["currency"], json!("KZT"), "{i}");
    assert_eq!(i["card"]["client_id"], Value::Null, "{i}");
    assert_eq!(p.balance(&card).await.0, "5000.00");
    // 2 000 left: not enough for another, and nothing moves.
    let b = p
        .refused(
            "cards/issue",
            json!({"cardholder_name": "Ivan Petrov", "phone": PHONE,
                   "product_code": "GIFT-KZT-5000"}),
            "insufficient_funds",
        )
        .await;
    assert_eq!(b["status"], json!(1), "{b}");
    assert!(b["datetime"].is_string(), "{b}");
    assert_eq!(prepaid(&app, &p).await, 200_000);
    let cards = p.ok("card-api/card/list", json!({})).await;
    assert_eq!(cards["cards"].as_array().unwrap().len(), 1, "{cards}");
    assert_eq!(
        paylink_server::ops::issuing::sms_messages(&app.store, &app.keys, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // An unknown product is refused.
    p.refused(
        "cards/issue",
        json!({"cardholder_name": "Ivan Petrov", "phone": PHONE, "product_code": "NOPE"}),
        "product_not_available",
    )
    .await;
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_gift_card_refuses_debits_until_its_code_activates_it() {
    let app = spawn_app().await;
    let p = partner(&app, 5000).await;
    let (card, mask) = gift(&p, "GIFT-KZT-5000").await;
    let debit = json!({"card_id": card, "type": "debit", "amount": "1.00", "currency": "KZT",
                       "description": "x"});
    p.refused(
        "card-api/transaction/create",
        debit.clone(),
        "card_inactive",
    )
    .await;
    let code = code_for(&app, &mask).await;
    let a = activate(&p, &card, &code).await;
    assert!(a.is_ok(), "{}", a.body);
    let b = &a.body;
    assert_eq!(b["status"], json!(0), "{b}");
    assert_eq!(b["card_id"], json!(card));
    assert_eq!(b["card_status"], json!(1));
    assert_eq!(b["card_currency"], json!("KZT"));
    assert_eq!(b["card_balance"], json!("5000.00"));
    assert_eq!(b["card_mask"], json!(mask));
    assert_eq!(card_status(&p, &card).await, json!(1));
    p.ok("card-api/transaction/create", debit).await;
    assert_eq!(p.balance(&card).await.0, "4999.00");
    // Activating again is refused and changes nothing.
    let again = activate(&p, &card, &code).await;
    assert!(!again.is_ok(), "activated twice: {}", again.body);
    assert_eq!(again.http_status, 200);
    assert_eq!(again.body["status"], json!(1), "{}", again.body);
    assert_eq!(card_status(&p, &card).await, json!(1));
    assert_eq!(p.balance(&card).await.0, "4999.00");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn wrong_codes_are_refused_and_five_of_them_spend_the_code() {
    let app = spawn_app().await;
    let p = partner(&app, 5000).await;
    let (card, mask) = gift(&p, "GIFT-KZT-5000").await;
    let code = code_for(&app, &mask).await;
    for _ in 0..5 {
        let b = p
            .refused(
                "cards/activate_card",
                json!({"card_id": card, "otp": wrong(&code)}),
                "otp_invalid",
            )
            .await;
        assert_eq!(b["status"], json!(1), "{b}");
    }
    p.refused(
        "cards/activate_card",
        json!({"card_id": card, "otp": code}),
        "otp_expired",
    )
    .await;
    assert_eq!(card_status(&p, &card).await, json!(0));
}

#[tokio::test]
async fn a_gift_code_expires_after_ten_minutes() {
    let app = spawn_app().await;
    let p = partner(&app, 5000).await;
    let (card, mask) = gift(&p, "GIFT-KZT-5000").await;
    let code = code_for(&app, &mask).await;
    app.advance_ms(10 * 60 * 1000 + 1);
    p.refused(
        "cards/activate_card",
        json!({"card_id": card, "otp": code}),
        "otp_expired",
    )
    .await;
    assert_eq!(card_status(&p, &card).await, json!(0));
}

#[tokio::test]
async fn the_code_goes_to_the_configured_sms_gateway_which_is_retried_when_it_fails() {
    let r = Receiver::start();
    r.answer_with(500);
    let url = r.url("/postback");
    let app = spawn_app_with(|s| {
        s.card_api.sms_url = Some(url);
        s.postbacks.retry.delays = vec![10_000];
        s.postbacks.retry.jitter_percent = 0;
    })
    .await;
    let p = partner(&app, 5000).await;
    let (_, mask) = gift(&p, "GIFT-KZT-5000").await;
    let first = r.wait_for("/postback", 1).await[0].clone();
    assert_eq!(first.method, "POST");
    assert!(
        first.header("content-type").starts_with("application/json"),
        "{first:?}"
    );
    let body: Value = serde_json::from_str(&first.body).expect("a JSON body");
    assert_eq!(body["phone"], json!(PHONE), "{body}");
    let code = code_in(body["text"].as_str().expect("a text"));
    // The gateway recovers; the retry comes on the schedule (the clock is moved until it does,
    // however long the first failure takes to be recorded).
    r.answer_with(200);
    for _ in patience() {
        if r.at("/postback").len() >= 2 {
            break;
        }
        app.advance_ms(10_000);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = r.at("/postback");
    assert!(got.len() >= 2, "no retry: {got:?}");
    assert_eq!(got[1].body, first.body);
    assert_eq!(got[1].header("webhook-id"), first.header("webhook-id"));
    // The message the gateway got is the one the server keeps, with the card's code.
    assert_eq!(code, code_for(&app, &mask).await);
}

/// The outbox id of the SMS sent for the card with `mask`.
async fn sms_id(app: &TestApp, mask: &str) -> String {
    let messages = paylink_server::ops::issuing::sms_messages(&app.store, &app.keys, 10)
        .await
        .expect("messages read");
    let m = messages.iter().find(|m| m.text.contains(mask));
    m.unwrap_or_else(|| panic!("no SMS for {mask}")).id.clone()
}

/// Waits until the SMS `id` has `n` recorded attempts; its attempts.
async fn attempts(app: &TestApp, id: &str, n: usize) -> Vec<paylink_core::plan::DeliveryAttempt> {
    for _ in patience() {
        let got = app.store.notice_attempts(id).await.expect("attempts read");
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{id} never had {n} attempts recorded");
}

/// Waits until the SMS `id` is no longer pending, or `sent` requests of it reached the
/// gateway; its state.
async fn settled(app: &TestApp, r: &Receiver, id: &str, mask: &str, sent: usize) -> String {
    for _ in patience() {
        let state = app
            .store
            .notice(id)
            .await
            .expect("a notice")
            .expect("there")
            .state;
        if state.as_str() != "pending" || hits(r, mask) >= sent {
            return state.as_str().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{id} stayed pending");
}

/// How many times the gateway got the SMS of the card with `mask`.
fn hits(r: &Receiver, mask: &str) -> usize {
    r.at("/postback")
        .iter()
        .filter(|m| m.body.contains(mask))
        .count()
}

#[tokio::test]
async fn an_sms_is_given_up_once_its_code_has_expired_and_never_sent_with_a_dead_code() {
    let r = Receiver::start();
    r.answer_with(500);
    let url = r.url("/postback");
    let minute = 60_000;
    let app = spawn_app_with(|s| {
        s.card_api.sms_url = Some(url);
        // Retries 4 minutes apart: patient enough to outlive a 10-minute code.
        s.postbacks.retry.delays = vec![4 * minute; 5];
        s.postbacks.retry.jitter_percent = 0;
    })
    .await;
    let p = partner(&app, 50_000).await;

    // Tries at 0, 4 and 8 minutes; the next (12) would carry a dead code: given up at 8.
    let (_, first) = gift(&p, "GIFT-KZT-5000").await;
    let id = sms_id(&app, &first).await;
    attempts(&app, &id, 1).await;
    app.advance_ms(4 * minute);
    attempts(&app, &id, 2).await;
    app.advance_ms(4 * minute);
    let tried = attempts(&app, &id, 3).await;
    assert_eq!(settled(&app, &r, &id, &first, 4).await, "failed");
    assert_eq!(hits(&r, &first), 3);
    let why = tried[2].error.clone().unwrap_or_default();
    assert!(
        why.contains("expires") && why.contains("given up"),
        "{tried:?}"
    );

    // Issued at 8 minutes, tried once; the clock passes its code's death before the retry.
    let (_, second) = gift(&p, "GIFT-KZT-5000").await;
    let id = sms_id(&app, &second).await;
    attempts(&app, &id, 1).await;
    app.advance_ms(10 * minute + 1);
    assert_eq!(settled(&app, &r, &id, &second, 2).await, "failed");
    let tried = attempts(&app, &id, 2).await;
    assert_eq!(hits(&r, &second), 1, "sent with a dead code");
    assert_eq!(tried[1].http_status, None, "{tried:?}");
    let why = tried[1].error.clone().unwrap_or_default();
    assert!(
        why.contains("not sent") && why.contains("expired"),
        "{tried:?}"
    );

    // Nothing more goes out, however long the gateway stays down.
    app.advance_ms(60 * minute);
    let later = gift(&p, "GIFT-KZT-5000").await.1;
    r.wait_until(1, "the next SMS", |m| m.body.contains(&later))
        .await;
    assert_eq!((hits(&r, &first), hits(&r, &second)), (3, 1));
    assert_eq!(sms_state(&app, &first).await, "failed");
}

/// The state `paylink sms list` shows for the SMS of the card with `mask`.
async fn sms_state(app: &TestApp, mask: &str) -> String {
    let messages = paylink_server::ops::issuing::sms_messages(&app.store, &app.keys, 10)
        .await
        .expect("messages read");
    let m = messages
        .iter()
        .find(|m| m.text.contains(mask))
        .expect("the SMS");
    m.state.clone()
}

#[tokio::test]
async fn the_code_delivered_to_the_sms_gateway_activates_the_card() {
    let r = Receiver::start();
    let url = r.url("/postback");
    let app = spawn_app_with(|s| s.card_api.sms_url = Some(url)).await;
    let p = partner(&app, 5000).await;
    let (card, mask) = gift(&p, "GIFT-KZT-5000").await;
    let got = r.wait_for("/postback", 1).await[0].clone();
    let body: Value = serde_json::from_str(&got.body).expect("a JSON body");
    assert_eq!(body["phone"], json!(PHONE), "{body}");
    let text = body["text"].as_str().expect("a text");
    assert!(text.contains(&mask), "{text}");
    let code = code_in(text);
    let a = activate(&p, &card, &code).await;
    assert!(a.is_ok(), "{}", a.body);
    assert_eq!(a.body["card_balance"], json!("5000.00"));
}

/// Opens a card's one-time data link (GET then POST); the PAN it shows, digits only.
async fn revealed_pan(app: &TestApp, p: &Partner, card: &str) -> String {
    let b = p.ok("card-api/card/secret", json!({"card_id": card})).await;
    let url = b["url"].as_str().expect("a url");
    let r = app.http.get(url).send().await.expect("the page answers");
    assert_eq!(r.status().as_u16(), 200);
    let r = app.http.post(url).send().await.expect("the page answers");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("a page");
    let open = "id=\"pan\">";
    let start = html.find(open).expect("a PAN") + open.len();
    let end = start + html[start..].find('<').expect("its end");
    let pan: String = html[start..end]
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    assert_eq!(pan.len(), 16, "{html}");
    pan
}

/// Where `bytes` holds a run of 16 digits that starts with the partner's BIN, or one of `pans`.
/// (Any 16-digit run would be too wide: hex digests and fingerprints at rest hold such runs by
/// chance.)
fn card_number_in(bytes: &[u8], pans: &[String]) -> Option<usize> {
    if let Some(i) = pans
        .iter()
        .find_map(|pan| bytes.windows(pan.len()).position(|w| w == pan.as_bytes()))
    {
        return Some(i);
    }
    bytes
        .windows(16)
        .position(|w| w.starts_with(b"400000") && w.iter().all(u8::is_ascii_digit))
}

#[tokio::test]
async fn the_database_holds_no_card_number() {
    let app = spawn_app().await;
    let p = partner(&app, 50_000).await;
    let mut pans = Vec::new();
    let mut cards = Vec::new();
    for _ in 0..3 {
        cards.push(p.funded_card("10.00").await);
    }
    let (g, mask) = gift(&p, "GIFT-KZT-5000").await;
    let code = code_for(&app, &mask).await;
    assert!(activate(&p, &g, &code).await.is_ok());
    cards.push(g);
    p.ok(
        "card-api/card/bulk_issue",
        json!({"product_id": 1000, "quantity": 3, "currency": "KZT"}),
    )
    .await;
    for card in &cards {
        pans.push(revealed_pan(&app, &p, card).await);
    }
    // The scan works: it finds what is there (a card id) ...
    assert!(card_number_in(b"x4000001234567890y", &[]).is_some());
    if app.db.is_postgres() {
        // Every row of every table as JSON text, matched in the database; a match raises.
        let pattern = format!("400000[0-9]{{10}}|{}", pans.join("|"));
        let scan = |pattern: &str| {
            format!(
                "DO $$
                 DECLARE t record; hit boolean;
                 BEGIN
                   FOR t IN SELECT table_name FROM information_schema.tables
                            WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                   LOOP
                     EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I r WHERE row_to_json(r)::text ~ %L)',
                                    t.table_name, '{pattern}') INTO hit;
                     IF hit THEN RAISE EXCEPTION 'found in %', t.table_name; END IF;
                   END LOOP;
                 END $$"
            )
        };
        // ... it sees the rows (a card's id is in them) ...
        let seen = app.store.execute_raw(&scan(&cards[0])).await;
        assert!(seen.is_err(), "the scan saw no rows");
        // ... and no card number is there.
        if let Err(e) = app.store.execute_raw(&scan(&pattern)).await {
            panic!("a card number at rest: {e}");
        }
    } else {
        let path = app
            .db
            .url
            .strip_prefix("sqlite://")
            .expect("a SQLite URL")
            .to_string();
        let mut bytes = std::fs::read(&path).expect("the database file reads");
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        // ... it sees the rows (a card's id is in them) ...
        let id = cards[0].as_bytes();
        assert!(
            bytes.windows(id.len()).any(|w| w == id),
            "the card is not in the database files read"
        );
        // ... and no card number is there.
        if let Some(i) = card_number_in(&bytes, &pans) {
            let from = i.saturating_sub(40);
            let to = (i + 56).min(bytes.len());
            panic!(
                "a card number at rest, at byte {i}: {:?}",
                String::from_utf8_lossy(&bytes[from..to])
            );
        }
    }
}

/// Guesses sent at once get no more tries than guesses sent one by one: each try is reserved
/// in SQL before the code is compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_guesses_at_once_spend_only_five_tries() {
    let app = spawn_app().await;
    let p = partner(&app, 100_000).await;
    let (card, mask) = gift(&p, "GIFT-KZT-5000").await;
    let code = code_for(&app, &mask).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = p.client.clone();
            let start = start.clone();
            let body =
                json!({"request_id": new_request_id(), "card_id": card, "otp": wrong(&code)});
            tokio::spawn(async move {
                start.wait().await;
                client.call("/v5/cards/activate_card", &body).await
            })
        })
        .collect();
    let mut invalid = 0;
    for t in tasks {
        let a = t.await.unwrap().unwrap();
        match a.error_code() {
            Some("otp_invalid") => invalid += 1,
            Some("otp_expired") => {}
            other => panic!("{other:?}: {}", a.body),
        }
    }
    assert_eq!(invalid, 5, "exactly the five tries were compared");
    // The right code comes too late: the tries are spent.
    let late = activate(&p, &card, &code).await;
    assert_eq!(late.error_code(), Some("otp_expired"), "{}", late.body);
    assert_eq!(card_status(&p, &card).await, json!(0));
}

/// The outbox keeps the SMS's text sealed: the code is not in the database in the clear.
#[tokio::test]
async fn the_outbox_holds_the_code_only_sealed() {
    let app = spawn_app().await;
    let p = partner(&app, 100_000).await;
    let (_, mask) = gift(&p, "GIFT-KZT-5000").await;
    let code = code_for(&app, &mask).await;
    let stored = app.store.sms_messages(10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].text.contains(&code), "{}", stored[0].text);
    assert!(!stored[0].text.contains(&mask), "{}", stored[0].text);
}
