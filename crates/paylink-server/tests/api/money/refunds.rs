//! Refunds: in part and in full, posted to the merchant; refused by the acquirer (the money
//! back where it came from); left in PROCESS by a crash and completed by the worker.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use paylink_core::event::NoticeState;
use paylink_core::id::PaymentId;
use paylink_core::money::Currency;
use paylink_sdk::testing::{Received, Receiver};
use paylink_server::md5_signature;
use serde_json::{json, Value};
use std::time::Duration;

/// A refund of `amount` of the payment `paid` whose money is taken but whose asker died
/// before the acquirer answered: in PROCESS, leased for `lease_ms`.
async fn crashed_refund(
    app: &TestApp,
    paid: &Value,
    amount: i64,
    id: &str,
    lease_ms: i64,
) -> paylink_core::refund::Refund {
    let payment = app
        .store
        .payment(&PaymentId::parse(&id_of(paid)).unwrap())
        .await
        .unwrap()
        .unwrap();
    let bal = app
        .store
        .balance(&payment.merchant_id, Currency::Rub)
        .await
        .unwrap();
    let now = app.now();
    let (refund, plan) = paylink_core::decide::refund::create(
        &payment,
        Some(amount),
        bal,
        0,
        paylink_core::id::RefundId::parse(id).unwrap(),
        now + lease_ms,
        now,
    )
    .unwrap();
    app.store.apply(plan).await.unwrap();
    refund
}

#[tokio::test]
async fn a_paid_bill_is_refunded_in_part_then_in_full_and_each_refund_is_posted() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let bill = app
        .bill(json!({"amount": "1000", "custom": "order 77"}))
        .await;
    let paid = app.pay_card(&bill, CARD_OK).await.ok().clone();
    let payment = id_of(&paid);
    // Enough on the balance for a refund of the whole 1000 (the payment brought 965).
    app.fund("1000").await;
    assert_eq!(app.balance().await.available, 1930_00);

    let a = app.refund_partial_as(app.token(), &payment, "300").await;
    let first = a.ok().clone();
    for key in [
        "id",
        "payment_id",
        "bill_id",
        "status",
        "amount",
        "currency",
        "account_amount",
        "account_currency",
        "created_at",
    ] {
        assert!(first.get(key).is_some(), "no {key} in {}", a.text);
    }
    assert_eq!(first["payment_id"], json!(payment));
    assert_eq!(first["bill_id"], json!(bill));
    assert_eq!(first["status"], json!("SUCCESS"));
    assert_eq!(number(&first["amount"]), 300_00);
    assert_eq!(number(&first["account_amount"]), 300_00);
    assert_eq!(first["currency"], json!("RUB"));
    assert_eq!(first["account_currency"], json!("RUB"));
    let first_id = id_of(&first);

    let p = app.payment_status(&payment).await;
    assert_eq!(number(&p["refunded_amount"]), 300_00);
    assert_eq!(app.balance().await.available, 1630_00);

    // The clock is about to jump a whole postback lease: let the dispatcher finish recording
    // the first refund's delivery, or it would lease and send it again.
    let notice = format!("msg_{first_id}");
    for _ in patience() {
        let record = app.store.notice(&notice).await.unwrap();
        if record.is_some_and(|n| n.state == NoticeState::Delivered) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The full refund, a minute later, takes what remains.
    app.advance_ms(60_000);
    let a = app.refund_full_as(app.token(), &payment).await;
    let second = a.ok().clone();
    assert_eq!(number(&second["amount"]), 700_00);
    let second_id = id_of(&second);
    let p = app.payment_status(&payment).await;
    assert_eq!(number(&p["refunded_amount"]), 1000_00);
    // payment/status with refunds=1 lists them, oldest first.
    let listed = p["refunds"].as_array().expect("a refunds array");
    let seen: Vec<(String, i64)> = listed
        .iter()
        .map(|r| (id_of(r), number(&r["amount"])))
        .collect();
    assert_eq!(
        seen,
        vec![(first_id.clone(), 300_00), (second_id.clone(), 700_00)],
        "{p}"
    );
    assert_eq!(app.balance().await.available, 930_00);

    // Nothing remains.
    app.refund_full_as(app.token(), &payment)
        .await
        .error(403, "api:error.invalid_amount");
    app.refund_partial_as(app.token(), &payment, "0.01")
        .await
        .error(403, "api:error.invalid_amount");

    // refund/status and refund/search.
    let s = app.get("/api/v1/refund/status", &[("id", &first_id)]).await;
    let s = s.ok();
    assert_eq!(s["id"], json!(first_id));
    assert_eq!(number(&s["amount"]), 300_00);
    app.get("/api/v1/refund/status", &[("id", "NoSuchOne1")])
        .await
        .error(422, "api:error.refund_not_found");
    app.get("/api/v1/refund/status", &[]).await.invalid("id");
    let a = app
        .get("/api/v1/refund/search", &[("payment_id", &payment)])
        .await;
    let page = a.ok();
    let mut ids: Vec<String> = page["data"].as_array().unwrap().iter().map(id_of).collect();
    ids.sort();
    let mut expected = vec![first_id.clone(), second_id.clone()];
    expected.sort();
    assert_eq!(ids, expected, "{}", a.text);
    assert!(page["links"].is_object() && page["meta"].is_object());

    // The payment's postback and one per refund, signed md5(Amount:Currency:BillId:PaymentId:Id:token).
    // Four in all: the two payments' postbacks (the refunded one and the funding one) and
    // the two refunds'.
    let got = r.wait_for("/postback", 4).await;
    assert_eq!(
        got.iter().filter(|p| !p.field("OutSum").is_empty()).count(),
        2
    );
    let refunds: Vec<&Received> = got
        .iter()
        .filter(|p| !p.field("PaymentId").is_empty())
        .collect();
    assert_eq!(refunds.len(), 2, "{got:?}");
    for p in &refunds {
        assert_eq!(p.method, "POST");
        assert_eq!(p.field("PaymentId"), payment);
        assert_eq!(p.field("BillId"), bill);
        assert_eq!(p.field("Currency"), "RUB");
        assert_eq!(p.field("custom"), "order 77");
        let signature = md5_signature(
            &[
                p.field("Amount"),
                p.field("Currency"),
                p.field("BillId"),
                p.field("PaymentId"),
                p.field("Id"),
            ],
            app.token(),
        );
        assert_eq!(p.field("SignatureValue"), signature, "{p:?}");
    }
    let amount_of = |id: &str| {
        refunds
            .iter()
            .find(|p| p.field("Id") == id)
            .map(|p| p.field("Amount").to_string())
    };
    assert_eq!(amount_of(&first_id).as_deref(), Some("300.00"));
    assert_eq!(amount_of(&second_id).as_deref(), Some("700.00"));
    app.assert_ledger_ok().await;
}

/// The sandbox acquirer refuses refunds of payments by a card ending 0259: the refund ends
/// FAIL with the acquirer's reason, its money back in available, the payment refundable again,
/// and the merchant told by a postback.
#[tokio::test]
async fn a_refund_the_acquirer_refuses_gives_the_money_back() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let paid = app.pay_as(&app.merchant, "1000", "4000000000000259").await;
    let payment = id_of(&paid);
    let before = app.balance().await;
    assert_eq!(before.available, 965_00);

    let a = app.refund_partial_as(app.token(), &payment, "400").await;
    let refused = a.ok().clone();
    assert_eq!(refused["status"], json!("FAIL"), "{}", a.text);
    assert_eq!(
        refused["error_message"],
        json!("Refund refused by the issuer")
    );
    assert_eq!(
        app.balance().await,
        before,
        "the money is back in available"
    );
    assert_eq!(
        number(&app.payment_status(&payment).await["refunded_amount"]),
        0
    );
    let id = id_of(&refused);
    let s = app.get("/api/v1/refund/status", &[("id", &id)]).await;
    assert_eq!(s.ok()["status"], json!("FAIL"));

    // The same amount may be asked for again (and is refused again).
    let again = app.refund_partial_as(app.token(), &payment, "400").await;
    assert_eq!(again.ok()["status"], json!("FAIL"));
    assert_eq!(app.balance().await, before);

    let got = r.wait_for("/postback", 3).await;
    let refunds: Vec<&Received> = got
        .iter()
        .filter(|p| !p.field("PaymentId").is_empty())
        .collect();
    assert_eq!(refunds.len(), 2, "{got:?}");
    assert!(refunds.iter().all(|p| p.field("Status") == "FAIL"));
    app.assert_ledger_ok().await;
}

/// The acquirer's answer to a refund of a payment by a card ending 0408 never arrives the
/// first time: the money may have gone back to the payer, so the refund is neither refused
/// (its money returned to the merchant) nor done; it stays PROCESS, its money taken, and the
/// worker asks again under the same id once its lease runs out.
#[tokio::test]
async fn a_refund_whose_answer_never_came_keeps_its_money_and_is_asked_again() {
    let app = spawn_app().await;
    let r = Receiver::start();
    app.set_result_url(&r.url("/postback")).await;
    let paid = app.pay_as(&app.merchant, "1000", "4000000000000408").await;
    let payment = id_of(&paid);
    let before = app.balance().await;
    assert_eq!(before.available, 965_00);

    let a = app.refund_partial_as(app.token(), &payment, "400").await;
    let asked = a.ok().clone();
    assert_eq!(asked["status"], json!("PROCESS"), "{}", a.text);
    let id = id_of(&asked);
    let taken = app.balance().await;
    assert_eq!(taken.available, 565_00, "the refund's money stays taken");
    let s = app.get("/api/v1/refund/status", &[("id", &id)]).await;
    assert_eq!(s.ok()["status"], json!("PROCESS"));

    // The lease runs out: asked again, the refund is made, once.
    app.advance_ms(61_000);
    assert_eq!(app.refund_answered(&id).await, json!("SUCCESS"));
    assert_eq!(app.balance().await, taken);
    assert_eq!(
        number(&app.payment_status(&payment).await["refunded_amount"]),
        400_00
    );
    let got = r.wait_for("/postback", 2).await;
    let told: Vec<&Received> = got.iter().filter(|p| p.field("Id") == id).collect();
    assert_eq!(told.len(), 1, "{got:?}");
    assert_eq!(told[0].field("Status"), "SUCCESS");
    app.assert_ledger_ok().await;
}

/// A refund takes available first, then hold; when the acquirer refuses it, each part goes
/// back where it came from, and the held part settles when its payment's money does.
#[tokio::test]
async fn a_refused_refund_puts_back_in_hold_what_it_took_from_hold() {
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    // 965.00 settled, then 965.00 more waiting in hold.
    let refused = app.pay_as(&app.merchant, "1000", "4000000000000259").await;
    app.advance_ms(HOUR_MS);
    app.wait_balance(app.token(), |b| b.hold == 0 && b.available == 965_00)
        .await;
    app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let before = Bal {
        available: 965_00,
        locked: 0,
        hold: 965_00,
    };
    assert_eq!(app.balance().await, before);

    // The full 1 000.00: 965.00 from available and 35.00 from hold. Refused: both return.
    let a = app.refund_full_as(app.token(), &id_of(&refused)).await;
    assert_eq!(a.ok()["status"], json!("FAIL"), "{}", a.text);
    assert_eq!(app.balance().await, before, "each part back in its bucket");
    app.assert_ledger_ok().await;

    // What waits in hold settles on time, all of it.
    app.advance_ms(HOUR_MS);
    let settled = app.wait_balance(app.token(), |b| b.hold == 0).await;
    assert_eq!(
        settled,
        Bal {
            available: 1930_00,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

/// The payment settles while its refund waits for the acquirer; the acquirer then refuses.
/// The held part goes back to hold with its payment's settlement already past, so the worker
/// settles it on its next pass: hold never holds more than waits to settle.
#[tokio::test]
async fn a_refusal_after_the_settlement_ran_returns_the_held_part_and_settles_it() {
    let app = spawn_app_with(|s| s.money.settle_after = Duration::from_secs(3600)).await;
    let paid = app.pay_as(&app.merchant, "1000", "4000000000000259").await;
    // A refund whose asker died: 400.00 taken from hold, the acquirer not asked yet.
    let refund = crashed_refund(&app, &paid, 400_00, "Crashed002", 2 * HOUR_MS).await;
    assert_eq!(
        app.balance().await,
        Bal {
            available: 0,
            locked: 0,
            hold: 565_00
        }
    );
    // The settlement moves what is left in hold.
    app.advance_ms(HOUR_MS);
    app.wait_balance(app.token(), |b| b.hold == 0 && b.available == 565_00)
        .await;
    app.assert_ledger_ok().await;

    // The lease runs out; the worker asks, the acquirer refuses: 400.00 back to hold, and on
    // to available by the next settlement pass.
    app.advance_ms(HOUR_MS + 1);
    assert_eq!(app.refund_answered(refund.id.as_str()).await, json!("FAIL"));
    let settled = app
        .wait_balance(app.token(), |b| b.hold == 0 && b.available == 965_00)
        .await;
    assert_eq!(settled.locked, 0);
    assert_eq!(
        number(&app.payment_status(&id_of(&paid)).await["refunded_amount"]),
        0
    );
    app.assert_ledger_ok().await;
}

/// A refund whose money was taken but whose creator died before the acquirer answered stays
/// in PROCESS until its lease runs out; then the worker asks the acquirer and completes it.
#[tokio::test]
async fn a_refund_left_in_process_is_completed_by_the_worker() {
    let app = spawn_app().await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let refund = crashed_refund(&app, &paid, 100_00, "Crashed001", 60_000).await;
    let status = || async {
        app.get("/api/v1/refund/status", &[("id", refund.id.as_str())])
            .await
            .ok()["status"]
            .clone()
    };
    assert_eq!(status().await, json!("PROCESS"));
    assert_eq!(
        app.balance().await.available,
        865_00,
        "taken while in PROCESS"
    );
    // Within its lease nobody else asks.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(status().await, json!("PROCESS"));
    app.advance_ms(60_001);
    assert_eq!(
        app.refund_answered(refund.id.as_str()).await,
        json!("SUCCESS")
    );
    assert_eq!(app.balance().await.available, 865_00);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn refunds_that_cannot_be_made_are_refused() {
    let app = spawn_app().await;
    let paid = app.pay_as(&app.merchant, "1000", CARD_OK).await;
    let payment = id_of(&paid);
    let token = app.token();
    // The balance (965) cannot cover a refund of the whole payment.
    app.refund_full_as(token, &payment)
        .await
        .error(400, "api:error.balance_not_enough");
    // More than was paid.
    app.refund_partial_as(token, &payment, "1000.01")
        .await
        .error(403, "api:error.invalid_amount");
    app.refund_partial_as(token, &payment, "0")
        .await
        .error(403, "api:error.invalid_amount");
    app.refund_partial_as(token, &payment, "1.001")
        .await
        .error(403, "api:error.invalid_amount");
    // A payment that failed brought nothing to refund.
    let failed = app.pay_as(&app.merchant, "100", CARD_DECLINED).await;
    assert_eq!(failed["status"], json!("FAIL"));
    app.refund_full_as(token, &id_of(&failed))
        .await
        .error(400, "api:error.transaction_rejected");
    app.refund_partial_as(token, &id_of(&failed), "10")
        .await
        .error(400, "api:error.transaction_rejected");
    // Validation and unknown payments.
    app.post(
        "/api/v1/refund/partial/create",
        json!({"payment_id": payment}),
    )
    .await
    .invalid("amount");
    app.post("/api/v1/refund/full/create", json!({}))
        .await
        .invalid("payment_id");
    app.refund_full_as(token, "NoSuchOne1")
        .await
        .error(422, "api:error.payment_not_found");

    assert_eq!(
        number(&app.payment_status(&payment).await["refunded_amount"]),
        0
    );
    assert_eq!(app.balance().await.available, 965_00);
    // What the balance covers is refunded.
    app.refund_partial_as(token, &payment, "965").await.ok();
    assert_eq!(app.balance().await, Bal::default());
    app.assert_ledger_ok().await;
}
