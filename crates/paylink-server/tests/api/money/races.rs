//! The races a balance must survive, through real HTTP, and the ledger check that finds money
//! moved without its postings.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::id::{PaymentId, PayoutId};
use paylink_core::payout::PayoutProfile;
use paylink_core::plan::{Plan, Write};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payouts_never_spend_more_than_the_balance() {
    let app = spawn_app_with(|s| {
        s.money.payouts.moderation_threshold = i64::MAX;
        s.money.payouts.daily_limit = None;
        s.money.payouts.monthly_limit = None;
    })
    .await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("40000").await;
    let b = app.balance().await.available;
    assert_eq!(b, 38_600_00);
    let each = 1000_00 + 70_00;
    let expected = (b / each) as usize;

    let answers = app
        .all_at_once(256, "/api/v1/payout/regular/create", |i| {
            with_order(card("1000", CARD_OK), &format!("race-{i}"))
        })
        .await;
    let mut accepted = Vec::new();
    for a in &answers {
        match a.status {
            200 => accepted.extend(created(a)),
            _ => a.error(400, "api:error.balance_not_enough"),
        }
    }
    assert_eq!(
        accepted.len(),
        expected,
        "exactly floor(B / (X + fee)) accepted"
    );
    for p in &accepted {
        let done = app.wait_payout(app.token(), &id_of(p)).await;
        assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    }
    assert_eq!(
        app.balance().await,
        Bal {
            available: b - expected as i64 * each,
            locked: 0,
            hold: 0
        }
    );
    let listed = app
        .get("/api/v1/payout/search", &[("per_page", "500")])
        .await;
    assert_eq!(listed.ok()["data"].as_array().unwrap().len(), expected);
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payouts_never_pass_the_daily_limit() {
    let app = spawn_app().await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            daily_limit: Some(20_000_00),
            ..open_profile()
        },
    )
    .await;
    app.fund("40000").await; // room for 36 payouts of 1000, the limit allows 20
    let answers = app
        .all_at_once(256, "/api/v1/payout/regular/create", |_| {
            card("1000", CARD_OK)
        })
        .await;
    let mut accepted = 0;
    for a in &answers {
        match a.status {
            200 => accepted += created(a).len(),
            _ => a.error(400, "api:error.daily_payout_limit_exceeded"),
        }
    }
    assert_eq!(accepted, 20);
    let b = app.wait_balance(app.token(), |b| b.locked == 0).await;
    assert_eq!(b.available, 38_600_00 - 20 * 1070_00);
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_partial_refunds_never_refund_more_than_the_payment() {
    let app = spawn_app().await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    // Plenty of balance: the refunds are limited by the payment alone.
    app.fund("100000").await;
    let before = app.balance().await.available;
    let (a, r) = (1000_00, 7_00);
    let expected = (a / r) as usize; // 142

    let answers = app
        .all_at_once(
            256,
            "/api/v1/refund/partial/create",
            |_| json!({"payment_id": payment, "amount": "7.00"}),
        )
        .await;
    let mut accepted = 0;
    for ans in &answers {
        match ans.status {
            200 => {
                let refund = ans.ok();
                assert_eq!(number(&refund["amount"]), r);
                accepted += 1;
            }
            _ => ans.error(403, "api:error.invalid_amount"),
        }
    }
    assert_eq!(accepted, expected, "exactly floor(A / R) accepted");
    let p = app.payment_status(&payment).await;
    assert_eq!(number(&p["refunded_amount"]), expected as i64 * r);
    let listed = app
        .get(
            "/api/v1/refund/search",
            &[("payment_id", &payment), ("per_page", "500")],
        )
        .await;
    assert_eq!(listed.ok()["data"].as_array().unwrap().len(), expected);
    assert_eq!(app.balance().await.available, before - expected as i64 * r);
    app.assert_ledger_ok().await;

    // What remains (6.00) goes to exactly one of many full refunds.
    let answers = app
        .all_at_once(
            32,
            "/api/v1/refund/full/create",
            |_| json!({"payment_id": payment}),
        )
        .await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(number(&winners[0].json["amount"]), 6_00);
    for a in answers.iter().filter(|a| a.status != 200) {
        a.error(403, "api:error.invalid_amount");
    }
    let p = app.payment_status(&payment).await;
    assert_eq!(number(&p["refunded_amount"]), 1000_00);
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payouts_and_refunds_racing_for_one_balance_never_overdraw_it() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    app.fund("4000").await;
    let b = app.balance().await.available;
    assert_eq!(b, 4825_00);
    let (payout_each, refund_each) = (100_00 + 52_00, 10_00);

    let url_payout = app.url("/api/v1/payout/regular/create");
    let url_refund = app.url("/api/v1/refund/partial/create");
    let tasks: Vec<_> = (0..256)
        .map(|i| {
            let http = app.http.clone();
            let token = app.token().to_string();
            let (url, body) = if i % 2 == 0 {
                (url_payout.clone(), card("100", CARD_OK))
            } else {
                (
                    url_refund.clone(),
                    json!({"payment_id": payment, "amount": "10"}),
                )
            };
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("the server answers");
                (i % 2 == 0, answer(response).await)
            })
        })
        .collect();
    let (mut payouts_ok, mut refunds_ok) = (0i64, 0i64);
    let (mut payout_refused, mut refund_refused_for_balance) = (false, false);
    for t in tasks {
        let (is_payout, a) = t.await.expect("the request task");
        match (is_payout, a.status) {
            (true, 200) => payouts_ok += created(&a).len() as i64,
            (false, 200) => refunds_ok += 1,
            (true, _) => {
                a.error(400, "api:error.balance_not_enough");
                payout_refused = true;
            }
            (false, 400) => {
                a.error(400, "api:error.balance_not_enough");
                refund_refused_for_balance = true;
            }
            (false, _) => a.error(403, "api:error.invalid_amount"),
        }
    }
    let spent = payouts_ok * payout_each + refunds_ok * refund_each;
    assert!(spent <= b, "spent {spent} of {b}");
    let left = b - spent;
    // A balance only shrinks here, so whatever was refused for want of money still cannot be
    // afforded from what is left.
    if payout_refused {
        assert!(left < payout_each, "{left} left, yet a payout was refused");
    }
    if refund_refused_for_balance {
        assert!(left < refund_each, "{left} left, yet a refund was refused");
    }
    assert!(refunds_ok <= 100);
    let settled = app.wait_balance(app.token(), |x| x.locked == 0).await;
    assert_eq!(settled.available, left);
    let p = app.payment_status(&payment).await;
    assert_eq!(number(&p["refunded_amount"]), refunds_ok * refund_each);
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_id_sent_many_times_at_once_makes_one_payout() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("100000").await;
    let b = app.balance().await.available;
    let answers = app
        .all_at_once(64, "/api/v1/payout/regular/create", |_| {
            with_order(card("1000", CARD_OK), "same-order")
        })
        .await;
    let mut accepted = Vec::new();
    for a in &answers {
        match a.status {
            200 => accepted.extend(created(a)),
            _ => a.invalid("order_id"),
        }
    }
    assert_eq!(accepted.len(), 1);
    let done = app.wait_payout(app.token(), &id_of(&accepted[0])).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    assert_eq!(app.balance().await.available, b - 1070_00);
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_canceled_many_times_at_once_gives_its_money_back_once() {
    let app = spawn_app().await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    app.fund("5000").await;
    let p = created(&app.regular_payout(card("1000", CARD_OK)).await).remove(0);
    let id = id_of(&p);
    let answers = app
        .all_at_once(64, "/api/v1/payout/cancel", |_| json!({"id": id}))
        .await;
    let mut declined = 0;
    for a in &answers {
        match a.status {
            200 => {
                assert_eq!(a.ok()["status"], json!("DECLINED"));
                declined += 1;
            }
            _ => a.error(400, "api:error.transaction_rejected"),
        }
    }
    assert_eq!(declined, 1);
    assert_eq!(
        app.balance().await,
        Bal {
            available: 4825_00,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

/// The check the other tests rely on does find money that moved without its postings.
#[tokio::test]
async fn the_ledger_check_finds_money_moved_without_its_postings() {
    use paylink_core::payout::PayoutStatus;
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    // One payment settled, one still held.
    app.pay_as(&app.merchant, "1000", CARD_OK).await;
    app.advance_ms(HOUR_MS);
    app.wait_balance(app.token(), |b| b.hold == 0).await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let p = created(&app.regular_payout(card("100", CARD_OK)).await).remove(0);
    app.assert_ledger_ok().await;

    // A payout declined without releasing its lock, a refund counted without being made, and
    // a settlement marked without moving the hold.
    app.store
        .apply(Plan::one(Write::MovePayout {
            id: PayoutId::from_trusted(id_of(&p)),
            from: &[PayoutStatus::Moderating],
            to: PayoutStatus::Declined,
            error_message: None,
            process_at: None,
            now: app.now(),
        }))
        .await
        .unwrap();
    app.store
        .apply(Plan::one(Write::AddRefunded {
            payment_id: PaymentId::from_trusted(id_of(&paid)),
            amount: 1_00,
            was: None,
            now: app.now(),
        }))
        .await
        .unwrap();
    app.store
        .apply(Plan::one(Write::MarkSettled {
            id: id_of(&paid),
            now: app.now(),
        }))
        .await
        .unwrap();
    let report = app
        .store
        .ledger_check()
        .await
        .expect("the ledger check runs");
    let problems = report.problems.join("\n");
    assert_eq!(report.problems.len(), 3, "{problems}");
    assert!(
        problems.contains("locked 15200 but payouts in flight hold 0"),
        "{problems}"
    );
    assert!(
        problems.contains("refunded_amount 100 but its refunds total 0"),
        "{problems}"
    );
    assert!(
        problems.contains("hold 96500 exceeds the 0 waiting to settle"),
        "{problems}"
    );
}
