//! Who may be paid: a banned merchant's bills and a disabled shop's bills take no payment on
//! any path (the share and payment pages, the card form, the 3-D Secure return, the SBP bank
//! app, `/sandbox/pay`), and the payer is told why, in the page's language or in the Cardlink
//! error shape.

use crate::checkout_pages::{card_form, get, input, post};
use crate::harness::*;
use paylink_server::ops::merchants::{self, ShopChanges};
use serde_json::json;

const BANNED_EN: &str = "This merchant cannot accept payments.";
const BANNED_RU: &str = "Этот продавец не может принимать платежи.";
const DISABLED_EN: &str = "The shop does not accept payments at the moment.";
const DISABLED_RU: &str = "Магазин сейчас не принимает платежи.";

async fn set_shop_enabled(app: &TestApp, enabled: bool) {
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        ShopChanges {
            enabled: Some(enabled),
            ..ShopChanges::default()
        },
        true,
        0,
    )
    .await
    .expect("the shop is updated");
}

async fn set_banned(app: &TestApp, banned: bool) {
    merchants::set_banned(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        app.merchant.merchant_id.as_str(),
        banned,
        0,
    )
    .await
    .expect("the merchant is (un)banned");
}

/// A form token, a 3-D Secure session and an SBP code, all taken while the bill was payable.
struct Started {
    form: String,
    md: String,
    qrc: String,
}

async fn start_everything(app: &TestApp, bill: &str) -> Started {
    let page = get(&app.url(&format!("/transfer/{bill}")), "en").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let form = input(&page.text, "form");
    let (to_bank, _) = card_form(app, bill, "4000000000003220", "12/30", "123").await;
    assert_eq!(to_bank.status, 200, "{}", to_bank.text);
    let md = input(&to_bank.text, "MD");
    let sbp = get(&app.url(&format!("/transfer/{bill}?method=sbp")), "en").await;
    assert_eq!(sbp.status, 303);
    let qrc = sbp.location.rsplit('/').next().unwrap().to_string();
    Started { form, md, qrc }
}

/// Every payer path of `bill` refuses with `message` (English), and nothing is paid.
async fn every_path_refuses(app: &TestApp, bill: &str, s: &Started, message: &str) {
    for path in [format!("/transfer/{bill}"), format!("/link/{bill}")] {
        let page = get(&app.url(&path), "en").await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.text.contains(message), "{path}: {}", page.text);
        assert!(!page.text.contains("card-form"), "{path}");
    }
    let card = post(
        &app.url(&format!("/transfer/{bill}/card")),
        &[
            ("form", &s.form),
            ("card_number", "4242424242424242"),
            ("expiry", "12/30"),
            ("cvc", "123"),
        ],
    )
    .await;
    assert_eq!(card.status, 200, "{}", card.text);
    assert!(card.text.contains(message), "{}", card.text);
    let three_ds = post(
        &app.url(&format!("/transfer/{bill}/3ds")),
        &[("PaRes", "Y.0000"), ("MD", &s.md)],
    )
    .await;
    assert!(three_ds.text.contains(message), "{}", three_ds.text);
    let sbp = post(
        &app.url(&format!("/sandbox/sbp/{bill}")),
        &[("qrc", &s.qrc), ("amount", "10.00")],
    )
    .await;
    assert!(sbp.text.contains(message), "{}", sbp.text);
    for path in [
        format!("/transfer/{bill}/sbp/{}", s.qrc),
        format!("/sandbox/sbp/{bill}?qrc={}", s.qrc),
    ] {
        let page = get(&app.url(&path), "en").await;
        assert!(page.text.contains(message), "{path}: {}", page.text);
    }
}

async fn nothing_paid(app: &TestApp, bill: &str) {
    let payments = app.get("/api/v1/bill/payments", &[("id", bill)]).await;
    assert_eq!(
        payments.ok()["data"].as_array().unwrap().len(),
        0,
        "{}",
        payments.text
    );
    assert_eq!(app.bill_status(bill).await["status"], json!("NEW"));
}

#[tokio::test]
async fn a_banned_merchants_bills_cannot_be_paid_and_the_payer_is_told_why() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": "10.00"})).await;
    let started = start_everything(&app, &bill).await;
    set_banned(&app, true).await;

    every_path_refuses(&app, &bill, &started, BANNED_EN).await;
    let ru = get(&app.url(&format!("/transfer/{bill}")), "ru-RU,ru;q=0.9").await;
    assert!(ru.text.contains(BANNED_RU), "{}", ru.text);
    // The API refuses the banned merchant in the Cardlink shape.
    app.pay_card(&bill, CARD_OK)
        .await
        .error(403, "api:error.merchant_banned");

    set_banned(&app, false).await;
    nothing_paid(&app, &bill).await;
    // Unbanned, the bill is payable again.
    let (paid, _) = card_form(&app, &bill, "4242424242424242", "12/30", "123").await;
    assert_eq!(paid.status, 303, "{}", paid.text);
    assert_eq!(app.bill_status(&bill).await["status"], json!("SUCCESS"));
}

#[tokio::test]
async fn a_disabled_shops_bills_cannot_be_paid_on_any_path() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": "10.00"})).await;
    let started = start_everything(&app, &bill).await;
    set_shop_enabled(&app, false).await;

    every_path_refuses(&app, &bill, &started, DISABLED_EN).await;
    let ru = get(&app.url(&format!("/link/{bill}")), "ru").await;
    assert!(ru.text.contains(DISABLED_RU), "{}", ru.text);
    let a = app.pay_card(&bill, CARD_OK).await;
    a.error(403, "api:error.shop_not_enabled");
    assert_json(&a);
    app.pay_sbp(&bill, None)
        .await
        .error(403, "api:error.shop_not_enabled");
    nothing_paid(&app, &bill).await;

    set_shop_enabled(&app, true).await;
    assert_eq!(
        app.pay_card(&bill, CARD_OK).await.ok()["status"],
        json!("SUCCESS")
    );
}
