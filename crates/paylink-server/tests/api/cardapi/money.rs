//! Card money through real HTTP: credits from the partner's prepaid balance, debits that never
//! overdraw (under concurrency too), holds, clearing, reversals and refunds that never exceed
//! what they settle, and a ledger that adds up afterwards.

use super::*;
use paylink_core::id::PartnerId;
use paylink_core::ledger::Owner;

/// The partner's prepaid KZT (available, minor units) as the ledger holds it.
async fn prepaid(app: &TestApp, p: &Partner) -> i64 {
    app.store
        .owner_balance(
            &Owner::partner(&PartnerId::from_trusted(p.auth_id.clone())),
            Currency::Kzt,
        )
        .await
        .expect("the partner's balance reads")
        .available
}

fn money(card: &str, kind: &str, amount: &str) -> Value {
    json!({"card_id": card, "type": kind, "amount": amount, "currency": "KZT",
           "description": format!("{kind} {amount}")})
}

/// A hold of `amount` on `card`; its transaction id.
async fn authorize(p: &Partner, card: &str, amount: &str) -> String {
    let b = p
        .ok(
            "card-api/sandbox/authorize",
            json!({"card_id": card, "amount": amount, "currency": "KZT",
                   "description": "order 42", "merchant_name": "Test Shop"}),
        )
        .await;
    assert_eq!(b["transaction_status"], json!("process"), "{b}");
    b["transaction_id"].as_str().expect("an id").to_string()
}

/// A debit of `amount`; its transaction id.
async fn debit(p: &Partner, card: &str, amount: &str) -> String {
    let b = p
        .ok("card-api/transaction/create", money(card, "debit", amount))
        .await;
    b["transaction_id"].as_str().expect("an id").to_string()
}

async fn transaction(p: &Partner, id: &str) -> Value {
    p.ok("card-api/transaction/info", json!({"transaction_id": id}))
        .await["transaction"]
        .clone()
}

fn bal(balance: &str, hold: &str, available: &str) -> (String, String, String) {
    (balance.into(), hold.into(), available.into())
}

/// Sends every body to `path` at once: each from its own task, all spawned before any is
/// awaited and released together by a barrier. The answers, checked for card numbers.
async fn all_at_once(p: &Partner, path: &str, bodies: Vec<Value>) -> Vec<Answer> {
    let path = format!("/v5/{path}");
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|mut body| {
            body["request_id"] = json!(new_request_id());
            let client = p.client.clone();
            let path = path.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                client.call(&path, &body).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        let a = t
            .await
            .expect("the task runs")
            .expect("the server answers JSON");
        assert_no_pan(&a.body.to_string());
        answers.push(a);
    }
    answers
}

/// How many answers succeeded; every other one was refused with `code`.
fn successes(answers: &[Answer], code: &str) -> usize {
    let mut ok = 0;
    for a in answers {
        if a.is_ok() {
            ok += 1;
        } else {
            assert_eq!(a.http_status, 200, "{}", a.body);
            assert_eq!(a.error_code(), Some(code), "{}", a.body);
        }
    }
    ok
}

#[tokio::test]
async fn a_credit_draws_exactly_its_amount_from_the_partner_balance() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    assert_eq!(prepaid(&app, &p).await, 100_000);
    let card = p.card("KZT").await;
    let b = p
        .ok(
            "card-api/transaction/create",
            money(&card, "credit", "123.45"),
        )
        .await;
    assert_eq!(b["transaction_status"], json!("success"), "{b}");
    assert_eq!(prepaid(&app, &p).await, 100_000 - 12_345);
    assert_eq!(p.balance(&card).await, bal("123.45", "0.00", "123.45"));
    let t = transaction(&p, b["transaction_id"].as_str().unwrap()).await;
    assert_eq!(t["type"], json!("credit"));
    assert_eq!(t["amount"], json!("123.45"));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_credit_above_the_partner_balance_is_refused_and_nothing_moves() {
    let app = spawn_app().await;
    let p = partner(&app, 100).await;
    let card = p.funded_card("40.00").await;
    p.refused(
        "card-api/transaction/create",
        money(&card, "credit", "60.01"),
        "insufficient_funds",
    )
    .await;
    assert_eq!(prepaid(&app, &p).await, 6_000);
    assert_eq!(p.balance(&card).await, bal("40.00", "0.00", "40.00"));
    // Exactly what is left still goes.
    p.ok(
        "card-api/transaction/create",
        money(&card, "credit", "60.00"),
    )
    .await;
    assert_eq!(prepaid(&app, &p).await, 0);
    assert_eq!(p.balance(&card).await.0, "100.00");
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_take_a_card_below_zero() {
    let app = spawn_app().await;
    let p = partner(&app, 2000).await;
    let card = p.funded_card("1000.50").await;
    let bodies = (0..256).map(|_| money(&card, "debit", "10.00")).collect();
    let answers = all_at_once(&p, "card-api/transaction/create", bodies).await;
    assert_eq!(successes(&answers, "insufficient_funds"), 100);
    assert_eq!(p.balance(&card).await, bal("0.50", "0.00", "0.50"));
    // The statement holds exactly the hundred debits that went through.
    let mut debits = 0;
    for page in 1..=3 {
        let b = p
            .ok(
                "card-api/card/statement",
                json!({"card_id": card, "date_from": "2024-05-14", "date_to": "2024-05-14",
                       "page": page, "limit": 100}),
            )
            .await;
        debits += b["operations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == json!("debit"))
            .count();
    }
    assert_eq!(debits, 100);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn an_authorization_holds_money_that_a_debit_cannot_spend() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let auth = authorize(&p, &card, "70.00").await;
    assert_eq!(p.balance(&card).await, bal("100.00", "70.00", "30.00"));
    p.refused(
        "card-api/transaction/create",
        money(&card, "debit", "30.01"),
        "insufficient_funds",
    )
    .await;
    p.refused(
        "card-api/sandbox/authorize",
        json!({"card_id": card, "amount": "30.01", "currency": "KZT", "description": "x"}),
        "insufficient_funds",
    )
    .await;
    debit(&p, &card, "30.00").await;
    assert_eq!(p.balance(&card).await, bal("70.00", "70.00", "0.00"));
    let t = transaction(&p, &auth).await;
    assert_eq!(t["type"], json!("authorization"));
    assert_eq!(t["status"], json!("process"));
    assert_eq!(t["merchant_name"], json!("Test Shop"));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn clearing_captures_up_to_the_hold_and_releases_the_rest_once() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    for path in ["card-api/transaction/clearing", "card-api/sandbox/clearing"] {
        let auth = authorize(&p, &card, "40.00").await;
        let before = p.balance(&card).await;
        p.refused(
            path,
            json!({"transaction_id": auth, "amount": "40.01"}),
            "amount_exceeds_authorized",
        )
        .await;
        assert_eq!(p.balance(&card).await, before, "{path}");
        let b = p
            .ok(path, json!({"transaction_id": auth, "amount": "25.00"}))
            .await;
        assert_eq!(b["transaction_id"], json!(auth));
        assert_eq!(b["transaction_status"], json!("success"), "{b}");
        let t = transaction(&p, &auth).await;
        assert_eq!(t["status"], json!("success"), "{t}");
        assert_eq!(t["captured"], json!("25.00"), "{t}");
        // A second clearing of the same authorization takes nothing more.
        p.refused(
            path,
            json!({"transaction_id": auth, "amount": "1.00"}),
            "amount_exceeds_authorized",
        )
        .await;
        p.refused(
            path,
            json!({"transaction_id": auth}),
            "amount_exceeds_authorized",
        )
        .await;
        assert_eq!(transaction(&p, &auth).await["captured"], json!("25.00"));
    }
    // 100 - 25 - 25, nothing held.
    assert_eq!(p.balance(&card).await, bal("50.00", "0.00", "50.00"));
    // Without an amount, clearing takes the whole hold.
    let auth = authorize(&p, &card, "20.00").await;
    let b = p
        .ok(
            "card-api/transaction/clearing",
            json!({"transaction_id": auth}),
        )
        .await;
    assert_eq!(b["captured"], json!("20.00"), "{b}");
    assert_eq!(p.balance(&card).await, bal("30.00", "0.00", "30.00"));
    // A debit is no authorization.
    let d = debit(&p, &card, "1.00").await;
    let a = p
        .call(
            "card-api/transaction/clearing",
            json!({"transaction_id": d}),
        )
        .await;
    assert!(!a.is_ok(), "a debit cleared: {}", a.body);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_partial_reverse_keeps_the_rest_on_hold_and_a_full_one_reverses() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let auth = authorize(&p, &card, "60.00").await;
    p.refused(
        "card-api/sandbox/reverse",
        json!({"transaction_id": auth, "amount": "60.01"}),
        "amount_exceeds_authorized",
    )
    .await;
    let b = p
        .ok(
            "card-api/sandbox/reverse",
            json!({"transaction_id": auth, "amount": "15.00"}),
        )
        .await;
    assert_eq!(b["transaction_status"], json!("process"), "{b}");
    assert_eq!(p.balance(&card).await, bal("100.00", "45.00", "55.00"));
    assert_eq!(transaction(&p, &auth).await["status"], json!("process"));
    let b = p
        .ok("card-api/sandbox/reverse", json!({"transaction_id": auth}))
        .await;
    assert_eq!(b["transaction_status"], json!("reversed"), "{b}");
    assert_eq!(p.balance(&card).await, bal("100.00", "0.00", "100.00"));
    let t = transaction(&p, &auth).await;
    assert_eq!(t["status"], json!("reversed"));
    assert_eq!(t["captured"], json!("0.00"));
    // Nothing is left to clear.
    let a = p
        .call(
            "card-api/transaction/clearing",
            json!({"transaction_id": auth}),
        )
        .await;
    assert!(!a.is_ok(), "a reversed hold cleared: {}", a.body);
    assert_eq!(p.balance(&card).await, bal("100.00", "0.00", "100.00"));
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clearings_of_one_authorization_capture_it_once() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let auth = authorize(&p, &card, "50.00").await;
    let bodies = (0..8)
        .map(|_| json!({"transaction_id": auth, "amount": "30.00"}))
        .collect();
    let answers = all_at_once(&p, "card-api/transaction/clearing", bodies).await;
    assert_eq!(successes(&answers, "amount_exceeds_authorized"), 1);
    assert_eq!(p.balance(&card).await, bal("70.00", "0.00", "70.00"));
    assert_eq!(transaction(&p, &auth).await["captured"], json!("30.00"));
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn refunds_never_exceed_what_was_debited() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("150.00").await;
    let d = debit(&p, &card, "100.00").await;
    assert_eq!(p.balance(&card).await.0, "50.00");
    let b = p
        .ok(
            "card-api/transaction/refund",
            json!({"transaction_id": d, "amount": "60.00"}),
        )
        .await;
    assert_eq!(b["refunded_transaction_id"], json!(d), "{b}");
    let first = b["transaction_id"].as_str().unwrap().to_string();
    assert_ne!(first, d);
    assert_eq!(p.balance(&card).await.0, "110.00");
    p.refused(
        "card-api/transaction/refund",
        json!({"transaction_id": d, "amount": "50.00"}),
        "amount_exceeds_authorized",
    )
    .await;
    assert_eq!(p.balance(&card).await.0, "110.00");
    p.ok(
        "card-api/transaction/refund",
        json!({"transaction_id": d, "amount": "40.00"}),
    )
    .await;
    assert_eq!(p.balance(&card).await.0, "150.00");
    let t = transaction(&p, &d).await;
    assert_eq!(t["status"], json!("refunded"), "{t}");
    assert_eq!(t["refunded"], json!("100.00"), "{t}");
    // Nothing is left to refund.
    let a = p
        .call("card-api/transaction/refund", json!({"transaction_id": d}))
        .await;
    assert!(!a.is_ok(), "refunded beyond the debit: {}", a.body);
    assert_eq!(p.balance(&card).await.0, "150.00");
    // The refund itself: a transaction of its own, pointing at the debit.
    let r = transaction(&p, &first).await;
    assert_eq!(r["type"], json!("refund"));
    assert_eq!(r["amount"], json!("60.00"));
    assert_eq!(r["parent_id"], json!(d));
    assert_eq!(r["card_id"], json!(card));
    // A cleared authorization refunds up to what was captured.
    let auth = authorize(&p, &card, "30.00").await;
    p.ok(
        "card-api/transaction/clearing",
        json!({"transaction_id": auth, "amount": "20.00"}),
    )
    .await;
    p.refused(
        "card-api/transaction/refund",
        json!({"transaction_id": auth, "amount": "20.01"}),
        "amount_exceeds_authorized",
    )
    .await;
    let b = p
        .ok(
            "card-api/transaction/refund",
            json!({"transaction_id": auth}),
        )
        .await;
    assert_eq!(b["amount"], json!("20.00"), "{b}");
    assert_eq!(p.balance(&card).await, bal("150.00", "0.00", "150.00"));
    app.assert_ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refunds_never_exceed_what_was_debited() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let d = debit(&p, &card, "100.00").await;
    let bodies = (0..8)
        .map(|_| json!({"transaction_id": d, "amount": "20.00"}))
        .collect();
    let answers = all_at_once(&p, "card-api/transaction/refund", bodies).await;
    assert_eq!(successes(&answers, "amount_exceeds_authorized"), 5);
    assert_eq!(p.balance(&card).await, bal("100.00", "0.00", "100.00"));
    let t = transaction(&p, &d).await;
    assert_eq!(t["refunded"], json!("100.00"), "{t}");
    assert_eq!(t["status"], json!("refunded"), "{t}");
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn transaction_info_describes_a_debit() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    app.advance_ms(5_000);
    let b = p
        .ok(
            "card-api/transaction/create",
            json!({"card_id": card, "type": "debit", "amount": "12.5", "currency": "kzt",
                   "description": "Order 7", "external_id": "ext-7"}),
        )
        .await;
    let id = b["transaction_id"].as_str().unwrap();
    let t = transaction(&p, id).await;
    let expected = json!({
        "transaction_id": id,
        "card_id": card,
        "type": "debit",
        "amount": "12.50",
        "currency": "KZT",
        "status": "success",
        "captured": t["captured"],
        "refunded": "0.00",
        "description": "Order 7",
        "merchant_name": null,
        "external_id": "ext-7",
        "parent_id": null,
        "created_at": "2024-05-14 10:00:05",
    });
    assert_eq!(t, expected);
    assert_eq!(p.balance(&card).await, bal("87.50", "0.00", "87.50"));
    // Another partner does not see it.
    let other = partner(&app, 0).await;
    other
        .refused(
            "card-api/transaction/info",
            json!({"transaction_id": id}),
            "transaction_not_found",
        )
        .await;
    app.assert_ledger_ok().await;
}

/// A close and credits at the same moment: whichever way they interleave, a closed card holds
/// no money (what it had went back to the partner), or the close was refused and the card
/// holds all the credits. Nothing is stranded on a dead card.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_close_racing_credits_leaves_no_money_on_a_closed_card() {
    let app = spawn_app().await;
    let p = partner(&app, 1_000_000).await;
    for round in 0..4 {
        let card = p.funded_card("100.00").await;
        let mut bodies: Vec<(String, Value)> = (0..8)
            .map(|_| {
                (
                    "card-api/transaction/create".to_string(),
                    money(&card, "credit", "10.00"),
                )
            })
            .collect();
        bodies.insert(
            round * 2,
            ("card-api/card/close".to_string(), json!({"card_id": card})),
        );
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|(path, mut body)| {
                body["request_id"] = json!(new_request_id());
                let client = p.client.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    client.call(&format!("/v5/{path}"), &body).await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let info = p.ok("card-api/card/info", json!({"card_id": card})).await;
        let (balance, hold, _) = p.balance(&card).await;
        if info["card"]["card_status"] == json!(3) {
            assert_eq!(
                (balance.as_str(), hold.as_str()),
                ("0.00", "0.00"),
                "round {round}"
            );
        }
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn a_debit_decided_before_a_block_spends_nothing_from_the_blocked_card() {
    use paylink_core::guard::Guard;
    use paylink_core::id::CardId;
    use paylink_core::plan::{Plan, Write};
    use paylink_store::StoreError;
    let app = spawn_app().await;
    let p = partner(&app, 1_000_000).await;
    let card = p.funded_card("100.00").await;
    // A debit (or a hold) read the card active; the block commits before the debit's plan.
    p.ok("card-api/card/block", json!({"card_id": card})).await;
    let moves = |spends| {
        Plan::one(Write::MoveCardMoney {
            card_id: CardId::from_trusted(card.clone()),
            spends,
        })
    };
    let refused = app.store.apply(moves(true)).await;
    assert!(
        matches!(refused, Err(StoreError::GuardFailed(Guard::CardNotActive))),
        "{refused:?}"
    );
    // Money onto a blocked card, and settling what came before, still go.
    app.store.apply(moves(false)).await.unwrap();
    // Through the API the card answers as blocked.
    let a = p
        .call("card-api/transaction/create", money(&card, "debit", "1.00"))
        .await;
    assert_eq!(a.error_code(), Some("card_blocked"), "{}", a.body);
    assert_eq!(p.balance(&card).await.0, "100.00");
}

/// A debit refunded after its card was closed: the money goes where the close sent the card's
/// balance, the partner's prepaid balance, and the answer says so. The caps still hold.
#[tokio::test]
async fn a_refund_after_the_card_is_closed_goes_to_the_partners_prepaid_balance() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("100.00").await;
    let d = debit(&p, &card, "40.00").await;
    p.ok("card-api/card/close", json!({"card_id": card})).await;
    assert_eq!(prepaid(&app, &p).await, 96_000);
    let b = p
        .ok(
            "card-api/transaction/refund",
            json!({"transaction_id": d, "amount": "25.00"}),
        )
        .await;
    assert_eq!(b["refunded_transaction_id"], json!(d), "{b}");
    assert_eq!(b["amount"], json!("25.00"), "{b}");
    assert_eq!(b["transaction_status"], json!("success"), "{b}");
    assert_eq!(b["refunded_to"], json!("prepaid_balance"), "{b}");
    assert_eq!(prepaid(&app, &p).await, 98_500);
    assert_eq!(p.balance(&card).await, bal("0.00", "0.00", "0.00"));
    let r = transaction(&p, b["transaction_id"].as_str().unwrap()).await;
    assert_eq!(r["type"], json!("refund"), "{r}");
    assert_eq!(r["parent_id"], json!(d), "{r}");
    // Never more than what is left of the debit.
    p.refused(
        "card-api/transaction/refund",
        json!({"transaction_id": d, "amount": "15.01"}),
        "amount_exceeds_authorized",
    )
    .await;
    assert_eq!(prepaid(&app, &p).await, 98_500);
    let b = p
        .ok("card-api/transaction/refund", json!({"transaction_id": d}))
        .await;
    assert_eq!(b["amount"], json!("15.00"), "{b}");
    assert_eq!(b["refunded_to"], json!("prepaid_balance"), "{b}");
    // All the partner put on the card is back with it.
    assert_eq!(prepaid(&app, &p).await, 100_000);
    let t = transaction(&p, &d).await;
    assert_eq!(
        (t["status"].clone(), t["refunded"].clone()),
        (json!("refunded"), json!("40.00")),
        "{t}"
    );
    p.refused(
        "card-api/transaction/refund",
        json!({"transaction_id": d}),
        "amount_exceeds_authorized",
    )
    .await;
    // An open card's refunds still go onto the card.
    let open = p.funded_card("10.00").await;
    let d = debit(&p, &open, "10.00").await;
    let b = p
        .ok("card-api/transaction/refund", json!({"transaction_id": d}))
        .await;
    assert_eq!(b["refunded_to"], json!("card"), "{b}");
    assert_eq!(p.balance(&open).await.0, "10.00");
    app.assert_ledger_ok().await;
}

/// Refunds racing a close: every refund within the debit goes through, onto the card or, once
/// it is closed, to the partner; no money is stranded and the partner's sum adds up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refunds_racing_a_close_all_land_and_nothing_is_stranded() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    for round in 0..4 {
        let start_prepaid = prepaid(&app, &p).await;
        let card = p.funded_card("100.00").await;
        let d = debit(&p, &card, "50.00").await;
        let mut bodies: Vec<(String, Value)> = (0..8)
            .map(|_| {
                (
                    "card-api/transaction/refund".to_string(),
                    json!({"transaction_id": d, "amount": "10.00"}),
                )
            })
            .collect();
        bodies.insert(
            round * 2,
            ("card-api/card/close".to_string(), json!({"card_id": card})),
        );
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|(path, mut body)| {
                body["request_id"] = json!(new_request_id());
                let client = p.client.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let a = client.call(&format!("/v5/{path}"), &body).await;
                    (path, a.expect("the server answers JSON"))
                })
            })
            .collect();
        let mut refunds = Vec::new();
        for t in tasks {
            let (path, a) = t.await.unwrap();
            if path.ends_with("refund") {
                refunds.push(a);
            }
        }
        assert_eq!(
            successes(&refunds, "amount_exceeds_authorized"),
            5,
            "round {round}"
        );
        let t = transaction(&p, &d).await;
        assert_eq!(t["refunded"], json!("50.00"), "round {round}: {t}");
        let info = p.ok("card-api/card/info", json!({"card_id": card})).await;
        let on_card = p.balance(&card).await.0;
        let back = prepaid(&app, &p).await - start_prepaid;
        if info["card"]["card_status"] == json!(3) {
            assert_eq!(on_card, "0.00", "round {round}");
            // 100 put on, 50 debited, 50 refunded: all of it back with the partner.
            assert_eq!(back, 0, "round {round}");
        } else {
            assert_eq!(on_card, "100.00", "round {round}");
            assert_eq!(back, -10_000, "round {round}");
        }
        app.assert_ledger_ok().await;
    }
}
