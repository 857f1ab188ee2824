//! Fixtures shared by the suite: a fresh store, domain values built through paylink-core's
//! public API, and readers that walk every page of a search.

use paylink_core::bill::{Bill, BillType, NewBill};
use paylink_core::decide;
use paylink_core::id::{BillId, MerchantId, PaymentId, ShopId};
use paylink_core::merchant::{Merchant, Shop, Subscription};
use paylink_core::money::{Amount, Currency, Rate};
use paylink_core::payment::{Charge, ChargeResult, Payment, PaymentMethod};
use paylink_core::plan::{Plan, Write};
use paylink_core::time::Millis;
use paylink_store::testing::TestDatabase;
use paylink_store::{
    BillFilter, Keyset, Page, PageRequest, PaymentFilter, Store, StoreError, StoreOptions,
};
use std::sync::Arc;
use tokio::sync::Barrier;

/// A fixed "now" (2023-11-14): tests drive time, they never read the clock.
pub const NOW: Millis = 1_700_000_000_000;

/// A fresh database and a store opened on it. Keep the database alive while the store is used.
pub async fn open() -> (TestDatabase, Store) {
    let db = TestDatabase::new().await;
    let store = Store::open(&db.url, StoreOptions::default())
        .await
        .expect("open the store");
    (db, store)
}

pub fn rng() -> rand::rngs::ThreadRng {
    rand::thread_rng()
}

pub fn merchant_id() -> MerchantId {
    MerchantId::random(&mut rng())
}

pub fn shop_id() -> ShopId {
    ShopId::random(&mut rng())
}

pub fn bill_id() -> BillId {
    BillId::random(&mut rng())
}

pub fn payment_id() -> PaymentId {
    PaymentId::random(&mut rng())
}

pub fn merchant(name: &str) -> Merchant {
    Merchant {
        id: merchant_id(),
        name: name.to_string(),
        email: Some(format!("{name}@example.com")),
        verified: true,
        banned: false,
        subscription: Subscription::Active,
        created_at: NOW,
    }
}

pub fn shop(merchant: &Merchant, name: &str) -> Shop {
    Shop {
        id: shop_id(),
        merchant_id: merchant.id.clone(),
        name: name.to_string(),
        currency: Currency::Rub,
        balance_currency: None,
        enabled: true,
        commission: None,
        result_url: None,
        success_url: None,
        fail_url: None,
        created_at: NOW,
    }
}

/// A merchant with one enabled RUB shop, stored.
pub async fn seed(store: &Store, name: &str) -> (Merchant, Shop) {
    let m = merchant(name);
    let s = shop(&m, &format!("{name} shop"));
    store
        .apply(Plan {
            writes: vec![
                Write::InsertMerchant(m.clone()),
                Write::InsertShop(s.clone()),
            ],
        })
        .await
        .expect("seed a merchant and a shop");
    (m, s)
}

/// A bill opened through the domain: `amount` minor units, no ttl.
pub fn open_bill(shop: &Shop, kind: BillType, amount: i64, now: Millis) -> Bill {
    NewBill {
        amount: Amount::from_minor(amount),
        bill_type: Some(kind),
        ..NewBill::default()
    }
    .open(&shop.merchant_id, shop, bill_id(), now)
    .expect("open a bill")
}

pub async fn insert_bill(store: &Store, bill: &Bill) {
    store
        .apply(Plan::one(Write::InsertBill(bill.clone())))
        .await
        .expect("insert a bill");
}

/// How a sandbox charge ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Underpaid,
    Overpaid,
    Declined,
}

/// A charge of `bill` (quoted at `rate`) that ends in `outcome`; SBP lets the payer change the
/// amount, so under- and overpayments are SBP, the rest card payments.
pub fn charge(bill: &Bill, rate: Rate, outcome: Outcome) -> Charge {
    let quote = bill.quote(rate);
    let (method, paid) = match outcome {
        Outcome::Success | Outcome::Declined => (PaymentMethod::BankCard, quote),
        Outcome::Underpaid => (PaymentMethod::Sbp, (quote / 2).max(1)),
        Outcome::Overpaid => (PaymentMethod::Sbp, quote + 1 + quote / 3),
    };
    let card = method == PaymentMethod::BankCard;
    Charge {
        method,
        paid,
        from_card: if card {
            "424242******4242".into()
        } else {
            String::new()
        },
        card_fingerprint: card.then(|| "f".repeat(64)),
        client_addr: card.then(|| "192.0.2.1".into()),
        result: if outcome == Outcome::Declined {
            ChargeResult::Declined {
                code: 51,
                message: "Insufficient funds on the card.".into(),
            }
        } else {
            ChargeResult::Approved
        },
    }
}

/// `decide::payment::settle` of a fresh charge against `bill` at `now`, with no commission.
pub fn settle(bill: &Bill, outcome: Outcome, now: Millis) -> (Payment, Plan) {
    decide::payment::settle(
        bill,
        Rate::ZERO,
        charge(bill, Rate::ZERO, outcome),
        payment_id(),
        None,
        paylink_core::payment::Booking::immediate(bill.currency),
        now,
    )
    .expect("the bill is payable")
}

pub async fn stored_bill(store: &Store, id: &BillId) -> Bill {
    store
        .bill(id)
        .await
        .expect("read a bill")
        .expect("the bill exists")
}

pub fn is_guard(result: &Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::GuardFailed(_)))
}

pub fn is_conflict(result: &Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(_)))
}

pub fn first_page(limit: u32) -> PageRequest {
    PageRequest { from: None, limit }
}

pub fn keyset(created_at: Millis, id: &str) -> Keyset {
    Keyset {
        created_at,
        id: id.to_string(),
    }
}

/// Every page of a bill search, following `Next` from the first page.
pub async fn all_bill_pages(
    store: &Store,
    merchant: &MerchantId,
    filter: &BillFilter,
    limit: u32,
) -> Vec<Page<Bill>> {
    let mut pages: Vec<Page<Bill>> = Vec::new();
    let mut request = first_page(limit);
    loop {
        let page = store
            .search_bills(merchant, filter, &request)
            .await
            .expect("search bills");
        let more = page.has_more;
        let last = page
            .items
            .last()
            .map(|b| keyset(b.created_at, b.id.as_str()));
        pages.push(page);
        match (more, last) {
            (true, Some(k)) => {
                request = PageRequest {
                    from: Some((k, paylink_store::Direction::Next)),
                    limit,
                }
            }
            _ => return pages,
        }
        assert!(pages.len() < 10_000, "paging does not end");
    }
}

/// Every bill a search finds, newest first.
pub async fn all_bills(store: &Store, merchant: &MerchantId, filter: &BillFilter) -> Vec<Bill> {
    all_bill_pages(store, merchant, filter, 100)
        .await
        .into_iter()
        .flat_map(|p| p.items)
        .collect()
}

/// Every payment a search finds, newest first.
pub async fn all_payments(
    store: &Store,
    merchant: &MerchantId,
    filter: &PaymentFilter,
) -> Vec<Payment> {
    let mut out: Vec<Payment> = Vec::new();
    let mut request = first_page(100);
    loop {
        let page = store
            .search_payments(merchant, filter, &request)
            .await
            .expect("search payments");
        let more = page.has_more;
        out.extend(page.items);
        match (more, out.last()) {
            (true, Some(p)) => {
                request = PageRequest {
                    from: Some((
                        keyset(p.created_at, p.id.as_str()),
                        paylink_store::Direction::Next,
                    )),
                    limit: 100,
                }
            }
            _ => return out,
        }
    }
}

/// The payments recorded against one bill, newest first.
pub async fn bill_payments(store: &Store, bill: &Bill) -> Vec<Payment> {
    all_payments(
        store,
        &bill.merchant_id,
        &PaymentFilter {
            bill_id: Some(bill.id.clone()),
            ..PaymentFilter::default()
        },
    )
    .await
}

/// Applies every plan at once (released together by a barrier); results in plan order.
pub async fn race(store: &Store, plans: Vec<Plan>) -> Vec<Result<(), StoreError>> {
    let barrier = Arc::new(Barrier::new(plans.len()));
    let handles: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.apply(plan).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        results.push(h.await.expect("task"));
    }
    results
}
