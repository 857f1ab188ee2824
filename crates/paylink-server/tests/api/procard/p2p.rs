//! P2Pin links: the payer's money, less the fee, goes on to the link's recipient card through
//! the payout provider; the merchant's available balance never holds it, unless the provider
//! refuses the transfer and it comes back.

use super::*;

/// Pays P2Pin link `id` with a test card; the payout its money became, once it has ended.
async fn paid_on(app: &TestApp, id: &str) -> Value {
    let op = pay_ok(app, id, "100.00", 1, CARD_OK).await;
    assert_eq!(op["status"], json!("APPROVED"), "{op}");
    let order = op["order_id"].as_str().expect("an order id");
    let started = app
        .get("/api/v1/payout/status", &[("order_id", order)])
        .await;
    let payout = started.ok().clone();
    assert_eq!(payout["amount"], json!(96.5), "{payout}");
    assert_eq!(payout["commission"], json!(0), "{payout}");
    // The sandbox provider answers after its delay.
    app.advance_ms(HOUR_MS);
    app.wait_payout(app.token(), payout["id"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn a_p2pin_payment_goes_to_the_recipient_card_not_to_the_merchant() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    let id = c
        .create(
            &app,
            json!({"operation": "P2Pin", "card_number2": "4111 1111 1111 1111"}),
        )
        .await;
    // While the transfer is under way, and after it, the payment is not the merchant's to
    // refund: the money went to the recipient. The merchant's other sales pay for nothing.
    let other = app.bill(json!({"amount": "500.00"})).await;
    app.pay_card(&other, CARD_OK).await.ok();
    let total = |b: Bal| b.available + b.hold + b.locked;
    let mine = total(app.balance_of(app.token()).await);
    let op = pay_ok(&app, &id, "100.00", 1, CARD_OK).await;
    let payment = op["order_id"].as_str().unwrap().to_string();
    app.refund_full_as(app.token(), &payment)
        .await
        .error(400, "api:error.transaction_rejected");
    let done = paid_on(&app, &id).await;
    assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    assert_eq!(
        done["account_identifier"],
        json!("411111******1111"),
        "{done}"
    );
    let first = app
        .get("/api/v1/payout/status", &[("order_id", &payment)])
        .await;
    let first = app
        .wait_payout(app.token(), first.ok()["id"].as_str().unwrap())
        .await;
    assert_eq!(first["status"], json!("SUCCESS"), "{first}");
    app.refund_partial_as(app.token(), &payment, "10.00")
        .await
        .error(400, "api:error.transaction_rejected");
    // Paid in, paid on: nothing stays with the merchant, nor is taken from them.
    assert_eq!(total(app.balance_of(app.token()).await), mine);
    let page = c.operations(&app, &id, json!({})).await;
    assert_eq!(page["total"], json!(2));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_refused_transfer_comes_back_to_the_merchant() {
    let app = spawn_app().await;
    let c = enable(&app).await;
    // The sandbox payout provider refuses cards ending 0002.
    let id = c
        .create(
            &app,
            json!({"operation": "P2Pin", "card_number2": CARD_DECLINED}),
        )
        .await;
    let done = paid_on(&app, &id).await;
    assert_eq!(done["status"], json!("FAIL"), "{done}");
    let bal = app
        .wait_balance(app.token(), |b| b.available == 96_50)
        .await;
    assert_eq!(bal.locked, 0);
    // The money came back: the merchant may give the payer back what they hold.
    let order = done["order_id"].as_str().unwrap();
    let refund = app.refund_partial_as(app.token(), order, "50.00").await;
    let refund = refund.ok()["id"].as_str().unwrap().to_string();
    assert_eq!(app.refund_answered(&refund).await, json!("SUCCESS"));
    app.wait_balance(app.token(), |b| b.available == 46_50)
        .await;
    app.assert_ledger_ok().await;
}
