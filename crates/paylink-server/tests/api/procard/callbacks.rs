//! The Procard callback: a JSON POST per finished link payment (APPROVED and DECLINED) to the
//! link's callback URL or the merchant's default, signed with `merchantSignature` under the
//! merchant's Procard key and with Standard Webhooks headers under the shop's webhook key.

use super::*;
use paylink_core::event::{Dialect, NoticeState};
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::WebhookKey;
use paylink_store::Store;

/// The callback's JSON body, its Standard Webhooks headers verified.
#[track_caller]
fn verified(app: &TestApp, p: &Received) -> Value {
    assert_eq!(p.method, "POST");
    assert!(
        p.header("content-type").starts_with("application/json"),
        "{p:?}"
    );
    assert!(!p.header("webhook-id").is_empty(), "{p:?}");
    let ts: i64 = p.header("webhook-timestamp").parse().expect("a timestamp");
    let key = WebhookKey::parse(&app.merchant.webhook_secret).unwrap();
    assert_eq!(
        p.header("webhook-signature"),
        key.sign(p.header("webhook-id"), ts, &p.body),
        "{p:?}"
    );
    serde_json::from_str(&p.body).unwrap_or_else(|_| panic!("not JSON: {}", p.body))
}

/// The callback of operation `op`, paid as `amount` (shortest form), signed under `key`.
#[track_caller]
fn assert_callback(cb: &Value, op: &Value, key: &str, amount: &str, status: &str) {
    assert_eq!(cb["operation"], json!("CallBack"), "{cb}");
    assert_eq!(cb["merchant_id"], json!(LOGIN), "{cb}");
    assert_eq!(cb["merchantAccount"], json!(LOGIN), "{cb}");
    assert_eq!(cb["orderReference"], op["order_id"], "{cb}");
    assert_eq!(cb["amount"], json!(amount), "{cb}");
    assert_eq!(cb["currency"], json!("RUB"), "{cb}");
    assert_eq!(cb["transactionStatus"], json!(status), "{cb}");
    assert_eq!(cb["transactionId"], op["id"], "{cb}");
    assert!(cb["transactionId"].is_i64(), "{cb}");
    assert_eq!(cb["cardPan"], op["card_number"], "{cb}");
    assert!(cb["cardPan"].as_str().unwrap().contains('*'), "{cb}");
    assert_eq!(cb["fee"], op["fee"], "{cb}");
    assert!(
        cb["createdDate"].as_str().is_some_and(|d| d.len() == 19),
        "{cb}"
    );
    let order = cb["orderReference"].as_str().unwrap();
    assert_eq!(
        cb["merchantSignature"],
        json!(sign(key, &[LOGIN, order, amount, "RUB"])),
        "{cb}"
    );
}

/// The callback about operation `op` among `got`.
fn about<'a>(got: &'a [Value], op: &Value) -> &'a Value {
    got.iter()
        .find(|cb| cb["orderReference"] == op["order_id"])
        .unwrap_or_else(|| panic!("no callback about {op} in {got:?}"))
}

#[tokio::test]
async fn a_links_callback_url_gets_each_finished_payment_signed() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({
                "amount": "100.50",
                "enable_counter": "1",
                "callback_url": r.url("/procard"),
            }),
        )
        .await;
    let approved = pay_ok(&app, &id, "100.50", 2, CARD_OK).await;
    let declined = pay_ok(&app, &id, "100.50", 1, CARD_DECLINED).await;
    assert_eq!(declined["status"], json!("DECLINED"));
    let got: Vec<Value> = r
        .wait_for("/procard", 2)
        .await
        .iter()
        .map(|p| verified(&app, p))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    // 100.50 × 2, sent and signed in its shortest form.
    assert_callback(about(&got, &approved), &approved, &c.key, "201", "APPROVED");
    assert_callback(
        about(&got, &declined),
        &declined,
        &c.key,
        "100.5",
        "DECLINED",
    );
    // A callback is signed with the key as it is when it is sent.
    let rotated = permanent_links::rotate_key(
        &app.store,
        &app.keys,
        None,
        app.merchant.merchant_id.as_str(),
        app.now(),
    )
    .await
    .unwrap();
    let third = pay_ok(&app, &id, "100.50", 1, CARD_THREE_DS).await;
    let got: Vec<Value> = r
        .wait_for("/procard", 3)
        .await
        .iter()
        .map(|p| verified(&app, p))
        .collect();
    assert_callback(
        about(&got, &third),
        &third,
        rotated.secret_key.expose(),
        "100.5",
        "APPROVED",
    );
}

#[tokio::test]
async fn the_merchants_default_callback_url_serves_links_without_their_own() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let c = enable(&app).await;
    let enabled = permanent_links::enable(
        &app.store,
        &app.keys,
        app.merchant.merchant_id.as_str(),
        None,
        Some(r.url("/default")),
        None,
        true,
        app.now(),
    )
    .await
    .unwrap();
    assert_eq!(enabled.secret_key.expose(), &c.key, "the key stays");
    let plain = c.create(&app, json!({"amount": "10"})).await;
    let own = c
        .create(&app, json!({"amount": "20", "callback_url": r.url("/own")}))
        .await;
    let p1 = pay_ok(&app, &plain, "10", 1, CARD_OK).await;
    let p2 = pay_ok(&app, &own, "20", 1, CARD_OK).await;
    let default = r.wait_for("/default", 1).await;
    let mine = r.wait_for("/own", 1).await;
    assert_callback(&verified(&app, &default[0]), &p1, &c.key, "10", "APPROVED");
    assert_callback(&verified(&app, &mine[0]), &p2, &c.key, "20", "APPROVED");
    // Each went to one place only.
    assert_eq!(r.at("/default").len(), 1);
    assert_eq!(r.at("/own").len(), 1);
    // An update moves a link's callbacks.
    let a = c
        .call(
            &app,
            "/permanent-links/update",
            json!({
                "id": plain,
                "name": "Donation",
                "description": "For the shelter",
                "amount": "10",
                "language": "ukr",
                "callback_url": r.url("/moved"),
            }),
            Wire::Form,
        )
        .await;
    accepted(&a);
    let p3 = pay_ok(&app, &plain, "10", 1, CARD_OK).await;
    let moved = r.wait_for("/moved", 1).await;
    assert_callback(&verified(&app, &moved[0]), &p3, &c.key, "10", "APPROVED");
    // The URL is signed with the rest: a signed update seen once cannot be sent again with a
    // URL of its sender's choice.
    let update = json!({
        "merchant_id": LOGIN,
        "id": plain,
        "name": "Donation",
        "description": "For the shelter",
        "amount": "10",
        "language": "ukr",
    });
    let seen = signature(&c.key, "/permanent-links/update", &update);
    let mut replayed = update.clone();
    replayed["signature"] = json!(seen);
    replayed["callback_url"] = json!(r.url("/stolen"));
    refused(
        &send(&app, "/permanent-links/update", &replayed, Wire::Json).await,
        -4,
    );
    // Nor with the URL taken away (an empty one, signed too).
    let mut cleared = update.clone();
    cleared["callback_url"] = json!("");
    cleared["signature"] = json!(seen);
    refused(
        &send(&app, "/permanent-links/update", &cleared, Wire::Json).await,
        -4,
    );
    // Signed, an empty URL gives the link's callbacks back to the merchant's default; an
    // empty one at create is no URL.
    cleared["signature"] = json!(signature(&c.key, "/permanent-links/update", &cleared));
    accepted(&send(&app, "/permanent-links/update", &cleared, Wire::Json).await);
    let none = c
        .create(&app, json!({"amount": "30", "callback_url": ""}))
        .await;
    let p4 = pay_ok(&app, &plain, "10", 1, CARD_OK).await;
    let p5 = pay_ok(&app, &none, "30", 1, CARD_OK).await;
    let default = r.wait_for("/default", 3).await;
    for (p, amount) in [(&p4, "10"), (&p5, "30")] {
        let got: Vec<Value> = default.iter().map(|d| verified(&app, d)).collect();
        assert_callback(about(&got, p), p, &c.key, amount, "APPROVED");
    }
    assert_eq!(r.at("/moved").len(), 1);
    assert!(r.at("/stolen").is_empty());
    // A callback URL paylink must not call is refused at create, changing nothing.
    let before = c.list(&app).await;
    let a = c
        .call(
            &app,
            "/permanent-links/create",
            json!({
                "name": "n",
                "description": "d",
                "operation": "Purchase",
                "amount": "1",
                "language": "en",
                "callback_url": "ftp://example.com/x",
            }),
            Wire::Json,
        )
        .await;
    refused(&a, -15);
    assert_eq!(c.list(&app).await, before);
}

#[tokio::test]
async fn a_failed_callback_is_retried_given_up_and_redelivered_with_the_same_bytes() {
    let app = spawn_app_with(|s| {
        s.postbacks.retry.delays = vec![10_000];
        s.postbacks.retry.jitter_percent = 0;
    })
    .await;
    let r = Receiver::start();
    // The receiver answers `/postback` as told.
    r.answer_with(500);
    let c = enable(&app).await;
    let id = c
        .create(&app, json!({"callback_url": r.url("/postback")}))
        .await;
    let op = pay_ok(&app, &id, "100.00", 1, CARD_OK).await;
    let first = r.wait_for("/postback", 1).await[0].clone();
    // The link's delivery log holds the callback once its attempts are recorded.
    let callback = |store: Store, id: String, attempts: i64, state: NoticeState| async move {
        let mut seen = Vec::new();
        for _ in patience() {
            let history = paylink_server::ops::merchants::postbacks(&store, &id)
                .await
                .unwrap();
            seen = history
                .iter()
                .map(|h| {
                    (
                        h.record.notice.id.clone(),
                        h.record.total_attempts,
                        h.record.state,
                    )
                })
                .collect();
            if let Some(h) = history.into_iter().find(|h| {
                h.record.notice.dialect == Dialect::Procard
                    && h.record.total_attempts == attempts
                    && h.record.state == state
            }) {
                return h;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the callback never had {attempts} attempts and state {state:?}: {seen:?}")
    };
    callback(app.store.clone(), id.clone(), 1, NoticeState::Pending).await;
    app.advance_ms(10_000);
    r.wait_for("/postback", 2).await;
    // The schedule is spent: failed, with both attempts on record.
    let h = callback(app.store.clone(), id.clone(), 2, NoticeState::Failed).await;
    assert_eq!(h.attempts.len(), 2);
    assert!(h.attempts.iter().all(|a| a.http_status == Some(500)));

    // Redelivered: the same id and body, taken by a healthy receiver.
    r.answer_with(200);
    paylink_server::ops::merchants::redeliver(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        &h.record.notice.id,
        app.now(),
    )
    .await
    .unwrap();
    let third = r.wait_for("/postback", 3).await[2].clone();
    assert_eq!(third.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(third.body, first.body);
    assert_callback(&verified(&app, &third), &op, &c.key, "100", "APPROVED");
}

#[tokio::test]
async fn a_challenge_left_unanswered_is_declined_and_called_back_once() {
    use crate::checkout_pages::{get, input, post};
    let app = spawn_app().await;
    let r = Receiver::start();
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({"amount": "50.00", "callback_url": r.url("/procard")}),
        )
        .await;
    // The payer starts paying on the link's page and is sent to their bank, never to return.
    let page = get(&app.url(&format!("/p/{id}")), "en").await;
    let form = input(&page.text, "form");
    let sent = post(
        &app.url(&format!("/p/{id}")),
        &[
            ("form", form.as_str()),
            ("amount", "50.00"),
            ("card_number", CARD_THREE_DS),
            ("expiry", "12/30"),
            ("cvc", "123"),
        ],
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert!(sent.text.contains("/sandbox/acs"), "{}", sent.text);
    let waiting = app
        .store
        .abandoned_operations(app.now() + 1, 10)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let pid = waiting[0].payment_id.clone();
    let status = || async {
        let op = app.store.operation(&pid).await.unwrap().expect("recorded");
        op.status.as_str().to_string()
    };
    assert_eq!(status().await, "WAITING-AUTH");
    // Still waiting a while after the challenge expired (an answer sent at the last moment
    // may still be recorded)...
    app.advance_ms(20 * 60_000);
    let decline = || permanent_links::decline_abandoned(&app.store, app.now());
    assert_eq!(decline().await.unwrap(), 0);
    let listed = c.operations(&app, &id, json!({})).await;
    assert_eq!(listed["total"], json!(0), "{listed}");
    assert_eq!(status().await, "WAITING-AUTH");
    // ...then DECLINED, and the merchant told once, however many workers race to it.
    app.advance_ms(6 * 60_000);
    let (a, b, c2, d) = tokio::join!(decline(), decline(), decline(), decline());
    let by_us: usize = [a, b, c2, d].into_iter().map(|n| n.unwrap()).sum();
    assert!(by_us <= 1, "declined {by_us} times");
    let got = r.wait_for("/procard", 1).await;
    let cb = verified(&app, &got[0]);
    assert_eq!(cb["transactionStatus"], json!("DECLINED"), "{cb}");
    assert_eq!(cb["orderReference"], json!(pid.as_str()), "{cb}");
    assert_eq!(cb["amount"], json!("50"), "{cb}");
    assert_eq!(cb["fee"], json!("0.00"), "{cb}");
    assert_eq!(
        cb["reason"],
        json!("3-D Secure authentication was not completed."),
        "{cb}"
    );
    assert_eq!(status().await, "DECLINED");
    assert_eq!(decline().await.unwrap(), 0);
    assert_eq!(r.at("/procard").len(), 1);
    // Nothing was charged.
    let bill = app
        .get("/api/v1/bill/payments", &[("id", id.as_str())])
        .await;
    assert_eq!(bill.ok()["data"], json!([]));
}
