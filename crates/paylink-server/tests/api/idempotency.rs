//! `Idempotency-Key` on the Cardlink writes, over real HTTP: one key, one effect and one answer
//! (replayed byte for byte, also to requests racing the first); the same key with another
//! request is refused; keys are per merchant and kept for the configured time; a refund whose
//! client gave up at the request deadline is made once however often it is retried.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::decide;
use paylink_core::id::{PaymentId, RefundId};
use paylink_core::money::Currency;
use paylink_core::payout::PayoutProfile;
use paylink_core::plan::{Plan, RequestKey, Write};
use serde_json::{json, Value};
use std::time::Duration;

const RACERS: usize = 32;
const KEY: &str = "Idempotency-Key";
/// The sandbox acquirer answers refunds of this card's payments after 5 seconds.
const CARD_SLOW_REFUND: &str = "4000000000000267";

/// An answer and whether it came marked as a replay.
struct Keyed {
    answer: Answer,
    replayed: bool,
}

enum Sent<'a> {
    Json(Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// `POST path` as `token` with an `Idempotency-Key` of `key`.
async fn keyed(app: &TestApp, token: &str, path: &str, key: &str, body: Sent<'_>) -> Keyed {
    let rb = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header(KEY, key);
    let rb = match body {
        Sent::Json(v) => rb
            .header("Content-Type", "application/json")
            .body(v.to_string()),
        Sent::Form(pairs) => {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            rb.header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_encode(&pairs))
        }
    };
    let response = rb.send().await.expect("the server answers");
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    Keyed {
        answer: answer(response).await,
        replayed,
    }
}

/// `RACERS` copies of one keyed JSON request at once, each on its own task.
async fn at_once(app: &TestApp, path: &str, key: &str, body: Value) -> Vec<Keyed> {
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (http, url, token) = (app.http.clone(), app.url(path), app.token().to_string());
            let (key, body) = (key.to_string(), body.to_string());
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .header(KEY, key)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("the server answers");
                let replayed = response.headers().contains_key("idempotent-replayed");
                Keyed {
                    answer: answer(response).await,
                    replayed,
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(RACERS);
    for t in tasks {
        all.push(t.await.expect("the request task"));
    }
    all
}

/// Every answer 200 and byte for byte the same, one made and the rest replayed; that answer.
#[track_caller]
fn one_answer(all: &[Keyed]) -> Value {
    let first = &all[0].answer;
    for k in all {
        assert_eq!(k.answer.status, 200, "{}", k.answer.text);
        assert_eq!(k.answer.text, first.text, "answers differ");
        assert!(k.answer.content_type.starts_with("application/json"));
    }
    assert_eq!(
        all.iter().filter(|k| !k.replayed).count(),
        1,
        "one request ran, the others were answered from it"
    );
    assert_json(first);
    first.json.clone()
}

/// `payment` has one refund, of 100.00, which left the balance (`before` it) once.
async fn refunded_once(app: &TestApp, payment: &str, before: i64) {
    let p = app.payment_status(payment).await;
    assert_eq!(p["refunds"].as_array().map(Vec::len), Some(1), "{p}");
    assert_eq!(number(&p["refunded_amount"]), 100_00);
    assert_eq!(app.balance_of(app.token()).await.available, before - 100_00);
    app.assert_ledger_ok().await;
}

#[track_caller]
fn key_refused(k: &Keyed) {
    k.answer.invalid("idempotency_key");
    assert!(!k.replayed);
}

#[tokio::test]
async fn one_key_makes_one_bill_for_racing_requests_and_replays_its_answer_byte_for_byte() {
    let app = spawn_app().await;
    let path = "/api/v1/bill/create";
    let body = json!({"amount": "100", "shop_id": app.shop(), "order_id": "o-1"});
    let all = at_once(&app, path, "bill-1", body).await;
    let made = one_answer(&all);
    assert_eq!(app.bill_count().await, 1);
    let text = all[0].answer.text.clone();

    // The same parameters spelled otherwise (a form, another order, a JSON number, an empty
    // field that means absent) are the same request.
    let form = [
        ("order_id", "o-1"),
        ("shop_id", app.shop()),
        ("amount", "100"),
        ("description", ""),
    ];
    let again = keyed(&app, app.token(), path, "bill-1", Sent::Form(&form)).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, text);
    let number = json!({"shop_id": app.shop(), "order_id": "o-1", "amount": 100});
    let again = keyed(&app, app.token(), path, "bill-1", Sent::Json(number)).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, text);

    // Another request with the key is refused, whatever it is, and makes nothing.
    let other = json!({"amount": "200", "shop_id": app.shop(), "order_id": "o-1"});
    key_refused(&keyed(&app, app.token(), path, "bill-1", Sent::Json(other)).await);
    let toggle = json!({"id": made["bill_id"], "active": false});
    let toggled = keyed(
        &app,
        app.token(),
        "/api/v1/bill/toggle_activity",
        "bill-1",
        Sent::Json(toggle),
    );
    key_refused(&toggled.await);
    assert_eq!(app.bill_count().await, 1);
    assert_eq!(
        app.bill_status(made["bill_id"].as_str().unwrap()).await["active"],
        json!(true)
    );

    // Another merchant's same key is its own.
    let other = app.new_merchant("Other").await;
    let theirs = json!({"amount": "100", "shop_id": other.shop_id.as_str(), "order_id": "o-1"});
    let a = keyed(&app, &other.api_token, path, "bill-1", Sent::Json(theirs)).await;
    assert!(!a.replayed);
    assert_eq!(a.answer.status, 200, "{}", a.answer.text);
    assert_ne!(a.answer.json["bill_id"], made["bill_id"]);

    // Kept for the configured day, then forgotten: the key makes a new bill.
    let body = json!({"amount": "100", "shop_id": app.shop(), "order_id": "o-1"});
    app.advance_ms(DAY_MS);
    let kept = keyed(&app, app.token(), path, "bill-1", Sent::Json(body.clone())).await;
    assert!(kept.replayed);
    assert_eq!(kept.answer.text, text);
    app.advance_ms(1);
    let fresh = keyed(&app, app.token(), path, "bill-1", Sent::Json(body.clone())).await;
    assert!(!fresh.replayed);
    assert_eq!(fresh.answer.status, 200, "{}", fresh.answer.text);
    assert_ne!(fresh.answer.json["bill_id"], made["bill_id"]);
    assert_eq!(app.bill_count().await, 2);
    // And that new answer is what the key replays from now on.
    let again = keyed(&app, app.token(), path, "bill-1", Sent::Json(body)).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, fresh.answer.text);
}

#[tokio::test]
async fn one_key_makes_one_payout_for_racing_requests() {
    let app = spawn_app_with(|s| s.money.sandbox_payout_delay = Duration::from_secs(3600)).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    let funded = app.fund("10000").await;
    let body = card("1000", CARD_OK);
    let all = at_once(&app, "/api/v1/payout/regular/create", "payout-1", body).await;
    let made = one_answer(&all);
    assert_eq!(made["data"].as_array().map(Vec::len), Some(1));
    // 1000 + 2% + 50 locked once.
    assert_eq!(
        app.balance_of(app.token()).await,
        Bal {
            available: funded - 1070_00,
            locked: 1070_00,
            hold: 0
        }
    );
    let found = app.get("/api/v1/payout/search", &[]).await;
    assert_eq!(found.ok()["data"].as_array().map(Vec::len), Some(1));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn one_key_makes_one_refund_for_racing_requests() {
    let app = spawn_app().await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    let before = app.balance_of(app.token()).await.available;
    let body = json!({"payment_id": payment, "amount": "100"});
    let all = at_once(&app, "/api/v1/refund/partial/create", "refund-1", body).await;
    let made = one_answer(&all);
    assert_eq!(made["status"], json!("SUCCESS"));
    refunded_once(&app, &payment, before).await;
}

/// The hole a deadline used to leave: the client gets a 503 while its refund goes on, and
/// retries. With the key the retries wait for that refund and get its answer; none makes
/// another.
#[tokio::test]
async fn a_refund_retried_after_its_deadline_is_made_once() {
    let app = spawn_app_with(|s| s.request_timeout = Duration::from_secs(2)).await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_SLOW_REFUND).await;
    let payment = id_of(&paid);
    let before = app.balance_of(app.token()).await.available;
    let path = "/api/v1/refund/partial/create";
    let body = || Sent::Json(json!({"payment_id": payment, "amount": "100"}));

    let first = keyed(&app, app.token(), path, "refund-late", body()).await;
    first.answer.error(503, "The request took too long.");
    let mut answered = None;
    for _ in 0..30 {
        let retry = keyed(&app, app.token(), path, "refund-late", body()).await;
        match retry.answer.status {
            503 => continue,
            _ => {
                answered = Some(retry);
                break;
            }
        }
    }
    let answered = answered.expect("a retry gets the refund's answer");
    let refund = answered.answer.ok().clone();
    assert_eq!(refund["status"], json!("SUCCESS"));
    assert_eq!(number(&refund["amount"]), 100_00);
    // Answered from the first request's work, stored for every later retry.
    let again = keyed(&app, app.token(), path, "refund-late", body()).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, answered.answer.text);

    refunded_once(&app, &payment, before).await;
}

#[tokio::test]
async fn a_refusal_is_replayed_to_its_retries() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    let path = "/api/v1/payout/regular/create";
    let body = || Sent::Json(card("1000", CARD_OK));
    let refused = keyed(&app, app.token(), path, "poor", body()).await;
    refused.answer.error(400, "api:error.balance_not_enough");
    app.fund("10000").await;
    // The key answers as it did; a new key is a new request.
    let again = keyed(&app, app.token(), path, "poor", body()).await;
    assert!(again.replayed);
    assert_eq!(
        (again.answer.status, &again.answer.text),
        (400, &refused.answer.text)
    );
    let made = keyed(&app, app.token(), path, "rich", body()).await;
    assert_eq!(made.answer.ok()["data"].as_array().map(Vec::len), Some(1));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn toggle_and_cancel_answer_once_per_key() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": "100"})).await;
    let toggle = "/api/v1/bill/toggle_activity";
    let off = || Sent::Json(json!({"id": bill, "active": false}));
    let first = keyed(&app, app.token(), toggle, "off", off()).await;
    assert_eq!(first.answer.ok()["active"], json!(false));
    // Turned back on meanwhile: the key still answers what it did.
    keyed(
        &app,
        app.token(),
        toggle,
        "on",
        Sent::Json(json!({"id": bill, "active": true})),
    )
    .await
    .answer
    .ok();
    let again = keyed(&app, app.token(), toggle, "off", off()).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, first.answer.text);
    assert_eq!(app.bill_status(&bill).await["active"], json!(true));

    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    let funded = app.fund("5000").await;
    let body = json!({"order_id": "mod-1", "amount": "1000", "currency": "RUB",
        "account_type": "credit_card", "account_identifier": CARD_OK, "card_holder": "Ivan Petrov"});
    app.post("/api/v1/payout/regular/create", body).await.ok();
    let cancel = "/api/v1/payout/cancel";
    let by_order = || Sent::Json(json!({"order_id": "mod-1"}));
    let all = at_once(&app, cancel, "cancel-1", json!({"order_id": "mod-1"})).await;
    let declined = one_answer(&all);
    assert_eq!(declined["status"], json!("DECLINED"));
    let again = keyed(&app, app.token(), cancel, "cancel-1", by_order()).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, all[0].answer.text);
    // Without the key the same cancel is a new request, refused now.
    app.post(cancel, json!({"order_id": "mod-1"}))
        .await
        .error(400, "api:error.transaction_rejected");
    assert_eq!(
        app.balance_of(app.token()).await,
        Bal {
            available: funded,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_key_is_one_header_of_1_to_255_printable_ascii_characters() {
    let app = spawn_app().await;
    let path = "/api/v1/bill/create";
    let body = || Sent::Json(json!({"amount": "100", "shop_id": app.shop()}));
    let long = "k".repeat(256);
    for bad in ["", long.as_str(), "tab\there"] {
        key_refused(&keyed(&app, app.token(), path, bad, body()).await);
    }
    // Not ASCII, and two keys at once.
    let raw = |key: reqwest::header::HeaderValue| {
        app.http
            .post(app.url(path))
            .bearer_auth(app.token())
            .header(KEY, key)
            .json(&json!({"amount": "100", "shop_id": app.shop()}))
    };
    let utf8 = reqwest::header::HeaderValue::from_bytes("ключ".as_bytes()).unwrap();
    answer(raw(utf8).send().await.unwrap())
        .await
        .invalid("idempotency_key");
    let two = raw(reqwest::header::HeaderValue::from_static("a")).header(KEY, "b");
    answer(two.send().await.unwrap())
        .await
        .invalid("idempotency_key");
    assert_eq!(app.bill_count().await, 0);

    let longest = "k".repeat(255);
    let made = keyed(&app, app.token(), path, &longest, body()).await;
    assert_eq!(made.answer.status, 200, "{}", made.answer.text);
    // Without a token, or with a wrong one: 401 whatever the key.
    let anonymous = app
        .http
        .post(app.url(path))
        .header(KEY, "x")
        .json(&json!({"amount": "100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let stranger = keyed(&app, "1|not-a-token", path, "", body()).await;
    assert_eq!(stranger.answer.status, 401, "{}", stranger.answer.text);
    assert_eq!(app.bill_count().await, 1);
}

/// A server that died after taking a refund's money and before the acquirer's answer (its
/// claim bound to the refund, then run out): the retry answers that refund, and makes none.
#[tokio::test]
async fn a_retry_after_a_crash_answers_the_refund_the_dead_request_made() {
    let app = spawn_app().await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    let path = "/api/v1/refund/partial/create";
    let body = || Sent::Json(json!({"payment_id": payment, "amount": "100"}));
    // The request as the server fingerprints it, from a first refund with another key.
    keyed(&app, app.token(), path, "refund-a", body())
        .await
        .answer
        .ok();
    let merchant = app.merchant.merchant_id.clone();
    let remembered = |key: &str| {
        let key = RequestKey {
            merchant_id: merchant.clone(),
            key: key.to_string(),
        };
        let store = app.store.clone();
        async move { store.remembered_request(&key).await.unwrap() }
    };
    let fingerprint = remembered("refund-a").await.expect("kept").fingerprint;

    // The dead request: its claim, then the refund's money taken under it.
    let key = RequestKey {
        merchant_id: merchant.clone(),
        key: "refund-b".into(),
    };
    let now = app.now();
    let claim = Write::ClaimRequest {
        key: key.clone(),
        fingerprint,
        token: "dead".into(),
        now,
        leased_until: now + 120_000,
        expired_before: now - DAY_MS,
    };
    app.store.apply(Plan::one(claim)).await.unwrap();
    let stored = app
        .store
        .payment(&PaymentId::parse(&payment).unwrap())
        .await
        .unwrap()
        .unwrap();
    let bal = app
        .store
        .balance(&stored.merchant_id, Currency::Rub)
        .await
        .unwrap();
    let (refund, mut plan) = decide::refund::create(
        &stored,
        Some(100_00),
        bal,
        0,
        RefundId::parse("DeadClaim1").unwrap(),
        now + 60_000,
        now,
    )
    .unwrap();
    plan.writes.push(Write::BindRequest {
        key: key.clone(),
        token: "dead".into(),
        reference: refund.id.to_string(),
    });
    app.store.apply(plan).await.unwrap();

    // Past the dead claimer's lease, the retry takes over and answers from the refund.
    app.advance_ms(120_001);
    let retry = keyed(&app, app.token(), path, "refund-b", body()).await;
    assert!(!retry.replayed);
    let answered = retry.answer.ok().clone();
    assert_eq!(answered["id"], json!("DeadClaim1"));
    let again = keyed(&app, app.token(), path, "refund-b", body()).await;
    assert!(again.replayed);
    assert_eq!(again.answer.text, retry.answer.text);

    // Two refunds in all: the first key's and the dead request's; the worker finishes it.
    let p = app.payment_status(&payment).await;
    assert_eq!(p["refunds"].as_array().map(Vec::len), Some(2), "{p}");
    assert_eq!(number(&p["refunded_amount"]), 200_00);
    let mut status = Value::Null;
    for _ in 0..400 {
        let a = app
            .get("/api/v1/refund/status", &[("id", "DeadClaim1")])
            .await;
        status = a.ok()["status"].clone();
        if status != json!("PROCESS") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, json!("SUCCESS"));
    app.assert_ledger_ok().await;
}
