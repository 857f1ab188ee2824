//! Sandbox payments (`POST /sandbox/pay`): test cards, SBP amounts, commissions, and the rules
//! for when a bill may be paid.

use crate::harness::*;
use paylink_core::money::Rate;
use paylink_server::ops::merchants::{self, ShopChanges};
use serde_json::{json, Value};

/// The payment's amount fields as exact JSON text.
#[track_caller]
fn assert_amounts(a: &Answer, amount: &str, commission: &str, received: &str) {
    assert_raw(&a.text, "amount", amount);
    assert_raw(&a.text, "commission", commission);
    assert_raw(&a.text, "amount_received", received);
}

fn payment_count(page: &Value) -> usize {
    page["data"].as_array().expect("data").len()
}

#[tokio::test]
async fn a_card_payment_succeeds_with_the_default_commission() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": "100.50"})).await;
    let a = app.pay_card(&id, CARD_OK).await;
    let p = a.ok();
    assert_eq!(p["status"], json!("SUCCESS"));
    assert_eq!(p["bill_id"], json!(id));
    assert!(is_base62_id(p["id"].as_str().unwrap()));
    assert_eq!(p["from_card"], json!("424242******4242"));
    assert_eq!(p["currency_in"], json!("RUB"));
    assert_eq!(p["error_code"], Value::Null);
    // 3.5% of 100.50 is 3.5175: 3.52 to the kopeck.
    assert_amounts(&a, "100.5", "3.52", "96.98");
    assert!(!a.text.contains("4242424242424242"), "{}", a.text);
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));

    // Half a kopeck rounds up: 3.5% of 1.00 is 0.035.
    let id = app.bill(json!({"amount": 1})).await;
    let a = app.pay_card(&id, "4242 4242 4242 4242").await;
    assert_eq!(a.ok()["from_card"], json!("424242******4242"));
    assert_amounts(&a, "1", "0.04", "0.96");

    // Another Luhn-valid card is approved too.
    let id = app.bill(json!({"amount": 10})).await;
    let a = app.pay_card(&id, "5555555555554444").await;
    assert_eq!(a.ok()["from_card"], json!("555555******4444"));
}

#[tokio::test]
async fn a_shop_commission_replaces_the_default() {
    let app = spawn_app().await;
    let changes = ShopChanges {
        commission: Some(Rate::parse_percent("1.25")),
        ..ShopChanges::default()
    };
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        changes,
        true,
        0,
    )
    .await
    .unwrap();
    let id = app.bill(json!({"amount": "100.50"})).await;
    let a = app.pay_card(&id, CARD_OK).await;
    assert_eq!(a.ok()["status"], json!("SUCCESS"));
    // 1.25% of 100.50 is 1.25625: 1.26.
    assert_amounts(&a, "100.5", "1.26", "99.24");

    let zero = ShopChanges {
        commission: Some(Some(Rate::ZERO)),
        ..ShopChanges::default()
    };
    merchants::update_shop(
        &app.store,
        Some(&paylink_core::audit::Actor::cli("test")),
        app.shop(),
        zero,
        true,
        0,
    )
    .await
    .unwrap();
    let id = app.bill(json!({"amount": "100.50"})).await;
    let a = app.pay_sbp(&id, None).await;
    assert_amounts(&a, "100.5", "0", "100.5");
}

#[tokio::test]
async fn declining_test_cards_fail_with_their_codes() {
    let app = spawn_app().await;
    for (card, code, masked) in [
        (CARD_DECLINED, 5, "400000******0002"),
        (CARD_NO_FUNDS, 51, "400000******9995"),
    ] {
        let id = app.bill(json!({"amount": "100.50"})).await;
        let a = app.pay_card(&id, card).await;
        let p = a.ok();
        assert_eq!(p["status"], json!("FAIL"));
        assert_raw(&a.text, "error_code", &code.to_string());
        assert!(p["error_message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(p["from_card"], json!(masked));
        assert_amounts(&a, "100.5", "0", "0");
        assert_eq!(app.bill_status(&id).await["status"], json!("FAIL"));
    }
}

#[tokio::test]
async fn a_card_number_must_pass_luhn() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    for card in [
        "4242424242424241",
        "4242",
        "4242-4242-4242-424x",
        "12345678901234567890",
    ] {
        app.pay_card(&id, card).await.invalid("card_number");
    }
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    assert_eq!(payment_count(payments.ok()), 0);
    assert_eq!(app.bill_status(&id).await["status"], json!("NEW"));
}

#[tokio::test]
async fn sbp_amounts_decide_the_status() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 100, "type": "multi"})).await;
    let cases = [
        (Some("99.99"), "UNDERPAID", "99.99", "3.5", "96.49"),
        (Some("150"), "OVERPAID", "150", "5.25", "144.75"),
        (Some("100.00"), "SUCCESS", "100", "3.5", "96.5"),
        (None, "SUCCESS", "100", "3.5", "96.5"),
    ];
    for (amount, status, paid, commission, received) in cases {
        let a = app.pay_sbp(&id, amount).await;
        let p = a.ok();
        assert_eq!(p["status"], json!(status), "{amount:?}");
        assert_raw(&a.text, "from_card", "\"\"");
        assert_eq!(p["error_code"], Value::Null);
        assert_amounts(&a, paid, commission, received);
        assert_eq!(app.bill_status(&id).await["status"], json!(status));
    }
    for bad in ["abc", "0", "-1", "1.001"] {
        app.pay_sbp(&id, Some(bad))
            .await
            .error(403, "api:error.invalid_amount");
    }
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    assert_eq!(payment_count(payments.ok()), 4);
}

#[tokio::test]
async fn the_payer_pays_the_commission_on_top() {
    let app = spawn_app().await;
    let card_bill = app
        .bill(json!({"amount": "100.50", "payer_pays_commission": "1"}))
        .await;
    let a = app.pay_card(&card_bill, CARD_OK).await;
    assert_eq!(a.ok()["status"], json!("SUCCESS"));
    assert_amounts(&a, "104.02", "3.52", "100.5");

    let sbp_bill = app
        .bill(json!({"amount": "100.50", "payer_pays_commission": true}))
        .await;
    let a = app.pay_sbp(&sbp_bill, None).await;
    assert_eq!(a.ok()["status"], json!("SUCCESS"));
    assert_amounts(&a, "104.02", "3.52", "100.5");

    // Paying only the bill's amount is paying less than asked.
    let short = app
        .bill(json!({"amount": "100.50", "payer_pays_commission": true}))
        .await;
    let a = app.pay_sbp(&short, Some("100.50")).await;
    assert_eq!(a.ok()["status"], json!("UNDERPAID"));
}

#[tokio::test]
async fn a_normal_bill_takes_one_successful_payment() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10})).await;
    assert_eq!(app.bill_status(&id).await["status"], json!("NEW"));

    let failed = app.pay_card(&id, CARD_DECLINED).await;
    assert_eq!(failed.ok()["status"], json!("FAIL"));
    assert_eq!(app.bill_status(&id).await["status"], json!("FAIL"));

    // After a failure the bill can still be paid.
    let paid = app.pay_card(&id, CARD_OK).await;
    assert_eq!(paid.ok()["status"], json!("SUCCESS"));
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));

    app.pay_card(&id, CARD_OK)
        .await
        .error(403, "api:error.bill_is_finished");
    app.pay_sbp(&id, None)
        .await
        .error(403, "api:error.bill_is_finished");
    app.pay_card(&id, CARD_DECLINED)
        .await
        .error(403, "api:error.bill_is_finished");

    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    let statuses: Vec<&str> = payments.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"FAIL") && statuses.contains(&"SUCCESS"));
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));

    // An underpaid NORMAL bill has taken money: it is finished too.
    let under = app.bill(json!({"amount": 10})).await;
    app.pay_sbp(&under, Some("5")).await.ok();
    app.pay_sbp(&under, Some("5"))
        .await
        .error(403, "api:error.bill_is_finished");
}

#[tokio::test]
async fn a_multi_bill_takes_many_payments() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": 10, "type": "MULTI"})).await;
    for _ in 0..3 {
        assert_eq!(
            app.pay_card(&id, CARD_OK).await.ok()["status"],
            json!("SUCCESS")
        );
        assert_eq!(
            app.pay_sbp(&id, None).await.ok()["status"],
            json!("SUCCESS")
        );
    }
    // A later failure does not hide the money received.
    assert_eq!(
        app.pay_card(&id, CARD_NO_FUNDS).await.ok()["status"],
        json!("FAIL")
    );
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    assert_eq!(payment_count(payments.ok()), 7);
}

#[tokio::test]
async fn a_bill_restricted_to_one_method_refuses_the_other() {
    let app = spawn_app().await;
    let sbp_only = app
        .bill(json!({"amount": 10, "payment_method": "SBP", "type": "multi"}))
        .await;
    app.pay_card(&sbp_only, CARD_OK).await.invalid("method");
    assert_eq!(
        app.pay_sbp(&sbp_only, None).await.ok()["status"],
        json!("SUCCESS")
    );

    let card_only = app
        .bill(json!({"amount": 10, "payment_method": "bank_card", "type": "multi"}))
        .await;
    app.pay_sbp(&card_only, None).await.invalid("method");
    assert_eq!(
        app.pay_card(&card_only, CARD_OK).await.ok()["status"],
        json!("SUCCESS")
    );

    for id in [sbp_only, card_only] {
        let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
        assert_eq!(payment_count(payments.ok()), 1);
    }
}

#[tokio::test]
async fn an_expired_bill_takes_no_payment() {
    let app = spawn_app().await;
    let multi = app
        .bill(json!({"amount": 10, "type": "multi", "ttl": 60}))
        .await;
    let normal = app.bill(json!({"amount": 10, "ttl": "60"})).await;
    let forever = app.bill(json!({"amount": 10, "type": "multi"})).await;

    app.advance_ms(59_000);
    assert_eq!(
        app.pay_card(&multi, CARD_OK).await.ok()["status"],
        json!("SUCCESS")
    );

    app.advance_ms(2_000);
    app.pay_card(&multi, CARD_OK)
        .await
        .error(403, "api:error.bill_expired");
    app.pay_sbp(&normal, None)
        .await
        .error(403, "api:error.bill_expired");
    // A bill without a ttl does not expire.
    app.advance_ms(400 * DAY_MS);
    assert_eq!(
        app.pay_card(&forever, CARD_OK).await.ok()["status"],
        json!("SUCCESS")
    );

    let payments = app.get("/api/v1/bill/payments", &[("id", &multi)]).await;
    assert_eq!(payment_count(payments.ok()), 1);
    assert_eq!(app.bill_status(&normal).await["status"], json!("NEW"));
}

#[tokio::test]
async fn the_sandbox_answer_matches_payment_status() {
    let app = spawn_app().await;
    let id = app
        .bill(json!({"amount": "77.70", "currency_in": "eur"}))
        .await;
    app.advance_ms(5_000);
    let paid = app.pay_card(&id, CARD_OK).await;
    let p = paid.ok().clone();
    assert_eq!(p["currency_in"], json!("EUR"));
    assert_eq!(p["created_at"], json!("2024-05-14 10:00:05"));
    let status = app
        .get(
            "/api/v1/payment/status",
            &[("id", p["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(status.ok(), &p);
}

/// The acquirer takes the money but its answer never arrives (sandbox card 0424, as a timeout):
/// the payment is neither failed nor forgotten. The payer is told the request may have been
/// carried out, the bill stays held (no second payer is charged meanwhile), and once the hold
/// runs out the money worker asks the acquirer about the charge and records what it says, with
/// its postback, once.
#[tokio::test]
async fn a_charge_whose_answer_never_came_is_asked_about_again_and_recorded_once() {
    let app = spawn_app().await;
    let r = paylink_sdk::testing::Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let bill = app
        .bill(json!({"amount": "1000.00", "order_id": "inv-424"}))
        .await;

    app.pay_card(&bill, "4000000000000424").await.error(
        503,
        "The request may have been carried out; check its status, or retry it with the same Idempotency-Key.",
    );
    let status = |a: Answer| a.ok()["status"].clone();
    let query = [("id", bill.as_str())];
    let bill_status = || app.get("/api/v1/bill/status", &query);
    assert_eq!(status(bill_status().await), json!("NEW"));
    app.pay_card(&bill, CARD_OK)
        .await
        .error(403, "api:error.bill_busy");

    app.advance_ms(181_000);
    let mut last = Value::Null;
    for () in patience() {
        last = status(bill_status().await);
        if last == json!("SUCCESS") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(last, json!("SUCCESS"), "the charge was never recorded");
    let payments = app
        .get("/api/v1/bill/payments", &[("id", bill.as_str())])
        .await;
    let found = payments.ok()["data"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{}", payments.text);
    assert_eq!(found[0]["status"], json!("SUCCESS"));
    assert_eq!(found[0]["from_card"], json!("400000******0424"));
    app.pay_card(&bill, CARD_OK)
        .await
        .error(403, "api:error.bill_is_finished");

    let got = r.wait_for("/postback", 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].field("Status"), "SUCCESS");
    assert_eq!(got[0].field("InvId"), "inv-424");
    // Asked about once: a later pass finds nothing left to ask.
    app.advance_ms(181_000);
    let again = app
        .get("/api/v1/bill/payments", &[("id", bill.as_str())])
        .await;
    assert_eq!(again.ok()["data"].as_array().unwrap().len(), 1);
    app.assert_ledger_ok().await;
}
