//! The hosted checkout over raw HTTP, as a browser without JavaScript drives it: forms,
//! redirects, the 3-D Secure round trip, the SBP bank app, and what is never kept.

use crate::harness::*;
use paylink_sdk::testing::Receiver;
use paylink_server::md5_signature;
use serde_json::json;

/// A browser that does not follow redirects, so each step can be checked.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) struct Page {
    pub status: u16,
    pub location: String,
    pub text: String,
}

pub(crate) async fn get(url: &str, lang: &str) -> Page {
    let r = browser()
        .get(url)
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    page(r).await
}

pub(crate) async fn post(url: &str, fields: &[(&str, &str)]) -> Page {
    let pairs: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let r = browser()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&pairs))
        .send()
        .await
        .unwrap();
    page(r).await
}

pub(crate) async fn page(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if status == 200 || status == 422 {
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
    }
    Page {
        status,
        location,
        text: r.text().await.unwrap(),
    }
}

/// The value of `<input ... name="NAME" value="...">` in `html`.
pub(crate) fn input(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no input {name} in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("a value") + 7;
    let end = rest[v..].find('"').unwrap();
    rest[v..v + end]
        .replace("&#43;", "+")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// The `action` of the page's auto-submitting form.
fn action(html: &str) -> String {
    let at = html.find("id=\"autopost\"").expect("an autopost form");
    let start = html[..at].rfind("action=\"").unwrap() + 8;
    let end = html[start..].find('"').unwrap();
    html[start..start + end]
        .replace("&#47;", "/")
        .replace("&#58;", ":")
        .to_string()
}

pub(crate) async fn card_form(
    app: &TestApp,
    bill: &str,
    card: &str,
    expiry: &str,
    cvc: &str,
) -> (Page, String) {
    let form = get(&app.url(&format!("/transfer/{bill}")), "en").await;
    assert_eq!(form.status, 200, "{}", form.text);
    let token = input(&form.text, "form");
    let sent = post(
        &app.url(&format!("/transfer/{bill}/card")),
        &[
            ("form", &token),
            ("card_number", card),
            ("expiry", expiry),
            ("cvc", cvc),
            ("holder", "IVAN IVANOV"),
        ],
    )
    .await;
    (sent, token)
}

#[tokio::test]
async fn a_card_payment_redirects_the_payer_with_a_signed_form_and_a_twin_submit_pays_once() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_shop_urls(&r).await;
    let bill = app
        .bill(json!({"amount": "99.90", "order_id": "o-77", "custom": "x"}))
        .await;
    let (sent, token) = card_form(&app, &bill, "4242 4242 4242 4242", "12/30", "123").await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    let result = get(&sent.location, "en").await;
    assert_eq!(result.status, 200);
    assert_eq!(action(&result.text), r.url("/success"));
    assert_eq!(input(&result.text, "InvId"), "o-77");
    assert_eq!(input(&result.text, "OutSum"), "99.90");
    assert_eq!(input(&result.text, "CurrencyIn"), "RUB");
    assert_eq!(input(&result.text, "custom"), "x");
    assert_eq!(
        input(&result.text, "SignatureValue"),
        md5_signature(&["99.90", "o-77"], app.token())
    );
    // The form works without JavaScript: a visible button submits it.
    assert!(result.text.contains("id=\"continue\""));

    // The same form again (a double click, a reload): the same payment, no second charge.
    let twin = post(
        &app.url(&format!("/transfer/{bill}/card")),
        &[
            ("form", &token),
            ("card_number", "4242424242424242"),
            ("expiry", "12/30"),
            ("cvc", "123"),
        ],
    )
    .await;
    assert_eq!(twin.status, 303);
    assert_eq!(twin.location, sent.location);
    let payments = app.get("/api/v1/bill/payments", &[("id", &bill)]).await;
    assert_eq!(payments.ok()["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.bill_status(&bill).await["status"], json!("SUCCESS"));
    assert_eq!(
        r.wait_for("/postback", 1).await[0].field("Status"),
        "SUCCESS"
    );

    // A paid bill shows no form any more.
    let again = get(&app.url(&format!("/transfer/{bill}")), "en").await;
    assert!(again.text.contains("has been paid"), "{}", again.text);
    assert!(!again.text.contains("card-form"));
}

#[tokio::test]
async fn a_declined_card_goes_to_the_fail_url_and_without_urls_paylink_shows_the_result() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_shop_urls(&r).await;
    let bill = app.bill(json!({"amount": 10})).await;
    let (sent, _) = card_form(&app, &bill, "4000000000000002", "01/31", "999").await;
    let result = get(&sent.location, "en").await;
    assert_eq!(action(&result.text), r.url("/fail"));

    // Another merchant's shop has no URLs: paylink's own pages, in Russian for this browser.
    let other = app.new_merchant("Plain shop").await;
    let bill = app
        .bill_as(
            &other.api_token,
            json!({"amount": 10, "shop_id": other.shop_id.as_str()}),
        )
        .await;
    let form = get(&app.url(&format!("/transfer/{bill}")), "ru-RU,ru;q=0.9").await;
    assert!(form.text.contains("Номер карты"), "{}", form.text);
    let token = input(&form.text, "form");
    let declined = post(
        &app.url(&format!("/transfer/{bill}/card")),
        &[
            ("form", &token),
            ("card_number", "4000000000009995"),
            ("expiry", "01/31"),
            ("cvc", "999"),
        ],
    )
    .await;
    let shown = get(&declined.location, "ru").await;
    assert!(shown.text.contains("Оплата не прошла"), "{}", shown.text);
    assert!(shown.text.contains("400000******9995"), "{}", shown.text);
    // The bill can still be paid: the page offers another try.
    assert!(
        shown.text.contains(&format!("/transfer/{bill}\"")),
        "{}",
        shown.text
    );
    let form = get(&app.url(&format!("/transfer/{bill}")), "en").await;
    let token = input(&form.text, "form");
    let ok = post(
        &app.url(&format!("/transfer/{bill}/card")),
        &[
            ("form", &token),
            ("card_number", "5555555555554444"),
            ("expiry", "01/31"),
            ("cvc", "999"),
        ],
    )
    .await;
    let shown = get(&ok.location, "en").await;
    assert!(shown.text.contains("Payment successful"), "{}", shown.text);
}

#[tokio::test]
async fn bad_card_fields_are_shown_on_the_form_and_make_no_payment() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 10})).await;
    for (card, expiry, cvc) in [
        ("4242424242424241", "12/30", "123"),
        ("4242424242424242", "01/24", "123"),
        ("4242424242424242", "13/30", "123"),
        ("4242424242424242", "12/30", "12"),
        ("4242424242424242", "12/30", "12a"),
        ("", "", ""),
    ] {
        let (sent, _) = card_form(&app, &bill, card, expiry, cvc).await;
        assert_eq!(sent.status, 422, "{card} {expiry} {cvc}: {}", sent.text);
        assert!(sent.text.contains("id=\"error\""), "{}", sent.text);
        assert!(!sent.text.contains(card) || card.is_empty());
    }
    let missing_token = post(
        &app.url(&format!("/transfer/{bill}/card")),
        &[
            ("card_number", "4242424242424242"),
            ("expiry", "12/30"),
            ("cvc", "123"),
        ],
    )
    .await;
    assert_eq!(missing_token.status, 422);
    let payments = app.get("/api/v1/bill/payments", &[("id", &bill)]).await;
    assert!(payments.ok()["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn three_d_secure_confirms_or_fails_through_the_issuer_page() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_shop_urls(&r).await;
    let bill = app.bill(json!({"amount": 15, "type": "MULTI"})).await;
    for (verdict, expected, url) in [("Y", "SUCCESS", "/success"), ("N", "FAIL", "/fail")] {
        let (to_bank, _) = card_form(&app, &bill, "4000000000003220", "12/30", "123").await;
        assert_eq!(to_bank.status, 200, "{}", to_bank.text);
        assert_eq!(action(&to_bank.text), app.url("/sandbox/acs"));
        let (pareq, md, term) = (
            input(&to_bank.text, "PaReq"),
            input(&to_bank.text, "MD"),
            input(&to_bank.text, "TermUrl"),
        );
        assert_eq!(term, app.url(&format!("/transfer/{bill}/3ds")));
        // The sealed state carries no card number.
        assert!(!md.contains("4000000000003220"));
        let acs = post(
            &app.url("/sandbox/acs"),
            &[("PaReq", &pareq), ("MD", &md), ("TermUrl", &term)],
        )
        .await;
        assert_eq!(acs.status, 200);
        assert!(acs.text.contains("id=\"confirm\"") && acs.text.contains("id=\"fail\""));
        let back = post(
            &app.url("/sandbox/acs/answer"),
            &[
                ("PaReq", &pareq),
                ("MD", &md),
                ("TermUrl", &term),
                ("verdict", verdict),
            ],
        )
        .await;
        assert_eq!(action(&back.text), term);
        let pares = input(&back.text, "PaRes");
        let done = post(&term, &[("PaRes", &pares), ("MD", &md)]).await;
        assert_eq!(done.status, 303, "{}", done.text);
        // The issuer's answer replayed finds the same payment.
        let replay = post(&term, &[("PaRes", &pares), ("MD", &md)]).await;
        assert_eq!(replay.location, done.location);
        let result = get(&done.location, "en").await;
        assert_eq!(action(&result.text), r.url(url));
        let postbacks = r
            .wait_for("/postback", if verdict == "Y" { 1 } else { 2 })
            .await;
        assert_eq!(postbacks.last().unwrap().field("Status"), expected);
    }

    // A forged answer fails the payment; tampered state is refused.
    let (to_bank, _) = card_form(&app, &bill, "4000000000003220", "12/30", "123").await;
    let (md, term) = (input(&to_bank.text, "MD"), input(&to_bank.text, "TermUrl"));
    let forged = post(&term, &[("PaRes", "Y.0000"), ("MD", &md)]).await;
    let result = get(&forged.location, "en").await;
    assert_eq!(action(&result.text), r.url("/fail"));
    let tampered = post(&term, &[("PaRes", "Y.0000"), ("MD", "AAAA")]).await;
    assert!(
        tampered.text.contains("no longer valid"),
        "{}",
        tampered.text
    );
    // The sandbox issuer answers only to paylink's own return address.
    let open_redirect = post(
        &app.url("/sandbox/acs"),
        &[
            ("PaReq", "x"),
            ("MD", "y"),
            ("TermUrl", "https://evil.example/steal"),
        ],
    )
    .await;
    assert_eq!(open_redirect.status, 400);
}

#[tokio::test]
async fn a_payer_at_the_issuer_does_not_hold_a_normal_bill_and_comes_back_to_a_paid_one() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": 15})).await;
    // Payer A is sent to the issuer: no money is taken until they are back.
    let (to_bank, _) = card_form(&app, &bill, "4000000000003220", "12/30", "123").await;
    assert_eq!(action(&to_bank.text), app.url("/sandbox/acs"));
    let (pareq, md, term) = (
        input(&to_bank.text, "PaReq"),
        input(&to_bank.text, "MD"),
        input(&to_bank.text, "TermUrl"),
    );
    // Meanwhile payer B pays: the bill is not held by A's challenge.
    let (paid, _) = card_form(&app, &bill, CARD_OK, "12/30", "123").await;
    assert_eq!(paid.status, 303, "{}", paid.text);
    // A confirms at the issuer and is told the bill is paid; nothing is charged twice.
    let back = post(
        &app.url("/sandbox/acs/answer"),
        &[
            ("PaReq", &pareq),
            ("MD", &md),
            ("TermUrl", &term),
            ("verdict", "Y"),
        ],
    )
    .await;
    let pares = input(&back.text, "PaRes");
    let done = post(&term, &[("PaRes", &pares), ("MD", &md)]).await;
    assert!(
        done.text.contains("This bill has been paid."),
        "{} {}",
        done.status,
        done.text
    );
    let payments = app.get("/api/v1/bill/payments", &[("id", &bill)]).await;
    let data = payments.ok()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{}", payments.text);
    assert_eq!(data[0]["status"], json!("SUCCESS"));
}

#[tokio::test]
async fn sbp_pays_from_the_bank_app_with_the_amount_the_payer_chose() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_shop_urls(&r).await;
    let bill = app.bill(json!({"amount": 100, "type": "MULTI"})).await;
    let chosen = get(&app.url(&format!("/transfer/{bill}?method=SBP")), "en").await;
    assert_eq!(chosen.status, 303);
    let sbp = get(&chosen.location, "en").await;
    assert!(sbp.text.contains("<svg"), "{}", sbp.text);
    assert!(sbp.text.contains("http-equiv=\"refresh\""));
    let bank = sbp.text.split("id=\"sbp-open\" href=\"").nth(1).unwrap();
    let bank_url = bank[..bank.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        bank_url.contains("type=02") && bank_url.contains("sum=10000") && bank_url.contains("crc="),
        "{bank_url}"
    );
    let app_page = get(&bank_url, "en").await;
    assert_eq!(input(&app_page.text, "amount"), "100.00");
    let qrc = input(&app_page.text, "qrc");
    let bad = post(
        &app.url(&format!("/sandbox/sbp/{bill}")),
        &[("qrc", &qrc), ("amount", "12.345")],
    )
    .await;
    assert_eq!(bad.status, 422);
    let paid = post(
        &app.url(&format!("/sandbox/sbp/{bill}")),
        &[("qrc", &qrc), ("amount", "60")],
    )
    .await;
    assert_eq!(paid.status, 303);
    let result = get(&paid.location, "en").await;
    assert_eq!(action(&result.text), r.url("/success"));
    assert_eq!(input(&result.text, "OutSum"), "60.00");
    assert_eq!(
        r.wait_for("/postback", 1).await[0].field("Status"),
        "UNDERPAID"
    );
    // The waiting SBP page now moves on to the result by itself.
    let waited = get(&chosen.location, "en").await;
    assert_eq!(waited.status, 303);
    assert_eq!(waited.location, paid.location);
}

#[tokio::test]
async fn a_bill_restricted_to_one_method_offers_only_that_one() {
    let app = spawn_app().await;
    let card_only = app
        .bill(json!({"amount": 5, "payment_method": "BANK_CARD"}))
        .await;
    let page = get(&app.url(&format!("/transfer/{card_only}?method=SBP")), "en").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("card-form"));
    assert!(!page.text.contains("method-SBP"));
    let sbp_only = app
        .bill(json!({"amount": 5, "payment_method": "SBP"}))
        .await;
    let page = get(&app.url(&format!("/transfer/{sbp_only}")), "en").await;
    assert_eq!(page.status, 303);
    // The card endpoint refuses too: the domain's rule, not only the page's.
    let (sent, _) = {
        let sbp = get(&page.location, "en").await;
        assert!(!sbp.text.contains("card-form"));
        let token = "AAAAAAAAAAAAAAAA".to_string();
        let sent = post(
            &app.url(&format!("/transfer/{sbp_only}/card")),
            &[
                ("form", &token),
                ("card_number", "4242424242424242"),
                ("expiry", "12/30"),
                ("cvc", "123"),
            ],
        )
        .await;
        (sent, token)
    };
    assert_ne!(sent.status, 303);
    let payments = app.get("/api/v1/bill/payments", &[("id", &sbp_only)]).await;
    assert!(payments.ok()["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_share_page_has_a_qr_code_of_the_payment_page_and_speaks_the_bills_language() {
    let app = spawn_app().await;
    let bill = app
        .bill(json!({"amount": 5, "locale": "ru", "name": "Кофе"}))
        .await;
    let share = get(&app.url(&format!("/link/{bill}")), "en").await;
    assert!(share.text.contains("<svg"));
    assert!(share.text.contains("lang=\"ru\""));
    assert!(share.text.contains("Оплатить"));
    assert!(share.text.contains(&format!("/transfer/{bill}")));
    let en = app.bill(json!({"amount": 5})).await;
    let share = get(&app.url(&format!("/link/{en}")), "de-DE,en;q=0.5").await;
    assert!(
        share.text.contains("lang=\"en\"") && share.text.contains(">Pay<"),
        "{}",
        share.text
    );
}

#[tokio::test]
async fn sixteen_simultaneous_submits_of_one_form_make_one_payment() {
    let app = spawn_app().await;
    // MULTI: nothing but the form token stops a second payment.
    let bill = app.bill(json!({"amount": 12, "type": "MULTI"})).await;
    let form = get(&app.url(&format!("/transfer/{bill}")), "en").await;
    let token = input(&form.text, "form");
    let url = app.url(&format!("/transfer/{bill}/card"));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(16));
    let submits: Vec<_> = (0..16)
        .map(|_| {
            let (url, token, barrier) = (url.clone(), token.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                post(
                    &url,
                    &[
                        ("form", &token),
                        ("card_number", "4242424242424242"),
                        ("expiry", "12/30"),
                        ("cvc", "123"),
                    ],
                )
                .await
            })
        })
        .collect();
    let mut locations = std::collections::HashSet::new();
    for s in submits {
        let page = s.await.unwrap();
        assert_eq!(page.status, 303, "{}", page.text);
        locations.insert(page.location);
    }
    assert_eq!(locations.len(), 1, "{locations:?}");
    let payments = app.get("/api/v1/bill/payments", &[("id", &bill)]).await;
    assert_eq!(payments.ok()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_commission_changed_during_the_challenge_does_not_make_the_payment_underpaid() {
    use paylink_core::money::Rate;
    use paylink_server::ops::merchants::{self, ShopChanges};
    let app = spawn_app().await;
    // 100.00 with the default 3.5% on top: the payer is charged 103.50.
    let bill = app
        .bill(json!({"amount": "100.00", "payer_pays_commission": true}))
        .await;
    let (to_bank, _) = card_form(&app, &bill, "4000000000003220", "12/30", "123").await;
    assert_eq!(to_bank.status, 200, "{}", to_bank.text);
    let (pareq, md, term) = (
        input(&to_bank.text, "PaReq"),
        input(&to_bank.text, "MD"),
        input(&to_bank.text, "TermUrl"),
    );
    // While the payer is at the issuer, the operator raises the shop's commission to 5%.
    let changes = ShopChanges {
        commission: Some(Rate::parse_percent("5")),
        ..ShopChanges::default()
    };
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        changes,
        true,
        0,
    )
    .await
    .unwrap();
    let back = post(
        &app.url("/sandbox/acs/answer"),
        &[
            ("PaReq", &pareq),
            ("MD", &md),
            ("TermUrl", &term),
            ("verdict", "Y"),
        ],
    )
    .await;
    let pares = input(&back.text, "PaRes");
    let done = post(&term, &[("PaRes", &pares), ("MD", &md)]).await;
    assert_eq!(done.status, 303, "{}", done.text);
    // Paid what the page showed, at the rate it was shown at: SUCCESS, the bill paid.
    let payments = app.get("/api/v1/bill/payments", &[("id", &bill)]).await;
    let p = payments.ok()["data"][0].clone();
    assert_eq!(p["status"], json!("SUCCESS"), "{p}");
    assert_eq!(p["amount"], json!(103.5), "{p}");
    assert_eq!(p["commission"], json!(3.5), "{p}");
    let status = app.get("/api/v1/bill/status", &[("id", &bill)]).await;
    assert_eq!(status.ok()["status"], json!("SUCCESS"), "{}", status.text);
}
