//! The outbox: notices written with their payment, leased to one claimer at a time, and their
//! attempts recorded in batches, on both backends.

use crate::support::*;
use paylink_core::bill::BillType;
use paylink_core::decide;
use paylink_core::event::{AfterAttempt, Dialect, Event, EventKind, NoticeState};
use paylink_core::plan::{DeliveryAttempt, Finished, Plan, Write};
use paylink_store::{Handover, NoticeContent, Store, StoredNotice};
use std::collections::HashSet;

const NOW: i64 = 1_700_000_000_000;

/// `n` paid bills whose postbacks go to `url`; the notice ids.
async fn notices(store: &Store, n: usize) -> Vec<String> {
    let (_, shop) = seed(store, "outbox").await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let bill = open_bill(&shop, BillType::Normal, 100, NOW);
        insert_bill(store, &bill).await;
        let (payment, plan) = decide::payment::settle(
            &bill,
            paylink_core::money::Rate::ZERO,
            charge(&bill, paylink_core::money::Rate::ZERO, Outcome::Success),
            payment_id(),
            Some("https://merchant.example/cb"),
            paylink_core::payment::Booking::immediate(bill.currency),
            NOW,
        )
        .unwrap();
        store.apply(plan).await.expect("the payment and its notice");
        ids.push(format!("msg_{}", payment.id));
    }
    ids
}

async fn claim(store: &Store, owner: &str, now: i64, limit: i64) -> Vec<String> {
    let ids = store.due_notices(now, limit).await.expect("due notices");
    if ids.is_empty() {
        return Vec::new();
    }
    store
        .apply(Plan::one(Write::ClaimNotices {
            owner: owner.into(),
            ids: ids.clone(),
            now,
            until: now + 60_000,
        }))
        .await
        .expect("claim");
    store
        .claimed_notices(owner, &ids, now)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.record.notice.id)
        .collect()
}

#[tokio::test]
async fn a_payment_writes_its_notice_in_the_same_plan() {
    let (_db, store) = open().await;
    let ids = notices(&store, 1).await;
    let n = store.notice(&ids[0]).await.unwrap().expect("the notice");
    assert_eq!(n.state, NoticeState::Pending);
    assert_eq!((n.attempts, n.total_attempts, n.next_at), (0, 0, NOW));
    assert_eq!(n.notice.url, "https://merchant.example/cb");
    assert_eq!(n.notice.dialect, Dialect::Cardlink);
    assert_eq!(n.notice.kind, EventKind::Payment);
    let NoticeContent::Event(Event::PaymentFinished(e)) = &n.notice.content else {
        panic!("a payment's event: {n:?}");
    };
    assert_eq!(format!("msg_{}", e.payment_id), ids[0]);
    assert_eq!(n.notice.subject_id, e.payment_id.as_str());
    assert_eq!((e.amount, e.status.as_str()), (100, "SUCCESS"));
    assert_eq!(n.notice.bill_id.as_ref(), Some(&e.bill_id));
}

/// A notice written before the outbox held events (its Cardlink form fields, no event) is read
/// back with those fields as they were, and is claimed and moved like any other.
#[tokio::test]
async fn a_notice_from_before_events_is_read_with_its_fields() {
    let (_db, store) = open().await;
    let (merchant, shop) = seed(&store, "legacy").await;
    let fields: Vec<(String, String)> = [
        ("InvId", "order 7/ü"),
        ("OutSum", "10.00"),
        ("Commission", "0.35"),
        ("TrsId", "PPPPPPPPPP"),
        ("Status", "SUCCESS"),
        ("CurrencyIn", "RUB"),
        ("custom", "a&b=c"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let legacy = StoredNotice {
        id: "msg_PPPPPPPPPP".into(),
        kind: EventKind::Payment,
        dialect: Dialect::Cardlink,
        merchant_id: Some(merchant.id.clone()),
        partner_id: None,
        shop_id: Some(shop.id.clone()),
        bill_id: None,
        subject_id: "PPPPPPPPPP".into(),
        url: "https://merchant.example/cb".into(),
        content: NoticeContent::Fields(fields),
        created_at: NOW,
    };
    store.insert_legacy_notice(&legacy).await.unwrap();
    let n = store.notice(&legacy.id).await.unwrap().expect("the notice");
    assert_eq!(n.notice, legacy);
    assert_eq!(n.state, NoticeState::Pending);
    assert_eq!(claim(&store, "me", NOW, 10).await, vec![legacy.id]);
}

/// The notices a process writes while its dispatcher takes them over are written leased to
/// that dispatcher and handed to it once committed: no claimer sees them until the lease
/// lapses, a redelivery asks for a claim, and once the dispatcher lets go notices are written
/// unleased again.
#[tokio::test]
async fn notices_written_while_a_dispatcher_takes_them_over_are_leased_to_it_and_handed_over() {
    let (_db, store) = open().await;
    let mut handed = store.hand_over_notices("disp", 60_000);
    let ids = notices(&store, 3).await;
    let mut got = Vec::new();
    while got.len() < ids.len() {
        match handed.try_recv().expect("one handover per committed plan") {
            Handover::Leased(some) => got.extend(some),
            Handover::Due => panic!("a new notice is handed over, not left to a claim"),
        }
    }
    assert_eq!(got, ids);
    assert!(claim(&store, "other", NOW, 100).await.is_empty());
    // Handed over: read like claimed ones, by their owner, while the lease has time left.
    let leased = store
        .claimed_notices("disp", &ids, NOW + 59_999)
        .await
        .unwrap();
    assert_eq!(leased.len(), 3);
    assert!(store
        .claimed_notices("disp", &ids, NOW + 60_000)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .claimed_notices("other", &ids, NOW)
        .await
        .unwrap()
        .is_empty());
    // A dispatcher that died: its leases lapse and anyone claims them.
    assert_eq!(claim(&store, "heir", NOW + 60_000, 100).await.len(), 3);
    // A redelivery is due for a claim, not leased.
    store
        .apply(Plan::one(Write::Redeliver {
            notice_id: ids[0].clone(),
            now: NOW,
        }))
        .await
        .unwrap();
    assert_eq!(handed.try_recv().unwrap(), Handover::Due);
    assert_eq!(claim(&store, "other", NOW, 100).await, vec![ids[0].clone()]);
    // Let go: new notices are written unleased and handed to nobody.
    drop(handed);
    let more = notices(&store, 1).await;
    assert_eq!(claim(&store, "other", NOW, 100).await, more);
}

#[tokio::test]
async fn concurrent_claimers_never_lease_one_notice_twice_and_a_lapsed_lease_is_due_again() {
    let (_db, store) = open().await;
    let ids = notices(&store, 40).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            claim(&store, &format!("owner{i}"), NOW, 7).await
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} leased twice");
        }
    }
    assert_eq!(total, seen.len());
    // Whatever is left is claimable; nothing is leased again before its lease runs out.
    let rest = claim(&store, "late", NOW, 100).await;
    assert_eq!(seen.len() + rest.len(), ids.len());
    assert!(claim(&store, "again", NOW + 59_999, 100).await.is_empty());
    // The claimers died: at the end of their leases everything is due again.
    assert_eq!(
        claim(&store, "heir", NOW + 60_000, 100).await.len(),
        ids.len()
    );
    // Not yet due is not claimed.
    assert!(claim(&store, "early", NOW - 1, 100).await.is_empty());
}

#[tokio::test]
async fn attempts_are_recorded_in_batches_and_move_only_notices_still_leased() {
    let (_db, store) = open().await;
    // More than one chunk, and chunks of several sizes.
    let ids = notices(&store, 203).await;
    let claimed = claim(&store, "me", NOW, 1000).await;
    assert_eq!(claimed.len(), 203);
    let finished: Vec<Finished> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Finished {
            attempt: DeliveryAttempt {
                notice_id: id.clone(),
                number: 1,
                at: NOW + i as i64,
                http_status: (i % 3 != 2).then_some(if i % 3 == 0 { 200 } else { 503 }),
                latency_ms: 10 + i as i64,
                error: (i % 3 == 2).then(|| "timed out".to_string()),
                excerpt: format!("body {i}"),
            },
            // The last notice's lease was lost to another owner.
            owner: if i == 202 {
                "thief".into()
            } else {
                "me".into()
            },
            next: match i % 3 {
                0 => AfterAttempt::Delivered,
                1 => AfterAttempt::RetryAt(NOW + 10_000),
                _ => AfterAttempt::GiveUp,
            },
        })
        .collect();
    store
        .apply(Plan::one(Write::FinishAttempts(finished)))
        .await
        .expect("record");
    for (i, id) in ids.iter().enumerate() {
        let n = store.notice(id).await.unwrap().unwrap();
        let a = store.notice_attempts(id).await.unwrap();
        assert_eq!(a.len(), 1, "{id}");
        assert_eq!(a[0].latency_ms, 10 + i as i64);
        assert_eq!(a[0].at, NOW + i as i64);
        assert_eq!(a[0].excerpt, format!("body {i}"));
        if i == 202 {
            // Recorded, but not moved: the lease was not ours.
            assert_eq!((n.state, n.attempts), (NoticeState::Pending, 0));
            continue;
        }
        let expected = match i % 3 {
            0 => (
                NoticeState::Delivered,
                Some(200),
                NOW + i as i64,
                Some(NOW + i as i64),
            ),
            1 => (NoticeState::Pending, Some(503), NOW + 10_000, None),
            _ => (NoticeState::Failed, None, NOW + i as i64, None),
        };
        assert_eq!(
            (n.state, n.last_status, n.next_at, n.delivered_at),
            expected,
            "{i}"
        );
        assert_eq!((n.attempts, n.total_attempts), (1, 1));
    }
    // Redelivery starts a new round for a failed one.
    store
        .apply(Plan::one(Write::Redeliver {
            notice_id: ids[2].clone(),
            now: NOW + 5,
        }))
        .await
        .unwrap();
    let n = store.notice(&ids[2]).await.unwrap().unwrap();
    assert_eq!(
        (n.state, n.attempts, n.total_attempts, n.next_at),
        (NoticeState::Pending, 0, 1, NOW + 5)
    );
    assert!(is_guard(
        &store
            .apply(Plan::one(Write::Redeliver {
                notice_id: "msg_missing".into(),
                now: NOW,
            }))
            .await
    ));
}
