//! Refusals at the HTTP edge: Laravel's 422, unsupported and oversized bodies, unknown routes.
//! Every one is JSON with `success` the boolean false.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

fn with(app: &TestApp, overrides: Value) -> Value {
    let mut body = json!({"amount": "100", "shop_id": app.shop()});
    for (k, v) in overrides.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn each_invalid_field_is_a_laravel_422_naming_it() {
    let app = spawn_app().await;
    let cases = [
        (json!({"currency_in": "XXX"}), "currency_in"),
        (json!({"currency_in": "GBP"}), "currency_in"),
        (json!({"type": "single"}), "type"),
        (json!({"payment_method": "crypto"}), "payment_method"),
        (
            json!({"payer_pays_commission": "yes"}),
            "payer_pays_commission",
        ),
        (json!({"payer_pays_commission": 2}), "payer_pays_commission"),
        (json!({"ttl": "soon"}), "ttl"),
        (json!({"ttl": 1.5}), "ttl"),
        (json!({"ttl": 0}), "ttl"),
        (json!({"ttl": -60}), "ttl"),
        (json!({"success_url": "not a url"}), "success_url"),
        (json!({"fail_url": "ftp://shop.example/fail"}), "fail_url"),
        (json!({"return_url": "javascript:alert(1)"}), "return_url"),
        (json!({"locale": "xx"}), "locale"),
        (json!({"payer_email": "nobody"}), "payer_email"),
        (json!({"order_id": {"nested": true}}), "order_id"),
        (json!({"shop_id": null}), "shop_id"),
        (json!({"shop_id": ""}), "shop_id"),
    ];
    for (overrides, field) in cases {
        let a = app.post("/api/v1/bill/create", with(&app, overrides)).await;
        a.invalid(field);
    }
    let a = app
        .post("/api/v1/bill/create", json!({"amount": "100"}))
        .await;
    a.invalid("shop_id");

    // Several failures are all reported.
    let a = app
        .post(
            "/api/v1/bill/create",
            with(&app, json!({"currency_in": "XXX", "type": "single"})),
        )
        .await;
    a.invalid("currency_in");
    a.invalid("type");
    assert_eq!(app.bill_count().await, 0, "no bill was created");
}

#[tokio::test]
async fn bodies_that_are_not_a_json_object_are_422() {
    let app = spawn_app().await;
    for body in [
        "{\"amount\": 100,",
        "{amount: 100}",
        "[1, 2, 3]",
        "[{\"amount\": 100}]",
        "\"amount=100\"",
        "42",
    ] {
        let a = app
            .send(
                Method::POST,
                "/api/v1/bill/create",
                Some(app.token()),
                Body::Raw("application/json", body.into()),
            )
            .await;
        assert_eq!(a.status, 422, "{body}: {}", a.text);
        assert_json(&a);
        assert_eq!(a.json["success"], json!(false), "{}", a.text);
        assert!(a.json["errors"].is_object(), "{}", a.text);
    }
}

#[tokio::test]
async fn an_unsupported_content_type_is_415() {
    let app = spawn_app().await;
    let a = app
        .send(
            Method::POST,
            "/api/v1/bill/create",
            Some(app.token()),
            Body::Raw(
                "application/xml",
                format!(
                    "<bill><amount>100</amount><shop_id>{}</shop_id></bill>",
                    app.shop()
                ),
            ),
        )
        .await;
    assert_eq!(a.status, 415, "{}", a.text);
    assert_json(&a);
    assert_eq!(a.json["success"], json!(false));
    assert!(a.json["message"].is_string());
    assert_eq!(app.bill_count().await, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|s| s.body_limit = 2048).await;
    let big = "x".repeat(4096);
    let json_body = app
        .post(
            "/api/v1/bill/create",
            json!({"amount": 100, "shop_id": app.shop(), "description": big}),
        )
        .await;
    let form_body = app
        .send(
            Method::POST,
            "/api/v1/bill/create",
            Some(app.token()),
            Body::form(&[
                ("amount", "100"),
                ("shop_id", app.shop()),
                ("description", &big),
            ]),
        )
        .await;
    let multipart_body = app
        .send(
            Method::POST,
            "/api/v1/bill/create",
            Some(app.token()),
            Body::multipart(&[
                ("amount", "100"),
                ("shop_id", app.shop()),
                ("description", &big),
            ]),
        )
        .await;
    for a in [json_body, form_body, multipart_body] {
        assert_eq!(a.status, 413, "{}", a.text);
        assert_json(&a);
        assert_eq!(a.json["success"], json!(false));
        assert!(a.json["message"].is_string());
    }
    // A body within the limit is served as usual.
    let small = app
        .post(
            "/api/v1/bill/create",
            json!({"amount": 100, "shop_id": app.shop(), "description": "x".repeat(100)}),
        )
        .await;
    assert_eq!(small.status, 200, "{}", small.text);
    assert_eq!(app.bill_count().await, 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = spawn_app().await;
    for (method, path, token, status) in [
        (Method::GET, "/api/v1/nope", Some(app.token()), 404),
        (Method::POST, "/api/v1/bill/nope", Some(app.token()), 404),
        (Method::GET, "/nope", None, 404),
        (Method::GET, "/api/v2/bill/status", None, 404),
        (Method::GET, "/sandbox/pay", Some(app.token()), 405),
        (
            Method::DELETE,
            "/api/v1/bill/create",
            Some(app.token()),
            405,
        ),
    ] {
        let a = app.send(method, path, token, Body::None).await;
        assert_eq!(a.status, status, "{path}: {}", a.text);
        assert_json(&a);
        assert_eq!(a.json["success"], json!(false), "{}", a.text);
        assert!(a.json["message"].is_string(), "{}", a.text);
    }
}

#[tokio::test]
async fn other_endpoints_validate_their_parameters() {
    let app = spawn_app().await;
    app.get("/api/v1/bill/status", &[]).await.invalid("id");
    app.get("/api/v1/payment/status", &[]).await.invalid("id");
    app.get("/api/v1/bill/payments", &[]).await.invalid("id");
    app.post("/api/v1/bill/toggle_activity", json!({"active": 1}))
        .await
        .invalid("id");
    let id = app.bill(json!({"amount": 10})).await;
    app.post("/sandbox/pay", json!({"bill_id": id}))
        .await
        .invalid("method");
    app.post("/sandbox/pay", json!({"bill_id": id, "method": "CASH"}))
        .await
        .invalid("method");
    app.post(
        "/sandbox/pay",
        json!({"bill_id": id, "method": "BANK_CARD"}),
    )
    .await
    .invalid("card_number");
    app.post("/sandbox/pay", json!({"method": "SBP"}))
        .await
        .invalid("bill_id");
}
