//! Card payouts: the money locked, the worker paying out, failures giving the money back,
//! refusals, duplicate order ids and splits above the card maximum.
#![allow(clippy::inconsistent_digit_grouping)]

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_card_payout_locks_its_money_then_the_worker_pays_it_out() {
    // The sandbox provider answers an hour after the payout is sent: the lock is observable.
    let app = spawn_app_with(|s| s.money.sandbox_payout_delay = Duration::from_secs(3600)).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    let funded = app.fund("10000").await;
    assert_eq!(funded, 9650_00);

    let a = app
        .regular_payout(with_order(card("1000", CARD_OK), "po-1"))
        .await;
    let data = created(&a);
    assert_eq!(data.len(), 1);
    let p = &data[0];
    assert_eq!(p["status"], json!("NEW"));
    assert_eq!(p["order_id"], json!("po-1"));
    assert_eq!(p["account_identifier"], json!("424242******4242"));
    assert_eq!(number(&p["amount"]), 1000_00);
    assert_eq!(number(&p["account_amount"]), 1000_00);
    // Cards: 2% + 50 RUB.
    assert_eq!(number(&p["commission"]), 70_00);
    assert_eq!(number(&p["account_commission"]), 70_00);
    assert_eq!(p["currency"], json!("RUB"));
    assert_eq!(p["account_currency"], json!("RUB"));
    assert_eq!(p["created_at"], json!("2024-05-14 10:00:00"));
    let id = id_of(p);

    assert_eq!(
        app.balance().await,
        Bal {
            available: 9650_00 - 1070_00,
            locked: 1070_00,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;

    // payout/status by id and by order_id: the same payout, with currency_in.
    let by_id = app.get("/api/v1/payout/status", &[("id", &id)]).await;
    let s = by_id.ok();
    assert_payout_object(s);
    assert_eq!(s["id"], json!(id));
    assert_eq!(s["currency_in"], json!("RUB"));
    assert!(
        matches!(s["status"].as_str(), Some("NEW" | "PROCESS")),
        "{s}"
    );
    let by_order = app
        .get("/api/v1/payout/status", &[("order_id", "po-1")])
        .await;
    assert_eq!(by_order.ok()["id"], json!(id));

    // The provider answers: SUCCESS, and the lock leaves the balance.
    app.advance_ms(HOUR_MS);
    let done = app.wait_payout(app.token(), &id).await;
    assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    assert!(done.get("error_message").is_none(), "{done}");
    assert_eq!(
        app.balance().await,
        Bal {
            available: 8580_00,
            locked: 0,
            hold: 0
        }
    );

    // payout/search: the cursor page with the payout.
    let a = app
        .get("/api/v1/payout/search", &[("order_id", "po-1")])
        .await;
    let page = a.ok();
    let listed = page["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", a.text);
    assert_eq!(listed[0]["id"], json!(id));
    assert_eq!(listed[0]["status"], json!("SUCCESS"));
    assert!(
        page["links"].is_object() && page["meta"].is_object(),
        "{}",
        a.text
    );
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_failed_or_erroring_payout_gives_the_money_back() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("5000").await;
    let before = app.balance().await;
    assert_eq!(before.available, 4825_00);

    let failed = id_of(&created(&app.regular_payout(card("1000", PAYEE_FAIL)).await)[0]);
    let erred = id_of(&created(&app.regular_payout(card("500.50", PAYEE_ERROR)).await)[0]);
    let ok = id_of(&created(&app.regular_payout(card("100", CARD_OK)).await)[0]);

    let f = app.wait_payout(app.token(), &failed).await;
    assert_eq!(f["status"], json!("FAIL"), "{f}");
    assert_eq!(f["account_identifier"], json!("400000******0002"));
    assert!(
        f["error_message"].as_str().is_some_and(|m| !m.is_empty()),
        "{f}"
    );
    let e = app.wait_payout(app.token(), &erred).await;
    assert_eq!(e["status"], json!("ERROR"), "{e}");
    assert!(e["error_message"].is_string(), "{e}");
    let s = app.wait_payout(app.token(), &ok).await;
    assert_eq!(s["status"], json!("SUCCESS"), "{s}");

    // Only the successful payout (100 + 2 + 50) left the balance.
    assert_eq!(
        app.balance().await,
        Bal {
            available: 4825_00 - 152_00,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_payout_whose_provider_never_answered_keeps_its_money_locked_and_is_asked_again() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("5000").await;
    let before = app.balance().await;
    let id = id_of(&created(&app.regular_payout(card("1000", PAYEE_UNANSWERED)).await)[0]);

    // The first ask gets no answer: the money may have gone, so the payout is neither failed
    // (its money returned) nor paid; it waits, its money locked, until its lease runs out and
    // the provider is asked again under the same id.
    let mut asked_again = 0;
    let done = 'asking: {
        for () in patience() {
            let a = app
                .get_as(app.token(), "/api/v1/payout/status", &[("id", id.as_str())])
                .await;
            let p = a.ok().clone();
            if p["status"] == json!("SUCCESS") {
                break 'asking p;
            }
            assert!(
                matches!(p["status"].as_str(), Some("NEW" | "PROCESS")),
                "an unanswered payout is not final: {p}"
            );
            let now = app.balance().await;
            assert_eq!(now.available + now.locked, before.available, "{now:?}");
            let due = app.store.due_payouts(app.now(), 256).await.unwrap();
            if p["status"] == json!("PROCESS") && !due.iter().any(|d| d.id.as_str() == id) {
                assert!(
                    now.locked > 0,
                    "the money stays locked while unanswered: {now:?}"
                );
                // Leased and asked: let the lease run out.
                app.advance_ms(61_000);
                asked_again += 1;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("payout {id} was never paid");
    };
    assert!(asked_again >= 1, "paid at the first ask: {done}");
    // Paid once: 1000 + its commission left the balance, nothing stays locked.
    let after = app.balance().await;
    assert_eq!(after.locked, 0, "{after:?}");
    assert!(
        before.available - after.available > 1000_00
            && before.available - after.available < 1100_00,
        "{before:?} -> {after:?}"
    );
    app.assert_ledger_ok().await;
}

/// The move that sends a payout is guarded in SQL on its merchant and its payee not being
/// banned: a ban that lands after the money worker read them still stops the payout (the
/// worker's next pass declines it, its money back).
#[tokio::test]
async fn a_payout_is_never_moved_to_sending_once_its_merchant_or_payee_is_banned() {
    use paylink_core::audit::Actor;
    use paylink_core::guard::Guard;
    use paylink_core::id::{PayoutAccountId, PayoutId};
    use paylink_core::payout::{PayoutAccount, PayoutStatus};
    use paylink_core::plan::{Plan, Write};
    use paylink_store::StoreError;

    let app = spawn_app_with(|s| s.money.work = false).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("5000").await;
    let id = id_of(&created(&app.regular_payout(card("1000", CARD_OK)).await)[0]);
    let p = app
        .store
        .payout(&PayoutId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.status, PayoutStatus::New);
    let send = || {
        paylink_core::decide::payout::advance(&p, PayoutStatus::Process, Some(app.now()), app.now())
            .unwrap()
            .1
    };
    let cli = Actor::cli("test");
    let banned = |on: bool| {
        paylink_server::ops::merchants::set_banned(
            &app.store,
            &cli,
            app.merchant.merchant_id.as_str(),
            on,
            app.now(),
        )
    };

    banned(true).await.unwrap();
    let refused = app.store.apply(send()).await;
    assert!(
        matches!(refused, Err(StoreError::GuardFailed(Guard::PayoutMoved))),
        "{refused:?}"
    );
    banned(false).await.unwrap();
    // The payee banned (for every merchant, by its fingerprint).
    let account = PayoutAccount {
        id: PayoutAccountId::random(&mut rand::thread_rng()),
        merchant_id: app.merchant.merchant_id.clone(),
        payee: p.payee.clone(),
        banned: true,
        created_at: app.now(),
    };
    app.store
        .apply(Plan::one(Write::InsertPayoutAccount(account)))
        .await
        .unwrap();
    let refused = app.store.apply(send()).await;
    assert!(
        matches!(refused, Err(StoreError::GuardFailed(Guard::PayoutMoved))),
        "{refused:?}"
    );
    let still = app.store.payout(&p.id).await.unwrap().unwrap();
    assert_eq!(still.status, PayoutStatus::New);
}

#[tokio::test]
async fn payout_refusals_leave_the_balance_untouched() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("1000").await; // 965.00
    let before = app.balance().await;

    // 1000 + 70 commission is more than 965.
    app.regular_payout(card("1000", CARD_OK))
        .await
        .error(400, "api:error.balance_not_enough");
    // 900 + 68 commission is still more than 965.
    app.regular_payout(card("900", CARD_OK))
        .await
        .error(400, "api:error.balance_not_enough");
    // Below the card minimum, not positive, or with too many decimals.
    for bad in ["99.99", "0", "-100", "100.001"] {
        app.regular_payout(card(bad, CARD_OK))
            .await
            .error(400, "api:error.invalid_amount");
    }
    // Validation: a number failing Luhn, no holder, no type, an unknown type, no currency.
    app.regular_payout(card("100", "4242424242424241"))
        .await
        .invalid("account_identifier");
    let mut no_holder = card("100", CARD_OK);
    no_holder.as_object_mut().unwrap().remove("card_holder");
    app.regular_payout(no_holder).await.invalid("card_holder");
    // The holder is checked as typed: a control character or more than 64 characters is
    // refused even when trimming would hide it.
    for bad in ["IVAN IVANOV\n".to_string(), format!(" {} ", "A".repeat(64))] {
        let mut holder = card("100", CARD_OK);
        holder["card_holder"] = json!(bad);
        app.regular_payout(holder).await.invalid("card_holder");
    }
    let mut no_type = card("100", CARD_OK);
    no_type.as_object_mut().unwrap().remove("account_type");
    app.regular_payout(no_type).await.invalid("account_type");
    let mut bad_type = card("100", CARD_OK);
    bad_type["account_type"] = json!("paypal");
    app.regular_payout(bad_type).await.invalid("account_type");
    let mut no_currency = card("100", CARD_OK);
    no_currency.as_object_mut().unwrap().remove("currency");
    app.regular_payout(no_currency).await.invalid("currency");
    // Payouts are made in RUB only.
    let mut usd = card("100", CARD_OK);
    usd["currency"] = json!("USD");
    app.regular_payout(usd)
        .await
        .error(403, "api:error.no_payout");
    // A card number is never echoed in full.
    let a = app.regular_payout(card("100", "4242424242424241")).await;
    assert!(!a.text.contains("4242424242424241"), "{}", a.text);

    assert_eq!(app.balance().await, before);
    let a = app.get("/api/v1/payout/search", &[]).await;
    assert_eq!(a.ok()["data"], json!([]), "{}", a.text);

    // What the balance allows exactly goes through: 895 + 17.90 + 50 = 962.90.
    created(&app.regular_payout(card("895", CARD_OK)).await);
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_duplicate_order_id_is_refused_and_locks_nothing() {
    let app = spawn_app().await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("10000").await;
    let first = created(
        &app.regular_payout(with_order(card("1000", CARD_OK), "dup"))
            .await,
    );
    app.regular_payout(with_order(card("200", CARD_OK), "dup"))
        .await
        .invalid("order_id");
    let done = app.wait_payout(app.token(), &id_of(&first[0])).await;
    assert_eq!(done["status"], json!("SUCCESS"));
    // Still refused once the first one is done.
    app.regular_payout(with_order(card("200", CARD_OK), "dup"))
        .await
        .invalid("order_id");
    assert_eq!(app.balance().await.available, 9650_00 - 1070_00);
    // An order id longer than a bill's (255) is refused before anything is locked: a few
    // kilobytes would not fit the unique index's entry on PostgreSQL.
    let long = "o".repeat(3000);
    app.regular_payout(with_order(card("200", CARD_OK), &long))
        .await
        .invalid("order_id");
    app.regular_payout(with_order(card("200", CARD_OK), &long[..256]))
        .await
        .invalid("order_id");
    assert_eq!(app.balance().await.available, 9650_00 - 1070_00);
    created(
        &app.regular_payout(with_order(card("200", CARD_OK), &long[..255]))
            .await,
    );
    // Another merchant may use the same order id.
    let other = app.new_merchant("Other").await;
    app.set_profile(&other.merchant_id, open_profile()).await;
    app.fund_as(&other, "1000").await;
    created(
        &app.regular_payout_as(&other.api_token, with_order(card("100", CARD_OK), "dup"))
            .await,
    );
    app.assert_ledger_ok().await;
}

#[tokio::test]
async fn a_payout_above_the_card_maximum_is_split_into_parts_sharing_the_order_id() {
    // The provider answers an hour after taking a payout, so its parts are seen locked.
    let app = spawn_app_with(|s| s.money.sandbox_payout_delay = Duration::from_secs(3600)).await;
    app.set_profile(&app.merchant.merchant_id, open_profile())
        .await;
    app.fund("400000").await; // 386 000.00
    let a = app
        .regular_payout(with_order(card("200000", CARD_OK), "big-1"))
        .await;
    let parts = created(&a);
    assert_eq!(parts.len(), 2, "{}", a.text);
    for p in &parts {
        assert_eq!(p["order_id"], json!("big-1"));
        assert_eq!(number(&p["amount"]), 100_000_00);
        assert_eq!(number(&p["commission"]), 2_050_00);
    }
    assert_ne!(parts[0]["id"], parts[1]["id"]);
    let b = app.balance().await;
    assert_eq!(b.locked, 204_100_00);
    assert_eq!(b.available, 386_000_00 - 204_100_00);

    // By order_id: the first part; payout/search finds both.
    let s = app
        .get("/api/v1/payout/status", &[("order_id", "big-1")])
        .await;
    assert_eq!(s.ok()["id"], parts[0]["id"]);
    let found = app
        .get("/api/v1/payout/search", &[("order_id", "big-1")])
        .await;
    assert_eq!(found.ok()["data"].as_array().unwrap().len(), 2);

    app.advance_ms(3_600_001);
    for p in &parts {
        let done = app.wait_payout(app.token(), &id_of(p)).await;
        assert_eq!(done["status"], json!("SUCCESS"), "{done}");
    }
    assert_eq!(
        app.balance().await,
        Bal {
            available: 181_900_00,
            locked: 0,
            hold: 0
        }
    );
    app.assert_ledger_ok().await;
}
