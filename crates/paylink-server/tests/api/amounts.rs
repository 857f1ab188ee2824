//! Amount spellings (compat 4): exact values in, exact JSON numbers out; anything else is
//! `invalid_amount` and creates nothing.

use crate::harness::*;
use reqwest::Method;
use serde_json::json;

/// `bill/create` with a JSON body whose `amount` is exactly `amount_json` (JSON text).
async fn create_with_raw_amount(app: &TestApp, amount_json: &str) -> Answer {
    let body = format!(
        "{{\"amount\":{amount_json},\"shop_id\":\"{}\"}}",
        app.shop()
    );
    app.send(
        Method::POST,
        "/api/v1/bill/create",
        Some(app.token()),
        Body::Raw("application/json", body),
    )
    .await
}

#[tokio::test]
async fn every_amount_spelling_is_taken_exactly() {
    let app = spawn_app().await;
    for (sent, shown) in [
        ("100", "100"),
        ("100.0", "100"),
        ("100.5", "100.5"),
        ("\"100.50\"", "100.5"),
        ("\"100\"", "100"),
        ("1e+06", "1000000"),
        ("\"1e+06\"", "1000000"),
        ("1E6", "1000000"),
        ("\" 7.00 \"", "7"),
        ("\"0.01\"", "0.01"),
        ("0.1", "0.1"),
        ("\"99999999.99\"", "99999999.99"),
        ("12345678.91", "12345678.91"),
    ] {
        let a = create_with_raw_amount(&app, sent).await;
        assert_eq!(a.status, 200, "{sent}: {}", a.text);
        let id = a.json["bill_id"].as_str().unwrap();
        let status = app.get("/api/v1/bill/status", &[("id", id)]).await;
        assert_eq!(status.status, 200, "{}", status.text);
        assert_raw(&status.text, "amount", shown);
    }
    // Form and query strings carry the amount as text.
    for (sent, shown) in [
        ("100.50", "100.5"),
        ("1e+06", "1000000"),
        ("35400", "35400"),
    ] {
        let a = app
            .send(
                Method::POST,
                "/api/v1/bill/create",
                Some(app.token()),
                Body::form(&[("amount", sent), ("shop_id", app.shop())]),
            )
            .await;
        assert_eq!(a.status, 200, "{sent}: {}", a.text);
        let id = a.json["bill_id"].as_str().unwrap();
        let status = app.get("/api/v1/bill/status", &[("id", id)]).await;
        assert_raw(&status.text, "amount", shown);
    }
}

#[tokio::test]
async fn invalid_amounts_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    app.bill(json!({"amount": 1})).await;
    let before = app.bill_count().await;
    assert_eq!(before, 1);

    let missing = app
        .create_bill_as(app.token(), json!({"shop_id": app.shop()}))
        .await;
    missing.error(403, "api:error.invalid_amount");
    assert_eq!(
        missing.json,
        json!({"success": false, "message": "api:error.invalid_amount"})
    );

    for sent in [
        "\"abc\"",
        "\"\"",
        "null",
        "true",
        "[100]",
        "{\"value\": 100}",
        "-5",
        "\"-5\"",
        "-0.01",
        "0",
        "\"0\"",
        "\"0.00\"",
        "100.123",
        "\"100.123\"",
        "\"1e-3\"",
        "1e20",
        "\"1e20\"",
        "100000000",
        "\"NaN\"",
        "\"1,5\"",
    ] {
        let a = create_with_raw_amount(&app, sent).await;
        a.error(403, "api:error.invalid_amount");
        assert!(a.json.get("errors").is_none(), "{}", a.text);
    }
    for sent in ["abc", "100.123", "-1", "0", ""] {
        let a = app
            .send(
                Method::POST,
                "/api/v1/bill/create",
                Some(app.token()),
                Body::form(&[("amount", sent), ("shop_id", app.shop())]),
            )
            .await;
        a.error(403, "api:error.invalid_amount");
    }
    assert_eq!(app.bill_count().await, before, "no bill was created");
}
