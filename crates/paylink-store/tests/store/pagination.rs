//! Keyset paging over bills and payments, the filters, and merchant isolation.

use crate::support::{
    all_bills, all_payments, insert_bill, keyset, open, open_bill, seed, settle, stored_bill,
    Outcome, NOW,
};
use paylink_core::bill::{Bill, BillType};
use paylink_core::id::MerchantId;
use paylink_core::merchant::Shop;
use paylink_core::payment::Payment;
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::{BillFilter, Direction, PageRequest, PaymentFilter, Store};
use std::collections::HashSet;

/// What paging needs of a listed item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    created_at: Millis,
    id: String,
}

enum Query<'a> {
    Bills(&'a BillFilter),
    Payments(&'a PaymentFilter),
}

#[derive(Debug, Clone, PartialEq)]
struct Listed {
    items: Vec<Item>,
    has_more: bool,
}

async fn fetch(
    store: &Store,
    merchant: &MerchantId,
    query: &Query<'_>,
    req: PageRequest,
) -> Listed {
    match query {
        Query::Bills(f) => {
            let page = store.search_bills(merchant, f, &req).await.unwrap();
            Listed {
                items: page
                    .items
                    .iter()
                    .map(|b| Item {
                        created_at: b.created_at,
                        id: b.id.to_string(),
                    })
                    .collect(),
                has_more: page.has_more,
            }
        }
        Query::Payments(f) => {
            let page = store.search_payments(merchant, f, &req).await.unwrap();
            Listed {
                items: page
                    .items
                    .iter()
                    .map(|p| Item {
                        created_at: p.created_at,
                        id: p.id.to_string(),
                    })
                    .collect(),
                has_more: page.has_more,
            }
        }
    }
}

fn from(item: &Item, direction: Direction, limit: u32) -> PageRequest {
    PageRequest {
        from: Some((keyset(item.created_at, &item.id), direction)),
        limit,
    }
}

/// Walks `Next` from the first page to the end, then `Prev` back to the first, checking each
/// step; returns every item in the order walked.
async fn walk(
    store: &Store,
    merchant: &MerchantId,
    query: &Query<'_>,
    limit: u32,
    total: usize,
) -> Vec<Item> {
    let mut pages: Vec<Listed> =
        vec![fetch(store, merchant, query, PageRequest { from: None, limit }).await];
    while pages.last().unwrap().has_more {
        let last = pages
            .last()
            .unwrap()
            .items
            .last()
            .expect("a page with more is not empty")
            .clone();
        pages.push(fetch(store, merchant, query, from(&last, Direction::Next, limit)).await);
        assert!(pages.len() <= total + 1, "paging does not end");
    }
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    let expected_pages = total.div_ceil(limit as usize).max(1);
    assert_eq!(pages.len(), expected_pages, "page sizes {sizes:?}");
    for (i, p) in pages.iter().enumerate() {
        let last = i + 1 == pages.len();
        let full = if last {
            total - limit as usize * i
        } else {
            limit as usize
        };
        assert_eq!(p.items.len(), full, "page {i} of sizes {sizes:?}");
        assert_eq!(p.has_more, !last, "has_more of page {i}");
    }
    let walked: Vec<Item> = pages.iter().flat_map(|p| p.items.clone()).collect();
    // Each item exactly once, newest first.
    let ids: HashSet<&str> = walked.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), total, "an item was repeated or skipped");
    assert!(
        walked
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "not newest first: {walked:?}"
    );

    // Beyond the last item there is nothing.
    if let Some(end) = walked.last() {
        let beyond = fetch(store, merchant, query, from(end, Direction::Next, limit)).await;
        assert_eq!(
            beyond,
            Listed {
                items: vec![],
                has_more: false
            }
        );
    }

    // Prev from the first item of each page gives back the page before it.
    for i in (1..pages.len()).rev() {
        let first = &pages[i].items[0];
        let back = fetch(store, merchant, query, from(first, Direction::Prev, limit)).await;
        assert_eq!(back.items, pages[i - 1].items, "Prev from page {i}");
        assert_eq!(
            back.has_more,
            i - 1 > 0,
            "has_more going back to page {}",
            i - 1
        );
    }
    if let Some(start) = walked.first() {
        let before = fetch(store, merchant, query, from(start, Direction::Prev, limit)).await;
        assert_eq!(
            before,
            Listed {
                items: vec![],
                has_more: false
            }
        );
    }
    // A Prev page from the middle of a page: the `limit` items just newer than it.
    if walked.len() > 3 {
        let back = fetch(
            store,
            merchant,
            query,
            from(&walked[3], Direction::Prev, limit),
        )
        .await;
        let n = 3.min(limit as usize);
        assert_eq!(back.items, walked[3 - n..3].to_vec());
        assert_eq!(back.has_more, 3 > limit as usize);
    }
    walked
}

/// `created_at` of the `i`th of 25 bills: runs of equal stamps (5, 3 and 6 long) that straddle
/// page boundaries, and distinct ones between.
fn stamp(i: i64) -> Millis {
    NOW + 1_000
        * match i {
            0..=4 => 0,
            5..=7 => 1,
            8..=14 => i - 6,
            15..=20 => 9,
            _ => i - 11,
        }
}

struct World {
    store: Store,
    a: MerchantId,
    b: MerchantId,
    a_shops: [Shop; 2],
    b_shop: Shop,
    a_bills: Vec<Bill>,
    b_bills: Vec<Bill>,
    a_payments: Vec<Payment>,
    b_payments: Vec<Payment>,
}

fn order_id(i: i64) -> Option<String> {
    (i % 4 == 0).then(|| format!("order-{}", i % 8))
}

async fn world(store: Store) -> World {
    let (a, a1) = seed(&store, "alpha").await;
    let a2 = Shop {
        name: "alpha second".into(),
        ..crate::support::shop(&a, "alpha second")
    };
    store
        .apply(Plan::one(Write::InsertShop(a2.clone())))
        .await
        .unwrap();
    let (b, b_shop) = seed(&store, "beta").await;

    let mut a_bills = Vec::new();
    let mut a_payments = Vec::new();
    for i in 0..25i64 {
        let shop = if i % 3 == 0 { &a2 } else { &a1 };
        let bill = Bill {
            order_id: order_id(i),
            ..open_bill(shop, BillType::Multi, 1_000 + i, stamp(i))
        };
        insert_bill(&store, &bill).await;
        // Payments: stamps with runs too (all payments of even bills share one per bill).
        if i % 2 == 0 {
            let (p, plan) = settle(&bill, Outcome::Success, stamp(i) + 500);
            store.apply(plan).await.unwrap();
            a_payments.push(p);
        }
        if i % 5 == 0 {
            let (p, plan) = settle(&bill, Outcome::Declined, stamp(i) + 500);
            store.apply(plan).await.unwrap();
            a_payments.push(p);
        }
        a_bills.push(stored_bill(&store, &bill.id).await);
    }
    // The other merchant: bills with the same stamps and order ids, paid.
    let mut b_bills = Vec::new();
    let mut b_payments = Vec::new();
    for i in 0..8i64 {
        let bill = Bill {
            order_id: order_id(i),
            ..open_bill(&b_shop, BillType::Multi, 2_000 + i, stamp(i))
        };
        insert_bill(&store, &bill).await;
        let (p, plan) = settle(&bill, Outcome::Overpaid, stamp(i) + 500);
        store.apply(plan).await.unwrap();
        b_payments.push(p);
        b_bills.push(stored_bill(&store, &bill.id).await);
    }
    World {
        store,
        a: a.id,
        b: b.id,
        a_shops: [a1, a2],
        b_shop,
        a_bills,
        b_bills,
        a_payments,
        b_payments,
    }
}

/// Which items a filter should keep.
type Keep<'a, T> = Box<dyn Fn(&T) -> bool + 'a>;

fn ids<'a>(items: impl IntoIterator<Item = &'a str>) -> HashSet<String> {
    items.into_iter().map(str::to_string).collect()
}

#[tokio::test]
async fn bills_page_newest_first_both_ways() {
    let (_db, store) = open().await;
    let w = world(store).await;
    let everything = BillFilter::default();
    let q = Query::Bills(&everything);
    for limit in [7, 5, 1, 25, 100] {
        let walked = walk(&w.store, &w.a, &q, limit, 25).await;
        assert_eq!(
            ids(walked.iter().map(|i| i.id.as_str())),
            ids(w.a_bills.iter().map(|b| b.id.as_str())),
            "limit {limit}"
        );
    }
    // Every limit walks the same order.
    let by7 = walk(&w.store, &w.a, &q, 7, 25).await;
    let by1 = walk(&w.store, &w.a, &q, 1, 25).await;
    assert_eq!(by7, by1);
}

#[tokio::test]
async fn payments_page_newest_first_both_ways() {
    let (_db, store) = open().await;
    let w = world(store).await;
    let everything = PaymentFilter::default();
    let q = Query::Payments(&everything);
    let total = w.a_payments.len();
    assert_eq!(total, 13 + 5);
    for limit in [4, 7, 1] {
        let walked = walk(&w.store, &w.a, &q, limit, total).await;
        assert_eq!(
            ids(walked.iter().map(|i| i.id.as_str())),
            ids(w.a_payments.iter().map(|p| p.id.as_str())),
            "limit {limit}"
        );
    }
}

/// Filtered listings are exactly the matching items, in the order of the unfiltered one, and
/// page like it.
#[tokio::test]
async fn bill_filters_restrict_the_listing() {
    let (_db, store) = open().await;
    let w = world(store).await;
    let all = all_bills(&w.store, &w.a, &BillFilter::default()).await;
    assert_eq!(all.len(), 25);
    let cases: Vec<(BillFilter, Keep<'_, Bill>)> = vec![
        (
            BillFilter {
                shop_id: Some(w.a_shops[1].id.clone()),
                ..BillFilter::default()
            },
            Box::new(|b: &Bill| b.shop_id == w.a_shops[1].id),
        ),
        (
            BillFilter {
                order_id: Some("order-0".into()),
                ..BillFilter::default()
            },
            Box::new(|b: &Bill| b.order_id.as_deref() == Some("order-0")),
        ),
        (
            BillFilter {
                from: Some(stamp(9)),
                to: Some(stamp(13)),
                ..BillFilter::default()
            },
            Box::new(|b: &Bill| (stamp(9)..=stamp(13)).contains(&b.created_at)),
        ),
        (
            BillFilter {
                from: Some(stamp(15)),
                ..BillFilter::default()
            },
            Box::new(|b: &Bill| b.created_at >= stamp(15)),
        ),
        (
            BillFilter {
                to: Some(stamp(0)),
                ..BillFilter::default()
            },
            Box::new(|b: &Bill| b.created_at <= stamp(0)),
        ),
        (
            BillFilter {
                shop_id: Some(w.a_shops[0].id.clone()),
                order_id: Some("order-4".into()),
                from: Some(stamp(5)),
                to: Some(stamp(24)),
            },
            Box::new(|b: &Bill| {
                b.shop_id == w.a_shops[0].id
                    && b.order_id.as_deref() == Some("order-4")
                    && b.created_at >= stamp(5)
            }),
        ),
        (
            BillFilter {
                order_id: Some("no-such-order".into()),
                ..BillFilter::default()
            },
            Box::new(|_: &Bill| false),
        ),
    ];
    for (filter, keep) in &cases {
        let expected: Vec<Bill> = all.iter().filter(|b| keep(b)).cloned().collect();
        assert_eq!(
            &all_bills(&w.store, &w.a, filter).await,
            &expected,
            "{filter:?}"
        );
        let walked = walk(&w.store, &w.a, &Query::Bills(filter), 2, expected.len()).await;
        assert_eq!(
            walked.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
            expected
                .iter()
                .map(|b| b.id.to_string())
                .collect::<Vec<_>>()
        );
    }
    // Sanity of the fixture: each filter above keeps some, not all (but the last).
    for (filter, keep) in &cases[..cases.len() - 1] {
        let n = all.iter().filter(|b| keep(b)).count();
        assert!(n > 0 && n < 25, "{filter:?} keeps {n}");
    }
}

#[tokio::test]
async fn payment_filters_restrict_the_listing() {
    let (_db, store) = open().await;
    let w = world(store).await;
    let all = all_payments(&w.store, &w.a, &PaymentFilter::default()).await;
    assert_eq!(all.len(), w.a_payments.len());
    let bill_of = |p: &Payment| -> Bill {
        w.a_bills
            .iter()
            .find(|b| b.id == p.bill_id)
            .cloned()
            .unwrap()
    };
    let paid_twice = w.a_bills[10].clone();
    let cases: Vec<(PaymentFilter, Keep<'_, Payment>)> = vec![
        (
            PaymentFilter {
                bill_id: Some(paid_twice.id.clone()),
                ..PaymentFilter::default()
            },
            Box::new(|p: &Payment| p.bill_id == paid_twice.id),
        ),
        (
            PaymentFilter {
                bill_order_id: Some("order-0".into()),
                ..PaymentFilter::default()
            },
            Box::new(|p: &Payment| bill_of(p).order_id.as_deref() == Some("order-0")),
        ),
        (
            PaymentFilter {
                shop_id: Some(w.a_shops[1].id.clone()),
                ..PaymentFilter::default()
            },
            Box::new(|p: &Payment| p.shop_id == w.a_shops[1].id),
        ),
        (
            PaymentFilter {
                from: Some(stamp(10) + 500),
                to: Some(stamp(20) + 500),
                ..PaymentFilter::default()
            },
            Box::new(|p: &Payment| (stamp(10) + 500..=stamp(20) + 500).contains(&p.created_at)),
        ),
        (
            PaymentFilter {
                bill_order_id: Some("order-4".into()),
                shop_id: Some(w.a_shops[0].id.clone()),
                from: Some(stamp(4)),
                ..PaymentFilter::default()
            },
            Box::new(|p: &Payment| {
                bill_of(p).order_id.as_deref() == Some("order-4")
                    && p.shop_id == w.a_shops[0].id
                    && p.created_at >= stamp(4)
            }),
        ),
        (
            PaymentFilter {
                bill_id: Some(w.a_bills[1].id.clone()),
                ..PaymentFilter::default()
            },
            Box::new(|_: &Payment| false),
        ),
    ];
    assert_eq!(
        all.iter().filter(|p| p.bill_id == paid_twice.id).count(),
        2,
        "fixture: bill 10 has a success and a failure"
    );
    for (filter, keep) in &cases {
        let expected: Vec<Payment> = all.iter().filter(|p| keep(p)).cloned().collect();
        assert_eq!(
            &all_payments(&w.store, &w.a, filter).await,
            &expected,
            "{filter:?}"
        );
        let walked = walk(&w.store, &w.a, &Query::Payments(filter), 2, expected.len()).await;
        assert_eq!(
            walked.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
            expected
                .iter()
                .map(|p| p.id.to_string())
                .collect::<Vec<_>>()
        );
    }
    for (filter, keep) in &cases[..cases.len() - 1] {
        let n = all.iter().filter(|p| keep(p)).count();
        assert!(n > 0 && n < all.len(), "{filter:?} keeps {n}");
    }
}

#[tokio::test]
async fn one_merchant_never_sees_anothers_bills_or_payments() {
    let (_db, store) = open().await;
    let w = world(store).await;
    let s = &w.store;

    // Searches list only one's own objects, with or without filters naming the other's.
    let a_bills = all_bills(s, &w.a, &BillFilter::default()).await;
    assert_eq!(
        ids(a_bills.iter().map(|b| b.id.as_str())),
        ids(w.a_bills.iter().map(|b| b.id.as_str()))
    );
    let b_bills = all_bills(s, &w.b, &BillFilter::default()).await;
    assert_eq!(
        ids(b_bills.iter().map(|b| b.id.as_str())),
        ids(w.b_bills.iter().map(|b| b.id.as_str()))
    );
    let b_payments = all_payments(s, &w.b, &PaymentFilter::default()).await;
    assert_eq!(b_payments.len(), w.b_payments.len());
    assert!(b_payments.iter().all(|p| p.merchant_id == w.b));
    let a_payments = all_payments(s, &w.a, &PaymentFilter::default()).await;
    assert_eq!(
        ids(a_payments.iter().map(|p| p.id.as_str())),
        ids(w.a_payments.iter().map(|p| p.id.as_str()))
    );

    // Shared order ids: each sees only their own.
    let order0 = BillFilter {
        order_id: Some("order-0".into()),
        ..BillFilter::default()
    };
    let b_order0 = all_bills(s, &w.b, &order0).await;
    assert_eq!(b_order0.len(), 1);
    assert_eq!(b_order0[0].merchant_id, w.b);
    assert!(all_bills(s, &w.a, &order0)
        .await
        .iter()
        .all(|b| b.merchant_id == w.a));
    let pay_order0 = PaymentFilter {
        bill_order_id: Some("order-0".into()),
        ..PaymentFilter::default()
    };
    let b_pay0 = all_payments(s, &w.b, &pay_order0).await;
    assert_eq!(b_pay0.len(), 1);
    assert_eq!(b_pay0[0].bill_id, b_order0[0].id);

    // Filters naming the other's shop or bill find nothing.
    let a_shop = BillFilter {
        shop_id: Some(w.a_shops[0].id.clone()),
        ..BillFilter::default()
    };
    assert!(all_bills(s, &w.b, &a_shop).await.is_empty());
    let b_shop = BillFilter {
        shop_id: Some(w.b_shop.id.clone()),
        ..BillFilter::default()
    };
    assert!(all_bills(s, &w.a, &b_shop).await.is_empty());
    let a_bill = PaymentFilter {
        bill_id: Some(w.a_bills[0].id.clone()),
        ..PaymentFilter::default()
    };
    assert!(all_payments(s, &w.b, &a_bill).await.is_empty());
    assert!(!all_payments(s, &w.a, &a_bill).await.is_empty());

    // By id: the other's object answers like a missing one.
    for bill in &w.a_bills {
        assert_eq!(s.merchant_bill(&w.b, &bill.id).await.unwrap(), None);
        assert_eq!(
            s.merchant_bill(&w.a, &bill.id).await.unwrap().as_ref(),
            Some(bill)
        );
    }
    for bill in &w.b_bills {
        assert_eq!(s.merchant_bill(&w.a, &bill.id).await.unwrap(), None);
    }
    for p in &w.a_payments {
        assert_eq!(s.merchant_payment(&w.b, &p.id).await.unwrap(), None);
        assert_eq!(
            s.merchant_payment(&w.a, &p.id).await.unwrap().as_ref(),
            Some(p)
        );
    }
    for p in &w.b_payments {
        assert_eq!(s.merchant_payment(&w.a, &p.id).await.unwrap(), None);
    }

    // A keyset taken from the other's listing pages one's own items only.
    let their = &w.b_bills[7];
    let page = s
        .search_bills(
            &w.a,
            &BillFilter::default(),
            &PageRequest {
                from: Some((keyset(their.created_at, their.id.as_str()), Direction::Next)),
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert!(!page.items.is_empty());
    assert!(page.items.iter().all(|b| b.merchant_id == w.a));
}
