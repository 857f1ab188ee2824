//! The Procard callback: a JSON POST per finished link payment (APPROVED and DECLINED) to the
//! link's callback URL or the merchant's default, signed with `merchantSignature` under the
//! merchant's Procard key and with Standard Webhooks headers under the shop's webhook key.

use super::*;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::WebhookKey;

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
