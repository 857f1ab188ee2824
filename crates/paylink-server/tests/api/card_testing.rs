//! Card testing: declined card payments are limited per bill and per client address within a
//! window, on the payment page and on `/sandbox/pay`; past the limit even a good card is
//! refused with a message (page) or `429 api:error.too_many_failed_attempts` (API), until the
//! declines leave the window.

use crate::checkout_pages::{browser, get, input, page, Page};
use crate::harness::*;
use paylink_core::payment::CardAttemptLimits;
use paylink_server::Settings;
use serde_json::json;

const HOUR_MS: i64 = 3_600_000;
const DECLINED: &str = "4000000000000002";
const LIMITED_EN: &str = "Too many card payments have been declined. Please try again later.";
const LIMITED_RU: &str = "Слишком много отклонённых оплат картой. Попробуйте позже.";

/// At most `per_bill` declines a bill and `per_client` an address, within the hour.
fn limits(per_bill: i64, per_client: i64) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.checkout.card_attempts = CardAttemptLimits {
            per_bill,
            per_client,
            window: HOUR_MS,
        }
    }
}

/// One card attempt on the payment page of `bill`, through a fresh form, optionally sent with
/// an `X-Forwarded-For` header.
async fn attempt(app: &TestApp, bill: &str, card: &str, forwarded: Option<&str>) -> Page {
    let form = get(&app.url(&format!("/transfer/{bill}")), "en").await;
    assert_eq!(form.status, 200, "{}", form.text);
    let token = input(&form.text, "form");
    let pairs: Vec<(String, String)> = [
        ("form", token.as_str()),
        ("card_number", card),
        ("expiry", "12/30"),
        ("cvc", "123"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut rb = browser()
        .post(app.url(&format!("/transfer/{bill}/card")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&pairs));
    if let Some(f) = forwarded {
        rb = rb.header("x-forwarded-for", f);
    }
    page(rb.send().await.unwrap()).await
}

/// A declined attempt: the payer is sent to the failed payment's result.
async fn declined(app: &TestApp, bill: &str, forwarded: Option<&str>) {
    let p = attempt(app, bill, DECLINED, forwarded).await;
    assert_eq!(p.status, 303, "{}", p.text);
}

fn refused(p: &Page) {
    assert_eq!(p.status, 429, "{}", p.text);
    assert!(p.text.contains(LIMITED_EN), "{}", p.text);
    assert!(!p.text.contains("card-form"), "{}", p.text);
}

async fn payments_of(app: &TestApp, bill: &str) -> usize {
    let a = app.get("/api/v1/bill/payments", &[("id", bill)]).await;
    a.ok()["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_bill_refuses_cards_after_its_declines_until_the_window_passes() {
    let app = spawn_app_with(limits(3, 100)).await;
    let bill = app.bill(json!({"amount": "10.00", "type": "multi"})).await;
    for _ in 0..3 {
        declined(&app, &bill, None).await;
    }
    // Even a good card is refused now, on the page and through the API, and charges nothing.
    refused(&attempt(&app, &bill, CARD_OK, None).await);
    app.pay_card(&bill, CARD_OK)
        .await
        .error(429, "api:error.too_many_failed_attempts");
    assert_eq!(payments_of(&app, &bill).await, 3);
    // In the bill's language.
    let ru = app
        .bill(json!({"amount": "10.00", "type": "multi", "locale": "ru"}))
        .await;
    for _ in 0..3 {
        declined(&app, &ru, None).await;
    }
    let p = attempt(&app, &ru, CARD_OK, None).await;
    assert_eq!(p.status, 429);
    assert!(p.text.contains(LIMITED_RU), "{}", p.text);
    // SBP is not a card: it still pays.
    assert_eq!(
        app.pay_sbp(&bill, None).await.ok()["status"],
        json!("SUCCESS")
    );

    // Not a moment early: the declines count for the whole window...
    app.advance_ms(HOUR_MS - 1);
    refused(&attempt(&app, &bill, CARD_OK, None).await);
    // ...and not after it.
    app.advance_ms(2);
    let ok = attempt(&app, &bill, CARD_OK, None).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    let result = get(&ok.location, "en").await;
    assert!(
        result.text.contains("Payment successful"),
        "{}",
        result.text
    );
}

#[tokio::test]
async fn one_address_is_limited_across_bills_and_the_api() {
    let app = spawn_app_with(limits(3, 5)).await;
    let bills = [
        app.bill(json!({"amount": "10.00"})).await,
        app.bill(json!({"amount": "10.00"})).await,
        app.bill(json!({"amount": "10.00"})).await,
    ];
    // Five declines from this address, none of the bills at its own limit of three; the
    // API's declines count too (the merchant's server calling it is a client as well).
    declined(&app, &bills[0], None).await;
    declined(&app, &bills[0], None).await;
    declined(&app, &bills[1], None).await;
    declined(&app, &bills[1], None).await;
    assert_eq!(
        app.pay_card(&bills[2], DECLINED).await.ok()["status"],
        json!("FAIL")
    );
    let fresh = app.bill(json!({"amount": "10.00"})).await;
    refused(&attempt(&app, &fresh, CARD_OK, None).await);
    app.pay_card(&fresh, CARD_OK)
        .await
        .error(429, "api:error.too_many_failed_attempts");
    // Without a trusted proxy, X-Forwarded-For is the client's own word: ignored.
    refused(&attempt(&app, &fresh, CARD_OK, Some("198.51.100.9")).await);
    assert_eq!(payments_of(&app, &fresh).await, 0);

    app.advance_ms(HOUR_MS + 1);
    let ok = attempt(&app, &fresh, CARD_OK, None).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_counts_on_its_own() {
    let app = spawn_app_with(|s| {
        limits(3, 5)(s);
        s.checkout.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let mut bills = Vec::new();
    for _ in 0..3 {
        bills.push(app.bill(json!({"amount": "10.00"})).await);
    }
    // Five declines from one client behind the proxy (the proxy appends what it saw).
    let client = "10.1.1.1, 203.0.113.7";
    for (bill, n) in [(&bills[0], 2), (&bills[1], 2), (&bills[2], 1)] {
        for _ in 0..n {
            declined(&app, bill, Some(client)).await;
        }
    }
    let fresh = app.bill(json!({"amount": "10.00"})).await;
    refused(&attempt(&app, &fresh, CARD_OK, Some(client)).await);
    // Another client through the same proxy pays.
    let other = attempt(&app, &fresh, CARD_OK, Some("203.0.113.8")).await;
    assert_eq!(other.status, 303, "{}", other.text);
}

#[tokio::test]
async fn a_bill_many_payers_pay_is_not_shut_for_all_by_one_payers_declines() {
    let app = spawn_app_with(|s| {
        limits(3, 100)(s);
        s.checkout.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (tester, payer) = (Some("203.0.113.7"), Some("203.0.113.8"));
    // A MULTI bill (a donation page, say): three wrong cards from one address shut it for
    // that address only.
    let multi = app.bill(json!({"amount": "10.00", "type": "multi"})).await;
    for _ in 0..3 {
        declined(&app, &multi, tester).await;
    }
    refused(&attempt(&app, &multi, CARD_OK, tester).await);
    let other = attempt(&app, &multi, CARD_OK, payer).await;
    assert_eq!(other.status, 303, "{}", other.text);
    assert!(get(&other.location, "en")
        .await
        .text
        .contains("Payment successful"));
    // A NORMAL bill is one payer's: its declines shut it whoever tries next.
    let normal = app.bill(json!({"amount": "10.00"})).await;
    for _ in 0..3 {
        declined(&app, &normal, tester).await;
    }
    refused(&attempt(&app, &normal, CARD_OK, payer).await);
    assert_eq!(payments_of(&app, &normal).await, 3);
}
