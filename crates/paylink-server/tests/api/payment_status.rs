//! `payment/status`: every compat field, and the `refunds`/`chargeback` arrays on request.

use crate::harness::*;
use serde_json::{json, Value};

const PAYMENT_FIELDS: [&str; 14] = [
    "id",
    "bill_id",
    "status",
    "amount",
    "amount_received",
    "commission",
    "account_amount",
    "account_currency_code",
    "refunded_amount",
    "from_card",
    "currency_in",
    "created_at",
    "error_code",
    "error_message",
];

#[tokio::test]
async fn payment_status_has_every_compat_field() {
    let app = spawn_app().await;
    let bill = app
        .bill(json!({"amount": "100.50", "type": "multi", "currency_in": "usd"}))
        .await;
    app.advance_ms(3_000);
    let ok = app.pay_card(&bill, CARD_OK).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = app.pay_card(&bill, CARD_NO_FUNDS).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let a = app.get("/api/v1/payment/status", &[("id", &ok)]).await;
    let p = a.ok();
    for key in PAYMENT_FIELDS {
        assert!(p.get(key).is_some(), "no {key} in {}", a.text);
    }
    assert_raw(&a.text, "success", "true");
    assert_eq!(p["id"], json!(ok));
    assert_eq!(p["bill_id"], json!(bill));
    assert_eq!(p["status"], json!("SUCCESS"));
    assert_raw(&a.text, "amount", "100.5");
    assert_raw(&a.text, "amount_received", "96.98");
    assert_raw(&a.text, "commission", "3.52");
    assert_raw(&a.text, "account_amount", "96.98");
    assert_raw(&a.text, "refunded_amount", "0");
    assert_eq!(p["account_currency_code"], json!("USD"));
    assert_eq!(p["currency_in"], json!("USD"));
    assert_eq!(p["from_card"], json!("424242******4242"));
    assert_eq!(p["created_at"], json!("2024-05-14 10:00:03"));
    assert_eq!(p["error_code"], Value::Null);
    assert_eq!(p["error_message"], Value::Null);
    assert!(p.get("refunds").is_none(), "{}", a.text);
    assert!(p.get("chargeback").is_none(), "{}", a.text);

    let a = app.get("/api/v1/payment/status", &[("id", &failed)]).await;
    let p = a.ok();
    for key in PAYMENT_FIELDS {
        assert!(p.get(key).is_some(), "no {key} in {}", a.text);
    }
    assert_eq!(p["status"], json!("FAIL"));
    assert_raw(&a.text, "error_code", "51");
    assert!(p["error_message"].is_string());

    // The SDK decodes the same object.
    let sdk = app.client().payment_status(&ok).await.unwrap();
    assert_eq!(sdk.id, ok);
    assert_eq!(sdk.amount.as_str(), "100.5");
    assert_eq!(sdk.commission.as_str(), "3.52");
    assert_eq!(sdk.from_card, "424242******4242");
}

#[tokio::test]
async fn refunds_and_chargeback_arrays_come_when_asked_for() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 10})).await;
    let id = app.pay_sbp(&bill, None).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ask = |extra: &'static [(&'static str, &'static str)]| {
        let app = &app;
        let id = id.clone();
        async move {
            let mut q = vec![("id", id.as_str())];
            q.extend_from_slice(extra);
            app.get("/api/v1/payment/status", &q).await.ok().clone()
        }
    };
    let p = ask(&[("refunds", "1")]).await;
    assert_eq!(p["refunds"], json!([]));
    assert!(p.get("chargeback").is_none());
    let p = ask(&[("chargeback", "1")]).await;
    assert_eq!(p["chargeback"], json!([]));
    assert!(p.get("refunds").is_none());
    let p = ask(&[("refunds", "true"), ("chargeback", "True")]).await;
    assert_eq!(
        (p["refunds"].clone(), p["chargeback"].clone()),
        (json!([]), json!([]))
    );
    let p = ask(&[("refunds", "0"), ("chargeback", "false")]).await;
    assert!(p.get("refunds").is_none() && p.get("chargeback").is_none());
    let p = app
        .post(
            "/api/v1/payment/status",
            json!({"id": id, "refunds": 1, "chargeback": true}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(
        (p["refunds"].clone(), p["chargeback"].clone()),
        (json!([]), json!([]))
    );
    app.get(
        "/api/v1/payment/status",
        &[("id", &id), ("refunds", "maybe")],
    )
    .await
    .invalid("refunds");
}
