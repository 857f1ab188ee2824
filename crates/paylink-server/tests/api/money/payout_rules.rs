//! Who may pay out how much: moderation and cancel, the moderation threshold, daily and
//! monthly limits, verification and access, and another merchant's payouts and refunds.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::id::PayoutId;
use paylink_core::payout::PayoutProfile;
use paylink_server::ops::merchants;
use paylink_server::ops::payouts;
use serde_json::json;

#[tokio::test]
async fn canceling_a_moderating_payout_declines_it_and_returns_the_money() {
    let app = spawn_app().await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    app.fund("5000").await; // 4825.00
    let a = app
        .regular_payout(with_order(card("1000", CARD_OK), "mod-1"))
        .await;
    let p = created(&a).remove(0);
    assert_eq!(p["status"], json!("MODERATING"));
    let id = id_of(&p);
    assert_eq!(
        app.balance().await,
        Bal {
            available: 4825_00 - 1070_00,
            locked: 1070_00,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;

    let c = app
        .post("/api/v1/payout/cancel", json!({"order_id": "mod-1"}))
        .await;
    let c = c.ok();
    assert_eq!(c["id"], json!(id));
    assert_eq!(c["status"], json!("DECLINED"));
    let s = app.get("/api/v1/payout/status", &[("id", &id)]).await;
    assert_eq!(s.ok()["status"], json!("DECLINED"));
    assert_eq!(
        app.balance().await,
        Bal {
            available: 4825_00,
            locked: 0,
            hold: 0
        }
    );
    // Once declined it cannot be canceled again, nor can a paid-out payout.
    app.post("/api/v1/payout/cancel", json!({"id": id}))
        .await
        .error(400, "api:error.transaction_rejected");
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    let sent = id_of(&created(&app.regular_payout(card("100", CARD_OK)).await)[0]);
    assert_eq!(
        app.wait_payout(app.token(), &sent).await["status"],
        json!("SUCCESS")
    );
    app.post("/api/v1/payout/cancel", json!({"id": sent}))
        .await
        .error(400, "api:error.transaction_rejected");
    // Neither id nor order_id.
    app.post("/api/v1/payout/cancel", json!({}))
        .await
        .invalid("id");
    assert_eq!(app.balance().await.available, 4825_00 - 152_00);
    app.assert_ledger_ok().await;
}

/// `payout/cancel` by `order_id` cancels every part of a split payout; by `id`, one part.
#[tokio::test]
async fn canceling_a_split_payout_by_order_id_cancels_every_part() {
    let app = spawn_app().await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            moderation: true,
            ..open_profile()
        },
    )
    .await;
    app.fund("400000").await;
    let funded = app.balance().await.available;
    let a = app
        .regular_payout(with_order(card("300000", CARD_OK), "split-c"))
        .await;
    let parts = created(&a);
    assert_eq!(parts.len(), 2, "{}", a.text);
    // One part by id first: the other stays.
    let one = app
        .post("/api/v1/payout/cancel", json!({"id": id_of(&parts[1])}))
        .await;
    assert_eq!(one.ok()["status"], json!("DECLINED"));
    let first = app
        .get("/api/v1/payout/status", &[("id", &id_of(&parts[0]))])
        .await;
    assert_eq!(first.ok()["status"], json!("MODERATING"));
    // The rest by order id.
    let all = app
        .post("/api/v1/payout/cancel", json!({"order_id": "split-c"}))
        .await;
    assert_eq!(all.ok()["id"], json!(id_of(&parts[0])));
    for p in &parts {
        let s = app.get("/api/v1/payout/status", &[("id", &id_of(p))]).await;
        assert_eq!(s.ok()["status"], json!("DECLINED"));
    }
    assert_eq!(
        app.balance().await,
        Bal {
            available: funded,
            locked: 0,
            hold: 0
        }
    );
    // Nothing left to cancel.
    app.post("/api/v1/payout/cancel", json!({"order_id": "split-c"}))
        .await
        .error(400, "api:error.transaction_rejected");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn payouts_from_the_moderation_threshold_up_wait_for_an_operator() {
    let app = spawn_app_with(|s| s.money.payouts.moderation_threshold = 500_00).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("5000").await;
    let big = created(&app.regular_payout(card("500", CARD_OK)).await).remove(0);
    assert_eq!(big["status"], json!("MODERATING"));
    let small = created(&app.regular_payout(card("499.99", CARD_OK)).await).remove(0);
    assert_eq!(small["status"], json!("NEW"));
    assert_eq!(
        app.wait_payout(app.token(), &id_of(&small)).await["status"],
        json!("SUCCESS")
    );
    // The worker has been by, and left the moderated one alone.
    let s = app
        .get("/api/v1/payout/status", &[("id", &id_of(&big))])
        .await;
    assert_eq!(s.ok()["status"], json!("MODERATING"));
    assert_eq!(app.balance().await.locked, 560_00);

    let stored = app
        .store
        .payout(&PayoutId::from_trusted(id_of(&big)))
        .await
        .unwrap()
        .expect("the payout is stored");
    payouts::moderate(
        &app.store,
        &paylink_core::audit::Actor::cli("test"),
        &stored,
        payouts::Moderation::Approve,
        app.now(),
    )
    .await
    .expect("an operator approves");
    assert_eq!(
        app.wait_payout(app.token(), &id_of(&big)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(
        app.balance().await,
        Bal {
            available: 4825_00 - 560_00 - 559_99,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

/// The threshold weighs the whole request: a split order whose parts are each below it, but
/// whose total is not, waits for an operator in every part.
#[tokio::test]
async fn a_split_order_above_the_moderation_threshold_is_moderated_in_every_part() {
    let app = spawn_app_with(|s| s.money.payouts.moderation_threshold = 200_000_00).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("500000").await;
    let parts = created(
        &app.regular_payout(with_order(card("250000", CARD_OK), "big"))
            .await,
    );
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert!(number(&p["amount"]) < 200_000_00, "{p}");
        assert_eq!(p["status"], json!("MODERATING"), "{p}");
    }
    // Below the threshold in total, the same split goes out at once.
    let parts = created(
        &app.regular_payout(with_order(card("160000", CARD_OK), "small"))
            .await,
    );
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert_eq!(
            app.wait_payout(app.token(), &id_of(p)).await["status"],
            json!("SUCCESS")
        );
    }
    // The worker has been by, and left the moderated order alone.
    let s = app
        .get("/api/v1/payout/status", &[("order_id", "big")])
        .await;
    assert_eq!(s.ok()["status"], json!("MODERATING"));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn the_daily_and_monthly_limits_hold_and_a_failed_payout_gives_its_share_back() {
    let app = spawn_app().await;
    app.fund("20000").await;
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            daily_limit: Some(1500_00),
            ..open_profile()
        },
    )
    .await;
    // A failed payout counts while in flight, and not once it failed.
    let failed = created(&app.regular_payout(card("1000", PAYEE_FAIL)).await).remove(0);
    assert_eq!(
        app.wait_payout(app.token(), &id_of(&failed)).await["status"],
        json!("FAIL")
    );
    created(&app.regular_payout(card("1000", CARD_OK)).await);
    app.regular_payout(card("600", CARD_OK))
        .await
        .error(400, "api:error.daily_payout_limit_exceeded");
    created(&app.regular_payout(card("500", CARD_OK)).await);
    app.regular_payout(card("100", CARD_OK))
        .await
        .error(400, "api:error.daily_payout_limit_exceeded");
    // The next (UTC) day has its own limit.
    app.advance_ms(DAY_MS);
    created(&app.regular_payout(card("600", CARD_OK)).await);

    // A monthly limit: 2100 used this month so far.
    app.set_profile(
        &app.merchant.merchant_id,
        PayoutProfile {
            monthly_limit: Some(2500_00),
            ..open_profile()
        },
    )
    .await;
    app.regular_payout(card("500", CARD_OK))
        .await
        .error(400, "api:error.monthly_payout_limit_exceeded");
    created(&app.regular_payout(card("400", CARD_OK)).await);
    app.wait_balance(app.token(), |b| b.locked == 0).await;
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn an_unverified_merchant_may_not_pay_out() {
    let app = spawn_app().await;
    let unverified = merchants::create_merchant(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        "Unverified",
        None,
        false,
        app.now(),
    )
    .await
    .unwrap();
    app.set_profile(&unverified.merchant_id, open_profile())
        .await;
    app.regular_payout_as(&unverified.api_token, card("100", CARD_OK))
        .await
        .error(400, "api:error.merchant_not_verified");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn regular_payouts_need_access() {
    let app = spawn_app().await;
    app.fund("1000").await;
    app.set_profile(&app.merchant.merchant_id, PayoutProfile::default())
        .await;
    let a = app.regular_payout(card("100", CARD_OK)).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(a.json["success"], json!(false), "{}", a.text);
    assert_eq!(app.balance().await.locked, 0);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn another_merchants_payouts_and_refunds_are_not_found() {
    let app = spawn_app().await;
    let other = app.new_merchant("Other").await;
    app.set_profile(&other.merchant_id, open_profile()).await;
    let paid = app.pay_as(&other, "1000", CARD_OK).await;
    app.fund_as(&other, "1000").await;
    let theirs = created(
        &app.regular_payout_as(&other.api_token, with_order(card("100", CARD_OK), "theirs"))
            .await,
    )
    .remove(0);
    let refund = app
        .refund_partial_as(&other.api_token, &id_of(&paid), "10")
        .await;
    let refund_id = id_of(refund.ok());

    let mine = app.token();
    app.get_as(mine, "/api/v1/payout/status", &[("id", &id_of(&theirs))])
        .await
        .error(422, "api:error.payout_not_found");
    app.get_as(mine, "/api/v1/payout/status", &[("order_id", "theirs")])
        .await
        .error(422, "api:error.payout_not_found");
    app.post("/api/v1/payout/cancel", json!({"id": id_of(&theirs)}))
        .await
        .error(422, "api:error.payout_not_found");
    app.get_as(mine, "/api/v1/payout/status", &[("id", "NoSuchOne1")])
        .await
        .error(422, "api:error.payout_not_found");
    app.get_as(mine, "/api/v1/payout/status", &[])
        .await
        .invalid("id");
    app.refund_partial_as(mine, &id_of(&paid), "10")
        .await
        .error(422, "api:error.payment_not_found");
    app.refund_full_as(mine, &id_of(&paid))
        .await
        .error(422, "api:error.payment_not_found");
    app.get_as(mine, "/api/v1/refund/status", &[("id", &refund_id)])
        .await
        .error(422, "api:error.refund_not_found");
    let a = app.get_as(mine, "/api/v1/refund/search", &[]).await;
    assert_eq!(a.ok()["data"], json!([]));
    let a = app.get_as(mine, "/api/v1/payout/search", &[]).await;
    assert_eq!(a.ok()["data"], json!([]));

    // Theirs is untouched and still theirs.
    let done = app.wait_payout(&other.api_token, &id_of(&theirs)).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    assert_eq!(app.balance().await, Bal::default());
    assert_eq!(
        app.balance_of(&other.api_token).await.available,
        2 * 965_00 - 152_00 - 10_00
    );
    app.assert_ledger_ok().await;
}
