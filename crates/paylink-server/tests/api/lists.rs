//! `bill/search`, `payment/search`, `bill/payments`: Laravel's cursor paginator, filters, limits,
//! and one merchant never seeing another's items.

use crate::harness::*;
use paylink_api::cardlink::Search;
use paylink_server::ops::merchants::{self, ShopChanges};
use serde_json::{json, Value};

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_string())
        .collect()
}

/// The paginator's shape: `success`, `data`, `links.{first,last,prev,next}`,
/// `meta.{path,per_page,next_cursor,prev_cursor}`.
#[track_caller]
fn assert_page_shape(app: &TestApp, a: &Answer, path: &str, per_page: u32) {
    let page = a.ok();
    assert!(page["data"].is_array(), "{}", a.text);
    for key in ["first", "last", "prev", "next"] {
        assert!(
            page["links"].get(key).is_some(),
            "no links.{key}: {}",
            a.text
        );
    }
    for key in ["path", "per_page", "next_cursor", "prev_cursor"] {
        assert!(page["meta"].get(key).is_some(), "no meta.{key}: {}", a.text);
    }
    assert_eq!(page["meta"]["path"], json!(app.url(path)));
    assert_eq!(page["meta"]["per_page"], json!(per_page));
    for (link, cursor) in [("next", "next_cursor"), ("prev", "prev_cursor")] {
        match page["meta"][cursor].as_str() {
            Some(c) => {
                let url = page["links"][link].as_str().expect("a link with a cursor");
                assert!(url.starts_with(&app.url(path)), "{url}");
                assert!(url.contains(&format!("cursor={c}")), "{url}");
            }
            None => assert_eq!(page["links"][link], Value::Null, "{}", a.text),
        }
    }
}

/// Walks `path` forward with `per_page=3` and back again; the pages together are exactly
/// `expected` (newest first), and going back shows the same pages.
async fn check_walk(app: &TestApp, path: &str, extra: &[(&str, &str)], expected: &[String]) {
    fn query<'a>(extra: &[(&'a str, &'a str)], cursor: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut q = extra.to_vec();
        q.push(("per_page", "3"));
        if let Some(c) = cursor {
            q.push(("cursor", c));
        }
        q
    }
    let mut forward: Vec<Answer> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let a = app.get(path, &query(extra, cursor.as_deref())).await;
        assert_page_shape(app, &a, path, 3);
        let page = a.json.clone();
        if forward.is_empty() {
            assert_eq!(page["meta"]["prev_cursor"], Value::Null, "the first page");
        } else {
            assert!(page["meta"]["prev_cursor"].is_string(), "{}", a.text);
        }
        forward.push(a);
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(forward.len() <= expected.len(), "the walk ends");
    }
    let pages: Vec<Vec<String>> = forward.iter().map(|a| ids(&a.json)).collect();
    let visited: Vec<String> = pages.concat();
    assert_eq!(visited, expected, "every item once, newest first");
    assert_eq!(pages.len(), expected.len().div_ceil(3));
    assert!(pages.iter().all(|p| !p.is_empty() && p.len() <= 3));

    // The `next` and `prev` links are URLs a client can follow as they are, and they stay in
    // the filtered list.
    for (i, page) in forward.iter().enumerate() {
        for (link, target) in [("next", i + 1), ("prev", i.wrapping_sub(1))] {
            let Some(url) = page.json["links"][link].as_str() else {
                continue;
            };
            let raw = app
                .http
                .get(url)
                .bearer_auth(app.token())
                .send()
                .await
                .unwrap();
            let followed = answer(raw).await;
            assert_eq!(
                ids(followed.ok()),
                pages[target],
                "links.{link} of page {i}"
            );
        }
    }

    // prev_cursor leads back through the same pages to the first.
    let mut back = forward.last().unwrap().json["meta"]["prev_cursor"]
        .as_str()
        .map(str::to_string);
    let mut i = pages.len() - 1;
    while let Some(c) = back {
        i -= 1;
        let a = app.get(path, &query(extra, Some(&c))).await;
        assert_page_shape(app, &a, path, 3);
        assert_eq!(ids(&a.json), pages[i], "page {i} going back");
        assert!(
            a.json["meta"]["next_cursor"].is_string(),
            "a page reached going back has a next page"
        );
        back = a.json["meta"]["prev_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(i, 0, "going back ends at the first page");
}

type Query = Vec<(&'static str, &'static str)>;

/// `n` bills of the default merchant, one second apart; ids newest first.
async fn bills_newest_first(app: &TestApp, n: usize, fields: Value) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(app.bill(fields.clone()).await);
        app.advance_ms(1_000);
    }
    ids.reverse();
    ids
}

#[tokio::test]
async fn bill_search_pages_through_every_bill() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    let mut walked = Vec::new();
    for i in 0..10 {
        let order = if i % 3 == 1 { "other" } else { "walk" };
        let id = app.bill(json!({"amount": 10, "order_id": order})).await;
        if order == "walk" {
            walked.push(id.clone());
        }
        expected.push(id);
        app.advance_ms(1_000);
    }
    expected.reverse();
    walked.reverse();
    check_walk(&app, "/api/v1/bill/search", &[], &expected).await;
    check_walk(
        &app,
        "/api/v1/bill/search",
        &[("order_id", "walk")],
        &walked,
    )
    .await;
    check_walk(
        &app,
        "/api/v1/bill/search",
        &[
            ("start_date", "2024-05-14 10:00:04"),
            ("shop_id", app.shop()),
        ],
        &expected[..6],
    )
    .await;

    // The bills in a list have the bill object's fields.
    let a = app.get("/api/v1/bill/search", &[]).await;
    let first = &a.ok()["data"][0];
    assert_eq!(first["id"], json!(expected[0]));
    for key in [
        "order_id",
        "active",
        "status",
        "amount",
        "type",
        "currency_in",
        "created_at",
        "ttl",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert_eq!(first["type"], json!("NORMAL"));
    assert_eq!(
        a.json["meta"]["per_page"],
        json!(100),
        "the default page size"
    );
}

#[tokio::test]
async fn payment_search_and_bill_payments_page_through_every_payment() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 10, "type": "multi"})).await;
    let other_bill = app.bill(json!({"amount": 10, "type": "multi"})).await;
    let mut of_bill = Vec::new();
    let mut all = Vec::new();
    for i in 0..7 {
        app.advance_ms(1_000);
        let card = if i % 3 == 2 { CARD_DECLINED } else { CARD_OK };
        let p = app.pay_card(&bill, card).await;
        let id = p.ok()["id"].as_str().unwrap().to_string();
        of_bill.push(id.clone());
        all.push(id);
        app.advance_ms(1_000);
        let p = app.pay_sbp(&other_bill, None).await;
        all.push(p.ok()["id"].as_str().unwrap().to_string());
    }
    of_bill.reverse();
    all.reverse();
    check_walk(&app, "/api/v1/bill/payments", &[("id", &bill)], &of_bill).await;
    check_walk(&app, "/api/v1/payment/search", &[], &all).await;
    check_walk(
        &app,
        "/api/v1/payment/search",
        &[("bill_id", &bill)],
        &of_bill,
    )
    .await;

    // Payments in a list carry the payment object's fields.
    let a = app.get("/api/v1/bill/payments", &[("id", &bill)]).await;
    let p = &a.ok()["data"][0];
    for key in [
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
    ] {
        assert!(p.get(key).is_some(), "{key}");
    }
}

#[tokio::test]
async fn the_sdk_reads_the_paginator() {
    let app = spawn_app().await;
    let expected = bills_newest_first(&app, 5, json!({"amount": 1})).await;
    let client = app.client();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .search_bills(&Search {
                per_page: Some(2),
                cursor: cursor.clone(),
                ..Search::default()
            })
            .await
            .expect("bill/search");
        assert!(page.success);
        assert_eq!(page.meta.per_page, 2);
        seen.extend(page.data.into_iter().map(|b| b.id));
        match page.meta.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn date_filters_cover_whole_days() {
    let app = spawn_app().await;
    // Day 0 10:00, day 1 00:00:00, day 1 23:59:59, day 2 00:00:00 (2024-05-14..16).
    let multi = app.bill(json!({"amount": 10, "type": "multi"})).await;
    let mut bills = vec![app.bill(json!({"amount": 1})).await];
    let mut payments = vec![app.pay_sbp(&multi, None).await.ok()["id"].clone()];
    for step in [14 * 3_600_000, DAY_MS - 1_000, 1_000] {
        app.advance_ms(step);
        bills.push(app.bill(json!({"amount": 1})).await);
        payments.push(app.pay_sbp(&multi, None).await.ok()["id"].clone());
    }

    // (query, indexes of the days' items expected, newest first)
    let cases: Vec<(Query, Vec<usize>)> = vec![
        (
            vec![("start_date", "2024-05-15"), ("finish_date", "2024-05-15")],
            vec![2, 1],
        ),
        (vec![("start_date", "2024-05-15")], vec![3, 2, 1]),
        (vec![("finish_date", "2024-05-15")], vec![2, 1, 0]),
        (
            vec![("start_date", "2024-05-14"), ("finish_date", "2024-05-14")],
            vec![0],
        ),
        (vec![("start_date", "2024-05-17")], vec![]),
        (vec![("start_date", "2024-05-15 12:00:00")], vec![3, 2]),
        (vec![("finish_date", "2024-05-15T23:59:59Z")], vec![2, 1, 0]),
        (vec![("finish_date", "2024-05-15T23:59:58")], vec![1, 0]),
        (
            vec![("finish_date", "2024-05-16T02:00:00+03:00")],
            vec![1, 0],
        ),
        (
            vec![
                ("start_date", "2024-05-14T10:00:00.000000Z"),
                ("finish_date", "2024-05-14 10:00:00"),
            ],
            vec![0],
        ),
    ];
    for (query, expect) in cases {
        let found = app.get("/api/v1/bill/search", &query).await;
        let want: Vec<Value> = expect.iter().map(|&i| json!(bills[i])).collect();
        let got: Vec<Value> = found.ok()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].clone())
            .filter(|id| *id != json!(multi))
            .collect();
        assert_eq!(got, want, "bill/search {query:?}");

        let found = app.get("/api/v1/payment/search", &query).await;
        let want: Vec<Value> = expect.iter().map(|&i| payments[i].clone()).collect();
        let got: Vec<Value> = found.ok()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].clone())
            .collect();
        assert_eq!(got, want, "payment/search {query:?}");
    }

    for bad in ["yesterday", "2024-13-01", "2024-02-30", "15.05.2024"] {
        app.get("/api/v1/bill/search", &[("start_date", bad)])
            .await
            .invalid("start_date");
        app.get("/api/v1/payment/search", &[("finish_date", bad)])
            .await
            .invalid("finish_date");
    }
}

#[tokio::test]
async fn search_filters_by_shop_order_and_bill() {
    let app = spawn_app().await;
    let second_shop = merchants::create_shop(
        &app.store,
        &app.keys,
        app.merchant.merchant_id.as_str(),
        ShopChanges {
            name: Some("Second".into()),
            ..ShopChanges::default()
        },
        true,
        app.now(),
    )
    .await
    .unwrap();
    let second = second_shop.shop.id.as_str();
    let a1 = app.bill(json!({"amount": 1, "order_id": "A-1"})).await;
    app.advance_ms(1_000);
    let a2 = app.bill(json!({"amount": 1, "order_id": "A-2"})).await;
    app.advance_ms(1_000);
    let s1 = app
        .bill(json!({"amount": 1, "order_id": "A-1", "shop_id": second}))
        .await;
    app.advance_ms(1_000);
    let pay = |bill: &str| {
        let bill = bill.to_string();
        let app = &app;
        async move {
            app.advance_ms(1_000);
            app.pay_sbp(&bill, None).await.ok()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let pa1 = pay(&a1).await;
    let pa2 = pay(&a2).await;
    let ps1 = pay(&s1).await;

    let bill_ids = |q: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ids(app.get("/api/v1/bill/search", &q).await.ok())
        }
    };
    assert_eq!(
        bill_ids(vec![("shop_id", app.shop().into())]).await,
        [a2.as_str(), a1.as_str()]
    );
    assert_eq!(
        bill_ids(vec![("shop_id", second.into())]).await,
        [s1.as_str()]
    );
    assert_eq!(
        bill_ids(vec![("order_id", "A-1".into())]).await,
        [s1.as_str(), a1.as_str()]
    );
    assert_eq!(
        bill_ids(vec![("order_id", "A-1".into()), ("shop_id", second.into())]).await,
        [s1.as_str()]
    );
    assert!(bill_ids(vec![("order_id", "nope".into())]).await.is_empty());
    assert!(bill_ids(vec![("shop_id", "ZZZZZZZZZZ".into())])
        .await
        .is_empty());
    assert!(bill_ids(vec![("shop_id", "bad".into())]).await.is_empty());

    let payment_ids = |q: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ids(app.get("/api/v1/payment/search", &q).await.ok())
        }
    };
    assert_eq!(
        payment_ids(vec![]).await,
        [ps1.as_str(), pa2.as_str(), pa1.as_str()]
    );
    assert_eq!(
        payment_ids(vec![("bill_id", a2.clone())]).await,
        [pa2.as_str()]
    );
    assert_eq!(
        payment_ids(vec![("bill_order_id", "A-1".into())]).await,
        [ps1.as_str(), pa1.as_str()]
    );
    assert_eq!(
        payment_ids(vec![("order_id", "A-2".into())]).await,
        [pa2.as_str()]
    );
    assert_eq!(
        payment_ids(vec![("shop_id", second.into())]).await,
        [ps1.as_str()]
    );
    assert_eq!(
        payment_ids(vec![("shop_id", app.shop().into())]).await,
        [pa2.as_str(), pa1.as_str()]
    );
    assert_eq!(
        payment_ids(vec![
            ("bill_order_id", "A-1".into()),
            ("shop_id", app.shop().into())
        ])
        .await,
        [pa1.as_str()]
    );
    assert!(payment_ids(vec![("bill_id", "AAAAAAAAAA".into())])
        .await
        .is_empty());
    assert!(payment_ids(vec![("bill_id", "bad".into())])
        .await
        .is_empty());
}

#[tokio::test]
async fn page_size_and_cursor_are_checked() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 1, "type": "multi"})).await;
    app.pay_sbp(&bill, None).await.ok();
    let lists = [
        ("/api/v1/bill/search", None, "api:error.too_many_bills"),
        (
            "/api/v1/payment/search",
            None,
            "api:error.too_many_payments",
        ),
        (
            "/api/v1/bill/payments",
            Some(bill.as_str()),
            "api:error.too_many_payments",
        ),
    ];
    for (path, id, too_many) in lists {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut q: Vec<(&str, &str)> = extra.to_vec();
            if let Some(id) = id {
                q.push(("id", id));
            }
            q
        };
        app.get(path, &with(&[("per_page", "501")]))
            .await
            .error(400, too_many);
        app.get(path, &with(&[("per_page", "100000")]))
            .await
            .error(400, too_many);
        let max = app.get(path, &with(&[("per_page", "500")])).await;
        assert_eq!(max.ok()["meta"]["per_page"], json!(500));
        assert_eq!(max.json["data"].as_array().unwrap().len(), 1);
        app.get(path, &with(&[("per_page", "0")]))
            .await
            .invalid("per_page");
        app.get(path, &with(&[("per_page", "many")]))
            .await
            .invalid("per_page");
        for cursor in ["garbage!!", "eyJub3QiOiAiYSBjdXJzb3IifQ", "bm90IGpzb24"] {
            app.get(path, &with(&[("cursor", cursor)]))
                .await
                .invalid("cursor");
        }
    }
}

#[tokio::test]
async fn a_merchant_never_sees_another_merchants_items() {
    let app = spawn_app().await;
    let other = app.new_merchant("Other").await;
    let mine = app
        .bill(json!({"amount": 1, "type": "multi", "order_id": "same"}))
        .await;
    let my_payment = app.pay_sbp(&mine, None).await.ok()["id"].clone();
    let theirs = app
        .create_bill_as(
            &other.api_token,
            json!({"amount": 2, "shop_id": other.shop_id.as_str(), "type": "multi", "order_id": "same"}),
        )
        .await;
    let theirs = theirs.json["bill_id"].as_str().unwrap().to_string();
    let paid = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(&other.api_token),
            Body::Json(json!({"bill_id": theirs, "method": "SBP"})),
        )
        .await;
    let their_payment = paid.ok()["id"].clone();

    assert_eq!(
        ids(app.get("/api/v1/bill/search", &[]).await.ok()),
        [mine.as_str()]
    );
    assert_eq!(
        ids(app
            .get("/api/v1/bill/search", &[("order_id", "same")])
            .await
            .ok()),
        [mine.as_str()]
    );
    assert!(ids(app
        .get(
            "/api/v1/bill/search",
            &[("shop_id", other.shop_id.as_str())]
        )
        .await
        .ok())
    .is_empty());
    let found = app.get("/api/v1/payment/search", &[]).await;
    assert_eq!(found.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(found.json["data"][0]["id"], my_payment);
    assert!(ids(app
        .get("/api/v1/payment/search", &[("bill_id", &theirs)])
        .await
        .ok())
    .is_empty());
    assert!(ids(app
        .get("/api/v1/payment/search", &[("bill_order_id", "same")])
        .await
        .ok())
    .iter()
    .all(|id| json!(id) == my_payment));

    let theirs_seen = app
        .get_as(&other.api_token, "/api/v1/payment/search", &[])
        .await;
    assert_eq!(theirs_seen.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(theirs_seen.json["data"][0]["id"], their_payment);
    assert_eq!(
        ids(app
            .get_as(&other.api_token, "/api/v1/bill/search", &[])
            .await
            .ok()),
        [theirs.as_str()]
    );
}

#[tokio::test]
async fn items_created_in_the_same_millisecond_are_each_listed_once() {
    let app = spawn_app().await;
    // The clock does not move: every bill has the same created_at.
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(app.bill(json!({"amount": 1})).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("per_page", "2")];
        if let Some(c) = cursor.as_deref() {
            q.push(("cursor", c));
        }
        let a = app.get("/api/v1/bill/search", &q).await;
        seen.extend(ids(a.ok()));
        match a.json["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(seen.len() <= created.len(), "the walk ends");
    }
    created.sort();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, created, "{seen:?}");
}
