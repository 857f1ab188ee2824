//! The dashboard's own pages (issue 13): bills (create, pages, filter, switch on and off, CSV),
//! payments (list, detail with postbacks, refunds, CSV), the postback log with redelivery,
//! payouts (accounts, create, cancel, CSV), Procard access on the links page, and the charts.
//! Each is driven as a browser does; money and deliveries are checked where they live (the
//! API, the store, a receiver), not only on the page that claims them.
#![allow(clippy::inconsistent_digit_grouping)]

use super::*;
use crate::procard::{accepted, refused, send, Wire};
use paylink_core::account::AccountKind;
use paylink_core::event::NoticeState;
use paylink_core::id::MerchantId;
use paylink_core::payout::PayoutProfile;
use paylink_sdk::procard::sign;
use paylink_sdk::testing::Receiver;
use serde_json::{json, Value};

/// The merchant behind the web account `email`.
async fn merchant_id(app: &TestApp, email: &str) -> MerchantId {
    app.store
        .account_by_email(AccountKind::Merchant, email)
        .await
        .expect("the store answers")
        .and_then(|a| a.merchant_id)
        .expect("a merchant account")
}

/// A bill of `su`'s shop made through the API, with an order id and a description when given.
async fn api_bill(
    app: &TestApp,
    su: &SignedUp,
    amount: &str,
    order_id: Option<&str>,
    description: Option<&str>,
) -> String {
    let mut body = json!({"amount": amount, "shop_id": su.shop_id});
    if let Some(o) = order_id {
        body["order_id"] = json!(o);
    }
    if let Some(d) = description {
        body["description"] = json!(d);
    }
    let a = app.create_bill_as(&su.token, body).await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.json["bill_id"].as_str().expect("a bill id").to_string()
}

/// Pays `bill` by `card` in the sandbox: the payment as the sandbox answers it.
async fn pay(app: &TestApp, su: &SignedUp, bill: &str, card: &str) -> Value {
    app.send(
        reqwest::Method::POST,
        "/sandbox/pay",
        Some(&su.token),
        Body::Json(json!({"bill_id": bill, "method": "BANK_CARD", "card_number": card})),
    )
    .await
    .ok()
    .clone()
}

/// `bill/status` of `id` as `su` asks it.
async fn bill_of(app: &TestApp, su: &SignedUp, id: &str) -> Value {
    app.get_as(&su.token, "/api/v1/bill/status", &[("id", id)])
        .await
        .ok()
        .clone()
}

/// A paid bill of `amount`: the payment's id.
async fn paid(app: &TestApp, su: &SignedUp, amount: &str, order_id: Option<&str>) -> String {
    let bill = api_bill(app, su, amount, order_id, None).await;
    let p = pay(app, su, &bill, CARD_OK).await;
    assert_eq!(p["status"], json!("SUCCESS"), "{p}");
    p["id"].as_str().expect("a payment id").to_string()
}

/// The rows `<tr class="{class}">` of a page, each up to its `</tr>`.
fn rows<'a>(page: &'a Page, class: &str) -> Vec<&'a str> {
    let marker = format!("<tr class=\"{class}\">");
    page.text
        .split(marker.as_str())
        .skip(1)
        .map(|r| r.split("</tr>").next().unwrap_or(r))
        .collect()
}

/// The row of `class` that names `id`.
#[track_caller]
fn row_of<'a>(page: &'a Page, class: &str, id: &str) -> &'a str {
    rows(page, class)
        .into_iter()
        .find(|r| r.contains(id))
        .unwrap_or_else(|| panic!("no {class} row with {id} in {}", page.text))
}

/// POSTs `fields` with the session's form token, as a form on any page of it would.
async fn post_form(b: &mut Browser, action: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = b.get("/dashboard").await.csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

/// The lines of a CSV answer (`\r\n` ends each).
#[track_caller]
fn csv_lines(page: &Page) -> Vec<String> {
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.content_type.starts_with("text/csv"),
        "{}",
        page.content_type
    );
    assert!(
        page.text.is_empty() || page.text.ends_with("\r\n"),
        "{:?}",
        page.text
    );
    page.text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The Procard `list` request of `login`, signed with `key`.
async fn procard_list(app: &TestApp, login: &str, key: &str) -> Answer {
    let body = json!({"merchant_id": login, "signature": sign(key, &[login])});
    send(app, "/permanent-links/list", &body, Wire::Json).await
}

#[tokio::test]
async fn the_new_pages_send_a_signed_out_visitor_to_sign_in() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    for path in [
        "/bills",
        "/bills.csv",
        "/payments",
        "/payments/ZZZZZZZZZZ",
        "/payments.csv",
        "/postbacks",
        "/payouts",
        "/payouts.csv",
        "/links",
        "/links/key",
    ] {
        b.get(path).await.assert_redirect("/sign-in");
    }
    for path in [
        "/bills",
        "/bills/ZZZZZZZZZZ/active",
        "/payments/ZZZZZZZZZZ/refund",
        "/postbacks/msg_ZZZZZZZZZZ/redeliver",
        "/payouts",
        "/payouts/accounts",
        "/payouts/ZZZZZZZZZZ/cancel",
        "/links/enable",
        "/links/key",
    ] {
        b.post(path, &[("csrf", "x"), ("amount", "100")])
            .await
            .assert_redirect("/sign-in");
    }
}

#[tokio::test]
async fn every_new_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let email = "csrf@merchant.test";
    let mut su = signed_up(&app, email).await;
    let merchant = merchant_id(&app, email).await;
    paylink_server::ops::merchants::set_verified(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant.as_str(),
        true,
        0,
    )
    .await
    .expect("verified");
    let bill = api_bill(&app, &su, "1000", None, None).await;
    let payment = paid(&app, &su, "1000", None).await;
    let b = &mut su.browser;
    let bills_before = csv_lines(&b.get("/bills.csv").await).len();
    let shop = su.shop_id.clone();
    let doors: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/bills".into(),
            vec![("amount", "5"), ("shop_id", shop.as_str())],
        ),
        (format!("/bills/{bill}/active"), vec![("active", "0")]),
        (format!("/payments/{payment}/refund"), vec![("amount", "")]),
        (format!("/postbacks/msg_{payment}/redeliver"), vec![]),
        (
            "/payouts/accounts".into(),
            vec![
                ("account_type", "card"),
                ("card_number", CARD_OK),
                ("card_holder", "Ivan Petrov"),
            ],
        ),
        ("/links/enable".into(), vec![]),
        ("/links/key".into(), vec![("confirm", "yes")]),
    ];
    for (path, fields) in &doors {
        for csrf in [None, Some(""), Some("forged")] {
            let mut all = fields.clone();
            if let Some(c) = csrf {
                all.push(("csrf", c));
            }
            let answer = b.post(path, &all).await;
            assert_eq!(
                answer.status, 403,
                "POST {path} csrf {csrf:?}: {}",
                answer.text
            );
        }
    }
    assert_eq!(csv_lines(&b.get("/bills.csv").await).len(), bills_before);
    let bills = b.get("/bills").await;
    assert!(row_of(&bills, "bill", &bill).contains("Deactivate"));
    let pay = b.get(&format!("/payments/{payment}")).await;
    assert_eq!(pay.text_of("refunded").as_deref(), Some("0.00"));
    let payouts = b.get("/payouts").await;
    assert!(rows(&payouts, "account").is_empty(), "{}", payouts.text);
    let links = b.get("/links").await;
    assert!(
        links.text.contains("id=\"procard-enable\""),
        "{}",
        links.text
    );
    assert!(app.store.procard_of(&merchant).await.unwrap().is_none());
}

#[tokio::test]
async fn a_bill_made_in_the_form_is_listed_and_a_bad_amount_is_refused() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "bills@merchant.test").await;
    let shop = su.shop_id.clone();
    let made = su
        .browser
        .submit(
            "/bills",
            "/bills",
            &[
                ("amount", "1500.50"),
                ("shop_id", shop.as_str()),
                ("description", "Blue kettle"),
                ("order_id", "order-15"),
            ],
        )
        .await;
    made.assert_redirect("/bills?notice=bill_made");
    let made = su.browser.follow(made).await;
    made.assert_html();
    assert!(made.text_of("notice").is_some(), "{}", made.text);
    let listed = rows(&made, "bill");
    assert_eq!(listed.len(), 1, "{}", made.text);
    for words in ["1500.50 RUB", "Blue kettle", "order-15", "Deactivate"] {
        assert!(listed[0].contains(words), "{words:?} not in {}", listed[0]);
    }
    // The same bill the API knows.
    let page = su.browser.get("/bills").await;
    assert_eq!(rows(&page, "bill").len(), 1);
    let status = app.get_as(&su.token, "/api/v1/bill/search", &[]).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert!(status.text.contains("order-15"), "{}", status.text);

    for amount in ["", "abc", "0", "-5", "1.234", "10,5,0", "1 2,50"] {
        let refused = su
            .browser
            .submit(
                "/bills",
                "/bills",
                &[("amount", amount), ("shop_id", shop.as_str())],
            )
            .await;
        assert_eq!(refused.status, 422, "{amount:?}: {}", refused.text);
        assert!(refused.text_of("error").is_some(), "{}", refused.text);
        assert_eq!(rows(&refused, "bill").len(), 1, "{amount:?} made a bill");
    }

    // One form sent three times (a double click, a resubmit) makes one bill; at once, too.
    let page = su.browser.get("/bills").await;
    let fields = [("amount", "20"), ("shop_id", shop.as_str())];
    let form = form_of(&page, "/bills", &fields);
    for _ in 0..3 {
        post_fields(&mut su.browser, "/bills", &form)
            .await
            .assert_redirect("/bills?notice=bill_made");
    }
    let page = su.browser.get("/bills").await;
    let form = form_of(&page, "/bills", &fields);
    for answer in all_at_once(&su.browser, "/bills", &form, 4).await {
        answer.assert_redirect("/bills?notice=bill_made");
    }
    assert_eq!(rows(&su.browser.get("/bills").await, "bill").len(), 3);
}

#[tokio::test]
async fn a_bill_for_another_merchants_shop_is_refused_and_nothing_is_made() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "thief@merchant.test").await;
    let theirs = app.merchant.shop_id.to_string();
    let before = app.bill_count().await;
    for shop in [theirs.as_str(), "ZZZZZZZZZZ", ""] {
        let refused = su
            .browser
            .submit(
                "/bills",
                "/bills",
                &[("amount", "100"), ("shop_id", shop), ("order_id", "stolen")],
            )
            .await;
        assert_ne!(refused.status, 200, "{shop:?}: {}", refused.text);
        assert!(refused.status < 500, "{shop:?}: {}", refused.text);
        assert!(refused.text_of("error").is_some(), "{}", refused.text);
        assert!(rows(&refused, "bill").is_empty(), "{}", refused.text);
    }
    assert_eq!(app.bill_count().await, before);
    let export = csv_lines(&su.browser.get("/bills.csv").await);
    assert_eq!(export.len(), 1, "{export:?}");
}

#[tokio::test]
async fn bills_come_in_pages_of_fifty_with_an_older_link_and_an_order_id_filter() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "pages@merchant.test").await;
    let mut made = Vec::new();
    for i in 0..53 {
        // Some bills share a millisecond, as bills of a busy shop do.
        if i % 3 == 0 {
            app.advance_ms(1);
        }
        let order = format!("order-{i}");
        made.push(api_bill(&app, &su, "10", Some(&order), None).await);
    }
    let first = su.browser.get("/bills").await;
    first.assert_html();
    assert_eq!(rows(&first, "bill").len(), 50);
    // Newest first (the last two share a millisecond).
    let top = rows(&first, "bill")[0];
    assert!(
        top.contains(&made[52]) || top.contains(&made[51]),
        "{}",
        first.text
    );
    let older = first.href_of("older").expect("an Older link");
    assert!(older.starts_with("/bills?cursor="), "{older}");
    let second = su.browser.get(&older).await;
    second.assert_html();
    assert_eq!(rows(&second, "bill").len(), 3, "{}", second.text);
    assert!(second.href_of("older").is_none(), "{}", second.text);
    let mut seen: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|p| rows(p, "bill"))
        .map(|r| {
            made.iter()
                .find(|id| r.contains(id.as_str()))
                .unwrap_or_else(|| panic!("an unknown bill in {r}"))
                .clone()
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 53, "every bill once over the two pages");

    let one = su.browser.get("/bills?order_id=order-7").await;
    one.assert_html();
    let listed = rows(&one, "bill");
    assert_eq!(listed.len(), 1, "{}", one.text);
    assert!(listed[0].contains(&made[7]));
    assert_eq!(one.input_value("f_order").as_deref(), Some("order-7"));
    assert_eq!(
        one.href_of("export-bills").as_deref(),
        Some("/bills.csv?order_id=order-7")
    );
    let none = su.browser.get("/bills?order_id=nothing-like-it").await;
    assert!(rows(&none, "bill").is_empty(), "{}", none.text);
    // A cursor that is not one shows the first page, not an error.
    let odd = su.browser.get("/bills?cursor=not-a-cursor").await;
    odd.assert_html();
    assert_eq!(rows(&odd, "bill").len(), 50);
    // Nor does a filter no order id can hold (a NUL cannot even reach PostgreSQL), on the
    // lists and their exports.
    for path in ["/bills", "/payments"] {
        let odd = su.browser.get(&format!("{path}?order_id=a%00b")).await;
        odd.assert_html();
        let odd = su.browser.get(&format!("{path}.csv?order_id=%00")).await;
        assert_eq!(odd.status, 200, "{}", odd.text);
    }
    let csv = csv_lines(&su.browser.get("/bills.csv?order_id=%1B").await);
    assert_eq!(csv.len(), 54, "every bill, as without a filter");
}

#[tokio::test]
async fn a_bill_is_switched_off_and_on_and_a_paid_normal_bill_has_no_switch() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "toggle@merchant.test").await;
    let bill = api_bill(&app, &su, "250", None, None).await;
    let off = post_form(
        &mut su.browser,
        &format!("/bills/{bill}/active"),
        &[("active", "0")],
    )
    .await;
    off.assert_html();
    let row = row_of(&off, "bill", &bill);
    assert!(
        row.contains("Activate") && !row.contains("Deactivate"),
        "{row}"
    );
    assert!(row.contains("name=\"active\" value=\"1\""), "{row}");
    // The payer page and the API agree: a switched-off bill is not payable.
    let status = bill_of(&app, &su, &bill).await;
    assert_eq!(status["active"], json!(false), "{status}");

    let on = post_form(
        &mut su.browser,
        &format!("/bills/{bill}/active"),
        &[("active", "1")],
    )
    .await;
    on.assert_html();
    assert!(row_of(&on, "bill", &bill).contains("Deactivate"));
    assert_eq!(bill_of(&app, &su, &bill).await["active"], json!(true));

    let done = api_bill(&app, &su, "300", None, None).await;
    pay(&app, &su, &done, CARD_OK).await;
    let page = su.browser.get("/bills").await;
    let row = row_of(&page, "bill", &done);
    assert!(
        !row.contains("/active") && !row.contains("Activate"),
        "a paid NORMAL bill has a switch: {row}"
    );
    let refused = post_form(
        &mut su.browser,
        &format!("/bills/{done}/active"),
        &[("active", "0")],
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text_of("error").is_some(), "{}", refused.text);
    let status = bill_of(&app, &su, &done).await;
    assert_eq!(status["status"], json!("SUCCESS"), "{status}");

    let missing = post_form(
        &mut su.browser,
        "/bills/ZZZZZZZZZZ/active",
        &[("active", "0")],
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[tokio::test]
async fn the_bills_export_is_csv_with_the_filter_quoted_fields_and_no_formulas() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "csv@merchant.test").await;
    let plain = api_bill(&app, &su, "100", Some("a-1"), Some("Tea")).await;
    app.advance_ms(1);
    let comma = api_bill(&app, &su, "200.50", Some("a-2"), Some("Tea, two cups")).await;
    app.advance_ms(1);
    let formula = api_bill(&app, &su, "300", Some("b-1"), Some("=HYPERLINK(\"x\")")).await;
    let all = csv_lines(&su.browser.get("/bills.csv").await);
    assert_eq!(
        all[0],
        "bill_id,created_at,amount,currency,status,order_id,description"
    );
    assert_eq!(all.len(), 4, "{all:?}");
    // Newest first, as the list.
    assert!(all[1].starts_with(&format!("{formula},")), "{all:?}");
    assert!(all[2].starts_with(&format!("{comma},")), "{all:?}");
    assert!(all[3].starts_with(&format!("{plain},")), "{all:?}");
    assert!(all[3].ends_with(",100.00,RUB,NEW,a-1,Tea"), "{}", all[3]);
    assert!(
        all[2].ends_with(",200.50,RUB,NEW,a-2,\"Tea, two cups\""),
        "{}",
        all[2]
    );
    assert!(
        all[1].ends_with(",b-1,\"'=HYPERLINK(\"\"x\"\")\""),
        "{}",
        all[1]
    );

    let filtered = csv_lines(&su.browser.get("/bills.csv?order_id=a-2").await);
    assert_eq!(filtered.len(), 2, "{filtered:?}");
    assert!(filtered[1].starts_with(&format!("{comma},")));
}

#[tokio::test]
async fn payments_are_listed_in_pages_filtered_by_the_bills_order_id_and_exported() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "payments@merchant.test").await;
    let mut made = Vec::new();
    for i in 0..51 {
        if i % 2 == 0 {
            app.advance_ms(1);
        }
        made.push(paid(&app, &su, "10", Some(&format!("p-{i}"))).await);
    }
    let first = su.browser.get("/payments").await;
    first.assert_html();
    assert_eq!(rows(&first, "payment").len(), 50);
    assert!(rows(&first, "payment")[0].contains(&made[50]));
    let older = first.href_of("older").expect("an Older link");
    let second = su.browser.get(&older).await;
    let last = rows(&second, "payment");
    assert_eq!(last.len(), 1, "{}", second.text);
    let shown: Vec<&str> = rows(&first, "payment").into_iter().chain(last).collect();
    for id in &made {
        assert_eq!(
            shown.iter().filter(|r| r.contains(id.as_str())).count(),
            1,
            "{id} not once over the pages"
        );
    }
    let row = row_of(&first, "payment", &made[3]);
    assert!(
        row.contains("10.00 RUB") && row.contains("SUCCESS"),
        "{row}"
    );
    assert!(
        row.contains(&format!("href=\"/payments/{}\"", made[3])),
        "{row}"
    );

    let one = su.browser.get("/payments?order_id=p-3").await;
    let listed = rows(&one, "payment");
    assert_eq!(listed.len(), 1, "{}", one.text);
    assert!(listed[0].contains(&made[3]));

    let csv = csv_lines(&su.browser.get("/payments.csv").await);
    assert_eq!(
        csv[0],
        "payment_id,bill_id,created_at,amount,currency,status,method,card,commission,refunded"
    );
    assert_eq!(csv.len(), 52, "a header and every payment");
    assert!(csv[1].starts_with(&format!("{},", made[50])));
    let csv = csv_lines(&su.browser.get("/payments.csv?order_id=p-3").await);
    assert_eq!(csv.len(), 2, "{csv:?}");
    assert!(csv[1].starts_with(&format!("{},", made[3])), "{csv:?}");
    assert!(csv[1].contains(",10.00,RUB,SUCCESS,"), "{csv:?}");
}

#[tokio::test]
async fn a_payment_is_refunded_in_part_then_the_rest_and_too_much_is_refused() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "refunds@merchant.test").await;
    let payment = paid(&app, &su, "1000", None).await;
    // Enough on the balance for a refund of the whole 1000 (the payment brought 965).
    paid(&app, &su, "1000", None).await;
    let path = format!("/payments/{payment}");
    let page = su.browser.get(&path).await;
    page.assert_html();
    assert_eq!(page.text_of("amount").as_deref(), Some("1000.00 RUB"));
    assert_eq!(page.text_of("status").as_deref(), Some("SUCCESS"));
    assert_eq!(page.text_of("refunded").as_deref(), Some("0.00"));
    let balance = app.balance_of(&su.token).await.available;

    let action = format!("{path}/refund");
    let part = su
        .browser
        .submit(&path, &action, &[("amount", "300")])
        .await;
    part.assert_redirect(&format!("{path}?notice=refund_made"));
    let part = su.browser.follow(part).await;
    part.assert_html();
    assert_eq!(
        part.text_of("refunded").as_deref(),
        Some("300.00"),
        "{}",
        part.text
    );
    assert!(part.text_of("notice").is_some(), "{}", part.text);

    for amount in ["700.01", "5000", "abc", "0", "-1"] {
        let too_much = su
            .browser
            .submit(&path, &action, &[("amount", amount)])
            .await;
        assert_eq!(too_much.status, 422, "{amount}: {}", too_much.text);
        assert!(too_much.text_of("error").is_some(), "{}", too_much.text);
        assert_eq!(too_much.text_of("refunded").as_deref(), Some("300.00"));
    }
    let now = app.balance_of(&su.token).await;
    assert_eq!(now.available + now.locked + now.hold, balance - 300_00);

    // An empty amount refunds all that is left.
    let rest = su.browser.submit(&path, &action, &[("amount", "")]).await;
    let rest = su.browser.follow(rest).await;
    rest.assert_html();
    assert_eq!(
        rest.text_of("refunded").as_deref(),
        Some("1000.00"),
        "{}",
        rest.text
    );
    // Nothing is left to refund: no form.
    assert!(
        !rest.text.contains(&format!("action=\"{action}\"")),
        "{}",
        rest.text
    );
    // A form kept open from before (its own token).
    let once = fresh_form_token();
    let again = post_form(&mut su.browser, &action, &[("amount", ""), ("form", &once)]).await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert_eq!(again.text_of("refunded").as_deref(), Some("1000.00"));
    let now = app.balance_of(&su.token).await;
    assert_eq!(now.available + now.locked + now.hold, balance - 1000_00);
    let csv = csv_lines(&su.browser.get("/payments.csv").await);
    let line = csv
        .iter()
        .find(|l| l.starts_with(&payment))
        .expect("the payment exported");
    assert!(line.ends_with(",1000.00"), "{line}");
    app.assert_ledger_ok().await;
}

/// The refunds of `payment` as the API lists them.
async fn refunds_of(app: &TestApp, su: &SignedUp, payment: &str) -> usize {
    let a = app
        .get_as(
            &su.token,
            "/api/v1/refund/search",
            &[("payment_id", payment)],
        )
        .await;
    a.ok()["data"].as_array().expect("a data array").len()
}

/// All of the merchant's RUB: available, on hold and reserved.
async fn rub_total(app: &TestApp, su: &SignedUp) -> i64 {
    let b = app.balance_of(&su.token).await;
    b.available + b.hold + b.locked
}

/// The fields of a page's form to `action` as a browser sends them: the CSRF and one-time
/// tokens, then `fields`.
fn form_of(page: &Page, action: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let once = page
        .form_token(action)
        .unwrap_or_else(|| panic!("no one-time token in the form to {action}: {}", page.text));
    let mut all = vec![
        ("csrf".to_string(), page.csrf()),
        ("form".to_string(), once),
    ];
    all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

async fn post_fields(b: &mut Browser, action: &str, fields: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    b.post(action, &pairs).await
}

/// Sends the same form `times` times at once, each from its own connection.
async fn all_at_once(
    b: &Browser,
    action: &str,
    fields: &[(String, String)],
    times: usize,
) -> Vec<Page> {
    let sends: Vec<_> = (0..times)
        .map(|_| {
            let (mut b, action, fields) = (b.clone(), action.to_string(), fields.to_vec());
            tokio::spawn(async move { post_fields(&mut b, &action, &fields).await })
        })
        .collect();
    let mut answers = Vec::new();
    for send in sends {
        answers.push(send.await.expect("a submit"));
    }
    answers
}

/// A double click, a network retry, or F5 on the answer sends a refund form again: one refund,
/// the money moves once, and every submit is sent to the payment with the first one's notice.
/// The same form with another amount, or one without its token, makes nothing; a new form (a
/// new token) is a new refund.
#[tokio::test]
async fn a_refund_form_sent_again_makes_no_second_refund() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "refund-twice@merchant.test").await;
    let payment = paid(&app, &su, "1000", None).await;
    paid(&app, &su, "1000", None).await;
    let path = format!("/payments/{payment}");
    let action = format!("{path}/refund");
    let done = format!("{path}?notice=refund_made");
    let before = rub_total(&app, &su).await;

    let page = su.browser.get(&path).await;
    let form = form_of(&page, &action, &[("amount", "300")]);
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(post_fields(&mut su.browser, &action, &form).await);
    }
    assert_eq!(refunds_of(&app, &su, &payment).await, 1);
    assert_eq!(rub_total(&app, &su).await, before - 300_00);
    for answer in answers {
        answer.assert_redirect(&done);
    }
    let shown = su.browser.get(&done).await;
    shown.assert_html();
    assert_eq!(
        shown.text_of("notice").as_deref(),
        Some("The refund is made.")
    );
    assert_eq!(shown.text_of("refunded").as_deref(), Some("300.00"));
    // The page itself, reloaded, shows no notice.
    let plain = su.browser.get(&path).await;
    assert!(plain.text_of("notice").is_none(), "{}", plain.text);

    let mut other = form.clone();
    other[2].1 = "200".into();
    let used = post_fields(&mut su.browser, &action, &other).await;
    assert_eq!(used.status, 409, "{}", used.text);
    assert!(used.text_of("error").is_some(), "{}", used.text);
    assert_eq!(used.text_of("refunded").as_deref(), Some("300.00"));
    let bare = post_fields(
        &mut su.browser,
        &action,
        &[form[0].clone(), form[2].clone()],
    )
    .await;
    assert_eq!(bare.status, 422, "{}", bare.text);
    assert!(bare.text_of("error").is_some(), "{}", bare.text);
    assert_eq!(refunds_of(&app, &su, &payment).await, 1);
    assert_eq!(rub_total(&app, &su).await, before - 300_00);

    let second = su
        .browser
        .submit(&path, &action, &[("amount", "300")])
        .await;
    second.assert_redirect(&done);
    let shown = su.browser.follow(second).await;
    assert_eq!(shown.text_of("refunded").as_deref(), Some("600.00"));
    assert_eq!(refunds_of(&app, &su, &payment).await, 2);
    assert_eq!(rub_total(&app, &su).await, before - 600_00);
    app.assert_ledger_ok().await;
}

/// Submits of one refund form that arrive together (a double click the browser did not stop)
/// make one refund; every one is answered with it.
#[tokio::test]
async fn submits_of_one_refund_form_at_once_make_one_refund() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "refund-at-once@merchant.test").await;
    let payment = paid(&app, &su, "1000", None).await;
    paid(&app, &su, "1000", None).await;
    let path = format!("/payments/{payment}");
    let action = format!("{path}/refund");
    let before = rub_total(&app, &su).await;
    let page = su.browser.get(&path).await;
    let form = form_of(&page, &action, &[("amount", "250")]);
    let answers = all_at_once(&su.browser, &action, &form, 4).await;
    assert_eq!(refunds_of(&app, &su, &payment).await, 1);
    assert_eq!(rub_total(&app, &su).await, before - 250_00);
    for answer in answers {
        answer.assert_redirect(&format!("{path}?notice=refund_made"));
    }
    let shown = su.browser.get(&path).await;
    assert_eq!(shown.text_of("refunded").as_deref(), Some("250.00"));
    app.assert_ledger_ok().await;
}

/// Saves the shop's result URL (postbacks go there) on the integration page.
async fn set_result_url(su: &mut SignedUp, result_url: &str) {
    let saved = su
        .browser
        .submit(
            "/integration",
            &format!("/integration/shops/{}", su.shop_id),
            &[
                ("result_url", result_url),
                ("success_url", ""),
                ("fail_url", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
}

/// More postbacks than a page (50): the Older link leads to the rest. A notice's id holds a
/// `_` (`msg_<payment>`), which the cursor must carry.
#[tokio::test]
async fn the_postbacks_log_goes_on_to_older_pages() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let mut su = signed_up(&app, "many-postbacks@merchant.test").await;
    let result_url = r.url("/postback");
    set_result_url(&mut su, &result_url).await;
    let mut made = Vec::new();
    for i in 0..51 {
        if i % 2 == 0 {
            app.advance_ms(1);
        }
        made.push(paid(&app, &su, "10", None).await);
    }
    let first = su.browser.get("/postbacks").await;
    first.assert_html();
    assert_eq!(rows(&first, "postback").len(), 50);
    let older = first.href_of("older").expect("an Older link");
    let second = su.browser.get(&older).await;
    let last = rows(&second, "postback");
    assert_eq!(last.len(), 1, "{}", second.text);
    assert!(second.href_of("older").is_none());
    let shown: Vec<&str> = rows(&first, "postback").into_iter().chain(last).collect();
    for id in &made {
        assert_eq!(
            shown.iter().filter(|r| r.contains(id.as_str())).count(),
            1,
            "{id} not once over the pages"
        );
    }
}

#[tokio::test]
async fn postbacks_are_logged_redelivered_and_shown_on_their_payment() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let mut su = signed_up(&app, "postbacks@merchant.test").await;
    let mut other = signed_up(&app, "other@merchant.test").await;
    // No result URL yet: the payment page has no postbacks.
    let quiet = paid(&app, &su, "50", None).await;
    let quiet_page = su.browser.get(&format!("/payments/{quiet}")).await;
    assert!(
        rows(&quiet_page, "postback").is_empty(),
        "{}",
        quiet_page.text
    );

    let result_url = r.url("/postback");
    set_result_url(&mut su, &result_url).await;
    let payment = paid(&app, &su, "700", None).await;
    r.wait_for("/postback", 1).await;
    let notice = format!("msg_{payment}");
    let mut delivered = None;
    for _ in patience() {
        delivered = app.store.notice(&notice).await.expect("the store answers");
        if delivered
            .as_ref()
            .is_some_and(|n| n.state == NoticeState::Delivered)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let delivered = delivered.expect("the payment's notice");
    assert_eq!(delivered.state, NoticeState::Delivered);

    let log = su.browser.get("/postbacks").await;
    log.assert_html();
    let row = row_of(&log, "postback", &payment);
    assert!(row.contains("delivered"), "{row}");
    assert!(row.contains(&result_url), "{row}");
    assert!(row.contains(">1<"), "one attempt: {row}");
    assert!(
        row.contains(&format!("action=\"/postbacks/{notice}/redeliver\"")),
        "{row}"
    );
    let detail = su.browser.get(&format!("/payments/{payment}")).await;
    let sent = rows(&detail, "postback");
    assert_eq!(sent.len(), 1, "{}", detail.text);
    assert!(sent[0].contains(&result_url) && sent[0].contains("delivered"));

    // The receiver now fails, so the redelivered notice stays due (its next try is later on
    // the test's clock) and its state can be read without a race.
    r.answer_with(500);
    let again = su
        .browser
        .submit("/postbacks", &format!("/postbacks/{notice}/redeliver"), &[])
        .await;
    again.assert_html();
    assert!(again.text_of("notice").is_some(), "{}", again.text);
    let pending = app
        .store
        .notice(&notice)
        .await
        .unwrap()
        .expect("the notice");
    assert_eq!(pending.state, NoticeState::Pending, "{pending:?}");
    r.wait_for("/postback", 2).await;
    let mut tried = pending;
    for _ in patience() {
        tried = app
            .store
            .notice(&notice)
            .await
            .unwrap()
            .expect("the notice");
        if tried.total_attempts >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(tried.state, NoticeState::Pending, "{tried:?}");
    assert_eq!(tried.total_attempts, 2, "{tried:?}");

    // Another merchant's notice is missing for this one, and stays as it is.
    let foreign = post_form(
        &mut other.browser,
        &format!("/postbacks/{notice}/redeliver"),
        &[],
    )
    .await;
    let absent = post_form(
        &mut other.browser,
        "/postbacks/msg_ZZZZZZZZZZ/redeliver",
        &[],
    )
    .await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    assert_eq!(
        (foreign.status, &foreign.text),
        (absent.status, &absent.text)
    );
    let theirs = other.browser.get("/postbacks").await;
    assert!(rows(&theirs, "postback").is_empty(), "{}", theirs.text);
    let after = app
        .store
        .notice(&notice)
        .await
        .unwrap()
        .expect("the notice");
    assert_eq!(after.total_attempts, 2);
}

#[tokio::test]
async fn payout_accounts_are_added_by_card_or_sbp_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "accounts@merchant.test").await;
    let empty = su.browser.get("/payouts").await;
    empty.assert_html();
    // No account yet: nothing to pay out to, so no payout form.
    assert!(
        !empty.text.contains("action=\"/payouts\""),
        "{}",
        empty.text
    );
    let banks = app.store.sbp_banks(false).await.expect("the banks");
    let bank = banks
        .first()
        .expect("a bank in the dictionary")
        .member_id
        .to_string();
    assert!(
        empty.text.contains(&format!("<option value=\"{bank}\">")),
        "{}",
        empty.text
    );

    let card = su
        .browser
        .submit(
            "/payouts",
            "/payouts/accounts",
            &[
                ("account_type", "card"),
                ("card_number", CARD_OK),
                ("card_holder", "Ivan Petrov"),
            ],
        )
        .await;
    card.assert_html();
    assert_eq!(rows(&card, "account").len(), 1, "{}", card.text);
    assert!(
        !card.text.contains(CARD_OK),
        "the whole card number is shown"
    );
    let phone = su
        .browser
        .submit(
            "/payouts",
            "/payouts/accounts",
            &[
                ("account_type", "sbp"),
                ("phone", "+7 999 123-45-67"),
                ("bank", bank.as_str()),
            ],
        )
        .await;
    phone.assert_html();
    let accounts = rows(&phone, "account");
    assert_eq!(accounts.len(), 2, "{}", phone.text);
    assert!(
        accounts.iter().any(|a| a.contains("+79991234567")),
        "{}",
        phone.text
    );
    assert!(phone.text.contains("action=\"/payouts\""), "{}", phone.text);

    let bad: [&[(&str, &str)]; 5] = [
        &[
            ("account_type", "card"),
            ("card_number", "4242424242424241"),
            ("card_holder", "Ivan Petrov"),
        ],
        &[
            ("account_type", "card"),
            ("card_number", CARD_OK),
            ("card_holder", "Ivan\u{1}Petrov"),
        ],
        &[
            ("account_type", "sbp"),
            ("phone", "12"),
            ("bank", bank.as_str()),
        ],
        &[
            ("account_type", "sbp"),
            ("phone", "+79991234568"),
            ("bank", "999"),
        ],
        &[
            ("account_type", "iban"),
            ("phone", "+79991234568"),
            ("bank", bank.as_str()),
        ],
    ];
    for fields in bad {
        let refused = su
            .browser
            .submit("/payouts", "/payouts/accounts", fields)
            .await;
        assert_eq!(refused.status, 422, "{fields:?}: {}", refused.text);
        assert!(refused.text_of("error").is_some(), "{}", refused.text);
        assert_eq!(
            rows(&refused, "account").len(),
            2,
            "{fields:?} added an account"
        );
    }
}

/// Adds a card payout account in the form; its id.
async fn card_account(su: &mut SignedUp) -> String {
    let page = su
        .browser
        .submit(
            "/payouts",
            "/payouts/accounts",
            &[
                ("account_type", "card"),
                ("card_number", CARD_OK),
                ("card_holder", "Ivan Petrov"),
            ],
        )
        .await;
    page.assert_html();
    let row = rows(&page, "account");
    let row = row.first().expect("the account");
    let at = row.find("<code>").expect("its id") + "<code>".len();
    row[at..].split('<').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_unverified_merchant_or_one_without_the_money_may_not_pay_out() {
    let app = spawn_app().await;
    let email = "poor@merchant.test";
    let mut su = signed_up(&app, email).await;
    let account = card_account(&mut su).await;
    paid(&app, &su, "1000", None).await; // 965.00
    let fields = [
        ("account", account.as_str()),
        ("amount", "100"),
        ("currency", "RUB"),
    ];
    let unverified = su.browser.submit("/payouts", "/payouts", &fields).await;
    assert_eq!(unverified.status, 422, "{}", unverified.text);
    let error = unverified.text_of("error").expect("a refusal");
    assert!(error.contains("verified"), "{error}");
    assert!(rows(&unverified, "payout").is_empty());

    let merchant = merchant_id(&app, email).await;
    paylink_server::ops::merchants::set_verified(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant.as_str(),
        true,
        0,
    )
    .await
    .expect("verified");
    let short = su
        .browser
        .submit(
            "/payouts",
            "/payouts",
            &[
                ("account", account.as_str()),
                ("amount", "965"),
                ("currency", "RUB"),
            ],
        )
        .await;
    assert_eq!(short.status, 422, "{}", short.text);
    let error = short.text_of("error").expect("a refusal");
    assert!(error.contains("Not enough money"), "{error}");
    for (account, amount, currency) in [
        (account.as_str(), "0", "RUB"),
        (account.as_str(), "ten", "RUB"),
        (account.as_str(), "10", "XXX"),
        ("ZZZZZZZZZZ", "10", "RUB"),
    ] {
        let refused = su
            .browser
            .submit(
                "/payouts",
                "/payouts",
                &[
                    ("account", account),
                    ("amount", amount),
                    ("currency", currency),
                ],
            )
            .await;
        assert_eq!(refused.status, 422, "{amount} {currency}: {}", refused.text);
        assert!(refused.text_of("error").is_some());
    }
    assert!(rows(&su.browser.get("/payouts").await, "payout").is_empty());
    assert_eq!(app.balance_of(&su.token).await.available, 965_00);
    assert_eq!(csv_lines(&su.browser.get("/payouts.csv").await).len(), 1);
}

#[tokio::test]
async fn a_verified_merchant_pays_out_and_cancels_a_payout_under_moderation() {
    let app = spawn_app().await;
    // Every payout waits for an operator, so it stays cancelable while the test looks.
    let (mut su, account) = ready_to_pay_out(&app, "payouts@merchant.test").await;
    let made = su
        .browser
        .submit(
            "/payouts",
            "/payouts",
            &[
                ("account", account.as_str()),
                ("amount", "1000"),
                ("currency", "RUB"),
            ],
        )
        .await;
    made.assert_redirect("/payouts?notice=payout_made");
    let made = su.browser.follow(made).await;
    made.assert_html();
    let listed = rows(&made, "payout");
    assert_eq!(listed.len(), 1, "{}", made.text);
    assert!(listed[0].contains("MODERATING"), "{}", listed[0]);
    assert!(listed[0].contains("1000.00 RUB"), "{}", listed[0]);
    assert!(listed[0].contains(">Cancel<"), "{}", listed[0]);
    let at = listed[0].find("<code>").expect("an id") + "<code>".len();
    let id = listed[0][at..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_string();
    let bal = app.balance_of(&su.token).await;
    assert_eq!(bal.available, 4825_00 - 1070_00, "{bal:?}");

    let csv = csv_lines(&su.browser.get("/payouts.csv").await);
    assert_eq!(
        csv[0],
        "payout_id,created_at,amount,currency,commission,status,payee"
    );
    assert_eq!(csv.len(), 2, "{csv:?}");
    assert!(csv[1].starts_with(&format!("{id},")), "{csv:?}");
    assert!(csv[1].contains(",1000.00,RUB,70.00,MODERATING,"), "{csv:?}");

    let canceled = su
        .browser
        .submit("/payouts", &format!("/payouts/{id}/cancel"), &[])
        .await;
    canceled.assert_html();
    let row = row_of(&canceled, "payout", &id);
    assert!(
        row.contains("DECLINED") && !row.contains(">Cancel<"),
        "{row}"
    );
    assert_eq!(app.balance_of(&su.token).await.available, 4825_00);
    // Once declined it cannot be canceled again.
    let again = post_form(&mut su.browser, &format!("/payouts/{id}/cancel"), &[]).await;
    assert_eq!(again.status, 422, "{}", again.text);
    assert!(again.text_of("error").is_some());
    let missing = post_form(&mut su.browser, "/payouts/ZZZZZZZZZZ/cancel", &[]).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    app.assert_ledger_ok().await;
}

/// A verified merchant whose payouts wait for an operator (they stay as made), with 4825.00
/// from a paid bill of 5000, and a card payout account: the account's id.
async fn ready_to_pay_out(app: &TestApp, email: &str) -> (SignedUp, String) {
    let mut su = signed_up(app, email).await;
    let merchant = merchant_id(app, email).await;
    paylink_server::ops::merchants::set_verified(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        merchant.as_str(),
        true,
        0,
    )
    .await
    .expect("verified");
    app.set_profile(
        &merchant,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    paid(app, &su, "5000", None).await;
    let account = card_account(&mut su).await;
    (su, account)
}

/// The payouts as the merchant's export lists them.
async fn payouts_of(su: &mut SignedUp) -> usize {
    csv_lines(&su.browser.get("/payouts.csv").await).len() - 1
}

/// A payout form sent again (a double click, a retry, F5) makes one payout and moves the money
/// once; every submit is sent to the payouts with the first one's notice. The same form with
/// another amount, or one without its token, makes nothing; a new form is a new payout.
#[tokio::test]
async fn a_payout_form_sent_again_makes_no_second_payout() {
    let app = spawn_app().await;
    let (mut su, account) = ready_to_pay_out(&app, "payout-twice@merchant.test").await;
    let done = "/payouts?notice=payout_made";
    let page = su.browser.get("/payouts").await;
    let fields = [
        ("account", account.as_str()),
        ("amount", "1000"),
        ("currency", "RUB"),
    ];
    let form = form_of(&page, "/payouts", &fields);
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(post_fields(&mut su.browser, "/payouts", &form).await);
    }
    assert_eq!(payouts_of(&mut su).await, 1);
    assert_eq!(app.balance_of(&su.token).await.available, 4825_00 - 1070_00);
    for answer in answers {
        answer.assert_redirect(done);
    }
    let shown = su.browser.get(done).await;
    shown.assert_html();
    assert_eq!(
        shown.text_of("notice").as_deref(),
        Some("The payout is made.")
    );
    assert_eq!(rows(&shown, "payout").len(), 1, "{}", shown.text);

    let mut other = form.clone();
    other[3].1 = "500".into();
    let used = post_fields(&mut su.browser, "/payouts", &other).await;
    assert_eq!(used.status, 409, "{}", used.text);
    assert!(used.text_of("error").is_some(), "{}", used.text);
    let mut bare = form.clone();
    bare.remove(1);
    let bare = post_fields(&mut su.browser, "/payouts", &bare).await;
    assert_eq!(bare.status, 422, "{}", bare.text);
    assert!(bare.text_of("error").is_some(), "{}", bare.text);
    assert_eq!(payouts_of(&mut su).await, 1);
    assert_eq!(app.balance_of(&su.token).await.available, 4825_00 - 1070_00);

    let second = su.browser.submit("/payouts", "/payouts", &fields).await;
    second.assert_redirect(done);
    assert_eq!(payouts_of(&mut su).await, 2);
    assert_eq!(
        app.balance_of(&su.token).await.available,
        4825_00 - 2 * 1070_00
    );
    app.assert_ledger_ok().await;
}

/// Submits of one payout form that arrive together make one payout.
#[tokio::test]
async fn submits_of_one_payout_form_at_once_make_one_payout() {
    let app = spawn_app().await;
    let (mut su, account) = ready_to_pay_out(&app, "payout-at-once@merchant.test").await;
    let page = su.browser.get("/payouts").await;
    let form = form_of(
        &page,
        "/payouts",
        &[
            ("account", account.as_str()),
            ("amount", "1000"),
            ("currency", "RUB"),
        ],
    );
    let answers = all_at_once(&su.browser, "/payouts", &form, 4).await;
    assert_eq!(payouts_of(&mut su).await, 1);
    assert_eq!(app.balance_of(&su.token).await.available, 4825_00 - 1070_00);
    for answer in answers {
        answer.assert_redirect("/payouts?notice=payout_made");
    }
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn procard_is_turned_on_with_a_key_shown_once_that_signs_real_requests() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "procard@merchant.test").await;
    let off = su.browser.get("/links").await;
    off.assert_html();
    assert!(off.text.contains("id=\"procard-enable\""), "{}", off.text);
    assert!(off.text_of("procard-login").is_none());

    let on = su.browser.submit("/links", "/links/enable", &[]).await;
    on.assert_html();
    let login = on.text_of("procard-login").expect("the login");
    let key = on.text_of("procard-key").expect("the key, once");
    assert!(!login.is_empty() && key.len() >= 16, "{login} {key}");
    accepted(&procard_list(&app, &login, &key).await);
    refused(&procard_list(&app, &login, "not the key").await, -4);

    let later = su.browser.get("/links").await;
    assert_eq!(
        later.text_of("procard-login").as_deref(),
        Some(login.as_str())
    );
    assert!(
        later.text_of("procard-key").is_none(),
        "the key is shown again"
    );
    assert!(!later.text.contains(&key), "the key is shown again");
    assert!(
        !later.text.contains("id=\"procard-enable\""),
        "{}",
        later.text
    );
    // Turning it on again keeps the key, and does not show it.
    let again = post_form(&mut su.browser, "/links/enable", &[]).await;
    assert!(!again.text.contains(&key), "{}", again.text);
    accepted(&procard_list(&app, &login, &key).await);
}

#[tokio::test]
async fn rotating_the_procard_key_asks_first_and_the_old_key_stops_at_once() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "rotate@merchant.test").await;
    let on = su.browser.submit("/links", "/links/enable", &[]).await;
    let login = on.text_of("procard-login").expect("the login");
    let old = on.text_of("procard-key").expect("the key");

    let confirm = su.browser.get("/links/key").await;
    confirm.assert_html();
    confirm.assert_shows("stops working");
    assert_eq!(
        confirm.input_value_by("name=\"confirm\"").as_deref(),
        Some("yes")
    );
    // Without the confirmation nothing happens.
    let unsure = post_form(&mut su.browser, "/links/key", &[("confirm", "no")]).await;
    unsure.assert_redirect("/links/key");
    accepted(&procard_list(&app, &login, &old).await);

    let rotated = su
        .browser
        .submit("/links/key", "/links/key", &[("confirm", "yes")])
        .await;
    rotated.assert_html();
    let new = rotated.text_of("procard-key").expect("the new key");
    assert_ne!(new, old);
    assert_eq!(
        rotated.text_of("procard-login").as_deref(),
        Some(login.as_str())
    );
    refused(&procard_list(&app, &login, &old).await, -4);
    accepted(&procard_list(&app, &login, &new).await);
    let later = su.browser.get("/links").await;
    assert!(!later.text.contains(&new), "the new key is shown again");
}

#[tokio::test]
async fn the_dashboard_charts_todays_turnover_and_success_rate() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "charts@merchant.test").await;
    let blank = su.browser.get("/dashboard").await;
    blank.assert_html();
    assert!(!blank.text.contains("<svg"), "charts without payments");

    paid(&app, &su, "1000", None).await;
    let bill = api_bill(&app, &su, "500", None, None).await;
    let failed = pay(&app, &su, &bill, CARD_DECLINED).await;
    assert_eq!(failed["status"], json!("FAIL"), "{failed}");
    let page = su.browser.get("/dashboard").await;
    page.assert_html();
    let today = "2024-05-14";
    let chart = |label: &str| -> String {
        let at = page
            .text
            .find(&format!("aria-label=\"{label}\""))
            .unwrap_or_else(|| panic!("no chart {label:?} in {}", page.text));
        let start = page.text[..at].rfind("<svg").expect("its svg");
        let end = at + page.text[at..].find("</svg>").expect("its end");
        page.text[start..end].to_string()
    };
    let turnover = chart("Turnover per day, RUB");
    assert_eq!(turnover.matches("<rect").count(), 1, "{turnover}");
    assert!(
        turnover.contains(&format!("<title>{today}: 1000.00 RUB</title>")),
        "{turnover}"
    );
    let rate = chart("Successful payments per day, %");
    assert_eq!(rate.matches("<rect").count(), 1, "{rate}");
    assert!(
        rate.contains(&format!("<title>{today}: 50% (1/2)</title>")),
        "{rate}"
    );
    // No script and nothing fetched from elsewhere.
    assert!(!page.text.contains("<script"), "{}", page.text);

    // Tomorrow (signed in again: a session lasts twelve hours) today's bars are still there,
    // and the chart ends with the new day.
    app.advance_ms(DAY_MS);
    let mut b = signed_in(&app, "charts@merchant.test", PASSWORD).await;
    let next = b.get("/dashboard").await;
    next.assert_html();
    assert!(
        next.text
            .contains(&format!("<title>{today}: 50% (1/2)</title>")),
        "{}",
        next.text
    );
    assert!(
        next.text.contains(">2024-05-15<"),
        "the last day is tomorrow"
    );
}

#[tokio::test]
async fn the_older_link_keeps_the_order_id_filter() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "filter@merchant.test").await;
    let other = api_bill(&app, &su, "10", Some("other"), None).await;
    let mut batch = Vec::new();
    for i in 0..51 {
        if i % 5 == 0 {
            app.advance_ms(1);
        }
        batch.push(api_bill(&app, &su, "10", Some("batch"), None).await);
    }
    let first = su.browser.get("/bills?order_id=batch").await;
    assert_eq!(rows(&first, "bill").len(), 50);
    let older = first.href_of("older").expect("an Older link");
    assert!(older.contains("order_id=batch"), "{older}");
    let second = su.browser.get(&older).await;
    let last = rows(&second, "bill");
    assert_eq!(last.len(), 1, "{}", second.text);
    assert!(!last[0].contains(&other), "the filter is lost: {}", last[0]);
    let shown: Vec<&str> = rows(&first, "bill").into_iter().chain(last).collect();
    for id in &batch {
        assert_eq!(shown.iter().filter(|r| r.contains(id.as_str())).count(), 1);
    }
    let csv = csv_lines(&su.browser.get("/bills.csv?order_id=batch").await);
    assert_eq!(csv.len(), 52, "{csv:?}");
    assert!(!csv.iter().any(|l| l.starts_with(&other)));
}

#[tokio::test]
async fn what_a_merchant_typed_is_shown_as_text_not_markup() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "markup@merchant.test").await;
    let shop = su.shop_id.clone();
    let made = su
        .browser
        .submit(
            "/bills",
            "/bills",
            &[
                ("amount", "10"),
                ("shop_id", shop.as_str()),
                ("description", "<script>alert(1)</script>"),
                ("order_id", "\"><img src=x onerror=alert(2)>"),
            ],
        )
        .await;
    let made = su.browser.follow(made).await;
    made.assert_html();
    assert!(!made.text.contains("<script>alert"), "{}", made.text);
    assert!(!made.text.contains("<img src=x"), "{}", made.text);
    let filtered = su
        .browser
        .get("/bills?order_id=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E")
        .await;
    filtered.assert_html();
    assert_eq!(rows(&filtered, "bill").len(), 1, "{}", filtered.text);
    assert!(!filtered.text.contains("<img src=x"), "{}", filtered.text);
}

#[tokio::test]
async fn a_failed_payment_has_no_refund_and_a_refund_of_it_is_refused() {
    let app = spawn_app().await;
    let mut su = signed_up(&app, "failed@merchant.test").await;
    paid(&app, &su, "1000", None).await;
    let bill = api_bill(&app, &su, "500", None, None).await;
    let failed = pay(&app, &su, &bill, CARD_DECLINED).await;
    let id = failed["id"].as_str().expect("a payment id").to_string();
    let path = format!("/payments/{id}");
    let page = su.browser.get(&path).await;
    page.assert_html();
    assert_eq!(page.text_of("status").as_deref(), Some("FAIL"));
    assert!(
        !page.text.contains(&format!("action=\"{path}/refund\"")),
        "{}",
        page.text
    );
    let before = app.balance_of(&su.token).await;
    let once = fresh_form_token();
    let refused = post_form(
        &mut su.browser,
        &format!("{path}/refund"),
        &[("amount", ""), ("form", &once)],
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text_of("error").is_some(), "{}", refused.text);
    assert_eq!(refused.text_of("refunded").as_deref(), Some("0.00"));
    assert_eq!(app.balance_of(&su.token).await, before);
}

#[tokio::test]
async fn another_merchants_payout_account_and_payout_are_out_of_reach() {
    let app = spawn_app().await;
    let mut a = signed_up(&app, "owner@merchant.test").await;
    let mut b = signed_up(&app, "intruder@merchant.test").await;
    for (email, su) in [("owner@merchant.test", &a), ("intruder@merchant.test", &b)] {
        let m = merchant_id(&app, email).await;
        paylink_server::ops::merchants::set_verified(
            &app.store,
            &paylink_core::audit::Actor::cli("test"),
            m.as_str(),
            true,
            0,
        )
        .await
        .expect("verified");
        app.set_profile(
            &m,
            PayoutProfile {
                moderation: true,
                ..open_profile()
            },
        )
        .await;
        paid(&app, su, "5000", None).await;
    }
    let a_account = card_account(&mut a).await;
    card_account(&mut b).await;
    let made = a
        .browser
        .submit(
            "/payouts",
            "/payouts",
            &[
                ("account", a_account.as_str()),
                ("amount", "100"),
                ("currency", "RUB"),
            ],
        )
        .await;
    let made = a.browser.follow(made).await;
    made.assert_html();
    let row = rows(&made, "payout");
    let at = row[0].find("<code>").expect("an id") + "<code>".len();
    let payout = row[0][at..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_string();

    let with_theirs = b
        .browser
        .submit(
            "/payouts",
            "/payouts",
            &[
                ("account", a_account.as_str()),
                ("amount", "100"),
                ("currency", "RUB"),
            ],
        )
        .await;
    assert_eq!(with_theirs.status, 422, "{}", with_theirs.text);
    assert!(
        rows(&with_theirs, "payout").is_empty(),
        "{}",
        with_theirs.text
    );
    let foreign = post_form(&mut b.browser, &format!("/payouts/{payout}/cancel"), &[]).await;
    let absent = post_form(&mut b.browser, "/payouts/ZZZZZZZZZZ/cancel", &[]).await;
    assert_eq!(foreign.status, 404, "{}", foreign.text);
    assert_eq!(
        (foreign.status, &foreign.text),
        (absent.status, &absent.text)
    );
    for path in ["/payouts", "/payouts.csv"] {
        let page = b.browser.get(path).await;
        assert!(!page.text.contains(&payout), "{path} shows A's payout");
        assert!(!page.text.contains(&a_account), "{path} shows A's account");
    }
    let mine = a.browser.get("/payouts").await;
    assert!(row_of(&mine, "payout", &payout).contains("MODERATING"));
}
