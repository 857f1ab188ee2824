//! `bill/create` through every encoding a client uses, and what `bill/status` then shows.

use crate::harness::*;
use paylink_api::cardlink::CreateBill;
use paylink_core::money::Currency;
use paylink_server::ops::merchants::{self, ShopChanges};
use reqwest::Method;
use serde_json::{json, Value};

/// The `bill/create` answer: `success` the STRING "true", ids and links.
#[track_caller]
fn created(app: &TestApp, a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.text);
    assert_json(a);
    assert_eq!(a.json["success"], json!("true"), "{}", a.text);
    assert_raw(&a.text, "success", "\"true\"");
    let id = a.json["bill_id"].as_str().expect("bill_id").to_string();
    assert!(is_base62_id(&id), "{id}");
    assert_eq!(a.json["link_url"], json!(app.url(&format!("/link/{id}"))));
    assert_eq!(
        a.json["link_page_url"],
        json!(app.url(&format!("/transfer/{id}")))
    );
    id
}

/// The fields every bill object has (compat 13), with the shapes clients parse.
#[track_caller]
fn assert_bill_shape(b: &Value) {
    for key in [
        "id",
        "order_id",
        "active",
        "status",
        "amount",
        "type",
        "currency_in",
        "created_at",
        "ttl",
    ] {
        assert!(b.get(key).is_some(), "no {key} in {b}");
    }
    assert!(b["active"].is_boolean(), "{b}");
    assert!(b["amount"].is_number(), "{b}");
    let created = b["created_at"].as_str().expect("created_at");
    assert_eq!(created.len(), 19, "{created}");
    assert!(
        created.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            10 => c == b' ',
            13 | 16 => c == b':',
            _ => c.is_ascii_digit(),
        }),
        "{created}"
    );
}

#[tokio::test]
async fn json_create_takes_every_parameter_and_status_shows_them() {
    let app = spawn_app().await;
    let a = app
        .create_bill_as(
            app.token(),
            json!({
                "amount": 100.5,
                "shop_id": app.shop(),
                "order_id": "order-1",
                "description": "Two cups of tea",
                "type": "multi",
                "currency_in": "usd",
                "custom": "{\"cart\": 7}",
                "name": "Tea shop",
                "payment_method": "bank_card",
                "ttl": 3600,
                "success_url": "https://shop.example/ok",
                "fail_url": "https://shop.example/fail",
                "return_url": "https://shop.example/back",
                "payer_pays_commission": true,
                "locale": "en",
                "payer_email": "payer@example.com",
                "payer_data": {"phone": "+79990000000", "email": "payer@example.com"},
                "request_fields": {"email": true, "phone": "1", "name": 0, "comment": false},
                "items": [{"name": "Tea", "price": "50.25", "quantity": 2, "category": "food"}],
                "show_converted_amount": true
            }),
        )
        .await;
    let id = created(&app, &a);

    let status = app.get("/api/v1/bill/status", &[("id", &id)]).await;
    let b = status.ok();
    assert_bill_shape(b);
    assert_raw(&status.text, "amount", "100.5");
    assert_raw(&status.text, "success", "true");
    assert_eq!(b["id"], json!(id));
    assert_eq!(b["order_id"], json!("order-1"));
    assert_eq!(b["active"], json!(true));
    assert_eq!(b["status"], json!("NEW"));
    assert_eq!(b["type"], json!("MULTI"));
    assert_eq!(b["currency_in"], json!("USD"));
    assert_eq!(b["created_at"], json!("2024-05-14 10:00:00"));
    assert_eq!(b["ttl"], json!(3600));
    assert_eq!(b["name"], json!("Tea shop"));
    assert_eq!(b["description"], json!("Two cups of tea"));
    assert_eq!(b["custom"], json!("{\"cart\": 7}"));
    assert_eq!(b["payment_method"], json!("BANK_CARD"));
    assert_eq!(b["payer_pays_commission"], json!(true));
    assert_eq!(b["shop_id"], json!(app.shop()));
    assert_eq!(b["link_url"], a.json["link_url"]);
    assert_eq!(b["link_page_url"], a.json["link_page_url"]);
}

/// The same bill through a form body, a multipart body and a GET query string.
fn flat_fields(shop: &str) -> Vec<(&'static str, String)> {
    vec![
        ("amount", "123.45".into()),
        ("shop_id", shop.into()),
        ("order_id", "order-77".into()),
        ("description", "Desk lamp & bulb".into()),
        ("type", "NORMAL".into()),
        ("currency_in", "Eur".into()),
        ("custom", "a=b&c=d".into()),
        ("name", "Лампа".into()),
        ("payment_method", "Sbp".into()),
        ("ttl", "600".into()),
        ("success_url", "https://shop.example/ok?x=1".into()),
        ("fail_url", "http://shop.example/fail".into()),
        ("return_url", "https://shop.example/".into()),
        ("payer_pays_commission", "False".into()),
        ("locale", "RU".into()),
        ("payer_email", "payer@example.com".into()),
        ("payer_data[phone]", "+79990000000".into()),
        ("payer_data[email]", "payer@example.com".into()),
        ("request_fields[email]", "1".into()),
        ("request_fields[phone]", "0".into()),
        ("items[0][name]", "Lamp".into()),
        ("items[0][price]", "100.45".into()),
        ("items[0][quantity]", "1".into()),
        ("items[0][category]", "home".into()),
        ("items[1][name]", "Bulb".into()),
        ("items[1][price]", "23".into()),
        ("items[1][quantity]", "1".into()),
        ("show_converted_amount", "0".into()),
    ]
}

#[track_caller]
fn assert_flat_bill(a: &Answer, id: &str) {
    let b = a.ok();
    assert_bill_shape(b);
    assert_raw(&a.text, "amount", "123.45");
    assert_eq!(b["id"], json!(id));
    assert_eq!(b["order_id"], json!("order-77"));
    assert_eq!(b["description"], json!("Desk lamp & bulb"));
    assert_eq!(b["type"], json!("NORMAL"));
    assert_eq!(b["currency_in"], json!("EUR"));
    assert_eq!(b["custom"], json!("a=b&c=d"));
    assert_eq!(b["name"], json!("Лампа"));
    assert_eq!(b["payment_method"], json!("SBP"));
    assert_eq!(b["ttl"], json!(600));
    assert_eq!(b["payer_pays_commission"], json!(false));
    assert_eq!(b["status"], json!("NEW"));
    assert_eq!(b["active"], json!(true));
}

fn owned(pairs: &[(&'static str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test]
async fn form_body_create_takes_flat_and_nested_keys() {
    let app = spawn_app().await;
    let a = app
        .send(
            Method::POST,
            "/api/v1/bill/create",
            Some(app.token()),
            Body::Form(owned(&flat_fields(app.shop()))),
        )
        .await;
    let id = created(&app, &a);
    let status = app.get("/api/v1/bill/status", &[("id", &id)]).await;
    assert_flat_bill(&status, &id);
}

#[tokio::test]
async fn multipart_body_create_takes_flat_and_nested_keys() {
    let app = spawn_app().await;
    let a = app
        .send(
            Method::POST,
            "/api/v1/bill/create",
            Some(app.token()),
            Body::Multipart(owned(&flat_fields(app.shop()))),
        )
        .await;
    let id = created(&app, &a);
    let status = app.get("/api/v1/bill/status", &[("id", &id)]).await;
    assert_flat_bill(&status, &id);
}

#[tokio::test]
async fn get_with_a_query_string_creates_a_bill() {
    let app = spawn_app().await;
    let query = form_encode(&owned(&flat_fields(app.shop())));
    let a = app
        .send(
            Method::GET,
            &format!("/api/v1/bill/create?{query}"),
            Some(app.token()),
            Body::None,
        )
        .await;
    let id = created(&app, &a);
    let status = app.get("/api/v1/bill/status", &[("id", &id)]).await;
    assert_flat_bill(&status, &id);
}

#[tokio::test]
async fn query_and_body_parameters_are_merged() {
    let app = spawn_app().await;
    let a = app
        .send(
            Method::POST,
            "/api/v1/bill/create?amount=10&order_id=from-query",
            Some(app.token()),
            Body::Json(json!({"shop_id": app.shop(), "order_id": "from-body"})),
        )
        .await;
    let id = created(&app, &a);
    let status = app.get("/api/v1/bill/status", &[("id", &id)]).await;
    assert_raw(&status.text, "amount", "10");
    // The body wins over the query.
    assert_eq!(status.ok()["order_id"], json!("from-body"));
}

#[tokio::test]
async fn sdk_creates_and_reads_a_bill_with_get_json_bodies() {
    let app = spawn_app().await;
    let client = app.client();
    let created = client
        .create_bill(&CreateBill {
            amount: "250.00".into(),
            shop_id: app.shop().into(),
            order_id: Some("sdk-1".into()),
            bill_type: Some("multi".into()),
            currency_in: Some("kzt".into()),
            payer_pays_commission: Some(false),
            ttl: Some(60),
            locale: Some("ru".into()),
            ..CreateBill::default()
        })
        .await
        .expect("bill/create");
    assert_eq!(created.success, json!("true"));
    assert!(is_base62_id(&created.bill_id));
    assert_eq!(
        created.link_url,
        app.url(&format!("/link/{}", created.bill_id))
    );
    // The SDK sends GET with a JSON body and no query.
    let bill = client.bill_status(&created.bill_id).await.expect("status");
    assert_eq!(bill.id, created.bill_id);
    assert_eq!(bill.amount.as_str(), "250");
    assert_eq!(bill.bill_type, "MULTI");
    assert_eq!(bill.currency_in, "KZT");
    assert_eq!(bill.order_id.as_deref(), Some("sdk-1"));
    assert_eq!(bill.ttl, Some(60));
    assert_eq!(bill.success, Some(true));
}

#[tokio::test]
async fn get_with_json_content_type_and_empty_body_reads_the_query() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": "5"})).await;
    let a = app
        .send(
            Method::GET,
            &format!("/api/v1/bill/status?id={id}"),
            Some(app.token()),
            Body::Raw("application/json", String::new()),
        )
        .await;
    assert_eq!(a.ok()["id"], json!(id));
}

#[tokio::test]
async fn payer_pays_commission_in_every_boolean_spelling() {
    let app = spawn_app().await;
    let spellings = [
        (json!(true), true),
        (json!(false), false),
        (json!(1), true),
        (json!(0), false),
        (json!("1"), true),
        (json!("0"), false),
        (json!("true"), true),
        (json!("false"), false),
        (json!("True"), true),
        (json!("False"), false),
        (json!("TRUE"), true),
        (json!(""), false),
        (Value::Null, false),
    ];
    for (value, expected) in spellings {
        let id = app
            .bill(json!({"amount": 10, "payer_pays_commission": value}))
            .await;
        let b = app.bill_status(&id).await;
        assert_eq!(b["payer_pays_commission"], json!(expected), "{value}");
    }
    for (text, expected) in [("1", true), ("0", false), ("True", true), ("false", false)] {
        let a = app
            .send(
                Method::POST,
                "/api/v1/bill/create",
                Some(app.token()),
                Body::form(&[
                    ("amount", "10"),
                    ("shop_id", app.shop()),
                    ("payer_pays_commission", text),
                ]),
            )
            .await;
        let id = created(&app, &a);
        let b = app.bill_status(&id).await;
        assert_eq!(b["payer_pays_commission"], json!(expected), "{text}");
    }
}

#[tokio::test]
async fn enums_are_read_in_any_letter_case() {
    let app = spawn_app().await;
    for (sent, shown) in [
        ("normal", "NORMAL"),
        ("NORMAL", "NORMAL"),
        ("Normal", "NORMAL"),
        ("multi", "MULTI"),
        ("MULTI", "MULTI"),
        ("mUlTi", "MULTI"),
    ] {
        let id = app.bill(json!({"amount": 1, "type": sent})).await;
        assert_eq!(app.bill_status(&id).await["type"], json!(shown), "{sent}");
    }
    for (sent, shown) in [
        ("rub", "RUB"),
        ("RUB", "RUB"),
        ("usd", "USD"),
        ("Usd", "USD"),
        ("eur", "EUR"),
        ("EUR", "EUR"),
        ("kzt", "KZT"),
        ("KZT", "KZT"),
    ] {
        let id = app.bill(json!({"amount": 1, "currency_in": sent})).await;
        assert_eq!(
            app.bill_status(&id).await["currency_in"],
            json!(shown),
            "{sent}"
        );
    }
    for (sent, shown) in [
        ("sbp", "SBP"),
        ("SBP", "SBP"),
        ("bank_card", "BANK_CARD"),
        ("BANK_CARD", "BANK_CARD"),
        ("Bank_Card", "BANK_CARD"),
    ] {
        let id = app.bill(json!({"amount": 1, "payment_method": sent})).await;
        assert_eq!(
            app.bill_status(&id).await["payment_method"],
            json!(shown),
            "{sent}"
        );
    }
}

#[tokio::test]
async fn absent_empty_and_null_fields_take_the_defaults() {
    let app = spawn_app().await;
    let minimal = app.bill(json!({"amount": 42})).await;
    let empty = app
        .bill(json!({
            "amount": 42, "order_id": "", "type": "", "currency_in": null, "payment_method": "",
            "ttl": "", "success_url": "", "locale": null, "payer_pays_commission": ""
        }))
        .await;
    for id in [minimal, empty] {
        let b = app.bill_status(&id).await;
        assert_bill_shape(&b);
        assert_eq!(b["type"], json!("NORMAL"));
        assert_eq!(b["currency_in"], json!("RUB"), "the shop's currency");
        assert_eq!(b["status"], json!("NEW"));
        assert_eq!(b["active"], json!(true));
        assert_eq!(b["order_id"], Value::Null);
        assert_eq!(b["ttl"], Value::Null);
        assert_eq!(b["payment_method"], Value::Null);
        assert_eq!(b["payer_pays_commission"], json!(false));
    }

    // Without currency_in the bill takes its shop's currency.
    let usd_shop = merchants::create_shop(
        &app.store,
        &app.keys,
        app.merchant.merchant_id.as_str(),
        ShopChanges {
            name: Some("Dollar shop".into()),
            currency: Some(Currency::Usd),
            ..ShopChanges::default()
        },
        true,
        app.now(),
    )
    .await
    .expect("a shop");
    let id = app
        .bill(json!({"amount": 42, "shop_id": usd_shop.shop.id.as_str()}))
        .await;
    assert_eq!(app.bill_status(&id).await["currency_in"], json!("USD"));
}

#[tokio::test]
async fn bill_ids_are_fresh_for_every_bill() {
    let app = spawn_app().await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let id = app.bill(json!({"amount": 1})).await;
        assert!(is_base62_id(&id), "{id}");
        assert!(ids.insert(id));
    }
}
