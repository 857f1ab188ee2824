//! Tokens, merchant states, shop access, and ids of other merchants.

use crate::harness::*;
use paylink_core::merchant::Subscription;
use paylink_server::ops::merchants::{self, ShopChanges};
use reqwest::Method;
use serde_json::json;

const UNAUTHENTICATED: &str = r#"{"message":"Unauthenticated.","success":false}"#;

#[track_caller]
fn unauthenticated(a: &Answer) {
    assert_eq!(a.status, 401, "{}", a.text);
    assert_json(a);
    assert_eq!(
        a.json,
        serde_json::from_str::<serde_json::Value>(UNAUTHENTICATED).unwrap()
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    let (token_id, _) = app.token().split_once('|').unwrap();
    let wrong_secret = format!("{token_id}|{}", "x".repeat(40));
    let headers: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer garbage".into()),
        Some(format!("Bearer {wrong_secret}")),
        Some("Bearer 999999999|oBCB7Z3SmUm1gvkpEdRcSR2q1ERHpG4vD3DNBmuT".into()),
        Some(format!("Basic {}", app.token())),
        Some(format!("Bearer {}x", app.token())),
        Some(format!("Bearer {token_id}")),
    ];
    let endpoints = [
        (
            Method::POST,
            "/api/v1/bill/create".to_string(),
            json!({"amount": 10, "shop_id": app.shop()}),
        ),
        (
            Method::GET,
            format!("/api/v1/bill/status?id={id}"),
            json!(null),
        ),
        (
            Method::POST,
            "/api/v1/bill/toggle_activity".into(),
            json!({"id": id, "active": 0}),
        ),
        (Method::GET, "/api/v1/bill/search".into(), json!(null)),
        (
            Method::POST,
            "/sandbox/pay".into(),
            json!({"bill_id": id, "method": "SBP"}),
        ),
    ];
    for header in &headers {
        for (method, path, body) in &endpoints {
            let mut rb = app.http.request(method.clone(), app.url(path));
            if let Some(h) = header {
                rb = rb.header("Authorization", h);
            }
            if !body.is_null() {
                rb = rb.json(body);
            }
            let a = answer(rb.send().await.unwrap()).await;
            unauthenticated(&a);
        }
    }
    // Nothing happened: one bill, still active and unpaid.
    assert_eq!(app.bill_count().await, 1);
    let b = app.bill_status(&id).await;
    assert_eq!(
        (b["active"].clone(), b["status"].clone()),
        (json!(true), json!("NEW"))
    );
}

#[tokio::test]
async fn a_refreshed_token_replaces_the_old_one() {
    let app = spawn_app().await;
    let old = app.token().to_string();
    let new = app.refresh_token().await;
    assert_ne!(old, new);
    unauthenticated(&app.get_as(&old, "/api/v1/bill/search", &[]).await);
    app.get_as(&new, "/api/v1/bill/search", &[]).await.ok();
    // The bearer scheme is case-insensitive, as Laravel's.
    let rb = app
        .http
        .get(app.url("/api/v1/bill/search"))
        .header("Authorization", format!("bearer {new}"));
    answer(rb.send().await.unwrap()).await.ok();
}

#[tokio::test]
async fn banned_and_unsubscribed_merchants_are_refused() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    let merchant = app.merchant.merchant_id.as_str();
    let create = json!({"amount": 10, "shop_id": app.shop()});

    merchants::set_banned(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant,
        true,
        0,
    )
    .await
    .unwrap();
    app.post("/api/v1/bill/create", create.clone())
        .await
        .error(403, "api:error.merchant_banned");
    app.get("/api/v1/bill/status", &[("id", &id)])
        .await
        .error(403, "api:error.merchant_banned");
    app.pay_sbp(&id, None)
        .await
        .error(403, "api:error.merchant_banned");
    merchants::set_banned(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant,
        false,
        0,
    )
    .await
    .unwrap();

    merchants::set_subscription(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant,
        Subscription::Inactive,
        0,
    )
    .await
    .unwrap();
    app.post("/api/v1/bill/create", create.clone())
        .await
        .error(403, "api:error.merchant_subscription_inactive");
    app.get("/api/v1/bill/search", &[])
        .await
        .error(403, "api:error.merchant_subscription_inactive");

    merchants::set_subscription(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant,
        Subscription::None,
        0,
    )
    .await
    .unwrap();
    app.post("/api/v1/bill/create", create.clone())
        .await
        .error(403, "api:error.merchant_subscription_not_found");
    app.post(
        "/api/v1/bill/toggle_activity",
        json!({"id": id, "active": 0}),
    )
    .await
    .error(403, "api:error.merchant_subscription_not_found");

    merchants::set_subscription(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant,
        Subscription::Active,
        0,
    )
    .await
    .unwrap();
    assert_eq!(app.post("/api/v1/bill/create", create).await.status, 200);
    // Nothing the refused requests asked for happened.
    assert_eq!(app.bill_count().await, 2);
    let b = app.bill_status(&id).await;
    assert_eq!(
        (b["active"].clone(), b["status"].clone()),
        (json!(true), json!("NEW"))
    );
}

#[tokio::test]
async fn bills_only_in_an_own_known_enabled_shop() {
    let app = spawn_app().await;
    let other = app.new_merchant("Other").await;
    let create = |shop: &str| json!({"amount": 10, "shop_id": shop});

    app.post("/api/v1/bill/create", create(other.shop_id.as_str()))
        .await
        .error(403, "api:error.access_denied");
    app.post("/api/v1/bill/create", create("ZZZZZZZZZZ"))
        .await
        .error(403, "api:error.shop_not_found");
    app.post("/api/v1/bill/create", create("no such shop"))
        .await
        .error(403, "api:error.shop_not_found");

    let id = app.bill(json!({"amount": 10, "type": "multi"})).await;
    let disable = ShopChanges {
        enabled: Some(false),
        ..ShopChanges::default()
    };
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        disable,
        true,
        0,
    )
    .await
    .unwrap();
    app.post("/api/v1/bill/create", create(app.shop()))
        .await
        .error(403, "api:error.shop_not_enabled");
    // A bill of a disabled shop takes no payment either.
    app.pay_card(&id, CARD_OK)
        .await
        .error(403, "api:error.shop_not_enabled");

    let enable = ShopChanges {
        enabled: Some(true),
        ..ShopChanges::default()
    };
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        enable,
        true,
        0,
    )
    .await
    .unwrap();
    assert_eq!(app.pay_card(&id, CARD_OK).await.status, 200);
    assert_eq!(
        app.post("/api/v1/bill/create", create(app.shop()))
            .await
            .status,
        200
    );
    assert_eq!(app.bill_count().await, 2);
}

#[tokio::test]
async fn another_merchants_ids_answer_exactly_like_missing_ones() {
    let app = spawn_app().await;
    let other = app.new_merchant("Other").await;
    let theirs = app
        .create_bill_as(
            &other.api_token,
            json!({"amount": 10, "shop_id": other.shop_id.as_str(), "type": "multi"}),
        )
        .await;
    let their_bill = theirs.json["bill_id"].as_str().unwrap().to_string();
    let paid = app
        .send(
            Method::POST,
            "/sandbox/pay",
            Some(&other.api_token),
            Body::Json(json!({"bill_id": their_bill, "method": "SBP"})),
        )
        .await;
    let their_payment = paid.ok()["id"].as_str().unwrap().to_string();

    let missing = "AAAAAAAAAA";
    let malformed = "nope";

    // bill/status, bill/toggle_activity, sandbox/pay: 422 bill_not_found.
    let mut bodies = Vec::new();
    for id in [their_bill.as_str(), missing, malformed] {
        let a = app.get("/api/v1/bill/status", &[("id", id)]).await;
        a.error(422, "api:error.bill_not_found");
        bodies.push(a.text);
        let a = app
            .post(
                "/api/v1/bill/toggle_activity",
                json!({"id": id, "active": 0}),
            )
            .await;
        a.error(422, "api:error.bill_not_found");
        bodies.push(a.text);
        let a = app.pay_sbp(id, None).await;
        a.error(422, "api:error.bill_not_found");
        bodies.push(a.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");

    // bill/payments documents 403 for an unknown bill.
    let mut bodies = Vec::new();
    for id in [their_bill.as_str(), missing, malformed] {
        let a = app.get("/api/v1/bill/payments", &[("id", id)]).await;
        a.error(403, "api:error.bill_not_found");
        bodies.push(a.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");

    // payment/status: 422 payment_not_found.
    let mut bodies = Vec::new();
    for id in [their_payment.as_str(), missing, malformed] {
        let a = app.get("/api/v1/payment/status", &[("id", id)]).await;
        a.error(422, "api:error.payment_not_found");
        bodies.push(a.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");

    // The other merchant's bill is untouched: still active, one payment.
    let theirs = app
        .get_as(
            &other.api_token,
            "/api/v1/bill/status",
            &[("id", &their_bill)],
        )
        .await;
    assert_eq!(theirs.ok()["active"], json!(true));
    let payments = app
        .get_as(
            &other.api_token,
            "/api/v1/bill/payments",
            &[("id", &their_bill)],
        )
        .await;
    assert_eq!(payments.ok()["data"].as_array().unwrap().len(), 1);
}
