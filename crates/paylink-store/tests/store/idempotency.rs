//! The SQL guard behind `Idempotency-Key`: one claim per (merchant, key) under a race; an
//! effect commits only under the claim it was made under, with its answer; a claimer that died
//! is taken over only after its lease and only by the same request; a key past its retention
//! is claimed afresh; a released claim that made no effect is forgotten.

use crate::support::{insert_bill, is_guard, open, open_bill, race, seed, stored_bill, NOW};
use paylink_core::bill::{Bill, BillType};
use paylink_core::id::MerchantId;
use paylink_core::plan::{Plan, RequestKey, StoredAnswer, Write};
use paylink_core::time::Millis;
use paylink_store::Store;

const RACERS: usize = 64;
const LEASE: Millis = 60_000;
const KEEP: Millis = 86_400_000;

fn key(merchant: &MerchantId, key: &str) -> RequestKey {
    RequestKey {
        merchant_id: merchant.clone(),
        key: key.to_string(),
    }
}

fn claim(key: &RequestKey, fingerprint: &str, token: &str, now: Millis) -> Plan {
    Plan::one(Write::ClaimRequest {
        key: key.clone(),
        fingerprint: fingerprint.to_string(),
        token: token.to_string(),
        now,
        leased_until: now + LEASE,
        expired_before: now - KEEP,
    })
}

fn answer(body: &str) -> StoredAnswer {
    StoredAnswer {
        status: 200,
        body: body.to_string(),
    }
}

fn settle(key: &RequestKey, token: &str, body: &str, must_hold: bool) -> Write {
    Write::SettleRequest {
        key: key.clone(),
        token: token.to_string(),
        answer: answer(body),
        must_hold,
    }
}

/// A plan that makes `bill` and answers the request claimed as `token` with `body`.
fn bill_answered(bill: &Bill, key: &RequestKey, token: &str, body: &str) -> Plan {
    Plan {
        writes: vec![
            Write::InsertBill(bill.clone()),
            settle(key, token, body, true),
        ],
    }
}

/// The claimer `token` gives up (a 5xx).
async fn release(store: &Store, key: &RequestKey, token: &str) {
    store
        .apply(Plan::one(Write::ReleaseRequest {
            key: key.clone(),
            token: token.to_string(),
        }))
        .await
        .expect("release the claim");
}

async fn stored(store: &Store, key: &RequestKey) -> paylink_store::RememberedRequest {
    store
        .remembered_request(key)
        .await
        .expect("read the key")
        .expect("the key is remembered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_claim_of_a_key_wins_a_race_and_keys_are_per_merchant() {
    let (_db, store) = open().await;
    let (m, _) = seed(&store, "idem").await;
    let (other, _) = seed(&store, "other").await;
    let k = key(&m.id, "order-1");
    let plans = (0..RACERS)
        .map(|i| claim(&k, "fp", &format!("token{i}"), NOW))
        .collect();
    let results = race(&store, plans).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| is_guard(r)).count(),
        RACERS - 1,
        "{results:?}"
    );
    let row = stored(&store, &k).await;
    assert_eq!(row.fingerprint, "fp");
    assert_eq!((row.answer, row.reference), (None, None));
    assert_eq!(row.leased_until, NOW + LEASE);

    // Another merchant's same key is another key.
    let theirs = key(&other.id, "order-1");
    store
        .apply(claim(&theirs, "other-fp", "t", NOW))
        .await
        .expect("another merchant claims its own key");
    assert_eq!(stored(&store, &theirs).await.fingerprint, "other-fp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_effect_commits_with_its_answer_only_under_its_own_claim() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "idem").await;
    let k = key(&m.id, "k");
    store.apply(claim(&k, "fp", "mine", NOW)).await.unwrap();

    // A plan made under a claim that is not (or no longer) the holder's fails whole: no bill.
    let lost = open_bill(&s, BillType::Normal, 10_000, NOW);
    let result = store
        .apply(bill_answered(&lost, &k, "stale", "{\"lost\":true}"))
        .await;
    assert!(is_guard(&result), "{result:?}");
    assert_eq!(store.bill(&lost.id).await.unwrap(), None);
    assert_eq!(stored(&store, &k).await.answer, None);

    // Under the claim: the bill and its answer together.
    let bill = open_bill(&s, BillType::Normal, 10_000, NOW);
    store
        .apply(bill_answered(&bill, &k, "mine", "{\"bill\":1}"))
        .await
        .expect("the effect and its answer commit");
    stored_bill(&store, &bill.id).await;
    assert_eq!(
        stored(&store, &k).await.answer,
        Some(answer("{\"bill\":1}"))
    );

    // Done: nobody claims it again within the retention, whatever the request.
    for (fp, at) in [
        ("fp", NOW + 1),
        ("fp", NOW + LEASE + 1),
        ("other", NOW + KEEP),
    ] {
        let result = store.apply(claim(&k, fp, "again", at)).await;
        assert!(is_guard(&result), "{fp} at {at}: {result:?}");
    }
    // Nor is a second answer stored over it.
    let result = store
        .apply(Plan::one(settle(&k, "mine", "{\"bill\":2}", true)))
        .await;
    assert!(is_guard(&result), "{result:?}");
    assert_eq!(
        stored(&store, &k).await.answer,
        Some(answer("{\"bill\":1}"))
    );

    // Past the retention the key is claimed afresh, for any request.
    store
        .apply(claim(&k, "new-fp", "later", NOW + KEEP + 1))
        .await
        .expect("an expired key is claimed afresh");
    let row = stored(&store, &k).await;
    assert_eq!((row.fingerprint.as_str(), row.answer), ("new-fp", None));
    assert_eq!(row.created_at, NOW + KEEP + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_claimer_is_taken_over_after_its_lease_by_the_same_request_only() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "idem").await;
    let k = key(&m.id, "k");
    store.apply(claim(&k, "fp", "first", NOW)).await.unwrap();

    let early = store
        .apply(claim(&k, "fp", "second", NOW + LEASE - 1))
        .await;
    assert!(is_guard(&early), "{early:?}");
    let other = store.apply(claim(&k, "fp2", "second", NOW + LEASE)).await;
    assert!(is_guard(&other), "{other:?}");
    // Many retries at once after the lease: one takes over.
    let plans = (0..RACERS)
        .map(|i| claim(&k, "fp", &format!("retry{i}"), NOW + LEASE))
        .collect();
    let results = race(&store, plans).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );

    // The first claimer, still alive, cannot make its effect any more.
    let bill = open_bill(&s, BillType::Normal, 10_000, NOW);
    let late = store.apply(bill_answered(&bill, &k, "first", "{}")).await;
    assert!(is_guard(&late), "{late:?}");
    assert_eq!(store.bill(&bill.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bound_effect_survives_its_claimer_and_a_release_without_one_forgets_the_key() {
    let (_db, store) = open().await;
    let (m, s) = seed(&store, "idem").await;
    let bill = open_bill(&s, BillType::Normal, 10_000, NOW);
    insert_bill(&store, &bill).await;

    // Effect bound, then the claimer gives up (a 5xx): the next claimer finds the reference
    // at once, without waiting for the lease.
    let k = key(&m.id, "bound");
    store.apply(claim(&k, "fp", "first", NOW)).await.unwrap();
    store
        .apply(Plan::one(Write::BindRequest {
            key: k.clone(),
            token: "first".into(),
            reference: bill.id.to_string(),
        }))
        .await
        .unwrap();
    release(&store, &k, "first").await;
    store
        .apply(claim(&k, "fp", "second", NOW + 1))
        .await
        .unwrap();
    let row = stored(&store, &k).await;
    assert_eq!(row.reference.as_deref(), Some(bill.id.as_str()));
    // Its answer, stored later and not under the claim's guard, is kept once.
    store
        .apply(Plan::one(settle(&k, "second", "{\"from\":\"ref\"}", false)))
        .await
        .unwrap();
    store
        .apply(Plan::one(settle(&k, "first", "{\"late\":1}", false)))
        .await
        .unwrap();
    assert_eq!(
        stored(&store, &k).await.answer,
        Some(answer("{\"from\":\"ref\"}"))
    );

    // No effect, released: forgotten, so a retry runs again at once.
    let k = key(&m.id, "failed");
    store.apply(claim(&k, "fp", "first", NOW)).await.unwrap();
    release(&store, &k, "first").await;
    assert_eq!(store.remembered_request(&k).await.unwrap(), None);
}

#[tokio::test]
async fn a_purge_forgets_only_keys_past_their_retention() {
    let (_db, store) = open().await;
    let (m, _) = seed(&store, "idem").await;
    for (name, at) in [("old1", NOW), ("old2", NOW + 1), ("new", NOW + KEEP)] {
        let k = key(&m.id, name);
        store.apply(claim(&k, "fp", "t", at)).await.unwrap();
        store
            .apply(Plan::one(settle(&k, "t", "{}", true)))
            .await
            .unwrap();
    }
    store
        .apply(Plan::one(Write::PurgeRequests {
            before: NOW + 1,
            limit: 1000,
        }))
        .await
        .unwrap();
    let left = |name: &'static str| {
        let store = store.clone();
        let k = key(&m.id, name);
        async move { store.remembered_request(&k).await.unwrap().is_some() }
    };
    assert!(!left("old1").await);
    assert!(left("old2").await && left("new").await);
    // Bounded: at most `limit` a pass.
    store
        .apply(Plan::one(Write::PurgeRequests {
            before: NOW + KEEP + 1,
            limit: 1,
        }))
        .await
        .unwrap();
    assert_eq!(
        [left("old2").await, left("new").await]
            .iter()
            .filter(|x| **x)
            .count(),
        1
    );
}
