//! Console tests: postbacks across merchants. The search by merchant, bill and payment finds
//! exactly theirs (a payment's refunds among them), never an email; one postback shows its
//! delivery attempts and what it says; support redelivers, audited.

use super::{admin, audited, cli, support};
use crate::harness::*;
use crate::web::Page;
use paylink_core::event::NoticeState;
use paylink_sdk::testing::Receiver;
use paylink_server::ops::merchants::{self, Onboarded};
use serde_json::json;
use std::time::Duration;

/// A paid bill of `who`'s of `amount`: (bill id, payment id).
async fn paid_as(app: &TestApp, who: &Onboarded, amount: &str) -> (String, String) {
    let bill = app
        .bill_as(
            &who.api_token,
            json!({ "amount": amount, "shop_id": who.shop_id.as_str() }),
        )
        .await;
    let a = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(&who.api_token),
            Body::Json(json!({"bill_id": bill, "method": "BANK_CARD", "card_number": CARD_OK})),
        )
        .await;
    assert_eq!(a.ok()["status"], json!("SUCCESS"), "{}", a.text);
    let payment = a.ok()["id"].as_str().expect("a payment id").to_string();
    (bill, payment)
}

/// Points `who`'s shop's postbacks at `url`.
async fn result_url(app: &TestApp, who: &Onboarded, url: &str) {
    merchants::update_shop(
        &app.store,
        Some(&cli()),
        who.shop_id.as_str(),
        merchants::ShopChanges {
            result_url: Some(url.to_string()),
            ..merchants::ShopChanges::default()
        },
        true,
        0,
    )
    .await
    .expect("the result URL is accepted");
}

/// The `<tr class="postback" ...>` rows of a list, as HTML, in order.
fn rows(page: &Page) -> Vec<String> {
    let opening = "<tr class=\"postback\"";
    page.text
        .match_indices(opening)
        .map(|(i, _)| {
            let rest = &page.text[i..];
            let end = rest.find("</tr>").map_or(rest.len(), |e| e + "</tr>".len());
            rest[..end].to_string()
        })
        .collect()
}

/// What the rows are about (payment, refund or payout ids: their `data-subject`), sorted.
fn subjects(page: &Page) -> Vec<String> {
    let mut out: Vec<String> = rows(page)
        .iter()
        .map(|r| attribute(r, "data-subject"))
        .collect();
    out.sort();
    out
}

/// The value of attribute `name` in `row`.
fn attribute(row: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let at = row.find(&marker).expect("the attribute") + marker.len();
    let len = row[at..].find('"').expect("a closing quote");
    row[at..at + len].to_string()
}

fn sorted(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort();
    ids.into_iter().map(str::to_string).collect()
}

/// Waits (bounded) until notice `id` is in `state`.
async fn wait_state(app: &TestApp, id: &str, state: NoticeState) {
    for _ in patience() {
        let n = app.store.notice(id).await.expect("the outbox reads");
        if n.is_some_and(|n| n.state == state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("notice {id} never got to {state:?}");
}

#[tokio::test]
async fn the_search_finds_exactly_a_merchants_a_bills_and_a_payments_postbacks() {
    let app = spawn_app().await;
    let r = Receiver::start();
    let a = &app.merchant;
    let b = app.new_merchant("Other shop").await;
    result_url(&app, a, &r.url("/postback")).await;
    result_url(&app, &b, &r.url("/postback")).await;
    let (bill1, p1) = paid_as(&app, a, "1000").await;
    let (bill2, p2) = paid_as(&app, a, "200").await;
    let (_, p3) = paid_as(&app, &b, "300").await;
    // A second later: the newest.
    app.advance_ms(1000);
    let refund = app.refund_partial_as(&a.api_token, &p1, "100").await;
    let refund = refund.ok()["id"].as_str().expect("a refund id").to_string();
    let mut ops = support(&app).await;

    let all = ops.get("/admin/postbacks").await;
    all.assert_html();
    assert_eq!(
        subjects(&all),
        sorted(vec![&p1, &p2, &p3, &refund]),
        "{}",
        all.text
    );
    // Newest first: the refund was the last.
    assert!(rows(&all)[0].contains(&refund), "{}", all.text);

    let of_a = ops
        .get(&format!("/admin/postbacks?merchant={}", a.merchant_id))
        .await;
    assert_eq!(subjects(&of_a), sorted(vec![&p1, &p2, &refund]));
    assert_eq!(
        of_a.input_value("merchant").as_deref(),
        Some(a.merchant_id.as_str())
    );
    let of_b = ops
        .get(&format!("/admin/postbacks?merchant={}", b.merchant_id))
        .await;
    assert_eq!(subjects(&of_b), sorted(vec![&p3]));
    let of_bill = ops.get(&format!("/admin/postbacks?bill={bill2}")).await;
    assert_eq!(subjects(&of_bill), sorted(vec![&p2]));
    let of_bill = ops.get(&format!("/admin/postbacks?bill={bill1}")).await;
    assert_eq!(subjects(&of_bill), sorted(vec![&p1, &refund]));
    let of_payment = ops.get(&format!("/admin/postbacks?payment={p1}")).await;
    assert_eq!(subjects(&of_payment), sorted(vec![&p1, &refund]));
    let of_payment = ops.get(&format!("/admin/postbacks?payment={p3}")).await;
    assert_eq!(subjects(&of_payment), sorted(vec![&p3]));
    // Filters narrow together; an unknown id finds nothing.
    let none = ops
        .get(&format!(
            "/admin/postbacks?merchant={}&payment={p1}",
            b.merchant_id
        ))
        .await;
    none.assert_html();
    assert!(rows(&none).is_empty(), "{}", none.text);
    none.assert_shows("id=\"no-postbacks\"");
    let unknown = ops.get("/admin/postbacks?payment=NoSuchPayment").await;
    assert!(rows(&unknown).is_empty(), "{}", unknown.text);
}

#[tokio::test]
async fn a_postback_shows_its_attempts_and_support_redelivers_it_audited() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_shop_urls(&r).await;
    let (_, payment) = paid_as(&app, &app.merchant, "150").await;
    r.wait_for("/postback", 1).await;
    let mut ops = support(&app).await;
    let list = ops
        .get(&format!("/admin/postbacks?payment={payment}"))
        .await;
    let found = rows(&list);
    assert_eq!(found.len(), 1, "{}", list.text);
    let id = attribute(&found[0], "data-id");
    assert!(found[0].contains("127.0.0.1"), "{}", found[0]);
    wait_state(&app, &id, NoticeState::Delivered).await;

    let path = format!("/admin/postbacks/{id}");
    let page = ops.get(&path).await;
    page.assert_html();
    assert_eq!(page.text_of("postback-state").as_deref(), Some("delivered"));
    assert_eq!(page.text_of("postback-attempts").as_deref(), Some("1"));
    assert_eq!(
        page.text_of("postback-url").as_deref(),
        Some(r.url("/postback").as_str())
    );
    page.assert_shows("<tr class=\"attempt\" data-number=\"1\" data-status=\"200\">");
    // What it says: the payment's fields, unsigned.
    page.assert_shows("<code>TrsId</code>");
    page.assert_shows(&format!("<code>{payment}</code>"));
    page.assert_hides("SignatureValue");

    let again = ops.submit(&path, &format!("{path}/redeliver"), &[]).await;
    again.assert_redirect(&format!("{path}?notice=done"));
    r.wait_for("/postback", 2).await;
    let log = audited(&app, &id).await;
    assert_eq!(log[0].action, "postback.redeliver");
    assert_eq!(log[0].actor, "support@ops.test");
    assert_eq!(log[0].role, "support");
    for _ in patience() {
        if app.store.notice_attempts(&id).await.expect("reads").len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let page = ops.get(&path).await;
    page.assert_shows("<tr class=\"attempt\" data-number=\"2\" data-status=\"200\">");
}

#[tokio::test]
async fn emails_are_not_postbacks() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let (_, payment) = paid_as(&app, &app.merchant, "100").await;
    // An email in the outbox: the invitation of the operator below.
    let mut ops = admin(&app).await;
    let mails = paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 50)
        .await
        .expect("the outbox reads");
    assert!(!mails.is_empty());

    let all = ops.get("/admin/postbacks").await;
    assert_eq!(subjects(&all), vec![payment.clone()], "{}", all.text);
    for m in &mails {
        all.assert_hides(&m.id);
        let page = ops.get(&format!("/admin/postbacks/{}", m.id)).await;
        assert_eq!(page.status, 404, "{}", page.text);
        page.assert_hides(&m.subject);
        let csrf = all.csrf();
        let sent = ops
            .post(
                &format!("/admin/postbacks/{}/redeliver", m.id),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(sent.status, 404, "{}", sent.text);
        assert!(audited(&app, &m.id).await.is_empty());
    }
    let missing = ops.get("/admin/postbacks/msg_nothing").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
}

#[tokio::test]
async fn the_list_goes_fifty_at_a_time_keeping_the_filter() {
    let app = spawn_app().await;
    app.set_result_url("https://merchant.example/postback")
        .await;
    let mut made = Vec::new();
    for _ in 0..51 {
        made.push(paid_as(&app, &app.merchant, "10").await.1);
    }
    let mut ops = support(&app).await;
    let first = ops
        .get(&format!(
            "/admin/postbacks?merchant={}",
            app.merchant.merchant_id
        ))
        .await;
    first.assert_html();
    assert_eq!(rows(&first).len(), 50, "{}", first.text);
    let next = first
        .text_of("older")
        .map(|_| {
            let marker = "id=\"older\"";
            let at = first.text.find(marker).expect("the link");
            let start = first.text[..at].rfind("href=\"").expect("its href") + "href=\"".len();
            let len = first.text[start..].find('"').expect("a closing quote");
            first.text[start..start + len]
                .replace("&#38;", "&")
                .replace("&amp;", "&")
        })
        .expect("a link to the next page");
    assert!(
        next.contains(&format!("merchant={}", app.merchant.merchant_id)),
        "{next}"
    );
    let second = ops.get(&next).await;
    second.assert_html();
    assert_eq!(rows(&second).len(), 1, "{}", second.text);
    second.assert_hides("id=\"older\"");
    let mut seen: Vec<String> = subjects(&first);
    seen.extend(subjects(&second));
    seen.sort();
    made.sort();
    assert_eq!(seen, made);
}
