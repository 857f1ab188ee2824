//! Clients and cards as a partner sees them: adding and editing clients, issuing, the card's
//! description, its one-time data page, listing, statuses and what each refuses, closing with
//! its money, bulk issue and linking, statements over date ranges, and cardholder validation.

use super::*;
use paylink_core::id::PartnerId;
use paylink_core::ledger::{Balance, Owner};

/// The partner's prepaid balance in KZT as the ledger holds it.
async fn prepaid(app: &TestApp, p: &Partner) -> Balance {
    app.store
        .owner_balance(
            &Owner::partner(&PartnerId::from_trusted(p.auth_id.clone())),
            Currency::Kzt,
        )
        .await
        .expect("the partner's balance reads")
}

/// `card/info`'s `card` object.
async fn info(p: &Partner, card: &str) -> Value {
    p.ok("card-api/card/info", json!({"card_id": card})).await["card"].clone()
}

/// A card of `client` (active, KZT).
async fn issue(p: &Partner, client: &str) -> String {
    let b = p
        .ok(
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": client, "currency": "KZT"}),
        )
        .await;
    b["card_id"].as_str().expect("a card id").to_string()
}

/// `transaction/create` of `kind` for `amount` KZT on `card`.
async fn movement(p: &Partner, card: &str, kind: &str, amount: &str) -> Answer {
    p.call(
        "card-api/transaction/create",
        json!({"card_id": card, "type": kind, "amount": amount, "currency": "KZT",
               "description": kind}),
    )
    .await
}

/// The text of the element with `id` in `html` (tags inside it not expected).
fn element(html: &str, id: &str) -> Option<String> {
    let open = format!("id=\"{id}\">");
    let start = html.find(&open)? + open.len();
    let len = html[start..].find('<')?;
    Some(html[start..start + len].to_string())
}

fn luhn_valid(pan: &str) -> bool {
    let mut sum = 0;
    for (i, c) in pan.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// What the one-time page showed: PAN (digits only), expiry, CVV.
struct Shown {
    pan: String,
    expiry: String,
    cvv: String,
}

/// `card/secret` for `card`: the link's URL.
async fn secret_url(p: &Partner, card: &str) -> String {
    let b = p.ok("card-api/card/secret", json!({"card_id": card})).await;
    assert!(b["expires_at"].is_string(), "{b}");
    b["url"].as_str().expect("a url").to_string()
}

/// Opens the link as its holder does: GET shows a button, POST shows the data.
async fn open_secret(app: &TestApp, url: &str) -> Shown {
    let page = app.http.get(url).send().await.expect("the page answers");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("a page");
    assert!(html.contains("id=\"show\""), "no button: {html}");
    assert!(element(&html, "pan").is_none(), "{html}");
    let shown = app.http.post(url).send().await.expect("the page answers");
    assert_eq!(shown.status().as_u16(), 200);
    let html = shown.text().await.expect("a page");
    let pan: String = element(&html, "pan")
        .unwrap_or_else(|| panic!("no PAN on {html}"))
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    Shown {
        pan,
        expiry: element(&html, "expiry").expect("an expiry"),
        cvv: element(&html, "cvv").expect("a CVV"),
    }
}

/// A used or expired link: 410 on GET and POST, no card data.
async fn assert_gone(app: &TestApp, url: &str) {
    for post in [false, true] {
        let r = if post {
            app.http.post(url)
        } else {
            app.http.get(url)
        };
        let r = r.send().await.expect("the page answers");
        assert_eq!(r.status().as_u16(), 410, "post={post}");
        let html = r.text().await.expect("a page");
        assert!(element(&html, "pan").is_none(), "{html}");
        assert!(!html.contains("id=\"show\""), "{html}");
        assert_no_pan(&html);
    }
}

/// `score` as a number, after checking its shape (`87.50%`).
fn percent(b: &Value) -> f64 {
    let s = b["score"].as_str().expect("a score string");
    let digits = s.strip_suffix('%').expect("ends with %");
    let (whole, frac) = digits.split_once('.').expect("two decimals");
    assert!(
        !whole.is_empty() && whole.bytes().all(|c| c.is_ascii_digit()),
        "{s}"
    );
    assert!(
        frac.len() == 2 && frac.bytes().all(|c| c.is_ascii_digit()),
        "{s}"
    );
    digits.parse().expect("a number")
}

async fn validate(
    p: &Partner,
    path: &str,
    phone: &str,
    first: &str,
    last: &str,
    token: &str,
) -> Value {
    p.ok(
        path,
        json!({"user_phone": phone, "first_name": first, "last_name": last, "card_token": token}),
    )
    .await
}

#[tokio::test]
async fn an_issued_card_is_active_and_card_info_describes_it() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client_of(2000, "Ivan", "Petrov", "77011234567").await;
    let b = p
        .ok(
            "card-api/card/issue",
            json!({"product_id": 2000, "client_id": client, "currency": "kzt"}),
        )
        .await;
    assert_eq!(b["card_status"], json!(1), "{b}");
    let card = b["card_id"].as_str().unwrap();
    let c = info(&p, card).await;
    assert_eq!(c["card_id"], json!(card));
    assert_eq!(c["client_id"], json!(client));
    assert_eq!(c["product_id"], json!(2000));
    assert_eq!(c["currency"], json!("KZT"));
    assert_eq!(c["card_status"], json!(1));
    assert_eq!(c["type"], json!("virtual"));
    // Issued at START, 2024-05-14: valid through May three years on.
    assert_eq!(c["expiry"], json!("05/27"));
    assert_eq!(c["created_at"], json!("2024-05-14 10:00:00"));
    assert_eq!(c["card_mask"], b["card_mask"]);
    let mask = c["card_mask"].as_str().unwrap();
    assert_eq!(mask.len(), 16, "{mask}");
    assert!(mask.starts_with("400000******"), "{mask}");
    assert!(mask[12..].bytes().all(|d| d.is_ascii_digit()), "{mask}");
    let token = c["card_token"].as_str().unwrap();
    assert!(token.len() >= 16 && token.bytes().all(|c| c.is_ascii_alphanumeric()));
    let (balance, hold, available) = p.balance(card).await;
    assert_eq!(
        (balance, hold, available),
        ("0.00".into(), "0.00".into(), "0.00".into())
    );
}

#[tokio::test]
async fn a_client_edit_changes_only_the_fields_it_names() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client("Ivan", "Petrov", "77011234567").await;
    let card = issue(&p, &client).await;
    let before = info(&p, &card).await;
    let b = p
        .ok(
            "card-api/client/edit",
            json!({"client_id": client, "client": {"first_name": "Maria", "last_name": "Sidorova"}}),
        )
        .await;
    assert_eq!(b["client_id"], json!(client));
    // The card is untouched.
    assert_eq!(info(&p, &card).await, before);
    // The new name matches, with the phone kept from before.
    let token = before["card_token"].as_str().unwrap();
    let path = "card-api/external/cardholder_validate";
    let new = validate(&p, path, "77011234567", "Maria", "Sidorova", token).await;
    assert!(percent(&new) >= 90.0, "{new}");
    assert_eq!(new["fishy"], json!(0), "{new}");
    let old = validate(&p, path, "77011234567", "Ivan", "Petrov", token).await;
    assert!(percent(&old) < percent(&new), "old {old} new {new}");
    // An unknown client is refused.
    p.refused(
        "card-api/client/edit",
        json!({"client_id": "0000000000", "client": {"first_name": "X"}}),
        "client_not_found",
    )
    .await;
}

/// Edits of different fields of one client sent at the same moment all land: none is lost to
/// another that read the client before it was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_edits_of_different_fields_all_land() {
    use paylink_core::id::ClientId;
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client("Ivan", "Petrov", "77011234567").await;
    for round in 0..3u8 {
        let d = round + 1;
        let country = ["KZ", "RUS", "US"][usize::from(round)];
        let edits = [
            json!({"phone": format!("7701000000{d}")}),
            json!({"email": format!("ivan{d}@example.com")}),
            json!({"first_name": format!("Ivan{}", "a".repeat(d.into()))}),
            json!({"last_name": format!("Petrov{}", "a".repeat(d.into()))}),
            json!({"middle_name": format!("M{d}")}),
            json!({"birthdate": format!("1990-01-0{d}")}),
            json!({"country": country}),
            json!({"type": d}),
            json!({"resident": 2 - round % 2}),
        ];
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(edits.len()));
        let tasks: Vec<_> = edits
            .into_iter()
            .map(|edit| {
                let body = json!({"request_id": new_request_id(), "client_id": client,
                                  "client": edit});
                let api = p.client.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    api.call("/v5/card-api/client/edit", &body).await
                })
            })
            .collect();
        for t in tasks {
            let a = t.await.unwrap().expect("the server answers JSON");
            assert!(a.is_ok(), "round {round}: {}", a.body);
        }
        let stored = app
            .store
            .card_client(
                &PartnerId::from_trusted(p.auth_id.clone()),
                &ClientId::from_trusted(client.clone()),
            )
            .await
            .unwrap()
            .expect("the client");
        let s = &stored.details;
        let got = json!([
            s.phone,
            s.email,
            s.first_name,
            s.last_name,
            s.middle_name,
            s.birthdate,
            s.country,
            s.client_type,
            s.resident
        ]);
        let a = "a".repeat(d.into());
        let want = json!([
            format!("7701000000{d}"),
            format!("ivan{d}@example.com"),
            format!("Ivan{a}"),
            format!("Petrov{a}"),
            format!("M{d}"),
            format!("1990-01-0{d}"),
            country,
            d,
            2 - round % 2
        ]);
        assert_eq!(got, want, "round {round}: an edit was lost");
    }
}

#[tokio::test]
async fn the_one_time_page_shows_a_luhn_valid_unique_pan_of_the_partners_bin_once() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client("Ivan", "Petrov", "77011234567").await;
    let mut pans = std::collections::HashSet::new();
    for _ in 0..5 {
        let card = issue(&p, &client).await;
        let c = info(&p, &card).await;
        let url = secret_url(&p, &card).await;
        let shown = open_secret(&app, &url).await;
        let pan = &shown.pan;
        assert_eq!(pan.len(), 16, "{pan}");
        assert!(pan.bytes().all(|d| d.is_ascii_digit()), "{pan}");
        assert!(pan.starts_with("400000"), "{pan}");
        assert!(luhn_valid(pan), "not Luhn-valid: {pan}");
        let mask = c["card_mask"].as_str().unwrap();
        assert_eq!(&pan[..6], &mask[..6]);
        assert_eq!(&pan[12..], &mask[12..]);
        assert_eq!(json!(shown.expiry), c["expiry"]);
        assert!(
            shown.cvv.len() == 3 && shown.cvv.bytes().all(|d| d.is_ascii_digit()),
            "{}",
            shown.cvv
        );
        assert!(pans.insert(pan.clone()), "a PAN issued twice: {pan}");
        // Spent: the second look shows nothing.
        assert_gone(&app, &url).await;
    }
}

#[tokio::test]
async fn a_card_data_link_unused_for_ten_minutes_is_gone() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let card = p.card("KZT").await;
    let url = secret_url(&p, &card).await;
    app.advance_ms(10 * 60 * 1000 + 1);
    assert_gone(&app, &url).await;
    // A fresh link still works.
    let url = secret_url(&p, &card).await;
    let shown = open_secret(&app, &url).await;
    assert!(shown.pan.starts_with("400000"));
}

/// A block or a close ends the card's data links: one handed out before shows nothing, not
/// even after an unblock, and one asked for while the card is blocked opens only once it is
/// active again.
#[tokio::test]
async fn a_blocked_or_closed_cards_data_page_shows_nothing() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let card = p.card("KZT").await;
    let before_block = secret_url(&p, &card).await;
    p.ok("card-api/card/block", json!({"card_id": card})).await;
    assert_gone(&app, &before_block).await;
    let while_blocked = secret_url(&p, &card).await;
    assert_gone(&app, &while_blocked).await;
    p.ok("card-api/card/unblock", json!({"card_id": card}))
        .await;
    assert_gone(&app, &before_block).await;
    let shown = open_secret(&app, &while_blocked).await;
    assert!(shown.pan.starts_with("400000"));

    let before_close = secret_url(&p, &card).await;
    let also_before_close = secret_url(&p, &card).await;
    // The page offered, the card closed before the button is pressed.
    let page = app.http.get(&also_before_close).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    p.ok("card-api/card/close", json!({"card_id": card})).await;
    assert_gone(&app, &before_close).await;
    assert_gone(&app, &also_before_close).await;
}

#[tokio::test]
async fn card_list_filters_by_client_and_pages() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let ivan = p.client("Ivan", "Petrov", "77011234567").await;
    let maria = p.client("Maria", "Sidorova", "77019998877").await;
    let mut ivans = Vec::new();
    for _ in 0..3 {
        ivans.push(issue(&p, &ivan).await);
        app.advance_ms(1000);
    }
    let marias = issue(&p, &maria).await;
    let ids = |b: &Value| -> Vec<String> {
        b["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .map(|c| c["card_id"].as_str().unwrap().to_string())
            .collect()
    };
    let b = p.ok("card-api/card/list", json!({"client_id": ivan})).await;
    assert_eq!(ids(&b), ivans);
    assert_eq!(
        (b["page"].clone(), b["limit"].clone()),
        (json!(1), json!(20))
    );
    for c in b["cards"].as_array().unwrap() {
        assert_eq!(c["client_id"], json!(ivan));
        assert_eq!(c["card_status"], json!(1));
    }
    let b = p
        .ok("card-api/card/list", json!({"client_id": maria}))
        .await;
    assert_eq!(ids(&b), vec![marias.clone()]);
    // Pages of two over all four.
    let page = |n: i64| p.ok("card-api/card/list", json!({"page": n, "limit": 2}));
    let (one, two, three) = (page(1).await, page(2).await, page(3).await);
    assert_eq!(ids(&one), ivans[..2].to_vec());
    assert_eq!(ids(&two), vec![ivans[2].clone(), marias]);
    assert!(ids(&three).is_empty());
    assert_eq!(
        (two["page"].clone(), two["limit"].clone()),
        (json!(2), json!(2))
    );
    // The client filter pages too.
    let b = p
        .ok(
            "card-api/card/list",
            json!({"client_id": ivan, "page": 2, "limit": 2}),
        )
        .await;
    assert_eq!(ids(&b), vec![ivans[2].clone()]);
    // Another partner sees none of them.
    let other = partner(&app, 0).await;
    let b = other.ok("card-api/card/list", json!({})).await;
    assert!(ids(&b).is_empty(), "{b}");
    other
        .refused(
            "card-api/card/list",
            json!({"client_id": ivan}),
            "client_not_found",
        )
        .await;
}

#[tokio::test]
async fn a_blocked_card_refuses_debits_but_takes_credits_until_unblocked() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let b = p
        .ok(
            "card-api/card/block",
            json!({"card_id": card, "description": "lost"}),
        )
        .await;
    assert_eq!(b["card_status"], json!(2), "{b}");
    assert_eq!(info(&p, &card).await["card_status"], json!(2));
    let a = movement(&p, &card, "debit", "10.00").await;
    assert_eq!(a.error_code(), Some("card_blocked"), "{}", a.body);
    assert!(movement(&p, &card, "credit", "5.00").await.is_ok());
    assert_eq!(p.balance(&card).await.0, "105.00");
    let b = p
        .ok("card-api/card/unblock", json!({"card_id": card}))
        .await;
    assert_eq!(b["card_status"], json!(1), "{b}");
    assert!(movement(&p, &card, "debit", "10.00").await.is_ok());
    assert_eq!(p.balance(&card).await.0, "95.00");
}

#[tokio::test]
async fn a_closed_card_refuses_everything_after() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("10.00").await;
    let b = p.ok("card-api/card/close", json!({"card_id": card})).await;
    assert_eq!(b["card_status"], json!(3), "{b}");
    assert_eq!(info(&p, &card).await["card_status"], json!(3));
    let a = movement(&p, &card, "debit", "1.00").await;
    assert_eq!(a.error_code(), Some("card_closed"), "{}", a.body);
    let a = movement(&p, &card, "credit", "1.00").await;
    assert_eq!(a.error_code(), Some("card_closed"), "{}", a.body);
    for path in ["activate", "unblock", "block", "close", "secret"] {
        p.refused(
            &format!("card-api/card/{path}"),
            json!({"card_id": card}),
            "card_closed",
        )
        .await;
    }
    assert_eq!(info(&p, &card).await["card_status"], json!(3));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn closing_a_card_returns_its_balance_to_the_partner() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let start = prepaid(&app, &p).await.available;
    assert_eq!(start, 100_000);
    let card = p.funded_card("250.75").await;
    assert_eq!(prepaid(&app, &p).await.available, start - 25_075);
    assert!(movement(&p, &card, "debit", "50.25").await.is_ok());
    p.ok("card-api/card/close", json!({"card_id": card})).await;
    // What was left (200.50) went back; the 50.25 spent did not.
    assert_eq!(prepaid(&app, &p).await.available, start - 5_025);
    assert_eq!(p.balance(&card).await.0, "0.00");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_card_with_money_on_hold_is_not_closed() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let before = prepaid(&app, &p).await.available;
    let auth = p
        .ok(
            "card-api/sandbox/authorize",
            json!({"card_id": card, "amount": "30.00", "currency": "KZT",
                   "description": "coffee", "merchant_name": "Cafe"}),
        )
        .await;
    let a = p
        .call("card-api/card/close", json!({"card_id": card}))
        .await;
    assert!(!a.is_ok(), "closed with money on hold: {}", a.body);
    assert_eq!(a.http_status, 200, "{}", a.body);
    assert_eq!(info(&p, &card).await["card_status"], json!(1));
    assert_eq!(prepaid(&app, &p).await.available, before);
    // Once the hold is gone, the card closes with all its money going back.
    p.ok(
        "card-api/sandbox/reverse",
        json!({"transaction_id": auth["transaction_id"]}),
    )
    .await;
    let b = p.ok("card-api/card/close", json!({"card_id": card})).await;
    assert_eq!(b["card_status"], json!(3));
    assert_eq!(prepaid(&app, &p).await.available, before + 10_000);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn bulk_issued_cards_are_inactive_without_a_client_until_linked_and_activated() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let b = p
        .ok(
            "card-api/card/bulk_issue",
            json!({"request_id": rid, "product_id": 3000, "quantity": 3, "currency": "USD"}),
        )
        .await;
    assert_eq!(b["request_status"], json!("process"), "{b}");
    let s = p
        .ok("card-api/request/status", json!({"request_id": rid}))
        .await;
    // (`method` is checked in requests.rs.)
    let cards = s["cards"].as_array().expect("cards").clone();
    assert_eq!(cards.len(), 3, "{s}");
    for c in &cards {
        let i = info(&p, c["card_id"].as_str().unwrap()).await;
        assert_eq!(i["card_status"], json!(0), "{i}");
        assert_eq!(i["client_id"], Value::Null, "{i}");
        assert_eq!(i["currency"], json!("USD"));
        assert_eq!(i["product_id"], json!(3000));
        assert_eq!(i["card_mask"], c["card_mask"]);
    }
    let card = cards[0]["card_id"].as_str().unwrap();
    // An inactive card spends nothing.
    let a = p
        .call(
            "card-api/sandbox/authorize",
            json!({"card_id": card, "amount": "1.00", "currency": "USD", "description": "x"}),
        )
        .await;
    assert_eq!(a.error_code(), Some("card_inactive"), "{}", a.body);
    let ivan = p.client_of(3000, "Ivan", "Petrov", "77011234567").await;
    let b = p
        .ok(
            "card-api/card/link",
            json!({"client_id": ivan, "card_id": card}),
        )
        .await;
    assert_eq!(
        (b["card_id"].clone(), b["client_id"].clone()),
        (json!(card), json!(ivan))
    );
    assert_eq!(info(&p, card).await["client_id"], json!(ivan));
    // It stays Ivan's.
    let maria = p.client_of(3000, "Maria", "Sidorova", "77019998877").await;
    let a = p
        .call(
            "card-api/card/link",
            json!({"client_id": maria, "card_id": card}),
        )
        .await;
    assert!(!a.is_ok(), "linked to a second client: {}", a.body);
    assert_eq!(info(&p, card).await["client_id"], json!(ivan));
    assert_eq!(info(&p, card).await["card_status"], json!(0));
    let b = p
        .ok("card-api/card/activate", json!({"card_id": card}))
        .await;
    assert_eq!(b["card_status"], json!(1), "{b}");
    assert_eq!(info(&p, card).await["card_status"], json!(1));
    let b = p.ok("card-api/card/list", json!({"client_id": ivan})).await;
    assert_eq!(b["cards"].as_array().unwrap().len(), 1, "{b}");
}

/// A bulk-issued card is linked to a client before it is activated: activating it unlinked is
/// refused, and money put on it cannot be spent until it is linked and activated.
#[tokio::test]
async fn an_unlinked_bulk_card_is_not_activated_or_spent() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let rid = new_request_id();
    p.ok(
        "card-api/card/bulk_issue",
        json!({"request_id": rid, "product_id": 2000, "quantity": 1, "currency": "KZT"}),
    )
    .await;
    let s = p
        .ok("card-api/request/status", json!({"request_id": rid}))
        .await;
    let card = s["cards"][0]["card_id"]
        .as_str()
        .expect("a card")
        .to_string();
    let b = p
        .refused(
            "card-api/card/activate",
            json!({"card_id": card}),
            "validation_error",
        )
        .await;
    let why = b["error_description"].as_str().unwrap();
    assert!(why.contains("card/link"), "{why}");
    let i = info(&p, &card).await;
    assert_eq!(
        (i["card_status"].clone(), i["client_id"].clone()),
        (json!(0), Value::Null)
    );
    // Money can be put on it, but nothing can be taken off it.
    assert!(movement(&p, &card, "credit", "10.00").await.is_ok());
    let a = movement(&p, &card, "debit", "1.00").await;
    assert_eq!(a.error_code(), Some("card_inactive"), "{}", a.body);
    assert_eq!(p.balance(&card).await.0, "10.00");
    // Linked, it activates and spends.
    let ivan = p.client_of(2000, "Ivan", "Petrov", "77011234567").await;
    p.ok(
        "card-api/card/link",
        json!({"client_id": ivan, "card_id": card}),
    )
    .await;
    let b = p
        .ok("card-api/card/activate", json!({"card_id": card}))
        .await;
    assert_eq!(b["card_status"], json!(1), "{b}");
    assert!(movement(&p, &card, "debit", "1.00").await.is_ok());
    assert_eq!(p.balance(&card).await.0, "9.00");
    app.assert_ledger_ok().await;
}

/// The `card_id` of the one card `card/bulk_issue` makes of `product_id` (KZT).
async fn bulk_card(p: &Partner, product_id: u32) -> String {
    let rid = new_request_id();
    p.ok(
        "card-api/card/bulk_issue",
        json!({"request_id": rid, "product_id": product_id, "quantity": 1, "currency": "KZT"}),
    )
    .await;
    let s = p
        .ok("card-api/request/status", json!({"request_id": rid}))
        .await;
    s["cards"][0]["card_id"]
        .as_str()
        .expect("a card")
        .to_string()
}

#[tokio::test]
async fn a_card_goes_only_to_a_client_of_its_product_and_a_gift_card_to_none() {
    let app = spawn_app().await;
    let p = partner(&app, 10_000).await;
    let wallet = p.client_of(1000, "Ivan", "Petrov", "77011234567").await;
    let instant = p.client_of(2000, "Maria", "Sidorova", "77019998877").await;

    // card/issue of another product than the client's.
    let b = p
        .refused(
            "card-api/card/issue",
            json!({"product_id": 2000, "client_id": wallet, "currency": "KZT"}),
            "validation_error",
        )
        .await;
    let why = b["error_description"].as_str().unwrap();
    assert!(why.starts_with("product_id is refused"), "{why}");
    assert!(why.contains("2000") && why.contains("1000"), "{why}");
    let listed = p
        .ok("card-api/card/list", json!({"client_id": wallet}))
        .await;
    assert!(listed["cards"].as_array().unwrap().is_empty(), "{listed}");
    let b = p
        .ok(
            "card-api/card/issue",
            json!({"product_id": 2000, "client_id": instant, "currency": "KZT"}),
        )
        .await;
    assert_eq!(
        info(&p, b["card_id"].as_str().unwrap()).await["product_id"],
        json!(2000)
    );

    // card/link of a bulk card of another product than the client's.
    let card = bulk_card(&p, 3000).await;
    let b = p
        .refused(
            "card-api/card/link",
            json!({"client_id": wallet, "card_id": card}),
            "validation_error",
        )
        .await;
    let why = b["error_description"].as_str().unwrap();
    assert!(why.starts_with("card_id is refused"), "{why}");
    assert!(why.contains("3000") && why.contains("1000"), "{why}");
    assert_eq!(info(&p, &card).await["client_id"], Value::Null);
    let card = bulk_card(&p, 1000).await;
    p.ok(
        "card-api/card/link",
        json!({"client_id": wallet, "card_id": card}),
    )
    .await;
    assert_eq!(info(&p, &card).await["client_id"], json!(wallet));

    // A gift card is its holder's: never linked to a client, of its product or not.
    let g = p
        .ok(
            "cards/issue",
            json!({"cardholder_name": "Ivan Petrov", "phone": "77011234567",
                   "product_code": "GIFT-KZT-5000"}),
        )
        .await;
    let g = g["card_id"].as_str().unwrap().to_string();
    assert_eq!(info(&p, &g).await["product_id"], json!(1000));
    let b = p
        .refused(
            "card-api/card/link",
            json!({"client_id": wallet, "card_id": g}),
            "validation_error",
        )
        .await;
    let why = b["error_description"].as_str().unwrap();
    assert!(why.contains("gift card"), "{why}");
    assert_eq!(info(&p, &g).await["client_id"], Value::Null);
}

#[tokio::test]
async fn a_gift_card_is_of_a_product_its_partner_may_issue() {
    let app = spawn_app().await;
    let c = issuing::create_partner(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        "Instant and electron cards only",
        IssuingSettings {
            products: Some(vec![3000, 2000]),
            ..IssuingSettings::default()
        },
        app.now(),
    )
    .await
    .unwrap();
    let p = Partner {
        client: CardApiClient::new(&app.address, &c.auth_id, c.secret_key.expose()),
        auth_id: c.auth_id,
        key: c.secret_key.expose().clone(),
    };
    fund(&app, &p, 1_000_000, Currency::Kzt).await;
    // Product 1000 is not the partner's: it issues none of it, not even as a gift card.
    p.refused(
        "card-api/client/add",
        json!({"product_id": 1000, "client": {"phone": "77011234567", "type": 1,
               "resident": 1, "first_name": "Ivan", "last_name": "Petrov"}}),
        "product_not_available",
    )
    .await;
    let g = p
        .ok(
            "cards/issue",
            json!({"cardholder_name": "Ivan Petrov", "phone": "77011234567",
                   "product_code": "GIFT-KZT-5000"}),
        )
        .await;
    let card = info(&p, g["card_id"].as_str().unwrap()).await;
    assert_eq!(card["product_id"], json!(2000), "{card}");
    assert_eq!(card["type"], json!("gift"), "{card}");
}

#[tokio::test]
async fn a_gift_card_is_not_activated_by_card_activate() {
    let app = spawn_app().await;
    let p = partner(&app, 10_000).await;
    let b = p
        .ok(
            "cards/issue",
            json!({"cardholder_name": "Ivan Petrov", "phone": "77011234567",
                   "product_code": "GIFT-KZT-5000"}),
        )
        .await;
    let card = b["card_id"].as_str().unwrap();
    let a = p
        .call("card-api/card/activate", json!({"card_id": card}))
        .await;
    assert!(
        !a.is_ok(),
        "a gift card activated without its code: {}",
        a.body
    );
    assert_eq!(a.http_status, 200);
    let i = info(&p, card).await;
    assert_eq!(
        (i["card_status"].clone(), i["type"].clone()),
        (json!(0), json!("gift"))
    );
}

#[tokio::test]
async fn the_statement_lists_operations_in_the_date_range_by_pages() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    // 2024-05-14 10:00:00: the top-up.
    let card = p.funded_card("100.00").await;
    let mut ids = Vec::new();
    // 2024-05-15, -16, -17 10:00:00: one debit each.
    for amount in ["1.00", "2.00", "3.00"] {
        app.advance_ms(DAY_MS);
        let a = movement(&p, &card, "debit", amount).await;
        assert!(a.is_ok(), "{}", a.body);
        ids.push(a.str("transaction_id").unwrap().to_string());
    }
    let pr = &p;
    let statement = |from: &str, to: &str, page: Option<i64>, limit: Option<i64>| {
        let mut body = json!({"card_id": card, "date_from": from, "date_to": to});
        if let Some(n) = page {
            body["page"] = json!(n);
        }
        if let Some(n) = limit {
            body["limit"] = json!(n);
        }
        async move { pr.ok("card-api/card/statement", body).await }
    };
    let ops = |b: &Value| -> Vec<Value> { b["operations"].as_array().expect("operations").clone() };
    let all = statement("2024-05-01", "2024-05-31", None, None).await;
    let all = ops(&all);
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[0]["type"], json!("credit"));
    assert_eq!(all[0]["amount"], json!("100.00"));
    assert_eq!(all[0]["created_at"], json!("2024-05-14 10:00:00"));
    for (o, (id, amount)) in all[1..]
        .iter()
        .zip(ids.iter().zip(["1.00", "2.00", "3.00"]))
    {
        assert_eq!(o["transaction_id"], json!(id));
        assert_eq!(o["type"], json!("debit"));
        assert_eq!(o["amount"], json!(amount));
        assert_eq!(o["currency"], json!("KZT"));
        assert_eq!(o["status"], json!("success"));
        assert_eq!(o["description"], json!("debit"));
    }
    // Bare dates cover whole days, date_to included.
    let b = statement("2024-05-15", "2024-05-16", None, None).await;
    let got: Vec<_> = ops(&b)
        .iter()
        .map(|o| o["transaction_id"].clone())
        .collect();
    assert_eq!(got, vec![json!(ids[0]), json!(ids[1])]);
    // Times to the second, both ends inclusive.
    let b = statement("2024-05-15 10:00:00", "2024-05-16 09:59:59", None, None).await;
    assert_eq!(ops(&b).len(), 1, "{b}");
    assert_eq!(ops(&b)[0]["transaction_id"], json!(ids[0]));
    let b = statement("2024-05-15 10:00:01", "2024-05-17 10:00:00", None, None).await;
    let got: Vec<_> = ops(&b)
        .iter()
        .map(|o| o["transaction_id"].clone())
        .collect();
    assert_eq!(got, vec![json!(ids[1]), json!(ids[2])]);
    // Nothing outside the range.
    let b = statement("2024-04-01", "2024-05-13", None, None).await;
    assert!(ops(&b).is_empty(), "{b}");
    // Pages of two.
    let one = statement("2024-05-01", "2024-05-31", Some(1), Some(2)).await;
    let two = statement("2024-05-01", "2024-05-31", Some(2), Some(2)).await;
    let three = statement("2024-05-01", "2024-05-31", Some(3), Some(2)).await;
    assert_eq!(ops(&one), all[..2].to_vec());
    assert_eq!(ops(&two), all[2..].to_vec());
    assert!(ops(&three).is_empty());
    assert_eq!(
        (two["page"].clone(), two["limit"].clone()),
        (json!(2), json!(2))
    );
}

/// What a statement line did to the card's balance, in minor units, as a partner reads it:
/// `success` lines move money (credit and refund onto the card, debit and authorization off
/// it); holds (`process`) and their releases (`reversed`) leave the balance as it is.
fn balance_change(line: &Value) -> i64 {
    let amount = line["amount"].as_str().expect("an amount");
    let (major, minor) = amount.split_once('.').expect("two decimals");
    let minor = major.parse::<i64>().unwrap() * 100 + minor.parse::<i64>().unwrap();
    match (line["status"].as_str(), line["type"].as_str()) {
        (Some("success"), Some("credit" | "refund")) => minor,
        (Some("success"), Some("debit" | "authorization")) => -minor,
        (Some("process" | "reversed"), Some("authorization")) => 0,
        _ => panic!("a line a partner cannot read: {line}"),
    }
}

/// The card's `balance` in minor units.
async fn balance_minor(p: &Partner, card: &str) -> i64 {
    let (balance, _, _) = p.balance(card).await;
    let (major, minor) = balance.split_once('.').unwrap();
    major.parse::<i64>().unwrap() * 100 + minor.parse::<i64>().unwrap()
}

#[tokio::test]
async fn a_statement_shows_what_moved_on_the_day_it_moved_and_sums_to_the_balance_change() {
    let app = spawn_app().await;
    let p = partner(&app, 100_000).await;
    // 2024-05-14 10:00:00: a credit, an authorization of 2500, a debit of 1000 refunded in part.
    let card = p.funded_card("10000.00").await;
    let auth = p
        .ok(
            "card-api/sandbox/authorize",
            json!({"card_id": card, "amount": "2500.00", "currency": "KZT",
                   "description": "Coffee", "merchant_name": "Sandbox Coffee"}),
        )
        .await["transaction_id"]
        .as_str()
        .unwrap()
        .to_string();
    let debit = movement(&p, &card, "debit", "1000.00").await;
    assert!(debit.is_ok(), "{}", debit.body);
    let debit = debit.str("transaction_id").unwrap().to_string();
    p.ok(
        "card-api/transaction/refund",
        json!({"transaction_id": debit, "amount": "400.00"}),
    )
    .await;
    let end_of_day_one = balance_minor(&p, &card).await;
    assert_eq!(end_of_day_one, 940_000);
    // 2024-05-15 10:00:00: the authorization is cleared for 2300 (200 released), a credit.
    app.advance_ms(DAY_MS);
    p.ok(
        "card-api/transaction/clearing",
        json!({"transaction_id": auth, "amount": "2300.00"}),
    )
    .await;
    assert!(movement(&p, &card, "credit", "500.00").await.is_ok());
    let end = balance_minor(&p, &card).await;
    assert_eq!(end, 760_000, "the card lost 2300, not 2500");

    let statement = |from: &str, to: &str| {
        let body = json!({"card_id": card, "date_from": from, "date_to": to, "limit": 100});
        let pr = &p;
        async move {
            pr.ok("card-api/card/statement", body).await["operations"]
                .as_array()
                .expect("operations")
                .clone()
        }
    };
    let both = statement("2024-05-14", "2024-05-15").await;
    let sum: i64 = both.iter().map(balance_change).sum();
    assert_eq!(
        sum, end,
        "the period's lines sum to its balance change: {both:#?}"
    );
    // The debit and its partial refund are both visible, each with what moved.
    let line = |lines: &[Value], id: &str, kind: &str, status: &str| -> Value {
        let found: Vec<_> = lines
            .iter()
            .filter(|l| {
                (l["transaction_id"] == json!(id) || l["type"] == json!("refund"))
                    && l["type"] == json!(kind)
                    && l["status"] == json!(status)
            })
            .cloned()
            .collect();
        assert_eq!(found.len(), 1, "{kind} {status} of {id} in {lines:#?}");
        found[0].clone()
    };
    assert_eq!(
        line(&both, &debit, "debit", "success")["amount"],
        json!("1000.00")
    );
    assert_eq!(
        line(&both, &debit, "refund", "success")["amount"],
        json!("400.00")
    );
    let hold = line(&both, &auth, "authorization", "process");
    assert_eq!(
        (hold["amount"].clone(), hold["created_at"].clone()),
        (json!("2500.00"), json!("2024-05-14 10:00:00"))
    );

    // The second day alone: the clearing is there, on its day, with the amount captured.
    let day_two = statement("2024-05-15", "2024-05-15").await;
    let capture = line(&day_two, &auth, "authorization", "success");
    assert_eq!(
        (
            capture["amount"].clone(),
            capture["created_at"].clone(),
            capture["merchant_name"].clone()
        ),
        (
            json!("2300.00"),
            json!("2024-05-15 10:00:00"),
            json!("Sandbox Coffee")
        )
    );
    let released = line(&day_two, &auth, "authorization", "reversed");
    assert_eq!(released["amount"], json!("200.00"));
    let sum: i64 = day_two.iter().map(balance_change).sum();
    assert_eq!(sum, end - end_of_day_one, "{day_two:#?}");
    // The first day alone: what it moved, the hold not counted.
    let day_one = statement("2024-05-14", "2024-05-14").await;
    let sum: i64 = day_one.iter().map(balance_change).sum();
    assert_eq!(sum, end_of_day_one, "{day_one:#?}");

    // A close: the rest goes back to the partner, and the statement says so.
    app.advance_ms(DAY_MS);
    p.ok("card-api/card/close", json!({"card_id": card})).await;
    let day_three = statement("2024-05-16", "2024-05-16").await;
    assert_eq!(day_three.len(), 1, "{day_three:#?}");
    assert_eq!(
        (day_three[0]["type"].clone(), day_three[0]["amount"].clone()),
        (json!("debit"), json!("7600.00"))
    );
    let all = statement("2024-05-01", "2024-05-31").await;
    assert_eq!(all.iter().map(balance_change).sum::<i64>(), 0, "{all:#?}");
}

#[tokio::test]
async fn the_same_person_in_cyrillic_with_another_phone_format_is_validated() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client("Иван", "Петров", "+7 (701) 123-45-67").await;
    let card = issue(&p, &client).await;
    let token = info(&p, &card).await["card_token"]
        .as_str()
        .unwrap()
        .to_string();
    let b = validate(
        &p,
        "card-api/external/cardholder_validate",
        "77011234567",
        "Ivan",
        "Petrov",
        &token,
    )
    .await;
    assert!(percent(&b) >= 90.0, "{b}");
    assert_eq!(b["fishy"], json!(0), "{b}");
    // The phone as a number, on the partner path.
    let b = p
        .ok(
            "partner/external/cardholder_validate",
            json!({"user_phone": 77011234567_i64, "first_name": "Ivan", "last_name": "Petrov",
                   "card_token": token}),
        )
        .await;
    assert!(percent(&b) >= 90.0, "{b}");
    assert_eq!(b["fishy"], json!(0), "{b}");
}

#[tokio::test]
async fn a_different_person_scores_low_and_is_fishy() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let client = p.client("Иван", "Петров", "+7 (701) 123-45-67").await;
    let card = issue(&p, &client).await;
    let token = info(&p, &card).await["card_token"]
        .as_str()
        .unwrap()
        .to_string();
    let b = validate(
        &p,
        "card-api/external/cardholder_validate",
        "77059876543",
        "Maria",
        "Sidorova",
        &token,
    )
    .await;
    assert!(percent(&b) < 50.0, "{b}");
    assert_eq!(b["fishy"], json!(1), "{b}");
    // An unknown card token is no card.
    p.refused(
        "card-api/external/cardholder_validate",
        json!({"user_phone": "77011234567", "first_name": "Ivan", "last_name": "Petrov",
               "card_token": "nosuchtoken"}),
        "card_not_found",
    )
    .await;
}
