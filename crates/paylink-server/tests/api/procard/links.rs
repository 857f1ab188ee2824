//! `create`, `update` and `list` with JSON and form bodies: every documented field round-trips
//! with the documented types, signatures over the amount as sent or in its shortest form, and
//! `update` keeps what it is not given.

use super::*;
use paylink_sdk::procard::shortest_amount;

/// Every field of a Purchase link, as a client sends it (text values, as forms carry them).
fn full_link() -> Value {
    json!({
        "name": "Фіксована с кількістю",
        "description": "Two tickets to the concert",
        "kind": "0",
        "operation": "Purchase",
        "amount": "100.00;200.00",
        "enable_counter": "1",
        "custom_amount": "100.55",
        "target_amount": "5000",
        "show_total_amount": "1",
        "language": "en",
    })
}

#[track_caller]
fn assert_link(l: &Value, app: &TestApp, id: &str, expected: &Value) {
    assert_eq!(l["merchant_id"], json!(LOGIN), "{l}");
    assert_eq!(l["id"], json!(id), "{l}");
    assert_eq!(
        l["permanent_link"],
        json!(format!("{}/p/{id}", app.address)),
        "{l}"
    );
    for key in ["name", "description", "amount", "language", "operation"] {
        assert!(l[key].is_string(), "{key} is not a string: {l}");
        assert_eq!(l[key], expected[key], "{key}: {l}");
    }
    for key in ["kind", "enable_counter", "show_total_amount"] {
        assert!(l[key].is_i64(), "{key} is not an integer: {l}");
        assert_eq!(l[key], expected[key], "{key}: {l}");
    }
    for key in ["custom_amount", "target_amount"] {
        assert!(l[key].is_number(), "{key} is not a number: {l}");
        assert_eq!(number(&l[key]), number(&expected[key]), "{key}: {l}");
    }
}

#[tokio::test]
async fn every_field_round_trips_through_list_with_json_and_form_bodies() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    assert!(c.list(&app).await.is_empty());
    let mut ids = Vec::new();
    for wire in [Wire::Json, Wire::Form] {
        let a = c
            .call(&app, "/permanent-links/create", full_link(), wire)
            .await;
        let created = accepted(&a);
        let id = created["id"].as_str().expect("an id").to_string();
        assert!(is_base62_id(&id), "{}", a.text);
        assert_eq!(
            created["permanent_link"],
            json!(format!("{}/p/{id}", app.address)),
            "{}",
            a.text
        );
        ids.push(id);
    }
    // JSON numbers for the numeric fields, and an arbitrary link with no amount.
    let a = c
        .call(
            &app,
            "/permanent-links/create",
            json!({
                "name": "Any amount",
                "description": "Pay what you like",
                "kind": 1,
                "operation": "Purchase",
                "amount": "",
                "enable_counter": 0,
                "custom_amount": 0,
                "target_amount": 250.5,
                "show_total_amount": 0,
                "language": "ru",
            }),
            Wire::Json,
        )
        .await;
    let arbitrary = accepted(&a)["id"].as_str().unwrap().to_string();

    let listed = c.list(&app).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let expected = json!({
        "name": "Фіксована с кількістю",
        "description": "Two tickets to the concert",
        "kind": 0,
        "operation": "Purchase",
        "amount": "100.00;200.00",
        "enable_counter": 1,
        "custom_amount": 100.55,
        "target_amount": 5000,
        "show_total_amount": 1,
        "language": "en",
    });
    for id in &ids {
        let l = listed.iter().find(|l| l["id"] == json!(id)).unwrap();
        assert_link(l, &app, id, &expected);
        assert!(l.get("card_number2").is_none(), "{l}");
    }
    let l = listed.iter().find(|l| l["id"] == json!(arbitrary)).unwrap();
    assert_link(
        l,
        &app,
        &arbitrary,
        &json!({
            "name": "Any amount",
            "description": "Pay what you like",
            "kind": 1,
            "operation": "Purchase",
            "amount": "",
            "enable_counter": 0,
            "custom_amount": 0,
            "target_amount": 250.5,
            "show_total_amount": 0,
            "language": "ru",
        }),
    );
    // The wire text itself: a string amount list, numbers and integer flags.
    let raw = c
        .call(&app, "/permanent-links/list", json!({}), Wire::Form)
        .await;
    accepted(&raw);
    assert_raw(&raw.text, "amount", "\"100.00;200.00\"");
    assert_raw(&raw.text, "custom_amount", "100.55");
    assert_raw(&raw.text, "enable_counter", "1");
    assert_raw(&raw.text, "kind", "1");
    // A P2Pin link keeps its recipient card sealed: list shows only the mask.
    let a = c
        .call(
            &app,
            "/permanent-links/create",
            json!({
                "name": "To my card",
                "description": "Transfer",
                "operation": "P2Pin",
                "card_number2": "4111 1111 1111 1111",
                "amount": "500",
                "language": "ukr",
            }),
            Wire::Form,
        )
        .await;
    let p2p = accepted(&a)["id"].as_str().unwrap().to_string();
    let l = c.link(&app, &p2p).await;
    assert_eq!(l["operation"], json!("P2Pin"), "{l}");
    assert_eq!(l["card_number2"], json!("411111******1111"), "{l}");
    let raw = c
        .call(&app, "/permanent-links/list", json!({}), Wire::Json)
        .await;
    assert!(!raw.text.contains("4111111111111111"), "{}", raw.text);
    // Another merchant's list holds none of these.
    let other = app.new_merchant("Other").await;
    let theirs = enable_as(&app, &other, "OTHER_TRADER").await;
    assert!(theirs.list(&app).await.is_empty());
}

#[tokio::test]
async fn the_amount_is_signed_as_sent_or_in_its_shortest_form_in_either_case_of_hex() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let path = "/permanent-links/create";
    let fields = |name: &str| {
        json!({
            "merchant_id": LOGIN,
            "name": name,
            "description": "d",
            "operation": "Purchase",
            "amount": "100.50;200.00",
            "language": "ukr",
        })
    };
    let as_sent = sign(&c.key, &[LOGIN, "Purchase", "100.50;200.00", "ukr"]);
    assert_eq!(as_sent, signature(&c.key, path, &fields("x")));
    assert_eq!(shortest_amount("100.50;200.00"), "100.5;200");
    let short = sign(&c.key, &[LOGIN, "Purchase", "100.5;200", "ukr"]);
    for (name, sig, wire) in [
        ("as sent", as_sent.clone(), Wire::Json),
        ("shortest", short.clone(), Wire::Form),
        ("upper case", short.to_ascii_uppercase(), Wire::Json),
        (
            "upper case as sent",
            as_sent.to_ascii_uppercase(),
            Wire::Form,
        ),
    ] {
        let mut body = fields(name);
        body["signature"] = json!(sig);
        accepted(&send(&app, path, &body, wire).await);
    }
    let names: Vec<Value> = c
        .list(&app)
        .await
        .iter()
        .map(|l| l["name"].clone())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    // Signed over something else: a different amount form, or another field order.
    for sig in [
        sign(&c.key, &[LOGIN, "Purchase", "100.5;200.0", "ukr"]),
        sign(&c.key, &[LOGIN, "ukr", "100.50;200.00", "Purchase"]),
        sign(&c.key, &[LOGIN, "Purchase", "100.50;200.00", "ukr", ""]),
        as_sent[..64].to_string(),
    ] {
        let mut body = fields("bad");
        body["signature"] = json!(sig);
        refused(&send(&app, path, &body, Wire::Json).await, -4);
    }
    assert_eq!(c.list(&app).await.len(), 4);

    // `update` signs merchant_id;id;amount;language, `operations` merchant_id;id.
    let id = c.list(&app).await[0]["id"].as_str().unwrap().to_string();
    let update = json!({
        "merchant_id": LOGIN,
        "id": id,
        "name": "Renamed",
        "description": "d",
        "amount": "7.10",
        "language": "en",
        "signature": sign(&c.key, &[LOGIN, &id, "7.1", "en"]),
    });
    accepted(&send(&app, "/permanent-links/update", &update, Wire::Form).await);
    assert_eq!(c.link(&app, &id).await["amount"], json!("7.10"));
    let ops = json!({"merchant_id": LOGIN, "id": id, "signature": sign(&c.key, &[LOGIN, &id])});
    accepted(&send(&app, "/permanent-links/operations", &ops, Wire::Json).await);
    let list =
        json!({"merchant_id": LOGIN, "signature": sign(&c.key, &[LOGIN]).to_ascii_uppercase()});
    accepted(&send(&app, "/permanent-links/list", &list, Wire::Form).await);
}

#[tokio::test]
async fn update_changes_what_it_is_given_and_keeps_the_rest() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let mut ids = Vec::new();
    for wire in [Wire::Json, Wire::Form] {
        let a = c
            .call(&app, "/permanent-links/create", full_link(), wire)
            .await;
        ids.push(accepted(&a)["id"].as_str().unwrap().to_string());
    }
    for (id, wire) in ids.iter().zip([Wire::Json, Wire::Form]) {
        // Only the required fields: the optional ones keep their values.
        let a = c
            .call(
                &app,
                "/permanent-links/update",
                json!({
                    "id": id,
                    "name": "New name",
                    "description": "New description",
                    "amount": "300.00;400.50;500",
                    "language": "ru",
                }),
                wire,
            )
            .await;
        assert_eq!(accepted(&a), &json!({"result": 0}), "{}", a.text);
        assert_link(
            &c.link(&app, id).await,
            &app,
            id,
            &json!({
                "name": "New name",
                "description": "New description",
                "kind": 0,
                "operation": "Purchase",
                "amount": "300.00;400.50;500.00",
                "enable_counter": 1,
                "custom_amount": 100.55,
                "target_amount": 5000,
                "show_total_amount": 1,
                "language": "ru",
            }),
        );
        // The optional ones given change.
        let a = c
            .call(
                &app,
                "/permanent-links/update",
                json!({
                    "id": id,
                    "name": "New name",
                    "description": "New description",
                    "amount": "1",
                    "language": "ukr",
                    "enable_counter": "0",
                    "custom_amount": "0",
                    "target_amount": "0",
                    "show_total_amount": "0",
                }),
                wire,
            )
            .await;
        accepted(&a);
        assert_link(
            &c.link(&app, id).await,
            &app,
            id,
            &json!({
                "name": "New name",
                "description": "New description",
                "kind": 0,
                "operation": "Purchase",
                "amount": "1.00",
                "enable_counter": 0,
                "custom_amount": 0,
                "target_amount": 0,
                "show_total_amount": 0,
                "language": "ukr",
            }),
        );
    }
    // Each update changed its own link only.
    assert_eq!(c.list(&app).await.len(), 2);
}

#[tokio::test]
async fn the_link_page_shows_the_collected_amount_growing_with_payments() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({
                "amount": "100.00",
                "custom_amount": "50",
                "target_amount": "1000",
                "show_total_amount": "1",
                "enable_counter": "1",
                "language": "en",
            }),
        )
        .await;
    let collected = |html: &str| -> String {
        let start = html
            .find("id=\"collected\">")
            .unwrap_or_else(|| panic!("no collected amount on the page: {html}"));
        let rest = &html[start + "id=\"collected\">".len()..];
        rest[..rest.find('<').unwrap()].to_string()
    };
    let page = |app: &TestApp| {
        let url = app.url(&format!("/p/{id}"));
        let http = app.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let before = page(&app).await;
    assert!(before.contains("Donation"), "{before}");
    assert_eq!(collected(&before), "50.00 RUB");
    assert!(before.contains("id=\"target\">1000.00 RUB"), "{before}");
    assert!(before.contains("id=\"quantity\""), "{before}");

    pay_ok(&app, &id, "100.00", 3, CARD_OK).await;
    let after = page(&app).await;
    assert_eq!(collected(&after), "350.00 RUB");
    assert!(after.contains("value=\"35\""), "35% of the target: {after}");
    // A declined payment collects nothing.
    pay_ok(&app, &id, "100.00", 1, CARD_DECLINED).await;
    assert_eq!(collected(&page(&app).await), "350.00 RUB");
    // Without show_total_amount there is nothing to show.
    let hidden = c.create(&app, json!({"show_total_amount": "0"})).await;
    let r = app
        .http
        .get(app.url(&format!("/p/{hidden}")))
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("id=\"collected\""));
}

#[tokio::test]
async fn the_link_page_takes_a_comma_amount_and_the_bill_pages_send_the_payer_to_it() {
    use crate::checkout_pages::{get, input, post};
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c.create(&app, json!({"kind": 1, "language": "en"})).await;
    let url = app.url(&format!("/p/{id}"));
    let form = get(&url, "ru").await;
    assert_eq!(form.status, 200, "{}", form.text);
    let paid = post(
        &url,
        &[
            ("form", &input(&form.text, "form")),
            ("amount", "150,50"),
            ("card_number", CARD_OK),
            ("expiry", "12/30"),
            ("cvc", "123"),
            ("holder", "IVAN IVANOV"),
        ],
    )
    .await;
    assert_eq!(paid.status, 303, "{}", paid.text);
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    let data = payments.ok()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{}", payments.text);
    assert_eq!(data[0]["amount"], json!(150.5), "{}", payments.text);
    // The bill pages' other doors do not take a link's payment on other terms.
    let sbp = get(
        &app.url(&format!("/transfer/{id}/sbp/AAAAAAAAAAAAAAAA")),
        "en",
    )
    .await;
    assert_eq!(sbp.status, 303, "{}", sbp.text);
    assert_eq!(sbp.location, url);
    let card = post(
        &app.url(&format!("/transfer/{id}/card")),
        &[
            ("form", &input(&form.text, "form")),
            ("card_number", CARD_OK),
            ("expiry", "12/30"),
            ("cvc", "123"),
            ("holder", "IVAN IVANOV"),
        ],
    )
    .await;
    assert_eq!(card.status, 404, "{}", card.text);
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    assert_eq!(payments.ok()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_arbitrary_links_page_offers_its_suggested_amounts_without_choosing_one() {
    use crate::checkout_pages::get;
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({"kind": 1, "amount": "100;250.50", "language": "en"}),
        )
        .await;
    let page = get(&app.url(&format!("/p/{id}")), "en").await;
    assert_eq!(page.status, 200, "{}", page.text);
    // Offered to the field (a browser lists them even without JavaScript) and as buttons.
    assert!(page.text.contains(r#"list="suggested""#), "{}", page.text);
    for amount in ["100.00", "250.50"] {
        assert!(
            page.text.contains(&format!(r#"<option value="{amount}">"#)),
            "{}",
            page.text
        );
        assert!(
            page.text.contains(&format!(r#"data-amount="{amount}""#)),
            "{}",
            page.text
        );
    }
    // Not chosen for the payer: no radio, an empty field, no total yet.
    assert!(!page.text.contains(r#"type="radio""#), "{}", page.text);
    assert!(
        page.text.contains(r#"<span id="total">—</span>"#),
        "{}",
        page.text
    );
    // A link without suggestions offers none.
    let plain = c
        .create(&app, json!({"kind": 1, "amount": "", "language": "en"}))
        .await;
    let page = get(&app.url(&format!("/p/{plain}")), "en").await;
    assert!(!page.text.contains("suggested"), "{}", page.text);
}
