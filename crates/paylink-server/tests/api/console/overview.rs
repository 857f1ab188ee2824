//! The console's overview: every merchant's payments, turnover, success rate and payouts for
//! the last 24 hours and 30 days, the postback backlog, and the health panel, which shows what
//! `/metrics` shows.

use super::*;
use paylink_sdk::testing::Receiver;
use serde_json::json;

/// The value of an unlabelled sample in a `/metrics` scrape.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let url = app.metrics_url.as_ref().expect("a metrics listener");
    let text = app
        .http
        .get(url)
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .expect("a number")
}

#[track_caller]
fn shown(page: &Page, id: &str) -> String {
    page.text_of(id)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.text))
}

#[tokio::test]
async fn payments_turnover_and_success_rate_for_a_day_and_a_month() {
    let app = spawn_app_with(|s| s.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let mut b = admin(&app).await;
    let empty = b.get("/admin").await;
    assert_eq!(empty.status, 200, "{empty:?}");
    empty.assert_html();
    assert_eq!(shown(&empty, "payments-24h"), "0");
    assert_eq!(shown(&empty, "success-24h"), "—");
    empty.assert_hides("id=\"charts-24h\"");

    for (amount, card) in [("100", CARD_OK), ("250.50", CARD_OK), ("70", CARD_DECLINED)] {
        let bill = app.bill(json!({ "amount": amount })).await;
        app.pay_card(&bill, card).await;
    }
    // A bill nobody paid is no payment.
    app.bill(json!({"amount": "999"})).await;

    let page = b.get("/admin").await;
    for window in ["24h", "30d"] {
        assert_eq!(shown(&page, &format!("payments-{window}")), "3");
        assert_eq!(shown(&page, &format!("success-{window}")), "66% (2/3)");
    }
    page.assert_shows("<span class=\"turnover\" data-currency=\"RUB\">350.50 RUB</span>");
    page.assert_hides("1349.50");
    page.assert_shows("id=\"payouts-24h-none\"");
    // The charts: one bar per hour and per day, each titled with its figures.
    page.assert_shows("id=\"charts-24h\"");
    page.assert_shows("<title>2024-05-14 10:00 UTC: 350.50 RUB</title>");
    page.assert_shows("<title>2024-05-14 10:00 UTC: 66% (2/3)</title>");
    page.assert_shows("<title>2024-05-14: 350.50 RUB</title>");
    page.assert_shows("<title>2024-05-14: 66% (2/3)</title>");

    // The health panel reads what /metrics reads.
    page.assert_shows("id=\"dispatcher\" data-running=\"true\"");
    page.assert_shows("id=\"money-worker\" data-running=\"true\"");
    let writer_queue: i64 = shown(&page, "writer-queue").parse().expect("a number");
    assert_eq!(
        writer_queue as f64,
        metric(&app, "paylink_writer_queue").await
    );
    let due: i64 = shown(&page, "outbox-due").parse().expect("a number");
    assert_eq!(due as f64, metric(&app, "paylink_outbox_due").await);

    // Support sees the same page.
    let mut s = support(&app).await;
    let theirs = s.get("/admin").await;
    theirs.assert_html();
    assert_eq!(shown(&theirs, "payments-24h"), "3");
    assert_eq!(shown(&theirs, "success-30d"), "66% (2/3)");

    // A day later the day is empty and the month is not; a month later both are.
    // (Sessions end after a while: sign in again after the clock moved.)
    app.advance_ms(25 * HOUR_MS);
    let mut b = sign_in(&app, "admin@ops.test", PASSWORD, "").await.0;
    let later = b.get("/admin").await;
    assert_eq!(shown(&later, "payments-24h"), "0");
    assert_eq!(shown(&later, "success-24h"), "—");
    assert_eq!(shown(&later, "payments-30d"), "3");
    app.advance_ms(30 * 24 * HOUR_MS);
    let mut b = sign_in(&app, "admin@ops.test", PASSWORD, "").await.0;
    let much_later = b.get("/admin").await;
    assert_eq!(shown(&much_later, "payments-30d"), "0");

    // Nobody signed in sees nothing.
    Browser::new(&app)
        .get("/admin")
        .await
        .assert_redirect("/admin/sign-in");
}

#[tokio::test]
async fn payouts_show_by_status_with_count_and_amount() {
    // The sandbox provider answers an hour after a payout is sent: it stays unfinished.
    let app =
        spawn_app_with(|s| s.money.sandbox_payout_delay = std::time::Duration::from_secs(3600))
            .await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("10000").await;
    for order in ["po-1", "po-2"] {
        let a = app
            .regular_payout(with_order(card("1000", CARD_OK), order))
            .await;
        assert_eq!(created(&a).len(), 1);
    }
    let mut b = admin(&app).await;
    let page = b.get("/admin").await;
    page.assert_html();
    let table = &page.text[page
        .text
        .find("id=\"payouts-24h\"")
        .unwrap_or_else(|| panic!("no payouts table in {}", page.text))..];
    let table = &table[..table.find("</table>").expect("the table's end")];
    let counts: i64 = table
        .match_indices("<td class=\"num count\">")
        .map(|(i, m)| {
            let rest = &table[i + m.len()..];
            rest[..rest.find('<').expect("a cell")]
                .parse::<i64>()
                .expect("a count")
        })
        .sum();
    assert_eq!(counts, 2, "{table}");
    // Both wait (NEW, or PROCESS once the worker sent them): one status or two rows.
    assert!(
        table.contains("2000.00 RUB") || table.matches("1000.00 RUB").count() == 2,
        "{table}"
    );
    assert!(table.contains("data-currency=\"RUB\""), "{table}");
}

#[tokio::test]
async fn the_backlog_shows_postbacks_a_down_receiver_has_not_taken() {
    let app = spawn_app().await;
    let r = Receiver::start();
    r.answer_with(500);
    app.set_shop_urls(&r).await;
    let mut b = admin(&app).await;
    assert_eq!(shown(&b.get("/admin").await, "postback-backlog"), "0");

    let bill = app.bill(json!({"amount": "100"})).await;
    app.pay_card(&bill, CARD_OK).await.ok();
    // The receiver refused the first attempt; the postback waits for its next one.
    r.wait_for("/postback", 1).await;
    app.recorded_attempts(&bill, 1).await;
    app.advance_ms(90_000);
    let page = b.get("/admin").await;
    assert_eq!(shown(&page, "postback-backlog"), "1");
    assert_eq!(shown(&page, "postback-oldest"), "1 min");
    page.assert_shows("id=\"health\"");

    // Back up: the next attempt is taken, and the backlog empties. An attempt may have gone
    // to the receiver still down meanwhile (its retry is scheduled from the moved clock), so
    // the clock moves on until one is delivered.
    r.answer_with(200);
    let mut delivered = false;
    for _ in patience() {
        app.advance_ms(24 * HOUR_MS);
        let h = paylink_server::ops::merchants::postbacks(&app.store, &bill)
            .await
            .unwrap();
        if h[0].record.state == paylink_core::event::NoticeState::Delivered {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        delivered,
        "the receiver took the postback once it was back up"
    );
    let mut b = sign_in(&app, "admin@ops.test", PASSWORD, "").await.0;
    let page = b.get("/admin").await;
    assert_eq!(shown(&page, "postback-backlog"), "0");
    assert_eq!(shown(&page, "postback-oldest"), "—");
}
