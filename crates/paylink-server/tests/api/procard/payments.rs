//! Paying links through the sandbox: the operation each payment answers, what `operations`
//! lists and how it pages, declines and 3-D Secure, refusals that record nothing, the money in
//! the merchant's balance and the ledger, and payments at once.
#![allow(clippy::inconsistent_digit_grouping)]

use super::*;
use paylink_core::id::PaymentId;

/// `YYYY-MM-DD HH:MM:SS`.
fn is_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// An operation with every field in its documented type.
#[track_caller]
fn assert_operation(op: &Value, status: &str, amount: &str, fee: &str, total: &str) {
    assert_eq!(op["merchant_id"], json!(LOGIN), "{op}");
    assert!(op["id"].is_i64(), "id is not an integer: {op}");
    assert!(op["date"].as_str().is_some_and(is_datetime), "date: {op}");
    assert_eq!(op["status"], json!(status), "{op}");
    assert_eq!(op["amount"], json!(amount), "{op}");
    assert_eq!(op["fee"], json!(fee), "{op}");
    assert_eq!(op["total_amount"], json!(total), "{op}");
    let card = op["card_number"].as_str().expect("a card number");
    assert!(card.contains('*') && card.len() >= 12, "not masked: {op}");
    assert!(!card.contains("42424242"), "not masked: {op}");
    assert!(
        op["order_id"].as_str().is_some_and(|o| !o.is_empty()),
        "{op}"
    );
    let stan = op["STAN"].as_str().expect("a STAN");
    assert!(
        stan.len() >= 7 && stan.bytes().all(|b| b.is_ascii_digit()),
        "{op}"
    );
}

/// The ids of a page of operations, in order.
fn ids(page: &Value) -> Vec<i64> {
    page["operations"]
        .as_array()
        .expect("an operations array")
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

/// How many payments the link's bill has, by Cardlink's `bill/payments`.
async fn payment_count(app: &TestApp, id: &str) -> usize {
    let a = app.get("/api/v1/bill/payments", &[("id", id)]).await;
    a.ok()["data"].as_array().expect("data").len()
}

#[tokio::test]
async fn operations_list_approved_payments_newest_first_with_every_field() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({
                "description": "Two tickets",
                "amount": "100.00;200.00",
                "enable_counter": "1",
            }),
        )
        .await;
    let empty = c.operations(&app, &id, json!({})).await;
    assert_eq!(empty["operations"], json!([]));
    assert_eq!(empty["total"], json!(0));
    assert_eq!(empty["page"], json!(1));
    assert_eq!(empty["per_page"], json!(100));

    let paid = pay_ok(&app, &id, "200.00", 2, CARD_OK).await;
    // 200 × 2, less the default 3.5% commission.
    assert_operation(&paid, "APPROVED", "400.00", "14.00", "386.00");
    assert_eq!(paid["description"], json!("Two tickets"));
    assert_eq!(paid["card_number"], json!("424242******4242"));
    let declined = pay_ok(&app, &id, "100.00", 1, CARD_DECLINED).await;
    assert_eq!(declined["status"], json!("DECLINED"), "{declined}");
    assert!(declined["id"].is_i64(), "{declined}");
    let other = pay_ok(&app, &id, "100", 1, "5555555555554444").await;
    assert_operation(&other, "APPROVED", "100.00", "3.50", "96.50");
    assert_ne!(paid["order_id"], other["order_id"]);

    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(page["total"], json!(2), "{page}");
    let ops = page["operations"].as_array().unwrap();
    // Newest first; the declined payment is not listed.
    assert_eq!(ops, &vec![other.clone(), paid.clone()], "{page}");
    assert!(other["id"].as_i64() > paid["id"].as_i64());
    assert!(!ids(&page).contains(&declined["id"].as_i64().unwrap()));
    // The form body lists the same.
    let a = c
        .call(
            &app,
            "/permanent-links/operations",
            json!({"id": id}),
            Wire::Form,
        )
        .await;
    assert_eq!(accepted(&a), &page);
    // Every payment, declined too, is the bill's.
    assert_eq!(payment_count(&app, &id).await, 3);
}

#[tokio::test]
async fn operations_page_with_per_page_page_and_total_and_the_cap() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c.create(&app, json!({"amount": "10.00"})).await;
    let mut paid = Vec::new();
    for _ in 0..5 {
        paid.push(
            pay_ok(&app, &id, "10.00", 1, CARD_OK).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    paid.reverse();
    let page = |p: Value, per: Value| c.operations(&app, &id, json!({"page": p, "per_page": per}));
    let second = page(json!("2"), json!("2")).await;
    assert_eq!(ids(&second), paid[2..4].to_vec(), "{second}");
    assert_eq!(second["total"], json!(5));
    assert_eq!(second["page"], json!(2));
    assert_eq!(second["per_page"], json!(2));
    let third = page(json!(3), json!(2)).await;
    assert_eq!(ids(&third), paid[4..].to_vec());
    let beyond = page(json!(9), json!(2)).await;
    assert_eq!(ids(&beyond), Vec::<i64>::new());
    assert_eq!(beyond["total"], json!(5));
    // A page larger than the cap is cut to it, not refused.
    let capped = page(json!(1), json!("1000000")).await;
    assert_eq!(capped["per_page"], json!(1000), "{capped}");
    assert_eq!(ids(&capped), paid);
    let first = c.operations(&app, &id, json!({"per_page": 3})).await;
    assert_eq!(ids(&first), paid[..3].to_vec());
    assert_eq!(first["page"], json!(1));
}

#[tokio::test]
async fn three_d_secure_payments_end_approved_when_confirmed_and_declined_when_failed() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c.create(&app, json!({"amount": "50.00"})).await;
    let failed = pay(
        &app,
        json!({"id": id, "amount": "50.00", "card_number": CARD_THREE_DS, "three_ds": "fail"}),
    )
    .await;
    assert_eq!(failed.json["status"], json!("DECLINED"), "{}", failed.text);
    let confirmed = pay_ok(&app, &id, "50.00", 1, CARD_THREE_DS).await;
    assert_operation(&confirmed, "APPROVED", "50.00", "1.75", "48.25");
    let no_funds = pay_ok(&app, &id, "50.00", 1, CARD_NO_FUNDS).await;
    assert_eq!(no_funds["status"], json!("DECLINED"));
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(page["total"], json!(1), "{page}");
    assert_eq!(page["operations"][0], confirmed);
}

#[tokio::test]
async fn sandbox_refusals_record_nothing() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let fixed = c.create(&app, json!({"amount": "100.00;200.00"})).await;
    let counted = c
        .create(&app, json!({"amount": "100.00", "enable_counter": "1"}))
        .await;
    let arbitrary = c.create(&app, json!({"kind": "1", "amount": ""})).await;
    let cases: Vec<(&str, Value, i64)> = vec![
        (
            "an amount the fixed link does not offer",
            json!({"id": fixed, "amount": "150.00", "card_number": CARD_OK}),
            -15,
        ),
        (
            "no amount for a link of two",
            json!({"id": fixed, "card_number": CARD_OK}),
            -14,
        ),
        (
            "quantity 2 without enable_counter",
            json!({"id": fixed, "amount": "100.00", "quantity": 2, "card_number": CARD_OK}),
            -15,
        ),
        (
            "quantity 0",
            json!({"id": counted, "amount": "100.00", "quantity": 0, "card_number": CARD_OK}),
            -15,
        ),
        (
            "quantity above the maximum",
            json!({"id": counted, "amount": "100.00", "quantity": 1001, "card_number": CARD_OK}),
            -15,
        ),
        (
            "a zero amount",
            json!({"id": arbitrary, "amount": "0", "card_number": CARD_OK}),
            -15,
        ),
        (
            "an over-precise amount",
            json!({"id": arbitrary, "amount": "1.001", "card_number": CARD_OK}),
            -15,
        ),
        (
            "a card failing Luhn",
            json!({"id": arbitrary, "amount": "1", "card_number": "4242424242424241"}),
            -6,
        ),
        (
            "an unknown link",
            json!({"id": "ZZZZZZZZZZ", "amount": "100.00", "card_number": CARD_OK}),
            -16,
        ),
        (
            "no link",
            json!({"amount": "100.00", "card_number": CARD_OK}),
            -14,
        ),
    ];
    for (what, body, code) in cases {
        for wire in [Wire::Json, Wire::Form] {
            let a = send(&app, "/sandbox/permanent-links/pay", &body, wire).await;
            assert_eq!(a.json["code"], json!(code), "{what}: {}", a.text);
            refused(&a, code);
        }
    }
    // A bill that is not a link is not payable here.
    let bill = app.bill(json!({"amount": 100})).await;
    let a = pay(
        &app,
        json!({"id": bill, "amount": "100.00", "card_number": CARD_OK}),
    )
    .await;
    refused(&a, -16);
    for id in [&fixed, &counted, &arbitrary] {
        assert_eq!(payment_count(&app, id).await, 0, "{id}");
        assert_eq!(c.operations(&app, id, json!({})).await["total"], json!(0));
    }
    assert_eq!(app.balance().await, Bal::default());
    // The same link pays once the request is right, arbitrary amounts too.
    let ok = pay_ok(&app, &arbitrary, "12.34", 1, CARD_OK).await;
    assert_operation(&ok, "APPROVED", "12.34", "0.43", "11.91");
    let form = send(
        &app,
        "/sandbox/permanent-links/pay",
        &json!({"id": counted, "amount": "100", "quantity": "3", "card_number": CARD_OK}),
        Wire::Form,
    )
    .await;
    assert_operation(&form.json, "APPROVED", "300.00", "10.50", "289.50");
}

#[tokio::test]
async fn link_payments_reach_the_balance_and_the_ledger_balances() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(&app, json!({"amount": "200.00", "enable_counter": "1"}))
        .await;
    pay_ok(&app, &id, "200.00", 2, CARD_OK).await;
    pay_ok(&app, &id, "200.00", 1, CARD_THREE_DS).await;
    pay_ok(&app, &id, "200.00", 1, CARD_DECLINED).await;
    // 400 − 14 and 200 − 7: what payers paid less the commission.
    let bal = app
        .wait_balance(app.token(), |b| b.available == 579_00)
        .await;
    assert_eq!(
        bal,
        Bal {
            available: 579_00,
            locked: 0,
            hold: 0
        }
    );
    // And agrees with what operations show.
    let page = c.operations(&app, &id, json!({})).await;
    let received: i64 = page["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| fixed(&o["total_amount"]))
        .sum();
    assert_eq!(received, bal.available);
    // Another merchant's balance has none of it.
    let other = app.new_merchant("Other").await;
    assert_eq!(app.balance_of(&other.api_token).await, Bal::default());
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn sixteen_payments_of_one_link_at_once_are_all_recorded() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c.create(&app, json!({"amount": "10.00"})).await;
    let url = app.url("/sandbox/permanent-links/pay");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let http = app.http.clone();
            let url = url.clone();
            let body = json!({"id": id, "amount": "10.00", "card_number": CARD_OK});
            tokio::spawn(async move {
                let r = http.post(url).json(&body).send().await.expect("answered");
                answer(r).await
            })
        })
        .collect();
    let mut op_ids = Vec::new();
    for t in tasks {
        let a = t.await.unwrap();
        assert_eq!(a.status, 200, "{}", a.text);
        assert_operation(&a.json, "APPROVED", "10.00", "0.35", "9.65");
        op_ids.push(a.json["id"].as_i64().unwrap());
    }
    op_ids.sort_unstable();
    op_ids.dedup();
    assert_eq!(op_ids.len(), 16, "operation ids are unique");
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(page["total"], json!(16));
    let mut listed = ids(&page);
    listed.sort_unstable();
    assert_eq!(listed, op_ids);
    app.wait_balance(app.token(), |b| b.available == 16 * 9_65)
        .await;
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_refunded_operation_leaves_the_list_and_the_collected_amount() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({"amount": "100.00", "show_total_amount": "1", "language": "en"}),
        )
        .await;
    let collected = |app: &TestApp| {
        let url = app.url(&format!("/p/{id}"));
        let http = app.http.clone();
        async move {
            let html = http.get(url).send().await.unwrap().text().await.unwrap();
            let start = html
                .find("id=\"collected\">")
                .expect("the collected amount");
            let rest = &html[start + "id=\"collected\">".len()..];
            rest[..rest.find('<').unwrap()].to_string()
        }
    };
    let a = pay_ok(&app, &id, "100.00", 1, CARD_OK).await;
    let b = pay_ok(&app, &id, "100.00", 1, CARD_OK).await;
    let payment = |op: &Value| op["order_id"].as_str().unwrap().to_string();
    let listed = |page: &Value| -> Vec<(i64, String)> {
        page["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["id"].as_i64().unwrap(),
                    o["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let (a_id, b_id) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    assert_eq!(collected(&app).await, "200.00 RUB");
    // Refunds take the commission back too: enough on the balance for all of them.
    app.fund("100").await;

    // A part of A back: A stays APPROVED, the collected amount loses the part.
    app.refund_partial_as(app.token(), &payment(&a), "30")
        .await
        .ok();
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(
        listed(&page),
        vec![(b_id, "APPROVED".into()), (a_id, "APPROVED".into())]
    );
    assert_eq!(collected(&app).await, "170.00 RUB");
    // The rest of A back: A is REFUNDED, out of the list and of the collected amount.
    app.refund_full_as(app.token(), &payment(&a)).await.ok();
    let status = |op: &Value| {
        let id = PaymentId::parse(&payment(op)).unwrap();
        let app = &app;
        async move {
            let op = app.store.operation(&id).await.unwrap().unwrap();
            op.status.as_str()
        }
    };
    assert_eq!(status(&a).await, "REFUNDED");
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(listed(&page), vec![(b_id, "APPROVED".into())]);
    assert_eq!(page["total"], json!(1));
    assert_eq!(collected(&app).await, "100.00 RUB");

    // All of B asked back, the acquirer not answered yet: REFUNDINPROC, out of the list.
    let pay_b = app
        .store
        .payment(&PaymentId::parse(&payment(&b)).unwrap())
        .await
        .unwrap()
        .unwrap();
    let balance = app
        .store
        .balance(&pay_b.merchant_id, pay_b.account_currency)
        .await
        .unwrap();
    let now = app.now();
    let (refund, plan) = paylink_core::decide::refund::create(
        &pay_b,
        None,
        balance,
        0,
        paylink_core::id::RefundId::random(&mut rand::thread_rng()),
        now + 60_000,
        now,
    )
    .unwrap();
    app.store.apply(plan).await.unwrap();
    assert_eq!(status(&b).await, "REFUNDINPROC");
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(listed(&page), vec![]);
    assert_eq!(collected(&app).await, "0.00 RUB");
    // The acquirer refuses it: B is APPROVED again, listed and collected.
    let (_, plan) = paylink_core::decide::refund::complete(
        &refund,
        Err("refused".into()),
        None,
        None,
        now,
        now,
    );
    app.store.apply(plan).await.unwrap();
    assert_eq!(status(&b).await, "APPROVED");
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(listed(&page), vec![(b_id, "APPROVED".into())]);
    assert_eq!(collected(&app).await, "100.00 RUB");
}
