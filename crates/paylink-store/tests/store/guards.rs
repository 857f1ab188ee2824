//! Guards held by the SQL itself, under real concurrency: a NORMAL bill takes money once and is
//! charged by one payment at a time, money taken is recorded though the bill closed meanwhile, a
//! finished bill is not toggled, a failure does not hide money received.

use crate::support::{
    bill_payments, insert_bill, is_guard, open, open_bill, race, seed, settle, stored_bill,
    Outcome, NOW,
};
use paylink_core::bill::{Bill, BillType};
use paylink_core::decide;
use paylink_core::id::PaymentId;
use paylink_core::payment::{BillTransition, Payment, PaymentStatus};
use paylink_core::plan::{Plan, Write};

const RACERS: usize = 64;

/// `RACERS` money-bringing payments of `bill`, all settled against the same snapshot, with
/// statuses spread over UNDERPAID, SUCCESS and OVERPAID.
fn racing_payments(bill: &Bill) -> Vec<(Payment, Plan)> {
    (0..RACERS)
        .map(|i| {
            let outcome = [Outcome::Underpaid, Outcome::Success, Outcome::Overpaid][i % 3];
            settle(bill, outcome, NOW + 1_000 + i as i64)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_normal_bill_takes_money_exactly_once_under_a_race() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "race").await;
    let bill = open_bill(&s, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &bill).await;

    let payments = racing_payments(&bill);
    let results = race(&store, payments.iter().map(|(_, p)| p.clone()).collect()).await;

    let winners: Vec<&Payment> = payments
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|((p, _), _)| p)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let losers = results.iter().filter(|r| is_guard(r)).count();
    assert_eq!(
        losers,
        RACERS - 1,
        "every other payment fails its guard: {results:?}"
    );

    let winner = winners[0];
    assert_eq!(bill_payments(&store, &bill).await, vec![winner.clone()]);
    let stored = stored_bill(&store, &bill.id).await;
    assert_eq!(stored.status, winner.status);
    assert_eq!(stored.updated_at, winner.created_at);
    // No loser left a payment row behind.
    for ((p, _), r) in payments.iter().zip(&results) {
        if r.is_err() {
            assert_eq!(store.merchant_payment(&m.id, &p.id).await.unwrap(), None);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_bill_takes_every_payment_of_a_race() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "multi").await;
    let bill = open_bill(&s, BillType::Multi, 10_000, NOW);
    insert_bill(&store, &bill).await;

    let payments = racing_payments(&bill);
    let results = race(&store, payments.iter().map(|(_, p)| p.clone()).collect()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let mut stored: Vec<Payment> = bill_payments(&store, &bill).await;
    assert_eq!(stored.len(), RACERS);
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected: Vec<Payment> = payments.into_iter().map(|(p, _)| p).collect();
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored, expected);
    for p in &expected {
        assert_eq!(
            store.merchant_payment(&m.id, &p.id).await.unwrap().as_ref(),
            Some(p)
        );
    }
    let status = stored_bill(&store, &bill.id).await.status;
    assert!(status.brings_money(), "{status:?}");
}

#[tokio::test]
async fn money_taken_is_recorded_though_the_bill_was_switched_off_or_expired_meanwhile() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "late").await;
    // The payer's charge began while the bill was active; the merchant closed it since.
    let bill = open_bill(&s, BillType::Multi, 10_000, NOW);
    insert_bill(&store, &bill).await;
    store
        .apply(Plan::one(
            decide::bill::toggle(&bill, false, NOW + 1).unwrap(),
        ))
        .await
        .unwrap();
    let (payment, plan) = settle(&bill, Outcome::Success, NOW + 2);
    store.apply(plan).await.unwrap();
    assert_eq!(bill_payments(&store, &bill).await, vec![payment.clone()]);
    let stored = stored_bill(&store, &bill.id).await;
    assert!(!stored.active);
    assert_eq!(stored.status, PaymentStatus::Success);

    // The charge began just before expiry and its answer reaches the store after it.
    let bill = Bill {
        ttl_secs: Some(60),
        expires_at: Some(NOW + 60_000),
        ..open_bill(&s, BillType::Normal, 10_000, NOW)
    };
    insert_bill(&store, &bill).await;
    let (payment, _) = settle(&bill, Outcome::Success, NOW + 59_999);
    store
        .apply(Plan::one(Write::RecordPayment {
            payment: payment.clone(),
            transition: BillTransition::Receive {
                status: PaymentStatus::Success,
                now: NOW + 86_400_000,
            },
        }))
        .await
        .unwrap();
    assert_eq!(
        store.merchant_payment(&m.id, &payment.id).await.unwrap(),
        Some(payment)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_charge_at_a_time_holds_a_normal_bill() {
    let (_db, store) = open().await;
    let (_, s) = seed(&store, "hold").await;
    let bill = open_bill(&s, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &bill).await;
    let claim = |payment: &str, now: i64| {
        Plan::one(Write::ClaimBill {
            bill_id: bill.id.clone(),
            payment_id: PaymentId::from_trusted(payment.to_string()),
            until: now + 120_000,
            now,
        })
    };
    // Many payers at once: one holds it.
    let claims = (0..RACERS)
        .map(|i| claim(&format!("payer{i:05}"), NOW))
        .collect();
    let results = race(&store, claims).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results.iter().all(|r| r.is_ok() || is_guard(r)),
        "{results:?}"
    );
    let holder = format!(
        "payer{:05}",
        results.iter().position(|r| r.is_ok()).unwrap()
    );
    // The holder may claim again (its completion); another may not, until the hold lapses.
    store.apply(claim(&holder, NOW + 1)).await.unwrap();
    assert!(is_guard(&store.apply(claim("other", NOW + 2)).await));
    store.apply(claim("other", NOW + 120_001)).await.unwrap();
    // Released by its holder only; then anyone may hold it.
    let release = |payment: &str| {
        Plan::one(Write::ReleaseBill {
            bill_id: bill.id.clone(),
            payment_id: PaymentId::from_trusted(payment.to_string()),
        })
    };
    store.apply(release(&holder)).await.unwrap();
    assert!(is_guard(&store.apply(claim("third", NOW + 120_002)).await));
    store.apply(release("other")).await.unwrap();
    store.apply(claim("third", NOW + 120_003)).await.unwrap();
    // The payment's record lets it go; a paid bill is held by nobody.
    let (_, plan) = settle(&bill, Outcome::Success, NOW + 120_004);
    store.apply(plan).await.unwrap();
    assert!(is_guard(&store.apply(claim("fourth", NOW + 120_005)).await));
    // Nor is one switched off or expired since the payer's page was read.
    let closed = open_bill(&s, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &closed).await;
    let expiring = Bill {
        ttl_secs: Some(60),
        expires_at: Some(NOW + 60_000),
        ..open_bill(&s, BillType::Normal, 10_000, NOW)
    };
    insert_bill(&store, &expiring).await;
    store
        .apply(Plan::one(
            decide::bill::toggle(&closed, false, NOW + 1).unwrap(),
        ))
        .await
        .unwrap();
    for (bill, now) in [(&closed, NOW + 2), (&expiring, NOW + 60_000)] {
        let r = store
            .apply(Plan::one(Write::ClaimBill {
                bill_id: bill.id.clone(),
                payment_id: PaymentId::from_trusted("late".to_string()),
                until: now + 120_000,
                now,
            }))
            .await;
        assert!(is_guard(&r), "{r:?}");
    }
}

#[tokio::test]
async fn a_finished_normal_bill_cannot_be_toggled() {
    let (_db, store) = open().await;
    let (_, s) = seed(&store, "finished").await;
    let bill = open_bill(&s, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &bill).await;
    let (_, plan) = settle(&bill, Outcome::Underpaid, NOW + 1);
    store.apply(plan).await.unwrap();
    let finished = stored_bill(&store, &bill.id).await;
    assert_eq!(finished.status, PaymentStatus::Underpaid);

    // The toggle was decided on a stale snapshot (core would refuse the fresh one).
    for active in [false, true] {
        let r = store
            .apply(Plan::one(
                decide::bill::toggle(&bill, active, NOW + 2).unwrap(),
            ))
            .await;
        assert!(is_guard(&r), "{r:?}");
        assert_eq!(stored_bill(&store, &bill.id).await, finished);
    }

    // A MULTI bill that has taken money, and a NORMAL bill that only failed, still toggle.
    let multi = open_bill(&s, BillType::Multi, 10_000, NOW);
    insert_bill(&store, &multi).await;
    store
        .apply(settle(&multi, Outcome::Success, NOW + 1).1)
        .await
        .unwrap();
    store
        .apply(Plan::one(
            decide::bill::toggle(&multi, false, NOW + 2).unwrap(),
        ))
        .await
        .unwrap();
    assert!(!stored_bill(&store, &multi.id).await.active);

    let failed = open_bill(&s, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &failed).await;
    store
        .apply(settle(&failed, Outcome::Declined, NOW + 1).1)
        .await
        .unwrap();
    store
        .apply(Plan::one(
            decide::bill::toggle(&failed, false, NOW + 2).unwrap(),
        ))
        .await
        .unwrap();
    let stored = stored_bill(&store, &failed.id).await;
    assert_eq!((stored.active, stored.status), (false, PaymentStatus::Fail));
}

#[tokio::test]
async fn a_failure_after_money_leaves_the_bill_status() {
    let (_db, store) = open().await;
    let (_, s) = seed(&store, "fail").await;
    for kind in [BillType::Normal, BillType::Multi] {
        let bill = open_bill(&s, kind, 10_000, NOW);
        insert_bill(&store, &bill).await;

        // Before any money, a failure shows.
        let (f1, plan) = settle(&bill, Outcome::Declined, NOW + 1);
        store.apply(plan).await.unwrap();
        let after_f1 = stored_bill(&store, &bill.id).await;
        assert_eq!(
            (after_f1.status, after_f1.updated_at),
            (PaymentStatus::Fail, NOW + 1)
        );

        let (paid, plan) = settle(&after_f1, Outcome::Overpaid, NOW + 2);
        store.apply(plan).await.unwrap();
        let after_paid = stored_bill(&store, &bill.id).await;
        assert_eq!(
            (after_paid.status, after_paid.updated_at),
            (PaymentStatus::Overpaid, NOW + 2)
        );

        // A failed attempt decided on the stale snapshot (status FAIL) arrives afterwards.
        let (f2, plan) = settle(&after_f1, Outcome::Declined, NOW + 3);
        store.apply(plan).await.unwrap();
        assert_eq!(
            stored_bill(&store, &bill.id).await,
            after_paid,
            "{kind:?}: a failure hid the money received"
        );
        // The failed attempt itself is recorded.
        assert_eq!(bill_payments(&store, &bill).await, vec![f2, paid, f1]);
    }
}
