//! Bad input: each refusal is the documented error in the envelope, and changes nothing (no
//! client, card or money moves). Another partner's objects answer exactly like missing ones.

use super::*;

/// How many cards `card/list` shows the partner.
async fn card_count(p: &Partner) -> usize {
    let b = p.ok("card-api/card/list", json!({"limit": 100})).await;
    b["cards"].as_array().expect("cards").len()
}

/// A v5 refusal's envelope around `code`, with HTTP `http`.
#[track_caller]
fn assert_envelope(a: &Answer, http: u16, code: &str) {
    assert_eq!(a.http_status, http, "{}", a.body);
    assert_eq!(a.body["status"], json!("error"), "{}", a.body);
    assert_eq!(a.body["request_status"], json!("error"), "{}", a.body);
    assert!(a.body["dt"].is_string(), "{}", a.body);
    assert_eq!(a.error_code(), Some(code), "{}", a.body);
    assert!(
        a.str("error_description").is_some_and(|d| !d.is_empty()),
        "{}",
        a.body
    );
}

/// A client's particulars with `field` replaced by `value` (removed when `Null`).
fn client_with(field: &str, value: Value) -> Value {
    let mut client = json!({"phone": "77011234567", "type": 1, "resident": 1,
                            "first_name": "Ivan", "last_name": "Petrov"});
    if value.is_null() {
        client.as_object_mut().unwrap().remove(field);
    } else {
        client[field] = value;
    }
    json!({"product_id": 1000, "client": client})
}

/// The request was refused with `code` and produced nothing: `request/status` tells the
/// refusal and names no client, card or transaction.
async fn assert_refused_without_effect(p: &Partner, path: &str, body: Value, code: &str) {
    let rid = new_request_id();
    let mut body = body;
    body["request_id"] = json!(rid);
    p.refused(path, body.clone(), code).await;
    let s = p
        .ok("card-api/request/status", json!({"request_id": rid}))
        .await;
    assert_eq!(s["request_status"], json!("error"), "{path} {body}: {s}");
    assert_eq!(s["error_code"], json!(code), "{path} {body}: {s}");
    for id in ["client_id", "card_id", "transaction_id", "cards"] {
        assert!(s.get(id).is_none(), "{path} {body}: {s}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused_with_400_in_the_envelope() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    for body in [
        &b"{not json"[..],
        b"{\"request_id\": \"r1\", ",
        b"",
        b"[]",
        br#"[{"request_id":"r2","product_id":1000,"quantity":1,"currency":"KZT"}]"#,
        b"\"card/bulk_issue\"",
        b"null",
        b"42",
        b"\xff\xfe{}",
    ] {
        let a = p
            .client
            .call_bytes("/v5/card-api/card/bulk_issue", body.to_vec())
            .await
            .expect("the server answers JSON");
        assert_envelope(&a, 400, "validation_error");
    }
    assert_eq!(card_count(&p).await, 0);
}

#[tokio::test]
async fn missing_required_fields_are_validation_errors_without_effect() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let client = p.client("Ivan", "Petrov", "77011234567").await;
    let card = p.card("KZT").await;
    let cases = [
        ("card-api/client/add", json!({"product_id": 1000})),
        (
            "card-api/client/add",
            client_with("first_name", Value::Null),
        ),
        ("card-api/client/add", client_with("last_name", Value::Null)),
        ("card-api/client/add", client_with("phone", Value::Null)),
        ("card-api/client/add", client_with("first_name", json!(""))),
        (
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": client}),
        ),
        (
            "card-api/card/issue",
            json!({"client_id": client, "currency": "KZT"}),
        ),
        (
            "card-api/card/issue",
            json!({"product_id": 1000, "currency": "KZT"}),
        ),
        (
            "card-api/transaction/create",
            json!({"card_id": card, "type": "credit", "currency": "KZT"}),
        ),
        (
            "card-api/transaction/create",
            json!({"card_id": card, "amount": "1.00", "currency": "KZT"}),
        ),
        (
            "card-api/transaction/create",
            json!({"type": "credit", "amount": "1.00", "currency": "KZT"}),
        ),
    ];
    for (path, body) in cases {
        assert_refused_without_effect(&p, path, body, "validation_error").await;
    }
    assert_eq!(card_count(&p).await, 1);
    assert_eq!(p.balance(&card).await.0, "0.00");
}

#[tokio::test]
async fn fields_of_the_wrong_type_are_validation_errors_without_effect() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.card("KZT").await;
    let cases = [
        (
            "card-api/client/add",
            client_with("phone", json!({"number": "77011234567"})),
        ),
        ("card-api/client/add", client_with("phone", json!(true))),
        ("card-api/client/add", client_with("type", json!("person"))),
        ("card-api/client/add", client_with("type", json!(4))),
        ("card-api/client/add", client_with("first_name", json!(7))),
        (
            "card-api/client/add",
            json!({"product_id": 1000, "client": "Ivan Petrov"}),
        ),
        (
            "card-api/card/bulk_issue",
            json!({"product_id": 1000, "quantity": "abc", "currency": "KZT"}),
        ),
        (
            "card-api/card/bulk_issue",
            json!({"product_id": 1000, "quantity": 1.5, "currency": "KZT"}),
        ),
        (
            "card-api/card/bulk_issue",
            json!({"product_id": 1000, "quantity": 0, "currency": "KZT"}),
        ),
        (
            "card-api/card/bulk_issue",
            json!({"product_id": 1000, "quantity": 101, "currency": "KZT"}),
        ),
        (
            "card-api/transaction/create",
            json!({"card_id": card, "type": "transfer", "amount": "1.00", "currency": "KZT"}),
        ),
        (
            "card-api/transaction/create",
            json!({"card_id": card, "type": "credit", "amount": {"value": 1}, "currency": "KZT"}),
        ),
        (
            "card-api/transaction/create",
            json!({"card_id": card, "type": "credit", "amount": "ten", "currency": "KZT"}),
        ),
    ];
    for (path, body) in cases {
        assert_refused_without_effect(&p, path, body, "validation_error").await;
    }
    assert_eq!(card_count(&p).await, 1);
    assert_eq!(p.balance(&card).await.0, "0.00");
}

#[tokio::test]
async fn phones_are_accepted_as_json_numbers_and_as_strings() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    for phone in [
        json!(77011234567u64),
        json!("77011234567"),
        json!("+7 (701) 123-45-67"),
    ] {
        let b = p
            .ok("card-api/client/add", client_with("phone", phone))
            .await;
        assert!(b["client_id"].is_string(), "{b}");
    }
    // Too short or not a phone at all.
    for phone in [json!(12345), json!("7701abc4567"), json!(-77011234567i64)] {
        assert_refused_without_effect(
            &p,
            "card-api/client/add",
            client_with("phone", phone),
            "validation_error",
        )
        .await;
    }

    let card = p.card("KZT").await;
    let info = p.ok("card-api/card/info", json!({"card_id": card})).await;
    let token = info["card"]["card_token"].as_str().expect("a card token");
    let mut scores = Vec::new();
    for user_phone in [json!(77011234567u64), json!("77011234567")] {
        let b = p
            .ok(
                "card-api/external/cardholder_validate",
                json!({"user_phone": user_phone, "first_name": "Ivan", "last_name": "Petrov",
                       "card_token": token}),
            )
            .await;
        assert!(b["score"].as_str().is_some_and(|s| s.ends_with('%')), "{b}");
        scores.push((b["score"].clone(), b["fishy"].clone()));
    }
    assert_eq!(
        scores[0], scores[1],
        "a number and a string are the same phone"
    );
    assert_eq!(
        scores[0].1,
        json!(0),
        "the holder's own particulars: {scores:?}"
    );
}

#[tokio::test]
async fn amounts_with_more_than_two_decimals_are_refused_and_the_balance_is_unchanged() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("50.00").await;
    for amount in [json!("10.001"), json!(10.001), json!("0.005"), json!("1e3")] {
        for kind in ["credit", "debit"] {
            assert_refused_without_effect(
                &p,
                "card-api/transaction/create",
                json!({"card_id": card, "type": kind, "amount": amount, "currency": "KZT",
                       "description": "odd"}),
                "validation_error",
            )
            .await;
        }
    }
    assert_eq!(
        p.balance(&card).await,
        ("50.00".into(), "0.00".into(), "50.00".into())
    );
}

#[tokio::test]
async fn zero_and_negative_amounts_are_refused() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("50.00").await;
    for amount in [
        json!("0"),
        json!("0.00"),
        json!(0),
        json!("-5.00"),
        json!(-5),
        json!(""),
    ] {
        for kind in ["credit", "debit"] {
            assert_refused_without_effect(
                &p,
                "card-api/transaction/create",
                json!({"card_id": card, "type": kind, "amount": amount, "currency": "KZT",
                       "description": "odd"}),
                "validation_error",
            )
            .await;
        }
    }
    assert_eq!(p.balance(&card).await.0, "50.00");
}

#[tokio::test]
async fn an_unsupported_currency_or_product_is_not_available() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client("Ivan", "Petrov", "77011234567").await;
    let cases = [
        (
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": client, "currency": "GBP"}),
        ),
        (
            "card-api/card/bulk_issue",
            json!({"product_id": 1000, "quantity": 2, "currency": "GBP"}),
        ),
        (
            "card-api/card/issue",
            json!({"product_id": 9999, "client_id": client, "currency": "KZT"}),
        ),
        (
            "card-api/card/bulk_issue",
            json!({"product_id": 9999, "quantity": 2, "currency": "KZT"}),
        ),
        ("card-api/client/add", {
            let mut b = client_with("phone", json!("77011234567"));
            b["product_id"] = json!(9999);
            b
        }),
    ];
    for (path, body) in cases {
        assert_refused_without_effect(&p, path, body, "product_not_available").await;
    }
    assert_eq!(card_count(&p).await, 0);
    // Lower case is the same currency.
    let b = p
        .ok(
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": client, "currency": "usd"}),
        )
        .await;
    let info = p
        .ok("card-api/card/info", json!({"card_id": b["card_id"]}))
        .await;
    assert_eq!(info["card"]["currency"], json!("USD"));
}

#[tokio::test]
async fn control_characters_and_names_over_64_characters_are_refused() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let long = "Й".repeat(65);
    for (field, value) in [
        ("first_name", "Iv\u{0}an"),
        ("first_name", "Iv\nan"),
        ("last_name", "Pet\trov"),
        ("last_name", "Pet\u{7f}rov"),
        ("first_name", long.as_str()),
        ("last_name", long.as_str()),
        ("first_name", "Ivan<script>"),
        ("middle_name", "Iv\u{0}anovich"),
    ] {
        assert_refused_without_effect(
            &p,
            "card-api/client/add",
            client_with(field, json!(value)),
            "validation_error",
        )
        .await;
    }
    // 64 characters (of any alphabet) is the longest name.
    let longest = "Й".repeat(64);
    p.ok(
        "card-api/client/add",
        client_with("first_name", json!(longest)),
    )
    .await;
}

/// Object ids of the right shape that name nothing.
const UNKNOWN_IDS: [&str; 2] = ["ZZZZZZZZZ9", "not-an-id"];

#[tokio::test]
async fn unknown_cards_clients_and_transactions_are_not_found() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let client = p.client("Ivan", "Petrov", "77011234567").await;
    let card = p.funded_card("10.00").await;
    for id in UNKNOWN_IDS {
        for (path, body) in [
            ("card-api/card/info", json!({"card_id": id})),
            ("card-api/card/balance", json!({"card_id": id})),
            ("card-api/card/block", json!({"card_id": id})),
            ("card-api/card/secret", json!({"card_id": id})),
            (
                "card-api/card/link",
                json!({"card_id": id, "client_id": client}),
            ),
            (
                "card-api/transaction/create",
                json!({"card_id": id, "type": "credit", "amount": "1.00", "currency": "KZT"}),
            ),
        ] {
            assert_refused_without_effect(&p, path, body, "card_not_found").await;
        }
        for (path, body) in [
            (
                "card-api/card/issue",
                json!({"product_id": 1000, "client_id": id, "currency": "KZT"}),
            ),
            (
                "card-api/client/edit",
                json!({"client_id": id, "client": {"first_name": "Petr"}}),
            ),
            ("card-api/card/list", json!({"client_id": id})),
        ] {
            assert_refused_without_effect(&p, path, body, "client_not_found").await;
        }
        for (path, body) in [
            ("card-api/transaction/info", json!({"transaction_id": id})),
            ("card-api/transaction/refund", json!({"transaction_id": id})),
            (
                "card-api/transaction/clearing",
                json!({"transaction_id": id}),
            ),
        ] {
            assert_refused_without_effect(&p, path, body, "transaction_not_found").await;
        }
    }
    assert_eq!(p.balance(&card).await.0, "10.00");
}

#[tokio::test]
async fn another_partners_card_client_and_transaction_answer_exactly_like_missing_ones() {
    let app = spawn_app().await;
    let owner = partner(&app, 1000).await;
    let other = partner(&app, 1000).await;
    let client = owner.client("Ivan", "Petrov", "77011234567").await;
    let card = owner.funded_card("10.00").await;
    let debit = owner
        .ok(
            "card-api/transaction/create",
            json!({"card_id": card, "type": "debit", "amount": "1.00", "currency": "KZT",
                   "description": "coffee"}),
        )
        .await;
    let transaction = debit["transaction_id"].as_str().unwrap().to_string();
    let own_card = other.card("KZT").await;
    let before = owner
        .ok("card-api/card/info", json!({"card_id": card}))
        .await;
    let unknown = "ZZZZZZZZZ9";

    // (path, body naming the foreign object, the same body naming an unknown one)
    let with = |id: &str, template: &Value| -> Value {
        let text = template.to_string().replace("{ID}", id);
        serde_json::from_str(&text).unwrap()
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "card-api/card/info",
            json!({"card_id": "{ID}"}),
            card.as_str(),
        ),
        ("card-api/card/balance", json!({"card_id": "{ID}"}), &card),
        (
            "card-api/card/statement",
            json!({"card_id": "{ID}", "date_from": "2024-01-01", "date_to": "2030-01-01"}),
            &card,
        ),
        ("card-api/card/block", json!({"card_id": "{ID}"}), &card),
        ("card-api/card/close", json!({"card_id": "{ID}"}), &card),
        ("card-api/card/secret", json!({"card_id": "{ID}"}), &card),
        (
            "card-api/transaction/create",
            json!({"card_id": "{ID}", "type": "debit", "amount": "1.00", "currency": "KZT"}),
            &card,
        ),
        (
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": "{ID}", "currency": "KZT"}),
            &client,
        ),
        (
            "card-api/client/edit",
            json!({"client_id": "{ID}", "client": {"first_name": "Petr"}}),
            &client,
        ),
        ("card-api/card/list", json!({"client_id": "{ID}"}), &client),
        (
            "card-api/transaction/info",
            json!({"transaction_id": "{ID}"}),
            &transaction,
        ),
        (
            "card-api/transaction/refund",
            json!({"transaction_id": "{ID}"}),
            &transaction,
        ),
        (
            "card-api/transaction/clearing",
            json!({"transaction_id": "{ID}"}),
            &transaction,
        ),
    ];
    for (path, template, foreign) in cases {
        let a = other.call(path, with(foreign, &template)).await;
        let b = other.call(path, with(unknown, &template)).await;
        assert_eq!(a.http_status, b.http_status, "{path}");
        assert!(!a.is_ok(), "{path}: {}", a.body);
        assert_eq!(
            a.error_code(),
            b.error_code(),
            "{path}: {} / {}",
            a.body,
            b.body
        );
        assert_eq!(
            a.body["error_description"], b.body["error_description"],
            "{path}: {} / {}",
            a.body, b.body
        );
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&a.body), keys(&b.body), "{path}");
    }
    // Linking the foreign card to one's own client, or one's own card to the foreign client.
    let own_client = other.client("Petr", "Ivanov", "77017654321").await;
    for (c, k) in [(&own_client, &card), (&client, &own_card)] {
        let a = other
            .call("card-api/card/link", json!({"client_id": c, "card_id": k}))
            .await;
        assert!(!a.is_ok(), "{}", a.body);
        assert!(
            matches!(a.error_code(), Some("card_not_found" | "client_not_found")),
            "{}",
            a.body
        );
    }
    // Nothing of the owner's moved.
    assert_eq!(owner.balance(&card).await.0, "9.00");
    let info = owner
        .ok("card-api/card/info", json!({"card_id": card}))
        .await;
    assert_eq!(info["card"], before["card"], "{info}");
    assert_eq!(info["card"]["card_status"], json!(1));
    // The owner's client still takes cards.
    owner
        .ok(
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": client, "currency": "KZT"}),
        )
        .await;
}

#[tokio::test]
async fn an_unknown_method_path_is_404_in_the_envelope() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    for path in [
        "/v5/card-api/card/nothing",
        "/v5/card-api/card",
        "/v5/card-api/card/info/extra",
        "/v5/cards/nothing",
    ] {
        let a = p
            .client
            .call(path, &json!({"request_id": new_request_id()}))
            .await
            .expect("the server answers JSON");
        assert_eq!(a.http_status, 404, "{path}: {}", a.body);
        assert!(!a.is_ok(), "{path}: {}", a.body);
        assert!(a.error_code().is_some(), "{path}: {}", a.body);
        if path.starts_with("/v5/card-api/") {
            assert_envelope(&a, 404, a.error_code().unwrap_or_default());
        } else {
            assert_eq!(a.body["status"], json!(1), "{path}: {}", a.body);
        }
    }
}

/// Live mode cannot start in tests (`mode.rs`: no live acquirer ships), so only the sandbox
/// half of "sandbox methods exist only in sandbox mode" is checked here.
#[tokio::test]
async fn the_sandbox_methods_are_served_in_sandbox_mode() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("10.00").await;
    let hold = p
        .ok(
            "card-api/sandbox/authorize",
            json!({"card_id": card, "amount": "4.00", "currency": "KZT",
                   "description": "shop", "merchant_name": "Shop"}),
        )
        .await;
    assert_eq!(
        p.balance(&card).await,
        ("10.00".into(), "4.00".into(), "6.00".into())
    );
    p.ok(
        "card-api/sandbox/reverse",
        json!({"transaction_id": hold["transaction_id"]}),
    )
    .await;
    assert_eq!(p.balance(&card).await.2, "10.00");
}

#[tokio::test]
async fn a_currency_other_than_the_cards_is_refused() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("10.00").await;
    for kind in ["credit", "debit"] {
        assert_refused_without_effect(
            &p,
            "card-api/transaction/create",
            json!({"card_id": card, "type": kind, "amount": "1.00", "currency": "USD",
                   "description": "wrong currency"}),
            "validation_error",
        )
        .await;
    }
    assert_eq!(p.balance(&card).await.0, "10.00");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_in_the_envelope() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("10.00").await;
    let body = serde_json::to_vec(&json!({
        "request_id": new_request_id(), "card_id": card, "type": "debit", "amount": "1.00",
        "currency": "KZT", "description": "x".repeat(100 * 1024),
    }))
    .unwrap();
    let a = p
        .client
        .call_bytes("/v5/card-api/transaction/create", body)
        .await
        .expect("the server answers JSON");
    assert_envelope(&a, 413, "validation_error");
    assert_eq!(p.balance(&card).await.0, "10.00");
    // The server is still serving.
    assert_eq!(card_count(&p).await, 1);
}
