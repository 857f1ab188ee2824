//! Settlement: received money waits in hold until it is due.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn received_money_waits_in_hold_until_it_settles() {
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    assert_eq!(
        app.balance().await,
        Bal {
            available: 0,
            locked: 0,
            hold: 965_00
        }
    );
    // Held money is not paid out, but a refund may take it.
    app.regular_payout(card("100", CARD_OK))
        .await
        .error(400, "api:error.balance_not_enough");
    app.refund_partial_as(app.token(), &id_of(&paid), "100")
        .await
        .ok();
    assert_eq!(app.balance().await.hold, 865_00);
    app.assert_ledger_ok().await;

    // Not due a minute early; due after the hour.
    app.advance_ms(HOUR_MS - 60_000);
    assert_eq!(app.balance().await.hold, 865_00);
    app.advance_ms(60_000);
    let settled = app.wait_balance(app.token(), |b| b.hold == 0).await;
    assert_eq!(
        settled,
        Bal {
            available: 865_00,
            locked: 0,
            hold: 0
        }
    );
    let p = created(&app.regular_payout(card("100", CARD_OK)).await).remove(0);
    assert_eq!(
        app.wait_payout(app.token(), &id_of(&p)).await["status"],
        json!("SUCCESS")
    );
    assert_eq!(app.balance().await.available, 865_00 - 152_00);
    app.assert_ledger_ok().await;
}
