//! Conversion into the balance currency, and back for a refund.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::ledger::FxRate;
use paylink_core::money::Currency;
use paylink_core::plan::{Plan, Write};
use paylink_server::ops::merchants::{self, ShopChanges};
use serde_json::json;

#[tokio::test]
async fn a_foreign_currency_payment_lands_converted_in_the_balance_currency() {
    let app = spawn_app().await;
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        ShopChanges {
            balance_currency: Some(Currency::Rub),
            ..ShopChanges::default()
        },
        true,
        0,
    )
    .await
    .unwrap();
    let usd = json!({"amount": "10", "currency_in": "USD", "shop_id": app.shop()});
    app.create_bill_as(app.token(), usd.clone())
        .await
        .error(403, "api:error.rate-not-found");

    app.store
        .apply(Plan::one(Write::SetFxRate {
            base: Currency::Usd,
            quote: Currency::Rub,
            rate: FxRate::parse("92.5").unwrap(),
            now: app.now(),
        }))
        .await
        .unwrap();
    let bill = app.bill(usd).await;
    let paid = app.pay_card(&bill, CARD_OK).await.ok().clone();
    let payment = id_of(&paid);
    let p = app.payment_status(&payment).await;
    assert_eq!(p["currency_in"], json!("USD"));
    assert_eq!(number(&p["amount"]), 10_00);
    // 10 USD less 3.5% is 9.65 USD, at 92.5 RUB: 892.625, rounded half up.
    assert_eq!(number(&p["amount_received"]), 9_65);
    assert_eq!(number(&p["account_amount"]), 892_63);
    assert_eq!(p["account_currency_code"], json!("RUB"));

    let a = app.get("/api/v1/merchant/balance", &[]).await;
    let balances = a.json["balances"].as_array().unwrap();
    assert_eq!(balances.len(), 1, "only a RUB balance: {}", a.text);
    assert_eq!(balances[0]["currency"], json!("RUB"));
    assert_eq!(balances[0]["balance_available"], json!("892.63"));

    // A refund converts back at the payment's rate: 5 USD is 462.50 RUB.
    let r = app.refund_partial_as(app.token(), &payment, "5").await;
    let r = r.ok();
    assert_eq!(r["currency"], json!("USD"));
    assert_eq!(number(&r["amount"]), 5_00);
    assert_eq!(r["account_currency"], json!("RUB"));
    assert_eq!(number(&r["account_amount"]), 462_50);
    assert_eq!(app.balance().await.available, 430_13);

    // No EUR rate: still refused.
    app.create_bill_as(
        app.token(),
        json!({"amount": "10", "currency_in": "EUR", "shop_id": app.shop()}),
    )
    .await
    .error(403, "api:error.rate-not-found");
    app.assert_ledger_ok().await;
}
