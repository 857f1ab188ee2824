//! The merchant's balance: its wire shape, and what a payment brings to it.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_balance_has_the_wire_shape_and_a_paid_bill_is_available_at_once() {
    let app = spawn_app().await;
    let a = app.get("/api/v1/merchant/balance", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_raw(&a.text, "success", "\"true\"");
    assert!(a.json["balances"].is_array(), "{}", a.text);
    assert_eq!(app.balance().await, Bal::default());

    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let a = app.get("/api/v1/merchant/balance", &[]).await;
    assert_raw(&a.text, "success", "\"true\"");
    let balances = a.json["balances"].as_array().unwrap();
    assert_eq!(balances.len(), 1, "{}", a.text);
    let rub = &balances[0];
    assert_eq!(rub["currency"], json!("RUB"));
    // 1000 less the default 3.5% commission, as strings with two decimals.
    assert_eq!(rub["balance_available"], json!("965.00"));
    assert_eq!(rub["balance_locked"], json!("0.00"));
    assert_eq!(rub["balance_hold"], json!("0.00"));
    assert_eq!(
        fixed(&rub["balance_available"]),
        number(&paid["amount_received"])
    );

    // Odd cents, and a declined payment that brings nothing.
    let second = app.fund("100.50").await;
    assert_eq!(second, 96_98);
    let declined = app.pay_as(&app.merchant, "500", CARD_DECLINED).await;
    assert_eq!(declined["status"], json!("FAIL"));
    let a = app
        .send(
            Method::POST,
            "/api/v1/merchant/balance",
            Some(app.token()),
            Body::None,
        )
        .await;
    assert_eq!(a.json["balances"][0]["balance_available"], json!("1061.98"));
    assert_eq!(
        app.balance().await,
        Bal {
            available: 1061_98,
            locked: 0,
            hold: 0
        }
    );
    // Another merchant's money is its own.
    let other = app.new_merchant("Other").await;
    assert_eq!(app.balance_of(&other.api_token).await, Bal::default());
    app.assert_ledger_ok().await;
}
