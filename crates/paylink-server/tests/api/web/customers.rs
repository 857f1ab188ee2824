//! The payers' pages of the web app (issue 13): "Find transactions" (a charge by what a bank
//! statement shows, exact matches only, rate limited per address) and disputes ("charged but
//! didn't buy anything?"), and the merchant's side of disputes: the list, one dispute, the
//! reply. Payments are made with sandbox cards; emails are read from the outbox.

use super::{sign_up, Browser, Page, PASSWORD};
use crate::harness::*;
use paylink_core::dispute::{Dispute, DisputeStatus};
use paylink_core::id::DisputeId;
use paylink_store::MailRecord;
use serde_json::json;

/// The card every search looks for, and its mask.
const CARD: &str = "4111111111111111";
const MASK: &str = "411111******1111";
/// The day of [`START`] (UTC), as a payer types it.
const TODAY: &str = "2024-05-14";
const FIFTEEN_MINUTES_MS: i64 = 15 * 60 * 1000;

/// Pays a new bill of `amount` in `shop_id` (as `token`) with `card`; answers the bill's id and
/// the payment's id.
async fn card_payment(
    app: &TestApp,
    token: &str,
    shop_id: &str,
    amount: &str,
    card: &str,
) -> (String, String) {
    let bill = app
        .bill_as(token, json!({"amount": amount, "shop_id": shop_id}))
        .await;
    let a = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(token),
            Body::Json(json!({"bill_id": bill, "method": "BANK_CARD", "card_number": card})),
        )
        .await;
    let p = a.ok();
    assert_eq!(p["status"], json!("SUCCESS"), "{}", a.text);
    let payment = p["id"].as_str().expect("a payment id").to_string();
    (bill, payment)
}

/// A card payment of the harness's merchant (its shop is "Test merchant").
async fn default_payment(app: &TestApp, amount: &str, card: &str) -> (String, String) {
    card_payment(app, app.token(), app.shop(), amount, card).await
}

/// A merchant signed up (and signed in) through the web app, with a shop of its own name.
struct WebMerchant {
    browser: Browser,
    token: String,
    shop_id: String,
}

async fn web_merchant(app: &TestApp, email: &str, shop: &str) -> WebMerchant {
    let (browser, page) = sign_up(app, email, PASSWORD, shop).await;
    page.assert_html();
    let token = page.text_of("token").expect("the new token is shown");
    let shops = page.shop_ids();
    assert_eq!(shops.len(), 1, "{}", page.text);
    WebMerchant {
        browser,
        token,
        shop_id: shops[0].clone(),
    }
}

/// Searches as a payer does, through the form.
async fn search(b: &mut Browser, first6: &str, last4: &str, date: &str, amount: &str) -> Page {
    b.submit(
        "/find-transactions",
        "/find-transactions",
        &[
            ("first6", first6),
            ("last4", last4),
            ("date", date),
            ("amount", amount),
        ],
    )
    .await
}

/// The `<tr class="charge">` rows of a results page, as HTML.
fn charge_rows(page: &Page) -> Vec<String> {
    rows(page, "<tr class=\"charge\">")
}

/// The `<tr class="dispute">` rows of the merchant's list, as HTML.
fn dispute_rows(page: &Page) -> Vec<String> {
    rows(page, "<tr class=\"dispute\">")
}

fn rows(page: &Page, opening: &str) -> Vec<String> {
    page.text
        .match_indices(opening)
        .map(|(i, _)| {
            let rest = &page.text[i..];
            let end = rest.find("</tr>").map_or(rest.len(), |e| e + "</tr>".len());
            rest[..end].to_string()
        })
        .collect()
}

/// A search page that found nothing: 200, the no-match element, no rows, no error.
#[track_caller]
fn assert_no_match(page: &Page) {
    page.assert_html();
    page.assert_shows("id=\"no-match\"");
    page.assert_hides("<tr class=\"charge\">");
    page.assert_hides("id=\"error\"");
}

/// The dispute links (`/disputes/new?payment=...`) of a results page.
fn dispute_links(page: &Page) -> Vec<String> {
    let marker = "href=\"/disputes/new?payment=";
    page.text
        .match_indices(marker)
        .filter_map(|(i, _)| {
            let start = i + "href=\"".len();
            let len = page.text[start..].find('"')?;
            Some(page.text[start..start + len].replace("&amp;", "&"))
        })
        .collect()
}

/// The dispute form of a found charge: its payment id and the search's proof.
fn dispute_form(app: &TestApp, payment: &str) -> String {
    let proof = paylink_server::ops::disputes::charge_proof(&app.keys, payment);
    format!("/disputes/new?payment={payment}&proof={proof}")
}

/// The value of the form's hidden `payment` field.
fn payment_field(page: &Page) -> Option<String> {
    let marker = "name=\"payment\" value=\"";
    let at = page.text.find(marker)? + marker.len();
    let len = page.text[at..].find('"')?;
    Some(page.text[at..at + len].to_string())
}

/// Opens the dispute form at `form` (`/disputes/new`, perhaps with `?payment=`) and sends it
/// with `payment`, `email` and `text`.
async fn send_dispute(b: &mut Browser, form: &str, payment: &str, email: &str, text: &str) -> Page {
    // The search's proof travels with the payment id, as the form's hidden field carries it.
    let proof = form.split("proof=").nth(1).unwrap_or("");
    b.submit(
        form,
        "/disputes/new",
        &[
            ("payment", payment),
            ("proof", proof),
            ("email", email),
            ("text", text),
        ],
    )
    .await
}

/// The dispute's reference on the "received" page.
#[track_caller]
fn reference_of(page: &Page) -> String {
    page.assert_html();
    page.assert_shows("id=\"notice\"");
    let reference = page
        .text_of("reference")
        .unwrap_or_else(|| panic!("no reference in {}", page.text));
    assert!(is_base62_id(&reference), "{reference}");
    reference
}

/// The outbox's emails to `to`, newest first.
async fn mails_to(app: &TestApp, to: &str) -> Vec<MailRecord> {
    paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 100)
        .await
        .expect("the outbox reads")
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

/// The dispute `reference` as stored.
async fn stored_dispute(app: &TestApp, reference: &str) -> Dispute {
    let id = DisputeId::parse(reference).expect("a dispute id");
    app.store
        .dispute(&id)
        .await
        .expect("the store reads")
        .expect("the dispute exists")
}

/// A refused dispute form: 422, the form again with an error, no reference.
#[track_caller]
fn assert_dispute_refused(page: &Page) {
    assert_eq!(page.status, 422, "{}", page.text);
    page.assert_shows("id=\"error\"");
    page.assert_hides("id=\"reference\"");
    page.assert_shows("action=\"/disputes/new\"");
}

#[tokio::test]
async fn find_transactions_shows_an_exact_match_with_nothing_else_of_the_merchant() {
    let app = spawn_app().await;
    let shop = web_merchant(&app, "owner@bakery.test", "Moonlight Bakery").await;
    let (bill, payment) = card_payment(&app, &shop.token, &shop.shop_id, "1234.50", CARD).await;
    // Another card, another amount: not this payer's charges.
    card_payment(&app, &shop.token, &shop.shop_id, "1234.50", CARD_OK).await;
    card_payment(&app, &shop.token, &shop.shop_id, "99", CARD).await;

    // No session, no account: a fresh browser.
    let mut payer = Browser::new(&app);
    let form = payer.get("/find-transactions").await;
    form.assert_html();
    form.assert_hides("id=\"results\"");
    let page = search(&mut payer, "411111", "1111", TODAY, "1234.50").await;
    page.assert_html();
    page.assert_hides("id=\"no-match\"");
    let rows = charge_rows(&page);
    assert_eq!(rows.len(), 1, "{}", page.text);
    let row = &rows[0];
    for shown in ["Moonlight Bakery", TODAY, "1234.50 RUB", "SUCCESS", MASK] {
        assert!(row.contains(shown), "{shown:?} not in {row}");
    }
    assert_eq!(dispute_links(&page), vec![dispute_form(&app, &payment)]);
    // Nothing of the merchant but the shop's name.
    page.assert_hides(&bill);
    page.assert_hides(&shop.shop_id);
    page.assert_hides(&shop.token);
    page.assert_hides("owner@bakery.test");
    page.assert_hides(CARD);
    // The same amount in other spellings matches too.
    for amount in ["1234.5", " 1234.50 "] {
        let page = search(&mut payer, "411111", "1111", TODAY, amount).await;
        assert_eq!(charge_rows(&page).len(), 1, "{amount:?}: {}", page.text);
    }

    // The harness's merchant (its id known here): neither its id nor its shop's id shows.
    let (bill, _) = card_payment(&app, app.token(), app.shop(), "77.70", CARD).await;
    let page = search(&mut payer, "411111", "1111", TODAY, "77.70").await;
    let rows = charge_rows(&page);
    assert_eq!(rows.len(), 1, "{}", page.text);
    assert!(rows[0].contains("Test merchant"), "{}", rows[0]);
    page.assert_hides(&bill);
    page.assert_hides(app.merchant.merchant_id.as_str());
    page.assert_hides(app.shop());
}

#[tokio::test]
async fn find_transactions_needs_every_field_to_match() {
    let app = spawn_app().await;
    default_payment(&app, "1234.50", CARD).await;
    let mut payer = Browser::new(&app);
    for (what, first6, last4, date, amount) in [
        ("another last4", "411111", "1112", TODAY, "1234.50"),
        ("an amount 0.01 less", "411111", "1111", TODAY, "1234.49"),
        ("an amount 0.01 more", "411111", "1111", TODAY, "1234.51"),
        // The day searched is the statement's wherever the payer is: a day more on either
        // side is another day everywhere.
        ("two days before", "411111", "1111", "2024-05-12", "1234.50"),
        ("two days after", "411111", "1111", "2024-05-16", "1234.50"),
        ("another first6", "424242", "1111", TODAY, "1234.50"),
    ] {
        let page = search(&mut payer, first6, last4, date, amount).await;
        assert_eq!(page.status, 200, "{what}: {}", page.text);
        assert_no_match(&page);
        // What the payer typed stays in the form.
        assert_eq!(
            page.input_value("first6").as_deref(),
            Some(first6),
            "{what}"
        );
        assert_eq!(
            page.input_value("amount").as_deref(),
            Some(amount),
            "{what}"
        );
    }
}

#[tokio::test]
async fn find_transactions_shows_only_the_payments_of_the_day_searched() {
    let app = spawn_app().await;
    let (_, today) = default_payment(&app, "500", CARD).await;
    app.advance_ms(2 * DAY_MS);
    let (_, later) = default_payment(&app, "500", CARD).await;
    let mut payer = Browser::new(&app);

    let page = search(&mut payer, "411111", "1111", TODAY, "500").await;
    assert_eq!(
        dispute_links(&page),
        vec![dispute_form(&app, &today)],
        "{}",
        page.text
    );
    page.assert_hides(&later);

    let page = search(&mut payer, "411111", "1111", "2024-05-16", "500.00").await;
    assert_eq!(
        dispute_links(&page),
        vec![dispute_form(&app, &later)],
        "{}",
        page.text
    );
    page.assert_hides(&today);
}

#[tokio::test]
async fn find_transactions_takes_the_statements_day_and_a_comma_amount() {
    let app = spawn_app().await;
    // 22:30 UTC on the 14th: 01:30 on the 15th in Moscow, where the bank's statement says
    // "15.05.2024, 1 500,00".
    app.advance_ms(12 * 60 * 60 * 1000 + 30 * 60 * 1000);
    let (_, payment) = default_payment(&app, "1500", CARD).await;
    let mut payer = Browser::new(&app);
    for (date, amount) in [
        ("2024-05-15", "1 500,00"),
        ("2024-05-15", "1500,00"),
        ("2024-05-14", "1500"),
    ] {
        let page = search(&mut payer, "411111", "1111", date, amount).await;
        assert_eq!(
            dispute_links(&page),
            vec![dispute_form(&app, &payment)],
            "{date} {amount:?}: {}",
            page.text
        );
        // Its time is shown with its zone.
        assert!(page.text.contains("22:30:00 UTC"), "{}", page.text);
    }
}

#[tokio::test]
async fn malformed_search_fields_answer_like_no_match() {
    let app = spawn_app().await;
    default_payment(&app, "1234.50", CARD).await;
    let mut payer = Browser::new(&app);
    let huge = "9".repeat(10_000);
    // At most 10 searches per address: split the cases across windows.
    let cases = [
        ("41111", "1111", TODAY, "1234.50"),
        ("4111111", "1111", TODAY, "1234.50"),
        ("41111a", "1111", TODAY, "1234.50"),
        ("411111", "111", TODAY, "1234.50"),
        ("411111", "1111", "14.05.2024", "1234.50"),
        ("411111", "1111", "2024-13-40", "1234.50"),
        ("411111", "1111", "", "1234.50"),
        ("411111", "1111", TODAY, "1234.505"),
        ("411111", "1111", TODAY, "1,234.50"),
        ("411111", "1111", TODAY, "-1234.50"),
        ("411111", "1111", TODAY, "0"),
        ("411111", "1111", TODAY, "abc"),
        ("", "", "", ""),
        ("٤١١١١١", "1111", TODAY, "1234.50"),
        ("411111", "1111", TODAY, &huge),
        (&huge, &huge, &huge, &huge),
        ("411111", "1111", "2024-05-14T00:00", "1234.50"),
        ("411111", "1111", TODAY, "<script>alert(1)</script>"),
    ];
    for (n, (first6, last4, date, amount)) in cases.into_iter().enumerate() {
        if n > 0 && n % 9 == 0 {
            app.advance_ms(FIFTEEN_MINUTES_MS + 1);
        }
        let page = search(&mut payer, first6, last4, date, amount).await;
        assert_eq!(
            page.status, 200,
            "{first6:?} {last4:?} {date:?} {amount:?}: {}",
            page.text
        );
        assert_no_match(&page);
        // What was typed comes back escaped, never as markup.
        page.assert_hides("<script>alert");
    }
    // Fields left out entirely, too.
    app.advance_ms(FIFTEEN_MINUTES_MS + 1);
    let csrf = payer.get("/find-transactions").await.csrf();
    let page = payer
        .post(
            "/find-transactions",
            &[("csrf", &csrf), ("first6", "411111")],
        )
        .await;
    assert_no_match(&page);
}

#[tokio::test]
async fn the_eleventh_search_from_one_address_in_15_minutes_is_refused() {
    let app = spawn_app().await;
    default_payment(&app, "1234.50", CARD).await;
    let mut payer = Browser::new(&app);
    for n in 1..=10 {
        // Good and bad searches count alike.
        let page = if n % 2 == 0 {
            search(&mut payer, "411111", "1111", TODAY, "1234.50").await
        } else {
            search(&mut payer, "411111", "9999", TODAY, "1234.50").await
        };
        assert_eq!(page.status, 200, "search {n}: {}", page.text);
    }
    let refused = search(&mut payer, "411111", "1111", TODAY, "1234.50").await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    refused.assert_hides("<tr class=\"charge\">");
    refused.assert_shows("id=\"error\"");
    // Another browser from the same address is the same client.
    let mut other = Browser::new(&app);
    let refused = search(&mut other, "411111", "1111", TODAY, "1234.50").await;
    assert_eq!(refused.status, 429, "{}", refused.text);

    app.advance_ms(FIFTEEN_MINUTES_MS - 1);
    let refused = search(&mut payer, "411111", "1111", TODAY, "1234.50").await;
    assert_eq!(refused.status, 429, "{}", refused.text);

    // 15 minutes after the first ten: they are out of the window ("10 per 15 minutes").
    app.advance_ms(1);
    let page = search(&mut payer, "411111", "1111", TODAY, "1234.50").await;
    page.assert_html();
    assert_eq!(charge_rows(&page).len(), 1, "{}", page.text);
}

#[tokio::test]
async fn a_search_without_its_form_token_is_forbidden() {
    let app = spawn_app().await;
    default_payment(&app, "1234.50", CARD).await;
    let fields = [
        ("first6", "411111"),
        ("last4", "1111"),
        ("date", TODAY),
        ("amount", "1234.50"),
    ];
    let mut payer = Browser::new(&app);
    payer.get("/find-transactions").await.assert_html();
    let page = payer.post("/find-transactions", &fields).await;
    assert_eq!(page.status, 403, "{}", page.text);
    page.assert_hides(MASK);

    let mut with_wrong = vec![("csrf", "not-the-token")];
    with_wrong.extend_from_slice(&fields);
    let page = payer.post("/find-transactions", &with_wrong).await;
    assert_eq!(page.status, 403, "{}", page.text);
    page.assert_hides(MASK);

    // A form token without its cookie (another browser's) is no token either.
    let csrf = payer.get("/find-transactions").await.csrf();
    let mut stranger = Browser::new(&app);
    let mut with_foreign = vec![("csrf", csrf.as_str())];
    with_foreign.extend_from_slice(&fields);
    let page = stranger.post("/find-transactions", &with_foreign).await;
    assert_eq!(page.status, 403, "{}", page.text);
    page.assert_hides(MASK);
}

#[tokio::test]
async fn switching_the_language_of_a_dispute_form_keeps_its_charge() {
    let app = spawn_app().await;
    let (_, payment) = default_payment(&app, "1234.50", CARD).await;
    let mut payer = Browser::new(&app);
    let form = dispute_form(&app, &payment);
    let page = payer.get(&form).await;
    page.assert_html();
    assert_eq!(payment_field(&page).as_deref(), Some(payment.as_str()));
    // The link to the other language is this page's, with its charge.
    let marker = "hreflang=\"ru\"";
    let at = page.text.find(marker).expect("a link to Russian");
    let start = page.text[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let link = page.text[start..at].trim_end().trim_end_matches('"');
    let link = link.replace("&amp;", "&").replace("&#38;", "&");
    assert!(link.starts_with("?payment="), "{link}");
    let russian = payer.get(&format!("/disputes/new{link}")).await;
    russian.assert_html();
    assert!(russian.text.contains("lang=\"ru\""), "{}", russian.text);
    assert_eq!(payment_field(&russian).as_deref(), Some(payment.as_str()));
}

#[tokio::test]
async fn a_dispute_from_a_found_charge_reaches_only_its_merchant_who_answers_by_email() {
    let app = spawn_app().await;
    let a = web_merchant(&app, "owner@bakery.test", "Moonlight Bakery").await;
    let mut b = web_merchant(&app, "owner@florist.test", "Rose Florist").await;
    let (_, payment) = card_payment(&app, &a.token, &a.shop_id, "1234.50", CARD).await;
    // B has a charge of its own (another card).
    card_payment(&app, &b.token, &b.shop_id, "1234.50", CARD_OK).await;

    // The payer finds the charge and follows its link.
    let mut payer = Browser::new(&app);
    let found = search(&mut payer, "411111", "1111", TODAY, "1234.50").await;
    assert_eq!(charge_rows(&found).len(), 1, "{}", found.text);
    found.assert_shows("Moonlight Bakery");
    let links = dispute_links(&found);
    assert_eq!(links.len(), 1, "{}", found.text);
    let form = payer.get(&links[0]).await;
    form.assert_html();
    let charge = form.text_of("charge").expect("the form shows the charge");
    for shown in ["1234.50 RUB", TODAY, MASK] {
        assert!(charge.contains(shown), "{shown:?} not in {charge}");
    }
    assert_eq!(payment_field(&form).as_deref(), Some(payment.as_str()));
    form.assert_hides("owner@bakery.test");
    form.assert_hides(&a.shop_id);

    let complaint = "I never bought anything at this shop.\nPlease refund.";
    let sent = send_dispute(
        &mut payer,
        &links[0],
        &payment,
        "payer@mail.test",
        complaint,
    )
    .await;
    let reference = reference_of(&sent);
    sent.assert_shows("48 hours");

    let stored = stored_dispute(&app, &reference).await;
    assert_eq!(
        stored.payment_id.as_ref().map(|p| p.as_str()),
        Some(payment.as_str())
    );
    assert!(stored.merchant_id.is_some());

    // The payer's email: the reference and the promise.
    let mails = mails_to(&app, "payer@mail.test").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].subject.contains(&reference), "{:?}", mails[0]);
    assert!(mails[0].text.contains(&reference), "{:?}", mails[0]);
    assert!(mails[0].text.contains("48 hours"), "{:?}", mails[0]);
    // The merchant's owner is told the dispute waits for an answer, and where; the other
    // merchant is told nothing.
    let told = mails_to(&app, "owner@bakery.test").await;
    let told: Vec<_> = told
        .iter()
        .filter(|m| m.subject.contains(&reference))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].text.contains(&format!("/disputes/{reference}")),
        "{:?}",
        told[0]
    );
    assert!(told[0].text.contains("1234.50 RUB"), "{:?}", told[0]);
    assert!(told[0].text.contains("Answer by"), "{:?}", told[0]);
    assert!(mails_to(&app, "owner@florist.test")
        .await
        .iter()
        .all(|m| !m.subject.contains(&reference)));

    // Merchant A sees it in its list and in detail.
    let mut a_browser = a.browser;
    let list = a_browser.get("/disputes").await;
    list.assert_html();
    let rows = dispute_rows(&list);
    assert_eq!(rows.len(), 1, "{}", list.text);
    assert!(rows[0].contains(&reference), "{}", rows[0]);
    assert!(rows[0].contains("payer@mail.test"), "{}", rows[0]);
    assert!(rows[0].contains("Open"), "{}", rows[0]);
    let detail = a_browser.get(&format!("/disputes/{reference}")).await;
    detail.assert_html();
    assert_eq!(detail.text_of("status").as_deref(), Some("Open"));
    detail.assert_shows("I never bought anything at this shop.");
    detail.assert_shows("Please refund.");
    detail.assert_shows(MASK);

    // Merchant B does not: not in its list, and its detail is a 404 like an unknown id.
    let list = b.browser.get("/disputes").await;
    list.assert_html();
    assert!(dispute_rows(&list).is_empty(), "{}", list.text);
    list.assert_hides(&reference);
    let foreign = b.browser.get(&format!("/disputes/{reference}")).await;
    let unknown = b.browser.get("/disputes/0000000000").await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert_eq!(foreign.text, unknown.text);
    assert_eq!(foreign.content_type, unknown.content_type);
    foreign.assert_hides(complaint);
    // Nor can B reply to it.
    let csrf = b.browser.get("/disputes").await.csrf();
    let sneaky = b
        .browser
        .post(
            &format!("/disputes/{reference}/reply"),
            &[("csrf", &csrf), ("text", "Not ours")],
        )
        .await;
    assert_eq!(sneaky.status, 404, "{}", sneaky.text);
    assert_eq!(mails_to(&app, "payer@mail.test").await.len(), 1);

    // A's reply: the dispute is answered and the payer gets the text by email.
    let detail_path = format!("/disputes/{reference}");
    let reply_path = format!("/disputes/{reference}/reply");
    let sent = a_browser
        .submit(
            &detail_path,
            &reply_path,
            &[("text", "We refunded you today. Sorry!")],
        )
        .await;
    // Answered with a redirect: reloading the page that says so sends no second reply.
    assert_eq!(sent.status, 303, "{}", sent.text);
    let replied = a_browser.follow(sent).await;
    replied.assert_html();
    replied.assert_shows("id=\"notice\"");
    assert_eq!(replied.text_of("status").as_deref(), Some("Answered"));
    replied.assert_shows("We refunded you today. Sorry!");
    let again = a_browser.get(&detail_path).await;
    assert_eq!(again.text_of("status").as_deref(), Some("Answered"));
    let list = a_browser.get("/disputes").await;
    assert!(dispute_rows(&list)[0].contains("Answered"), "{}", list.text);
    assert_eq!(
        stored_dispute(&app, &reference).await.status,
        DisputeStatus::Answered
    );
    let mails = mails_to(&app, "payer@mail.test").await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    // Both were written at the same instant of the test's clock: found by content, not order.
    let answer = mails
        .iter()
        .find(|m| m.text.contains("We refunded you today. Sorry!"))
        .unwrap_or_else(|| panic!("no answer among {mails:?}"));
    assert!(answer.subject.contains(&reference), "{answer:?}");
}

#[tokio::test]
async fn a_merchant_reply_must_have_text() {
    let app = spawn_app().await;
    let mut a = web_merchant(&app, "owner@bakery.test", "Moonlight Bakery").await;
    let (_, payment) = card_payment(&app, &a.token, &a.shop_id, "10", CARD).await;
    let mut payer = Browser::new(&app);
    let form = dispute_form(&app, &payment);
    let sent = send_dispute(&mut payer, &form, &payment, "payer@mail.test", "Not me").await;
    let reference = reference_of(&sent);

    let detail = format!("/disputes/{reference}");
    let action = format!("/disputes/{reference}/reply");
    for empty in ["", "   \n  "] {
        let page = a.browser.submit(&detail, &action, &[("text", empty)]).await;
        assert_eq!(page.status, 422, "{empty:?}: {}", page.text);
        page.assert_shows("id=\"error\"");
        assert_eq!(page.text_of("status").as_deref(), Some("Open"));
    }
    let too_long = "x".repeat(4001);
    let page = a
        .browser
        .submit(&detail, &action, &[("text", &too_long)])
        .await;
    assert_eq!(page.status, 422, "{}", page.text);
    assert_eq!(page.text_of("status").as_deref(), Some("Open"));
    // Without its form token.
    let page = a.browser.post(&action, &[("text", "Hello")]).await;
    assert_eq!(page.status, 403, "{}", page.text);
    // Only the dispute's own email went out.
    assert_eq!(mails_to(&app, "payer@mail.test").await.len(), 1);
    let page = a.browser.get(&detail).await;
    assert_eq!(page.text_of("status").as_deref(), Some("Open"));
    page.assert_hides("Hello");
}

#[tokio::test]
async fn a_blank_dispute_is_accepted_and_belongs_to_no_merchant() {
    let app = spawn_app().await;
    let mut a = web_merchant(&app, "owner@bakery.test", "Moonlight Bakery").await;
    let mut b = web_merchant(&app, "owner@florist.test", "Rose Florist").await;
    card_payment(&app, &a.token, &a.shop_id, "10", CARD).await;

    let mut payer = Browser::new(&app);
    let form = payer.get("/disputes/new").await;
    form.assert_html();
    assert_eq!(form.text_of("charge"), None);
    assert_eq!(payment_field(&form).as_deref(), Some(""));
    let sent = send_dispute(
        &mut payer,
        "/disputes/new",
        "",
        "payer@mail.test",
        "Something was charged on my card, I don't know by whom.",
    )
    .await;
    let reference = reference_of(&sent);
    sent.assert_shows("48 hours");
    let mails = mails_to(&app, "payer@mail.test").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].text.contains(&reference), "{:?}", mails[0]);

    let stored = stored_dispute(&app, &reference).await;
    assert_eq!(stored.merchant_id, None);
    assert_eq!(stored.payment_id, None);
    assert_eq!(stored.email, "payer@mail.test");
    assert_eq!(stored.status, DisputeStatus::Open);

    for m in [&mut a, &mut b] {
        let list = m.browser.get("/disputes").await;
        list.assert_html();
        assert!(dispute_rows(&list).is_empty(), "{}", list.text);
        let page = m.browser.get(&format!("/disputes/{reference}")).await;
        assert_eq!(page.status, 404, "{}", page.text);
    }
}

#[tokio::test]
async fn a_dispute_page_with_an_unknown_payment_shows_no_charge() {
    let app = spawn_app().await;
    let mut payer = Browser::new(&app);
    // Percent-encoded, as a browser sends them.
    for payment in ["0000000000", "not%20an%20id", "%3Cscript%3E"] {
        let page = payer.get(&dispute_form(&app, payment)).await;
        page.assert_html();
        assert_eq!(page.text_of("charge"), None, "{payment:?}");
        assert_eq!(payment_field(&page).as_deref(), Some(""), "{payment:?}");
        page.assert_hides("<script>");
    }
}

#[tokio::test]
async fn an_invalid_dispute_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let mut a = web_merchant(&app, "owner@bakery.test", "Moonlight Bakery").await;
    let (_, payment) = card_payment(&app, &a.token, &a.shop_id, "10", CARD).await;
    let form = dispute_form(&app, &payment);
    let mut payer = Browser::new(&app);

    // An invalid email.
    for email in ["", "not-an-email", "payer@", "@mail.test"] {
        let page = send_dispute(&mut payer, &form, &payment, email, "Not me").await;
        assert_dispute_refused(&page);
    }
    // Empty text, and text over 4000 characters.
    for text in ["", "  \n ", &"x".repeat(4001)] {
        let page = send_dispute(&mut payer, &form, &payment, "payer@mail.test", text).await;
        assert_dispute_refused(&page);
        // What the payer wrote is kept for another try.
        assert_eq!(
            page.input_value("email").as_deref(),
            Some("payer@mail.test")
        );
    }
    // A payment that does not exist, well formed or not.
    for missing in ["0000000000", "zzzzzzzzzz", "nonsense!"] {
        let page = send_dispute(
            &mut payer,
            "/disputes/new",
            missing,
            "payer@mail.test",
            "Hi",
        )
        .await;
        assert_dispute_refused(&page);
        page.assert_hides("id=\"charge\"");
    }
    // Without its form token.
    let page = payer
        .post(
            "/disputes/new",
            &[
                ("payment", payment.as_str()),
                ("email", "payer@mail.test"),
                ("text", "Not me"),
            ],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.text);

    // Nothing was created: no email to anyone's payer, nothing in the merchant's list.
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 100)
        .await
        .expect("the outbox reads");
    assert!(
        mails.iter().all(|m| !m.subject.starts_with("Your request")),
        "{mails:?}"
    );
    let list = a.browser.get("/disputes").await;
    assert!(dispute_rows(&list).is_empty(), "{}", list.text);
    let open = app
        .store
        .console_disputes(Some(DisputeStatus::Open), None, 100)
        .await
        .expect("the store reads");
    assert!(open.is_empty(), "{open:?}");

    // Exactly 4000 characters is accepted.
    let longest = "y".repeat(4000);
    let page = send_dispute(&mut payer, &form, &payment, "payer@mail.test", &longest).await;
    let reference = reference_of(&page);
    let detail = a.browser.get(&format!("/disputes/{reference}")).await;
    detail.assert_shows(&longest);
}

#[tokio::test]
async fn one_address_opens_at_most_five_disputes_in_fifteen_minutes() {
    let app = spawn_app().await;
    let mut payer = Browser::new(&app);
    for n in 0..5 {
        let sent = payer
            .submit(
                "/disputes/new",
                "/disputes/new",
                &[
                    ("payment", ""),
                    ("email", "payer@example.com"),
                    ("text", &format!("Request {n}")),
                ],
            )
            .await;
        assert_eq!(sent.status, 200, "{}", sent.text);
        assert!(sent.text_of("reference").is_some());
    }
    let refused = payer
        .submit(
            "/disputes/new",
            "/disputes/new",
            &[
                ("payment", ""),
                ("email", "payer@example.com"),
                ("text", "One more"),
            ],
        )
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert!(refused.text_of("reference").is_none());
    let receipts = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 20)
        .await
        .unwrap();
    assert_eq!(receipts.len(), 5, "no receipt for the refused one");
    app.advance_ms(15 * 60 * 1000 + 1);
    let again = payer
        .submit(
            "/disputes/new",
            "/disputes/new",
            &[
                ("payment", ""),
                ("email", "payer@example.com"),
                ("text", "Later"),
            ],
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
}

/// A payment id alone (seen in a URL or a postback) shows nothing of the charge and disputes
/// nothing: only the search's link, with its proof, names a charge.
#[tokio::test]
async fn a_payment_id_without_the_searchs_proof_shows_and_disputes_nothing() {
    let app = spawn_app().await;
    let a = web_merchant(&app, "owner@bakery.test", "Moonlight Bakery").await;
    let (_, payment) = card_payment(&app, &a.token, &a.shop_id, "10", CARD).await;
    let mut payer = Browser::new(&app);
    for form in [
        format!("/disputes/new?payment={payment}"),
        format!("/disputes/new?payment={payment}&proof=00000000000000000000000000000000"),
    ] {
        let page = payer.get(&form).await;
        assert_eq!(page.text_of("charge"), None, "{form}");
        page.assert_hides(MASK);
        let sent = send_dispute(&mut payer, &form, &payment, "payer@mail.test", "Not me").await;
        assert_eq!(sent.status, 422, "{}", sent.text);
        assert!(sent.text_of("reference").is_none());
    }
    assert!(mails_to(&app, "payer@mail.test").await.is_empty());
}

/// An SBP payment, whose payer's bank reported their phone, is found by that phone (in any
/// spelling), the day and the amount; another phone, or a card's digits, find nothing.
#[tokio::test]
async fn an_sbp_charge_is_found_by_the_payers_phone() {
    let app = spawn_app().await;
    let bill = app.bill(json!({"amount": "777.00"})).await;
    let paid = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(app.token()),
            Body::Json(json!({"bill_id": bill, "method": "SBP", "phone": "+7 999 123-45-67"})),
        )
        .await;
    assert_eq!(paid.ok()["status"], json!("SUCCESS"), "{}", paid.text);
    // A phone that is not a Russian mobile number is refused, as other fields are.
    let bill2 = app.bill(json!({"amount": "5.00"})).await;
    let refused = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(app.token()),
            Body::Json(json!({"bill_id": bill2, "method": "SBP", "phone": "12345"})),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);

    let mut payer = Browser::new(&app);
    let by_phone = |phone: &'static str, amount: &'static str| {
        [
            ("first6", ""),
            ("last4", ""),
            ("phone", phone),
            ("date", TODAY),
            ("amount", amount),
        ]
    };
    for phone in ["89991234567", "+7 (999) 123 45 67"] {
        let page = payer
            .submit(
                "/find-transactions",
                "/find-transactions",
                &by_phone(phone, "777.00"),
            )
            .await;
        let rows = charge_rows(&page);
        assert_eq!(rows.len(), 1, "{phone}: {}", page.text);
        assert!(
            rows[0].contains("777.00 RUB") && rows[0].contains("SBP"),
            "{}",
            rows[0]
        );
        assert_eq!(dispute_links(&page).len(), 1);
    }
    for (phone, amount) in [("+79991234568", "777.00"), ("+79991234567", "777.01")] {
        let page = payer
            .submit(
                "/find-transactions",
                "/find-transactions",
                &by_phone(phone, amount),
            )
            .await;
        page.assert_shows("id=\"no-match\"");
        assert!(charge_rows(&page).is_empty());
    }
}
