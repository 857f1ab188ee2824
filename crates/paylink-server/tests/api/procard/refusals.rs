//! Every refusal answers HTTP 200 with its code and changes nothing: authentication (-2, -13,
//! -3, -4), missing parameters (-14), bad cards (-6), unknown operations (-11), invalid values
//! (-15) and unknown or foreign links (-16, exactly alike).

use super::*;

/// A valid `create` body with `change` applied (`null` removes a field).
fn create_with(change: Value) -> Value {
    let mut body = json!({
        "name": "Donation",
        "description": "For the shelter",
        "kind": "0",
        "operation": "Purchase",
        "amount": "100.00",
        "language": "ukr",
    });
    for (k, v) in change.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

/// The merchant's links as `list` answers them, for "nothing changed" checks.
async fn snapshot(c: &Creds, app: &TestApp) -> Vec<Value> {
    c.list(app).await
}

#[tokio::test]
async fn authentication_refusals_answer_their_codes_over_json_and_forms() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c.create(&app, json!({})).await;
    let before = snapshot(&c, &app).await;
    let good = c.signed("/permanent-links/create", create_with(json!({})));
    for wire in [Wire::Json, Wire::Form] {
        for path in [
            "/permanent-links/list",
            "/permanent-links/create",
            "/permanent-links/update",
            "/permanent-links/operations",
        ] {
            // No merchant_id (or an empty one): -2, before anything else.
            for login in [Value::Null, json!("")] {
                let mut body = c.signed(path, json!({"id": id}));
                body["merchant_id"] = login;
                if body["merchant_id"].is_null() {
                    body.as_object_mut().unwrap().remove("merchant_id");
                }
                let a = send(&app, path, &body, wire).await;
                assert_eq!(
                    refused(&a, -2),
                    &json!("Parameter merchant_id not found"),
                    "{path}"
                );
            }
            // No signature: -13, in the seed's words.
            let mut body = c.signed(path, json!({"id": id}));
            body.as_object_mut().unwrap().remove("signature");
            let a = send(&app, path, &body, wire).await;
            assert_eq!(
                refused(&a, -13),
                &json!("Parameter signature not found"),
                "{path}"
            );
            // A control character in the login (a NUL cannot even be looked up on
            // PostgreSQL): -15, never a system error.
            for login in ["\u{0}", "A\u{1b}B"] {
                let mut body = c.signed(path, json!({"id": id}));
                body["merchant_id"] = json!(login);
                refused(&send(&app, path, &body, wire).await, -15);
            }
            // An unknown login: -3.
            let stranger = Creds {
                login: "NO_SUCH_TRADER".into(),
                key: c.key.clone(),
            };
            refused(
                &stranger.call(&app, path, json!({"id": id}), wire).await,
                -3,
            );
            // Signed with another key: -4.
            let forger = Creds {
                login: LOGIN.into(),
                key: "not the key".into(),
            };
            refused(&forger.call(&app, path, json!({"id": id}), wire).await, -4);
        }
        // A signature that covered other values: -4.
        let mut tampered = good.clone();
        tampered["amount"] = json!("1.00");
        refused(
            &send(&app, "/permanent-links/create", &tampered, wire).await,
            -4,
        );
        let mut tampered = good.clone();
        tampered["signature"] = json!("zz");
        refused(
            &send(&app, "/permanent-links/create", &tampered, wire).await,
            -4,
        );
    }
    assert_eq!(snapshot(&c, &app).await, before);
}

#[tokio::test]
async fn missing_and_invalid_create_fields_answer_their_codes_and_open_nothing() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    c.create(&app, json!({})).await;
    let before = snapshot(&c, &app).await;
    let too_many: Vec<String> = (1..=21).map(|i| format!("{i}.00")).collect();
    let cases: Vec<(&str, Value, i64, Option<Value>)> = vec![
        (
            "no name",
            json!({"name": null}),
            -14,
            Some(json!("Parameter name not found")),
        ),
        (
            "no description",
            json!({"description": null}),
            -14,
            Some(json!("Parameter description not found")),
        ),
        (
            "no language",
            json!({"language": null}),
            -14,
            Some(json!("Parameter language not found")),
        ),
        (
            "no amount",
            json!({"amount": null}),
            -14,
            Some(json!("Parameter amount not found")),
        ),
        (
            "no operation",
            json!({"operation": null}),
            -14,
            Some(json!("Parameter operation not found")),
        ),
        (
            "P2Pin without a recipient card",
            json!({"operation": "P2Pin"}),
            -14,
            Some(json!("Parameter card_number2 not found")),
        ),
        (
            "the seed's P2Pin card, which fails Luhn",
            json!({"operation": "P2Pin", "card_number2": "4000000000000000"}),
            -6,
            None,
        ),
        (
            "an unknown operation",
            json!({"operation": "Refund"}),
            -11,
            None,
        ),
        (
            "an operation in another case",
            json!({"operation": "purchase"}),
            -11,
            None,
        ),
        ("kind 2", json!({"kind": "2"}), -15, None),
        ("kind x", json!({"kind": "x"}), -15, None),
        (
            "21 amounts",
            json!({"amount": too_many.join(";")}),
            -15,
            None,
        ),
        ("a zero amount", json!({"amount": "0"}), -15, None),
        ("a negative amount", json!({"amount": "-1"}), -15, None),
        (
            "an over-precise amount",
            json!({"amount": "1.234"}),
            -15,
            None,
        ),
        (
            "one bad amount of several",
            json!({"amount": "100;0"}),
            -15,
            None,
        ),
        (
            "an empty amount of a fixed link",
            json!({"amount": ""}),
            -15,
            None,
        ),
        ("language de", json!({"language": "de"}), -15, None),
        (
            "enable_counter 2",
            json!({"enable_counter": "2"}),
            -15,
            None,
        ),
        (
            "show_total_amount 5",
            json!({"show_total_amount": "5"}),
            -15,
            None,
        ),
        (
            "a control character in the name",
            json!({"name": "Dona\u{7}tion"}),
            -15,
            None,
        ),
        (
            "custom_amount -1",
            json!({"custom_amount": "-1"}),
            -15,
            None,
        ),
        (
            "target_amount 1.001",
            json!({"target_amount": "1.001"}),
            -15,
            None,
        ),
    ];
    for (what, change, code, message) in cases {
        for wire in [Wire::Json, Wire::Form] {
            let a = c
                .call(
                    &app,
                    "/permanent-links/create",
                    create_with(change.clone()),
                    wire,
                )
                .await;
            assert_eq!(a.json["code"], json!(code), "{what}: {}", a.text);
            let got = refused(&a, code).clone();
            if let Some(m) = &message {
                assert_eq!(&got, m, "{what}: {}", a.text);
            }
        }
    }
    // -15 names every invalid field at once.
    let a = c
        .call(
            &app,
            "/permanent-links/create",
            create_with(json!({"language": "de", "enable_counter": "2", "amount": "0"})),
            Wire::Json,
        )
        .await;
    let messages = refused(&a, -15)
        .as_array()
        .expect("per-field messages")
        .clone();
    assert_eq!(messages.len(), 3, "{}", a.text);
    for field in ["language", "enable_counter", "amount"] {
        assert!(
            messages.iter().any(|m| m.as_str().unwrap().contains(field)),
            "{field} in {}",
            a.text
        );
    }
    assert_eq!(snapshot(&c, &app).await, before);
}

#[tokio::test]
async fn update_refusals_change_nothing_and_a_foreign_link_is_a_missing_one() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({"amount": "100.00;200.00", "enable_counter": "1"}),
        )
        .await;
    let other = app.new_merchant("Other").await;
    let theirs = enable_as(&app, &other, "OTHER_TRADER").await;
    let foreign = theirs.create(&app, json!({})).await;
    let before = snapshot(&c, &app).await;
    let their_before = snapshot(&theirs, &app).await;
    let update = |change: Value| {
        let mut body = json!({
            "id": id,
            "name": "Renamed",
            "description": "Changed",
            "amount": "300.00",
            "language": "en",
        });
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases: Vec<(&str, Value, i64)> = vec![
        ("no id", json!({"id": null}), -14),
        ("no name", json!({"name": null}), -14),
        ("no description", json!({"description": null}), -14),
        ("no amount", json!({"amount": null}), -14),
        ("no language", json!({"language": null}), -14),
        ("language de", json!({"language": "de"}), -15),
        ("a zero amount", json!({"amount": "0"}), -15),
        ("an over-precise amount", json!({"amount": "1.234"}), -15),
        ("a negative amount", json!({"amount": "-1"}), -15),
        ("enable_counter 2", json!({"enable_counter": "2"}), -15),
        ("custom_amount -1", json!({"custom_amount": "-1"}), -15),
        (
            "a control character",
            json!({"description": "a\u{1b}[31m"}),
            -15,
        ),
    ];
    for (what, change, code) in cases {
        for wire in [Wire::Json, Wire::Form] {
            let a = c
                .call(
                    &app,
                    "/permanent-links/update",
                    update(change.clone()),
                    wire,
                )
                .await;
            assert_eq!(a.json["code"], json!(code), "{what}: {}", a.text);
            refused(&a, code);
        }
    }
    // An unknown id and another merchant's id answer exactly alike, on update and operations.
    for (path, extra) in [
        ("/permanent-links/update", update(json!({}))),
        ("/permanent-links/operations", json!({})),
    ] {
        let mut answers = Vec::new();
        for target in ["ZZZZZZZZZZ", "not an id!", foreign.as_str()] {
            let mut body = extra.clone();
            body["id"] = json!(target);
            let a = c.call(&app, path, body, Wire::Json).await;
            refused(&a, -16);
            answers.push(a.text);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    }
    assert_eq!(snapshot(&c, &app).await, before);
    assert_eq!(snapshot(&theirs, &app).await, their_before);
}

#[tokio::test]
async fn operations_paging_refuses_bad_pages() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c.create(&app, json!({})).await;
    for (field, value) in [
        ("page", json!("0")),
        ("page", json!("x")),
        ("page", json!(-1)),
        ("per_page", json!("0")),
        ("per_page", json!("many")),
    ] {
        for wire in [Wire::Json, Wire::Form] {
            let a = c
                .call(
                    &app,
                    "/permanent-links/operations",
                    json!({"id": id, field: value}),
                    wire,
                )
                .await;
            refused(&a, -15);
        }
    }
}
