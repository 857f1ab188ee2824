//! `bill/toggle_activity`: every boolean spelling, the finished-bill rule, and what an inactive
//! bill means for a payer.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn toggle_takes_every_boolean_spelling() {
    let app = spawn_app().await;
    let id = app
        .bill(json!({"amount": "24600.05", "type": "multi", "currency_in": "usd"}))
        .await;
    let spellings = [
        (json!(0), false),
        (json!(1), true),
        (json!("0"), false),
        (json!("1"), true),
        (json!(false), false),
        (json!(true), true),
        (json!("False"), false),
        (json!("True"), true),
        (json!("false"), false),
        (json!("true"), true),
    ];
    for (active, expected) in spellings {
        let a = app
            .post(
                "/api/v1/bill/toggle_activity",
                json!({"id": id, "active": active}),
            )
            .await;
        let b = a.ok();
        assert_raw(&a.text, "success", "true");
        assert_raw(&a.text, "amount", "24600.05");
        assert_eq!(b["id"], json!(id));
        assert_eq!(b["active"], json!(expected), "{active}");
        assert_eq!(b["status"], json!("NEW"));
        assert_eq!(b["type"], json!("MULTI"));
        assert_eq!(b["currency_in"], json!("USD"));
        assert_eq!(b["created_at"], json!("2024-05-14 10:00:00"));
        assert_eq!(
            app.bill_status(&id).await["active"],
            json!(expected),
            "{active}"
        );
    }
    // Form bodies and query strings carry the flag as text.
    for (active, expected) in [("0", false), ("True", true), ("False", false), ("1", true)] {
        let a = app
            .send(
                Method::POST,
                "/api/v1/bill/toggle_activity",
                Some(app.token()),
                Body::form(&[("id", &id), ("active", active)]),
            )
            .await;
        assert_eq!(a.ok()["active"], json!(expected), "{active}");
    }
    let a = app
        .send(
            Method::GET,
            &format!("/api/v1/bill/toggle_activity?id={id}&active=0"),
            Some(app.token()),
            Body::None,
        )
        .await;
    assert_eq!(a.ok()["active"], json!(false));
    // And the SDK.
    let bill = app.client().toggle_activity(&id, true).await.unwrap();
    assert!(bill.active);
    assert_eq!(bill.success, Some(true));
    assert!(app.bill_status(&id).await["active"].as_bool().unwrap());
}

#[tokio::test]
async fn toggle_needs_a_boolean() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    for active in [json!("maybe"), json!(2), json!("yes"), json!([1])] {
        app.post(
            "/api/v1/bill/toggle_activity",
            json!({"id": id, "active": active}),
        )
        .await
        .invalid("active");
    }
    for active in [Value::Null, json!("")] {
        app.post(
            "/api/v1/bill/toggle_activity",
            json!({"id": id, "active": active}),
        )
        .await
        .invalid("active");
    }
    app.post("/api/v1/bill/toggle_activity", json!({"id": id}))
        .await
        .invalid("active");
    assert_eq!(app.bill_status(&id).await["active"], json!(true));
}

#[tokio::test]
async fn a_paid_normal_bill_cannot_be_toggled() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    app.pay_card(&id, CARD_OK).await.ok();
    for active in [0, 1] {
        app.post(
            "/api/v1/bill/toggle_activity",
            json!({"id": id, "active": active}),
        )
        .await
        .error(403, "api:error.bill_is_finished");
    }
    let b = app.bill_status(&id).await;
    assert_eq!(b["active"], json!(true));
    assert_eq!(b["status"], json!("SUCCESS"));

    // A paid MULTI bill is not finished: it can be closed and re-opened.
    let multi = app.bill(json!({"amount": 10, "type": "multi"})).await;
    app.pay_card(&multi, CARD_OK).await.ok();
    let a = app
        .post(
            "/api/v1/bill/toggle_activity",
            json!({"id": multi, "active": 0}),
        )
        .await;
    assert_eq!(a.ok()["active"], json!(false));
    assert_eq!(a.json["status"], json!("SUCCESS"));
}

#[tokio::test]
async fn an_inactive_bill_takes_no_payment_until_reactivated() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    let off = app
        .post(
            "/api/v1/bill/toggle_activity",
            json!({"id": id, "active": 0}),
        )
        .await;
    assert_eq!(off.ok()["active"], json!(false));

    app.pay_card(&id, CARD_OK)
        .await
        .error(403, "api:error.bill_inactive");
    app.pay_sbp(&id, None)
        .await
        .error(403, "api:error.bill_inactive");
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    assert_eq!(payments.ok()["data"], json!([]));
    assert_eq!(app.bill_status(&id).await["status"], json!("NEW"));

    let on = app
        .post(
            "/api/v1/bill/toggle_activity",
            json!({"id": id, "active": "1"}),
        )
        .await;
    assert_eq!(on.ok()["active"], json!(true));
    let paid = app.pay_card(&id, CARD_OK).await;
    assert_eq!(paid.ok()["status"], json!("SUCCESS"));
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));
}
