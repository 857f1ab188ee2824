//! The group-commit writer: many concurrent plans all commit; a failing plan among them fails
//! alone and leaves none of its writes.

use crate::support::{
    all_bills, bill_payments, insert_bill, is_conflict, is_guard, open, open_bill, race, seed,
    settle, stored_bill, Outcome, NOW,
};
use paylink_core::bill::{Bill, BillType};
use paylink_core::payment::{Payment, PaymentStatus};
use paylink_core::plan::{Plan, Write};
use paylink_store::BillFilter;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_plans_all_commit() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "many").await;
    // A few MULTI bills that many plans pay at once: concurrent writers contend on their rows.
    let shared: Vec<Bill> = (0..4)
        .map(|i| open_bill(&s, BillType::Multi, 1_000 + i, NOW - 1_000))
        .collect();
    for b in &shared {
        insert_bill(&store, b).await;
    }

    let mut new_bills: Vec<Bill> = Vec::new();
    let mut payments: Vec<Payment> = Vec::new();
    let mut plans = Vec::new();
    for i in 0..500i64 {
        match i % 5 {
            // A new bill, alone.
            0 | 1 => {
                let b = open_bill(&s, BillType::Normal, 100 + i, NOW + i);
                plans.push(Plan::one(Write::InsertBill(b.clone())));
                new_bills.push(b);
            }
            // A new bill and its payment, in one plan.
            2 => {
                let b = open_bill(&s, BillType::Normal, 100 + i, NOW + i);
                let (p, pay) = settle(&b, Outcome::Success, NOW + i);
                let mut writes = vec![Write::InsertBill(b.clone())];
                writes.extend(pay.writes);
                plans.push(Plan { writes });
                new_bills.push(Bill {
                    status: PaymentStatus::Success,
                    ..b
                });
                payments.push(p);
            }
            // A payment of a shared bill.
            _ => {
                let (p, pay) = settle(&shared[(i % 4) as usize], Outcome::Success, NOW + i);
                plans.push(pay);
                payments.push(p);
            }
        }
    }
    let results = race(&store, plans).await;
    let failed: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .collect();
    assert!(
        failed.is_empty(),
        "{} plans failed: {failed:?}",
        failed.len()
    );

    for b in &new_bills {
        assert_eq!(store.bill(&b.id).await.unwrap().as_ref(), Some(b));
    }
    for p in &payments {
        assert_eq!(
            store.merchant_payment(&m.id, &p.id).await.unwrap().as_ref(),
            Some(p)
        );
    }
    let listed = all_bills(&store, &m.id, &BillFilter::default()).await;
    assert_eq!(listed.len(), new_bills.len() + shared.len());
    let mut shared_payments = 0;
    for b in &shared {
        let n = bill_payments(&store, b).await.len();
        assert_eq!(
            stored_bill(&store, &b.id).await.status,
            PaymentStatus::Success
        );
        shared_payments += n;
    }
    assert_eq!(shared_payments, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_plan_fails_alone_among_good_ones() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "alone").await;
    let existing = open_bill(&s, BillType::Normal, 5_000, NOW - 10);
    insert_bill(&store, &existing).await;
    let finished = open_bill(&s, BillType::Normal, 5_000, NOW - 10);
    insert_bill(&store, &finished).await;
    let (first_payment, plan) = settle(&finished, Outcome::Success, NOW - 5);
    store.apply(plan).await.unwrap();
    let finished_now = stored_bill(&store, &finished.id).await;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Good,
        DuplicateBill,
        GuardFails,
        DuplicatePayment,
    }
    let mut plans = Vec::new();
    // (kind, bill the plan inserts)
    let mut expect: Vec<(Kind, Bill)> = Vec::new();
    for i in 0..240i64 {
        let kind = match i % 8 {
            1 => Kind::DuplicateBill,
            3 => Kind::GuardFails,
            5 => Kind::DuplicatePayment,
            _ => Kind::Good,
        };
        let fresh = open_bill(&s, BillType::Multi, 100 + i, NOW + i);
        let mut writes = vec![Write::InsertBill(fresh.clone())];
        match kind {
            Kind::Good => {
                writes.extend(settle(&fresh, Outcome::Success, NOW + i).1.writes);
            }
            // Then a bill whose id is taken.
            Kind::DuplicateBill => writes.push(Write::InsertBill(Bill {
                id: existing.id.clone(),
                ..fresh.clone()
            })),
            // Then a payment of a NORMAL bill that has taken money (stale snapshot).
            Kind::GuardFails => {
                writes.extend(settle(&finished, Outcome::Success, NOW + i).1.writes);
            }
            // Then a payment of the fresh bill whose id is taken.
            Kind::DuplicatePayment => {
                let (mut p, _) = settle(&fresh, Outcome::Success, NOW + i);
                p.id = first_payment.id.clone();
                writes.push(Write::RecordPayment {
                    payment: p,
                    transition: paylink_core::payment::BillTransition::Receive {
                        status: PaymentStatus::Success,
                        now: NOW + i,
                    },
                });
            }
        }
        plans.push(Plan { writes });
        expect.push((kind, fresh));
    }
    let results = race(&store, plans).await;

    let mut good = 0;
    for ((kind, fresh), result) in expect.iter().zip(&results) {
        let stored = store.bill(&fresh.id).await.unwrap();
        match kind {
            Kind::Good => {
                assert!(result.is_ok(), "a good plan failed: {result:?}");
                let stored = stored.expect("a good plan's bill is stored");
                assert_eq!(stored.status, PaymentStatus::Success);
                assert_eq!(bill_payments(&store, fresh).await.len(), 1);
                good += 1;
            }
            Kind::DuplicateBill | Kind::DuplicatePayment => {
                assert!(is_conflict(result), "{kind:?}: {result:?}");
                assert_eq!(stored, None, "{kind:?} left its first write");
                assert!(bill_payments(&store, fresh).await.is_empty());
            }
            Kind::GuardFails => {
                assert!(is_guard(result), "{kind:?}: {result:?}");
                assert_eq!(stored, None, "{kind:?} left its first write");
            }
        }
    }
    assert_eq!(good, 150);
    // The bills the bad plans collided with are untouched.
    assert_eq!(stored_bill(&store, &existing.id).await, existing);
    assert_eq!(stored_bill(&store, &finished.id).await, finished_now);
    assert_eq!(bill_payments(&store, &finished).await, vec![first_payment]);
    let listed: HashSet<String> = all_bills(&store, &m.id, &BillFilter::default())
        .await
        .into_iter()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(listed.len(), 150 + 2);
}

#[tokio::test]
async fn a_failing_plan_alone_leaves_nothing_and_the_writer_goes_on() {
    let (_db, store) = open().await;
    let (_, s) = seed(&store, "single").await;
    let finished = open_bill(&s, BillType::Normal, 5_000, NOW);
    insert_bill(&store, &finished).await;
    store
        .apply(settle(&finished, Outcome::Success, NOW + 1).1)
        .await
        .unwrap();

    // Submitted on its own (a batch of one): insert a bill, then fail a guard.
    let fresh = open_bill(&s, BillType::Normal, 100, NOW + 2);
    let (p, pay) = settle(&finished, Outcome::Overpaid, NOW + 2);
    let mut writes = vec![Write::InsertBill(fresh.clone())];
    writes.extend(pay.writes);
    let r = store.apply(Plan { writes }).await;
    assert!(is_guard(&r), "{r:?}");
    assert_eq!(store.bill(&fresh.id).await.unwrap(), None);
    assert_eq!(
        store.merchant_payment(&s.merchant_id, &p.id).await.unwrap(),
        None
    );

    // The next plan commits.
    insert_bill(&store, &fresh).await;
    assert_eq!(stored_bill(&store, &fresh.id).await, fresh);
}

/// Payments of existing bills, many per batch: a payment of a NORMAL bill that has taken money
/// fails alone among them, and every other payment and bill is as if each had been written
/// alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_payment_among_payments_of_other_bills_fails_alone() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "merged").await;
    let bills: Vec<Bill> = (0..48)
        .map(|i| open_bill(&s, BillType::Multi, 1_000 + i, NOW - 10))
        .collect();
    for b in &bills {
        insert_bill(&store, b).await;
    }
    let finished = open_bill(&s, BillType::Normal, 5_000, NOW - 10);
    insert_bill(&store, &finished).await;
    store
        .apply(settle(&finished, Outcome::Success, NOW - 5).1)
        .await
        .unwrap();
    let finished_now = stored_bill(&store, &finished.id).await;

    let mut plans = Vec::new();
    let mut expect = Vec::new();
    for i in 0..192i64 {
        let refused = i % 10 == 5;
        let bill = if refused {
            &finished
        } else {
            &bills[(i % 48) as usize]
        };
        let (p, plan) = settle(bill, Outcome::Overpaid, NOW + i);
        plans.push(plan);
        expect.push((refused, p));
    }
    let results = race(&store, plans).await;
    for ((refused, p), result) in expect.iter().zip(&results) {
        let stored = store.merchant_payment(&m.id, &p.id).await.unwrap();
        if *refused {
            assert!(is_guard(result), "{result:?}");
            assert_eq!(stored, None);
        } else {
            assert!(result.is_ok(), "{result:?}");
            assert_eq!(stored.as_ref(), Some(p));
        }
    }
    for b in &bills {
        let paid = expect
            .iter()
            .filter(|(refused, p)| !refused && p.bill_id == b.id)
            .count();
        assert_eq!(bill_payments(&store, b).await.len(), paid, "{}", b.id);
        let stored = stored_bill(&store, &b.id).await;
        let status = if paid > 0 {
            PaymentStatus::Overpaid
        } else {
            b.status
        };
        assert_eq!(stored.status, status, "{}", b.id);
    }
    assert_eq!(stored_bill(&store, &finished.id).await, finished_now);
    assert_eq!(bill_payments(&store, &finished).await.len(), 1);
}

/// Concurrent payments of a few shared bills: on PostgreSQL several writers hold row locks of
/// different bills at once. Every payment is recorded (no writer deadlocks with another).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_of_shared_bills_from_concurrent_writers_all_commit() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "shared").await;
    let shared: Vec<Bill> = (0..6)
        .map(|i| open_bill(&s, BillType::Multi, 1_000 + i, NOW))
        .collect();
    for b in &shared {
        insert_bill(&store, b).await;
    }
    let mut payments = Vec::new();
    let mut plans = Vec::new();
    for i in 0..1_200i64 {
        // Consecutive plans pay different bills, in a rotating order.
        let bill = &shared[((i * 7 + i / 6) % 6) as usize];
        let outcome = if i % 5 == 0 {
            Outcome::Declined
        } else {
            Outcome::Overpaid
        };
        let (p, plan) = settle(bill, outcome, NOW + 1 + i);
        payments.push(p);
        plans.push(plan);
    }
    let results = race(&store, plans).await;
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} of 1200 failed, e.g. {:?}",
        failed.len(),
        failed[0]
    );
    let mut recorded = 0;
    for b in &shared {
        let listed = bill_payments(&store, b).await;
        assert!(listed.iter().all(|p| p.bill_id == b.id));
        recorded += listed.len();
        assert_eq!(
            stored_bill(&store, &b.id).await.status,
            PaymentStatus::Overpaid
        );
    }
    assert_eq!(recorded, payments.len());
    for p in payments.iter().step_by(37) {
        assert_eq!(
            store.merchant_payment(&m.id, &p.id).await.unwrap().as_ref(),
            Some(p)
        );
    }
}

/// A PostgreSQL writer sends its batch as one script, its values written into the SQL as
/// quoted literals: text made to break out of a literal is stored exactly as sent, and nothing
/// else runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn text_that_looks_like_sql_is_stored_as_written() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "quotes").await;
    let nasty = [
        "it's",
        "'); DELETE FROM bills; --",
        "back\\slash \\' E'\\x41'",
        "$1 $2 $$ $tag$ ::int8",
        "line\nbreak\ttab; COMMIT; ROLLBACK",
        "Ёлка 🎄 \"double\" ''",
    ];
    let bills: Vec<Bill> = (0..64i64)
        .map(|i| {
            let text = nasty[i as usize % nasty.len()];
            paylink_core::bill::NewBill {
                amount: paylink_core::money::Amount::from_minor(100 + i),
                bill_type: Some(BillType::Normal),
                order_id: Some(format!("{i} {text}")),
                description: Some(text.to_string()),
                name: Some(format!("{text} {i}")),
                ..Default::default()
            }
            .open(&s.merchant_id, &s, crate::support::bill_id(), NOW + i)
            .expect("open a bill")
        })
        .collect();
    let plans = bills
        .iter()
        .map(|b| {
            let (_, pay) = settle(b, Outcome::Success, NOW + 100);
            let mut writes = vec![Write::InsertBill(b.clone())];
            writes.extend(pay.writes);
            Plan { writes }
        })
        .collect();
    let results = race(&store, plans).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    for b in &bills {
        let stored = stored_bill(&store, &b.id).await;
        assert_eq!(
            (&stored.order_id, &stored.description, &stored.name),
            (&b.order_id, &b.description, &b.name)
        );
        assert_eq!(stored.status, PaymentStatus::Success);
        assert_eq!(bill_payments(&store, b).await.len(), 1);
    }
    assert_eq!(
        all_bills(&store, &m.id, &BillFilter::default()).await.len(),
        bills.len()
    );
}
