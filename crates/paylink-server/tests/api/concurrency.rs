//! The double-payment guard through real HTTP: many payers racing for one NORMAL bill, each
//! refused before its charge (the bill is held by the charge under way, or paid).

use crate::harness::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payments_on_a_normal_bill_succeed_exactly_once() {
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": "100.50"})).await;
    let url = app.url("/sandbox/pay");
    let payers: Vec<_> = (0..32)
        .map(|_| {
            let http = app.http.clone();
            let url = url.clone();
            let token = app.token().to_string();
            let id = id.clone();
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"bill_id": id, "method": "BANK_CARD", "card_number": CARD_OK}))
                    .send()
                    .await
                    .expect("the server answers");
                answer(response).await
            })
        })
        .collect();
    let mut successes = Vec::new();
    for payer in payers {
        let a = payer.await.expect("the payer task");
        if a.status == 200 {
            successes.push(a);
        } else if a.text.contains("bill_busy") {
            // Refused while the winner's charge held the bill: before any money was taken.
            a.error(403, "api:error.bill_busy");
        } else {
            a.error(403, "api:error.bill_is_finished");
        }
    }
    assert_eq!(successes.len(), 1, "exactly one payment succeeds");
    let winner = &successes[0];
    assert_eq!(winner.json["status"], json!("SUCCESS"));

    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    let data = payments.ok()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{}", payments.text);
    assert_eq!(data[0]["id"], winner.json["id"]);
    assert_eq!(app.bill_status(&id).await["status"], json!("SUCCESS"));
    let all = app.get("/api/v1/payment/search", &[]).await;
    assert_eq!(all.ok()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_normal_bill_another_payers_charge_holds_refuses_before_charging() {
    use paylink_core::id::{BillId, PaymentId};
    use paylink_core::plan::{Plan, Write};
    let app = spawn_app().await;
    let id = app.bill(json!({"amount": "100.50"})).await;
    // Another payer's charge is with the acquirer.
    app.store
        .apply(Plan::one(Write::ClaimBill {
            bill_id: BillId::parse(&id).unwrap(),
            payment_id: PaymentId::from_trusted("OtherPayer".into()),
            until: app.now() + 120_000,
            now: app.now(),
        }))
        .await
        .unwrap();
    let pay = || {
        app.post(
            "/sandbox/pay",
            json!({"bill_id": id, "method": "BANK_CARD", "card_number": CARD_OK}),
        )
    };
    pay().await.error(403, "api:error.bill_busy");
    let payments = app.get("/api/v1/bill/payments", &[("id", &id)]).await;
    assert_eq!(payments.ok()["data"].as_array().unwrap().len(), 0);
    // Its hold lapses (the other payer's process died): the bill is paid.
    app.advance_ms(120_001);
    assert_eq!(pay().await.ok()["status"], json!("SUCCESS"));
}
