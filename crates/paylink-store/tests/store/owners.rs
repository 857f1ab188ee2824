//! Balances of owners other than merchants (a partner's prepaid balance, a card's balance) live
//! in the same ledger under the same rules: the same no-overdraft guard, under real concurrency
//! on either backend, the same lock order, and the same `ledger check`.

use crate::support::{is_guard, open, race, seed, NOW};
use paylink_core::guard::Guard;
use paylink_core::id::{CardId, PartnerId};
use paylink_core::ledger::{Balance, Bucket, Entry, EntryKind, Owner};
use paylink_core::money::Currency;
use paylink_core::plan::{Plan, Write};
use paylink_store::{Store, StoreError};

fn partner() -> Owner {
    Owner::partner(&PartnerId::random(&mut rand::thread_rng()))
}

fn card() -> Owner {
    Owner::card(&CardId::random(&mut rand::thread_rng()))
}

fn entry_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        paylink_core::id::random_base62(&mut rand::thread_rng(), 16)
    )
}

/// `amount` paid in to a partner's prepaid balance.
fn top_up(partner: &Owner, amount: i64) -> Plan {
    let id = entry_id("topup");
    Plan::one(Write::Post(
        Entry::new(EntryKind::PartnerTopUp, id.clone(), &id, NOW)
            .leg(
                Bucket::PartnerFunding,
                &Owner::PLATFORM,
                Currency::Rub,
                -amount,
            )
            .leg(Bucket::Available, partner, Currency::Rub, amount),
    ))
}

/// `amount` moved from one owner's available balance to another's.
fn fund(from: &Owner, to: &Owner, amount: i64) -> Plan {
    let id = entry_id("fund");
    Plan::one(Write::Post(
        Entry::new(EntryKind::CardFunding, id.clone(), &id, NOW)
            .leg(Bucket::Available, from, Currency::Rub, -amount)
            .leg(Bucket::Available, to, Currency::Rub, amount),
    ))
}

/// `amount` a card spent.
fn debit(card: &Owner, amount: i64) -> Plan {
    let id = entry_id("debit");
    Plan::one(Write::Post(
        Entry::new(EntryKind::CardDebit, id.clone(), &id, NOW)
            .leg(Bucket::Available, card, Currency::Rub, -amount)
            .leg(
                Bucket::CardClearing,
                &Owner::PLATFORM,
                Currency::Rub,
                amount,
            ),
    ))
}

fn available(amount: i64) -> Balance {
    Balance {
        available: amount,
        ..Balance::zero(Currency::Rub)
    }
}

async fn assert_ledger_ok(store: &Store) {
    let report = store.ledger_check().await.expect("the ledger check runs");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[tokio::test]
async fn a_card_spends_no_more_than_it_was_funded_from_its_partner() {
    let (_db, store) = open().await;
    let (m, _) = seed(&store, "beside").await;
    let (p, c) = (partner(), card());

    store.apply(top_up(&p, 10_000)).await.unwrap();
    store.apply(fund(&p, &c, 6_000)).await.unwrap();
    // Beyond the partner's prepaid balance and beyond the card's: the guard that keeps a
    // merchant from paying out what it has not got.
    for plan in [fund(&p, &c, 4_001), debit(&c, 6_001)] {
        let r = store.apply(plan).await;
        assert!(
            matches!(r, Err(StoreError::GuardFailed(Guard::BalanceNotEnough))),
            "{r:?}"
        );
    }
    // A card never funded has nothing to spend.
    let unfunded = card();
    assert!(is_guard(&store.apply(debit(&unfunded, 1)).await));
    assert_eq!(
        store.owner_balance(&unfunded, Currency::Rub).await.unwrap(),
        Balance::zero(Currency::Rub)
    );
    store.apply(debit(&c, 6_000)).await.unwrap();

    assert_eq!(
        store.owner_balances(&p).await.unwrap(),
        vec![available(4_000)]
    );
    assert_eq!(store.owner_balances(&c).await.unwrap(), vec![available(0)]);
    assert_eq!(
        store.owner_balance(&c, Currency::Usd).await.unwrap(),
        Balance::zero(Currency::Usd)
    );
    // Nothing of it is the merchant's.
    assert_eq!(store.balances(&m.id).await.unwrap(), vec![]);
    let report = store.ledger_check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // (The balance rows are 2, or 3 on PostgreSQL, where locking the unfunded card's row in
    // order created it empty.)
    assert_eq!((report.transactions, report.postings), (3, 6));
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_card_debits_never_overdraw() {
    const RACERS: usize = 64;
    let (_db, store) = open().await;
    let (p, c) = (partner(), card());
    store.apply(top_up(&p, 10_000)).await.unwrap();
    store.apply(fund(&p, &c, 10_000)).await.unwrap();

    let results = race(&store, (0..RACERS).map(|_| debit(&c, 300)).collect()).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 33, "{results:?}");
    assert!(
        results.iter().all(|r| r.is_ok() || is_guard(r)),
        "{results:?}"
    );
    assert_eq!(
        store.owner_balances(&c).await.unwrap(),
        vec![available(100)]
    );
    assert_ledger_ok(&store).await;
    store.close().await;
}

/// Writers (several on PostgreSQL) move money both ways between the same owners of different
/// kinds at once: each batch locks the balance rows in one order, so none waits on another in
/// a circle, and every transfer commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transfers_both_ways_between_owners_all_commit() {
    const RACERS: usize = 96;
    let (_db, store) = open().await;
    let (m, _) = seed(&store, "merchant").await;
    let (p, c) = (partner(), card());
    store.apply(top_up(&p, 20_000)).await.unwrap();
    store.apply(fund(&p, &c, 10_000)).await.unwrap();
    let plans: Vec<Plan> = (0..RACERS)
        .map(|i| match i % 2 {
            0 => fund(&p, &c, 100),
            _ => fund(&c, &p, 100),
        })
        .collect();
    let results = race(&store, plans).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(
        store.owner_balances(&p).await.unwrap(),
        vec![available(10_000)]
    );
    assert_eq!(
        store.owner_balances(&c).await.unwrap(),
        vec![available(10_000)]
    );
    assert_eq!(store.balances(&m.id).await.unwrap(), vec![]);
    assert_ledger_ok(&store).await;
    store.close().await;
}

#[tokio::test]
async fn ledger_check_re_derives_a_cards_balance_and_finds_misplaced_postings() {
    let (_db, store) = open().await;
    let c = card();
    let p = partner();
    store.apply(top_up(&p, 500)).await.unwrap();
    store.apply(fund(&p, &c, 500)).await.unwrap();
    // Hand edits (the writer refuses a malformed entry): the cached row changed, and a posting
    // on a bucket a partner does not have.
    let (kind, id) = (c.kind().as_str(), c.id());
    let partner_id = p.id();
    store
        .execute_raw(&format!(
            "UPDATE balances SET available = 400 WHERE owner_kind = '{kind}' AND owner_id = '{id}';
             INSERT INTO ledger_transactions (id, kind, subject_id, created_at)
                 VALUES ('odd', 'partner_top_up', 'odd', {NOW});
             INSERT INTO ledger_postings (tx_id, seq, owner_kind, owner_id, bucket, currency, amount)
                 VALUES ('odd', 1, 'platform', '', 'fx', 'RUB', -1),
                        ('odd', 2, 'partner', '{partner_id}', 'fx', 'RUB', 1);"
        ))
        .await
        .unwrap();
    let report = store.ledger_check().await.unwrap();
    let problems = report.problems.join("\n");
    assert_eq!(report.problems.len(), 2, "{problems}");
    assert!(
        problems.contains(&format!(
            "card {id} RUB: cached balance (available 400, locked 0, hold 0) differs from its postings (available 500, locked 0, hold 0)"
        )),
        "{problems}"
    );
    assert!(
        problems.contains("1 postings are on a bucket their owner does not have"),
        "{problems}"
    );
    store.close().await;
}
